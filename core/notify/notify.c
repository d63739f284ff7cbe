// SPDX-License-Identifier: BSD-2-Clause
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <dirent.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <lauxlib.h>

#include "config.h"
#include "embed.h"
#include "log.h"
#include "lua_host.h"
#include "luajson.h"
#include "notify_priv.h"
#include "stream.h"
#include "wal.h"

#define PLUGIN_BUDGET	    2000000L
#define DEFAULT_ATTEMPTS    10
#define DEFAULT_RETRY_MS    1000
#define DEFAULT_MAX_AGE_S   86400 /* a day of retrying, then the dead letters */
#define DEFAULT_QUEUE_MAX   10000 /* events in memory per notifier; the rest wait on disk */
#define DEFAULT_CONCURRENCY 4
#define SCAN_AHEAD	    64 /* how far past the head a free slot looks for an event it may send */

static const double buckets[NBUCKETS] = {0.01, 0.05, 0.1, 0.5, 1, 5};

void vg_notify_routes_clear(struct vg_notify *n)
{
	for (int i = 0; i < n->nroutes; i++) {
		for (int k = 0; k < n->routes[i].nnames; k++)
			free(n->routes[i].names[k]);
		free(n->routes[i].names);
		free(n->routes[i].policy_id);
	}
	free(n->routes);
	n->routes = NULL;
	n->nroutes = 0;
}

int vg_notify_route(struct vg_notify *n, const char *policy_id, const char *const *names, char *err,
		    size_t en)
{
	struct route *nr, *r;
	int cnt = 0;

	for (; names[cnt]; cnt++)
		if (!ob_inst(n, names[cnt]))
			return vg_errf(
				err, en, -ENOENT,
				"policy '%s' names notifier '%s', which vigil.conf.lua does not "
				"configure (add it to notifiers, or fix the name)",
				policy_id, names[cnt]);
	nr = realloc(n->routes, (size_t)(n->nroutes + 1) * sizeof(*nr));
	if (!nr)
		return -ENOMEM;
	n->routes = nr;
	r = &n->routes[n->nroutes];
	r->policy_id = strdup(policy_id);
	r->names = calloc((size_t)cnt + 1, sizeof(char *));
	r->nnames = 0;
	if (!r->policy_id || !r->names) {
		free(r->policy_id);
		free(r->names);
		return -ENOMEM;
	}
	for (int i = 0; i < cnt; i++)
		if ((r->names[i] = strdup(names[i])))
			r->nnames++;
	n->nroutes++;
	return 0;
}

void vg_notify_set_store(struct vg_notify *n, struct vg_alerts *store)
{
	n->store = store;
}

int vg_notify_alert(struct vg_notify *n, const char *event, const struct vg_alert *a)
{
	json_t *alert = n->store ? NULL : vg_alert_json(a, true);
	char **names = n->defaults;
	int nnames = n->ndefaults, rc = 0;

	for (int i = 0; a->policy_id && i < n->nroutes; i++)
		if (!strcmp(n->routes[i].policy_id, a->policy_id)) {
			names = n->routes[i].names;
			nnames = n->routes[i].nnames;
			break;
		}
	for (int d = 0; d < nnames; d++) {
		struct inst *in = ob_inst(n, names[d]);
		struct entry *e;

		if (!in)
			continue;
		e = calloc(1, sizeof(*e));
		if (!e) {
			json_decref(alert);
			return -ENOMEM;
		}
		e->id = n->next_id++;
		e->enq_ns = wall_ns();
		snprintf(e->event, sizeof(e->event), "%s", event);
		e->alert_id = strdup(a->id);
		e->payload = alert ? json_dumps(alert, JSON_COMPACT) : NULL;
		ob_enqueue(n, in, e,
			   alert); /* logged before it is sent: the log's ack flips e->durable */
	}
	json_decref(alert);
	event_active(n->pump, 0, 0);
	return rc;
}

/* ---- delivery ----------------------------------------------------------------------- */

