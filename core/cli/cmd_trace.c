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

static const char record_usage[] =
	"usage: vigil record FILE [options]\n"
	"Writes every exec on this host to FILE, a trace for 'vigil replay', until Ctrl-C.\n"
	"\n"
	"  --count N        stop after N execs\n"
	"  --config FILE    vigil.conf.lua: sensor.ringbuf_size and sensor.drain_ms\n"
	"  --data-dir DIR   over the file's data_dir (taken for uniformity: no store is read)\n"
	"  --json           the result as one JSON object on stdout\n";

struct record_opts {
	struct vg_config cfg;
	const char *file, *config, *data_dir;
	bool json;
};

/* The command line into o and c->max; 0, 1 after --help, or the usage error's status. */
static int parse_record(int argc, char **argv, struct record_opts *o, struct rec_ctx *c)
{
	static const struct option lo[] = {
		{"count", required_argument, NULL, 'n'},
		{"config", required_argument, NULL, 'c'},
		{"data-dir", required_argument, NULL, 'D'},
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	int opt;
	uint64_t v;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		if (opt == 'n' && (vg_parse_u64(optarg, &v, false) || !v))
			return vg_usage_error("record", "--count needs a positive number, got '%s'",
					      optarg);
		if (opt == 'n')
			c->max = v;
		else if (opt == 'c')
			o->config = optarg;
		else if (opt == 'D')
			o->data_dir = optarg;
		else if (opt == 'j')
			o->json = true;
		else if (opt == 'h')
			break;
		else
			return vg_usage_unknown("record", argv[optind - 1], optopt);
	}
	if (opt == 'h') {
		fputs(record_usage, stdout);
		return 1;
	}
	if (optind != argc - 1)
		return vg_usage_error("record", "name one trace file to write");
	o->file = argv[optind];
	return vg_cli_config(&o->cfg, o->config, o->data_dir);
}

/* The outcome: a log line, or with --json an object on stdout. Exit status. */
static int record_result(const struct record_opts *o, const struct rec_ctx *c, int rc)
{
	if (o->json) {
		json_t *j = json_pack("{s:s, s:I, s:I, s:b}", "file", o->file, "recorded",
				      (json_int_t)c->n, "bad_records", (json_int_t)c->bad, "ok",
				      !rc && !c->werr);

		if (j)
			(void)json_dumpf(j, stdout, JSON_COMPACT); /* stdout's errors: at exit */
		putchar('\n');
		json_decref(j);
	}
	if (rc || c->werr) {
		vg_err("writing %s failed: %s: the trace is short", o->file,
		       strerror(-(rc ? rc : c->werr)));
		return 1;
	}
	vg_info("recorded %llu events to %s", (unsigned long long)c->n, o->file);
	return 0;
}

/* Execs into the trace until --count or a signal. Exit status. */
static int record(struct rec_ctx *c, const struct record_opts *o)
{
	struct vg_sensor_opts so = {.ringbuf_bytes = o->cfg.ringbuf_bytes,
				    .drain_ms = o->cfg.drain_ms};
	struct event *si = NULL, *st = NULL;
	char err[512];
	int rc = 1;

	if (vg_sensor_open(&c->sensor, &so, c->base, on_rec, c, err, sizeof(err))) {
		vg_err("%s", err);
		goto out;
	}
	c->w = vg_trace_create(o->file, vg_sensor_boot_to_wall(c->sensor));
	if (!c->w) {
		vg_err("cannot write the trace %s: %s", o->file, strerror(errno));
		goto out;
	}
	si = evsignal_new(c->base, SIGINT, on_sig, c->base);
	st = evsignal_new(c->base, SIGTERM, on_sig, c->base);
	if (!si || !st || event_add(si, NULL) || event_add(st, NULL)) {
		vg_err("cannot register with the event loop");
		goto out;
	}
	vg_info("recording execs to %s (Ctrl-C to stop)", o->file);
	(void)event_base_dispatch(c->base); /* until a signal or --count: loopbreak */
	vg_sensor_drain(c->sensor);
	rc = vg_trace_close(c->w);
	c->w = NULL;
	rc = record_result(o, c, rc);
out:
	(void)vg_trace_close(c->w); /* a failed start: nothing worth keeping */
	if (si)
		event_free(si);
	if (st)
		event_free(st);
	vg_sensor_close(c->sensor);
	return rc;
}

