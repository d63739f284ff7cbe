// SPDX-License-Identifier: BSD-2-Clause
/*
 * baseline_log.c - the baselines' records in the store's log: the packers and
 * replayers of alert_log.c's rows bk, be, br, bl, bd and bc (the fields are
 * listed there), and the snapshot compaction writes. A record that does not
 * read (a field missing or of the wrong type, an unknown baseline, a path
 * that is not absolute) is skipped and counted in records_bad.
 */
#include <errno.h>
#include <string.h>

#include <msgpack.h>

#include "baselines_priv.h"

/* ---- packing ---- */

static bool put_str(msgpack_packer *pk, const char *k, const char *v)
{
	return !msgpack_pack_str_with_body(pk, k, strlen(k)) &&
	       !msgpack_pack_str_with_body(pk, v, strlen(v));
}

static bool put_u64(msgpack_packer *pk, const char *k, uint64_t v)
{
	return !msgpack_pack_str_with_body(pk, k, strlen(k)) && !msgpack_pack_uint64(pk, v);
}

static bool put_bool(msgpack_packer *pk, const char *k, bool v)
{
	if (msgpack_pack_str_with_body(pk, k, strlen(k)))
		return false;
	if (v)
		return !msgpack_pack_true(pk);
	return !msgpack_pack_false(pk);
}

static bool put_head(msgpack_packer *pk, size_t nfields, const char *type,
		     const struct alert_rec *r)
{
	return !msgpack_pack_map(pk, nfields) && put_str(pk, "t", type) &&
	       put_str(pk, "id", r->baseline->bl->id);
}

bool bl_pack_made(struct msgpack_packer *pk, const char *type, const struct alert_rec *r)
{
	const struct vg_baseline *bl = r->baseline->bl;

	return put_head(pk, 9, type, r) && put_str(pk, "ns", bl->key.namespace_) &&
	       put_str(pk, "deploy", bl->key.deployment) && put_str(pk, "ctr", bl->key.container) &&
	       put_str(pk, "image", bl->key.image) && put_u64(pk, "created", bl->created_ns) &&
	       put_u64(pk, "observe_until", bl->observe_until_ns) &&
	       put_u64(pk, "updated", bl->updated_ns);
}

bool bl_pack_element(struct msgpack_packer *pk, const char *type, const struct alert_rec *r)
{
	const struct bl_rec *br = r->baseline;

	return put_head(pk, 5, type, r) && put_str(pk, "path", br->path) &&
	       put_u64(pk, "origin", (uint64_t)br->origin) && put_u64(pk, "time", br->time_ns);
}

bool bl_pack_removed(struct msgpack_packer *pk, const char *type, const struct alert_rec *r)
{
	const struct bl_rec *br = r->baseline;

	return put_head(pk, 4, type, r) && put_str(pk, "path", br->path) &&
	       put_u64(pk, "time", br->time_ns);
}

bool bl_pack_lock(struct msgpack_packer *pk, const char *type, const struct alert_rec *r)
{
	const struct bl_rec *br = r->baseline;

	return put_head(pk, 5, type, r) && put_bool(pk, "locked", br->locked) &&
	       put_bool(pk, "by_user", br->by_user) && put_u64(pk, "time", br->time_ns);
}

bool bl_pack_deleted(struct msgpack_packer *pk, const char *type, const struct alert_rec *r)
{
	return put_head(pk, 2, type, r);
}

bool bl_pack_capped(struct msgpack_packer *pk, const char *type, const struct alert_rec *r)
{
	return put_head(pk, 3, type, r) && put_u64(pk, "n", r->baseline->n);
}

int bl_log_put(struct vg_alerts *store, int type, const struct bl_rec *br)
{
	struct alert_rec r = {.type = (enum alert_rec_type)type, .baseline = br};

	return alert_log_put(store->log, &r);
}

/* ---- replay ---- */

static const msgpack_object *get(const msgpack_object *o, const char *k)
{
	size_t kl = strlen(k);

	for (uint32_t i = 0; i < o->via.map.size; i++) {
		const msgpack_object *key = &o->via.map.ptr[i].key;

		if (key->type == MSGPACK_OBJECT_STR && key->via.str.size == kl &&
		    !memcmp(key->via.str.ptr, k, kl))
			return &o->via.map.ptr[i].val;
	}
	return NULL;
}

/* A string field into buf (n bytes with its NUL): false when absent, not a string or too long. */
static bool get_str(const msgpack_object *o, const char *k, char *buf, size_t n)
{
	const msgpack_object *v = get(o, k);

	if (!v || v->type != MSGPACK_OBJECT_STR || v->via.str.size >= n ||
	    memchr(v->via.str.ptr, 0, v->via.str.size))
		return false;
	memcpy(buf, v->via.str.ptr, v->via.str.size);
	buf[v->via.str.size] = '\0';
	return true;
}

