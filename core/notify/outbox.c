// SPDX-License-Identifier: BSD-2-Clause
/*
 * outbox.c - the notifiers' durable outbox, DATA_DIR/outbox: a log
 * (wal.h) of JSON records
 *
 *   {"t":"q","id":N,"n":INSTANCE,"e":EVENT,"a":ALERT_ID,"time":NS}   queued
 *       (with "p": the alert, when events carry their JSON: no store)
 *   {"t":"d","id":N}              delivered, or taken back (a dead letter sent again)
 *   {"t":"x","id":N,"why":TEXT}   a dead letter
 *   {"t":"r","id":N,"at":TRIES,"f":FAILURES,"next":MS}   backing off: its tries so far
 *       (of them, the plugin's own failures) and its next try (wall-clock ms); the
 *       last one of an id counts. A log without them (an older vigil's) loads as
 *       before: no tries yet.
 *
 * An event is logged before it is sent and marked when it is accepted or
 * given up: at-least-once across kill -9. Opening replays the log
 * (outbox_replay.c); dead letters are outbox_dead.c's.
 *
 * Memory is bounded per queue: up to queue_max events wait in memory; past
 * that they wait in the queue's spill file (a copy of their records, one a
 * line, written when they are queued) and are read back in order, RELOAD_CHUNK
 * at a time, as the queue drains. Nothing in memory gets ahead of a spilled
 * event, so a resolve still never overtakes its trigger.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/uio.h>

#include "log.h"
#include "outbox_priv.h"

#define RELOAD_CHUNK 1024 /* spilled events read back at a time: bounds the loop's pause */
#define SCAN_AHEAD   64	  /* how far past the head a sender looks for an event it may send */

static const char *str_or_empty(const char *s)
{
	return s ? s : "";
}

struct queue *outbox_queue(struct vg_outbox *ob, const char *name)
{
	for (int i = 0; i < ob->nqueues; i++)
		if (!strcmp(ob->queues[i].name, name))
			return &ob->queues[i];
	return NULL;
}

void outbox_entry_free(struct vg_outbox_entry *e)
{
	if (!e)
		return;
	free(e->alert_id);
	free(e->payload);
	free(e->reason);
	free(e);
}

void outbox_push(struct queue *q, struct vg_outbox_entry *e)
{
	if (q->tail)
		q->tail->next = e;
	else
		q->head = e;
	q->tail = e;
	q->queued++;
}

/* Takes e out of the queue (it is near the head: at most SCAN_AHEAD in). */
struct vg_outbox_entry *outbox_unlink(struct queue *q, struct vg_outbox_entry *e)
{
	struct vg_outbox_entry *prev = NULL;

	for (struct vg_outbox_entry *x = q->head; x && x != e; x = x->next)
		prev = x;
	if (prev)
		prev->next = e->next;
	else
		q->head = e->next;
	if (q->tail == e)
		q->tail = prev;
	e->next = NULL;
	e->inflight = false;
	q->queued--;
	return e;
}

/* s needs no escaping in a JSON string (alert ids and event names always; checked, not assumed). */
static bool plain(const char *s)
{
	for (; *s; s++)
		if (*s == '"' || *s == '\\' || (unsigned char)*s < 0x20)
			return false;
	return true;
}

/* The record that queues e: snprintf for the common case, jansson when it carries JSON or needs
 * escaping. Returns buf or a malloc'd *heap (the caller frees it), or NULL. */
const char *outbox_queued_text(const struct queue *q, const struct vg_outbox_entry *e,
			       const json_t *alert, char *buf, size_t bn, char **heap, size_t *len)
{
	int l;

	*heap = NULL;
	if (alert || e->payload || !plain(e->alert_id) || !plain(e->event)) {
		json_t *p = alert	 ? json_incref((json_t *)alert)
			    : e->payload ? json_loads(e->payload, 0, NULL)
					 : NULL;
		json_t *r = json_pack("{s:s, s:I, s:s, s:s, s:s, s:o?, s:I}", "t", "q", "id",
				      (json_int_t)e->id, "n", q->name, "e", e->event, "a",
				      e->alert_id, "p", p, "time", (json_int_t)e->enq_ns);

		*heap = r ? json_dumps(r, JSON_COMPACT) : NULL;
		json_decref(r);
		*len = *heap ? strlen(*heap) : 0;
		return *heap;
	}
	l = snprintf(buf, bn,
		     "{\"t\":\"q\",\"id\":%llu,\"n\":%s,\"e\":\"%s\",\"a\":\"%s\",\"time\":%llu}",
		     (unsigned long long)e->id, q->jname, e->event, e->alert_id,
		     (unsigned long long)e->enq_ns);
	if (l < 0 || (size_t)l >= bn)
		return NULL;
	*len = (size_t)l;
	return buf;
}

