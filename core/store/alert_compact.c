// SPDX-License-Identifier: BSD-2-Clause
/*
 * alert_compact.c - retention: resolved alerts past the cutoff leave memory,
 * and the log is rewritten with only what replay needs to rebuild the rest
 * (the settings, then per alert its creation, its kept processes oldest
 * first and a summary of everything else, then each baseline's snapshot, then the
 * violation timeline).
 * Dead baseline records past BL_DEAD_COMPACT make a rewrite worth it too.
 */
#include <stdlib.h>

#include "alerts_priv.h"
#include "baselines_priv.h"

enum compact_phase { PHASE_CREATED, PHASE_PROCS, PHASE_NEXT };

struct compact_it {
	struct vg_alerts *s;
	int si;	   /* settings first */
	size_t ai; /* then per alert: created, its kept processes, its summary */
	int pi;
	enum compact_phase phase;
	struct bl_snapshot_it bl; /* the baselines */
	bool timeline_done;	  /* the violation timeline last (alert_timeline.c) */
};

/* The next record of the alert at it->ai, or false when the alert is done. */
static bool alert_next(struct compact_it *it, struct alert_rec *r)
{
	const struct vg_alert *a = it->s->all[it->ai];

	r->alert = a;
	switch (it->phase) {
	case PHASE_CREATED:
		r->type = ALERT_REC_CREATED;
		it->phase = PHASE_PROCS;
		it->pi = a->nprocs - 1;
		return true;
	case PHASE_PROCS:
		if (it->pi >= 0) { /* oldest first, so replay rebuilds the same ring */
			r->type = ALERT_REC_VIOLATION;
			r->proc = alert_proc_at(a, it->pi--);
			return true;
		}
		r->type = ALERT_REC_SUMMARY;
		it->phase = PHASE_NEXT;
		return true;
	case PHASE_NEXT:
		break;
	}
	it->ai++;
	it->phase = PHASE_CREATED;
	return false;
}

/* The compacted log: everything replay rebuilds, nothing else. 1 a record, 0 the end. */
static int compact_next(void *ctx, struct alert_rec *r)
{
	struct compact_it *it = ctx;
	struct vg_alerts *s = it->s;
	int rc;

	if (it->si < s->settings.n) {
		const struct vg_policy_setting *st = &s->settings.v[it->si++];

		r->type = ALERT_REC_SETTING;
		r->policy_id = st->policy_id;
		r->enabled = st->enabled;
		r->enforcement = st->enforcement;
		return 1;
	}
	while (it->ai < s->nall)
		if (alert_next(it, r))
			return 1;
	if (it->timeline_done)
		return 0;
	rc = bl_snapshot_next(s->baselines, &it->bl, r);
	if (rc)
		return rc;
	/* after the kept processes: its replay replaces what they counted */
	r->type = ALERT_REC_TIMELINE;
	r->timeline = s->timeline;
	it->timeline_done = true;
	return 1;
}

static bool expired(const struct vg_alert *a, uint64_t cutoff)
{
	return a->state == VG_ALERT_RESOLVED && a->resolved_ns < cutoff;
}

/* Frees the expired alerts, taking them off the index. Returns how many went. */
static int drop_expired(struct vg_alerts *s, uint64_t cutoff)
{
	size_t keep = 0;
	int dropped = 0;

	for (size_t i = 0; i < s->nall; i++) {
		struct vg_alert *a = s->all[i];

		if (expired(a, cutoff)) {
			alert_index_del(&s->index, a);
			alert_strmap_del(&s->by_id, a->id);
			alert_free(a);
			dropped++;
		} else {
			s->all[keep++] = a;
		}
	}
	s->nall = keep;
	return dropped;
}

int vg_alerts_compact(struct vg_alerts *s, uint64_t cutoff)
{
	struct compact_it it = {.s = s};
	bool baselines = bl_dead_records(s->baselines) >= BL_DEAD_COMPACT, any = false;
	int dropped, rc;

	for (size_t i = 0; i < s->nall && !any; i++)
		any = expired(s->all[i], cutoff);
	if (!any && !baselines)
		return 0;
	rc = alert_log_sync(s->log); /* before anything leaves memory: a full disk keeps it all */
	if (rc)
		return rc;
	dropped = drop_expired(s, cutoff);
	if (!dropped && !baselines)
		return 0;
	rc = alert_log_rewrite(s->log, compact_next, &it);
	if (rc)
		return rc;
	bl_compacted(s->baselines);
	return dropped;
}
