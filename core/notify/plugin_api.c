// SPDX-License-Identifier: BSD-2-Clause
/*
 * plugin_api.c - the `vigil` table a notifier plugin calls: vigil.http and
 * vigil.send (they yield the plugin's coroutine while the request is on the
 * loop, and resume it with the answer), JSON, base64, log, now, hostname and
 * vigil.namespace (Kubernetes namespace metadata).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <lauxlib.h>

#include "http.h"
#include "log.h"
#include "lua_host.h"
#include "luajson.h"
#include "notify_priv.h"
#include "stream.h"

/* What a yielded request resumes. Listed in its notifier, so closing it orphans them (n = NULL):
 * the transfer may still finish later, and must then not touch what was freed. */
struct req_wait {
	struct vg_notify *n;
	struct slot *slot;
	struct req_wait *prev, *next;
	bool http; /* a vigil.http request (else vigil.send's, which its stream cancels) */
};

/* Takes w off its notifier's list: true if it may resume its slot. */
static bool wait_done(struct req_wait *w)
{
	if (!w->n)
		return false;
	if (w->prev)
		w->prev->next = w->next;
	else
		w->n->waits = w->next;
	if (w->next)
		w->next->prev = w->prev;
	return w->slot->co != NULL;
}

/* The answer as a Lua table {status, body, error, retry_after}, in a protected call. Arg: the
 * vg_http_resp. */
static int l_push_resp(lua_State *L)
{
	const struct vg_http_resp *r = lua_touserdata(L, 1);

	lua_createtable(L, 0, 4);
	lua_pushinteger(L, r->status);
	lua_setfield(L, -2, "status");
	lua_pushlstring(L, r->body ? r->body : "", r->len);
	lua_setfield(L, -2, "body");
	if (r->error) {
		lua_pushstring(L, r->error);
		lua_setfield(L, -2, "error");
	}
	if (r->retry_after_s >= 0) {
		lua_pushinteger(L, r->retry_after_s);
		lua_setfield(L, -2, "retry_after");
	}
	return 1;
}

/* vigil.send's outcome: true, nil or false, reason. Arg: the error or NULL. */
static int l_push_sent(lua_State *L)
{
	const char *error = lua_touserdata(L, 1);

	lua_pushboolean(L, !error);
	if (error)
		lua_pushstring(L, error);
	else
		lua_pushnil(L);
	return 2;
}

/* Resumes w's coroutine with what fn pushes from arg (built on the main state, protected, then
 * moved over). */
static void resume_with(struct req_wait *w, lua_CFunction fn, const void *arg, int nres)
{
	lua_State *L = vg_lua_state(w->n->lua);

	lua_pushcfunction(L, fn);
	lua_pushlightuserdata(L, (void *)arg);
	if (lua_pcall(L, 1, nres, 0) != LUA_OK) {
		char why[256];

		snprintf(why, sizeof(why), "cannot hand the answer to the plugin: %s",
			 lua_tostring(L, -1));
		lua_pop(L, 1);
		notify_settle(w->n, w->slot, NOTIFY_FAILED, why, -1);
		return;
	}
	lua_xmove(L, w->slot->co, nres);
	notify_run(w->n, w->slot, nres);
}

static void on_http(void *ctx, const struct vg_http_resp *r)
{
	struct req_wait *w = ctx;

	if (wait_done(w))
		resume_with(w, l_push_resp, r, 1);
	free(w);
}

/* The slot whose coroutine L is, or NULL (called outside an event function). */
static struct slot *slot_of(struct vg_notify *n, lua_State *L)
{
	for (int i = 0; i < n->ninst; i++) {
		for (int k = 0; k < n->inst[i].conc; k++)
			if (n->inst[i].slot[k].co == L)
				return &n->inst[i].slot[k];
		if (n->inst[i].probe.co == L)
			return &n->inst[i].probe;
	}
	return NULL;
}

/* timeout_ms (by default the instance's), ca_file, insecure from the options table at index 1
 * (vigil.http and vigil.send). */
static void transport_opts(lua_State *L, const struct slot *sl, long *timeout_ms,
			   const char **ca_file, bool *insecure)
{
	lua_getfield(L, 1, "timeout_ms");
	*timeout_ms = (long)luaL_optinteger(L, -1, sl->inst->timeout_ms);
	lua_getfield(L, 1, "ca_file");
	*ca_file = lua_tostring(L, -1);
	lua_getfield(L, 1, "insecure");
	*insecure = lua_toboolean(L, -1);
}

