// SPDX-License-Identifier: BSD-2-Clause
/*
 * The baseline step's per-cgroup cache (core/pipeline/bl_cache.c and its use in
 * baseline.c), on a real store: an exec after a lock is checked, after a delete it
 * learns into a new baseline, metadata that comes late moves the exec to its new key,
 * a cgroup not used since the CLOCK hand passed goes first, a cgroup id shared by two paths
 * (cgroup v1) finds each its own entry, and the key's sources known by serial (the runtime's
 * names, the pod's metadata) are trusted while their serials stay, and looked at when they move.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "tmpdir.h"

#include "alerts.h"
#include "baseline.h"
#include "baselines.h"
#include "bl_cache.h"
#include "record.h"
#include "wal.h"

#define MIN (60ull * 1000000000ull)

static unsigned char rec[sizeof(struct vg_exec) + VG_DATA_MAX];
static struct vg_event ev;

static struct vg_alerts *open_store(void)
{
	struct vg_alerts_opts o = {.dir = dir};
	struct vg_wal_report rep;
	struct vg_alerts *s;
	char err[256];
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -f %s/seg-*", dir);
	(void)!system(cmd);
	assert_int_equal(vg_alerts_open(&s, &o, NULL, &rep, err, sizeof(err)), 0);
	return s;
}

/* Container ctr's exec of exe (cgroup id cgid), decoded, named app-CTR of image img. */
static struct vg_event *exec_in(int ctr, uint64_t cgid, const char *exe)
{
	char cg[256];
	struct vg_record_spec s = {.exe = exe, .cgroup = cg, .pid = 1000, .cgroup_id = cgid};

	snprintf(cg, sizeof(cg), "/machine.slice/libpod-%08x%056x.scope", ctr, 0);
	assert_true(vg_record_build(rec, sizeof(rec), &s) > 0);
	assert_int_equal(vg_event_decode(&ev, rec, ((struct vg_exec *)rec)->size, 0), 0);
	snprintf(ev.ctr_name, sizeof(ev.ctr_name), "app-%d", ctr);
	snprintf(ev.ctr_image, sizeof(ev.ctr_image), "registry.example.com/img:1");
	return &ev;
}

static struct vg_bl *new_bl(struct vg_alerts *s)
{
	struct vg_bl_opts o = {.store = vg_alerts_baselines(s), .observe_ns = 60 * MIN};
	struct vg_bl *b;

	assert_int_equal(vg_bl_new(&b, &o), 0);
	return b;
}

static struct vg_bl_stats stats(struct vg_bl *b)
{
	struct vg_bl_stats st;

	vg_bl_stats(b, &st);
	return st;
}

/* Cached, then locked by a user: the next exec is checked against it. Deleted: learned anew. */
static void test_lock_delete(void **state)
{
	struct vg_alerts *s = open_store();
	struct vg_baselines *store = vg_alerts_baselines(s);
	struct vg_bl *b = new_bl(s);
	struct vg_baseline_key k;
	const struct vg_baseline *bl;

	(void)state;
	vg_bl_exec(b, exec_in(1, 501, "/bin/sh"), 1000);
	vg_bl_exec(b, exec_in(1, 501, "/bin/ls"), 2000); /* learning keeps the entry */
	vg_bl_exec(b, exec_in(1, 501, "/bin/ls"), 3000);
	assert_int_equal(stats(b).learned, 2);
	assert_int_equal(stats(b).cache_misses, 1);
	assert_int_equal(stats(b).cache_hits, 2);
	vg_bl_key_of(&ev, &k);
	bl = vg_baselines_get(store, &k);
	assert_non_null(bl);
	assert_int_equal(vg_baselines_lock(store, bl, true, true, 4000), 0);
	vg_bl_exec(b, exec_in(1, 501, "/bin/cat"), 5000);
	assert_true(ev.bl.checked);
	assert_true(ev.bl.unexpected);
	vg_bl_exec(b, exec_in(1, 501, "/bin/ls"), 6000);
	assert_true(ev.bl.checked);
	assert_false(ev.bl.unexpected);
	assert_int_equal(stats(b).checked, 2);
	assert_int_equal(stats(b).cache_misses, 2); /* the lock moved the generation */
	assert_int_equal(stats(b).cache_hits, 3);
	/* deleted: the cached view is gone; the next exec makes and learns a new one */
	assert_int_equal(vg_baselines_delete(store, vg_baselines_get(store, &k)), 0);
	vg_bl_exec(b, exec_in(1, 501, "/bin/cat"), 7000);
	assert_false(ev.bl.checked);
	bl = vg_baselines_get(store, &k);
	assert_non_null(bl);
	assert_false(bl->locked);
	assert_true(vg_baselines_has(bl, "/bin/cat"));
	assert_false(vg_baselines_has(bl, "/bin/ls"));
	vg_bl_free(b);
	vg_alerts_close(s);
}

