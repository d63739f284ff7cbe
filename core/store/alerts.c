// SPDX-License-Identifier: BSD-2-Clause
/*
 * alerts.c - the alert model: a violation merges into the open alert of its
 * policy and scope or opens one; an alert keeps its 40 latest processes,
 * its enforcement and its resolution. Memory holds what the log holds: every
 * change is packed (alert_log.c) and appended before it is kept.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "alerts_priv.h"
#include "baselines_priv.h"
#include "log.h"

#define MAX_TARGETS 64 /* enforcement targets kept for comparison; more are counted only */

static char *dup_or_null(const char *s)
{
	if (!s)
		return NULL;
	return strdup(s);
}

static const char *or_empty(const char *s)
{
	if (s)
		return s;
	return "";
}

static void uuid4(char out[37])
{
	unsigned char b[16];

	if (getrandom(b, sizeof(b), 0) != sizeof(b)) {
		struct timespec ts;

		(void)clock_gettime(CLOCK_REALTIME, &ts); /* CLOCK_REALTIME cannot fail */
		for (int i = 0; i < 16; i++)
			b[i] = (unsigned char)((uint64_t)ts.tv_nsec >> (i % 8) ^ (uint64_t)rand());
	}
	b[6] = (b[6] & 0x0f) | 0x40;
	b[8] = (b[8] & 0x3f) | 0x80;
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
		 b[13], b[14], b[15]);
}

void alert_proc_free(struct vg_proc_rec *p)
{
	free(p->comm);
	free(p->exe);
	free(p->args);
	free(p->cwd);
	free(p->container_id);
	free(p->pod_uid);
	free(p->namespace_);
	free(p->pod);
	free(p->deployment);
	free(p->error);
	free(p->attribution);
	free(p->matched_name);
	free(p->exe_name);
	free(p->exe_sha256);
	free(p->baseline_path);
	for (int i = 0; i < p->nlineage; i++)
		free(p->lineage[i].exe);
	memset(p, 0, sizeof(*p));
}

static void targets_free(struct vg_alert *a)
{
	for (uint32_t i = 0; a->enf_targets && i < a->enf_count && i < MAX_TARGETS; i++)
		free(a->enf_targets[i]);
	free(a->enf_targets);
	a->enf_targets = NULL;
}

void alert_free(struct vg_alert *a)
{
	for (int i = 0; i < a->nprocs; i++)
		alert_proc_free(&a->procs[i]);
	free(a->policy_id);
	free(a->policy_name);
	free(a->severity);
	free(a->namespace_);
	free(a->deployment);
	free(a->pod);
	free(a->pod_uid);
	free(a->container_id);
	free(a->container_name);
	free(a->image);
	free(a->labels);
	free(a->key);
	free(a->procs);
	free(a->enf_action);
	free(a->enf_msg);
	targets_free(a);
	free(a);
}

/* policy \x1f scope: deployment, else pod, else container, else the host */
static char *merge_key(const char *policy, const char *ns, const char *deploy, const char *pod_uid,
		       const char *cid)
{
	size_t n = strlen(policy) + strlen(or_empty(ns)) + strlen(or_empty(deploy)) +
		   strlen(or_empty(pod_uid)) + strlen(or_empty(cid)) + 16;
	char *k = malloc(n);

	if (!k)
		return NULL;
	if (deploy && *deploy)
		snprintf(k, n,
			 "%s\x1f"
			 "d:%s/%s",
			 policy, or_empty(ns), deploy);
	else if (pod_uid && *pod_uid)
		snprintf(k, n,
			 "%s\x1f"
			 "p:%s",
			 policy, pod_uid);
	else if (cid && *cid)
		snprintf(k, n,
			 "%s\x1f"
			 "c:%s",
			 policy, cid);
	else
		snprintf(k, n,
			 "%s\x1f"
			 "h:",
			 policy);
	return k;
}

static int reserve_all(struct vg_alerts *s)
{
	size_t cap;
	struct vg_alert **all;

	if (s->nall < s->capall)
		return 0;
	cap = s->capall ? s->capall * 2 : 1024;
	all = realloc(s->all, cap * sizeof(*all));
	if (!all)
		return -ENOMEM;
	s->all = all;
	s->capall = cap;
	return 0;
}

