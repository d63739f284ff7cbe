// SPDX-License-Identifier: BSD-2-Clause
/*
 * flow_bindings.c - the `vigil` bindings of one violation's flow, closures
 * over its state: vigil.store() records the violation and returns its alert,
 * vigil.enforce(action[, alert]) and vigil.notify([alert]) act on that alert.
 * An enforcement is always recorded: enforce() before store() stores first.
 */
#include <errno.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "alerts.h"
#include "log.h"
#include "notify.h"
#include "pipeline_priv.h"

/* One violation going through its flow: what the bindings act on. */
struct flow_run {
	struct vg_pipeline *p;
	struct vg_event *ev;
	int pol;
	const struct vg_match_by *by; /* how the policy's name criterion matched */
	const struct vg_enforce_target *target;
	const char *veto;	      /* not to be enforced: the check's error (engine's rule) */
	bool stored;		      /* store() worked: never stored twice */
	const struct vg_alert *alert; /* the alert store() recorded it in; NULL before */
};

static void on_ack(void *ctx, bool ok)
{
	struct vg_pipeline *p = ctx;

	if (ok)
		p->st.acked++;
}

/* The violation into its alert, durable before acknowledged. */
static bool store(struct flow_run *run)
{
	struct vg_pipeline *p = run->p;
	const struct vg_policy_info *pi = vg_engine_policy(p->engine, run->pol);
	struct vg_violation v = {.ev = run->ev,
				 .policy_id = pi->id,
				 .policy_name = pi->name,
				 .severity = pi->severity,
				 .killed_in_kernel = (run->ev->rec->flags & VG_EXEC_KILLED) != 0,
				 .matched_by = run->by->way,
				 .matched_name = run->by->name,
				 .decided_in_kernel =
					 vg_engine_decided_in_kernel(p->engine, run->pol, run->ev),
				 .error = vg_engine_check_error(p->engine, run->pol)};
	int rc;

	if (run->ev->bl.unexpected && vg_engine_uses_baseline(p->engine, run->pol)) {
		v.baseline_path = run->ev->bl.path;
		v.baseline_replaced = run->ev->bl.replaced;
	}
	if (p->o.lineage_fn)
		p->o.lineage_fn(p->o.lineage_ctx, run->ev);
	rc = vg_alerts_add(p->o.alerts, &v, on_ack, p, &run->alert);
	if (rc) {
		p->st.store_errors++;
		vg_err("cannot store a violation of '%s': %s", pi->name, strerror(-rc));
		return false;
	}
	p->st.stored++;
	run->stored = true;
	return true;
}

/*
 * The optional alert argument at idx: nil or false (a store() that failed)
 * mean this violation's; a table must be the alert store() returned.
 */
static void check_alert(lua_State *L, int idx, const struct flow_run *run)
{
	bool same;

	if (lua_isnoneornil(L, idx) || (lua_isboolean(L, idx) && !lua_toboolean(L, idx)))
		return;
	luaL_checktype(L, idx, LUA_TTABLE);
	(void)lua_getfield(L, idx, "id"); /* checked below, whatever its type */
	same = run->alert && lua_type(L, -1) == LUA_TSTRING &&
	       strcmp(lua_tostring(L, -1), run->alert->id) == 0;
	lua_pop(L, 1);
	if (!same)
		(void)luaL_argerror(L, idx, "not this violation's alert"); /* no return */
}

/* vigil.store(): the alert ({id = ...}), or false when it could not be stored. */
static int l_store(lua_State *L)
{
	struct flow_run *run = vg_flow_ctx(L);

	if (!run->stored && !store(run)) {
		lua_pushboolean(L, 0);
		return 1;
	}
	lua_createtable(L, 0, 1);
	lua_pushstring(L, run->alert ? run->alert->id : "");
	lua_setfield(L, -2, "id");
	return 1;
}

static enum vg_enforce_outcome enforce(struct flow_run *run, enum vg_enforce_mode action,
				       const char *check_error)
{
	const struct vg_policy_info *pi = vg_engine_policy(run->p->engine, run->pol);
	struct vg_enforce_request rq = {.ev = run->ev,
					.target = run->target,
					.alert = run->alert,
					.policy = pi->name,
					.policy_host = pi->host,
					.action = action,
					.check_error = check_error};
	char msg[768];

	return vg_enforcer_apply(run->p->enforcer, &rq, msg, sizeof(msg));
}

/*
 * vigil.enforce(action[, alert]): true when done (or dry run). An action that
 * is no kill is refused like "inform"; a violation the engine vetoes (its
 * check failed) is not enforced, the skip recorded on the alert. Called before
 * store(), it stores the violation first: what was done is never left off the
 * record (a later store() returns that alert).
 */
static int l_enforce(lua_State *L)
{
	struct flow_run *run = vg_flow_ctx(L);
	const char *action = luaL_checkstring(L, 1);
	enum vg_enforce_mode mode = VG_ENFORCE_INFORM;
	enum vg_enforce_outcome outcome;

	check_alert(L, 2, run);
	if (!run->stored)
		(void)store(run); /* a failure is counted and logged; the kill still goes on */
	(void)vg_enforce_mode_parse(action, &mode); /* unknown: stays INFORM, refused */
	if (run->veto) {
		(void)enforce(run, mode, run->veto); /* always SKIPPED, recorded */
		lua_pushboolean(L, 0);
		return 1;
	}
	outcome = enforce(run, mode, NULL);
	lua_pushboolean(L, outcome == VG_ENFORCE_DONE || outcome == VG_ENFORCE_DONE_IN_KERNEL ||
				   outcome == VG_ENFORCE_DRY_RUN);
	return 1;
}

/* vigil.notify([alert]): true when the stored alert was handed to its notifiers. */
static int l_notify(lua_State *L)
{
	struct flow_run *run = vg_flow_ctx(L);
	const struct vg_alert *a = run->alert;

	check_alert(L, 1, run);
	lua_pushboolean(L, run->p->o.notify && a &&
				   vg_notify_alert(run->p->o.notify,
						   a->violations == 1 ? "created" : "updated",
						   a) == 0);
	return 1;
}

void vg_pipeline_run_flow(struct vg_pipeline *p, struct vg_event *ev, const struct vg_hit *hit,
			  const struct vg_enforce_target *target)
{
	int pol = hit->pol;
	const struct vg_policy_info *pi = vg_engine_policy(p->engine, pol);
	struct flow_run run = {.p = p,
			       .ev = ev,
			       .pol = pol,
			       .by = &hit->by,
			       .target = target,
			       .veto = vg_engine_enforce_veto(p->engine, pol)};
	const struct vg_flow_binding bindings[] = {
		{"store", l_store, &run}, {"enforce", l_enforce, &run}, {"notify", l_notify, &run}};
	char err[512];

	p->st.violations++;
	if (vg_engine_run_flow(p->engine, ev, pol, bindings, 3, err, sizeof(err))) {
		p->st.flow_errors++;
		if (!run.stored)	   /* fail closed: never lose it */
			(void)store(&run); /* a failure is counted and logged */
		vg_warn("policy '%s': the violation flow failed (%s); the violation was stored",
			pi->name, err);
	}
}
