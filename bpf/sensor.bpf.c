// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * sensor.bpf.c - vigil's exec sensor.
 *
 * Three tp_btf programs keep a process map (tgid -> parent, uid, exe) on
 * exec, fork and exit, so user space can name every ancestor of an exec even
 * when the ancestor's own exec was filtered out or happened before vigil
 * started. The exec program looks the new comm up in the filter map, drops
 * what no consumer wants (counted), and sends the rest to the ring buffer as
 * one variable-size struct vg_exec (see vigil_abi.h).
 *
 * Waking the reader costs ~20 us per record on this kind of machine, so by
 * default records are committed with BPF_RB_NO_WAKEUP and user space drains
 * on a short timer; the reader is woken only when the filter map says a
 * decision is due (VG_ACT_WAKE) or the buffer holds more than vg_wakeup_bytes.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "vigil_abi.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define PF_KTHREAD 0x00200000
#define CWD_BUDGET 1024 /* cwd bytes before the walk stops (flagged truncated) */

/* Knobs set by user space between open and load. */
const volatile bool vg_want_cwd = true;
const volatile bool vg_cgroup_v1 = false; /* read the v1 memory hierarchy, not the v2 one */
const volatile __u64 vg_wakeup_bytes = 0; /* wake the reader past this fill; 0: every record */
const volatile __u32 vg_self_tgid = 0;	  /* vigil itself: never killed */

/* Flipped by user space at run time through the mmap'ed .bss. */
__u32 vg_filter_mode = VG_FILTER_ALL;
__u32 vg_exe_policy = 0; /* enum vg_exe_policy bits */

/*
 * events: exec records to user space. Written by handle_exec, read by the
 * sensor's libevent callback. Size is set by user space (--ringbuf-size,
 * power of two); the declaration here is only the default.
 */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 << 20);
} events SEC(".maps");

/*
 * procs: tgid -> struct vg_proc. Written by all three programs and by user
 * space (seeded from /proc at start, exited entries swept a few seconds after
 * exit); read by user space for lineage. LRU so that a missed exit can never
 * fill it. The common LRU measured faster here than BPF_F_NO_COMMON_LRU (fork:
 * ~1.0 vs ~1.5 us). 16384 entries (~4.6 MiB of kernel memory) hold every live process
 * of a busy node (a few thousand) plus recently exited ones still awaiting
 * their sweep; user space may resize it before load (--procs).
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct vg_proc);
} procs SEC(".maps");

/*
 * filter: comm -> enum vg_filter_action. Written by user space from the loaded
 * policies (or `vigil events --comm`); read by handle_exec. 4096 names is far
 * more than any policy pack names exactly; values are 4 bytes.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct vg_filter_key);
	__type(value, __u32);
} filter SEC(".maps");

/*
 * exempt: cgroup ids whose processes are never killed at exec: the pod and
 * container cgroups of pods annotated vigil.io/break-glass. Written by user
 * space from the pod list; read by handle_exec before a kill. Pods marked
 * break-glass at once on a node are few: 1024 is plenty.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u64);
	__type(value, __u8);
} exempt SEC(".maps");

/*
 * kill_uid: (comm, euid) pairs killed at exec, for enforcing policies whose
 * sections are exact names and a uid. Written by user space with the filter
 * map; read by handle_exec. A few policies times a few uids: 4096 is plenty.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct vg_kill_uid_key);
	__type(value, __u8);
} kill_uid SEC(".maps");

/*
 * ident: executables user space identified by content (a renamed or
 * hard-linked copy of a named program), keyed as the kernel sees the file, to
 * the name they answer to; the exec program looks that name up in the filter
 * map like a comm. Written by user space when it hashes a file a policy names;
 * the key holds size and change time, so a reused inode never inherits a name.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH); /* a cache: an evicted file is hashed again */
	__uint(max_entries, 4096);
	__type(key, struct vg_ident_key);
	__type(value, struct vg_filter_key);
} ident SEC(".maps");

/* counters: per-CPU, one slot; written here, summed by user space. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct vg_counters);
} counters SEC(".maps");

/*
 * scratch: the record under construction, per CPU (tracepoints run with
 * migration disabled). The string area is twice VG_DATA_MAX so that a read at
 * any masked offset below VG_DATA_MAX stays inside it, which is what the
 * verifier needs to see; the field budgets keep real offsets below VG_DATA_MAX.
 */
struct walk {
	__u64 d, vmnt, mnt, root_d, root_m; /* cwd: dentry, vfsmount, mount, process root */
	__u64 kn;			    /* cgroup: kernfs node */
	__u64 leaf_id, parent_id;	    /* cgroup ids of the leaf and its parent, for exempt */
	__u32 off, start, depth, done;
};