/* A new open alert, in the maps and the index; NULL when out of memory. */
struct vg_alert *alert_make(struct vg_alerts *s, const struct alert_head *h)
{
	struct vg_alert *a = calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	if (reserve_all(s)) {
		free(a);
		return NULL;
	}
	snprintf(a->id, sizeof(a->id), "%s", h->id);
	a->policy_id = dup_or_null(h->policy_id);
	a->policy_name = dup_or_null(h->policy_name);
	a->severity = dup_or_null(h->severity);
	a->namespace_ = dup_or_null(h->namespace_);
	a->deployment = dup_or_null(h->deployment);
	a->pod = dup_or_null(h->pod);
	a->pod_uid = dup_or_null(h->pod_uid);
	a->container_id = dup_or_null(h->container_id);
	a->container_name = dup_or_null(h->container_name);
	a->image = dup_or_null(h->image);
	(void)alert_labels_set(a, h->labels); /* out of memory: none, in memory as in the log */
	a->key = merge_key(h->policy_id, h->namespace_, h->deployment, h->pod_uid, h->container_id);
	a->first_ns = a->time_ns = h->time_ns;
	a->state = VG_ALERT_ACTIVE;
	if (!a->key || alert_strmap_put(&s->by_id, a->id, a) ||
	    alert_strmap_put(&s->open_by_key, a->key, a)) {
		alert_free(a);
		return NULL;
	}
	s->all[s->nall++] = a;
	alert_index_add(&s->index, a);
	return a;
}

/* Takes back the alert alert_make has just made: the log refused its records. */
static void alert_unmake(struct vg_alerts *s, struct vg_alert *a)
{
	alert_index_del(&s->index, a);
	alert_strmap_del(&s->by_id, a->id);
	alert_strmap_del(&s->open_by_key, a->key);
	if (s->nall && s->all[s->nall - 1] == a)
		s->nall--;
	alert_free(a);
}

struct vg_alert *alert_by_id(struct vg_alerts *s, const char *id)
{
	return alert_strmap_get(&s->by_id, id);
}

/* Room for one more process below the cap: most alerts hold one or two, so grow, do not
 * preallocate 40. -ENOMEM: keep what there is. */
static int reserve_proc(struct vg_alert *a)
{
	struct vg_proc_rec *procs;
	int cap;

	if (a->nprocs < a->cap || a->cap >= VG_ALERT_MAX_PROCS)
		return 0;
	cap = a->cap ? a->cap * 2 : 1;
	if (cap > VG_ALERT_MAX_PROCS)
		cap = VG_ALERT_MAX_PROCS;
	procs = realloc(a->procs, (size_t)cap * sizeof(*procs));
	if (!procs)
		return -ENOMEM;
	a->procs = procs;
	a->cap = cap;
	return 0;
}

void alert_push(struct vg_alerts *s, struct vg_alert *a, struct vg_proc_rec *p)
{
	struct vg_proc_rec *slot;

	alert_timeline_count(s, a->severity, p->time_ns);
	if (reserve_proc(a)) { /* count it, drop its detail */
		a->violations++;
		alert_proc_free(p);
		return;
	}
	if (a->nprocs < VG_ALERT_MAX_PROCS) {
		slot = &a->procs[a->nprocs++];
	} else {
		slot = &a->procs[a->head];
		alert_proc_free(slot);
		a->head = (a->head + 1) % VG_ALERT_MAX_PROCS;
	}
	*slot = *p;
	a->violations++;
	if (p->time_ns > a->time_ns)
		a->time_ns = p->time_ns;
	alert_index_touch(&s->index, a);
}

const struct vg_proc_rec *alert_proc_at(const struct vg_alert *a, int i)
{
	int idx = a->nprocs - 1 - i;

	if (a->nprocs >= VG_ALERT_MAX_PROCS)
		idx = (a->head - 1 - i + 2 * VG_ALERT_MAX_PROCS) % VG_ALERT_MAX_PROCS;
	return &a->procs[idx];
}

static bool target_seen(const struct vg_alert *a, const char *target)
{
	for (uint32_t i = 0; a->enf_targets && i < a->enf_count && i < MAX_TARGETS; i++)
		if (a->enf_targets[i] && !strcmp(a->enf_targets[i], target))
			return true;
	return false;
}

/* Counts a distinct target, keeping the first 64; takes ownership of target. */
static void add_target(struct vg_alert *a, char *target)
{
	if (target_seen(a, target)) {
		free(target);
		return;
	}
	if (!a->enf_targets)
		a->enf_targets = calloc(MAX_TARGETS, sizeof(char *));
	if (a->enf_targets && a->enf_count < MAX_TARGETS) {
		a->enf_targets[a->enf_count] = target;
		target = NULL;
	}
	a->enf_count++;
	free(target);
}

