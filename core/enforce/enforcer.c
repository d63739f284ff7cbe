// SPDX-License-Identifier: BSD-2-Clause
/*
 * enforcer.c - the enforcement rules, in the order they apply: a failed
 * check skips, the safety guards refuse, break-glass exempts, a dry run only
 * records, then the kill. Side effects through the ops table (enforcer.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "enforcer.h"
#include "log.h"

/* What an enforcement's message may hold (on the alert), and a skip's. */
#define ENFORCE_MSG 512

struct vg_enforcer {
	struct vg_enforcer_opts o;
	struct vg_enforce_stats st;
};

void vg_enforce_target_of(struct vg_event *ev, struct vg_enforce_target *t)
{
	const struct vg_container *ctr = vg_event_container(ev);
	const char *name = "host";

	if (ctr->pod_uid[0])
		name = ctr->pod_uid;
	else if (ctr->id[0])
		name = ctr->short_id;
	t->container = ctr->id[0] != '\0';
	snprintf(t->name, sizeof(t->name), "%s", name);
}

int vg_enforcer_new(struct vg_enforcer **out, const struct vg_enforcer_opts *o)
{
	struct vg_enforcer *enf = calloc(1, sizeof(*enf));

	if (!enf)
		return -ENOMEM;
	enf->o = *o;
	*out = enf;
	return 0;
}

void vg_enforcer_free(struct vg_enforcer *enf)
{
	free(enf);
}

void vg_enforcer_late_result(struct vg_enforcer *enf, bool ok)
{
	if (ok)
		enf->st.enforced++;
	else
		enf->st.failed++;
}

void vg_enforcer_stats(const struct vg_enforcer *enf, struct vg_enforce_stats *st)
{
	*st = enf->st;
}

const char *vg_enforce_effect(enum vg_enforce_mode mode, int pods)
{
	if (mode == VG_ENFORCE_INFORM)
		return "record the violation, kill nothing";
	if (mode == VG_ENFORCE_KILL_PROCESS)
		return "kill the process (in the kernel at exec where it can decide), nothing more";
	if (pods > 0)
		return "kill the process (in the kernel at exec where it can decide), then its "
		       "container's cgroup and its pod (Kubernetes DELETE and Event); a host "
		       "process alone";
	if (pods == 0)
		return "kill the process (in the kernel at exec where it can decide), then its "
		       "container's cgroup; a host process alone";
	return "kill the process (in the kernel at exec where it can decide), then its "
	       "container's cgroup, and its pod (Kubernetes DELETE and Event) when the daemon "
	       "has a Kubernetes API server; a host process alone";
}

static void record(struct vg_enforcer *enf, const struct vg_enforce_request *rq, const char *action,
		   bool ok, const char *msg)
{
	enf->o.ops->record(enf->o.ctx, rq->alert, action, ok, msg, rq->target->name);
}

/* A violation whose check() failed: nothing is killed; the alert says why. */
static enum vg_enforce_outcome skip(struct vg_enforcer *enf, const struct vg_enforce_request *rq,
				    char *msg, size_t n)
{
	uint64_t k = ++enf->st.skipped;

	snprintf(msg, n, "skipped: check() failed (%.600s)", rq->check_error);
	record(enf, rq, vg_enforce_mode_name(rq->action), false, msg);
	if (k <= 3 || !(k & (k - 1))) /* the first three, then at powers of two */
		vg_warn("policy '%s': %s of pid %u %s; set on_error = \"enforce\" in the policy to "
			"enforce anyway",
			rq->policy, vg_enforce_mode_name(rq->action), rq->ev->rec->pid, msg);
	return VG_ENFORCE_SKIPPED;
}

/* Never vigil, never PID 1, never a host process unless the policy's scope has the host. */
static const char *guard(const struct vg_enforcer *enf, const struct vg_enforce_request *rq)
{
	uint32_t pid = rq->ev->rec->pid;

	if (pid == 1)
		return "PID 1 is never killed";
	if (pid == enf->o.self_pid)
		return "vigil never kills itself";
	if (!rq->target->container && !rq->policy_host)
		return "a host process, and the policy's scope is containers";
	return NULL;
}

