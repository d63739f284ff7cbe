// SPDX-License-Identifier: BSD-2-Clause
/*
 * alert_log.c - the store's log codec: each record type (a msgpack map whose
 * "t" names it) has one row in rec_types with the function that packs it and
 * the one that replays it into the model at open. Every pack is checked: a
 * record that could not be packed whole is never appended.
 *
 *   ac  alert created       id, policy_id, policy, severity, ns, deploy, pod, pod_uid, cid, time;
 *                           when known: cname, image, lbl [key, value, ...], lblx (labels omitted)
 *   v   violation appended  id, time, pid .. euid, comm, exe, args, cwd, cid, pod_uid, ns, pod,
 *                           deploy, attr, killed, lin [[pid, uid, exe]...], v "1", err (if any);
 *                           when set: by (the way the name matched, not "comm"), mname, xname
 *                           (exe name), sha (hex), fl, nii, dec (true: decided in the kernel)
 *   en  enforcement         id, action, ok, msg, target, time
 *   ar  alert resolved      id, time
 *   as  alert summary       id, violations, time, state, resolved, action, msg, enf_time,
 *                           enf_count, targets (written by compaction after the kept processes)
 *   ps  policy setting      policy, enabled (nil: unset), enforcement (nil: unset)
 * Process baselines (baseline_log.c packs and replays them; a damaged one is counted):
 *   bk  baseline made       id, ns, deploy, ctr, image, created, observe_until, updated
 *   be  element             id, path, origin (0 learned, 1 user), time
 *   br  element removed     id, path, time (into the graveyard; compaction writes one per
 *                           graveyard path)
 *   bl  lock                id, locked, by_user, time
 *   bd  baseline deleted    id
 *   bc  capped count        id, n (at powers of two, at compaction and at close)
 *   tb  violation timeline  b [[minute, low, medium, high, critical]...] (alert_timeline.c)
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include <msgpack.h>

#include "alerts_priv.h"
#include "baselines_priv.h"
#include "log.h"

struct alert_log {
	struct vg_wal *wal;
	msgpack_sbuffer sb;
	msgpack_packer pk;
};

/* ---- packing: each helper is true when msgpack took every byte ---- */

static bool put_key(msgpack_packer *pk, const char *k)
{
	return !msgpack_pack_str_with_body(pk, k, strlen(k));
}

/* A string, or nil for NULL. */
static bool put_strval(msgpack_packer *pk, const char *v)
{
	if (!v)
		return !msgpack_pack_nil(pk);
	return !msgpack_pack_str_with_body(pk, v, strlen(v));
}

static bool put_str(msgpack_packer *pk, const char *k, const char *v)
{
	return put_key(pk, k) && put_strval(pk, v);
}

static bool put_u64(msgpack_packer *pk, const char *k, uint64_t v)
{
	return put_key(pk, k) && !msgpack_pack_uint64(pk, v);
}

static bool put_bool(msgpack_packer *pk, bool v)
{
	if (v)
		return !msgpack_pack_true(pk);
	return !msgpack_pack_false(pk);
}

/* The map's header and its type: every record starts so. */
static bool put_head(msgpack_packer *pk, size_t nfields, const char *type)
{
	return !msgpack_pack_map(pk, nfields) && put_str(pk, "t", type);
}

/*
 * The container's name and image are written only when known, so a record
 * without them is the one vigil always wrote.
 */
static bool pack_created(msgpack_packer *pk, const char *type, const struct alert_rec *r)
{
	const struct vg_alert *a = r->alert;
	size_t nfields =
		11 + (a->container_name != NULL) + (a->image != NULL) + alert_labels_fields(a);

	return put_head(pk, nfields, type) && put_str(pk, "id", a->id) &&
	       put_str(pk, "policy_id", a->policy_id) && put_str(pk, "policy", a->policy_name) &&
	       put_str(pk, "severity", a->severity) && put_str(pk, "ns", a->namespace_) &&
	       put_str(pk, "deploy", a->deployment) && put_str(pk, "pod", a->pod) &&
	       put_str(pk, "pod_uid", a->pod_uid) && put_str(pk, "cid", a->container_id) &&
	       put_u64(pk, "time", a->first_ns) &&
	       (!a->container_name || put_str(pk, "cname", a->container_name)) &&
	       (!a->image || put_str(pk, "image", a->image)) && alert_labels_pack(pk, a);
}

