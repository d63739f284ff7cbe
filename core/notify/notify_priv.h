/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * notify_priv.h - what the notifier's files share: set-up and reporting
 * (notify.c), delivery (delivery.c), the plugins' Lua API (plugin_api.c) and
 * instance settings with their secrets (settings.c). The outbox is its own
 * object (outbox.h). Not for other modules: they see notify.h.
 */
#ifndef VG_NOTIFY_PRIV_H
#define VG_NOTIFY_PRIV_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <event2/util.h>
#include <jansson.h>
#include <lua.h>

#include "notify.h"
#include "outbox.h"

#define MAX_CONCURRENCY 32
#define NBUCKETS	6	 /* request latency histogram buckets */
#define PLUGIN_BUDGET	2000000L /* instructions per plugin call */

/* How one attempt to deliver an event ended. */
enum notify_outcome {
	NOTIFY_ACCEPTED,  /* the receiver took it (or the plugin does not want the event) */
	NOTIFY_RETRY,	  /* no answer, 408 or 5xx: again later; only max_age_s ends it */
	NOTIFY_THROTTLED, /* 429 or 503: again later, not even a failed request; only max_age_s */
	NOTIFY_FAILED,	  /* the plugin failed (an error, `false, reason`, its budget): again
			     later, unless out of max_attempts or too old */
	NOTIFY_REFUSED,	  /* the receiver refused it: retrying will not help */
	NOTIFY_GAVE_UP,	  /* it failed on its last attempt, or too long after it was queued */
};

struct inst;

/* One event in flight: the plugin's coroutine and what it is sending. */
struct slot {
	struct inst *inst;
	struct vg_outbox_entry *entry; /* NULL: free */
	lua_State *co;
	int co_ref;
	struct vg_stream *stream; /* vigil.send's connection, opened on first use */
	double t0;
};

/* One configured notifier: its plugin, settings and counters; its queue is the outbox's queue of
 * the same index. */
struct inst {
	char name[64], type[64];
	int plugin;	      /* index into plugins */
	int conf_ref;	      /* conf as a Lua table, built on first use and shared by its events */
	json_t *conf, *shown; /* settings (secrets resolved) / as shown (secrets redacted) */
	int max_attempts, retry_ms;
	int timeout_ms;	   /* a request of its plugin without an answer by then is retried */
	int64_t max_age_s; /* an event still failing this long after it was queued is a dead letter
			    */
	int queue_max;	   /* events its queue keeps in memory at most, and dead letters */
	int conc;	   /* slots in use at most: `concurrency` */
	struct slot slot[MAX_CONCURRENCY];
	struct slot probe;	      /* vg_notify_test's: busy while probe_done is set */
	vg_notify_test_cb probe_done; /* NULL also once cancelled, while its request ends */
	void *probe_ctx;
	bool probing;
	uint64_t sent, failed, retried, deadc, lat[NBUCKETS + 1];
	uint64_t skipped; /* events its plugin has no function for: no request made */
	double lat_sum;
	char last[512]; /* the last request's outcome, for `vigil notifiers test` and the API */
};

struct plugin {
	char name[64], file[512];
	int ref; /* the plugin's table */
};

/* A policy's own notifiers. */
struct route {
	char *policy_id;
	char **names;
	int nnames;
};

struct vg_notify {
	struct event_base *base;
	struct vg_http *http;
	struct vg_lua *lua;
	struct vg_outbox *outbox;
	struct vg_alerts *store; /* set: events carry the alert id only, the JSON is built when
				    sent */
	struct plugin *plugins;
	int nplugins;
	struct inst *inst;
	int ninst;
	char **defaults;
	int ndefaults;
	struct route *routes;
	int nroutes;
	struct event *pump;
	int vigil_ref;			     /* the plugins' `vigil` table */
	vg_notify_namespace_fn namespace_of; /* namespace metadata (Kubernetes), for
						  vigil.namespace */
	void *namespace_ctx;
	struct req_wait *waits; /* requests in flight (plugin_api.c) */
	bool describe_only; /* vg_notify_describe: settings checked, no secret read, no outbox */
};

static inline int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline uint64_t wall_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The instance named name, or NULL. */
struct inst *notify_inst(struct vg_notify *n, const char *name);

/* ---- delivery.c ---- */
/* Runs the outbox's queues: refills, starts what may go, compacts. */
void notify_on_pump(evutil_socket_t fd, short what, void *arg);
/* Resumes sl's coroutine with nargs values on its stack; settles the event when it ends. */
void notify_run(struct vg_notify *n, struct slot *sl, int nargs);
/* The event in sl ended with outcome (why: the receiver's answer; retry_after_s: its
 * Retry-After, or -1). */
void notify_settle(struct vg_notify *n, struct slot *sl, enum notify_outcome outcome,
		   const char *why, long retry_after_s);
extern const double notify_buckets[NBUCKETS];

/* In a protected call: the instance's conf table (once), a coroutine (its registry ref) and the
 * alert as Lua tables. Args: alert (struct vg_alert), json (json_t), inst (light userdata). */
int notify_l_prepare(lua_State *L);

/* ---- probe.c ---- */
/* How sl's test ended (sl is its instance's probe slot). */
void notify_probe_settle(struct vg_notify *n, struct slot *sl, enum notify_outcome outcome,
			 const char *why);

/* ---- answer.c ---- */
/* An HTTP answer in words into why: "HTTP 429 Too Many Requests: <body>", the body (len bytes)
 * on one line, control characters escaped, capped at 512 bytes. */
void notify_describe_answer(char *why, size_t size, long status, const char *body, size_t len);

/* ---- plugin_api.c ---- */
/* The `vigil` table plugins call (http, send, json, log, ...) into the registry: 0 or -ENOMEM. */
int notify_api_open(struct vg_notify *n);
/* Requests in flight stop: none resumes a plugin later. */
void notify_api_close(struct vg_notify *n);

/* ---- settings.c ---- */
/* Checks an instance's settings against its plugin's schema; resolves secrets (unless
 * describe_only). 0 or -errno with err naming the instance and key. */
int notify_configure(struct vg_notify *n, struct inst *inst, json_t *settings, char *err,
		     size_t errlen);

#endif
