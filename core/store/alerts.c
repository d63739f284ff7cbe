// SPDX-License-Identifier: BSD-2-Clause
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/uio.h>
#include <time.h>

#include <msgpack.h>

#include "alerts.h"
#include "event_json.h"

struct map { /* string -> pointer, open addressing; keys are owned by the values */
	const char **keys;
	void **vals;
	size_t cap, n, used; /* used: live keys and tombstones, which end probe chains only at an
				empty slot */
};

/* Alerts sharing one field value, in creation order: a query starts from the shortest. */
struct list {
	char *key;
	const struct vg_alert **v;
	size_t n, cap;
};

struct vg_alerts {
	struct vg_wal *wal;
	struct vg_alert **all;
	size_t nall, capall;
	struct map by_id, open_by_key;
	struct map by_field; /* "p\x1f<policy name or id>", "n\x1f<ns>", "d\x1f<deploy>",
				"o\x1f<pod>" */
	struct vg_policy_setting *settings;
	int nsettings;
	uint64_t merged, violations;
	msgpack_sbuffer sb;
	msgpack_packer pk;
	bool replaying;
};

/* ---- small helpers ------------------------------------------------------- */

static char *xstrdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

static uint64_t hstr(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ull;
	return h;
}

static void **map_slot(struct map *m, const char *key, bool *found)
{
	size_t i;

	if (!m->cap)
		return NULL;
	for (i = hstr(key) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
		if (!m->keys[i]) {
			*found = false;
			return &m->vals[i];
		}
		if (m->keys[i] != (const char *)1 && !strcmp(m->keys[i], key)) {
			*found = true;
			return &m->vals[i];
		}
	}
}

static void *map_get(struct map *m, const char *key)
{
	bool found;
	void **v = map_slot(m, key, &found);

	return v && found ? *v : NULL;
}

static int map_put(struct map *m, const char *key, void *val);

static int map_grow(struct map *m)
{
	struct map n = {0};

	/* the same size again when mostly tombstones: they go, and the probes end */
	n.cap = !m->cap ? 1024 : (m->n + 1) * 4 > m->cap ? m->cap * 2 : m->cap;
	n.keys = calloc(n.cap, sizeof(char *));
	n.vals = calloc(n.cap, sizeof(void *));
	if (!n.keys || !n.vals) {
		free(n.keys);
		free(n.vals);
		return -ENOMEM;
	}
	for (size_t i = 0; i < m->cap; i++)
		if (m->keys[i] && m->keys[i] != (const char *)1)
			map_put(&n, m->keys[i], m->vals[i]);
	free(m->keys);
	free(m->vals);
	*m = n;
	return 0;
}

static int map_put(struct map *m, const char *key, void *val)
{
	bool found;
	void **v;

	if ((m->used + 1) * 2 > m->cap && map_grow(m))
		return -ENOMEM;
	v = map_slot(m, key, &found);
	if (!found) {
		m->keys[v - m->vals] = key;
		m->n++;
		m->used++;
	}
	*v = val;
	return 0;
}

static void map_del(struct map *m, const char *key)
{
	bool found;
	void **v = map_slot(m, key, &found);

	if (v && found) {
		/* a tombstone keeps probe chains intact */
		m->keys[v - m->vals] = (const char *)1;
		*v = NULL;
		m->n--;
	}
}

static void map_free(struct map *m)
{
	free(m->keys);
	free(m->vals);
	memset(m, 0, sizeof(*m));
}

/* The list of alerts whose field `tag` is val (NULL: none yet), its key written into key. */
#define INDEX_KEY_MAX 600
static struct list *index_list(struct vg_alerts *s, char tag, const char *val,
			       char key[INDEX_KEY_MAX])
{
	snprintf(key, INDEX_KEY_MAX, "%c\x1f%.580s", tag, val);
	return map_get(&s->by_field, key);
}

static void index_add(struct vg_alerts *s, char tag, const char *val, const struct vg_alert *a)
{
	char key[INDEX_KEY_MAX];
	struct list *l;

	if (!val || !*val)
		return;
	l = index_list(s, tag, val, key);
	if (!l) {
		l = calloc(1, sizeof(*l));
		if (!l || !(l->key = strdup(key)) || map_put(&s->by_field, l->key, l)) {
			if (l)
				free(l->key);
			free(l);
			return;
		}
	}
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 8;
		const struct vg_alert **v = realloc(l->v, cap * sizeof(*v));

		if (!v)
			return;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = a;
}

static void index_alert(struct vg_alerts *s, const struct vg_alert *a)
{
	index_add(s, 'p', a->policy_name, a);
	if (a->policy_id && (!a->policy_name || strcmp(a->policy_id, a->policy_name)))
		index_add(s, 'p', a->policy_id, a);
	index_add(s, 'n', a->namespace_, a);
	index_add(s, 'd', a->deployment, a);
	index_add(s, 'o', a->pod, a);
}

/* Takes a back off the end of the list of its value (it was the last one added). */
static void index_pop(struct vg_alerts *s, char tag, const char *val, const struct vg_alert *a)
{
	char key[INDEX_KEY_MAX];
	struct list *l;

	if (!val || !*val)
		return;
	l = index_list(s, tag, val, key);
	if (l && l->n && l->v[l->n - 1] == a)
		l->n--;
}

static void unindex_alert(struct vg_alerts *s, const struct vg_alert *a)
{
	index_pop(s, 'o', a->pod, a);
	index_pop(s, 'd', a->deployment, a);
	index_pop(s, 'n', a->namespace_, a);
	if (a->policy_id && (!a->policy_name || strcmp(a->policy_id, a->policy_name)))
		index_pop(s, 'p', a->policy_id, a);
	index_pop(s, 'p', a->policy_name, a);
}

static void index_free(struct vg_alerts *s)
{
	for (size_t i = 0; i < s->by_field.cap; i++) {
		struct list *l = s->by_field.vals[i];

		if (s->by_field.keys[i] && s->by_field.keys[i] != (const char *)1 && l) {
			free(l->v);
			free(l->key);
			free(l);
		}
	}
	map_free(&s->by_field);
}

