// SPDX-License-Identifier: BSD-2-Clause
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "api.h"
#include "api_address.h"
#include "daemon.h"
#include "kernel_prog.h"
#include "metrics.h"
#include "log.h"
#include "lua_host.h"
#include "safefile.h"

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The sensor's records: each through the pipeline (pipeline.c), which counts what fails. */
static int on_record(void *arg, const void *rec, size_t len)
{
	struct vg_daemon *d = arg;

	if (d->pipeline)
		(void)vg_pipeline_record(d->pipeline, rec, len, vg_sensor_boot_to_wall(d->sensor));
	return 0;
}

static void lineage_cb(void *arg, struct vg_event *ev)
{
	vg_sensor_lineage(((struct vg_daemon *)arg)->sensor, ev);
}

/* ---- policies: settings, kernel filter, reload ----------------------------------- */

int vg_daemon_policy_changed(struct vg_daemon *d)
{
	for (int i = 0; i < vg_engine_count(d->engine); i++) {
		const struct vg_policy_info *p = vg_engine_policy(d->engine, i);
		const struct vg_policy_setting *st = vg_alerts_policy_setting(d->alerts, p->id);
		enum vg_enforce_mode mode;

		if (st && st->enabled >= 0 && !p->broken)
			vg_engine_enable(d->engine, i, st->enabled);
		/* the settings file's string, parsed as it enters the engine */
		if (st && st->enforcement && !vg_enforce_mode_parse(st->enforcement, &mode))
			vg_engine_set_enforcement(d->engine, i, mode);
	}
	if (d->pipeline) /* the names content identity looks for follow too */
		vg_pipeline_set_engine(d->pipeline, d->engine);
	if (d->blk) /* locked baselines in the kernel while their policy enforces */
		vg_blk_set_enforce(d->blk,
				   !d->cfg.dry_run && vg_engine_kernel_baselines(d->engine));
	/* names to pass, and which to kill at exec: the kernel follows at once */
	return vg_kernel_program(d->sensor, d->engine,
				 &(struct vg_kprog_opts){.dry_run = d->cfg.dry_run,
							 .content = d->cfg.content,
							 .baselines = d->cfg.bl_enabled});
}

struct vg_engine_opts vg_daemon_engine_opts(struct vg_daemon *d)
{
	struct vg_engine_opts eo = {
		.dir = d->cfg.policy_dir[0] ? d->cfg.policy_dir : NULL,
		.with_builtin = d->cfg.builtin_policies,
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
int vg_daemon_route_policies(struct vg_daemon *d, char *err, size_t en)
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
	(void)s;
	(void)w;
	vg_daemon_reload(arg, "SIGHUP");
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
		if ((ids[m] = vg_pod_cgroup_id(root, uids[i])))
			m++;
	if (vg_sensor_exempt_set(d->sensor, ids, m))
		vg_err("cannot program the break-glass exemptions into the kernel");
}

/* Baselines whose observation ended lock on time, even in a quiet container (auto_lock). */
static void on_baselines(evutil_socket_t s, short w, void *arg)
{
	struct vg_daemon *d = arg;
	struct vg_bl *bl = d->pipeline ? vg_pipeline_baselines(d->pipeline) : NULL;

	(void)s;
	(void)w;
	if (bl)
		vg_bl_tick(bl, now_ns());
	if (d->blk) /* containers gone out of the kernel's copy; failed ones again */
		vg_blk_tick(d->blk);
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
		return d->lock_fd;
	}
	if (flock(d->lock_fd, LOCK_EX | LOCK_NB)) {
		n = pread(d->lock_fd, pid, sizeof(pid) - 1, 0);
		pid[n > 0 ? n : 0] = '\0';
		pid[strcspn(pid, "\n")] = '\0';
		vg_err("another vigil (pid %s) is running on the data directory %s: stop it first, "
		       "or give this one its own --data-dir",
		       pid[0] ? pid : "?", d->cfg.data_dir);
		return -EBUSY;
	}
	snprintf(pid, sizeof(pid), "%d\n", getpid());
	if (ftruncate(d->lock_fd, 0) || pwrite(d->lock_fd, pid, strlen(pid), 0) < 0)
		vg_warn("cannot write the pid into %s/vigil.lock", d->cfg.data_dir);
	vg_api_address_remove(d->data_fd); /* a killed daemon's: it names no listener yet */
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
		.hosts = d->cfg.api_hosts,
		.data_dir = d->cfg.data_dir,
		.data_fd = d->data_fd,
		.max_connections = d->cfg.api_max_connections,
		.request_timeout_s = d->cfg.api_request_timeout_s,
		.stream_keepalive_s = d->cfg.api_stream_keepalive_s,
		.console_code_ttl_s = d->cfg.api_console_code_ttl_s,
		.console_session_ttl_s = d->cfg.api_console_session_ttl_s,
		.alerts = d->alerts,
		.notify = d->notify,
		.ctx = d,
		.engine = api_engine,
		.policy_changed = api_policy_changed,
		.render_metrics = api_metrics,
	};

	return vg_api_start(&d->api, &host, err, n);
}