static enum vg_enforce_outcome dry_run(struct vg_enforcer *enf, const struct vg_enforce_request *rq,
				       char *msg, size_t n)
{
	struct vg_event *ev = rq->ev;

	vg_event_paths(ev);
	snprintf(msg, n, "dry run: would %s pid %u (%s) in cgroup %.200s",
		 rq->action == VG_ENFORCE_KILL_POD && rq->target->container ? "kill the pod of"
									    : "kill",
		 ev->rec->pid, ev->exe, ev->cgroup);
	vg_info("policy '%s': %s", rq->policy, msg);
	enf->st.dry_run++;
	record(enf, rq, "dry run", true, msg);
	return VG_ENFORCE_DRY_RUN;
}

/* A path cut short has no level to trust: the process alone is killed. */
static int refuse_short_path(struct vg_enforcer *enf, const struct vg_enforce_request *rq,
			     bool in_kernel, char *msg, size_t n, size_t used)
{
	char cmsg[256];

	if (!in_kernel)
		(void)enf->o.ops->kill_process(enf->o.ctx, rq->ev->rec->pid, cmsg,
					       sizeof(cmsg)); /* what it did goes into msg */
	snprintf(msg + used, n - used,
		 "%srefused: the cgroup path is deeper than the sensor walks, so the "
		 "container's own cgroup is unknown (%.120s); %.120s",
		 used ? "; " : "", rq->ev->cgroup, in_kernel ? "the process died at exec" : cmsg);
	return -EPERM;
}

/*
 * kill_pod of a container. The cgroup killed is the container's own level as
 * the runtime made it (container.c), never a level named below it: it holds
 * the process and everything the container nested. The pod is deleted only
 * when the API server lists this container in it (ev->pod_verified). 0, or
 * -EPERM when a pod was named and refused or the path was cut short (msg says
 * why), or the cgroup kill's -errno.
 */
static int kill_pod(struct vg_enforcer *enf, const struct vg_enforce_request *rq, bool in_kernel,
		    char *msg, size_t n)
{
	struct vg_event *ev = rq->ev;
	const struct vg_container *ctr = vg_event_container(ev);
	size_t used = strnlen(msg, 200);
	char path[VG_PATH_MAX], cmsg[256];
	int rc;

	vg_event_paths(ev);
	if (ctr->truncated)
		return refuse_short_path(enf, rq, in_kernel, msg, n, used);
	(void)snprintf(path, sizeof(path), "%.*s", (int)ctr->level_len,
		       ev->cgroup); /* a prefix of a path of the same size */
	/* the cgroup at once: the pod's processes do not wait for the API round trip */
	rc = enf->o.ops->kill_cgroup(enf->o.ctx, path, cmsg, sizeof(cmsg));
	if (rc == -ENOENT)
		rc = 0; /* NotFound is success: nothing is left to kill */
	used += (size_t)snprintf(msg + used, n - used, "%s%.250s", used ? "; " : "", cmsg);
	if (used >= n || !enf->o.pods)
		return rc;
	if (ev->pod_verified) {
		enf->o.ops->delete_pod(enf->o.ctx, rq->alert, ctr->pod_uid, rq->policy);
		return rc;
	}
	if (ctr->pod_uid[0]) /* not listed (yet, or any more): nothing to delete by */
		(void)snprintf(msg + used, n - used,
			       "; pod %s is not in this node's pod list: not deleted",
			       ctr->pod_uid); /* cut to the message's size */
	if (!ev->pod_denied)
		return rc;
	(void)snprintf(msg + used, n - used, "; no pod deleted: %s",
		       ev->attr_warning); /* cut to the message's size */
	return rc ? rc : -EPERM;
}

