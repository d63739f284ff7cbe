// SPDX-License-Identifier: BSD-2-Clause
/*
 * The line of a key in a policy file (keyline.h): nested fields and list items,
 * what the lexer must not take for structure (comments, strings, function bodies),
 * local tables followed to their constructor, and paths the source does not spell.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "keyline.h"

/* A key path's steps: a field's name, a list item's index from 1. */
#define FIELD(n) ((struct vg_key_step){.name = (n)})
#define ITEM(i)	 ((struct vg_key_step){.index = (i)})
#define LINE(src, ...)                                                                             \
	line_of(src, (const struct vg_key_step[]){__VA_ARGS__},                                    \
		(int)(sizeof((const struct vg_key_step[]){__VA_ARGS__}) /                          \
		      sizeof(struct vg_key_step)))

static int line_of(const char *src, const struct vg_key_step *path, int n)
{
	return vg_policy_key_line(src, strlen(src), path, n);
}

static const char *const NESTED = "-- policy { name = 'decoy' }\n" /* 1 */
				  "return policy {\n"		   /* 2 */
				  "  name = 'x', --[[ { , } ]] severity = 'low',\n"
				  "  description = \"}, match = {\",\n" /* 4 */
				  "  check = function(ev) local a, b = 1, {2, 3}\n"
				  "    if a then return b end end,\n" /* 6 */
				  "  [ 'odd' ] = 1, long = [==[\n"
				  "  ]] , match = ]==],\n" /* 8 */
				  "  match = {\n"
				  "    { process_name = 'a' },\n" /* 10 */
				  "    { exe_path = '/x',\n"
				  "      process_uid = 0 },\n" /* 12 */
				  "  },\n"
				  "  tests = { { ev = { exe = '/x' } }, { ev = {\n" /* 14 */
				  "    uid = 'root' } } },\n"
				  "}\n";

static void test_nested_keys(void **state)
{
	(void)state;
	assert_int_equal(LINE(NESTED, FIELD("severity")), 3);
	assert_int_equal(LINE(NESTED, FIELD("match")), 9);
	assert_int_equal(LINE(NESTED, FIELD("match"), ITEM(2)), 11);
	assert_int_equal(LINE(NESTED, FIELD("match"), ITEM(2), FIELD("process_uid")), 12);
	assert_int_equal(LINE(NESTED, FIELD("tests"), ITEM(2), FIELD("ev"), FIELD("uid")), 15);
	assert_int_equal(LINE(NESTED, FIELD("check")), 5);
	assert_int_equal(line_of(NESTED, NULL, 0), 2);
}

static void test_what_the_source_does_not_spell(void **state)
{
	static const char *const computed = "local v = {}\n"
					    "return policy {\n"
					    "  name = 'x',\n"
					    "  match = { process_uid = v },\n"
					    "}\n";

	(void)state;
	/* absent: the line of the deepest step found */
	assert_int_equal(LINE(NESTED, FIELD("match"), ITEM(3), FIELD("x")), 9);
	assert_int_equal(LINE(NESTED, FIELD("colour")), 2);
	/* a local table's constructor has no such key: the field that names the local */
	assert_int_equal(LINE(computed, FIELD("match"), FIELD("process_uid"), ITEM(300)), 4);
	assert_int_equal(LINE("return { name = 'x' }", FIELD("name")), 0);
}

static void test_local_tables_are_followed(void **state)
{
	static const char *const locals = "local m = {\n"
					  "  { process_name = 'a' },\n"
					  "  { exe_path = '/x',\n"
					  "    process_uid = -1 },\n"
					  "}\n"
					  "local p = { name = 'x',\n"
					  "  match = m }\n"
					  "return policy(p)\n";

	(void)state;
	assert_int_equal(LINE(locals, FIELD("match"), ITEM(2), FIELD("process_uid")), 4);
	assert_int_equal(LINE(locals, FIELD("name")), 6);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nested_keys),
		cmocka_unit_test(test_what_the_source_does_not_spell),
		cmocka_unit_test(test_local_tables_are_followed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
