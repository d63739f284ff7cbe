// SPDX-License-Identifier: BSD-2-Clause
/*
 * baselines.c - the process baselines model (baselines.h): per key a sorted
 * array of elements with an open-addressing set of their hashes and indices for the
 * per-exec lookup, a graveyard and a lock. Paths are interned once for the
 * whole store and refcounted, since many containers run the same binaries.
 * Memory holds what the log holds: a change is appended (baseline_log.c)
 * before it is applied; replay applies the records without writing them.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alerts_priv.h"
#include "baselines_priv.h"
#include "hash.h"
#include "log.h"

#define CAP_MAX	      100000
#define STR_TOMBSTONE ((struct bl_str *)1)

/* vg_baselines_has hashes each checked exec's path: kept fast (hash.h), in memory only. */
static uint32_t hash_path(const char *s)
{
	return (uint32_t)vg_hash_bytes(s, strlen(s));
}

static uint32_t hash_path_n(const char *s, size_t len)
{
	return (uint32_t)vg_hash_bytes(s, len);
}

struct bl_item *bl_item_of(const struct vg_baseline *bl)
{
	return (struct bl_item *)bl;
}

/* ---- interned paths ---- */

/* Rehashes into twice the room (or the same when mostly tombstones). */
static int strs_grow(struct vg_baselines *b)
{
	size_t cap = 1024;
	struct bl_str **strs;

	while (cap < 4 * (b->strs_live + 1))
		cap *= 2;
	strs = calloc(cap, sizeof(*strs));
	if (!strs)
		return -ENOMEM;
	for (size_t i = 0; i < b->strs_cap; i++) {
		struct bl_str *st = b->strs[i];
		size_t j;

		if (!st || st == STR_TOMBSTONE)
			continue;
		for (j = st->hash & (cap - 1); strs[j]; j = (j + 1) & (cap - 1))
			;
		strs[j] = st;
	}
	free(b->strs);
	b->strs = strs;
	b->strs_cap = cap;
	b->strs_used = b->strs_live;
	return 0;
}

/* The interned copy of path with one more reference; NULL when out of memory. */
const char *bl_intern(struct vg_baselines *b, const char *path)
{
	uint32_t h = hash_path(path);
	size_t len = strlen(path), i;
	struct bl_str *st;

	if (2 * (b->strs_used + 1) > b->strs_cap && strs_grow(b))
		return NULL;
	for (i = h & (b->strs_cap - 1); (st = b->strs[i]); i = (i + 1) & (b->strs_cap - 1)) {
		if (st != STR_TOMBSTONE && st->hash == h && !strcmp(st->s, path)) {
			st->refs++;
			return st->s;
		}
	}
	st = malloc(sizeof(*st) + len + 1);
	if (!st)
		return NULL;
	st->refs = 1;
	st->hash = h;
	memcpy(st->s, path, len + 1);
	b->strs[i] = st;
	b->strs_used++;
	b->strs_live++;
	return st->s;
}

/* Drops a reference; the last one frees the string. */
void bl_unintern(struct vg_baselines *b, const char *path)
{
	struct bl_str *st = STR_OF(path);
	size_t i;

	if (--st->refs)
		return;
	for (i = st->hash & (b->strs_cap - 1); b->strs[i] != st; i = (i + 1) & (b->strs_cap - 1))
		;
	b->strs[i] = STR_TOMBSTONE;
	b->strs_live--;
	free(st);
}

/* ---- one baseline's elements and graveyard ---- */

static size_t set_size_for(size_t n)
{
	size_t cap = 8;

	while (cap < 2 * n)
		cap *= 2;
	return cap;
}

/* Rebuilds the index set over the elements (sized beforehand by reserve_elems). */
static void set_rebuild(struct bl_item *it)
{
	size_t mask = it->set_cap - 1;

	memset(it->set, 0, it->set_cap * sizeof(*it->set));
	for (size_t e = 0; e < it->pub.n_elements; e++) {
		uint32_t h = STR_OF(it->elems[e].path)->hash;
		size_t i = h & mask;

		while (it->set[i].index)
			i = (i + 1) & mask;
		it->set[i] = (struct bl_slot){.hash = h, .index = (uint32_t)(e + 1)};
	}
}

