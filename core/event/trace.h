/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * trace.h - exec traces: what `vigil record` writes and `vigil replay` and the
 * benchmark read. Format: core/event/TRACE.md.
 */
#ifndef VG_TRACE_H
#define VG_TRACE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "event.h"

struct vg_trace_writer;
struct vg_trace_reader;

/*
 * Opens path for writing and writes the header; boot_to_wall_ns turns the
 * records' boot-time stamps into wall-clock time on replay. NULL + errno.
 */
struct vg_trace_writer *vg_trace_create(const char *path, int64_t boot_to_wall_ns);
/* Appends one record, with the event's lineage if it was filled. 0 or -errno. */
int vg_trace_write(struct vg_trace_writer *w, const struct vg_event *ev);
/* Flushes and closes; 0 or -errno (a failed flush means a short trace). */
int vg_trace_close(struct vg_trace_writer *w);

/*
 * Opens a trace (mapped, read-only) and checks its header. On failure returns
 * NULL with a message naming the problem in err.
 */
struct vg_trace_reader *vg_trace_open(const char *path, char *err, size_t errlen);
/*
 * The next event, decoded into ev with its lineage from the trace. Returns 1,
 * 0 at the clean end, or -EBADMSG with err saying what is wrong at which byte
 * offset (the reader then stays at that offset).
 */
int vg_trace_next(struct vg_trace_reader *r, struct vg_event *ev, char *err, size_t errlen);
uint64_t vg_trace_offset(const struct vg_trace_reader *r);
/* A vg_lineage_fn: names an event's ancestors from its trace record, on demand. */
void vg_trace_lineage(void *ctx, struct vg_event *ev);
int64_t vg_trace_boot_to_wall(const struct vg_trace_reader *r);
void vg_trace_close_reader(struct vg_trace_reader *r);

#endif