static void settle(struct vg_notify *n, struct slot *sl, int outcome, const char *why,
		   long retry_after_s)
{
	struct inst *in = sl->in;
	struct entry *e = sl->e;
	double secs = (double)(mono_ms() - (int64_t)sl->t0) / 1000.0;
	size_t b = 0;

	sl->e = NULL;
	if (sl->co_ref != LUA_NOREF) {
		luaL_unref(vg_lua_state(n->lua), LUA_REGISTRYINDEX, sl->co_ref);
		sl->co_ref = LUA_NOREF;
		sl->co = NULL;
	}
	while (b < NBUCKETS && secs > buckets[b])
		b++;
	in->lat[b]++;
	in->lat_sum += secs;
	if (!e)
		return;
	char aged[640];
	int64_t left_ms = in->max_age_s * 1000 - (int64_t)(wall_ns() - e->enq_ns) /
							 1000000; /* signed: a clock step back */

	if (outcome == 1 && e->attempts + 1 >= in->max_attempts)
		outcome = 3;		    /* a failure, and the last attempt */
	if (outcome == 1 && left_ms <= 0) { /* a failure, and too old to try again */
		snprintf(aged, sizeof(aged),
			 "%s (still failing %llds after it was queued: max_age_s)", why,
			 (long long)in->max_age_s);
		why = aged;
		outcome = 3;
	}
	snprintf(in->last, sizeof(in->last), "%s%.490s",
		 outcome == 0	? "accepted"
		 : outcome == 1 ? "will retry: "
		 : outcome == 2 ? "refused: "
				: "gave up: ",
		 outcome == 0 ? "" : why); /* truncated to fit: it is a summary */
	if (outcome == 0) {		   /* accepted */
		in->sent++;
		ob_delivered(n, in, e);
	} else if (outcome == 1 && ++e->attempts < in->max_attempts) { /* try again later */
		int64_t delay = (int64_t)in->retry_ms << (e->attempts > 8 ? 8 : e->attempts - 1);

		if (delay > 300000)
			delay = 300000;
		delay = delay / 2 + rand() % (delay + 1); /* jitter: 0.5x to 1.5x */
		if (retry_after_s > 0)
			delay = retry_after_s * 1000;
		if (delay > left_ms) /* one last attempt at max_age_s */
			delay = left_ms;
		e->next_ms = mono_ms() + delay;
		e->inflight = false;
		in->retried++;
		in->failed++;
		vg_warn("notifier '%s': %s; attempt %d, again in %lld ms", in->name, why,
			e->attempts, (long long)delay);
	} else { /* to the dead letters, with the receiver's answer */
		in->failed++;
		in->deadc++;
		vg_err("notifier '%s': gave up on alert %s (%s): %s", in->name, e->alert_id,
		       e->event, why);
		ob_dead(n, in, e, why);
	}
	event_active(n->pump, 0, 0);
}

/* The plugin returned: true; false, reason; or an HTTP answer {status, body, error}. */
static void finished(struct vg_notify *n, struct slot *in, int nres)
{
	lua_State *co = in->co;
	char why[512];

	if (nres < 1 || lua_isnil(co, -nres)) {
		settle(n, in, 1, "the plugin returned nothing", -1);
	} else if (lua_isboolean(co, -nres)) {
		if (lua_toboolean(co, -nres))
			settle(n, in, 0, "", -1);
		else
			settle(n, in, 1,
			       nres > 1 && lua_isstring(co, -nres + 1)
				       ? lua_tostring(co, -nres + 1)
				       : "the plugin reported a failure",
			       -1);
	} else if (lua_istable(co, -nres)) {
		long status, ra;
		const char *err, *body;

		lua_getfield(co, -nres, "status");
		status = (long)lua_tointeger(co, -1);
		lua_getfield(co, -nres - 1, "error");
		err = lua_tostring(co, -1);
		lua_getfield(co, -nres - 2, "body");
		body = lua_tostring(co, -1);
		lua_getfield(co, -nres - 3, "retry_after");
		ra = lua_isinteger(co, -1) ? (long)lua_tointeger(co, -1) : -1;
		snprintf(why, sizeof(why), "%s%ld %.300s", err ? err : "HTTP ", status,
			 body ? body : "");
		if (err || !status)
			snprintf(why, sizeof(why), "%s", err ? err : "no answer");
		lua_pop(co, 4);
		if (status >= 200 && status < 300)
			settle(n, in, 0, "", -1);
		else if (!status || status == 408 || status == 429 || status >= 500)
			settle(n, in, 1, why, ra);
		else
			settle(n, in, 2, why,
			       -1); /* the receiver refused it: retrying will not help */
	} else {
		settle(n, in, 1,
		       "the plugin returned something other than true, false or a response", -1);
	}
}

static void run(struct vg_notify *n, struct slot *in, int nargs)
{
	char err[512];
	int nres = 0,
	    rc = vg_lua_resume(n->lua, in->co, nargs, PLUGIN_BUDGET, &nres, err, sizeof(err));

	if (rc == VG_LUA_YIELDED)
		return; /* waiting for vigil.http */
	if (rc == VG_LUA_OK) {
		finished(n, in, nres);
		return;
	}
	snprintf(err + strlen(err), sizeof(err) - strlen(err), " (plugin %.200s)",
		 n->plugins[in->in->plugin].file);
	settle(n, in, 1, err, -1);
}

/* Pushes the alert (light userdata: a struct vg_alert, else a json_t) as Lua tables. */
/*
 * In a protected call (everything here allocates, and the plugin state has a memory cap): the
 * instance's conf table (once), a coroutine for the event (its registry ref), and the alert as Lua
 * tables from a struct vg_alert, else a json_t. Args: alert, json, inst (light userdata). Returns
 * the alert and the ref.
 */
static int l_prepare(lua_State *L)
{
	const struct vg_alert *a = lua_touserdata(L, 1);
	json_t *j = lua_touserdata(L, 2);
	struct inst *in = lua_touserdata(L, 3);
	struct vg_lua_doc d = {.L = L};
	int ref;

	if (in->conf_ref <= 0) { /* LUA_NOREF is -2; 0 is "not yet" (calloc) */
		vg_lua_push_json(L, in->conf);
		in->conf_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	}
	lua_newthread(L);
	ref = luaL_ref(L, LUA_REGISTRYINDEX);
	if (a)
		vg_alert_emit(a, true, &vg_lua_emitter, &d);
	else
		vg_lua_push_json(L, j);
	lua_pushinteger(L, ref);
	return 2;
}

