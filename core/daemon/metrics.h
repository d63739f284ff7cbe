/* SPDX-License-Identifier: BSD-2-Clause */
/* metrics.h - the daemon's Prometheus text for GET /metrics. */
#ifndef VG_DAEMON_METRICS_H
#define VG_DAEMON_METRICS_H

#include "daemon.h"

struct evbuffer;

/* Appends every counter of d and of the modules it runs to b. */
void vg_daemon_metrics(struct vg_daemon *d, struct evbuffer *b);

#endif
