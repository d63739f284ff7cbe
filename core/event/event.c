// SPDX-License-Identifier: BSD-2-Clause
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "event.h"

/* A string field [off, off+len) of data must lie inside the record. */
static bool span_ok(size_t dlen, uint32_t off, uint32_t len)
{
	return (size_t)off + len <= dlen;
}

/*
 * Joins `depth` NUL-terminated components stored leaf first into "/a/b/c".
 * An empty list is "/". Truncated walks get a leading "..." so they are never
 * mistaken for a whole path.
 */
static void join_rev(char *out, size_t cap, const char *src, size_t len, int depth, bool trunc)
{
	const char *comp[VG_CWD_DEPTH > VG_CGROUP_DEPTH ? VG_CWD_DEPTH : VG_CGROUP_DEPTH];
	size_t cl[sizeof(comp) / sizeof(comp[0])];
	size_t n = 0, o = 0;

	for (size_t i = 0; i < len && n < (size_t)depth && n < sizeof(comp) / sizeof(comp[0]);) {
		comp[n] = src + i;
		cl[n] = strnlen(src + i, len - i);
		i += cl[n++] + 1;
	}
	if (trunc) {
		memcpy(out, "...", 3);
		o = 3;
	}
	for (size_t k = n; k-- > 0;) {
		size_t c = cl[k];

		if (o + 1 + c >= cap)
			c = o + 1 < cap ? cap - o - 2 : 0;
		if (o + 1 >= cap)
			break;
		out[o++] = '/';
		memcpy(out + o, comp[k], c);
		o += c;
	}
	if (!n && !trunc)
		out[o++] = '/';
	out[o < cap ? o : cap - 1] = '\0';
}

const char *vg_way_name(enum vg_way w)
{
	static const char *const names[VG_WAY_N] = {"comm", "exe", "loader", "applet", "content"};

	if ((unsigned)w >= VG_WAY_N)
		return "comm";
	return names[w];
}

#define TMPFS_MAGIC 0x01021994u
#define RAMFS_MAGIC 0x858458f6u

/* What the kernel saw of the mapped executable: its name, fileless, drift. */
static void decode_ident(struct vg_exe_ident *id, const struct vg_exec *r)
{
	bool in_ctr = (r->flags & VG_EXEC_IN_CONTAINER) != 0;

	id->exe_name = "";
	id->loader[0] = id->applet[0] = '\0'; /* not the whole buffers: decoded per exec */
	/* n_content and every fact after it, zero (false, VG_DECIDED_NONE) in one go */
	memset(&id->n_content, 0, sizeof(*id) - offsetof(struct vg_exe_ident, n_content));
	id->kill_cause = (enum vg_kill_cause)r->kill_cause;
	if (!(r->flags & VG_EXEC_EXE_KNOWN))
		return;
	id->exe_name = r->data + r->exe_name_off; /* checked: inside, NUL-terminated */
	if (r->flags & VG_EXEC_EXE_FILELESS) {
		id->fileless = true;
		id->fileless_by = VG_DECIDED_KERNEL;
		/* in a container's cgroup, not in a pid namespace of its own: the runtime */
		id->runtime_like = in_ctr && r->ns_pid == r->pid;
		return; /* not "not in the image": a fileless exe is its own fact */
	}
	if (in_ctr && ((r->flags & VG_EXEC_EXE_UPPER) || r->exe_fs_magic == TMPFS_MAGIC ||
		       r->exe_fs_magic == RAMFS_MAGIC)) {
		id->not_in_image = true;
		id->not_in_image_by = VG_DECIDED_KERNEL;
	}
}

bool vg_event_fileless_counts(const struct vg_event *ev)
{
	return ev->id.fileless && !ev->id.runtime_like;
}

