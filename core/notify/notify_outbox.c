// SPDX-License-Identifier: BSD-2-Clause
/*
 * notify_outbox.c - the notifiers' durable outbox, DATA_DIR/outbox: a log
 * (wal.h) of JSON records
 *
 *   {"t":"q","id":N,"n":INSTANCE,"e":EVENT,"a":ALERT_ID,"time":NS}   queued
 *       (with "p": the alert, when events carry their JSON: no store)
 *   {"t":"d","id":N}              delivered, or taken back (a dead letter sent again)
 *   {"t":"x","id":N,"why":TEXT}   a dead letter
 *
 * An event is logged before it is sent and marked when it is accepted or
 * given up: at-least-once across kill -9. Opening replays the log in two
 * passes, the first learning which ids are still pending or dead (bitmaps
 * over the ids), the second rebuilding those in order.
 *
 * Memory is bounded per instance: up to queue_max events wait in memory; past
 * that they wait in the instance's spill file (a copy of their records, one a
 * line, written when they are queued) and are read back in order, RELOAD_CHUNK
 * at a time, as the queue drains. Nothing in memory gets ahead of a spilled
 * event, so a resolve still never overtakes its trigger. The log itself is
 * compacted once it is mostly delivered records: rewritten with what is
 * pending (in memory and spilled) and dead. That runs on the loop, so it waits
 * while an instance has more than queue_max events spilled: what it copies
 * stays bounded (about 14 ms for 40,000 records here).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/uio.h>

#include <event2/event.h>

#include "log.h"
#include "notify_priv.h"
#include "safefile.h"

#define RELOAD_CHUNK 1024	  /* spilled events read back at a time: bounds the loop's pause */
#define COMPACT_MIN  50000	  /* records written before a compaction is considered */
#define MAX_ID	     (1ull << 62) /* ids are counted from 1; past this a record is not one of ours */

struct inst *ob_inst(struct vg_notify *n, const char *name)
{
	for (int i = 0; i < n->ninst; i++)
		if (!strcmp(n->inst[i].name, name))
			return &n->inst[i];
	return NULL;
}

void ob_entry_free(struct entry *e)
{
	if (!e)
		return;
	free(e->alert_id);
	free(e->payload);
	free(e->reason);
	free(e);
}

static void push(struct inst *in, struct entry *e)
{
	if (in->tail)
		in->tail->next = e;
	else
		in->head = e;
	in->tail = e;
	in->queued++;
}

/* Takes e out of the queue (it is near the head: at most SCAN_AHEAD in). */
static struct entry *unlink_entry(struct inst *in, struct entry *e)
{
	struct entry *prev = NULL;

	for (struct entry *x = in->head; x && x != e; x = x->next)
		prev = x;
	if (prev)
		prev->next = e->next;
	else
		in->head = e->next;
	if (in->tail == e)
		in->tail = prev;
	e->next = NULL;
	e->inflight = false;
	in->queued--;
	return e;
}

