/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * bl_kernel.h - locked process baselines programmed into the kernel
 * (bpf/baseline.bpf.h): for each live container of a locked baseline's key,
 * while a policy on unexpected_process enforces, the (dev, ino) of every
 * baseline path as seen inside the container's root. An exec of anything
 * else there is killed before its first instruction; user space covers what
 * the kernel does not hold (a container not yet seen, a map that is full).
 */
#ifndef VG_BL_KERNEL_H
#define VG_BL_KERNEL_H

#include <stdbool.h>
#include <stdint.h>

#include "baselines.h"
#include "event.h"
#include "sensor.h"

struct evbuffer;
struct vg_blk;

struct vg_blk_stats {
	uint64_t containers; /* programmed now */
	uint64_t allow;	     /* allow entries in the kernel now */
	uint64_t programmed; /* programming passes that succeeded */
	uint64_t failures;   /* passes that failed: no root, a map update (the container left to
				user space) */
	uint64_t full;	     /* of which: the allow map had no room */
	uint64_t unresolved; /* baseline paths not found in a container (not allowed there) */
	uint64_t untracked;  /* containers beyond VG_BLK_CTR_MAX: left to user space */
	uint64_t removed;    /* containers forgotten: their cgroup is gone */
};

int vg_blk_new(struct vg_blk **out, struct vg_sensor *s, struct vg_baselines *store);
void vg_blk_free(struct vg_blk *b);

/* An exec checked against a locked baseline (vg_bl_opts.checked_fn): its container follows. */
void vg_blk_exec(void *ctx, struct vg_event *ev, const struct vg_baseline *bl);
/* A baseline changed (vg_baselines_on_change): its containers are reprogrammed at once. */
void vg_blk_changed(void *ctx, const struct vg_baseline *bl);
/* Whether the kernel kills (an enforcing policy on unexpected_process, not a dry run). */
void vg_blk_set_enforce(struct vg_blk *b, bool enforce);
/* From a timer: containers whose cgroup is gone are forgotten; failed ones are tried again. */
void vg_blk_tick(struct vg_blk *b);

void vg_blk_stats(const struct vg_blk *b, struct vg_blk_stats *st);
/* Its counters as Prometheus text, for /metrics. */
void vg_blk_metrics(const struct vg_blk *b, struct evbuffer *out);

#endif
