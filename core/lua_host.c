// SPDX-License-Identifier: BSD-2-Clause
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lualib.h>

#include "log.h"
#include "lua_host.h"

#define HOOK_EVERY 1000 /* instructions between budget checks */

struct vg_lua {
	lua_State *L;
	size_t mem, peak, cap;
	long budget_left; /* instructions left in the current call */
	int stopping;	  /* budget spent: raise at every instruction until unwound */
	int sandbox_ref;  /* registry ref of the sandbox's global table */
	struct vg_lua_stats st;
};

/* Byte-counting allocator: refuses growth past the cap (Lua raises "not enough memory"). */
static void *alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
	struct vg_lua *h = ud;
	size_t old = ptr ? osize : 0;

	if (nsize == 0) {
		free(ptr);
		h->mem -= old;
		return NULL;
	}
	if (nsize > old && h->mem + (nsize - old) > h->cap)
		return NULL;
	ptr = realloc(ptr, nsize);
	if (!ptr)
		return NULL;
	h->mem = h->mem - old + nsize;
	if (h->mem > h->peak)
		h->peak = h->mem;
	return ptr;
}

static struct vg_lua *host_of(lua_State *L)
{
	void *ud;

	lua_getallocf(L, &ud);
	return ud;
}

/*
 * Count hook. Once the budget is spent it re-arms itself for every
 * instruction, so a script that catches the error with pcall is stopped again
 * at its very next instruction, outside the pcall.
 */
static void hook(lua_State *L, lua_Debug *ar)
{
	struct vg_lua *h = host_of(L);

	(void)ar;
	h->budget_left -= HOOK_EVERY;
	if (h->budget_left > 0 && !h->stopping)
		return;
	if (!h->stopping) {
		h->stopping = 1;
		lua_sethook(L, hook, LUA_MASKCOUNT, 1);
	}
	{
		lua_Debug d;

		if (lua_getstack(L, 0, &d) && lua_getinfo(L, "Sl", &d) && d.currentline > 0)
			luaL_error(L, "%s:%d: instruction budget exceeded (a loop that does not end?)",
				   d.short_src, d.currentline);
	}
	luaL_error(L, "instruction budget exceeded (a loop that does not end?)");
}

static int l_readonly(lua_State *L)
{
	return luaL_error(L, "globals are read-only in a policy: assign '%s' to a local instead",
			  luaL_optstring(L, 2, "?"));
}

static int l_print(lua_State *L)
{
	luaL_Buffer b;
	int n = lua_gettop(L);

	luaL_buffinit(L, &b);
	for (int i = 1; i <= n; i++) {
		if (i > 1)
			luaL_addchar(&b, '\t');
		luaL_tolstring(L, i, NULL);
		luaL_addvalue(&b);
	}
	luaL_pushresult(&b);
	vg_info("lua: %s", lua_tostring(L, -1));
	return 0;
}

/*
 * setmetatable without __gc: Lua 5.4 runs finalizers with hooks off, so a
 * finalizer could loop past the instruction budget (at any GC step, or when
 * the state closes on a reload).
 */
static int l_setmetatable(lua_State *L)
{
	if (lua_istable(L, 2)) {
		lua_pushliteral(L, "__gc");
		if (lua_rawget(L, 2) != LUA_TNIL)
			return luaL_error(L, "metatables with __gc are not allowed in policies");
		lua_pop(L, 1);
	}
	lua_getglobal(L, "setmetatable");
	lua_insert(L, 1);
	lua_call(L, lua_gettop(L) - 1, 1);
	return 1;
}

/*
 * Lua patterns run inside C, where the instruction hook cannot stop them, and
 * backtrack: string.find/match/gmatch/gsub get bounded subjects and at most
 * a few repetition items per pattern (plain finds are not patterns).
 */
#define PAT_SUBJECT_MAX (64u << 10)
#define PAT_REPEATS_MAX 4

