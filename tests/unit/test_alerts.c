// SPDX-License-Identifier: BSD-2-Clause
/* Alerts: StackRox merging, the 40-process cap, resolve, settings, retention, reopen. */
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

static void test_merging(void **state)
{
	struct vg_alerts *s = open_store();
	const struct vg_alert *a, *b, *c, *d;
	char msg[256];

	(void)state;
	a = add(s, mk("/usr/bin/apt", "update", POD1, NULL, 10), "P");
	b = add(s, mk("/usr/bin/dpkg", "-i", POD1, NULL, 20), "P");
	assert_ptr_equal(a, b); /* same policy, same pod: one alert */
	assert_int_equal(a->violations, 2);
	assert_int_equal(a->first_ns, 10);
	assert_int_equal(a->time_ns, 20);
	c = add(s, mk("/usr/bin/apt", "update", POD2, NULL, 30), "P");
	assert_ptr_not_equal(a, c); /* another pod */
	d = add(s, mk("/usr/bin/apt", "update", POD1, NULL, 40), "Q");
	assert_ptr_not_equal(a, d); /* another policy */
	/* a deployment groups its pods */
	a = add(s, mk("/usr/bin/apt", "x", POD1, "web", 50), "R");
	b = add(s, mk("/usr/bin/apt", "y", POD2, "web", 60), "R");
	assert_ptr_equal(a, b);
	vg_alert_message(b, msg, sizeof(msg));
	assert_string_equal(msg,
			    "Binary '/usr/bin/apt' executed with arguments 'y' under user ID 0");
	/* the Violations page's filters: namespace, deployment, pod (Kubernetes metadata) */
	{
		struct vg_alert_filter f = {.state = -1, .namespace_ = "shop"};
		const struct vg_alert **list;
		int n = vg_alerts_query(s, &f, &list);

		assert_int_equal(n, 1);
		assert_ptr_equal(list[0], b);
		free(list);
		f.namespace_ = NULL;
		f.deployment = "web";
		f.pod = "web-1";
		assert_int_equal(vg_alerts_query(s, &f, &list), 1);
		free(list);
		f.pod = "web-2";
		assert_int_equal(vg_alerts_query(s, &f, &list), 0);
		free(list);
		f.pod = NULL;
		f.deployment = NULL;
		f.namespace_ = "other";
		assert_int_equal(vg_alerts_query(s, &f, &list), 0);
		free(list);
	}
	vg_alerts_close(s);
}

static void test_cap_resolve_reopen(void **state)
{
	struct vg_alerts *s = open_store();
	const struct vg_alert *a, *b;
	const struct vg_alert **list;
	struct vg_alert_filter f = {.state = -1};
	char id[37];
	int n;

	(void)state;
	for (int i = 0; i < 45; i++)
		a = add(s, mk("/usr/bin/apt", "update", POD1, NULL, 100 + (uint64_t)i), "Cap");
	assert_int_equal(a->violations, 45);
	assert_int_equal(a->nprocs, VG_ALERT_MAX_PROCS);
	snprintf(id, sizeof(id), "%s", a->id);
	assert_int_equal(vg_alerts_resolve(s, id, 1000), 0);
	assert_int_equal(vg_alerts_resolve(s, id, 1001), -EALREADY);
	assert_int_equal(vg_alerts_resolve(s, "nope", 1001), -ENOENT);
	/* a violation after the resolve opens a new alert */
	b = add(s, mk("/usr/bin/apt", "update", POD1, NULL, 2000), "Cap");
	assert_string_not_equal(b->id, id);
	assert_int_equal(vg_alerts_set_policy(s, "Cap", 0, "kill_pod"), 0);
	assert_int_equal(vg_alerts_sync(s), 0);
	vg_alerts_close(s);

	s = open_store(); /* everything is rebuilt from the log */
	a = vg_alerts_get(s, id);
	assert_non_null(a);
	assert_int_equal(a->state, VG_ALERT_RESOLVED);
	assert_int_equal(a->nprocs, VG_ALERT_MAX_PROCS);
	assert_int_equal(a->first_ns, 100);
	assert_string_equal(a->procs[(a->head + VG_ALERT_MAX_PROCS - 1) % VG_ALERT_MAX_PROCS].args,
			    "update");
	f.policy = "Cap";
	n = vg_alerts_query(s, &f, &list);
	assert_int_equal(n, 2);
	assert_int_equal(list[0]->state, VG_ALERT_ACTIVE); /* newest first */
	free(list);
	f.state = VG_ALERT_RESOLVED;
	n = vg_alerts_query(s, &f, &list);
	assert_int_equal(n, 1);
	free(list);
	assert_int_equal(vg_alerts_policy_setting(s, "Cap")->enabled, 0);
	assert_string_equal(vg_alerts_policy_setting(s, "Cap")->enforcement, "kill_pod");
	/* the open alert still merges after a restart */
	a = add(s, mk("/usr/bin/apt", "again", POD1, NULL, 3000), "Cap");
	assert_int_equal(a->violations, 2);
	vg_alerts_sync(s);
	vg_alerts_close(s);
}

