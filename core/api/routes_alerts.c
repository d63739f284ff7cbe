// SPDX-License-Identifier: BSD-2-Clause
/*
 * routes_alerts.c - /v1/alerts: list and query (newest first, or sorted by a field), one
 * alert, resolve one (adding its processes to its baseline when asked) or the ones a query
 * matches (the notifiers hear of each resolution).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <jansson.h>

#include "alerts.h"
#include "api_priv.h"
#include "bl_requests.h"
#include "notify.h"
#include "query.h"

void api_list_alerts(struct vg_api *a, struct evhttp_request *req)
{
	const char *qs = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
	struct vg_list_params lp;
	const struct vg_alert **list;
	char err[512], sort[32];
	size_t want;
	json_t *arr;
	int n, rc;

	rc = vg_api_parse_list(qs, &lp, err, sizeof(err));
	if (rc) {
		api_fail(a, req, rc == -ENOMEM ? 503 : 400, "%s", err);
		return;
	}
	/* offset + limit cannot overflow a size_t (both bounded); the store takes an int */
	want = lp.offset + lp.limit;
	n = vg_alerts_query_sorted(a->host.alerts, &lp.q.f, lp.sort, lp.desc,
				   want > INT_MAX ? INT_MAX : (int)want, &list);
	if (n < 0) {
		api_fail(a, req, 503, "out of memory");
		return;
	}
	arr = json_array();
	for (size_t i = lp.offset; i < (size_t)n && i < want; i++)
		json_array_append_new(arr, vg_alert_json(list[i], false));
	free(list);
	(void)snprintf(sort, sizeof(sort), "%s:%s", vg_alert_sort_name(lp.sort),
		       lp.desc ? "desc" : "asc");
	api_reply(req, 200,
		  json_pack("{s:o, s:i, s:I, s:I, s:s}", "alerts", arr, "total", n, "offset",
			    (json_int_t)lp.offset, "limit", (json_int_t)lp.limit, "sort", sort));
}

/*
 * The body of PATCH /v1/alerts/{id}/resolve: none, or {"addToBaseline": bool}. Into
 * *add; false once the 400 is sent.
 */
static bool resolve_body(struct vg_api *a, struct evhttp_request *req, bool *add)
{
	json_t *b, *v;
	const char *key;
	bool ok = true;

	*add = false;
	if (!evbuffer_get_length(evhttp_request_get_input_buffer(req)))
		return true; /* the old form: no body */
	b = api_body_json(a, req);
	if (!b)
		return false;
	json_object_foreach(b, key, v)
	{
		if (!strcmp(key, "addToBaseline") && json_is_boolean(v)) {
			*add = json_is_true(v);
		} else {
			api_fail(a, req, 400,
				 "the body is {\"addToBaseline\": true|false} or none; '%.60s' is "
				 "not that",
				 key);
			ok = false;
			break;
		}
	}
	json_decref(b);
	return ok;
}

/* Add to baseline from the alert: its processes' paths into its container's baseline. */
static bool add_to_baseline(struct vg_api *a, struct evhttp_request *req, const char *id)
{
	const struct vg_alert *al = vg_alerts_get(a->host.alerts, id);
	char err[700];
	size_t added;
	int rc;

	if (!al) {
		api_fail(a, req, 404, "no alert with id '%s'", id);
		return false;
	}
	rc = vg_blreq_add_alert(vg_alerts_baselines(a->host.alerts), al,
				(uint64_t)time(NULL) * 1000000000ull, &added, err, sizeof(err));
	if (rc)
		api_fail(a, req,
			 rc == -EINVAL	 ? 400
			 : rc == -ENOENT ? 404
					 : 503,
			 "cannot add to the baseline: %s", err);
	return !rc;
}