static int l_pattern_guard(lua_State *L)
{
	size_t sl, pl;
	const char *p;
	int reps = 0;

	luaL_checklstring(L, 1, &sl);
	p = luaL_checklstring(L, 2, &pl);
	if (lua_toboolean(L, lua_upvalueindex(2)) && lua_toboolean(L, 4))
		goto call; /* string.find(s, p, init, true): plain */
	if (sl > PAT_SUBJECT_MAX)
		return luaL_error(L, "string pattern functions take subjects up to %d KiB in policies",
				  PAT_SUBJECT_MAX >> 10);
	for (size_t i = 0; i < pl; i++) {
		if (p[i] == '%') {
			i++;
			continue;
		}
		reps += p[i] == '*' || p[i] == '+' || p[i] == '-' || p[i] == '?';
	}
	if (reps > PAT_REPEATS_MAX)
		return luaL_error(L, "patterns in policies may repeat at most %d items ('*', '+', '-', "
				     "'?'); use the policy's match criteria (PCRE2) instead",
				  PAT_REPEATS_MAX);
call:
	lua_pushvalue(L, lua_upvalueindex(1));
	lua_insert(L, 1);
	lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
	return lua_gettop(L);
}

static void guard_patterns(lua_State *L, int lib)
{
	static const char *const fns[] = { "find", "match", "gmatch", "gsub" };

	for (size_t i = 0; i < sizeof(fns) / sizeof(fns[0]); i++) {
		lua_getfield(L, lib, fns[i]);
		lua_pushboolean(L, i == 0);
		lua_pushcclosure(L, l_pattern_guard, 2);
		lua_setfield(L, lib, fns[i]);
	}
}

/* A read-only proxy of the table at idx: reads pass through, writes fail. */
static void push_readonly(lua_State *L, int idx)
{
	idx = lua_absindex(L, idx);
	lua_newtable(L);
	lua_newtable(L);
	lua_pushvalue(L, idx);
	lua_setfield(L, -2, "__index");
	lua_pushcfunction(L, l_readonly);
	lua_setfield(L, -2, "__newindex");
	lua_pushliteral(L, "locked");
	lua_setfield(L, -2, "__metatable");
	lua_setmetatable(L, -2);
}

static void build_sandbox(struct vg_lua *h)
{
	static const char *const base_ok[] = {
		"assert", "error",  "ipairs", "next",	  "pairs",    "pcall",	  "select",
		"tonumber", "tostring", "type", "xpcall", "rawequal", "rawget", "rawlen",
		"getmetatable", "_VERSION", NULL,
	};
	static const struct {
		const char *name;
		lua_CFunction open;
	} libs[] = {
		{ "string", luaopen_string },
		{ "table", luaopen_table },
		{ "math", luaopen_math },
		{ "utf8", luaopen_utf8 },
	};
	lua_State *L = h->L;

	luaL_requiref(L, "_G", luaopen_base, 1);
	lua_pop(L, 1);
	lua_newtable(L); /* the sandbox's globals */
	for (int i = 0; base_ok[i]; i++) {
		lua_getglobal(L, base_ok[i]);
		lua_setfield(L, -2, base_ok[i]);
	}
	lua_pushcfunction(L, l_print);
	lua_setfield(L, -2, "print");
	lua_pushcfunction(L, l_setmetatable);
	lua_setfield(L, -2, "setmetatable");
	for (size_t i = 0; i < sizeof(libs) / sizeof(libs[0]); i++) {
		luaL_requiref(L, libs[i].name, libs[i].open, 0);
		if (!strcmp(libs[i].name, "string")) {
			lua_pushnil(L);
			lua_setfield(L, -2, "dump");
			guard_patterns(L, lua_gettop(L)); /* also what s:find() reaches */
		}
		push_readonly(L, -1);
		lua_setfield(L, -3, libs[i].name);
		lua_pop(L, 1);
	}
	/* strings share one metatable: keep scripts from reaching or changing it */
	lua_pushliteral(L, "");
	if (lua_getmetatable(L, -1)) {
		lua_pushliteral(L, "locked");
		lua_setfield(L, -2, "__metatable");
		lua_pop(L, 1);
	}
	lua_pop(L, 1);
	h->sandbox_ref = luaL_ref(L, LUA_REGISTRYINDEX);
}

struct vg_lua *vg_lua_new(size_t mem_cap)
{
	struct vg_lua *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	h->cap = mem_cap ? mem_cap : (64u << 20);
	h->L = lua_newstate(alloc, h);
	if (!h->L) {
		free(h);
		errno = ENOMEM;
		return NULL;
	}
	lua_gc(h->L, LUA_GCGEN, 0, 0);
	build_sandbox(h);
	return h;
}

