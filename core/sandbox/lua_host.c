// SPDX-License-Identifier: BSD-2-Clause
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>

#include <lauxlib.h>
#include <lualib.h>

#include "log.h"
#include "lua_host.h"
#include "lua_pattern.h"

#define HOOK_EVERY 1000 /* instructions between budget checks */

enum stop { RUNNING, STOP_BUDGET, STOP_TIME, STOP_SIGNAL };

struct vg_lua {
	lua_State *L;
	size_t mem, peak, cap;
	struct vg_lua_pool *pool; /* shared with other states, or NULL */
	bool pool_refused;	  /* the last refused allocation was the pool's doing */
	long budget_left;	  /* instructions left in the current call */
	long time_ms;		  /* wall time per call */
	struct timespec deadline; /* of the current call */
	enum stop stopping;	  /* why the call is being stopped: raised at every instruction */
	int in_call;		  /* inside vg_lua_call/resume: the budget is the call's */
	int sandbox_ref;	  /* registry ref of the sandbox's global table */
	struct vg_lua_stats st;
};

/* Set from a signal handler: every call stops, and none starts. */
static volatile sig_atomic_t interrupted;
/* The state whose call runs now (innermost), for the signal handler to stop. */
static lua_State *volatile running;

/*
 * Byte-counting allocator: refuses growth past the state's cap or the
 * shared pool's (Lua raises "not enough memory").
 */
static void *alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
	struct vg_lua *h = ud;
	size_t old = ptr ? osize : 0;

	if (nsize == 0) {
		free(ptr);
		h->mem -= old;
		if (h->pool)
			h->pool->used -= old;
		return NULL;
	}
	if (nsize > old && h->mem + (nsize - old) > h->cap) {
		h->pool_refused = false;
		return NULL;
	}
	if (nsize > old && h->pool && h->pool->used + (nsize - old) > h->pool->cap) {
		h->pool_refused = true;
		return NULL;
	}
	ptr = realloc(ptr, nsize);
	if (!ptr)
		return NULL;
	h->mem = h->mem - old + nsize;
	if (h->pool)
		h->pool->used = h->pool->used - old + nsize;
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

static bool past(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > t->tv_sec || (now.tv_sec == t->tv_sec && now.tv_nsec >= t->tv_nsec);
}

static void hook(lua_State *L, lua_Debug *ar);

/*
 * Stops the running call: raises now and, the hook re-armed for every
 * instruction, again at the very next instruction, so a script that catches
 * the error with pcall is stopped outside the pcall too.
 */
static int stop(lua_State *L, struct vg_lua *h, enum stop why)
{
	static const char *const what[] = {
		[STOP_BUDGET] = "instruction budget exceeded (a loop that does not end?)",
		[STOP_TIME] = "time limit exceeded (a loop that does not end?)",
		[STOP_SIGNAL] = "stopped: vigil is shutting down",
	};
	lua_Debug d;

	if (!h->stopping) {
		h->stopping = why;
		lua_sethook(L, hook, LUA_MASKCOUNT, 1);
	}
	if (lua_getstack(L, 0, &d) && lua_getinfo(L, "Sl", &d) && d.currentline > 0)
		return luaL_error(L, "%s:%d: %s", d.short_src, d.currentline, what[h->stopping]);
	return luaL_error(L, "%s", what[h->stopping]);
}

/* Why the current call must stop now, or RUNNING. */
static enum stop must_stop(struct vg_lua *h)
{
	if (h->stopping)
		return h->stopping;
	if (interrupted)
		return STOP_SIGNAL;
	if (h->budget_left <= 0)
		return STOP_BUDGET;
	if (past(&h->deadline))
		return STOP_TIME;
	return RUNNING;
}

/* Count hook: every HOOK_EVERY instructions (every one once stopping). */
static void hook(lua_State *L, lua_Debug *ar)
{
	struct vg_lua *h = host_of(L);
	enum stop why;

	(void)ar;
	h->budget_left -= HOOK_EVERY;
	why = must_stop(h);
	if (why != RUNNING)
		stop(L, h, why);
}

void vg_lua_charge(lua_State *L, long steps)
{
	struct vg_lua *h = host_of(L);
	enum stop why;

	if (!h->in_call)
		return; /* trusted code calling in directly: no call, no budget to draw on */
	h->budget_left -= steps;
	why = must_stop(h);
	if (why != RUNNING)
		stop(L, h, why);
}

void vg_lua_interrupt(void)
{
	lua_State *L = running;

	interrupted = 1;
	/*
	 * As lua.c does on SIGINT: the running call stops at its next instruction.
	 * Only on the thread that runs Lua (the process's main thread): a handler
	 * run on another thread would race the VM; there the flag alone is seen at
	 * the next hook or charge.
	 */
	if (L && gettid() == getpid())
		lua_sethook(L, hook, LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT, 1);
}

