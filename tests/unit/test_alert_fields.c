// SPDX-License-Identifier: BSD-2-Clause
/* Alerts: the fields kept beside the where and the process: the attribution warning, the
 * executable's identity, a replaced baseline file, the pod's labels; each through reopen. */
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

#include <msgpack.h>

#include <lauxlib.h>

#include "alerts.h"
#include "luajson.h"
#include "record.h"
#include "wal.h"

#include "alerts_fixture.h"

/* A suspect attribution stays on its process, across a restart. */
static void test_attribution_warning_kept(void **state)
{
	struct vg_alerts *s;
	const struct vg_alert *a;
	char id[37];

	(void)state;
	clear_store();
	s = open_store();
	add(s, mk("/usr/bin/apt", "plain", POD1, NULL, 10), "Attr");
	mk("/usr/bin/apt", "nested", POD1, NULL, 20);
	snprintf(ev->attr_warning, sizeof(ev->attr_warning), "a pod is named below container x");
	a = add(s, ev, "Attr");
	snprintf(id, sizeof(id), "%s", a->id);
	assert_int_equal(vg_alerts_sync(s), 0);
	vg_alerts_close(s);
	s = open_store();
	a = vg_alerts_get(s, id);
	assert_non_null(a);
	assert_int_equal(a->nprocs, 2);
	assert_null(a->procs[0].attribution);
	assert_string_equal(a->procs[1].attribution, "a pod is named below container x");
	vg_alerts_close(s);
}

/* A violation of /tmp/x that matched by the exe's name, with the executable's facts. */
static const struct vg_alert *add_ident(struct vg_alerts *s, uint64_t t)
{
	struct vg_violation v = {.policy_id = "Ways",
				 .policy_name = "Ways",
				 .severity = "low",
				 .matched_by = VG_WAY_EXE,
				 .matched_name = "dpkg",
				 .decided_in_kernel =
					 true}; /* the flow's verdict, stored as given */
	const struct vg_alert *a;

	v.ev = mk("/tmp/x", "-l", POD1, NULL, t);
	ev->id.exe_name = "dpkg";
	memset(ev->id.sha256, 0xab, sizeof(ev->id.sha256));
	ev->id.has_sha256 = true;
	ev->id.not_in_image = true;
	ev->id.not_in_image_by = VG_DECIDED_KERNEL;
	assert_int_equal(vg_alerts_add(s, &v, NULL, NULL, &a), 0);
	return a;
}

static void check_ident(const struct vg_proc_rec *p)
{
	assert_int_equal(p->matched_by, VG_WAY_EXE);
	assert_string_equal(p->matched_name, "dpkg");
	assert_string_equal(p->exe_name, "dpkg");
	assert_int_equal(strlen(p->exe_sha256), 64);
	assert_memory_equal(p->exe_sha256, "abababab", 8);
	assert_false(p->exe_fileless);
	assert_true(p->exe_not_in_image);
	assert_true(p->decided_in_kernel);
}

static void skip_record(void *ctx, const void *payload, size_t len)
{
	(void)ctx;
	(void)payload;
	(void)len;
}

/* An old "v" record, as vigil wrote before the executable's identity: no by, xname, ... */
static void append_old_violation(const char *id)
{
	struct vg_wal_opts wo = {.dir = dir};
	struct vg_wal_report rep;
	struct vg_wal *w;
	msgpack_sbuffer sb;
	msgpack_packer pk;
	char err[256];

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	assert_int_equal(msgpack_pack_map(&pk, 5), 0);
	assert_int_equal(msgpack_pack_str_with_body(&pk, "t", 1), 0);
	assert_int_equal(msgpack_pack_str_with_body(&pk, "v", 1), 0);
	assert_int_equal(msgpack_pack_str_with_body(&pk, "id", 2), 0);
	assert_int_equal(msgpack_pack_str_with_body(&pk, id, strlen(id)), 0);
	assert_int_equal(msgpack_pack_str_with_body(&pk, "comm", 4), 0);
	assert_int_equal(msgpack_pack_str_with_body(&pk, "apt", 3), 0);
	assert_int_equal(msgpack_pack_str_with_body(&pk, "exe", 3), 0);
	assert_int_equal(msgpack_pack_str_with_body(&pk, "/usr/bin/apt", 12), 0);
	assert_int_equal(msgpack_pack_str_with_body(&pk, "killed", 6), 0);
	assert_int_equal(msgpack_pack_true(&pk), 0);
	assert_int_equal(vg_wal_open(&w, &wo, NULL, skip_record, NULL, &rep, err, sizeof(err)), 0);
	assert_int_equal(vg_wal_append(w, sb.data, sb.size, NULL, NULL), 0);
	assert_int_equal(vg_wal_sync(w), 0);
	vg_wal_close(w);
	msgpack_sbuffer_destroy(&sb);
}

