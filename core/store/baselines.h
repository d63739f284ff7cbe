/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * baselines.h - process baselines: per container specification, the set of
 * executable paths it runs, learned during an observation window or added by
 * a user, and a lock that makes anything else unexpected. Kept in the store's
 * log beside the alerts (same WAL, CRC framing, compaction, rebuild at open).
 *
 * The model only: when to learn (observation window, start-up) and what an
 * exec's real path is are the pipeline's business; it calls vg_baselines_learn
 * and vg_baselines_check. One error convention: 0 or -errno, and a message in
 * the caller's buffer where one is taken.
 */
#ifndef VG_BASELINES_H
#define VG_BASELINES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VG_BL_NS_MAX	   64	/* namespace (Kubernetes: 63 + NUL) */
#define VG_BL_DEPLOY_MAX   254	/* deployment, or pod / container name without a controller */
#define VG_BL_CTR_MAX	   254	/* container name */
#define VG_BL_IMAGE_MAX	   256	/* container image; set only without Kubernetes */
#define VG_BL_PATH_MAX	   4096 /* an element: an absolute executable path */
#define VG_BL_ID_LEN	   16	/* hex characters of a baseline's id */
#define VG_BL_DEF_ELEMENTS 1000 /* elements per baseline unless configured */

/*
 * What a baseline is for. With Kubernetes: namespace, deployment (the top
 * controller's name; the pod's name when it has none) and container name;
 * image is "". Without: namespace and deployment are "", image and container
 * name say which. Text form (vg_baseline_key_text): "NS/DEPLOYMENT/CONTAINER"
 * with Kubernetes, "IMAGE/CONTAINER" without.
 */
struct vg_baseline_key {
	char namespace_[VG_BL_NS_MAX];
	char deployment[VG_BL_DEPLOY_MAX];
	char container[VG_BL_CTR_MAX];
	char image[VG_BL_IMAGE_MAX];
};

enum vg_bl_origin {
	VG_BL_LEARNED, /* seen during observation or start-up */
	VG_BL_USER,    /* added by a user (CLI, API, add-to-baseline) */
};

struct vg_bl_element {
	const char *path;
	enum vg_bl_origin origin;
	uint64_t added_ns; /* wall clock */
};

/* A read-only view; valid until the next change to the baselines. */
struct vg_baseline {
	char id[VG_BL_ID_LEN + 1]; /* stable: a hash of the key */
	struct vg_baseline_key key;
	uint64_t created_ns;	   /* first exec seen for the key */
	uint64_t observe_until_ns; /* end of the observation window (0: not set) */
	uint64_t locked_ns;	   /* 0 while unlocked */
	bool locked;
	bool auto_locked; /* locked at the end of observation, not by a user */
	uint64_t updated_ns;
	size_t n_elements;
	const struct vg_bl_element *elements; /* sorted by path */
	size_t n_removed;
	const char *const *removed; /* the graveyard: removed paths, never re-learned */
	uint64_t capped;	    /* paths the element cap turned away */
};

struct vg_baselines;
struct vg_alerts;

/* The store's baselines (owned by the store; rebuilt when it opens). */
struct vg_baselines *vg_alerts_baselines(struct vg_alerts *s);

/* Elements per baseline (1..100000); beyond it paths are counted in capped. */
void vg_baselines_set_cap(struct vg_baselines *b, size_t max_elements);

/* "NS/DEPLOYMENT/CONTAINER" or "IMAGE/CONTAINER" into buf; its length. */
size_t vg_baseline_key_text(const struct vg_baseline_key *k, char *buf, size_t n);

/* The baseline of a key, or NULL. */
const struct vg_baseline *vg_baselines_get(struct vg_baselines *b, const struct vg_baseline_key *k);
/* By id or by key text (as printed by list); NULL when none. */
const struct vg_baseline *vg_baselines_find(struct vg_baselines *b, const char *id_or_text);

/*
 * Makes the key's baseline when there is none (created_ns = now,
 * observe_until_ns = now + observe_ns) and returns it in *out. 0 or -errno.
 */
int vg_baselines_ensure(struct vg_baselines *b, const struct vg_baseline_key *k, uint64_t now_ns,
			uint64_t observe_ns, const struct vg_baseline **out);

