/* SPDX-License-Identifier: BSD-2-Clause */
/* embed.h - files carried inside the binary: lua/ and the default policy pack. */
#ifndef VG_EMBED_H
#define VG_EMBED_H

#include <stddef.h>

struct vg_embedded {
	const char *path; /* relative to the source tree: "lua/policy.lua" */
	const char *data; /* NUL terminated */
	size_t len;
};

extern const struct vg_embedded vg_embedded[]; /* ends with a NULL path */

/* The embedded file at path, or NULL. */
const struct vg_embedded *vg_embedded_find(const char *path);

#endif
