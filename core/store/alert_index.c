// SPDX-License-Identifier: BSD-2-Clause
/*
 * alert_index.c - the alerts in time order: one list of them all, one per
 * state and one per field value (policy name and id, namespace, deployment,
 * pod), each a skip list ordered newest first (time, then id). An alert
 * moves in its lists when its time or state changes (alert_index_touch), in
 * O(log n) whatever the position, and each list counts its alerts. The
 * queries (alert_query.c) walk one list from its newest end.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alerts_priv.h"

#define INDEX_KEY_MAX 600

/* The node sorts before a: newer, or as new with the smaller id (its time is in the node). */
static bool before(const struct ix_node *x, const struct vg_alert *a)
{
	if (x->t != a->ix_time)
		return x->t > a->ix_time;
	return strcmp(x->a->id, a->id) < 0;
}

/* Levels with probability 1/4 each: 1.33 links a node on average. */
static int random_level(struct alert_index *ix)
{
	int lvl = 1;

	for (;;) {
		ix->rng ^= ix->rng << 13;
		ix->rng ^= ix->rng >> 7;
		ix->rng ^= ix->rng << 17;
		if ((ix->rng & 3) || lvl == IX_LEVELS)
			return lvl;
		lvl++;
	}
}

/* The nodes after which a sorts, per level, into up. */
static void find_before(struct ix_list *l, const struct vg_alert *a, struct ix_node **up)
{
	struct ix_node *x = l->head;

	for (int i = l->lvl - 1; i >= 0; i--) {
		while (x->next[i] && before(x->next[i], a))
			x = x->next[i];
		up[i] = x;
	}
}

/* Out of memory, the alert is left out of the list: queries walking it miss it (counted). */
static void list_insert(struct alert_index *ix, struct ix_list *l, const struct vg_alert *a)
{
	struct ix_node *up[IX_LEVELS], *n;
	int lvl = random_level(ix);

	if (!l->head)
		l->head = calloc(1, sizeof(*n) + IX_LEVELS * sizeof(n->next[0]));
	n = malloc(sizeof(*n) + (size_t)lvl * sizeof(n->next[0]));
	if (!n || !l->head) {
		free(n);
		ix->dropped++;
		return;
	}
	n->a = a;
	n->t = a->ix_time;
	find_before(l, a, up);
	for (int i = l->lvl; i < lvl; i++)
		up[i] = l->head;
	if (lvl > l->lvl)
		l->lvl = lvl;
	for (int i = 0; i < lvl; i++) {
		n->next[i] = up[i]->next[i];
		up[i]->next[i] = n;
	}
	l->n++;
}

/* Takes a off the list, where its ix_time puts it. */
static void list_remove(struct ix_list *l, const struct vg_alert *a)
{
	struct ix_node *up[IX_LEVELS], *n;

	if (!l->head)
		return;
	find_before(l, a, up);
	n = up[0]->next[0];
	if (!n || n->a != a)
		return; /* it never made it in (out of memory) */
	for (int i = 0; i < l->lvl && up[i]->next[i] == n; i++)
		up[i]->next[i] = n->next[i];
	free(n);
	l->n--;
}

static void list_free(struct ix_list *l)
{
	struct ix_node *n = l->head;

	while (n) {
		struct ix_node *next = n->next[0];

		free(n);
		n = next;
	}
	l->head = NULL;
}

/* The list of the alerts whose field `tag` is val; NULL when there is none (and not make). */
struct ix_list *alert_index_list(struct alert_index *ix, char tag, const char *val, bool make)
{
	char key[INDEX_KEY_MAX];
	struct ix_list *l;

	snprintf(key, sizeof(key), "%c\x1f%.580s", tag, val);
	l = alert_strmap_get(&ix->by_field, key);
	if (l || !make)
		return l;
	l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	l->key = strdup(key);
	if (!l->key || alert_strmap_put(&ix->by_field, l->key, l)) {
		free(l->key);
		free(l);
		return NULL;
	}
	return l;
}

/* The policy's id is indexed too when it is not its name. */
static bool id_is_not_name(const struct vg_alert *a)
{
	return a->policy_id && (!a->policy_name || strcmp(a->policy_id, a->policy_name));
}