/* Alerts opened and resolved over and over: the index of open alerts keeps finding its way. */
static void test_resolve_reopen_many(void **state)
{
	struct vg_alerts *s;
	char id[37];

	(void)state;
	clear_store();
	s = open_store();
	for (int i = 0; i < 5000; i++) {
		const struct vg_alert *a =
			add(s, mk("/usr/bin/apt", "update", NULL, NULL, 10 + (uint64_t)i), "Loop");

		assert_int_equal(a->violations, 1);
		snprintf(id, sizeof(id), "%s", a->id);
		assert_int_equal(vg_alerts_resolve(s, id, 20 + (uint64_t)i), 0);
	}
	assert_non_null(vg_alerts_get(s, id));
	vg_alerts_close(s);
	clear_store();
}

/* A page size below one orders nothing and reads nothing outside the results. */
static void test_window_bad_size(void **state)
{
	struct vg_alert_filter f = {.state = -1};
	const struct vg_alert **out = NULL;
	struct vg_alerts *s;
	char policy[32];

	(void)state;
	clear_store();
	s = open_store();
	for (int i = 0; i < 2100; i++) { /* past the size at which a page is a partial sort */
		snprintf(policy, sizeof(policy), "P%d", i);
		add(s, mk("/usr/bin/apt", "update", NULL, NULL, 10 + (uint64_t)i), policy);
	}
	for (int want = -1; want >= -2; want--) {
		int w = want == -1 ? -5 : INT_MIN;

		assert_int_equal(vg_alerts_query_window(s, &f, w, &out), 2100);
		free(out);
		out = NULL;
	}
	assert_int_equal(vg_alerts_query_window(s, &f, 3, &out), 2100);
	assert_string_equal(out[0]->policy_name, "P2099");
	free(out);
	vg_alerts_close(s);
	clear_store();
}

static void test_retention(void **state)
{
	struct vg_alerts *s;
	struct vg_alert_filter f = {.state = -1};
	const struct vg_alert **list;
	const struct vg_alert *a;
	char keep[37], old[37];
	int n;

	(void)state;
	clear_store();
	s = open_store();
	a = add(s, mk("/usr/bin/apt", "1", POD1, NULL, 10), "Old");
	snprintf(old, sizeof(old), "%s", a->id);
	vg_alerts_resolve(s, old, 100);
	a = add(s, mk("/usr/bin/apt", "2", POD2, NULL, 20), "Old");
	snprintf(keep, sizeof(keep), "%s", a->id);
	vg_alerts_resolve(s, keep, 5000);
	add(s, mk("/usr/bin/apt", "3", POD2, NULL, 30), "Active");
	assert_int_equal(vg_alerts_compact(s, 1000), 1);
	assert_null(vg_alerts_get(s, old));
	vg_alerts_close(s);
	s = open_store();
	assert_null(vg_alerts_get(s, old));
	assert_non_null(vg_alerts_get(s, keep));
	n = vg_alerts_query(s, &f, &list);
	assert_int_equal(n, 2);
	free(list);
	vg_alerts_close(s);
}

