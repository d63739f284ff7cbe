// SPDX-License-Identifier: BSD-2-Clause
/*
 * pipeline.c - one exec, top-down (vg_pipeline_record, then run_exec): decode,
 * attribute, evaluate, and for each violation volume control then the flow
 * (flow_bindings.c). An exec of a pod the Kubernetes client does not know yet
 * waits for it first, bounded (podwait.h), and is run_exec'd when it comes back.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "k8s.h"
#include "log.h"
#include "pipeline_priv.h"

/*
 * Volume control keeps repeats out of the store; it never spares a process an
 * enforcing policy would kill. It counts execs, not violations: decided once
 * per exec (*drop, -1 until then), whatever number of policies it matches.
 */
static bool volume_drops(struct vg_pipeline *p, const struct vg_event *ev, int pol, int *drop)
{
	if (vg_engine_policy(p->engine, pol)->mode != VG_ENFORCE_INFORM)
		return false;
	if (*drop < 0) {
		*drop = vg_volume_drop(p->volume, ev);
		p->st.suppressed += (uint64_t)*drop;
	}
	return *drop != 0;
}

/*
 * The policies one exec violated, in the order the engine found them. The array is
 * the pipeline's and grows when a pack has more matches for one exec than it holds;
 * if it cannot grow, the violation is counted as a flow error and logged, not lost
 * silently.
 */
struct hits {
	struct vg_pipeline *p;
	int n;
};

static void on_violation(void *ctx, struct vg_event *ev, int pol, const struct vg_policy_info *pi,
			 const struct vg_match_by *by)
{
	struct hits *h = ctx;
	struct vg_pipeline *p = h->p;

	(void)ev;
	if (h->n == p->hits_cap) {
		int cap = p->hits_cap ? 2 * p->hits_cap : 64;
		struct vg_hit *grown = realloc(p->hits, (size_t)cap * sizeof(*grown));

		if (!grown) {
			p->st.flow_errors++;
			vg_warn("policy '%s': violation not handled: out of memory", pi->name);
			return;
		}
		p->hits = grown;
		p->hits_cap = cap;
	}
	p->hits[h->n++] = (struct vg_hit){.pol = pol, .by = *by};
}

/* Container and pod, the container's name, and (live) whether the exe is in its image. */
void vg_pipeline_attribute(struct vg_pipeline *p, struct vg_event *ev)
{
	if (p->o.attribute) {
		vg_attribute(&p->attr, p->o.k8s, ev);
		vg_ctrinfo_name(p->ctrinfo, ev); /* the pod's, else the runtime's */
	}
	if (p->drift)
		vg_drift_check(p->drift, ev);
}

int vg_pipeline_evaluate(struct vg_pipeline *p, struct vg_event *ev, const bool *skip)
{
	struct vg_enforce_target target;
	struct hits h = {.p = p, .n = 0};
	int drop = -1;

	if (p->o.report && !p->content) /* printing, nothing kept: as the engine finds them */
		return vg_engine_eval(p->engine, ev, p->o.report, p->o.report_ctx);
	if (skip)
		(void)vg_engine_eval_except(p->engine, ev, skip, on_violation, &h); /* counted */
	else
		(void)vg_engine_eval(p->engine, ev, on_violation, &h); /* counted */
	if (!h.n)
		return 0;
	for (int i = 0; p->bl && ev->bl.unexpected && i < h.n; i++) {
		if (vg_engine_uses_baseline(p->engine, p->hits[i].pol))
			vg_bl_count_violation(p->bl,
					      vg_engine_policy(p->engine, p->hits[i].pol)->name);
	}
	if (p->o.report) { /* printing commands: each violation as the engine found it */
		for (int i = 0; i < h.n; i++)
			p->o.report(p->o.report_ctx, ev, p->hits[i].pol,
				    vg_engine_policy(p->engine, p->hits[i].pol), &p->hits[i].by);
		return h.n;
	}
	vg_enforce_target_of(ev, &target); /* container or host: decided once */
	/* the flow runs after the evaluation, one violation at a time */
	for (int i = 0; i < h.n; i++) {
		if (volume_drops(p, ev, p->hits[i].pol, &drop))
			continue;
		vg_pipeline_run_flow(p, ev, &p->hits[i], &target);
	}
	return h.n;
}

/*
 * One decoded exec: metadata -> engine -> (volume control -> flow) per
 * violation. When its content names are on their way, it is evaluated now
 * without them and kept to be evaluated again when they come (content.c).
 */
