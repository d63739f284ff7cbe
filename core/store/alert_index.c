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

/* Links n (its alert filed at n->t) into the list with lvl levels. */
static void list_link(struct ix_list *l, struct ix_node *n, int lvl)
{
	struct ix_node *up[IX_LEVELS];

	find_before(l, n->a, up);
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

/* Out of memory, the alert is left out of the list: queries walking it miss it (counted). */
static void list_insert(struct alert_index *ix, struct ix_list *l, const struct vg_alert *a)
{
	struct ix_node *n;
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
	list_link(l, n, lvl);
}

/* Unlinks a's node (where its ix_time puts it) and returns it with its levels; NULL: none. */
static struct ix_node *list_unlink(struct ix_list *l, const struct vg_alert *a, int *lvl)
{
	struct ix_node *up[IX_LEVELS], *n;

	*lvl = 0;
	if (!l->head)
		return NULL;
	find_before(l, a, up);
	n = up[0]->next[0];
	if (!n || n->a != a)
		return NULL; /* it never made it in (out of memory) */
	for (; *lvl < l->lvl && up[*lvl]->next[*lvl] == n; (*lvl)++)
		up[*lvl]->next[*lvl] = n->next[*lvl];
	l->n--;
	return n;
}

static void list_remove(struct ix_list *l, const struct vg_alert *a)
{
	int lvl;

	free(list_unlink(l, a, &lvl));
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
		       struct ix_list **out)
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
	a->ix_time = a->time_ns;
	a->ix_state = a->state;
	a->ix_in = true;
	a->ix_nlists = 0;
	if (ix->defer)
		return;
	a->ix_nlists = field_lists(ix, a, true, a->ix_lists);
	list_insert(ix, &ix->all, a);
	list_insert(ix, state_list(ix, (int)a->ix_state), a);
	for (int i = 0; i < a->ix_nlists; i++)
		list_insert(ix, a->ix_lists[i], a);
}

void alert_index_del(struct alert_index *ix, struct vg_alert *a)
{
	if (!a->ix_in)
		return;
	a->ix_in = false;
	if (ix->defer)
		return;
	list_remove(&ix->all, a);
	list_remove(state_list(ix, (int)a->ix_state), a);
	for (int i = 0; i < a->ix_nlists; i++) {
		struct ix_list *l = a->ix_lists[i];

		list_remove(l, a);
		if (!l->n) { /* no alert has that value now (pods come and go) */
			alert_strmap_del(&ix->by_field, l->key);
			list_free(l);
			free(l->key);
			free(l);
		}
	}
	a->ix_nlists = 0;
}

/* The lists a is in: all, its state's, its fields'. Returns how many. */
static int lists_of(struct alert_index *ix, struct vg_alert *a, struct ix_list *out[7])
{
	out[0] = &ix->all;
	out[1] = state_list(ix, (int)a->ix_state);
	for (int i = 0; i < a->ix_nlists; i++)
		out[2 + i] = a->ix_lists[i];
	return 2 + a->ix_nlists;
}

/* The newest in each of its lists moving forward: it stays first; its nodes take the time. */
static bool stays_first(struct alert_index *ix, struct vg_alert *a)
{
	struct ix_list *ls[7];
	int n = lists_of(ix, a, ls);

	if (a->time_ns < a->ix_time)
		return false;
	for (int i = 0; i < n; i++)
		if (!ls[i]->head || !ls[i]->head->next[0] || ls[i]->head->next[0]->a != a)
			return false;
	a->ix_time = a->time_ns;
	for (int i = 0; i < n; i++)
		ls[i]->head->next[0]->t = a->ix_time;
	return true;
}

/* Moves a to where its time and state put it, each node reused (no allocation). */
static void move(struct alert_index *ix, struct vg_alert *a)
{
	struct ix_list *ls[7];
	struct ix_node *nodes[7];
	int lvl[7], n = lists_of(ix, a, ls);

	for (int i = 0; i < n; i++)
		nodes[i] = list_unlink(ls[i], a, &lvl[i]);
	a->ix_time = a->time_ns;
	a->ix_state = a->state;
	ls[1] = state_list(ix, (int)a->ix_state);
	for (int i = 0; i < n; i++) {
		if (!nodes[i] || !ls[i]->head) { /* out of memory before, or a list not begun */
			free(nodes[i]);
			list_insert(ix, ls[i], a);
			continue;
		}
		nodes[i]->t = a->ix_time;
		list_link(ls[i], nodes[i], lvl[i]);
	}
}

void alert_index_touch(struct alert_index *ix, struct vg_alert *a)
{
	if (!a->ix_in || ix->defer)
		return;
	if (a->time_ns == a->ix_time && a->state == a->ix_state)
		return;
	if (a->state == a->ix_state && stays_first(ix, a))
		return;
	if (a->time_ns == a->ix_time) { /* the state alone: only the state lists change */
		int lvl;
		struct ix_node *n = list_unlink(state_list(ix, (int)a->ix_state), a, &lvl);
		struct ix_list *to = state_list(ix, (int)a->state);

		a->ix_state = a->state;
		if (n && to->head) {
			list_link(to, n, lvl);
			return;
		}
		free(n);
		list_insert(ix, to, a);
		return;
	}
	move(ix, a);
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
