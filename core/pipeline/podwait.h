/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * podwait.h - execs held until their pod's metadata comes. A pod's first exec
 * often comes before the API server has told vigil about the pod; evaluated
 * at once it would have no namespace, pod or deployment. The pipeline holds
 * such an exec here (a copy of its record) and gets it back through run()
 * when the pod becomes known (vg_podwait_pod) or when wait_ms have passed
 * since it was held, whichever comes first; at shutdown (vg_podwait_flush),
 * every exec still held. Nothing blocks: one libevent timer for the oldest.
 *
 * Order: execs come back in the order they were held, and a pod's execs in
 * the order they came as long as the caller holds every later exec of a pod
 * that vg_podwait_has(). Bounded: at most max held; past that an exec is not
 * held (-ENOSPC, counted) and the caller evaluates it at once.
 */
#ifndef VG_PIPELINE_PODWAIT_H
#define VG_PIPELINE_PODWAIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct vg_podwait;

/* Why an exec comes back. */
enum vg_podwait_why {
	VG_PODWAIT_POD,	    /* its pod became known */
	VG_PODWAIT_TIMEOUT, /* wait_ms passed */
	VG_PODWAIT_FLUSH,   /* shutdown */
};

/* An exec back to be evaluated: rec (len bytes, the module's until run returns) and its clock. */
typedef void (*vg_podwait_run_fn)(void *ctx, const void *rec, size_t len, int64_t boot_to_wall_ns,
				  enum vg_podwait_why why);

/* Whether a held exec (rec, len) can be evaluated now that its pod changed. */
typedef bool (*vg_podwait_ready_fn)(void *ctx, const void *rec, size_t len,
				    int64_t boot_to_wall_ns);

struct vg_podwait_opts {
	struct event_base *base;
	uint32_t wait_ms; /* > 0 */
	uint32_t max;	  /* execs held at most (> 0) */
	vg_podwait_run_fn run;
	vg_podwait_ready_fn ready; /* NULL: every exec of a pod that changed is */
	void *ctx;
};

struct vg_podwait_stats {
	uint64_t held;	   /* execs held */
	uint64_t resolved; /* given back because their pod became known */
	uint64_t timeouts; /* given back after wait_ms, their pod still unknown */
	uint64_t overflow; /* not held: max were held already */
	uint64_t flushed;  /* given back at shutdown */
	uint64_t now;	   /* held now */
};

/* 0, -EINVAL (a zero wait or max) or -ENOMEM. */
int vg_podwait_new(struct vg_podwait **out, const struct vg_podwait_opts *o);

/* Frees every exec still held without giving it back: vg_podwait_flush first to keep them. */
void vg_podwait_free(struct vg_podwait *w);

/* Holds a copy of rec, of pod pod_uid: 0, -ENOSPC when max are held, -ENOMEM (both counted
   as overflow; the caller evaluates the exec now). */
int vg_podwait_hold(struct vg_podwait *w, const char *pod_uid, const void *rec, size_t len,
		    int64_t boot_to_wall_ns);

/* Whether execs of pod_uid are held now (a later exec of it is held too, to stay in order). */
bool vg_podwait_has(const struct vg_podwait *w, const char *pod_uid);

/* pod_uid is known or changed: its held execs come back through run(), in order, before this
 * returns; with a ready() in the options, up to the first of them not ready (it and the ones
 * behind it wait on). */
void vg_podwait_pod(struct vg_podwait *w, const char *pod_uid);

/* Every held exec back through run(), in order (shutdown). */
void vg_podwait_flush(struct vg_podwait *w);

void vg_podwait_stats(const struct vg_podwait *w, struct vg_podwait_stats *st);

#endif