size_t outbox_tries_text(const struct vg_outbox_entry *e, char *buf, size_t bn)
{
	int64_t next = (int64_t)(outbox_wall_ns() / 1000000) + (e->next_ms - outbox_mono_ms());
	int l = snprintf(buf, bn, "{\"t\":\"r\",\"id\":%llu,\"at\":%d,\"f\":%d,\"next\":%lld}",
			 (unsigned long long)e->id, e->attempts, e->failures, (long long)next);

	return l < 0 || (size_t)l >= bn ? 0 : (size_t)l;
}

/* An entry from a "q" record, or NULL. */
struct vg_outbox_entry *outbox_entry_of(json_t *r)
{
	struct vg_outbox_entry *e = calloc(1, sizeof(*e));

	if (!e)
		return NULL;
	e->id = (uint64_t)json_integer_value(json_object_get(r, "id"));
	snprintf(e->event, sizeof(e->event), "%s",
		 str_or_empty(json_string_value(json_object_get(r, "e"))));
	e->alert_id = strdup(str_or_empty(json_string_value(json_object_get(r, "a"))));
	if (json_is_object(json_object_get(r, "p")))
		e->payload = json_dumps(json_object_get(r, "p"), JSON_COMPACT);
	e->enq_ns = (uint64_t)json_integer_value(json_object_get(r, "time"));
	e->durable = true;
	if (!e->alert_id) {
		outbox_entry_free(e);
		return NULL;
	}
	return e;
}

static void on_durable(void *ctx, bool ok)
{
	struct vg_outbox_entry *e = ctx;

	/* written, or the write failed (the WAL logs and counts that): either way send it now,
	 * a head that waited forever for a disk that refused would block the whole queue */
	(void)ok;
	e->durable = true;
}

void outbox_append(struct vg_outbox *ob, const char *rec, size_t len)
{
	/* a "d" or "x" record refused: the event is sent again after a restart (at least once) */
	(void)vg_wal_append(ob->wal, rec, len, NULL, NULL);
	ob->since_compact++;
}

/* The "d" record: event id delivered, or taken out of the outbox. */
void outbox_log_done(struct vg_outbox *ob, uint64_t id)
{
	char rec[64];
	int len = snprintf(rec, sizeof(rec), "{\"t\":\"d\",\"id\":%llu}", (unsigned long long)id);

	outbox_append(ob, rec, (size_t)len);
}

/* ---- spill files ------------------------------------------------------------------------ */

int outbox_spill_write(struct queue *q, const char *rec, size_t len)
{
	struct iovec iov[2] = {{(void *)rec, len}, {"\n", 1}};
	off_t before;
	ssize_t w;

	if (q->spill_fd < 0)
		return -EBADF;
	before = lseek(q->spill_fd, 0, SEEK_END);
	w = writev(q->spill_fd, iov, 2);
	if (w == (ssize_t)len + 1)
		return 0;
	if (w > 0 && before >= 0) /* no half line: the next one would be glued to it */
		if (ftruncate(q->spill_fd, before))
			(void)0; /* the half line stays: its reader skips what does not parse */
	return -(w < 0 && errno ? errno : ENOSPC);
}

/* Its log record is durable: the spilled event may be read back and sent. */
static void on_spill_durable(void *ctx, bool ok)
{
	struct queue *q = ctx;

	(void)ok; /* as on_durable: a refused write must not hold the queue forever */
	q->spill_ready++;
}

/* An event that is in the log only (its spill file failed): it goes out after a restart, and until
 * then the log must not be compacted without it. */
void outbox_orphan(struct vg_outbox *ob, struct queue *q, const char *what, int err)
{
	if (!ob->orphans) /* the first says it; the log keeps every one */
		vg_err("notifier '%s': %s (%s): events wait in the outbox log and are sent after a "
		       "restart; "
		       "compaction is off until then",
		       q->name, what, strerror(err > 0 ? err : -err));
	ob->orphans = true;
}

void spill_reader_init(struct spill_reader *r, int fd, int64_t off)
{
	memset(r, 0, sizeof(*r));
	r->fd = fd;
	r->off = off;
}

