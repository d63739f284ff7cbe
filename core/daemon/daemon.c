// SPDX-License-Identifier: BSD-2-Clause
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "api.h"
#include "daemon.h"
#include "metrics.h"
#include "enforce.h"
#include "log.h"
#include "lua_host.h"
#include "safefile.h"

#define VOL_SLOTS 16384

/* Volume control: one slot per (container, comm, args, exe), by two independent hashes. */
struct vol_slot {
	uint64_t h1, h2;
	uint64_t window_start_ns;
	uint32_t count;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t mix(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ull;
	return h;
}

/*
 * StackRox rate-limits repeats of the same container + name + args + path
 * before detection (burst 10 per 30 minutes per key). Returns true to drop.
 * Keys are hashed with a seed drawn at start, so a crafted exec cannot aim
 * at another's slot.
 */
static bool suppressed(struct vg_daemon *d, struct vg_event *ev)
{
	const struct vg_exec *r = ev->rec;
	uint64_t h1 = d->vol_seed[0], h2 = d->vol_seed[1], now = ev->time_ns;
	struct vol_slot *s;

	if (!d->cfg.burst)
		return false;
	h1 = mix(h1, r->data + r->cg_off, r->cg_len);
	h1 = mix(h1, r->comm, VG_COMM_LEN);
	h1 = mix(h1, r->data + r->args_off, r->args_len);
	h1 = mix(h1, ev->exe, strlen(ev->exe));
	h2 = mix(h2 ^ h1, r->data + r->args_off, r->args_len);
	h2 = mix(h2, r->data + r->cg_off, r->cg_len);
	s = &d->vol[h1 % VOL_SLOTS];
	if (s->h1 != h1 || s->h2 != h2 ||
	    now - s->window_start_ns > (uint64_t)d->cfg.window_s * 1000000000ull) {
		s->h1 = h1;
		s->h2 = h2;
		s->window_start_ns = now;
		s->count = 0;
	}
	if (++s->count > d->cfg.burst) {
		d->suppressed++;
		return true;
	}
	return false;
}

/* ---- the flow's bindings ------------------------------------------------------ */

static void on_ack(void *ctx, bool ok)
{
	struct vg_daemon *d = ctx;

	if (ok)
		d->acked++;
}

static bool flow_store(void *ctx, struct vg_event *ev, int pol)
{
	struct vg_daemon *d = ctx;
	const struct vg_policy_info *p = vg_engine_policy(d->engine, pol);
	struct vg_violation v = {.ev = ev,
				 .policy_id = p->id,
				 .policy_name = p->name,
				 .severity = p->severity,
				 .killed_in_kernel = (ev->rec->flags & VG_EXEC_KILLED) != 0,
				 .error = vg_engine_check_error(d->engine, pol)};
	int rc;

	vg_sensor_lineage(d->sensor, ev);
	rc = vg_alerts_add(d->alerts, &v, on_ack, d, &d->cur_alert);
	if (rc) {
		d->store_errors++;
		vg_err("cannot store a violation of '%s': %s", p->name, strerror(-rc));
		return false;
	}
	d->stored++;
	return true;
}

/* vigil.notify() from the flow: the alert's event to the default notifiers, via the outbox. */
static bool flow_notify(void *ctx, struct vg_event *ev, int pol)
{
	struct vg_daemon *d = ctx;

	(void)ev;
	(void)pol;
	if (!d->notify || !d->cur_alert)
		return false;
	return vg_notify_alert(d->notify, d->cur_alert->violations == 1 ? "created" : "updated",
			       d->cur_alert) == 0;
}

struct verify {
	struct vg_daemon *d;
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
		event_add(v->ev, &(struct timeval){0, 25000});
		return;
	}
	if (left > 0) {
		v->d->enforce_failed++;
		vg_err("enforcement: cgroup %s still has %d processes after kill", v->path, left);
	} else {
		vg_debug("enforcement: cgroup %s is empty", v->path);
	}
	event_free(v->ev);
	free(v);
}

static void verify_later(struct vg_daemon *d, const char *path)
{
	struct verify *v = calloc(1, sizeof(*v));

	if (!v)
		return;
	v->d = d;
	snprintf(v->path, sizeof(v->path), "%s", path);
	v->ev = event_new(d->base, -1, 0, on_verify, v);
	if (!v->ev) {
		free(v);
		return;
	}
	event_add(v->ev, &(struct timeval){0, 10000});
}

