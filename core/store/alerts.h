/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * alerts.h - violations and the alerts they merge into, kept in the store's
 * log (wal.h) and indexed in memory (rebuilt at open).
 *
 * Merging as StackRox does it (README.md, "Alerts"): a violation of a policy on the
 * same deployment (else pod, else container) joins the open (ACTIVE or
 * ATTEMPTED) alert, keeping its id and firstOccurred; an alert keeps its 40
 * most recent processes and counts all. Log records: alert created, violation
 * appended, alert resolved, policy setting changed (msgpack maps).
 */
#ifndef VG_ALERTS_H
#define VG_ALERTS_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "emit.h"
#include "event.h"
#include "wal.h"

#define VG_ALERT_MAX_PROCS 40
/* An alert keeps its pod's labels within Kubernetes' own limits: 64 labels, a key of up to
 * 317 bytes (a 253-byte DNS prefix, '/', a 63-byte name), a value of up to 63. A longer key
 * or value is cut there (at a UTF-8 boundary) and ends in U+2026; labels past 64 are counted
 * in labels_omitted. */
#define VG_ALERT_MAX_LABELS	 64
#define VG_ALERT_LABEL_KEY_MAX	 317
#define VG_ALERT_LABEL_VALUE_MAX 63

enum vg_alert_state { VG_ALERT_ACTIVE, VG_ALERT_RESOLVED, VG_ALERT_ATTEMPTED };

struct vg_lineage_rec {
	uint32_t pid, uid;
	char *exe;
};

/* One violating process: a StackRox process indicator, with forensic detail. */
struct vg_proc_rec {
	uint64_t time_ns;
	uint32_t pid, ppid, uid, gid, euid;
	char *comm, *exe, *args, *cwd;
	char *container_id, *pod_uid, *namespace_, *pod, *deployment;
	char *attribution; /* why its container or pod attribution is suspect, NULL if it is not */
	struct vg_lineage_rec lineage[VG_LINEAGE_MAX];
	int nlineage;
	bool killed_in_kernel;
	char *error; /* the policy's check() failed with this: an evaluation error, or NULL */
	/* which name of the exec the policy's name criterion matched (comm: matched_name NULL) */
	enum vg_way matched_by;
	char *matched_name;
	char *exe_name;	  /* the mapped executable's basename, NULL when unknown */
	char *exe_sha256; /* its SHA-256 in hex, NULL when not computed */
	bool exe_fileless, exe_not_in_image;
	bool decided_in_kernel; /* the kernel killed it or decided the fact (decidedIn) */
	/* the real executable path its locked process baseline lacks, when the policy rests on
	   that (unexpected_process); NULL otherwise */
	char *baseline_path;
	/* ... and that path is in the baseline, but the file there was replaced (a new inode):
	   the kernel's copy of the baseline killed it */
	bool baseline_replaced;
};

struct ix_list;

struct vg_alert {
	char id[37];
	char *policy_id, *policy_name, *severity;
	char *namespace_, *deployment, *pod, *pod_uid, *container_id; /* the merge scope */
	char *container_name,
		*image; /* the container's (Kubernetes', else the runtime's), or NULL */
	/* its pod's labels when it was made: "k\0v\0k\0v\0..." (nlabels pairs, labels_len bytes
	   with the NULs), or NULL; bounded by alert_labels.c (VG_ALERT_MAX_LABELS) */
	char *labels;
	uint32_t labels_len;
	uint16_t nlabels;
	uint16_t labels_omitted; /* labels past VG_ALERT_MAX_LABELS, counted only */
	enum vg_alert_state state;
	uint64_t first_ns, time_ns, resolved_ns;
	uint64_t violations;	   /* all of them, not only the kept processes */
	struct vg_proc_rec *procs; /* ring of the most recent 40, grown on demand */
	int nprocs, head, cap;
	char *key; /* merge key */
	/* enforcement: the last action, what came of it, how many distinct targets */
	char *enf_action, *enf_msg;
	uint64_t enf_ns;
	uint32_t enf_count; /* distinct targets (pods, else containers or pids) enforced */
	char **enf_targets; /* those targets (the first 64 kept for comparison) */
	/* the store's time index (alert_index.c): the time and state it is filed under, and
	   the lists of its field values */
	uint64_t ix_time;
	enum vg_alert_state ix_state;
	bool ix_in;
	int ix_nlists;
	struct ix_list *ix_lists[5];
};

