// SPDX-License-Identifier: BSD-2-Clause
/*
 * console.c - the web console's pages: the files of console/ carried in the
 * binary (GET /, GET /console/<file>) and the sign-in page (GET /login, with a
 * one-time code or without; POST /login with the API token). Every answer
 * carries a strict Content-Security-Policy and the headers that keep the pages
 * out of frames, caches and referrers. The files hold no data: no sign-in.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "api_priv.h"
#include "embed.h"
#include "session.h"

#define FORM_MAX 4096 /* a sign-in form: the token and little else */

static const char csp[] = "default-src 'none'; script-src 'self'; style-src 'self'; "
			  "img-src 'self' data:; connect-src 'self'; base-uri 'none'; "
			  "form-action 'self'; frame-ancestors 'none'";

static const char msg_code[] = "This sign-in link is not valid: it has expired or was used "
			       "already. Run `vigil console` for a new one.";

void api_console_headers(struct evhttp_request *req)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);

	evhttp_add_header(h, "Content-Security-Policy", csp);
	evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
	evhttp_add_header(h, "Referrer-Policy", "no-referrer");
	evhttp_add_header(h, "X-Frame-Options", "DENY");
	evhttp_add_header(h, "Cache-Control", "no-store");
}

/* The Content-Type of a console file by its extension, or NULL: not served. (With a charset:
 * conn.c rewrites a bare text/html answer, which only evhttp's own error pages are.) */
static const char *content_type(const char *name)
{
	static const struct {
		const char *ext, *type;
	} types[] = {
		{".html", "text/html; charset=utf-8"},
		{".js", "text/javascript; charset=utf-8"},
		{".css", "text/css; charset=utf-8"},
		{".svg", "image/svg+xml"},
	};
	const char *dot = strrchr(name, '.');

	for (size_t i = 0; dot && i < sizeof(types) / sizeof(types[0]); i++)
		if (!strcmp(dot, types[i].ext))
			return types[i].type;
	return NULL;
}

/* A file name of console/: letters, digits, '-', '_' and '.', not starting with a dot. */
static bool plain_name(const char *name)
{
	size_t n = strlen(name);

	return n && n < 128 && name[0] != '.' &&
	       strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") ==
		       n;
}

/* Sends b (may be NULL) with code; for HEAD only its length (evhttp would send it whole). */
static void send_body(struct evhttp_request *req, int code, struct evbuffer *b)
{
	const char *reason = code < 300 ? "OK" : "Error";
	char len[32];

	if (evhttp_request_get_command(req) != EVHTTP_REQ_HEAD) {
		evhttp_send_reply(req, code, reason, b);
		return;
	}
	(void)snprintf(len, sizeof(len), "%zu", b ? evbuffer_get_length(b) : 0);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Length", len);
	evhttp_send_reply(req, code, reason, NULL);
}

/* Sends len bytes of data as type with code and the console's headers. */
static void send_page(struct evhttp_request *req, int code, const char *type, const char *data,
		      size_t len)
{
	struct evbuffer *b = evbuffer_new();

	api_console_headers(req);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", type);
	if (b)
		(void)evbuffer_add(b, data, len); /* out of memory: an empty page */
	send_body(req, code, b);
	if (b)
		evbuffer_free(b);
}

/* The embedded console/name with its Content-Type, or the 404. */
static void serve_file(struct vg_api *a, struct evhttp_request *req, const char *name)
{
	const struct vg_embedded *f = NULL;
	const char *type = plain_name(name) ? content_type(name) : NULL;
	char path[160];

	if (type) {
		(void)snprintf(path, sizeof(path), "console/%s", name); /* fits: plain_name */
		f = vg_embedded_find(path);
	}
	if (!f) {
		api_console_headers(req);
		api_fail(
			a, req, 404,
			"no such console file: /console/%.128s (this vigil carries console/*.html, "
			"*.js, *.css and *.svg only)",
			plain_name(name) ? name : "...");
		return;
	}
	send_page(req, 200, type, f->data, f->len);
}

/* login.html with msg (plain text, no markup) put into its element id="login-error". */
static void login_page(struct vg_api *a, struct evhttp_request *req, int code, const char *msg)
{
	const struct vg_embedded *f = vg_embedded_find("console/login.html");
	const char *at = f && msg ? strstr(f->data, "id=\"login-error\"") : NULL;
	const char *gt = at ? strchr(at, '>') : NULL;
	struct evbuffer *b;

	if (!f) {
		api_console_headers(req);
		api_fail(a, req, 404, "this vigil was built without console/login.html");
		return;
	}
	if (!gt) {
		send_page(req, code, "text/html; charset=utf-8", f->data, f->len);
		return;
	}
	b = evbuffer_new();
	api_console_headers(req);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
			  "text/html; charset=utf-8");
	/* out of memory: a shorter page (the status still tells) */
	if (b && !evbuffer_add(b, f->data, (size_t)(gt + 1 - f->data)) &&
	    !evbuffer_add(b, msg, strlen(msg)))
		(void)evbuffer_add(b, gt + 1, f->len - (size_t)(gt + 1 - f->data));
	send_body(req, code, b);
	if (b)
		evbuffer_free(b);
}