void vg_lua_free(struct vg_lua *h)
{
	if (!h)
		return;
	lua_close(h->L);
	free(h);
}

lua_State *vg_lua_state(struct vg_lua *h)
{
	return h->L;
}

void vg_lua_expose(struct vg_lua *h, const char *name)
{
	lua_rawgeti(h->L, LUA_REGISTRYINDEX, h->sandbox_ref);
	lua_insert(h->L, -2);
	lua_setfield(h->L, -2, name);
	lua_pop(h->L, 1);
}

static int msgh(lua_State *L)
{
	if (!lua_isstring(L, 1))
		lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
	return 1;
}

int vg_lua_call(struct vg_lua *h, int nargs, int nres, long budget, char *err, size_t errlen)
{
	lua_State *L = h->L;
	int base = lua_gettop(L) - nargs, rc;

	lua_pushcfunction(L, msgh);
	lua_insert(L, base);
	h->budget_left = budget > 0 ? budget : 1000000;
	h->stopping = 0;
	lua_sethook(L, hook, LUA_MASKCOUNT, HOOK_EVERY);
	rc = lua_pcall(L, nargs, nres, base);
	lua_sethook(L, NULL, 0, 0);
	lua_remove(L, base);
	h->st.calls++;
	if (rc == LUA_OK)
		return VG_LUA_OK;
	snprintf(err, errlen, "%s", lua_tostring(L, -1) ? lua_tostring(L, -1) : "?");
	lua_pop(L, 1);
	if (h->stopping) {
		h->st.budget_stops++;
		return VG_LUA_BUDGET;
	}
	if (rc == LUA_ERRMEM) {
		h->st.nomem++;
		snprintf(err, errlen, "memory cap of %zu MiB reached", h->cap >> 20);
		lua_gc(L, LUA_GCCOLLECT);
		return VG_LUA_NOMEM;
	}
	h->st.errors++;
	return VG_LUA_ERROR;
}

int vg_lua_run_chunk(struct vg_lua *h, const char *buf, size_t len, const char *chunkname,
		     int nres, long budget, char *err, size_t errlen)
{
	lua_State *L = h->L;
	int rc = luaL_loadbufferx(L, buf, len, chunkname, "t");

	if (rc != LUA_OK) {
		snprintf(err, errlen, "%s", lua_tostring(L, -1));
		lua_pop(L, 1);
		return rc == LUA_ERRMEM ? VG_LUA_NOMEM : VG_LUA_ERROR;
	}
	/* _ENV: this chunk's own read-only view of the sandbox */
	lua_rawgeti(L, LUA_REGISTRYINDEX, h->sandbox_ref);
	push_readonly(L, -1);
	lua_remove(L, -2);
	if (!lua_setupvalue(L, -2, 1))
		lua_pop(L, 1);
	return vg_lua_call(h, 0, nres, budget, err, errlen);
}

int vg_lua_resume(struct vg_lua *h, lua_State *co, int nargs, long budget, int *nres, char *err,
		  size_t errlen)
{
	int rc;

	h->budget_left = budget > 0 ? budget : 1000000;
	h->stopping = 0;
	lua_sethook(co, hook, LUA_MASKCOUNT, HOOK_EVERY);
	rc = lua_resume(co, h->L, nargs, nres);
	lua_sethook(co, NULL, 0, 0);
	h->st.calls++;
	if (rc == LUA_OK)
		return VG_LUA_OK;
	if (rc == LUA_YIELD)
		return VG_LUA_YIELDED;
	snprintf(err, errlen, "%s", lua_tostring(co, -1) ? lua_tostring(co, -1) : "(error object is not a string)");
	lua_pop(co, 1);
	if (h->stopping) {
		h->st.budget_stops++;
		return VG_LUA_BUDGET;
	}
	if (rc == LUA_ERRMEM) {
		h->st.nomem++;
		return VG_LUA_NOMEM;
	}
	h->st.errors++;
	return VG_LUA_ERROR;
}

void vg_lua_stats(struct vg_lua *h, struct vg_lua_stats *st)
{
	*st = h->st;
	st->mem_bytes = h->mem;
	st->mem_peak = h->peak;
	st->mem_cap = h->cap;
}
