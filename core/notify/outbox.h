/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * outbox.h - the notifiers' durable outbox, DATA_DIR/outbox: one ordered
 * queue per notifier, a log that keeps every event until its receiver took
 * it or it went to the dead letters, spill files past each queue's memory
 * bound, compaction. It knows nothing of plugins or delivery: notify.c asks
 * it for the next event a queue may send and tells it how that ended.
 */
#ifndef VG_OUTBOX_H
#define VG_OUTBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct event_base;
struct vg_outbox;

/* One queued event. The delivery may change attempts, failures, next_ms and inflight; the rest is
 * the outbox's. */
struct vg_outbox_entry {
	uint64_t id, enq_ns; /* enq_ns: wall-clock time it was queued */
	char event[16];	     /* "created", "updated", "resolved" */
	char *alert_id;
	char *payload;	 /* the alert's JSON when queued, or NULL: read from the store when sent */
	int attempts;	 /* tries that did not get through so far, of any kind */
	int failures;	 /* of those, the plugin's own failures: max_attempts counts them */
	int64_t next_ms; /* not before (monotonic ms) */
	bool inflight;
	/* the outbox's own */
	uint32_t hash; /* of alert_id, 0 = not yet */
	bool durable, dead;
	char *reason; /* why it is dead */
	struct vg_outbox_entry *next;
};

/* One queue: its notifier's name and how many events it keeps in memory. */
struct vg_outbox_queue_spec {
	const char *name;
	int queue_max;
};

struct vg_outbox_stats {
	uint64_t queued;       /* waiting: in memory and spilled */
	uint64_t spilled;      /* of those, the ones on disk */
	uint64_t dead;	       /* dead letters held */
	uint64_t not_durable;  /* sent without a durable record (the log refused it) */
	uint64_t lost;	       /* neither the log nor the spill file took it */
	uint64_t dead_dropped; /* dead letters dropped past queue_max */
	uint64_t oldest_ns;    /* enq_ns of the oldest waiting in memory, 0: none */
};

/* Opens DATA_DIR/outbox with one queue per spec (in this order: queue i is spec i) and replays
 * the log into them. 0 or -errno with err. */
int vg_outbox_open(struct vg_outbox **out, struct event_base *base, const char *data_dir,
		   const struct vg_outbox_queue_spec *specs, int nqueues, char *err, size_t errlen);
/* Writes what is pending, closes the log, removes the spill files. */
void vg_outbox_close(struct vg_outbox *ob);

/* Queues event of alert_id on queue q; alert: its JSON to keep in the record (NULL: none).
 * Logged before it may be sent. 0, or -ENOMEM. */
int vg_outbox_enqueue(struct vg_outbox *ob, int q, const char *event, const char *alert_id,
		      const json_t *alert);
/* The next event of queue q that may go at now_ms: durable, not in flight nor backing off, and no
 * earlier event of the same alert waiting (a resolve never overtakes its trigger). NULL: none. */
struct vg_outbox_entry *vg_outbox_next(struct vg_outbox *ob, int q, int64_t now_ms);
/* e was accepted: logged as delivered, freed. */
void vg_outbox_delivered(struct vg_outbox *ob, int q, struct vg_outbox_entry *e);
/* e did not get through and waits until e->next_ms: its tries and next try are logged, so that a
 * restart neither resets them nor sends it at once. */
void vg_outbox_backoff(struct vg_outbox *ob, const struct vg_outbox_entry *e);
/* e goes to the dead letters with why. */
void vg_outbox_dead_letter(struct vg_outbox *ob, int q, struct vg_outbox_entry *e, const char *why);
/* Queue q's events waiting in memory, in order (follow ->next). */
const struct vg_outbox_entry *vg_outbox_waiting(const struct vg_outbox *ob, int q);
/* Queue q's dead letters, newest first (follow ->next). */
const struct vg_outbox_entry *vg_outbox_dead(const struct vg_outbox *ob, int q);

/* Dead letters back into their queues (see vg_notify_retry_dead), oldest first: how many, -ENOENT
 * (nothing of that name), or -ENOMEM. */
int vg_outbox_retry_dead(struct vg_outbox *ob, const char *what);
/* Events waiting (and, in *dead, dead letters) in the queue named name, or in all (NULL). */
int vg_outbox_pending(const struct vg_outbox *ob, const char *name, int *dead);
void vg_outbox_stats(const struct vg_outbox *ob, int q, struct vg_outbox_stats *st);
uint64_t vg_outbox_compactions(const struct vg_outbox *ob);

/* Upkeep, on the loop: spilled events of queue q read back once its memory has room. */
void vg_outbox_refill(struct vg_outbox *ob, int q);
/* Upkeep: the log rewritten with what is pending or dead, once mostly delivered records. */
void vg_outbox_maybe_compact(struct vg_outbox *ob);

#endif
