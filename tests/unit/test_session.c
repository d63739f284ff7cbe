// SPDX-License-Identifier: BSD-2-Clause
/*
 * The web console's codes and sessions (core/api/session.c): a code works once and
 * only before it expires, the tables are bounded with the oldest entry replaced, a
 * session's CSRF token is its own, and comparisons need the whole token.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "session.h"

#define T0 1000000u /* a monotonic now, in ms */

static void test_code_once_and_until_expiry(void **state)
{
	struct vg_sessions *s = vg_sessions_new(300, 43200);
	char a[VG_SESSION_TOKEN_LEN + 1], b[VG_SESSION_TOKEN_LEN + 1], c[VG_SESSION_TOKEN_LEN + 1];

	(void)state;
	assert_non_null(s);
	assert_int_equal(vg_sessions_code(s, T0, a), 0);
	assert_int_equal(strlen(a), VG_SESSION_TOKEN_LEN);
	assert_int_equal(
		strspn(a, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
		VG_SESSION_TOKEN_LEN);
	assert_int_equal(vg_sessions_code(s, T0, b), 0);
	assert_string_not_equal(a, b);
	assert_true(vg_sessions_redeem(s, T0 + 1000, a));
	assert_false(vg_sessions_redeem(s, T0 + 1000, a));   /* once */
	assert_false(vg_sessions_redeem(s, T0 + 300000, b)); /* expired at 300 s */
	assert_int_equal(vg_sessions_code(s, T0, c), 0);
	assert_true(vg_sessions_redeem(s, T0 + 299999, c));
	/* a prefix, a longer string, the empty string: nothing */
	assert_int_equal(vg_sessions_code(s, T0, a), 0);
	strcpy(b, a);
	b[VG_SESSION_TOKEN_LEN - 1] = '\0';
	assert_false(vg_sessions_redeem(s, T0, b));
	assert_false(vg_sessions_redeem(s, T0, ""));
	assert_true(vg_sessions_redeem(s, T0, a));
	vg_sessions_free(s);
}

static void test_codes_bounded(void **state)
{
	struct vg_sessions *s = vg_sessions_new(300, 43200);
	char codes[VG_SESSION_CODES_MAX + 1][VG_SESSION_TOKEN_LEN + 1];

	(void)state;
	for (int i = 0; i <= VG_SESSION_CODES_MAX; i++)
		assert_int_equal(vg_sessions_code(s, T0 + (uint64_t)i, codes[i]), 0);
	assert_false(vg_sessions_redeem(s, T0 + 100, codes[0])); /* the oldest made room */
	for (int i = 1; i <= VG_SESSION_CODES_MAX; i++)
		assert_true(vg_sessions_redeem(s, T0 + 100, codes[i]));
	vg_sessions_free(s);
}

static void test_sessions(void **state)
{
	struct vg_sessions *s = vg_sessions_new(300, 3600);
	char id[VG_SESSION_TOKEN_LEN + 1], csrf[VG_SESSION_TOKEN_LEN + 1];
	char id2[VG_SESSION_TOKEN_LEN + 1], csrf2[VG_SESSION_TOKEN_LEN + 1];
	const char *got;
	uint64_t exp = 0;

	(void)state;
	assert_int_equal(vg_sessions_open(s, T0, id, csrf), 0);
	assert_int_equal(vg_sessions_open(s, T0, id2, csrf2), 0);
	assert_string_not_equal(id, csrf);
	assert_string_not_equal(id, id2);
	got = vg_sessions_find(s, T0 + 5, id, &exp);
	assert_non_null(got);
	assert_string_equal(got, csrf);
	assert_int_equal(exp, T0 + 3600000u);
	assert_null(vg_sessions_find(s, T0 + 3600000u, id, &exp)); /* expired */
	assert_null(vg_sessions_find(s, T0, csrf, &exp));	   /* a CSRF token is no id */
	vg_sessions_close(s, id);
	assert_null(vg_sessions_find(s, T0, id, &exp));
	assert_string_equal(vg_sessions_find(s, T0, id2, &exp), csrf2); /* the other stays */
	vg_sessions_free(s);
}

static void test_sessions_bounded(void **state)
{
	struct vg_sessions *s = vg_sessions_new(300, 3600);
	char first[VG_SESSION_TOKEN_LEN + 1], id[VG_SESSION_TOKEN_LEN + 1];
	char csrf[VG_SESSION_TOKEN_LEN + 1];
	uint64_t exp;

	(void)state;
	assert_int_equal(vg_sessions_open(s, T0, first, csrf), 0);
	for (int i = 1; i < VG_SESSION_MAX; i++)
		assert_int_equal(vg_sessions_open(s, T0 + (uint64_t)i, id, csrf), 0);
	assert_non_null(vg_sessions_find(s, T0 + 1000, first, &exp)); /* 256: all kept */
	assert_int_equal(vg_sessions_open(s, T0 + 1000, id, csrf), 0);
	assert_null(vg_sessions_find(s, T0 + 1000, first, &exp)); /* the 257th: oldest gone */
	assert_non_null(vg_sessions_find(s, T0 + 1000, id, &exp));
	vg_sessions_free(s);
}

static void test_equal(void **state)
{
	(void)state;
	assert_true(vg_sessions_equal("abc", "abc"));
	assert_false(vg_sessions_equal("abc", "abd"));
	assert_false(vg_sessions_equal("abc", "ab"));
	assert_false(vg_sessions_equal("", "a"));
	assert_true(vg_sessions_equal("", ""));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_code_once_and_until_expiry),
		cmocka_unit_test(test_codes_bounded),
		cmocka_unit_test(test_sessions),
		cmocka_unit_test(test_sessions_bounded),
		cmocka_unit_test(test_equal),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
