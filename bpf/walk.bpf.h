/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * walk.bpf.h - the sensor's path walkers: cwd (dentries up to the namespace
 * root, crossing mounts) and cgroup (kernfs nodes up to the root), plus the
 * container test on a leaf cgroup name. Part of sensor.bpf.c (one BPF object):
 * included there after the maps, count() and get_scratch().
 */
#ifndef VIGIL_WALK_BPF_H
#define VIGIL_WALK_BPF_H
/* kernfs_node.parent became __parent in 6.15: read whichever this kernel has. */
struct kernfs_node___new {
	struct kernfs_node *__parent;
} __attribute__((preserve_access_index));

struct kernfs_node___old {
	struct kernfs_node *parent;
} __attribute__((preserve_access_index));

static __always_inline struct kernfs_node *kn_parent(struct kernfs_node *kn)
{
	if (bpf_core_field_exists(struct kernfs_node___new, __parent))
		return BPF_CORE_READ((struct kernfs_node___new *)kn, __parent);
	return BPF_CORE_READ((struct kernfs_node___old *)kn, parent);
}

/* Appends a kernel string at w->off; returns its length with the NUL, or <= 0. */
static __always_inline long put_kstr(struct scratch *s, const void *src)
{
	struct walk *w = &s->w;
	char *data = ((struct vg_exec *)s->buf)->data;
	long n = bpf_probe_read_kernel_str(&data[w->off & VG_DATA_MASK], VG_NAME_MAX, src);

	if (n > 0) {
		w->off += n;
		w->depth++;
	}
	return n;
}

static long cwd_step(__u32 i, void *unused)
{
	struct scratch *s = get_scratch();
	struct dentry *d, *parent, *mnt_root;
	struct vfsmount *vmnt;
	struct mount *mnt;
	struct walk *w;

	if (!s)
		return 1;
	w = &s->w;
	d = (void *)w->d;
	vmnt = (void *)w->vmnt;
	mnt = (void *)w->mnt;
	if (w->d == w->root_d && w->vmnt == w->root_m)
		goto done;
	mnt_root = BPF_CORE_READ(vmnt, mnt_root);
	if (d == mnt_root) { /* cross to the mount point in the parent mount */
		struct mount *up = BPF_CORE_READ(mnt, mnt_parent);

		if (up == mnt)
			goto done;
		w->d = (__u64)BPF_CORE_READ(mnt, mnt_mountpoint);
		w->mnt = (__u64)up;
		w->vmnt = (__u64)up + bpf_core_field_offset(struct mount, mnt);
		return 0;
	}
	parent = BPF_CORE_READ(d, d_parent);
	if (d == parent)
		goto done;
	if (w->depth >= VG_CWD_DEPTH || w->off - w->start > CWD_BUDGET)
		return 1;
	if (put_kstr(s, BPF_CORE_READ(d, d_name.name)) <= 0) {
		count(VG_C_READ_FAULT);
		return 1;
	}
	w->d = (__u64)parent;
	return 0;
done:
	w->done = 1;
	return 1;
}

static __always_inline void walk_init(struct walk *w, __u32 off)
{
	w->off = off;
	w->start = off;
	w->depth = 0;
	w->done = 0;
}

/* cwd components, leaf first, crossing mount points up to the namespace root. */
static __always_inline void put_cwd(struct scratch *s, struct vg_exec *ev, __u32 *off,
				    struct task_struct *t)
{
	struct fs_struct *fs = t->fs;
	struct walk *w = &s->w;

	walk_init(w, *off);
	w->d = (__u64)fs->pwd.dentry;
	w->vmnt = (__u64)fs->pwd.mnt;
	w->root_d = (__u64)fs->root.dentry;
	w->root_m = (__u64)fs->root.mnt;
	w->mnt = w->vmnt - bpf_core_field_offset(struct mount, mnt);
	bpf_loop(VG_CWD_DEPTH + 8, cwd_step, NULL, 0);
	ev->flags |= VG_EXEC_HAS_CWD | (w->done ? 0 : VG_EXEC_CWD_TRUNCATED);
	ev->cwd_off = w->start;
	ev->cwd_len = w->off - w->start;
	ev->cwd_depth = w->depth;
	*off = w->off;
}

static long cgroup_step(__u32 i, void *unused)
{
	struct scratch *s = get_scratch();
	struct kernfs_node *kn, *parent;
	struct walk *w;

	if (!s)
		return 1;
	w = &s->w;
	kn = (void *)w->kn;
	parent = kn ? kn_parent(kn) : NULL;
	if (!parent) { /* the root itself is not a component */
		w->done = 1;
		return 1;
	}
	if (w->depth >= VG_CGROUP_DEPTH)
		return 1;
	if (put_kstr(s, BPF_CORE_READ(kn, name)) <= 0) {
		count(VG_C_READ_FAULT);
		return 1;
	}
	w->kn = (__u64)parent;
	return 0;
}

/* The task's leaf cgroup node: the v2 hierarchy's, or the v1 memory one's. */
static __always_inline struct kernfs_node *leaf_kn(struct task_struct *t)
{
	int id = bpf_core_enum_value(enum cgroup_subsys_id, memory_cgrp_id);
	struct css_set *cs = t->cgroups;
	struct cgroup_subsys_state *css;

	if (!vg_cgroup_v1)
		return t->cgroups->dfl_cgrp->kn;
	bpf_core_read(&css, sizeof(css), &cs->subsys[id & 15]);
	return BPF_CORE_READ(css, cgroup, kn);
}

/* cgroup path components, leaf first. */
static __always_inline void put_cgroup(struct scratch *s, struct vg_exec *ev, __u32 *off,
				       struct task_struct *t)
{
	struct walk *w = &s->w;

	walk_init(w, *off);
	w->kn = (__u64)leaf_kn(t);
	{
		struct kernfs_node *leaf = (void *)w->kn, *up = leaf ? kn_parent(leaf) : NULL;

		w->leaf_id = leaf ? BPF_CORE_READ(leaf, id) : 0;
		w->parent_id = up ? BPF_CORE_READ(up, id) : 0;
	}
	bpf_loop(VG_CGROUP_DEPTH + 1, cgroup_step, NULL, 0);
	if (!w->done)
		ev->flags |= VG_EXEC_CGROUP_TRUNCATED;
	ev->cg_off = w->start;
	ev->cg_len = w->off - w->start;
	ev->cg_depth = w->depth;
	*off = w->off;
}

/*
 * Is the leaf cgroup component (leaf first at off) a container's? The forms
 * container.c knows: libpod-, docker-, crio-, cri-containerd- prefixes, or a
 * bare 64-hex id. A sub-cgroup inside a container is not recognised here:
 * such execs are killed from user space instead.
 */
static __always_inline bool has_prefix(const char *s, const char *pfx, int n)
{
	for (int i = 0; i < n; i++)
		if (s[i] != pfx[i])
			return false;
	return true;
}

static __always_inline bool leaf_is_container(const char *l)
{
	int i;

	if (has_prefix(l, "libpod-conmon-", 14) || has_prefix(l, "crio-conmon-", 12))
		return false;
	if (has_prefix(l, "libpod-", 7) || has_prefix(l, "docker-", 7) ||
	    has_prefix(l, "crio-", 5) || has_prefix(l, "cri-containerd-", 15))
		return true;
	for (i = 0; i < 64; i++) {
		char c = l[i];

		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return false;
	}
	return l[64] == '\0';
}

#endif /* VIGIL_WALK_BPF_H */
