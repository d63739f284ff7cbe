/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * baselines_priv.h - what the baseline files of the store share: the model's
 * internals (baselines.c), its log records (baseline_log.c, rows of
 * alert_log.c's table) and its JSON (baseline_json.c).
 */
#ifndef VG_BASELINES_PRIV_H
#define VG_BASELINES_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alerts_priv.h"
#include "baselines.h"

struct vg_alerts;
struct alert_rec;

/* Dead baseline records (deleted baselines, removed elements) that make compaction worth it
 * even when no alert expires. */
#define BL_DEAD_COMPACT 256

/* A record of a baseline, for alert_log.c's rows (the fields its type uses). */
struct bl_rec {
	const struct vg_baseline *bl; /* every type */
	const char *path;	      /* be, br */
	enum vg_bl_origin origin;     /* be */
	uint64_t time_ns;	      /* be, br, bl */
	bool locked, by_user;	      /* bl */
	uint64_t n;		      /* bc */
};

/* ---- baselines.c: the model's parts, for baseline_ops.c ---- */

/* An interned path: the elements and graveyards of every baseline point at s. */
struct bl_str {
	uint32_t refs;
	uint32_t hash;
	char s[];
};

#define STR_OF(p) ((struct bl_str *)(void *)((p)-offsetof(struct bl_str, s)))

/* A slot of a baseline's set: the path's hash beside the element's index, so a probe that
 * does not match reads neither the element nor its string. */
struct bl_slot {
	uint32_t hash;
	uint32_t index; /* of the element + 1; 0: empty */
};

struct bl_item {
	struct vg_baseline pub; /* first: a view is an item */
	struct vg_bl_element *elems;
	size_t elems_cap;
	struct bl_slot *set; /* open addressing; set_cap a power of two */
	size_t set_cap;
	const char **grave; /* sorted */
	size_t grave_cap;
	uint64_t capped_logged; /* the count the log holds */
	bool unsorted;		/* replay appended elements: bl_settle sorts them */
};

struct vg_baselines {
	struct vg_alerts *store;
	struct bl_str **strs; /* the interned paths, open addressing */
	size_t strs_cap, strs_used, strs_live;
	struct bl_item **items;
	size_t n_items, items_cap;
	struct alert_strmap by_id;
	size_t max_elements;
	vg_baselines_changed_cb cb;
	void *cb_ctx;
	uint64_t records_bad, dead;
	uint64_t gen; /* vg_baselines_generation */
};

struct bl_item *bl_item_of(const struct vg_baseline *bl);
/* The interned copy of path with one more reference; NULL when out of memory. */
const char *bl_intern(struct vg_baselines *b, const char *path);
void bl_unintern(struct vg_baselines *b, const char *path);
/* Room for n more elements. 0 or -ENOMEM. */
int bl_reserve(struct bl_item *it, size_t n);
/* Where path is (*found) or would go in the sorted elements (or graveyard). */
size_t bl_elem_pos(const struct bl_item *it, const char *path, bool *found);
size_t bl_grave_pos(const struct bl_item *it, const char *path, bool *found);
/* Inserts an interned path, its reference moving in: room reserved, path not there. */
void bl_elem_insert(struct bl_item *it, const char *path, enum vg_bl_origin origin, uint64_t t);
void bl_elem_remove(struct vg_baselines *b, struct bl_item *it, size_t pos);
/* Into the graveyard (a reference of its own; 0 or -ENOMEM), out of it. */
int bl_grave_add(struct vg_baselines *b, struct bl_item *it, const char *path);
void bl_grave_del(struct vg_baselines *b, struct bl_item *it, const char *path);
bool bl_key_valid(const struct vg_baseline_key *k);
void bl_key_id(const struct vg_baseline_key *k, char id[VG_BL_ID_LEN + 1]);
struct bl_item *bl_item_by_id(struct vg_baselines *b, const char *id);
/* A new empty baseline in the map (NULL: out of memory); freed with bl_item_drop. */
struct bl_item *bl_item_make(struct vg_baselines *b, const struct vg_baseline_key *k,
			     uint64_t created_ns, uint64_t observe_until_ns);
void bl_item_drop(struct vg_baselines *b, struct bl_item *it);
/* A path an element may have: absolute, shorter than VG_BL_PATH_MAX. */
bool bl_path_valid(const char *path);
/* Tells the observer. */
void bl_changed(struct vg_baselines *b, const struct bl_item *it);

/* ---- baselines.c: the model, for the store and the replay ---- */

struct vg_baselines *bl_new(struct vg_alerts *store);
void bl_free(struct vg_baselines *b);

/* Replay, without a record written or the observer called: each is true when it applied
 * (false: a damaged record, counted by the caller). */
bool bl_apply_made(struct vg_baselines *b, const struct vg_baseline_key *k, const char *id,
		   uint64_t created_ns, uint64_t observe_until_ns, uint64_t updated_ns);
bool bl_apply_element(struct vg_baselines *b, const char *id, const char *path,
		      enum vg_bl_origin origin, uint64_t t);
bool bl_apply_removed(struct vg_baselines *b, const char *id, const char *path, uint64_t t);
bool bl_apply_lock(struct vg_baselines *b, const char *id, bool locked, bool by_user, uint64_t t);
bool bl_apply_deleted(struct vg_baselines *b, const char *id);
bool bl_apply_capped(struct vg_baselines *b, const char *id, uint64_t n);
/* Once replay is done: the elements it appended sorted and indexed. */
void bl_settle(struct vg_baselines *b);
/* A baseline record that could not be read. */
void bl_count_bad(struct vg_baselines *b);

/* The baselines in no order (compaction walks them): the i-th, NULL past the end. */
const struct vg_baseline *bl_at(struct vg_baselines *b, size_t i);
/* Records written since the last compaction that replay no longer needs. */
uint64_t bl_dead_records(struct vg_baselines *b);
/* The log was rewritten with a snapshot: nothing dead, the capped counts written. */
void bl_compacted(struct vg_baselines *b);
/* At close: the capped counts the log does not hold yet. */
void bl_flush(struct vg_baselines *b);

/* ---- baseline_log.c: the records ---- */

struct msgpack_packer;
struct msgpack_object;

/* Packers and replayers of alert_log.c's rows bk, be, br, bl, bd, bc. */
bool bl_pack_made(struct msgpack_packer *pk, const char *type, const struct alert_rec *r);
bool bl_pack_element(struct msgpack_packer *pk, const char *type, const struct alert_rec *r);
bool bl_pack_removed(struct msgpack_packer *pk, const char *type, const struct alert_rec *r);
bool bl_pack_lock(struct msgpack_packer *pk, const char *type, const struct alert_rec *r);
bool bl_pack_deleted(struct msgpack_packer *pk, const char *type, const struct alert_rec *r);
bool bl_pack_capped(struct msgpack_packer *pk, const char *type, const struct alert_rec *r);
void bl_replay_made(struct vg_alerts *s, const struct msgpack_object *o, const char *id);
void bl_replay_element(struct vg_alerts *s, const struct msgpack_object *o, const char *id);
void bl_replay_removed(struct vg_alerts *s, const struct msgpack_object *o, const char *id);
void bl_replay_lock(struct vg_alerts *s, const struct msgpack_object *o, const char *id);
void bl_replay_deleted(struct vg_alerts *s, const struct msgpack_object *o, const char *id);
void bl_replay_capped(struct vg_alerts *s, const struct msgpack_object *o, const char *id);

/* Appends one baseline record to the store's log. 0 or -errno. */
int bl_log_put(struct vg_alerts *store, int type, const struct bl_rec *br);

/* Compaction's walk over the baselines: a snapshot that replays into the same ones. */
struct bl_snapshot_it {
	size_t bi, ei;
	int phase;
	struct bl_rec rec;
};
/* The next record into r (1), or 0 at the end. */
int bl_snapshot_next(struct vg_baselines *b, struct bl_snapshot_it *it, struct alert_rec *r);

#endif