/* The next line (NUL-terminated in place, no newline) in *line: 1, 0 at the end (a line cut short
 * by a crash is not read: the log has it), or -errno. spill_reader_at() is then the offset past it.
 */
int spill_reader_next(struct spill_reader *r, char **line)
{
	for (;;) {
		char *nl = r->pos < r->len ? memchr(r->buf + r->pos, '\n', r->len - r->pos) : NULL;
		ssize_t got;

		if (nl) {
			*nl = 0;
			*line = r->buf + r->pos;
			r->pos = (size_t)(nl - r->buf) + 1;
			return 1;
		}
		if (r->pos) { /* keep the partial line, drop what was read */
			memmove(r->buf, r->buf + r->pos, r->len - r->pos);
			r->off += (int64_t)r->pos;
			r->len -= r->pos;
			r->pos = 0;
		}
		if (r->len == r->cap) {
			size_t cap = r->cap ? r->cap * 2 : 65536;
			char *nb = realloc(r->buf, cap);

			if (!nb)
				return -ENOMEM;
			r->buf = nb;
			r->cap = cap;
		}
		got = pread(r->fd, r->buf + r->len, r->cap - r->len, r->off + (int64_t)r->len);
		if (got < 0)
			return -errno;
		if (got == 0)
			return 0;
		r->len += (size_t)got;
	}
}

static int64_t spill_reader_at(const struct spill_reader *r)
{
	return r->off + (int64_t)r->pos;
}

static void spill_reset(struct queue *q)
{
	q->spilled = 0;
	q->spill_ready = 0;
	q->spill_rd = 0;
	if (q->spill_fd >= 0 && ftruncate(q->spill_fd, 0)) {
		vg_warn("notifier '%s': cannot empty its spill file %s: %s", q->name, q->spill_path,
			strerror(errno));
		q->spill_rd =
			lseek(q->spill_fd, 0, SEEK_END); /* past what was read, not back over it */
	}
}

static void refill(struct vg_outbox *ob, struct queue *q)
{
	int room = q->queue_max - q->queued, got = 0, rc = 1;
	uint64_t want = (uint64_t)(room < RELOAD_CHUNK ? room : RELOAD_CHUNK);
	struct spill_reader rd;
	char *line;

	if (!q->spilled ||
	    room < (q->queue_max < 2 * RELOAD_CHUNK ? q->queue_max / 2 : RELOAD_CHUNK))
		return;
	if (want > q->spill_ready) /* not past what the log holds durably */
		want = q->spill_ready;
	spill_reader_init(&rd, q->spill_fd, q->spill_rd);
	while ((uint64_t)got < want && (rc = spill_reader_next(&rd, &line)) > 0) {
		json_t *r = json_loads(line, 0, NULL);
		struct vg_outbox_entry *e = r ? outbox_entry_of(r) : NULL;

		json_decref(r);
		q->spilled--;
		q->spill_ready--;
		if (!e) {
			outbox_orphan(ob, q, "a line of its spill file is unreadable", EINVAL);
			continue;
		}
		outbox_push(q, e);
		got++;
	}
	q->spill_rd = spill_reader_at(&rd);
	free(rd.buf);
	if (rc < 0 || (rc == 0 && q->spilled))
		outbox_orphan(ob, q,
			      rc < 0 ? "its spill file cannot be read"
				     : "its spill file ends early",
			      rc < 0 ? rc : EIO);
	if (rc <= 0 || !q->spilled) /* all read back (or unreadable: the log keeps them) */
		spill_reset(q);
}

/* ---- queueing, delivery, dead letters ---------------------------------------------------- */

static void not_durable(struct queue *q, int rc)
{
	/* the outbox log refused (memory bound while the disk lags): delivered anyway, counted,
	 * rather than lost; only a crash before delivery would lose it */
	if (!q->undurable++ || !(q->undurable & (q->undurable - 1)))
		vg_warn("notifier '%s': the outbox log is full (%s: its memory bound while the "
			"disk catches up); it is "
			"sent but not durable (%llu so far, vigil_notifier_not_durable_total)",
			q->name, strerror(-rc), (unsigned long long)q->undurable);
}

