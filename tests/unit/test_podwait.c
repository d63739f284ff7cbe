// SPDX-License-Identifier: BSD-2-Clause
/*
 * Execs held for their pod (core/pipeline/podwait.c), on a real event loop: a held
 * record is a copy; a pod's execs come back in order when it becomes known, the others
 * stay; the timer gives each back after wait_ms, the oldest first, never before; past
 * max nothing is held (counted); shutdown gives every one back; freeing frees the rest.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include <event2/event.h>

#include "podwait.h"

#define POD_A "0b4f7c2e-1a2b-4c3d-8e9f-000000000001"
#define POD_B "0b4f7c2e-1a2b-4c3d-8e9f-000000000002"

/* What run() was given, in order. */
static struct {
	char rec[16][32];
	int64_t clock[16];
	enum vg_podwait_why why[16];
	uint64_t at_ms[16];
	int n;
} got;

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000ull + (uint64_t)ts.tv_nsec / 1000000ull;
}

static void run(void *ctx, const void *rec, size_t len, int64_t boot_to_wall_ns,
		enum vg_podwait_why why)
{
	(void)ctx;
	assert_true(got.n < 16 && len < sizeof(got.rec[0]));
	memcpy(got.rec[got.n], rec, len);
	got.rec[got.n][len] = '\0';
	got.clock[got.n] = boot_to_wall_ns;
	got.why[got.n] = why;
	got.at_ms[got.n] = now_ms();
	got.n++;
}

static struct event_base *base;

static struct vg_podwait *make(uint32_t wait_ms, uint32_t max)
{
	struct vg_podwait_opts o = {.base = base, .wait_ms = wait_ms, .max = max, .run = run};
	struct vg_podwait *w;

	assert_int_equal(vg_podwait_new(&w, &o), 0);
	return w;
}

static void hold(struct vg_podwait *w, const char *pod, const char *rec, int64_t clock)
{
	assert_int_equal(vg_podwait_hold(w, pod, rec, strlen(rec), clock), 0);
}

static int setup(void **state)
{
	(void)state;
	memset(&got, 0, sizeof(got));
	base = event_base_new();
	return base ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	event_base_free(base);
	return 0;
}

static void test_pod_known_gives_its_execs_back_in_order(void **state)
{
	struct vg_podwait *w = make(60000, 16);
	struct vg_podwait_stats st;
	char rec[32] = "a1";

	(void)state;
	hold(w, POD_A, rec, 7);
	strcpy(rec, "changed"); /* the caller's buffer is reused for the next record */
	hold(w, POD_B, "b1", 8);
	hold(w, POD_A, "a2", 9);
	assert_true(vg_podwait_has(w, POD_A));
	assert_true(vg_podwait_has(w, POD_B));
	vg_podwait_pod(w, "0b4f7c2e-1a2b-4c3d-8e9f-000000000003"); /* none of it held */
	assert_int_equal(got.n, 0);
	vg_podwait_pod(w, POD_A);
	assert_int_equal(got.n, 2);
	assert_string_equal(got.rec[0], "a1"); /* a copy: as it was held */
	assert_string_equal(got.rec[1], "a2");
	assert_int_equal(got.clock[0], 7);
	assert_int_equal(got.clock[1], 9);
	assert_int_equal(got.why[0], VG_PODWAIT_POD);
	assert_false(vg_podwait_has(w, POD_A));
	assert_true(vg_podwait_has(w, POD_B)); /* another pod's exec waits on */
	vg_podwait_stats(w, &st);
	assert_int_equal(st.held, 3);
	assert_int_equal(st.resolved, 2);
	assert_int_equal(st.timeouts, 0);
	assert_int_equal(st.now, 1);
	vg_podwait_pod(w, POD_A); /* again (its metadata changed): nothing is left of it */
	assert_int_equal(got.n, 2);
	vg_podwait_free(w); /* B's copy freed, not given back (ASan: no leak) */
	assert_int_equal(got.n, 2);
}

/* A one-shot callback that holds "b1" of POD_B 40 ms into the loop. */
static void hold_later(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	hold(arg, POD_B, "b1", 2);
}

static void test_wait_over_gives_back_oldest_first(void **state)
{
	struct vg_podwait *w = make(100, 16);
	struct event *later = evtimer_new(base, hold_later, w);
	struct vg_podwait_stats st;
	struct timeval forty = {0, 40000};
	uint64_t t0 = now_ms();

	(void)state;
	hold(w, POD_A, "a1", 1);
	assert_int_equal(evtimer_add(later, &forty), 0);
	assert_int_equal(event_base_dispatch(base), 1); /* 1: ends when nothing is held */
	assert_int_equal(got.n, 2);
	assert_string_equal(got.rec[0], "a1");
	assert_string_equal(got.rec[1], "b1");
	assert_int_equal(got.why[0], VG_PODWAIT_TIMEOUT);
	assert_int_equal(got.why[1], VG_PODWAIT_TIMEOUT);
	assert_true(got.at_ms[0] - t0 >= 100); /* never before its wait */
	assert_true(got.at_ms[1] - t0 >= 140);
	assert_true(got.at_ms[0] - t0 < 140); /* and each at its own, not together */
	vg_podwait_stats(w, &st);
	assert_int_equal(st.timeouts, 2);
	assert_int_equal(st.now, 0);
	event_free(later);
	vg_podwait_free(w);
}

