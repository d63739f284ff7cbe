// SPDX-License-Identifier: BSD-2-Clause
/*
 * eval.c - one event through the engine: container or host, the fast path
 * (match.h), each candidate policy's scope, exclusions and check() in its own
 * Lua state; violations handed to the caller. Also the policy table's
 * accessors (count, find, enable).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <lauxlib.h>

#include "engine_priv.h"
#include "hash.h"
#include "log.h"
#include "lua_event.h"

int vg_engine_count(const struct vg_engine *e)
{
	return e->npol;
}

struct vg_policy_info *vg_engine_policy(struct vg_engine *e, int i)
{
	struct vg_lua_stats ls;

	if (i < 0 || i >= e->npol)
		return NULL;
	if (e->pol[i].lua) {
		vg_lua_stats(e->pol[i].lua, &ls);
		e->pol[i].info.mem_bytes = ls.mem_bytes;
		e->pol[i].info.mem_peak = ls.mem_peak;
	}
	return &e->pol[i].info;
}

int vg_engine_find(const struct vg_engine *e, const char *key)
{
	for (int i = 0; i < e->npol; i++)
		if (!strcmp(e->pol[i].info.name, key) || !strcmp(e->pol[i].info.id, key))
			return i;
	for (int i = 0; i < e->npol; i++)
		if (!strcasecmp(e->pol[i].info.name, key))
			return i;
	return -ENOENT;
}

void vg_engine_enable(struct vg_engine *e, int i, bool on)
{
	struct pol *p = &e->pol[i];

	/* a policy that waits for a missing feature, or failed to compile, stays off */
	on = on && !p->info.waits_for;
	p->info.enabled = on;
	e->want_ctr[i] = on;
	e->want_host[i] = on && p->info.host;
	e->any_host = false;
	for (int k = 0; k < e->npol; k++)
		e->any_host |= e->want_host[k];
}

void vg_engine_set_enforcement(struct vg_engine *e, int pi, enum vg_enforce_mode mode)
{
	if (pi < 0 || pi >= e->npol)
		return;
	e->pol[pi].info.mode = mode;
	e->pol[pi].info.enforcement = vg_enforce_mode_name(mode);
}

/* A hash of the cgroup path bytes, 8 at a time: the container-status cache key. */
static uint64_t cg_key(const struct vg_exec *r)
{
	return vg_hash_bytes(r->data + r->cg_off, r->cg_len) | 1;
}

/*
 * Container or host? Cached by the cgroup path, compared byte for byte, in
 * sets of CTR_WAYS slots (a full set replaces its ways in turn), so that a
 * thousand cgroups do not push each other out. A path cut short by the
 * sensor's depth bound may have lost its container component: it counts as a
 * container (fail closed), so a process cannot hide from container policies
 * by nesting cgroups.
 */
static bool in_container(struct vg_engine *e, struct vg_event *ev)
{
	const struct vg_exec *r = ev->rec;
	const char *path = r->data + r->cg_off;
	struct ctr_slot *set, *s;
	uint64_t k;
	size_t n;

	if (r->flags & VG_EXEC_CGROUP_TRUNCATED)
		return true;
	if (ev->ctr_known != VG_CTR_UNKNOWN)
		return ev->ctr_known == VG_CTR_IN;
	if (ev->has_ctr || e->testing || r->cg_len > CTR_KEY)
		return vg_event_in_container(ev);
	k = cg_key(r);
	n = (size_t)(k >> 1) % (CTR_CACHE / CTR_WAYS);
	set = &e->ctr[n * CTR_WAYS];
	for (int w = 0; w < CTR_WAYS; w++) {
		s = &set[w];
		if (s->key == k && s->len == r->cg_len && !memcmp(s->bytes, path, r->cg_len))
			return s->in_ctr;
	}
	s = &set[e->ctr_next[n]];
	e->ctr_next[n] = (uint8_t)((e->ctr_next[n] + 1) % CTR_WAYS);
	s->key = k;
	s->len = r->cg_len;
	memcpy(s->bytes, path, r->cg_len);
	s->in_ctr = vg_event_in_container(ev);
	return s->in_ctr;
}

static bool labels_match(const struct excl *x, const struct vg_meta *m)
{
	for (int i = 0; i < x->nlabels; i += 2) {
		bool found = false;

		for (int k = 0; m->labels && m->labels[k] && m->labels[k + 1] && !found; k += 2)
			found = !strcmp(m->labels[k], x->labels[i]) &&
				!strcmp(m->labels[k + 1], x->labels[i + 1]);
		if (!found)
			return false;
	}
	return true;
}

static bool re_field(const struct vg_regex *re, const char *v)
{
	return !re || (v && vg_regex_match(re, v, strlen(v)));
}

/* Every key the exclusion (or scope) names matches the event's metadata. */
static bool scoping_match(const struct excl *x, const struct vg_meta *m)
{
	if (!m)
		return false; /* no Kubernetes metadata: nothing to match against */
	return re_field(x->ns, m->namespace_) && re_field(x->deploy, m->deployment) &&
	       re_field(x->pod, m->pod) && labels_match(x, m);
}

/*
 * A check() that failed: counted by class, reported (rate-limited), then the
 * policy's on_error decides. Returns whether the event still counts as a
 * violation (one that carries the error).
 */