struct k8s_kill {
	struct vg_daemon *d;
	char alert_id[40], target[64];
};

/* The API server's answer to a pod deletion, recorded on the alert when it comes. */
static void on_k8s_done(void *ctx, bool ok, const char *msg)
{
	struct k8s_kill *k = ctx;
	const struct vg_alert *a = vg_alerts_get(k->d->alerts, k->alert_id);

	ok ? k->d->enforced++ : k->d->enforce_failed++;
	if (a)
		vg_alerts_enforced(k->d->alerts, a, "kill_pod (Kubernetes)", ok, msg, k->target,
				   now_ns());
	if (!ok)
		vg_err("enforcement: %s", msg);
	free(k);
}

static void k8s_delete(struct vg_daemon *d, const char *pod_uid, const char *policy)
{
	struct k8s_kill *k = calloc(1, sizeof(*k));

	if (!k)
		return;
	k->d = d;
	snprintf(k->alert_id, sizeof(k->alert_id), "%s", d->cur_alert ? d->cur_alert->id : "");
	snprintf(k->target, sizeof(k->target), "%s", pod_uid);
	if (vg_k8s_kill_pod(d->k8s, pod_uid, policy, on_k8s_done, k))
		free(k);
}

/*
 * kill_pod. The cgroup killed is the container's own level as the runtime
 * made it (container.c), never a level named below it: it holds the process
 * and everything the container nested. The pod is deleted only when the API
 * server lists this container in it (ev->pod_verified). A path cut short has
 * no level to trust: the process alone is killed. 0, or -EPERM when a pod was
 * named and refused or the path was cut short (msg says why), or the cgroup
 * kill's -errno.
 */
static int kill_pod(struct vg_daemon *d, struct vg_event *ev, const char *policy, bool in_kernel,
		    char *msg, size_t n)
{
	const struct vg_container *ctr = vg_event_container(ev);
	size_t used = strnlen(msg, 200);
	char path[VG_PATH_MAX], cmsg[256];
	int rc;

	vg_event_paths(ev);
	if (ctr->truncated) {
		if (!in_kernel)
			vg_kill_process(ev->rec->pid, cmsg, sizeof(cmsg));
		snprintf(msg + used, n - used,
			 "%srefused: the cgroup path is deeper than the sensor walks, so the "
			 "container's own cgroup is unknown (%.120s); %.120s",
			 used ? "; " : "", ev->cgroup,
			 in_kernel ? "the process died at exec" : cmsg);
		return -EPERM;
	}
	/* a container: its own level (a host process under a host-scoped policy: its cgroup) */
	snprintf(path, sizeof(path), "%.*s",
		 (int)(ctr->id[0] ? ctr->level_len : strlen(ev->cgroup)), ev->cgroup);
	/* the cgroup at once: the pod's processes do not wait for the API round trip */
	rc = vg_kill_cgroup(path, cmsg, sizeof(cmsg));
	if (rc == -ENOENT)
		rc = 0; /* NotFound is success: nothing is left to kill */
	else if (!rc)
		verify_later(d, path);
	used += (size_t)snprintf(msg + used, n - used, "%s%.250s", used ? "; " : "", cmsg);
	if (used >= n || !d->k8s)
		return rc;
	if (ev->pod_verified) {
		k8s_delete(d, ctr->pod_uid, policy);
		return rc;
	}
	if (ctr->pod_uid[0]) /* not listed (yet, or any more): nothing to delete by */
		snprintf(msg + used, n - used,
			 "; pod %s is not in this node's pod list: not deleted", ctr->pod_uid);
	if (!ev->pod_denied)
		return rc;
	snprintf(msg + used, n - used, "; no pod deleted: %s", ev->attr_warning);
	return rc ? rc : -EPERM;
}

/*
 * vigil.enforce(action) from the flow. Never vigil, never PID 1, never a host
 * process unless the policy's scope includes the host; the outcome, good or
 * bad, goes on the alert.
 */
