// SPDX-License-Identifier: BSD-2-Clause
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "event_json.h"

void vg_time_rfc3339(uint64_t ns, char *buf, size_t cap)
{
	time_t sec = (time_t)(ns / 1000000000);
	struct tm tm;
	size_t n;

	if (!gmtime_r(&sec, &tm)) /* a year past int: not a time the kernel gives */
		memset(&tm, 0, sizeof(tm));
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

/*
 * Sets o[k] = v (v's reference is taken, also on failure); counts a failure
 * (out of memory) in *bad. Keys are literals: _nocheck skips re-validating them.
 */
static void put(json_t *o, const char *k, json_t *v, int *bad)
{
	if (json_object_set_new_nocheck(o, k, v))
		(*bad)++;
}

static void put_flag(json_t *o, const char *k, bool v, int *bad)
{
	if (v)
		put(o, k, json_true(), bad);
}

/* A string, or null when s is empty */
static json_t *str_or_null(const char *s, const char *v)
{
	if (!s[0])
		return json_null();
	return json_string(v);
}

/* time, ids, credentials, comm, exe, name */
static void put_process(json_t *o, struct vg_event *ev, int *bad)
{
	const struct vg_exec *r = ev->rec;
	char ts[40];

	vg_time_rfc3339(ev->time_ns, ts, sizeof(ts));
	put(o, "time", json_string(ts), bad);
	put(o, "time_ns", json_integer((json_int_t)ev->time_ns), bad);
	put(o, "pid", json_integer(r->pid), bad);
	put(o, "tid", json_integer(r->tid), bad);
	put(o, "ppid", json_integer(r->ppid), bad);
	put(o, "uid", json_integer(r->uid), bad);
	put(o, "gid", json_integer(r->gid), bad);
	put(o, "euid", json_integer(r->euid), bad);
	put(o, "egid", json_integer(r->egid), bad);
	put(o, "comm", jstr(ev->comm), bad);
	put(o, "exe", jstr(ev->exe), bad);
	put(o, "name", jstr(ev->name), bad);
}

/* argv, args, argc, args_truncated, cwd */
static void put_args(json_t *o, struct vg_event *ev, int *bad)
{
	json_t *argv = json_array();

	vg_event_args(ev);
	for (int i = 0; argv && i < ev->argc; i++)
		if (json_array_append_new(argv, jstr(ev->argv[i])))
			(*bad)++;
	put(o, "argv", argv, bad);
	put(o, "args", jstr(ev->args), bad);
	put(o, "argc", json_integer(ev->rec->argc), bad);
	put(o, "args_truncated", json_boolean(ev->args_truncated), bad);
	put(o, "cwd", ev->cwd[0] ? jstr(ev->cwd) : json_null(), bad);
}

/* cgroup, container identity, pid namespace */
static void put_container(json_t *o, struct vg_event *ev, int *bad)
{
	const struct vg_exec *r = ev->rec;
	const struct vg_container *ctr = vg_event_container(ev);

	put(o, "cgroup", jstr(ev->cgroup), bad);
	put(o, "cgroup_id", json_integer((json_int_t)r->cgroup_id), bad);
	put(o, "container_id", str_or_null(ctr->id, ctr->id), bad);
	put(o, "container_id_short", str_or_null(ctr->id, ctr->short_id), bad);
	put(o, "container_runtime", ctr->runtime ? json_string(ctr->runtime) : json_null(), bad);
	put(o, "container_name", str_or_null(ev->ctr_name, ev->ctr_name), bad);
	put(o, "container_image", str_or_null(ev->ctr_image, ev->ctr_image), bad);
	put(o, "pod_uid", str_or_null(ctr->pod_uid, ctr->pod_uid), bad);
	put(o, "cgroup_nested", json_boolean(ctr->nested), bad);
	put(o, "ns_pid", json_integer(r->ns_pid), bad);
	put(o, "pidns", json_integer(r->pidns_ino), bad);
}

/* "kernel", "userspace", or null when nobody decided */
static json_t *decider_json(enum vg_decider d)
{
	if (d == VG_DECIDED_KERNEL)
		return json_string("kernel");
	if (d == VG_DECIDED_USER)
		return json_string("userspace");
	return json_null();
}

/* 32 bytes as 64 lowercase hex digits and a NUL in hex; returns hex */
static const char *sha256_hex(const uint8_t sha[32], char hex[65])
{
	static const char digits[] = "0123456789abcdef";

	for (int i = 0; i < 32; i++) {
		hex[2 * i] = digits[sha[i] >> 4];
		hex[2 * i + 1] = digits[sha[i] & 15];
	}
	hex[64] = '\0';
	return hex;
}

/* the executable's identity: its names beyond comm, content hash, fileless, drift */
static void put_ident(json_t *o, struct vg_event *ev, int *bad)
{
	const struct vg_exe_ident *id = &ev->id;
	json_t *content = json_array();
	char hex[2 * sizeof(id->sha256) + 1];

	vg_event_ident_args(ev); /* loader and applet */
	put(o, "exe_name", id->exe_name[0] ? jstr(id->exe_name) : json_null(), bad);
	put(o, "loader", id->loader[0] ? jstr(id->loader) : json_null(), bad);
	put(o, "applet", id->applet[0] ? jstr(id->applet) : json_null(), bad);
	for (int i = 0; content && i < id->n_content && i < VG_IDENT_NAMES; i++)
		if (json_array_append_new(content, jstr(id->content[i])))
			(*bad)++;
	put(o, "content", content, bad);
	put(o, "exe_sha256",
	    id->has_sha256 ? json_string(sha256_hex(id->sha256, hex)) : json_null(), bad);
	put(o, "exe_fileless", json_boolean(id->fileless), bad);
	put(o, "exe_not_in_image", json_boolean(id->not_in_image), bad);
	put(o, "exe_not_in_image_by",
	    decider_json(id->not_in_image ? id->not_in_image_by : VG_DECIDED_NONE), bad);
}

/* lineage, nearest first, as far as it was named */
static void put_lineage(json_t *o, struct vg_event *ev, int *bad)
{
	json_t *lin = json_array();

	for (int i = 0; lin && i < ev->n_lineage; i++) {
		json_t *a = json_object();

		if (!a) {
			(*bad)++;
			break;
		}
		put(a, "pid", json_integer(ev->lineage[i].pid), bad);
		put(a, "uid", json_integer(ev->lineage[i].uid), bad);
		put(a, "exe", jstr(ev->lineage[i].exe), bad);
		put(a, "name", jstr(ev->lineage[i].name), bad);
		if (json_array_append_new(lin, a))
			(*bad)++;
	}
	put(o, "lineage", lin, bad);
}

json_t *vg_event_json(struct vg_event *ev)
{
	const struct vg_exec *r = ev->rec;
	json_t *o = json_object();
	int bad = 0;

	if (!o)
		return NULL;
	/* the container first: it fills the paths the arguments' cwd needs */
	(void)vg_event_container(ev); /* cached in ev; put_container reads it */
	put_process(o, ev, &bad);
	put_args(o, ev, &bad);
	put_container(o, ev, &bad);
	put_lineage(o, ev, &bad);
	put_ident(o, ev, &bad);
	put_flag(o, "lineage_truncated", r->flags & VG_EXEC_LINEAGE_TRUNCATED, &bad);
	put_flag(o, "exe_truncated", r->flags & VG_EXEC_EXE_TRUNCATED, &bad);
	put_flag(o, "cwd_truncated", r->flags & VG_EXEC_CWD_TRUNCATED, &bad);
	put_flag(o, "cgroup_truncated", r->flags & VG_EXEC_CGROUP_TRUNCATED, &bad);
	put_flag(o, "args_unreadable", r->flags & VG_EXEC_ARGS_FAULT, &bad);
	if (bad) { /* out of memory: no half document */
		json_decref(o);
		return NULL;
	}
	return o;
}
