// SPDX-License-Identifier: BSD-2-Clause
/*
 * A policy's definition as the API shows it: the Lua to JSON conversion for
 * people (functions, nesting, cycles, depth, odd keys and strings, the size
 * bound), and the definition the engine builds at load from a policy file.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <lauxlib.h>
#include <lualib.h>

#include "engine.h"
#include "luajson.h"

/* The value expr as shown, compact with sorted keys (a new string). */
static char *shown(lua_State *L, const char *expr, size_t budget, bool *truncated)
{
	struct vg_lua_show s = {.left = budget};
	char src[2048];
	json_t *j;
	char *out;

	snprintf(src, sizeof(src), "return %s", expr);
	if (luaL_dostring(L, src))
		fail_msg("%s: %s", expr, lua_tostring(L, -1));
	j = vg_lua_show_json(L, -1, &s);
	assert_non_null(j);
	lua_pop(L, 1);
	out = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
	json_decref(j);
	if (truncated)
		*truncated = s.truncated;
	return out;
}

static void expect(lua_State *L, const char *expr, const char *want)
{
	bool trunc;
	char *got = shown(L, expr, 1 << 20, &trunc);

	if (strcmp(got, want))
		fail_msg("%s:\n got  %s\n want %s", expr, got, want);
	assert_false(trunc);
	free(got);
}

static void test_show_values(void **state)
{
	lua_State *L = luaL_newstate();

	(void)state;
	luaL_openlibs(L);
	expect(L, "{ a = 1, b = 'x', c = true, d = 1.5 }",
	       "{\"a\":1,\"b\":\"x\",\"c\":true,\"d\":1.5}");
	expect(L, "{ 'apt', 'dpkg' }", "[\"apt\",\"dpkg\"]");
	expect(L, "{}", "{}");
	expect(L, "{ f = function() end, g = print }",
	       "{\"f\":\"function (Lua)\",\"g\":\"function (C)\"}");
	expect(L, "{ ev = { argv = { 'a', { x = { 1, 2 } } } }, expect = false }",
	       "{\"ev\":{\"argv\":[\"a\",{\"x\":[1,2]}]},\"expect\":false}");
	/* a sparse list and mixed keys: an object with the keys as text */
	expect(L, "{ [1] = 'a', [3] = 'c' }", "{\"1\":\"a\",\"3\":\"c\"}");
	expect(L, "{ [true] = 1, [2.5] = 2 }", "{\"2.5\":2,\"true\":1}");
	expect(L, "{ 1/0, -1/0, 0/0 }", "[\"inf\",\"-inf\",\"nan\"]");
	expect(L, "{ s = 'caf\\xe9', ['k\\xff'] = 1 }", "{\"k?\":1,\"s\":\"caf?\"}");
	expect(L, "coroutine.create(print)", "\"thread\"");
	/* a table inside itself: the cycle is named, the rest is shown */
	expect(L, "(function() local t = { n = 1 } t.self = t t.list = { t } return t end)()",
	       "{\"list\":[\"(cycle)\"],\"n\":1,\"self\":\"(cycle)\"}");
	/* the same table twice, not inside itself, is no cycle */
	expect(L, "(function() local s = { 1 } return { a = s, b = s } end)()",
	       "{\"a\":[1],\"b\":[1]}");
	/* metamethods never run: a raw read */
	expect(L,
	       "setmetatable({ a = 1 }, { __index = function() error('ran') end,"
	       " __pairs = function() error('ran') end, __len = function() error('ran') end })",
	       "{\"a\":1}");
	lua_close(L);
}

static void test_show_depth(void **state)
{
	lua_State *L = luaL_newstate();
	char *got;
	const char *p;
	int levels = 0;

	(void)state;
	got = shown(L,
		    "(function() local t = {} local r = t for i = 1, 100 do t.x = {} t = t.x end"
		    " return r end)()",
		    1 << 20, NULL);
	for (p = got; (p = strstr(p, "{\"x\":")); p++)
		levels++;
	assert_int_equal(levels, VG_LUA_SHOW_DEPTH);
	assert_non_null(strstr(got, "\"(too deep)\""));
	free(got);
	lua_close(L);
}

static void test_show_budget(void **state)
{
	lua_State *L = luaL_newstate();
	bool trunc;
	char *got;
	json_t *j;

	(void)state;
	luaL_openlibs(L);
	/* 1,000 strings of 100 bytes against 10 KiB: cut, marked, still JSON */
	got = shown(L,
		    "(function() local t = {} for i = 1, 1000 do t[i] = string.rep('a', 100) end"
		    " return { list = t, after = 1 } end)()",
		    10 << 10, &trunc);
	assert_true(trunc);
	assert_true(strlen(got) < 11 << 10);
	assert_non_null(strstr(got, "\"(truncated)\""));
	j = json_loads(got, 0, NULL);
	assert_non_null(j);
	assert_true(json_array_size(json_object_get(j, "list")) < 100);
	json_decref(j);
	free(got);
	/* within it: whole */
	got = shown(L, "{ 'a', 'b' }", 64, &trunc);
	assert_false(trunc);
	assert_string_equal(got, "[\"a\",\"b\"]");
	free(got);
	lua_close(L);
}

static char dir[64];

static struct vg_engine *load_policy(const char *body)
{
	struct vg_engine_opts o = {.dir = dir, .budget = 100000};
	struct vg_load_error *errs;
	struct vg_engine *e;
	char path[128];
	FILE *f;
	int n;

