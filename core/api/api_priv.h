/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * api_priv.h - what the API's files share: the server (server.c), its
 * connections (conn.c) and the routes (routes_*.c). Not for other modules.
 */
#ifndef VG_API_PRIV_H
#define VG_API_PRIV_H

#include <stdbool.h>
#include <stdint.h>

#include <event2/http.h>
#include <jansson.h>

#include "api.h"

struct evconnlistener;
struct vg_sessions;

/* One accepted connection: its bufferevent, which evhttp owns and we hold a reference to. */
struct conn {
	struct vg_api *a;
	struct bufferevent *bev;
	struct evbuffer_cb_entry *in_cb, *out_cb;
	struct conn *prev, *next;
	uint64_t since_ms; /* monotonic: accepted, or its last request came whole */
	bool dropped;
	bool streaming;		     /* an open event stream: no request deadline */
	void (*on_close)(void *arg); /* told when evhttp closes it (a stream's end) */
	void *close_arg;
};

struct api_streams;

struct vg_api {
	struct vg_api_host host;
	struct evhttp *http;
	struct evconnlistener *listener;
	struct event *sweep, *retry;
	struct conn *conns;
	uint32_t nconns, max_conns, timeout_s;
	bool at_cap, accept_failing;
	char token[80];
	struct vg_sessions *sessions; /* the web console's sign-in codes and sessions */
	uint64_t requests, errors4xx, unauthorized, login_refused, csrf_refused, host_refused;
	uint64_t timeouts, cap_pauses, accept_errors, http_errors;
	struct api_streams *streams; /* GET /v1/alerts/stream (stream.c) */
	struct notifier_test *tests; /* POST /v1/notifiers/{name}/test waiting for the receiver */
};

/* ---- answers (server.c) ---- */

