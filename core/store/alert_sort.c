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

/* The entity as the console shows it: deployment or else pod, then container; namespace last. */
static int entity_cmp(const struct vg_alert *a, const struct vg_alert *b)
{
	int c = str_cmp(a->deployment ? a->deployment : a->pod,
			b->deployment ? b->deployment : b->pod);

	if (!c)
		c = str_cmp(a->container_name ? a->container_name : a->container_id,
			    b->container_name ? b->container_name : b->container_id);
	if (!c)
		c = str_cmp(a->namespace_, b->namespace_);
	return c;
}

/* An alert with its key made ready: a number for the numeric fields (no lookup per compare). */
struct sort_item {
	const struct vg_alert *a;
	uint64_t k;
};

/* The numeric key of a (0 for the fields compared as strings). */
static uint64_t num_key(enum vg_alert_sort k, const struct vg_alert *a)
{
	static const uint8_t state_rank[] = {
		[VG_ALERT_ACTIVE] = 0, [VG_ALERT_ATTEMPTED] = 1, [VG_ALERT_RESOLVED] = 2};

	switch (k) {
	case VG_SORT_SEVERITY:
		return (uint64_t)(vg_severity_index(a->severity) + 1); /* unknown: 0, first */
	case VG_SORT_STATE: /* by name: ACTIVE, ATTEMPTED, RESOLVED */
		return a->state <= VG_ALERT_ATTEMPTED ? state_rank[a->state] : 3;
	case VG_SORT_COUNT:
		return a->violations;
	case VG_SORT_TIME:
		return a->time_ns;
	default:
		return 0;
	}
}

/* The key alone, ascending. */
static int key_cmp(enum vg_alert_sort k, const struct sort_item *x, const struct sort_item *y)
{
	const struct vg_alert *a = x->a, *b = y->a;

	switch (k) {
	case VG_SORT_POLICY:
		return str_cmp(a->policy_name, b->policy_name);
	case VG_SORT_NAMESPACE:
		return str_cmp(a->namespace_, b->namespace_);
	case VG_SORT_ENTITY:
		return entity_cmp(a, b);
	case VG_SORT_ENFORCEMENT:
		return str_cmp(a->enf_action, b->enf_action);
	default:
		return u64_cmp(x->k, y->k);
	}
}

struct sort_order {
	enum vg_alert_sort key;
	bool desc;
};

/* Whether x comes before y (< 0), after (> 0); never equal for two alerts (ids differ). */
static int item_cmp(const struct sort_order *o, const struct sort_item *x,
		    const struct sort_item *y)
{
	int c = key_cmp(o->key, x, y);

	if (c)
		return o->desc ? -c : c;
	c = u64_cmp(y->a->time_ns, x->a->time_ns); /* ties: newest first */
	if (o->key == VG_SORT_TIME && !o->desc)
		c = -c; /* oldest first throughout */
	return c ? c : strcmp(x->a->id, y->a->id);
}

static int page_cmp(const void *pa, const void *pb, void *order)
{
	return item_cmp(order, pa, pb);
}

/* Moves h[i] down the max-heap of n (the last in the order at the root). */
static void sift_down(const struct sort_order *o, struct sort_item *h, size_t n, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, m = i;
		struct sort_item t;

		if (l < n && item_cmp(o, &h[l], &h[m]) > 0)
			m = l;
		if (l + 1 < n && item_cmp(o, &h[l + 1], &h[m]) > 0)
			m = l + 1;
		if (m == i)
			return;
		t = h[i];
		h[i] = h[m];
		h[m] = t;
		i = m;
	}
}

/* The first w of it[0..n) in the order, into it[0..w) sorted: a heap of w over the rest. */
static void first_sorted(const struct sort_order *o, struct sort_item *it, size_t n, size_t w)
{
	for (size_t i = w / 2; w && i-- > 0;)
		sift_down(o, it, w, i);
	for (size_t i = w; w && i < n; i++) {
		if (item_cmp(o, &it[i], &it[0]) < 0) {
			it[0] = it[i];
			sift_down(o, it, w, 0);
		}
	}
	qsort_r(it, w, sizeof(*it), page_cmp, (void *)o);
}

int vg_alerts_query_sorted(struct vg_alerts *s, const struct vg_alert_filter *f,
			   enum vg_alert_sort key, bool desc, int want,
			   const struct vg_alert ***out)
{
	struct sort_item *it;
	size_t w;
	int n;

	if (key == VG_SORT_TIME && desc)
		return vg_alerts_query_window(s, f, want, out);
	if (key < 0 || key >= VG_SORT_N)
		return -EINVAL;
	n = vg_alerts_query(s, f, out);
	if (n <= 1)
		return n;
	it = malloc((size_t)n * sizeof(*it));
	if (!it) {
		free(*out);
		*out = NULL;
		return -ENOMEM;
	}
	for (int i = 0; i < n; i++)
		it[i] = (struct sort_item){(*out)[i], num_key(key, (*out)[i])};
	w = want > 0 && want < n ? (size_t)want : (size_t)n;
	first_sorted(&(struct sort_order){key, desc}, it, (size_t)n, w);
	for (size_t i = 0; i < w; i++)
		(*out)[i] = it[i].a;
	free(it);
	return n;
}