static bool put_lineage(msgpack_packer *pk, const struct vg_proc_rec *p)
{
	if (!put_key(pk, "lin") || msgpack_pack_array(pk, (size_t)p->nlineage))
		return false;
	for (int i = 0; i < p->nlineage; i++) {
		const struct vg_lineage_rec *l = &p->lineage[i];

		if (msgpack_pack_array(pk, 3) || msgpack_pack_uint32(pk, l->pid) ||
		    msgpack_pack_uint32(pk, l->uid) || !put_strval(pk, l->exe))
			return false;
	}
	return true;
}

/* The executable's identity and how the name matched: only what is set, so an old record
 * and a plain comm match read the same. */
static size_t ident_fields(const struct vg_proc_rec *p)
{
	return (p->matched_by != VG_WAY_COMM) + (p->matched_name != NULL) + (p->exe_name != NULL) +
	       (p->exe_sha256 != NULL) + p->exe_fileless + p->exe_not_in_image +
	       p->decided_in_kernel + (p->baseline_path != NULL) + p->baseline_replaced;
}

static bool put_true(msgpack_packer *pk, bool on, const char *k)
{
	return !on || (put_key(pk, k) && put_bool(pk, true));
}

static bool put_ident(msgpack_packer *pk, const struct vg_proc_rec *p)
{
	return (p->matched_by == VG_WAY_COMM || put_str(pk, "by", vg_way_name(p->matched_by))) &&
	       (!p->matched_name || put_str(pk, "mname", p->matched_name)) &&
	       (!p->exe_name || put_str(pk, "xname", p->exe_name)) &&
	       (!p->exe_sha256 || put_str(pk, "sha", p->exe_sha256)) &&
	       put_true(pk, p->exe_fileless, "fl") && put_true(pk, p->exe_not_in_image, "nii") &&
	       put_true(pk, p->decided_in_kernel, "dec") &&
	       (!p->baseline_path || put_str(pk, "bp", p->baseline_path)) &&
	       put_true(pk, p->baseline_replaced, "brep");
}

static bool pack_violation(msgpack_packer *pk, const char *type, const struct alert_rec *r)
{
	const struct vg_proc_rec *p = r->proc;
	size_t nfields = 21 + ident_fields(p);

	if (p->error)
		nfields++;
	return put_head(pk, nfields, type) && put_str(pk, "id", r->alert->id) &&
	       put_u64(pk, "time", p->time_ns) && put_u64(pk, "pid", p->pid) &&
	       put_u64(pk, "ppid", p->ppid) && put_u64(pk, "uid", p->uid) &&
	       put_u64(pk, "gid", p->gid) && put_u64(pk, "euid", p->euid) &&
	       put_str(pk, "comm", p->comm) && put_str(pk, "exe", p->exe) &&
	       put_str(pk, "args", p->args) && put_str(pk, "cwd", p->cwd) &&
	       put_str(pk, "cid", p->container_id) && put_str(pk, "pod_uid", p->pod_uid) &&
	       put_str(pk, "ns", p->namespace_) && put_str(pk, "pod", p->pod) &&
	       put_str(pk, "deploy", p->deployment) && put_str(pk, "attr", p->attribution) &&
	       put_key(pk, "killed") && put_bool(pk, p->killed_in_kernel) && put_lineage(pk, p) &&
	       put_str(pk, "v", "1") && (!p->error || put_str(pk, "err", p->error)) &&
	       put_ident(pk, p);
}

static bool pack_enforced(msgpack_packer *pk, const char *type, const struct alert_rec *r)
{
	return put_head(pk, 7, type) && put_str(pk, "id", r->alert->id) &&
	       put_str(pk, "action", r->action) && put_u64(pk, "ok", r->ok) &&
	       put_str(pk, "msg", r->msg) && put_str(pk, "target", r->target) &&
	       put_u64(pk, "time", r->time_ns);
}

