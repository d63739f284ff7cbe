/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * bl_requests.h - what the process baseline endpoints do, on a store's
 * baselines, apart from HTTP: the API's routes (routes_baselines.c) and the
 * CLI on a stopped daemon's data run the same requests. Each returns 0 or
 * -errno with the message in err: -EINVAL a bad request (400), -ENOENT an
 * unknown key or alert (404), -ENOMEM or -EIO the store failed (503).
 */
#ifndef VG_BL_REQUESTS_H
#define VG_BL_REQUESTS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "alerts.h"
#include "baselines.h"

/*
 * The baselines a query selects ("Namespace:x+Deployment:y+Container Name:z+
 * Image:i+Locked:true|false", NULL or "" for all), in key-text order, into *out
 * (malloc'd; free it). Valid until the next change to the baselines.
 */
int vg_blreq_select(struct vg_baselines *b, const char *query, const struct vg_baseline ***out,
		    size_t *n, char *err, size_t errlen);

/*
 * The baseline a KEY object names: {"id": ID or key text} or {"namespace",
 * "deploymentId", "containerName", "image"} (absent members are "").
 */
int vg_blreq_key(struct vg_baselines *b, const json_t *key, const struct vg_baseline **out,
		 char *err, size_t errlen);

/*
 * PUT /v1/processbaselines: {"keys": [KEY...], "addElements": [{"processName":
 * PATH}...], "removeElements": [...]}. Every part is checked before anything
 * changes. *out: {"baselines": [...]} (a new reference).
 */
int vg_blreq_update(struct vg_baselines *b, const json_t *body, uint64_t now_ns, json_t **out,
		    char *err, size_t errlen);

/* PUT /v1/processbaselines/lock: {"keys": [KEY...], "locked": bool}; *out as above. */
int vg_blreq_lock(struct vg_baselines *b, const json_t *body, uint64_t now_ns, json_t **out,
		  char *err, size_t errlen);

/* Deletes the baselines query selects (query as vg_blreq_select); *deleted counts them. */
int vg_blreq_delete(struct vg_baselines *b, const char *query, size_t *deleted, char *err,
		    size_t errlen);

/*
 * The key of the baseline an alert's container has: with Kubernetes its
 * namespace, deployment (else pod) and container name; without, its image and
 * container name. -EINVAL (err says why) for a host process or a container
 * whose name is not known.
 */
int vg_blreq_alert_key(const struct vg_alert *al, struct vg_baseline_key *k, char *err,
		       size_t errlen);

/* The baseline of an alert's container (al NULL: -ENOENT, no such alert). */
int vg_blreq_alert_baseline(struct vg_baselines *b, const struct vg_alert *al,
			    const struct vg_baseline **out, char *err, size_t errlen);

/*
 * Add to baseline from a violation: the executable path of each of the alert's
 * processes that is not in its container's baseline yet goes in (origin user).
 * -ENOENT when the container has no baseline. *added counts the new paths.
 */
int vg_blreq_add_alert(struct vg_baselines *b, const struct vg_alert *al, uint64_t now_ns,
		       size_t *added, char *err, size_t errlen);

#endif
