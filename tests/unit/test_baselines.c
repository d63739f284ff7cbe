// SPDX-License-Identifier: BSD-2-Clause
/* Process baselines: learning, the graveyard, lock, cap, bad input, persistence in the store. */
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

#include <jansson.h>
#include <msgpack.h>

#include "alerts.h"
#include "baselines.h"
#include "wal.h"
#include "store_fixture.h"

#define MIN (60ull * 1000000000ull)

static struct vg_baseline_key k8s_key(const char *ns, const char *deploy, const char *ctr)
{
	struct vg_baseline_key k = {0};

	snprintf(k.namespace_, sizeof(k.namespace_), "%s", ns);
	snprintf(k.deployment, sizeof(k.deployment), "%s", deploy);
	snprintf(k.container, sizeof(k.container), "%s", ctr);
	return k;
}

static const struct vg_baseline *ensure(struct vg_baselines *b, const char *deploy, uint64_t now)
{
	struct vg_baseline_key k = k8s_key("shop", deploy, "app");
	const struct vg_baseline *bl = NULL;

	assert_int_equal(vg_baselines_ensure(b, &k, now, 60 * MIN, &bl), 0);
	assert_non_null(bl);
	return bl;
}

static int changes;
static const struct vg_baseline *last_changed;

static void on_change(void *ctx, const struct vg_baseline *bl)
{
	(void)ctx;
	changes++;
	last_changed = bl;
}

static void test_learn_has_graveyard(void **state)
{
	struct vg_alerts *s;
	struct vg_baselines *b;
	const struct vg_baseline *bl, *again;
	const char *rm[] = {"/bin/sh"}, *back[] = {"/bin/sh"};
	char err[256];

	(void)state;
	clear_store();
	s = open_store();
	b = vg_alerts_baselines(s);
	vg_baselines_on_change(b, on_change, NULL);
	changes = 0;
	bl = ensure(b, "web", 1000);
	assert_int_equal(bl->created_ns, 1000);
	assert_int_equal(bl->observe_until_ns, 1000 + 60 * MIN);
	assert_int_equal(strlen(bl->id), VG_BL_ID_LEN);
	again = ensure(b, "web", 5000); /* the same key: the same baseline, untouched */
	assert_ptr_equal(again, bl);
	assert_int_equal(again->created_ns, 1000);

	assert_int_equal(vg_baselines_learn(b, bl, "/usr/bin/python3", 2000), 1);
	assert_int_equal(vg_baselines_learn(b, bl, "/bin/sh", 2001), 1);
	assert_int_equal(vg_baselines_learn(b, bl, "/bin/sh", 2002), 0); /* already there */
	assert_int_equal(vg_baselines_learn(b, bl, "bin/sh", 2002), -EINVAL);
	assert_int_equal(changes, 2);
	assert_ptr_equal(last_changed, bl);
	assert_int_equal(bl->n_elements, 2);
	assert_string_equal(bl->elements[0].path, "/bin/sh"); /* sorted */
	assert_int_equal(bl->elements[0].origin, VG_BL_LEARNED);
	assert_int_equal(bl->elements[0].added_ns, 2001);
	assert_true(vg_baselines_has(bl, "/bin/sh"));
	assert_true(vg_baselines_has(bl, "/usr/bin/python3"));
	assert_false(vg_baselines_has(bl, "/bin/bash"));
	assert_false(vg_baselines_has(bl, "/bin/s"));

	/* removed: into the graveyard, never learned again */
	assert_int_equal(vg_baselines_remove(b, bl, rm, 1, 3000, err, sizeof(err)), 0);
	assert_false(vg_baselines_has(bl, "/bin/sh"));
	assert_int_equal(bl->n_removed, 1);
	assert_string_equal(bl->removed[0], "/bin/sh");
	assert_int_equal(vg_baselines_learn(b, bl, "/bin/sh", 3001), 0);
	assert_false(vg_baselines_has(bl, "/bin/sh"));
	/* a user add brings it back, out of the graveyard */
	assert_int_equal(vg_baselines_add(b, bl, back, 1, 4000, err, sizeof(err)), 0);
	assert_true(vg_baselines_has(bl, "/bin/sh"));
	assert_int_equal(bl->n_removed, 0);
	assert_int_equal(bl->elements[0].origin, VG_BL_USER);
	assert_int_equal(bl->updated_ns, 4000);
	vg_alerts_close(s);
}

