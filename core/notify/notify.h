/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * notify.h - notifier plugins (plugins/, one Lua file each) and their durable outbox (outbox.h).
 *
 * An alert event (created, updated, resolved) for a notifier instance is
 * written to the outbox log (DATA_DIR/outbox) and only sent once durable;
 * it leaves the outbox when the receiver accepted it, or goes to the dead
 * letters with the receiver's answer. Delivery is at-least-once: what was in
 * flight at a crash is sent again, with the same alert id as dedup key.
 *
 * Each instance delivers in order, one at a time (a resolve never overtakes
 * its trigger); retries back off exponentially with jitter and honour
 * Retry-After; a slow or dead receiver holds back only its own instance.
 * Plugins run in their own sandboxed Lua state; vigil.http() yields the
 * plugin's coroutine while the request is in flight on the event loop.
 */
#ifndef VG_NOTIFY_H
#define VG_NOTIFY_H

#include <stdbool.h>

#include <jansson.h>

#include "alerts.h"
#include "http.h"

struct event_base;
struct evbuffer;
struct vg_notify;

/*
 * instances: {"name": {"type": "webhook", ...settings}}; defaults: ["name", ...].
 * A setting marked secret by the plugin may be {"file": PATH} or {"env": NAME}.
 * Returns 0, or -errno with err naming the instance and key (unknown type,
 * missing required key, wrong type, unknown key).
 */
int vg_notify_open(struct vg_notify **out, struct event_base *base, struct vg_http *http,
		   const char *data_dir, const char *plugin_dir, const json_t *instances,
		   const json_t *defaults, char *err, size_t errlen);
void vg_notify_close(struct vg_notify *n);

/* The instances as vg_notify_open would configure them, without a daemon: a new array of
 * {name, type, default, settings (secrets "***")}. Settings are checked against the plugins'
 * schemas, but no secret is read, no plugin check() run and no outbox opened. 0, or -errno with
 * err as at start. */
int vg_notify_describe(json_t **out, const char *plugin_dir, const json_t *instances,
		       const json_t *defaults, char *err, size_t errlen);

/* A policy's own notifiers (NULL-terminated) in place of default_notifiers; -ENOENT with err
 * naming the policy and the notifier when one is not configured. */
int vg_notify_route(struct vg_notify *n, const char *policy_id, const char *const *names, char *err,
		    size_t en);
/* Forgets every policy's notifiers (before a reload routes them again). */
void vg_notify_routes_clear(struct vg_notify *n);
/* With a store, an event keeps only the alert id and its JSON is read from the store when it
 * is sent (the alert as it is then): bounded memory and no JSON work on the detection path. */
struct vg_alerts;
void vg_notify_set_store(struct vg_notify *n, struct vg_alerts *store);
/* Where vigil.namespace finds a namespace's {"name", "labels", "annotations"} (borrowed; NULL:
 * unknown). */
typedef const json_t *(*vg_notify_namespace_fn)(void *ctx, const char *name);
void vg_notify_set_namespaces(struct vg_notify *n, vg_notify_namespace_fn fn, void *ctx);
/* Queues event ("created", "updated", "resolved") of alert a for its policy's instances, else the
 * defaults. */
int vg_notify_alert(struct vg_notify *n, const char *event, const struct vg_alert *a);

/* Instances, their settings with secrets redacted, and their counters. */
json_t *vg_notify_json(struct vg_notify *n);
void vg_notify_metrics(struct vg_notify *n, struct evbuffer *b);
/* Events queued (and, in *dead, dead letters) for one instance or all. */
int vg_notify_pending(struct vg_notify *n, const char *name, int *dead);

/*
 * A test message through one instance now, outside the outbox (not retried, not counted, no
 * dead letter): its plugin's "created" function with a sample alert (policy "vigil test
 * notification"). done(ctx, true, NULL) when the receiver took it, done(ctx, false, why) when
 * not; called later, on the loop. 0; -ENOENT: no instance name; -EBUSY: a test of it is in
 * flight; -ENOTSUP: its plugin has no "created" function (why says so in err).
 */
typedef void (*vg_notify_test_cb)(void *ctx, bool sent, const char *why);
int vg_notify_test(struct vg_notify *n, const char *name, vg_notify_test_cb done, void *ctx);
/* done(ctx) is not called after all (the asker is gone). */
void vg_notify_test_cancel(struct vg_notify *n, void *ctx);

/*
 * Dead letters back into the queue: all (what NULL), one instance's (its
 * name), one alert's in every instance (its id), or one dead letter (its id,
 * a number, as GET /v1/notifiers lists it). Returns how many, or -ENOENT when
 * what names no instance and matches no dead letter.
 */
int vg_notify_retry_dead(struct vg_notify *n, const char *what);

#endif
