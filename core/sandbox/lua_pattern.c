// SPDX-License-Identifier: BSD-2-Clause
/*
 * lua_pattern.c - string.find, match, gmatch and gsub over the counted
 * matcher (pattern_match.c): captures pushed to Lua, positions, replacements,
 * with the stock semantics and error messages.
 */
#include <ctype.h>
#include <string.h>

#include <lauxlib.h>

#include "lua_pattern.h"
#include "lua_pattern_priv.h"

/* ---- captures -------------------------------------------------------------- */

/* Capture i (the whole match s..e when there are none); pushes a position itself. */
static ptrdiff_t get_capture(struct mstate *ms, int i, const char *s, const char *e,
			     const char **cap)
{
	ptrdiff_t l;

	if (i >= ms->level) {
		if (i != 0)
			luaL_error(ms->L, "invalid capture index %%%d", i + 1);
		*cap = s;
		return e - s;
	}
	l = ms->cap[i].len;
	*cap = ms->cap[i].init;
	if (l == CAP_UNFINISHED)
		luaL_error(ms->L, "unfinished capture");
	else if (l == CAP_POSITION)
		lua_pushinteger(ms->L, (ms->cap[i].init - ms->src_init) + 1);
	return l;
}

static void push_capture(struct mstate *ms, int i, const char *s, const char *e)
{
	const char *cap;
	ptrdiff_t l = get_capture(ms, i, s, e, &cap);

	if (l != CAP_POSITION)
		lua_pushlstring(ms->L, cap, (size_t)l);
}

static int push_captures(struct mstate *ms, const char *s, const char *e)
{
	int n = ms->level == 0 && s ? 1 : ms->level;

	luaL_checkstack(ms->L, n, "too many captures");
	for (int i = 0; i < n; i++)
		push_capture(ms, i, s, e);
	return n;
}

/* ---- find, match, gmatch, gsub --------------------------------------------- */

static size_t posrelat(lua_Integer pos, size_t len)
{
	if (pos > 0)
		return (size_t)pos;
	if (pos == 0)
		return 1;
	if (pos < -(lua_Integer)len)
		return 1;
	return len + (size_t)pos + 1;
}

static int no_specials(const char *p, size_t l)
{
	size_t upto = 0;

	do {
		if (strpbrk(p + upto, SPECIALS))
			return 0;
		upto += strlen(p + upto) + 1; /* there may be more after a \0 */
	} while (upto <= l);
	return 1;
}

static int find_aux(lua_State *L, int find)
{
	size_t ls, lp;
	const char *s = luaL_checklstring(L, 1, &ls);
	const char *p = luaL_checklstring(L, 2, &lp);
	size_t init = posrelat(luaL_optinteger(L, 3, 1), ls) - 1;
	struct mstate ms;
	const char *s1;
	int anchor;

	if (init > ls) {
		luaL_pushfail(L);
		return 1;
	}
	if (find && (lua_toboolean(L, 4) || no_specials(p, lp))) {
		/* plain: memmem is linear; charge it by the bytes it may scan */
		const char *s2 = memmem(s + init, ls - init, p, lp);

		vg_lua_charge(L, (long)((ls - init) / 64 + 1));
		if (s2) {
			lua_pushinteger(L, (s2 - s) + 1);
			lua_pushinteger(L, (lua_Integer)((size_t)(s2 - s) + lp));
			return 2;
		}
		luaL_pushfail(L);
		return 1;
	}
	s1 = s + init;
	anchor = *p == '^';
	if (anchor) {
		p++;
		lp--;
	}
	pattern_prepare(&ms, L, s, ls, p, lp);
	do {
		const char *res;

		pattern_restart(&ms);
		res = pattern_match(&ms, s1, p);
		if (res) {
			pattern_settle(&ms);
			if (find) {
				lua_pushinteger(L, (s1 - s) + 1);
				lua_pushinteger(L, res - s);
				return push_captures(&ms, NULL, NULL) + 2;
			}
			return push_captures(&ms, s1, res);
		}
	} while (s1++ < ms.src_end && !anchor);
	pattern_settle(&ms);
	luaL_pushfail(L);
	return 1;
}

static int l_find(lua_State *L)
{
	return find_aux(L, 1);
}

static int l_match(lua_State *L)
{
	return find_aux(L, 0);
}

struct gmatch {
	const char *src, *p, *lastmatch;
	struct mstate ms;
};

static int gmatch_next(lua_State *L)
{
	struct gmatch *gm = lua_touserdata(L, lua_upvalueindex(3));

	gm->ms.L = L;
	for (const char *src = gm->src; src <= gm->ms.src_end; src++) {
		const char *e;

		pattern_restart(&gm->ms);
		e = pattern_match(&gm->ms, src, gm->p);
		if (e && e != gm->lastmatch) {
			gm->src = gm->lastmatch = e;
			pattern_settle(&gm->ms);
			return push_captures(&gm->ms, src, e);
		}
	}
	pattern_settle(&gm->ms);
	return 0;
}