static void test_lock(void **state)
{
	struct vg_alerts *s;
	struct vg_baselines *b;
	const struct vg_baseline *bl;
	const char *add[] = {"/usr/bin/curl"};
	char err[256];

	(void)state;
	clear_store();
	s = open_store();
	b = vg_alerts_baselines(s);
	bl = ensure(b, "web", 1000);
	assert_int_equal(vg_baselines_learn(b, bl, "/bin/sh", 1001), 1);
	assert_int_equal(vg_baselines_lock(b, bl, true, false, 2000), 0);
	assert_true(bl->locked);
	assert_true(bl->auto_locked);
	assert_int_equal(bl->locked_ns, 2000);
	/* locked: nothing is learned, but a user may still add */
	assert_int_equal(vg_baselines_learn(b, bl, "/bin/ls", 2001), 0);
	assert_false(vg_baselines_has(bl, "/bin/ls"));
	assert_int_equal(vg_baselines_add(b, bl, add, 1, 2002, err, sizeof(err)), 0);
	assert_true(vg_baselines_has(bl, "/usr/bin/curl"));
	/* a user lock over the automatic one */
	assert_int_equal(vg_baselines_lock(b, bl, true, true, 3000), 0);
	assert_false(bl->auto_locked);
	assert_int_equal(bl->locked_ns, 3000);
	assert_int_equal(vg_baselines_lock(b, bl, false, true, 4000), 0);
	assert_false(bl->locked);
	assert_int_equal(bl->locked_ns, 0);
	assert_int_equal(vg_baselines_learn(b, bl, "/bin/ls", 4001), 1);
	vg_alerts_close(s);
}

static void test_cap(void **state)
{
	struct vg_alerts *s;
	struct vg_baselines *b;
	const struct vg_baseline *bl;
	const char *more[] = {"/x/user1", "/x/user2"};
	struct vg_baselines_stats st;
	char err[256], path[64];

	(void)state;
	clear_store();
	s = open_store();
	b = vg_alerts_baselines(s);
	vg_baselines_set_cap(b, 3);
	bl = ensure(b, "gen", 1000);
	for (int i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "/tmp/build-%d/cc1", i);
		assert_int_equal(vg_baselines_learn(b, bl, path, 1001 + i), 1);
	}
	for (int i = 3; i < 8; i++) {
		snprintf(path, sizeof(path), "/tmp/build-%d/cc1", i);
		assert_int_equal(vg_baselines_learn(b, bl, path, 1001 + i), -ENOSPC);
	}
	assert_int_equal(bl->n_elements, 3);
	assert_int_equal(bl->capped, 5);
	assert_int_equal(vg_baselines_add(b, bl, more, 2, 2000, err, sizeof(err)), -ENOSPC);
	assert_int_equal(bl->n_elements, 3);
	vg_baselines_stats(b, &st);
	assert_int_equal(st.capped, 5);
	assert_int_equal(st.elements, 3);
	vg_alerts_close(s);
	/* the count survives a restart (written at 1, 2, 4 and at close) */
	s = open_store();
	bl = vg_baselines_find(vg_alerts_baselines(s), "shop/gen/app");
	assert_non_null(bl);
	assert_int_equal(bl->capped, 5);
	assert_int_equal(bl->n_elements, 3);
	vg_alerts_close(s);
}

/* Thousands of paths learned out of order: every one found, none other, sorted; the same
 * after a reopen (rebuilt by replay). */
static void test_many(void **state)
{
	struct vg_alerts *s;
	const struct vg_baseline *bl;
	char path[64];

	(void)state;
	clear_store();
	s = open_store();
	vg_baselines_set_cap(vg_alerts_baselines(s), 5000);
	bl = ensure(vg_alerts_baselines(s), "big", 1);
	for (int i = 0; i < 3000; i++) {
		snprintf(path, sizeof(path), "/usr/lib/x/%d", (i * 7919) % 3000);
		assert_int_equal(vg_baselines_learn(vg_alerts_baselines(s), bl, path, 2), 1);
	}
	for (int round = 0; round < 2; round++) {
		assert_int_equal(bl->n_elements, 3000);
		for (size_t i = 1; i < bl->n_elements; i++)
			assert_true(strcmp(bl->elements[i - 1].path, bl->elements[i].path) < 0);
		for (int i = 0; i < 3000; i++) {
			snprintf(path, sizeof(path), "/usr/lib/x/%d", i);
			assert_true(vg_baselines_has(bl, path));
			snprintf(path, sizeof(path), "/usr/lib/y/%d", i);
			assert_false(vg_baselines_has(bl, path));
		}
		vg_alerts_close(s);
		s = open_store();
		bl = vg_baselines_find(vg_alerts_baselines(s), "shop/big/app");
		assert_non_null(bl);
	}
	vg_alerts_close(s);
}

