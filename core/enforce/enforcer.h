/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * enforcer.h - every enforcement decision, behind one call. Never vigil,
 * never PID 1, never a host process unless the policy's scope includes the
 * host; never a break-glass pod; nothing killed in a dry run; a failed
 * check() skips; a container is killed through its own cgroup level (never a
 * level named below it, never a path cut short) and its pod deleted only
 * when the API server lists the container in it; a host process under
 * kill_pod is killed alone (its cgroup is the host's, not a container's).
 *
 * The side effects (kill a process, kill a cgroup, delete a pod, record the
 * outcome on the alert) go through an ops table, so the rules can be tested
 * without BPF, cgroups or an API server.
 */
#ifndef VG_ENFORCER_H
#define VG_ENFORCER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "enforce_mode.h"
#include "event.h"

struct vg_alert;
struct vg_enforcer;

/* Container or host: decided once per event, from its container identity. */
struct vg_enforce_target {
	bool container; /* in a container (else a host process) */
	char name[128]; /* what the alert records: the pod's uid, the container's id, or "host" */
};

/* Fills t from ev's container (parsed on first use). */
void vg_enforce_target_of(struct vg_event *ev, struct vg_enforce_target *t);

enum vg_enforce_outcome {
	VG_ENFORCE_DONE,	   /* killed (or already gone) */
	VG_ENFORCE_DONE_IN_KERNEL, /* the kernel killed it at exec; the rest was done */
	VG_ENFORCE_DRY_RUN,	   /* what would have been done is recorded */
	VG_ENFORCE_REFUSED,	   /* a safety rule said no */
	VG_ENFORCE_SKIPPED,	   /* the policy's check() failed: nothing killed */
	VG_ENFORCE_FAILED,	   /* tried and failed */
};

/* The side effects. Each kill returns 0 or -errno and says what happened in msg. */
struct vg_enforce_ops {
	int (*kill_process)(void *ctx, uint32_t pid, char *msg, size_t n);
	/* the whole cgroup (-ENOENT: already gone) */
	int (*kill_cgroup)(void *ctx, const char *path, char *msg, size_t n);
	/* starts deleting the pod; its answer comes later (vg_enforcer_late_result) */
	void (*delete_pod)(void *ctx, const struct vg_alert *a, const char *pod_uid,
			   const char *policy);
	/* whether the pod is exempt (annotated vigil.io/break-glass) */
	bool (*break_glass)(void *ctx, const struct vg_meta *pod);
	/* the outcome, on the alert */
	void (*record)(void *ctx, const struct vg_alert *a, const char *action, bool ok,
		       const char *msg, const char *target);
};

struct vg_enforcer_opts {
	const struct vg_enforce_ops *ops;
	void *ctx;
	uint32_t self_pid; /* vigil's own pid: never killed */
	bool dry_run;	   /* record what would be done, do nothing */
	bool pods;	   /* pods can be deleted (Kubernetes is configured) */
};

/* One enforcement asked for by a policy's flow. */
struct vg_enforce_request {
	struct vg_event *ev;
	const struct vg_enforce_target *target;
	const struct vg_alert *alert; /* where the outcome is recorded (may be NULL) */
	const char *policy;	      /* its name, for messages */
	bool policy_host;	      /* the policy's scope includes the host */
	enum vg_enforce_mode action;
	const char *check_error; /* non-NULL: the check failed and the policy does not enforce */
};

struct vg_enforce_stats {
	uint64_t enforced, failed, refused, dry_run, killed_in_kernel, skipped;
};

int vg_enforcer_new(struct vg_enforcer **out, const struct vg_enforcer_opts *o);
void vg_enforcer_free(struct vg_enforcer *enf);

/*
 * Decides and does one enforcement; every outcome but a refusal of an
 * "inform" action is recorded on the alert. msg (n bytes) says what happened.
 */
enum vg_enforce_outcome vg_enforcer_apply(struct vg_enforcer *enf,
					  const struct vg_enforce_request *rq, char *msg, size_t n);

/* A side effect finished later (a pod deleted, a cgroup that would not empty). */
void vg_enforcer_late_result(struct vg_enforcer *enf, bool ok);

void vg_enforcer_stats(const struct vg_enforcer *enf, struct vg_enforce_stats *st);

/*
 * What a mode does, in words, for `vigil policy` to show: pods > 0 when the
 * daemon is configured with a Kubernetes API server, 0 when it is not, < 0
 * when that is not known.
 */
const char *vg_enforce_effect(enum vg_enforce_mode mode, int pods);

#endif