static bool flow_enforce(void *ctx, struct vg_event *ev, int pol, const char *action)
{
	struct vg_daemon *d = ctx;
	const struct vg_policy_info *p = vg_engine_policy(d->engine, pol);
	const struct vg_container *ctr = vg_event_container(ev);
	uint32_t pid = ev->rec->pid;
	bool in_kernel = (ev->rec->flags & VG_EXEC_KILLED) != 0, ok;
	char msg[512] = "", target[128];
	uint64_t now = now_ns();
	int rc = 0;

	snprintf(target, sizeof(target), "%s",
		 ctr->pod_uid[0] ? ctr->pod_uid
		 : ctr->id[0]	 ? ctr->short_id
				 : "host");
	if (pid == (uint32_t)getpid() || pid == 1 || (!ctr->id[0] && !p->host)) {
		d->enforce_refused++;
		snprintf(msg, sizeof(msg), "refused: %s",
			 pid == 1 ? "PID 1 is never killed"
			 : pid == (uint32_t)getpid()
				 ? "vigil never kills itself"
				 : "a host process, and the policy's scope is containers");
		vg_alerts_enforced(d->alerts, d->cur_alert, action, false, msg, target, now);
		return false;
	}
	if (strcmp(action, "kill_process") && strcmp(action, "kill_pod")) {
		d->enforce_refused++;
		return false;
	}
	if (vg_k8s_break_glass(ev->meta)) {
		d->enforce_refused++;
		snprintf(msg, sizeof(msg),
			 "not enforced: pod %s/%s is annotated vigil.io/break-glass",
			 ev->meta->namespace_, ev->meta->pod);
		vg_alerts_enforced(d->alerts, d->cur_alert, action, false, msg, target, now);
		return false;
	}
	if (d->cfg.dry_run) {
		vg_event_paths(ev);
		snprintf(msg, sizeof(msg), "dry run: would %s pid %u (%s) in cgroup %.200s",
			 !strcmp(action, "kill_pod") ? "kill the pod of" : "kill", pid, ev->exe,
			 ev->cgroup);
		vg_info("policy '%s': %s", p->name, msg);
		d->enforce_dry_run++;
		vg_alerts_enforced(d->alerts, d->cur_alert, "dry run", true, msg, target, now);
		return true;
	}
	if (in_kernel) {
		d->killed_in_kernel++;
		snprintf(msg, sizeof(msg),
			 "killed in kernel at exec (pid %u): the binary never ran", pid);
	}
	if (!strcmp(action, "kill_process") && !in_kernel) {
		rc = vg_kill_process(pid, msg, sizeof(msg));
		if (rc == -ESRCH)
			rc = 0; /* it is gone either way */
	} else if (!strcmp(action, "kill_pod")) {
		rc = kill_pod(d, ev, p->name, in_kernel, msg, sizeof(msg));
	}
	ok = rc == 0;
	ok ? d->enforced++ : d->enforce_failed++;
	vg_alerts_enforced(d->alerts, d->cur_alert, in_kernel ? "killed in kernel" : action, ok,
			   msg, target, now);
	if (!ok)
		vg_err("enforcement of '%s' failed: %s", p->name, msg);
	return ok;
}

/* vigil.enforce() for a violation whose check() failed: nothing is killed; the alert says why. */
static void flow_enforce_skipped(void *ctx, struct vg_event *ev, int pol, const char *action,
				 const char *why)
{
	struct vg_daemon *d = ctx;
	const struct vg_container *ctr = vg_event_container(ev);
	char msg[768];

	d->enforce_skipped++;
	snprintf(msg, sizeof(msg), "skipped: check() failed (%.600s)", why);
	vg_alerts_enforced(d->alerts, d->cur_alert, action, false, msg,
			   ctr->pod_uid[0] ? ctr->pod_uid
			   : ctr->id[0]	   ? ctr->short_id
					   : "host",
			   now_ns());
	if (d->enforce_skipped <= 3 || !(d->enforce_skipped & (d->enforce_skipped - 1)))
		vg_warn("policy '%s': %s of pid %u %s; set on_error = \"enforce\" in the policy to "
			"enforce anyway",
			vg_engine_policy(d->engine, pol)->name, action, ev->rec->pid, msg);
}

static const struct vg_flow_ops ops = {.store = flow_store,
				       .enforce = flow_enforce,
				       .notify = flow_notify,
				       .enforce_skipped = flow_enforce_skipped};

struct hits {
	int pol[64];
	int n;
};

static void on_violation(void *ctx, struct vg_event *ev, int pol, const struct vg_policy_info *p)
{
	struct hits *h = ctx;

	(void)ev;
	(void)p;
	if (h->n < 64)
		h->pol[h->n++] = pol;
}