static void test_bad_input(void **state)
{
	struct vg_alerts *s;
	struct vg_baselines *b;
	const struct vg_baseline *bl;
	struct vg_baseline_key k = k8s_key("shop", "", "app");
	const char *rel[] = {"/bin/a", "bin/b"}, *dup[] = {"/bin/c", "/bin/sh"};
	const char *twice[] = {"/bin/d", "/bin/d"}, *missing[] = {"/bin/sh", "/bin/nope"};
	char err[256], *longp = malloc(VG_BL_PATH_MAX + 1);
	const char *toolong[] = {"/bin/e", longp};

	(void)state;
	clear_store();
	s = open_store();
	b = vg_alerts_baselines(s);
	assert_int_equal(vg_baselines_ensure(b, &k, 1, 1, &bl), -EINVAL); /* no deployment */
	assert_null(bl);
	bl = ensure(b, "web", 1000);
	assert_int_equal(vg_baselines_learn(b, bl, "/bin/sh", 1001), 1);
	assert_int_equal(vg_baselines_add(b, bl, rel, 2, 2000, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "bin/b"));
	assert_int_equal(vg_baselines_add(b, bl, dup, 2, 2000, err, sizeof(err)), -EEXIST);
	assert_non_null(strstr(err, "/bin/sh"));
	assert_int_equal(vg_baselines_add(b, bl, twice, 2, 2000, err, sizeof(err)), -EEXIST);
	memset(longp, 'a', VG_BL_PATH_MAX);
	longp[0] = '/';
	longp[VG_BL_PATH_MAX] = '\0';
	assert_int_equal(vg_baselines_add(b, bl, toolong, 2, 2000, err, sizeof(err)), -EINVAL);
	assert_int_equal(vg_baselines_learn(b, bl, longp, 2000), -EINVAL);
	assert_int_equal(vg_baselines_remove(b, bl, missing, 2, 2000, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "/bin/nope"));
	/* nothing changed by any of them */
	assert_int_equal(bl->n_elements, 1);
	assert_int_equal(bl->n_removed, 0);
	assert_true(vg_baselines_has(bl, "/bin/sh"));
	assert_false(vg_baselines_has(bl, "/bin/a"));
	assert_false(vg_baselines_has(bl, "/bin/c"));
	free(longp);
	vg_alerts_close(s);
}

static void test_find_list_delete(void **state)
{
	struct vg_alerts *s;
	struct vg_baselines *b;
	const struct vg_baseline *web, *db, *pod, **list;
	struct vg_baseline_key k = {0};
	size_t n;

	(void)state;
	clear_store();
	s = open_store();
	b = vg_alerts_baselines(s);
	web = ensure(b, "web", 1);
	db = ensure(b, "db", 2);
	snprintf(k.image, sizeof(k.image), "docker.io/library/nginx:1.25");
	snprintf(k.container, sizeof(k.container), "front");
	assert_int_equal(vg_baselines_ensure(b, &k, 3, 0, &pod), 0);
	assert_ptr_equal(vg_baselines_find(b, web->id), web);
	assert_ptr_equal(vg_baselines_find(b, "shop/db/app"), db);
	assert_ptr_equal(vg_baselines_find(b, "docker.io/library/nginx:1.25/front"), pod);
	assert_ptr_equal(vg_baselines_get(b, &k), pod);
	assert_null(vg_baselines_find(b, "shop/nope/app"));
	assert_null(vg_baselines_find(b, "0123456789abcdef"));
	assert_int_equal(vg_baselines_list(b, &list, &n), 0);
	assert_int_equal(n, 3);
	assert_ptr_equal(list[0], pod); /* "docker..." < "shop/db..." < "shop/web..." */
	assert_ptr_equal(list[1], db);
	assert_ptr_equal(list[2], web);
	free(list);
	assert_int_equal(vg_baselines_delete(b, db), 0);
	assert_null(vg_baselines_find(b, "shop/db/app"));
	vg_alerts_close(s);
	s = open_store(); /* the tombstone holds */
	b = vg_alerts_baselines(s);
	assert_null(vg_baselines_find(b, "shop/db/app"));
	assert_non_null(vg_baselines_find(b, "shop/web/app"));
	vg_alerts_close(s);
}

