// SPDX-License-Identifier: BSD-2-Clause
/*
 * outbox_replay.c - the outbox's log read back and rewritten. Opening replays
 * it in two passes, the first learning which ids are still pending or dead
 * (bitmaps over the ids, and the last tries of each pending one), the second
 * rebuilding those in order. Compaction rewrites it, once it is mostly
 * delivered records, with what is pending (in memory, with its tries, and
 * spilled) and dead. That runs on the loop, so it waits while a
 * queue has more than queue_max events spilled: what it copies stays bounded
 * (about 14 ms for 40,000 records here).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "outbox_priv.h"
#include "safefile.h"

#define COMPACT_MIN 50000 /* records written since the last compaction before one is considered */

static const char *str_or_empty(const char *s)
{
	return s ? s : "";
}

struct replay {
	uint64_t base; /* id of bit 0 (a multiple of 8) */
	size_t nbytes;
	uint8_t *live, *dead; /* pending / dead ids */
	struct dr {
		uint64_t id;
		char *why;
	} * why; /* dead letters' reasons, sorted by id for pass 2 */
	size_t nwhy, capwhy;
	struct tries {
		uint64_t id, seq; /* seq: the record's place, the last of an id counts */
		int attempts, failures;
		int64_t next_wall_ms;
	} * tries; /* "r" records of pending ids; sorted, one an id, by id for pass 2 */
	size_t ntries, captries;
	uint64_t records;
	bool failed; /* out of memory: the open fails rather than drop events */
};

/* Room for id in the bitmaps: grown by doubling towards the id, up or down (a compacted log lists
 * its dead letters newest first), so the growth stays linear. */
static bool bits_for(struct replay *rp, uint64_t id)
{
	uint64_t lo, hi, slack = 8 * (rp->nbytes > 64 ? rp->nbytes : 64);
	size_t need, off;
	uint8_t *l, *d;

	if (rp->nbytes && id >= rp->base && (id - rp->base) / 8 < rp->nbytes)
		return true;
	if (slack >
	    MAX_ID) { /* ids spread over more than memory can map: refuse rather than wrap */
		rp->failed = true;
		return false;
	}
	if (!rp->nbytes) {
		lo = id & ~7ull;
		hi = lo + slack;
	} else if (id < rp->base) {
		lo = (id & ~7ull) > slack ? (id & ~7ull) - slack : 0;
		hi = rp->base + 8 * (uint64_t)rp->nbytes;
	} else {
		lo = rp->base;
		hi = (id & ~7ull) + 8 + slack;
	}
	need = (size_t)((hi - lo) / 8);
	off = rp->nbytes ? (size_t)((rp->base - lo) / 8) : 0;
	l = calloc(need, 1);
	d = calloc(need, 1);
	if (!l || !d) {
		free(l);
		free(d);
		rp->failed = true;
		return false;
	}
	if (rp->nbytes) {
		memcpy(l + off, rp->live, rp->nbytes);
		memcpy(d + off, rp->dead, rp->nbytes);
	}
	free(rp->live);
	free(rp->dead);
	rp->live = l;
	rp->dead = d;
	rp->nbytes = need;
	rp->base = lo;
	return true;
}

static bool bit(const uint8_t *b, const struct replay *rp, uint64_t id)
{
	return id >= rp->base && (id - rp->base) / 8 < rp->nbytes &&
	       (b[(id - rp->base) / 8] >> ((id - rp->base) % 8) & 1);
}

static void set_bit(uint8_t *b, struct replay *rp, uint64_t id, bool v)
{
	uint8_t m = (uint8_t)(1u << ((id - rp->base) % 8));

	if (v)
		b[(id - rp->base) / 8] |= m;
	else
		b[(id - rp->base) / 8] &= (uint8_t)~m;
}

static int cmp_id_only(const void *a, const void *b)
{
	uint64_t x = ((const struct tries *)a)->id, y = ((const struct tries *)b)->id;

	return x < y ? -1 : x > y;
}

