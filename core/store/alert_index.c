// SPDX-License-Identifier: BSD-2-Clause
/*
 * alert_index.c - the alerts by field value (policy, namespace, deployment,
 * pod), and the queries: a query walks the shortest list among its fields
 * (everything when it names none) and orders what matches, newest first.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alerts_priv.h"

/* Alerts sharing one field value, in creation order. */
struct index_list {
	char *key;
	const struct vg_alert **v;
	size_t n, cap;
};

#define INDEX_KEY_MAX 600
#define HEAP_MIN      2048 /* below this many, a page is ordered by a full sort */

/* The list of alerts whose field `tag` is val (NULL: none yet), its key written into key. */
static struct index_list *find_list(struct alert_index *ix, char tag, const char *val,
				    char key[INDEX_KEY_MAX])
{
	snprintf(key, INDEX_KEY_MAX, "%c\x1f%.580s", tag, val);
	return alert_strmap_get(&ix->by_field, key);
}

static void list_free(struct index_list *l)
{
	if (!l)
		return;
	free(l->v);
	free(l->key);
	free(l);
}

static struct index_list *list_new(struct alert_index *ix, const char *key)
{
	struct index_list *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	l->key = strdup(key);
	if (!l->key || alert_strmap_put(&ix->by_field, l->key, l)) {
		list_free(l);
		return NULL;
	}
	return l;
}

/* Out of memory, the alert is left out of that list: queries by that value miss it. */
static void add_one(struct alert_index *ix, char tag, const char *val, const struct vg_alert *a)
{
	char key[INDEX_KEY_MAX];
	struct index_list *l;

	if (!val || !*val)
		return;
	l = find_list(ix, tag, val, key);
	if (!l)
		l = list_new(ix, key);
	if (!l)
		return;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 8;
		const struct vg_alert **v = realloc(l->v, cap * sizeof(*v));

		if (!v)
			return;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = a;
}

/* The policy's id is indexed too when it is not its name. */
static bool id_is_not_name(const struct vg_alert *a)
{
	return a->policy_id && (!a->policy_name || strcmp(a->policy_id, a->policy_name));
}

void alert_index_add(struct alert_index *ix, const struct vg_alert *a)
{
	add_one(ix, 'p', a->policy_name, a);
	if (id_is_not_name(a))
		add_one(ix, 'p', a->policy_id, a);
	add_one(ix, 'n', a->namespace_, a);
	add_one(ix, 'd', a->deployment, a);
	add_one(ix, 'o', a->pod, a);
}

static void pop_one(struct alert_index *ix, char tag, const char *val, const struct vg_alert *a)
{
	char key[INDEX_KEY_MAX];
	struct index_list *l;

	if (!val || !*val)
		return;
	l = find_list(ix, tag, val, key);
	if (l && l->n && l->v[l->n - 1] == a)
		l->n--;
}

void alert_index_pop(struct alert_index *ix, const struct vg_alert *a)
{
	pop_one(ix, 'o', a->pod, a);
	pop_one(ix, 'd', a->deployment, a);
	pop_one(ix, 'n', a->namespace_, a);
	if (id_is_not_name(a))
		pop_one(ix, 'p', a->policy_id, a);
	pop_one(ix, 'p', a->policy_name, a);
}

void alert_index_free(struct alert_index *ix)
{
	for (size_t i = 0; i < ix->by_field.cap; i++)
		list_free(alert_strmap_slot(&ix->by_field, i));
	alert_strmap_free(&ix->by_field);
}

/* ---- queries ---- */

static bool eq(const char *want, const char *have)
{
	return !want || (have && !strcmp(want, have));
}

static int newest_first(const void *pa, const void *pb)
{
	const struct vg_alert *x = *(const struct vg_alert *const *)pa;
	const struct vg_alert *y = *(const struct vg_alert *const *)pb;

	if (x->time_ns < y->time_ns)
		return 1;
	if (x->time_ns > y->time_ns)
		return -1;
	return strcmp(x->id, y->id);
}

