/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * vigil_abi.h - the one contract between vigil's BPF programs and user space.
 *
 * Included by bpf/sensor.bpf.c (with vmlinux.h) and by core/ (with
 * <linux/types.h>). Fixed-width types only, no pointers, explicit padding;
 * user space pins the layout with _Static_assert (core/sensor.c). Bump
 * VG_ABI_VERSION on any change: record/replay traces carry it.
 */
#ifndef VIGIL_ABI_H
#define VIGIL_ABI_H

#define VG_ABI_VERSION 2 /* 2: the mapped executable's identity and facts */

#define VG_COMM_LEN	16   /* TASK_COMM_LEN */
#define VG_EXE_MAX	256  /* exe path as exec'd, bytes with the NUL */
#define VG_ARGS_MAX	4096 /* argv bytes (NUL-separated), a page: the sensor's bound */
#define VG_NAME_MAX	256  /* one path component (cwd dentry, cgroup kernfs name) */
#define VG_CWD_DEPTH	24   /* cwd components walked, leaf first */
#define VG_CGROUP_DEPTH 8    /* cgroup components walked, leaf first */
#define VG_LINEAGE_MAX	10   /* ancestors, nearest first */
#define VG_DATA_MAX	8192 /* string area: every field's bound summed fits below this */
#define VG_DATA_MASK	(VG_DATA_MAX - 1)

/* Record types in the ring buffer (and in traces). */
enum vg_rec_type {
	VG_REC_EXEC = 1,
};

/* vg_exec.flags */
enum vg_exec_flags {
	VG_EXEC_ARGS_TRUNCATED = 1u << 0,    /* argv longer than VG_ARGS_MAX */
	VG_EXEC_EXE_TRUNCATED = 1u << 1,     /* exe path longer than VG_EXE_MAX - 1 */
	VG_EXEC_CWD_TRUNCATED = 1u << 2,     /* cwd deeper than VG_CWD_DEPTH (leaf kept) */
	VG_EXEC_CGROUP_TRUNCATED = 1u << 3,  /* cgroup deeper than VG_CGROUP_DEPTH */
	VG_EXEC_ARGS_FAULT = 1u << 4,	     /* argv could not be read at all */
	VG_EXEC_CANDIDATE = 1u << 5,	     /* the name was in the filter map */
	VG_EXEC_LINEAGE_TRUNCATED = 1u << 6, /* more ancestors than VG_LINEAGE_MAX */
	VG_EXEC_HAS_CWD = 1u << 7,	     /* cwd was captured (an empty list is "/") */
	VG_EXEC_KILLED = 1u << 8,	     /* SIGKILLed at exec by an enforcing policy */
	VG_EXEC_EXE_KNOWN = 1u << 9,	     /* the mapped executable was read: exe_* are set */
	VG_EXEC_EXE_FILELESS = 1u << 10,     /* it has no link on a filesystem: memfd, O_TMPFILE,
						deleted before exec */
	VG_EXEC_EXE_UPPER = 1u << 11,	     /* it is in an overlayfs upper (writable) layer */
	VG_EXEC_EXE_OTHER_MNT = 1u << 12,    /* its mount is not the process root's mount */
	VG_EXEC_IN_CONTAINER = 1u << 13,     /* the leaf cgroup is a container's, as the kernel
						sees it */
	VG_EXEC_IDENT_HIT = 1u << 14,	     /* the executable was in the ident map */
	VG_EXEC_EXE_IS_COMM = 1u << 15,	     /* its name is the comm (shorter than 16 bytes) */
};

/*
 * Why the kernel killed an exec (vg_exec.kill_cause), for the alert to say.
 * The names are the ways a process name matches (policies/README.md).
 */
enum vg_kill_cause {
	VG_KILL_NONE = 0,
	VG_KILL_COMM = 1,     /* the task's comm is an enforcing policy's name */
	VG_KILL_EXE = 2,      /* the mapped executable's name is */
	VG_KILL_CONTENT = 3,  /* the executable is a file user space identified by content */
	VG_KILL_FILELESS = 4, /* a fileless executable, and a policy on that enforces */
	VG_KILL_DRIFT = 5,    /* an executable not in the container's image, and ... */
	VG_KILL_BASELINE = 6, /* not in its container's locked process baseline (bl_allow) */
};

/*
 * One ancestor. (pid, start_ns, exec_id) names one image of one process:
 * user space caches the exe it looked up under that triple.
 */