int outbox_enqueue_entry(struct vg_outbox *ob, struct queue *q, struct vg_outbox_entry *e,
			 const json_t *alert)
{
	char buf[1024], *heap;
	size_t len = 0;
	const char *rec = outbox_queued_text(q, e, alert, buf, sizeof(buf), &heap, &len);
	int rc, src = 0;

	ob->since_compact++;
	if (rec &&
	    (q->spilled || q->queued >= q->queue_max)) { /* past queue_max: it waits on disk */
		src = outbox_spill_write(q, rec, len);
		if (!src) {
			rc = vg_wal_append(ob->wal, rec, len, on_spill_durable, q);
			q->spilled++;
			if (rc) {
				not_durable(q, rc);
				q->spill_ready++; /* no ack comes */
			}
			free(heap);
			outbox_entry_free(e);
			return 0;
		}
		if (q->spilled) { /* it cannot go ahead of the spilled ones: the log alone keeps it
				   */
			q->spill_errors++;
			rc = vg_wal_append(ob->wal, rec, len, NULL, NULL);
			if (rc) {
				q->lost++;
				vg_err("notifier '%s': event %s of alert %s lost: neither the "
				       "outbox log (%s) nor the spill "
				       "file (%s) took it (vigil_notifier_lost_total)",
				       q->name, e->event, e->alert_id, strerror(-rc),
				       strerror(-src));
			} else {
				outbox_orphan(ob, q, "its spill file cannot be written", src);
			}
			free(heap);
			outbox_entry_free(e);
			return 0;
		}
		/* nothing spilled yet: kept in memory past queue_max rather than out of order */
		if (!q->spill_errors++ || !(q->spill_errors & (q->spill_errors - 1)))
			vg_warn("notifier '%s': cannot write its spill file %s (%s): kept in "
				"memory past queue_max "
				"(%llu so far)",
				q->name, q->spill_path, strerror(-src),
				(unsigned long long)q->spill_errors);
	}
	rc = rec ? vg_wal_append(ob->wal, rec, len, on_durable, e) : -ENOMEM;
	free(heap);
	if (rc) {
		not_durable(q, rc);
		e->durable = true;
	}
	outbox_push(q, e);
	return 0;
}

void vg_outbox_delivered(struct vg_outbox *ob, int qi, struct vg_outbox_entry *e)
{
	struct queue *q = &ob->queues[qi];

	outbox_log_done(ob, e->id);
	outbox_entry_free(outbox_unlink(q, e));
}

void vg_outbox_backoff(struct vg_outbox *ob, const struct vg_outbox_entry *e)
{
	char rec[160];
	size_t len = outbox_tries_text(e, rec, sizeof(rec));

	if (len) /* refused: after a restart it is tried at once, its tries counted from 0 */
		outbox_append(ob, rec, len);
}

int vg_outbox_pending(const struct vg_outbox *ob, const char *name, int *dead)
{
	int q = 0;

	*dead = 0;
	for (int i = 0; i < ob->nqueues; i++) {
		if (name && strcmp(name, ob->queues[i].name))
			continue;
		q += ob->queues[i].queued + (int)ob->queues[i].spilled;
		*dead += ob->queues[i].ndead;
	}
	return q;
}

/* ---- the interface ------------------------------------------------------------------------ */

int vg_outbox_enqueue(struct vg_outbox *ob, int qi, const char *event, const char *alert_id,
		      const json_t *alert)
{
	struct vg_outbox_entry *e = calloc(1, sizeof(*e));

	if (!e)
		return -ENOMEM;
	e->id = ob->next_id++;
	e->enq_ns = outbox_wall_ns();
	snprintf(e->event, sizeof(e->event), "%s", event);
	e->alert_id = strdup(alert_id);
	e->payload = alert ? json_dumps(alert, JSON_COMPACT) : NULL;
	if (!e->alert_id) {
		outbox_entry_free(e);
		return -ENOMEM;
	}
	/* logged before it is sent: the log's ack flips e->durable */
	return outbox_enqueue_entry(ob, &ob->queues[qi], e, alert);
}

static uint32_t alert_hash(struct vg_outbox_entry *e)
{
	if (!e->hash) {
		e->hash = 2166136261u; /* FNV-1a; a collision only makes an event wait */
		for (const char *c = e->alert_id; *c; c++)
			e->hash = (e->hash ^ (unsigned char)*c) * 16777619u;
		e->hash |= 1;
	}
	return e->hash;
}

struct vg_outbox_entry *vg_outbox_next(struct vg_outbox *ob, int qi, int64_t now_ms)
{
	uint32_t seen[SCAN_AHEAD]; /* alerts with an earlier event waiting or in flight */
	int nseen = 0, scanned = 0;

