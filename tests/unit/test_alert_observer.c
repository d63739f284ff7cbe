// SPDX-License-Identifier: BSD-2-Clause
/* The alerts store's observer (vg_alerts_on_change): told of every change once, after it. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tmpdir.h"

#include "alerts.h"
#include "record.h"

static unsigned char rec[sizeof(struct vg_exec) + VG_DATA_MAX];
static struct vg_event *ev; /* 21 KB: on the heap, made in main */

/* What the observer saw: each change as "change:alert id:state:violations". */
struct seen {
	char log[16][80];
	int n;
};

static void observe(void *ctx, const struct vg_alert *a, enum vg_alert_change ch)
{
	struct seen *s = ctx;

	assert_true(s->n < 16);
	snprintf(s->log[s->n++], sizeof(s->log[0]), "%s:%.8s:%s:%llu", vg_alert_change_name(ch),
		 a->id, vg_alert_state_name(a->state), (unsigned long long)a->violations);
}

/* An exec of exe on the host at t. */
static struct vg_event *mk(const char *exe, uint64_t t)
{
	const char *argv[] = {exe};
	struct vg_record_spec s = {
		.exe = exe, .argv = argv, .argc = 1, .boot_ns = t, .cwd = "/", .cgroup = "/"};

	assert_true(vg_record_build(rec, sizeof(rec), &s) > 0);
	assert_int_equal(vg_event_decode(ev, rec, ((struct vg_exec *)rec)->size, 0), 0);
	ev->lineage_done = true;
	return ev;
}

static const struct vg_alert *add(struct vg_alerts *s, const char *exe, uint64_t t)
{
	struct vg_violation v = {
		.ev = mk(exe, t), .policy_id = "P", .policy_name = "P", .severity = "low"};
	const struct vg_alert *a;

	assert_int_equal(vg_alerts_add(s, &v, NULL, NULL, &a), 0);
	return a;
}

static void expect(const struct seen *s, int i, const char *change, const struct vg_alert *a,
		   const char *state, unsigned violations)
{
	char want[80];

	snprintf(want, sizeof(want), "%s:%.8s:%s:%u", change, a->id, state, violations);
	assert_true(i < s->n);
	assert_string_equal(s->log[i], want);
}

static void test_every_change_once(void **state)
{
	struct vg_alerts_opts o = {.dir = dir};
	struct vg_wal_report rep;
	struct vg_alerts *s;
	struct seen seen = {0};
	const struct vg_alert *a;
	char err[256];

	(void)state;
	assert_int_equal(vg_alerts_open(&s, &o, NULL, &rep, err, sizeof(err)), 0);
	vg_alerts_on_change(s, observe, &seen);
	a = add(s, "/usr/bin/apt", 10);
	expect(&seen, 0, "new", a, "ACTIVE", 1);
	assert_ptr_equal(add(s, "/usr/bin/apt", 11), a); /* merged */
	expect(&seen, 1, "violation", a, "ACTIVE", 2);
	assert_int_equal(vg_alerts_enforced(s, a, "kill_process", false, "EPERM", "42", 12), 0);
	expect(&seen, 2, "enforced", a, "ATTEMPTED", 2);
	assert_int_equal(vg_alerts_resolve(s, a->id, 13), 0);
	expect(&seen, 3, "resolved", a, "RESOLVED", 2);
	/* what changes nothing tells nothing */
	assert_int_equal(vg_alerts_resolve(s, a->id, 14), -EALREADY);
	assert_int_equal(vg_alerts_resolve(s, "nope", 14), -ENOENT);
	assert_int_equal(vg_alerts_enforced(s, NULL, "kill_process", true, "", "1", 15), -ENOENT);
	assert_int_equal(seen.n, 4);
	/* a resolved alert is not merged into: a new one */
	a = add(s, "/usr/bin/apt", 16);
	expect(&seen, 4, "new", a, "ACTIVE", 1);
	/* no observer: nothing is told */
	vg_alerts_on_change(s, NULL, NULL);
	add(s, "/usr/bin/apt", 17);
	assert_int_equal(seen.n, 5);
	vg_alerts_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_change_once),
	};
	int rc;

	ev = calloc(1, sizeof(*ev));
	if (!ev)
		return 1;
	rc = RUN_IN_TMPDIR(tests, "vigil-alert-observer");
	free(ev);
	return rc;
}
