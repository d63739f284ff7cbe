/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * kernel_prog.h - the sensor's kernel maps from a policy set, the same for
 * `vigil run` and `vigil events --match`.
 */
#ifndef VG_KERNEL_PROG_H
#define VG_KERNEL_PROG_H

#include <stdbool.h>

#include "engine.h"
#include "sensor.h"

struct vg_kprog_opts {
	bool dry_run;	/* the kernel kills nothing */
	bool content;	/* content identity is on: the kernel sends every container exec */
	bool baselines; /* process baselines are on: so does it, to learn and check each one */
};

/*
 * Programs names and kills (filter, kill_uid), the executable policy
 * (fileless, drift, content) and forgets the files named by content under the
 * previous set. 0 or -errno.
 */
int vg_kernel_program(struct vg_sensor *s, struct vg_engine *e, const struct vg_kprog_opts *o);

#endif