struct vg_ancestor {
	__u32 pid;     /* tgid */
	__u32 uid;     /* real uid */
	__u32 exec_id; /* task->self_exec_id: bumped by every exec */
	__u32 pad;
	__u64 start_ns; /* task->start_boottime */
};

/*
 * One exec. The header is fixed; data[] holds the strings, each NUL
 * terminated, at the offsets given (relative to data):
 *   exe                              exe_off, exe_len (without the NUL)
 *   mapped executable's basename     exe_name_off, exe_name_len (without the NUL)
 *   cwd components, leaf first       cwd_off, cwd_len bytes, cwd_depth strings
 *   cgroup components, leaf first    cg_off, cg_len bytes, cg_depth strings
 *   argv, NUL separated              args_off, args_len bytes
 * `size` is the whole record: sizeof(struct vg_exec) + bytes of data used.
 * A component list ends at the root: the root itself is not a component.
 */
struct vg_exec {
	__u16 type; /* VG_REC_EXEC */
	__u16 abi;  /* VG_ABI_VERSION */
	__u32 size;
	__u64 boot_ns; /* bpf_ktime_get_boot_ns() at exec */
	__u64 cgroup_id;
	__u32 pid; /* tgid */
	__u32 tid;
	__u32 ppid;
	__u32 uid;
	__u32 gid;
	__u32 euid;
	__u32 egid;
	__u32 ns_pid;	 /* pid inside its own pid namespace */
	__u32 pidns_ino; /* inode of that pid namespace */
	__u32 flags;	 /* enum vg_exec_flags */
	__u32 argc;
	__u16 exe_off;
	__u16 exe_len;
	__u16 cwd_off;
	__u16 cwd_len;
	__u16 cwd_depth;
	__u16 cg_off;
	__u16 cg_len;
	__u16 cg_depth;
	__u16 args_off;
	__u16 args_len;
	__u16 n_ancestors;
	__u16 pad0;
	char comm[VG_COMM_LEN];
	__u32 pad1;
	struct vg_ancestor ancestors[VG_LINEAGE_MAX];
	/* The executable actually mapped (mm->exe_file), when VG_EXEC_EXE_KNOWN. */
	__u64 exe_ino;
	__u64 exe_size;
	__u64 exe_ctime_ns; /* inode change time, ns since the epoch */
	__u32 exe_dev;	    /* its filesystem's kernel dev_t: major << 20 | minor */
	__u32 exe_nlink;
	__u32 exe_fs_magic; /* its superblock's s_magic */
	__u16 exe_name_off; /* its basename (the dentry's name), in data[] */
	__u16 exe_name_len;
	__u8 kill_cause; /* enum vg_kill_cause */
	__u8 pad2[7];
	char data[];
};

/*
 * Process map value, keyed by tgid (__u32). Written by the exec, fork and exit
 * programs and seeded by user space from /proc at start; read by user space
 * to name the ancestors of an event, including ones whose exec was filtered.
 */
struct vg_proc {
	__u32 ppid;
	__u32 uid;
	__u32 flags;	    /* enum vg_proc_flags */
	__u32 exec_id;	    /* task->self_exec_id of the image named here (0: seeded, unknown) */
	__u64 exit_boot_ns; /* 0 while alive */
	__u64 start_ns;	    /* task->start_boottime (0: seeded, unknown) */
	char comm[VG_COMM_LEN];
	char exe[VG_EXE_MAX];
};

enum vg_proc_flags {
	VG_PROC_EXECED = 1u << 0, /* exe is from a seen exec */
	VG_PROC_FORKED = 1u << 1, /* entry made at fork: exe inherited from the parent */
	VG_PROC_SEEDED = 1u << 2, /* entry made by user space from /proc */
	VG_PROC_EXITED = 1u << 3,
};

/* Filter map: key is the exec'd comm, NUL padded. */
struct vg_filter_key {
	char comm[VG_COMM_LEN];
};

enum vg_filter_action {
	VG_ACT_SEND = 1u << 0,	    /* send the event up */
	VG_ACT_WAKE = 1u << 1,	    /* wake the reader now: a decision is due */
	VG_ACT_KILL = 1u << 2,	    /* SIGKILL at exec, in a container (leaf cgroup is one) */
	VG_ACT_KILL_HOST = 1u << 3, /* ... and on the host too (the policy's scope says so) */
	VG_ACT_KILL_UID = 1u << 4,  /* SIGKILL at exec when (comm, euid) is in kill_uid */
};

