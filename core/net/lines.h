/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * lines.h - a byte stream cut into lines as it arrives in chunks of any size
 * (a Kubernetes watch: one JSON event a line). A line is handed over without
 * its '\n' (nor a '\r' before it), NUL-terminated; empty lines are skipped.
 */
#ifndef VG_LINES_H
#define VG_LINES_H

#include <stdbool.h>
#include <stddef.h>

/* One whole line; false stops the feed. */
typedef bool (*vg_line_cb)(void *ctx, const char *line, size_t len);

struct vg_lines {
	char *buf; /* the part of a line received so far */
	size_t len, cap;
	size_t max; /* the longest line accepted (0: 16 MiB) */
};

/*
 * Feeds n bytes: cb for each line they complete. 0; 1 when cb returned false
 * (the rest is dropped); -E2BIG for a line longer than max; -ENOMEM.
 */
int vg_lines_feed(struct vg_lines *l, const char *p, size_t n, vg_line_cb cb, void *ctx);
/* Forgets a partial line (a new stream starts). */
void vg_lines_reset(struct vg_lines *l);
void vg_lines_free(struct vg_lines *l);

#endif
