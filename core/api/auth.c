// SPDX-License-Identifier: BSD-2-Clause
/*
 * auth.c - who sent a request: the bearer token of DATA_DIR/api.token, or the
 * web console's session cookie (vigil_session), which needs the session's
 * CSRF token in X-CSRF-Token for any method but GET and HEAD. Also the
 * console's own endpoints: sign-in codes, the session, sign-out.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

#include "api_priv.h"
#include "session.h"

#define COOKIE "vigil_session"

static bool bearer_ok(struct vg_api *a, const char *h)
{
	if (strncmp(h, "Bearer ", 7))
		return false;
	return vg_sessions_equal(h + 7, a->token);
}

/* The session id among one Cookie header's "name=value; ..." pairs that names a live
 * session, into sid; true when one does. */
static bool cookie_session(struct vg_api *a, const char *h, char *sid)
{
	const size_t nl = strlen(COOKIE);
	uint64_t exp, now = api_mono_ms();

	for (const char *p = h; p && *p;) {
		const char *end = strchr(p, ';');
		size_t len;

		p += strspn(p, " \t");
		len = end ? (size_t)(end - p) : strlen(p);
		while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		if (len == nl + 1 + VG_SESSION_TOKEN_LEN && !strncmp(p, COOKIE "=", nl + 1)) {
			memcpy(sid, p + nl + 1, VG_SESSION_TOKEN_LEN);
			sid[VG_SESSION_TOKEN_LEN] = '\0';
			if (vg_sessions_find(a->sessions, now, sid, &exp))
				return true;
		}
		p = end ? end + 1 : NULL;
	}
	sid[0] = '\0';
	return false;
}

enum api_auth api_auth_of(struct vg_api *a, struct evhttp_request *req, char *sid)
{
	struct evkeyvalq *hs = evhttp_request_get_input_headers(req);
	const char *bearer = evhttp_find_header(hs, "Authorization");
	struct evkeyval *kv;
	bool cookie = false;

	sid[0] = '\0';
	TAILQ_FOREACH(kv, hs, next)
	{
		if (!cookie && !strcasecmp(kv->key, "Cookie"))
			cookie = cookie_session(a, kv->value, sid);
	}
	if (bearer) /* a bearer token given decides, right or wrong */
		return bearer_ok(a, bearer) ? API_AUTH_BEARER : API_AUTH_NONE;
	return cookie ? API_AUTH_SESSION : API_AUTH_NONE;
}

bool api_csrf_ok(struct vg_api *a, struct evhttp_request *req, enum evhttp_cmd_type m,
		 const char *sid)
{
	const char *h = evhttp_find_header(evhttp_request_get_input_headers(req), "X-CSRF-Token");
	const char *csrf;
	uint64_t exp;

	if (m == EVHTTP_REQ_GET || m == EVHTTP_REQ_HEAD)
		return true;
	csrf = vg_sessions_find(a->sessions, api_mono_ms(), sid, &exp);
	if (h && csrf && vg_sessions_equal(h, csrf))
		return true;
	a->csrf_refused++;
	api_fail(a, req, 403,
		 "missing or wrong CSRF token: send the X-CSRF-Token header from GET "
		 "/v1/console/session");
	return false;
}

/* A monotonic deadline as RFC 3339 UTC wall-clock time into out (32 bytes). */
static const char *wall_time(uint64_t deadline_ms, char *out)
{
	uint64_t now = api_mono_ms();
	time_t t = time(NULL) + (time_t)((deadline_ms > now ? deadline_ms - now : 0) / 1000u);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return out;
}

static bool wildcard(const char *hostport)
{
	return !strncmp(hostport, "0.0.0.0:", 8) || !strncmp(hostport, "[::]:", 5);
}

/*
 * Where a browser reaches the API, into out (n bytes): api.listen; when that is a wildcard
 * (0.0.0.0:8077), the address the request came to (its Host header), and when that is one
 * too, loopback on the same port.
 */
static const char *reachable_at(struct vg_api *a, struct evhttp_request *req, char *out, size_t n)
{
	const char *at = a->host.listen;
	const char *host = evhttp_find_header(evhttp_request_get_input_headers(req), "Host");
	static const char ok[] =
		"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]";

	if (wildcard(at) && host && *host && strlen(host) < 256 && strspn(host, ok) == strlen(host))
		at = host;
	if (!strncmp(at, "0.0.0.0:", 8))
		(void)snprintf(out, n, "127.0.0.1:%s", at + 8);
	else if (!strncmp(at, "[::]:", 5))
		(void)snprintf(out, n, "[::1]:%s", at + 5);
	else
		(void)snprintf(out, n, "%s", at);
	return out;
}

void api_console_codes(struct vg_api *a, struct evhttp_request *req, enum api_auth auth)
{
	char code[VG_SESSION_TOKEN_LEN + 1], url[400], when[32], at[300];
	uint64_t now = api_mono_ms();

	if (auth != API_AUTH_BEARER) {
		api_fail(a, req, 403,
			 "sign-in codes are given for the bearer token only: run 'vigil console'");
		return;
	}
	if (vg_sessions_code(a->sessions, now, code)) {
		api_fail(a, req, 503, "cannot draw random bytes for a sign-in code: try again");
		return;
	}
	(void)snprintf(url, sizeof(url), "http://%.300s/login?code=%s",
		       reachable_at(a, req, at, sizeof(at)), code);
	api_reply(req, 201,
		  json_pack("{s:s, s:s, s:s, s:i}", "code", code, "url", url, "expiresAt",
			    wall_time(now + vg_sessions_code_ttl(a->sessions) * 1000ull, when),
			    "validSeconds", (json_int_t)vg_sessions_code_ttl(a->sessions)));
}

static void no_session(struct vg_api *a, struct evhttp_request *req)
{
	a->unauthorized++;
	api_fail(a, req, 401,
		 "no console session: sign in with the link 'vigil console' prints, or at "
		 "/login with the API token");
}

void api_console_session(struct vg_api *a, struct evhttp_request *req, const char *sid)
{
	char when[32];
	const char *csrf;
	uint64_t exp = 0;

	csrf = sid[0] ? vg_sessions_find(a->sessions, api_mono_ms(), sid, &exp) : NULL;
	if (!csrf) {
		no_session(a, req);
		return;
	}
	api_reply(req, 200,
		  json_pack("{s:s, s:s}", "csrf", csrf, "expiresAt", wall_time(exp, when)));
}

void api_console_logout(struct vg_api *a, struct evhttp_request *req, const char *sid)
{
	if (!sid[0]) {
		no_session(a, req);
		return;
	}
	vg_sessions_close(a->sessions, sid);
	api_streams_recheck(a); /* its live updates end with it */
	evhttp_add_header(evhttp_request_get_output_headers(req), "Set-Cookie",
			  COOKIE "=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
	evhttp_send_reply(req, 204, "No Content", NULL);
}

int api_session_start(struct vg_api *a, struct evhttp_request *req)
{
	char id[VG_SESSION_TOKEN_LEN + 1], csrf[VG_SESSION_TOKEN_LEN + 1], cookie[160];
	struct evkeyvalq *out = evhttp_request_get_output_headers(req);

	if (vg_sessions_open(a->sessions, api_mono_ms(), id, csrf))
		return -EIO;
	(void)snprintf(cookie, sizeof(cookie),
		       COOKIE "=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%u", id,
		       vg_sessions_session_ttl(a->sessions));
	evhttp_add_header(out, "Set-Cookie", cookie);
	evhttp_add_header(out, "Location", "/");
	evhttp_send_reply(req, 303, "See Other", NULL);
	return 0;
}