static bool pack_resolved(msgpack_packer *pk, const char *type, const struct alert_rec *r)
{
	return put_head(pk, 3, type) && put_str(pk, "id", r->alert->id) &&
	       put_u64(pk, "time", r->time_ns);
}

static bool put_targets(msgpack_packer *pk, const struct vg_alert *a)
{
	uint32_t n = 0;

	if (a->enf_targets)
		n = a->enf_count < 64 ? a->enf_count : 64;
	if (!put_key(pk, "targets") || msgpack_pack_array(pk, n))
		return false;
	for (uint32_t i = 0; i < n; i++)
		if (!put_strval(pk, a->enf_targets[i]))
			return false;
	return true;
}

/*
 * What an alert is beyond its kept processes: the true violation count,
 * last-seen time, state, resolution and enforcement with every kept target
 * and the true count of targets.
 */
static bool pack_summary(msgpack_packer *pk, const char *type, const struct alert_rec *r)
{
	const struct vg_alert *a = r->alert;

	return put_head(pk, 11, type) && put_str(pk, "id", a->id) &&
	       put_u64(pk, "violations", a->violations) && put_u64(pk, "time", a->time_ns) &&
	       put_u64(pk, "state", (uint64_t)a->state) &&
	       put_u64(pk, "resolved", a->resolved_ns) && put_str(pk, "action", a->enf_action) &&
	       put_str(pk, "msg", a->enf_msg) && put_u64(pk, "enf_time", a->enf_ns) &&
	       put_u64(pk, "enf_count", a->enf_count) && put_targets(pk, a);
}

static bool pack_setting(msgpack_packer *pk, const char *type, const struct alert_rec *r)
{
	bool ok = put_head(pk, 4, type) && put_str(pk, "policy", r->policy_id) &&
		  put_key(pk, "enabled");

	if (!ok)
		return false;
	if (r->enabled < 0)
		ok = !msgpack_pack_nil(pk);
	else
		ok = put_bool(pk, r->enabled);
	return ok && put_str(pk, "enforcement", r->enforcement);
}

/* ---- replay: reading a record's fields ---- */

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

/* A string field as a fresh C string (NULL if absent, nil or out of memory). */
static char *field_str(const msgpack_object *o, const char *k)
{
	const msgpack_object *v = field(o, k);
	char *s;

	if (!v || v->type != MSGPACK_OBJECT_STR)
		return NULL;
	s = malloc(v->via.str.size + 1); /* the size is known: no strndup scan */
	if (s) {
		memcpy(s, v->via.str.ptr, v->via.str.size);
		s[v->via.str.size] = '\0';
	}
	return s;
}

