// SPDX-License-Identifier: BSD-2-Clause
/* The violation timeline (alert_timeline.c): counts per minute per severity, through
 * reopen, resolution, compaction and expiry. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "tmpdir.h"

#include "alerts.h"
#include "record.h"
#include "wal.h"

#include "alerts_fixture.h"

#define T0   1699999980ull /* a whole minute, in unix seconds */
#define NS   1000000000ull
#define WEEK (7ull * 24 * 3600)

static const struct vg_alert *add_sev(struct vg_alerts *s, const char *policy, const char *sev,
				      const char *pod, uint64_t t_s)
{
	struct vg_violation v = {.ev = mk("/usr/bin/apt", "x", pod, NULL, t_s * NS),
				 .policy_id = policy,
				 .policy_name = policy,
				 .severity = sev};
	const struct vg_alert *a;

	assert_int_equal(vg_alerts_add(s, &v, NULL, NULL, &a), 0);
	return a;
}

/* The counts of n minutes from since (one bucket a minute). */
static void minutes(struct vg_alerts *s, uint64_t since, uint32_t n, uint64_t (*out)[VG_NSEV])
{
	assert_int_equal(vg_alerts_timeline(s, since, 60, n, out), 0);
}

static void assert_same(uint64_t (*a)[VG_NSEV], uint64_t (*b)[VG_NSEV], uint32_t n)
{
	assert_memory_equal(a, b, (size_t)n * sizeof(*a));
}

/* Counts per minute and severity; a merged alert counts every violation, not its 40 kept. */
static void test_counts_and_reopen(void **state)
{
	uint64_t got[10][VG_NSEV], again[10][VG_NSEV], sum[2][VG_NSEV];
	struct vg_alerts *s;

	(void)state;
	clear_store();
	s = open_store();
	for (int i = 0; i < 45; i++) /* one alert, minutes 0..4, 9 each */
		add_sev(s, "P", "high", POD1, T0 + (uint64_t)i / 9 * 60 + (uint64_t)i % 9);
	add_sev(s, "Q", "LOW", POD1, T0 + 59);
	add_sev(s, "R", "medium", POD2, T0 + 120);
	add_sev(s, "S", "critical", POD2, T0 + 9 * 60 + 59);
	add_sev(s, "U", "urgent", POD2, T0); /* no known severity: not counted */
	minutes(s, T0, 10, got);
	assert_int_equal(got[0][2], 9);
	assert_int_equal(got[0][0], 1);
	assert_int_equal(got[2][1], 1);
	assert_int_equal(got[4][2], 9);
	assert_int_equal(got[5][2], 0);
	assert_int_equal(got[9][3], 1);
	/* a step sums its minutes: 5 minutes a bucket */
	assert_int_equal(vg_alerts_timeline(s, T0, 300, 2, sum), 0);
	assert_int_equal(sum[0][2], 45);
	assert_int_equal(sum[0][0] + sum[0][1] + sum[0][3], 2);
	assert_int_equal(sum[1][3], 1);
	vg_alerts_close(s);
	s = open_store(); /* replay counts every violation record again */
	minutes(s, T0, 10, again);
	assert_same(got, again, 10);
	/* a resolution changes no count, nor does its replay */
	vg_alerts_resolve(s, vg_alerts_get(s, add_sev(s, "Q", "low", POD1, T0 + 30)->id)->id,
			  (T0 + 600) * NS);
	got[0][0]++;
	minutes(s, T0, 10, again);
	assert_same(got, again, 10);
	vg_alerts_close(s);
	s = open_store();
	minutes(s, T0, 10, again);
	assert_same(got, again, 10);
	vg_alerts_close(s);
}

/* Compaction drops an expired alert's records and all but 40 of a kept alert's: the counts
 * stay, through the reopen after it, and what comes after it counts on top. */
