/* SPDX-License-Identifier: BSD-2-Clause */
/* pipeline_priv.h - the pipeline's state, shared by pipeline.c, flow_bindings.c and effects.c. */
#ifndef VG_PIPELINE_PRIV_H
#define VG_PIPELINE_PRIV_H

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
};

/* The enforcer's side effects on this host: kills, cgroup checks, pod deletes, the alert. */
extern const struct vg_enforce_ops vg_pipeline_effects;

uint64_t vg_pipeline_now_ns(void);

/* flow_bindings.c: the policy's flow (lua/flow.lua or its on_violation) for one violation. */
void vg_pipeline_run_flow(struct vg_pipeline *p, struct vg_event *ev, const struct vg_hit *hit,
			  const struct vg_enforce_target *target);

#endif
