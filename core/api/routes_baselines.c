// SPDX-License-Identifier: BSD-2-Clause
/*
 * routes_baselines.c - /v1/processbaselines, StackRox-shaped: list by query,
 * one by key, add and remove elements, lock and unlock, delete. The requests
 * themselves are bl_requests.c's; this file is their HTTP side.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/http.h>
#include <jansson.h>

#include "api_priv.h"
#include "bl_requests.h"
#include "log.h"
#include "query.h"

static uint64_t now_ns(void)
{
	return (uint64_t)time(NULL) * 1000000000ull;
}

static struct vg_baselines *baselines(struct vg_api *a)
{
	return vg_alerts_baselines(a->host.alerts);
}

static const char *query_string(struct evhttp_request *req)
{
	return evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
}

/* A request's -errno as its answer: 400 bad input, 404 unknown, 503 the store failed. */
static void fail_rc(struct vg_api *a, struct evhttp_request *req, int rc, const char *err)
{
	int code = 503;

	if (rc == -EINVAL)
		code = 400;
	else if (rc == -ENOENT)
		code = 404;
	api_fail(a, req, code, "%s", err);
}

/* Parameter name of the query string, decoded, into *out (NULL when absent; free it). */
static int param(struct evhttp_request *req, const char *name, char **out, char *err, size_t n)
{
	int rc = vg_api_param(query_string(req), name, out, err, n);

	return rc < 0 ? rc : 0;
}

/* pagination.limit and pagination.offset (as GET /v1/alerts takes them). */
static int paging(struct evhttp_request *req, uint64_t *limit, uint64_t *offset, char *err,
		  size_t n)
{
	char *lim = NULL, *off = NULL;
	int rc = param(req, "pagination.limit", &lim, err, n);

	*limit = VG_PAGE_DEFAULT;
	*offset = 0;
	if (!rc)
		rc = param(req, "pagination.offset", &off, err, n);
	if (!rc && lim)
		rc = vg_api_parse_uint("pagination.limit", lim, 1, VG_PAGE_MAX, limit, err, n);
	if (!rc && off)
		rc = vg_api_parse_uint("pagination.offset", off, 0, VG_OFFSET_MAX, offset, err, n);
	free(lim);
	free(off);
	return rc;
}

/* GET /v1/processbaselines?query=...&pagination.limit=&pagination.offset= */
void api_list_baselines(struct vg_api *a, struct evhttp_request *req)
{
	const struct vg_baseline **list = NULL;
	uint64_t limit, offset;
	char err[512], *q = NULL;
	size_t n = 0;
	json_t *arr;
	int rc = param(req, "query", &q, err, sizeof(err));

	if (!rc)
		rc = paging(req, &limit, &offset, err, sizeof(err));
	if (!rc)
		rc = vg_blreq_select(baselines(a), q, &list, &n, err, sizeof(err));
	free(q);
	if (rc) {
		fail_rc(a, req, rc, err);
		return;
	}
	arr = json_array();
	for (size_t i = offset; arr && i < n && i < offset + limit; i++)
		(void)json_array_append_new(arr, vg_baseline_json(list[i])); /* OOM: a short page */
	free(list);
	api_reply(req, 200,
		  json_pack("{s:o, s:I, s:I, s:I}", "baselines", arr, "total", (json_int_t)n,
			    "offset", (json_int_t)offset, "limit", (json_int_t)limit));
}