/* What a new violation is: the event, and which policy it broke. */
struct vg_violation {
	struct vg_event *ev;
	const char *policy_id, *policy_name, *severity;
	bool killed_in_kernel;
	const char *error;	  /* the check() failed with this (an evaluation error), or NULL */
	enum vg_way matched_by;	  /* which name of the exec the policy's name criterion matched */
	const char *matched_name; /* that name; NULL: the comm */
	bool decided_in_kernel; /* the kernel killed it, or decided the fact the policy rests on */
	const char *baseline_path; /* the unexpected path, when the policy rests on the baseline */
	bool baseline_replaced;	   /* ... in the baseline, its file replaced (vg_proc_rec) */
};

struct vg_alerts;

struct vg_alerts_opts {
	const char *dir; /* the store directory */
	uint32_t commit_ms;
	bool fsync_always;
	size_t mem_bound;
};

/* How an alert changed, for an observer (vg_alerts_on_change). */
enum vg_alert_change {
	VG_CHANGE_NEW,	     /* created by its first violation */
	VG_CHANGE_VIOLATION, /* another violation merged into it */
	VG_CHANGE_RESOLVED,
	VG_CHANGE_ENFORCED, /* an enforcement recorded on it (worked or not) */
};

/* Called after the change is in memory (and handed to the log); a is the alert as it is now. */
typedef void (*vg_alerts_change_fn)(void *ctx, const struct vg_alert *a, enum vg_alert_change ch);

/* Per-policy settings persisted in the store (enable/disable, enforcement). */
struct vg_policy_setting {
	char *policy_id;
	int enabled; /* -1: not set */
	char *enforcement;
};

struct vg_alerts_stats {
	uint64_t alerts, active, resolved, violations, merged;
	uint64_t label_bytes;	     /* the alerts' labels, in memory */
	uint64_t labels_omitted;     /* labels past an alert's 64, counted only */
	uint64_t timeline_uncounted; /* violations the timeline could not count (since open) */
	struct vg_wal_stats wal;
};

/*
 * Opens the store, rebuilding alerts from the log; rep says what recovery
 * did. base may be NULL for offline use (the CLI on a stopped daemon's data).
 */
int vg_alerts_open(struct vg_alerts **out, const struct vg_alerts_opts *o, struct event_base *base,
		   struct vg_wal_report *rep, char *err, size_t errlen);
void vg_alerts_close(struct vg_alerts *s);
int vg_alerts_sync(struct vg_alerts *s);

/*
 * Records a violation: merges it into its open alert or creates one, appends
 * the records to the log, and calls ack once they are durable. *alert gets
 * the alert. 0 or -errno (-ENOSPC: the disk refused and memory is full).
 */
int vg_alerts_add(struct vg_alerts *s, const struct vg_violation *v, vg_wal_ack_cb ack, void *ctx,
		  const struct vg_alert **alert);

/*
 * Records an enforcement on the alert: action ("kill_process", "kill_pod",
 * "killed in kernel"), whether it worked, a message, and its target (a pod
 * uid, container or pid: enforcementCount counts distinct ones). A failed
 * enforcement makes the alert ATTEMPTED.
 */
int vg_alerts_enforced(struct vg_alerts *s, const struct vg_alert *a, const char *action, bool ok,
		       const char *msg, const char *target, uint64_t now_ns);

/* Resolves an alert: 0, -ENOENT (unknown id), -EALREADY (already resolved). */
int vg_alerts_resolve(struct vg_alerts *s, const char *id, uint64_t now_ns);

/* One observer of every change above (fn NULL: none); it must not change the store. */
void vg_alerts_on_change(struct vg_alerts *s, vg_alerts_change_fn fn, void *ctx);
/* "new", "violation", "resolved", "enforced" */
const char *vg_alert_change_name(enum vg_alert_change ch);

/* Persists a policy setting; enabled < 0 or enforcement NULL leave that part. */
int vg_alerts_set_policy(struct vg_alerts *s, const char *policy_id, int enabled,
			 const char *enforcement);
const struct vg_policy_setting *vg_alerts_policy_setting(struct vg_alerts *s,
							 const char *policy_id);

#define VG_QUERY_TERMS 8 /* free-text terms a query may hold */

/*
 * What a query asks for; every part given must match. policy: an alert whose
 * policy name or id is exactly that, or, when no alert's is, whose policy name
 * holds it (any case). severity: any case. text: each term (lower case) is in
 * one of the policy name, namespace, deployment, pod, container name, newest
 * process's exe or args, any case.
 */
struct vg_alert_filter {
	const char *policy, *namespace_, *deployment, *pod; /* exact, NULL: any */
	const char *severity;				    /* NULL: any */
	const char *text[VG_QUERY_TERMS];
	int ntext;
	int state;	   /* -1: any */
	uint64_t since_ns; /* last violation at or after */
};

/* Alerts matching f, newest first, into *out (caller frees the array). Returns the count. */
int vg_alerts_query(struct vg_alerts *s, const struct vg_alert_filter *f,
		    const struct vg_alert ***out);
