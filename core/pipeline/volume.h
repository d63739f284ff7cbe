/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * volume.h - volume control: StackRox rate-limits repeats of the same
 * container + name + args + path before detection (a burst per window per
 * key). Keys are hashed with a seed drawn at start, so a crafted exec cannot
 * aim at another's slot.
 */
#ifndef VG_VOLUME_H
#define VG_VOLUME_H

#include <stdbool.h>
#include <stdint.h>

#include "event.h"

struct vg_volume;

/* burst 0: nothing is ever dropped. 0 or -errno. */
int vg_volume_new(struct vg_volume **out, uint32_t burst, uint32_t window_s);
void vg_volume_free(struct vg_volume *v);

/* Counts ev's exec; true when it is past the burst of its window: drop it. */
bool vg_volume_drop(struct vg_volume *v, const struct vg_event *ev);

#endif