static int l_gmatch(lua_State *L)
{
	size_t ls, lp;
	const char *s = luaL_checklstring(L, 1, &ls);
	const char *p = luaL_checklstring(L, 2, &lp);
	size_t init = posrelat(luaL_optinteger(L, 3, 1), ls) - 1;
	struct gmatch *gm;

	lua_settop(L, 2); /* the strings stay alive as upvalues */
	gm = lua_newuserdatauv(L, sizeof(*gm), 0);
	if (init > ls)
		init = ls + 1;
	pattern_prepare(&gm->ms, L, s, ls, p, lp);
	gm->src = s + init;
	gm->p = p;
	gm->lastmatch = NULL;
	lua_pushcclosure(L, gmatch_next, 3);
	return 1;
}

static void add_s(struct mstate *ms, luaL_Buffer *b, const char *s, const char *e)
{
	lua_State *L = ms->L;
	size_t l;
	const char *news = lua_tolstring(L, 3, &l), *p;

	step(ms, (long)(l / 16 + 1));
	while ((p = memchr(news, ESC, l))) {
		luaL_addlstring(b, news, (size_t)(p - news));
		p++; /* skip the ESC */
		if (*p == ESC) {
			luaL_addchar(b, *p);
		} else if (*p == '0') {
			luaL_addlstring(b, s, (size_t)(e - s));
		} else if (isdigit(uc(*p))) {
			const char *cap;
			ptrdiff_t resl = get_capture(ms, *p - '1', s, e, &cap);

			if (resl == CAP_POSITION)
				luaL_addvalue(b);
			else
				luaL_addlstring(b, cap, (size_t)resl);
		} else {
			luaL_error(L, "invalid use of '%c' in replacement string", ESC);
		}
		l -= (size_t)(p + 1 - news);
		news = p + 1;
	}
	luaL_addlstring(b, news, l);
}

/* Adds the replacement of s..e; returns whether the text changed. */
static int add_value(struct mstate *ms, luaL_Buffer *b, const char *s, const char *e, int tr)
{
	lua_State *L = ms->L;

	switch (tr) {
	case LUA_TFUNCTION: {
		int n;

		lua_pushvalue(L, 3);
		n = push_captures(ms, s, e);
		lua_call(L, n, 1);
		break;
	}
	case LUA_TTABLE:
		push_capture(ms, 0, s, e);
		lua_gettable(L, 3);
		break;
	default: /* a number or a string */
		add_s(ms, b, s, e);
		return 1;
	}
	if (!lua_toboolean(L, -1)) { /* nil or false: keep the original text */
		lua_pop(L, 1);
		luaL_addlstring(b, s, (size_t)(e - s));
		return 0;
	}
	if (!lua_isstring(L, -1))
		return luaL_error(L, "invalid replacement value (a %s)", luaL_typename(L, -1));
	luaL_addvalue(b);
	return 1;
}

static int l_gsub(lua_State *L)
{
	size_t srcl, lp;
	const char *src = luaL_checklstring(L, 1, &srcl);
	const char *p = luaL_checklstring(L, 2, &lp);
	const char *lastmatch = NULL;
	int tr = lua_type(L, 3), anchor = *p == '^', changed = 0;
	lua_Integer max_s = luaL_optinteger(L, 4, (lua_Integer)srcl + 1), n = 0;
	struct mstate ms;
	luaL_Buffer b;

	luaL_argexpected(L,
			 tr == LUA_TNUMBER || tr == LUA_TSTRING || tr == LUA_TFUNCTION ||
				 tr == LUA_TTABLE,
			 3, "string/function/table");
	luaL_buffinit(L, &b);
	if (anchor) {
		p++;
		lp--;
	}
	pattern_prepare(&ms, L, src, srcl, p, lp);
	while (n < max_s) {
		const char *e;

		pattern_restart(&ms);
		e = pattern_match(&ms, src, p);
		if (e && e != lastmatch) {
			n++;
			changed = add_value(&ms, &b, src, e, tr) | changed;
			src = lastmatch = e;
		} else if (src < ms.src_end) {
			luaL_addchar(&b, *src++);
		} else {
			break;
		}
		if (anchor)
			break;
	}
	pattern_settle(&ms);
	if (!changed) {
		lua_pushvalue(L, 1);
	} else {
		luaL_addlstring(&b, src, (size_t)(ms.src_end - src));
		luaL_pushresult(&b);
	}
	lua_pushinteger(L, n);
	return 2;
}

void vg_pattern_register(lua_State *L, int lib)
{
	static const luaL_Reg fns[] = {
		{"find", l_find}, {"match", l_match}, {"gmatch", l_gmatch},
		{"gsub", l_gsub}, {NULL, NULL},
	};

	lib = lua_absindex(L, lib);
	for (const luaL_Reg *f = fns; f->name; f++) {
		lua_pushcfunction(L, f->func);
		lua_setfield(L, lib, f->name);
	}
}