/* Everything a store's baselines hold, as text (malloc'd): elements with origin and time,
 * graveyard, lock, capped, times. */
static char *dump(struct vg_baselines *b)
{
	const struct vg_baseline **list;
	size_t n, len = 0;
	char *buf = NULL;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	assert_int_equal(vg_baselines_list(b, &list, &n), 0);
	for (size_t i = 0; i < n; i++) {
		const struct vg_baseline *bl = list[i];

		fprintf(f, "%s %llu %llu %llu lock %d %d %llu capped %llu\n", bl->id,
			(unsigned long long)bl->created_ns,
			(unsigned long long)bl->observe_until_ns,
			(unsigned long long)bl->updated_ns, bl->locked, bl->auto_locked,
			(unsigned long long)bl->locked_ns, (unsigned long long)bl->capped);
		for (size_t e = 0; e < bl->n_elements; e++)
			fprintf(f, " %s %d %llu\n", bl->elements[e].path,
				(int)bl->elements[e].origin,
				(unsigned long long)bl->elements[e].added_ns);
		for (size_t e = 0; e < bl->n_removed; e++)
			fprintf(f, " removed %s\n", bl->removed[e]);
	}
	free(list);
	fclose(f);
	return buf;
}

/* A store with five baselines in every state. */
static void fill(struct vg_baselines *b)
{
	const char *user[] = {"/opt/tool"}, *rm[] = {"/bin/sh"};
	char err[256], path[64];

	for (int d = 0; d < 5; d++) {
		char deploy[16];
		const struct vg_baseline *bl;

		snprintf(deploy, sizeof(deploy), "d%d", d);
		bl = ensure(b, deploy, 100 + d);
		assert_int_equal(vg_baselines_learn(b, bl, "/bin/sh", 200 + d), 1);
		for (int i = 0; i < 20; i++) {
			snprintf(path, sizeof(path), "/usr/lib/d%d/bin%d", d % 2, i);
			assert_int_equal(vg_baselines_learn(b, bl, path, 300 + i), 1);
		}
		if (d >= 1)
			assert_int_equal(vg_baselines_add(b, bl, user, 1, 400, err, sizeof(err)),
					 0);
		if (d >= 2)
			assert_int_equal(vg_baselines_remove(b, bl, rm, 1, 500, err, sizeof(err)),
					 0);
		if (d >= 3)
			assert_int_equal(vg_baselines_lock(b, bl, true, d == 3, 600), 0);
	}
}

static void test_reopen(void **state)
{
	struct vg_alerts *s;
	char *before, *after;

	(void)state;
	clear_store();
	s = open_store();
	fill(vg_alerts_baselines(s));
	before = dump(vg_alerts_baselines(s));
	vg_alerts_close(s);
	s = open_store();
	after = dump(vg_alerts_baselines(s));
	assert_string_equal(before, after);
	assert_non_null(strstr(after, "removed /bin/sh"));
	assert_non_null(strstr(after, "/opt/tool 1 400"));
	assert_non_null(strstr(after, "lock 1 1 600"));
	free(before);
	free(after);
	vg_alerts_close(s);
}