int vg_cmd_record(int argc, char **argv)
{
	static struct rec_ctx c;
	struct record_opts o = {0};
	int rc;

	memset(&c, 0, sizeof(c));
	rc = parse_record(argc, argv, &o, &c);
	if (rc)
		return rc == 1 ? 0 : rc;
	c.base = event_base_new();
	if (!c.base)
		return 1;
	rc = record(&c, &o);
	event_base_free(c.base);
	return rc;
}

struct rp_ctx {
	bool quiet;
	uint64_t printed;
};

static void on_violation(void *arg, struct vg_event *ev, int pol, const struct vg_policy_info *p,
			 const struct vg_match_by *by)
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
	json_object_set_new(o, "matched_by", json_string(vg_way_name(by->way)));
	json_object_set_new(o, "matched_name", json_string(by->name));
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
	struct vg_config cfg;
	const char *file, *dir, *config, *data_dir, *policy;
	bool stats, json;
};

static const char replay_usage[] =
	"usage: vigil replay FILE [options]\n"
	"Runs a trace through the policy engine (the configured policies, in their live state:\n"
	"the running daemon's, else what its store recorded); prints matches as JSON lines\n"
	"and a summary (--stats: per-policy counters) on stderr.\n"
	"\n"
	"  --config FILE    vigil.conf.lua: policy_dir, builtin_policies, lua.*, data_dir\n"
	"  --data-dir DIR   the daemon's data directory (its store holds the policy settings)\n"
	"  --dir DIR        the policies in DIR only, in their files' state\n"
	"  --policy P       only the policies whose name holds P, in any case\n"
	"  --quiet          no match lines\n"
	"  --stats          per-policy counters\n"
	"  --json           the summary (and the counters) as the last JSON line on stdout\n";

/* One replay option into o or c; 0, or -ENOENT when opt is not one of them. */
static int replay_option(int opt, struct replay_opts *o, struct rp_ctx *c)
{
	switch (opt) {
	case 'd':
		o->dir = optarg;
		return 0;
	case 'c':
		o->config = optarg;
		return 0;
	case 'D':
		o->data_dir = optarg;
		return 0;
	case 'P':
		o->policy = optarg;
		return 0;
	case 'j':
		o->json = true;
		return 0;
	case 'q':
		c->quiet = true;
		return 0;
	case 's':
		o->stats = true;
		return 0;
	}
	return -ENOENT;
}

