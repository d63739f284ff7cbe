// SPDX-License-Identifier: BSD-2-Clause
/*
 * routes_timeline.c - GET /v1/alerts/timeline?since=&step=&query=: violations (not alerts)
 * per time bucket per severity. since: unix seconds, cut down to a whole minute (default: 24
 * hours ago), at most 7 days back; step: seconds, a multiple of 60 (default 300); at most
 * 2,000 buckets up to now. query: GET /v1/alerts's. None, or Severity:... alone, reads the
 * store's exact per-minute counts of every violation (alert_timeline.c); any other term counts
 * the kept processes of the alerts it matches (the newest 40 of each) at their times, and
 * "uncounted" says how many older violations of those alerts have no time left to count.
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
	int severity;  /* -1: all */
	bool filtered; /* the query names more than a severity: count its alerts' */
	struct vg_query q;
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

/* query: GET /v1/alerts's; none or Severity:... alone reads the exact per-minute counts. */
static int tl_query(const char *qs, struct tl_params *p, char *err, size_t n)
{
	const struct vg_alert_filter *f = &p->q.f;
	char *v = NULL, qerr[384];
	int rc = vg_api_param(qs, "query", &v, err, n);

	p->severity = -1;
	p->filtered = false;
	if (rc < 0)
		return rc;
	rc = vg_api_parse_query(v ? v : "", &p->q, qerr, sizeof(qerr));
	free(v);
	if (rc)
		return vg_errf(err, n, rc, "parameter query: %s", qerr);
	p->filtered = f->policy || f->namespace_ || f->deployment || f->pod || f->ntext ||
		      f->state != -1 || f->since_ns;
	if (f->severity)
		p->severity = vg_severity_index(f->severity);
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
	uint64_t(*counts)[VG_NSEV], uncounted = 0;
	char err[512];
	json_t *arr;
	int rc = tl_params(qs, &p, err, sizeof(err));

	if (rc) {
		api_fail(a, req, rc == -ENOMEM ? 503 : 400, "%s", err);
		return;
	}
	counts = calloc(p.nb, sizeof(*counts));
	arr = json_array();
	if (counts && p.filtered)
		rc = vg_alerts_timeline_query(a->host.alerts, &p.q.f, p.since, p.step, p.nb, counts,
					      &uncounted);
	else if (counts)
		rc = vg_alerts_timeline(a->host.alerts, p.since, p.step, p.nb, counts);
	if (!counts || !arr || rc) {
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
		  json_pack("{s:I, s:I, s:I, s:o, s:I}", "step", (json_int_t)p.step, "since",
			    (json_int_t)p.since, "until", (json_int_t)p.now, "buckets", arr,
			    "uncounted", (json_int_t)uncounted));
}