static void test_a_pod_known_first_leaves_the_timer_to_the_rest(void **state)
{
	struct vg_podwait *w = make(80, 16);
	uint64_t t0 = now_ms();

	(void)state;
	hold(w, POD_A, "a1", 1);
	hold(w, POD_B, "b1", 2);
	vg_podwait_pod(w, POD_A);
	assert_int_equal(event_base_dispatch(base), 1);
	assert_int_equal(got.n, 2);
	assert_string_equal(got.rec[1], "b1");
	assert_int_equal(got.why[1], VG_PODWAIT_TIMEOUT);
	assert_true(got.at_ms[1] - t0 >= 80);
	vg_podwait_free(w);
}

static void test_full_holds_nothing_more(void **state)
{
	struct vg_podwait *w = make(60000, 2);
	struct vg_podwait_stats st;

	(void)state;
	hold(w, POD_A, "a1", 1);
	hold(w, POD_A, "a2", 1);
	assert_int_equal(vg_podwait_hold(w, POD_A, "a3", 2, 1), -ENOSPC);
	assert_int_equal(vg_podwait_hold(w, POD_B, "b1", 2, 1), -ENOSPC);
	vg_podwait_stats(w, &st);
	assert_int_equal(st.held, 2);
	assert_int_equal(st.overflow, 2);
	assert_int_equal(st.now, 2);
	vg_podwait_pod(w, POD_A); /* room again */
	hold(w, POD_B, "b1", 1);
	vg_podwait_free(w);
}

static void test_shutdown_gives_every_exec_back(void **state)
{
	struct vg_podwait *w = make(60000, 16);
	struct vg_podwait_stats st;

	(void)state;
	hold(w, POD_A, "a1", 1);
	hold(w, POD_B, "b1", 1);
	hold(w, POD_A, "a2", 1);
	vg_podwait_flush(w);
	assert_int_equal(got.n, 3);
	assert_string_equal(got.rec[0], "a1");
	assert_string_equal(got.rec[1], "b1");
	assert_string_equal(got.rec[2], "a2");
	assert_int_equal(got.why[2], VG_PODWAIT_FLUSH);
	vg_podwait_stats(w, &st);
	assert_int_equal(st.flushed, 3);
	assert_int_equal(st.now, 0);
	assert_int_equal(event_base_loop(base, EVLOOP_NONBLOCK), 1); /* no timer left */
	vg_podwait_free(w);
}

static void test_bad_options(void **state)
{
	struct vg_podwait_opts o = {.base = base, .wait_ms = 0, .max = 1, .run = run};
	struct vg_podwait *w;

	(void)state;
	assert_int_equal(vg_podwait_new(&w, &o), -EINVAL);
	o.wait_ms = 1;
	o.max = 0;
	assert_int_equal(vg_podwait_new(&w, &o), -EINVAL);
}

/* ready(): records starting with 'r' are ready (their container is in the pod's status). */
static bool ready(void *ctx, const void *rec, size_t len, int64_t boot_to_wall_ns)
{
	(void)ctx;
	(void)boot_to_wall_ns;
	return len && *(const char *)rec == 'r';
}

static void test_a_pod_change_gives_back_only_what_is_ready_in_order(void **state)
{
	struct vg_podwait_opts o = {
		.base = base, .wait_ms = 60000, .max = 16, .run = run, .ready = ready};
	struct vg_podwait *w;
	struct vg_podwait_stats st;

	(void)state;
	assert_int_equal(vg_podwait_new(&w, &o), 0);
	hold(w, POD_A, "r1", 1);
	hold(w, POD_A, "n2", 2); /* another container of the pod, not in its status yet */
	hold(w, POD_A, "r3", 3); /* ready, but behind n2: a pod's execs stay in order */
	vg_podwait_pod(w, POD_A);
	assert_int_equal(got.n, 1);
	assert_string_equal(got.rec[0], "r1");
	assert_true(vg_podwait_has(w, POD_A));
	vg_podwait_stats(w, &st);
	assert_int_equal(st.now, 2);
	vg_podwait_free(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_pod_known_gives_its_execs_back_in_order, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_wait_over_gives_back_oldest_first, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_a_pod_known_first_leaves_the_timer_to_the_rest,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_full_holds_nothing_more, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shutdown_gives_every_exec_back, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_bad_options, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_a_pod_change_gives_back_only_what_is_ready_in_order, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