static int on_record(void *arg, const void *rec, size_t len)
{
	struct vg_daemon *d = arg;
	struct vg_event *ev = &d->ev;
	struct hits h = {.n = 0};

	d->events++;
	if (vg_event_decode(ev, rec, len, vg_sensor_boot_to_wall(d->sensor))) {
		d->decode_errors++;
		return 0;
	}
	vg_attribute(&d->attr, d->k8s, ev);
	vg_engine_eval(d->engine, ev, on_violation, &h);
	/* the flow runs after the evaluation, one violation at a time */
	for (int i = 0, drop = -1; i < h.n; i++) {
		const struct vg_policy_info *p = vg_engine_policy(d->engine, h.pol[i]);
		const struct vg_policy_setting *st = vg_alerts_policy_setting(d->alerts, p->id);
		char err[512];

		/*
		 * Volume control (StackRox's burst per container, name, args and
		 * exe) keeps repeats out of the store; it never spares a process
		 * an enforcing policy would kill. It counts execs, not violations:
		 * decided once per exec, whatever number of policies it matches.
		 */
		if (!strcmp(p->enforcement, "inform")) {
			if (drop < 0)
				drop = suppressed(d, ev);
			if (drop)
				continue;
		}

		d->violations++;
		d->cur_alert = NULL;
		if (vg_engine_flow(d->engine, ev, h.pol[i], st ? st->enforcement : NULL, &ops, d,
				   err, sizeof(err))) {
			d->flow_errors++;
			vg_warn("policy '%s': the violation flow failed (%s); the violation was "
				"stored",
				vg_engine_policy(d->engine, h.pol[i])->name, err);
		}
	}
	return 0;
}

static void lineage_cb(void *arg, struct vg_event *ev)
{
	vg_sensor_lineage(((struct vg_daemon *)arg)->sensor, ev);
}

/* ---- policies: settings, kernel filter, reload ----------------------------------- */

int vg_daemon_policy_changed(struct vg_daemon *d)
{
	const uint32_t *actions;
	const char **names;
	int n;

	for (int i = 0; i < vg_engine_count(d->engine); i++) {
		const struct vg_policy_info *p = vg_engine_policy(d->engine, i);
		const struct vg_policy_setting *st = vg_alerts_policy_setting(d->alerts, p->id);

		if (st && st->enabled >= 0 && !p->broken)
			vg_engine_enable(d->engine, i, st->enabled);
		if (st && st->enforcement)
			vg_engine_set_enforcement(d->engine, i, st->enforcement);
	}
	/* names to pass, and which to kill at exec: the kernel follows at once */
	n = vg_engine_kernel_program(d->engine, &names, &actions);
	if (d->cfg.dry_run)
		actions = NULL; /* dry run: the kernel kills nothing */
	else {
		const int *ni;
		const uint32_t *uids;
		int nu = vg_engine_kernel_kill_uids(d->engine, &ni, &uids);

		/* the uid pairs before the names that point at them */
		if (vg_sensor_kill_uids_set(d->sensor, names, ni, uids, nu))
			return -1;
	}
	return vg_sensor_filter_program_actions(d->sensor, names, actions, n,
						vg_engine_kernel_all(d->engine));
}

static struct vg_engine_opts engine_opts(struct vg_daemon *d)
{
	struct vg_engine_opts eo = {
		.dir = d->cfg.policy_dir[0] ? d->cfg.policy_dir : NULL,
		.lua_mem = (size_t)d->cfg.lua_memory_mb << 20,
		.policy_mem = (size_t)d->cfg.lua_policy_memory_mb << 20,
		.budget = d->cfg.lua_budget,
		.time_ms = d->cfg.lua_time_ms,
		.lineage_fn = lineage_cb,
		.lineage_ctx = d,
	};

	return eo;
}

static const json_t *namespace_of(void *k8s, const char *name)
{
	return vg_k8s_namespace(k8s, name);
}