static void test_enforcement_record(void **state)
{
	struct vg_alerts *s;
	const struct vg_alert *a;
	char id[37], old[37];

	(void)state;
	clear_store();
	s = open_store();
	a = add(s, mk("/usr/bin/apt", "x", POD1, NULL, 10), "Enf");
	snprintf(id, sizeof(id), "%s", a->id);
	assert_int_equal(vg_alerts_enforced(s, a, "kill_pod", true, "ok", "pod-a", 11), 0);
	assert_int_equal(vg_alerts_enforced(s, a, "kill_pod", true, "ok", "pod-b", 12), 0);
	assert_int_equal(vg_alerts_enforced(s, a, "kill_pod", true, "ok", "pod-a", 13), 0);
	assert_int_equal(a->enf_count, 2); /* distinct pods */
	assert_int_equal(a->state, VG_ALERT_ACTIVE);
	assert_int_equal(vg_alerts_enforced(s, a, "kill_pod", false, "403 Forbidden", "pod-c", 14),
			 0);
	assert_int_equal(a->state, VG_ALERT_ATTEMPTED);
	assert_string_equal(a->enf_msg, "403 Forbidden");
	/* something to compact away, so the log is rewritten */
	a = add(s, mk("/usr/bin/apt", "y", POD2, NULL, 20), "Gone");
	snprintf(old, sizeof(old), "%s", a->id);
	vg_alerts_resolve(s, old, 30);
	assert_int_equal(vg_alerts_compact(s, 1000), 1);
	vg_alerts_close(s);
	s = open_store();
	a = vg_alerts_get(s, id);
	assert_non_null(a);
	assert_int_equal(a->enf_count, 2);
	assert_int_equal(a->state, VG_ALERT_ATTEMPTED);
	assert_non_null(strstr(vg_alert_state_name(a->state), "ATTEMPTED"));
	vg_alerts_close(s);
}

static void check_compacted(struct vg_alerts *s, const char *many, const char *res, const char *old,
			    uint64_t n)
{
	const struct vg_policy_setting *st;
	const struct vg_alert *a;
	struct vg_alerts_stats ss;

	st = vg_alerts_policy_setting(s, "kill-me");
	assert_non_null(st);
	assert_int_equal(st->enabled, -1);
	assert_string_equal(st->enforcement, "kill_process");
	st = vg_alerts_policy_setting(s, "off");
	assert_non_null(st);
	assert_int_equal(st->enabled, 0);
	assert_null(st->enforcement);
	st = vg_alerts_policy_setting(s, "both");
	assert_non_null(st);
	assert_int_equal(st->enabled, 1);
	assert_string_equal(st->enforcement, "kill_pod");
	a = vg_alerts_get(s, many);
	assert_non_null(a);
	assert_int_equal(a->violations, n);
	assert_int_equal(a->nprocs, VG_ALERT_MAX_PROCS);
	assert_int_equal(a->first_ns, 100);
	assert_int_equal(a->time_ns, n == 45 ? 144 : 400);
	assert_int_equal(a->enf_count, 70);
	assert_string_equal(a->enf_action, "kill_process");
	assert_string_equal(a->enf_msg, "killed");
	assert_int_equal(a->enf_ns, 269);
	assert_int_equal(a->state, VG_ALERT_ACTIVE);
	a = vg_alerts_get(s, res);
	assert_non_null(a);
	assert_int_equal(a->state, VG_ALERT_RESOLVED);
	assert_int_equal(a->resolved_ns, 5000);
	assert_int_equal(a->violations, 1);
	assert_null(vg_alerts_get(s, old));
	vg_alerts_stats(s, &ss);
	assert_int_equal(ss.violations, n + 1);
}

