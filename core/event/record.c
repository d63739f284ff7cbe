// SPDX-License-Identifier: BSD-2-Clause
/* record.c - synthetic exec records, laid out as the kernel's (record.h). */
#include <errno.h>
#include <string.h>

#include "record.h"

/* Appends "/a/b/c" as NUL-terminated components, leaf first; returns bytes or -E2BIG. */
static int put_path(char *out, size_t cap, const char *path, int max_depth, __u16 *depth)
{
	const char *comp[64];
	size_t lens[64], o = 0;
	int n = 0;

	for (const char *p = path; *p;) {
		while (*p == '/')
			p++;
		if (!*p)
			break;
		if (n == 64 || n == max_depth)
			return -E2BIG;
		comp[n] = p;
		lens[n] = strcspn(p, "/");
		p += lens[n++];
	}
	for (int i = n - 1; i >= 0; i--) {
		if (lens[i] + 1 > VG_NAME_MAX || o + lens[i] + 1 > cap)
			return -E2BIG;
		memcpy(out + o, comp[i], lens[i]);
		out[o + lens[i]] = '\0';
		o += lens[i] + 1;
	}
	*depth = (__u16)n;
	return (int)o;
}

/* The fixed part: type, ABI, time, ids, comm. */
static void put_header(struct vg_exec *r, const struct vg_record_spec *s)
{
	const char *base = strrchr(s->exe, '/');

	memset(r, 0, sizeof(*r));
	r->type = VG_REC_EXEC;
	r->abi = VG_ABI_VERSION;
	r->boot_ns = s->boot_ns;
	r->cgroup_id = s->cgroup_id;
	r->pid = s->pid;
	r->tid = s->pid;
	r->ppid = s->ppid;
	r->uid = s->uid;
	r->gid = s->gid;
	r->euid = s->euid;
	r->egid = s->egid;
	r->ns_pid = s->ns_pid;
	if (!r->ns_pid)
		r->ns_pid = (s->flags & VG_EXEC_IN_CONTAINER) ? s->pid + 1 : s->pid;
	base = base ? base + 1 : s->exe;
	strncpy(r->comm, s->comm ? s->comm : base, VG_COMM_LEN - 1);
	for (int i = 0; i < s->nanc && i < VG_LINEAGE_MAX; i++)
		r->ancestors[i] = s->anc[i];
	r->n_ancestors = (__u16)(s->nanc < VG_LINEAGE_MAX ? s->nanc : VG_LINEAGE_MAX);
	if (s->nanc > VG_LINEAGE_MAX)
		r->flags |= VG_EXEC_LINEAGE_TRUNCATED;
	r->flags |= s->flags;
}

/* exe, cwd and cgroup at *o of data (dcap bytes); 0 or -E2BIG. */
static int put_paths(struct vg_exec *r, size_t dcap, size_t *o, const struct vg_record_spec *s)
{
	size_t n = strlen(s->exe);
	int w;

	if (n + 1 > VG_EXE_MAX || n + 1 > dcap)
		return -E2BIG;
	memcpy(r->data, s->exe, n + 1);
	r->exe_len = (__u16)n;
	*o = n + 1;
	if (r->flags & VG_EXEC_EXE_KNOWN) { /* the mapped exe's name: the exe path's basename */
		const char *base = strrchr(s->exe, '/');

		r->exe_name_off = (__u16)(base ? base + 1 - s->exe : 0);
		r->exe_name_len = (__u16)(n - r->exe_name_off);
	}
	r->cwd_off = (__u16)*o;
	if (s->cwd) {
		r->flags |= VG_EXEC_HAS_CWD;
		w = put_path(r->data + *o, dcap - *o, s->cwd, VG_CWD_DEPTH, &r->cwd_depth);
		if (w < 0)
			return w;
		r->cwd_len = (__u16)w;
		*o += (size_t)w;
	}
	r->cg_off = (__u16)*o;
	w = put_path(r->data + *o, dcap - *o, s->cgroup ? s->cgroup : "/", VG_CGROUP_DEPTH,
		     &r->cg_depth);
	if (w < 0)
		return w;
	r->cg_len = (__u16)w;
	*o += (size_t)w;
	return 0;
}

/* argv at *o, NUL-separated; cut like the kernel past VG_ARGS_MAX. 0 or -E2BIG. */
static int put_args(struct vg_exec *r, size_t dcap, size_t *o, const struct vg_record_spec *s)
{
	int argc = s->argv ? s->argc : 1;

	r->args_off = (__u16)*o;
	r->argc = (__u32)argc;
	for (int i = 0; i < argc; i++) {
		const char *a = s->argv ? s->argv[i] : s->exe;
		size_t al = strlen(a) + 1;

		if (r->args_len + al > VG_ARGS_MAX) { /* cut like the kernel: no NUL on the tail */
			size_t k = VG_ARGS_MAX - r->args_len;

			if (*o + k > dcap)
				return -E2BIG;
			memcpy(r->data + *o, a, k);
			*o += k;
			r->args_len = VG_ARGS_MAX;
			r->flags |= VG_EXEC_ARGS_TRUNCATED;
			break;
		}
		if (*o + al > dcap)
			return -E2BIG;
		memcpy(r->data + *o, a, al);
		*o += al;
		r->args_len = (__u16)(r->args_len + al);
	}
	return 0;
}

/* The mapped executable's name at *o (VG_EXEC_EXE_KNOWN); 0 or -E2BIG. */
static int put_exe_name(struct vg_exec *r, size_t dcap, size_t *o, const char *name)
{
	size_t n = strlen(name);

	if (n + 1 > VG_NAME_MAX || *o + n + 1 > dcap)
		return -E2BIG;
	memcpy(r->data + *o, name, n + 1);
	r->exe_name_off = (__u16)*o;
	r->exe_name_len = (__u16)n;
	r->flags |= VG_EXEC_EXE_KNOWN;
	*o += n + 1;
	return 0;
}

size_t vg_record_build(void *buf, size_t cap, const struct vg_record_spec *s)
{
	struct vg_exec *r = buf;
	size_t dcap, o = 0;

	if (!s->exe || cap < sizeof(*r))
		return 0;
	dcap = cap - sizeof(*r);
	if (dcap > VG_DATA_MAX)
		dcap = VG_DATA_MAX;
	put_header(r, s);
	if (put_paths(r, dcap, &o, s) || put_args(r, dcap, &o, s))
		return 0;
	if (s->exe_name && put_exe_name(r, dcap, &o, s->exe_name))
		return 0;
	/* as the kernel marks it: the mapped exe's name is the comm, whole */
	if ((r->flags & VG_EXEC_EXE_KNOWN) && r->exe_name_len < VG_COMM_LEN - 1 &&
	    r->exe_name_len == strnlen(r->comm, VG_COMM_LEN) &&
	    !memcmp(r->data + r->exe_name_off, r->comm, r->exe_name_len))
		r->flags |= VG_EXEC_EXE_IS_COMM;
	r->size = (__u32)(sizeof(*r) + o);
	return r->size;
}
