/* SPDX-License-Identifier: BSD-2-Clause */
/* api.h - the daemon's REST API (evhttp) and its query syntax. */
#ifndef VG_API_H
#define VG_API_H

#include <stddef.h>

#include "alerts.h"
#include "daemon.h"

struct vg_api;

/* Listens on d->cfg.api_listen. 0, or -errno with the cause and fix in err. */
int vg_api_start(struct vg_api **out, struct vg_daemon *d, char *err, size_t errlen);
void vg_api_stop(struct vg_api *a);

/* A parsed query "Policy:X+Namespace:Y+State:ACTIVE": f points into the buffers. */
struct vg_query {
	struct vg_alert_filter f;
	char policy[256], namespace_[256], deployment[256], pod[256], state[256];
};

/* 0, or -EINVAL with the problem named in err. */
int vg_api_parse_query(const char *q, struct vg_query *out, char *err, size_t errlen);

#endif
