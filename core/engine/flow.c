// SPDX-License-Identifier: BSD-2-Clause
/*
 * flow.c - the per-violation flow: lua/flow.lua (or the policy's
 * on_violation) run in the policy's state, and the `vigil` bindings it calls
 * (store, enforce, notify, log), which hand the violation to the owner's
 * struct vg_flow_ops.
 */
#include <errno.h>

#include <lauxlib.h>

#include "embed.h"
#include "engine_priv.h"
#include "log.h"
#include "lua_event.h"

static struct vg_engine *flow_engine(lua_State *L)
{
	return lua_touserdata(L, lua_upvalueindex(1));
}

/* vigil.store(): stores the violation once; true when it is stored. */
static int l_store(lua_State *L)
{
	struct vg_engine *e = flow_engine(L);
	struct engine_flow *f = &e->flow;
	bool ok = false;

	if (f->ops && f->ops->store && !f->stored) {
		ok = f->ops->store(f->ctx, f->ev, f->pol);
		f->stored = ok;
	}
	lua_pushboolean(L, ok);
	return 1;
}

/*
 * vigil.enforce(action). A violation whose check() failed is not a decision:
 * it is never enforced (the flow, or the policy's own on_violation, is told
 * false and the skip is recorded) unless the policy says on_error = "enforce".
 */
static int l_enforce(lua_State *L)
{
	struct vg_engine *e = flow_engine(L);
	struct engine_flow *f = &e->flow;
	const char *action = luaL_checkstring(L, 1);

	if (f->check_err && e->pol[f->pol].on_err != ON_ERR_ENFORCE) {
		if (f->ops && f->ops->enforce_skipped)
			f->ops->enforce_skipped(f->ctx, f->ev, f->pol, action, f->check_err);
		lua_pushboolean(L, 0);
		return 1;
	}
	lua_pushboolean(L, f->ops && f->ops->enforce &&
				   f->ops->enforce(f->ctx, f->ev, f->pol, action));
	return 1;
}

/* vigil.notify(): true when the violation was handed to the notifiers. */
static int l_notify(lua_State *L)
{
	struct engine_flow *f = &flow_engine(L)->flow;

	lua_pushboolean(L, f->ops && f->ops->notify && f->ops->notify(f->ctx, f->ev, f->pol));
	return 1;
}

static int l_flow_log(lua_State *L)
{
	struct vg_engine *e = flow_engine(L);

	vg_info("policy '%s': %s", e->pol[e->flow.pol].info.name, luaL_checkstring(L, 1));
	return 0;
}

int engine_flow_load(struct vg_engine *e, struct vg_lua *h, char *err, size_t n)
{
	const struct vg_embedded *f = vg_embedded_find("lua/flow.lua");
	lua_State *L = vg_lua_state(h);
	static const luaL_Reg fns[] = {
		{"store", l_store},  {"enforce", l_enforce}, {"notify", l_notify},
		{"log", l_flow_log}, {NULL, NULL},
	};
	int rc;

	if (!f)
		return vg_errf(err, n, -ENOENT, "internal: lua/flow.lua is not embedded");
	rc = vg_lua_run_chunk(h, f->data, f->len, "@lua/flow.lua", 1, LOAD_BUDGET, err, n);
	if (rc)
		return rc;
	if (!lua_isfunction(L, -1)) {
		lua_pop(L, 1);
		return vg_errf(err, n, -EINVAL, "lua/flow.lua must return a function");
	}
	lua_setfield(L, LUA_REGISTRYINDEX, "vigil.flow");
	lua_newtable(L);
	lua_pushlightuserdata(L, e);
	luaL_setfuncs(L, fns, 1);
	lua_setfield(L, LUA_REGISTRYINDEX, "vigil.flow.bindings");
	return 0;
}

int vg_engine_flow(struct vg_engine *e, struct vg_event *ev, int pi, const struct vg_flow_ops *ops,
		   void *ctx, char *err, size_t errlen)
{
	struct vg_lua *h = e->pol[pi].lua;
	lua_State *L = vg_lua_state(h);
	struct engine_flow *f = &e->flow;
	struct engine_flow prev = *f;
	int rc;

	*f = (struct engine_flow){.ops = ops, .ctx = ctx, .ev = ev, .pol = pi};
	f->check_err = vg_engine_check_error(e, pi);
	lua_getfield(L, LUA_REGISTRYINDEX, "vigil.flow");
	vg_lua_event_push(L, ev);
	lua_rawgeti(L, LUA_REGISTRYINDEX, e->pol[pi].table_ref);
	lua_pushstring(L, vg_enforce_mode_name(e->pol[pi].info.mode));
	lua_getfield(L, LUA_REGISTRYINDEX, "vigil.flow.bindings");
	rc = vg_lua_call(h, 4, 0, e->budget, err, errlen);
	vg_lua_event_detach(L);
	if (rc) {
		e->pol[pi].info.flow_errors++;
		e->st.lua_errors++;
		if (!f->stored && ops && ops->store) /* fail closed: never lose it */
			f->stored = ops->store(ctx, ev, pi);
	}
	*f = prev;
	return rc;
}