static void run_exec(struct vg_pipeline *p, struct vg_event *ev)
{
	uint64_t token = 0;
	int pending, n;

	vg_pipeline_attribute(p, ev);
	if (p->bl) /* once per exec: not again when its content names come */
		vg_bl_exec(p->bl, ev, ev->time_ns);
	pending = vg_pipeline_content(p, ev, &token) == -EINPROGRESS;
	n = vg_pipeline_evaluate(p, ev, NULL);
	if (pending)
		vg_pipeline_content_keep(p, ev, token, n);
}

/*
 * Whether the exec is held for its pod's metadata (podwait.h): a pod the client does not know
 * whole yet (not at all, its owner being read, or this container not in its status yet) while
 * it knows the node's pods (else an API server that is down would delay every exec), or
 * a pod with execs held already (a pod's execs are evaluated in order). Not held (the bound):
 * evaluated now, without the pod's metadata, and counted.
 */
static bool hold_for_pod(struct vg_pipeline *p, struct vg_event *ev, const void *rec, size_t len,
			 int64_t boot_to_wall_ns)
{
	const struct vg_container *c;
	const char *uid;

	if (!p->podwait)
		return false;
	c = vg_event_container(ev);
	uid = c->pod_uid;
	if (!uid[0] || !c->id[0] || c->truncated) /* a pod's execs are its containers' */
		return false;
	if (!vg_podwait_has(p->podwait, uid)) {
		if (vg_k8s_pod_ready(p->o.k8s, uid, c->id)) /* the watch delivered it whole */
			return false;
		if (!vg_k8s_synced(p->o.k8s)) {
			p->st.k8s_unsynced++;
			return false;
		}
	}
	if (vg_podwait_hold(p->podwait, uid, rec, len, boot_to_wall_ns))
		return false; /* counted */
	return true;
}

/* A held exec back (its pod known, its wait over, or shutdown): the whole of run_exec now. */
static void on_held(void *ctx, const void *rec, size_t len, int64_t boot_to_wall_ns,
		    enum vg_podwait_why why)
{
	struct vg_pipeline *p = ctx;
	struct vg_event *ev = p->held_ev; /* its own: p->ev may be in use */

	(void)why;
	if (vg_event_decode(ev, rec, len, boot_to_wall_ns)) { /* decoded once: cannot fail */
		p->st.decode_errors++;
		return;
	}
	p->gone_pid = vg_pipeline_still_runs(ev) ? 0 : ev->rec->pid; /* effects.c */
	run_exec(p, ev);
	p->gone_pid = 0;
}

/* Whether a held exec's pod is known whole now (its container in the pod's status). */
static bool held_ready(void *ctx, const void *rec, size_t len, int64_t boot_to_wall_ns)
{
	struct vg_pipeline *p = ctx;
	const struct vg_container *c;

	if (vg_event_decode(p->held_ev, rec, len, boot_to_wall_ns))
		return true; /* decoded once: cannot fail */
	c = vg_event_container(p->held_ev);
	return vg_k8s_pod_ready(p->o.k8s, c->pod_uid, c->id);
}

/* The Kubernetes client knows a pod now, or it changed: its held execs ready are evaluated. */
static void on_pod(void *ctx, const char *pod_uid)
{
	struct vg_pipeline *p = ctx;

	vg_podwait_pod(p->podwait, pod_uid);
}

static int podwait_setup(struct vg_pipeline *p)
{
	struct vg_podwait_opts wo = {.base = p->o.base,
				     .wait_ms = p->o.pod_wait_ms,
				     .max = p->o.pod_wait_max ? p->o.pod_wait_max : 1024,
				     .run = on_held,
				     .ready = held_ready,
				     .ctx = p};
	int rc;

	if (!p->o.k8s || !p->o.base || !p->o.pod_wait_ms || !p->o.attribute || p->o.report)
		return 0;
	p->held_ev = calloc(1, sizeof(*p->held_ev));
	if (!p->held_ev)
		return -ENOMEM;
	rc = vg_podwait_new(&p->podwait, &wo);
	if (!rc)
		vg_k8s_set_pod_cb(p->o.k8s, on_pod, p);
	return rc;
}

int vg_pipeline_record(struct vg_pipeline *p, const void *rec, size_t len, int64_t boot_to_wall_ns)
{
	int rc;

	p->st.events++;
	rc = vg_event_decode(p->ev, rec, len, boot_to_wall_ns);
	if (rc) {
		p->st.decode_errors++;
		return rc < 0 ? rc : -EBADMSG;
	}
	if (!hold_for_pod(p, p->ev, rec, len, boot_to_wall_ns))
		run_exec(p, p->ev);
	return 0;
}

