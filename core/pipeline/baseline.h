/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * baseline.h - the pipeline's part of process baselines: for each container
 * exec, its baseline's key and the real executable path; learned while the
 * baseline observes (or the container starts up), checked once it is locked
 * (ev->bl), locked at the end of observation with auto_lock. The model and
 * its records are the store's (core/store/baselines.h).
 */
#ifndef VG_PIPELINE_BASELINE_H
#define VG_PIPELINE_BASELINE_H

#include <stdbool.h>
#include <stdint.h>

#include "baselines.h"
#include "drift.h"
#include "event.h"

struct vg_bl;

struct vg_bl_opts {
	struct vg_baselines *store;
	uint64_t observe_ns; /* observation window from a baseline's first exec */
	uint64_t startup_ns; /* a container's start-up period: its execs are learned */
	bool auto_lock;	     /* lock at the end of observation */
	bool live;	     /* execs on this host now: /proc and the container's root are read */
	struct vg_drift *drift; /* the containers' starts (NULL: no start-up period) */
	/* each exec checked against a locked baseline, after ev->bl is set: the kernel's copy
	   of the baseline follows its containers (core/daemon/bl_kernel.c); NULL: none */
	void (*checked_fn)(void *ctx, struct vg_event *ev, const struct vg_baseline *bl);
	void *checked_ctx;
};

struct vg_bl_stats {
	uint64_t execs, learned, capped, checked, unexpected, auto_locked, errors;
	/* how the real path was found: cache, /proc/PID/exe, the container's root, the
	   exec'd path (a trace, or the fallback); failures: identity did not match, or
	   nothing could be read */
	uint64_t path_cache, path_proc, path_root, path_exec, path_mismatch, path_failed;
	/* killed at exec by the kernel's copy of the baseline; of which the path was in it */
	uint64_t kernel_killed, kernel_replaced;
	/* the per-cgroup cache: baselines found in it, looked up by key (first exec of a
	   cgroup, the store changed, or the key did), cgroups pushed out of it */
	uint64_t cache_hits, cache_misses, cache_evictions;
};

int vg_bl_new(struct vg_bl **out, const struct vg_bl_opts *o);
void vg_bl_free(struct vg_bl *b);

/* One exec (attributed): learns or checks; sets ev->bl. Nothing for a host exec. */
void vg_bl_exec(struct vg_bl *b, struct vg_event *ev, uint64_t now_ns);

/* Locks the baselines whose observation ended (auto_lock): from a timer. */
void vg_bl_tick(struct vg_bl *b, uint64_t now_ns);

/* A violation of policy on an unexpected exec, counted per policy name. */
void vg_bl_count_violation(struct vg_bl *b, const char *policy);
/* The i-th policy's name and count; false past the last. */
bool vg_bl_violations(const struct vg_bl *b, int i, const char **policy, uint64_t *count);

void vg_bl_stats(const struct vg_bl *b, struct vg_bl_stats *st);

/* ---- the decisions, pure (unit tests) ----------------------------------------------- */

/* ev's baseline key: Kubernetes' (namespace, deployment or pod, container), else image and name. */
void vg_bl_key_of(struct vg_event *ev, struct vg_baseline_key *k);

enum vg_bl_step {
	VG_BL_IGNORE, /* unlocked, past observation and start-up: nothing to do */
	VG_BL_LEARN,  /* unlocked, observing or starting up: the path is added */
	VG_BL_CHECK,  /* locked: a path not in it is unexpected */
};
enum vg_bl_step vg_bl_step_of(const struct vg_baseline *bl, uint64_t now_ns, bool in_startup);

/* Whether auto_lock locks bl now: unlocked and its observation is over. */
bool vg_bl_lock_due(const struct vg_baseline *bl, uint64_t now_ns, bool auto_lock);

#endif