/* The mapped executable, read once per exec before the filter decision. */
struct exe {
	__u64 dname;		   /* its dentry's name (kernel pointer) */
	struct vg_ident_key key;   /* dev, ino, ctime, size */
	__u32 nlink, magic, flags; /* VG_EXEC_EXE_* */
	__s32 name_n;		   /* bytes of name read, with the NUL (< 16: all of it) */
	struct vg_filter_key name; /* its name as a filter key (NUL padded) */
	char leaf[72];		   /* the leaf cgroup's name, when read early */
};

struct scratch {
	struct walk w;					    /* path walk state: see put_cwd() */
	struct exe x;					    /* see read_exe() */
	__u8 buf[sizeof(struct vg_exec) + 2 * VG_DATA_MAX]; /* a struct vg_exec and its data[] */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} scratch SEC(".maps");

static const struct vg_proc empty_proc;

static __always_inline void count(int idx)
{
	__u32 zero = 0;
	struct vg_counters *c = bpf_map_lookup_elem(&counters, &zero);

	if (c && idx >= 0 && idx < VG_C_MAX)
		c->c[idx]++;
}

/*
 * Outside the walks, fields are read by plain dereference: tp_btf arguments
 * are BTF-typed pointers, which the verifier lets programs load through
 * directly (faults read as zero), at a fraction of a bpf_probe_read's cost.
 *
 * The path walks run under bpf_loop(): the verifier checks one step instead
 * of unrolling every path through every level, which overflows its budget.
 * The walk state lives in the per-CPU scratch value, not on the stack: values
 * read from a map are not tracked precisely, so the verifier's states for the
 * step converge at once instead of once per possible offset.
 */
static __always_inline struct scratch *get_scratch(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&scratch, &zero);
}

#include "walk.bpf.h"

/* argv as the new image sees it: NUL-separated, from its own stack. */
static __always_inline void put_args(struct vg_exec *ev, char *data, __u32 *off,
				     struct task_struct *t)
{
	struct mm_struct *mm = t->mm;
	unsigned long as = mm->arg_start;
	unsigned long ae = mm->arg_end;
	__u64 len = ae - as;

	ev->args_off = *off;
	if (ae <= as)
		return;
	if (len > VG_ARGS_MAX) {
		len = VG_ARGS_MAX;
		ev->flags |= VG_EXEC_ARGS_TRUNCATED;
		count(VG_C_ARGS_TRUNCATED);
	}
	barrier_var(len);
	if (len == 0 || len > VG_ARGS_MAX)
		return;
	if (bpf_probe_read_user(&data[*off & VG_DATA_MASK], len, (void *)as)) {
		ev->flags |= VG_EXEC_ARGS_FAULT;
		count(VG_C_READ_FAULT);
		return;
	}
	ev->args_len = len;
	*off += len;
}

static __always_inline void put_lineage(struct vg_exec *ev, struct task_struct *t)
{
	struct task_struct *cur = t->real_parent;
	int i;

	for (i = 0; i < VG_LINEAGE_MAX; i++) {
		__u32 pid = cur ? cur->tgid : 0;

		if (!pid)
			return;
		ev->ancestors[i].pid = pid;
		ev->ancestors[i].uid = cur->real_cred->uid.val;
		ev->ancestors[i].exec_id = (__u32)cur->self_exec_id;
		ev->ancestors[i].pad = 0;
		ev->ancestors[i].start_ns = cur->start_boottime;
		ev->n_ancestors = i + 1;
		cur = cur->real_parent;
	}
	if (cur && cur->tgid)
		ev->flags |= VG_EXEC_LINEAGE_TRUNCATED;
}

/* Creates or refreshes t's process map entry; returns it or NULL (counted). */
static __always_inline struct vg_proc *proc_upsert(__u32 tgid)
{
	struct vg_proc *pv = bpf_map_lookup_elem(&procs, &tgid);

	if (pv)
		return pv;
	if (bpf_map_update_elem(&procs, &tgid, &empty_proc, BPF_ANY) == 0)
		pv = bpf_map_lookup_elem(&procs, &tgid);
	if (!pv)
		count(VG_C_PROCMAP_FAIL);
	return pv;
}

/* The process map's entry for the new image: parent, uid, identity, comm, exe. */
static __always_inline void record_proc(struct task_struct *p, struct linux_binprm *bprm,
					const char *comm)
{
	struct vg_proc *pv = proc_upsert(p->tgid);

	if (!pv)
		return;
	pv->ppid = p->real_parent->tgid;
	pv->uid = p->real_cred->uid.val;
	pv->flags = VG_PROC_EXECED;
	pv->exit_boot_ns = 0;
	pv->exec_id = (__u32)p->self_exec_id;
	pv->start_ns = p->start_boottime;
	__builtin_memcpy(pv->comm, comm, sizeof(pv->comm));
	/* a fault leaves exe empty: user space then reads /proc */
	bpf_probe_read_kernel_str(pv->exe, sizeof(pv->exe), bprm->filename);
}