/* The configuration, then what `vigil run` was asked on top of it. */
static int configure(struct vg_daemon *d, const struct vg_run_opts *o)
{
	char err[1024];

	if (vg_config_resolve(&d->cfg, o->config, o->data_dir, err, sizeof(err)) ||
	    (o->listen && vg_check_listen("--listen", o->listen, err, sizeof(err)))) {
		vg_err("%s", err);
		return -EINVAL;
	}
	vg_run_opts_apply(&d->cfg, o);
	d->data_fd = vg_safe_data_dir(d->cfg.data_dir, sizeof(d->cfg.data_dir), err, sizeof(err));
	if (d->data_fd < 0) {
		vg_err("%s", err);
		return d->data_fd;
	}
	return 0;
}

/* The process: the data directory's lock, signals, file limit, the event loop. */
static int prepare_process(struct vg_daemon *d)
{
	int rc = take_lock(d);

	if (rc)
		return rc;
	signal(SIGPIPE, SIG_IGN);
	raise_nofile();
	vg_log_libevent();
	/* before the policies load: a SIGTERM during a load stops it too */
	rc = stop_signals_install();
	if (rc) {
		vg_err("cannot install the SIGINT/SIGTERM handlers: %s", strerror(-rc));
		return rc;
	}
	d->base = event_base_new();
	if (!d->base) {
		vg_err("cannot set up the event loop");
		return -ENOMEM;
	}
	return 0;
}

/* The store first: nothing is detected before violations have a home. */
static int open_store(struct vg_daemon *d)
{
	struct vg_alerts_opts ao = {0};
	struct vg_wal_report rep;
	char err[1024], store_dir[1100];
	int rc;

	snprintf(store_dir, sizeof(store_dir), "%.1000s/store", d->cfg.data_dir);
	ao.dir = store_dir;
	ao.commit_ms = d->cfg.commit_ms;
	ao.fsync_always = d->cfg.fsync_always;
	ao.mem_bound = (size_t)d->cfg.store_memory_mb << 20;
	rc = vg_alerts_open(&d->alerts, &ao, d->base, &rep, err, sizeof(err));
	if (rc) {
		vg_err("%s", err);
		return rc;
	}
	vg_wal_report_log(&rep, store_dir);
	return 0;
}

/* Files that fail are reported and skipped; only an engine that cannot be built stops. */
static int load_policies(struct vg_daemon *d)
{
	struct vg_engine_opts eo = vg_daemon_engine_opts(d);
	struct vg_load_error *errs;
	int nerr, rc = vg_engine_load(&d->engine, &eo, &errs, &nerr);

	for (int i = 0; i < nerr; i++)
		vg_err("%s", errs[i].msg);
	vg_load_errors_free(errs, nerr);
	return rc;
}

static int open_sensor(struct vg_daemon *d, bool verbose)
{
	struct vg_sensor_opts so = {.verbose = verbose,
				    .ringbuf_bytes = d->cfg.ringbuf_bytes,
				    .drain_ms = d->cfg.drain_ms};
	char err[1024];
	int rc = vg_sensor_open(&d->sensor, &so, d->base, on_record, d, err, sizeof(err));

	if (rc) {
		vg_err("%s", err);
		return rc;
	}
	if (d->cfg.bl_enabled) {
		rc = vg_blk_new(&d->blk, d->sensor, vg_alerts_baselines(d->alerts));
		if (rc) {
			vg_err("cannot set up process baselines in the kernel: %s", strerror(-rc));
			return rc;
		}
		vg_baselines_on_change(vg_alerts_baselines(d->alerts), vg_blk_changed, d->blk);
	}
	rc = vg_daemon_policy_changed(d);
	if (rc)
		vg_err("cannot program the kernel filter map: %s", strerror(-rc));
	return rc;
}