/* The process alone (a kill_process, or a host process, which has no container to kill). */
static int kill_process(struct vg_enforcer *enf, const struct vg_enforce_request *rq,
			bool in_kernel, char *msg, size_t n)
{
	size_t used = strnlen(msg, 200);
	int rc = 0;

	if (!in_kernel) {
		rc = enf->o.ops->kill_process(enf->o.ctx, rq->ev->rec->pid, msg, n);
		if (rc == -ESRCH)
			rc = 0; /* it is gone either way */
		used = strnlen(msg, n);
	}
	if (rq->action == VG_ENFORCE_KILL_POD && used < n)
		(void)snprintf(msg + used, n - used,
			       "; a host process: the process alone, never the host's "
			       "cgroup"); /* cut to the message's size */
	return rc;
}

/* What the alert says was done: both steps when the kernel killed and the container followed. */
static const char *action_done(const struct vg_enforce_request *rq, bool in_kernel)
{
	bool container = rq->action == VG_ENFORCE_KILL_POD && rq->target->container;

	if (in_kernel)
		return container ? "killed in kernel + kill_pod" : "killed in kernel";
	return container ? "kill_pod" : "kill_process";
}

static enum vg_enforce_outcome kill(struct vg_enforcer *enf, const struct vg_enforce_request *rq,
				    char *msg, size_t n)
{
	uint32_t pid = rq->ev->rec->pid;
	bool in_kernel = (rq->ev->rec->flags & VG_EXEC_KILLED) != 0;
	int rc;

	if (in_kernel) {
		enf->st.killed_in_kernel++;
		(void)snprintf(msg, n, "killed in kernel at exec (pid %u): the binary never ran",
			       pid); /* short */
	}
	if (rq->action == VG_ENFORCE_KILL_POD && rq->target->container)
		rc = kill_pod(enf, rq, in_kernel, msg, n);
	else
		rc = kill_process(enf, rq, in_kernel, msg, n);
	record(enf, rq, action_done(rq, in_kernel), !rc, msg);
	if (rc) {
		enf->st.failed++;
		vg_err("enforcement of '%s' failed: %s", rq->policy, msg);
		return VG_ENFORCE_FAILED;
	}
	enf->st.enforced++;
	return in_kernel ? VG_ENFORCE_DONE_IN_KERNEL : VG_ENFORCE_DONE;
}

static enum vg_enforce_outcome enforce(struct vg_enforcer *enf, const struct vg_enforce_request *rq,
				       char *msg, size_t n)
{
	const struct vg_meta *pod = rq->ev->meta;
	const char *refusal = guard(enf, rq);

	if (refusal) {
		enf->st.refused++;
		snprintf(msg, n, "refused: %s", refusal);
		record(enf, rq, vg_enforce_mode_name(rq->action), false, msg);
		return VG_ENFORCE_REFUSED;
	}
	if (rq->action == VG_ENFORCE_INFORM) { /* nothing to do: not recorded */
		enf->st.refused++;
		return VG_ENFORCE_REFUSED;
	}
	if (enf->o.ops->break_glass(enf->o.ctx, pod)) {
		enf->st.refused++;
		snprintf(msg, n, "not enforced: pod %s/%s is annotated vigil.io/break-glass",
			 pod->namespace_, pod->pod);
		record(enf, rq, vg_enforce_mode_name(rq->action), false, msg);
		return VG_ENFORCE_REFUSED;
	}
	if (enf->o.dry_run)
		return dry_run(enf, rq, msg, n);
	return kill(enf, rq, msg, n);
}

enum vg_enforce_outcome vg_enforcer_apply(struct vg_enforcer *enf,
					  const struct vg_enforce_request *rq, char *msg, size_t n)
{
	char buf[768] = "";
	enum vg_enforce_outcome outcome;

	if (rq->check_error)
		outcome = skip(enf, rq, buf, sizeof(buf));
	else
		outcome = enforce(enf, rq, buf, ENFORCE_MSG);
	snprintf(msg, n, "%s", buf);
	return outcome;
}
