// SPDX-License-Identifier: BSD-2-Clause
/*
 * alert_sort.c - a page of alerts in another order than the time index's: every match of
 * the query (alert_query.c) sorted by one field, ties broken by the last violation (newest
 * first) and then by id, so the order is total and a page follows from the one before it
 * with the same offset and limit. The newest-first order needs no sort: it is the index's.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "alerts_priv.h"

static const char *const sort_names[VG_SORT_N] = {
	"time", "severity", "policy", "state", "count", "namespace", "entity", "enforcement",
};

const char *vg_alert_sort_name(enum vg_alert_sort k)
{
	if (k < 0 || k >= VG_SORT_N)
		return "time";
	return sort_names[k];
}

bool vg_alert_sort_desc_default(enum vg_alert_sort k)
{
	return k == VG_SORT_TIME || k == VG_SORT_SEVERITY || k == VG_SORT_COUNT;
}

/* NULL sorts as the empty string: before every name. */
static int str_cmp(const char *a, const char *b)
{
	return strcasecmp(a ? a : "", b ? b : "");
}

static int u64_cmp(uint64_t a, uint64_t b)
{
	return (a > b) - (a < b);
}

static int entity_cmp(const struct vg_alert *a, const struct vg_alert *b)
{
	int c = str_cmp(a->namespace_, b->namespace_);

	if (!c)
		c = str_cmp(a->deployment ? a->deployment : a->pod,
			    b->deployment ? b->deployment : b->pod);
	if (!c)
		c = str_cmp(a->container_name ? a->container_name : a->container_id,
			    b->container_name ? b->container_name : b->container_id);
	return c;
}

/* The key alone, ascending. */
static int key_cmp(enum vg_alert_sort k, const struct vg_alert *a, const struct vg_alert *b)
{
	switch (k) {
	case VG_SORT_SEVERITY:
		return vg_severity_index(a->severity) - vg_severity_index(b->severity);
	case VG_SORT_POLICY:
		return str_cmp(a->policy_name, b->policy_name);
	case VG_SORT_STATE:
		return str_cmp(vg_alert_state_name(a->state), vg_alert_state_name(b->state));
	case VG_SORT_COUNT:
		return u64_cmp(a->violations, b->violations);
	case VG_SORT_NAMESPACE:
		return str_cmp(a->namespace_, b->namespace_);
	case VG_SORT_ENTITY:
		return entity_cmp(a, b);
	case VG_SORT_ENFORCEMENT:
		return str_cmp(a->enf_action, b->enf_action);
	case VG_SORT_TIME:
	case VG_SORT_N:
		break;
	}
	return u64_cmp(a->time_ns, b->time_ns);
}

/* qsort has no context argument: the order of the sort under way (the API is one thread) */
static enum vg_alert_sort cur_key;
static bool cur_desc;

static int page_cmp(const void *pa, const void *pb)
{
	const struct vg_alert *a = *(const struct vg_alert *const *)pa;
	const struct vg_alert *b = *(const struct vg_alert *const *)pb;
	int c = key_cmp(cur_key, a, b);

	if (c)
		return cur_desc ? -c : c;
	c = u64_cmp(b->time_ns, a->time_ns); /* ties: newest first */
	if (cur_key == VG_SORT_TIME && !cur_desc)
		c = -c; /* oldest first throughout */
	return c ? c : strcmp(a->id, b->id);
}

int vg_alerts_query_sorted(struct vg_alerts *s, const struct vg_alert_filter *f,
			   enum vg_alert_sort key, bool desc, int want,
			   const struct vg_alert ***out)
{
	int n;

	if (key == VG_SORT_TIME && desc)
		return vg_alerts_query_window(s, f, want, out);
	if (key < 0 || key >= VG_SORT_N)
		return -EINVAL;
	n = vg_alerts_query(s, f, out);
	if (n <= 1)
		return n;
	cur_key = key;
	cur_desc = desc;
	qsort(*out, (size_t)n, sizeof(**out), page_cmp);
	return n;
}