void alert_apply_enforced(struct vg_alerts *s, struct vg_alert *a, char *action, bool ok, char *msg,
			  char *target, uint64_t t)
{
	free(a->enf_action);
	free(a->enf_msg);
	a->enf_action = action;
	a->enf_msg = msg;
	a->enf_ns = t;
	if (ok && target)
		add_target(a, target);
	else
		free(target);
	if (!ok && a->state == VG_ALERT_ACTIVE)
		a->state = VG_ALERT_ATTEMPTED;
	alert_index_touch(&s->index, a);
}

void alert_apply_resolved(struct vg_alerts *s, struct vg_alert *a, uint64_t t)
{
	a->state = VG_ALERT_RESOLVED;
	a->resolved_ns = t;
	alert_strmap_del(&s->open_by_key, a->key);
	alert_index_touch(&s->index, a);
}

static void apply_summary_state(struct vg_alerts *s, struct vg_alert *a, uint64_t state,
				uint64_t resolved_ns)
{
	if (state == VG_ALERT_RESOLVED) {
		if (alert_strmap_get(&s->open_by_key, a->key) == a)
			alert_strmap_del(&s->open_by_key, a->key);
		a->state = VG_ALERT_RESOLVED;
		a->resolved_ns = resolved_ns;
	} else if (state == VG_ALERT_ATTEMPTED && a->state == VG_ALERT_ACTIVE) {
		a->state = VG_ALERT_ATTEMPTED;
	}
}

void alert_apply_summary(struct vg_alerts *s, struct vg_alert *a, struct alert_summary *sum)
{
	s->violations += sum->violations - a->violations;
	a->violations = sum->violations;
	if (sum->time_ns > a->time_ns)
		a->time_ns = sum->time_ns;
	apply_summary_state(s, a, sum->state, sum->resolved_ns);
	alert_index_touch(&s->index, a);
	free(a->enf_action);
	free(a->enf_msg);
	a->enf_action = sum->action;
	a->enf_msg = sum->msg;
	a->enf_ns = sum->enf_ns;
	targets_free(a);
	a->enf_count = 0;
	if (sum->ntargets)
		a->enf_targets = calloc(MAX_TARGETS, sizeof(char *));
	for (uint32_t i = 0; i < sum->ntargets; i++) {
		if (a->enf_targets)
			a->enf_targets[a->enf_count++] = sum->targets[i];
		else
			free(sum->targets[i]);
	}
	if (sum->enf_count > a->enf_count) /* targets past the 64 kept are counted only */
		a->enf_count = sum->enf_count > UINT32_MAX ? UINT32_MAX : (uint32_t)sum->enf_count;
}

/* ---- the store ---- */

int vg_alerts_open(struct vg_alerts **out, const struct vg_alerts_opts *o, struct event_base *base,
		   struct vg_wal_report *rep, char *err, size_t errlen)
{
	struct vg_alerts *s = calloc(1, sizeof(*s));
	int rc;

	*out = NULL;
	if (!s)
		return vg_errf(err, errlen, -ENOMEM, "out of memory opening the store in %s",
			       o->dir);
	s->baselines = bl_new(s);
	s->timeline = alert_timeline_new();
	if (!s->baselines || !s->timeline) {
		vg_alerts_close(s);
		return vg_errf(err, errlen, -ENOMEM, "out of memory opening the store in %s",
			       o->dir);
	}
	s->index.rng = 0x9e3779b97f4a7c15ull;
	s->index.defer = true; /* replay moves alerts often: link each once, at the end */
	rc = alert_log_open(s, o, base, rep, err, errlen);
	if (rc) {
		vg_alerts_close(s);
		return rc;
	}
	alert_index_build(&s->index, s->all, s->nall);
	bl_settle(s->baselines);
	*out = s;
	return 0;
}

void vg_alerts_close(struct vg_alerts *s)
{
	if (!s)
		return;
	if (s->log && s->baselines)
		bl_flush(s->baselines);
	alert_log_close(s->log);
	for (size_t i = 0; i < s->nall; i++)
		alert_free(s->all[i]);
	free(s->all);
	alert_strmap_free(&s->by_id);
	alert_strmap_free(&s->open_by_key);
	alert_index_free(&s->index);
	policy_settings_free(&s->settings);
	bl_free(s->baselines);
	alert_timeline_free(s->timeline);
	free(s);
}

int vg_alerts_sync(struct vg_alerts *s)
{
	return alert_log_sync(s->log);
}

static void lineage_of(struct vg_proc_rec *p, const struct vg_event *ev)
{
	for (int i = 0; i < ev->n_lineage && i < VG_LINEAGE_MAX; i++) {
		p->lineage[i].pid = ev->lineage[i].pid;
		p->lineage[i].uid = ev->lineage[i].uid;
		p->lineage[i].exe = strdup(or_empty(ev->lineage[i].exe));
		p->nlineage = i + 1;
	}
}