/* How the name matched and the executable's identity survive reopen and compaction; a
 * record written before them reads as a comm match. */
static void test_identity_kept(void **state)
{
	struct vg_alerts *s;
	const struct vg_alert *a;
	json_t *doc, *proc;
	char id[37];

	(void)state;
	clear_store();
	s = open_store();
	a = add_ident(s, 10);
	snprintf(id, sizeof(id), "%s", a->id);
	doc = vg_alert_json(a, true);
	proc = json_array_get(json_object_get(doc, "processes"), 0);
	assert_string_equal(json_string_value(json_object_get(proc, "matchedBy")), "exe");
	assert_string_equal(json_string_value(json_object_get(proc, "matchedName")), "dpkg");
	assert_string_equal(json_string_value(json_object_get(proc, "exeName")), "dpkg");
	assert_int_equal(strlen(json_string_value(json_object_get(proc, "exeSha256"))), 64);
	assert_true(json_is_false(json_object_get(proc, "exeFileless")));
	assert_true(json_is_true(json_object_get(proc, "exeNotInImage")));
	assert_string_equal(json_string_value(json_object_get(proc, "decidedIn")), "kernel");
	json_decref(doc);
	assert_int_equal(vg_alerts_sync(s), 0);
	vg_alerts_close(s);
	append_old_violation(id);
	s = open_store();
	a = vg_alerts_get(s, id);
	assert_non_null(a);
	assert_int_equal(a->nprocs, 2);
	check_ident(&a->procs[0]);
	assert_int_equal(a->procs[1].matched_by, VG_WAY_COMM);
	assert_null(a->procs[1].matched_name);
	assert_null(a->procs[1].exe_name);
	assert_true(a->procs[1].decided_in_kernel); /* killed: the kernel decided */
	/* compaction (another alert expires) rewrites ours with every key */
	a = add(s, mk("/usr/bin/apt", "o", POD2, NULL, 1), "Old");
	assert_int_equal(vg_alerts_resolve(s, a->id, 5), 0);
	assert_int_equal(vg_alerts_compact(s, 20), 1);
	vg_alerts_close(s);
	s = open_store();
	a = vg_alerts_get(s, id);
	assert_non_null(a);
	assert_int_equal(a->nprocs, 2);
	check_ident(&a->procs[0]);
	assert_true(a->procs[1].decided_in_kernel);
	vg_alerts_close(s);
}

/* An unexpected process whose path is in the baseline but whose file was replaced: stored,
 * said in the message and the document, and kept across a reopen. */
