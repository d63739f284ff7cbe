// SPDX-License-Identifier: BSD-2-Clause
/* The Lua sandbox: what a policy may not do, and budgets that stop it. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <cmocka.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

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
		"x = 1",			 /* globals are read-only */
		"string.upper = nil",		 /* so are the libraries */
		"getmetatable('').__index = {}", /* and the string metatable */
		"setmetatable(_ENV, nil)",
		/* finalizers run with hooks off: they could loop past the budget */
		"setmetatable({}, { __gc = function() while true do end end })",
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
	assert_int_equal(run(h,
			     "return string.format('%d', #('abc'):upper()) .. table.concat({1,2}) "
			     ".. math.max(1,2)",
			     err, sizeof(err)),
			 VG_LUA_OK);
	assert_int_equal(
		run(h, "local t = setmetatable({}, {}) return pcall(error, 'x')", err, sizeof(err)),
		VG_LUA_OK);
	assert_int_equal(
		run(h, "return string.find(string.rep('a', 100000), '.-.-.-.-.-.-b', 1, true)", err,
		    sizeof(err)),
		VG_LUA_OK);
	assert_int_equal(run(h, "return ('--version'):find('^%-%-ver.*')", err, sizeof(err)),
			 VG_LUA_OK);
	/* bounded by the budget now, not by a guard: long subjects and many repeats work */
	assert_int_equal(run(h, "return ('x'):match('a*b*c*d*e*')", err, sizeof(err)), VG_LUA_OK);
	assert_int_equal(
		run(h, "return string.find(string.rep('a', 100000), 'a')", err, sizeof(err)),
		VG_LUA_OK);
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
	assert_int_equal(
		run(h,
		    "local t = {} for i = 1, 100 do t[i] = string.rep('x', 1024 * 1024) .. i end",
		    err, sizeof(err)),
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

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/*
 * The differential corpus: the same chunk runs in the stock library and in
 * the sandbox (whose find, match, gmatch and gsub are lua_pattern.c's), and
 * prints every result, error message included, one line a call. Fixed cases
 * cover each feature; a deterministic generator adds random patterns and
 * subjects.
 */
static const char corpus[] =
	"local out, n = {}, 0\n"
	"local function ser(...)\n"
	"  local t = table.pack(...)\n"
	"  local r = {}\n"
	"  for i = 1, t.n do local v = t[i]\n"
	"    r[#r + 1] = (math.type(v) or type(v)) .. ':' .. tostring(v) end\n"
	"  return table.concat(r, ',')\n"
	"end\n"
	"local function gm(s, p, init)\n"
	"  local r, k = {}, 0\n"
	"  for a, b, c in string.gmatch(s, p, init) do\n"
	"    k = k + 1; r[k] = ser(a, b, c); if k > 40 then break end end\n"
	"  return table.concat(r, ';')\n"
	"end\n"
	"local function probe(s, p, init)\n"
	"  n = n + 1\n"
	"  out[#out + 1] = table.concat({ ('%q %q'):format(s, p), ser(pcall(string.find, s, p, "
	"init)),\n"
	"    ser(pcall(string.match, s, p, init)), ser(pcall(gm, s, p, init)),\n"
	"    ser(pcall(string.gsub, s, p, '<%0>')), ser(pcall(string.gsub, s, p, '%1|')),\n"
	"    ser(pcall(string.gsub, s, p, function(a, b) return b or a end, 3)),\n"
	"    ser(pcall(string.gsub, s, p, { a = 'A', ab = 1 })),\n"
	"    ser(pcall(s.find, s, p, 1, true)) }, ' | ')\n"
	"end\n"
	"local fixed = {\n"
	"  { 'hello world', 'o w' }, { 'hello world', '^h.-o' }, { 'hello', 'l+' },\n"
	"  { 'hello', 'l*$' }, { 'x = 10, y = 20', '(%w+)%s*=%s*(%d+)' }, { 'abc', '()b()' },\n"
	"  { 'THE (quick) fox', '%((%a+)%)' }, { 'f(a(b)c)d', '%b()' }, { 'aaa', 'a-' },\n"
	"  { 'THE (quick) fox', '%f[%a]%a+' }, { 'hello', '%f[%l]' }, { 'abab', '(ab)%1' },\n"
	"  { 'a.b', '%.' }, { 'a]b', '[]]' }, { 'a]b', '[%]]' }, { 'a-b', '[a-]' },\n"
	"  { 'x^y', 'x^y' }, { 'a$b', 'a$b' }, { '$', '$' }, { '', '' }, { '', '^$' },\n"
	"  { 'abc', '' }, { 'abc', '[' }, { 'abc', '[a' }, { 'abc', '%' }, { 'abc', '(' },\n"
	"  { 'abc', ')' }, { 'abc', '%1' }, { 'abc', '(a)%2' }, { 'abc', '%b' }, { 'abc', '%bx' "
	"},\n"
	"  { 'abc', '%fa' }, { 'abc', '%g+' }, { 'a\\0b', '%z' }, { 'a\\0b', '\\0' },\n"
	"  { 'a\\0b', '[\\0]' }, { 'A1_b', '[%w_]+' }, { 'A1_b', '[^%u]+' }, { ' \\t\\n', '%s+' "
	"},\n"
	"  { 'abc', '.-$' }, { 'abc', '^(a)(b)(c)$' }, { 'aaa', '^a?a?a?a?$' },\n"
	"  { 'key=val', '(%w+)=(%w*)' }, { 'abc', '((a)(b))' }, { 'abc', '(()a)' },\n"
	"  { 'abc', '(a' }, { 'a+b', 'a+b' }, { 'a+b', 'a%+b' }, { '[x]', '%[(.)%]' },\n"
	"  { ('a'):rep(250), ('a?'):rep(250) }, { 'abc', ('('):rep(33) .. 'a' .. (')'):rep(33) },\n"
	"  { 'hello', 'l', -2 }, { 'hello', 'l', 10 }, { 'hello', 'l', -10 }, { 'hello', '', 6 },\n"
	"  { 'hello', '', 7 }, { 'hello', 'o', 0 }, { 'ab', '%f[%w]', 3 },\n"
	"}\n"
	"for _, c in ipairs(fixed) do probe(c[1], c[2], c[3]) end\n"
	"local seed = 12345\n"
	"local function rnd(k) seed = (seed * 1103515245 + 12345) % 2147483648; return seed % k + "
	"1 end\n"
	"local atoms = { '.', 'a', 'b', '%a', '%d', '%s', '%w', '%W', '[ab]', '[^a]', '[a-c]',\n"
	"  '[%d%s]', '%%', '(', ')', '()', '%1', '%b()', '%f[%w]', '%f[%W]', '^', '$', 'x', '%(',\n"
	"  '[%]]', '1', ' ' }\n"
	"local sufs = { '', '', '', '*', '+', '-', '?' }\n"
	"local alpha = { 'a', 'b', 'c', '(', ')', ' ', '1', 'x', '%', ']', 'A' }\n"
	"for _ = 1, 4000 do\n"
	"  local p, s = {}, {}\n"
	"  for i = 1, rnd(6) do p[i] = atoms[rnd(#atoms)] .. sufs[rnd(#sufs)] end\n"
	"  for i = 1, rnd(12) - 1 do s[i] = alpha[rnd(#alpha)] end\n"
	"  probe(table.concat(s), table.concat(p), rnd(3) == 1 and rnd(14) - 7 or nil)\n"
	"end\n"
	"return table.concat(out, '\\n')\n";

static void test_patterns_as_stock(void **state)
{
	struct vg_lua_opts o = {.time_ms = 600000};
	struct vg_lua *h = vg_lua_new_opts(&o);
	lua_State *ref = luaL_newstate();
	const char *want, *got;
	size_t nwant, ngot;
	char err[512];
	int line = 1;

	(void)state;
	luaL_openlibs(ref);
	assert_int_equal(luaL_loadbuffer(ref, corpus, strlen(corpus), "=corpus"), LUA_OK);
	if (lua_pcall(ref, 0, 1, 0) != LUA_OK)
		fail_msg("stock: %s", lua_tostring(ref, -1));
	want = lua_tolstring(ref, -1, &nwant);
	if (vg_lua_run_chunk(h, corpus, strlen(corpus), "=corpus", 1, 1L << 60, err, sizeof(err)))
		fail_msg("sandbox: %s", err);
	got = lua_tolstring(vg_lua_state(h), -1, &ngot);
	for (size_t i = 0; i < nwant || i < ngot; i++) {
		if (i >= nwant || i >= ngot || want[i] != got[i]) {
			const char *w = want + i, *g = got + i;

			while (w > want && w[-1] != '\n')
				w--, g--;
			fail_msg("line %d differs:\nstock:   %.*s\nsandbox: %.*s", line,
				 (int)strcspn(w, "\n"), w, (int)strcspn(g, "\n"), g);
		}
		line += want[i] == '\n';
	}
	print_message("%d lines identical\n", line);
	assert_true(line > 4000);
	lua_close(ref);
	vg_lua_free(h);
}

/* The probe that hung the daemon for good: the matcher now draws on the budget. */
static void test_hostile_pattern_stopped(void **state)
{
	static const char *const hostile[] = {
		"return string.rep('a', 65536):find('.-.-b') ~= nil",
		"local s = string.rep('a', 65536) return s:match('(.-)(.-)(.-)b')",
		"local s = string.rep('a', 65536) for _ in s:gmatch('.-.-b') do end",
		"return (string.rep('a', 65536):gsub('.-.-b', ''))",
		/* caught and retried: still stopped */
		"local s = string.rep('a', 65536) while true do pcall(s.find, s, '.-.-b') end",
	};
	struct vg_lua *h = vg_lua_new(0);
	char err[512];

	(void)state;
	for (size_t i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++) {
		double t0 = now_s();
		int rc = vg_lua_run_chunk(h, hostile[i], strlen(hostile[i]), "=hostile", 0, 1000000,
					  err, sizeof(err));

		print_message("%s -> %d %s (%.3f s)\n", hostile[i], rc, err, now_s() - t0);
		assert_int_equal(rc, VG_LUA_BUDGET);
		assert_non_null(strstr(err, "instruction budget exceeded"));
		assert_true(now_s() - t0 < 5.0);
	}
	/* a plain find is linear (memmem), not quadratic in the needle */
	{
		static const char plain[] = "return string.rep('a', 20000000):find(string.rep('a', "
					    "1000) .. 'b', 1, true)";
		double t0 = now_s();

		assert_int_equal(vg_lua_run_chunk(h, plain, strlen(plain), "=plain", 0, 1000000,
						  err, sizeof(err)),
				 VG_LUA_OK);
		assert_true(now_s() - t0 < 5.0);
	}
	vg_lua_free(h);
}

/* C loops a script sizes itself are charged before they run. */
static void test_c_loops_charged(void **state)
{
	static const char *const big[] = {
		"table.move({}, 1, 1e12, 1, {})",
		"table.concat({}, '', 1, 1e12)",
		"table.unpack({}, 1, 1e12)",
		"local t = table.pack(string.byte(string.rep('a', 900000), 1, -1)) table.sort(t)",
		/* an empty pattern tried at each of 4 M positions, a table replacement */
		"string.gsub(string.rep('x', 4000000), '', {})",
		"for _ in string.gmatch(string.rep('x', 4000000), '') do end",
	};
	struct vg_lua *h = vg_lua_new(0);
	char err[512];

	(void)state;
	for (size_t i = 0; i < sizeof(big) / sizeof(big[0]); i++) {
		int rc = vg_lua_run_chunk(h, big[i], strlen(big[i]), "=big", 0, 1000000, err,
					  sizeof(err));

		print_message("%s -> %s\n", big[i], err);
		assert_int_equal(rc, VG_LUA_BUDGET);
	}
	assert_int_equal(run(h,
			     "local t = {3, 1, 2} table.sort(t) return table.concat(t, ',') .. "
			     "table.concat(table.move(t, 1, 3, 1, {}))",
			     err, sizeof(err)),
			 VG_LUA_OK);
	/* empty pieces: stock string.rep loops 2^63 times copying nothing */
	assert_int_equal(run(h,
			     "assert(string.rep('', math.maxinteger) == '') "
			     "assert(('').rep('', math.maxinteger, '') == '') "
			     "assert(string.rep('ab', 3, '-') == 'ab-ab-ab')",
			     err, sizeof(err)),
			 VG_LUA_OK);
	vg_lua_free(h);
}

/* A wall-time backstop, whatever the budget. */
static void test_time_limit(void **state)
{
	struct vg_lua_opts o = {.time_ms = 100};
	struct vg_lua *h = vg_lua_new_opts(&o);
	double t0 = now_s();
	char err[512];

	(void)state;
	assert_int_equal(vg_lua_run_chunk(h, "while true do end", 17, "=slow", 0, 1L << 60, err,
					  sizeof(err)),
			 VG_LUA_BUDGET);
	assert_non_null(strstr(err, "time limit exceeded"));
	assert_true(now_s() - t0 < 3.0);
	vg_lua_free(h);
}

static struct vg_lua *sig_host;

static void on_alarm(int sig)
{
	(void)sig;
	vg_lua_interrupt();
}

/* A signal stops the running call, in Lua or in the matcher, and refuses new ones. */
static void test_interrupt(void **state)
{
	static const char *const loops[] = {
		"while true do end",
		"local s = string.rep('a', 65536) while true do pcall(s.find, s, '.-.-b') end",
	};
	struct vg_lua_opts o = {.time_ms = 600000};
	struct sigaction sa = {.sa_handler = on_alarm};
	char err[512];

	(void)state;
	sig_host = vg_lua_new_opts(&o);
	sigaction(SIGALRM, &sa, NULL);
	for (size_t i = 0; i < sizeof(loops) / sizeof(loops[0]); i++) {
		struct itimerval it = {.it_value = {0, 200000}};
		double t0 = now_s();

		vg_lua_interrupt_clear();
		setitimer(ITIMER_REAL, &it, NULL);
		assert_int_equal(vg_lua_run_chunk(sig_host, loops[i], strlen(loops[i]), "=loop", 0,
						  1L << 60, err, sizeof(err)),
				 VG_LUA_INTERRUPTED);
		assert_true(now_s() - t0 < 3.0);
		assert_non_null(strstr(err, "shutting down"));
		/* and nothing new starts */
		assert_int_equal(run(sig_host, "return 1", err, sizeof(err)), VG_LUA_INTERRUPTED);
	}
	vg_lua_interrupt_clear();
	assert_int_equal(run(sig_host, "return 1", err, sizeof(err)), VG_LUA_OK);
	signal(SIGALRM, SIG_DFL);
	vg_lua_free(sig_host);
}

/* Several states on one pool: each has its own cap, and none takes the pool. */
static void test_pool(void **state)
{
	struct vg_lua_pool pool = {.cap = 12 << 20};
	struct vg_lua_opts o = {.mem_cap = 8 << 20, .pool = &pool};
	struct vg_lua *a = vg_lua_new_opts(&o), *b = vg_lua_new_opts(&o);
	char err[512];

	(void)state;
	assert_non_null(a);
	assert_non_null(b);
	assert_int_equal(
		run(a, "local t = {} for i = 1, 100 do t[i] = string.rep('x', 1 << 20) .. i end",
		    err, sizeof(err)),
		VG_LUA_NOMEM);
	assert_non_null(strstr(err, "memory cap of 8 MiB"));
	assert_int_equal(run(b, "return #string.rep('x', 2 << 20)", err, sizeof(err)), VG_LUA_OK);
	vg_lua_free(a);
	vg_lua_free(b);
	assert_int_equal(pool.used, 0);
}

/* Trusted C calling a sandbox function directly (no vg_lua_call): patterns work, unbudgeted. */
static void test_charge_outside_a_call(void **state)
{
	struct vg_lua *h = vg_lua_new(0);
	lua_State *L = vg_lua_state(h);

	(void)state;
	luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
	lua_getfield(L, -1, "string");
	lua_getfield(L, -1, "match");
	lua_pushliteral(L, "tls://siem.example:6514");
	lua_pushliteral(L, "^(%a+)://.+:(%d+)$");
	assert_int_equal(lua_pcall(L, 2, 2, 0), LUA_OK);
	assert_string_equal(lua_tostring(L, -2), "tls");
	assert_string_equal(lua_tostring(L, -1), "6514");
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
		cmocka_unit_test(test_patterns_as_stock),
		cmocka_unit_test(test_hostile_pattern_stopped),
		cmocka_unit_test(test_c_loops_charged),
		cmocka_unit_test(test_time_limit),
		cmocka_unit_test(test_interrupt),
		cmocka_unit_test(test_pool),
		cmocka_unit_test(test_charge_outside_a_call),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
