// SPDX-License-Identifier: BSD-2-Clause
/*
 * flow.c - the per-violation flow: lua/flow.lua (or the policy's
 * on_violation) run in the policy's state with `vigil`, a table built for
 * each violation from the owner's bindings (closures over its state) and
 * vigil.log; and the rule that a failed check() is not enforced.
 */
#include <errno.h>
#include <stdbool.h>

#include <lauxlib.h>

#include "embed.h"
#include "engine_priv.h"
#include "log.h"
#include "lua_event.h"

/*
 * Every closure of one flow shares this box as its second upvalue: it is
 * live while the flow runs, dead after, so a `vigil` a policy kept cannot
 * reach state that is gone.
 */
struct flow_box {
	bool live;
};

void *vg_flow_ctx(lua_State *L)
{
	const struct flow_box *box = lua_touserdata(L, lua_upvalueindex(2));

	if (!box || !box->live)
		(void)luaL_error(
			L, "vigil: called after its violation's flow returned"); /* no return */
	return lua_touserdata(L, lua_upvalueindex(1));
}

/* vigil.log(msg): a line in vigil's log, under the policy's name. */
static int l_flow_log(lua_State *L)
{
	const struct vg_policy_info *info = vg_flow_ctx(L);

	vg_info("policy '%s': %s", info->name, luaL_checkstring(L, 1));
	return 0;
}

int engine_flow_load(struct vg_lua *h, char *err, size_t n)
{
	const struct vg_embedded *f = vg_embedded_find("lua/flow.lua");
	lua_State *L = vg_lua_state(h);
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
	return 0;
}

static void set_binding(lua_State *L, int table, int box, const char *name, lua_CFunction fn,
			void *ctx)
{
	lua_pushlightuserdata(L, ctx);
	lua_pushvalue(L, box);
	lua_pushcclosure(L, fn, 2);
	lua_setfield(L, table, name);
}

/* One flow's arguments, handed to flow_main through a light userdata. */
struct flow_call {
	struct vg_engine *e;
	struct vg_event *ev;
	int pol;
	const struct vg_flow_binding *bindings;
	int n;
	struct flow_box *box; /* set by flow_main */
};

/*
 * The flow itself, inside the protected call so that building `vigil` (which
 * allocates, and the policy may be at its memory cap) fails as a flow error:
 * calls lua/flow.lua with ev, the policy's table, its enforcement and `vigil`.
 * The box is kept in the registry until the next flow, so that it outlives
 * the call for vg_engine_run_flow to mark it dead.
 */
static int flow_main(lua_State *L)
{
	struct flow_call *c = lua_touserdata(L, 1);
	const struct pol *p = &c->e->pol[c->pol];
	struct flow_box *anchored = lua_newuserdatauv(L, sizeof(*anchored), 0);
	int box = lua_gettop(L);

	anchored->live = true;
	lua_pushvalue(L, box);
	lua_setfield(L, LUA_REGISTRYINDEX, "vigil.flow.box");
	c->box = anchored; /* only once it is anchored: it outlives the call */
	lua_getfield(L, LUA_REGISTRYINDEX, "vigil.flow");
	vg_lua_event_push(L, c->ev);
	lua_rawgeti(L, LUA_REGISTRYINDEX, p->table_ref);
	lua_pushstring(L, vg_enforce_mode_name(p->info.mode));
	lua_createtable(L, 0, c->n + 1);
	for (int i = 0; i < c->n; i++)
		set_binding(L, box + 5, box, c->bindings[i].name, c->bindings[i].fn,
			    c->bindings[i].ctx);
	set_binding(L, box + 5, box, "log", l_flow_log, (void *)&p->info);
	lua_call(L, 4, 0);
	return 0;
}

int vg_engine_run_flow(struct vg_engine *e, struct vg_event *ev, int pi,
		       const struct vg_flow_binding *bindings, int n, char *err, size_t errlen)
{
	struct flow_call c = {.e = e, .ev = ev, .pol = pi, .bindings = bindings, .n = n};
	struct vg_lua *h = e->pol[pi].lua;
	lua_State *L = vg_lua_state(h);
	int rc;

	lua_pushcfunction(L, flow_main); /* a light C function, a light userdata: no allocation */
	lua_pushlightuserdata(L, &c);
	rc = vg_lua_call(h, 1, 0, e->budget, err, errlen);
	if (c.box)
		c.box->live = false;
	vg_lua_event_detach(L);
	if (rc) {
		e->pol[pi].info.flow_errors++;
		e->st.lua_errors++;
	}
	return rc;
}

const char *vg_engine_enforce_veto(const struct vg_engine *e, int pi)
{
	if (e->pol[pi].on_err == ON_ERR_ENFORCE)
		return NULL;
	return vg_engine_check_error(e, pi);
}
