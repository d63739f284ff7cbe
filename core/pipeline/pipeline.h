/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * pipeline.h - what happens to one exec, for every command that evaluates
 * policies (`vigil run`, `vigil events --match`, `vigil replay`, the replay
 * benchmark): decode -> metadata (container and pod attribution) -> engine
 * -> volume control -> flow (store / enforce / notify), or, for the commands
 * that only print, a report of each violation.
 */
#ifndef VG_PIPELINE_H
#define VG_PIPELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "attrib.h"
#include "baseline.h"
#include "drift.h"
#include "ident.h"
#include "enforcer.h"
#include "engine.h"
#include "event.h"
#include "podwait.h"

struct event_base;
struct vg_alerts;
struct vg_k8s;
struct vg_notify;
struct vg_pipeline;

struct vg_pipeline_opts {
	struct vg_engine *engine;
	vg_lineage_fn lineage_fn; /* names an event's ancestors before it is stored */
	void *lineage_ctx;
	/* metadata: attribute execs to containers and pods (k8s: NULL without Kubernetes) */
	bool attribute;
	struct vg_k8s *k8s;
	/* with k8s and base: an exec of a pod not known yet waits for it up to pod_wait_ms
	   (0: never), at most pod_wait_max execs at a time (podwait.h) */
	uint32_t pod_wait_ms, pod_wait_max;
	/* the runtimes' state (ctrinfo.h) that names containers without Kubernetes ("": default) */
	const char *storage_root, *docker_root;
	/* volume control: at most burst repeats of an exec per window_s (0: none dropped) */
	uint32_t burst, window_s;
	/* flow: each violation to report(), or (report NULL) through the policy's flow */
	vg_violation_cb report;
	void *report_ctx;
	struct vg_alerts *alerts;
	struct vg_notify *notify; /* NULL: vigil.notify() does nothing */
	struct event_base *base;  /* for the checks after a kill */
	bool dry_run;		  /* enforcement records what it would do, does nothing */
	/*
	 * live: the execs happen now on this host (the sensor's, not a trace's):
	 * their executables and containers can be read. content: then also name
	 * executables by content (core/ident/), within these bounds (0: default).
	 */
	bool live, content;
	size_t content_cache;	    /* files' hashes kept */
	uint64_t content_max_bytes; /* larger files are not hashed */
	/* process baselines (baseline.h): learned and checked in the store's alerts */
	bool baselines;
	uint64_t bl_observe_ns, bl_startup_ns;
	bool bl_auto_lock;
	/* each exec checked against a locked baseline (baseline.h's checked_fn) */
	void (*bl_checked_fn)(void *ctx, struct vg_event *ev, const struct vg_baseline *bl);
	void *bl_checked_ctx;
	/* a file was named by content: the kernel may know it from now on */
	void (*identified)(void *ctx, const struct vg_ident_key *key, const char *name);
	void *identified_ctx;
};

struct vg_pipeline_stats {
	uint64_t events, decode_errors, suppressed, violations;
	uint64_t stored, store_errors, flow_errors, acked;
	uint64_t attr_nested, attr_unverified; /* suspect attributions (attrib.h) */
	struct vg_ctrinfo_stats ctrinfo;       /* container names from the runtimes' files */
	struct vg_enforce_stats enforce;
	struct vg_drift_stats drift;
	struct vg_bl_stats bl; /* process baselines */
	/* content identity: execs kept for their content names, evaluated again when they
	   came, violations found then, execs not kept (the bound), names given to the kernel,
	   kept execs whose content could not be known after all (file changed, evicted) */
	uint64_t content_kept, content_late_evals, content_late_violations, content_not_kept,
		content_to_kernel, content_late_unknown;
	struct vg_ident_stats ident;
	/* execs held for their pod's metadata (podwait.h); not held: the client had not listed
	   the node's pods (or the last list failed) */
	struct vg_podwait_stats podwait;
	uint64_t k8s_unsynced;
};

int vg_pipeline_new(struct vg_pipeline **out, const struct vg_pipeline_opts *o, char *err,
		    size_t n);
void vg_pipeline_free(struct vg_pipeline *p);

/* After a reload: the engine the next execs go through. */
void vg_pipeline_set_engine(struct vg_pipeline *p, struct vg_engine *e);

/* One record from the sensor, through the whole pipeline. 0, or the decoder's -errno. */
int vg_pipeline_record(struct vg_pipeline *p, const void *rec, size_t len, int64_t boot_to_wall_ns);

/* Shutdown, before the store and the notifiers close: every exec held for its pod is
   evaluated now, with what is known of it. */
void vg_pipeline_drain(struct vg_pipeline *p);

/* An event already decoded (a trace's), from metadata on. */
void vg_pipeline_event(struct vg_pipeline *p, struct vg_event *ev);

void vg_pipeline_stats(const struct vg_pipeline *p, struct vg_pipeline_stats *st);

/* The process baselines' part (NULL: off): its timer and its counters per policy. */
struct vg_bl *vg_pipeline_baselines(struct vg_pipeline *p);

#endif