/* Starts e in the free slot sl. */
static void start(struct vg_notify *n, struct inst *in, struct slot *sl, struct entry *e)
{
	lua_State *L = vg_lua_state(n->lua);
	const struct vg_alert *a;
	json_t *alert;
	int rc;

	sl->in = in;
	sl->e = e;
	sl->t0 = (double)mono_ms();
	e->inflight = true;
	lua_rawgeti(L, LUA_REGISTRYINDEX, n->plugins[in->plugin].ref);
	lua_getfield(L, -1, e->event);
	if (!lua_isfunction(L, -1)) { /* the plugin does not want this event */
		lua_pop(L, 2);
		settle(n, sl, 0, "", -1);
		return;
	}
	/* the alert as it is now (its latest processes, its state), or as it was queued */
	a = !e->payload && n->store ? vg_alerts_get(n->store, e->alert_id) : NULL;
	alert = e->payload ? json_loads(e->payload, 0, NULL) : NULL;
	if (!a && !alert) {
		char why[128];

		lua_pop(L, 2);
		snprintf(why, sizeof(why),
			 "alert %s is no longer in the store (removed by retention)", e->alert_id);
		settle(n, sl, 2, why, -1);
		return;
	}
	lua_pushcfunction(L, l_prepare);
	lua_pushlightuserdata(L, (void *)a);
	lua_pushlightuserdata(L, alert);
	lua_pushlightuserdata(L, in);
	rc = lua_pcall(L, 3, 2, 0);
	json_decref(alert);
	if (rc != LUA_OK) {
		char why[256];

		snprintf(why, sizeof(why), "cannot hand the alert to the plugin: %s",
			 lua_tostring(L, -1));
		lua_pop(L, 3);
		settle(n, sl, 1, why, -1);
		return;
	}
	sl->co_ref = (int)lua_tointeger(L, -1);
	lua_pop(L, 1);
	lua_rawgeti(L, LUA_REGISTRYINDEX, sl->co_ref);
	sl->co = lua_tothread(L, -1);
	lua_pop(L, 1);
	lua_insert(L, -2); /* plugin table, function, alert -> plugin table, alert, function */
	lua_xmove(L, sl->co, 1); /* the function */
	lua_xmove(L, sl->co, 1); /* the alert */
	lua_pop(L, 1);
	lua_rawgeti(sl->co, LUA_REGISTRYINDEX, in->conf_ref);
	lua_rawgeti(sl->co, LUA_REGISTRYINDEX, n->vigil_ref);
	run(n, sl, 3);
}

/*
 * Fills free slots with events that may go now: durable, not backing off, and
 * with no earlier event of the same alert still queued or in flight, so a
 * resolve never overtakes its trigger while different alerts go in parallel.
 */
static void deliver_next(struct vg_notify *n, struct inst *in)
{
	int64_t now = mono_ms();

	for (int k = 0; k < in->conc; k++) {
		struct slot *sl = &in->slot[k];
		struct entry *pick = NULL;
		int scanned = 0;

		if (sl->e)
			continue;
		uint32_t seen[SCAN_AHEAD]; /* alerts with an earlier event waiting or in flight */
		int nseen = 0;

		for (struct entry *e = in->head; e && scanned < SCAN_AHEAD && !pick;
		     e = e->next, scanned++) {
			bool earlier = false;

			if (!e->h) {
				e->h = 2166136261u; /* FNV-1a; a collision only makes an event wait
						     */
				for (const char *c = e->alert_id; *c; c++)
					e->h = (e->h ^ (unsigned char)*c) * 16777619u;
				e->h |= 1;
			}
			for (int j = 0; j < nseen && !earlier; j++)
				earlier = seen[j] == e->h;
			if (!earlier && !e->inflight && e->durable && e->next_ms <= now)
				pick = e;
			else if (!earlier)
				seen[nseen++] = e->h;
		}
		if (!pick)
			return;
		start(n, in, sl, pick);
	}
}

static void on_pump(evutil_socket_t fd, short what, void *arg)
{
	struct vg_notify *n = arg;

	(void)fd;
	(void)what;
	for (int i = 0; i < n->ninst; i++) {
		ob_refill(n, &n->inst[i]);
		deliver_next(n, &n->inst[i]);
	}
	ob_maybe_compact(n);
}

/* ---- the plugins' bindings ------------------------------------------------------------- */

/* What a yielded request resumes. Listed in its notifier, so closing it orphans them (n = NULL):
 * the transfer may still finish later, and must then not touch what was freed. */
