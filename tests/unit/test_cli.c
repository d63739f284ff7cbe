// SPDX-License-Identifier: BSD-2-Clause
/*
 * The CLI's shared rules (cli.h): a short alert id is the beginning of exactly one id
 * (at least 4 characters, as git's); --policy is a case-insensitive substring.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "cli.h"

static const char *ids[] = {
	"1a2b3c4d-0000-4000-8000-000000000001",
	"1a2b3c4d-0000-4000-8000-000000000002",
	"9f8e7d6c-0000-4000-8000-000000000003",
};
static char err[1024];

static const char *pick(const char *prefix)
{
	err[0] = '\0';
	return vg_cli_id_prefix(ids, 3, prefix, err, sizeof(err));
}

static void unique_prefix(void **state)
{
	(void)state;
	assert_string_equal(pick("9f8e"), ids[2]);
	assert_string_equal(pick("9F8E7D"), ids[2]);
	assert_string_equal(pick("1a2b3c4d-0000-4000-8000-000000000002"), ids[1]);
	/* a prefix of both is ambiguous, however long */
	assert_null(pick("1a2b3c4d-0000-4000-8000-00000000000"));
}

static void ambiguous_prefix_names_the_candidates(void **state)
{
	(void)state;
	assert_null(pick("1a2b"));
	assert_non_null(strstr(err, "ambiguous"));
	assert_non_null(strstr(err, ids[0]));
	assert_non_null(strstr(err, ids[1]));
	assert_null(strstr(err, ids[2]));
}

static void no_match_and_too_short(void **state)
{
	(void)state;
	assert_null(pick("abcd"));
	assert_non_null(strstr(err, "no alert with id 'abcd'"));
	assert_null(pick("9f8"));
	assert_non_null(strstr(err, "at least 4"));
	assert_null(pick(""));
}

static void policy_filter_is_a_substring_in_any_case(void **state)
{
	(void)state;
	assert_true(vg_cli_policy_matches("Ubuntu Package Manager Execution", "ubuntu"));
	assert_true(vg_cli_policy_matches("Ubuntu Package Manager Execution", "PACKAGE manager"));
	assert_true(vg_cli_policy_matches("Ubuntu Package Manager Execution", NULL));
	assert_false(vg_cli_policy_matches("Ubuntu Package Manager Execution", "debian"));
	assert_false(vg_cli_policy_matches(NULL, "x"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(unique_prefix),
		cmocka_unit_test(ambiguous_prefix_names_the_candidates),
		cmocka_unit_test(no_match_and_too_short),
		cmocka_unit_test(policy_filter_is_a_substring_in_any_case),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