/* Kubernetes metadata after the first exec: the same cgroup's next exec has the new key. */
static void test_meta_late(void **state)
{
	static const struct vg_meta meta = {.namespace_ = "shop",
					    .pod = "web-7f9-abc",
					    .deployment = "web",
					    .container = "app"};
	struct vg_alerts *s = open_store();
	struct vg_baselines *store = vg_alerts_baselines(s);
	struct vg_bl *b = new_bl(s);
	struct vg_baseline_key k1, k2;

	(void)state;
	vg_bl_exec(b, exec_in(2, 502, "/bin/sh"), 1000);
	vg_bl_key_of(&ev, &k1);
	vg_bl_exec(b, exec_in(2, 502, "/bin/sh"), 2000);
	assert_int_equal(stats(b).cache_hits, 1);
	assert_int_equal(stats(b).cache_misses, 1);
	exec_in(2, 502, "/usr/bin/python3")->meta = &meta;
	vg_bl_exec(b, &ev, 3000);
	vg_bl_key_of(&ev, &k2);
	assert_string_equal(k2.namespace_, "shop");
	assert_int_equal(stats(b).cache_misses, 2);
	assert_true(vg_baselines_has(vg_baselines_get(store, &k2), "/usr/bin/python3"));
	assert_false(vg_baselines_has(vg_baselines_get(store, &k1), "/usr/bin/python3"));
	/* the container's name from the runtime changes the key too (image and name) */
	exec_in(2, 502, "/bin/date");
	snprintf(ev.ctr_name, sizeof(ev.ctr_name), "renamed");
	vg_bl_exec(b, &ev, 4000);
	assert_int_equal(stats(b).cache_misses, 3);
	vg_bl_key_of(&ev, &k1);
	assert_string_equal(k1.container, "renamed");
	assert_true(vg_baselines_has(vg_baselines_get(store, &k1), "/bin/date"));
	vg_bl_free(b);
	vg_alerts_close(s);
}

/* The key's sources by serial: the same serials are the same key; a new one is looked at,
   even at the same address (a pod's metadata rebuilt in place); serial 0 is always looked at. */
static void test_source_serials(void **state)
{
	static struct vg_meta meta = {.namespace_ = "shop", .pod = "web-1", .deployment = "web"};
	struct vg_alerts *s = open_store();
	struct vg_baselines *store = vg_alerts_baselines(s);
	struct vg_bl *b = new_bl(s);
	struct vg_baseline_key k;

	(void)state;
	exec_in(4, 504, "/bin/sh")->ctr_names_serial = 10;
	vg_bl_exec(b, &ev, 1000);
	assert_int_equal(ev.ctr_known, VG_CTR_IN);
	exec_in(4, 504, "/bin/ls")->ctr_names_serial = 10;
	vg_bl_exec(b, &ev, 2000);
	assert_int_equal(stats(b).cache_hits, 1);
	/* the runtime's entry written again (a rename): a new serial, a new key */
	exec_in(4, 504, "/bin/cat")->ctr_names_serial = 11;
	snprintf(ev.ctr_name, sizeof(ev.ctr_name), "renamed-4");
	vg_bl_exec(b, &ev, 3000);
	assert_int_equal(stats(b).cache_misses, 2);
	vg_bl_key_of(&ev, &k);
	assert_string_equal(k.container, "renamed-4");
	assert_true(vg_baselines_has(vg_baselines_get(store, &k), "/bin/cat"));
	assert_false(vg_baselines_has(vg_baselines_get(store, &k), "/bin/ls"));
	/* pod metadata rebuilt at the same address with another owner: its serial moved */
	for (int round = 0; round < 2; round++) {
		meta.deployment = "web";
		meta.serial = round ? 0 : 20;
		exec_in(4, 504, "/bin/sh")->meta = &meta;
		ev.ctr_names_serial = 11;
		vg_bl_exec(b, &ev, 4000);
		meta.deployment = "api";
		meta.serial = round ? 0 : 21; /* 0: no serial, the key is compared */
		exec_in(4, 504, "/bin/date")->meta = &meta;
		ev.ctr_names_serial = 11;
		vg_bl_exec(b, &ev, 5000);
		vg_bl_key_of(&ev, &k);
		assert_string_equal(k.deployment, "api");
		assert_true(vg_baselines_has(vg_baselines_get(store, &k), "/bin/date"));
		meta.deployment = "web";
		vg_bl_key_of(&ev, &k);
		assert_false(vg_baselines_has(vg_baselines_get(store, &k), "/bin/date"));
		assert_int_equal(vg_baselines_delete(store, vg_baselines_get(store, &k)), 0);
		meta.deployment = "api";
		vg_bl_key_of(&ev, &k);
		assert_int_equal(vg_baselines_delete(store, vg_baselines_get(store, &k)), 0);
	}
	vg_bl_free(b);
	vg_alerts_close(s);
}

