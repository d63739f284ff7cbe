// SPDX-License-Identifier: BSD-2-Clause
/* keyline.h - the line of a key in a policy file's source, for messages. */
#ifndef VG_KEYLINE_H
#define VG_KEYLINE_H

#include <stddef.h>

/* One step of a key path: a field's name, or (name NULL) a list index from 1. */
struct vg_key_step {
	const char *name;
	int index;
};

/*
 * The line of path[n-1] in the `policy { ... }` constructor of src (n = 0: the line of
 * `policy` itself); where the source does not spell the path out (a value computed at
 * run time), the line of the deepest step it does. 0 when src has no `policy {`.
 */
int vg_policy_key_line(const char *src, size_t len, const struct vg_key_step *path, int n);

#endif