/* The key the parameters of GET /v1/processbaselines/key name, as a KEY object, into *key. */
static int key_params(struct evhttp_request *req, json_t **key, char *err, size_t n)
{
	static const char *const names[] = {"id", "key.namespace", "key.deploymentId",
					    "key.containerName", "key.image"};
	int rc = 0;

	*key = json_object();
	for (size_t i = 0; !rc && i < sizeof(names) / sizeof(names[0]); i++) {
		char *v = NULL;
		const char *dot = strchr(names[i], '.');

		rc = param(req, names[i], &v, err, n);
		if (!rc && v && *key)
			(void)json_object_set_new(*key, dot ? dot + 1 : names[i], json_string(v));
		free(v); /* (OOM above: the key misses a member and is not found) */
	}
	if (!rc && !json_object_size(*key))
		rc = vg_errf(err, n, -EINVAL,
			     "name the baseline: id=ID, or key.namespace=, key.deploymentId=, "
			     "key.containerName= (and key.image= without Kubernetes), or "
			     "alertId=ALERT");
	if (!rc && json_object_get(*key, "id") && json_object_size(*key) > 1)
		rc = vg_errf(err, n, -EINVAL, "give id= or the key.* parameters, not both");
	return rc;
}

/* GET /v1/processbaselines/key?key.namespace=&key.deploymentId=&key.containerName=&key.image=,
 * or ?id=ID, or ?alertId=ALERT (the baseline of that alert's container). */
void api_baseline_by_key(struct vg_api *a, struct evhttp_request *req)
{
	const struct vg_baseline *bl = NULL;
	char err[700], *alert = NULL;
	json_t *key = NULL;
	int rc = param(req, "alertId", &alert, err, sizeof(err));

	if (!rc && alert && query_string(req) && strchr(query_string(req), '&'))
		rc = vg_errf(err, sizeof(err), -EINVAL, "alertId= takes no other parameter");
	else if (!rc && alert)
		rc = vg_blreq_alert_baseline(baselines(a), vg_alerts_get(a->host.alerts, alert),
					     &bl, err, sizeof(err));
	else if (!rc)
		rc = key_params(req, &key, err, sizeof(err));
	if (!rc && !bl)
		rc = vg_blreq_key(baselines(a), key, &bl, err, sizeof(err));
	free(alert);
	json_decref(key);
	if (rc)
		fail_rc(a, req, rc, err);
	else
		api_reply(req, 200, vg_baseline_json(bl));
}

/*
 * A change's answer, once the change is on disk: a client told 200 must find it after a
 * kill -9. The loop waits for one write and fsync of the store's log (an operator's
 * action, rare); a log that cannot be written is a 503 that says the change is in memory.
 */
static void reply_durable(struct vg_api *a, struct evhttp_request *req, json_t *out)
{
	int rc = vg_alerts_sync(a->host.alerts);

	if (rc) {
		json_decref(out);
		api_fail(a, req, 503, "the change is made but not on disk: %s", strerror(-rc));
		return;
	}
	api_reply(req, 200, out);
}

/* PUT /v1/processbaselines and PUT /v1/processbaselines/lock. */
void api_put_baselines(struct vg_api *a, struct evhttp_request *req, bool lock)
{
	json_t *body = api_body_json(a, req), *out = NULL;
	char err[700];
	int rc;

	if (!body)
		return;
	if (lock)
		rc = vg_blreq_lock(baselines(a), body, now_ns(), &out, err, sizeof(err));
	else
		rc = vg_blreq_update(baselines(a), body, now_ns(), &out, err, sizeof(err));
	json_decref(body);
	if (rc)
		fail_rc(a, req, rc, err);
	else
		reply_durable(a, req, out);
}

/* DELETE /v1/processbaselines?query=...&confirm=true */
void api_delete_baselines(struct vg_api *a, struct evhttp_request *req)
{
	char err[512], *q = NULL, *confirm = NULL;
	size_t deleted = 0;
	int rc = param(req, "query", &q, err, sizeof(err));

	if (!rc)
		rc = param(req, "confirm", &confirm, err, sizeof(err));
	if (!rc && (!confirm || strcmp(confirm, "true")))
		rc = vg_errf(err, sizeof(err), -EINVAL,
			     "deleting baselines needs confirm=true (query= says which; none: "
			     "all of them)");
	if (!rc)
		rc = vg_blreq_delete(baselines(a), q, &deleted, err, sizeof(err));
	free(q);
	free(confirm);
	if (rc)
		fail_rc(a, req, rc, err);
	else
		reply_durable(a, req, json_pack("{s:I}", "deleted", (json_int_t)deleted));
}