static void test_baseline_replaced_kept(void **state)
{
	struct vg_violation v = {.policy_id = "UPE",
				 .policy_name = "Unauthorized Process Execution",
				 .severity = "high",
				 .killed_in_kernel = true,
				 .baseline_path = "/usr/bin/other"};
	struct vg_alerts *s;
	const struct vg_alert *a;
	json_t *doc, *procs;
	char id[37], msg[512];
	int replaced = 0;

	(void)state;
	clear_store();
	s = open_store();
	v.ev = mk("/usr/bin/other", "-x", POD1, NULL, 10);
	assert_int_equal(vg_alerts_add(s, &v, NULL, NULL, &a), 0);
	v.ev = mk("/usr/bin/okmark", "-x", POD1, NULL, 20); /* the newest: the message's */
	v.baseline_path = "/usr/bin/okmark";
	v.baseline_replaced = true;
	assert_int_equal(vg_alerts_add(s, &v, NULL, NULL, &a), 0);
	snprintf(id, sizeof(id), "%s", a->id);
	assert_int_equal(vg_alerts_sync(s), 0);
	vg_alerts_close(s);
	s = open_store();
	a = vg_alerts_get(s, id);
	assert_non_null(a);
	assert_int_equal(a->nprocs, 2);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(a->procs[i].baseline_replaced,
				 !strcmp(a->procs[i].exe, "/usr/bin/okmark"));
		replaced += a->procs[i].baseline_replaced;
	}
	assert_int_equal(replaced, 1);
	vg_alert_message(a, msg, sizeof(msg));
	assert_non_null(strstr(msg, "Unexpected process '/usr/bin/okmark'"));
	assert_non_null(strstr(msg, "the file there was replaced"));
	doc = vg_alert_json(a, true);
	procs = json_object_get(doc, "processes");
	for (size_t i = 0; i < json_array_size(procs); i++) {
		json_t *p = json_array_get(procs, i);
		bool okmark = !strcmp(json_string_value(json_object_get(p, "execFilePath")),
				      "/usr/bin/okmark");

		assert_true(json_is_boolean(json_object_get(p, "baselineFileReplaced")));
		assert_int_equal(json_is_true(json_object_get(p, "baselineFileReplaced")), okmark);
	}
	json_decref(doc);
	vg_alerts_close(s);
}

/* An old "ac" record, as vigil wrote before labels: an alert without "lbl". */
static void append_old_created(const char *id)
{
	static const char *const kv[] = {"t",	"ac",	    "policy_id", "Old", "policy",
					 "Old", "severity", "low",	 "pod", "web-9"};
	struct vg_wal_opts wo = {.dir = dir};
	struct vg_wal_report rep;
	struct vg_wal *w;
	msgpack_sbuffer sb;
	msgpack_packer pk;
	char err[256];

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	assert_int_equal(msgpack_pack_map(&pk, 7), 0);
	for (int i = 0; i < 10; i++)
		assert_int_equal(msgpack_pack_str_with_body(&pk, kv[i], strlen(kv[i])), 0);
	assert_int_equal(msgpack_pack_str_with_body(&pk, "id", 2), 0);
	assert_int_equal(msgpack_pack_str_with_body(&pk, id, strlen(id)), 0);
	assert_int_equal(msgpack_pack_str_with_body(&pk, "time", 4), 0);
	assert_int_equal(msgpack_pack_uint64(&pk, 3), 0);
	assert_int_equal(vg_wal_open(&w, &wo, NULL, skip_record, NULL, &rep, err, sizeof(err)), 0);
	assert_int_equal(vg_wal_append(w, sb.data, sb.size, NULL, NULL), 0);
	assert_int_equal(vg_wal_sync(w), 0);
	vg_wal_close(w);
	msgpack_sbuffer_destroy(&sb);
}

/* The labels object of a's document (full or list form), checked to be one. */
static json_t *labels_of(const struct vg_alert *a, bool full, json_t **doc)
{
	json_t *l;

	*doc = vg_alert_json(a, full);
	l = json_object_get(*doc, "labels");
	assert_true(json_is_object(l));
	return l;
}

