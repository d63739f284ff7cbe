// SPDX-License-Identifier: BSD-2-Clause
/*
 * delivery.c - events out of the outbox and through their notifier's plugin:
 * each instance fills its free slots with the events that may go, runs the
 * plugin's function for the event in a coroutine (vigil.http yields it while
 * the request is on the loop), and settles how it ended: accepted, again
 * later (exponential backoff with jitter up to five minutes, at least
 * Retry-After), or a dead letter with the receiver's answer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <lauxlib.h>

#include "embed.h"
#include "log.h"
#include "lua_host.h"
#include "luajson.h"
#include "notify_priv.h"

#define MAX_DELAY_MS 300000 /* backoff stops growing at five minutes */

const double notify_buckets[NBUCKETS] = {0.01, 0.05, 0.1, 0.5, 1, 5};

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
	for (int d = 0; d < nnames && !rc; d++) {
		struct inst *inst = notify_inst(n, names[d]);

		if (inst)
			rc = vg_outbox_enqueue(n->outbox, (int)(inst - n->inst), event, a->id,
					       alert);
	}
	json_decref(alert);
	event_active(n->pump, 0, 0);
	return rc;
}

/* ---- how an attempt ended ------------------------------------------------------------------ */

/* The slot is free again: its coroutine released, the attempt's time in the histogram. */
static void release(struct vg_notify *n, struct slot *sl)
{
	struct inst *inst = sl->inst;
	double secs = (double)(mono_ms() - (int64_t)sl->t0) / 1000.0;
	size_t b = 0;

	sl->entry = NULL;
	if (sl->co_ref != LUA_NOREF) {
		luaL_unref(vg_lua_state(n->lua), LUA_REGISTRYINDEX, sl->co_ref);
		sl->co_ref = LUA_NOREF;
		sl->co = NULL;
	}
	while (b < NBUCKETS && secs > notify_buckets[b])
		b++;
	inst->lat[b]++;
	inst->lat_sum += secs;
}

static const char *outcome_words(enum notify_outcome outcome)
{
	switch (outcome) {
	case NOTIFY_ACCEPTED:
		return "accepted";
	case NOTIFY_RETRY:
	case NOTIFY_THROTTLED:
	case NOTIFY_FAILED:
		return "will retry: ";
	case NOTIFY_REFUSED:
		return "refused: ";
	case NOTIFY_GAVE_UP:
	default:
		return "gave up: ";
	}
}

/* How long to wait after n tries in a row that did not get through: exponential backoff from
 * retry_ms up to MAX_DELAY_MS, with jitter, at least Retry-After, never past max_age_s (one last
 * attempt then). */
static int64_t backoff_ms(const struct inst *inst, int n, long retry_after_s, int64_t left_ms)
{
	int64_t delay = (int64_t)inst->retry_ms << (n > 20 ? 20 : n < 1 ? 0 : n - 1);

	if (delay > MAX_DELAY_MS)
		delay = MAX_DELAY_MS;
	delay = delay / 2 + rand() % (delay + 1); /* jitter: 0.5x to 1.5x */
	if (retry_after_s > 0 && delay < (int64_t)retry_after_s * 1000)
		delay = (int64_t)retry_after_s * 1000;
	return delay > left_ms ? left_ms : delay;
}

/* Failed again, or throttled: when it may go next (logged, for a restart). */
static void retry_later(struct vg_notify *n, struct inst *inst, struct vg_outbox_entry *e,
			enum notify_outcome outcome, const char *why, long retry_after_s,
			int64_t left_ms)
{
	int64_t delay;

	e->attempts++;
	if (outcome == NOTIFY_FAILED)
		e->failures++;
	delay = backoff_ms(inst, e->attempts, retry_after_s, left_ms);
	e->next_ms = mono_ms() + delay;
	e->inflight = false;
	vg_outbox_backoff(n->outbox, e);
	inst->retried++;
	if (outcome != NOTIFY_THROTTLED)
		inst->failed++;
	vg_warn("notifier '%s': %s; %s %d, again in %lld ms", inst->name, why,
		outcome == NOTIFY_THROTTLED ? "throttled, try" : "attempt", e->attempts,
		(long long)delay);
}

/* What becomes of an event that did not get through: a failure of the plugin's own on its last
 * attempt, or any failure max_age_s after it was queued, gives up (why then says so in aged). */
static enum notify_outcome limit(const struct inst *inst, const struct vg_outbox_entry *e,
				 enum notify_outcome outcome, int64_t left_ms, const char **why,
				 char *aged, size_t an)
{
	if (outcome == NOTIFY_FAILED && e->failures + 1 >= inst->max_attempts)
		return NOTIFY_GAVE_UP;
	if (outcome != NOTIFY_ACCEPTED && outcome != NOTIFY_REFUSED && left_ms <= 0) {
		snprintf(aged, an, "%s (still failing %llds after it was queued: max_age_s)", *why,
			 (long long)inst->max_age_s);
		*why = aged;
		return NOTIFY_GAVE_UP;
	}
	return outcome;
}

