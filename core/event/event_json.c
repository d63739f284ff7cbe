// SPDX-License-Identifier: BSD-2-Clause
#include <stdio.h>
#include <time.h>

#include "event_json.h"

void vg_time_rfc3339(uint64_t ns, char *buf, size_t cap)
{
	time_t sec = (time_t)(ns / 1000000000);
	struct tm tm;
	size_t n;

	gmtime_r(&sec, &tm);
	n = strftime(buf, cap, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, cap - n, ".%09luZ", (unsigned long)(ns % 1000000000));
}

/*
 * A JSON string for bytes that need not be UTF-8 (argv, paths): invalid input
 * has its non-ASCII bytes replaced by '?', so a field is never dropped.
 */
static json_t *jstr(const char *s)
{
	json_t *j = json_string(s);
	char buf[VG_PATH_MAX];
	size_t i;

	if (j)
		return j;
	for (i = 0; s[i] && i < sizeof(buf) - 1; i++)
		buf[i] = (unsigned char)s[i] < 0x80 ? s[i] : '?';
	buf[i] = '\0';
	return json_string(buf);
}

/* keys below are literals: _nocheck skips re-validating them per event */
static void set_flag(json_t *o, const char *k, bool v)
{
	if (v)
		json_object_set_new_nocheck(o, k, json_true());
}

json_t *vg_event_json(struct vg_event *ev)
{
	const struct vg_exec *r = ev->rec;
	const struct vg_container *ctr = vg_event_container(ev);
	json_t *o = json_object(), *argv = json_array(), *lin = json_array();
	char ts[40];

	if (!o || !argv || !lin) {
		json_decref(o);
		json_decref(argv);
		json_decref(lin);
		return NULL;
	}
	vg_event_args(ev);
	vg_time_rfc3339(ev->time_ns, ts, sizeof(ts));
	json_object_set_new_nocheck(o, "time", json_string(ts));
	json_object_set_new_nocheck(o, "time_ns", json_integer((json_int_t)ev->time_ns));
	json_object_set_new_nocheck(o, "pid", json_integer(r->pid));
	json_object_set_new_nocheck(o, "tid", json_integer(r->tid));
	json_object_set_new_nocheck(o, "ppid", json_integer(r->ppid));
	json_object_set_new_nocheck(o, "uid", json_integer(r->uid));
	json_object_set_new_nocheck(o, "gid", json_integer(r->gid));
	json_object_set_new_nocheck(o, "euid", json_integer(r->euid));
	json_object_set_new_nocheck(o, "egid", json_integer(r->egid));
	json_object_set_new_nocheck(o, "comm", jstr(ev->comm));
	json_object_set_new_nocheck(o, "exe", jstr(ev->exe));
	json_object_set_new_nocheck(o, "name", jstr(ev->name));
	for (int i = 0; i < ev->argc; i++)
		json_array_append_new(argv, jstr(ev->argv[i]));
	json_object_set_new_nocheck(o, "argv", argv);
	json_object_set_new_nocheck(o, "args", jstr(ev->args));
	json_object_set_new_nocheck(o, "argc", json_integer(r->argc));
	json_object_set_new_nocheck(o, "args_truncated", json_boolean(ev->args_truncated));
	json_object_set_new_nocheck(o, "cwd", ev->cwd[0] ? jstr(ev->cwd) : json_null());
	json_object_set_new_nocheck(o, "cgroup", jstr(ev->cgroup));
	json_object_set_new_nocheck(o, "cgroup_id", json_integer((json_int_t)r->cgroup_id));
	json_object_set_new_nocheck(o, "container_id",
				    ctr->id[0] ? json_string(ctr->id) : json_null());
	json_object_set_new_nocheck(o, "container_id_short",
				    ctr->id[0] ? json_string(ctr->short_id) : json_null());
	json_object_set_new_nocheck(o, "container_runtime",
				    ctr->runtime ? json_string(ctr->runtime) : json_null());
	json_object_set_new_nocheck(o, "pod_uid",
				    ctr->pod_uid[0] ? json_string(ctr->pod_uid) : json_null());
	json_object_set_new_nocheck(o, "cgroup_nested", json_boolean(ctr->nested));
	json_object_set_new_nocheck(o, "ns_pid", json_integer(r->ns_pid));
	json_object_set_new_nocheck(o, "pidns", json_integer(r->pidns_ino));
	for (int i = 0; i < ev->n_lineage; i++) {
		json_t *a = json_object();

		json_object_set_new_nocheck(a, "pid", json_integer(ev->lineage[i].pid));
		json_object_set_new_nocheck(a, "uid", json_integer(ev->lineage[i].uid));
		json_object_set_new_nocheck(a, "exe", jstr(ev->lineage[i].exe));
		json_object_set_new_nocheck(a, "name", jstr(ev->lineage[i].name));
		json_array_append_new(lin, a);
	}
	json_object_set_new_nocheck(o, "lineage", lin);
	set_flag(o, "lineage_truncated", r->flags & VG_EXEC_LINEAGE_TRUNCATED);
	set_flag(o, "exe_truncated", r->flags & VG_EXEC_EXE_TRUNCATED);
	set_flag(o, "cwd_truncated", r->flags & VG_EXEC_CWD_TRUNCATED);
	set_flag(o, "cgroup_truncated", r->flags & VG_EXEC_CGROUP_TRUNCATED);
	set_flag(o, "args_unreadable", r->flags & VG_EXEC_ARGS_FAULT);
	return o;
}
