// SPDX-License-Identifier: BSD-2-Clause
/*
 * cmd_trace.c - `vigil record FILE` (live execs to a trace) and `vigil replay
 * FILE` (a trace through decode -> fast path -> Lua, matches as JSON lines).
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <jansson.h>

#include "cli.h"
#include "engine.h"
#include "event_json.h"
#include "log.h"
#include "pipeline.h"
#include "sensor.h"
#include "trace.h"

struct rec_ctx {
	struct vg_sensor *sensor;
	struct event_base *base;
	struct vg_trace_writer *w;
	struct vg_event ev;
	uint64_t n, max, bad;
	int werr;
};

static int on_rec(void *arg, const void *rec, size_t len)
{
	struct rec_ctx *c = arg;

	if ((c->max && c->n >= c->max) || c->werr)
		return 0;
	if (vg_event_decode(&c->ev, rec, len, 0)) {
		c->bad++;
		return 0;
	}
	vg_sensor_lineage(c->sensor, &c->ev);
	c->werr = vg_trace_write(c->w, &c->ev);
	if (!c->werr && ++c->n == c->max)
		event_base_loopbreak(c->base);
	if (c->werr)
		event_base_loopbreak(c->base);
	return 0;
}

static void on_sig(evutil_socket_t s, short w, void *arg)
{
	(void)s;
	(void)w;
	event_base_loopbreak(arg);
}

int vg_cmd_record(int argc, char **argv)
{
	static const struct option lo[] = {
		{"count", required_argument, NULL, 'c'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	static struct rec_ctx c;
	struct vg_sensor_opts so = {0};
	struct event *si = NULL, *st = NULL;
	char err[512];
	int opt, rc = 1;
	uint64_t v;

	memset(&c, 0, sizeof(c));
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (opt) {
		case 'c':
			if (vg_parse_u64(optarg, &v, false) || !v)
				return vg_usage_error("record",
						      "--count needs a positive number, got '%s'",
						      optarg);
			c.max = v;
			break;
		case 'h':
			puts("usage: vigil record FILE [--count N]\n"
			     "Writes every exec on this host to FILE, a trace for 'vigil replay'.");
			return 0;
		default:
			return vg_usage_unknown("record", argv[optind - 1], optopt);
		}
	}
	if (optind != argc - 1)
		return vg_usage_error("record", "name one trace file to write");
	c.base = event_base_new();
	if (!c.base)
		return 1;
	if (vg_sensor_open(&c.sensor, &so, c.base, on_rec, &c, err, sizeof(err))) {
		vg_err("%s", err);
		goto out;
	}
	c.w = vg_trace_create(argv[optind], vg_sensor_boot_to_wall(c.sensor));
	if (!c.w) {
		vg_err("cannot write the trace %s: %s", argv[optind], strerror(errno));
		goto out;
	}
	si = evsignal_new(c.base, SIGINT, on_sig, c.base);
	st = evsignal_new(c.base, SIGTERM, on_sig, c.base);
	event_add(si, NULL);
	event_add(st, NULL);
	vg_info("recording execs to %s (Ctrl-C to stop)", argv[optind]);
	event_base_dispatch(c.base);
	vg_sensor_drain(c.sensor);
	rc = vg_trace_close(c.w);
	c.w = NULL;
	if (rc || c.werr) {
		vg_err("writing %s failed: %s: the trace is short", argv[optind],
		       strerror(-(rc ? rc : c.werr)));
		rc = 1;
	} else {
		vg_info("recorded %llu events to %s", (unsigned long long)c.n, argv[optind]);
	}
out:
	vg_trace_close(c.w);
	if (si)
		event_free(si);
	if (st)
		event_free(st);
	vg_sensor_close(c.sensor);
	event_base_free(c.base);
	return rc;
}

struct rp_ctx {
	bool quiet;
	uint64_t printed;
};

static void on_violation(void *arg, struct vg_event *ev, int pol, const struct vg_policy_info *p)
{
	struct rp_ctx *c = arg;
	json_t *o;

	(void)pol;
	c->printed++;
	if (c->quiet)
		return;
	vg_trace_lineage(NULL, ev);
	o = vg_event_json(ev);
	if (!o)
		return;
	json_object_set_new(o, "policy", json_string(p->name));
	json_object_set_new(o, "severity", json_string(p->severity));
	json_dumpf(o, stdout, JSON_COMPACT);
	fputc('\n', stdout);
	json_decref(o);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct replay_opts {
	struct vg_engine_opts eo;
	const char *file;
	bool stats;
};

/* true: run; false: done (--help, a usage error), with *status the exit status. */
static bool parse_replay(int argc, char **argv, struct replay_opts *o, struct rp_ctx *c,
			 int *status)
{
	static const struct option lo[] = {
		{"dir", required_argument, NULL, 'd'},
		{"quiet", no_argument, NULL, 'q'},
		{"stats", no_argument, NULL, 's'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	int opt;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		if (opt == 'd') {
			o->eo.dir = optarg;
		} else if (opt == 'q') {
			c->quiet = true;
		} else if (opt == 's') {
			o->stats = true;
		} else if (opt == 'h') {
			puts("usage: vigil replay FILE [--dir POLICIES] [--quiet] [--stats]\n"
			     "Runs a trace through the policy engine; prints matches as JSON "
			     "lines\n"
			     "and a summary (--stats: per-policy counters) on stderr.");
			*status = 0;
			return false;
		} else {
			*status = vg_usage_unknown("replay", argv[optind - 1], optopt);
			return false;
		}
	}
	if (optind != argc - 1) {
		*status = vg_usage_error("replay", "name one trace file to read");
		return false;
	}
	o->file = argv[optind];
	return true;
}

static void print_summary(struct vg_engine *e, uint64_t events, double dt)
{
	struct vg_engine_stats st;

	vg_engine_stats(e, &st);
	fprintf(stderr,
		"replayed %llu events in %.3f s (%.0f events/s, %.0f ns/event): %llu violations, "
		"%llu candidates, %llu rejected by the fast path, %llu Lua calls (%llu errors); "
		"kernel filter: %s\n",
		(unsigned long long)events, dt, events / (dt > 0 ? dt : 1e-9),
		events ? dt * 1e9 / (double)events : 0.0, (unsigned long long)st.matches,
		(unsigned long long)st.candidates, (unsigned long long)st.rejected,
		(unsigned long long)st.lua_calls, (unsigned long long)st.lua_errors,
		st.kernel_all ? "all execs" : "exact names only");
	/* every event in one class: the numbers add up */
	fprintf(stderr,
		"%llu events = %llu rejected by the fast path + %llu passed every policy that "
		"looked "
		"at them + %llu with a violation\n",
		(unsigned long long)st.events, (unsigned long long)st.rejected,
		(unsigned long long)st.passed, (unsigned long long)st.violating);
}

static void print_policy_stats(struct vg_engine *e)
{
	fprintf(stderr, "%-58s %10s %10s %8s %8s %8s %8s %10s\n", "POLICY", "CANDIDATES", "MATCHES",
		"ERRORS", "BUDGET", "MEMORY", "EXCLUDED", "LUA_US");
	for (int i = 0; i < vg_engine_count(e); i++) {
		const struct vg_policy_info *p = vg_engine_policy(e, i);

		if (p->broken || !p->enabled)
			continue;
		/* ERRORS counts every failed check(); BUDGET and MEMORY are of those */
		fprintf(stderr, "%-58s %10llu %10llu %8llu %8llu %8llu %8llu %10.1f\n", p->name,
			(unsigned long long)p->candidates, (unsigned long long)p->matches,
			(unsigned long long)p->errors, (unsigned long long)p->budget_stops,
			(unsigned long long)p->nomem, (unsigned long long)p->excluded,
			(double)p->lua_ns / 1e3);
	}
}

/* Every event of the trace through the pipeline; the summary. Exit status. */
static int replay(struct vg_pipeline *p, struct vg_engine *e, struct vg_trace_reader *r)
{
	struct vg_event *ev = calloc(1, sizeof(*ev));
	uint64_t events = 0;
	char err[512];
	double t0, dt;
	int n = 0, rc = 0;

	if (!ev) {
		vg_err("out of memory");
		return 1;
	}
	t0 = now_s();
	while ((n = vg_trace_next(r, ev, err, sizeof(err))) == 1) {
		events++;
		vg_pipeline_event(p, ev);
	}
	dt = now_s() - t0;
	fflush(stdout);
	if (n < 0) {
		vg_err("%s; the %llu events before it were replayed", err,
		       (unsigned long long)events);
		rc = 1;
	}
	print_summary(e, events, dt);
	free(ev);
	return rc;
}

int vg_cmd_replay(int argc, char **argv)
{
	struct replay_opts o = {.eo = {.lineage_fn = vg_trace_lineage}};
	struct rp_ctx c = {0};
	struct vg_pipeline_opts po = {.report = on_violation, .report_ctx = &c};
	struct vg_pipeline *p = NULL;
	struct vg_trace_reader *r = NULL;
	struct vg_load_error *errs;
	struct vg_engine *e;
	char err[512];
	int nerr, status = 1;

	if (!parse_replay(argc, argv, &o, &c, &status))
		return status;
	status = vg_engine_load(&e, &o.eo, &errs, &nerr);
	for (int i = 0; i < nerr; i++)
		fprintf(stderr, "%s\n", errs[i].msg);
	vg_load_errors_free(errs, nerr);
	if (status)
		return 1;
	po.engine = e;
	r = vg_trace_open(o.file, err, sizeof(err));
	if (!r || vg_pipeline_new(&p, &po, err, sizeof(err))) {
		vg_err("%s", err);
		status = 1;
	} else {
		status = replay(p, e, r);
		if (o.stats)
			print_policy_stats(e);
	}
	vg_pipeline_free(p);
	if (r)
		vg_trace_close_reader(r);
	vg_engine_free(e);
	return status;
}
