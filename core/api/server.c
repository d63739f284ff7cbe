// SPDX-License-Identifier: BSD-2-Clause
/*
 * server.c - the API's server: the bearer token (DATA_DIR/api.token), the
 * listening socket, the answers, and the router that hands each request to
 * its route. Every endpoint but /healthz and the console's pages needs the
 * token or a console session (auth.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <jansson.h>

#include "api_priv.h"
#include "log.h"
#include "safefile.h"
#include "session.h"

#define MAX_BODY    (64 << 10)
#define MAX_HEADERS (16 << 10)
#define BACKLOG	    4096 /* (the kernel caps it at net.core.somaxconn) */

/* ---- answers ---------------------------------------------------------------------------- */

void api_reply(struct evhttp_request *req, int code, json_t *body)
{
	struct evbuffer *b = evbuffer_new();
	char *s = json_dumps(body, JSON_COMPACT);

	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
			  "application/json");
	if (s) {
		evbuffer_add(b, s, strlen(s));
		evbuffer_add(b, "\n", 1);
	}
	evhttp_send_reply(req, code, code < 300 ? "OK" : "Error", b);
	evbuffer_free(b);
	free(s);
	json_decref(body);
}

void api_fail(struct vg_api *a, struct evhttp_request *req, int code, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	a->errors4xx++;
	api_reply(req, code, json_pack("{s:s, s:i}", "error", msg, "code", code));
}

json_t *api_body_json(struct vg_api *a, struct evhttp_request *req)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in);
	json_error_t je;
	json_t *j;

	if (!len) {
		api_fail(a, req, 400, "the request needs a JSON body");
		return NULL;
	}
	j = json_loadb((const char *)evbuffer_pullup(in, -1), len, JSON_REJECT_DUPLICATES, &je);
	if (!j) {
		api_fail(a, req, 400, "malformed JSON at line %d, column %d: %s", je.line,
			 je.column, je.text);
		return NULL;
	}
	if (!json_is_object(j)) {
		json_decref(j);
		api_fail(a, req, 400, "the body must be a JSON object");
		return NULL;
	}
	return j;
}

/*
 * The id in a path segment of len bytes, percent-decoded into out (n bytes).
 * -EINVAL when it holds a NUL or control character, or does not fit: no
 * alert, policy or notifier has such an id.
 */
int api_path_id(const char *seg, size_t len, char *out, size_t n)
{
	char *raw = strndup(seg, len), *dec;
	size_t dl = 0;
	int rc = 0;

	dec = raw ? evhttp_uridecode(raw, 0, &dl) : NULL;
	free(raw);
	if (!dec)
		return -ENOMEM;
	for (size_t i = 0; i < dl; i++)
		if ((unsigned char)dec[i] < 0x20 || dec[i] == 0x7f)
			rc = -EINVAL;
	if (!rc && dl >= n)
		rc = -EINVAL;
	if (!rc)
		memcpy(out, dec, dl + 1);
	free(dec);
	return rc;
}

/* ---- routing ---------------------------------------------------------------------------- */

/* GET /metrics: the host renders it (its counters, and ours through vg_api_stats). */
static void metrics(struct vg_api *a, struct evhttp_request *req)
{
	struct evbuffer *b = evbuffer_new();

	if (!b) {
		api_fail(a, req, 503, "out of memory");
		return;
	}
	a->host.render_metrics(a->host.ctx, b);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
			  "text/plain; version=0.0.4");
	evhttp_send_reply(req, 200, "OK", b);
	evbuffer_free(b);
}

/* The methods path is served with (an Allow header's value), or NULL: no such endpoint. */
static const char *allowed_methods(const char *path)
{
	static const char *const get_only[] = {"/healthz", "/metrics", "/v1/alerts",
					       "/v1/notifiers", "/v1/policies"};
	const char *rest, *slash;

	for (size_t i = 0; i < sizeof(get_only) / sizeof(get_only[0]); i++)
		if (!strcmp(path, get_only[i]))
			return "GET";
	if (!strcmp(path, "/v1/alerts/resolve"))
		return "PATCH";
	if (!strncmp(path, "/v1/alerts/", 11) && path[11]) {
		rest = path + 11;
		slash = strchr(rest, '/');
		if (!slash)
			return "GET";
		return slash > rest && !strcmp(slash, "/resolve") ? "PATCH" : NULL;
	}
	if (!strncmp(path, "/v1/notifiers/", 14) && path[14]) {
		rest = path + 14;
		slash = strchr(rest, '/');
		if (slash && slash > rest && !strcmp(slash, "/test"))
			return "POST";
		return slash && slash > rest && !strcmp(slash, "/retry") ? "PATCH" : NULL;
	}
	if (!strncmp(path, "/v1/policies/", 13) && path[13])
		return "GET, PATCH";
	if (!strcmp(path, "/v1/processbaselines"))
		return "GET, PUT, DELETE";
	if (!strcmp(path, "/v1/processbaselines/key"))
		return "GET";
	if (!strcmp(path, "/v1/processbaselines/lock"))
		return "PUT";
	if (!strcmp(path, "/v1/console/codes") || !strcmp(path, "/v1/console/logout"))
		return "POST";
	if (!strcmp(path, "/v1/console/session"))
		return "GET";
	return NULL;
}

