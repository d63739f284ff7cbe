// SPDX-License-Identifier: BSD-2-Clause
/*
 * alert_timeline.c - violations per minute per severity, exact, for the last 7 days: a ring
 * of VG_TIMELINE_MINUTES slots, each tagged with the minute (unix seconds / 60) it counts,
 * so a slot reused for a newer minute forgets the old one (expiry) and a read of a minute
 * whose slot holds another reads 0. 10,080 slots of a tag and 4 uint32 counts: 201,600
 * bytes, allocated at open.
 *
 * Every violation counts once, when it is added and when replay meets its "v" record; a
 * resolution changes nothing. Compaction drops the records of expired alerts and all but
 * the 40 kept processes of the rest, so it writes the whole ring as the last record of the
 * rewritten log ("tb"): replay counts the kept "v" records first, then the "tb" record
 * replaces the ring with the counts as they were at compaction, then the records appended
 * since count on top.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <msgpack.h>

#include "alerts_priv.h"

struct alert_timeline {
	uint32_t minute[VG_TIMELINE_MINUTES]; /* 0: the slot is empty */
	uint32_t n[VG_TIMELINE_MINUTES][VG_NSEV];
};

struct alert_timeline *alert_timeline_new(void)
{
	return calloc(1, sizeof(struct alert_timeline));
}

void alert_timeline_free(struct alert_timeline *tl)
{
	free(tl);
}

int vg_severity_index(const char *severity)
{
	static const char *const names[VG_NSEV] = {"low", "medium", "high", "critical"};

	for (int i = 0; severity && i < VG_NSEV; i++)
		if (!strncasecmp(severity, names[i], strlen(names[i])))
			return i;
	return -1;
}

/* The slot of minute m, emptied first when it holds an older minute; NULL when it holds a
 * newer one (m is more than 7 days older than a violation already counted). */
static uint32_t *slot_of(struct alert_timeline *tl, uint32_t m)
{
	size_t i = m % VG_TIMELINE_MINUTES;

	if (tl->minute[i] > m)
		return NULL;
	if (tl->minute[i] < m) {
		tl->minute[i] = m;
		memset(tl->n[i], 0, sizeof(tl->n[i]));
	}
	return tl->n[i];
}

void alert_timeline_count(struct vg_alerts *s, const char *severity, uint64_t time_ns)
{
	uint64_t m = time_ns / 60000000000ull;
	int sev = vg_severity_index(severity);
	uint32_t *n;

	if (!s->timeline || sev < 0 || m == 0 || m > UINT32_MAX) {
		s->timeline_uncounted++;
		return;
	}
	n = slot_of(s->timeline, (uint32_t)m);
	if (!n) {
		s->timeline_uncounted++;
		return;
	}
	if (n[sev] < UINT32_MAX)
		n[sev]++;
}

int vg_alerts_timeline(struct vg_alerts *s, uint64_t since_s, uint32_t step_s, uint32_t nb,
		       uint64_t (*out)[VG_NSEV])
{
	const struct alert_timeline *tl = s->timeline;
	uint64_t m0 = since_s / 60, per = step_s / 60;

	if (!step_s || step_s % 60 || since_s % 60)
		return -EINVAL;
	memset(out, 0, (size_t)nb * sizeof(*out));
	for (uint64_t k = 0; tl && k < (uint64_t)nb * per; k++) {
		uint64_t m = m0 + k;
		size_t i = m % VG_TIMELINE_MINUTES;

		if (tl->minute[i] != m)
			continue;
		for (int j = 0; j < VG_NSEV; j++)
			out[k / per][j] += tl->n[i][j];
	}
	return 0;
}