static void test_compaction_keeps_counts(void **state)
{
	uint64_t before[20][VG_NSEV], got[20][VG_NSEV];
	const struct vg_alert *a;
	struct vg_alerts *s;
	char id[37];

	(void)state;
	clear_store();
	s = open_store();
	for (int i = 0; i < 30; i++)
		a = add_sev(s, "Gone", "critical", POD1, T0 + (uint64_t)i * 20);
	snprintf(id, sizeof(id), "%s", a->id);
	assert_int_equal(vg_alerts_resolve(s, id, (T0 + 700) * NS), 0);
	for (int i = 0; i < 100; i++) /* 60 past the 40 kept */
		add_sev(s, "Kept", "high", POD2, T0 + (uint64_t)i * 10);
	minutes(s, T0, 20, before);
	assert_int_equal(vg_alerts_compact(s, (T0 + 800) * NS), 1);
	assert_null(vg_alerts_get(s, id));
	minutes(s, T0, 20, got);
	assert_same(before, got, 20);
	vg_alerts_close(s);
	s = open_store();
	minutes(s, T0, 20, got);
	assert_same(before, got, 20);
	add_sev(s, "Kept", "high", POD2, T0 + 61); /* after the compaction */
	add(s, mk("/usr/bin/apt", "x", POD1, NULL, (T0 + 19 * 60) * NS), "New"); /* low */
	before[1][2]++;
	before[19][0]++;
	vg_alerts_close(s);
	s = open_store();
	minutes(s, T0, 20, got);
	assert_same(before, got, 20);
	/* a second compaction of the compacted log: the same */
	assert_int_equal(
		vg_alerts_resolve(
			s, vg_alerts_get(s, add_sev(s, "New", "low", POD1, T0 + 19 * 60)->id)->id,
			(T0 + 1200) * NS),
		0);
	before[19][0]++;
	assert_int_equal(vg_alerts_compact(s, (T0 + 1300) * NS), 1);
	vg_alerts_close(s);
	s = open_store();
	minutes(s, T0, 20, got);
	assert_same(before, got, 20);
	vg_alerts_close(s);
}

/* A minute 7 days older than a counted one is gone, and a violation that old is not
 * counted; 7 days less a minute is still there. */
static void test_expiry(void **state)
{
	uint64_t got[1][VG_NSEV];
	struct vg_alerts *s;

	(void)state;
	clear_store();
	s = open_store();
	add_sev(s, "P", "high", POD1, T0);
	add_sev(s, "P", "high", POD1, T0 + 60);
	add_sev(s, "P", "high", POD1, T0 + WEEK - 60 + 5);
	minutes(s, T0, 1, got);
	assert_int_equal(got[0][2], 1);
	add_sev(s, "P", "high", POD1, T0 + WEEK + 5); /* T0's slot, a week on */
	minutes(s, T0, 1, got);
	assert_int_equal(got[0][2], 0);
	minutes(s, T0 + WEEK, 1, got);
	assert_int_equal(got[0][2], 1);
	add_sev(s, "P", "high", POD1, T0 + 30); /* too old now: not counted, not in T0+WEEK */
	minutes(s, T0 + WEEK, 1, got);
	assert_int_equal(got[0][2], 1);
	minutes(s, T0 + 60, 1, got);
	assert_int_equal(got[0][2], 1);
	vg_alerts_close(s);
	s = open_store(); /* replay in log order expires the same */
	minutes(s, T0, 1, got);
	assert_int_equal(got[0][2], 0);
	minutes(s, T0 + WEEK, 1, got);
	assert_int_equal(got[0][2], 1);
	vg_alerts_close(s);
}

/* Steps and starts are whole minutes; a window past the ring reads 0, not another week. */
static void test_bounds(void **state)
{
	uint64_t got[3][VG_NSEV];
	struct vg_alerts *s;

	(void)state;
	clear_store();
	s = open_store();
	add_sev(s, "P", "medium", POD1, T0);
	assert_int_equal(vg_alerts_timeline(s, T0, 90, 1, got), -EINVAL);
	assert_int_equal(vg_alerts_timeline(s, T0, 0, 1, got), -EINVAL);
	assert_int_equal(vg_alerts_timeline(s, T0 + 1, 60, 1, got), -EINVAL);
	minutes(s, T0 - WEEK, 1, got); /* the same slot, another minute */
	assert_int_equal(got[0][1], 0);
	minutes(s, T0 + WEEK, 1, got);
	assert_int_equal(got[0][1], 0);
	assert_int_equal(vg_alerts_timeline(s, T0 - 60, 60, 3, got), 0);
	assert_int_equal(got[0][1] + got[1][1] + got[2][1], 1);
	assert_int_equal(got[1][1], 1);
	assert_int_equal(vg_severity_index("Critical"), 3);
	assert_int_equal(vg_severity_index("none"), -1);
	assert_int_equal(vg_severity_index(NULL), -1);
	vg_alerts_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_counts_and_reopen),
		cmocka_unit_test(test_compaction_keeps_counts),
		cmocka_unit_test(test_expiry),
		cmocka_unit_test(test_bounds),
	};
	int rc;

	ev = calloc(1, sizeof(*ev));
	if (!ev)
		return 1;
	rc = RUN_IN_TMPDIR(tests, "vigil-alert-timeline");
	free(ev);
	return rc;
}