void notify_settle(struct vg_notify *n, struct slot *sl, enum notify_outcome outcome,
		   const char *why, long retry_after_s)
{
	struct inst *inst = sl->inst;
	struct vg_outbox_entry *e = sl->entry;
	int q = (int)(inst - n->inst);
	char aged[640];
	int64_t left_ms;

	if (sl == &inst->probe) {
		notify_probe_settle(n, sl, outcome, why);
		return;
	}
	release(n, sl);
	if (!e)
		return;
	/* signed: a clock step back */
	left_ms = inst->max_age_s * 1000 - (int64_t)(wall_ns() - e->enq_ns) / 1000000;
	outcome = limit(inst, e, outcome, left_ms, &why, aged, sizeof(aged));
	/* truncated to fit: it is a summary */
	snprintf(inst->last, sizeof(inst->last), "%s%.490s", outcome_words(outcome),
		 outcome == NOTIFY_ACCEPTED ? "" : why);
	if (outcome == NOTIFY_ACCEPTED) {
		inst->sent++;
		vg_outbox_delivered(n->outbox, q, e);
	} else if (outcome == NOTIFY_RETRY || outcome == NOTIFY_THROTTLED ||
		   outcome == NOTIFY_FAILED) {
		retry_later(n, inst, e, outcome, why, retry_after_s, left_ms);
	} else { /* to the dead letters, with the receiver's answer */
		inst->failed++;
		inst->deadc++;
		vg_err("notifier '%s': gave up on alert %s (%s): %s", inst->name, e->alert_id,
		       e->event, why);
		vg_outbox_dead_letter(n->outbox, q, e, why);
	}
	event_active(n->pump, 0, 0);
}

/* An HTTP answer {status, body, error, retry_after} at the top of co (nres values). */
static void settle_response(struct vg_notify *n, struct slot *sl, lua_State *co, int nres)
{
	char why[600];
	long status, retry_after;
	const char *error, *body;
	size_t len = 0;

	lua_getfield(co, -nres, "status");
	status = (long)lua_tointeger(co, -1);
	lua_getfield(co, -nres - 1, "error");
	error = lua_tostring(co, -1);
	lua_getfield(co, -nres - 2, "body");
	body = lua_tolstring(co, -1, &len);
	lua_getfield(co, -nres - 3, "retry_after");
	retry_after = lua_isinteger(co, -1) ? (long)lua_tointeger(co, -1) : -1;
	notify_describe_answer(why, sizeof(why), status, body, len); /* the answer in full */
	if (error || !status)
		snprintf(why, sizeof(why), "%s", error ? error : "no answer");
	lua_pop(co, 4);
	if (status >= 200 && status < 300)
		notify_settle(n, sl, NOTIFY_ACCEPTED, "", -1);
	else if (status == 429 || status == 503) /* throttled, or down for a while */
		notify_settle(n, sl, NOTIFY_THROTTLED, why, retry_after);
	else if (!status || status == 408 || status >= 500)
		notify_settle(n, sl, NOTIFY_RETRY, why, retry_after);
	else
		notify_settle(n, sl, NOTIFY_REFUSED, why, -1);
}

/* The plugin returned: true; false, reason; or an HTTP answer {status, body, error}. */
static void finished(struct vg_notify *n, struct slot *sl, int nres)
{
	lua_State *co = sl->co;

	if (nres < 1 || lua_isnil(co, -nres)) {
		notify_settle(n, sl, NOTIFY_FAILED, "the plugin returned nothing", -1);
	} else if (lua_isboolean(co, -nres)) {
		if (lua_toboolean(co, -nres))
			notify_settle(n, sl, NOTIFY_ACCEPTED, "", -1);
		else
			notify_settle(n, sl, NOTIFY_FAILED,
				      nres > 1 && lua_isstring(co, -nres + 1)
					      ? lua_tostring(co, -nres + 1)
					      : "the plugin reported a failure",
				      -1);
	} else if (lua_istable(co, -nres)) {
		settle_response(n, sl, co, nres);
	} else {
		notify_settle(n, sl, NOTIFY_FAILED,
			      "the plugin returned something other than true, false or a response",
			      -1);
	}
}

void notify_run(struct vg_notify *n, struct slot *sl, int nargs)
{
	char err[512];
	int nres = 0,
	    rc = vg_lua_resume(n->lua, sl->co, nargs, PLUGIN_BUDGET, &nres, err, sizeof(err));

	if (rc == VG_LUA_YIELDED)
		return; /* waiting for vigil.http */
	if (rc == VG_LUA_OK) {
		finished(n, sl, nres);
		return;
	}
	snprintf(err + strlen(err), sizeof(err) - strlen(err), " (plugin %.200s)",
		 n->plugins[sl->inst->plugin].file);
	notify_settle(n, sl, NOTIFY_FAILED, err, -1);
}

/* ---- starting an event ----------------------------------------------------------------------- */

/*
 * In a protected call (everything here allocates, and the plugin state has a memory cap): the
 * instance's conf table (once), a coroutine for the event (its registry ref), and the alert as Lua
 * tables from a struct vg_alert, else a json_t. Args: alert, json, inst (light userdata). Returns
 * the alert and the ref.
 */