/* One alert's kept processes into the buckets; the violations it holds no time for, out. */
static uint64_t count_alert(const struct vg_alert *a, uint64_t since_s, uint32_t step_s,
			    uint32_t nb, uint64_t (*out)[VG_NSEV])
{
	int sev = vg_severity_index(a->severity);

	if (sev < 0) /* not a severity the timeline counts (the global one skips it too) */
		return 0;
	for (int i = 0; i < a->nprocs; i++) {
		uint64_t t = alert_proc_at(a, i)->time_ns / 1000000000ull;

		if (t >= since_s && (t - since_s) / step_s < nb)
			out[(t - since_s) / step_s][sev]++;
	}
	if (a->violations <= (uint64_t)a->nprocs)
		return 0;
	/* the ones older than the oldest kept one: before the window when that one is */
	if (a->nprocs && alert_proc_at(a, a->nprocs - 1)->time_ns / 1000000000ull < since_s)
		return 0;
	return a->violations - (uint64_t)a->nprocs;
}

int vg_alerts_timeline_query(struct vg_alerts *s, const struct vg_alert_filter *f, uint64_t since_s,
			     uint32_t step_s, uint32_t nb, uint64_t (*out)[VG_NSEV],
			     uint64_t *uncounted)
{
	const struct vg_alert **list;
	int n;

	*uncounted = 0;
	if (!step_s || step_s % 60 || since_s % 60)
		return -EINVAL;
	memset(out, 0, (size_t)nb * sizeof(*out));
	n = vg_alerts_query(s, f, &list);
	if (n < 0)
		return n;
	for (int i = 0; i < n; i++)
		*uncounted += count_alert(list[i], since_s, step_s, nb, out);
	free(list);
	return 0;
}

/* "tb": b [[minute, low, medium, high, critical], ...], the minutes that count any. */
bool alert_timeline_pack(msgpack_packer *pk, const char *type, const struct alert_rec *r)
{
	const struct alert_timeline *tl = r->timeline;
	size_t used = 0;

	for (size_t i = 0; tl && i < VG_TIMELINE_MINUTES; i++)
		used += tl->minute[i] != 0;
	if (msgpack_pack_map(pk, 2) || msgpack_pack_str_with_body(pk, "t", 1) ||
	    msgpack_pack_str_with_body(pk, type, strlen(type)) ||
	    msgpack_pack_str_with_body(pk, "b", 1) || msgpack_pack_array(pk, used))
		return false;
	for (size_t i = 0; tl && i < VG_TIMELINE_MINUTES; i++) {
		if (!tl->minute[i])
			continue;
		if (msgpack_pack_array(pk, 1 + VG_NSEV) || msgpack_pack_uint32(pk, tl->minute[i]))
			return false;
		for (int j = 0; j < VG_NSEV; j++)
			if (msgpack_pack_uint32(pk, tl->n[i][j]))
				return false;
	}
	return true;
}

static bool is_u32(const msgpack_object *o)
{
	return o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 <= UINT32_MAX;
}

/* One [minute, low, medium, high, critical] of a "tb" record; a damaged one is skipped. */
static void replay_minute(struct alert_timeline *tl, const msgpack_object *e)
{
	const msgpack_object *v = e->via.array.ptr;
	uint32_t *n;

	if (e->type != MSGPACK_OBJECT_ARRAY || e->via.array.size != 1 + VG_NSEV)
		return;
	for (int j = 0; j <= VG_NSEV; j++)
		if (!is_u32(&v[j]))
			return;
	if (!v[0].via.u64 || !(n = slot_of(tl, (uint32_t)v[0].via.u64)))
		return;
	for (int j = 0; j < VG_NSEV; j++)
		n[j] = (uint32_t)v[1 + j].via.u64;
}

void alert_timeline_replay(struct vg_alerts *s, const msgpack_object *o, const char *id)
{
	const msgpack_object *b = NULL;

	(void)id;
	for (uint32_t i = 0; i < o->via.map.size; i++) {
		const msgpack_object *k = &o->via.map.ptr[i].key;

		if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == 1 &&
		    k->via.str.ptr[0] == 'b')
			b = &o->via.map.ptr[i].val;
	}
	if (!s->timeline || !b || b->type != MSGPACK_OBJECT_ARRAY)
		return;
	/* the counts as they were at compaction, the records before it included */
	memset(s->timeline, 0, sizeof(*s->timeline));
	for (uint32_t i = 0; i < b->via.array.size; i++)
		replay_minute(s->timeline, &b->via.array.ptr[i]);
}