	snprintf(path, sizeof(path), "%s/p.lua", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(body, f);
	fclose(f);
	assert_int_equal(vg_engine_load(&e, &o, &errs, &n), 0);
	for (int i = 0; i < n; i++)
		print_message("load: %s\n", errs[i].msg);
	vg_load_errors_free(errs, n);
	unlink(path);
	assert_int_equal(n, 0);
	assert_int_equal(vg_engine_count(e), 1);
	return e;
}

static void test_policy_definition(void **state)
{
	struct vg_engine *e = load_policy(
		"-- a policy with every part\n"
		"return policy {\n"
		"\tname = 'every part', severity = 'high',\n"
		"\tmatch = { { process_name = { 'nc', 'ncat' }, not_process_args = '-h' },\n"
		"\t\t{ process_uid = 0, privileged = true } },\n"
		"\tscope = { namespace = 'prod', host = true },\n"
		"\texclude = { { deployment = 'debug.*' }, { labels = { team = 'sre' } } },\n"
		"\tcheck = function(ev)\n"
		"\t\treturn ev.uid == 0\n"
		"\tend,\n"
		"\ttests = { { ev = { exe = '/usr/bin/nc', args = '-l 80', uid = 0 }, expect = "
		"true },\n"
		"\t\t{ ev = { exe = '/usr/bin/nc', labels = { a = 'b' } }, expect = false } },\n"
		"}\n");
	const struct vg_policy_info *p = vg_engine_policy(e, 0);
	const json_t *d = p->definition, *c = json_object_get(d, "check");
	char file[128], *s;

	(void)state;
	assert_non_null(d);
	snprintf(file, sizeof(file), "%s/p.lua", dir);
	{
		s = json_dumps(json_object_get(d, "criteria"), JSON_COMPACT | JSON_SORT_KEYS);
		assert_string_equal(s, "[{\"not_process_args\":[\"-h\"],\"process_name\":[\"nc\","
				       "\"ncat\"]},{\"privileged\":true,\"process_uid\":[0]}]");
		free(s);
		s = json_dumps(json_object_get(d, "scope"), JSON_COMPACT | JSON_SORT_KEYS);
		assert_string_equal(s, "{\"host\":true,\"namespace\":[\"prod\"]}");
		free(s);
		s = json_dumps(json_object_get(d, "exclusions"), JSON_COMPACT | JSON_SORT_KEYS);
		assert_string_equal(
			s, "[{\"deployment\":[\"debug.*\"]},{\"labels\":{\"team\":\"sre\"}}]");
		free(s);
		s = json_dumps(json_object_get(d, "tests"), JSON_COMPACT | JSON_SORT_KEYS);
		assert_string_equal(
			s, "[{\"ev\":{\"args\":\"-l 80\",\"exe\":\"/usr/bin/nc\",\"uid\":0},"
			   "\"expect\":true},{\"ev\":{\"exe\":\"/usr/bin/nc\",\"labels\":"
			   "{\"a\":\"b\"}},\"expect\":false}]");
		free(s);
		assert_true(json_is_true(json_object_get(d, "hasCheck")));
		assert_true(json_is_false(json_object_get(d, "definitionTruncated")));
		assert_string_equal(json_string_value(json_object_get(c, "kind")),
				    "function (Lua)");
		assert_string_equal(json_string_value(json_object_get(c, "file")), file);
		assert_int_equal(json_integer_value(json_object_get(c, "firstLine")), 8);
		assert_int_equal(json_integer_value(json_object_get(c, "lastLine")), 10);
		assert_string_equal(json_string_value(json_object_get(c, "source")),
				    "\tcheck = function(ev)\n\t\treturn ev.uid == 0\n\tend,\n");
	}
	vg_engine_free(e);
}

/* A policy whose tests pass the size bound keeps working: its definition is marked. */
static void test_policy_definition_bound(void **state)
{
	struct vg_engine *e = load_policy(
		"local t = {}\n"
		"for i = 1, 2000 do t[i] = { ev = { exe = '/usr/bin/' .. string.rep('x', 60) .. i "
		"},"
		" expect = false } end\n"
		"return policy { name = 'big', severity = 'low', match = { process_name = 'big' },"
		" tests = t }\n");
	const struct vg_policy_info *p = vg_engine_policy(e, 0);
	char *s;

	(void)state;
	assert_non_null(p->definition);
	assert_true(json_is_true(json_object_get(p->definition, "definitionTruncated")));
	assert_false(json_is_true(json_object_get(p->definition, "hasCheck")));
	assert_true(json_is_null(json_object_get(p->definition, "check")));
	assert_true(json_array_size(json_object_get(p->definition, "tests")) < 2000);
	s = json_dumps(p->definition, JSON_COMPACT);
	assert_true(strlen(s) < (64 << 10) + 1024);
	free(s);
	assert_false(p->broken);
	vg_engine_free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_show_values),
		cmocka_unit_test(test_show_depth),
		cmocka_unit_test(test_show_budget),
		cmocka_unit_test(test_policy_definition),
		cmocka_unit_test(test_policy_definition_bound),
	};
	int rc;

	snprintf(dir, sizeof(dir), "/tmp/vigil-definition-XXXXXX");
	if (!mkdtemp(dir))
		return 1;
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	rmdir(dir);
	return rc;
}