/* A baseline record the store cannot read is skipped and counted; the rest loads. */
static void test_bad_records(void **state)
{
	struct vg_alerts *s;
	struct vg_baselines *b;
	const struct vg_baseline *bl;
	struct vg_baselines_stats st;
	msgpack_sbuffer sb;
	msgpack_packer pk;

	(void)state;
	clear_store();
	s = open_store();
	b = vg_alerts_baselines(s);
	bl = ensure(b, "web", 1);
	assert_int_equal(vg_baselines_learn(b, bl, "/bin/sh", 2), 1);
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	/* an element without its path */
	assert_int_equal(msgpack_pack_map(&pk, 2), 0);
	assert_int_equal(msgpack_pack_str_with_body(&pk, "t", 1), 0);
	assert_int_equal(msgpack_pack_str_with_body(&pk, "be", 2), 0);
	assert_int_equal(msgpack_pack_str_with_body(&pk, "id", 2), 0);
	assert_int_equal(msgpack_pack_str_with_body(&pk, bl->id, strlen(bl->id)), 0);
	vg_alerts_replay_record(s, sb.data, sb.size);
	msgpack_sbuffer_clear(&sb);
	/* a baseline record type this vigil does not know */
	assert_int_equal(msgpack_pack_map(&pk, 1), 0);
	assert_int_equal(msgpack_pack_str_with_body(&pk, "t", 1), 0);
	assert_int_equal(msgpack_pack_str_with_body(&pk, "bz", 2), 0);
	vg_alerts_replay_record(s, sb.data, sb.size);
	/* damaged: {"t": "be", "id": 123} */
	static const char damaged[] = {'\x82', '\xa1', 't', '\xa2', 'b',
				       'e',    '\xa2', 'i', 'd',    123};
	vg_alerts_replay_record(s, damaged, sizeof(damaged));
	/* an element given twice (and one already there) is kept once, in order */
	for (int i = 0; i < 3; i++) {
		const char *p = i == 2 ? "/bin/sh" : "/a/new";

		msgpack_sbuffer_clear(&sb);
		assert_int_equal(msgpack_pack_map(&pk, 5), 0);
		assert_int_equal(msgpack_pack_str_with_body(&pk, "t", 1), 0);
		assert_int_equal(msgpack_pack_str_with_body(&pk, "be", 2), 0);
		assert_int_equal(msgpack_pack_str_with_body(&pk, "id", 2), 0);
		assert_int_equal(msgpack_pack_str_with_body(&pk, bl->id, strlen(bl->id)), 0);
		assert_int_equal(msgpack_pack_str_with_body(&pk, "path", 4), 0);
		assert_int_equal(msgpack_pack_str_with_body(&pk, p, strlen(p)), 0);
		assert_int_equal(msgpack_pack_str_with_body(&pk, "origin", 6), 0);
		assert_int_equal(msgpack_pack_uint64(&pk, 0), 0);
		assert_int_equal(msgpack_pack_str_with_body(&pk, "time", 4), 0);
		assert_int_equal(msgpack_pack_uint64(&pk, 7), 0);
		vg_alerts_replay_record(s, sb.data, sb.size);
	}
	msgpack_sbuffer_destroy(&sb);
	vg_baselines_stats(b, &st);
	assert_int_equal(st.records_bad, 3);
	assert_int_equal(st.baselines, 1);
	assert_int_equal(bl->n_elements, 2);
	assert_string_equal(bl->elements[0].path, "/a/new");
	assert_string_equal(bl->elements[1].path, "/bin/sh");
	assert_true(vg_baselines_has(bl, "/a/new"));
	assert_true(vg_baselines_has(bl, "/bin/sh"));
	vg_alerts_close(s);
}

/* Compaction rewrites the log with a snapshot of every baseline: reopened, the same. */
static void test_compaction(void **state)
{
	struct vg_alerts *s;
	struct vg_baselines *b;
	const struct vg_baseline *tmp;
	struct vg_alerts_stats st;
	char *before, *after, path[64];
	uint64_t bytes_before;

	(void)state;
	clear_store();
	s = open_store();
	b = vg_alerts_baselines(s);
	fill(b);
	vg_baselines_set_cap(b, 21); /* d0 is full: three paths capped, the log holds 2 */
	for (int i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "/capped/%d", i);
		assert_int_equal(
			vg_baselines_learn(b, vg_baselines_find(b, "shop/d0/app"), path, 9),
			-ENOSPC);
	}
	vg_baselines_set_cap(b, 400);
	assert_int_equal(vg_alerts_compact(s, 0), 0); /* nothing dead yet: nothing rewritten */
	tmp = ensure(b, "scratch", 1);
	for (int i = 0; i < 300; i++) {
		snprintf(path, sizeof(path), "/tmp/scratch/%d", i);
		assert_int_equal(vg_baselines_learn(b, tmp, path, 2), 1);
	}
	assert_int_equal(vg_baselines_delete(b, tmp), 0); /* 300 records dead */
	assert_int_equal(vg_alerts_sync(s), 0);
	vg_alerts_stats(s, &st);
	bytes_before = st.wal.bytes_on_disk;
	before = dump(b);
	assert_non_null(strstr(before, "capped 3"));
	assert_int_equal(vg_alerts_compact(s, 0), 0);
	vg_alerts_stats(s, &st);
	assert_true(st.wal.bytes_on_disk < bytes_before); /* the dead records went */
	vg_alerts_close(s);
	s = open_store();
	after = dump(vg_alerts_baselines(s));
	assert_string_equal(before, after);
	assert_null(vg_baselines_find(vg_alerts_baselines(s), "shop/scratch/app"));
	free(before);
	free(after);
	vg_alerts_close(s);
}

