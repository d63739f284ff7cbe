/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * exe_ident.bpf.h - the sensor's view of the executable actually mapped:
 * its identity and facts (read_exe), the filter verdict on every name it
 * answers to (decide), and the fileless / drift decisions. Part of
 * sensor.bpf.c (one BPF object): included there after filter_action() and
 * the walkers.
 */
#ifndef VIGIL_EXE_IDENT_BPF_H
#define VIGIL_EXE_IDENT_BPF_H
/* The inode's change time moved: i_ctime (< 6.6), __i_ctime (6.6 - 6.10), i_ctime_sec/nsec. */
struct inode___ts_new {
	struct timespec64 __i_ctime;
} __attribute__((preserve_access_index));

struct inode___ts_old {
	struct timespec64 i_ctime;
} __attribute__((preserve_access_index));

struct inode___split {
	time64_t i_ctime_sec;
	u32 i_ctime_nsec;
} __attribute__((preserve_access_index));

#define OVERLAYFS_SUPER_MAGIC 0x794c7630u

#define KILL_BITS (VG_ACT_KILL | VG_ACT_KILL_UID)

/* The inode's change time, ns since the epoch, whichever way this kernel keeps it. */
static __always_inline __u64 inode_ctime_ns(struct inode *ino)
{
	struct timespec64 ts = {};

	if (bpf_core_field_exists(struct inode___split, i_ctime_sec)) {
		struct inode___split *i = (void *)ino;

		return BPF_CORE_READ(i, i_ctime_sec) * 1000000000ull +
		       BPF_CORE_READ(i, i_ctime_nsec);
	}
	if (bpf_core_field_exists(struct inode___ts_new, __i_ctime))
		ts = BPF_CORE_READ((struct inode___ts_new *)ino, __i_ctime);
	else if (bpf_core_field_exists(struct inode___ts_old, i_ctime))
		ts = BPF_CORE_READ((struct inode___ts_old *)ino, i_ctime);
	return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* Is an overlayfs inode's upper dentry set: the file is in the writable layer? */
static __always_inline bool ovl_upper(struct inode *ino)
{
	struct ovl_inode *oi;

	if (!bpf_core_type_exists(struct ovl_inode))
		return false;
	oi = (void *)((char *)ino - bpf_core_field_offset(struct ovl_inode, vfs_inode));
	return BPF_CORE_READ(oi, __upperdentry) != NULL;
}

/*
 * The executable actually mapped (mm->exe_file, the interpreter for a #!
 * script, ld.so when a loader was run): identity, name and facts.
 */
static __always_inline void read_exe(struct exe *x, struct task_struct *p)
{
	struct file *f = p->mm->exe_file;
	struct super_block *sb;
	struct inode *ino;
	struct dentry *d;

	x->flags = 0;
	__builtin_memset(&x->key, 0, sizeof(x->key));
	__builtin_memset(&x->name, 0, sizeof(x->name));
	if (!f)
		return;
	ino = f->f_inode;
	d = f->f_path.dentry;
	if (!ino || !d)
		return;
	sb = ino->i_sb;
	x->key.dev = sb->s_dev;
	x->key.ino = ino->i_ino;
	x->key.size = ino->i_size;
	x->key.ctime_ns = inode_ctime_ns(ino);
	x->nlink = ino->__i_nlink;
	x->magic = sb->s_magic;
	x->dname = (__u64)d->d_name.name;
	x->name_n = bpf_probe_read_kernel_str(x->name.comm, sizeof(x->name.comm), d->d_name.name);
	x->flags = VG_EXEC_EXE_KNOWN;
	if (!x->nlink)
		x->flags |= VG_EXEC_EXE_FILELESS;
	if (x->magic == OVERLAYFS_SUPER_MAGIC && ovl_upper(ino))
		x->flags |= VG_EXEC_EXE_UPPER;
	if ((__u64)f->f_path.mnt != (__u64)p->fs->root.mnt)
		x->flags |= VG_EXEC_EXE_OTHER_MNT;
}

static __always_inline bool same_key(const struct vg_filter_key *a, const struct vg_filter_key *b)
{
	const __u64 *x = (const void *)a->comm, *y = (const void *)b->comm;

	return x[0] == y[0] && x[1] == y[1];
}

/*
 * The filter map's verdict on every name the exec answers to in the kernel:
 * its comm, the mapped executable's name, and the name user space gave the
 * file by content (ident map). *cause and *lkey name the first that kills.
 */
static __always_inline __u32 decide(struct scratch *s, const struct vg_filter_key *comm,
				    struct vg_filter_key *lkey, __u32 *cause)
{
	struct vg_filter_key xk;
	struct vg_filter_key *nm;
	__u32 *a, act = 0;

	a = filter_action(comm, lkey);
	if (a) {
		act = *a;
		*cause = VG_KILL_COMM;
	}
	if (!(s->x.flags & VG_EXEC_EXE_KNOWN))
		goto ident;
	if (same_key(&s->x.name, comm)) { /* the usual case: looked up already */
		if (s->x.name_n > 0 && s->x.name_n < VG_COMM_LEN)
			s->x.flags |= VG_EXEC_EXE_IS_COMM; /* user space need not compare */
		goto ident;
	}
	a = filter_action(&s->x.name, &xk);
	if (a && !same_key(&xk, lkey)) {
		if (!act)
			count(VG_C_EXE_NAME_HIT);
		if (!(act & KILL_BITS) && (*a & KILL_BITS)) {
			*cause = VG_KILL_EXE;
			*lkey = xk;
		}
		act |= *a;
	}
ident:
	if (!(s->x.flags & VG_EXEC_EXE_KNOWN) || !(vg_exe_policy & VG_EXE_IDENT))
		return act;
	nm = bpf_map_lookup_elem(&ident, &s->x.key);
	if (!nm)
		return act;
	count(VG_C_IDENT_HIT);
	s->x.flags |= VG_EXEC_IDENT_HIT;
	a = filter_action(nm, &xk);
	if (a) {
		if (!(act & KILL_BITS) && (*a & KILL_BITS)) {
			*cause = VG_KILL_CONTENT;
			*lkey = xk;
		}
		act |= *a;
	}
	return act;
}

#define TMPFS_MAGIC 0x01021994u
#define RAMFS_MAGIC 0x858458f6u

/* In a container, written after it started: the writable layer or a tmpfs. */
static __always_inline bool exe_drifted(struct scratch *s, bool in_ctr)
{
	__u32 fl = s->x.flags;

	if (!in_ctr || !(fl & VG_EXEC_EXE_KNOWN) || (fl & VG_EXEC_EXE_FILELESS))
		return false;
	return (fl & VG_EXEC_EXE_UPPER) || s->x.magic == TMPFS_MAGIC || s->x.magic == RAMFS_MAGIC;
}

/* Map mode, a name not in the filter: is the exec wanted for where its executable lives? */
static __always_inline bool exe_wanted(struct scratch *s, struct task_struct *p)
{
	__u32 pol = vg_exe_policy, fl = s->x.flags;
	struct kernfs_node *kn;

	if ((fl & VG_EXEC_EXE_FILELESS) && (pol & VG_EXE_SEND_FILELESS))
		return true;
	if (!(pol & (VG_EXE_SEND_DRIFT | VG_EXE_SEND_CONTAINERS)))
		return false;
	kn = leaf_kn(p);
	if (!kn ||
	    bpf_probe_read_kernel_str(s->x.leaf, sizeof(s->x.leaf), BPF_CORE_READ(kn, name)) <= 0 ||
	    !leaf_is_container(s->x.leaf))
		return false;
	if (pol & VG_EXE_SEND_CONTAINERS)
		return true;
	return (fl & (VG_EXEC_EXE_UPPER | VG_EXEC_EXE_OTHER_MNT)) || s->x.magic == TMPFS_MAGIC ||
	       s->x.magic == RAMFS_MAGIC;
}

/* The mapped executable's whole name after the exe path; returns the offset after it. */
static __always_inline __u32 put_exe_name(struct scratch *s, struct vg_exec *ev, __u32 off)
{
	long n;

	ev->exe_name_off = off;
	ev->exe_name_len = 0;
	if (!(s->x.flags & VG_EXEC_EXE_KNOWN))
		return off;
	if (s->x.name_n > 0 && s->x.name_n < VG_COMM_LEN) { /* read whole already */
		__builtin_memcpy(&ev->data[off & VG_DATA_MASK], s->x.name.comm, VG_COMM_LEN);
		n = s->x.name_n;
	} else {
		n = bpf_probe_read_kernel_str(&ev->data[off & VG_DATA_MASK], VG_NAME_MAX,
					      (void *)s->x.dname);
	}
	if (n <= 0) {
		s->x.flags = 0; /* unreadable: say nothing rather than something wrong */
		count(VG_C_READ_FAULT);
		return off;
	}
	ev->exe_name_len = n - 1;
	ev->exe_ino = s->x.key.ino;
	ev->exe_size = s->x.key.size;
	ev->exe_ctime_ns = s->x.key.ctime_ns;
	ev->exe_dev = s->x.key.dev;
	ev->exe_nlink = s->x.nlink;
	ev->exe_fs_magic = s->x.magic;
	return off + n;
}

/*
 * A decision is due now for a fileless or drifted executable a policy looks
 * at: user space must read it (its content, its mount) while it still runs.
 */
static __always_inline __u32 wake_for_exe(struct scratch *s, bool in_ctr)
{
	__u32 pol = vg_exe_policy, fl = s->x.flags;

	if ((fl & VG_EXEC_EXE_FILELESS) && (pol & (VG_EXE_SEND_FILELESS | VG_EXE_SEND_CONTAINERS)))
		return VG_ACT_WAKE;
	if (!in_ctr || !(pol & (VG_EXE_SEND_DRIFT | VG_EXE_SEND_CONTAINERS)))
		return 0;
	if (exe_drifted(s, in_ctr) || (fl & VG_EXEC_EXE_OTHER_MNT))
		return VG_ACT_WAKE;
	return 0;
}

static __always_inline void count_exe_facts(struct scratch *s, bool in_ctr)
{
	if (s->x.flags & VG_EXEC_EXE_FILELESS)
		count(VG_C_FILELESS);
	else if (exe_drifted(s, in_ctr))
		count(VG_C_DRIFT);
}

#endif /* VIGIL_EXE_IDENT_BPF_H */