/* The set after an element went in at pos: the ones after it moved up by one. No element or
 * string is read, so learning stays cheap in a large baseline. */
static void set_shift_in(struct bl_item *it, size_t pos, uint32_t hash)
{
	size_t mask = it->set_cap - 1, i;

	for (i = 0; i < it->set_cap; i++)
		if (it->set[i].index > pos)
			it->set[i].index++;
	for (i = hash & mask; it->set[i].index; i = (i + 1) & mask)
		;
	it->set[i] = (struct bl_slot){.hash = hash, .index = (uint32_t)(pos + 1)};
}

/* Room for n more elements, in the array and the set. 0 or -ENOMEM. */
int bl_reserve(struct bl_item *it, size_t n)
{
	size_t want = it->pub.n_elements + n, cap = set_size_for(want);

	if (want > it->elems_cap) {
		size_t ecap = it->elems_cap ? it->elems_cap : 4;
		struct vg_bl_element *e;

		while (ecap < want)
			ecap *= 2;
		e = realloc(it->elems, ecap * sizeof(*e));
		if (!e)
			return -ENOMEM;
		it->elems = e;
		it->elems_cap = ecap;
		it->pub.elements = e;
	}
	if (cap > it->set_cap) {
		struct bl_slot *set = malloc(cap * sizeof(*set));

		if (!set)
			return -ENOMEM;
		free(it->set);
		it->set = set;
		it->set_cap = cap;
		set_rebuild(it);
	}
	return 0;
}