/* A torn last record (a crash mid-write) loses only itself. */
static void test_torn_tail(void **state)
{
	struct vg_alerts_opts o = {.dir = dir};
	struct vg_wal_report rep;
	struct vg_alerts *s;
	struct vg_baselines *b;
	const struct vg_baseline *bl;
	char err[256], cmd[256];

	(void)state;
	clear_store();
	s = open_store();
	b = vg_alerts_baselines(s);
	bl = ensure(b, "web", 1);
	assert_int_equal(vg_baselines_learn(b, bl, "/bin/sh", 2), 1);
	assert_int_equal(vg_baselines_learn(b, bl, "/bin/last-one", 3), 1);
	vg_alerts_close(s);
	snprintf(cmd, sizeof(cmd), "f=$(ls %s/seg-*.log | tail -1); truncate -s -3 $f", dir);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(vg_alerts_open(&s, &o, NULL, &rep, err, sizeof(err)), 0);
	assert_true(rep.truncated);
	bl = vg_baselines_find(vg_alerts_baselines(s), "shop/web/app");
	assert_non_null(bl);
	assert_true(vg_baselines_has(bl, "/bin/sh"));
	assert_false(vg_baselines_has(bl, "/bin/last-one"));
	vg_alerts_close(s);
}

static void test_json(void **state)
{
	struct vg_alerts *s;
	struct vg_baselines *b;
	const struct vg_baseline *bl;
	const char *rm[] = {"/bin/sh"}, *user[] = {"/opt/\xff"};
	char err[256];
	json_t *j;

	(void)state;
	clear_store();
	s = open_store();
	b = vg_alerts_baselines(s);
	bl = ensure(b, "web", 1000000000ull);
	assert_int_equal(vg_baselines_learn(b, bl, "/bin/sh", 2000000000ull), 1);
	assert_int_equal(vg_baselines_learn(b, bl, "/bin/ls", 2000000000ull), 1);
	assert_int_equal(vg_baselines_remove(b, bl, rm, 1, 3000000000ull, err, sizeof(err)), 0);
	assert_int_equal(vg_baselines_add(b, bl, user, 1, 3000000000ull, err, sizeof(err)), 0);
	j = vg_baseline_json(bl);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "id")), bl->id);
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(j, "key"), "deploymentName")),
		"web");
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(j, "key"), "namespace")), "shop");
	assert_int_equal(json_array_size(json_object_get(j, "elements")), 2);
	assert_string_equal(
		json_string_value(json_object_get(
			json_object_get(json_array_get(json_object_get(j, "elements"), 0),
					"element"),
			"processName")),
		"/bin/ls");
	assert_true(json_is_true(
		json_object_get(json_array_get(json_object_get(j, "elements"), 0), "auto")));
	assert_true(json_is_false(
		json_object_get(json_array_get(json_object_get(j, "elements"), 1), "auto")));
	assert_string_equal(
		json_string_value(json_object_get(
			json_object_get(json_array_get(json_object_get(j, "elements"), 1),
					"element"),
			"processName")),
		"/opt/\xef\xbf\xbd"); /* not UTF-8: U+FFFD */
	assert_int_equal(json_array_size(json_object_get(j, "elementGraveyard")), 1);
	assert_string_equal(json_string_value(json_object_get(j, "created")),
			    "1970-01-01T00:00:01.000000000Z");
	assert_true(json_is_null(json_object_get(j, "userLockedTimestamp")));
	assert_true(json_is_false(json_object_get(j, "locked")));
	assert_int_equal(json_integer_value(json_object_get(j, "cappedPaths")), 0);
	json_decref(j);
	assert_int_equal(vg_baselines_lock(b, bl, true, true, 4000000000ull), 0);
	j = vg_baseline_json(bl);
	assert_true(json_is_string(json_object_get(j, "userLockedTimestamp")));
	assert_true(json_is_null(json_object_get(j, "stackRoxLockedTimestamp")));
	assert_true(json_is_true(json_object_get(j, "locked")));
	json_decref(j);
	vg_alerts_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_learn_has_graveyard),
		cmocka_unit_test(test_lock),
		cmocka_unit_test(test_cap),
		cmocka_unit_test(test_many),
		cmocka_unit_test(test_bad_input),
		cmocka_unit_test(test_find_list_delete),
		cmocka_unit_test(test_reopen),
		cmocka_unit_test(test_bad_records),
		cmocka_unit_test(test_compaction),
		cmocka_unit_test(test_torn_tail),
		cmocka_unit_test(test_json),
	};

	return RUN_IN_TMPDIR(tests, "vigil-baselines");
}
