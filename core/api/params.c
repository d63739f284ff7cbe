// SPDX-License-Identifier: BSD-2-Clause
/*
 * params.c - the query parameters each endpoint takes (the table below: GET /v1/alerts and
 * GET /v1/processbaselines take query, pagination.limit and pagination.offset, the alerts
 * their order too, GET /v1/alerts/timeline takes since, step and query, ...; their values
 * are checked where they are parsed); every other endpoint takes none. A parameter an
 * endpoint does not take, or one without a value, is a 400 that says which ones it takes.
 */
#include <stdbool.h>
#include <string.h>

#include <event2/http.h>

#include "api_priv.h"

struct endpoint_params {
	const char *path;
	enum evhttp_cmd_type method;
	const char *const *names; /* NULL-terminated */
	const char *said;	  /* the names, for the message */
};

static const char *const page_params[] = {"query", "pagination.limit", "pagination.offset", NULL};
static const char *const alert_params[] = {"query",
					   "pagination.limit",
					   "pagination.offset",
					   "sort",
					   "pagination.sortOption.field",
					   "pagination.sortOption.reversed",
					   NULL};
static const char *const bl_key_params[] = {
	"id",	     "alertId", "key.namespace", "key.deploymentId", "key.containerName",
	"key.image", NULL};
static const char *const timeline_params[] = {"since", "step", "query", NULL};
static const char *const bl_delete_params[] = {"query", "confirm", NULL};

static const struct endpoint_params endpoints[] = {
	{"/v1/alerts", EVHTTP_REQ_GET, alert_params,
	 "query, pagination.limit, pagination.offset and sort (or pagination.sortOption.field "
	 "and pagination.sortOption.reversed)"},
	{"/v1/alerts/timeline", EVHTTP_REQ_GET, timeline_params, "since, step and query"},
	{"/v1/processbaselines", EVHTTP_REQ_GET, page_params,
	 "query, pagination.limit and pagination.offset"},
	{"/v1/processbaselines", EVHTTP_REQ_DELETE, bl_delete_params, "query and confirm"},
	{"/v1/processbaselines/key", EVHTTP_REQ_GET, bl_key_params,
	 "id, alertId, key.namespace, key.deploymentId, key.containerName and key.image"},
};

const char *api_method_name(enum evhttp_cmd_type m)
{
	switch (m) {
	case EVHTTP_REQ_GET:
		return "GET";
	case EVHTTP_REQ_PUT:
		return "PUT";
	case EVHTTP_REQ_DELETE:
		return "DELETE";
	case EVHTTP_REQ_PATCH:
		return "PATCH";
	case EVHTTP_REQ_POST:
		return "POST";
	default:
		return "that method";
	}
}

/* The parameter name of len bytes at p, printable for an error message, into out (n bytes). */
static const char *shown(const char *p, size_t len, char *out, size_t n)
{
	size_t i;

	for (i = 0; i < len && i + 1 < n; i++)
		out[i] = p[i] > 0x20 && p[i] < 0x7f ? p[i] : '?'; /* JSON needs valid UTF-8 */
	out[i] = '\0';
	return out;
}

/* Whether p[0..len) is one of known (NULL-terminated, or NULL: none). */
static bool known_name(const char *const *known, const char *p, size_t len)
{
	for (size_t i = 0; known && known[i]; i++)
		if (strlen(known[i]) == len && !strncmp(known[i], p, len))
			return true;
	return false;
}

/* One parameter, p[0..len), against what the endpoint takes; false once the 400 is sent. */
static bool param_ok(struct vg_api *a, struct evhttp_request *req, const char *endpoint,
		     const struct endpoint_params *known, const char *p, size_t len)
{
	const char *eq = memchr(p, '=', len);
	size_t nl = eq ? (size_t)(eq - p) : len;
	char name[65];

	(void)shown(p, nl, name, sizeof(name));
	if (!known) {
		api_fail(a, req, 400, "unknown parameter '%s': %s takes no parameters", name,
			 endpoint);
		return false;
	}
	if (!known_name(known->names, p, nl)) {
		api_fail(a, req, 400, "unknown parameter '%s': %s takes %s", name, endpoint,
			 known->said);
		return false;
	}
	if (!eq) {
		api_fail(a, req, 400, "parameter %s needs a value (%s=...)", name, name);
		return false;
	}
	return true;
}

bool api_params_known(struct vg_api *a, struct evhttp_request *req, const char *path,
		      enum evhttp_cmd_type m)
{
	const char *qs = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
	const struct endpoint_params *known = NULL;
	char endpoint[240];

	for (size_t i = 0; i < sizeof(endpoints) / sizeof(endpoints[0]); i++)
		if (!strcmp(path, endpoints[i].path) && m == endpoints[i].method)
			known = &endpoints[i];
	(void)snprintf(endpoint, sizeof(endpoint), "%s %.200s", /* cut: it only names it */
		       api_method_name(m), path);
	for (const char *p = qs; p && *p;) {
		const char *amp = strchr(p, '&');
		size_t len = amp ? (size_t)(amp - p) : strlen(p);

		if (len && !param_ok(a, req, endpoint, known, p, len)) /* "a&&b": nothing between */
			return false;
		p = amp ? amp + 1 : NULL;
	}
	return true;
}
