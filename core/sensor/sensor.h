/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sensor.h - the exec sensor: loads bpf/sensor.bpf.c, drains its ring buffer
 * from a libevent loop, keeps its process map tidy, and names ancestors.
 */
#ifndef VG_SENSOR_H
#define VG_SENSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "event.h"

struct event_base;
struct vg_sensor;

#define VG_RINGBUF_MIN	   (16u << 10) /* holds at least one maximal record */
#define VG_RINGBUF_DEFAULT (4u << 20)
#define VG_RINGBUF_MAX	   (1u << 30)

enum vg_cgroup_mode {
	VG_CGROUP_AUTO, /* v2 when /sys/fs/cgroup or /sys/fs/cgroup/unified is cgroup2 */
	VG_CGROUP_V2,	/* the default hierarchy */
	VG_CGROUP_V1,	/* the v1 memory controller's hierarchy */
};

struct vg_sensor_opts {
	uint32_t ringbuf_bytes; /* power of two in [VG_RINGBUF_MIN, VG_RINGBUF_MAX]; 0: default */
	uint32_t procs_max;	/* process map entries; 0: default */
	uint32_t drain_ms;	/* drain timer period; 0: default (10 ms) */
	uint32_t batch;		/* records per drain before yielding to the loop; 0: 4096 */
	uint64_t wakeup_bytes;	/* wake the reader past this fill; 0: ringbuf / 4 */
	bool wake_every;	/* wake the reader for every record (costly; for tests) */
	bool no_cwd;		/* skip the cwd walk in the kernel */
	enum vg_cgroup_mode cgroup_mode;
	const char *btf_path; /* custom BTF for kernels without /sys/kernel/btf/vmlinux */
	bool verbose;	      /* libbpf and verifier logs to stderr */
};

/*
 * Called for each record drained, from the loop. rec is valid only during the
 * call. Return 0 to go on; a negative value stops this drain and is returned
 * by vg_sensor_drain().
 */
typedef int (*vg_sensor_cb)(void *ctx, const void *rec, size_t len);

/* What the sensor counted: kernel counters summed over CPUs, then its own. */
struct vg_sensor_stats {
	uint64_t k[VG_C_MAX];
	uint64_t received;	 /* records handed to the callback */
	uint64_t drains;	 /* drain passes that consumed something */
	uint64_t swept;		 /* exited process map entries removed */
	uint64_t seeded;	 /* process map entries seeded from /proc */
	uint64_t lineage_miss;	 /* ancestors with no exe in the map nor /proc */
	uint64_t lineage_cached; /* ancestors named from the user-space cache */
	enum vg_filter_mode filter_mode;
	uint32_t ringbuf_bytes;
};

/*
 * Loads and attaches the sensor and registers it with base. On failure returns
 * -errno and writes one line naming the cause and the fix into err.
 */
int vg_sensor_open(struct vg_sensor **out, const struct vg_sensor_opts *opts,
		   struct event_base *base, vg_sensor_cb cb, void *ctx, char *err, size_t errlen);
void vg_sensor_close(struct vg_sensor *s);

/* Drains up to the batch budget now. Returns records consumed or -errno. */
int vg_sensor_drain(struct vg_sensor *s);

/* Kernel filter map: comm (matched caselessly) -> enum vg_filter_action. 0 or -errno. */
int vg_sensor_filter_set(struct vg_sensor *s, const char *comm, uint32_t action);
/*
 * Programs the filter from a policy set: the exact names wake the reader
 * (a decision is due); with send_all every exec is sent, else only those
 * names. Replaces what was there. 0 or -errno.
 */
int vg_sensor_filter_program(struct vg_sensor *s, const char *const *names, int n, bool send_all);
/* The same with extra actions per name (VG_ACT_KILL, VG_ACT_KILL_HOST). */
int vg_sensor_filter_program_actions(struct vg_sensor *s, const char *const *names,
				     const uint32_t *extra, int n, bool send_all);
void vg_sensor_filter_mode(struct vg_sensor *s, enum vg_filter_mode mode);

/*
 * What the kernel does with execs by where their executable lives: enum
 * vg_exe_policy bits (send / kill fileless and drifted execs, send every
 * container exec). Takes effect at the next exec.
 */
void vg_sensor_exe_policy(struct vg_sensor *s, uint32_t bits);
/*
 * A file user space identified by content answers to name in the kernel from
 * now on (the filter map then decides, as for a comm). 0 or -errno. The map is
 * a cache: the kernel may forget the oldest.
 */
int vg_sensor_ident_add(struct vg_sensor *s, const struct vg_ident_key *key, const char *name);
void vg_sensor_ident_clear(struct vg_sensor *s);

/* (name, euid) pairs killed at exec (VG_ACT_KILL_UID names): replaces the set. 0 or -errno. */
int vg_sensor_kill_uids_set(struct vg_sensor *s, const char *const *names, const int *name_idx,
			    const uint32_t *uids, int n);

/* Cgroup ids never killed at exec (break-glass pods): replaces the set. 0 or -errno. */
int vg_sensor_exempt_set(struct vg_sensor *s, const uint64_t *ids, int n);

/*
 * Locked process baselines in the kernel (bpf/baseline.bpf.h): whether this
 * sensor can hold them (cgroup v2), a container's allowed executable added or
 * removed, the container programmed (flags: enum vg_bl_ctr_flags) or, with 0,
 * forgotten; and the switch that makes execs look at all. 0 or -errno (-E2BIG:
 * a map is full).
 */
bool vg_sensor_bl_supported(const struct vg_sensor *s);
int vg_sensor_bl_allow(struct vg_sensor *s, const struct vg_bl_allow_key *k, bool add);
int vg_sensor_bl_ctr(struct vg_sensor *s, uint64_t cgroup_id, uint32_t flags);
void vg_sensor_bl_on(struct vg_sensor *s, bool on);

void vg_sensor_stats(struct vg_sensor *s, struct vg_sensor_stats *st);
const char *vg_sensor_counter_name(int idx);

/* Boot-time to wall-clock offset for vg_event_decode(). */
int64_t vg_sensor_boot_to_wall(const struct vg_sensor *s);

/*
 * Names the event's ancestors (pid, uid from the record; exe from the process
 * map, else /proc). Idempotent; cheap after the first call for an event.
 */
void vg_sensor_lineage(struct vg_sensor *s, struct vg_event *ev);

#endif
