/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * wal.h - the store's append-only log: segment files of framed records,
 * written and fsynced by a writer thread so the event loop never blocks,
 * acknowledged to the loop only once durable (group commit).
 *
 * On disk: <dir>/seg-NNNNNNNN.log, each starting with a 20-byte header
 * ("VGSEG" 0x00, version u16 = 2, u32 its own number, u32 base: the log's
 * first segment when it was made, u32 crc32c of the 16 bytes before; stores
 * made before have 8-byte version 1 headers, still read), then frames:
 *   u32 magic 0x52474c56 ("VLGR") | u32 length | u32 crc32c(payload) | payload
 * all little endian. Payloads are opaque here (msgpack, see alert_log.c).
 *
 * Recovery at open: a frame (or a segment header) that fails its checks is
 * skipped up to the next frame that passes them, and reported: one bad frame
 * loses only itself. Damage with no good frame after it is a torn tail only
 * in the last segment: cut off, its bytes kept first in
 * <segment>.<offset>.damaged; in any other segment it is left in place. A
 * number missing from the run of segments from base is reported as lost;
 * compaction moves base past the numbers it removes, so it never looks like
 * one.
 */
#ifndef VG_WAL_H
#define VG_WAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

struct event_base;
struct vg_wal;

#define VG_WAL_MAX_RECORD (1u << 20)

struct vg_wal_opts {
	const char *dir;    /* created if missing */
	uint32_t commit_ms; /* group commit interval (0: 5 ms) */
	bool fsync_always;  /* commit every record on its own */
	size_t mem_bound;   /* bytes kept in memory while the disk refuses writes (0: 64 MiB) */
	size_t segment_max; /* start a new segment past this size (0: 64 MiB) */
};

/* What opening found, for the operator. */
struct vg_wal_report {
	uint64_t records, bytes, segments;
	uint64_t skipped_regions, skipped_bytes; /* damaged records or headers, skipped */
	bool truncated;				 /* a torn tail was cut off */
	uint64_t truncated_at;			 /* ... at this offset of ... */
	char truncated_file[256];		 /* ... this segment, */
	char damaged_file[256];			 /* ... the bytes cut kept in this file */
	uint64_t truncated_bytes;		 /* bytes cut (all torn tails) */
	char first_skip[512];			 /* the first skipped region, described */
	uint64_t missing_segments;		 /* numbers missing from the run of segments */
	char missing[256];			 /* ... which ones */
	uint64_t misnamed;			 /* segments whose header names another number */
	char first_misnamed[256];
	uint64_t stale_removed, stale_kept; /* before the log's start (compaction interrupted) */
};

struct vg_wal_stats {
	uint64_t appended, committed, fsyncs, write_errors, dropped;
	uint64_t pending_bytes, segments, bytes_on_disk;
	int last_errno;
	/* found at open (vg_wal_report): damaged regions skipped, damaged bytes skipped or
	 * cut, segments missing from the run */
	uint64_t skipped_regions, damaged_bytes, missing_segments;
};

/* Called for every good record at open, in order. off: offset in its segment. */
typedef void (*vg_wal_replay_cb)(void *ctx, const void *payload, size_t len);
/* Called from the loop once a record is durable (ok) or given up (!ok). */
typedef void (*vg_wal_ack_cb)(void *ctx, bool ok);

/*
 * Opens (creating) the log, replays every good record through cb, repairs a
 * torn tail, and starts the writer. base may be NULL for an offline reader
 * that never appends. Returns 0 or -errno with a message in err.
 */
int vg_wal_open(struct vg_wal **out, const struct vg_wal_opts *o, struct event_base *base,
		vg_wal_replay_cb cb, void *ctx, struct vg_wal_report *rep, char *err,
		size_t errlen);

/*
 * Appends one record. ack (may be NULL) runs from the loop when it is durable.
 * Returns 0, -E2BIG for a record over VG_WAL_MAX_RECORD, or -ENOSPC when the
 * in-memory bound is full because the disk has refused writes (counted as
 * dropped; ack is not called).
 */
int vg_wal_append(struct vg_wal *w, const void *payload, size_t len, vg_wal_ack_cb ack, void *ctx);
/*
 * Appends n records together: all of them, or none (then every one is counted
 * as dropped). ack runs once the last is durable. Same returns as vg_wal_append.
 */
int vg_wal_appendv(struct vg_wal *w, const struct iovec *recs, int n, vg_wal_ack_cb ack, void *ctx);

/*
 * Reads every record on disk again, in order, through cb: a second pass for
 * a reader that needs the whole log before it decides (the outbox). Read-only
 * (nothing is repaired) and on the caller's thread; records appended since
 * the last vg_wal_sync may be missing. 0 or -errno.
 */
int vg_wal_scan(struct vg_wal *w, vg_wal_replay_cb cb, void *ctx);

/* Writes and fsyncs everything appended so far, waiting for it (shutdown, tests). */
int vg_wal_sync(struct vg_wal *w);

/*
 * Replaces the whole log with the records produced by next() (compaction):
 * written to new segments, fsynced, then the old segments are removed. The
 * log must be synced first; runs on the caller's thread.
 */
typedef int (*vg_wal_next_fn)(void *ctx, const void **payload,
			      size_t *len); /* 1 a record, 0 the end, -errno:
					     * the rewrite is abandoned */
int vg_wal_rewrite(struct vg_wal *w, vg_wal_next_fn next, void *ctx);

void vg_wal_stats(struct vg_wal *w, struct vg_wal_stats *st);
/* Logs what opening found (errors for lost segments, warnings for damage). */
void vg_wal_report_log(const struct vg_wal_report *rep, const char *dir);
/* Flushes, stops the writer, closes. */
void vg_wal_close(struct vg_wal *w);

#endif
