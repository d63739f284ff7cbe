// SPDX-License-Identifier: BSD-2-Clause
/*
 * routes_alerts.c - /v1/alerts: list and query (newest first, or sorted by a field), one
 * alert, resolve one (adding its processes to its baseline when asked), the ones a query
 * matches or the ones named by id (the notifiers hear of each resolution).
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

/* The most alerts one PATCH /v1/alerts/resolve {"ids": [...]} names. */
#define RESOLVE_IDS_MAX 1000

/* Every item of ids a string, at most RESOLVE_IDS_MAX of them; false once the 400 is sent. */
static bool ids_valid(struct vg_api *a, struct evhttp_request *req, const json_t *ids)
{
	size_t i;
	json_t *v;

	if (!json_array_size(ids)) {
		api_fail(a, req, 400, "\"ids\" is empty: name at least one alert id");
		return false;
	}
	if (json_array_size(ids) > RESOLVE_IDS_MAX) {
		api_fail(a, req, 400,
			 "\"ids\" names %zu alerts: at most %d in one request; send the rest in "
			 "another",
			 json_array_size(ids), RESOLVE_IDS_MAX);
		return false;
	}
	json_array_foreach(ids, i, v)
	{
		if (!json_is_string(v)) {
			api_fail(a, req, 400,
				 "\"ids\" is a list of alert ids (strings); item %zu is not a "
				 "string",
				 i);
			return false;
		}
	}
	return true;
}

/*
 * {"ids": ["...", ...]}: the alerts named. An unknown id is listed in "unknown", one
 * resolved before counts in "alreadyResolved"; on disk before the answer.
 */
static void resolve_ids(struct vg_api *a, struct evhttp_request *req, const json_t *ids)
{
	uint64_t now = (uint64_t)time(NULL) * 1000000000ull;
	json_t *unknown, *v;
	int done = 0, already = 0, rc = 0;
	size_t i;

	if (!ids_valid(a, req, ids))
		return;
	unknown = json_array();
	json_array_foreach(ids, i, v)
	{
		const char *id = json_string_value(v);

		rc = vg_alerts_resolve(a->host.alerts, id, now);
		if (!rc) {
			done++;
			if (a->host.notify)
				vg_notify_alert(a->host.notify, "resolved",
						vg_alerts_get(a->host.alerts, id));
		} else if (rc == -EALREADY) {
			already++;
		} else if (rc == -ENOENT) {
			json_array_append(unknown, v);
		} else {
			break;
		}
		rc = 0;
	}
	if (rc)
		api_fail(a, req, 503, "cannot record the resolution (%d resolved before): %s", done,
			 strerror(-rc));
	else if (done && (rc = vg_alerts_sync(a->host.alerts)) && rc != -EALREADY)
		api_fail(a, req, 503, "resolved %d but not on disk: %s", done, strerror(-rc));
	else
		api_reply(req, 200,
			  json_pack("{s:i, s:i, s:O}", "resolved", done, "alreadyResolved", already,
				    "unknown", unknown));
	json_decref(unknown);
}

/* The active alerts query q matches (confirm: an empty q is every active alert). */
static void resolve_query(struct vg_api *a, struct evhttp_request *req, const char *q, bool confirm)
{
	const struct vg_alert **list;
	struct vg_query qq;
	char err[512];
	int n, done = 0, rc;

	if ((!q || !q[strspn(q, " ")]) && !confirm) {
		api_fail(a, req, 400,
			 "an empty query would resolve every active alert: give a query "
			 "(\"State:ACTIVE\" for all of them) or add \"confirm\": true");
		return;
	}
	if (vg_api_parse_query(q ? q : "", &qq, err, sizeof(err))) {
		api_fail(a, req, 400, "%s", err);
		return;
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
	rc = done ? vg_alerts_sync(a->host.alerts) : 0; /* on disk before the answer */
	if (rc && rc != -EALREADY)
		api_fail(a, req, 503, "resolved %d but not on disk: %s", done, strerror(-rc));
	else
		api_reply(req, 200, json_pack("{s:i}", "resolved", done));
}

/*
 * PATCH /v1/alerts/resolve: {"query": "...", "confirm": true}, the active alerts the query
 * matches (an empty query would match them all: it needs confirm), or {"ids": [...]}, the
 * alerts named. One of the two forms, not both.
 */
void api_resolve_bulk(struct vg_api *a, struct evhttp_request *req)
{
	json_t *b = api_body_json(a, req), *v, *ids = NULL;
	const char *key, *q = NULL;
	bool confirm = false, has_confirm = false;

	if (!b)
		return;
	json_object_foreach(b, key, v)
	{
		if (!strcmp(key, "query") && json_is_string(v)) {
			q = json_string_value(v);
		} else if (!strcmp(key, "confirm") && json_is_boolean(v)) {
			confirm = json_is_true(v);
			has_confirm = true;
		} else if (!strcmp(key, "ids") && json_is_array(v)) {
			ids = v;
		} else {
			api_fail(a, req, 400,
				 "the body must be {\"query\": \"Policy:...+Namespace:...\"} "
				 "(optionally with \"confirm\": true) or {\"ids\": [\"...\"]}; "
				 "'%.60s' is not that",
				 key);
			goto out;
		}
	}
	if (ids && (q || has_confirm))
		api_fail(a, req, 400,
			 "give \"ids\" or a \"query\" (with \"confirm\"), not both: the alerts "
			 "are named one way");
	else if (ids)
		resolve_ids(a, req, ids);
	else
		resolve_query(a, req, q, confirm);
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
