/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * alerts_fixture.h - what the alert store's unit tests share (test_alerts.c,
 * test_alert_fields.c): a store in tmpdir.h's `dir`, execs made as the sensor
 * sends them, one violation added. Each test file includes it once.
 */
#ifndef VG_TEST_ALERTS_FIXTURE_H
#define VG_TEST_ALERTS_FIXTURE_H

#include "store_fixture.h"

static unsigned char rec[sizeof(struct vg_exec) + VG_DATA_MAX];
static struct vg_event *ev; /* 21 KB: on the heap, made in main */
static struct vg_meta meta;

#define CID "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

/* An exec of exe with args in pod (or on the host when pod is NULL). */
static struct vg_event *mk(const char *exe, const char *arg, const char *pod_uid,
			   const char *deploy, uint64_t t)
{
	const char *argv[] = {exe, arg};
	char cg[256];
	struct vg_record_spec s = {
		.exe = exe, .argv = argv, .argc = arg ? 2 : 1, .uid = 0, .boot_ns = t, .cwd = "/"};

	snprintf(cg, sizeof(cg), "/kubepods/besteffort/pod%s/libpod-" CID, pod_uid ? pod_uid : "");
	s.cgroup = pod_uid ? cg : "/";
	assert_true(vg_record_build(rec, sizeof(rec), &s) > 0);
	assert_int_equal(vg_event_decode(ev, rec, ((struct vg_exec *)rec)->size, 0), 0);
	ev->lineage_done = true;
	ev->n_lineage = 1;
	ev->lineage[0].pid = 1;
	ev->lineage[0].uid = 0;
	ev->lineage[0].exe = "/bin/bash";
	memset(&meta, 0, sizeof(meta));
	if (deploy) {
		meta.namespace_ = "shop";
		meta.deployment = deploy;
		meta.pod = "web-1";
		ev->meta = &meta;
	}
	return ev;
}

static const struct vg_alert *add(struct vg_alerts *s, struct vg_event *e, const char *policy)
{
	struct vg_violation v = {
		.ev = e, .policy_id = policy, .policy_name = policy, .severity = "low"};
	const struct vg_alert *a;

	assert_int_equal(vg_alerts_add(s, &v, NULL, NULL, &a), 0);
	return a;
}

#define POD1 "11111111-2222-3333-4444-555555555555"
#define POD2 "66666666-2222-3333-4444-555555555555"

#endif