static int cmp_tries(const void *a, const void *b)
{
	const struct tries *x = a, *y = b;

	if (x->id != y->id)
		return x->id < y->id ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* The "r" records kept: sorted by id, the last one of each id that is still pending. */
static void prune_tries(struct replay *rp)
{
	size_t w = 0;

	if (!rp->ntries)
		return;
	qsort(rp->tries, rp->ntries, sizeof(*rp->tries), cmp_tries);
	for (size_t i = 0; i < rp->ntries; i++) {
		if (i + 1 < rp->ntries && rp->tries[i + 1].id == rp->tries[i].id)
			continue; /* a later one counts */
		if (bit(rp->live, rp, rp->tries[i].id))
			rp->tries[w++] = rp->tries[i];
	}
	rp->ntries = w;
}

/* Room for one more "r" record: the ones no longer needed dropped, then, when that frees less than
 * half, twice the room. false: out of memory. */
static bool grow_tries(struct replay *rp)
{
	size_t cap = rp->captries ? rp->captries * 2 : 64;
	struct tries *t;

	prune_tries(rp);
	if (rp->ntries * 2 < rp->captries)
		return true;
	t = realloc(rp->tries, cap * sizeof(*t));
	if (!t) {
		rp->failed = true;
		return false;
	}
	rp->tries = t;
	rp->captries = cap;
	return true;
}

/* An "r" record of a pending id, kept for pass 2 (pruned when full: memory stays bounded by the
 * events pending, however long they retried). */
static void keep_tries(struct replay *rp, json_t *r, uint64_t id)
{
	if (rp->ntries == rp->captries && !grow_tries(rp))
		return;
	rp->tries[rp->ntries++] = (struct tries){
		.id = id,
		.seq = rp->records,
		.attempts = (int)json_integer_value(json_object_get(r, "at")),
		.failures = (int)json_integer_value(json_object_get(r, "f")),
		.next_wall_ms = (int64_t)json_integer_value(json_object_get(r, "next")),
	};
}

/* e as its last "r" record left it: its tries, and its next try still ahead (at most a day). */
static void restore_tries(const struct replay *rp, struct vg_outbox_entry *e)
{
	struct tries key = {.id = e->id}, *t;
	int64_t wait;

	/* sorted by id, one an id (prune_tries) */
	t = rp->ntries ? bsearch(&key, rp->tries, rp->ntries, sizeof(*rp->tries), cmp_id_only)
		       : NULL;
	if (!t)
		return;
	e->attempts = t->attempts > 0 ? t->attempts : 0;
	e->failures = t->failures > 0 ? t->failures : 0;
	wait = t->next_wall_ms - (int64_t)(outbox_wall_ns() / 1000000);
	if (wait > 86400000) /* a clock stepped back: not for ever */
		wait = 86400000;
	e->next_ms = outbox_mono_ms() + (wait > 0 ? wait : 0);
}

/* Pass 1: which ids are pending (queued, never delivered nor dead) and which are dead, and why. */
static void pass1(void *ctx, const void *p, size_t len)
{
	struct vg_outbox *ob = ctx;
	struct replay *rp = ob->rp;
	json_t *r = json_loadb(p, len, 0, NULL);
	const char *t = json_string_value(json_object_get(r, "t"));
	json_t *idj = json_object_get(r, "id");
	uint64_t id = (uint64_t)json_integer_value(idj);

	rp->records++;
	if (!t || !json_is_integer(idj) || json_integer_value(idj) < 1 || id > MAX_ID ||
	    !bits_for(rp, id)) {
		json_decref(r);
		return;
	}
	if (id >= ob->next_id)
		ob->next_id = id + 1;
	if (!strcmp(t, "q")) {
		set_bit(rp->live, rp, id, true);
	} else if (!strcmp(t, "d")) {
		set_bit(rp->live, rp, id, false);
		set_bit(rp->dead, rp, id, false);
	} else if (!strcmp(t, "r") && bit(rp->live, rp, id)) {
		keep_tries(rp, r, id);
	} else if (!strcmp(t, "x") && bit(rp->live, rp, id)) {
		set_bit(rp->live, rp, id, false);
		set_bit(rp->dead, rp, id, true);
		if (rp->nwhy == rp->capwhy) {
			size_t cap = rp->capwhy ? rp->capwhy * 2 : 64;
			struct dr *w = realloc(rp->why, cap * sizeof(*w));

			if (!w) {
				rp->failed = true;
				json_decref(r);
				return;
			}
			rp->why = w;
			rp->capwhy = cap;
		}
		rp->why[rp->nwhy].id = id;
		rp->why[rp->nwhy++].why =
			strdup(str_or_empty(json_string_value(json_object_get(r, "why"))));
	}
	json_decref(r);
}

static int cmp_dr(const void *a, const void *b)
{
	uint64_t x = ((const struct dr *)a)->id, y = ((const struct dr *)b)->id;

	return x < y ? -1 : x > y;
}

/* Pass 2: the pending and dead entries, in order; past queue_max into the spill file. */
static void pass2(void *ctx, const void *p, size_t len)
{
	struct vg_outbox *ob = ctx;
	struct replay *rp = ob->rp;
	json_t *r;
	struct queue *q;
	struct vg_outbox_entry *e;
	uint64_t id;

	/* only "q" records matter now: skip the delivered ones, the most, without parsing */
	if (len >= 8 && !memcmp(p, "{\"t\":\"d\"", 8))
		return;
	r = json_loadb(p, len, 0, NULL);
	if (strcmp(str_or_empty(json_string_value(json_object_get(r, "t"))), "q")) {
		json_decref(r);
		return;
	}
	id = (uint64_t)json_integer_value(json_object_get(r, "id"));
	q = outbox_queue(ob, str_or_empty(json_string_value(json_object_get(r, "n"))));
	if (!q || (!bit(rp->live, rp, id) &&
		   !bit(rp->dead, rp, id))) { /* delivered, or no longer configured */
		json_decref(r);
		return;
	}
	if (bit(rp->dead, rp, id)) {
		struct dr key = {.id = id},
			  *w = bsearch(&key, rp->why, rp->nwhy, sizeof(*rp->why), cmp_dr);

		if ((e = outbox_entry_of(r))) {
			outbox_to_dead(q, e, w ? w->why : "");
			outbox_trim_dead(ob, q, false);
		}
	} else if ((q->spilled || q->queued >= q->queue_max) && !outbox_spill_write(q, p, len)) {
		q->spilled++;
		q->spill_ready++; /* it comes from the log: durable */
	} else if (q->spilled) {  /* the spill file failed and cannot take it in order: the log
				      keeps it */
		outbox_orphan(ob, q, "its spill file cannot be written", EIO);
	} else if ((e = outbox_entry_of(
			    r))) { /* in memory (past queue_max only if the spill file failed) */
		restore_tries(rp, e);
		outbox_push(q, e);
	} else {
		rp->failed = true;
	}
	json_decref(r);
	set_bit(rp->live, rp, id,
		false); /* once: a record written twice (compaction) counts once */
	set_bit(rp->dead, rp, id, false);
}

/* Each queue's spill file, made empty: what it held is in the log. 0 or -errno with err. */
static int open_spills(struct vg_outbox *ob, const char *dir, char *err, size_t en)
{
	for (int i = 0; i < ob->nqueues; i++) {
		struct queue *q = &ob->queues[i];

		snprintf(q->spill_path, sizeof(q->spill_path), "%.1000s/spill-%d.jsonl", dir, i);
		/* the outbox directory was checked (safefile.h): no link, nobody else's file */
		q->spill_fd = vg_safe_open(q->spill_path, O_RDWR | O_CREAT | O_TRUNC | O_APPEND,
					   0600, 0022, err, en);
		if (q->spill_fd < 0)
			return q->spill_fd;
	}
	return 0;
}

int outbox_replay(struct vg_outbox *ob, const char *dir, char *err, size_t en)
{
	struct vg_wal_opts wo = {.dir = dir};
	struct vg_wal_report rep;
	struct replay rp = {0};
	int rc;

	ob->rp = &rp;
	rc = vg_wal_open(&ob->wal, &wo, ob->base, pass1, ob, &rep, err, en);
	if (!rc)
		rc = open_spills(ob, dir, err, en);
	if (!rc) {
		if (rp.nwhy)
			qsort(rp.why, rp.nwhy, sizeof(*rp.why), cmp_dr);
		prune_tries(&rp);
		rc = vg_wal_scan(ob->wal, pass2, ob);
		if (rc)
			rc = vg_errf(err, en, rc, "cannot read the outbox %s again: %s", dir,
				     strerror(-rc));
	}
	if (!rc && rp.failed)
		rc = vg_errf(err, en, -ENOMEM,
			     "out of memory replaying the outbox %s (%llu records)", dir,
			     (unsigned long long)rp.records);
	if (!rc)
		vg_wal_report_log(&rep, dir);
	ob->since_compact = rp.records;
	for (size_t i = 0; i < rp.nwhy; i++)
		free(rp.why[i].why);
	free(rp.why);
	free(rp.tries);
	free(rp.live);
	free(rp.dead);
	ob->rp = NULL;
	return rc;
}

/* ---- compaction ------------------------------------------------------------------------ */

/* Where a compaction is in the outbox: its next record comes from compact_next. */
struct compaction {
	struct vg_outbox *ob;
	int i, phase; /* queue; 0 dead letters (q then x), 1 the queue, 2 the spill file */
	struct vg_outbox_entry *e;
	bool second; /* the entry's second record is next: a dead letter's "x", an event's "r" */
	struct spill_reader rd;
	char buf[1024], *heap;
	uint64_t count;
};

/* The record in *p (held by c until the next call), counted: 1, or -ENOMEM when none. */
static int emit(struct compaction *c, const char *rec, size_t rec_len, const void **p, size_t *len)
{
	if (!rec)
		return -ENOMEM;
	*p = rec;
	*len = rec_len;
	c->count++;
	return 1;
}

/* Phases 0 and 1: a dead letter ("q" then "x"), or an event of the queue in memory ("q", then "r"
 * when it has tries). */
static int emit_entry(struct compaction *c, struct queue *q, const void **p, size_t *len)
{
	const char *rec;
	size_t rec_len = 0;

	if (c->second && c->phase == 0) { /* the dead letter's reason */
		c->heap = outbox_dead_text(c->e->id, c->e->reason);
		c->second = false;
		c->e = c->e->next;
		return emit(c, c->heap, c->heap ? strlen(c->heap) : 0, p, len);
	}
	if (c->second) { /* the event's tries */
		rec_len = outbox_tries_text(c->e, c->buf, sizeof(c->buf));
		c->second = false;
		c->e = c->e->next;
		return emit(c, rec_len ? c->buf : NULL, rec_len, p, len);
	}
	if (c->phase == 0) /* a dead letter's id is free to change: a new one keeps the ids in the
			    * log close together, so the replay's bitmaps stay small however old */
		c->e->id = c->ob->next_id++;
	rec = outbox_queued_text(q, c->e, NULL, c->buf, sizeof(c->buf), &c->heap, &rec_len);
	if (c->phase == 0 || c->e->attempts)
		c->second = true;
	else
		c->e = c->e->next;
	return emit(c, rec, rec_len, p, len);
}

static int compact_next(void *ctx, const void **p, size_t *len)
{
	struct compaction *c = ctx;

	free(c->heap);
	c->heap = NULL;
	while (c->i < c->ob->nqueues) {
		struct queue *q = &c->ob->queues[c->i];
		char *line;
		int rc;

		if (c->phase <= 1 && c->e)
			return emit_entry(c, q, p, len);
		if (c->phase == 0) {
			c->phase = 1;
			c->e = q->head;
			continue;
		}
		if (c->phase == 1) {
			c->phase = 2;
			free(c->rd.buf);
			spill_reader_init(&c->rd, q->spill_fd, q->spill_rd);
			continue;
		}
		rc = q->spilled ? spill_reader_next(&c->rd, &line) : 0;
		if (rc < 0)
			return rc;
		if (rc > 0)
			return emit(c, line, strlen(line), p, len);
		c->i++;
		c->phase = 0;
		c->e = c->i < c->ob->nqueues ? c->ob->queues[c->i].dead : NULL;
	}
	return 0;
}

void vg_outbox_maybe_compact(struct vg_outbox *ob)
{
	struct compaction c = {.ob = ob};
	uint64_t live = 0;
	int rc;

	if (ob->since_compact < COMPACT_MIN || ob->orphans)
		return;
	for (int i = 0; i < ob->nqueues; i++) {
		if (ob->queues[i].spilled > (uint64_t)ob->queues[i].queue_max)
			return; /* a big backlog on disk: copying it would pause the loop; once it
				   drains */
		live += (uint64_t)ob->queues[i].queued + (uint64_t)ob->queues[i].ndead +
			ob->queues[i].spilled;
	}
	if (live * 4 > ob->since_compact)
		return; /* mostly pending: rewriting would not shrink it much */
	c.e = ob->nqueues ? ob->queues[0].dead : NULL;
	rc = vg_wal_sync(ob->wal);
	if (!rc)
		rc = vg_wal_rewrite(ob->wal, compact_next, &c);
	free(c.heap);
	free(c.rd.buf);
	if (rc) {
		vg_warn("outbox: compaction failed (%s); it is tried again later", strerror(-rc));
		ob->since_compact /= 2; /* not at once again */
		return;
	}
	ob->compactions++;
	ob->since_compact = c.count;
}
