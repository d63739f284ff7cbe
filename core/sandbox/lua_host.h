/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * lua_host.h - one sandboxed Lua 5.4 state: the only place vigil runs scripts.
 *
 * The sandbox: base functions minus load/dofile/loadfile/require/rawset/
 * collectgarbage, plus string, table, math and utf8 behind read-only proxies;
 * no io, os or debug. Each chunk gets its own environment whose globals are
 * read-only. Only text chunks load. A byte-counting allocator caps memory (the
 * state's, and a pool's shared by several states); an instruction-count hook
 * stops a call that runs past its budget or its wall time, and C library code
 * that loops for a count the script chooses (patterns, table.move, ...)
 * charges the same budget. A signal handler may stop the running call.
 */
#ifndef VG_LUA_HOST_H
#define VG_LUA_HOST_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <lua.h>

struct vg_lua;

/* 0 or -errno, one errno per class of failure */
enum vg_lua_rc {
	VG_LUA_OK = 0,
	VG_LUA_ERROR = -EINVAL,	     /* a runtime or syntax error */
	VG_LUA_BUDGET = -ETIME,	     /* stopped by the instruction budget or the time limit */
	VG_LUA_NOMEM = -ENOMEM,	     /* the memory cap was hit */
	VG_LUA_INTERRUPTED = -EINTR, /* stopped by vg_lua_interrupt() (vigil is stopping) */
};

struct vg_lua_stats {
	uint64_t calls, errors, budget_stops, nomem, interrupted;
	size_t mem_bytes, mem_peak, mem_cap;
};

/* Memory shared by several states: none may take the pool past cap. */
struct vg_lua_pool {
	size_t used, cap;
};

struct vg_lua_opts {
	size_t mem_cap;		  /* this state's cap, bytes (0: 64 MiB) */
	struct vg_lua_pool *pool; /* or NULL */
	long time_ms;		  /* wall time per call (0: 1000 ms) */
};

/* A new state with mem_cap bytes at most (0: 64 MiB). NULL on failure. */
struct vg_lua *vg_lua_new(size_t mem_cap);
struct vg_lua *vg_lua_new_opts(const struct vg_lua_opts *o);
void vg_lua_free(struct vg_lua *h);
lua_State *vg_lua_state(struct vg_lua *h);

/* Pops the value on top of the stack into the sandbox as global `name`. */
void vg_lua_expose(struct vg_lua *h, const char *name);

/*
 * Loads a text chunk and runs it in a fresh environment whose globals are the
 * sandbox's, read-only. Leaves nres results. Returns enum vg_lua_rc; on error
 * the message ("file:line: what") is in err and nothing is left on the stack.
 */
int vg_lua_run_chunk(struct vg_lua *h, const char *buf, size_t len, const char *chunkname, int nres,
		     long budget, char *err, size_t errlen);

/*
 * Calls the function below nargs arguments on the stack, stopping it after
 * `budget` VM instructions. Returns enum vg_lua_rc; on error the message is in
 * err and nothing is left on the stack, else nres results.
 */
int vg_lua_call(struct vg_lua *h, int nargs, int nres, long budget, char *err, size_t errlen);

/*
 * Runs, or continues, the coroutine co with nargs values on its stack, under
 * the budget. Returns VG_LUA_OK when it finished (*nres results on co's
 * stack), VG_LUA_YIELDED when it waits (for a binding to resume it), or an
 * error code with the message in err.
 */
#define VG_LUA_YIELDED 1
int vg_lua_resume(struct vg_lua *h, lua_State *co, int nargs, long budget, int *nres, char *err,
		  size_t errlen);

void vg_lua_stats(struct vg_lua *h, struct vg_lua_stats *st);

/*
 * For C functions called from a script: charges steps of work to the running
 * call's budget, and raises (the budget's, the deadline's or the interrupt's
 * error) when the call must stop. Only inside a vg_lua_call/resume.
 */
void vg_lua_charge(lua_State *L, long steps);

/*
 * Async-signal-safe: the running call stops at its next instruction (or
 * charge) with VG_LUA_INTERRUPTED, and every later call is refused the same
 * way, until vg_lua_interrupt_clear().
 */
void vg_lua_interrupt(void);
void vg_lua_interrupt_clear(void);
bool vg_lua_interrupted(void);

#endif