void vg_pipeline_drain(struct vg_pipeline *p)
{
	if (!p || !p->podwait)
		return;
	vg_k8s_set_pod_cb(p->o.k8s, NULL, NULL); /* the client may outlive the pipeline */
	vg_podwait_flush(p->podwait);
}

void vg_pipeline_event(struct vg_pipeline *p, struct vg_event *ev)
{
	p->st.events++;
	if (p->o.attribute || p->drift)
		vg_pipeline_attribute(p, ev);
	if (p->bl)
		vg_bl_exec(p->bl, ev, ev->time_ns);
	(void)vg_pipeline_evaluate(p, ev, NULL); /* a trace's: nothing to read on this host */
}

/* ---- set-up ------------------------------------------------------------------------ */

int vg_pipeline_new(struct vg_pipeline **out, const struct vg_pipeline_opts *o, char *err, size_t n)
{
	struct vg_pipeline *p = calloc(1, sizeof(*p));
	struct vg_enforcer_opts eo = {.ops = &vg_pipeline_effects,
				      .self_pid = (uint32_t)getpid(),
				      .dry_run = o->dry_run,
				      .pods = o->k8s != NULL};
	int rc = -ENOMEM;

	if (!p)
		return vg_errf(err, n, -ENOMEM, "cannot set up the pipeline: out of memory");
	p->o = *o;
	p->engine = o->engine;
	eo.ctx = p;
	p->ev = calloc(1, sizeof(*p->ev));
	if (p->ev)
		rc = 0;
	if (!rc && o->attribute) {
		struct vg_ctrinfo_opts co = {.storage_root = o->storage_root,
					     .docker_root = o->docker_root};

		rc = vg_ctrinfo_new(&p->ctrinfo, &co);
	}
	if (!rc && !o->report) /* the flow's: volume control and enforcement */
		rc = vg_volume_new(&p->volume, o->burst, o->window_s);
	if (!rc && !o->report)
		rc = vg_enforcer_new(&p->enforcer, &eo);
	if (!rc && o->live)
		rc = vg_drift_new(&p->drift);
	if (!rc)
		rc = podwait_setup(p);
	if (!rc && o->baselines && o->alerts && !o->report) {
		struct vg_bl_opts bo = {.store = vg_alerts_baselines(o->alerts),
					.observe_ns = o->bl_observe_ns,
					.startup_ns = o->bl_startup_ns,
					.auto_lock = o->bl_auto_lock,
					.checked_fn = o->bl_checked_fn,
					.checked_ctx = o->bl_checked_ctx,
					.live = o->live,
					.drift = p->drift};

		rc = vg_bl_new(&p->bl, &bo);
	}
	if (rc) {
		vg_pipeline_free(p);
		return vg_errf(err, n, rc, "cannot set up the pipeline: %s", strerror(-rc));
	}
	if (o->live && o->content) {
		rc = vg_pipeline_content_setup(p, err, n); /* its own message */
		if (rc) {
			vg_pipeline_free(p);
			return rc;
		}
	}
	*out = p;
	return 0;
}

void vg_pipeline_free(struct vg_pipeline *p)
{
	if (!p)
		return;
	vg_pipeline_content_free(p); /* first: its pending answers reach the pipeline */
	vg_podwait_free(p->podwait); /* vg_pipeline_drain evaluated them (the client is gone) */
	free(p->held_ev);
	vg_bl_free(p->bl);
	vg_drift_free(p->drift);
	vg_enforcer_free(p->enforcer);
	vg_volume_free(p->volume);
	vg_ctrinfo_free(p->ctrinfo);
	free(p->hits);
	free(p->ev);
	free(p);
}

void vg_pipeline_set_engine(struct vg_pipeline *p, struct vg_engine *e)
{
	p->engine = e;
	vg_pipeline_content_reload(p);
}

void vg_pipeline_stats(const struct vg_pipeline *p, struct vg_pipeline_stats *st)
{
	*st = p->st;
	st->attr_nested = p->attr.nested;
	st->attr_unverified = p->attr.unverified;
	if (p->ctrinfo)
		vg_ctrinfo_stats(p->ctrinfo, &st->ctrinfo);
	if (p->enforcer)
		vg_enforcer_stats(p->enforcer, &st->enforce);
	if (p->drift)
		vg_drift_stats(p->drift, &st->drift);
	if (p->bl)
		vg_bl_stats(p->bl, &st->bl);
	vg_pipeline_content_stats(p, st);
	if (p->podwait)
		vg_podwait_stats(p->podwait, &st->podwait);
}

struct vg_bl *vg_pipeline_baselines(struct vg_pipeline *p)
{
	return p->bl;
}