static void uuid4(char out[37])
{
	unsigned char b[16];

	if (getrandom(b, sizeof(b), 0) != sizeof(b)) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		for (int i = 0; i < 16; i++)
			b[i] = (unsigned char)((uint64_t)ts.tv_nsec >> (i % 8) ^ (uint64_t)rand());
	}
	b[6] = (b[6] & 0x0f) | 0x40;
	b[8] = (b[8] & 0x3f) | 0x80;
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
		 b[13], b[14], b[15]);
}

static void proc_free(struct vg_proc_rec *p)
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
	for (int i = 0; i < p->nlineage; i++)
		free(p->lineage[i].exe);
	memset(p, 0, sizeof(*p));
}

static void alert_free(struct vg_alert *a)
{
	for (int i = 0; i < a->nprocs; i++)
		proc_free(&a->procs[i]);
	free(a->policy_id);
	free(a->policy_name);
	free(a->severity);
	free(a->namespace_);
	free(a->deployment);
	free(a->pod);
	free(a->pod_uid);
	free(a->container_id);
	free(a->key);
	free(a->procs);
	free(a->enf_action);
	free(a->enf_msg);
	for (uint32_t i = 0; a->enf_targets && i < a->enf_count && i < 64; i++)
		free(a->enf_targets[i]);
	free(a->enf_targets);
	free(a);
}