/* The small alert's labels, the big one's cut to Kubernetes' limits, the old one's none. */
static void check_labels(struct vg_alerts *s, const char *small, const char *big, const char *old)
{
	const struct vg_alert *a = vg_alerts_get(s, small);
	json_t *doc, *l;
	const char *k;
	json_t *v;
	int seen = 0;
	struct vg_alerts_stats st;

	assert_non_null(a);
	for (int full = 0; full < 2; full++) {
		l = labels_of(a, full, &doc);
		assert_int_equal(json_object_size(l), 2);
		assert_string_equal(json_string_value(json_object_get(l, "app")), "tmp-shell");
		assert_string_equal(json_string_value(json_object_get(l, "tier")), "web");
		assert_null(json_object_get(doc, "labelsOmitted"));
		json_decref(doc);
	}
	a = vg_alerts_get(s, big);
	assert_non_null(a);
	assert_int_equal(a->nlabels, VG_ALERT_MAX_LABELS);
	assert_int_equal(a->labels_omitted, 6);
	assert_true(a->labels_len < VG_ALERT_MAX_LABELS * (317 + 63 + 8));
	l = labels_of(a, true, &doc);
	assert_int_equal(json_object_size(l), VG_ALERT_MAX_LABELS);
	assert_int_equal(json_integer_value(json_object_get(doc, "labelsOmitted")), 6);
	json_object_foreach(l, k, v)
	{
		if (k[0] != 'k' || strlen(k) < 100)
			continue;
		/* the long key: cut at 317 bytes, marked */
		assert_int_equal(strlen(k), 317 + 3);
		assert_string_equal(k + 317, "\xe2\x80\xa6");
		/* the long value: cut at 63, the byte that is not UTF-8 replaced */
		assert_int_equal(strlen(json_string_value(v)), 63 + 3);
		assert_memory_equal(json_string_value(v),
				    "\xef\xbf\xbd"
				    "vv",
				    5);
		seen++;
	}
	assert_int_equal(seen, 1);
	assert_non_null(json_object_get(l, "l63"));
	assert_null(json_object_get(l, "l64")); /* past 64: counted only */
	json_decref(doc);
	vg_alerts_stats(s, &st); /* the memory they take, counted */
	assert_true(st.label_bytes > 64 * 4 && st.label_bytes < 64 * (317 + 63 + 8) + 32);
	assert_int_equal(st.labels_omitted, 6);
	a = vg_alerts_get(s, old);
	assert_non_null(a);
	l = labels_of(a, true, &doc);
	assert_int_equal(json_object_size(l), 0);
	json_decref(doc);
}

/* The pod's labels are kept with the alert, bounded, through reopen and compaction. */
static void test_labels_kept(void **state)
{
	static const char *const small_kv[] = {"app", "tmp-shell", "tier", "web", NULL};
	static char names[70][8], key[400], val[100];
	static const char *big_kv[2 * 70 + 1];
	struct vg_alerts *s;
	char small[37], big[37], old[] = "00000000-0000-4000-8000-0000000000aa";

	(void)state;
	memset(key, 'k', sizeof(key) - 1);
	memset(val, 'v', sizeof(val) - 1);
	val[0] = '\xff';
	for (int i = 0; i < 70; i++) {
		snprintf(names[i], sizeof(names[i]), "l%d", i);
		big_kv[2 * i] = i == 1 ? key : names[i];
		big_kv[2 * i + 1] = i == 1 ? val : "x";
	}
	clear_store();
	s = open_store();
	mk("/usr/bin/apt", "x", POD1, "web", 10);
	meta.labels = small_kv;
	snprintf(small, sizeof(small), "%s", add(s, ev, "L")->id);
	mk("/usr/bin/apt", "y", POD2, "api", 20);
	meta.labels = big_kv;
	snprintf(big, sizeof(big), "%s", add(s, ev, "L")->id);
	assert_int_equal(vg_alerts_sync(s), 0);
	vg_alerts_close(s);
	append_old_created(old);
	s = open_store();
	check_labels(s, small, big, old);
	/* compaction (another alert expires) rewrites them */
	assert_int_equal(
		vg_alerts_resolve(s, add(s, mk("/bin/ls", "o", NULL, NULL, 1), "X")->id, 5), 0);
	assert_int_equal(vg_alerts_compact(s, 30), 1);
	vg_alerts_close(s);
	s = open_store();
	check_labels(s, small, big, old);
	vg_alerts_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_baseline_replaced_kept),
		cmocka_unit_test(test_attribution_warning_kept),
		cmocka_unit_test(test_identity_kept),
		cmocka_unit_test(test_labels_kept),
	};
	int rc;

	ev = calloc(1, sizeof(*ev));
	if (!ev)
		return 1;
	rc = RUN_IN_TMPDIR(tests, "vigil-alertfields");
	free(ev);
	return rc;
}
