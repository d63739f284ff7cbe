/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * lua_pattern_priv.h - the counted pattern matcher (pattern_match.c) as the
 * string functions (lua_pattern.c) drive it. Not for outside core/sandbox/.
 */
#ifndef VG_LUA_PATTERN_PRIV_H
#define VG_LUA_PATTERN_PRIV_H

#include <stddef.h>

#include <lua.h>

#include "lua_host.h"

#define MAXCAPTURES    32  /* LUA_MAXCAPTURES */
#define MAXCCALLS      200 /* recursion depth of the matcher, as stock */
#define CAP_UNFINISHED (-1)
#define CAP_POSITION   (-2)
#define ESC	       '%'
#define SPECIALS       "^$*+?.([%-"
#define CHARGE_EVERY   256 /* steps between calls to vg_lua_charge */

struct mstate {
	const char *src_init, *src_end, *p_end;
	lua_State *L;
	int depth;  /* recursion left */
	int level;  /* captures, finished or not */
	long steps; /* not yet charged */
	struct {
		const char *init;
		ptrdiff_t len;
	} cap[MAXCAPTURES];
};

static inline unsigned char uc(char c)
{
	return (unsigned char)c;
}

/* Counts n steps; every CHARGE_EVERY of them go to the budget (which may raise). */
static inline void step(struct mstate *ms, long n)
{
	ms->steps += n;
	if (ms->steps >= CHARGE_EVERY) {
		long s = ms->steps;

		ms->steps = 0;
		vg_lua_charge(ms->L, s);
	}
}

/*
 * The end of the match of pattern p (up to ms->p_end) at s, or NULL. Raises
 * (a Lua error) on a malformed pattern or when the budget is spent.
 */
const char *pattern_match(struct mstate *ms, const char *s, const char *p);
/* A match state for subject s (ls bytes) and pattern p (lp bytes). */
void pattern_prepare(struct mstate *ms, lua_State *L, const char *s, size_t ls, const char *p,
		     size_t lp);
/* A match tried at the next position: one step, so that an empty pattern pays for each too. */
void pattern_restart(struct mstate *ms);
/* Charges what is left uncharged: short calls pay too. */
void pattern_settle(struct mstate *ms);

#endif
