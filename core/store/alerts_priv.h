/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * alerts_priv.h - what the files of the alert store share and nobody else
 * sees: the store object, the string map, the field index, the policy
 * settings, the log codec and the model's own calls.
 *
 *   alerts.c          the model: violations merged into alerts, resolve, enforcement
 *   alert_strmap.c    string -> pointer hash map (ids, merge keys, index keys)
 *   alert_index.c     the time index: skip lists of the alerts newest first (all, per state,
 *                     per field value)
 *   alert_query.c     the queries: a walk of the shortest list from its newest end
 *   alert_log.c       the log codec: one table of record types, pack and replay
 *   alert_compact.c   compaction: the log rewritten with only what replay needs
 *   alert_doc.c       the StackRox alert document (emitter, JSON)
 *   alert_labels.c    an alert's pod labels: bounded copy, log field, walk
 *   policy_settings.c per-policy enable / enforcement overrides
 *   baselines.c, baseline_ops.c, baseline_log.c, baseline_json.c: process baselines
 *                     (baselines_priv.h)
 */
#ifndef VG_ALERTS_PRIV_H
#define VG_ALERTS_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alerts.h"

/* ---- alert_strmap.c ---- */

/* string -> pointer, open addressing; the keys are owned by the values. */
struct alert_strmap {
	const char **keys;
	void **vals;
	size_t cap, n, used; /* used: live keys and tombstones, which end probe chains only at an
				empty slot */
};

void *alert_strmap_get(struct alert_strmap *m, const char *key);
/* 0 or -ENOMEM. */
int alert_strmap_put(struct alert_strmap *m, const char *key, void *val);
void alert_strmap_del(struct alert_strmap *m, const char *key);
/* The value in slot i (0 .. cap), NULL for an empty or deleted slot: for walking the map. */
void *alert_strmap_slot(const struct alert_strmap *m, size_t i);
void alert_strmap_free(struct alert_strmap *m);

/* ---- alert_index.c ---- */

#define IX_LEVELS 16 /* skip list levels: 4^16 alerts before the walk slows */

/* A skip list node: an alert, its time as filed (compared without reading the alert), and
 * its links, as many as its level. */
struct ix_node {
	const struct vg_alert *a;
	uint64_t t;
	struct ix_node *next[];
};

/* Alerts newest first (time, then id); head: the links of every level, made at the first. */
struct ix_list {
	struct ix_node *head;
	int lvl;  /* levels in use */
	size_t n; /* alerts in it */
	char *key;
};

/*
 * The alerts in time order: all of them, per state, per field value
 * ("p\x1f<policy name or id>", "n\x1f<ns>", "d\x1f<deploy>", "o\x1f<pod>"). An alert's
 * ix_time and ix_state say where it is. While defer is set (the log's replay) nothing
 * is linked: alert_index_build links all at the end.
 */
struct alert_index {
	struct ix_list all, by_state[3];
	struct alert_strmap by_field;
	uint64_t rng;	  /* levels are drawn from it: the same operations, the same lists */
	uint64_t dropped; /* links not made for want of memory */
	bool defer;
};

void alert_index_add(struct alert_index *ix, struct vg_alert *a);
void alert_index_del(struct alert_index *ix, struct vg_alert *a);
/* a's time or state changed: moves it in its lists (O(log n) a list). */
void alert_index_touch(struct alert_index *ix, struct vg_alert *a);
/* Links all (after a deferred replay). */
void alert_index_build(struct alert_index *ix, struct vg_alert **all, size_t n);
/* The list of field tag ('p', 'n', 'd', 'o') value val; NULL: none (and not make). */
struct ix_list *alert_index_list(struct alert_index *ix, char tag, const char *val, bool make);
void alert_index_free(struct alert_index *ix);

/* ---- policy_settings.c ---- */

struct policy_settings {
	struct vg_policy_setting *v;
	int n;
};

/* The setting of policy, made (unset) when there is none; NULL when out of memory. */
struct vg_policy_setting *policy_settings_slot(struct policy_settings *ps, const char *policy);
/* Applies a setting (a record replayed or appended); enabled < 0 or enforcement NULL: unset. */
void policy_settings_apply(struct vg_policy_setting *st, int enabled, const char *enforcement);
void policy_settings_free(struct policy_settings *ps);

/* ---- the store ---- */

struct alert_log;
struct alert_timeline;

struct vg_alerts {
	struct alert_log *log;
	struct vg_alert **all; /* in creation order */
	size_t nall, capall;
	struct alert_strmap by_id, open_by_key;
	struct alert_index index;
	struct policy_settings settings;
	struct vg_baselines *baselines;
	uint64_t merged, violations;
	struct alert_timeline *timeline; /* alert_timeline.c */
	uint64_t timeline_uncounted;	 /* violations of no known severity, or too old */
	vg_alerts_change_fn on_change;	 /* the observer, or NULL */
	void *on_change_ctx;
};

/* ---- alerts.c: the model, for the codec's replay ---- */

/* What an alert is made with (its "ac" record). */
struct alert_head {
	const char *id, *policy_id, *policy_name, *severity;
	const char *namespace_, *deployment, *pod, *pod_uid, *container_id;
	const char *container_name, *image; /* NULL: unknown */
	const char *const *labels;	    /* key, value, ..., NULL; NULL: none */
	uint64_t time_ns;
};

/* An alert's state past its kept processes (its "as" record); the strings are owned. */
struct alert_summary {
	uint64_t violations, time_ns, state, resolved_ns, enf_ns, enf_count;
	char *action, *msg;
	char *targets[64];
	uint32_t ntargets;
};