int vg_event_decode(struct vg_event *ev, const void *buf, size_t len, int64_t boot_to_wall_ns)
{
	const struct vg_exec *r = buf;
	const char *data;
	size_t dlen;
	const char *slash;

	if (len < sizeof(*r) || r->type != VG_REC_EXEC || r->abi != VG_ABI_VERSION ||
	    r->size != len || r->n_ancestors > VG_LINEAGE_MAX || r->args_len > VG_ARGS_MAX ||
	    r->exe_len >= VG_EXE_MAX || r->cwd_len > VG_DATA_MAX || r->cg_len > VG_DATA_MAX)
		return -EBADMSG; /* the kernel never writes these: a damaged or forged record */
	data = r->data;
	dlen = len - sizeof(*r);
	if (!span_ok(dlen, r->exe_off, r->exe_len + 1u) || !span_ok(dlen, r->cwd_off, r->cwd_len) ||
	    !span_ok(dlen, r->cg_off, r->cg_len) || !span_ok(dlen, r->args_off, r->args_len) ||
	    data[r->exe_off + r->exe_len] != '\0')
		return -EBADMSG;
	if ((r->flags & VG_EXEC_EXE_KNOWN) &&
	    (!span_ok(dlen, r->exe_name_off, r->exe_name_len + 1u) ||
	     data[r->exe_name_off + r->exe_name_len] != '\0'))
		return -EBADMSG;

	ev->rec = r;
	ev->time_ns = r->boot_ns + boot_to_wall_ns;
	memcpy(ev->comm, r->comm, VG_COMM_LEN);
	ev->comm[VG_COMM_LEN - 1] = '\0';
	ev->exe = data + r->exe_off;
	slash = memrchr(ev->exe, '/', r->exe_len); /* from the end: the basename is short */
	ev->name = slash ? slash + 1 : ev->exe;

	ev->has_args = ev->has_paths = ev->has_ctr = false;
	ev->ctr_known = VG_CTR_UNKNOWN;
	ev->meta = NULL;
	ev->pod_verified = ev->pod_denied = false;
	ev->attr_warning[0] = '\0';
	ev->ctr_name[0] = ev->ctr_image[0] = '\0';
	ev->ctr_names_serial = 0;
	ev->n_lineage = 0;
	ev->lineage_done = false;
	ev->lineage_src = NULL;
	ev->lineage_len = 0;
	ev->bl.checked = ev->bl.unexpected = ev->bl.decided_in_kernel = ev->bl.replaced = false;
	ev->bl.path = NULL;
	decode_ident(&ev->id, r);
	return 0;
}

void vg_event_args(struct vg_event *ev)
{
	const struct vg_exec *r = ev->rec;
	const char *data = r->data;
	size_t o = 0;

	if (ev->has_args)
		return;
	ev->has_args = true;
	/* argv: NUL separated; a truncated tail has no NUL and is copied to argv_tail */
	ev->argc = 0;
	ev->args_truncated = (r->flags & VG_EXEC_ARGS_TRUNCATED) != 0;
	ev->args[0] = '\0';
	for (size_t i = 0; i < r->args_len;) {
		const char *a = data + r->args_off + i;
		size_t al = strnlen(a, r->args_len - i);

		if (ev->argc == VG_ARGV_MAX) {
			ev->args_truncated = true;
			break;
		}
		if (i + al == r->args_len) { /* unterminated: the record was cut here */
			if (al > VG_ARGS_MAX)
				al = VG_ARGS_MAX;
			memcpy(ev->argv_tail, a, al);
			ev->argv_tail[al] = '\0';
			a = ev->argv_tail;
		}
		ev->argv[ev->argc++] = a;
		if (ev->argc > 1) { /* args: argv[1..] joined by single spaces */
			size_t room = sizeof(ev->args) - 1 - o, k = al;

			if (o && room) {
				ev->args[o++] = ' ';
				room--;
			}
			if (k > room)
				k = room;
			memcpy(ev->args + o, a, k);
			o += k;
		}
		i += al + 1;
	}
	ev->args[o] = '\0';
	if ((uint32_t)ev->argc < r->argc)
		ev->args_truncated = true;
}

void vg_event_paths(struct vg_event *ev)
{
	const struct vg_exec *r = ev->rec;
	const char *data = r->data;

	if (ev->has_paths)
		return;
	ev->has_paths = true;
	if (r->flags & VG_EXEC_HAS_CWD)
		join_rev(ev->cwd, sizeof(ev->cwd), data + r->cwd_off, r->cwd_len, r->cwd_depth,
			 r->flags & VG_EXEC_CWD_TRUNCATED);
	else
		ev->cwd[0] = '\0';
	join_rev(ev->cgroup, sizeof(ev->cgroup), data + r->cg_off, r->cg_len, r->cg_depth,
		 r->flags & VG_EXEC_CGROUP_TRUNCATED);
}

const struct vg_container *vg_event_container(struct vg_event *ev)
{
	if (!ev->has_ctr) {
		vg_event_paths(ev);
		vg_container_parse(ev->cgroup, &ev->ctr);
		ev->has_ctr = true;
	}
	return &ev->ctr;
}
