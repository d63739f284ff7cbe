// SPDX-License-Identifier: BSD-2-Clause
/*
 * Lua 5.4's pattern matcher (lstrlib.c, MIT licence, Lua.org, PUC-Rio),
 * rewritten with a step count: every match attempt, repetition, balance scan
 * and back-reference byte is a step, and steps are charged to the running
 * call's budget in batches (vg_lua_charge raises when it is spent). The
 * semantics and error messages are the stock ones; tests/unit/test_lua_host.c
 * compares the two on a corpus and on random patterns.
 */
#include <ctype.h>
#include <stddef.h>
#include <string.h>

#include <lauxlib.h>

#include "lua_host.h"
#include "lua_pattern.h"

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

static const char *match(struct mstate *ms, const char *s, const char *p);

static int check_capture(struct mstate *ms, int l)
{
	l -= '1';
	if (l < 0 || l >= ms->level || ms->cap[l].len == CAP_UNFINISHED)
		return luaL_error(ms->L, "invalid capture index %%%d", l + 1);
	return l;
}

static int capture_to_close(struct mstate *ms)
{
	for (int level = ms->level - 1; level >= 0; level--)
		if (ms->cap[level].len == CAP_UNFINISHED)
			return level;
	return luaL_error(ms->L, "invalid pattern capture");
}

/* The end of the single-character class at p (its optional suffix follows). */
static const char *class_end(struct mstate *ms, const char *p)
{
	switch (*p++) {
	case ESC:
		if (p == ms->p_end)
			luaL_error(ms->L, "malformed pattern (ends with '%%')");
		return p + 1;
	case '[':
		if (*p == '^')
			p++;
		do { /* look for a ']' */
			if (p == ms->p_end)
				luaL_error(ms->L, "malformed pattern (missing ']')");
			if (*(p++) == ESC && p < ms->p_end)
				p++; /* skip escapes (e.g. '%]') */
		} while (*p != ']');
		return p + 1;
	default:
		return p;
	}
}

static int match_class(int c, int cl)
{
	int res;

	switch (tolower(cl)) {
	case 'a':
		res = isalpha(c);
		break;
	case 'c':
		res = iscntrl(c);
		break;
	case 'd':
		res = isdigit(c);
		break;
	case 'g':
		res = isgraph(c);
		break;
	case 'l':
		res = islower(c);
		break;
	case 'p':
		res = ispunct(c);
		break;
	case 's':
		res = isspace(c);
		break;
	case 'u':
		res = isupper(c);
		break;
	case 'w':
		res = isalnum(c);
		break;
	case 'x':
		res = isxdigit(c);
		break;
	case 'z':
		res = c == 0;
		break; /* deprecated, still stock */
	default:
		return cl == c;
	}
	if (isupper(cl))
		res = !res;
	return res;
}

/* c against the set [...] at p, whose closing ']' is at ec. */
static int match_set(int c, const char *p, const char *ec)
{
	int sig = 1;

	if (*(p + 1) == '^') {
		sig = 0;
		p++;
	}
	while (++p < ec) {
		if (*p == ESC) {
			p++;
			if (match_class(c, uc(*p)))
				return sig;
		} else if (*(p + 1) == '-' && p + 2 < ec) {
			p += 2;
			if (uc(*(p - 2)) <= c && c <= uc(*p))
				return sig;
		} else if (uc(*p) == c) {
			return sig;
		}
	}
	return !sig;
}

static int single_match(struct mstate *ms, const char *s, const char *p, const char *ep)
{
	int c;

	if (s >= ms->src_end)
		return 0;
	c = uc(*s);
	switch (*p) {
	case '.':
		return 1;
	case ESC:
		return match_class(c, uc(*(p + 1)));
	case '[':
		return match_set(c, p, ep - 1);
	default:
		return uc(*p) == c;
	}
}

static const char *match_balance(struct mstate *ms, const char *s, const char *p)
{
	int b, e, cont = 1;

	if (p >= ms->p_end - 1)
		luaL_error(ms->L, "malformed pattern (missing arguments to '%%b')");
	if (*s != *p)
		return NULL;
	b = *p;
	e = *(p + 1);
	while (++s < ms->src_end) {
		step(ms, 1);
		if (*s == e) {
			if (--cont == 0)
				return s + 1;
		} else if (*s == b) {
			cont++;
		}
	}
	return NULL; /* the subject ends out of balance */
}

static const char *max_expand(struct mstate *ms, const char *s, const char *p, const char *ep)
{
	ptrdiff_t i = 0;

	while (single_match(ms, s + i, p, ep)) {
		step(ms, 1);
		i++;
	}
	/* the most repetitions first, one fewer at a time */
	for (; i >= 0; i--) {
		const char *res = match(ms, s + i, ep + 1);

		if (res)
			return res;
	}
	return NULL;
}

static const char *min_expand(struct mstate *ms, const char *s, const char *p, const char *ep)
{
	for (;;) {
		const char *res = match(ms, s, ep + 1);

		if (res)
			return res;
		if (!single_match(ms, s, p, ep))
			return NULL;
		s++; /* one more repetition */
	}
}

static const char *start_capture(struct mstate *ms, const char *s, const char *p, int what)
{
	const char *res;

	if (ms->level >= MAXCAPTURES)
		luaL_error(ms->L, "too many captures");
	ms->cap[ms->level].init = s;
	ms->cap[ms->level].len = what;
	ms->level++;
	res = match(ms, s, p);
	if (!res)
		ms->level--; /* undo the capture */
	return res;
}

