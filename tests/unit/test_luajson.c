// SPDX-License-Identifier: BSD-2-Clause
/*
 * vigil.json_encode's one-pass encoder against the jansson path it replaced:
 * for every value both accept, the same bytes; for every value jansson
 * refuses, a refusal with the same reason.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <lauxlib.h>
#include <lualib.h>

#include "luajson.h"

/* Both encoders on the value at the top of L; returns the one-pass text (or NULL) and checks it
 * against jansson. */
static void same(lua_State *L, const char *what)
{
	char e1[256] = "", e2[256] = "";
	int top = lua_gettop(L);
	json_t *j = vg_lua_to_json(L, -1, e1, sizeof(e1));
	int rc = vg_lua_encode_json(L, -1, e2, sizeof(e2));

	if (j) {
		char *want = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);

		if (rc)
			fail_msg("%s: refused (%s), jansson wrote %s", what, e2, want);
		if (strcmp(lua_tostring(L, -1), want))
			fail_msg("%s:\n got  %s\n want %s", what, lua_tostring(L, -1), want);
		free(want);
		json_decref(j);
	} else {
		if (!rc)
			fail_msg("%s: wrote %s, jansson refused (%s)", what, lua_tostring(L, -1),
				 e1);
		assert_string_equal(e1, e2);
	}
	lua_settop(L, top);
}

static void eval(lua_State *L, const char *expr)
{
	char src[1024];

	snprintf(src, sizeof(src), "return %s", expr);
	if (luaL_dostring(L, src))
		fail_msg("%s: %s", expr, lua_tostring(L, -1));
}

static void test_cases(void **state)
{
	static const char *const cases[] = {
		"nil",
		"true",
		"false",
		"0",
		"-7",
		"math.maxinteger",
		"math.mininteger",
		"0.5",
		"-0.0",
		"1.0",
		"0.1",
		"1e20",
		"1e-5",
		"1e300",
		"-2.5e-300",
		"123456789.125",
		"''",
		"'plain'",
		"'quote \" and \\\\ back'",
		"'\\b\\f\\n\\r\\t'",
		"'\\0\\1\\31\\127'",
		"'/slash/'",
		"'caf\\xc3\\xa9 \\xe2\\x82\\xac \\xf0\\x9f\\x98\\x80'",
		"{}",
		"{1, 2, 3}",
		"{'a', {'b', {}}, true}",
		"{a = 1}",
		"{a = {b = {c = 'd'}}, e = {1, 2}}",
		"{[1] = 'x', [3] = 'y'}",
		"{1, 2, x = 3}",
		"{n = 0.25, s = 'x\\ny'}",
		"{['k\\0z'] = 1}",
		"{['a\\0b'] = 1, ['a\\0c'] = 2}",
		"{['\\xc3\\xa9'] = 'é'}",
		"{['\\xff'] = 1}",
		/* refused, by both */
		"1/0",
		"-1/0",
		"0/0",
		"{1/0}",
		"print",
		"{f = print}",
		"{[true] = 1}",
		"{[1.5] = 1}",
		"'\\xff'",
		"'\\xc0\\x80'",
		"'\\xed\\xa0\\x80'",
		"'\\xf4\\x90\\x80\\x80'",
		"'abc\\xe2\\x82'",
		"{x = '\\x80'}",
		"coroutine.create(print)",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		lua_State *L = luaL_newstate();

		luaL_openlibs(L);
		eval(L, cases[i]);
		same(L, cases[i]);
		lua_close(L);
	}
}

static void test_cycle_and_depth(void **state)
{
	lua_State *L = luaL_newstate();
	char err[256];

	(void)state;
	luaL_openlibs(L);
	eval(L, "(function() local t = {} t.self = t return t end)()");
	same(L, "a cycle");
	eval(L, "(function() local t = {} for i = 1, 33 do t = {t} end return t end)()");
	same(L, "33 levels");
	assert_int_equal(vg_lua_encode_json(L, -1, err, sizeof(err)), -ELOOP);
	assert_non_null(strstr(err, "32 levels"));
	lua_close(L);
}

/* Random documents: nested tables of strings (control bytes, UTF-8), integers and reals. */
static void gen(lua_State *L, unsigned *seed, int depth)
{
	static const char *const pieces[] = {"a",   "Z",	"\"",		"\\",
					     "\n",  "\x01",	"\x1f",		" ",
					     "/",   "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80",
					     "\x7f"};
	int kind = depth > 3 ? rand_r(seed) % 4 : rand_r(seed) % 6;

	switch (kind) {
	case 0: {
		char s[64] = "";
		int n = rand_r(seed) % 8;

		for (int i = 0; i < n; i++)
			strcat(s, pieces[rand_r(seed) % (sizeof(pieces) / sizeof(pieces[0]))]);
		lua_pushstring(L, s);
		break;
	}
	case 1:
		lua_pushinteger(L, (lua_Integer)rand_r(seed) - RAND_MAX / 2);
		break;
	case 2:
		lua_pushnumber(L, ((double)rand_r(seed) - RAND_MAX / 2) /
					  ((rand_r(seed) % 1000) + 1) *
					  ((rand_r(seed) % 2) ? 1e-9 : 1e12));
		break;
	case 3:
		lua_pushboolean(L, rand_r(seed) % 2);
		break;
	case 4: {
		int n = rand_r(seed) % 5;

		lua_createtable(L, n, 0);
		for (int i = 1; i <= n; i++) {
			gen(L, seed, depth + 1);
			lua_rawseti(L, -2, i);
		}
		break;
	}
	default: {
		int n = rand_r(seed) % 5;

		lua_createtable(L, 0, n);
		for (int i = 0; i < n; i++) {
			char k[16];

			snprintf(k, sizeof(k), "%s%d", i % 2 ? "k\xc3\xa9" : "key\"",
				 rand_r(seed) % 100);
			gen(L, seed, depth + 1);
			lua_setfield(L, -2, k);
		}
	}
	}
}

static void test_random(void **state)
{
	lua_State *L = luaL_newstate();
	unsigned seed = 20261126;

	(void)state;
	for (int i = 0; i < 20000; i++) {
		char what[32];

		snprintf(what, sizeof(what), "random document %d", i);
		gen(L, &seed, 0);
		same(L, what);
		lua_pop(L, 1);
	}
	lua_close(L);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_cycle_and_depth),
		cmocka_unit_test(test_random),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