struct vg_alert *alert_make(struct vg_alerts *s, const struct alert_head *h);
struct vg_alert *alert_by_id(struct vg_alerts *s, const char *id);
/* Adds a process to the alert's ring; takes ownership of p's strings. */
void alert_push(struct vg_alerts *s, struct vg_alert *a, struct vg_proc_rec *p);
void alert_proc_free(struct vg_proc_rec *p);
void alert_free(struct vg_alert *a);
/* Takes ownership of action, msg and target. */
void alert_apply_enforced(struct vg_alerts *s, struct vg_alert *a, char *action, bool ok, char *msg,
			  char *target, uint64_t t);
void alert_apply_resolved(struct vg_alerts *s, struct vg_alert *a, uint64_t t);
/* Takes ownership of the summary's strings. */
void alert_apply_summary(struct vg_alerts *s, struct vg_alert *a, struct alert_summary *sum);
/* The i-th most recent process (0 = latest). */
const struct vg_proc_rec *alert_proc_at(const struct vg_alert *a, int i);

/* ---- alert_labels.c ---- */

struct msgpack_packer;
struct msgpack_object;

/* Copies kv (key, value, ..., NULL; NULL: none) as a's labels, bounded. 0 or -ENOMEM. */
int alert_labels_set(struct vg_alert *a, const char *const *kv);
/* The key of the label after prev's (NULL: the first), NULL past the last; its value
 * follows its NUL. */
const char *alert_labels_next(const struct vg_alert *a, const char *prev);
/* The fields alert_labels_pack writes into a record's map (0 when a has no labels). */
size_t alert_labels_fields(const struct vg_alert *a);
bool alert_labels_pack(struct msgpack_packer *pk, const struct vg_alert *a);
/* Sets a's labels from a record's "lbl" and "lblx" (NULL: absent). */
void alert_labels_replay(struct vg_alert *a, const struct msgpack_object *lbl,
			 const struct msgpack_object *lblx);

/* ---- alert_log.c: the log codec ---- */

enum alert_rec_type {
	ALERT_REC_CREATED,    /* "ac" */
	ALERT_REC_VIOLATION,  /* "v" */
	ALERT_REC_ENFORCED,   /* "en" */
	ALERT_REC_RESOLVED,   /* "ar" */
	ALERT_REC_SUMMARY,    /* "as" */
	ALERT_REC_SETTING,    /* "ps" */
	ALERT_REC_BL_MADE,    /* "bk" */
	ALERT_REC_BL_ELEMENT, /* "be" */
	ALERT_REC_BL_REMOVED, /* "br" */
	ALERT_REC_BL_LOCK,    /* "bl" */
	ALERT_REC_BL_DELETED, /* "bd" */
	ALERT_REC_BL_CAPPED,  /* "bc" */
	ALERT_REC_TIMELINE,   /* "tb" */
};

struct bl_rec;

/* One record to pack: the fields its type uses. */
struct alert_rec {
	enum alert_rec_type type;
	const struct vg_alert *alert;	       /* all but SETTING */
	const struct vg_proc_rec *proc;	       /* VIOLATION */
	const char *action, *msg, *target;     /* ENFORCED */
	bool ok;			       /* ENFORCED */
	uint64_t time_ns;		       /* ENFORCED, RESOLVED */
	const char *policy_id, *enforcement;   /* SETTING */
	int enabled;			       /* SETTING: < 0 unset */
	const struct bl_rec *baseline;	       /* BL_*: baselines_priv.h */
	const struct alert_timeline *timeline; /* TIMELINE */
};

/* Opens the log and replays it into s. 0 or -errno with a message in err. */
int alert_log_open(struct vg_alerts *s, const struct vg_alerts_opts *o, struct event_base *base,
		   struct vg_wal_report *rep, char *err, size_t errlen);
void alert_log_close(struct alert_log *l);
/* Packs a record after those already packed. 0, or -ENOMEM with the record named in err. */
int alert_log_pack(struct alert_log *l, const struct alert_rec *r, char *err, size_t errlen);
/* Bytes packed so far (a split point for alert_log_commit). */
size_t alert_log_packed(const struct alert_log *l);
/*
 * Appends what is packed as one record, or as two split at split (both or
 * neither), and empties the buffer. vg_wal_append's returns.
 */
int alert_log_commit(struct alert_log *l, size_t split, vg_wal_ack_cb ack, void *ctx);
/* Empties the buffer (a pack failed: nothing is appended). */
void alert_log_discard(struct alert_log *l);
/* Packs one record and appends it; a pack failure is logged here. */
int alert_log_put(struct alert_log *l, const struct alert_rec *r);
int alert_log_sync(struct alert_log *l);
void alert_log_stats(struct alert_log *l, struct vg_wal_stats *st);
/* Replaces the log with the records next() fills in (1 a record, 0 the end, -errno). */
typedef int (*alert_log_next_fn)(void *ctx, struct alert_rec *r);
int alert_log_rewrite(struct alert_log *l, alert_log_next_fn next, void *ctx);

/* ---- alert_timeline.c: violations per minute per severity ---- */

struct alert_timeline *alert_timeline_new(void);
void alert_timeline_free(struct alert_timeline *tl);
/* Counts one violation of that severity at time_ns. */
void alert_timeline_count(struct vg_alerts *s, const char *severity, uint64_t time_ns);
/* The "tb" record: packed last by compaction; its replay replaces the counts. */
bool alert_timeline_pack(struct msgpack_packer *pk, const char *type, const struct alert_rec *r);
void alert_timeline_replay(struct vg_alerts *s, const struct msgpack_object *o, const char *id);

#endif
