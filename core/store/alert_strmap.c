// SPDX-License-Identifier: BSD-2-Clause
/*
 * alert_strmap.c - the store's string -> pointer hash map (alert ids, merge
 * keys, index keys): open addressing, FNV-1a, tombstones for deletes.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "alerts_priv.h"

#define TOMBSTONE ((const char *)1)
#define FIRST_CAP 1024

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ull;
	return h;
}

static bool live(const struct alert_strmap *m, size_t i)
{
	return m->keys[i] && m->keys[i] != TOMBSTONE;
}

/* The slot of key, or the empty slot ending its probe chain (found false); NULL if no table. */
static void **find_slot(const struct alert_strmap *m, const char *key, bool *found)
{
	size_t i;

	*found = false;
	if (!m->cap)
		return NULL;
	for (i = hash_str(key) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
		if (!m->keys[i])
			return &m->vals[i];
		if (m->keys[i] != TOMBSTONE && !strcmp(m->keys[i], key)) {
			*found = true;
			return &m->vals[i];
		}
	}
}

void *alert_strmap_get(struct alert_strmap *m, const char *key)
{
	bool found;
	void **v = find_slot(m, key, &found);

	if (!v || !found)
		return NULL;
	return *v;
}

/* The size to rehash into: the same again when mostly tombstones (they go, and probes end). */
static size_t next_cap(const struct alert_strmap *m)
{
	if (!m->cap)
		return FIRST_CAP;
	if ((m->n + 1) * 4 > m->cap)
		return m->cap * 2;
	return m->cap;
}

static int grow(struct alert_strmap *m)
{
	struct alert_strmap n = {.cap = next_cap(m)};

	n.keys = calloc(n.cap, sizeof(char *));
	n.vals = calloc(n.cap, sizeof(void *));
	if (!n.keys || !n.vals) {
		free(n.keys);
		free(n.vals);
		return -ENOMEM;
	}
	for (size_t i = 0; i < m->cap; i++)
		if (live(m, i))
			(void)alert_strmap_put(&n, m->keys[i], m->vals[i]); /* n has room */
	free(m->keys);
	free(m->vals);
	*m = n;
	return 0;
}

int alert_strmap_put(struct alert_strmap *m, const char *key, void *val)
{
	bool found;
	void **v;

	if ((m->used + 1) * 2 > m->cap && grow(m))
		return -ENOMEM;
	v = find_slot(m, key, &found);
	if (!found) {
		m->keys[v - m->vals] = key;
		m->n++;
		m->used++;
	}
	*v = val;
	return 0;
}

void alert_strmap_del(struct alert_strmap *m, const char *key)
{
	bool found;
	void **v = find_slot(m, key, &found);

	if (!v || !found)
		return;
	m->keys[v - m->vals] = TOMBSTONE; /* keeps probe chains intact */
	*v = NULL;
	m->n--;
}

void *alert_strmap_slot(const struct alert_strmap *m, size_t i)
{
	if (i >= m->cap || !live(m, i))
		return NULL;
	return m->vals[i];
}

void alert_strmap_free(struct alert_strmap *m)
{
	free(m->keys);
	free(m->vals);
	memset(m, 0, sizeof(*m));
}