/* Sends body (taken) as JSON with status code. */
void api_reply(struct evhttp_request *req, int code, json_t *body);
/* Sends {"error": message, "code": code}, counted as a 4xx. */
void api_fail(struct vg_api *a, struct evhttp_request *req, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* The request's body as a JSON object, or NULL once the 400 is sent. */
json_t *api_body_json(struct vg_api *a, struct evhttp_request *req);
/* The id in a path segment of len bytes, percent-decoded into out: 0, -EINVAL or -ENOMEM. */
int api_path_id(const char *seg, size_t len, char *out, size_t n);

/* ---- the names answered (host.c) ---- */

/* true when the request's Host header names this vigil (host.c's header says which names do);
 * else the 421 is sent and counted. */
bool api_host_ok(struct vg_api *a, struct evhttp_request *req);

/* ---- connections (conn.c) ---- */

uint64_t api_mono_ms(void);
/* Hooks the connection cap and deadlines into a->http: 0 or -ENOMEM. */
int api_conn_setup(struct vg_api *a);
/* The listener evhttp accepts on: its errors pause accepting. */
void api_conn_listening(struct vg_api *a, struct evconnlistener *listener);
/* A whole request came on req's connection: its next one is due from now. */
void api_conn_request(struct vg_api *a, struct evhttp_request *req);
/* req's connection carries an event stream from now on: no request deadline applies and fn(arg)
 * is called when evhttp closes it (fn NULL: no longer). 0, or -ENOENT: not a connection of ours. */
int api_conn_stream(struct vg_api *a, struct evhttp_request *req, void (*fn)(void *), void *arg);
/* Lets go of every connection still held (after evhttp_free). */
void api_conn_free_all(struct vg_api *a);
/* The connection cap from the configuration and the open-files limit. 0 or -errno with err. */
int api_conn_budget(struct vg_api *a, char *err, size_t errlen);

/* ---- event streams (stream.c) ---- */

/* The streams' keepalive timer and the store's observer: 0 or -ENOMEM. */
int api_streams_start(struct vg_api *a, uint32_t keepalive_s);
/* Ends every stream (before evhttp_free) and the observer. */
void api_streams_stop(struct vg_api *a);
/* Ends the streams whose console session is gone (after a sign-out). */
void api_streams_recheck(struct vg_api *a);
/* The streams' gauges and counters into out. */
void api_streams_stats(const struct vg_api *a, struct vg_api_stats *out);
/* GET /v1/alerts/stream; sid: the console session it was opened with ("" for the bearer token):
 * the stream ends, sending nothing more, once that session is gone (signed out, expired). */
void api_stream_open(struct vg_api *a, struct evhttp_request *req, const char *sid);

/* ---- query parameters (params.c) ---- */

/* A method's name: "GET", "PUT", ... */
const char *api_method_name(enum evhttp_cmd_type m);

/* true when req's query string holds only parameters path takes with m, each with a value;
 * else the 400 naming the parameter and what the endpoint takes is sent. */
bool api_params_known(struct vg_api *a, struct evhttp_request *req, const char *path,
		      enum evhttp_cmd_type m);

/* ---- who sent a request, the console's sessions (auth.c) ---- */

enum api_auth { API_AUTH_NONE, API_AUTH_BEARER, API_AUTH_SESSION };

/* The bearer token (it decides when given), else a live session cookie: its id into sid
 * (VG_SESSION_TOKEN_LEN + 1 bytes; "" when none), else neither. */
enum api_auth api_auth_of(struct vg_api *a, struct evhttp_request *req, char *sid);
/* A session's request with m: true for GET and HEAD, or with the session's X-CSRF-Token;
 * else false once the 403 is sent (and counted). */
bool api_csrf_ok(struct vg_api *a, struct evhttp_request *req, enum evhttp_cmd_type m,
		 const char *sid);
/* POST /v1/console/codes (bearer only), GET /v1/console/session, POST /v1/console/logout */
void api_console_codes(struct vg_api *a, struct evhttp_request *req, enum api_auth auth);
void api_console_session(struct vg_api *a, struct evhttp_request *req, const char *sid);
void api_console_logout(struct vg_api *a, struct evhttp_request *req, const char *sid);
/* A new session: its cookie and 303 to / are sent. 0, or -EIO with nothing sent. */
int api_session_start(struct vg_api *a, struct evhttp_request *req);

/* ---- the console's pages (console.c) ---- */

/* The Content-Security-Policy and the other headers of every console answer. */
void api_console_headers(struct evhttp_request *req);
/* true when path is the console's (/, /login, /console/...): its answer is sent. */
bool api_console_serve(struct vg_api *a, struct evhttp_request *req, const char *path,
		       enum evhttp_cmd_type m);

/* ---- routes (routes_*.c) ---- */

void api_list_alerts(struct vg_api *a, struct evhttp_request *req);
void api_resolve_bulk(struct vg_api *a, struct evhttp_request *req);
/* GET /v1/alerts/timeline (routes_timeline.c) */
void api_alert_timeline(struct vg_api *a, struct evhttp_request *req);
/* /v1/alerts/{rest} */
void api_alert_path(struct vg_api *a, struct evhttp_request *req, const char *rest,
		    enum evhttp_cmd_type m);
/* /v1/processbaselines (routes_baselines.c) */
void api_list_baselines(struct vg_api *a, struct evhttp_request *req);
void api_baseline_by_key(struct vg_api *a, struct evhttp_request *req);
/* PUT /v1/processbaselines (lock false) or /v1/processbaselines/lock (lock true) */
void api_put_baselines(struct vg_api *a, struct evhttp_request *req, bool lock);
void api_delete_baselines(struct vg_api *a, struct evhttp_request *req);
void api_list_notifiers(struct vg_api *a, struct evhttp_request *req);
/* PATCH /v1/notifiers/{rest} */
void api_notifier_path(struct vg_api *a, struct evhttp_request *req, const char *rest);
/* POST /v1/notifiers/{name}/test (answered when the send ends) */
void api_notifier_test(struct vg_api *a, struct evhttp_request *req, const char *rest);
/* Forgets the tests still waiting (before evhttp_free frees their requests). */
void api_notifier_tests_stop(struct vg_api *a);
void api_list_policies(struct vg_api *a, struct evhttp_request *req);
/* /v1/policies/{rest} */
void api_policy_path(struct vg_api *a, struct evhttp_request *req, const char *rest,
		     enum evhttp_cmd_type m);

#endif
