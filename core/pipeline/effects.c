// SPDX-License-Identifier: BSD-2-Clause
/*
 * effects.c - what the enforcer's decisions do on this host: SIGKILL through
 * a pidfd, a cgroup killed and checked from the loop until it is empty, a pod
 * deleted through the API server, and every outcome recorded on the alert.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "alerts.h"
#include "enforce.h"
#include "k8s.h"
#include "log.h"
#include "pipeline_priv.h"

uint64_t vg_pipeline_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

bool vg_pipeline_still_runs(const struct vg_event *ev)
{
	const struct vg_exec *r = ev->rec;
	char path[64];
	struct stat st;
	int fd;
	bool same;

	if (!(r->flags & VG_EXEC_EXE_KNOWN))
		return false; /* cannot be told: not killed by pid */
	snprintf(path, sizeof(path), "/proc/%u/exe", r->pid);
	fd = open(path, O_PATH | O_CLOEXEC);
	if (fd < 0)
		return false;
	same = !fstat(fd, &st) && st.st_ino == r->exe_ino &&
	       st.st_dev == makedev(r->exe_dev >> 20, r->exe_dev & 0xfffff) &&
	       (uint64_t)st.st_size == r->exe_size &&
	       (uint64_t)st.st_ctim.tv_sec * 1000000000ull + (uint64_t)st.st_ctim.tv_nsec ==
		       r->exe_ctime_ns;
	(void)close(fd); /* O_PATH */
	return same;
}

static int kill_process(void *ctx, uint32_t pid, char *msg, size_t n)
{
	struct vg_pipeline *p = ctx;

	if (pid && pid == p->gone_pid) { /* decided after it exited: the pid may be another's */
		snprintf(msg, n,
			 "the process had exited before it was evaluated (its content or its "
			 "pod came late): its pid is not killed");
		return -ESRCH;
	}
	return vg_kill_process(pid, msg, n);
}

struct verify {
	struct vg_pipeline *p;
	struct event *ev;
	char path[4096];
	int tries;
};

/* After a cgroup kill: is it empty? Checked from the loop, never waited for. */
static void on_verify(evutil_socket_t fd, short what, void *arg)
{
	struct verify *v = arg;
	int left = vg_cgroup_count(v->path);

	(void)fd;
	(void)what;
	if (left > 0 && ++v->tries < 20) {
		(void)event_add(v->ev, &(struct timeval){0, 25000}); /* a timer: cannot fail */
		return;
	}
	if (left > 0) {
		vg_enforcer_late_result(v->p->enforcer, false);
		vg_err("enforcement: cgroup %s still has %d processes after kill", v->path, left);
	} else {
		vg_debug("enforcement: cgroup %s is empty", v->path);
	}
	event_free(v->ev);
	free(v);
}

static void verify_later(struct vg_pipeline *p, const char *path)
{
	struct verify *v = calloc(1, sizeof(*v));

	if (!v || !p->o.base) {
		free(v);
		return;
	}
	v->p = p;
	snprintf(v->path, sizeof(v->path), "%s", path);
	v->ev = event_new(p->o.base, -1, 0, on_verify, v);
	if (!v->ev) {
		free(v);
		return;
	}
	(void)event_add(v->ev, &(struct timeval){0, 10000}); /* a timer: cannot fail */
}

static int kill_cgroup(void *ctx, const char *path, char *msg, size_t n)
{
	int rc = vg_kill_cgroup(path, msg, n);

	if (!rc)
		verify_later(ctx, path);
	return rc;
}

struct k8s_kill {
	struct vg_pipeline *p;
	char alert_id[40], target[64];
};

/* The API server's answer to a pod deletion, recorded on the alert when it comes. */
static void on_k8s_done(void *ctx, bool ok, const char *msg)
{
	struct k8s_kill *k = ctx;
	const struct vg_alert *a = vg_alerts_get(k->p->o.alerts, k->alert_id);

	vg_enforcer_late_result(k->p->enforcer, ok);
	if (a)
		(void)vg_alerts_enforced(k->p->o.alerts, a, "kill_pod (Kubernetes)", ok, msg,
					 k->target, vg_pipeline_now_ns()); /* logged by the store */
	if (!ok)
		vg_err("enforcement: %s", msg);
	free(k);
}

static void delete_pod(void *ctx, const struct vg_alert *a, const char *pod_uid, const char *policy)
{
	struct vg_pipeline *p = ctx;
	struct k8s_kill *k = calloc(1, sizeof(*k));

	if (!k)
		return;
	k->p = p;
	snprintf(k->alert_id, sizeof(k->alert_id), "%s", a ? a->id : "");
	snprintf(k->target, sizeof(k->target), "%s", pod_uid);
	if (vg_k8s_kill_pod(p->o.k8s, pod_uid, policy, on_k8s_done, k))
		free(k);
}

static bool break_glass(void *ctx, const struct vg_meta *pod)
{
	(void)ctx;
	return vg_k8s_break_glass(pod);
}

static void record(void *ctx, const struct vg_alert *a, const char *action, bool ok,
		   const char *msg, const char *target)
{
	struct vg_pipeline *p = ctx;

	(void)vg_alerts_enforced(p->o.alerts, a, action, ok, msg, target,
				 vg_pipeline_now_ns()); /* no alert, or a store error it logged */
}

const struct vg_enforce_ops vg_pipeline_effects = {
	.kill_process = kill_process,
	.kill_cgroup = kill_cgroup,
	.delete_pod = delete_pod,
	.break_glass = break_glass,
	.record = record,
};