/* newest_first(a, b) > 0: a is older: the heap below keeps the oldest on top */
static void sift_down(const struct vg_alert **h, int k, int i)
{
	for (;;) {
		int l = 2 * i + 1, r = l + 1, m = i;
		const struct vg_alert *t;

		if (l < k && newest_first(&h[l], &h[m]) > 0)
			m = l;
		if (r < k && newest_first(&h[r], &h[m]) > 0)
			m = r;
		if (m == i)
			return;
		t = h[i];
		h[i] = h[m];
		h[m] = t;
		i = m;
	}
}

/* Moves the k newest of r[0..n) to the front, newest first: O(n log k), not a full sort. */
static void newest_k(const struct vg_alert **r, int n, int k)
{
	if (k >= n || n < HEAP_MIN) {
		qsort(r, (size_t)n, sizeof(*r), newest_first);
		return;
	}
	for (int i = k / 2 - 1; i >= 0; i--) /* r[0..k): a heap, the oldest kept on top */
		sift_down(r, k, i);
	for (int i = k; i < n; i++) {
		if (newest_first(&r[i], &r[0]) < 0) { /* newer than the oldest kept */
			const struct vg_alert *t = r[0];

			r[0] = r[i];
			r[i] = t;
			sift_down(r, k, 0);
		}
	}
	qsort(r, (size_t)k, sizeof(*r), newest_first);
}

int vg_alerts_query_window(struct vg_alerts *s, const struct vg_alert_filter *f, int want,
			   const struct vg_alert ***out)
{
	int n = vg_alerts_query_unsorted(s, f, out);

	if (n > 0 && want > 0) /* a page of none orders nothing */
		newest_k(*out, n, want);
	return n;
}

int vg_alerts_query(struct vg_alerts *s, const struct vg_alert_filter *f,
		    const struct vg_alert ***out)
{
	int n = vg_alerts_query_unsorted(s, f, out);

	if (n > 0)
		qsort(*out, (size_t)n, sizeof(**out), newest_first);
	return n;
}

/* The shortest index list among the query's fields; NULL: scan everything. */
static const struct index_list *start_list(struct alert_index *ix, const struct vg_alert_filter *f,
					   bool *empty)
{
	const char tags[] = {'p', 'n', 'd', 'o'};
	const char *vals[] = {f->policy, f->namespace_, f->deployment, f->pod};
	const struct index_list *best = NULL;

	*empty = false;
	for (int i = 0; i < 4; i++) {
		char key[INDEX_KEY_MAX];
		const struct index_list *l;

		if (!vals[i])
			continue;
		l = find_list(ix, tags[i], vals[i], key);
		if (!l) { /* nothing has that value */
			*empty = true;
			return NULL;
		}
		if (!best || l->n < best->n)
			best = l;
	}
	return best;
}

static bool matches(const struct vg_alert_filter *f, const struct vg_alert *a)
{
	if (f->state >= 0 && (int)a->state != f->state)
		return false;
	if (a->time_ns < f->since_ns)
		return false;
	if (!eq(f->policy, a->policy_name) && !eq(f->policy, a->policy_id))
		return false;
	return eq(f->namespace_, a->namespace_) && eq(f->deployment, a->deployment) &&
	       eq(f->pod, a->pod);
}

int vg_alerts_query_unsorted(struct vg_alerts *s, const struct vg_alert_filter *f,
			     const struct vg_alert ***out)
{
	bool empty;
	const struct index_list *l = start_list(&s->index, f, &empty);
	size_t total = l ? l->n : s->nall;
	const struct vg_alert **r = malloc((total + 1) * sizeof(*r));
	int n = 0;

	*out = r;
	if (!r)
		return -ENOMEM;
	if (empty)
		return 0;
	for (size_t i = 0; i < total; i++) {
		const struct vg_alert *a = l ? l->v[i] : s->all[i];

		if (matches(f, a))
			r[n++] = a;
	}
	return n;
}
