/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * drift.h - user space's part of "not in the image": an executable on another
 * mount of a container that changed after the container started (the start of
 * its oldest process).
 */
#ifndef VG_DRIFT_H
#define VG_DRIFT_H

#include <stdint.h>

#include "event.h"

struct vg_drift;

struct vg_drift_stats {
	uint64_t checked;	/* container execs from another mount */
	uint64_t drifted;	/* ... changed after the container started */
	uint64_t unknown_start; /* ... whose container's start could not be read */
};

int vg_drift_new(struct vg_drift **out);
/*
 * Tests: processes read under proc_root ("/proc" when NULL) and cgroups under
 * cgroup_root (NULL: the sensor's hierarchy). 0 or -errno.
 */
int vg_drift_new_at(struct vg_drift **out, const char *proc_root, const char *cgroup_root);
void vg_drift_free(struct vg_drift *d);

/* Sets ev->id.not_in_image (decided in user space) when it holds. */
void vg_drift_check(struct vg_drift *d, struct vg_event *ev);

/* ev's container's start (its oldest process's), wall-clock ns, cached; 0 or -errno. */
int vg_drift_container_start(struct vg_drift *d, struct vg_event *ev, uint64_t *ns);

void vg_drift_stats(const struct vg_drift *d, struct vg_drift_stats *st);

#endif
