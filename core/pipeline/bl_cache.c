// SPDX-License-Identifier: BSD-2-Clause
/*
 * bl_cache.c - the baseline step's per-cgroup cache (bl_cache.h): a hash of
 * the cgroup id and the path's first bytes into buckets, the path compared
 * whole, and CLOCK over a fixed array of slots: a hit only sets the slot's
 * reference bit; eviction sweeps a hand past referenced slots, clearing them.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "bl_cache.h"

#define BLC_KEY 256 /* cgroup paths (as sent) up to this long are cached */

struct slot {
	uint64_t cgid;
	uint32_t len;
	uint32_t depth_flags; /* the component count, and whether the path was cut */
	unsigned char bytes[BLC_KEY];
	struct vg_blc_entry e;
	int hnext; /* the next in its bucket, -1 */
	bool ref;  /* used since the hand last passed */
};

struct vg_blc {
	struct slot *slot;
	int *bucket; /* -1: empty */
	int size, nbuckets, used, hand;
};

int vg_blc_new(struct vg_blc **out, int size)
{
	struct vg_blc *c = calloc(1, sizeof(*c));
	int nb = 1;

	while (nb < 2 * size)
		nb *= 2;
	if (c) {
		c->slot = calloc((size_t)size, sizeof(*c->slot));
		c->bucket = malloc((size_t)nb * sizeof(*c->bucket));
	}
	if (!c || !c->slot || !c->bucket) {
		vg_blc_free(c);
		return -ENOMEM;
	}
	for (int i = 0; i < nb; i++)
		c->bucket[i] = -1;
	c->size = size;
	c->nbuckets = nb;
	*out = c;
	return 0;
}

void vg_blc_free(struct vg_blc *c)
{
	if (!c)
		return;
	free(c->slot);
	free(c->bucket);
	free(c);
}

/* The cgroup id and up to 16 bytes of the path (leaf first: the container's level, whose
   id is random enough in its first bytes). */
static int hash_of(const struct vg_blc *c, uint64_t cgid, const unsigned char *p, uint32_t len)
{
	uint64_t h = (cgid ^ len) * 0x9e3779b97f4a7c15ull, w;

	for (uint32_t i = 0; i < 16 && i + 8 <= len; i += 8) { /* unrolled: a fixed bound */
		memcpy(&w, p + i, 8);
		h = (h ^ w) * 0xff51afd7ed558ccdull;
		h ^= h >> 32;
	}
	return (int)((h ^ (h >> 29)) & (uint64_t)(c->nbuckets - 1));
}

/* The first slot the hand finds unreferenced (clearing those it passes), out of its bucket. */
static int evict(struct vg_blc *c)
{
	struct slot *s;
	int i, *link;

	for (;;) {
		i = c->hand;
		c->hand = (c->hand + 1) % c->size;
		if (!c->slot[i].ref)
			break;
		c->slot[i].ref = false;
	}
	s = &c->slot[i];
	link = &c->bucket[hash_of(c, s->cgid, s->bytes, s->len)];
	while (*link >= 0 && *link != i)
		link = &c->slot[*link].hnext;
	if (*link == i)
		*link = s->hnext;
	return i;
}

struct vg_blc_entry *vg_blc_get(struct vg_blc *c, struct vg_event *ev, uint64_t *evicted)
{
	const struct vg_exec *r = ev->rec;
	const unsigned char *p = (const unsigned char *)r->data + r->cg_off;
	uint32_t df = r->cg_depth << 1 | ((r->flags & VG_EXEC_CGROUP_TRUNCATED) != 0);
	int h, i;

	if (r->cg_len > BLC_KEY)
		return NULL;
	h = hash_of(c, r->cgroup_id, p, r->cg_len);
	for (i = c->bucket[h]; i >= 0; i = c->slot[i].hnext) {
		struct slot *s = &c->slot[i];

		if (s->cgid == r->cgroup_id && s->len == r->cg_len && s->depth_flags == df &&
		    !memcmp(s->bytes, p, r->cg_len)) {
			s->ref = true;
			return &s->e;
		}
	}
	if (c->used < c->size) {
		i = c->used++;
	} else {
		i = evict(c);
		++*evicted;
	}
	c->slot[i].cgid = r->cgroup_id;
	c->slot[i].len = r->cg_len;
	c->slot[i].depth_flags = df;
	memcpy(c->slot[i].bytes, p, r->cg_len);
	vg_event_paths(ev); /* parsed afresh: attribution may have changed ev->ctr */
	(void)vg_container_parse(ev->cgroup, &c->slot[i].e.ctr);
	c->slot[i].e.bl = NULL;
	c->slot[i].e.gen = 0;
	c->slot[i].e.names_serial = 0;
	c->slot[i].hnext = c->bucket[h];
	c->slot[i].ref = false;
	c->bucket[h] = i;
	return &c->slot[i].e;
}