/* policy \x1f scope: deployment, else pod, else container, else the host */
static char *merge_key(const char *policy, const char *ns, const char *deploy, const char *pod_uid,
		       const char *cid)
{
	size_t n = strlen(policy) + (ns ? strlen(ns) : 0) + (deploy ? strlen(deploy) : 0) +
		   (pod_uid ? strlen(pod_uid) : 0) + (cid ? strlen(cid) : 0) + 16;
	char *k = malloc(n);

	if (!k)
		return NULL;
	if (deploy && *deploy)
		snprintf(k, n,
			 "%s\x1f"
			 "d:%s/%s",
			 policy, ns ? ns : "", deploy);
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

static struct vg_alert *alert_new(struct vg_alerts *s, const char *id, const char *policy_id,
				  const char *policy_name, const char *severity, const char *ns,
				  const char *deploy, const char *pod, const char *pod_uid,
				  const char *cid, uint64_t t)
{
	struct vg_alert *a = calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	if (s->nall == s->capall) {
		size_t cap = s->capall ? s->capall * 2 : 1024;
		struct vg_alert **n = realloc(s->all, cap * sizeof(*n));

		if (!n) {
			free(a);
			return NULL;
		}
		s->all = n;
		s->capall = cap;
	}
	snprintf(a->id, sizeof(a->id), "%s", id);
	a->policy_id = xstrdup(policy_id);
	a->policy_name = xstrdup(policy_name);
	a->severity = xstrdup(severity);
	a->namespace_ = xstrdup(ns);
	a->deployment = xstrdup(deploy);
	a->pod = xstrdup(pod);
	a->pod_uid = xstrdup(pod_uid);
	a->container_id = xstrdup(cid);
	a->key = merge_key(policy_id, ns, deploy, pod_uid, cid);
	a->first_ns = a->time_ns = t;
	a->state = VG_ALERT_ACTIVE;
	if (!a->key || map_put(&s->by_id, a->id, a) || map_put(&s->open_by_key, a->key, a)) {
		alert_free(a);
		return NULL;
	}
	s->all[s->nall++] = a;
	index_alert(s, a);
	return a;
}

static void alert_free(struct vg_alert *a);

/* Takes back the alert alert_new has just made: the log refused its records. */
static void alert_unmake(struct vg_alerts *s, struct vg_alert *a)
{
	unindex_alert(s, a);
	map_del(&s->by_id, a->id);
	map_del(&s->open_by_key, a->key);
	if (s->nall && s->all[s->nall - 1] == a)
		s->nall--;
	alert_free(a);
}

/* Adds a process to the alert's ring of the 40 most recent; takes ownership of p's strings. */
static void alert_push(struct vg_alert *a, struct vg_proc_rec *p)
{
	struct vg_proc_rec *slot;

	if (a->nprocs == a->cap && a->cap < VG_ALERT_MAX_PROCS) {
		/* most alerts hold a process or two: grow, do not preallocate 40 */
		int cap = a->cap ? a->cap * 2 : 1;
		struct vg_proc_rec *n;

		if (cap > VG_ALERT_MAX_PROCS)
			cap = VG_ALERT_MAX_PROCS;
		n = realloc(a->procs, (size_t)cap * sizeof(*n));
		if (!n) { /* keep what we have: count it, drop the oldest detail */
			a->violations++;
			proc_free(p);
			return;
		}
		a->procs = n;
		a->cap = cap;
	}
	if (a->nprocs < VG_ALERT_MAX_PROCS) {
		slot = &a->procs[a->nprocs++];
	} else {
		slot = &a->procs[a->head];
		proc_free(slot);
		a->head = (a->head + 1) % VG_ALERT_MAX_PROCS;
	}
	*slot = *p;
	a->violations++;
	if (p->time_ns > a->time_ns)
		a->time_ns = p->time_ns;
}

/* The i-th most recent process (0 = latest). */
static const struct vg_proc_rec *proc_at(const struct vg_alert *a, int i)
{
	int idx = a->nprocs < VG_ALERT_MAX_PROCS
			  ? a->nprocs - 1 - i
			  : (a->head - 1 - i + 2 * VG_ALERT_MAX_PROCS) % VG_ALERT_MAX_PROCS;

	return &a->procs[idx];
}

/* ---- log records ------------------------------------------------------------ */

static void pk_str(msgpack_packer *pk, const char *k, const char *v)
{
	msgpack_pack_str_with_body(pk, k, strlen(k));
	if (v)
		msgpack_pack_str_with_body(pk, v, strlen(v));
	else
		msgpack_pack_nil(pk);
}

static void pk_u64(msgpack_packer *pk, const char *k, uint64_t v)
{
	msgpack_pack_str_with_body(pk, k, strlen(k));
	msgpack_pack_uint64(pk, v);
}

static int append(struct vg_alerts *s, vg_wal_ack_cb ack, void *ctx)
{
	int rc = vg_wal_append(s->wal, s->sb.data, s->sb.size, ack, ctx);

	msgpack_sbuffer_clear(&s->sb);
	return rc;
}

/* Appends the buffer as two records split at split (one when split is 0): both or neither. */
static int append_pair(struct vg_alerts *s, size_t split, vg_wal_ack_cb ack, void *ctx)
{
	struct iovec v[2] = {{s->sb.data, split}, {s->sb.data + split, s->sb.size - split}};
	int rc = split ? vg_wal_appendv(s->wal, v, 2, ack, ctx)
		       : vg_wal_appendv(s->wal, v + 1, 1, ack, ctx);

	msgpack_sbuffer_clear(&s->sb);
	return rc;
}

static void pack_created(struct vg_alerts *s, const struct vg_alert *a)
{
	msgpack_pack_map(&s->pk, 11);
	pk_str(&s->pk, "t", "ac");
	pk_str(&s->pk, "id", a->id);
	pk_str(&s->pk, "policy_id", a->policy_id);
	pk_str(&s->pk, "policy", a->policy_name);
	pk_str(&s->pk, "severity", a->severity);
	pk_str(&s->pk, "ns", a->namespace_);
	pk_str(&s->pk, "deploy", a->deployment);
	pk_str(&s->pk, "pod", a->pod);
	pk_str(&s->pk, "pod_uid", a->pod_uid);
	pk_str(&s->pk, "cid", a->container_id);
	pk_u64(&s->pk, "time", a->first_ns);
}

static void pack_violation(struct vg_alerts *s, const struct vg_alert *a,
			   const struct vg_proc_rec *p)
{
	msgpack_pack_map(&s->pk, p->error ? 22 : 21);
	pk_str(&s->pk, "t", "v");
	pk_str(&s->pk, "id", a->id);
	pk_u64(&s->pk, "time", p->time_ns);
	pk_u64(&s->pk, "pid", p->pid);
	pk_u64(&s->pk, "ppid", p->ppid);
	pk_u64(&s->pk, "uid", p->uid);
	pk_u64(&s->pk, "gid", p->gid);
	pk_u64(&s->pk, "euid", p->euid);
	pk_str(&s->pk, "comm", p->comm);
	pk_str(&s->pk, "exe", p->exe);
	pk_str(&s->pk, "args", p->args);
	pk_str(&s->pk, "cwd", p->cwd);
	pk_str(&s->pk, "cid", p->container_id);
	pk_str(&s->pk, "pod_uid", p->pod_uid);
	pk_str(&s->pk, "ns", p->namespace_);
	pk_str(&s->pk, "pod", p->pod);
	pk_str(&s->pk, "deploy", p->deployment);
	pk_str(&s->pk, "attr", p->attribution);
	msgpack_pack_str_with_body(&s->pk, "killed", 6);
	if (p->killed_in_kernel)
		msgpack_pack_true(&s->pk);
	else
		msgpack_pack_false(&s->pk);
	msgpack_pack_str_with_body(&s->pk, "lin", 3);
	msgpack_pack_array(&s->pk, (size_t)p->nlineage);
	for (int i = 0; i < p->nlineage; i++) {
		msgpack_pack_array(&s->pk, 3);
		msgpack_pack_uint32(&s->pk, p->lineage[i].pid);
		msgpack_pack_uint32(&s->pk, p->lineage[i].uid);
		msgpack_pack_str_with_body(&s->pk, p->lineage[i].exe, strlen(p->lineage[i].exe));
	}
	pk_str(&s->pk, "v", "1");
	if (p->error)
		pk_str(&s->pk, "err", p->error);
}

/* A policy setting as its record ("ps"); enabled < 0 or enforcement NULL: that part unset. */
static void pack_setting(struct vg_alerts *s, const char *policy_id, int enabled,
			 const char *enforcement)
{
	msgpack_pack_map(&s->pk, 4);
	pk_str(&s->pk, "t", "ps");
	pk_str(&s->pk, "policy", policy_id);
	msgpack_pack_str_with_body(&s->pk, "enabled", 7);
	if (enabled < 0)
		msgpack_pack_nil(&s->pk);
	else if (enabled)
		msgpack_pack_true(&s->pk);
	else
		msgpack_pack_false(&s->pk);
	pk_str(&s->pk, "enforcement", enforcement);
}

/*
 * What an alert is beyond its kept processes ("as", written by compaction
 * after them): the true violation count, last-seen time, state, resolution
 * and enforcement with every kept target and the true count of targets.
 */
static void pack_summary(struct vg_alerts *s, const struct vg_alert *a)
{
	uint32_t nt = a->enf_targets ? (a->enf_count < 64 ? a->enf_count : 64) : 0;

	msgpack_pack_map(&s->pk, 11);
	pk_str(&s->pk, "t", "as");
	pk_str(&s->pk, "id", a->id);
	pk_u64(&s->pk, "violations", a->violations);
	pk_u64(&s->pk, "time", a->time_ns);
	pk_u64(&s->pk, "state", (uint64_t)a->state);
	pk_u64(&s->pk, "resolved", a->resolved_ns);
	pk_str(&s->pk, "action", a->enf_action);
	pk_str(&s->pk, "msg", a->enf_msg);
	pk_u64(&s->pk, "enf_time", a->enf_ns);
	pk_u64(&s->pk, "enf_count", a->enf_count);
	msgpack_pack_str_with_body(&s->pk, "targets", 7);
	msgpack_pack_array(&s->pk, nt);
	for (uint32_t i = 0; i < nt; i++)
		msgpack_pack_str_with_body(&s->pk, a->enf_targets[i], strlen(a->enf_targets[i]));
}

/* ---- replay ------------------------------------------------------------------ */

static const msgpack_object *field(const msgpack_object *o, const char *k)
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

/* A string field as a fresh C string (NULL if absent or nil). */
static char *fstr(const msgpack_object *o, const char *k)
{
	const msgpack_object *v = field(o, k);
	char *s;

	if (!v || v->type != MSGPACK_OBJECT_STR)
		return NULL;
	s = malloc(v->via.str.size + 1);
	if (s) {
		memcpy(s, v->via.str.ptr, v->via.str.size);
		s[v->via.str.size] = '\0';
	}
	return s;
}

static uint64_t fu64(const msgpack_object *o, const char *k)
{
	const msgpack_object *v = field(o, k);

	return v && v->type == MSGPACK_OBJECT_POSITIVE_INTEGER ? v->via.u64 : 0;
}

static struct vg_policy_setting *setting_slot(struct vg_alerts *s, const char *policy)
{
	struct vg_policy_setting *n;

	for (int i = 0; i < s->nsettings; i++)
		if (!strcmp(s->settings[i].policy_id, policy))
			return &s->settings[i];
	n = realloc(s->settings, (size_t)(s->nsettings + 1) * sizeof(*n));
	if (!n)
		return NULL;
	s->settings = n;
	n = &s->settings[s->nsettings++];
	n->policy_id = strdup(policy);
	n->enabled = -1;
	n->enforcement = NULL;
	return n;
}

/* Takes ownership of action, msg and target. */
static void apply_enforced(struct vg_alerts *s, struct vg_alert *a, char *action, bool ok,
			   char *msg, char *target, uint64_t t)
{
	(void)s;
	free(a->enf_action);
	free(a->enf_msg);
	a->enf_action = action;
	a->enf_msg = msg;
	a->enf_ns = t;
	if (ok && target) {
		bool seen = false;

		for (uint32_t i = 0; a->enf_targets && i < a->enf_count && i < 64 && !seen; i++)
			seen = !strcmp(a->enf_targets[i], target);
		if (!seen) {
			if (!a->enf_targets)
				a->enf_targets = calloc(64, sizeof(char *));
			if (a->enf_targets && a->enf_count < 64) {
				a->enf_targets[a->enf_count] = target;
				target = NULL;
			}
			a->enf_count++;
		}
	}
	free(target);
	if (!ok && a->state == VG_ALERT_ACTIVE)
		a->state = VG_ALERT_ATTEMPTED;
}

/* Replays an "as" record (pack_summary) onto its alert. */
static void apply_summary(struct vg_alerts *s, struct vg_alert *a, const msgpack_object *o)
{
	const msgpack_object *tg = field(o, "targets");
	uint64_t n = fu64(o, "violations"), st = fu64(o, "state");

	s->violations += n - a->violations;
	a->violations = n;
	if (fu64(o, "time") > a->time_ns)
		a->time_ns = fu64(o, "time");
	if (st == VG_ALERT_RESOLVED) {
		if (map_get(&s->open_by_key, a->key) == a)
			map_del(&s->open_by_key, a->key);
		a->state = VG_ALERT_RESOLVED;
		a->resolved_ns = fu64(o, "resolved");
	} else if (st == VG_ALERT_ATTEMPTED && a->state == VG_ALERT_ACTIVE) {
		a->state = VG_ALERT_ATTEMPTED;
	}
	free(a->enf_action);
	free(a->enf_msg);
	a->enf_action = fstr(o, "action");
	a->enf_msg = fstr(o, "msg");
	a->enf_ns = fu64(o, "enf_time");
	for (uint32_t i = 0; a->enf_targets && i < a->enf_count && i < 64; i++)
		free(a->enf_targets[i]);
	free(a->enf_targets);
	a->enf_targets = NULL;
	a->enf_count = 0;
	if (tg && tg->type == MSGPACK_OBJECT_ARRAY && tg->via.array.size)
		a->enf_targets = calloc(64, sizeof(char *));
	for (uint32_t i = 0; a->enf_targets && i < tg->via.array.size && a->enf_count < 64; i++) {
		const msgpack_object *e = &tg->via.array.ptr[i];

		if (e->type == MSGPACK_OBJECT_STR &&
		    (a->enf_targets[a->enf_count] = strndup(e->via.str.ptr, e->via.str.size)))
			a->enf_count++;
	}
	n = fu64(o, "enf_count");
	if (n > a->enf_count) /* targets past the 64 kept are counted only */
		a->enf_count = n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
}

static void on_replay(void *ctx, const void *payload, size_t len)
{
	struct vg_alerts *s = ctx;
	msgpack_unpacked u;
	size_t off = 0;
	char *t = NULL, *id = NULL;

	msgpack_unpacked_init(&u);
	if (msgpack_unpack_next(&u, payload, len, &off) != MSGPACK_UNPACK_SUCCESS ||
	    u.data.type != MSGPACK_OBJECT_MAP)
		goto out;
	t = fstr(&u.data, "t");
	id = fstr(&u.data, "id");
	if (!t)
		goto out;
	if (!strcmp(t, "ac") && id) {
		char *pid = fstr(&u.data, "policy_id"), *pn = fstr(&u.data, "policy"),
		     *sev = fstr(&u.data, "severity"), *ns = fstr(&u.data, "ns"),
		     *dep = fstr(&u.data, "deploy"), *pod = fstr(&u.data, "pod"),
		     *puid = fstr(&u.data, "pod_uid"), *cid = fstr(&u.data, "cid");

		if (pid && !map_get(&s->by_id, id))
			alert_new(s, id, pid, pn, sev, ns, dep, pod, puid, cid,
				  fu64(&u.data, "time"));
		free(pid);
		free(pn);
		free(sev);
		free(ns);
		free(dep);
		free(pod);
		free(puid);
		free(cid);
	} else if (!strcmp(t, "v") && id) {
		struct vg_alert *a = map_get(&s->by_id, id);
		struct vg_proc_rec p = {0};

		if (!a)
			goto out; /* its alert was compacted away or never made it to disk */
		/* one pass over the map: rebuild reads a million of these */
		for (uint32_t i = 0; i < u.data.via.map.size; i++) {
			const msgpack_object *k = &u.data.via.map.ptr[i].key,
					     *v = &u.data.via.map.ptr[i].val;
			const char *ks = k->via.str.ptr;
			uint32_t kl = k->via.str.size;
			char **dst = NULL;
			uint32_t *num = NULL;

			if (k->type != MSGPACK_OBJECT_STR)
				continue;
#define K(name) (kl == sizeof(name) - 1 && !memcmp(ks, name, kl))
			if (K("time"))
				p.time_ns =
					v->type == MSGPACK_OBJECT_POSITIVE_INTEGER ? v->via.u64 : 0;
			else if (K("pid"))
				num = &p.pid;
			else if (K("ppid"))
				num = &p.ppid;
			else if (K("uid"))
				num = &p.uid;
			else if (K("gid"))
				num = &p.gid;
			else if (K("euid"))
				num = &p.euid;
			else if (K("comm"))
				dst = &p.comm;
			else if (K("exe"))
				dst = &p.exe;
			else if (K("args"))
				dst = &p.args;
			else if (K("cwd"))
				dst = &p.cwd;
			else if (K("cid"))
				dst = &p.container_id;
			else if (K("pod_uid"))
				dst = &p.pod_uid;
			else if (K("ns"))
				dst = &p.namespace_;
			else if (K("pod"))
				dst = &p.pod;
			else if (K("deploy"))
				dst = &p.deployment;
			else if (K("err"))
				dst = &p.error;
			else if (K("attr"))
				dst = &p.attribution;
			else if (K("killed"))
				p.killed_in_kernel =
					v->type == MSGPACK_OBJECT_BOOLEAN && v->via.boolean;
			else if (K("lin") && v->type == MSGPACK_OBJECT_ARRAY)
				for (uint32_t j = 0;
				     j < v->via.array.size && p.nlineage < VG_LINEAGE_MAX; j++) {
					const msgpack_object *e = &v->via.array.ptr[j];

					if (e->type != MSGPACK_OBJECT_ARRAY ||
					    e->via.array.size != 3 ||
					    e->via.array.ptr[2].type != MSGPACK_OBJECT_STR)
						continue;
					p.lineage[p.nlineage].pid =
						(uint32_t)e->via.array.ptr[0].via.u64;
					p.lineage[p.nlineage].uid =
						(uint32_t)e->via.array.ptr[1].via.u64;
					p.lineage[p.nlineage].exe =
						strndup(e->via.array.ptr[2].via.str.ptr,
							e->via.array.ptr[2].via.str.size);
					p.nlineage++;
				}
#undef K
			if (num && v->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
				*num = (uint32_t)v->via.u64;
			if (dst && v->type == MSGPACK_OBJECT_STR && !*dst)
				*dst = strndup(v->via.str.ptr, v->via.str.size);
		}
		alert_push(a, &p);
		s->violations++;
	} else if (!strcmp(t, "en") && id) {
		struct vg_alert *a = map_get(&s->by_id, id);

		if (a)
			apply_enforced(s, a, fstr(&u.data, "action"), fu64(&u.data, "ok") != 0,
				       fstr(&u.data, "msg"), fstr(&u.data, "target"),
				       fu64(&u.data, "time"));
	} else if (!strcmp(t, "ar") && id) {
		struct vg_alert *a = map_get(&s->by_id, id);

		if (a && a->state != VG_ALERT_RESOLVED) {
			a->state = VG_ALERT_RESOLVED;
			a->resolved_ns = fu64(&u.data, "time");
			map_del(&s->open_by_key, a->key);
		}
	} else if (!strcmp(t, "as") && id) {
		struct vg_alert *a = map_get(&s->by_id, id);

		if (a)
			apply_summary(s, a, &u.data);
	} else if (!strcmp(t, "ps")) {
		char *pol = fstr(&u.data, "policy"), *enf = fstr(&u.data, "enforcement");
		const msgpack_object *en = field(&u.data, "enabled");
		struct vg_policy_setting *st = pol ? setting_slot(s, pol) : NULL;

		if (st && en && en->type == MSGPACK_OBJECT_BOOLEAN)
			st->enabled = en->via.boolean;
		if (st && enf) {
			free(st->enforcement);
			st->enforcement = enf;
			enf = NULL;
		}
		free(pol);
		free(enf);
	}
out:
	free(t);
	free(id);
	msgpack_unpacked_destroy(&u);
}

void vg_alerts_replay_record(struct vg_alerts *s, const void *payload, size_t len)
{
	on_replay(s, payload, len);
}

/* ---- API ---------------------------------------------------------------------- */

int vg_alerts_open(struct vg_alerts **out, const struct vg_alerts_opts *o, struct event_base *base,
		   struct vg_wal_report *rep, char *err, size_t errlen)
{
	struct vg_alerts *s = calloc(1, sizeof(*s));
	struct vg_wal_opts wo = {.dir = o->dir,
				 .commit_ms = o->commit_ms,
				 .fsync_always = o->fsync_always,
				 .mem_bound = o->mem_bound};
	int rc;

	*out = NULL;
	if (!s)
		return -ENOMEM;
	msgpack_sbuffer_init(&s->sb);
	msgpack_packer_init(&s->pk, &s->sb, msgpack_sbuffer_write);
	s->replaying = true;
	rc = vg_wal_open(&s->wal, &wo, base, on_replay, s, rep, err, errlen);
	s->replaying = false;
	if (rc) {
		vg_alerts_close(s);
		return rc;
	}
	*out = s;
	return 0;
}

void vg_alerts_close(struct vg_alerts *s)
{
	if (!s)
		return;
	vg_wal_close(s->wal);
	for (size_t i = 0; i < s->nall; i++)
		alert_free(s->all[i]);
	free(s->all);
	map_free(&s->by_id);
	map_free(&s->open_by_key);
	index_free(s);
	for (int i = 0; i < s->nsettings; i++) {
		free(s->settings[i].policy_id);
		free(s->settings[i].enforcement);
	}
	free(s->settings);
	msgpack_sbuffer_destroy(&s->sb);
	free(s);
}

int vg_alerts_sync(struct vg_alerts *s)
{
	return vg_wal_sync(s->wal);
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
	p->namespace_ = xstrdup(m ? m->namespace_ : NULL);
	p->pod = xstrdup(m ? m->pod : NULL);
	p->deployment = xstrdup(m ? m->deployment : NULL);
	p->killed_in_kernel = v->killed_in_kernel;
	p->error = xstrdup(v->error);
	p->attribution = ev->attr_warning[0] ? strdup(ev->attr_warning) : NULL;
	for (int i = 0; i < ev->n_lineage && i < VG_LINEAGE_MAX; i++) {
		p->lineage[i].pid = ev->lineage[i].pid;
		p->lineage[i].uid = ev->lineage[i].uid;
		p->lineage[i].exe = strdup(ev->lineage[i].exe ? ev->lineage[i].exe : "");
		p->nlineage = i + 1;
	}
}

/*
 * Memory holds what the log holds: a violation (with its alert's creation,
 * when it opens one) is appended whole or not at all, and only an appended
 * one joins its alert.
 */
int vg_alerts_add(struct vg_alerts *s, const struct vg_violation *v, vg_wal_ack_cb ack, void *ctx,
		  const struct vg_alert **alert)
{
	struct vg_event *ev = v->ev;
	const struct vg_container *ctr = vg_event_container(ev);
	const struct vg_meta *m = ev->meta;
	const char *ns = m ? m->namespace_ : NULL, *deploy = m ? m->deployment : NULL;
	const char *pod = m ? m->pod : NULL;
	struct vg_proc_rec p;
	struct vg_alert *a;
	size_t split = 0;
	char *key;
	int rc;

	if (alert)
		*alert = NULL;
	vg_event_args(ev);
	vg_event_paths(ev);
	key = merge_key(v->policy_id, ns, deploy, ctr->pod_uid, ctr->id);
	if (!key)
		return -ENOMEM;
	a = map_get(&s->open_by_key, key);
	free(key);
	if (!a) {
		char id[37];

		uuid4(id);
		a = alert_new(s, id, v->policy_id, v->policy_name, v->severity, ns, deploy, pod,
			      ctr->pod_uid[0] ? ctr->pod_uid : NULL, ctr->id[0] ? ctr->id : NULL,
			      ev->time_ns);
		if (!a)
			return -ENOMEM;
		pack_created(s, a);
		split = s->sb.size;
	}
	proc_of(&p, v);
	pack_violation(s, a, &p);
	rc = append_pair(s, split, ack, ctx);
	if (rc) {
		proc_free(&p);
		if (split)
			alert_unmake(s, a);
		return rc;
	}
	if (!split)
		s->merged++;
	alert_push(a, &p);
	s->violations++;
	if (alert)
		*alert = a;
	return 0;
}

int vg_alerts_enforced(struct vg_alerts *s, const struct vg_alert *ca, const char *action, bool ok,
		       const char *msg, const char *target, uint64_t now)
{
	struct vg_alert *a = ca ? map_get(&s->by_id, ca->id) : NULL;

	if (!a)
		return -ENOENT;
	msgpack_pack_map(&s->pk, 7);
	pk_str(&s->pk, "t", "en");
	pk_str(&s->pk, "id", a->id);
	pk_str(&s->pk, "action", action);
	pk_u64(&s->pk, "ok", ok);
	pk_str(&s->pk, "msg", msg);
	pk_str(&s->pk, "target", target);
	pk_u64(&s->pk, "time", now);
	apply_enforced(s, a, xstrdup(action), ok, xstrdup(msg), xstrdup(target), now);
	return append(s, NULL, NULL);
}

int vg_alerts_resolve(struct vg_alerts *s, const char *id, uint64_t now)
{
	struct vg_alert *a = map_get(&s->by_id, id);
	int rc;

	if (!a)
		return -ENOENT;
	if (a->state == VG_ALERT_RESOLVED)
		return -EALREADY;
	msgpack_pack_map(&s->pk, 3);
	pk_str(&s->pk, "t", "ar");
	pk_str(&s->pk, "id", a->id);
	pk_u64(&s->pk, "time", now);
	rc = append(s, NULL, NULL);
	if (rc)
		return rc; /* not in the log: not resolved */
	a->state = VG_ALERT_RESOLVED;
	a->resolved_ns = now;
	map_del(&s->open_by_key, a->key);
	return 0;
}

int vg_alerts_set_policy(struct vg_alerts *s, const char *policy_id, int enabled,
			 const char *enforcement)
{
	struct vg_policy_setting *st = setting_slot(s, policy_id);
	int rc;

	if (!st)
		return -ENOMEM;
	pack_setting(s, policy_id, enabled, enforcement);
	rc = append(s, NULL, NULL);
	if (rc)
		return rc; /* not in the log: not changed */
	if (enabled >= 0)
		st->enabled = enabled;
	if (enforcement) {
		free(st->enforcement);
		st->enforcement = strdup(enforcement);
	}
	return 0;
}

const struct vg_policy_setting *vg_alerts_policy_setting(struct vg_alerts *s, const char *policy_id)
{
	for (int i = 0; i < s->nsettings; i++)
		if (!strcmp(s->settings[i].policy_id, policy_id))
			return &s->settings[i];
	return NULL;
}

const struct vg_alert *vg_alerts_get(struct vg_alerts *s, const char *id)
{
	return map_get(&s->by_id, id);
}

static bool eq(const char *want, const char *have)
{
	return !want || (have && !strcmp(want, have));
}

static int newest_first(const void *a, const void *b)
{
	const struct vg_alert *x = *(const struct vg_alert *const *)a;
	const struct vg_alert *y = *(const struct vg_alert *const *)b;

	return x->time_ns < y->time_ns ? 1 : x->time_ns > y->time_ns ? -1 : strcmp(x->id, y->id);
}

/* newest_first(a, b) > 0: a is older: the heap below keeps the oldest on top */
static void sift_down(const struct vg_alert **h, int k, int i)
{
	for (;;) {
		int l = 2 * i + 1, r = l + 1, m = i;
		const struct vg_alert *t;

		if (l < k && newest_first(&h[l], &h[m]) > 0)
			m = l;
		if (r < k && newest_first(&h[r], &h[m]) > 0)
			m = r;
		if (m == i)
			return;
		t = h[i];
		h[i] = h[m];
		h[m] = t;
		i = m;
	}
}

/* Moves the k newest of r[0..n) to the front, newest first: O(n log k), not a full sort. */
static void newest_k(const struct vg_alert **r, int n, int k)
{
	if (k >= n || n < 2048) {
		qsort(r, (size_t)n, sizeof(*r), newest_first);
		return;
	}
	for (int i = k / 2 - 1; i >= 0; i--) /* r[0..k): a heap, the oldest kept on top */
		sift_down(r, k, i);
	for (int i = k; i < n; i++) {
		if (newest_first(&r[i], &r[0]) < 0) { /* newer than the oldest kept */
			const struct vg_alert *t = r[0];

			r[0] = r[i];
			r[i] = t;
			sift_down(r, k, 0);
		}
	}
	qsort(r, (size_t)k, sizeof(*r), newest_first);
}

int vg_alerts_query_window(struct vg_alerts *s, const struct vg_alert_filter *f, int want,
			   const struct vg_alert ***out)
{
	int n = vg_alerts_query_unsorted(s, f, out);

	if (n > 0 && want > 0) /* a page of none orders nothing */
		newest_k(*out, n, want);
	return n;
}

int vg_alerts_query(struct vg_alerts *s, const struct vg_alert_filter *f,
		    const struct vg_alert ***out)
{
	int n = vg_alerts_query_unsorted(s, f, out);

	if (n > 0)
		qsort(*out, (size_t)n, sizeof(**out), newest_first);
	return n;
}

/* The shortest index list among the query's fields; NULL: scan everything. */
static const struct list *start_list(struct vg_alerts *s, const struct vg_alert_filter *f,
				     bool *empty)
{
	const char tags[] = {'p', 'n', 'd', 'o'};
	const char *vals[] = {f->policy, f->namespace_, f->deployment, f->pod};
	const struct list *best = NULL;

	*empty = false;
	for (int i = 0; i < 4; i++) {
		char key[INDEX_KEY_MAX];
		const struct list *l;

		if (!vals[i])
			continue;
		l = index_list(s, tags[i], vals[i], key);
		if (!l) { /* nothing has that value */
			*empty = true;
			return NULL;
		}
		if (!best || l->n < best->n)
			best = l;
	}
	return best;
}

int vg_alerts_query_unsorted(struct vg_alerts *s, const struct vg_alert_filter *f,
			     const struct vg_alert ***out)
{
	bool empty;
	const struct list *l = start_list(s, f, &empty);
	size_t total = l ? l->n : s->nall;
	const struct vg_alert **r = malloc((total + 1) * sizeof(*r));
	int n = 0;

	*out = r;
	if (!r)
		return -ENOMEM;
	if (empty)
		return 0;
	for (size_t i = 0; i < total; i++) {
		const struct vg_alert *a = l ? l->v[i] : s->all[i];

		if ((f->state >= 0 && (int)a->state != f->state) || a->time_ns < f->since_ns ||
		    !(eq(f->policy, a->policy_name) || eq(f->policy, a->policy_id)) ||
		    !eq(f->namespace_, a->namespace_) || !eq(f->deployment, a->deployment) ||
		    !eq(f->pod, a->pod))
			continue;
		r[n++] = a;
	}
	return n;
}

struct compact_it {
	struct vg_alerts *s;
	int si;	   /* settings first */
	size_t ai; /* then per alert: created, its kept processes, its summary */
	int pi, phase;
};

/* The compacted log: everything replay rebuilds, nothing else. */
static int compact_next(void *ctx, const void **p, size_t *len)
{
	struct compact_it *it = ctx;
	struct vg_alerts *s = it->s;

	msgpack_sbuffer_clear(&s->sb);
	if (it->si < s->nsettings) {
		const struct vg_policy_setting *st = &s->settings[it->si++];

		pack_setting(s, st->policy_id, st->enabled, st->enforcement);
	}
	while (!s->sb.size && it->ai < s->nall) {
		struct vg_alert *a = s->all[it->ai];

		if (it->phase == 0) {
			pack_created(s, a);
			it->phase = 1;
			it->pi = a->nprocs - 1;
		} else if (it->phase == 1 && it->pi >= 0) {
			/* oldest first, so replay rebuilds the same ring */
			pack_violation(s, a, proc_at(a, it->pi--));
		} else if (it->phase == 1) {
			pack_summary(s, a);
			it->phase = 2;
		} else {
			it->ai++;
			it->phase = 0;
		}
	}
	if (!s->sb.size)
		return 0;
	*p = s->sb.data;
	*len = s->sb.size;
	return 1;
}

int vg_alerts_compact(struct vg_alerts *s, uint64_t cutoff)
{
	size_t keep = 0;
	int dropped = 0, rc;
	struct compact_it it = {.s = s};
	bool any = false;

	for (size_t i = 0; i < s->nall && !any; i++)
		any = s->all[i]->state == VG_ALERT_RESOLVED && s->all[i]->resolved_ns < cutoff;
	if (!any)
		return 0;
	rc = vg_wal_sync(s->wal); /* before anything leaves memory: a full disk keeps it all */
	if (rc)
		return rc;
	for (size_t i = 0; i < s->nall; i++) {
		struct vg_alert *a = s->all[i];

		if (a->state == VG_ALERT_RESOLVED && a->resolved_ns < cutoff) {
			map_del(&s->by_id, a->id);
			alert_free(a);
			dropped++;
		} else {
			s->all[keep++] = a;
		}
	}
	s->nall = keep;
	if (!dropped)
		return 0;
	index_free(s);
	for (size_t i = 0; i < s->nall; i++)
		index_alert(s, s->all[i]);
	rc = vg_wal_rewrite(s->wal, compact_next, &it);
	msgpack_sbuffer_clear(&s->sb);
	return rc ? rc : dropped;
}

void vg_alerts_stats(struct vg_alerts *s, struct vg_alerts_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->alerts = s->nall;
	for (size_t i = 0; i < s->nall; i++) {
		if (s->all[i]->state == VG_ALERT_RESOLVED)
			st->resolved++;
		else
			st->active++;
	}
	st->violations = s->violations;
	st->merged = s->merged;
	vg_wal_stats(s->wal, &st->wal);
}

const char *vg_alert_state_name(enum vg_alert_state st)
{
	return st == VG_ALERT_RESOLVED	  ? "RESOLVED"
	       : st == VG_ALERT_ATTEMPTED ? "ATTEMPTED"
					  : "ACTIVE";
}

void vg_alert_message(const struct vg_alert *a, char *buf, size_t n)
{
	const struct vg_proc_rec *p = a->nprocs ? proc_at(a, 0) : NULL;

	if (!p) {
		snprintf(buf, n, "Policy '%s' violated", a->policy_name);
		return;
	}
	snprintf(buf, n, "Binary '%s' executed with arguments '%s' under user ID %u", p->exe,
		 p->args ? p->args : "", p->uid);
}

/* s, or NULL (JSON null) when it is empty */
static const char *ns(const char *s)
{
	return s && *s ? s : NULL;
}

/* A string member, made UTF-8 if it is not (args and paths are whatever bytes the process had). */
static void S(const struct vg_emit *w, void *c, const char *key, const char *s)
{
	char buf[16384];

	w->str(c, key, vg_utf8_or_lossy(s, buf, sizeof(buf)));
}

static void emit_proc(const struct vg_emit *w, void *c, const struct vg_proc_rec *p)
{
	char ts[40];

	w->open(c, NULL, false, p->error ? 18 : 17);
	vg_time_rfc3339(p->time_ns, ts, sizeof(ts));
	S(w, c, "time", ts);
	S(w, c, "containerId", ns(p->container_id));
	S(w, c, "podUid", ns(p->pod_uid));
	S(w, c, "podId", ns(p->pod));
	S(w, c, "namespace", ns(p->namespace_));
	S(w, c, "name", ns(p->comm));
	S(w, c, "args", p->args ? p->args : "");
	S(w, c, "execFilePath", ns(p->exe));
	S(w, c, "cwd", ns(p->cwd));
	S(w, c, "attributionWarning", ns(p->attribution));
	w->num(c, "pid", p->pid);
	w->num(c, "ppid", p->ppid);
	w->num(c, "uid", p->uid);
	w->num(c, "gid", p->gid);
	w->num(c, "euid", p->euid);
	w->open(c, "lineage", true, p->nlineage);
	for (int i = 0; i < p->nlineage; i++) {
		w->open(c, NULL, false, 3);
		w->num(c, "parentPid", p->lineage[i].pid);
		w->num(c, "parentUid", p->lineage[i].uid);
		S(w, c, "parentExecFilePath", p->lineage[i].exe ? p->lineage[i].exe : "");
		w->close(c);
	}
	w->close(c);
	w->boolean(c, "killedInKernel", p->killed_in_kernel);
	if (p->error) /* the check() failed: not a decision of the policy */
		S(w, c, "evaluationError", p->error);
	w->close(c);
}

void vg_alert_emit(const struct vg_alert *a, bool full, const struct vg_emit *w, void *c)
{
	char ts[40], msg[1024];

	w->open(c, NULL, false, 20);
	S(w, c, "id", a->id);
	w->open(c, "policy", false, 3);
	S(w, c, "id", a->policy_id ? a->policy_id : "");
	S(w, c, "name", a->policy_name ? a->policy_name : "");
	S(w, c, "severity", a->severity ? a->severity : "");
	w->close(c);
	S(w, c, "lifecycleStage", "RUNTIME");
	S(w, c, "state", vg_alert_state_name(a->state));
	vg_time_rfc3339(a->time_ns, ts, sizeof(ts));
	S(w, c, "time", ts);
	vg_time_rfc3339(a->first_ns, ts, sizeof(ts));
	S(w, c, "firstOccurred", ts);
	if (a->state == VG_ALERT_RESOLVED) {
		vg_time_rfc3339(a->resolved_ns, ts, sizeof(ts));
		S(w, c, "resolvedAt", ts);
	}
	S(w, c, "namespace", ns(a->namespace_));
	if (ns(a->deployment)) {
		w->open(c, "deployment", false, 1);
		S(w, c, "name", a->deployment);
		w->close(c);
	} else {
		S(w, c, "deployment", NULL);
	}
	S(w, c, "pod", ns(a->pod));
	S(w, c, "podUid", ns(a->pod_uid));
	S(w, c, "containerId", ns(a->container_id));
	w->num(c, "violations", (long long)a->violations);
	vg_alert_message(a, msg, sizeof(msg));
	S(w, c, "message", msg);
	if (a->enf_action) {
		vg_time_rfc3339(a->enf_ns, ts, sizeof(ts));
		w->open(c, "enforcement", false, 3);
		S(w, c, "action", a->enf_action);
		S(w, c, "message", a->enf_msg ? a->enf_msg : "");
		S(w, c, "time", ts);
		w->close(c);
	} else {
		S(w, c, "enforcement", NULL);
	}
	w->num(c, "enforcementCount", a->enf_count);
	if (full) {
		w->open(c, "processes", true, a->nprocs);
		for (int i = 0; i < a->nprocs; i++)
			emit_proc(w, c, proc_at(a, i));
		w->close(c);
	}
	w->close(c);
}

/* ---- the alert as a jansson tree: an emitter that builds one ---- */

struct jtree {
	json_t *root, *stack[8];
	int depth;
};

static void jt_add(struct jtree *t, const char *key, json_t *v)
{
	json_t *top = t->depth ? t->stack[t->depth - 1] : NULL;

	if (!top)
		t->root = v;
	else if (key)
		json_object_set_new(top, key, v);
	else
		json_array_append_new(top, v);
}

static void jt_open(void *c, const char *key, bool array, int n)
{
	struct jtree *t = c;
	json_t *v = array ? json_array() : json_object();

	(void)n;
	jt_add(t, key, v);
	if (t->depth < (int)(sizeof(t->stack) / sizeof(t->stack[0])))
		t->stack[t->depth++] = v;
}

static void jt_close(void *c)
{
	struct jtree *t = c;

	if (t->depth)
		t->depth--;
}

static void jt_str(void *c, const char *key, const char *s)
{
	jt_add(c, key, s ? json_string(s) : json_null());
}

static void jt_num(void *c, const char *key, long long v)
{
	jt_add(c, key, json_integer((json_int_t)v));
}

static void jt_bool(void *c, const char *key, bool v)
{
	jt_add(c, key, json_boolean(v));
}

json_t *vg_alert_json(const struct vg_alert *a, bool full)
{
	static const struct vg_emit jt = {jt_open, jt_close, jt_str, jt_num, jt_bool};
	struct jtree t = {0};

	vg_alert_emit(a, full, &jt, &t);
	return t.root;
}