/*
 * Adds a learned path to an unlocked baseline. 1 added, 0 already there or
 * in the graveyard or locked, -ENOSPC at the cap (counted), -EINVAL a path
 * that is not absolute. Durable in the log (one record per new element).
 */
int vg_baselines_learn(struct vg_baselines *b, const struct vg_baseline *bl, const char *path,
		       uint64_t now_ns);

/* Is path in bl's elements? (A hash lookup: this is on every exec.) */
bool vg_baselines_has(const struct vg_baseline *bl, const char *path);
/* The same, path's length known: len bytes before its NUL. */
bool vg_baselines_has_n(const struct vg_baseline *bl, const char *path, size_t len);

/*
 * User changes. add: absolute paths, origin VG_BL_USER (a path in the
 * graveyard leaves it); remove: into the graveyard. Each path is checked
 * first and nothing changes when one is bad: -EINVAL not absolute or too
 * long (err names it), -EEXIST add of a path already there, -ENOENT remove
 * of a path not there; also -ENOSPC an add past the cap, -EEXIST / -ENOENT a
 * path named twice. Then one record per path: should the log refuse one
 * (-ENOSPC, -ENOMEM), the paths before it are kept and the error says which.
 */
int vg_baselines_add(struct vg_baselines *b, const struct vg_baseline *bl, const char *const *paths,
		     size_t n, uint64_t now_ns, char *err, size_t errlen);
int vg_baselines_remove(struct vg_baselines *b, const struct vg_baseline *bl,
			const char *const *paths, size_t n, uint64_t now_ns, char *err,
			size_t errlen);

/* Lock (by_user false: the end of observation with auto_lock) or unlock. */
int vg_baselines_lock(struct vg_baselines *b, const struct vg_baseline *bl, bool locked,
		      bool by_user, uint64_t now_ns);

/* Forgets a baseline (a tombstone record); its key learns afresh next time. */
int vg_baselines_delete(struct vg_baselines *b, const struct vg_baseline *bl);

/* Every baseline, in key-text order, into *out (malloc'd array; free it). */
int vg_baselines_list(struct vg_baselines *b, const struct vg_baseline ***out, size_t *n);

/*
 * Called for each change (learn, add, remove, lock, unlock, delete) after it
 * is in the log, so the kernel's copy can follow at once. One observer.
 * For a delete, bl is still readable during the call but no longer found
 * (vg_baselines_get / find return NULL), and freed right after.
 * Not called while the store replays its log at open.
 */
/*
 * A counter that moves when a baseline is made, added to or removed from by a user,
 * locked, unlocked or deleted (and at the replay at open). A key's baseline remembered
 * with the counter's value is still the one vg_baselines_get gives, with the same lock,
 * while the counter has not moved (the pipeline's per-cgroup cache, core/pipeline). A
 * learned path does not move it: the view stays the key's, its set grows in place.
 */
uint64_t vg_baselines_generation(const struct vg_baselines *b);
/* Where the generation is kept (valid while b is): read on every exec without a call. */
const uint64_t *vg_baselines_generation_at(const struct vg_baselines *b);

typedef void (*vg_baselines_changed_cb)(void *ctx, const struct vg_baseline *bl);
void vg_baselines_on_change(struct vg_baselines *b, vg_baselines_changed_cb cb, void *ctx);

/*
 * StackRox's ProcessBaseline JSON: {"id", "key": {"namespace", "deploymentId",
 * "deploymentName", "containerName", "image"}, "elements": [{"element":
 * {"processName": PATH}, "auto": LEARNED}], "elementGraveyard": [...],
 * "created", "userLockedTimestamp" / "stackRoxLockedTimestamp" (RFC 3339 or
 * null), "lastUpdate", "observeUntil", "locked", "cappedPaths"}.
 */
struct json_t;
struct json_t *vg_baseline_json(const struct vg_baseline *bl);

struct vg_baselines_stats {
	uint64_t baselines, locked, observing, elements, capped, records_bad;
};
void vg_baselines_stats(struct vg_baselines *b, struct vg_baselines_stats *st);

#endif
