// SPDX-License-Identifier: BSD-2-Clause
/*
 * outbox_dead.c - the outbox's dead letters: an event given up is kept, with
 * why, up to queue_max an instance, and `vigil notifiers retry` queues dead
 * letters again, oldest first, so each alert's events keep their order.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "outbox_priv.h"

void outbox_to_dead(struct queue *q, struct vg_outbox_entry *e, const char *why)
{
	e->dead = true;
	e->reason = strdup(why ? why : "");
	e->next = q->dead;
	q->dead = e;
	q->ndead++;
}

/* At most queue_max dead letters an instance: the oldest go, counted (a receiver that refuses
 * everything for a week must not grow memory without end). log: retire it in the log too (not while
 * replaying it). */
void outbox_trim_dead(struct vg_outbox *ob, struct queue *q, bool log)
{
	while (q->ndead > q->queue_max) {
		struct vg_outbox_entry **pp = &q->dead;

		while ((*pp)->next) /* newest first: the oldest is last */
			pp = &(*pp)->next;
		if (log)
			outbox_log_done(ob, (*pp)->id);
		if (!q->dead_dropped++ || !(q->dead_dropped & (q->dead_dropped - 1)))
			vg_warn("notifier '%s': more than %d dead letters: the oldest are dropped "
				"(%llu so far, "
				"vigil_notifier_dead_dropped_total)",
				q->name, q->queue_max, (unsigned long long)q->dead_dropped);
		outbox_entry_free(*pp);
		*pp = NULL;
		q->ndead--;
	}
}

/* The "x" record: event id is a dead letter, and why (malloc'd, or NULL). */
char *outbox_dead_text(uint64_t id, const char *why)
{
	json_t *r =
		json_pack("{s:s, s:I, s:s}", "t", "x", "id", (json_int_t)id, "why", why ? why : "");
	char *s = r ? json_dumps(r, JSON_COMPACT) : NULL;

	json_decref(r);
	return s;
}

void vg_outbox_dead_letter(struct vg_outbox *ob, int qi, struct vg_outbox_entry *e, const char *why)
{
	struct queue *q = &ob->queues[qi];
	char *s = outbox_dead_text(e->id, why);

	if (s)
		outbox_append(ob, s, strlen(s));
	free(s);
	outbox_to_dead(q, outbox_unlink(q, e), why);
	outbox_trim_dead(ob, q, true);
}

/* Whether dead letter e of queue q is what a retry names (see notify.h). */
static bool names(const struct queue *q, const struct vg_outbox_entry *e, const char *what)
{
	char *end;
	unsigned long long id;

	if (!what || !strcmp(what, q->name) || !strcmp(what, e->alert_id))
		return true;
	id = strtoull(what, &end, 10);
	return *what && !*end && id == e->id;
}

/* Dead letter e of queue q queued again: under a new id, with a fresh max_age_s and no tries. */
static void requeue(struct vg_outbox *ob, struct queue *q, struct vg_outbox_entry *e)
{
	uint64_t old_id = e->id;

	e->next = NULL;
	e->dead = false;
	free(e->reason);
	e->reason = NULL;
	e->attempts = 0;
	e->failures = 0;
	e->next_ms = 0;
	e->hash = 0;
	e->enq_ns = outbox_wall_ns(); /* a retry on request: a fresh max_age_s to get through */
	e->id = ob->next_id++;
	e->durable = false;
	/* queued again under a new id (it always is), then the old dead letter retired: a crash
	 * between the two sends it twice, never loses it */
	(void)outbox_enqueue_entry(ob, q, e, NULL);
	outbox_log_done(ob, old_id);
}

/* A dead letter on its way back, and where it was in the list (newest first). */
struct back {
	struct vg_outbox_entry *e;
	uint64_t enq_ns;
	size_t place;
};

/* Oldest first: queued earlier, else died earlier (further down the list). */
static int cmp_back(const void *a, const void *b)
{
	const struct back *x = a, *y = b;

	if (x->enq_ns != y->enq_ns)
		return x->enq_ns < y->enq_ns ? -1 : 1;
	return x->place > y->place ? -1 : x->place < y->place;
}

/* Queue q's dead letters that what names, back in the queue oldest first, so each alert's events
 * go in the order they were raised (a resolve after its trigger). How many, or -ENOMEM. */
static int retry_queue(struct vg_outbox *ob, struct queue *q, const char *what)
{
	struct back *back = calloc((size_t)q->ndead + 1, sizeof(*back));
	struct vg_outbox_entry **pp = &q->dead;
	size_t n = 0, place = 0;

	if (!back)
		return -ENOMEM;
	while (*pp) {
		struct vg_outbox_entry *e = *pp;

		if (!names(q, e, what)) {
			pp = &e->next;
		} else {
			*pp = e->next;
			q->ndead--;
			back[n++] = (struct back){.e = e, .enq_ns = e->enq_ns, .place = place};
		}
		place++;
	}
	qsort(back, n, sizeof(*back), cmp_back);
	for (size_t i = 0; i < n; i++)
		requeue(ob, q, back[i].e);
	free(back);
	return (int)n;
}

int vg_outbox_retry_dead(struct vg_outbox *ob, const char *what)
{
	int count = 0;
	bool known = !what;

	for (int i = 0; i < ob->nqueues; i++) {
		int rc = retry_queue(ob, &ob->queues[i], what);

		if (rc < 0)
			return rc;
		known |= what && !strcmp(what, ob->queues[i].name);
		count += rc;
	}
	return count || known ? count : -ENOENT;
}

const struct vg_outbox_entry *vg_outbox_dead(const struct vg_outbox *ob, int qi)
{
	return ob->queues[qi].dead;
}