static const char *end_capture(struct mstate *ms, const char *s, const char *p)
{
	int l = capture_to_close(ms);
	const char *res;

	ms->cap[l].len = s - ms->cap[l].init;
	res = match(ms, s, p);
	if (!res)
		ms->cap[l].len = CAP_UNFINISHED;
	return res;
}

static const char *match_capture(struct mstate *ms, const char *s, int l)
{
	size_t len;

	l = check_capture(ms, l);
	len = (size_t)ms->cap[l].len; /* a position capture is huge: it never matches, as stock */
	if ((size_t)(ms->src_end - s) < len)
		return NULL;
	step(ms, (long)(len / 16));
	return memcmp(ms->cap[l].init, s, len) ? NULL : s + len;
}

/* A frontier %f[set] at p (after the "%f"): the set's end, or NULL when s is not on it. */
static const char *frontier(struct mstate *ms, const char *s, const char *p)
{
	const char *ep;
	char prev;

	if (*p != '[')
		luaL_error(ms->L, "missing '[' after '%%f' in pattern");
	ep = class_end(ms, p);
	prev = s == ms->src_init ? '\0' : *(s - 1);
	/* *s is the subject's terminating NUL at its end, as stock */
	if (!match_set(uc(prev), p, ep - 1) && match_set(uc(*s), p, ep - 1))
		return ep;
	return NULL;
}

/* An item (a class and its optional suffix) at p; *pp is where matching goes on. */
static const char *match_item(struct mstate *ms, const char *s, const char **pp, int *more)
{
	const char *p = *pp, *ep = class_end(ms, p), *res;

	*more = 0;
	if (!single_match(ms, s, p, ep)) {
		if (*ep == '*' || *ep == '?' || *ep == '-') { /* accepts empty */
			*pp = ep + 1;
			*more = 1;
			return s;
		}
		return NULL; /* '+' or no suffix */
	}
	switch (*ep) {
	case '?':
		res = match(ms, s + 1, ep + 1);
		if (res)
			return res;
		*pp = ep + 1;
		*more = 1;
		return s;
	case '+':
		return max_expand(ms, s + 1, p, ep);
	case '*':
		return max_expand(ms, s, p, ep);
	case '-':
		return min_expand(ms, s, p, ep);
	default:
		*pp = ep;
		*more = 1;
		return s + 1;
	}
}

/*
 * Matches the pattern from p against the subject from s: the end of the
 * match, or NULL. Tail positions loop instead of recursing, as stock.
 */
static const char *match(struct mstate *ms, const char *s, const char *p)
{
	int more;

	if (ms->depth-- == 0)
		luaL_error(ms->L, "pattern too complex");
	while (p != ms->p_end) {
		step(ms, 1);
		switch (*p) {
		case '(':
			if (*(p + 1) == ')')
				s = start_capture(ms, s, p + 2, CAP_POSITION);
			else
				s = start_capture(ms, s, p + 1, CAP_UNFINISHED);
			goto out;
		case ')':
			s = end_capture(ms, s, p + 1);
			goto out;
		case '$':
			if (p + 1 != ms->p_end)
				break; /* not the last: a literal '$' */
			s = s == ms->src_end ? s : NULL;
			goto out;
		case ESC:
			switch (*(p + 1)) {
			case 'b':
				s = match_balance(ms, s, p + 2);
				if (!s)
					goto out;
				p += 4;
				continue;
			case 'f':
				p = frontier(ms, s, p + 2);
				if (!p) {
					s = NULL;
					goto out;
				}
				continue;
			case '0':
			case '1':
			case '2':
			case '3':
			case '4':
			case '5':
			case '6':
			case '7':
			case '8':
			case '9':
				s = match_capture(ms, s, uc(*(p + 1)));
				if (!s)
					goto out;
				p += 2;
				continue;
			default:
				break;
			}
			break;
		default:
			break;
		}
		s = match_item(ms, s, &p, &more);
		if (!s || !more)
			goto out;
	}
out:
	ms->depth++;
	return s;
}

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

static void prepare(struct mstate *ms, lua_State *L, const char *s, size_t ls, const char *p,
		    size_t lp)
{
	ms->L = L;
	ms->depth = MAXCCALLS;
	ms->src_init = s;
	ms->src_end = s + ls;
	ms->p_end = p + lp;
	ms->steps = 0;
}

/* A match tried at the next position: one step, so that an empty pattern pays for each too. */
static void restart(struct mstate *ms)
{
	ms->level = 0;
	step(ms, 1);
}

/* Charges what is left uncharged: short calls pay too. */
static void settle(struct mstate *ms)
{
	long s = ms->steps;

	ms->steps = 0;
	if (s)
		vg_lua_charge(ms->L, s);
}

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
	prepare(&ms, L, s, ls, p, lp);
	do {
		const char *res;

		restart(&ms);
		res = match(&ms, s1, p);
		if (res) {
			settle(&ms);
			if (find) {
				lua_pushinteger(L, (s1 - s) + 1);
				lua_pushinteger(L, res - s);
				return push_captures(&ms, NULL, NULL) + 2;
			}
			return push_captures(&ms, s1, res);
		}
	} while (s1++ < ms.src_end && !anchor);
	settle(&ms);
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

		restart(&gm->ms);
		e = match(&gm->ms, src, gm->p);
		if (e && e != gm->lastmatch) {
			gm->src = gm->lastmatch = e;
			settle(&gm->ms);
			return push_captures(&gm->ms, src, e);
		}
	}
	settle(&gm->ms);
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
	prepare(&gm->ms, L, s, ls, p, lp);
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
	prepare(&ms, L, src, srcl, p, lp);
	while (n < max_s) {
		const char *e;

		restart(&ms);
		e = match(&ms, src, p);
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
	settle(&ms);
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