/* Compaction keeps every policy setting, the true violation and target counts, states and times. */
static void test_compaction_keeps_everything(void **state)
{
	struct vg_alerts *s;
	const struct vg_alert *a;
	char many[37], res[37], old[37];

	(void)state;
	clear_store();
	s = open_store();
	assert_int_equal(vg_alerts_set_policy(s, "kill-me", -1, "kill_process"), 0);
	assert_int_equal(vg_alerts_set_policy(s, "off", 0, NULL), 0);
	assert_int_equal(vg_alerts_set_policy(s, "both", 0, "kill_pod"), 0);
	assert_int_equal(vg_alerts_set_policy(s, "both", 1, NULL), 0);
	for (int i = 0; i < 45; i++) {
		char arg[16];

		snprintf(arg, sizeof(arg), "%d", i);
		a = add(s, mk("/usr/bin/apt", arg, POD1, NULL, 100 + (uint64_t)i), "Many");
	}
	snprintf(many, sizeof(many), "%s", a->id);
	for (int i = 0; i < 70; i++) {
		char t[16];

		snprintf(t, sizeof(t), "pid-%d", i);
		assert_int_equal(vg_alerts_enforced(s, a, "kill_process", true, "killed", t,
						    200 + (uint64_t)i),
				 0);
	}
	a = add(s, mk("/usr/bin/apt", "r", POD2, NULL, 300), "Resolved");
	snprintf(res, sizeof(res), "%s", a->id);
	assert_int_equal(vg_alerts_resolve(s, res, 5000), 0);
	a = add(s, mk("/usr/bin/apt", "o", POD2, NULL, 10), "Old");
	snprintf(old, sizeof(old), "%s", a->id);
	assert_int_equal(vg_alerts_resolve(s, old, 50), 0);
	assert_int_equal(vg_alerts_compact(s, 1000), 1);
	vg_alerts_close(s);
	s = open_store();
	check_compacted(s, many, res, old, 45);
	/* the open alert still takes violations; compacted again, it keeps them all */
	a = add(s, mk("/usr/bin/apt", "more", POD1, NULL, 400), "Many");
	assert_string_equal(a->id, many);
	assert_int_equal(a->violations, 46);
	a = add(s, mk("/usr/bin/apt", "o", POD2, NULL, 20), "Old");
	snprintf(old, sizeof(old), "%s", a->id);
	assert_int_equal(vg_alerts_resolve(s, old, 60), 0);
	assert_int_equal(vg_alerts_compact(s, 1000), 1);
	vg_alerts_close(s);
	s = open_store();
	check_compacted(s, many, res, old, 46);
	vg_alerts_close(s);
}

/*
 * A violation the log refuses (its memory bound full) is not kept, and neither
 * is the alert it would have opened: a later violation opens the alert again,
 * in the log, so that nothing acknowledged later is lost at replay.
 */
static void test_refused_violation_is_not_kept(void **state)
{
	struct vg_alerts_opts o = {.dir = dir, .mem_bound = 4096};
	struct vg_wal_report rep;
	struct vg_alerts *s;
	struct vg_violation v = {.policy_id = "New", .policy_name = "New", .severity = "low"};
	struct vg_alert_filter f = {.state = -1, .policy = "New"};
	const struct vg_alert **list;
	const struct vg_alert *a;
	char err[256];
	int stored = 0, rc = 0;

	(void)state;
	clear_store();
	/* no event loop: nothing is written before vg_alerts_sync, so the bound fills */
	assert_int_equal(vg_alerts_open(&s, &o, NULL, &rep, err, sizeof(err)), 0);
	while (rc == 0) {
		struct vg_violation f1 = {.ev = mk("/usr/bin/apt", "fill", POD1, NULL, 10),
					  .policy_id = "Fill",
					  .policy_name = "Fill",
					  .severity = "low"};

		rc = vg_alerts_add(s, &f1, NULL, NULL, &a);
		stored += rc == 0;
	}
	assert_int_equal(rc, -ENOSPC);
	assert_null(a);
	v.ev = mk("/usr/bin/dpkg", "1", POD2, NULL, 20);
	assert_int_equal(vg_alerts_add(s, &v, NULL, NULL, &a), -ENOSPC);
	assert_int_equal(vg_alerts_query(s, &f, &list), 0); /* no alert without its record */
	free(list);
	assert_int_equal(vg_alerts_sync(s), 0); /* the disk takes what was queued */
	v.ev = mk("/usr/bin/dpkg", "2", POD2, NULL, 30);
	assert_int_equal(vg_alerts_add(s, &v, NULL, NULL, &a), 0);
	assert_int_equal(a->violations, 1);
	assert_int_equal(vg_alerts_sync(s), 0);
	vg_alerts_close(s);
	s = open_store();
	assert_int_equal(vg_alerts_query(s, &f, &list), 1);
	assert_int_equal(list[0]->violations, 1);
	free(list);
	f.policy = "Fill";
	assert_int_equal(vg_alerts_query(s, &f, &list), 1);
	assert_int_equal(list[0]->violations, stored);
	free(list);
	vg_alerts_close(s);
}

