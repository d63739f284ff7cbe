/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * event.h - one exec, decoded from the sensor's record (struct vg_exec).
 *
 * A struct vg_event is meant to be reused: decoding writes every field and
 * allocates nothing. Strings point into the event's own buffers or into the
 * record, so the record must outlive the event's use (the ring-buffer
 * callback, or a trace being replayed).
 */
#ifndef VG_EVENT_H
#define VG_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>

#include "vigil_abi.h"
#include "container.h"
#include "ctrinfo.h"

#define VG_ARGV_MAX 256	 /* argv entries kept; more sets args_truncated */
#define VG_PATH_MAX 4096 /* joined cwd / cgroup path */

struct vg_ancestor_info {
	uint32_t pid;
	uint32_t uid;
	const char *exe;  /* "" when unknown; points into the event */
	const char *name; /* basename of exe */
};

/* Kubernetes metadata of the event's pod, when known (NULL fields otherwise). */
struct vg_meta {
	const char *namespace_;
	const char *pod;
	const char *deployment;
	const char *container;
	const char *image;
	const char *const *labels; /* key, value, key, value, ..., NULL */
	bool privileged;
	uint64_t serial; /* vg_serial_next() when this was built (changes with it); 0: none */
};

/*
 * The ways an exec answers to a process name (policies/README.md, "What a
 * process name means"): its comm, the basename of the executable actually
 * mapped, the program a dynamic loader was asked to run, a multi-call
 * binary's applet, and content identity (the executable's SHA-256 equals a
 * binary of that name in the same container, or a policy's known hash).
 */
enum vg_way { VG_WAY_COMM, VG_WAY_EXE, VG_WAY_LOADER, VG_WAY_APPLET, VG_WAY_CONTENT, VG_WAY_N };

/* "comm", "exe", "loader", "applet", "content" */
const char *vg_way_name(enum vg_way w);

/* Who decided a fact about the executable: the kernel at exec, or user space later. */
enum vg_decider { VG_DECIDED_NONE, VG_DECIDED_KERNEL, VG_DECIDED_USER };

#define VG_IDENT_NAMES	  8   /* content names kept for one executable */
#define VG_IDENT_NAME_MAX 256 /* one name, with the NUL */

/* What an exec's executable is, beyond its comm (filled by decode and the pipeline). */
struct vg_exe_ident {
	const char *exe_name;		/* basename of mm->exe_file (in the record); "" unknown */
	char loader[VG_IDENT_NAME_MAX]; /* basename of ld.so's program; "" none */
	char applet[VG_IDENT_NAME_MAX]; /* a multi-call binary's applet; "" none */
	/* content identity: names whose binaries have this content (NUL-free, lowercase) */
	char content[VG_IDENT_NAMES][VG_IDENT_NAME_MAX];
	uint8_t sha256[32]; /* when has_sha256 */
	/* from here on, all zero for each exec decoded (event.c, decode_ident) */
	int n_content;
	bool content_known;   /* the content names above are final (maybe none) */
	bool content_pending; /* the hash is being computed: evaluated again when it is */
	bool has_sha256;
	bool fileless; /* memfd, O_TMPFILE, deleted before exec */
	/*
	 * fileless, in a container's cgroup, but in the initial pid namespace
	 * (ns_pid == pid): what a container runtime does when it re-executes
	 * itself from a memfd before entering the container's namespaces. The
	 * fact stays true; the exe_fileless criterion does not count it (as the
	 * kernel does not kill it): vg_event_fileless_counts().
	 */
	bool runtime_like;
	bool not_in_image;		 /* a container's exe written after its start */
	enum vg_decider fileless_by;	 /* kernel (flag on the record) */
	enum vg_decider not_in_image_by; /* kernel: upper layer or tmpfs; user: another mount */
	enum vg_kill_cause kill_cause;	 /* the record's, when the kernel killed */
	bool args_parsed;		 /* loader and applet are filled (vg_event_ident_args) */
	int args_content;		 /* n_content when they were */
};

/*
 * The process baseline's verdict on an exec (core/pipeline/baseline.c): checked
 * against a locked baseline, and found not in it. Cleared by each decode.
 */