/* A sign-in refused: counted, and the page with msg. */
static void refuse(struct vg_api *a, struct evhttp_request *req, int code, const char *msg)
{
	a->login_refused++;
	a->errors4xx++;
	login_page(a, req, code, msg);
}

/* The session's cookie and the way to /, or the 503 page. */
static void signed_in(struct vg_api *a, struct evhttp_request *req)
{
	api_console_headers(req);
	if (api_session_start(a, req))
		login_page(a, req, 503, "Cannot draw random bytes for a session: try again.");
}

/* GET /login[?code=C] */
static void login_get(struct vg_api *a, struct evhttp_request *req)
{
	const char *qs = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req)), *code;
	struct evkeyvalq q = {0};

	if (!qs || !*qs) {
		login_page(a, req, 200, NULL);
		return;
	}
	TAILQ_INIT(&q);
	code = evhttp_parse_query_str(qs, &q) ? NULL : evhttp_find_header(&q, "code");
	if (code && vg_sessions_redeem(a->sessions, api_mono_ms(), code))
		signed_in(a, req);
	else if (!code)
		login_page(a, req, 200, NULL);
	else
		refuse(a, req, 401, msg_code);
	evhttp_clear_headers(&q);
}

/* A cross-site form post: its Origin (when the browser sends one) names another site. */
static bool foreign_origin(struct evhttp_request *req)
{
	struct evkeyvalq *h = evhttp_request_get_input_headers(req);
	const char *origin = evhttp_find_header(h, "Origin");
	const char *host = evhttp_find_header(h, "Host");

	if (!origin)
		return false;
	return !host || strncmp(origin, "http://", 7) || strcmp(origin + 7, host);
}

/* POST /login, the form's field token being the API token. */
static void login_post(struct vg_api *a, struct evhttp_request *req)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in);
	struct evkeyvalq q;
	const char *token = NULL;
	char *body;

	if (foreign_origin(req)) {
		refuse(a, req, 403, "This form may only be sent from this vigil's own pages.");
		return;
	}
	if (len > FORM_MAX || !(body = calloc(1, len + 1))) {
		refuse(a, req, 400, "The sign-in form is too large: send the API token only.");
		return;
	}
	(void)evbuffer_copyout(in, body, len);
	TAILQ_INIT(&q);
	if (!evhttp_parse_query_str(body, &q))
		token = evhttp_find_header(&q, "token");
	if (!token || !*token)
		refuse(a, req, 400,
		       "Paste the API token (the file api.token in vigil's data directory).");
	else if (!vg_sessions_equal(token, a->token))
		refuse(a, req, 401,
		       "Wrong API token: paste the whole token from the file api.token in vigil's "
		       "data directory, or run `vigil console` for a sign-in link.");
	else
		signed_in(a, req);
	evhttp_clear_headers(&q);
	explicit_bzero(body, len);
	free(body);
}

/* path's methods, when it is the console's: NULL when it is not. */
static const char *console_methods(const char *path)
{
	if (!strcmp(path, "/login"))
		return "GET, HEAD, POST";
	if (!strcmp(path, "/") || !strncmp(path, "/console/", 9))
		return "GET, HEAD";
	return NULL;
}

bool api_console_serve(struct vg_api *a, struct evhttp_request *req, const char *path,
		       enum evhttp_cmd_type m)
{
	const char *allow = console_methods(path);

	if (!allow)
		return false;
	if (m != EVHTTP_REQ_GET && m != EVHTTP_REQ_HEAD &&
	    !(m == EVHTTP_REQ_POST && strstr(allow, "POST"))) {
		api_console_headers(req);
		evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", allow);
		api_fail(a, req, 405, "%s answers %s only", path, allow);
	} else if (!strcmp(path, "/")) {
		serve_file(a, req, "index.html");
	} else if (!strcmp(path, "/login") && m == EVHTTP_REQ_POST) {
		login_post(a, req);
	} else if (!strcmp(path, "/login") && m == EVHTTP_REQ_HEAD) {
		login_page(a, req, 200, NULL); /* a code is for GET only */
	} else if (!strcmp(path, "/login")) {
		login_get(a, req);
	} else {
		serve_file(a, req, path + 9);
	}
	return true;
}