/* What the violation says of the executable: how the policy matched it, its identity. */
static void proc_ident_of(struct vg_proc_rec *p, const struct vg_violation *v)
{
	const struct vg_exe_ident *id = &v->ev->id;
	static const char hex[] = "0123456789abcdef";

	p->matched_by = v->matched_by;
	p->matched_name = v->matched_by != VG_WAY_COMM ? dup_or_null(v->matched_name) : NULL;
	p->exe_name = id->exe_name[0] ? strdup(id->exe_name) : NULL;
	if (id->has_sha256) {
		p->exe_sha256 = malloc(2 * sizeof(id->sha256) + 1);
		for (size_t i = 0; p->exe_sha256 && i < sizeof(id->sha256); i++) {
			p->exe_sha256[2 * i] = hex[id->sha256[i] >> 4];
			p->exe_sha256[2 * i + 1] = hex[id->sha256[i] & 15];
			p->exe_sha256[2 * i + 2] = '\0';
		}
	}
	p->exe_fileless = id->fileless;
	p->exe_not_in_image = id->not_in_image;
	p->decided_in_kernel = v->killed_in_kernel || v->decided_in_kernel;
	p->baseline_path = dup_or_null(v->baseline_path);
	p->baseline_replaced = v->baseline_path && v->baseline_replaced;
}

/* The violating process of ev, with its own copies of the strings. */
static void proc_of(struct vg_proc_rec *p, const struct vg_violation *v)
{
	struct vg_event *ev = v->ev;
	const struct vg_container *ctr = vg_event_container(ev);
	const struct vg_meta *m = ev->meta;

	memset(p, 0, sizeof(*p));
	p->time_ns = ev->time_ns;
	p->pid = ev->rec->pid;
	p->ppid = ev->rec->ppid;
	p->uid = ev->rec->uid;
	p->gid = ev->rec->gid;
	p->euid = ev->rec->euid;
	p->comm = strdup(ev->comm);
	p->exe = strdup(ev->exe);
	p->args = strdup(ev->args);
	p->cwd = ev->cwd[0] ? strdup(ev->cwd) : NULL;
	p->container_id = ctr->id[0] ? strdup(ctr->short_id) : NULL;
	p->pod_uid = ctr->pod_uid[0] ? strdup(ctr->pod_uid) : NULL;
	if (m) {
		p->namespace_ = dup_or_null(m->namespace_);
		p->pod = dup_or_null(m->pod);
		p->deployment = dup_or_null(m->deployment);
	}
	p->killed_in_kernel = v->killed_in_kernel;
	p->error = dup_or_null(v->error);
	p->attribution = ev->attr_warning[0] ? strdup(ev->attr_warning) : NULL;
	proc_ident_of(p, v);
	lineage_of(p, ev);
}

void vg_alerts_on_change(struct vg_alerts *s, vg_alerts_change_fn fn, void *ctx)
{
	s->on_change = fn;
	s->on_change_ctx = ctx;
}

const char *vg_alert_change_name(enum vg_alert_change ch)
{
	static const char *const names[] = {"new", "violation", "resolved", "enforced"};

	return (unsigned)ch < 4 ? names[ch] : "changed";
}

static void changed(struct vg_alerts *s, const struct vg_alert *a, enum vg_alert_change ch)
{
	if (s->on_change)
		s->on_change(s->on_change_ctx, a, ch);
}

/* The open alert v merges into, or a new one (*created); -ENOMEM. */
static int alert_for(struct vg_alerts *s, const struct vg_violation *v, struct vg_alert **out,
		     bool *created)
{
	struct vg_event *ev = v->ev;
	const struct vg_container *ctr = vg_event_container(ev);
	struct alert_head h = {.policy_id = v->policy_id,
			       .policy_name = v->policy_name,
			       .severity = v->severity,
			       .pod_uid = ctr->pod_uid[0] ? ctr->pod_uid : NULL,
			       .container_id = ctr->id[0] ? ctr->id : NULL,
			       .container_name = ev->ctr_name[0] ? ev->ctr_name : NULL,
			       .image = ev->ctr_image[0] ? ev->ctr_image : NULL,
			       .time_ns = ev->time_ns};
	char id[37], *key;

	if (ev->meta) {
		h.namespace_ = ev->meta->namespace_;
		h.deployment = ev->meta->deployment;
		h.pod = ev->meta->pod;
		h.labels = ev->meta->labels;
	}
	key = merge_key(v->policy_id, h.namespace_, h.deployment, ctr->pod_uid, ctr->id);
	if (!key)
		return -ENOMEM;
	*out = alert_strmap_get(&s->open_by_key, key);
	free(key);
	*created = !*out;
	if (*out)
		return 0;
	uuid4(id);
	h.id = id;
	*out = alert_make(s, &h);
	if (!*out)
		return -ENOMEM;
	return 0;
}

