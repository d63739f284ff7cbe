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

#include "query.h"

#endif