/* true when path is served with m; else the 404 or the 405 (with its Allow header) is sent. */
static bool method_served(struct vg_api *a, struct evhttp_request *req, const char *path,
			  enum evhttp_cmd_type m)
{
	const char *allow = allowed_methods(path);
	const char *name = api_method_name(m);

	if (!allow && (m == EVHTTP_REQ_GET || m == EVHTTP_REQ_PATCH))
		return true; /* the route says what is missing */
	if (!allow) {
		api_fail(a, req, 404, "no such endpoint: %.200s (see the README's API section)",
			 path);
		return false;
	}
	if (strstr(allow, name))
		return true;
	evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", allow);
	api_fail(a, req, 405, "%.200s answers %s only (see the README's API section)", path, allow);
	return false;
}

/* /v1/processbaselines[/key|/lock] with m (method_served checked it). */
static void route_baselines(struct vg_api *a, struct evhttp_request *req, const char *path,
			    enum evhttp_cmd_type m)
{
	if (!strcmp(path, "/v1/processbaselines/key"))
		api_baseline_by_key(a, req);
	else if (!strcmp(path, "/v1/processbaselines/lock"))
		api_put_baselines(a, req, true);
	else if (m == EVHTTP_REQ_GET)
		api_list_baselines(a, req);
	else if (m == EVHTTP_REQ_PUT)
		api_put_baselines(a, req, false);
	else
		api_delete_baselines(a, req);
}

/* An authorized request to path with method m. */
static void route(struct vg_api *a, struct evhttp_request *req, const char *path,
		  enum evhttp_cmd_type m, const char *sid)
{
	if (!strcmp(path, "/metrics") && m == EVHTTP_REQ_GET)
		metrics(a, req);
	else if (!strcmp(path, "/v1/alerts") && m == EVHTTP_REQ_GET)
		api_list_alerts(a, req);
	else if (!strcmp(path, "/v1/alerts/resolve") && m == EVHTTP_REQ_PATCH)
		api_resolve_bulk(a, req);
	else if (!strcmp(path, "/v1/alerts/stream") && m == EVHTTP_REQ_GET)
		api_stream_open(a, req, sid);
	else if (!strcmp(path, "/v1/alerts/timeline") && m == EVHTTP_REQ_GET)
		api_alert_timeline(a, req);
	else if (!strncmp(path, "/v1/alerts/", 11))
		api_alert_path(a, req, path + 11, m);
	else if (!strcmp(path, "/v1/notifiers") && m == EVHTTP_REQ_GET)
		api_list_notifiers(a, req);
	else if (!strncmp(path, "/v1/notifiers/", 14) && m == EVHTTP_REQ_POST)
		api_notifier_test(a, req, path + 14);
	else if (!strncmp(path, "/v1/notifiers/", 14) && m == EVHTTP_REQ_PATCH)
		api_notifier_path(a, req, path + 14);
	else if (!strcmp(path, "/v1/policies") && m == EVHTTP_REQ_GET)
		api_list_policies(a, req);
	else if (!strncmp(path, "/v1/policies/", 13))
		api_policy_path(a, req, path + 13, m);
	else if (!strncmp(path, "/v1/processbaselines", 20) && allowed_methods(path))
		route_baselines(a, req, path, m);
	else
		api_fail(a, req, 404, "no such endpoint: %.200s (see the README's API section)",
			 path);
}

/* The console's own endpoints (/v1/console/...), once method_served passed them. */
static bool console_route(struct vg_api *a, struct evhttp_request *req, const char *path,
			  enum api_auth auth, const char *sid)
{
	if (!strcmp(path, "/v1/console/codes"))
		api_console_codes(a, req, auth);
	else if (!strcmp(path, "/v1/console/session"))
		api_console_session(a, req, sid);
	else if (!strcmp(path, "/v1/console/logout"))
		api_console_logout(a, req, sid);
	else
		return false;
	return true;
}