/* What a yielded request resumes: freed by its callback. Raises a Lua error when out of memory. */
static struct req_wait *wait_new(lua_State *L, struct vg_notify *n, struct slot *sl)
{
	struct req_wait *w = calloc(1, sizeof(*w));

	if (!w)
		luaL_error(L, "out of memory");
	w->n = n;
	w->slot = sl;
	w->next = n->waits;
	if (n->waits)
		n->waits->prev = w;
	n->waits = w;
	return w;
}

/* A request that could not start: off the list, freed. */
static void wait_drop(struct req_wait *w)
{
	wait_done(w);
	free(w);
}

/* The headers table on top of L as "Name: value" lines in hbuf, listed in hdrs (NULL-ended).
 * A header that cannot be sent as given is a Lua error, never dropped. */
static int http_headers(lua_State *L, char hbuf[32][512], const char *hdrs[33])
{
	int nh = 0;

	lua_pushnil(L);
	while (lua_next(L, -2)) {
		if (lua_type(L, -2) != LUA_TSTRING ||
		    (lua_type(L, -1) != LUA_TSTRING && lua_type(L, -1) != LUA_TNUMBER))
			return luaL_error(L,
					  "vigil.http: header %s is a %s: a header is "
					  "name = \"value\" (strings)",
					  lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2)
									 : "?",
					  luaL_typename(L, -1));
		if (nh == 32)
			return luaL_error(L, "vigil.http: more than 32 headers");
		if ((size_t)snprintf(hbuf[nh], 512, "%s: %s", lua_tostring(L, -2),
				     lua_tostring(L, -1)) >= 512)
			return luaL_error(L, "vigil.http: header %s is longer than 500 bytes",
					  lua_tostring(L, -2));
		hdrs[nh] = hbuf[nh];
		nh++;
		lua_pop(L, 1);
	}
	return nh;
}

/* vigil.http{method, url, headers = {name = value}, body, timeout_ms, ca_file, insecure} */
static int l_http(lua_State *L)
{
	struct vg_notify *n = lua_touserdata(L, lua_upvalueindex(1));
	struct vg_http_req r = {0};
	const char *hdrs[33] = {0};
	char hbuf[32][512];
	struct req_wait *w;
	struct slot *sl;

	if (!(sl = slot_of(n, L)))
		return luaL_error(L,
				  "vigil.http can only be called from a notifier's event function");
	luaL_checktype(L, 1, LUA_TTABLE);
	lua_getfield(L, 1, "method");
	r.method = luaL_optstring(L, -1, "POST");
	lua_getfield(L, 1, "url");
	r.url = luaL_checkstring(L, -1);
	lua_getfield(L, 1, "body");
	r.body = lua_tostring(L, -1);
	transport_opts(L, sl, &r.timeout_ms, &r.ca_file, &r.insecure);
	lua_getfield(L, 1, "headers");
	if (lua_istable(L, -1))
		(void)http_headers(L, hbuf, hdrs); /* how many: hdrs is NULL-ended */
	r.headers = hdrs;
	w = wait_new(L, n, sl);
	w->http = true;
	if (vg_http_request(n->http, &r, on_http, w)) {
		wait_drop(w);
		return luaL_error(L, "cannot start the HTTP request to %s", r.url);
	}
	return lua_yield(L, 0); /* resumed by on_http with the answer */
}

static void on_sent(void *ctx, const char *error)
{
	struct req_wait *w = ctx;

	if (wait_done(w))
		resume_with(w, l_push_sent, error, 2);
	free(w);
}

/* vigil.send{address = "tcp|tls|udp://host:port", data, timeout_ms, ca_file, insecure}
 * -> true | false, reason. Raw bytes for receivers that do not speak HTTP (syslog). */
static int l_send(lua_State *L)
{
	struct vg_notify *n = lua_touserdata(L, lua_upvalueindex(1));
	struct vg_stream_req r = {0};
	struct req_wait *w;
	struct slot *sl;
	char err[256];

	if (!(sl = slot_of(n, L)))
		return luaL_error(L,
				  "vigil.send can only be called from a notifier's event function");
	luaL_checktype(L, 1, LUA_TTABLE);
	lua_getfield(L, 1, "address");
	r.address = luaL_checkstring(L, -1);
	lua_getfield(L, 1, "data");
	r.data = luaL_checklstring(L, -1, &r.len);
	transport_opts(L, sl, &r.timeout_ms, &r.ca_file, &r.insecure);
	if (!sl->stream && !(sl->stream = vg_stream_new(n->base)))
		return luaL_error(L, "out of memory");
	w = wait_new(L, n, sl);
	if (vg_stream_send(sl->stream, &r, on_sent, w, err, sizeof(err))) {
		wait_drop(w);
		return luaL_error(L, "vigil.send: %s", err);
	}
	return lua_yield(L, 0); /* resumed by on_sent */
}