/* Where path is (*found) or would go in the sorted elements. */
size_t bl_elem_pos(const struct bl_item *it, const char *path, bool *found)
{
	size_t lo = 0, hi = it->pub.n_elements;

	*found = false;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(it->elems[mid].path, path);

		if (!c) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Inserts an interned path (its reference moves in); room reserved, path not there. */
void bl_elem_insert(struct bl_item *it, const char *path, enum vg_bl_origin origin, uint64_t t)
{
	bool found;
	size_t pos = bl_elem_pos(it, path, &found);

	memmove(&it->elems[pos + 1], &it->elems[pos],
		(it->pub.n_elements - pos) * sizeof(*it->elems));
	it->elems[pos] = (struct vg_bl_element){.path = path, .origin = origin, .added_ns = t};
	it->pub.n_elements++;
	set_shift_in(it, pos, STR_OF(path)->hash);
}

void bl_elem_remove(struct vg_baselines *b, struct bl_item *it, size_t pos)
{
	bl_unintern(b, it->elems[pos].path);
	memmove(&it->elems[pos], &it->elems[pos + 1],
		(it->pub.n_elements - pos - 1) * sizeof(*it->elems));
	it->pub.n_elements--;
	set_rebuild(it);
}

size_t bl_grave_pos(const struct bl_item *it, const char *path, bool *found)
{
	size_t lo = 0, hi = it->pub.n_removed;

	*found = false;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(it->grave[mid], path);

		if (!c) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Puts path in the graveyard (a reference of its own). 0 or -ENOMEM. */
int bl_grave_add(struct vg_baselines *b, struct bl_item *it, const char *path)
{
	bool found;
	size_t pos = bl_grave_pos(it, path, &found);
	const char *s;

	if (found)
		return 0;
	if (it->pub.n_removed == it->grave_cap) {
		size_t cap = it->grave_cap ? it->grave_cap * 2 : 4;
		const char **g = realloc(it->grave, cap * sizeof(*g));

		if (!g)
			return -ENOMEM;
		it->grave = g;
		it->grave_cap = cap;
		it->pub.removed = g;
	}
	s = bl_intern(b, path);
	if (!s)
		return -ENOMEM;
	memmove(&it->grave[pos + 1], &it->grave[pos], (it->pub.n_removed - pos) * sizeof(char *));
	it->grave[pos] = s;
	it->pub.n_removed++;
	return 0;
}

void bl_grave_del(struct vg_baselines *b, struct bl_item *it, const char *path)
{
	bool found;
	size_t pos = bl_grave_pos(it, path, &found);

	if (!found)
		return;
	bl_unintern(b, it->grave[pos]);
	memmove(&it->grave[pos], &it->grave[pos + 1],
		(it->pub.n_removed - pos - 1) * sizeof(char *));
	it->pub.n_removed--;
}

bool vg_baselines_has(const struct vg_baseline *bl, const char *path)
{
	return path && vg_baselines_has_n(bl, path, strlen(path));
}

bool vg_baselines_has_n(const struct vg_baseline *bl, const char *path, size_t len)
{
	const struct bl_item *it = bl_item_of(bl);
	uint32_t h;
	size_t mask, i;

	if (!it || !it->set_cap || !path)
		return false;
	h = hash_path_n(path, len);
	mask = it->set_cap - 1;
	for (i = h & mask; it->set[i].index; i = (i + 1) & mask)
		if (it->set[i].hash == h && !strcmp(it->elems[it->set[i].index - 1].path, path))
			return true;
	return false;
}

/* ---- keys and ids ---- */

bool bl_key_valid(const struct vg_baseline_key *k)
{
	return memchr(k->namespace_, 0, sizeof(k->namespace_)) &&
	       memchr(k->deployment, 0, sizeof(k->deployment)) &&
	       memchr(k->container, 0, sizeof(k->container)) &&
	       memchr(k->image, 0, sizeof(k->image)) && k->container[0] &&
	       (k->image[0] || k->deployment[0]);
}

static uint64_t fnv_field(uint64_t h, const char *s)
{
	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ull;
	return (h ^ 0x1f) * 1099511628211ull;
}

/* The id of a key: 64 bits of FNV-1a over its fields, in hex. */
void bl_key_id(const struct vg_baseline_key *k, char id[VG_BL_ID_LEN + 1])
{
	uint64_t h = 1469598103934665603ull;

	h = fnv_field(h, k->namespace_);
	h = fnv_field(h, k->deployment);
	h = fnv_field(h, k->container);
	h = fnv_field(h, k->image);
	for (int i = VG_BL_ID_LEN - 1; i >= 0; i--, h >>= 4) /* on every exec: no snprintf */
		id[i] = "0123456789abcdef"[h & 15];
	id[VG_BL_ID_LEN] = '\0';
}

size_t vg_baseline_key_text(const struct vg_baseline_key *k, char *buf, size_t n)
{
	int len;

	if (k->image[0])
		len = snprintf(buf, n, "%s/%s", k->image, k->container);
	else
		len = snprintf(buf, n, "%s/%s/%s", k->namespace_, k->deployment, k->container);
	if (len < 0)
		return 0;
	return (size_t)len;
}

static bool same_key(const struct vg_baseline_key *a, const struct vg_baseline_key *k)
{
	return !strcmp(a->namespace_, k->namespace_) && !strcmp(a->deployment, k->deployment) &&
	       !strcmp(a->container, k->container) && !strcmp(a->image, k->image);
}

struct bl_item *bl_item_by_id(struct vg_baselines *b, const char *id)
{
	return alert_strmap_get(&b->by_id, id);
}

const struct vg_baseline *vg_baselines_get(struct vg_baselines *b, const struct vg_baseline_key *k)
{
	char id[VG_BL_ID_LEN + 1];
	struct bl_item *it;

	if (!bl_key_valid(k))
		return NULL;
	bl_key_id(k, id);
	it = bl_item_by_id(b, id);
	if (!it || !same_key(&it->pub.key, k))
		return NULL;
	return &it->pub;
}

const struct vg_baseline *vg_baselines_find(struct vg_baselines *b, const char *id_or_text)
{
	char text[VG_BL_IMAGE_MAX + VG_BL_NS_MAX + VG_BL_DEPLOY_MAX + VG_BL_CTR_MAX + 4];
	struct bl_item *it;

	if (!id_or_text)
		return NULL;
	if (strlen(id_or_text) == VG_BL_ID_LEN && (it = bl_item_by_id(b, id_or_text)))
		return &it->pub;
	for (size_t i = 0; i < b->n_items; i++) {
		(void)vg_baseline_key_text(&b->items[i]->pub.key, text, sizeof(text)); /* fits */
		if (!strcmp(text, id_or_text))
			return &b->items[i]->pub;
	}
	return NULL;
}

bool bl_path_valid(const char *path)
{
	return path && path[0] == '/' && strnlen(path, VG_BL_PATH_MAX) < VG_BL_PATH_MAX;
}

void bl_changed(struct vg_baselines *b, const struct bl_item *it)
{
	b->gen++;
	if (b->cb)
		b->cb(b->cb_ctx, &it->pub);
}

/* ---- the baselines ---- */

struct vg_baselines *bl_new(struct vg_alerts *store)
{
	struct vg_baselines *b = calloc(1, sizeof(*b));

	if (!b)
		return NULL;
	b->store = store;
	b->max_elements = VG_BL_DEF_ELEMENTS;
	return b;
}

static void item_free(struct vg_baselines *b, struct bl_item *it)
{
	for (size_t i = 0; i < it->pub.n_elements; i++)
		bl_unintern(b, it->elems[i].path);
	for (size_t i = 0; i < it->pub.n_removed; i++)
		bl_unintern(b, it->grave[i]);
	free(it->elems);
	free(it->set);
	free(it->grave);
	free(it);
}

void bl_free(struct vg_baselines *b)
{
	if (!b)
		return;
	for (size_t i = 0; i < b->n_items; i++)
		item_free(b, b->items[i]);
	free(b->items);
	free(b->strs);
	alert_strmap_free(&b->by_id);
	free(b);
}

struct bl_item *bl_item_make(struct vg_baselines *b, const struct vg_baseline_key *k,
			     uint64_t created_ns, uint64_t observe_until_ns)
{
	struct bl_item *it;

	if (b->n_items == b->items_cap) {
		size_t cap = b->items_cap ? b->items_cap * 2 : 64;
		struct bl_item **items = realloc(b->items, cap * sizeof(*items));

		if (!items)
			return NULL;
		b->items = items;
		b->items_cap = cap;
	}
	it = calloc(1, sizeof(*it));
	if (!it)
		return NULL;
	it->pub.key = *k;
	bl_key_id(k, it->pub.id);
	it->pub.created_ns = it->pub.updated_ns = created_ns;
	it->pub.observe_until_ns = observe_until_ns;
	if (alert_strmap_put(&b->by_id, it->pub.id, it)) {
		free(it);
		return NULL;
	}
	b->items[b->n_items++] = it;
	b->gen++;
	return it;
}

void bl_item_drop(struct vg_baselines *b, struct bl_item *it)
{
	for (size_t i = 0; i < b->n_items; i++) {
		if (b->items[i] == it) {
			b->items[i] = b->items[--b->n_items];
			break;
		}
	}
	alert_strmap_del(&b->by_id, it->pub.id);
	item_free(b, it);
	b->gen++;
}

struct vg_baselines *vg_alerts_baselines(struct vg_alerts *s)
{
	return s->baselines;
}

void vg_baselines_set_cap(struct vg_baselines *b, size_t max_elements)
{
	if (max_elements < 1)
		max_elements = 1;
	if (max_elements > CAP_MAX)
		max_elements = CAP_MAX;
	b->max_elements = max_elements;
}

uint64_t vg_baselines_generation(const struct vg_baselines *b)
{
	return b->gen;
}

const uint64_t *vg_baselines_generation_at(const struct vg_baselines *b)
{
	return &b->gen;
}

void vg_baselines_on_change(struct vg_baselines *b, vg_baselines_changed_cb cb, void *ctx)
{
	b->cb = cb;
	b->cb_ctx = ctx;
}

const struct vg_baseline *bl_at(struct vg_baselines *b, size_t i)
{
	if (i >= b->n_items)
		return NULL;
	return &b->items[i]->pub;
}

/* ---- replay: the records applied, nothing written ---- */

static int by_path(const void *pa, const void *pb)
{
	const struct vg_bl_element *a = pa, *c = pb;

	return strcmp(a->path, c->path);
}

/* Sorts what replay appended, keeps a path given twice once, and indexes it. */
static void settle(struct vg_baselines *b, struct bl_item *it)
{
	size_t kept = 0;

	if (!it->unsorted)
		return;
	qsort(it->elems, it->pub.n_elements, sizeof(*it->elems), by_path);
	for (size_t i = 0; i < it->pub.n_elements; i++) {
		if (kept && it->elems[kept - 1].path == it->elems[i].path) /* interned: same */
			bl_unintern(b, it->elems[i].path);
		else
			it->elems[kept++] = it->elems[i];
	}
	it->pub.n_elements = kept;
	it->unsorted = false;
	set_rebuild(it);
}

void bl_settle(struct vg_baselines *b)
{
	b->gen++;
	for (size_t i = 0; i < b->n_items; i++)
		settle(b, b->items[i]);
}

static void touch(struct bl_item *it, uint64_t t)
{
	if (t > it->pub.updated_ns)
		it->pub.updated_ns = t;
}

bool bl_apply_made(struct vg_baselines *b, const struct vg_baseline_key *k, const char *id,
		   uint64_t created_ns, uint64_t observe_until_ns, uint64_t updated_ns)
{
	char want[VG_BL_ID_LEN + 1];
	struct bl_item *it;

	if (!bl_key_valid(k))
		return false;
	bl_key_id(k, want);
	if (strcmp(want, id))
		return false;
	if (bl_item_by_id(b, id))
		return true; /* made again after a compaction that kept it: the first stays */
	it = bl_item_make(b, k, created_ns, observe_until_ns);
	if (it)
		touch(it, updated_ns);
	return it != NULL;
}

bool bl_apply_element(struct vg_baselines *b, const char *id, const char *path,
		      enum vg_bl_origin origin, uint64_t t)
{
	struct bl_item *it = bl_item_by_id(b, id);
	const char *s;

	if (!it || !bl_path_valid(path) || (origin != VG_BL_LEARNED && origin != VG_BL_USER))
		return false;
	if (origin == VG_BL_USER)
		bl_grave_del(b, it, path);
	if (bl_reserve(it, 1) || !(s = bl_intern(b, path)))
		return false;
	/* appended: sorted (and a path twice kept once) by bl_settle when replay is done */
	it->elems[it->pub.n_elements++] =
		(struct vg_bl_element){.path = s, .origin = origin, .added_ns = t};
	it->unsorted = true;
	touch(it, t);
	return true;
}

bool bl_apply_removed(struct vg_baselines *b, const char *id, const char *path, uint64_t t)
{
	struct bl_item *it = bl_item_by_id(b, id);
	bool found;
	size_t pos;

	if (!it || !bl_path_valid(path))
		return false;
	settle(b, it);
	pos = bl_elem_pos(it, path, &found);
	if (bl_grave_add(b, it, path))
		return false;
	if (found)
		bl_elem_remove(b, it, pos);
	touch(it, t);
	return true;
}

bool bl_apply_lock(struct vg_baselines *b, const char *id, bool locked, bool by_user, uint64_t t)
{
	struct bl_item *it = bl_item_by_id(b, id);

	if (!it)
		return false;
	b->gen++;
	it->pub.locked = locked;
	it->pub.auto_locked = locked && !by_user;
	it->pub.locked_ns = 0;
	if (locked)
		it->pub.locked_ns = t;
	touch(it, t);
	return true;
}

bool bl_apply_deleted(struct vg_baselines *b, const char *id)
{
	struct bl_item *it = bl_item_by_id(b, id);

	if (!it)
		return false;
	bl_item_drop(b, it);
	return true;
}

bool bl_apply_capped(struct vg_baselines *b, const char *id, uint64_t n)
{
	struct bl_item *it = bl_item_by_id(b, id);

	if (!it)
		return false;
	it->pub.capped = n;
	it->capped_logged = n;
	return true;
}

void bl_count_bad(struct vg_baselines *b)
{
	b->records_bad++;
}

uint64_t bl_dead_records(struct vg_baselines *b)
{
	return b->dead;
}

void bl_compacted(struct vg_baselines *b)
{
	b->dead = 0;
	for (size_t i = 0; i < b->n_items; i++)
		b->items[i]->capped_logged = b->items[i]->pub.capped;
}
