/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * http.h - outbound HTTP(S) on the event loop: one libcurl multi handle
 * driven by libevent socket and timer events (curl's multi_socket API), so
 * no request ever blocks the loop. Connections are reused across requests.
 */
#ifndef VG_HTTP_H
#define VG_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "lines.h"

struct event_base;
struct vg_http;

struct vg_http_req {
	const char *method; /* "GET", "POST", "DELETE", ... */
	const char *url;
	const char *body;	    /* NULL: none; copied */
	const char *const *headers; /* "Name: value", NULL-terminated */
	const char *ca_file;	    /* NULL: the system store */
	bool insecure;		    /* skip TLS verification (tests, stand-ins) */
	long timeout_ms;	    /* 0: 10000 */
};

struct vg_http_resp {
	long status;	  /* 0 when no answer came */
	const char *body; /* NUL-terminated */
	size_t len;
	const char *error;  /* transport error (curl's words), or NULL */
	long retry_after_s; /* from a Retry-After header, or -1 */
};

typedef void (*vg_http_cb)(void *ctx, const struct vg_http_resp *r);

struct vg_http *vg_http_new(struct event_base *base);
/* Starts a request; cb runs from the loop when it ends (always, once). 0 or -errno. */
int vg_http_request(struct vg_http *h, const struct vg_http_req *r, vg_http_cb cb, void *ctx);
/*
 * A request whose answer is a stream of lines (a Kubernetes watch): when the answer is 2xx,
 * line(ctx, ...) for each line as it arrives, from the loop, outside libcurl (it may start
 * requests; it must not cancel its own stream: it returns false to end it). No total timeout:
 * the stream ends when the server ends it, or when nothing came for idle_s seconds. done runs
 * once at the end, with the status, the body when not 2xx, or the error (a transport error, a
 * stream stopped by its reader). 0 or -errno.
 */
int vg_http_stream(struct vg_http *h, const struct vg_http_req *r, vg_line_cb line, long idle_s,
		   vg_http_cb done, void *ctx);
/* Requests still running. */
int vg_http_pending(const struct vg_http *h);
/* Stops the requests started with ctx, without their callbacks (their owner is going away). How
 * many. */
int vg_http_cancel(struct vg_http *h, void *ctx);
/* Cancels what is running (callbacks are not called) and frees. */
void vg_http_free(struct vg_http *h);

#endif