void vg_lua_interrupt_clear(void)
{
	interrupted = 0;
}

bool vg_lua_interrupted(void)
{
	return interrupted;
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
 * Library functions that loop in C, out of the hook's reach, for a count
 * the script chooses: each is charged to the budget before it runs, by that
 * count (table.move, table.concat, table.unpack) or n log n (table.sort).
 * String patterns have their own counted matcher (lua_pattern.c). string.rep
 * of empty pieces returns at once (Lua's own loops n times copying nothing).
 * The rest (string.rep otherwise, format, byte, utf8.*) do work linear in what
 * they allocate or in a stack-bounded argument count, bounded by the memory cap.
 */
static long span(lua_State *L, int i, int j, lua_Integer dflt_j)
{
	lua_Integer a = luaL_optinteger(L, i, 1);
	lua_Integer b = luaL_optinteger(L, j, dflt_j);
	lua_Unsigned n;

	if (b < a)
		return 0;
	n = (lua_Unsigned)b - (lua_Unsigned)a + 1u;
	return n > (lua_Unsigned)LONG_MAX ? LONG_MAX : (long)n;
}

static long rawlen_of(lua_State *L, int i)
{
	return lua_type(L, i) == LUA_TTABLE ? (long)lua_rawlen(L, i) : 0;
}

static int l_charged(lua_State *L)
{
	const char *fn = lua_tostring(L, lua_upvalueindex(2));
	long n = 0;

	if (!strcmp(fn, "move")) {
		n = span(L, 2, 3, 0);
	} else if (!strcmp(fn, "concat") || !strcmp(fn, "unpack")) {
		n = span(L, !strcmp(fn, "concat") ? 3 : 2, !strcmp(fn, "concat") ? 4 : 3,
			 rawlen_of(L, 1));
	} else if (!strcmp(fn, "rep")) {
		size_t len, sep_len = 0;

		luaL_checklstring(L, 1, &len);
		luaL_optlstring(L, 3, "", &sep_len);
		/* empty pieces: Lua's str_rep would loop n times copying nothing, unbounded */
		if (len + sep_len == 0) {
			luaL_checkinteger(L, 2);
			lua_pushliteral(L, "");
			return 1;
		}
	} else if (!strcmp(fn, "sort")) {
		long len = rawlen_of(L, 1), lg = 1;

		while (lg < 62 && (1L << lg) < len)
			lg++;
		n = len > LONG_MAX / (lg + 1) ? LONG_MAX : len * (lg + 1);
	}
	vg_lua_charge(L, n);
	lua_pushvalue(L, lua_upvalueindex(1));
	lua_insert(L, 1);
	lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
	return lua_gettop(L);
}

/* Wraps the library functions named in fns (NULL-terminated) with l_charged. */
static void charge_lib(lua_State *L, int lib, const char *const *fns)
{
	for (size_t i = 0; fns[i]; i++) {
		lua_getfield(L, lib, fns[i]);
		lua_pushstring(L, fns[i]);
		lua_pushcclosure(L, l_charged, 2);
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
	static const char *const table_charged[] = {"move", "concat", "unpack", "sort", NULL};
	static const char *const string_charged[] = {"rep", NULL};
	static const char *const base_ok[] = {
		"assert", "error",    "ipairs",	      "next",	  "pairs",  "pcall",
		"select", "tonumber", "tostring",     "type",	  "xpcall", "rawequal",
		"rawget", "rawlen",   "getmetatable", "_VERSION", NULL,
	};
	static const struct {
		const char *name;
		lua_CFunction open;
	} libs[] = {
		{"string", luaopen_string},
		{"table", luaopen_table},
		{"math", luaopen_math},
		{"utf8", luaopen_utf8},
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
			/* counted patterns, also what s:find() reaches */
			vg_pattern_register(L, lua_gettop(L));
		}
		if (!strcmp(libs[i].name, "table"))
			charge_lib(L, lua_gettop(L), table_charged);
		if (!strcmp(libs[i].name, "string"))
			charge_lib(L, lua_gettop(L), string_charged);
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
	struct vg_lua_opts o = {.mem_cap = mem_cap};

	return vg_lua_new_opts(&o);
}

struct vg_lua *vg_lua_new_opts(const struct vg_lua_opts *o)
{
	struct vg_lua *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	h->cap = o->mem_cap ? o->mem_cap : (64u << 20);
	h->pool = o->pool;
	h->time_ms = o->time_ms > 0 ? o->time_ms : 1000;
	h->L = lua_newstate(alloc, h);
	if (!h->L) {
		free(h);
		errno = ENOMEM;
		return NULL;
	}
	(void)lua_gc(h->L, LUA_GCGEN, 0, 0); /* returns the previous mode */
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

/* Arms the budget, the deadline and the hook for a call on L (h's state or a thread of it). */
static lua_State *call_begin(struct vg_lua *h, lua_State *L, long budget)
{
	lua_State *prev = running;

	h->budget_left = budget > 0 ? budget : 1000000;
	h->stopping = RUNNING;
	clock_gettime(CLOCK_MONOTONIC, &h->deadline);
	h->deadline.tv_sec += h->time_ms / 1000;
	h->deadline.tv_nsec += (h->time_ms % 1000) * 1000000L;
	if (h->deadline.tv_nsec >= 1000000000L) {
		h->deadline.tv_sec++;
		h->deadline.tv_nsec -= 1000000000L;
	}
	lua_sethook(L, hook, LUA_MASKCOUNT, HOOK_EVERY);
	running = L;
	h->in_call++;
	return prev;
}

static void call_end(struct vg_lua *h, lua_State *L, lua_State *prev)
{
	running = prev;
	lua_sethook(L, NULL, 0, 0);
	h->in_call--;
	h->st.calls++;
}

/* The outcome of a failed call whose message is on top of L's stack (popped into err). */
static int call_failed(struct vg_lua *h, lua_State *L, int rc, char *err, size_t errlen)
{
	const char *msg = lua_tostring(L, -1);

	if (!msg)
		msg = "(error object is not a string)";
	(void)vg_errf(err, errlen, VG_LUA_ERROR, "%s", msg); /* the outcome is decided below */
	lua_pop(L, 1);
	if (h->stopping == STOP_SIGNAL) {
		h->st.interrupted++;
		return VG_LUA_INTERRUPTED;
	}
	if (h->stopping) {
		h->st.budget_stops++;
		return VG_LUA_BUDGET;
	}
	if (rc != LUA_ERRMEM) {
		h->st.errors++;
		return VG_LUA_ERROR;
	}
	h->st.nomem++;
	(void)lua_gc(h->L, LUA_GCCOLLECT); /* returns 0 for a full collection */
	if (h->pool_refused)
		return vg_errf(err, errlen, VG_LUA_NOMEM,
			       "the shared Lua memory cap of %zu MiB is reached (lua.memory_mb)",
			       h->pool->cap >> 20);
	return vg_errf(err, errlen, VG_LUA_NOMEM, "memory cap of %zu MiB reached", h->cap >> 20);
}

static int refuse_interrupted(struct vg_lua *h, lua_State *L, int n, char *err, size_t errlen)
{
	lua_pop(L, n);
	h->st.interrupted++;
	return vg_errf(err, errlen, VG_LUA_INTERRUPTED, "stopped: vigil is shutting down");
}

int vg_lua_call(struct vg_lua *h, int nargs, int nres, long budget, char *err, size_t errlen)
{
	lua_State *L = h->L, *prev;
	int base = lua_gettop(L) - nargs, rc;

	if (interrupted)
		return refuse_interrupted(h, L, nargs + 1, err, errlen);
	lua_pushcfunction(L, msgh);
	lua_insert(L, base);
	prev = call_begin(h, L, budget);
	rc = lua_pcall(L, nargs, nres, base);
	call_end(h, L, prev);
	lua_remove(L, base);
	if (rc == LUA_OK)
		return VG_LUA_OK;
	return call_failed(h, L, rc, err, errlen);
}

int vg_lua_run_chunk(struct vg_lua *h, const char *buf, size_t len, const char *chunkname, int nres,
		     long budget, char *err, size_t errlen)
{
	lua_State *L = h->L;
	int rc = luaL_loadbufferx(L, buf, len, chunkname, "t");

	if (rc != LUA_OK) {
		int out = VG_LUA_ERROR;

		if (rc == LUA_ERRMEM)
			out = VG_LUA_NOMEM;
		(void)vg_errf(err, errlen, out, "%s", lua_tostring(L, -1));
		lua_pop(L, 1);
		return out;
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
	lua_State *prev;
	int rc;

	if (interrupted)
		return refuse_interrupted(h, co, nargs, err, errlen);
	prev = call_begin(h, co, budget);
	rc = lua_resume(co, h->L, nargs, nres);
	call_end(h, co, prev);
	if (rc == LUA_OK)
		return VG_LUA_OK;
	if (rc == LUA_YIELD)
		return VG_LUA_YIELDED;
	return call_failed(h, co, rc, err, errlen);
}

void vg_lua_stats(struct vg_lua *h, struct vg_lua_stats *st)
{
	*st = h->st;
	st->mem_bytes = h->mem;
	st->mem_peak = h->peak;
	st->mem_cap = h->cap;
}
