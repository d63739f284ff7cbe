// SPDX-License-Identifier: BSD-2-Clause
/*
 * test_drift.c - a container's start for "not in the image" (core/pipeline/
 * drift.c) with a fake /proc and a fake cgroup hierarchy in a temporary
 * directory: the start of the oldest process of the container's cgroup level
 * or below, rounded to the end of its clock tick.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "drift.h"
#include "event.h"
#include "record.h"
#include "tmpdir.h"

#define HEX64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define LEVEL "/system.slice/docker-" HEX64 ".scope"
#define OTHER                                                                                      \
	"/system.slice/"                                                                           \
	"docker-fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210.scope"

struct rec {
	struct vg_exec h;
	char data[VG_DATA_MAX];
};

static struct vg_event ev;
static struct rec r;
static uint64_t tick_ns, now_ticks;

static void make_dir(const char *rel)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	assert_true(mkdir(path, 0755) == 0 || errno == EEXIST);
}

static void write_text(const char *rel, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

/* A fake /proc/PID/stat whose comm holds ") " and whose starttime is ticks. */
static void fake_process(unsigned pid, uint64_t ticks)
{
	char rel[64], text[256];

	snprintf(rel, sizeof(rel), "proc/%u", pid);
	make_dir(rel);
	snprintf(rel, sizeof(rel), "proc/%u/stat", pid);
	snprintf(text, sizeof(text),
		 "%u (a) b c) S 1 %u %u 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 %llu 1000 10\n",
		 pid, pid, pid, (unsigned long long)ticks);
	write_text(rel, text);
}

/* The wall-clock ns of the start of tick `ticks` since boot. */
static uint64_t wall_of_tick(uint64_t ticks)
{
	struct timespec real, boot;

	assert_int_equal(clock_gettime(CLOCK_REALTIME, &real), 0);
	assert_int_equal(clock_gettime(CLOCK_BOOTTIME, &boot), 0);
	return (uint64_t)(real.tv_sec - boot.tv_sec) * 1000000000ull + (uint64_t)real.tv_nsec -
	       (uint64_t)boot.tv_nsec + ticks * tick_ns;
}

/* A container exec from another mount (a volume) of a file changed at ctime_ns. */
static void exec_changed_at(const char *cgroup, uint64_t ctime_ns)
{
	struct vg_record_spec s = {
		.exe = "/data/tool", .cgroup = cgroup, .pid = 4242, .ppid = 1, .exe_name = "tool"};
	size_t n;

	s.flags = VG_EXEC_IN_CONTAINER | VG_EXEC_EXE_OTHER_MNT | VG_EXEC_EXE_KNOWN;
	n = vg_record_build(&r, sizeof(r), &s);
	assert_true(n > 0);
	r.h.exe_ctime_ns = ctime_ns;
	assert_int_equal(vg_event_decode(&ev, &r, n, 0), 0);
}

static struct vg_drift *new_drift(void)
{
	char proc[256], cg[256];
	struct vg_drift *d = NULL;

	snprintf(proc, sizeof(proc), "%s/proc", dir);
	snprintf(cg, sizeof(cg), "%s/cg", dir);
	assert_int_equal(vg_drift_new_at(&d, proc, cg), 0);
	return d;
}

static int setup(void **state)
{
	struct timespec boot;

	(void)state;
	tick_ns = 1000000000ull / (uint64_t)sysconf(_SC_CLK_TCK);
	assert_int_equal(clock_gettime(CLOCK_BOOTTIME, &boot), 0);
	now_ticks = ((uint64_t)boot.tv_sec * 1000000000ull + (uint64_t)boot.tv_nsec) / tick_ns;
	make_dir("proc");
	make_dir("cg");
	make_dir("cg/system.slice");
	make_dir("cg" LEVEL);
	make_dir("cg" LEVEL "/init.scope");
	/* the init (started 2 s ago) moved into a child cgroup; newer processes above it */
	fake_process(100, now_ticks - 200);
	fake_process(200, now_ticks - 50);
	write_text("cg" LEVEL "/cgroup.procs", "200\n300\n"); /* 300: gone, no stat */
	write_text("cg" LEVEL "/init.scope/cgroup.procs", "100\n");
	return 0;
}

/*
 * The start is the oldest process's, found below the level too: a file changed
 * after it is drift, even when the level's directory (or its own processes)
 * are newer than that file, as a mkdir of a child cgroup makes the directory.
 */
static void test_oldest_process_below_the_level(void **state)
{
	struct vg_drift *d = new_drift();
	struct vg_drift_stats st;

	(void)state;
	exec_changed_at(LEVEL "/init.scope", wall_of_tick(now_ticks - 100)); /* after init */
	vg_drift_check(d, &ev);
	assert_true(ev.id.not_in_image);
	assert_int_equal(ev.id.not_in_image_by, VG_DECIDED_USER);
	exec_changed_at(LEVEL, wall_of_tick(now_ticks - 300)); /* before init */
	vg_drift_check(d, &ev);
	assert_false(ev.id.not_in_image);
	vg_drift_stats(d, &st);
	assert_int_equal(st.checked, 2);
	assert_int_equal(st.drifted, 1);
	assert_int_equal(st.unknown_start, 0);
	vg_drift_free(d);
}

/* A file changed in the start's own tick is not drift; one a tick later is. */
static void test_start_tick_rounded_up(void **state)
{
	struct vg_drift *d = new_drift();

	(void)state;
	exec_changed_at(LEVEL, wall_of_tick(now_ticks - 200) + tick_ns / 2);
	vg_drift_check(d, &ev);
	assert_false(ev.id.not_in_image);
	exec_changed_at(LEVEL, wall_of_tick(now_ticks - 199) + tick_ns / 2);
	vg_drift_check(d, &ev);
	assert_true(ev.id.not_in_image);
	vg_drift_free(d);
}

/* The start is read once per container: a process made later does not move it. */
static void test_start_cached(void **state)
{
	struct vg_drift *d = new_drift();

	(void)state;
	exec_changed_at(LEVEL, wall_of_tick(now_ticks - 100));
	vg_drift_check(d, &ev);
	assert_true(ev.id.not_in_image);
	fake_process(100, now_ticks - 10); /* the same pid reads as newer now */
	exec_changed_at(LEVEL, wall_of_tick(now_ticks - 100));
	vg_drift_check(d, &ev);
	assert_true(ev.id.not_in_image);
	fake_process(100, now_ticks - 200);
	vg_drift_free(d);
}

/* No process readable (or no such cgroup): unknown, counted, never drift. */
static void test_unknown_start(void **state)
{
	struct vg_drift *d = new_drift();
	struct vg_drift_stats st;

	(void)state;
	exec_changed_at(OTHER, wall_of_tick(now_ticks));
	vg_drift_check(d, &ev); /* no such cgroup */
	assert_false(ev.id.not_in_image);
	make_dir("cg" OTHER);
	write_text("cg" OTHER "/cgroup.procs", "300\n");
	vg_drift_check(d, &ev); /* a process without a stat */
	assert_false(ev.id.not_in_image);
	vg_drift_stats(d, &st);
	assert_int_equal(st.checked, 2);
	assert_int_equal(st.unknown_start, 2);
	assert_int_equal(st.drifted, 0);
	vg_drift_free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_oldest_process_below_the_level, setup),
		cmocka_unit_test_setup(test_start_tick_rounded_up, setup),
		cmocka_unit_test_setup(test_start_cached, setup),
		cmocka_unit_test_setup(test_unknown_start, setup),
	};

	return RUN_IN_TMPDIR(tests, "vigil-drift");
}
