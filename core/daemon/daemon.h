/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * daemon.h - `vigil run`: one process, one libevent loop. Sensor -> volume
 * control -> policies -> the Lua flow -> store; the REST API and timers on
 * the same loop. Shared by daemon.c and metrics.c.
 */
#ifndef VG_DAEMON_H
#define VG_DAEMON_H

#include <stdbool.h>
#include <stdint.h>

#include "alerts.h"
#include "attrib.h"
#include "config.h"
#include "engine.h"
#include "http.h"
#include "k8s.h"
#include "notify.h"
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
	struct vg_event ev;
	/* counters for /metrics */
	uint64_t events, decode_errors, suppressed, violations, stored, store_errors;
	uint64_t flow_errors, acked, reloads, reload_failures;
	uint64_t enforced, enforce_failed, enforce_refused, enforce_dry_run, killed_in_kernel;
	uint64_t enforce_skipped;	  /* not enforced: the policy's check() failed */
	struct vg_attrib attr;		  /* whose execs: counters of suspect attributions */
	const struct vg_alert *cur_alert; /* the alert the running flow stored into */
	struct vol_slot *vol;		  /* volume control */
	uint64_t vol_seed[2];
	int data_fd; /* the checked data directory (safefile.h): its files are opened relative to it
		      */
	int lock_fd;
	bool stopping;
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