/* Each policy's own `notifiers` list; a name vigil.conf.lua does not configure is an error. */
static int route_policies(struct vg_daemon *d, char *err, size_t en)
{
	int rc = 0;

	if (d->notify)
		vg_notify_routes_clear(d->notify);
	for (int i = 0; i < vg_engine_count(d->engine); i++) {
		const struct vg_policy_info *p = vg_engine_policy(d->engine, i);

		char e[512];

		if (!p->notifiers || p->broken)
			continue;
		if (!d->notify && p->notifiers[0])
			snprintf(e, sizeof(e),
				 "policy '%s' (%s) names notifier '%s', but vigil.conf.lua "
				 "configures no notifiers",
				 p->name, p->file, p->notifiers[0]);
		else if (!d->notify ||
			 !vg_notify_route(d->notify, p->id, p->notifiers, e, sizeof(e)))
			continue;
		if (!rc) /* report the first; route every other policy */
			rc = vg_errf(err, en, -ENOENT, "%s", e);
	}
	return rc;
}

static void on_hup(evutil_socket_t s, short w, void *arg)
{
	struct vg_daemon *d = arg;
	struct vg_engine_opts eo = engine_opts(d);
	struct vg_load_error *errs;
	int nerr;

	(void)s;
	(void)w;
	if (vg_engine_reload(&d->engine, &eo, &errs, &nerr)) {
		for (int i = 0; i < nerr; i++)
			vg_err("%s", errs[i].msg);
		d->reload_failures++;
		vg_err("reload failed: kept the %d policies loaded before",
		       vg_engine_count(d->engine));
	} else {
		char err[512];

		d->reloads++;
		if (route_policies(d, err, sizeof(err)))
			vg_err("%s; that policy's alerts go to default_notifiers until it is fixed",
			       err);
		vg_daemon_policy_changed(d);
		vg_info("reloaded %d policies", vg_engine_count(d->engine));
	}
	vg_load_errors_free(errs, nerr);
}

/*
 * SIGINT and SIGTERM: a handler of our own, not a libevent signal event,
 * because those run only when the loop turns, and the loop may be inside a
 * Lua call. The handler stops the running call (vg_lua_interrupt) and wakes
 * the loop through a pipe; the loop then stops as usual.
 */
static int stop_pipe[2] = {-1, -1};

static void on_stop_signal(int sig)
{
	int saved = errno;
	char c = (char)sig;

	vg_lua_interrupt();
	if (write(stop_pipe[1], &c, 1) < 0) {
		/* the pipe is full: a stop is already pending */
	}
	errno = saved;
}

static int stop_signals_install(void)
{
	struct sigaction sa = {.sa_handler = on_stop_signal};

	if (pipe2(stop_pipe, O_NONBLOCK | O_CLOEXEC))
		return -errno;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGINT, &sa, NULL) || sigaction(SIGTERM, &sa, NULL))
		return -errno;
	return 0;
}

static void stop_signals_remove(void)
{
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	for (int i = 0; i < 2; i++) {
		if (stop_pipe[i] >= 0)
			close(stop_pipe[i]);
		stop_pipe[i] = -1;
	}
	vg_lua_interrupt_clear();
}

static void on_stop(evutil_socket_t s, short w, void *arg)
{
	struct vg_daemon *d = arg;
	char buf[16];

	(void)w;
	while (read(s, buf, sizeof(buf)) > 0)
		;
	d->stopping = true;
	event_base_loopbreak(d->base);
}

/*
 * The cgroup id (its v2 directory's inode) of a pod, found under kubepods in
 * either layout: cgroupfs (kubepods/[qos/]pod<uid>) or systemd
 * (kubepods.slice/kubepods-<qos>.slice/kubepods-<qos>-pod<uid_>.slice).
 */
static uint64_t pod_cgroup_id(const char *root, const char *uid)
{
	static const char *const fmt[] = {
		"%s/kubepods/besteffort/pod%s",
		"%s/kubepods/burstable/pod%s",
		"%s/kubepods/pod%s",
		"%s/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod%s.slice",
		"%s/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod%s.slice",
		"%s/kubepods.slice/kubepods-pod%s.slice",
	};
	char us[40], path[512];
	struct stat st;

	snprintf(us, sizeof(us), "%.36s", uid);
	for (size_t i = 0; i < sizeof(fmt) / sizeof(fmt[0]); i++) {
		if (i == 3)
			for (char *c = us; *c; c++)
				*c = *c == '-' ? '_' : *c;
		snprintf(path, sizeof(path), fmt[i], root, us);
		if (stat(path, &st) == 0)
			return (uint64_t)st.st_ino;
	}
	return 0;
}

/*
 * Break-glass pods are exempt from kills at exec too: their pod cgroup ids go
 * into the kernel's exempt map (a process's leaf or parent cgroup is checked).
 */