/* Packs the alert's creation (when new) and the violation: *split ends the first. */
static int pack_add(struct vg_alerts *s, const struct vg_alert *a, bool created,
		    const struct vg_proc_rec *p, size_t *split)
{
	struct alert_rec made = {.type = ALERT_REC_CREATED, .alert = a};
	struct alert_rec viol = {.type = ALERT_REC_VIOLATION, .alert = a, .proc = p};
	char err[128];
	int rc = 0;

	*split = 0;
	if (created) {
		rc = alert_log_pack(s->log, &made, err, sizeof(err));
		*split = alert_log_packed(s->log);
	}
	if (!rc)
		rc = alert_log_pack(s->log, &viol, err, sizeof(err));
	if (rc) {
		vg_err("%s", err);
		alert_log_discard(s->log);
	}
	return rc;
}

/*
 * Memory holds what the log holds: a violation (with its alert's creation,
 * when it opens one) is appended whole or not at all, and only an appended
 * one joins its alert.
 */
int vg_alerts_add(struct vg_alerts *s, const struct vg_violation *v, vg_wal_ack_cb ack, void *ctx,
		  const struct vg_alert **alert)
{
	struct vg_proc_rec p;
	struct vg_alert *a;
	bool created;
	size_t split;
	int rc;

	if (alert)
		*alert = NULL;
	vg_event_args(v->ev);
	vg_event_paths(v->ev);
	rc = alert_for(s, v, &a, &created);
	if (rc)
		return rc;
	proc_of(&p, v);
	rc = pack_add(s, a, created, &p, &split);
	if (!rc)
		rc = alert_log_commit(s->log, split, ack, ctx);
	if (rc) {
		alert_proc_free(&p);
		if (created)
			alert_unmake(s, a);
		return rc;
	}
	if (!created)
		s->merged++;
	alert_push(s, a, &p);
	s->violations++;
	if (alert)
		*alert = a;
	changed(s, a, created ? VG_CHANGE_NEW : VG_CHANGE_VIOLATION);
	return 0;
}

int vg_alerts_enforced(struct vg_alerts *s, const struct vg_alert *ca, const char *action, bool ok,
		       const char *msg, const char *target, uint64_t now)
{
	struct vg_alert *a = NULL;
	struct alert_rec r = {.type = ALERT_REC_ENFORCED,
			      .action = action,
			      .ok = ok,
			      .msg = msg,
			      .target = target,
			      .time_ns = now};
	int rc;

	if (ca)
		a = alert_by_id(s, ca->id);
	if (!a)
		return -ENOENT;
	r.alert = a;
	rc = alert_log_put(s->log, &r);
	/* kept even when the log refused it: the enforcement happened */
	alert_apply_enforced(s, a, dup_or_null(action), ok, dup_or_null(msg), dup_or_null(target),
			     now);
	changed(s, a, VG_CHANGE_ENFORCED);
	return rc;
}

int vg_alerts_resolve(struct vg_alerts *s, const char *id, uint64_t now)
{
	struct vg_alert *a = alert_by_id(s, id);
	struct alert_rec r = {.type = ALERT_REC_RESOLVED, .alert = a, .time_ns = now};
	int rc;

	if (!a)
		return -ENOENT;
	if (a->state == VG_ALERT_RESOLVED)
		return -EALREADY;
	rc = alert_log_put(s->log, &r);
	if (rc)
		return rc; /* not in the log: not resolved */
	alert_apply_resolved(s, a, now);
	changed(s, a, VG_CHANGE_RESOLVED);
	return 0;
}

const struct vg_alert *vg_alerts_get(struct vg_alerts *s, const char *id)
{
	return alert_by_id(s, id);
}

void vg_alerts_stats(struct vg_alerts *s, struct vg_alerts_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->alerts = s->nall;
	for (size_t i = 0; i < s->nall; i++) {
		st->label_bytes += s->all[i]->labels_len;
		st->labels_omitted += s->all[i]->labels_omitted;
		if (s->all[i]->state == VG_ALERT_RESOLVED)
			st->resolved++;
		else
			st->active++;
	}
	st->violations = s->violations;
	st->merged = s->merged;
	st->timeline_uncounted = s->timeline_uncounted;
	alert_log_stats(s->log, &st->wal);
}
