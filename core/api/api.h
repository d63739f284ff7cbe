/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * api.h - the REST API (evhttp, JSON through jansson) on the daemon's loop.
 * It knows its host only through struct vg_api_host: the store, the notifiers,
 * a way to the current engine, and callbacks for what only the host can do.
 */
#ifndef VG_API_H
#define VG_API_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct evbuffer;
struct vg_alerts;
struct vg_engine;
struct vg_notify;
struct vg_api;

/* What the API needs of the process that runs it. Borrowed: it must outlive the API. */
struct vg_api_host {
	struct event_base *base;
	const char *listen;   /* HOST:PORT */
	const char *hosts;    /* api.hosts: more names the Host header may give ("*": any) */
	const char *data_dir; /* where api.token is, for messages */
	int data_fd;	      /* data_dir, checked and open (safefile.h) */
	uint32_t max_connections, request_timeout_s;
	uint32_t stream_keepalive_s; /* GET /v1/alerts/stream's keepalive comment; 0: 15 s */
	uint32_t console_code_ttl_s, console_session_ttl_s; /* 0: 300 s and 12 h */
	struct vg_alerts *alerts;
	struct vg_notify *notify; /* NULL: no notifiers */
	void *ctx;		  /* passed to the callbacks */
	/* The engine as it is now: the host replaces it on reload, so it is asked every time. */
	struct vg_engine *(*engine)(void *ctx);
	/* A policy's persisted setting changed (PATCH /v1/policies/{id}): apply it. 0 or -errno. */
	int (*policy_changed)(void *ctx);
	/* Appends the Prometheus text of GET /metrics to b. */
	void (*render_metrics)(void *ctx, struct evbuffer *b);
};

/* The API's own counters, for /metrics. */
struct vg_api_stats {
	uint64_t requests, errors4xx, http_errors, timeouts, cap_pauses, accept_errors;
	uint64_t login_refused, csrf_refused; /* console sign-ins and CSRF tokens refused */
	uint64_t unauthorized;		      /* 401: no credential, or a wrong one */
	uint64_t host_refused;		      /* requests for a name not this vigil's (421) */
	uint32_t connections, max_connections;
	/* GET /v1/alerts/stream: open now, the cap; opened, refused at the cap, cut for a reader
	 * too far behind, closed (by the reader or a failed write), messages sent */
	uint32_t streams, streams_max;
	uint64_t streams_opened, streams_refused, streams_cut_slow, streams_closed;
	uint64_t stream_messages;
	uint64_t streams_signed_out; /* ended: the console session they served was signed out */
};

/* Listens on host->listen. 0, or -errno with the cause and fix in err. */
int vg_api_start(struct vg_api **out, const struct vg_api_host *host, char *err, size_t errlen);
void vg_api_stats(const struct vg_api *a, struct vg_api_stats *st);
void vg_api_stop(struct vg_api *a);

#endif
