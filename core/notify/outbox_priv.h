/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * outbox_priv.h - what the outbox's files share: queueing and spill files
 * (outbox.c), dead letters (outbox_dead.c), replay and compaction
 * (outbox_replay.c). Not for other modules.
 */
#ifndef VG_OUTBOX_PRIV_H
#define VG_OUTBOX_PRIV_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "outbox.h"
#include "wal.h"

#define MAX_ID (1ull << 62) /* ids are counted from 1; past this a record is not one of ours */

/* One notifier's queue: in memory up to queue_max, then in its spill file. */
struct queue {
	char name[64];
	char jname[400]; /* name as a JSON string, quotes included, for the records */
	struct vg_outbox_entry *head, *tail, *dead;
	int queued, ndead;     /* in memory */
	int queue_max;	       /* events kept in memory at most, and dead letters */
	uint64_t spilled;      /* events in the spill file only, in order after the queue */
	uint64_t spill_ready;  /* of those, the ones whose log record is durable: only they are
				  read back */
	uint64_t spill_errors; /* writes to the spill file that failed */
	int spill_fd;	       /* their records, one a line (copies of the log's, to read back) */
	int64_t spill_rd;      /* where the next one to read back starts */
	char spill_path[1100];
	uint64_t undurable, lost, dead_dropped;
};

struct vg_outbox {
	struct event_base *base;
	struct vg_wal *wal;
	struct queue *queues;
	int nqueues;
	uint64_t next_id;
	uint64_t since_compact, compactions; /* records written since the last compaction */
	struct replay *rp;		     /* the two-pass replay's state, while opening */
	bool orphans; /* an event is in the log only (a spill file failed): no compaction until a
			 restart */
};

/* Reads a spill file's lines from an offset, 64 KiB at a time. */
struct spill_reader {
	int fd;
	int64_t off; /* file offset of buf[0] */
	char *buf;
	size_t cap, len, pos;
};

static inline uint64_t outbox_wall_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline int64_t outbox_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- outbox.c ---- */
struct queue *outbox_queue(struct vg_outbox *ob, const char *name);
void outbox_entry_free(struct vg_outbox_entry *e);
void outbox_push(struct queue *q, struct vg_outbox_entry *e);
/* Takes e out of queue q (it is near the head). */
struct vg_outbox_entry *outbox_unlink(struct queue *q, struct vg_outbox_entry *e);
/* A record into the log, not waiting for it to be durable. */
void outbox_append(struct vg_outbox *ob, const char *rec, size_t len);
/* The "d" record: event id delivered, or taken out of the outbox. */
void outbox_log_done(struct vg_outbox *ob, uint64_t id);
/* e (not yet logged) logged and queued on q, or spilled past queue_max. 0. */
int outbox_enqueue_entry(struct vg_outbox *ob, struct queue *q, struct vg_outbox_entry *e,
			 const json_t *alert);
/* The record that queues e (see outbox.c); buf or a malloc'd *heap, or NULL. */
const char *outbox_queued_text(const struct queue *q, const struct vg_outbox_entry *e,
			       const json_t *alert, char *buf, size_t bn, char **heap, size_t *len);
/* The "r" record of e (its tries and next try) in buf: its length, or 0 when it does not fit. */
size_t outbox_tries_text(const struct vg_outbox_entry *e, char *buf, size_t bn);
/* An entry from a "q" record, or NULL. */
struct vg_outbox_entry *outbox_entry_of(json_t *r);
int outbox_spill_write(struct queue *q, const char *rec, size_t len);
/* An event that is in the log only: no compaction until a restart. */
void outbox_orphan(struct vg_outbox *ob, struct queue *q, const char *what, int err);
void spill_reader_init(struct spill_reader *r, int fd, int64_t off);
/* The next line in *line: 1, 0 at the end, or -errno. */
int spill_reader_next(struct spill_reader *r, char **line);

/* ---- outbox_dead.c ---- */
void outbox_to_dead(struct queue *q, struct vg_outbox_entry *e, const char *why);
/* At most queue_max dead letters: the oldest go, counted; log: retired in the log too. */
void outbox_trim_dead(struct vg_outbox *ob, struct queue *q, bool log);
/* The "x" record of a dead letter (malloc'd), or NULL. */
char *outbox_dead_text(uint64_t id, const char *why);

/* ---- outbox_replay.c ---- */
/* Replays the open log into the queues (and spill files). 0 or -errno with err. */
int outbox_replay(struct vg_outbox *ob, const char *dir, char *err, size_t errlen);

#endif