/* Kubernetes when configured (in-cluster, a server or a kubeconfig); 0 without it too. */
static int open_k8s(struct vg_daemon *d)
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
	char err[1024];
	int rc;

	if (d->cfg.k8s_kubeconfig[0]) {
		snprintf(kca, sizeof(kca), "%.1000s/kubeconfig-ca.crt", d->cfg.data_dir);
		rc = vg_k8s_from_kubeconfig(d->cfg.k8s_kubeconfig, &ko, kserver, sizeof(kserver),
					    ktoken, sizeof(ktoken), kca, err, sizeof(err));
		if (rc) {
			vg_err("%s", err);
			return rc;
		}
	}
	rc = vg_k8s_new(&d->k8s, d->base, d->http, &ko, err, sizeof(err));
	if (rc < 0) {
		vg_err("%s", err);
		return rc;
	}
	if (rc == 0) {
		vg_info("kubernetes: pods of node from %s",
			ko.server ? ko.server : "in-cluster config");
		d->ev_break_glass = event_new(d->base, -1, EV_PERSIST, on_break_glass, d);
		if (d->ev_break_glass)
			(void)event_add(d->ev_break_glass,
					&(struct timeval){0, 500000}); /* a timer: cannot fail */
	}
	return 0;
}

/* Outbound HTTP, Kubernetes, the notifiers and each policy's route to them. */
static int open_outbound(struct vg_daemon *d)
{
	char err[1024];
	int rc;

	d->http = vg_http_new(d->base);
	if (!d->http) {
		vg_err("cannot set up outbound HTTP");
		return -ENOMEM;
	}
	rc = open_k8s(d);
	if (rc)
		return rc;
	if (d->cfg.notifiers) {
		rc = vg_notify_open(&d->notify, d->base, d->http, d->cfg.data_dir,
				    d->cfg.plugin_dir, d->cfg.notifiers, d->cfg.default_notifiers,
				    err, sizeof(err));
		if (rc) {
			vg_err("%s", err);
			return rc;
		}
		vg_notify_set_store(d->notify, d->alerts);
		if (d->k8s)
			vg_notify_set_namespaces(d->notify, namespace_of, d->k8s);
	}
	rc = vg_daemon_route_policies(d, err, sizeof(err));
	if (rc)
		vg_err("%s", err);
	return rc;
}

/* A file named by content: the kernel decides its next exec itself. */
static void identified(void *ctx, const struct vg_ident_key *key, const char *name)
{
	struct vg_daemon *d = ctx;
	int rc = vg_sensor_ident_add(d->sensor, key, name);

	if (rc)
		vg_warn("cannot tell the kernel a file is '%s': %s", name, strerror(-rc));
}

/* Each exec's way from the sensor to the store, the notifiers and enforcement. */
static int open_pipeline(struct vg_daemon *d)
{
	struct vg_pipeline_opts po = {
		.engine = d->engine,
		.lineage_fn = lineage_cb,
		.lineage_ctx = d,
		.attribute = true,
		.k8s = d->k8s,
		.pod_wait_ms = d->cfg.k8s_pod_wait_ms,
		.pod_wait_max = d->cfg.k8s_pod_wait_max,
		.storage_root = d->cfg.ctr_storage_root,
		.docker_root = d->cfg.ctr_docker_root,
		.burst = d->cfg.burst,
		.window_s = d->cfg.window_s,
		.alerts = d->alerts,
		.notify = d->notify,
		.base = d->base,
		.dry_run = d->cfg.dry_run,
		.live = true,
		.content = d->cfg.content,
		.content_cache = d->cfg.content_files,
		.content_max_bytes = (uint64_t)d->cfg.content_max_mb << 20,
		.identified = identified,
		.identified_ctx = d,
		.baselines = d->cfg.bl_enabled,
		.bl_observe_ns = (uint64_t)d->cfg.bl_observe_s * 1000000000ull,
		.bl_startup_ns = (uint64_t)d->cfg.bl_startup_s * 1000000000ull,
		.bl_auto_lock = d->cfg.bl_auto_lock};
	char err[512];
	int rc;

	if (d->blk) { /* the kernel's copy follows each container checked against a lock */
		po.bl_checked_fn = vg_blk_exec;
		po.bl_checked_ctx = d->blk;
	}
	vg_baselines_set_cap(vg_alerts_baselines(d->alerts), d->cfg.bl_max_elements);
	rc = vg_pipeline_new(&d->pipeline, &po, err, sizeof(err));

	if (rc)
		vg_err("%s", err);
	return rc;
}