/* true: run; false: done (--help, a usage error), with *status the exit status. */
static bool parse_replay(int argc, char **argv, struct replay_opts *o, struct rp_ctx *c,
			 int *status)
{
	static const struct option lo[] = {
		{"dir", required_argument, NULL, 'd'},
		{"config", required_argument, NULL, 'c'},
		{"data-dir", required_argument, NULL, 'D'},
		{"policy", required_argument, NULL, 'P'},
		{"json", no_argument, NULL, 'j'},
		{"quiet", no_argument, NULL, 'q'},
		{"stats", no_argument, NULL, 's'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	int opt;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		if (opt == 'h') {
			fputs(replay_usage, stdout);
			*status = 0;
			return false;
		}
		if (replay_option(opt, o, c)) {
			*status = vg_usage_unknown("replay", argv[optind - 1], optopt);
			return false;
		}
	}
	if (optind != argc - 1) {
		*status = vg_usage_error("replay", "name one trace file to read");
		return false;
	}
	o->file = argv[optind];
	*status = vg_cli_config(&o->cfg, o->config, o->data_dir);
	return !*status;
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

/* The same numbers, for --json. */
static json_t *summary_json(struct vg_engine *e, double dt)
{
	struct vg_engine_stats st;

	vg_engine_stats(e, &st);
	return json_pack("{s:I, s:f, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:s}", "events",
			 (json_int_t)st.events, "seconds", dt, "violations", (json_int_t)st.matches,
			 "candidates", (json_int_t)st.candidates, "rejected",
			 (json_int_t)st.rejected, "passed", (json_int_t)st.passed, "violating",
			 (json_int_t)st.violating, "lua_calls", (json_int_t)st.lua_calls,
			 "lua_errors", (json_int_t)st.lua_errors, "kernel_filter",
			 st.kernel_all ? "all" : "names");
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

/* The per-policy counters, for --json --stats. */
static json_t *policy_stats_json(struct vg_engine *e)
{
	json_t *arr = json_array();

	for (int i = 0; arr && i < vg_engine_count(e); i++) {
		const struct vg_policy_info *p = vg_engine_policy(e, i);

		if (p->broken || !p->enabled)
			continue;
		/* out of memory: a shorter list */
		(void)json_array_append_new(
			arr, json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "id", p->id,
				       "name", p->name, "candidates", (json_int_t)p->candidates,
				       "matches", (json_int_t)p->matches, "errors",
				       (json_int_t)p->errors, "budget_stops",
				       (json_int_t)p->budget_stops, "memory_stops",
				       (json_int_t)p->nomem, "excluded", (json_int_t)p->excluded,
				       "lua_ns", (json_int_t)p->lua_ns));
	}
	return arr;
}

/* The summary (and --stats' counters): text on stderr, or with --json a last line on stdout. */
static void report(struct vg_engine *e, const struct replay_opts *o, uint64_t events, double dt)
{
	json_t *j;

	if (!o->json) {
		print_summary(e, events, dt);
		if (o->stats)
			print_policy_stats(e);
		return;
	}
	j = json_pack("{s:o}", "summary", summary_json(e, dt));
	if (j && o->stats) /* out of memory: no counters */
		(void)json_object_set_new(j, "policies", policy_stats_json(e));
	if (j)
		(void)json_dumpf(j, stdout, JSON_COMPACT); /* stdout's errors: at exit */
	putchar('\n');
	json_decref(j);
}

/* Every event of the trace through the pipeline; the report. Exit status. */
static int replay(struct vg_pipeline *p, struct vg_engine *e, struct vg_trace_reader *r,
		  const struct replay_opts *o)
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
	report(e, o, events, dt);
	free(ev);
	return rc;
}

/* The policies as configured, in their live state, less those --policy leaves out. */
static struct vg_engine *replay_engine(const struct replay_opts *o)
{
	struct vg_engine_opts eo = vg_cli_engine_opts(&o->cfg, o->dir);
	struct vg_load_error *errs;
	struct vg_engine *e;
	int nerr, rc;

	eo.lineage_fn = vg_trace_lineage;
	rc = vg_engine_load(&e, &eo, &errs, &nerr);
	for (int i = 0; i < nerr; i++)
		fprintf(stderr, "%s\n", errs[i].msg);
	vg_load_errors_free(errs, nerr);
	if (rc)
		return NULL;
	if (!o->dir && vg_cli_live_state(&o->cfg, e))
		vg_warn("replaying with the policy files' own state (enabled, enforcement)");
	for (int i = 0; o->policy && i < vg_engine_count(e); i++)
		if (!vg_cli_policy_matches(vg_engine_policy(e, i)->name, o->policy))
			vg_engine_enable(e, i, false);
	return e;
}

int vg_cmd_replay(int argc, char **argv)
{
	struct replay_opts o = {0};
	struct rp_ctx c = {0};
	struct vg_pipeline_opts po = {.report = on_violation, .report_ctx = &c};
	struct vg_pipeline *p = NULL;
	struct vg_trace_reader *r = NULL;
	struct vg_engine *e;
	char err[512];
	int status = 1;

	if (!parse_replay(argc, argv, &o, &c, &status))
		return status;
	e = replay_engine(&o);
	if (!e)
		return 1;
	po.engine = e;
	r = vg_trace_open(o.file, err, sizeof(err));
	if (!r || vg_pipeline_new(&p, &po, err, sizeof(err))) {
		vg_err("%s", err);
		status = 1;
	} else {
		status = replay(p, e, r, &o);
	}
	vg_pipeline_free(p);
	if (r)
		vg_trace_close_reader(r);
	vg_engine_free(e);
	return status;
}
