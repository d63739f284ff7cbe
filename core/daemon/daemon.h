/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * daemon.h - `vigil run`: one process, one libevent loop. Sensor -> the
 * pipeline (pipeline.h: attribution, policies, volume control, the Lua flow,
 * store); the REST API and timers on the same loop. Shared by daemon.c, reload.c and metrics.c.
 */
#ifndef VG_DAEMON_H
#define VG_DAEMON_H

#include <stdbool.h>
#include <stdint.h>

#include "alerts.h"
#include "attrib.h"
#include "bl_kernel.h"
#include "config.h"
#include "engine.h"
#include "http.h"
#include "k8s.h"
#include "notify.h"
#include "pipeline.h"
#include "sensor.h"

/* What `vigil run` was asked (cli/cmd_run.c); NULL fields: the configuration's value. */
struct vg_run_opts {
	const char *config, *data_dir, *policies, *listen;
	const char *fsync; /* "batch" or "always" */
	bool dry_run, verbose;
};

struct vg_daemon {
	struct vg_run_opts run; /* kept for the reloads */
	struct vg_config cfg;
	struct event_base *base;
	struct vg_sensor *sensor;
	struct vg_engine *engine;
	struct vg_alerts *alerts;
	struct vg_api *api;
	struct vg_http *http;
	struct vg_k8s *k8s; /* NULL without Kubernetes */
	struct vg_notify *notify;
	struct vg_pipeline *pipeline; /* each exec's way: decode, attribution, engine, flow */
	struct vg_blk *blk;	      /* locked baselines in the kernel (NULL: baselines off) */
	/* counters for /metrics (the pipeline keeps those of the execs) */
	uint64_t reloads, reload_failures;
	uint64_t watch_errors; /* the watcher could not be set up: SIGHUP only */
	struct event *ev_stop, *ev_hup, *ev_retention, *ev_break_glass;
	struct event *ev_baselines; /* auto_lock's timer */
	/* reload.c: the watcher of vigil.conf.lua and policy_dir */
	struct event *ev_inotify, *ev_settle;
	int inotify_fd, wd_config, wd_policy;
	char config_base[256]; /* vigil.conf.lua's name in its directory */
	int data_fd; /* the checked data directory (safefile.h): its files are opened relative to it
		      */
	int lock_fd;
	bool stopping;
	bool address_written; /* DATA_DIR/api.address is ours: removed at the exit */
};

/* Applies a policy's persisted setting and re-programs the kernel filter. */
int vg_daemon_policy_changed(struct vg_daemon *d);

/* How the engine is built from d->cfg, at the start and at each reload. */
struct vg_engine_opts vg_daemon_engine_opts(struct vg_daemon *d);

/* Each policy's own `notifiers` list; 0, or -ENOENT with the first unknown name in err. */
int vg_daemon_route_policies(struct vg_daemon *d, char *err, size_t en);

/*
 * reload.c: vigil.conf.lua checked again and the policies rebuilt, applied or
 * refused whole (logged, counted); why says what asked ("SIGHUP").
 */
void vg_daemon_reload(struct vg_daemon *d, const char *why);
/* `vigil run`'s options over the configuration's values (at the start and at each reload). */
void vg_run_opts_apply(struct vg_config *c, const struct vg_run_opts *o);
int vg_daemon_watch_start(struct vg_daemon *d);
void vg_daemon_watch_update(struct vg_daemon *d);
void vg_daemon_watch_stop(struct vg_daemon *d);

/* Runs the daemon until SIGINT/SIGTERM. Returns the process exit status. */
int vg_daemon_run(const struct vg_run_opts *o);

#endif