static bool check_failed(struct vg_engine *e, struct pol *p, int rc, const char *err)
{
	static const char *const what[] = {
		[ON_ERR_ALERT] = "recorded as an evaluation error, not enforced",
		[ON_ERR_IGNORE] = "ignored (on_error = \"ignore\")",
		[ON_ERR_ENFORCE] = "treated as a match and enforced (on_error = \"enforce\")",
	};

	if (rc == VG_LUA_INTERRUPTED)
		return false; /* vigil is stopping: this check decided nothing */
	p->info.errors++;
	p->info.budget_stops += rc == VG_LUA_BUDGET;
	p->info.nomem += rc == VG_LUA_NOMEM;
	e->st.lua_errors++;
	/* kept even when ignored: a policy's test names it (tests.c); err_seq says it is current */
	snprintf(p->check_err, sizeof(p->check_err), "%s", err);
	if (!e->testing && (p->info.errors <= 3 || !(p->info.errors & (p->info.errors - 1))))
		vg_warn("policy '%s': check() failed (%s); %s (%llu errors so far)", p->info.name,
			err, what[p->on_err], (unsigned long long)p->info.errors);
	if (p->on_err == ON_ERR_IGNORE)
		return false;
	p->err_seq = e->eval_seq;
	return true;
}

/* Runs the policy's check() on ev, in the policy's own state: does the event violate it? */
static bool run_check(struct vg_engine *e, struct pol *p, struct vg_event *ev)
{
	lua_State *L = vg_lua_state(p->lua);
	struct timespec t0, t1;
	char err[512];
	bool yes;
	int rc;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	lua_rawgeti(L, LUA_REGISTRYINDEX, p->check_ref);
	vg_lua_event_push(L, ev);
	rc = vg_lua_call(p->lua, 1, 1, e->budget, err, sizeof(err));
	vg_lua_event_detach(L);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	p->info.lua_ns +=
		(uint64_t)((t1.tv_sec - t0.tv_sec) * 1000000000LL + (t1.tv_nsec - t0.tv_nsec));
	e->st.lua_calls++;
	if (rc)
		return check_failed(e, p, rc, err);
	yes = lua_toboolean(L, -1);
	lua_pop(L, 1);
	if (!yes)
		p->info.check_false++;
	return yes;
}

static void on_section(void *ctx, int pi, const struct vg_match_by *by)
{
	struct vg_engine *e = ctx;
	struct pol *p = &e->pol[pi];
	struct vg_event *ev = e->cur;

	p->info.candidates++;
	e->st.candidates++;
	if (p->has_scope && !scoping_match(&p->scope, ev->meta)) {
		p->info.out_of_scope++;
		return;
	}
	for (int i = 0; i < p->nexcl; i++) {
		if (scoping_match(&p->excl[i], ev->meta)) {
			p->info.excluded++;
			return;
		}
	}
	if (p->check_ref != LUA_NOREF && !run_check(e, p, ev))
		return;
	p->info.matches++;
	e->st.matches++;
	e->nviol++;
	if (e->cb)
		e->cb(e->cb_ctx, ev, pi, &p->info, by);
}

/* The matcher calls back with the engine; the owner's lineage function wants its own ctx. */
static void engine_lineage(void *ctx, struct vg_event *ev)
{
	struct vg_engine *e = ctx;

	e->lineage_fn(e->lineage_ctx, ev);
}

int engine_eval_with(struct vg_engine *e, struct vg_event *ev, const bool *want, vg_violation_cb cb,
		     void *ctx)
{
	e->cur = ev;
	e->cb = cb;
	e->cb_ctx = ctx;
	e->nviol = 0;
	e->eval_seq++;
	if (!vg_matcher_eval(e->m, ev, want, e->lineage_fn ? engine_lineage : NULL, on_section, e))
		e->st.rejected++;
	else if (e->nviol)
		e->st.violating++;
	else
		e->st.passed++;
	e->cur = NULL;
	return e->nviol;
}

int vg_engine_eval(struct vg_engine *e, struct vg_event *ev, vg_violation_cb cb, void *ctx)
{
	e->st.events++;
	/* containers only, unless a policy opted the host in */
	if (!in_container(e, ev)) {
		if (!e->any_host) {
			e->st.rejected++;
			return 0;
		}
		return engine_eval_with(e, ev, e->want_host, cb, ctx);
	}
	return engine_eval_with(e, ev, e->want_ctr, cb, ctx);
}

int vg_engine_eval_except(struct vg_engine *e, struct vg_event *ev, const bool *skip,
			  vg_violation_cb cb, void *ctx)
{
	const bool *want;

	e->st.events++;
	if (!in_container(e, ev) && !e->any_host) {
		e->st.rejected++;
		return 0;
	}
	want = in_container(e, ev) ? e->want_ctr : e->want_host;
	for (int i = 0; i < e->npol; i++)
		e->want_tmp[i] = want[i] && !skip[i];
	return engine_eval_with(e, ev, e->want_tmp, cb, ctx);
}

bool vg_engine_any_host(const struct vg_engine *e)
{
	return e->any_host;
}

bool vg_engine_name_wanted(const struct vg_engine *e, const char *lcname)
{
	/* a copy of a loader or multi-call binary is parsed by its content name (ident_args.c) */
	return vg_matcher_name_wanted(e->m, e->want_ctr, lcname) || vg_ident_is_loader(lcname) ||
	       vg_ident_is_multicall(lcname);
}

const char *vg_engine_check_error(const struct vg_engine *e, int pi)
{
	const struct pol *p;

	if (pi < 0 || pi >= e->npol)
		return NULL;
	p = &e->pol[pi];
	if (!p->err_seq || p->err_seq != e->eval_seq)
		return NULL;
	return p->check_err;
}

void vg_engine_stats(const struct vg_engine *e, struct vg_engine_stats *st)
{
	const char **names;

	*st = e->st;
	st->lua_mem = e->pool.used;
	st->lua_mem_cap = e->pool.cap;
	st->kernel_all = vg_engine_kernel_all(e);
	st->exact_names = vg_engine_kernel_names(e, &names);
}