struct vg_bl_fact {
	bool checked;		/* its container's baseline is locked: the path was looked up */
	bool unexpected;	/* ... and is not in it (the unexpected_process criterion) */
	bool decided_in_kernel; /* the kernel's copy of the baseline decided it */
	bool replaced;		/* killed by that copy, yet its path is in the baseline: the file
				   there is not the one programmed (a new inode) */
	const char *path; /* the real executable path looked up (path_buf or ev->exe), or NULL */
	char path_buf[VG_PATH_MAX];
};

struct vg_event {
	const struct vg_exec *rec;
	uint64_t time_ns; /* wall clock */
	const char *exe;  /* path as exec'd */
	const char *name; /* basename of exe (StackRox "Process Name" variant) */
	char comm[VG_COMM_LEN];
	const char *argv[VG_ARGV_MAX];
	int argc;			 /* entries in argv[] */
	bool args_truncated;		 /* argv bytes or count exceeded the bound */
	char args[VG_ARGS_MAX];		 /* argv[1..] joined by single spaces */
	char argv_tail[VG_ARGS_MAX + 1]; /* a truncated last argument, terminated */
	char cwd[VG_PATH_MAX];		 /* "" when not captured */
	char cgroup[VG_PATH_MAX];
	struct vg_container ctr;
	struct vg_exe_ident id;	    /* exe_name, fileless, kill_cause from decode; the rest later */
	struct vg_bl_fact bl;	    /* the process baseline's verdict (pipeline) */
	const struct vg_meta *meta; /* NULL until metadata is known */
	/* set by the daemon, which checks ctr against the API server */
	bool pod_verified;	/* the node's pod list has ctr.id in pod ctr.pod_uid */
	bool pod_denied;	/* a pod was named and not verified: ctr.pod_uid was cleared */
	char attr_warning[256]; /* why the attribution is suspect, "" when it is not */
	/* the container's name and image (Kubernetes', else ctrinfo.h's); "" when unknown */
	char ctr_name[VG_CTR_NAME_MAX], ctr_image[VG_CTR_IMAGE_MAX];
	uint64_t ctr_names_serial; /* the serial of where those two came from as it was; 0: none */
	bool has_args, has_paths, has_ctr; /* which lazy parts are filled */
	/* in a container or not, as a per-cgroup cache already found (the pipeline's baseline
	   step), so that the engine need not look again: VG_CTR_UNKNOWN until then */
	enum { VG_CTR_UNKNOWN, VG_CTR_HOST, VG_CTR_IN } ctr_known;
	/* lineage: filled on demand by the sensor (vg_sensor_lineage) or a trace */
	int n_lineage;
	bool lineage_done;
	const char
		*lineage_src; /* a trace's ancestor exe paths, NUL separated (vg_trace_lineage) */
	size_t lineage_len;
	struct vg_ancestor_info lineage[VG_LINEAGE_MAX];
	char lineage_buf[VG_LINEAGE_MAX][VG_EXE_MAX];
};

/*
 * Decodes one record of `len` bytes: checks it and fills time, comm, exe and
 * name; argv, paths and container identity are filled on first use by the
 * getters below. boot_to_wall_ns converts the record's boot-time stamp to
 * wall-clock time. Returns 0, or -EBADMSG when the record is not a
 * well-formed struct vg_exec of this ABI (nothing is read past len).
 */
int vg_event_decode(struct vg_event *ev, const void *rec, size_t len, int64_t boot_to_wall_ns);

/* argv[], argc, args, args_truncated */
void vg_event_args(struct vg_event *ev);
/*
 * id.loader and id.applet (ident_args.c): argv is parsed only when id.exe_name
 * or one of id.content[] looks like a dynamic loader or a multi-call binary;
 * once per event, and again when content names were added since.
 */
void vg_event_ident_args(struct vg_event *ev);
/* ld-*.so*, ld.so: a dynamic loader's name */
bool vg_ident_is_loader(const char *name);
/* busybox*, toybox* (busybox.static, busybox-2): a multi-call binary's name */
bool vg_ident_is_multicall(const char *name);
/*
 * Whether ev is fileless for the exe_fileless criterion: a fileless exec,
 * unless it is id.runtime_like (a container runtime's own re-exec).
 */
bool vg_event_fileless_counts(const struct vg_event *ev);
/* cwd, cgroup */
void vg_event_paths(struct vg_event *ev);
/* ctr (from the cgroup path) */
const struct vg_container *vg_event_container(struct vg_event *ev);

static inline bool vg_event_in_container(struct vg_event *ev)
{
	return vg_event_container(ev)->id[0] != '\0';
}

#endif