/* The same (kept for callers that need no order: the order costs nothing now). */
int vg_alerts_query_unsorted(struct vg_alerts *s, const struct vg_alert_filter *f,
			     const struct vg_alert ***out);
/*
 * The newest `want` matches (a page: offset + limit; none if < 1) into *out; returns how
 * many match in all. Walks the time index from its newest end.
 */
int vg_alerts_query_window(struct vg_alerts *s, const struct vg_alert_filter *f, int want,
			   const struct vg_alert ***out);
const struct vg_alert *vg_alerts_get(struct vg_alerts *s, const char *id);

/* What a page of alerts is sorted by (alert_sort.c); ties: newest first, then by id. */
enum vg_alert_sort {
	VG_SORT_TIME, /* the last violation: the time index, no sort */
	VG_SORT_SEVERITY,
	VG_SORT_POLICY,	     /* policy name, any case */
	VG_SORT_STATE,	     /* ACTIVE, RESOLVED, ATTEMPTED by name */
	VG_SORT_COUNT,	     /* violations */
	VG_SORT_NAMESPACE,   /* namespace only */
	VG_SORT_ENTITY,	     /* namespace, then deployment (else pod), then container */
	VG_SORT_ENFORCEMENT, /* the last enforcement action's name; none first */
	VG_SORT_N,
};
/* The field's API name ("time", "severity", ...), and whether it sorts descending unless
 * told (time, severity and count: the largest first). */
const char *vg_alert_sort_name(enum vg_alert_sort k);
bool vg_alert_sort_desc_default(enum vg_alert_sort k);
/*
 * A page sorted by key (desc: largest first): the first `want` of every match in that order
 * into *out (caller frees); returns how many match in all. VG_SORT_TIME descending walks the
 * time index (vg_alerts_query_window); any other order sorts all the matches.
 */
int vg_alerts_query_sorted(struct vg_alerts *s, const struct vg_alert_filter *f,
			   enum vg_alert_sort key, bool desc, int want,
			   const struct vg_alert ***out);

/*
 * The violation timeline: violations per minute per severity for the last 7 days
 * (VG_TIMELINE_MINUTES minutes; older ones expire as newer ones come), exact across restarts
 * and compaction, unchanged by resolution. Severity indexes: 0 low, 1 medium, 2 high,
 * 3 critical.
 */
#define VG_TIMELINE_MINUTES (7 * 24 * 60)
#define VG_NSEV		    4
/* The index of a severity ("low" ... "critical", any case), or -1. */
int vg_severity_index(const char *severity);
/*
 * The violations of nb buckets of step_s seconds from since_s (unix seconds; both multiples
 * of 60) into out[nb][VG_NSEV]. Minutes the ring no longer holds read 0. 0, or -EINVAL.
 */
int vg_alerts_timeline(struct vg_alerts *s, uint64_t since_s, uint32_t step_s, uint32_t nb,
		       uint64_t (*out)[VG_NSEV]);
/*
 * The same for the alerts a query matches: each of their kept processes (the newest 40 of
 * each alert, VG_ALERT_MAX_PROCS) counts at its time under the alert's severity; the
 * violations older than an alert's kept ones have no time left and are added to *uncounted.
 * 0, -EINVAL or -ENOMEM.
 */
int vg_alerts_timeline_query(struct vg_alerts *s, const struct vg_alert_filter *f, uint64_t since_s,
			     uint32_t step_s, uint32_t nb, uint64_t (*out)[VG_NSEV],
			     uint64_t *uncounted);

/* Drops resolved alerts resolved before cutoff_ns from memory and disk. Returns how many. */
int vg_alerts_compact(struct vg_alerts *s, uint64_t cutoff_ns);

void vg_alerts_stats(struct vg_alerts *s, struct vg_alerts_stats *st);

/* Feeds one log record payload as replay would (the store's record decoder; for fuzzing). */
void vg_alerts_replay_record(struct vg_alerts *s, const void *payload, size_t len);

/*
 * The alert document, the list form or everything with processes, written to
 * an emitter (emit.h; Lua tables for the notifiers). Strings that are not
 * UTF-8 (a process's args can be any bytes) have U+FFFD for each bad byte.
 */
void vg_alert_emit(const struct vg_alert *a, bool full, const struct vg_emit *w, void *ctx);
/* The same as JSON (jansson, new reference). */
json_t *vg_alert_json(const struct vg_alert *a, bool full);
const char *vg_alert_state_name(enum vg_alert_state st);
/* StackRox's message: "Binary '<exe>' executed with arguments '<args>' under user ID <uid>" */
void vg_alert_message(const struct vg_alert *a, char *buf, size_t n);

#endif