static int l_json_encode(lua_State *L)
{
	char err[256];

	luaL_checkany(L, 1);
	if (vg_lua_encode_json(L, 1, err, sizeof(err)))
		return luaL_error(L, "vigil.json_encode: %s", err);
	return 1;
}

static int l_json_decode(lua_State *L)
{
	json_error_t je;
	json_t *j = json_loads(luaL_checkstring(L, 1), JSON_DECODE_ANY, &je);

	if (!j) {
		lua_pushnil(L);
		lua_pushstring(L, je.text);
		return 2;
	}
	vg_lua_push_json(L, j);
	json_decref(j);
	return 1;
}

/* vigil.namespace(name): {name, labels, annotations} of a Kubernetes namespace, or nil (not known,
 * no Kubernetes). */
static int l_namespace(lua_State *L)
{
	struct vg_notify *n = lua_touserdata(L, lua_upvalueindex(1));
	const char *name = luaL_checkstring(L, 1);
	const json_t *meta = n->namespace_of ? n->namespace_of(n->namespace_ctx, name) : NULL;

	if (!meta)
		lua_pushnil(L);
	else
		vg_lua_push_json(L, meta);
	return 1;
}

void vg_notify_set_namespaces(struct vg_notify *n, vg_notify_namespace_fn fn, void *ctx)
{
	n->namespace_of = fn;
	n->namespace_ctx = ctx;
}

static int l_base64(lua_State *L)
{
	static const char tbl[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t len;
	const unsigned char *s = (const unsigned char *)luaL_checklstring(L, 1, &len);
	luaL_Buffer b;

	luaL_buffinit(L, &b);
	for (size_t i = 0; i < len; i += 3) {
		unsigned v = (unsigned)s[i] << 16 | (i + 1 < len ? (unsigned)s[i + 1] << 8 : 0) |
			     (i + 2 < len ? s[i + 2] : 0);

		luaL_addchar(&b, tbl[v >> 18 & 63]);
		luaL_addchar(&b, tbl[v >> 12 & 63]);
		luaL_addchar(&b, i + 1 < len ? tbl[v >> 6 & 63] : '=');
		luaL_addchar(&b, i + 2 < len ? tbl[v & 63] : '=');
	}
	luaL_pushresult(&b);
	return 1;
}

static int l_log(lua_State *L)
{
	vg_info("plugin: %s", luaL_checkstring(L, 1));
	return 0;
}

static int l_hostname(lua_State *L)
{
	char h[256] = "-";

	if (gethostname(h, sizeof(h) - 1))
		snprintf(h, sizeof(h), "-"); /* no name: the syslog convention */
	lua_pushstring(L, h);
	return 1;
}

static int l_now(lua_State *L)
{
	lua_pushinteger(L, (lua_Integer)time(NULL));
	return 1;
}

int notify_api_open(struct vg_notify *n)
{
	static const luaL_Reg fns[] = {
		{"http", l_http},
		{"send", l_send},
		{"json_encode", l_json_encode},
		{"json_decode", l_json_decode},
		{"log", l_log},
		{"now", l_now},
		{"hostname", l_hostname},
		{"base64", l_base64},
		{"namespace", l_namespace},
		{NULL, NULL},
	};
	lua_State *L = vg_lua_state(n->lua);

	lua_newtable(L);
	lua_pushlightuserdata(L, n);
	luaL_setfuncs(L, fns, 1);
	lua_pushstring(L, VIGIL_VERSION);
	lua_setfield(L, -2, "version");
	n->vigil_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	return n->vigil_ref == LUA_REFNIL ? -ENOMEM : 0;
}

void notify_api_close(struct vg_notify *n)
{
	for (struct req_wait *w = n->waits, *next; w; w = next) {
		next = w->next;
		w->n = NULL; /* orphaned: its transfer may still end, and must touch nothing */
		/* a stream's callback never comes once it is freed (vg_notify_close) */
		if (!w->http || vg_http_cancel(n->http, w))
			free(w);
	}
	n->waits = NULL;
}
