/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * daemon.h - `vigil run`: one process, one libevent loop. Sensor -> the
 * pipeline (pipeline.h: attribution, policies, volume control, the Lua flow,
 * store); the REST API and timers on the same loop. Shared by daemon.c and metrics.c.
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

struct vg_daemon {
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
	struct event *ev_stop, *ev_hup, *ev_retention, *ev_break_glass;
	struct event *ev_baselines; /* auto_lock's timer */
	int data_fd; /* the checked data directory (safefile.h): its files are opened relative to it
		      */
	int lock_fd;
	bool stopping;
	bool address_written; /* DATA_DIR/api.address is ours: removed at the exit */
};

/* Applies a policy's persisted setting and re-programs the kernel filter. */
int vg_daemon_policy_changed(struct vg_daemon *d);

/* What `vigil run` was asked (cli/cmd_run.c); NULL fields: the configuration's value. */
struct vg_run_opts {
	const char *config, *data_dir, *policies, *listen;
	const char *fsync; /* "batch" or "always" */
	bool dry_run, verbose;
};

/* Runs the daemon until SIGINT/SIGTERM. Returns the process exit status. */
int vg_daemon_run(const struct vg_run_opts *o);

#endif
