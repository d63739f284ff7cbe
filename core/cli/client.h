/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * client.h - how the CLI reaches a daemon's data: through the REST API when a
 * daemon runs on the data directory (it holds an flock there), or by opening
 * the store itself (taking that lock) when none does.
 */
#ifndef VG_CLIENT_H
#define VG_CLIENT_H

#include <jansson.h>

#include "alerts.h"
#include "config.h"

/* 1 when a daemon holds the data dir; else 0, with *lock_fd held for us (or -1). */
int vg_client_daemon_running(const struct vg_config *cfg, int *lock_fd);

/* One API call (blocking: this is the CLI). The JSON answer, or NULL with the error printed. */
json_t *vg_client_api(const struct vg_config *cfg, const char *method, const char *path_q,
		      const char *body);

/* Every alert the API's query q (already URL-encoded) finds, page after page, newest first:
 * a JSON array, or NULL with the error printed. */
json_t *vg_client_api_alerts(const struct vg_config *cfg, const char *q);

/* The store of cfg->data_dir, opened offline; NULL with the error printed. */
struct vg_alerts *vg_client_open_store(const struct vg_config *cfg);

#endif