static void on_break_glass(evutil_socket_t s, short w, void *arg)
{
	struct vg_daemon *d = arg;
	static char uids[256][40];
	uint64_t ids[256];
	int n, m = 0;
	const char *root = access("/sys/fs/cgroup/unified/cgroup.procs", F_OK) == 0
				   ? "/sys/fs/cgroup/unified"
				   : "/sys/fs/cgroup";

	(void)s;
	(void)w;
	n = vg_k8s_break_glass_pods(d->k8s, uids, 256);
	for (int i = 0; i < n; i++)
		if ((ids[m] = pod_cgroup_id(root, uids[i])))
			m++;
	if (vg_sensor_exempt_set(d->sensor, ids, m))
		vg_err("cannot program the break-glass exemptions into the kernel");
}

static void on_retention(evutil_socket_t s, short w, void *arg)
{
	struct vg_daemon *d = arg;
	uint64_t age, now = now_ns();
	int n;

	(void)s;
	(void)w;
	if (!d->cfg.retention_days)
		return;
	/* the cutoff saturates at the epoch: a long retention never wraps into the future */
	if (__builtin_mul_overflow((uint64_t)d->cfg.retention_days, 86400ull * 1000000000ull, &age))
		age = UINT64_MAX;
	n = vg_alerts_compact(d->alerts, now > age ? now - age : 0);
	if (n > 0)
		vg_info("retention: removed %d alerts resolved more than %u days ago", n,
			d->cfg.retention_days);
	else if (n < 0)
		vg_err("retention: compacting the store failed: %s", strerror(-n));
}

/* ---- start-up ---------------------------------------------------------------------- */

/* One daemon per data directory: an flock held for the process's life. */
static int take_lock(struct vg_daemon *d)
{
	char err[1024], pid[32] = "";
	ssize_t n;

	d->lock_fd = vg_safe_openat(d->data_fd, d->cfg.data_dir, "vigil.lock", O_RDWR | O_CREAT,
				    0600, 0022, err, sizeof(err));
	if (d->lock_fd < 0) {
		vg_err("%s", err);
		return -1;
	}
	if (flock(d->lock_fd, LOCK_EX | LOCK_NB)) {
		n = pread(d->lock_fd, pid, sizeof(pid) - 1, 0);
		pid[n > 0 ? n : 0] = '\0';
		pid[strcspn(pid, "\n")] = '\0';
		vg_err("another vigil (pid %s) is running on the data directory %s: stop it first, "
		       "or give this one its own --data-dir",
		       pid[0] ? pid : "?", d->cfg.data_dir);
		return -1;
	}
	snprintf(pid, sizeof(pid), "%d\n", getpid());
	if (ftruncate(d->lock_fd, 0) || pwrite(d->lock_fd, pid, strlen(pid), 0) < 0)
		vg_warn("cannot write the pid into %s/vigil.lock", d->cfg.data_dir);
	return 0;
}

/* The open-files soft limit up to the hard one: room for enforcement, the store and the API. */
static void raise_nofile(void)
{
	struct rlimit rl;
	rlim_t was;

	if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur >= rl.rlim_max)
		return;
	was = rl.rlim_cur;
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl))
		vg_warn("cannot raise the open-files limit from %llu to %llu: %s",
			(unsigned long long)was, (unsigned long long)rl.rlim_max, strerror(errno));
	else
		vg_info("open files: raised the limit from %llu to %llu", (unsigned long long)was,
			(unsigned long long)rl.rlim_max);
}

/* ---- the REST API's host: what it may reach of the daemon ---------------------------- */

static struct vg_engine *api_engine(void *ctx)
{
	return ((struct vg_daemon *)ctx)->engine; /* the current one: SIGHUP replaces it */
}

static int api_policy_changed(void *ctx)
{
	return vg_daemon_policy_changed(ctx);
}

static void api_metrics(void *ctx, struct evbuffer *b)
{
	vg_daemon_metrics(ctx, b);
}

static int api_start(struct vg_daemon *d, char *err, size_t n)
{
	const struct vg_api_host host = {
		.base = d->base,
		.listen = d->cfg.api_listen,
		.data_dir = d->cfg.data_dir,
		.data_fd = d->data_fd,
		.max_connections = d->cfg.api_max_connections,
		.request_timeout_s = d->cfg.api_request_timeout_s,
		.alerts = d->alerts,
		.notify = d->notify,
		.ctx = d,
		.engine = api_engine,
		.policy_changed = api_policy_changed,
		.render_metrics = api_metrics,
	};

	return vg_api_start(&d->api, &host, err, n);
}

