/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * notify_priv.h - what notify.c (delivery: plugins, slots, retries) and
 * notify_outbox.c (the durable outbox: its log, replay, spill files and
 * compaction) share. Not for other modules: they see notify.h.
 */
#ifndef VG_NOTIFY_PRIV_H
#define VG_NOTIFY_PRIV_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>
#include <lua.h>

#include "notify.h"
#include "wal.h"

#define MAX_CONCURRENCY 32
#define NBUCKETS	6 /* request latency histogram buckets (notify.c) */

struct entry {
	uint64_t id, enq_ns;
	char event[16];
	char *alert_id,
		*payload; /* the alert's JSON when queued, or NULL: read from the store when sent */
	int attempts;
	uint32_t h;	 /* hash of alert_id, 0 = not yet */
	int64_t next_ms; /* not before (monotonic ms) */
	bool durable, dead, inflight;
	char *reason; /* why it is dead */
	struct entry *next;
};

struct inst;

/* One event in flight: the plugin's coroutine and what it is sending. */
struct slot {
	struct inst *in;
	struct entry *e; /* NULL: free */
	lua_State *co;
	int co_ref;
	struct vg_stream *stream; /* vigil.send's connection, opened on first use */
	double t0;
};

struct inst {
	char name[64], type[64];
	char jname[400];      /* name as a JSON string, quotes included, for the outbox records */
	int plugin;	      /* index into plugins */
	int conf_ref;	      /* conf as a Lua table, built on first use and shared by its events */
	json_t *conf, *shown; /* settings (secrets resolved) / as shown (secrets redacted) */
	int max_attempts, retry_ms;
	int64_t max_age_s; /* an event still failing this long after it was queued is a dead letter
			    */
	struct entry *head, *tail, *dead;
	int queued, ndead; /* in memory */
	int queue_max; /* events kept in memory at most (the rest wait in the spill file), and dead
			  letters */
	uint64_t spilled;      /* events in the spill file only, in order after the queue */
	uint64_t spill_ready;  /* of those, the ones whose log record is durable: only they are read
				  back */
	uint64_t spill_errors; /* writes to the spill file that failed */
	int spill_fd;	  /* their records, one a line (copies of the outbox log's, to read back) */
	int64_t spill_rd; /* where the next one to read back starts */
	char spill_path[1100];
	int conc; /* slots in use at most: `concurrency` */
	struct slot slot[MAX_CONCURRENCY];
	uint64_t sent, failed, retried, deadc, undurable, lost, dead_dropped, lat[NBUCKETS + 1];
	double lat_sum;
	char last[512]; /* the last outcome, for `vigil notifiers test` and the API */
};

struct plugin {
	char name[64], file[512];
	int ref; /* the plugin's table */
};

struct vg_notify {
	struct event_base *base;
	struct vg_http *http;
	struct vg_lua *lua;
	struct vg_wal *wal;
	struct vg_alerts
		*store; /* set: events carry the alert id only, the JSON is built when sent */
	struct plugin *plugins;
	int nplugins;
	struct inst *inst;
	int ninst;
	char **defaults;
	int ndefaults;
	uint64_t next_id;
	struct route {
		char *policy_id;
		char **names;
		int nnames;
	} * routes; /* per-policy notifiers */
	int nroutes;
	struct event *pump;
	int vigil_ref;
	vg_notify_ns_fn ns_fn; /* namespace metadata (Kubernetes), for vigil.namespace */
	void *ns_ctx;
	uint64_t since_compact, compactions; /* outbox records written since the last compaction */
	struct replay *rp;		     /* the two-pass replay's state, while opening */
	struct req_wait *waits;		     /* requests in flight (notify.c) */
	bool orphans; /* an event is in the log only (a spill file failed): no compaction until a
			 restart */
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

struct inst *ob_inst(struct vg_notify *n, const char *name);
void ob_entry_free(struct entry *e);

/* Opens DATA_DIR/outbox: replays it into the instances' queues (and spill files). 0 or -errno with
 * err. */
int ob_open(struct vg_notify *n, const char *data_dir, char *err, size_t en);
/* Writes what is pending, closes the log, removes the spill files. */
void ob_close(struct vg_notify *n);
/* e (new) is logged and queued, or spilled; alert: its JSON to keep in the record, or NULL. 0, or
 * -errno when the log refused it (memory bound while the disk lags: queued anyway, not durable;
 * counted). */
int ob_enqueue(struct vg_notify *n, struct inst *in, struct entry *e, json_t *alert);
/* e was accepted: logged as delivered, freed. */
void ob_delivered(struct vg_notify *n, struct inst *in, struct entry *e);
/* e goes to the dead letters with why. */
void ob_dead(struct vg_notify *n, struct inst *in, struct entry *e, const char *why);
/* Reads spilled events back once the queue in memory has room. */
void ob_refill(struct vg_notify *n, struct inst *in);
/* Rewrites the log with only what is pending or dead, once it is mostly delivered records. */
void ob_maybe_compact(struct vg_notify *n);

#endif