static void handle(struct evhttp_request *req, void *arg)
{
	struct vg_api *a = arg;
	const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
	enum evhttp_cmd_type m = evhttp_request_get_command(req);
	char sid[VG_SESSION_TOKEN_LEN + 1];
	enum api_auth auth;

	a->requests++;
	api_conn_request(a, req);
	if (!path || !*path)
		path = "/";
	if (strcmp(path, "/healthz") && !api_host_ok(a, req))
		return;
	if (api_console_serve(a, req, path, m) || !method_served(a, req, path, m))
		return;
	if (!strcmp(path, "/healthz")) {
		if (!api_params_known(a, req, path, m))
			return;
		api_reply(req, 200, json_pack("{s:s}", "status", "ok"));
		return;
	}
	auth = api_auth_of(a, req, sid);
	if (auth == API_AUTH_NONE && strcmp(path, "/v1/console/session")) {
		a->unauthorized++;
		api_fail(a, req, 401,
			 "missing or wrong bearer token: send 'Authorization: Bearer <token>' "
			 "with the token in %s/api.token (or sign in to the web console: "
			 "'vigil console')",
			 a->host.data_dir);
		return;
	}
	if (auth == API_AUTH_SESSION && !api_csrf_ok(a, req, m, sid))
		return;
	if (allowed_methods(path) && !api_params_known(a, req, path, m))
		return; /* an unknown path is the route's 404, whatever its parameters */
	if (!console_route(a, req, path, auth, sid))
		route(a, req, path, m, sid);
}

/* ---- start and stop ---------------------------------------------------------------------- */

/*
 * The token: DATA_DIR/api.token, made there (0600, only where none is) on
 * first start. One found must be a regular file of vigil's user that nobody
 * else may read or write, never a link: a token someone else could have
 * chosen or read is refused.
 */
static int load_token(struct vg_api *a, char *err, size_t n)
{
	const char *dir = a->host.data_dir;
	unsigned char raw[24];
	int fd, rc;
	ssize_t r;

	fd = vg_safe_openat(a->host.data_fd, dir, "api.token", O_RDONLY, 0, 0077, err, n);
	if (fd >= 0) {
		r = read(fd, a->token, sizeof(a->token) - 1);
		(void)close(fd); /* read-only: nothing to flush */
		a->token[r > 0 ? r : 0] = '\0';
		a->token[strcspn(a->token, "\r\n")] = '\0';
		if (strlen(a->token) >= 16)
			return 0;
		return vg_errf(err, n, -EINVAL,
			       "%s/api.token holds no usable token (16+ "
			       "characters): delete it and vigil makes a new one",
			       dir);
	}
	if (fd != -ENOENT)
		return fd;
	if (getrandom(raw, sizeof(raw), 0) != sizeof(raw))
		return vg_errf(err, n, -EIO, "cannot draw a random API token");
	for (size_t i = 0; i < sizeof(raw); i++)
		snprintf(a->token + 2 * i, 3, "%02x", raw[i]);
	fd = vg_safe_openat(a->host.data_fd, dir, "api.token", O_WRONLY | O_CREAT | O_EXCL, 0600,
			    0077, err, n);
	if (fd < 0)
		return fd;
	rc = write(fd, a->token, strlen(a->token)) < 0 || write(fd, "\n", 1) < 0 ? -errno : 0;
	close(fd);
	if (rc)
		return vg_errf(err, n, rc, "cannot write %s/api.token: %s", dir, strerror(-rc));
	return 0;
}

/*
 * Replies go out as they are written: without this, a reply of more than one
 * segment on a kept-alive connection waits for the client's delayed ACK (40 ms:
 * a page of 100 alerts took 44 ms to arrive, 1 ms to make). Linux hands the
 * option to every connection accepted on the socket.
 */
static struct evhttp_bound_socket *no_delay(struct evhttp_bound_socket *b)
{
	int one = 1;

	if (b &&
	    setsockopt(evhttp_bound_socket_get_fd(b), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)))
		vg_warn("API: cannot set TCP_NODELAY (%s): large replies may wait 40 ms for the "
			"client's ACK",
			strerror(errno));
	return b;
}

/*
 * The listening socket, with a backlog deep enough that while the cap is
 * reached a good client's connection waits in the queue rather than having
 * its SYN dropped (and retried seconds later). A host name, not an address,
 * goes through evhttp's own bind (backlog 128).
 */