static void to_dead(struct inst *in, struct entry *e, const char *why)
{
	e->dead = true;
	e->reason = strdup(why ? why : "");
	e->next = in->dead;
	in->dead = e;
	in->ndead++;
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
static const char *queued_text(struct inst *in, const struct entry *e, json_t *alert, char *buf,
			       size_t bn, char **heap, size_t *len)
{
	int l;

	*heap = NULL;
	if (alert || e->payload || !plain(e->alert_id) || !plain(e->event)) {
		json_t *p = alert	 ? json_incref(alert)
			    : e->payload ? json_loads(e->payload, 0, NULL)
					 : NULL;
		json_t *r = json_pack("{s:s, s:I, s:s, s:s, s:s, s:o?, s:I}", "t", "q", "id",
				      (json_int_t)e->id, "n", in->name, "e", e->event, "a",
				      e->alert_id, "p", p, "time", (json_int_t)e->enq_ns);

		*heap = r ? json_dumps(r, JSON_COMPACT) : NULL;
		json_decref(r);
		*len = *heap ? strlen(*heap) : 0;
		return *heap;
	}
	l = snprintf(buf, bn,
		     "{\"t\":\"q\",\"id\":%llu,\"n\":%s,\"e\":\"%s\",\"a\":\"%s\",\"time\":%llu}",
		     (unsigned long long)e->id, in->jname, e->event, e->alert_id,
		     (unsigned long long)e->enq_ns);
	if (l < 0 || (size_t)l >= bn)
		return NULL;
	*len = (size_t)l;
	return buf;
}

/* An entry from a "q" record, or NULL. */
static struct entry *entry_of(json_t *r)
{
	struct entry *e = calloc(1, sizeof(*e));

	if (!e)
		return NULL;
	e->id = (uint64_t)json_integer_value(json_object_get(r, "id"));
	snprintf(e->event, sizeof(e->event), "%s",
		 json_string_value(json_object_get(r, "e")) ?: "");
	e->alert_id = strdup(json_string_value(json_object_get(r, "a")) ?: "");
	if (json_is_object(json_object_get(r, "p")))
		e->payload = json_dumps(json_object_get(r, "p"), JSON_COMPACT);
	e->enq_ns = (uint64_t)json_integer_value(json_object_get(r, "time"));
	e->durable = true;
	if (!e->alert_id) {
		ob_entry_free(e);
		return NULL;
	}
	return e;
}

static void on_durable(void *ctx, bool ok)
{
	struct entry *e = ctx;

	/* written, or the write failed (the WAL logs and counts that): either way send it now,
	 * a head that waited forever for a disk that refused would block the whole queue */
	(void)ok;
	e->durable = true;
}

static void append(struct vg_notify *n, const char *rec, size_t len)
{
	vg_wal_append(n->wal, rec, len, NULL, NULL);
	n->since_compact++;
}

/* The "d" record: event id delivered, or taken out of the outbox. */
static void log_done(struct vg_notify *n, uint64_t id)
{
	char rec[64];
	int len = snprintf(rec, sizeof(rec), "{\"t\":\"d\",\"id\":%llu}", (unsigned long long)id);

	append(n, rec, (size_t)len);
}

/* ---- spill files ------------------------------------------------------------------------ */

static int spill_write(struct inst *in, const char *rec, size_t len)
{
	struct iovec iov[2] = {{(void *)rec, len}, {"\n", 1}};
	off_t before;
	ssize_t w;

	if (in->spill_fd < 0)
		return -EBADF;
	before = lseek(in->spill_fd, 0, SEEK_END);
	w = writev(in->spill_fd, iov, 2);
	if (w == (ssize_t)len + 1)
		return 0;
	if (w > 0 && before >= 0) /* no half line: the next one would be glued to it */
		(void)!ftruncate(in->spill_fd, before);
	return -(w < 0 && errno ? errno : ENOSPC);
}

/* Its log record is durable: the spilled event may be read back and sent. */
static void on_spill_durable(void *ctx, bool ok)
{
	struct inst *in = ctx;

	(void)ok; /* as on_durable: a refused write must not hold the queue forever */
	in->spill_ready++;
}

/* An event that is in the log only (its spill file failed): it goes out after a restart, and until
 * then the log must not be compacted without it. */
static void orphan(struct vg_notify *n, struct inst *in, const char *what, int err)
{
	if (!n->orphans) /* the first says it; the log keeps every one */
		vg_err("notifier '%s': %s (%s): events wait in the outbox log and are sent after a "
		       "restart; "
		       "compaction is off until then",
		       in->name, what, strerror(err > 0 ? err : -err));
	n->orphans = true;
}

/* Reads a spill file's lines from an offset, 64 KiB at a time. */
struct sreader {
	int fd;
	int64_t off; /* file offset of buf[0] */
	char *buf;
	size_t cap, len, pos;
};

static void sreader_init(struct sreader *r, int fd, int64_t off)
{
	memset(r, 0, sizeof(*r));
	r->fd = fd;
	r->off = off;
}

/* The next line (NUL-terminated in place, no newline) in *line: 1, 0 at the end (a line cut short
 * by a crash is not read: the log has it), or -errno. sreader_at() is then the offset past it. */
static int sreader_next(struct sreader *r, char **line)
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

static int64_t sreader_at(const struct sreader *r)
{
	return r->off + (int64_t)r->pos;
}

static void spill_reset(struct inst *in)
{
	in->spilled = 0;
	in->spill_ready = 0;
	in->spill_rd = 0;
	if (in->spill_fd >= 0 && ftruncate(in->spill_fd, 0)) {
		vg_warn("notifier '%s': cannot empty its spill file %s: %s", in->name,
			in->spill_path, strerror(errno));
		in->spill_rd =
			lseek(in->spill_fd, 0, SEEK_END); /* past what was read, not back over it */
	}
}

void ob_refill(struct vg_notify *n, struct inst *in)
{
	int room = in->queue_max - in->queued, got = 0, rc = 1;
	uint64_t want = (uint64_t)(room < RELOAD_CHUNK ? room : RELOAD_CHUNK);
	struct sreader rd;
	char *line;

	if (!in->spilled ||
	    room < (in->queue_max < 2 * RELOAD_CHUNK ? in->queue_max / 2 : RELOAD_CHUNK))
		return;
	if (want > in->spill_ready) /* not past what the log holds durably */
		want = in->spill_ready;
	sreader_init(&rd, in->spill_fd, in->spill_rd);
	while ((uint64_t)got < want && (rc = sreader_next(&rd, &line)) > 0) {
		json_t *r = json_loads(line, 0, NULL);
		struct entry *e = r ? entry_of(r) : NULL;

		json_decref(r);
		in->spilled--;
		in->spill_ready--;
		if (!e) {
			orphan(n, in, "a line of its spill file is unreadable", EINVAL);
			continue;
		}
		push(in, e);
		got++;
	}
	in->spill_rd = sreader_at(&rd);
	free(rd.buf);
	if (rc < 0 || (rc == 0 && in->spilled))
		orphan(n, in,
		       rc < 0 ? "its spill file cannot be read" : "its spill file ends early",
		       rc < 0 ? rc : EIO);
	if (rc <= 0 || !in->spilled) /* all read back (or unreadable: the log keeps them) */
		spill_reset(in);
}

/* ---- queueing, delivery, dead letters ---------------------------------------------------- */

static void not_durable(struct inst *in, int rc)
{
	/* the outbox log refused (memory bound while the disk lags): delivered anyway, counted,
	 * rather than lost; only a crash before delivery would lose it */
	if (!in->undurable++ || !(in->undurable & (in->undurable - 1)))
		vg_warn("notifier '%s': the outbox log is full (%s: its memory bound while the "
			"disk catches up); it is "
			"sent but not durable (%llu so far, vigil_notifier_not_durable_total)",
			in->name, strerror(-rc), (unsigned long long)in->undurable);
}

int ob_enqueue(struct vg_notify *n, struct inst *in, struct entry *e, json_t *alert)
{
	char buf[1024], *heap;
	size_t len = 0;
	const char *rec = queued_text(in, e, alert, buf, sizeof(buf), &heap, &len);
	int rc, src = 0;

	n->since_compact++;
	if (rec &&
	    (in->spilled || in->queued >= in->queue_max)) { /* past queue_max: it waits on disk */
		src = spill_write(in, rec, len);
		if (!src) {
			rc = vg_wal_append(n->wal, rec, len, on_spill_durable, in);
			in->spilled++;
			if (rc) {
				not_durable(in, rc);
				in->spill_ready++; /* no ack comes */
			}
			free(heap);
			ob_entry_free(e);
			return 0;
		}
		if (in->spilled) { /* it cannot go ahead of the spilled ones: the log alone keeps it
				    */
			in->spill_errors++;
			rc = vg_wal_append(n->wal, rec, len, NULL, NULL);
			if (rc) {
				in->lost++;
				vg_err("notifier '%s': event %s of alert %s lost: neither the "
				       "outbox log (%s) nor the spill "
				       "file (%s) took it (vigil_notifier_lost_total)",
				       in->name, e->event, e->alert_id, strerror(-rc),
				       strerror(-src));
			} else {
				orphan(n, in, "its spill file cannot be written", src);
			}
			free(heap);
			ob_entry_free(e);
			return 0;
		}
		/* nothing spilled yet: kept in memory past queue_max rather than out of order */
		if (!in->spill_errors++ || !(in->spill_errors & (in->spill_errors - 1)))
			vg_warn("notifier '%s': cannot write its spill file %s (%s): kept in "
				"memory past queue_max "
				"(%llu so far)",
				in->name, in->spill_path, strerror(-src),
				(unsigned long long)in->spill_errors);
	}
	rc = rec ? vg_wal_append(n->wal, rec, len, on_durable, e) : -ENOMEM;
	free(heap);
	if (rc) {
		not_durable(in, rc);
		e->durable = true;
	}
	push(in, e);
	return 0;
}

void ob_delivered(struct vg_notify *n, struct inst *in, struct entry *e)
{
	log_done(n, e->id);
	ob_entry_free(unlink_entry(in, e));
}

/* At most queue_max dead letters an instance: the oldest go, counted (a receiver that refuses
 * everything for a week must not grow memory without end). log: retire it in the log too (not while
 * replaying it). */
static void trim_dead(struct vg_notify *n, struct inst *in, bool log)
{
	while (in->ndead > in->queue_max) {
		struct entry **pp = &in->dead;

		while ((*pp)->next) /* newest first: the oldest is last */
			pp = &(*pp)->next;
		if (log)
			log_done(n, (*pp)->id);
		if (!in->dead_dropped++ || !(in->dead_dropped & (in->dead_dropped - 1)))
			vg_warn("notifier '%s': more than %d dead letters: the oldest are dropped "
				"(%llu so far, "
				"vigil_notifier_dead_dropped_total)",
				in->name, in->queue_max, (unsigned long long)in->dead_dropped);
		ob_entry_free(*pp);
		*pp = NULL;
		in->ndead--;
	}
}

/* The "x" record: event id is a dead letter, and why (malloc'd, or NULL). */
static char *dead_text(uint64_t id, const char *why)
{
	json_t *r =
		json_pack("{s:s, s:I, s:s}", "t", "x", "id", (json_int_t)id, "why", why ? why : "");
	char *s = r ? json_dumps(r, JSON_COMPACT) : NULL;

	json_decref(r);
	return s;
}

void ob_dead(struct vg_notify *n, struct inst *in, struct entry *e, const char *why)
{
	char *s = dead_text(e->id, why);

	if (s)
		append(n, s, strlen(s));
	free(s);
	to_dead(in, unlink_entry(in, e), why);
	trim_dead(n, in, true);
}

/* Whether dead letter e of instance in is what a retry names (see notify.h). */
static bool names(const struct inst *in, const struct entry *e, const char *what)
{
	char *end;
	unsigned long long id;

	if (!what || !strcmp(what, in->name) || !strcmp(what, e->alert_id))
		return true;
	id = strtoull(what, &end, 10);
	return *what && !*end && id == e->id;
}

int vg_notify_retry_dead(struct vg_notify *n, const char *what)
{
	int count = 0;
	bool known = !what;

	for (int i = 0; i < n->ninst; i++) {
		struct inst *in = &n->inst[i];
		struct entry **pp = &in->dead;

		known |= what && !strcmp(what, in->name);
		while (*pp) {
			struct entry *e = *pp;
			uint64_t old_id = e->id;

			if (!names(in, e, what)) {
				pp = &e->next;
				continue;
			}
			*pp = e->next;
			in->ndead--;
			e->next = NULL;
			e->dead = false;
			free(e->reason);
			e->reason = NULL;
			e->attempts = 0;
			e->next_ms = 0;
			e->h = 0;
			e->enq_ns = wall_ns(); /* a retry on request: a fresh max_age_s to get
						  through */
			e->id = n->next_id++;
			e->durable = false;
			ob_enqueue(n, in, e, NULL); /* queued again under a new id, then the old
						       dead letter retired: */
			log_done(n, old_id); /* a crash between the two sends it twice, never loses
						it */
			count++;
		}
	}
	event_active(n->pump, 0, 0);
	return count || known ? count : -ENOENT;
}

int vg_notify_pending(struct vg_notify *n, const char *name, int *dead)
{
	int q = 0;

	*dead = 0;
	for (int i = 0; i < n->ninst; i++) {
		if (name && strcmp(name, n->inst[i].name))
			continue;
		q += n->inst[i].queued + (int)n->inst[i].spilled;
		*dead += n->inst[i].ndead;
	}
	return q;
}

/* ---- opening: a two-pass replay ---------------------------------------------------------- */

struct replay {
	uint64_t base; /* id of bit 0 (a multiple of 8) */
	size_t nbytes;
	uint8_t *live, *dead; /* pending / dead ids */
	struct dr {
		uint64_t id;
		char *why;
	} * why; /* dead letters' reasons, sorted by id for pass 2 */
	size_t nwhy, capwhy;
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

/* Pass 1: which ids are pending (queued, never delivered nor dead) and which are dead, and why. */
static void pass1(void *ctx, const void *p, size_t len)
{
	struct vg_notify *n = ctx;
	struct replay *rp = n->rp;
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
	if (id >= n->next_id)
		n->next_id = id + 1;
	if (!strcmp(t, "q")) {
		set_bit(rp->live, rp, id, true);
	} else if (!strcmp(t, "d")) {
		set_bit(rp->live, rp, id, false);
		set_bit(rp->dead, rp, id, false);
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
			strdup(json_string_value(json_object_get(r, "why")) ?: "");
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
	struct vg_notify *n = ctx;
	struct replay *rp = n->rp;
	json_t *r;
	struct inst *in;
	struct entry *e;
	uint64_t id;

	/* only "q" records matter now: skip the delivered ones, the most, without parsing */
	if (len >= 8 && !memcmp(p, "{\"t\":\"d\"", 8))
		return;
	r = json_loadb(p, len, 0, NULL);
	if (strcmp(json_string_value(json_object_get(r, "t")) ?: "", "q")) {
		json_decref(r);
		return;
	}
	id = (uint64_t)json_integer_value(json_object_get(r, "id"));
	in = ob_inst(n, json_string_value(json_object_get(r, "n")) ?: "");
	if (!in || (!bit(rp->live, rp, id) &&
		    !bit(rp->dead, rp, id))) { /* delivered, or no longer configured */
		json_decref(r);
		return;
	}
	if (bit(rp->dead, rp, id)) {
		struct dr key = {.id = id},
			  *w = bsearch(&key, rp->why, rp->nwhy, sizeof(*rp->why), cmp_dr);

		if ((e = entry_of(r))) {
			to_dead(in, e, w ? w->why : "");
			trim_dead(n, in, false);
		}
	} else if ((in->spilled || in->queued >= in->queue_max) && !spill_write(in, p, len)) {
		in->spilled++;
		in->spill_ready++; /* it comes from the log: durable */
	} else if (in->spilled) {  /* the spill file failed and cannot take it in order: the log
				      keeps it */
		orphan(n, in, "its spill file cannot be written", EIO);
	} else if ((e = entry_of(
			    r))) { /* in memory (past queue_max only if the spill file failed) */
		push(in, e);
	} else {
		rp->failed = true;
	}
	json_decref(r);
	set_bit(rp->live, rp, id,
		false); /* once: a record written twice (compaction) counts once */
	set_bit(rp->dead, rp, id, false);
}

int ob_open(struct vg_notify *n, const char *data_dir, char *err, size_t en)
{
	struct vg_wal_opts wo = {0};
	struct vg_wal_report rep;
	struct replay rp = {0};
	char dir[1100];
	int rc;

	for (int i = 0; i < n->ninst; i++)
		n->inst[i].spill_fd = -1;
	snprintf(dir, sizeof(dir), "%.1000s/outbox", data_dir);
	wo.dir = dir;
	n->rp = &rp;
	rc = vg_wal_open(&n->wal, &wo, n->base, pass1, n, &rep, err, en);
	for (int i = 0; !rc && i < n->ninst; i++) {
		struct inst *in = &n->inst[i];

		snprintf(in->spill_path, sizeof(in->spill_path), "%.1000s/spill-%d.jsonl", dir, i);
		/* the outbox directory was checked (safefile.h): no link, nobody else's file */
		in->spill_fd = vg_safe_open(in->spill_path, O_RDWR | O_CREAT | O_TRUNC | O_APPEND,
					    0600, 0022, err, en);
		if (in->spill_fd < 0)
			rc = in->spill_fd;
	}
	if (!rc) {
		if (rp.nwhy)
			qsort(rp.why, rp.nwhy, sizeof(*rp.why), cmp_dr);
		rc = vg_wal_scan(n->wal, pass2, n);
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
	n->since_compact = rp.records;
	for (size_t i = 0; i < rp.nwhy; i++)
		free(rp.why[i].why);
	free(rp.why);
	free(rp.live);
	free(rp.dead);
	n->rp = NULL;
	return rc;
}

void ob_close(struct vg_notify *n)
{
	if (n->wal)
		vg_wal_sync(n->wal);
	vg_wal_close(n->wal);
	n->wal = NULL;
	for (int i = 0; i < n->ninst; i++) {
		struct inst *in = &n->inst[i];

		for (struct entry *e = in->head, *x; e; e = x) {
			x = e->next;
			ob_entry_free(e);
		}
		for (struct entry *e = in->dead, *x; e; e = x) {
			x = e->next;
			ob_entry_free(e);
		}
		in->head = in->tail = in->dead = NULL;
		if (in->spill_fd >= 0) { /* rebuilt from the log at the next start */
			close(in->spill_fd);
			unlink(in->spill_path);
			in->spill_fd = -1;
		}
	}
}

/* ---- compaction ------------------------------------------------------------------------ */

struct cit {
	struct vg_notify *n;
	int i, phase; /* instance; 0 dead letters (q then x), 1 the queue, 2 the spill file */
	struct entry *e;
	bool x_next;
	struct sreader rd;
	char buf[1024], *heap;
	uint64_t count;
};

static int compact_next(void *ctx, const void **p, size_t *len)
{
	struct cit *c = ctx;

	free(c->heap);
	c->heap = NULL;
	while (c->i < c->n->ninst) {
		struct inst *in = &c->n->inst[c->i];

		if (c->phase == 0 && c->e && c->x_next) { /* the dead letter's reason */
			c->heap = dead_text(c->e->id, c->e->reason);
			c->x_next = false;
			c->e = c->e->next;
			if (!c->heap)
				return -ENOMEM;
			*p = c->heap;
			*len = strlen(c->heap);
			c->count++;
			return 1;
		}
		if (c->phase <= 1 && c->e) {
			char *heap;
			const char *rec;

			if (c->phase == 0) /* a dead letter's id is free to change: a new one keeps
					    * the ids in the log close together, so the replay's
					    * bitmaps stay small however old it is */
				c->e->id = c->n->next_id++;
			rec = queued_text(in, c->e, NULL, c->buf, sizeof(c->buf), &heap, len);
			c->heap = heap;
			if (!rec)
				return -ENOMEM;
			if (c->phase == 0)
				c->x_next = true;
			else
				c->e = c->e->next;
			*p = rec;
			c->count++;
			return 1;
		}
		if (c->phase == 0) {
			c->phase = 1;
			c->e = in->head;
			continue;
		}
		if (c->phase == 1) {
			c->phase = 2;
			free(c->rd.buf);
			sreader_init(&c->rd, in->spill_fd, in->spill_rd);
			continue;
		}
		if (in->spilled) {
			char *line;
			int rc = sreader_next(&c->rd, &line);

			if (rc < 0)
				return rc;
			if (rc > 0) {
				*p = line;
				*len = strlen(line);
				c->count++;
				return 1;
			}
		}
		c->i++;
		c->phase = 0;
		c->e = c->i < c->n->ninst ? c->n->inst[c->i].dead : NULL;
	}
	return 0;
}

void ob_maybe_compact(struct vg_notify *n)
{
	struct cit c = {.n = n};
	uint64_t live = 0;
	int rc;

	if (n->since_compact < COMPACT_MIN || n->orphans)
		return;
	for (int i = 0; i < n->ninst; i++) {
		if (n->inst[i].spilled > (uint64_t)n->inst[i].queue_max)
			return; /* a big backlog on disk: copying it would pause the loop; once it
				   drains */
		live += (uint64_t)n->inst[i].queued + (uint64_t)n->inst[i].ndead +
			n->inst[i].spilled;
	}
	if (live * 4 > n->since_compact)
		return; /* mostly pending: rewriting would not shrink it much */
	c.e = n->ninst ? n->inst[0].dead : NULL;
	rc = vg_wal_sync(n->wal);
	if (!rc)
		rc = vg_wal_rewrite(n->wal, compact_next, &c);
	free(c.heap);
	free(c.rd.buf);
	if (rc) {
		vg_warn("outbox: compaction failed (%s); it is tried again later", strerror(-rc));
		n->since_compact /= 2; /* not at once again */
		return;
	}
	n->compactions++;
	n->since_compact = c.count;
}
