/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * bl_cache.h - the baseline step's per-cgroup cache (baseline.c): for each
 * cgroup an exec came from, its container as parsed from the cgroup path and
 * the baseline its execs were last keyed to, with the store's generation then.
 * An entry is found by the record's cgroup id and the cgroup path's bytes as
 * the sensor sent them (compared whole: a reused id, or cgroup v1 where every
 * exec has the same id, finds no other cgroup's entry). Least recently used
 * out past its size.
 */
#ifndef VG_PIPELINE_BL_CACHE_H
#define VG_PIPELINE_BL_CACHE_H

#include <stdint.h>

#include "baselines.h"
#include "event.h"

struct vg_blc;

struct vg_blc_entry {
	struct vg_container ctr;      /* parsed from the cgroup path */
	const struct vg_baseline *bl; /* NULL: none remembered */
	uint64_t gen;		      /* vg_baselines_generation when bl was */
	/* what bl's key was last found from (ev->meta and its serial, ev->ctr_names_serial):
	   the same again is the same key without comparing it; names_serial 0: compare */
	const struct vg_meta *meta;
	uint64_t meta_serial, names_serial;
};

/* A cache of size entries (a power of two or not). 0 or -ENOMEM. */
int vg_blc_new(struct vg_blc **out, int size);
void vg_blc_free(struct vg_blc *c);

/*
 * ev's cgroup's entry: the one cached, or a new one with the container parsed
 * and no baseline, evicting by CLOCK one not used since the hand last passed
 * (counted in *evicted). NULL when the path is too long to cache.
 */
struct vg_blc_entry *vg_blc_get(struct vg_blc *c, struct vg_event *ev, uint64_t *evicted);

#endif