static uint64_t field_u64(const msgpack_object *o, const char *k)
{
	const msgpack_object *v = field(o, k);

	if (!v || v->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
		return 0;
	return v->via.u64;
}

/* ---- replay: one function per record type ---- */

static void replay_created(struct vg_alerts *s, const msgpack_object *o, const char *id)
{
	static const char *const keys[] = {"policy_id", "policy",  "severity", "ns",	"deploy",
					   "pod",	"pod_uid", "cid",      "cname", "image"};
	struct alert_head h = {.id = id, .time_ns = field_u64(o, "time")};
	const char **dst[] = {&h.policy_id,	 &h.policy_name, &h.severity, &h.namespace_,
			      &h.deployment,	 &h.pod,	 &h.pod_uid,  &h.container_id,
			      &h.container_name, &h.image};
	char *v[10];
	struct vg_alert *a = NULL;

	for (int i = 0; i < 10; i++)
		*dst[i] = v[i] = field_str(o, keys[i]);
	if (h.policy_id && !alert_by_id(s, id))
		a = alert_make(s, &h); /* out of memory: replay goes on without it */
	if (a)
		alert_labels_replay(a, field(o, "lbl"), field(o, "lblx"));
	for (int i = 0; i < 10; i++)
		free(v[i]);
}

enum proc_kind { PROC_TIME, PROC_U32, PROC_STR, PROC_KILLED, PROC_LINEAGE, PROC_WAY };

/* The fields of a "v" record, and where each goes in the process. */
#define PROC_FIELD(name, kind, member)                                                             \
	{                                                                                          \
		name, sizeof(name) - 1, kind, offsetof(struct vg_proc_rec, member)                 \
	}

static const struct proc_field {
	const char *name;
	size_t len;
	enum proc_kind kind;
	size_t off;
} proc_fields[] = {
	PROC_FIELD("time", PROC_TIME, time_ns),
	PROC_FIELD("pid", PROC_U32, pid),
	PROC_FIELD("ppid", PROC_U32, ppid),
	PROC_FIELD("uid", PROC_U32, uid),
	PROC_FIELD("gid", PROC_U32, gid),
	PROC_FIELD("euid", PROC_U32, euid),
	PROC_FIELD("comm", PROC_STR, comm),
	PROC_FIELD("exe", PROC_STR, exe),
	PROC_FIELD("args", PROC_STR, args),
	PROC_FIELD("cwd", PROC_STR, cwd),
	PROC_FIELD("cid", PROC_STR, container_id),
	PROC_FIELD("pod_uid", PROC_STR, pod_uid),
	PROC_FIELD("ns", PROC_STR, namespace_),
	PROC_FIELD("pod", PROC_STR, pod),
	PROC_FIELD("deploy", PROC_STR, deployment),
	PROC_FIELD("attr", PROC_STR, attribution),
	PROC_FIELD("killed", PROC_KILLED, killed_in_kernel),
	PROC_FIELD("lin", PROC_LINEAGE, lineage),
	PROC_FIELD("err", PROC_STR, error),
	PROC_FIELD("by", PROC_WAY, matched_by),
	PROC_FIELD("mname", PROC_STR, matched_name),
	PROC_FIELD("xname", PROC_STR, exe_name),
	PROC_FIELD("sha", PROC_STR, exe_sha256),
	PROC_FIELD("fl", PROC_KILLED, exe_fileless), /* a true/false like killed */
	PROC_FIELD("nii", PROC_KILLED, exe_not_in_image),
	PROC_FIELD("dec", PROC_KILLED, decided_in_kernel),
	PROC_FIELD("bp", PROC_STR, baseline_path),
	PROC_FIELD("brep", PROC_KILLED, baseline_replaced),
};

/*
 * Short keys compared in line: rebuild reads a million records of 21 keys,
 * and a call to memcmp per candidate costs more than the bytes.
 */
static inline bool same_bytes(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (a[i] != b[i])
			return false;
	return true;
}

#define N_PROC_FIELDS (sizeof(proc_fields) / sizeof(proc_fields[0]))

static bool is_field(const struct proc_field *f, const msgpack_object *k)
{
	return f->len == k->via.str.size && same_bytes(k->via.str.ptr, f->name, f->len);
}

/*
 * The field key k names, or NULL. The table is in the order pack_violation
 * writes, so the one after the last found (*next) is tried first.
 */
static const struct proc_field *proc_field_named(const msgpack_object *k, size_t *next)
{
	if (k->type != MSGPACK_OBJECT_STR)
		return NULL;
	if (*next < N_PROC_FIELDS && is_field(&proc_fields[*next], k))
		return &proc_fields[(*next)++];
	for (size_t i = 0; i < N_PROC_FIELDS; i++) {
		if (is_field(&proc_fields[i], k)) {
			*next = i + 1;
			return &proc_fields[i];
		}
	}
	return NULL;
}

/* [[pid, uid, exe]...]: entries of another shape are skipped. */
static void replay_lineage(struct vg_proc_rec *p, const msgpack_object *v)
{
	for (uint32_t j = 0; j < v->via.array.size && p->nlineage < VG_LINEAGE_MAX; j++) {
		const msgpack_object *e = &v->via.array.ptr[j];
		struct vg_lineage_rec *l = &p->lineage[p->nlineage];

		if (e->type != MSGPACK_OBJECT_ARRAY || e->via.array.size != 3 ||
		    e->via.array.ptr[2].type != MSGPACK_OBJECT_STR)
			continue;
		l->pid = (uint32_t)e->via.array.ptr[0].via.u64;
		l->uid = (uint32_t)e->via.array.ptr[1].via.u64;
		l->exe = strndup(e->via.array.ptr[2].via.str.ptr, e->via.array.ptr[2].via.str.size);
		p->nlineage++;
	}
}

/* A number or string of the wrong type is left unset; a string given twice keeps the first. */
static void replay_proc_field(struct vg_proc_rec *p, const struct proc_field *f,
			      const msgpack_object *v)
{
	void *dst = (char *)p + f->off;
	bool posint = v->type == MSGPACK_OBJECT_POSITIVE_INTEGER;

	switch (f->kind) {
	case PROC_TIME:
		*(uint64_t *)dst = posint ? v->via.u64 : 0;
		break;
	case PROC_U32:
		if (posint)
			*(uint32_t *)dst = (uint32_t)v->via.u64;
		break;
	case PROC_STR:
		if (v->type == MSGPACK_OBJECT_STR && !*(char **)dst)
			*(char **)dst = strndup(v->via.str.ptr, v->via.str.size);
		break;
	case PROC_KILLED:
		*(bool *)dst = v->type == MSGPACK_OBJECT_BOOLEAN && v->via.boolean;
		break;
	case PROC_LINEAGE:
		if (v->type == MSGPACK_OBJECT_ARRAY)
			replay_lineage(p, v);
		break;
	case PROC_WAY: /* an unknown way (a newer vigil's) reads as comm */
		for (int w = 0; v->type == MSGPACK_OBJECT_STR && w < VG_WAY_N; w++)
			if (strlen(vg_way_name((enum vg_way)w)) == v->via.str.size &&
			    same_bytes(v->via.str.ptr, vg_way_name((enum vg_way)w),
				       v->via.str.size))
				*(enum vg_way *)dst = (enum vg_way)w;
		break;
	}
}

static void replay_violation(struct vg_alerts *s, const msgpack_object *o, const char *id)
{
	struct vg_alert *a = alert_by_id(s, id);
	struct vg_proc_rec p = {0};
	size_t next = 0;

	if (!a)
		return; /* its alert was compacted away or never made it to disk */
	/* one pass over the map: rebuild reads a million of these */
	for (uint32_t i = 0; i < o->via.map.size; i++) {
		const struct proc_field *f = proc_field_named(&o->via.map.ptr[i].key, &next);

		if (f)
			replay_proc_field(&p, f, &o->via.map.ptr[i].val);
	}
	p.decided_in_kernel |= p.killed_in_kernel; /* a record from before "dec" */
	alert_push(s, a, &p);
	s->violations++;
}

static void replay_enforced(struct vg_alerts *s, const msgpack_object *o, const char *id)
{
	struct vg_alert *a = alert_by_id(s, id);

	if (a)
		alert_apply_enforced(s, a, field_str(o, "action"), field_u64(o, "ok") != 0,
				     field_str(o, "msg"), field_str(o, "target"),
				     field_u64(o, "time"));
}

static void replay_resolved(struct vg_alerts *s, const msgpack_object *o, const char *id)
{
	struct vg_alert *a = alert_by_id(s, id);

	if (a && a->state != VG_ALERT_RESOLVED)
		alert_apply_resolved(s, a, field_u64(o, "time"));
}

static void replay_summary(struct vg_alerts *s, const msgpack_object *o, const char *id)
{
	struct vg_alert *a = alert_by_id(s, id);
	const msgpack_object *tg = field(o, "targets");
	struct alert_summary sum = {0};

	if (!a)
		return;
	sum.violations = field_u64(o, "violations");
	sum.time_ns = field_u64(o, "time");
	sum.state = field_u64(o, "state");
	sum.resolved_ns = field_u64(o, "resolved");
	sum.action = field_str(o, "action");
	sum.msg = field_str(o, "msg");
	sum.enf_ns = field_u64(o, "enf_time");
	sum.enf_count = field_u64(o, "enf_count");
	for (uint32_t i = 0;
	     tg && tg->type == MSGPACK_OBJECT_ARRAY && i < tg->via.array.size && sum.ntargets < 64;
	     i++) {
		const msgpack_object *e = &tg->via.array.ptr[i];

		if (e->type == MSGPACK_OBJECT_STR &&
		    (sum.targets[sum.ntargets] = strndup(e->via.str.ptr, e->via.str.size)))
			sum.ntargets++;
	}
	alert_apply_summary(s, a, &sum);
}

static void replay_setting(struct vg_alerts *s, const msgpack_object *o, const char *id)
{
	char *policy = field_str(o, "policy"), *enforcement = field_str(o, "enforcement");
	const msgpack_object *en = field(o, "enabled");
	struct vg_policy_setting *st = NULL;
	int enabled = -1;

	(void)id;
	if (policy)
		st = policy_settings_slot(&s->settings, policy);
	if (en && en->type == MSGPACK_OBJECT_BOOLEAN)
		enabled = en->via.boolean;
	if (st)
		policy_settings_apply(st, enabled, enforcement);
	free(policy);
	free(enforcement);
}

/* ---- the table of record types ---- */

static const struct rec_type {
	const char *name; /* the "t" field */
	size_t name_len;
	bool needs_id; /* replayed only with an "id" */
	bool (*pack)(msgpack_packer *pk, const char *type, const struct alert_rec *r);
	void (*replay)(struct vg_alerts *s, const msgpack_object *o, const char *id);
} rec_types[] = {
	[ALERT_REC_CREATED] = {"ac", 2, true, pack_created, replay_created},
	[ALERT_REC_VIOLATION] = {"v", 1, true, pack_violation, replay_violation},
	[ALERT_REC_ENFORCED] = {"en", 2, true, pack_enforced, replay_enforced},
	[ALERT_REC_RESOLVED] = {"ar", 2, true, pack_resolved, replay_resolved},
	[ALERT_REC_SUMMARY] = {"as", 2, true, pack_summary, replay_summary},
	[ALERT_REC_SETTING] = {"ps", 2, false, pack_setting, replay_setting},
	[ALERT_REC_BL_MADE] = {"bk", 2, false, bl_pack_made, bl_replay_made},
	[ALERT_REC_BL_ELEMENT] = {"be", 2, false, bl_pack_element, bl_replay_element},
	[ALERT_REC_BL_REMOVED] = {"br", 2, false, bl_pack_removed, bl_replay_removed},
	[ALERT_REC_BL_LOCK] = {"bl", 2, false, bl_pack_lock, bl_replay_lock},
	[ALERT_REC_BL_DELETED] = {"bd", 2, false, bl_pack_deleted, bl_replay_deleted},
	[ALERT_REC_BL_CAPPED] = {"bc", 2, false, bl_pack_capped, bl_replay_capped},
	[ALERT_REC_TIMELINE] = {"tb", 2, false, alert_timeline_pack, alert_timeline_replay},
};

#define N_REC_TYPES (sizeof(rec_types) / sizeof(rec_types[0]))

static const struct rec_type *rec_type_named(const char *name)
{
	size_t len = strlen(name);

	for (size_t i = 0; i < N_REC_TYPES; i++)
		if (rec_types[i].name_len == len && same_bytes(rec_types[i].name, name, len))
			return &rec_types[i];
	return NULL;
}

/* A record from the log (or the fuzzer): one that does not decode is skipped. */
static void replay_record(void *ctx, const void *payload, size_t len)
{
	struct vg_alerts *s = ctx;
	const struct rec_type *rt = NULL;
	msgpack_unpacked u;
	size_t off = 0;
	char *type = NULL, *id = NULL;

	msgpack_unpacked_init(&u);
	if (msgpack_unpack_next(&u, payload, len, &off) == MSGPACK_UNPACK_SUCCESS &&
	    u.data.type == MSGPACK_OBJECT_MAP) {
		type = field_str(&u.data, "t");
		id = field_str(&u.data, "id");
	}
	if (type)
		rt = rec_type_named(type);
	if (rt && (id || !rt->needs_id))
		rt->replay(s, &u.data, id);
	else if (!rt && type && type[0] == 'b') /* a baseline record of a newer vigil, or damaged */
		bl_count_bad(s->baselines);
	free(type);
	free(id);
	msgpack_unpacked_destroy(&u);
}

void vg_alerts_replay_record(struct vg_alerts *s, const void *payload, size_t len)
{
	replay_record(s, payload, len);
	bl_settle(s->baselines);
}

/* ---- the log ---- */

int alert_log_open(struct vg_alerts *s, const struct vg_alerts_opts *o, struct event_base *base,
		   struct vg_wal_report *rep, char *err, size_t errlen)
{
	struct alert_log *l = calloc(1, sizeof(*l));
	struct vg_wal_opts wo = {.dir = o->dir,
				 .commit_ms = o->commit_ms,
				 .fsync_always = o->fsync_always,
				 .mem_bound = o->mem_bound};

	if (!l)
		return vg_errf(err, errlen, -ENOMEM, "out of memory opening the store in %s",
			       o->dir);
	msgpack_sbuffer_init(&l->sb);
	msgpack_packer_init(&l->pk, &l->sb, msgpack_sbuffer_write);
	s->log = l;
	return vg_wal_open(&l->wal, &wo, base, replay_record, s, rep, err, errlen);
}

void alert_log_close(struct alert_log *l)
{
	if (!l)
		return;
	vg_wal_close(l->wal);
	msgpack_sbuffer_destroy(&l->sb);
	free(l);
}

int alert_log_pack(struct alert_log *l, const struct alert_rec *r, char *err, size_t errlen)
{
	const struct rec_type *rt;

	if ((size_t)r->type >= N_REC_TYPES)
		return vg_errf(err, errlen, -EINVAL, "no store record type %d", (int)r->type);
	rt = &rec_types[r->type];
	if (!rt->pack(&l->pk, rt->name, r))
		return vg_errf(err, errlen, -ENOMEM,
			       "out of memory packing a '%s' record for the store", rt->name);
	return 0;
}

size_t alert_log_packed(const struct alert_log *l)
{
	return l->sb.size;
}

int alert_log_commit(struct alert_log *l, size_t split, vg_wal_ack_cb ack, void *ctx)
{
	struct iovec v[2] = {{l->sb.data, split}, {l->sb.data + split, l->sb.size - split}};
	int rc;

	if (split)
		rc = vg_wal_appendv(l->wal, v, 2, ack, ctx);
	else
		rc = vg_wal_appendv(l->wal, v + 1, 1, ack, ctx);
	msgpack_sbuffer_clear(&l->sb);
	return rc;
}

void alert_log_discard(struct alert_log *l)
{
	msgpack_sbuffer_clear(&l->sb);
}

int alert_log_put(struct alert_log *l, const struct alert_rec *r)
{
	char err[128];
	int rc = alert_log_pack(l, r, err, sizeof(err));

	if (rc) {
		vg_err("%s", err);
		alert_log_discard(l);
		return rc;
	}
	return alert_log_commit(l, 0, NULL, NULL);
}

int alert_log_sync(struct alert_log *l)
{
	return vg_wal_sync(l->wal);
}

void alert_log_stats(struct alert_log *l, struct vg_wal_stats *st)
{
	vg_wal_stats(l->wal, st);
}

struct rewrite_it {
	struct alert_log *log;
	alert_log_next_fn next;
	void *ctx;
};

/* vg_wal_rewrite's source: the next record packed alone in the buffer. */
static int rewrite_next(void *ctx, const void **payload, size_t *len)
{
	struct rewrite_it *it = ctx;
	struct alert_rec r = {0};
	char err[128];
	int rc;

	msgpack_sbuffer_clear(&it->log->sb);
	rc = it->next(it->ctx, &r);
	if (rc <= 0)
		return rc;
	rc = alert_log_pack(it->log, &r, err, sizeof(err));
	if (rc) {
		vg_err("compaction abandoned: %s", err);
		return rc;
	}
	*payload = it->log->sb.data;
	*len = it->log->sb.size;
	return 1;
}

int alert_log_rewrite(struct alert_log *l, alert_log_next_fn next, void *ctx)
{
	struct rewrite_it it = {.log = l, .next = next, .ctx = ctx};
	int rc = vg_wal_rewrite(l->wal, rewrite_next, &it);

	msgpack_sbuffer_clear(&l->sb);
	return rc;
}