struct req_wait {
	struct vg_notify *n;
	struct slot *in;
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
	return w->in->co != NULL;
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
		settle(w->n, w->in, 1, why, -1);
		return;
	}
	lua_xmove(L, w->in->co, nres);
	run(w->n, w->in, nres);
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
	for (int i = 0; i < n->ninst; i++)
		for (int k = 0; k < n->inst[i].conc; k++)
			if (n->inst[i].slot[k].co == L)
				return &n->inst[i].slot[k];
	return NULL;
}

/* timeout_ms, ca_file, insecure from the options table at index 1 (vigil.http and vigil.send). */
static void transport_opts(lua_State *L, long *timeout_ms, const char **ca_file, bool *insecure)
{
	lua_getfield(L, 1, "timeout_ms");
	*timeout_ms = (long)luaL_optinteger(L, -1, 5000);
	lua_getfield(L, 1, "ca_file");
	*ca_file = lua_tostring(L, -1);
	lua_getfield(L, 1, "insecure");
	*insecure = lua_toboolean(L, -1);
}

/* What a yielded request resumes: freed by its callback. Raises a Lua error when out of memory. */
static struct req_wait *wait_new(lua_State *L, struct vg_notify *n, struct slot *in)
{
	struct req_wait *w = calloc(1, sizeof(*w));

