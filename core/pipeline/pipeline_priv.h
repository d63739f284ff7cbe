/* SPDX-License-Identifier: BSD-2-Clause */
/* pipeline_priv.h - the pipeline's state, shared by pipeline.c, flow_bindings.c and effects.c. */
#ifndef VG_PIPELINE_PRIV_H
#define VG_PIPELINE_PRIV_H

#include "baseline.h"
#include "pipeline.h"
#include "volume.h"

/* A policy the current exec violated, and which of its names the policy's criterion matched. */
struct vg_hit {
	int pol;
	struct vg_match_by by; /* by.name points into the event */
};

struct vg_pipeline {
	struct vg_pipeline_opts o;
	struct vg_engine *engine;
	struct vg_event *ev; /* the record being decoded (21 KB: on the heap) */
	struct vg_attrib attr;
	struct vg_ctrinfo *ctrinfo; /* NULL without attribution */
	struct vg_volume *volume;
	struct vg_enforcer *enforcer; /* NULL in report mode */
	struct vg_hit *hits;	      /* the policies the current exec violated (run_exec) */
	int hits_cap;
	struct vg_pipeline_stats st;
	struct vg_drift *drift;	    /* live only */
	struct vg_bl *bl;	    /* process baselines: with a store, when enabled */
	struct vg_content *content; /* live, with content identity */
	uint32_t gone_pid; /* a late verdict's process that exited: its pid is not killed */
	struct vg_podwait *podwait; /* execs waiting for their pod (with k8s and pod_wait_ms) */
	struct vg_event *held_ev;   /* such an exec, evaluated when it comes back */
};

/* The enforcer's side effects on this host: kills, cgroup checks, pod deletes, the alert. */
extern const struct vg_enforce_ops vg_pipeline_effects;

uint64_t vg_pipeline_now_ns(void);

/*
 * effects.c: is the process of an exec evaluated late still the one that exec'd (its
 * executable the recorded file)? If not, p->gone_pid = its pid while it is evaluated: a late
 * verdict must not kill a stranger that got the pid.
 */
bool vg_pipeline_still_runs(const struct vg_event *ev);

/* pipeline.c: attribution (and drift), then evaluation except skip[] (NULL: none). */
void vg_pipeline_attribute(struct vg_pipeline *p, struct vg_event *ev);
int vg_pipeline_evaluate(struct vg_pipeline *p, struct vg_event *ev, const bool *skip);

/*
 * content.c: the exec's content names into ev->id: 0 when known now (or not
 * wanted), -EINPROGRESS when they are on their way (*token names them): then
 * keep the exec after its first evaluation, with how many policies it violated
 * (p->hits), to be evaluated again when they come.
 */
struct vg_content;
int vg_pipeline_content(struct vg_pipeline *p, struct vg_event *ev, uint64_t *token);
void vg_pipeline_content_keep(struct vg_pipeline *p, const struct vg_event *ev, uint64_t token,
			      int nhits);
int vg_pipeline_content_setup(struct vg_pipeline *p, char *err, size_t n);
void vg_pipeline_content_free(struct vg_pipeline *p);
void vg_pipeline_content_reload(struct vg_pipeline *p); /* after a new engine */
void vg_pipeline_content_stats(const struct vg_pipeline *p, struct vg_pipeline_stats *st);

/* flow_bindings.c: the policy's flow (lua/flow.lua or its on_violation) for one violation. */
void vg_pipeline_run_flow(struct vg_pipeline *p, struct vg_event *ev, const struct vg_hit *hit,
			  const struct vg_enforce_target *target);

#endif