	for (struct vg_outbox_entry *e = ob->queues[qi].head; e && scanned < SCAN_AHEAD;
	     e = e->next, scanned++) {
		uint32_t h = alert_hash(e);
		bool earlier = false;

		for (int j = 0; j < nseen && !earlier; j++)
			earlier = seen[j] == h;
		if (!earlier && !e->inflight && e->durable && e->next_ms <= now_ms)
			return e;
		if (!earlier)
			seen[nseen++] = h;
	}
	return NULL;
}

const struct vg_outbox_entry *vg_outbox_waiting(const struct vg_outbox *ob, int qi)
{
	return ob->queues[qi].head;
}

void vg_outbox_stats(const struct vg_outbox *ob, int qi, struct vg_outbox_stats *st)
{
	const struct queue *q = &ob->queues[qi];

	*st = (struct vg_outbox_stats){
		.queued = (uint64_t)q->queued + q->spilled,
		.spilled = q->spilled,
		.dead = (uint64_t)q->ndead,
		.not_durable = q->undurable,
		.lost = q->lost,
		.dead_dropped = q->dead_dropped,
		.oldest_ns = q->head ? q->head->enq_ns : 0,
	};
}

uint64_t vg_outbox_compactions(const struct vg_outbox *ob)
{
	return ob->compactions;
}

void vg_outbox_refill(struct vg_outbox *ob, int qi)
{
	refill(ob, &ob->queues[qi]);
}

/* The queues, named as their notifiers (in JSON too, for the records). */
static int make_queues(struct vg_outbox *ob, const struct vg_outbox_queue_spec *specs, int nq,
		       char *err, size_t en)
{
	ob->queues = calloc((size_t)(nq > 0 ? nq : 1), sizeof(*ob->queues));
	if (!ob->queues)
		return vg_errf(err, en, -ENOMEM, "out of memory opening the outbox");
	for (int i = 0; i < nq; i++, ob->nqueues++) {
		struct queue *q = &ob->queues[i];
		json_t *js = json_string(specs[i].name);
		char *quoted = js ? json_dumps(js, JSON_ENCODE_ANY) : NULL;

		json_decref(js);
		q->spill_fd = -1;
		q->queue_max = specs[i].queue_max;
		snprintf(q->name, sizeof(q->name), "%s", specs[i].name);
		if (!quoted || strlen(quoted) >= sizeof(q->jname)) {
			free(quoted);
			return vg_errf(err, en, -EINVAL,
				       "notifiers: the name '%s' is not valid UTF-8; rename it",
				       q->name);
		}
		snprintf(q->jname, sizeof(q->jname), "%s", quoted);
		free(quoted);
	}
	return 0;
}

int vg_outbox_open(struct vg_outbox **out, struct event_base *base, const char *data_dir,
		   const struct vg_outbox_queue_spec *specs, int nqueues, char *err, size_t en)
{
	struct vg_outbox *ob = calloc(1, sizeof(*ob));
	char dir[1100];
	int rc;

	*out = NULL;
	if (!ob)
		return vg_errf(err, en, -ENOMEM, "out of memory opening the outbox");
	ob->base = base;
	ob->next_id = 1;
	snprintf(dir, sizeof(dir), "%.1000s/outbox", data_dir);
	rc = make_queues(ob, specs, nqueues, err, en);
	if (!rc)
		rc = outbox_replay(ob, dir, err, en);
	if (rc) {
		vg_outbox_close(ob);
		return rc;
	}
	*out = ob;
	return 0;
}

void vg_outbox_close(struct vg_outbox *ob)
{
	if (!ob)
		return;
	if (ob->wal) /* on the way out: a failure is counted in the log's stats, and every
		      * event whose record was not written is still pending at the next start */
		(void)vg_wal_sync(ob->wal);
	vg_wal_close(ob->wal);
	ob->wal = NULL;
	for (int i = 0; i < ob->nqueues; i++) {
		struct queue *q = &ob->queues[i];

		for (struct vg_outbox_entry *e = q->head, *x; e; e = x) {
			x = e->next;
			outbox_entry_free(e);
		}
		for (struct vg_outbox_entry *e = q->dead, *x; e; e = x) {
			x = e->next;
			outbox_entry_free(e);
		}
		q->head = q->tail = q->dead = NULL;
		if (q->spill_fd >= 0) {		     /* rebuilt from the log at the next start */
			(void)close(q->spill_fd);    /* a copy: the log has every record */
			(void)unlink(q->spill_path); /* gone already: nothing to remove */
			q->spill_fd = -1;
		}
	}
	free(ob->queues);
	free(ob);
}
