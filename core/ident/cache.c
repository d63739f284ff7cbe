// SPDX-License-Identifier: BSD-2-Clause
/*
 * cache.c - file hashes by (dev, ino, size, ctime), in a fixed array: a
 * chained hash table for lookup and one LRU list of the settled entries.
 * Pending entries are off the list, so a hash being computed is never lost.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ident_priv.h"

#define NIL UINT32_MAX

struct ident_cache {
	struct centry *e;
	uint32_t *bucket;
	uint32_t n_entries, mask, used;
	uint32_t free_head;	     /* CE_FREE entries, chained through hnext */
	uint32_t lru_head, lru_tail; /* head: most recently used */
};

int cache_new(struct ident_cache **out, size_t entries)
{
	struct ident_cache *c;
	uint32_t nb = 16;

	if (entries == 0 || entries > (1u << 24))
		return -EINVAL;
	while (nb < entries * 2)
		nb <<= 1;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->e = calloc(entries, sizeof(*c->e));
	c->bucket = malloc(nb * sizeof(*c->bucket));
	if (!c->e || !c->bucket) {
		cache_free(c);
		return -ENOMEM;
	}
	memset(c->bucket, 0xff, nb * sizeof(*c->bucket));
	c->n_entries = (uint32_t)entries;
	c->mask = nb - 1;
	for (uint32_t i = 0; i < c->n_entries; i++)
		c->e[i].hnext = i + 1 < c->n_entries ? i + 1 : NIL;
	c->free_head = 0;
	c->lru_head = c->lru_tail = NIL;
	*out = c;
	return 0;
}

void cache_free(struct ident_cache *c)
{
	if (!c)
		return;
	free(c->e);
	free(c->bucket);
	free(c);
}

static uint32_t bucket_of(const struct ident_cache *c, const struct fkey *k)
{
	uint64_t h = k->ino * 0x9e3779b97f4a7c15ull;

	h ^= (k->dev + k->ctime_ns) * 0xc2b2ae3d27d4eb4full;
	h ^= k->size;
	h ^= h >> 29;
	return (uint32_t)h & c->mask;
}

static void lru_unlink(struct ident_cache *c, uint32_t i)
{
	struct centry *e = &c->e[i];

	if (e->lprev != NIL)
		c->e[e->lprev].lnext = e->lnext;
	else
		c->lru_head = e->lnext;
	if (e->lnext != NIL)
		c->e[e->lnext].lprev = e->lprev;
	else
		c->lru_tail = e->lprev;
	e->lprev = e->lnext = NIL;
}

static void lru_push(struct ident_cache *c, uint32_t i)
{
	struct centry *e = &c->e[i];

	e->lprev = NIL;
	e->lnext = c->lru_head;
	if (c->lru_head != NIL)
		c->e[c->lru_head].lprev = i;
	c->lru_head = i;
	if (c->lru_tail == NIL)
		c->lru_tail = i;
}

struct centry *cache_find(struct ident_cache *c, const struct fkey *key)
{
	for (uint32_t i = c->bucket[bucket_of(c, key)]; i != NIL; i = c->e[i].hnext) {
		if (!fkey_eq(&c->e[i].key, key))
			continue;
		if (c->e[i].state != CE_PENDING) {
			lru_unlink(c, i);
			lru_push(c, i);
		}
		return &c->e[i];
	}
	return NULL;
}

/* Takes entry i out of its hash chain and back to the free list. */
static void drop(struct ident_cache *c, uint32_t i)
{
	uint32_t *p = &c->bucket[bucket_of(c, &c->e[i].key)];

	while (*p != i)
		p = &c->e[*p].hnext;
	*p = c->e[i].hnext;
	lru_unlink(c, i);
	memset(&c->e[i], 0, sizeof(c->e[i]));
	c->e[i].hnext = c->free_head;
	c->e[i].lprev = c->e[i].lnext = NIL;
	c->free_head = i;
	c->used--;
}

struct centry *cache_add(struct ident_cache *c, const struct fkey *key, uint64_t *evicted)
{
	uint32_t i, b;

	if (c->free_head == NIL) {
		if (c->lru_tail == NIL)
			return NULL; /* every entry is pending */
		drop(c, c->lru_tail);
		(*evicted)++;
	}
	i = c->free_head;
	c->free_head = c->e[i].hnext;
	memset(&c->e[i], 0, sizeof(c->e[i]));
	c->e[i].key = *key;
	c->e[i].state = CE_PENDING;
	c->e[i].lprev = c->e[i].lnext = NIL;
	b = bucket_of(c, key);
	c->e[i].hnext = c->bucket[b];
	c->bucket[b] = i;
	c->used++;
	return &c->e[i];
}

void cache_settle(struct ident_cache *c, struct centry *e)
{
	lru_push(c, (uint32_t)(e - c->e));
}

void cache_unsettle(struct ident_cache *c, struct centry *e)
{
	lru_unlink(c, (uint32_t)(e - c->e));
	e->state = CE_PENDING;
}

size_t cache_count(const struct ident_cache *c)
{
	return c->used;
}