static struct evhttp_bound_socket *bind_listener(struct vg_api *a, const char *host,
						 ev_uint16_t port)
{
	struct sockaddr_storage ss;
	int sl = sizeof(ss);
	struct evconnlistener *lev;
	struct evhttp_bound_socket *bound;

	if (evutil_parse_sockaddr_port(a->host.listen, (struct sockaddr *)&ss, &sl))
		return no_delay(evhttp_bind_socket_with_handle(a->http, host, port));
	lev = evconnlistener_new_bind(a->host.base, NULL, NULL,
				      LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_FREE |
					      LEV_OPT_CLOSE_ON_EXEC,
				      BACKLOG, (struct sockaddr *)&ss, sl);
	bound = lev ? evhttp_bind_listener(a->http, lev) : NULL;
	if (lev && !bound)
		evconnlistener_free(lev);
	return no_delay(bound);
}

/* Where to listen: host (into host, n bytes) and port of HOST:PORT. 0 or -EINVAL with err. */
static int split_listen(const char *listen, char *host, size_t hn, long *port, char *err, size_t n)
{
	const char *colon = strrchr(listen, ':');

	if (!colon || (*port = strtol(colon + 1, NULL, 10)) <= 0 || *port > 65535)
		return vg_errf(err, n, -EINVAL,
			       "API address '%s' is not host:port (e.g. 127.0.0.1:8077)", listen);
	snprintf(host, hn, "%.*s", (int)(colon - listen), listen);
	return 0;
}

/* The HTTP server with its limits; every method reaches the handler, which answers 405 in JSON. */
static int make_server(struct vg_api *a)
{
	a->http = evhttp_new(a->host.base);
	if (!a->http || api_conn_setup(a))
		return -ENOMEM;
	evhttp_set_max_body_size(a->http, MAX_BODY);
	evhttp_set_max_headers_size(a->http, MAX_HEADERS);
	evhttp_set_timeout(a->http, (int)a->timeout_s);
	evhttp_set_allowed_methods(a->http, 0xffff);
	evhttp_set_gencb(a->http, handle, a);
	return 0;
}

int vg_api_start(struct vg_api **out, const struct vg_api_host *host, char *err, size_t n)
{
	struct vg_api *a = calloc(1, sizeof(*a));
	struct evhttp_bound_socket *bound;
	char name[128];
	long port = 0;
	int rc;

	*out = NULL;
	if (!a)
		return vg_errf(err, n, -ENOMEM, "out of memory starting the API");
	a->host = *host;
	if ((rc = split_listen(host->listen, name, sizeof(name), &port, err, n)) ||
	    (rc = api_conn_budget(a, err, n)) || (rc = load_token(a, err, n))) {
		free(a);
		return rc;
	}
	a->sessions =
		vg_sessions_new(host->console_code_ttl_s ? host->console_code_ttl_s : 300,
				host->console_session_ttl_s ? host->console_session_ttl_s : 43200);
	if (!a->sessions || make_server(a) || api_streams_start(a, host->stream_keepalive_s)) {
		vg_api_stop(a);
		return vg_errf(err, n, -ENOMEM, "cannot create the HTTP server");
	}
	bound = bind_listener(a, name, (ev_uint16_t)port);
	if (!bound) {
		rc = errno;
		vg_api_stop(a);
		return vg_errf(err, n, -EADDRINUSE,
			       "cannot listen on %s (%s): another process has the port? "
			       "set another with --listen or api.listen",
			       host->listen, strerror(rc));
	}
	api_conn_listening(a, evhttp_bound_socket_get_listener(bound));
	*out = a;
	return 0;
}

void vg_api_stats(const struct vg_api *a, struct vg_api_stats *st)
{
	*st = (struct vg_api_stats){
		.requests = a->requests,
		.errors4xx = a->errors4xx,
		.http_errors = a->http_errors,
		.timeouts = a->timeouts,
		.cap_pauses = a->cap_pauses,
		.accept_errors = a->accept_errors,
		.connections = a->nconns,
		.max_connections = a->max_conns,
		.login_refused = a->login_refused,
		.csrf_refused = a->csrf_refused,
		.host_refused = a->host_refused,
		.unauthorized = a->unauthorized,
	};
	api_streams_stats(a, st);
}

void vg_api_stop(struct vg_api *a)
{
	if (!a)
		return;
	a->listener = NULL; /* evhttp_free frees it */
	api_streams_stop(a);
	api_notifier_tests_stop(a);
	if (a->http)
		evhttp_free(a->http); /* closes its connections: ours are then reaped */
	api_conn_free_all(a);
	vg_sessions_free(a->sessions);
	explicit_bzero(a->token, sizeof(a->token));
	free(a);
}
