// SPDX-License-Identifier: BSD-2-Clause
/*
 * alert_query.c - the queries: a query walks the shortest time-ordered list
 * among the fields it names (alert_index.c; all alerts when it names none)
 * from its newest end, so a page is the first matches met. The total is the
 * list's count when the list alone decides the query; otherwise the walk goes
 * on counting (no copy, no sort).
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "alerts_priv.h"

/* A word to find in any case: where its first letter may be ("aA"), and its length. */
struct query_word {
	const char *w;
	char first[3];
	size_t len;
};

/* A query made ready: where it starts and how the policy is matched. */
struct query_run {
	const struct vg_alert_filter *f;
	const struct ix_list *start; /* NULL: nothing can match */
	bool policy_sub;	     /* no policy is named that: match within the name */
	bool alone;		     /* the start list is exactly the matches */
	struct query_word policy, text[VG_QUERY_TERMS];
};

static bool eq(const char *want, const char *have)
{
	return !want || (have && !strcmp(want, have));
}

static void word_of(struct query_word *q, const char *w)
{
	q->w = w;
	q->len = strlen(w);
	q->first[0] = (char)tolower((unsigned char)w[0]);
	q->first[1] = (char)toupper((unsigned char)w[0]);
	q->first[2] = '\0';
}

/* The word is in hay, any case (ASCII): its first letter found by strpbrk (vectorised). */
static bool holds(const char *hay, const struct query_word *q)
{
	if (!hay)
		return false;
	if (!q->len)
		return true;
	for (const char *p = hay; (p = strpbrk(p, q->first)); p++)
		if (!strncasecmp(p, q->w, q->len))
			return true;
	return false;
}

/* A free-text term is in one of the alert's names or its newest process. */
static bool text_in(const struct vg_alert *a, const struct query_word *t)
{
	const struct vg_proc_rec *p = NULL;

	if (holds(a->policy_name, t) || holds(a->namespace_, t) || holds(a->deployment, t) ||
	    holds(a->pod, t) || holds(a->container_name, t))
		return true;
	if (a->nprocs > 0)
		p = alert_proc_at(a, 0);
	return p && (holds(p->exe, t) || holds(p->args, t));
}

/* The policy term: exact name or id, or (policy_sub) within the name, any case. */
static bool policy_ok(const struct query_run *q, const struct vg_alert *a)
{
	const char *want = q->f->policy;

	if (!want)
		return true;
	if (!q->policy_sub)
		return eq(want, a->policy_name) || eq(want, a->policy_id);
	return holds(a->policy_name, &q->policy);
}

static bool matches(const struct query_run *q, const struct vg_alert *a)
{
	const struct vg_alert_filter *f = q->f;

	if (f->state >= 0 && (int)a->state != f->state)
		return false;
	if (!policy_ok(q, a) || !eq(f->namespace_, a->namespace_) ||
	    !eq(f->deployment, a->deployment) || !eq(f->pod, a->pod))
		return false;
	if (f->severity && (!a->severity || strcasecmp(f->severity, a->severity)))
		return false;
	for (int i = 0; i < f->ntext && i < VG_QUERY_TERMS; i++)
		if (!text_in(a, &q->text[i]))
			return false;
	return true;
}

/* Picks the shortest list among the query's fields into q->start (NULL: none matches). */
static void query_start(struct vg_alerts *s, const struct vg_alert_filter *f, struct query_run *q)
{
	const char tags[] = {'p', 'n', 'd', 'o'};
	const char *vals[] = {f->policy, f->namespace_, f->deployment, f->pod};
	int terms = 0; /* the terms a list answers */

	q->f = f;
	if (f->policy)
		word_of(&q->policy, f->policy);
	for (int i = 0; i < f->ntext && i < VG_QUERY_TERMS; i++)
		word_of(&q->text[i], f->text[i]);
	q->start = &s->index.all;
	q->policy_sub = false;
	if (f->state >= 0 && f->state <= VG_ALERT_ATTEMPTED) {
		q->start = &s->index.by_state[f->state];
		terms++;
	}
	for (int i = 0; i < 4; i++) {
		const struct ix_list *l;

		if (!vals[i])
			continue;
		l = alert_index_list(&s->index, tags[i], vals[i], false);
		if (!l && i == 0) {	      /* no policy is named that: a part of a name */
			q->policy_sub = true; /* not a list: the walk decides */
			continue;
		}
		terms++;
		if (!l) { /* nothing has that value */
			q->start = NULL;
			return;
		}
		if (terms == 1 || l->n < q->start->n)
			q->start = l;
	}
	q->alone = terms <= 1 && !f->severity && !f->ntext && !f->since_ns && !q->policy_sub;
}

static int as_int(size_t n)
{
	if (n > (size_t)INT_MAX)
		return INT_MAX;
	return (int)n;
}

/*
 * Walks q->start newest first: the first `want` matches into out, and the count of all
 * (the list's own when it alone decides; the walk stops at the first alert older than
 * since: the rest are older still).
 */
static int query_walk(const struct query_run *q, size_t want, const struct vg_alert **out)
{
	const struct ix_node *x = q->start->head;
	size_t k = 0;

	if (q->alone && !want)
		return as_int(q->start->n);
	if (x)
		x = x->next[0];
	for (; x; x = x->next[0]) {
		const struct vg_alert *a = x->a;

		if (a->time_ns < q->f->since_ns)
			break;
		if (!matches(q, a))
			continue;
		if (k < want)
			out[k] = a;
		k++;
		if (k == want && q->alone)
			return as_int(q->start->n);
	}
	return as_int(k);
}

int vg_alerts_query_window(struct vg_alerts *s, const struct vg_alert_filter *f, int want,
			   const struct vg_alert ***out)
{
	struct query_run q;
	size_t w = 0;

	query_start(s, f, &q);
	if (want > 0)
		w = (size_t)want;
	if (q.start && w > q.start->n)
		w = q.start->n;
	if (!q.start)
		w = 0;
	*out = malloc((w + 1) * sizeof(**out));
	if (!*out)
		return -ENOMEM;
	if (!q.start)
		return 0;
	return query_walk(&q, w, *out);
}

int vg_alerts_query(struct vg_alerts *s, const struct vg_alert_filter *f,
		    const struct vg_alert ***out)
{
	return vg_alerts_query_window(s, f, INT_MAX, out);
}

int vg_alerts_query_unsorted(struct vg_alerts *s, const struct vg_alert_filter *f,
			     const struct vg_alert ***out)
{
	return vg_alerts_query_window(s, f, INT_MAX, out);
}