/* A cgroup not used since the hand passed goes first (CLOCK); a shared id (cgroup v1) with another
 * path is a miss. */
static void test_lru(void **state)
{
	struct vg_blc *c;
	struct vg_blc_entry *e1, *e2, *e3;
	uint64_t evicted = 0;

	(void)state;
	assert_int_equal(vg_blc_new(&c, 2), 0);
	e1 = vg_blc_get(c, exec_in(1, 1, "/bin/sh"), &evicted);
	e2 = vg_blc_get(c, exec_in(2, 1, "/bin/sh"), &evicted); /* same id, another path */
	assert_ptr_not_equal(e1, e2);
	assert_string_equal(e2->ctr.short_id, "000000020000");
	e2->bl = (const struct vg_baseline *)&ev; /* a mark: a found entry keeps it */
	assert_ptr_equal(vg_blc_get(c, exec_in(1, 1, "/bin/ls"), &evicted), e1); /* 2 oldest */
	e3 = vg_blc_get(c, exec_in(3, 3, "/bin/sh"), &evicted);
	assert_int_equal(evicted, 1);
	assert_ptr_equal(e3, e2); /* 2's slot, emptied */
	assert_null(e3->bl);
	assert_string_equal(e3->ctr.short_id, "000000030000");
	assert_ptr_equal(vg_blc_get(c, exec_in(1, 1, "/bin/sh"), &evicted), e1);
	assert_int_equal(evicted, 1);
	vg_blc_get(c, exec_in(2, 1, "/bin/sh"), &evicted); /* 3 out */
	assert_int_equal(evicted, 2);
	vg_blc_free(c);
}

/* A host exec: no container, nothing learned, cached as such. */
static void test_host(void **state)
{
	struct vg_record_spec sp = {.exe = "/bin/sh",
				    .cgroup = "/user.slice/session-1.scope",
				    .pid = 10,
				    .cgroup_id = 77};
	struct vg_alerts *s = open_store();
	struct vg_bl *b = new_bl(s);

	(void)state;
	for (int i = 0; i < 3; i++) {
		assert_true(vg_record_build(rec, sizeof(rec), &sp) > 0);
		assert_int_equal(vg_event_decode(&ev, rec, ((struct vg_exec *)rec)->size, 0), 0);
		vg_bl_exec(b, &ev, 1000);
	}
	assert_int_equal(stats(b).execs, 0);
	assert_int_equal(stats(b).cache_misses + stats(b).cache_hits, 0);
	assert_int_equal(ev.ctr_known, VG_CTR_HOST); /* the engine need not look again */
	vg_bl_free(b);
	vg_alerts_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lock_delete),    cmocka_unit_test(test_meta_late),
		cmocka_unit_test(test_source_serials), cmocka_unit_test(test_lru),
		cmocka_unit_test(test_host),
	};

	return RUN_IN_TMPDIR(tests, "vigil-blcache");
}