static bool get_u64(const msgpack_object *o, const char *k, uint64_t *out)
{
	const msgpack_object *v = get(o, k);

	if (!v || v->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
		return false;
	*out = v->via.u64;
	return true;
}

static bool get_bool(const msgpack_object *o, const char *k, bool *out)
{
	const msgpack_object *v = get(o, k);

	if (!v || v->type != MSGPACK_OBJECT_BOOLEAN)
		return false;
	*out = v->via.boolean;
	return true;
}

/* Counts a record that did not apply. */
static void judge(struct vg_alerts *s, bool applied)
{
	if (!applied)
		bl_count_bad(s->baselines);
}

void bl_replay_made(struct vg_alerts *s, const struct msgpack_object *o, const char *id)
{
	struct vg_baseline_key k;
	uint64_t created = 0, until = 0, updated = 0;
	bool ok = id && get_str(o, "ns", k.namespace_, sizeof(k.namespace_)) &&
		  get_str(o, "deploy", k.deployment, sizeof(k.deployment)) &&
		  get_str(o, "ctr", k.container, sizeof(k.container)) &&
		  get_str(o, "image", k.image, sizeof(k.image)) && get_u64(o, "created", &created);

	(void)get_u64(o, "observe_until", &until); /* absent: not set */
	(void)get_u64(o, "updated", &updated);	   /* absent: the creation */
	judge(s, ok && bl_apply_made(s->baselines, &k, id, created, until, updated));
}

void bl_replay_element(struct vg_alerts *s, const struct msgpack_object *o, const char *id)
{
	char path[VG_BL_PATH_MAX];
	uint64_t origin = 0, t = 0;
	bool ok = id && get_str(o, "path", path, sizeof(path)) && get_u64(o, "origin", &origin) &&
		  get_u64(o, "time", &t);

	judge(s, ok && origin <= VG_BL_USER &&
			 bl_apply_element(s->baselines, id, path, (enum vg_bl_origin)origin, t));
}

void bl_replay_removed(struct vg_alerts *s, const struct msgpack_object *o, const char *id)
{
	char path[VG_BL_PATH_MAX];
	uint64_t t = 0;
	bool ok = id && get_str(o, "path", path, sizeof(path));

	(void)get_u64(o, "time", &t); /* absent in a snapshot's graveyard */
	judge(s, ok && bl_apply_removed(s->baselines, id, path, t));
}

void bl_replay_lock(struct vg_alerts *s, const struct msgpack_object *o, const char *id)
{
	bool locked = false, by_user = false;
	uint64_t t = 0;
	bool ok = id && get_bool(o, "locked", &locked) && get_bool(o, "by_user", &by_user) &&
		  get_u64(o, "time", &t);

	judge(s, ok && bl_apply_lock(s->baselines, id, locked, by_user, t));
}

void bl_replay_deleted(struct vg_alerts *s, const struct msgpack_object *o, const char *id)
{
	(void)o;
	judge(s, id && bl_apply_deleted(s->baselines, id));
}

void bl_replay_capped(struct vg_alerts *s, const struct msgpack_object *o, const char *id)
{
	uint64_t n = 0;

	judge(s, id && get_u64(o, "n", &n) && bl_apply_capped(s->baselines, id, n));
}

/* ---- the snapshot compaction writes ---- */

enum snap_phase { SNAP_MADE, SNAP_ELEMENTS, SNAP_GRAVE, SNAP_LOCK, SNAP_CAPPED, SNAP_NEXT };

/* The next record of the baseline bl at it->phase into it->rec; false when bl is done. */
static bool snap_step(const struct vg_baseline *bl, struct bl_snapshot_it *it,
		      enum alert_rec_type *type)
{
	struct bl_rec *rec = &it->rec;

	memset(rec, 0, sizeof(*rec));
	rec->bl = bl;
	switch ((enum snap_phase)it->phase) {
	case SNAP_MADE:
		*type = ALERT_REC_BL_MADE;
		it->phase = SNAP_ELEMENTS;
		it->ei = 0;
		return true;
	case SNAP_ELEMENTS:
		if (it->ei < bl->n_elements) {
			rec->path = bl->elements[it->ei].path;
			rec->origin = bl->elements[it->ei].origin;
			rec->time_ns = bl->elements[it->ei++].added_ns;
			*type = ALERT_REC_BL_ELEMENT;
			return true;
		}
		it->phase = SNAP_GRAVE;
		it->ei = 0;
		/* fall through */
	case SNAP_GRAVE:
		if (it->ei < bl->n_removed) {
			rec->path = bl->removed[it->ei++];
			*type = ALERT_REC_BL_REMOVED;
			return true;
		}
		it->phase = SNAP_LOCK;
		/* fall through */
	case SNAP_LOCK:
		it->phase = SNAP_CAPPED;
		if (bl->locked) {
			rec->locked = true;
			rec->by_user = !bl->auto_locked;
			rec->time_ns = bl->locked_ns;
			*type = ALERT_REC_BL_LOCK;
			return true;
		}
		/* fall through */
	case SNAP_CAPPED:
		it->phase = SNAP_NEXT;
		if (bl->capped) {
			rec->n = bl->capped;
			*type = ALERT_REC_BL_CAPPED;
			return true;
		}
		/* fall through */
	case SNAP_NEXT:
		break;
	}
	it->phase = SNAP_MADE;
	return false;
}

int bl_snapshot_next(struct vg_baselines *b, struct bl_snapshot_it *it, struct alert_rec *r)
{
	const struct vg_baseline *bl;

	while ((bl = bl_at(b, it->bi))) {
		if (snap_step(bl, it, &r->type)) {
			r->baseline = &it->rec;
			return 1;
		}
		it->bi++;
	}
	return 0;
}
