// SPDX-License-Identifier: BSD-2-Clause
/*
 * podwait.c - execs held until their pod is known (podwait.h). One queue in
 * the order execs were held; every exec waits the same wait_ms, so the head is
 * always the first to expire and one timer, set for it, is all it takes.
 * Execs go back through run() off the queue (a local list first), so run() may
 * hold another exec or ask for nothing at all without disturbing a walk.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>

#include <event2/event.h>

#include "podwait.h"

#define UID_MAX 63 /* a pod uid is 36 characters (8-4-4-4-12) */

struct held {
	TAILQ_ENTRY(held) link;
	char uid[UID_MAX + 1];
	uint64_t deadline_ns; /* CLOCK_MONOTONIC */
	int64_t boot_to_wall_ns;
	size_t len;
	unsigned char rec[]; /* the record as the sensor gave it */
};

TAILQ_HEAD(held_list, held);

struct vg_podwait {
	struct vg_podwait_opts o;
	struct held_list q;
	struct event *timer; /* for the head's deadline */
	struct vg_podwait_stats st;
};

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The timer follows the head of the queue: set for its deadline, or off when none is held. */
static void rearm(struct vg_podwait *w)
{
	struct held *h = TAILQ_FIRST(&w->q);
	uint64_t now, left = 0;
	struct timeval tv;

	if (!h) {
		(void)event_del(w->timer); /* a timer: cannot fail */
		return;
	}
	now = mono_ns();
	if (h->deadline_ns > now)
		left = h->deadline_ns - now;
	tv.tv_sec = (time_t)(left / 1000000000ull);
	tv.tv_usec = (suseconds_t)(left % 1000000000ull / 1000ull);
	(void)event_add(w->timer, &tv); /* a timer of our own base: cannot fail */
}

/* Each exec of list back through run(), in order, then freed. */
static void give_back(struct vg_podwait *w, struct held_list *list, enum vg_podwait_why why)
{
	struct held *h;

	while ((h = TAILQ_FIRST(list))) {
		TAILQ_REMOVE(list, h, link);
		w->st.now--;
		if (why == VG_PODWAIT_POD)
			w->st.resolved++;
		else if (why == VG_PODWAIT_TIMEOUT)
			w->st.timeouts++;
		else
			w->st.flushed++;
		w->o.run(w->o.ctx, h->rec, h->len, h->boot_to_wall_ns, why);
		free(h);
	}
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct vg_podwait *w = arg;
	struct held_list due = TAILQ_HEAD_INITIALIZER(due);
	uint64_t now = mono_ns();
	struct held *h;

	(void)fd;
	(void)what;
	while ((h = TAILQ_FIRST(&w->q)) && h->deadline_ns <= now) {
		TAILQ_REMOVE(&w->q, h, link);
		TAILQ_INSERT_TAIL(&due, h, link);
	}
	give_back(w, &due, VG_PODWAIT_TIMEOUT);
	rearm(w);
}

int vg_podwait_new(struct vg_podwait **out, const struct vg_podwait_opts *o)
{
	struct vg_podwait *w;

	*out = NULL;
	if (!o->wait_ms || !o->max || !o->run || !o->base)
		return -EINVAL;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->o = *o;
	TAILQ_INIT(&w->q);
	w->timer = evtimer_new(o->base, on_timer, w);
	if (!w->timer) {
		free(w);
		return -ENOMEM;
	}
	*out = w;
	return 0;
}

void vg_podwait_free(struct vg_podwait *w)
{
	struct held *h;

	if (!w)
		return;
	while ((h = TAILQ_FIRST(&w->q))) {
		TAILQ_REMOVE(&w->q, h, link);
		free(h);
	}
	event_free(w->timer);
	free(w);
}

int vg_podwait_hold(struct vg_podwait *w, const char *pod_uid, const void *rec, size_t len,
		    int64_t boot_to_wall_ns)
{
	struct held *h;
	bool first = TAILQ_EMPTY(&w->q);

	if (w->st.now >= w->o.max) {
		w->st.overflow++;
		return -ENOSPC;
	}
	if (strlen(pod_uid) > UID_MAX)
		return -EINVAL; /* not a pod uid: the caller evaluates it now */
	h = malloc(sizeof(*h) + len);
	if (!h) {
		w->st.overflow++;
		return -ENOMEM;
	}
	strcpy(h->uid, pod_uid); /* fits: checked above */
	h->deadline_ns = mono_ns() + (uint64_t)w->o.wait_ms * 1000000ull;
	h->boot_to_wall_ns = boot_to_wall_ns;
	h->len = len;
	memcpy(h->rec, rec, len);
	TAILQ_INSERT_TAIL(&w->q, h, link);
	w->st.held++;
	w->st.now++;
	if (first)
		rearm(w);
	return 0;
}

bool vg_podwait_has(const struct vg_podwait *w, const char *pod_uid)
{
	const struct held *h;

	TAILQ_FOREACH(h, &w->q, link)
	if (!strcmp(h->uid, pod_uid))
		return true;
	return false;
}

void vg_podwait_pod(struct vg_podwait *w, const char *pod_uid)
{
	struct held_list mine = TAILQ_HEAD_INITIALIZER(mine);
	struct held *h, *next;

	if (!w || !pod_uid)
		return;
	for (h = TAILQ_FIRST(&w->q); h; h = next) {
		next = TAILQ_NEXT(h, link);
		if (strcmp(h->uid, pod_uid))
			continue;
		/* in order: the pod's first exec not ready keeps the ones behind it waiting */
		if (w->o.ready && !w->o.ready(w->o.ctx, h->rec, h->len, h->boot_to_wall_ns))
			break;
		TAILQ_REMOVE(&w->q, h, link);
		TAILQ_INSERT_TAIL(&mine, h, link);
	}
	if (TAILQ_EMPTY(&mine))
		return;
	give_back(w, &mine, VG_PODWAIT_POD);
	rearm(w);
}

void vg_podwait_flush(struct vg_podwait *w)
{
	struct held_list all = TAILQ_HEAD_INITIALIZER(all);
	struct held *h;

	if (!w)
		return;
	while ((h = TAILQ_FIRST(&w->q))) {
		TAILQ_REMOVE(&w->q, h, link);
		TAILQ_INSERT_TAIL(&all, h, link);
	}
	give_back(w, &all, VG_PODWAIT_FLUSH);
	rearm(w);
}

void vg_podwait_stats(const struct vg_podwait *w, struct vg_podwait_stats *st)
{
	*st = w->st;
}