/* The filter map's action for comm (lowercased into lkey: names match caselessly). */
static __always_inline __u32 *filter_action(const struct vg_filter_key *key,
					    struct vg_filter_key *lkey)
{
	*lkey = *key;
	for (int i = 0; i < VG_COMM_LEN; i++)
		if (lkey->comm[i] >= 'A' && lkey->comm[i] <= 'Z')
			lkey->comm[i] += 'a' - 'A';
	return bpf_map_lookup_elem(&filter, lkey);
}

/* The record's fixed part: identity, credentials, pid namespace, lineage. */
static __always_inline void put_header(struct vg_exec *ev, struct task_struct *p,
				       struct linux_binprm *bprm, const char *comm, bool candidate)
{
	const struct cred *cred = p->real_cred;
	struct pid *tp = p->thread_pid;
	unsigned int level;
	struct upid up;

	ev->type = VG_REC_EXEC;
	ev->abi = VG_ABI_VERSION;
	ev->boot_ns = bpf_ktime_get_boot_ns();
	ev->cgroup_id = bpf_get_current_cgroup_id();
	ev->pid = p->tgid;
	ev->tid = p->pid;
	ev->uid = cred->uid.val;
	ev->gid = cred->gid.val;
	ev->euid = cred->euid.val;
	ev->egid = cred->egid.val;
	ev->flags = candidate ? VG_EXEC_CANDIDATE : 0;
	ev->argc = bprm->argc;
	ev->cwd_depth = 0;
	ev->cwd_len = 0;
	ev->args_len = 0;
	ev->n_ancestors = 0;
	ev->pad0 = 0;
	ev->pad1 = 0;
	ev->exe_ino = ev->exe_size = ev->exe_ctime_ns = 0;
	ev->exe_dev = ev->exe_nlink = ev->exe_fs_magic = 0;
	ev->exe_name_off = ev->exe_name_len = 0;
	ev->kill_cause = 0;
	__builtin_memset(ev->pad2, 0, sizeof(ev->pad2));
	__builtin_memcpy(ev->comm, comm, sizeof(ev->comm));

	level = tp->level;
	bpf_core_read(&up, sizeof(up), &tp->numbers[level & 31]);
	ev->ns_pid = up.nr;
	ev->pidns_ino = BPF_CORE_READ(up.ns, ns.inum);

	put_lineage(ev, p);
	ev->ppid = ev->n_ancestors ? ev->ancestors[0].pid : 0;
}

/* The exe path as exec'd, at the start of data[]; returns the offset after it. */
static __always_inline __u32 put_exe(struct vg_exec *ev, struct linux_binprm *bprm)
{
	long n;

	ev->exe_off = 0;
	n = bpf_probe_read_kernel_str(ev->data, VG_EXE_MAX, bprm->filename);
	if (n <= 0) {
		ev->data[0] = '\0';
		n = 1;
		count(VG_C_READ_FAULT);
	}
	ev->exe_len = n - 1;
	if (n >= VG_EXE_MAX)
		ev->flags |= VG_EXEC_EXE_TRUNCATED;
	return n;
}

#include "exe_ident.bpf.h"

/*
 * Enforcement at exec: the process dies before its first instruction.
 * Never vigil itself or PID 1; a host process only when the policy's
 * scope includes the host; never a break-glass pod's. A fileless
 * executable is killed in a container only inside a pid namespace of its
 * own: the container runtime re-executes itself from a memfd before it
 * enters the container's namespaces.
 */
static __always_inline void enforce(struct scratch *s, struct vg_exec *ev, __u32 act, __u32 cause,
				    bool in_ctr, bool own_pidns)
{
	__u32 tgid = ev->pid, pol = vg_exe_policy;
	bool kill = cause != VG_KILL_NONE, host = act & VG_ACT_KILL_HOST, ok;

	if (!kill && (ev->flags & VG_EXEC_EXE_FILELESS) && (pol & VG_EXE_KILL_FILELESS) &&
	    (own_pidns || !in_ctr)) {
		kill = true;
		host = pol & VG_EXE_KILL_FILELESS_HOST;
		cause = VG_KILL_FILELESS;
	}
	if (!kill && exe_drifted(s, in_ctr) && (pol & VG_EXE_KILL_DRIFT)) {
		kill = true;
		host = false;
		cause = VG_KILL_DRIFT;
	}
	if (!kill)
		return;
	ok = tgid != vg_self_tgid && tgid != 1 && (host || in_ctr) &&
	     !bpf_map_lookup_elem(&exempt, &s->w.leaf_id) &&
	     !bpf_map_lookup_elem(&exempt, &s->w.parent_id);
	if (ok && !bpf_send_signal(9)) {
		ev->flags |= VG_EXEC_KILLED;
		ev->kill_cause = cause;
		count(VG_C_KILLED);
	} else {
		count(VG_C_KILL_SPARED);
	}
}

