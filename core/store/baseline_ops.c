// SPDX-License-Identifier: BSD-2-Clause
/*
 * baseline_ops.c - the changes to the process baselines (baselines.h): each
 * is checked whole, appended to the store's log, then applied to the model
 * (baselines.c) and told to the observer. Listing and counting too.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "baselines_priv.h"
#include "log.h"

int vg_baselines_ensure(struct vg_baselines *b, const struct vg_baseline_key *k, uint64_t now_ns,
			uint64_t observe_ns, const struct vg_baseline **out)
{
	const struct vg_baseline *bl = vg_baselines_get(b, k);
	struct bl_item *it;
	struct bl_rec rec = {0};
	int rc;

	*out = bl;
	if (bl)
		return 0;
	if (!bl_key_valid(k))
		return -EINVAL;
	it = bl_item_make(b, k, now_ns, now_ns + observe_ns);
	if (!it)
		return -ENOMEM;
	rec.bl = &it->pub;
	rc = bl_log_put(b->store, ALERT_REC_BL_MADE, &rec);
	if (rc) {
		bl_item_drop(b, it); /* not in the log: not made */
		return rc;
	}
	*out = &it->pub;
	return 0;
}

/* A capped count is written when it reaches a power of two, and at compaction and close. */
static void count_capped(struct vg_baselines *b, struct bl_item *it)
{
	struct bl_rec rec = {.bl = &it->pub};
	uint64_t n = ++it->pub.capped;

	if (n & (n - 1))
		return;
	rec.n = n;
	if (!bl_log_put(b->store, ALERT_REC_BL_CAPPED, &rec))
		it->capped_logged = n;
}

/* Appends an element's record and applies it; the interned path s moves in. */
static int put_element(struct vg_baselines *b, struct bl_item *it, const char *s,
		       enum vg_bl_origin origin, uint64_t now_ns)
{
	struct bl_rec rec = {.bl = &it->pub, .path = s, .origin = origin, .time_ns = now_ns};
	int rc = bl_log_put(b->store, ALERT_REC_BL_ELEMENT, &rec);

	if (rc) {
		bl_unintern(b, s);
		return rc;
	}
	if (origin == VG_BL_USER)
		bl_grave_del(b, it, s);
	bl_elem_insert(it, s, origin, now_ns);
	if (now_ns > it->pub.updated_ns)
		it->pub.updated_ns = now_ns;
	return 0;
}

int vg_baselines_learn(struct vg_baselines *b, const struct vg_baseline *bl, const char *path,
		       uint64_t now_ns)
{
	struct bl_item *it = bl_item_of(bl);
	const char *s;
	bool found;
	int rc;

	if (!it || !bl_path_valid(path))
		return -EINVAL;
	if (it->pub.locked || vg_baselines_has(bl, path))
		return 0;
	(void)bl_grave_pos(it, path, &found);
	if (found)
		return 0;
	if (it->pub.n_elements >= b->max_elements) {
		count_capped(b, it);
		return -ENOSPC;
	}
	if (bl_reserve(it, 1) || !(s = bl_intern(b, path)))
		return -ENOMEM;
	rc = put_element(b, it, s, VG_BL_LEARNED, now_ns);
	if (rc)
		return rc;
	if (b->cb) /* the observer only: a learned path leaves the generation (baselines.h) */
		b->cb(b->cb_ctx, &it->pub);
	return 1;
}

/* The first bad path of a user change, named in err; 0 when all are good. */
static int check_paths(const struct bl_item *it, const char *const *paths, size_t n, bool adding,
		       char *err, size_t errlen)
{
	for (size_t i = 0; i < n; i++) {
		const char *p = paths[i];
		bool found;

		if (!p || p[0] != '/')
			return vg_errf(err, errlen, -EINVAL, "path '%.200s' is not absolute",
				       p ? p : "(null)");
		if (strnlen(p, VG_BL_PATH_MAX) >= VG_BL_PATH_MAX)
			return vg_errf(err, errlen, -EINVAL, "path '%.200s...' is longer than %d",
				       p, VG_BL_PATH_MAX - 1);
		for (size_t j = 0; j < i; j++)
			if (!strcmp(paths[j], p))
				return vg_errf(err, errlen, adding ? -EEXIST : -ENOENT,
					       "path '%.200s' is named twice", p);
		(void)bl_elem_pos(it, p, &found);
		if (adding && found)
			return vg_errf(err, errlen, -EEXIST, "path '%.200s' is already in %s", p,
				       it->pub.id);
		if (!adding && !found)
			return vg_errf(err, errlen, -ENOENT, "path '%.200s' is not in %s", p,
				       it->pub.id);
	}
	return 0;
}

int vg_baselines_add(struct vg_baselines *b, const struct vg_baseline *bl, const char *const *paths,
		     size_t n, uint64_t now_ns, char *err, size_t errlen)
{
	struct bl_item *it = bl_item_of(bl);
	int rc;

	if (!it)
		return vg_errf(err, errlen, -ENOENT, "no such baseline");
	rc = check_paths(it, paths, n, true, err, errlen);
	if (rc)
		return rc;
	if (it->pub.n_elements + n > b->max_elements)
		return vg_errf(err, errlen, -ENOSPC, "%s would have %zu paths, over the cap of %zu",
			       it->pub.id, it->pub.n_elements + n, b->max_elements);
	if (bl_reserve(it, n))
		return vg_errf(err, errlen, -ENOMEM, "out of memory adding to %s", it->pub.id);
	for (size_t i = 0; i < n; i++) {
		const char *s = bl_intern(b, paths[i]);

		rc = s ? put_element(b, it, s, VG_BL_USER, now_ns) : -ENOMEM;
		if (rc) { /* what went before is in the log, and kept */
			if (i)
				bl_changed(b, it);
			return vg_errf(err, errlen, rc, "%s: could not store '%.200s'", it->pub.id,
				       paths[i]);
		}
	}
	if (n)
		bl_changed(b, it);
	return 0;
}