	if (!w)
		luaL_error(L, "out of memory");
	w->n = n;
	w->in = in;
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

/* vigil.http{method, url, headers = {name = value}, body, timeout_ms, ca_file, insecure} */
static int l_http(lua_State *L)
{
	struct vg_notify *n = lua_touserdata(L, lua_upvalueindex(1));
	struct vg_http_req r = {0};
	const char *hdrs[33] = {0};
	char hbuf[32][512];
	struct req_wait *w;
	struct slot *in = NULL;
	int nh = 0;

	if (!(in = slot_of(n, L)))
		return luaL_error(L,
				  "vigil.http can only be called from a notifier's event function");
	luaL_checktype(L, 1, LUA_TTABLE);
	lua_getfield(L, 1, "method");
	r.method = luaL_optstring(L, -1, "POST");
	lua_getfield(L, 1, "url");
	r.url = luaL_checkstring(L, -1);
	lua_getfield(L, 1, "body");
	r.body = lua_tostring(L, -1);
	transport_opts(L, &r.timeout_ms, &r.ca_file, &r.insecure);
	lua_getfield(L, 1, "headers");
	if (lua_istable(L, -1)) {
		lua_pushnil(L);
		while (nh < 32 && lua_next(L, -2)) {
			if (lua_type(L, -2) == LUA_TSTRING && lua_type(L, -1) == LUA_TSTRING) {
				snprintf(hbuf[nh], sizeof(hbuf[nh]), "%s: %s", lua_tostring(L, -2),
					 lua_tostring(L, -1));
				hdrs[nh] = hbuf[nh];
				nh++;
			}
			lua_pop(L, 1);
		}
	}
	r.headers = hdrs;
	w = wait_new(L, n, in);
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
	struct slot *in = NULL;
	char err[256];

	if (!(in = slot_of(n, L)))
		return luaL_error(L,
				  "vigil.send can only be called from a notifier's event function");
	luaL_checktype(L, 1, LUA_TTABLE);
	lua_getfield(L, 1, "address");
	r.address = luaL_checkstring(L, -1);
	lua_getfield(L, 1, "data");
	r.data = luaL_checklstring(L, -1, &r.len);
	transport_opts(L, &r.timeout_ms, &r.ca_file, &r.insecure);
	if (!in->stream && !(in->stream = vg_stream_new(n->base)))
		return luaL_error(L, "out of memory");
	w = wait_new(L, n, in);
	if (vg_stream_send(in->stream, &r, on_sent, w, err, sizeof(err))) {
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
	const json_t *ns = n->ns_fn ? n->ns_fn(n->ns_ctx, name) : NULL;

	if (!ns)
		lua_pushnil(L);
	else
		vg_lua_push_json(L, ns);
	return 1;
}

void vg_notify_set_namespaces(struct vg_notify *n, vg_notify_ns_fn fn, void *ctx)
{
	n->ns_fn = fn;
	n->ns_ctx = ctx;
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
		snprintf(h, sizeof(h), "-");
	lua_pushstring(L, h);
	return 1;
}

static int l_now(lua_State *L)
{
	lua_pushinteger(L, (lua_Integer)time(NULL));
	return 1;
}

/* ---- set-up -------------------------------------------------------------------------------- */

/* Runs one plugin file and keeps the table it returns. */
static int add_plugin(struct vg_notify *n, const char *path, const char *buf, size_t len, char *err,
		      size_t en)
{
	lua_State *L = vg_lua_state(n->lua);
	struct plugin *p, *np;
	char chunk[4100];

	snprintf(chunk, sizeof(chunk), "@%s", path);
	if (vg_lua_run_chunk(n->lua, buf, len, chunk, 1, PLUGIN_BUDGET, err, en))
		return -EINVAL;
	if (lua_istable(L, -1)) { /* raw: no metamethod runs outside a protected call */
		lua_pushliteral(L, "name");
		lua_rawget(L, -2);
	} else
		lua_pushnil(L);
	if (lua_type(L, -1) != LUA_TSTRING) {
		lua_pop(L, 2);
		return vg_errf(err, en, -EINVAL,
			       "%s must return a table with a name (see plugins/README.md)", path);
	}
	for (int i = 0; i < n->nplugins; i++)
		if (!strcmp(n->plugins[i].name, lua_tostring(L, -1))) {
			int rc = vg_errf(err, en, -EEXIST,
					 "%s: a notifier type '%s' is already defined by %s; "
					 "give the plugin another name",
					 path, lua_tostring(L, -1), n->plugins[i].file);

			lua_pop(L, 2);
			return rc;
		}
	np = realloc(n->plugins, (size_t)(n->nplugins + 1) * sizeof(*np));
	if (!np)
		return -ENOMEM;
	n->plugins = np;
	p = &n->plugins[n->nplugins++];
	snprintf(p->name, sizeof(p->name), "%s", lua_tostring(L, -1));
	snprintf(p->file, sizeof(p->file), "%s", path);
	lua_pop(L, 1);
	p->ref = luaL_ref(L, LUA_REGISTRYINDEX);
	return 0;
}

static int lua_file(const struct dirent *de)
{
	size_t l = strlen(de->d_name);

	return de->d_name[0] != '.' && l > 4 && !strcmp(de->d_name + l - 4, ".lua");
}

/* The built-in plugins, then every *.lua in plugin_dir (in name order). */
static int load_plugins(struct vg_notify *n, const char *plugin_dir, char *err, size_t en)
{
	struct dirent **ents = NULL;
	int rc = 0, cnt;

	for (const struct vg_embedded *f = vg_embedded; f->path; f++) {
		if (strncmp(f->path, "plugins/", 8) ||
		    strcmp(f->path + strlen(f->path) - 4, ".lua"))
			continue;
		if ((rc = add_plugin(n, f->path, f->data, f->len, err, en)))
			return rc;
	}
	if (!plugin_dir || !*plugin_dir)
		return 0;
	cnt = scandir(plugin_dir, &ents, lua_file, alphasort);
	if (cnt < 0)
		return vg_errf(err, en, -errno,
			       "plugin_dir %s: %s (fix the path in vigil.conf.lua)", plugin_dir,
			       strerror(errno));
	for (int i = 0; i < cnt; i++) {
		char path[4096];
		FILE *f;
		char *buf = NULL;
		size_t len = 0;

		snprintf(path, sizeof(path), "%s/%s", plugin_dir, ents[i]->d_name);
		f = fopen(path, "r");
		if (f) {
			long sz = fseek(f, 0, SEEK_END) ? -1 : ftell(f);

			rewind(f);
			if (sz >= 0 && sz < (16 << 20) && (buf = malloc((size_t)sz + 1)))
				len = fread(buf, 1, (size_t)sz, f);
			fclose(f);
		}
		if (!rc && !buf)
			rc = vg_errf(err, en, -EIO, "%s: cannot read: %s", path,
				     strerror(errno ? errno : EIO));
		else if (!rc)
			rc = add_plugin(n, path, buf, len, err, en);
		free(buf);
		free(ents[i]);
	}
	free(ents);
	return rc;
}

/* Checks an instance's settings against its plugin's schema; resolves secrets. */
static int configure(struct vg_notify *n, struct inst *in, json_t *set, char *err, size_t en)
{
	lua_State *L = vg_lua_state(n->lua);
	const char *key;
	json_t *v;
	int rc = 0;

	in->conf = json_object();
	in->shown = json_object();
	in->max_attempts = DEFAULT_ATTEMPTS;
	in->conc = DEFAULT_CONCURRENCY;
	in->retry_ms = DEFAULT_RETRY_MS;
	in->max_age_s = DEFAULT_MAX_AGE_S;
	in->queue_max = DEFAULT_QUEUE_MAX;
	lua_rawgeti(L, LUA_REGISTRYINDEX, n->plugins[in->plugin].ref);
	if (lua_getfield(L, -1, "schema") != LUA_TTABLE) { /* no schema: no settings */
		lua_pop(L, 1);
		lua_newtable(L);
	}
	json_object_foreach(set, key, v)
	{
		const char *type, *format;
		bool secret;

		if (!strcmp(key, "type"))
			continue;
		if (!strcmp(key, "concurrency")) {
			if (!json_is_integer(v) || json_integer_value(v) < 1 ||
			    json_integer_value(v) > MAX_CONCURRENCY) {
				rc = vg_errf(err, en, -EINVAL,
					     "notifiers.%s.concurrency must be from 1 to %d",
					     in->name, MAX_CONCURRENCY);
				break;
			}
			in->conc = (int)json_integer_value(v);
			continue;
		}
		if (!strcmp(key, "queue_max")) {
			if (!json_is_integer(v) || json_integer_value(v) < 16 ||
			    json_integer_value(v) > 10000000) {
				rc = vg_errf(err, en, -EINVAL,
					     "notifiers.%s.queue_max must be from 16 to 10000000 "
					     "(events kept in memory; the rest wait on disk)",
					     in->name);
				break;
			}
			in->queue_max = (int)json_integer_value(v);
			continue;
		}
		if (!strcmp(key, "max_age_s")) {
			if (!json_is_integer(v) || json_integer_value(v) < 1 ||
			    json_integer_value(v) > 315360000) {
				rc = vg_errf(err, en, -EINVAL,
					     "notifiers.%s.max_age_s must be a number of seconds "
					     "from 1 to 315360000 (ten years)",
					     in->name);
				break;
			}
			in->max_age_s = json_integer_value(v);
			continue;
		}
		if (!strcmp(key, "max_attempts") || !strcmp(key, "retry_ms")) {
			if (!json_is_integer(v) || json_integer_value(v) < 1 ||
			    json_integer_value(v) > 100000000) {
				rc = vg_errf(
					err, en, -EINVAL,
					"notifiers.%s.%s must be an integer from 1 to 100000000",
					in->name, key);
				break;
			}
			*(!strcmp(key, "max_attempts") ? &in->max_attempts : &in->retry_ms) =
				(int)json_integer_value(v);
			continue;
		}
		lua_getfield(L, -1, key);
		if (!lua_istable(L, -1)) {
			lua_pop(L, 1);
			rc = vg_errf(err, en, -EINVAL,
				     "notifiers.%s: unknown key '%s' for a %s notifier", in->name,
				     key, in->type);
			break;
		}
		lua_getfield(L, -1, "type");
		type = lua_tostring(L, -1);
		lua_getfield(L, -2, "secret");
		secret = lua_toboolean(L, -1);
		lua_getfield(L, -3, "format");
		format = lua_tostring(L, -1);
		lua_pop(L, 4); /* type and format stay alive: the schema holds them */
		if (secret && json_is_object(v)) { /* {file = PATH} or {env = NAME} */
			const char *file = json_string_value(json_object_get(v, "file"));
			const char *env = json_string_value(json_object_get(v, "env"));
			char buf[4096] = "";

			if (file) {
				FILE *f = fopen(file, "r");
				size_t r = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;

				if (f)
					fclose(f);
				if (!f) {
					rc = vg_errf(err, en, -ENOENT,
						     "notifiers.%s.%s: cannot read %s: %s",
						     in->name, key, file, strerror(errno));
					break;
				}
				buf[r] = '\0';
				buf[strcspn(buf, "\r\n")] = '\0';
			} else if (env && getenv(env)) {
				snprintf(buf, sizeof(buf), "%s", getenv(env));
			} else {
				rc = vg_errf(err, en, -EINVAL,
					     "notifiers.%s.%s: a secret is a string, "
					     "{file = PATH} or {env = NAME} (and %s is not set)",
					     in->name, key, env ? env : "no file or env given");
				break;
			}
			v = json_string(buf);
		} else {
			json_incref(v);
		}
		if (type && ((!strcmp(type, "string") && !json_is_string(v)) ||
			     (!strcmp(type, "number") && !json_is_number(v)) ||
			     (!strcmp(type, "boolean") && !json_is_boolean(v)) ||
			     (!strcmp(type, "table") && !json_is_object(v) && !json_is_array(v)))) {
			json_decref(v);
			rc = vg_errf(err, en, -EINVAL, "notifiers.%s.%s must be a %s", in->name,
				     key, type);
			break;
		}
		if (format && !strcmp(format, "url") &&
		    json_is_string(v)) { /* parsed now, not at the first alert */
			char k[300];

			snprintf(k, sizeof(k), "notifiers.%s.%s", in->name, key);
			rc = vg_check_http_url(k, json_string_value(v), secret, err, en);
			if (rc) {
				json_decref(v);
				break;
			}
		}
		json_object_set_new(in->conf, key, v);
		json_object_set_new(in->shown, key, secret ? json_string("***") : json_incref(v));
	}
	if (!rc) { /* every required key is there */
		lua_pushnil(L);
		while (lua_next(L, -2)) {
			lua_getfield(L, -1, "required");
			if (lua_toboolean(L, -1) &&
			    !json_object_get(in->conf, lua_tostring(L, -3)) && !rc)
				rc = vg_errf(err, en, -EINVAL,
					     "notifiers.%s: a %s notifier needs '%s'", in->name,
					     in->type, lua_tostring(L, -3));
			lua_pop(L, 2);
		}
	}
	lua_pop(L, 2);
	lua_rawgeti(L, LUA_REGISTRYINDEX, n->plugins[in->plugin].ref);
	if (lua_getfield(L, -1, "check") == LUA_TFUNCTION && !rc) { /* the plugin's own checks */
		char cerr[512];

		vg_lua_push_json(L, in->conf);
		/* bounded like every plugin call: a check that runs away is an error too */
		if (vg_lua_call(n->lua, 1, 1, PLUGIN_BUDGET, cerr, sizeof(cerr)) != VG_LUA_OK) {
			lua_pushstring(L, cerr);
			rc = vg_errf(err, en, -EINVAL, "notifiers.%s: %s", in->name, cerr);
		} else if (lua_isstring(L, -1)) {
			rc = vg_errf(err, en, -EINVAL, "notifiers.%s: %s", in->name,
				     lua_tostring(L, -1));
		}
	}
	lua_pop(L, 2);
	json_object_set_new(in->shown, "type", json_string(in->type));
	return rc;
}

int vg_notify_open(struct vg_notify **out, struct event_base *base, struct vg_http *http,
		   const char *data_dir, const char *plugin_dir, const json_t *instances,
		   const json_t *defaults, char *err, size_t en)
{
	struct vg_notify *n = calloc(1, sizeof(*n));
	lua_State *L;
	const char *key;
	json_t *v;
	size_t i;
	int rc;
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

	*out = NULL;
	if (!n)
		return -ENOMEM;
	n->base = base;
	n->http = http;
	n->next_id = 1;
	n->lua = vg_lua_new(64u << 20);
	n->pump = event_new(base, -1, EV_PERSIST, on_pump, n);
	if (!n->lua || !n->pump) {
		vg_notify_close(n);
		return -ENOMEM;
	}
	L = vg_lua_state(n->lua);
	lua_newtable(L);
	lua_pushlightuserdata(L, n);
	luaL_setfuncs(L, fns, 1);
	lua_pushstring(L, VIGIL_VERSION);
	lua_setfield(L, -2, "version");
	n->vigil_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	rc = load_plugins(n, plugin_dir, err, en);
	if (rc)
		goto fail;
	json_object_foreach((json_t *)instances, key, v)
	{
		const char *type = json_string_value(json_object_get(v, "type"));
		struct inst *in, *ni;
		int p = -1;

		for (int k = 0; type && k < n->nplugins; k++)
			if (!strcmp(n->plugins[k].name, type))
				p = k;
		if (!json_is_object(v) || p < 0) {
			char list[512] = "";
			size_t o = 0;

			for (int k = 0; k < n->nplugins && o < sizeof(list); k++)
				o += (size_t)snprintf(list + o, sizeof(list) - o, "%s%s",
						      k ? ", " : "", n->plugins[k].name);
			rc = vg_errf(err, en, -EINVAL,
				     "notifiers.%s: unknown notifier type '%s' (known: %s)", key,
				     type ? type : "(none)", list);
			goto fail;
		}
		ni = realloc(n->inst, (size_t)(n->ninst + 1) * sizeof(*ni));
		if (!ni) {
			rc = -ENOMEM;
			goto fail;
		}
		n->inst = ni;
		in = &n->inst[n->ninst++];
		memset(in, 0, sizeof(*in));
		in->spill_fd = -1;
		for (int k = 0; k < MAX_CONCURRENCY; k++)
			in->slot[k].co_ref = LUA_NOREF;
		in->plugin = p;
		snprintf(in->name, sizeof(in->name), "%s", key);
		snprintf(in->type, sizeof(in->type), "%s", type);
		{
			json_t *js = json_string(in->name);
			char *q = js ? json_dumps(js, JSON_ENCODE_ANY) : NULL;

			json_decref(js);
			if (!q || strlen(q) >= sizeof(in->jname)) {
				free(q);
				rc = vg_errf(
					err, en, -EINVAL,
					"notifiers: the name '%s' is not valid UTF-8; rename it",
					in->name);
				goto fail;
			}
			snprintf(in->jname, sizeof(in->jname), "%s", q);
			free(q);
		}
		rc = configure(n, in, v, err, en);
		if (rc)
			goto fail;
	}
	json_array_foreach(defaults, i, v)
	{
		char **nd = realloc(n->defaults, (size_t)(n->ndefaults + 1) * sizeof(char *));

		if (!json_is_string(v) || !ob_inst(n, json_string_value(v))) {
			rc = vg_errf(err, en, -EINVAL,
				     "default_notifiers: '%s' is not a configured notifier",
				     json_string_value(v) ? json_string_value(v) : "?");
			goto fail;
		}
		if (!nd) {
			rc = -ENOMEM;
			goto fail;
		}
		n->defaults = nd;
		n->defaults[n->ndefaults++] = strdup(json_string_value(v));
	}
	rc = ob_open(n, data_dir, err, en);
	if (rc)
		goto fail;
	event_add(n->pump, &(struct timeval){0, 100000});
	*out = n;
	return 0;
fail:
	vg_notify_close(n);
	return rc;
}

void vg_notify_close(struct vg_notify *n)
{
	if (!n)
		return;
	ob_close(n);
	for (struct req_wait *w = n->waits, *nx; w;
	     w = nx) { /* requests in flight stop: none goes out later */
		nx = w->next;
		w->n = NULL;
		if (!w->http ||
		    vg_http_cancel(n->http,
				   w)) /* a stream's callback never comes once it is freed, below */
			free(w);
	}
	for (int i = 0; i < n->ninst; i++) {
		struct inst *in = &n->inst[i];

		json_decref(in->conf);
		json_decref(in->shown);
		for (int k = 0; k < MAX_CONCURRENCY; k++) {
			vg_stream_free(in->slot[k].stream);
			in->slot[k].co = NULL;
		}
	}
	free(n->inst);
	for (int i = 0; i < n->ndefaults; i++)
		free(n->defaults[i]);
	free(n->defaults);
	vg_notify_routes_clear(n);
	free(n->plugins);
	if (n->pump)
		event_free(n->pump);
	vg_lua_free(n->lua);
	free(n);
}

json_t *vg_notify_json(struct vg_notify *n)
{
	json_t *arr = json_array();

	for (int i = 0; i < n->ninst; i++) {
		struct inst *in = &n->inst[i];
		json_t *dead = json_array();
		bool def = false;

		for (int d = 0; d < n->ndefaults; d++)
			def |= !strcmp(n->defaults[d], in->name);
		for (struct entry *e = in->dead; e; e = e->next)
			json_array_append_new(
				dead, json_pack("{s:I, s:s, s:s, s:s}", "id", (json_int_t)e->id,
						"alert", e->alert_id, "event", e->event, "reason",
						e->reason ? e->reason : ""));
		json_array_append_new(
			arr, json_pack("{s:s, s:s, s:s, s:b, s:O, s:{s:I, s:I, s:I, s:I, s:I, s:I, "
				       "s:I, s:I}, s:o}",
				       "name", in->name, "type", in->type, "last", in->last,
				       "default", def, "settings", in->shown, "counters", "sent",
				       (json_int_t)in->sent, "failed", (json_int_t)in->failed,
				       "retried", (json_int_t)in->retried, "dead",
				       (json_int_t)in->deadc, "notDurable",
				       (json_int_t)in->undurable, "lost", (json_int_t)in->lost,
				       "queued", (json_int_t)in->queued + (json_int_t)in->spilled,
				       "onDisk", (json_int_t)in->spilled, "deadLetters", dead));
	}
	return arr;
}

void vg_notify_metrics(struct vg_notify *n, struct evbuffer *b)
{
	static const char *const names[] = {"sent",	   "failed", "retried",	    "dead",
					    "not_durable", "lost",   "dead_dropped"};
	uint64_t now = wall_ns();

	for (size_t k = 0; k < 7; k++) {
		evbuffer_add_printf(b, "# TYPE vigil_notifier_%s_total counter\n", names[k]);
		for (int i = 0; i < n->ninst; i++) {
			struct inst *in = &n->inst[i];
			uint64_t v[] = {in->sent,      in->failed, in->retried,	    in->deadc,
					in->undurable, in->lost,   in->dead_dropped};

			evbuffer_add_printf(b, "vigil_notifier_%s_total{notifier=\"%s\"} %llu\n",
					    names[k], in->name, (unsigned long long)v[k]);
		}
	}
	evbuffer_add_printf(b, "# TYPE vigil_notifier_queue_depth gauge\n");
	for (int i = 0; i < n->ninst; i++)
		evbuffer_add_printf(b, "vigil_notifier_queue_depth{notifier=\"%s\"} %llu\n",
				    n->inst[i].name,
				    (unsigned long long)n->inst[i].queued +
					    (unsigned long long)n->inst[i].spilled);
	evbuffer_add_printf(b, "# TYPE vigil_notifier_spilled gauge\n");
	for (int i = 0; i < n->ninst; i++)
		evbuffer_add_printf(b, "vigil_notifier_spilled{notifier=\"%s\"} %llu\n",
				    n->inst[i].name, (unsigned long long)n->inst[i].spilled);
	evbuffer_add_printf(b,
			    "# TYPE vigil_outbox_compactions_total "
			    "counter\nvigil_outbox_compactions_total %llu\n",
			    (unsigned long long)n->compactions);
	evbuffer_add_printf(b, "# TYPE vigil_notifier_oldest_pending_seconds gauge\n");
	for (int i = 0; i < n->ninst; i++)
		evbuffer_add_printf(
			b, "vigil_notifier_oldest_pending_seconds{notifier=\"%s\"} %.3f\n",
			n->inst[i].name,
			n->inst[i].head ? (double)(now - n->inst[i].head->enq_ns) / 1e9 : 0.0);
	evbuffer_add_printf(b, "# TYPE vigil_notifier_request_seconds histogram\n");
	for (int i = 0; i < n->ninst; i++) {
		struct inst *in = &n->inst[i];
		uint64_t cum = 0;

		for (size_t k = 0; k <= NBUCKETS; k++) {
			cum += in->lat[k];
			if (k < NBUCKETS)
				evbuffer_add_printf(b,
						    "vigil_notifier_request_seconds_bucket{"
						    "notifier=\"%s\",le=\"%g\"} %llu\n",
						    in->name, buckets[k], (unsigned long long)cum);
			else
				evbuffer_add_printf(b,
						    "vigil_notifier_request_seconds_bucket{"
						    "notifier=\"%s\",le=\"+Inf\"} %llu\n",
						    in->name, (unsigned long long)cum);
		}
		evbuffer_add_printf(b,
				    "vigil_notifier_request_seconds_sum{notifier=\"%s\"} %.6f\n"
				    "vigil_notifier_request_seconds_count{notifier=\"%s\"} %llu\n",
				    in->name, in->lat_sum, in->name, (unsigned long long)cum);
	}
}