/* A JSON tree without its null members (Lua tables have no nulls), for comparing the two emitters.
 */
static void drop_nulls(json_t *j)
{
	const char *k;
	json_t *v;
	void *tmp;
	size_t i;

	if (json_is_object(j)) {
		json_object_foreach_safe(j, tmp, k, v)
		{
			if (json_is_null(v))
				json_object_del(j, k);
			else
				drop_nulls(v);
		}
	} else if (json_is_array(j)) {
		json_array_foreach(j, i, v) drop_nulls(v);
	}
}

/* The alert document: its fields, bytes that are not UTF-8, and the same document as Lua tables. */
static void test_documents(void **state)
{
	struct vg_alerts *s;
	const struct vg_alert *a;
	struct vg_event *e;
	lua_State *L = luaL_newstate();
	json_t *j, *fromlua;
	char err[256];

	(void)state;
	s = open_store();
	e = mk("/usr/bin/apt", "inst\xff\xc3(all", POD1, "web", 30);
	a = add(s, e, "Docs");
	assert_int_equal(vg_alerts_enforced(s, a, "kill_pod", true, "ok", "pod-a", 31), 0);
	j = vg_alert_json(a, true);
	assert_string_equal(json_string_value(json_object_get(j, "lifecycleStage")), "RUNTIME");
	assert_string_equal(json_string_value(json_object_get(json_object_get(j, "policy"), "id")),
			    "Docs");
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(j, "deployment"), "name")),
		"web");
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(j, "enforcement"), "action")),
		"kill_pod");
	assert_true(json_is_null(json_object_get(j, "containerId")) ||
		    json_is_string(json_object_get(j, "containerId")));
	{
		json_t *p = json_array_get(json_object_get(j, "processes"), 0);

		/* each bad byte is U+FFFD: the field is there, as valid JSON, not dropped */
		assert_string_equal(json_string_value(json_object_get(p, "args")),
				    "inst\xef\xbf\xbd\xef\xbf\xbd(all");
		assert_string_equal(json_string_value(json_object_get(
					    json_array_get(json_object_get(p, "lineage"), 0),
					    "parentExecFilePath")),
				    "/bin/bash");
		assert_int_equal(json_integer_value(json_object_get(p, "uid")), 0);
		assert_true(json_is_false(json_object_get(p, "killedInKernel")));
	}
	/* the Lua emitter: the same document, its nulls absent */
	{
		struct vg_lua_doc d = {.L = L};

		vg_alert_emit(a, true, &vg_lua_emitter, &d);
		assert_int_equal(lua_gettop(L), 1);
		assert_int_equal(vg_lua_encode_json(L, -1, err, sizeof(err)), 0);
		fromlua = json_loads(lua_tostring(L, -1), 0, NULL);
		assert_non_null(fromlua);
		drop_nulls(j);
		if (!json_equal(j, fromlua)) {
			char *x = json_dumps(j, JSON_SORT_KEYS),
			     *y = json_dumps(fromlua, JSON_SORT_KEYS);

			fail_msg("jansson: %s\nlua:     %s", x, y);
		}
		json_decref(fromlua);
	}
	json_decref(j);
	lua_close(L);
	vg_alerts_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_merging),
		cmocka_unit_test(test_cap_resolve_reopen),
		cmocka_unit_test(test_resolve_reopen_many),
		cmocka_unit_test(test_window_bad_size),
		cmocka_unit_test(test_retention),
		cmocka_unit_test(test_enforcement_record),
		cmocka_unit_test(test_compaction_keeps_everything),
		cmocka_unit_test(test_refused_violation_is_not_kept),
		cmocka_unit_test(test_documents),
	};

	int rc;

	ev = calloc(1, sizeof(*ev));
	if (!ev)
		return 1;
	rc = RUN_IN_TMPDIR(tests, "vigil-alerts");
	free(ev);
	return rc;
}
