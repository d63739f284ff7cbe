// SPDX-License-Identifier: BSD-2-Clause
/*
 * probe.c - a test message through one notifier (POST /v1/notifiers/{name}/test): its plugin's
 * "created" function with a sample alert, in the instance's own probe slot beside its delivery
 * slots. Nothing is queued in the outbox, retried, counted or dead-lettered: the asker hears
 * how the one attempt ended.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <lauxlib.h>

#include "lua_host.h"
#include "notify_priv.h"

/* A fresh UUID-like id for the sample alert (a receiver may deduplicate on it). */
static void sample_id(char out[37])
{
	unsigned char r[16] = {0};

	(void)!getrandom(r, sizeof(r), GRND_NONBLOCK); /* zeros do as well */
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-4%01x%02x-8%01x%02x-%02x%02x%02x%02x%02x%02x",
		 r[0], r[1], r[2], r[3], r[4], r[5], r[6] & 15, r[7], r[8] & 15, r[9], r[10], r[11],
		 r[12], r[13], r[14], r[15]);
}

/* The sample: a package manager run in a container, as a real alert looks. */
static void sample(struct vg_alert *a, struct vg_proc_rec *p)
{
	static char args[] = "update", exe[] = "/usr/bin/apt-get", comm[] = "apt-get", cwd[] = "/",
		    bash[] = "/bin/bash";
	uint64_t now = wall_ns();

	*p = (struct vg_proc_rec){.time_ns = now,
				  .pid = 4242,
				  .ppid = 4241,
				  .comm = comm,
				  .exe = exe,
				  .args = args,
				  .cwd = cwd,
				  .nlineage = 1};
	p->lineage[0] = (struct vg_lineage_rec){.pid = 4241, .exe = bash};
	*a = (struct vg_alert){.policy_id = "vigil-test-notification",
			       .policy_name = "vigil test notification",
			       .severity = "low",
			       .state = VG_ALERT_ACTIVE,
			       .first_ns = now,
			       .time_ns = now,
			       .violations = 1,
			       .procs = p,
			       .nprocs = 1,
			       .cap = 1};
	sample_id(a->id);
}

/* The slot's coroutine with the plugin's "created" function, the sample, conf and vigil on it.
 * 0, -ENOTSUP (no such function) or -ENOMEM. */
static int prepare(struct vg_notify *n, struct inst *inst, struct slot *sl)
{
	lua_State *L = vg_lua_state(n->lua);
	struct vg_proc_rec p;
	struct vg_alert a;

	lua_rawgeti(L, LUA_REGISTRYINDEX, n->plugins[inst->plugin].ref);
	lua_getfield(L, -1, "created");
	if (!lua_isfunction(L, -1)) {
		lua_pop(L, 2);
		return -ENOTSUP;
	}
	sample(&a, &p);
	lua_pushcfunction(L, notify_l_prepare);
	lua_pushlightuserdata(L, &a);
	lua_pushlightuserdata(L, NULL);
	lua_pushlightuserdata(L, inst);
	if (lua_pcall(L, 3, 2, 0) != LUA_OK) {
		lua_pop(L, 3);
		return -ENOMEM;
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
	lua_rawgeti(sl->co, LUA_REGISTRYINDEX, inst->conf_ref);
	lua_rawgeti(sl->co, LUA_REGISTRYINDEX, n->vigil_ref);
	return 0;
}

int vg_notify_test(struct vg_notify *n, const char *name, vg_notify_test_cb done, void *ctx)
{
	struct inst *inst = notify_inst(n, name);
	struct slot *sl;
	int rc;

	if (!inst)
		return -ENOENT;
	if (inst->probing)
		return -EBUSY;
	sl = &inst->probe;
	sl->inst = inst;
	sl->entry = NULL;
	sl->t0 = (double)mono_ms();
	rc = prepare(n, inst, sl);
	if (rc)
		return rc;
	inst->probing = true;
	inst->probe_done = done;
	inst->probe_ctx = ctx;
	notify_run(n, sl, 3); /* may settle at once: done is then called before this returns */
	return 0;
}

void vg_notify_test_cancel(struct vg_notify *n, void *ctx)
{
	for (int i = 0; n && i < n->ninst; i++)
		if (n->inst[i].probe_ctx == ctx) {
			n->inst[i].probe_done = NULL;
			n->inst[i].probe_ctx = NULL;
		}
}

void notify_probe_settle(struct vg_notify *n, struct slot *sl, enum notify_outcome outcome,
			 const char *why)
{
	struct inst *inst = sl->inst;
	vg_notify_test_cb done = inst->probe_done;
	void *ctx = inst->probe_ctx;

	if (sl->co_ref != LUA_NOREF) {
		luaL_unref(vg_lua_state(n->lua), LUA_REGISTRYINDEX, sl->co_ref);
		sl->co_ref = LUA_NOREF;
		sl->co = NULL;
	}
	inst->probing = false;
	inst->probe_done = NULL;
	inst->probe_ctx = NULL;
	if (done)
		done(ctx, outcome == NOTIFY_ACCEPTED, outcome == NOTIFY_ACCEPTED ? NULL : why);
}