/* kill_uid map key: a name and an effective uid that together are killed at exec. */
struct vg_kill_uid_key {
	char comm[VG_COMM_LEN];
	__u32 uid;
	__u32 pad;
};

/*
 * ident map: a file user space identified by content, keyed as the kernel sees
 * it, to the name it answers to (looked up in the filter map like a comm).
 */
struct vg_ident_key {
	__u32 dev; /* kernel dev_t */
	__u32 pad;
	__u64 ino;
	__u64 ctime_ns;
	__u64 size;
};

/*
 * vg_exe_policy (a .bss global user space sets at run time): what the kernel
 * does with execs by where their executable lives, for policies on
 * exe_fileless / exe_not_in_image and for content identity.
 */
enum vg_exe_policy {
	VG_EXE_SEND_FILELESS = 1u << 0,	     /* send fileless execs even in map mode */
	VG_EXE_KILL_FILELESS = 1u << 1,	     /* ... and kill them in containers */
	VG_EXE_KILL_FILELESS_HOST = 1u << 2, /* ... and on the host too */
	VG_EXE_SEND_DRIFT = 1u << 3,	     /* send container execs of a writable layer, tmpfs,
						or another mount even in map mode */
	VG_EXE_KILL_DRIFT = 1u << 4,	     /* kill container execs of a writable layer or tmpfs */
	VG_EXE_SEND_CONTAINERS = 1u << 5,    /* send every container exec (content identity) */
	VG_EXE_IDENT = 1u << 6,		     /* the ident map has entries: look executables up */
};

/* Where vg_filter_mode (a .bss global user space can flip at run time) stands. */
enum vg_filter_mode {
	VG_FILTER_ALL = 0, /* send every exec; the map only marks candidates */
	VG_FILTER_MAP = 1, /* send only execs whose comm is in the filter map */
};

/* Per-CPU counters, one array slot; user space sums the CPUs. */
enum vg_counter {
	VG_C_EXEC_SEEN,	     /* exec tracepoint hits (user processes) */
	VG_C_EXEC_SENT,	     /* records committed to the ring buffer */
	VG_C_EXEC_FILTERED,  /* not sent: the filter map said so */
	VG_C_RB_DROPPED,     /* not sent: the ring buffer was full */
	VG_C_ARGS_TRUNCATED, /* sent with VG_EXEC_ARGS_TRUNCATED */
	VG_C_READ_FAULT,     /* a kernel or user read failed (flagged on the record) */
	VG_C_FORK_SEEN,	     /* process forks (not threads, not kernel threads) */
	VG_C_EXIT_SEEN,	     /* thread-group leader exits */
	VG_C_PROCMAP_FAIL,   /* process map update failed */
	VG_C_WAKEUPS,	     /* records sent with a reader wake-up */
	VG_C_KILLED,	     /* execs SIGKILLed in the kernel */
	VG_C_KILL_SPARED,    /* kill asked but refused: vigil itself, PID 1, or a host process */
	VG_C_EXE_NAME_HIT,   /* the mapped executable's name was in the filter map, comm not */
	VG_C_IDENT_HIT,	     /* the executable was in the ident map */
	VG_C_FILELESS,	     /* execs of a fileless executable */
	VG_C_DRIFT,	     /* container execs of a writable layer or tmpfs executable */
	VG_C_BL_CHECKED,     /* execs of a container whose baseline is in the kernel */
	VG_C_BL_KILLED,	     /* ... killed: not in it (also counted in VG_C_KILLED) */
	VG_C_MAX
};

struct vg_counters {
	__u64 c[VG_C_MAX];
};

/*
 * Process baselines in the kernel (bpf/baseline.bpf.h). bl_ctr: a container's
 * cgroup id (the exec's, bpf_get_current_cgroup_id) -> struct vg_bl_ctr;
 * bl_allow: struct vg_bl_allow_key -> __u8, the executables it may run.
 * vg_bl_on (.bss) is nonzero while bl_ctr has entries.
 */
#define VG_BLK_CTR_MAX	 1024
#define VG_BLK_ALLOW_MAX (1024 * 64)

enum vg_bl_ctr_flags {
	VG_BL_KILL = 1u << 0, /* kill what is not allowed (the policy enforces) */
};

struct vg_bl_ctr {
	__u32 flags; /* enum vg_bl_ctr_flags */
	__u32 pad;
};

struct vg_bl_allow_key {
	__u64 cgroup_id;
	__u64 ino;
	__u32 dev; /* kernel dev_t, as exe_dev */
	__u32 pad;
};

#endif /* VIGIL_ABI_H */
