// SPDX-License-Identifier: BSD-2-Clause
/* The Lua sandbox: what a policy may not do, and budgets that stop it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <lua.h>

#include "lua_host.h"

static int run(struct vg_lua *h, const char *src, char *err, size_t n)
{
	lua_State *L = vg_lua_state(h);
	int rc = vg_lua_run_chunk(h, src, strlen(src), "=test", 1, 100000, err, n);

	if (rc == VG_LUA_OK)
		lua_pop(L, 1);
	return rc;
}

static void test_forbidden(void **state)
{
	static const char *const refused[] = {
		"return io.open('/etc/passwd')",
		"return os.execute('true')",
		"return os.getenv('HOME')",
		"return load('return 1')()",
		"return loadstring('return 1')()",
		"return dofile('/etc/passwd')",
		"return loadfile('/etc/passwd')",
		"return require('io')",
		"return debug.getinfo(1)",
		"return collectgarbage('count')",
		"return rawset(_ENV, 'x', 1)",
		"return string.dump(function() end)",
		"return package.loaded",
		"x = 1",				/* globals are read-only */
		"string.upper = nil",			/* so are the libraries */
		"getmetatable('').__index = {}",	/* and the string metatable */
		"setmetatable(_ENV, nil)",
		/* finalizers run with hooks off: they could loop past the budget */
		"setmetatable({}, { __gc = function() while true do end end })",
		/* Lua patterns backtrack inside C, out of the hook's reach */
		"return string.find(string.rep('a', 3000), '.-.-.-.-.-.-b')",
		"return ('x'):match('a*b*c*d*e*')",
		"return string.find(string.rep('a', 100000), 'a')",
	};
	struct vg_lua *h = vg_lua_new(0);
	char err[512];

	(void)state;
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		int rc = run(h, refused[i], err, sizeof(err));

		print_message("%s -> %s\n", refused[i], rc ? err : "ALLOWED");
		assert_int_equal(rc, VG_LUA_ERROR);
	}
	/* what policies need still works */
	assert_int_equal(run(h, "return string.format('%d', #('abc'):upper()) .. table.concat({1,2}) .. math.max(1,2)", err, sizeof(err)), VG_LUA_OK);
	assert_int_equal(run(h, "local t = setmetatable({}, {}) return pcall(error, 'x')", err, sizeof(err)), VG_LUA_OK);
	assert_int_equal(run(h, "return string.find(string.rep('a', 100000), '.-.-.-.-.-.-b', 1, true)", err, sizeof(err)), VG_LUA_OK);
	assert_int_equal(run(h, "return ('--version'):find('^%-%-ver.*')", err, sizeof(err)), VG_LUA_OK);
	vg_lua_free(h);
}

static void test_text_chunks_only(void **state)
{
	struct vg_lua *h = vg_lua_new(0);
	char err[512];
	static const char bin[] = "\x1bLua\x54\x00 binary";
	int rc;

	(void)state;
	rc = vg_lua_run_chunk(h, bin, sizeof(bin) - 1, "=bin", 0, 1000, err, sizeof(err));
	assert_int_equal(rc, VG_LUA_ERROR);
	assert_non_null(strstr(err, "binary"));
	vg_lua_free(h);
}

static void test_runaway_stopped(void **state)
{
	struct vg_lua *h = vg_lua_new(0);
	struct vg_lua_stats st;
	char err[512];

	(void)state;
	assert_int_equal(run(h, "while true do end", err, sizeof(err)), VG_LUA_BUDGET);
	assert_non_null(strstr(err, "instruction budget"));
	assert_non_null(strstr(err, "test:1"));
	/* pcall cannot swallow the stop: the next instruction outside it raises again */
	assert_int_equal(run(h, "while true do pcall(function() while true do end end) end", err,
			     sizeof(err)),
			 VG_LUA_BUDGET);
	/* the state is fine afterwards */
	assert_int_equal(run(h, "return 1 + 1", err, sizeof(err)), VG_LUA_OK);
	vg_lua_stats(h, &st);
	assert_int_equal(st.budget_stops, 2);
	vg_lua_free(h);
}

static void test_memory_cap(void **state)
{
	struct vg_lua *h = vg_lua_new(4 << 20);
	char err[512];

	(void)state;
	assert_int_equal(run(h, "local t = {} for i = 1, 100 do t[i] = string.rep('x', 1024 * 1024) .. i end", err, sizeof(err)),
			 VG_LUA_NOMEM);
	assert_int_equal(run(h, "return string.rep('x', 64 * 1024 * 1024)", err, sizeof(err)),
			 VG_LUA_NOMEM);
	assert_non_null(strstr(err, "memory cap"));
	assert_int_equal(run(h, "return #string.rep('x', 1000)", err, sizeof(err)), VG_LUA_OK);
	vg_lua_free(h);
}

static void test_errors_carry_position(void **state)
{
	struct vg_lua *h = vg_lua_new(0);
	char err[512];

	(void)state;
	assert_int_equal(run(h, "local a = nil\nreturn a.b", err, sizeof(err)), VG_LUA_ERROR);
	assert_non_null(strstr(err, "test:2:"));
	assert_int_equal(run(h, "error({})", err, sizeof(err)), VG_LUA_ERROR);
	assert_non_null(strstr(err, "error object is a table"));
	vg_lua_free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_forbidden),
		cmocka_unit_test(test_text_chunks_only),
		cmocka_unit_test(test_runaway_stopped),
		cmocka_unit_test(test_memory_cap),
		cmocka_unit_test(test_errors_carry_position),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