/* The API, the stop pipe, SIGHUP and the hourly retention. */
static int start_serving(struct vg_daemon *d)
{
	char err[1024];
	int rc = api_start(d, err, sizeof(err));

	if (!rc)
		rc = vg_api_address_write(d->data_fd, d->cfg.data_dir, d->cfg.api_listen, err,
					  sizeof(err));
	if (rc) {
		vg_err("%s", err);
		return rc;
	}
	d->address_written = true;
	d->ev_stop = event_new(d->base, stop_pipe[0], EV_READ | EV_PERSIST, on_stop, d);
	d->ev_hup = evsignal_new(d->base, SIGHUP, on_hup, d);
	d->ev_retention = event_new(d->base, -1, EV_PERSIST, on_retention, d);
	d->ev_baselines = event_new(d->base, -1, EV_PERSIST, on_baselines, d);
	if (!d->ev_stop || !d->ev_hup || !d->ev_retention || !d->ev_baselines ||
	    event_add(d->ev_stop, NULL) || event_add(d->ev_hup, NULL) ||
	    event_add(d->ev_retention, &(struct timeval){.tv_sec = 3600}) ||
	    event_add(d->ev_baselines, &(struct timeval){.tv_sec = 2})) {
		vg_err("cannot register with the event loop");
		return -ENOMEM;
	}
	on_retention(-1, 0, d);
	if (vg_daemon_watch_start(d)) {
		vg_err("cannot register the configuration watcher with the event loop");
		return -ENOMEM;
	}
	return 0;
}

static void announce_ready(struct vg_daemon *d)
{
	struct vg_alerts_stats ast;

	vg_alerts_stats(d->alerts, &ast);
	vg_info("ready: %d policies, %llu alerts (%llu active) in %s, API on http://%s",
		vg_engine_count(d->engine), (unsigned long long)ast.alerts,
		(unsigned long long)ast.active, d->cfg.data_dir, d->cfg.api_listen);
}

static void free_event(struct event *ev)
{
	if (ev)
		event_free(ev);
}

/* Everything, in the reverse order of start-up; the store flushed first. Returns rc, or 1. */
static int teardown(struct vg_daemon *d, int rc)
{
	vg_pipeline_drain(d->pipeline); /* execs held for their pod: evaluated, then stored */
	if (d->alerts && vg_alerts_sync(d->alerts)) {
		vg_err("could not flush the store on the way out: recent violations may be lost");
		rc = 1;
	}
	if (d->stopping) {
		struct vg_pipeline_stats ps = {0};

		if (d->pipeline)
			vg_pipeline_stats(d->pipeline, &ps);
		vg_info("stopped: %llu violations stored", (unsigned long long)ps.stored);
	}
	vg_api_stop(d->api);
	if (d->address_written)
		vg_api_address_remove(d->data_fd); /* no API answers there any more */
	vg_notify_close(d->notify);
	vg_k8s_free(d->k8s);
	vg_http_free(d->http);
	free_event(d->ev_stop);
	free_event(d->ev_hup);
	vg_daemon_watch_stop(d);
	free_event(d->ev_retention);
	free_event(d->ev_baselines);
	free_event(d->ev_break_glass);
	vg_sensor_close(d->sensor);
	vg_engine_free(d->engine);
	vg_alerts_close(d->alerts);
	vg_pipeline_free(d->pipeline); /* after the store: its last acks count here */
	vg_blk_free(d->blk);	       /* after the store: nothing calls it back now */
	if (d->base)
		event_base_free(d->base);
	if (d->lock_fd >= 0)
		close(d->lock_fd);
	stop_signals_remove();
	if (d->data_fd >= 0)
		close(d->data_fd);
	return rc;
}

int vg_daemon_run(const struct vg_run_opts *o)
{
	static struct vg_daemon daemon;
	struct vg_daemon *d = &daemon;

	memset(d, 0, sizeof(*d));
	d->lock_fd = d->data_fd = d->inotify_fd = -1;
	d->run = *o;
	if (configure(d, o)) {
		if (d->data_fd >= 0)
			close(d->data_fd);
		return 1;
	}
	if (prepare_process(d) || open_store(d) || load_policies(d) || open_sensor(d, o->verbose) ||
	    open_outbound(d) || open_pipeline(d) || start_serving(d))
		return teardown(d, 1);
	announce_ready(d);
	event_base_dispatch(d->base);
	return teardown(d, 0);
}