static void resolve_one(struct vg_api *a, struct evhttp_request *req, const char *id)
{
	const struct vg_alert *al;
	bool add;
	int rc;

	if (!resolve_body(a, req, &add) || (add && !add_to_baseline(a, req, id)))
		return;
	rc = vg_alerts_resolve(a->host.alerts, id, (uint64_t)time(NULL) * 1000000000ull);
	al = vg_alerts_get(a->host.alerts, id);
	if (rc == -ENOENT)
		api_fail(a, req, 404, "no alert with id '%s'", id);
	else if (rc && rc != -EALREADY)
		api_fail(a, req, 503, "cannot record the resolution: %s", strerror(-rc));
	else {
		if (!rc && a->host.notify)
			vg_notify_alert(a->host.notify, "resolved", al);
		if (add || !rc) /* on disk before the answer, as a baseline change is */
			rc = vg_alerts_sync(a->host.alerts);
		if (rc && rc != -EALREADY)
			api_fail(a, req, 503, "resolved but not on disk: %s", strerror(-rc));
		else
			api_reply(req, 200, vg_alert_json(al, false));
	}
}

/*
 * PATCH /v1/alerts/resolve {"query": "...", "confirm": true}: the active alerts
 * the query matches. An empty query would match them all: it needs confirm.
 */
void api_resolve_bulk(struct vg_api *a, struct evhttp_request *req)
{
	json_t *b = api_body_json(a, req), *v;
	const char *key, *q = NULL;
	bool confirm = false;
	struct vg_query qq;
	const struct vg_alert **list;
	char err[512];
	int n, done = 0;

	if (!b)
		return;
	json_object_foreach(b, key, v)
	{
		if (!strcmp(key, "query") && json_is_string(v)) {
			q = json_string_value(v);
		} else if (!strcmp(key, "confirm") && json_is_boolean(v)) {
			confirm = json_is_true(v);
		} else {
			api_fail(a, req, 400,
				 "the body must be {\"query\": \"Policy:...+Namespace:...\"}, "
				 "optionally with \"confirm\": true; '%s' is not that",
				 key);
			goto out;
		}
	}
	if ((!q || !q[strspn(q, " ")]) && !confirm) {
		api_fail(a, req, 400,
			 "an empty query would resolve every active alert: give a query "
			 "(\"State:ACTIVE\" for all of them) or add \"confirm\": true");
		goto out;
	}
	if (vg_api_parse_query(q ? q : "", &qq, err, sizeof(err))) {
		api_fail(a, req, 400, "%s", err);
		goto out;
	}
	qq.f.state = VG_ALERT_ACTIVE;
	n = vg_alerts_query(a->host.alerts, &qq.f, &list);
	for (int i = 0; i < n; i++) {
		char id[37];

		snprintf(id, sizeof(id), "%s", list[i]->id);
		if (vg_alerts_resolve(a->host.alerts, id, (uint64_t)time(NULL) * 1000000000ull) ==
		    0) {
			done++;
			if (a->host.notify)
				vg_notify_alert(a->host.notify, "resolved", list[i]);
		}
	}
	free(list);
	api_reply(req, 200, json_pack("{s:i}", "resolved", done));
out:
	json_decref(b);
}

void api_alert_path(struct vg_api *a, struct evhttp_request *req, const char *rest,
		    enum evhttp_cmd_type m)
{
	const char *slash = strchr(rest, '/');
	char id[64];

	if (api_path_id(rest, slash ? (size_t)(slash - rest) : strlen(rest), id, sizeof(id))) {
		api_fail(a, req, 404,
			 "no alert with that id (ids are 36 characters: letters, digits, '-')");
	} else if (!slash && m == EVHTTP_REQ_GET) {
		const struct vg_alert *al = vg_alerts_get(a->host.alerts, id);

		if (al)
			api_reply(req, 200, vg_alert_json(al, true));
		else
			api_fail(a, req, 404, "no alert with id '%s'", id);
	} else if (slash && !strcmp(slash, "/resolve") && m == EVHTTP_REQ_PATCH) {
		resolve_one(a, req, id);
	} else {
		api_fail(a, req, slash && strcmp(slash, "/resolve") ? 404 : 405,
			 "use GET /v1/alerts/{id} or PATCH /v1/alerts/{id}/resolve");
	}
}