int vg_daemon_run(const struct vg_run_opts *o)
{
	static struct vg_daemon dd;
	struct vg_daemon *d = &dd;
	struct vg_alerts_opts ao = {0};
	struct vg_sensor_opts so = {.verbose = o->verbose};
	struct vg_wal_report rep;
	struct vg_engine_opts eo;
	struct vg_load_error *errs;
	struct event *ev_stop = NULL, *ev_hup = NULL, *ev_ret = NULL, *ev_bg = NULL;
	const char *config = o->config, *data_dir = o->data_dir, *pol = o->policies;
	const char *listen = o->listen, *fs = o->fsync;
	bool dry = o->dry_run;
	char err[1024], store_dir[1100];
	int nerr, rc = 1;

	memset(d, 0, sizeof(*d));
	d->lock_fd = d->data_fd = -1;
	if (vg_config_resolve(&d->cfg, config, data_dir, err, sizeof(err))) {
		vg_err("%s", err);
		return 1;
	}
	if (pol)
		snprintf(d->cfg.policy_dir, sizeof(d->cfg.policy_dir), "%s", pol);
	if (listen && vg_check_listen("--listen", listen, err, sizeof(err))) {
		vg_err("%s", err);
		return 1;
	}
	if (listen)
		snprintf(d->cfg.api_listen, sizeof(d->cfg.api_listen), "%s", listen);
	if (fs)
		d->cfg.fsync_always = !strcmp(fs, "always");
	if (dry)
		d->cfg.dry_run = true;

	d->data_fd = vg_safe_data_dir(d->cfg.data_dir, sizeof(d->cfg.data_dir), err, sizeof(err));
	if (d->data_fd < 0) {
		vg_err("%s", err);
		return 1;
	}
	if (take_lock(d))
		goto out;
	signal(SIGPIPE, SIG_IGN);
	raise_nofile();
	vg_log_libevent();
	/* before the policies load: a SIGTERM during a load stops it too */
	if (stop_signals_install()) {
		vg_err("cannot install the SIGINT/SIGTERM handlers: %s", strerror(errno));
		goto out;
	}
	d->base = event_base_new();
	d->vol = calloc(VOL_SLOTS, sizeof(*d->vol));
	if (!d->base || !d->vol || getrandom(d->vol_seed, sizeof(d->vol_seed), 0) < 0) {
		vg_err("cannot set up the event loop");
		goto out;
	}

	/* the store first: nothing is detected before violations have a home */
	snprintf(store_dir, sizeof(store_dir), "%.1000s/store", d->cfg.data_dir);
	ao.dir = store_dir;
	ao.commit_ms = d->cfg.commit_ms;
	ao.fsync_always = d->cfg.fsync_always;
	ao.mem_bound = (size_t)d->cfg.store_memory_mb << 20;
	if (vg_alerts_open(&d->alerts, &ao, d->base, &rep, err, sizeof(err))) {
		vg_err("%s", err);
		goto out;
	}
	vg_wal_report_log(&rep, store_dir);

	eo = engine_opts(d);
	if (vg_engine_load(&d->engine, &eo, &errs, &nerr)) {
		for (int i = 0; i < nerr; i++)
			vg_err("%s", errs[i].msg);
		vg_load_errors_free(errs, nerr);
		goto out;
	}
	for (int i = 0; i < nerr; i++)
		vg_err("%s", errs[i].msg);
	vg_load_errors_free(errs, nerr);

	so.ringbuf_bytes = d->cfg.ringbuf_bytes;
	so.drain_ms = d->cfg.drain_ms;
	if (vg_sensor_open(&d->sensor, &so, d->base, on_record, d, err, sizeof(err))) {
		vg_err("%s", err);
		goto out;
	}
	if (vg_daemon_policy_changed(d)) {
		vg_err("cannot program the kernel filter map: %s", strerror(errno));
		goto out;
	}
	d->http = vg_http_new(d->base);
	if (!d->http) {
		vg_err("cannot set up outbound HTTP");
		goto out;
	}
	{
		struct vg_k8s_opts ko = {
			.server = d->cfg.k8s_server[0] ? d->cfg.k8s_server : NULL,
			.token_file = d->cfg.k8s_token_file[0] ? d->cfg.k8s_token_file : NULL,
			.ca_file = d->cfg.k8s_ca_file[0] ? d->cfg.k8s_ca_file : NULL,
			.node = d->cfg.k8s_node[0] ? d->cfg.k8s_node : NULL,
			.insecure = d->cfg.k8s_insecure,
			.refresh_s = d->cfg.k8s_refresh_s,
		};
		static char kserver[512], ktoken[4096], kca[1100];
		int krc;

		if (d->cfg.k8s_kubeconfig[0]) {
			snprintf(kca, sizeof(kca), "%.1000s/kubeconfig-ca.crt", d->cfg.data_dir);
			if (vg_k8s_from_kubeconfig(d->cfg.k8s_kubeconfig, &ko, kserver,
						   sizeof(kserver), ktoken, sizeof(ktoken), kca,
						   err, sizeof(err))) {
				vg_err("%s", err);
				goto out;
			}
		}
		krc = vg_k8s_new(&d->k8s, d->base, d->http, &ko, err, sizeof(err));

		if (krc < 0) {
			vg_err("%s", err);
			goto out;
		}
		if (krc == 0) {
			vg_info("kubernetes: pods of node from %s",
				ko.server ? ko.server : "in-cluster config");
			ev_bg = event_new(d->base, -1, EV_PERSIST, on_break_glass, d);
			if (ev_bg)
				event_add(ev_bg, &(struct timeval){0, 500000});
		}
	}
	if (d->cfg.notifiers &&
	    vg_notify_open(&d->notify, d->base, d->http, d->cfg.data_dir, d->cfg.plugin_dir,
			   d->cfg.notifiers, d->cfg.default_notifiers, err, sizeof(err))) {
		vg_err("%s", err);
		goto out;
	}
	if (d->notify) {
		vg_notify_set_store(d->notify, d->alerts);
		if (d->k8s)
			vg_notify_set_namespaces(d->notify, namespace_of, d->k8s);
	}
	if (route_policies(d, err, sizeof(err))) {
		vg_err("%s", err);
		goto out;
	}
	if (api_start(d, err, sizeof(err))) {
		vg_err("%s", err);
		goto out;
	}

	ev_stop = event_new(d->base, stop_pipe[0], EV_READ | EV_PERSIST, on_stop, d);
	ev_hup = evsignal_new(d->base, SIGHUP, on_hup, d);
	ev_ret = event_new(d->base, -1, EV_PERSIST, on_retention, d);
	if (!ev_stop || !ev_hup || !ev_ret) {
		vg_err("cannot register with the event loop");
		goto out;
	}
	event_add(ev_stop, NULL);
	event_add(ev_hup, NULL);
	event_add(ev_ret, &(struct timeval){.tv_sec = 3600});
	on_retention(-1, 0, d);
	{
		struct vg_alerts_stats ast;

		vg_alerts_stats(d->alerts, &ast);
		vg_info("ready: %d policies, %llu alerts (%llu active) in %s, API on http://%s",
			vg_engine_count(d->engine), (unsigned long long)ast.alerts,
			(unsigned long long)ast.active, d->cfg.data_dir, d->cfg.api_listen);
	}
	event_base_dispatch(d->base);
	rc = 0;
out:
	if (d->alerts && vg_alerts_sync(d->alerts)) {
		vg_err("could not flush the store on the way out: recent violations may be lost");
		rc = 1;
	}
	if (d->stopping)
		vg_info("stopped: %llu violations stored", (unsigned long long)d->stored);
	vg_api_stop(d->api);
	vg_notify_close(d->notify);
	vg_k8s_free(d->k8s);
	vg_http_free(d->http);
	if (ev_stop)
		event_free(ev_stop);
	if (ev_hup)
		event_free(ev_hup);
	if (ev_ret)
		event_free(ev_ret);
	if (ev_bg)
		event_free(ev_bg);
	vg_sensor_close(d->sensor);
	vg_engine_free(d->engine);
	vg_alerts_close(d->alerts);
	if (d->base)
		event_base_free(d->base);
	free(d->vol);
	if (d->lock_fd >= 0)
		close(d->lock_fd);
	stop_signals_remove();
	if (d->data_fd >= 0)
		close(d->data_fd);
	return rc;
}