int notify_l_prepare(lua_State *L)
{
	const struct vg_alert *a = lua_touserdata(L, 1);
	json_t *j = lua_touserdata(L, 2);
	struct inst *inst = lua_touserdata(L, 3);
	struct vg_lua_doc d = {.L = L};
	int ref;

	if (inst->conf_ref <= 0) { /* LUA_NOREF is -2; 0 is "not yet" (calloc) */
		vg_lua_push_json(L, inst->conf);
		inst->conf_ref = luaL_ref(L, LUA_REGISTRYINDEX);
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

/* With the plugin table and its function on L: the alert as the plugin sees it, and the slot's
 * coroutine. 0, or the event is settled (gone from the store, or no memory for it). */
static int prepare(struct vg_notify *n, struct slot *sl, lua_State *L)
{
	struct vg_outbox_entry *e = sl->entry;
	const struct vg_alert *a;
	json_t *alert;
	char why[256];
	int rc;

	/* the alert as it is now (its latest processes, its state), or as it was queued */
	a = !e->payload && n->store ? vg_alerts_get(n->store, e->alert_id) : NULL;
	alert = e->payload ? json_loads(e->payload, 0, NULL) : NULL;
	if (!a && !alert) {
		lua_pop(L, 2);
		snprintf(why, sizeof(why),
			 "alert %s is no longer in the store (removed by retention)", e->alert_id);
		notify_settle(n, sl, NOTIFY_REFUSED, why, -1);
		return -ENOENT;
	}
	lua_pushcfunction(L, notify_l_prepare);
	lua_pushlightuserdata(L, (void *)a);
	lua_pushlightuserdata(L, alert);
	lua_pushlightuserdata(L, sl->inst);
	rc = lua_pcall(L, 3, 2, 0);
	json_decref(alert);
	if (rc != LUA_OK) {
		snprintf(why, sizeof(why), "cannot hand the alert to the plugin: %s",
			 lua_tostring(L, -1));
		lua_pop(L, 3);
		notify_settle(n, sl, NOTIFY_FAILED, why, -1);
		return -ENOMEM;
	}
	sl->co_ref = (int)lua_tointeger(L, -1);
	lua_pop(L, 1);
	lua_rawgeti(L, LUA_REGISTRYINDEX, sl->co_ref);
	sl->co = lua_tothread(L, -1);
	lua_pop(L, 1);
	return 0;
}

/* The event in sl is one its plugin has no function for: it leaves the outbox, counted as
 * skipped (not sent: nothing went out; `last` stays the last request's outcome). */
static void skip(struct vg_notify *n, struct slot *sl)
{
	struct inst *inst = sl->inst;

	inst->skipped++;
	vg_outbox_delivered(n->outbox, (int)(inst - n->inst), sl->entry);
	sl->entry = NULL; /* no coroutine yet, no request to time */
	event_active(n->pump, 0, 0);
}

/* Starts e in the free slot sl: the plugin's function for its event, with alert, conf, vigil. */
static void start(struct vg_notify *n, struct inst *inst, struct slot *sl,
		  struct vg_outbox_entry *e)
{
	lua_State *L = vg_lua_state(n->lua);

	sl->inst = inst;
	sl->entry = e;
	sl->t0 = (double)mono_ms();
	e->inflight = true;
	lua_rawgeti(L, LUA_REGISTRYINDEX, n->plugins[inst->plugin].ref);
	lua_getfield(L, -1, e->event);
	if (!lua_isfunction(L, -1)) { /* the plugin does not handle this event: no request */
		lua_pop(L, 2);
		skip(n, sl);
		return;
	}
	if (prepare(n, sl, L))
		return;
	lua_insert(L, -2); /* plugin table, function, alert -> plugin table, alert, function */
	lua_xmove(L, sl->co, 1); /* the function */
	lua_xmove(L, sl->co, 1); /* the alert */
	lua_pop(L, 1);
	lua_rawgeti(sl->co, LUA_REGISTRYINDEX, inst->conf_ref);
	lua_rawgeti(sl->co, LUA_REGISTRYINDEX, n->vigil_ref);
	notify_run(n, sl, 3);
}

/* Fills free slots with events that may go now (the outbox keeps each alert's in order). */
static void deliver_next(struct vg_notify *n, int q)
{
	struct inst *inst = &n->inst[q];
	int64_t now = mono_ms();

	for (int k = 0; k < inst->conc; k++) {
		struct slot *sl = &inst->slot[k];
		struct vg_outbox_entry *pick;

		if (sl->entry)
			continue;
		pick = vg_outbox_next(n->outbox, q, now);
		if (!pick)
			return;
		start(n, inst, sl, pick);
	}
}

void notify_on_pump(evutil_socket_t fd, short what, void *arg)
{
	struct vg_notify *n = arg;

	(void)fd;
	(void)what;
	for (int i = 0; i < n->ninst; i++) {
		vg_outbox_refill(n->outbox, i);
		deliver_next(n, i);
	}
	vg_outbox_maybe_compact(n->outbox);
}