/* Appends a removal and applies it. */
static int put_removed(struct vg_baselines *b, struct bl_item *it, const char *path,
		       uint64_t now_ns)
{
	struct bl_rec rec = {.bl = &it->pub, .path = path, .time_ns = now_ns};
	bool found;
	size_t pos;
	int rc;

	if (bl_grave_add(b, it, path)) /* first: the removal is then sure to apply */
		return -ENOMEM;
	rc = bl_log_put(b->store, ALERT_REC_BL_REMOVED, &rec);
	if (rc) {
		bl_grave_del(b, it, path);
		return rc;
	}
	pos = bl_elem_pos(it, path, &found);
	if (found)
		bl_elem_remove(b, it, pos);
	if (now_ns > it->pub.updated_ns)
		it->pub.updated_ns = now_ns;
	b->dead++; /* the element's own record */
	return 0;
}

int vg_baselines_remove(struct vg_baselines *b, const struct vg_baseline *bl,
			const char *const *paths, size_t n, uint64_t now_ns, char *err,
			size_t errlen)
{
	struct bl_item *it = bl_item_of(bl);
	int rc;

	if (!it)
		return vg_errf(err, errlen, -ENOENT, "no such baseline");
	rc = check_paths(it, paths, n, false, err, errlen);
	if (rc)
		return rc;
	for (size_t i = 0; i < n; i++) {
		rc = put_removed(b, it, paths[i], now_ns);
		if (rc) { /* what went before is in the log, and kept */
			if (i)
				bl_changed(b, it);
			return vg_errf(err, errlen, rc,
				       "%s: could not store the removal of '%.200s'", it->pub.id,
				       paths[i]);
		}
	}
	if (n)
		bl_changed(b, it);
	return 0;
}

int vg_baselines_lock(struct vg_baselines *b, const struct vg_baseline *bl, bool locked,
		      bool by_user, uint64_t now_ns)
{
	struct bl_item *it = bl_item_of(bl);
	struct bl_rec rec = {.bl = bl, .locked = locked, .by_user = by_user, .time_ns = now_ns};
	int rc;

	if (!it)
		return -ENOENT;
	if (it->pub.locked == locked && (!locked || it->pub.auto_locked == !by_user))
		return 0; /* as asked already */
	rc = bl_log_put(b->store, ALERT_REC_BL_LOCK, &rec);
	if (rc)
		return rc;
	if (it->pub.locked)
		b->dead++;					     /* the lock before */
	(void)bl_apply_lock(b, it->pub.id, locked, by_user, now_ns); /* it exists */
	bl_changed(b, it);
	return 0;
}

int vg_baselines_delete(struct vg_baselines *b, const struct vg_baseline *bl)
{
	struct bl_item *it = bl_item_of(bl);
	struct bl_rec rec = {.bl = bl};
	int rc;

	if (!it)
		return -ENOENT;
	rc = bl_log_put(b->store, ALERT_REC_BL_DELETED, &rec);
	if (rc)
		return rc;
	b->dead += 2 + it->pub.n_elements + it->pub.n_removed + it->pub.locked;
	/* out of the map first: the observer finds the key gone */
	alert_strmap_del(&b->by_id, it->pub.id);
	bl_changed(b, it);
	bl_item_drop(b, it);
	return 0;
}

static int by_key_text(const void *pa, const void *pb)
{
	const struct vg_baseline *a = *(const struct vg_baseline *const *)pa;
	const struct vg_baseline *c = *(const struct vg_baseline *const *)pb;
	char ta[1024], tc[1024];

	(void)vg_baseline_key_text(&a->key, ta, sizeof(ta)); /* long keys compare on 1023 bytes */
	(void)vg_baseline_key_text(&c->key, tc, sizeof(tc));
	return strcmp(ta, tc);
}

int vg_baselines_list(struct vg_baselines *b, const struct vg_baseline ***out, size_t *n)
{
	const struct vg_baseline **v = malloc((b->n_items + 1) * sizeof(*v));

	*out = NULL;
	*n = 0;
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < b->n_items; i++)
		v[i] = &b->items[i]->pub;
	qsort(v, b->n_items, sizeof(*v), by_key_text);
	*out = v;
	*n = b->n_items;
	return 0;
}

void vg_baselines_stats(struct vg_baselines *b, struct vg_baselines_stats *st)
{
	struct timespec ts;
	uint64_t now;

	(void)clock_gettime(CLOCK_REALTIME, &ts); /* CLOCK_REALTIME cannot fail */
	now = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	memset(st, 0, sizeof(*st));
	st->baselines = b->n_items;
	st->records_bad = b->records_bad;
	for (size_t i = 0; i < b->n_items; i++) {
		const struct vg_baseline *bl = &b->items[i]->pub;

		st->locked += bl->locked;
		st->observing += !bl->locked && now < bl->observe_until_ns;
		st->elements += bl->n_elements;
		st->capped += bl->capped;
	}
}

void bl_flush(struct vg_baselines *b)
{
	for (size_t i = 0; i < b->n_items; i++) {
		struct bl_item *it = b->items[i];
		struct bl_rec rec = {.bl = &it->pub, .n = it->pub.capped};

		if (it->pub.capped != it->capped_logged &&
		    !bl_log_put(b->store, ALERT_REC_BL_CAPPED, &rec))
			it->capped_logged = it->pub.capped;
	}
}
