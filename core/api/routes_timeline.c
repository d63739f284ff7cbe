// SPDX-License-Identifier: BSD-2-Clause
/*
 * routes_timeline.c - GET /v1/alerts/timeline?since=&step=&query=: violations (not alerts)
 * per time bucket per severity, from the store's per-minute counts (alert_timeline.c).
 * since: unix seconds, cut down to a whole minute (default: 24 hours ago), at most 7 days
 * back; step: seconds, a multiple of 60 (default 300); at most 2,000 buckets up to now.
 * query: none, or Severity:... only (the counts are per severity, not per policy or scope).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/http.h>
#include <jansson.h>

#include "alerts.h"
#include "api_priv.h"
#include "log.h"
#include "query.h"

#define TL_DEFAULT_SPAN 86400u
#define TL_DEFAULT_STEP 300u
#define TL_MAX_BUCKETS	2000u
#define TL_WEEK		(7u * 86400u)
#define TL_STEP_MAX	TL_WEEK

struct tl_params {
	uint64_t since, now;
	uint32_t step, nb;
	int severity; /* -1: all */
};

/* A numeric parameter, or def when absent; 0 or -EINVAL with err set. */
static int tl_uint(const char *qs, const char *name, uint64_t max, uint64_t def, uint64_t *out,
		   char *err, size_t n)
{
	char *v = NULL;
	int rc = vg_api_param(qs, name, &v, err, n);

	*out = def;
	if (rc > 0)
		rc = vg_api_parse_uint(name, v, 0, max, out, err, n);
	free(v);
	if (rc < 0)
		return rc;
	return 0;
}

/* query: none or Severity:... only. */
static int tl_query(const char *qs, struct tl_params *p, char *err, size_t n)
{
	struct vg_query q;
	char *v = NULL;
	int rc = vg_api_param(qs, "query", &v, err, n);

	p->severity = -1;
	if (rc <= 0)
		return rc;
	rc = vg_api_parse_query(v, &q, err, n);
	free(v);
	if (rc)
		return rc;
	if (q.f.policy || q.f.namespace_ || q.f.deployment || q.f.pod || q.f.ntext ||
	    q.f.state != -1 || q.f.since_ns)
		return vg_errf(
			err, n, -EINVAL,
			"the timeline counts the violations of all alerts per severity: its "
			"query takes Severity:... only (or none; use the since parameter for "
			"the window); GET /v1/alerts takes the other terms");
	if (q.f.severity)
		p->severity = vg_severity_index(q.f.severity);
	return 0;
}

static int tl_params(const char *qs, struct tl_params *p, char *err, size_t n)
{
	uint64_t since, step;
	int rc;

	p->now = (uint64_t)time(NULL);
	rc = tl_uint(qs, "since", p->now, p->now - TL_DEFAULT_SPAN, &since, err, n);
	if (!rc)
		rc = tl_uint(qs, "step", TL_STEP_MAX, TL_DEFAULT_STEP, &step, err, n);
	if (!rc)
		rc = tl_query(qs, p, err, n);
	if (rc)
		return rc;
	if (step < 60 || step % 60)
		return vg_errf(
			err, n, -EINVAL,
			"step is %llu seconds: it must be a multiple of 60 (60, 300, 3600...)",
			(unsigned long long)step);
	if (since + TL_WEEK < p->now)
		return vg_errf(err, n, -EINVAL,
			       "since is more than 7 days ago: the timeline keeps the last 7 days "
			       "(since >= %llu)",
			       (unsigned long long)(p->now - TL_WEEK));
	p->since = since - since % 60;
	p->step = (uint32_t)step;
	p->nb = (uint32_t)((p->now - p->since) / step + 1);
	if (p->nb > TL_MAX_BUCKETS)
		return vg_errf(
			err, n, -EINVAL,
			"that window is %u buckets of %llu s: at most %u; give a larger step "
			"or a later since",
			p->nb, (unsigned long long)step, TL_MAX_BUCKETS);
	return 0;
}

static json_t *tl_bucket(uint64_t t, const uint64_t n[VG_NSEV], int only)
{
	static const char *const names[VG_NSEV] = {"low", "medium", "high", "critical"};
	json_t *b = json_object();

	json_object_set_new(b, "t", json_integer((json_int_t)t));
	for (int j = 0; j < VG_NSEV; j++)
		json_object_set_new(b, names[j],
				    json_integer(only < 0 || only == j ? (json_int_t)n[j] : 0));
	return b;
}

void api_alert_timeline(struct vg_api *a, struct evhttp_request *req)
{
	const char *qs = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
	struct tl_params p = {0};
	uint64_t(*counts)[VG_NSEV];
	char err[512];
	json_t *arr;
	int rc = tl_params(qs, &p, err, sizeof(err));

	if (rc) {
		api_fail(a, req, rc == -ENOMEM ? 503 : 400, "%s", err);
		return;
	}
	counts = calloc(p.nb, sizeof(*counts));
	arr = json_array();
	if (!counts || !arr || vg_alerts_timeline(a->host.alerts, p.since, p.step, p.nb, counts)) {
		free(counts);
		json_decref(arr);
		api_fail(a, req, 503, "out of memory");
		return;
	}
	for (uint32_t i = 0; i < p.nb; i++)
		json_array_append_new(
			arr, tl_bucket(p.since + (uint64_t)i * p.step, counts[i], p.severity));
	free(counts);
	api_reply(req, 200,
		  json_pack("{s:I, s:I, s:I, s:o}", "step", (json_int_t)p.step, "since",
			    (json_int_t)p.since, "until", (json_int_t)p.now, "buckets", arr));
}