#include "baseline.bpf.h"

/* Sends the record of off data bytes; wakes the reader when a decision is due. */
static __always_inline void submit(struct vg_exec *ev, __u32 off, __u32 act)
{
	__u32 rbflags;

	if (off > VG_DATA_MAX)
		off = VG_DATA_MAX;
	barrier_var(off);
	off &= 2 * VG_DATA_MAX - 1; /* no-op after the clamp: a bound the verifier can see */
	ev->size = sizeof(*ev) + off;

	rbflags = BPF_RB_NO_WAKEUP;
	if ((act & (VG_ACT_WAKE | VG_ACT_KILL)) || !vg_wakeup_bytes ||
	    bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= vg_wakeup_bytes)
		rbflags = 0;
	if (bpf_ringbuf_output(&events, ev, sizeof(*ev) + off, rbflags)) {
		count(VG_C_RB_DROPPED);
		return;
	}
	count(VG_C_EXEC_SENT);
	if (!rbflags)
		count(VG_C_WAKEUPS);
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(handle_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	struct vg_filter_key key = {};
	__u32 action, cause = VG_KILL_NONE, off;
	struct scratch *s;
	struct vg_exec *ev;
	bool in_ctr;

	if (p->flags & PF_KTHREAD)
		return 0;
	count(VG_C_EXEC_SEEN);
	bpf_get_current_comm(key.comm, sizeof(key.comm));
	record_proc(p, bprm, key.comm);
	s = get_scratch();
	if (!s)
		return 0;
	read_exe(&s->x, p, bprm);
	action = decide(s, &key, p->real_cred->euid.val, &cause);
	if (vg_filter_mode == VG_FILTER_MAP && !(action & VG_ACT_SEND) && !exe_wanted(s, p)) {
		count(VG_C_EXEC_FILTERED);
		return 0;
	}
	ev = (struct vg_exec *)s->buf;
	put_header(ev, p, bprm, key.comm, action != 0);
	off = put_exe(ev, bprm);
	off = put_exe_name(s, ev, off);
	if (vg_want_cwd)
		put_cwd(s, ev, &off, p);
	else
		ev->cwd_off = off;
	put_cgroup(s, ev, &off, p);
	put_args(ev, ev->data, &off, p);
	in_ctr = ev->cg_depth && leaf_is_container(&ev->data[ev->cg_off & VG_DATA_MASK]);
	ev->flags |= s->x.flags | (in_ctr ? VG_EXEC_IN_CONTAINER : 0);
	count_exe_facts(s, in_ctr);
	action |= wake_for_exe(s, in_ctr);
	enforce(s, ev, action, cause, in_ctr, p->thread_pid->level > 0);
	action |= bl_enforce(s, ev, in_ctr, p->thread_pid->level > 0);
	submit(ev, off, action);
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(handle_fork, struct task_struct *parent, struct task_struct *child)
{
	__u32 ptgid, ctgid = child->tgid;
	struct vg_proc *pv, *cv;

	if (child->pid != ctgid || (child->flags & PF_KTHREAD))
		return 0; /* a thread, or a kernel thread */
	count(VG_C_FORK_SEEN);
	ptgid = parent->tgid;
	pv = bpf_map_lookup_elem(&procs, &ptgid);
	if (bpf_map_update_elem(&procs, &ctgid, pv ? pv : &empty_proc, BPF_ANY)) {
		count(VG_C_PROCMAP_FAIL);
		return 0;
	}
	cv = bpf_map_lookup_elem(&procs, &ctgid);
	if (!cv)
		return 0;
	cv->ppid = child->real_parent->tgid;
	cv->uid = child->real_cred->uid.val;
	cv->flags = VG_PROC_FORKED;
	cv->exit_boot_ns = 0;
	cv->exec_id = (__u32)child->self_exec_id;
	cv->start_ns = child->start_boottime;
	return 0;
}

/* Only the task is read: 6.16 added a group_dead argument after it. */
SEC("tp_btf/sched_process_exit")
int BPF_PROG(handle_exit, struct task_struct *p)
{
	__u32 tgid = p->tgid;
	struct vg_proc *pv;

	if (p->pid != tgid || (p->flags & PF_KTHREAD))
		return 0;
	count(VG_C_EXIT_SEEN);
	pv = bpf_map_lookup_elem(&procs, &tgid);
	if (pv) {
		pv->flags |= VG_PROC_EXITED;
		pv->exit_boot_ns = bpf_ktime_get_boot_ns();
	}
	return 0;
}