/* The field lists a is in (made when missing), into out; returns how many. */
static int field_lists(struct alert_index *ix, const struct vg_alert *a, bool make,
		       struct ix_list *out[5])
{
	const char tags[] = {'p', 'p', 'n', 'd', 'o'};
	const char *vals[] = {a->policy_name, a->policy_id, a->namespace_, a->deployment, a->pod};
	int n = 0;

	for (int i = 0; i < 5; i++) {
		struct ix_list *l;

		if (!vals[i] || !*vals[i] || (i == 1 && !id_is_not_name(a)))
			continue;
		l = alert_index_list(ix, tags[i], vals[i], make);
		if (l)
			out[n++] = l;
		else if (make)
			ix->dropped++;
	}
	return n;
}

static struct ix_list *state_list(struct alert_index *ix, int state)
{
	return &ix->by_state[state % 3];
}

void alert_index_add(struct alert_index *ix, struct vg_alert *a)
{
	struct ix_list *f[5];
	int n;

	a->ix_time = a->time_ns;
	a->ix_state = a->state;
	a->ix_in = true;
	if (ix->defer)
		return;
	n = field_lists(ix, a, true, f);
	list_insert(ix, &ix->all, a);
	list_insert(ix, state_list(ix, (int)a->ix_state), a);
	for (int i = 0; i < n; i++)
		list_insert(ix, f[i], a);
}

void alert_index_del(struct alert_index *ix, struct vg_alert *a)
{
	struct ix_list *f[5];
	int n;

	if (!a->ix_in)
		return;
	a->ix_in = false;
	if (ix->defer)
		return;
	n = field_lists(ix, a, false, f);
	list_remove(&ix->all, a);
	list_remove(state_list(ix, (int)a->ix_state), a);
	for (int i = 0; i < n; i++) {
		list_remove(f[i], a);
		if (!f[i]->n) { /* no alert has that value now (pods come and go) */
			alert_strmap_del(&ix->by_field, f[i]->key);
			list_free(f[i]);
			free(f[i]->key);
			free(f[i]);
		}
	}
}

/* The list's newest is a: a newer time keeps it there. */
static bool first_in(const struct ix_list *l, const struct vg_alert *a)
{
	return l->head && l->head->next[0] && l->head->next[0]->a == a;
}

void alert_index_touch(struct alert_index *ix, struct vg_alert *a)
{
	struct ix_list *f[5];
	int n;

	if (!a->ix_in || ix->defer)
		return;
	if (a->time_ns != a->ix_time) {
		n = field_lists(ix, a, false, f);
		if (a->time_ns > a->ix_time && first_in(&ix->all, a)) {
			bool all_first = first_in(state_list(ix, (int)a->ix_state), a);

			for (int i = 0; i < n && all_first; i++)
				all_first = first_in(f[i], a);
			if (all_first) { /* the newest moving forward: it stays first everywhere */
				a->ix_time = a->time_ns;
				ix->all.head->next[0]->t = a->ix_time;
				state_list(ix, (int)a->ix_state)->head->next[0]->t = a->ix_time;
				for (int i = 0; i < n; i++)
					f[i]->head->next[0]->t = a->ix_time;
				alert_index_touch(ix, a); /* the state may have changed too */
				return;
			}
		}
		alert_index_del(ix, a);
		alert_index_add(ix, a);
		return;
	}
	if (a->state != a->ix_state) {
		list_remove(state_list(ix, (int)a->ix_state), a);
		a->ix_state = a->state;
		list_insert(ix, state_list(ix, (int)a->ix_state), a);
	}
}

void alert_index_build(struct alert_index *ix, struct vg_alert **all, size_t n)
{
	ix->defer = false;
	for (size_t i = 0; i < n; i++)
		alert_index_add(ix, all[i]);
}

void alert_index_free(struct alert_index *ix)
{
	for (size_t i = 0; i < ix->by_field.cap; i++) {
		struct ix_list *l = alert_strmap_slot(&ix->by_field, i);

		if (l) {
			list_free(l);
			free(l->key);
			free(l);
		}
	}
	alert_strmap_free(&ix->by_field);
	list_free(&ix->all);
	for (int i = 0; i < 3; i++)
		list_free(&ix->by_state[i]);
	memset(ix, 0, sizeof(*ix));
}
