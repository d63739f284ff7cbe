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
#include <string.h>

#include <lauxlib.h>

#include "lua_pattern_priv.h"

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
		const char *res = pattern_match(ms, s + i, ep + 1);

		if (res)
			return res;
	}
	return NULL;
}

static const char *min_expand(struct mstate *ms, const char *s, const char *p, const char *ep)
{
	for (;;) {
		const char *res = pattern_match(ms, s, ep + 1);

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
	res = pattern_match(ms, s, p);
	if (!res)
		ms->level--; /* undo the capture */
	return res;
}

static const char *end_capture(struct mstate *ms, const char *s, const char *p)
{
	int l = capture_to_close(ms);
	const char *res;

	ms->cap[l].len = s - ms->cap[l].init;
	res = pattern_match(ms, s, p);
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
		res = pattern_match(ms, s + 1, ep + 1);
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
const char *pattern_match(struct mstate *ms, const char *s, const char *p)
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

void pattern_prepare(struct mstate *ms, lua_State *L, const char *s, size_t ls, const char *p,
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
void pattern_restart(struct mstate *ms)
{
	ms->level = 0;
	step(ms, 1);
}

/* Charges what is left uncharged: short calls pay too. */
void pattern_settle(struct mstate *ms)
{
	long s = ms->steps;

	ms->steps = 0;
	if (s)
		vg_lua_charge(ms->L, s);
}
