// SPDX-License-Identifier: BSD-2-Clause
/*
 * cmd_events.c - `vigil events`: live exec events, an execsnoop with lineage
 * and container identity.
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
#include "kernel_prog.h"
#include "log.h"
#include "pipeline.h"
#include "sensor.h"

struct events_ctx {
	struct vg_sensor *sensor;
	struct event_base *base;
	struct vg_event *ev; /* the record being decoded (21 KB: on the heap) */
	bool json, containers_only;
	bool content;		      /* --match: content identity (identity.content) */
	struct vg_engine *engine;     /* --match: only violations are printed */
	struct vg_engine_opts eo;     /* how it was loaded, for SIGHUP */
	struct vg_pipeline *pipeline; /* --match: decode -> engine -> a line per violation */
	struct vg_ctrinfo *ctrinfo;   /* --json: containers named by the runtimes' files */
	uint64_t max_count, printed, not_container, bad;
	bool interrupted, out_error;
	struct event *sigint, *sigterm, *sighup, *flush;
};

/* What was asked on the command line, beyond what the context keeps. */
struct events_opts {
	struct vg_sensor_opts so;
	const char *comms[64];
	int ncomm;
	bool stats, match;
	const char *policy_dir, *config, *data_dir, *policy;
	struct vg_config cfg;
};

static const char usage_text[] =
	"usage: vigil events [options]\n"
	"Print every process execution on this host as it happens.\n"
	"\n"
	"  --json               one JSON object per line (all fields, with lineage)\n"
	"  --count N            exit after N events\n"
	"  --containers-only    only processes in a container\n"
	"  --comm NAME          only execs whose comm is NAME (repeatable; filtered in the "
	"kernel)\n"
	"  --stats              print the sensor's counters at exit (Ctrl-C always does)\n"
	"  --match              only execs that violate a policy, with the policy's name; the\n"
	"                       kernel filter is programmed from the policies' exact names\n"
	"  --dir DIR            with --match: the policies in DIR only, not the configured ones\n"
	"                       (SIGHUP reloads them: all or nothing)\n"
	"  --policy P           with --match: only the policies whose name holds P, any case\n"
	"  --config FILE        vigil.conf.lua: policy_dir, builtin_policies, lua.*, data_dir,\n"
	"                       containers.* (where the runtimes keep their state)\n"
	"  --data-dir DIR       the daemon's data directory: with --match, its policies' live\n"
	"                       state (the running daemon's, else what its store recorded)\n"
	"  --ringbuf-size SIZE  ring buffer bytes, a power of two (default 4M; K and M suffixes)\n"
	"  --drain-ms MS        drain the ring buffer every MS milliseconds (default 10)\n"
	"  --wake-every         wake the reader for every event (lower latency, more CPU)\n"
	"  --wakeup-bytes SIZE  wake the reader once this much is queued (default: a quarter\n"
	"                       of the ring buffer; otherwise the drain timer picks events up)\n"
	"  --no-cwd             do not capture the working directory\n"
	"  --cgroup-v1          take the cgroup path from the v1 memory hierarchy\n"
	"  --btf FILE           BTF for a kernel without /sys/kernel/btf/vmlinux\n"
	"  -v, --verbose        show libbpf's log and the verifier's\n"
	"  -h, --help           this text\n";

static void print_json(json_t *o)
{
	/* one buffer, one fwrite: json_dumpf writes token by token */
	static char buf[64 << 10];
	size_t n = json_dumpb(o, buf, sizeof(buf) - 1, JSON_COMPACT);

	if (n && n < sizeof(buf) - 1) {
		buf[n++] = '\n';
		fwrite(buf, 1, n, stdout);
	} else {
		json_dumpf(o, stdout, JSON_COMPACT);
		fputc('\n', stdout);
	}
}

static void on_violation(void *arg, struct vg_event *ev, int pol, const struct vg_policy_info *p,
			 const struct vg_match_by *by)
{
	struct events_ctx *c = arg;
	json_t *o;

	(void)pol;
	vg_sensor_lineage(c->sensor, ev);
	o = vg_event_json(ev);
	if (!o)
		return;
	json_object_set_new(o, "policy", json_string(p->name));
	json_object_set_new(o, "severity", json_string(p->severity));
	json_object_set_new(o, "matched_by", json_string(vg_way_name(by->way)));
	json_object_set_new(o, "matched_name", json_string(by->name));
	print_json(o);
	json_decref(o);
	if (++c->printed == c->max_count)
		event_base_loopbreak(c->base);
}

static void lineage_cb(void *arg, struct vg_event *ev)
{
	vg_sensor_lineage(((struct events_ctx *)arg)->sensor, ev);
}

/* Without --match: every exec (or every one in a container), a line or a JSON object. */
static void print_exec(struct events_ctx *c, struct vg_event *ev)
{
	char ts[40];

	if (c->containers_only && !vg_event_in_container(ev)) {
		c->not_container++;
		return;
	}
	vg_sensor_lineage(c->sensor, ev);
	if (c->json) {
		json_t *o;

		vg_ctrinfo_name(c->ctrinfo, ev);
		o = vg_event_json(ev);

		if (o) {
			print_json(o);
			json_decref(o);
		}
	} else {
		vg_event_args(ev);
		vg_event_container(ev);
		vg_time_rfc3339(ev->time_ns, ts, sizeof(ts));
		printf("%.12s %-7u %-7u %-6u %-12s %-15s %s%s%s\n", ts + 11, ev->rec->pid,
		       ev->rec->ppid, ev->rec->uid, ev->ctr.id[0] ? ev->ctr.short_id : "-",
		       ev->comm, ev->exe, ev->args[0] ? " " : "", ev->args);
	}
	if (++c->printed == c->max_count)
		event_base_loopbreak(c->base);
}

static int on_record(void *arg, const void *rec, size_t len)
{
	struct events_ctx *c = arg;
	int64_t boot_to_wall = vg_sensor_boot_to_wall(c->sensor);

	if (c->max_count && c->printed >= c->max_count)
		return 0;
	if (c->pipeline) {
		if (vg_pipeline_record(c->pipeline, rec, len, boot_to_wall) < 0)
			c->bad++;
		return 0;
	}
	if (vg_event_decode(c->ev, rec, len, boot_to_wall)) {
		c->bad++;
		return 0;
	}
	print_exec(c, c->ev);
	return 0;
}

/* The kernel follows the policies; `events --match` never kills (report mode). */
static int program_kernel(struct events_ctx *c)
{
	struct vg_kprog_opts ko = {.dry_run = true, .content = c->content};

	return vg_kernel_program(c->sensor, c->engine, &ko);
}

/* A file named by content: the kernel passes its next exec on by that name. */
static void identified(void *ctx, const struct vg_ident_key *key, const char *name)
{
	struct events_ctx *c = ctx;
	int rc = vg_sensor_ident_add(c->sensor, key, name);

	if (rc)
		vg_warn("cannot tell the kernel a file is '%s': %s", name, strerror(-rc));
}

/* SIGHUP: the whole policy set is rebuilt and swapped, or the old one kept. */
static void on_hup(evutil_socket_t sig, short what, void *arg)
{
	struct events_ctx *c = arg;
	struct vg_load_error *errs;
	int nerr, rc;

	(void)sig;
	(void)what;
	if (!c->engine)
		return;
	rc = vg_engine_reload(&c->engine, &c->eo, &errs, &nerr);
	for (int i = 0; i < nerr; i++)
		vg_err("%s", errs[i].msg);
	vg_load_errors_free(errs, nerr);
	if (rc) {
		vg_err("reload failed: kept the %d policies loaded before",
		       vg_engine_count(c->engine));
		return;
	}
	vg_pipeline_set_engine(c->pipeline, c->engine);
	if (program_kernel(c))
		vg_err("cannot program the kernel filter map (%s): it sends every exec",
		       strerror(errno));
	vg_info("reloaded %d policies", vg_engine_count(c->engine));
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct events_ctx *c = arg;

	(void)sig;
	(void)what;
	c->interrupted = true;
	event_base_loopbreak(c->base);
}

/* After each loop pass: push what the drain printed, stop if stdout is gone. */
static void on_flush(evutil_socket_t fd, short what, void *arg)
{
	struct events_ctx *c = arg;

	(void)fd;
	(void)what;
	if (fflush(stdout) || ferror(stdout)) {
		c->out_error = true;
		event_base_loopbreak(c->base);
	}
}

/* The engine's counters under --match, for --stats --json. */
static json_t *engine_stats_json(const struct events_ctx *c)
{
	struct vg_engine_stats es;

	vg_engine_stats(c->engine, &es);
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:s, s:i}", "events",
			 (json_int_t)es.events, "rejected", (json_int_t)es.rejected, "candidates",
			 (json_int_t)es.candidates, "violations", (json_int_t)es.matches,
			 "lua_calls", (json_int_t)es.lua_calls, "lua_errors",
			 (json_int_t)es.lua_errors, "kernel_filter",
			 es.kernel_all ? "all" : "names", "kernel_names", es.exact_names);
}

static void print_stats_json(const struct events_ctx *c, const struct vg_sensor_stats *st)
{
	json_t *k = json_object(), *o;

	for (int i = 0; i < VG_C_MAX; i++)
		json_object_set_new(k, vg_sensor_counter_name(i),
				    json_integer((json_int_t)st->k[i]));
	o = json_pack("{s:{s:o, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}}", "stats",
		      "kernel", k, "filter_mode", st->filter_mode == VG_FILTER_MAP ? "map" : "all",
		      "ringbuf_bytes", (json_int_t)st->ringbuf_bytes, "received",
		      (json_int_t)st->received, "printed", (json_int_t)c->printed,
		      "not_in_container", (json_int_t)c->not_container, "bad_records",
		      (json_int_t)c->bad, "procs_seeded", (json_int_t)st->seeded, "procs_swept",
		      (json_int_t)st->swept, "lineage_unknown", (json_int_t)st->lineage_miss,
		      "lineage_cached", (json_int_t)st->lineage_cached);
	if (c->engine)
		json_object_set_new(json_object_get(o, "stats"), "engine", engine_stats_json(c));
	json_dumpf(o, stderr, JSON_COMPACT);
	fputc('\n', stderr);
	json_decref(o);
}

static void print_stats(const struct events_ctx *c)
{
	struct vg_sensor_stats st;

	vg_sensor_stats(c->sensor, &st);
	if (c->json) {
		print_stats_json(c, &st);
		return;
	}
	fprintf(stderr, "\n--- vigil sensor counters (filter mode: %s, ring buffer %u KiB)\n",
		st.filter_mode == VG_FILTER_MAP ? "map" : "all", st.ringbuf_bytes >> 10);
	for (int i = 0; i < VG_C_MAX; i++)
		fprintf(stderr, "  %-18s %llu\n", vg_sensor_counter_name(i),
			(unsigned long long)st.k[i]);
	fprintf(stderr, "  %-18s %llu\n  %-18s %llu\n  %-18s %llu\n  %-18s %llu\n", "received",
		(unsigned long long)st.received, "printed", (unsigned long long)c->printed,
		"not_in_container", (unsigned long long)c->not_container, "bad_records",
		(unsigned long long)c->bad);
	fprintf(stderr, "  %-18s %llu\n  %-18s %llu\n  %-18s %llu\n", "procs_seeded",
		(unsigned long long)st.seeded, "procs_swept", (unsigned long long)st.swept,
		"lineage_unknown", (unsigned long long)st.lineage_miss);
}

/* ---- options ------------------------------------------------------------------------- */

enum {
	O_JSON = 256,
	O_COUNT,
	O_CONT,
	O_STATS,
	O_COMM,
	O_RB,
	O_DRAIN,
	O_WAKE,
	O_NOCWD,
	O_V1,
	O_BTF,
	O_WAKEB,
	O_MATCH,
	O_DIR,
	O_CONFIG,
	O_DATA_DIR,
	O_POLICY
};

static const struct option long_options[] = {
	{"json", no_argument, NULL, O_JSON},
	{"count", required_argument, NULL, O_COUNT},
	{"containers-only", no_argument, NULL, O_CONT},
	{"stats", no_argument, NULL, O_STATS},
	{"comm", required_argument, NULL, O_COMM},
	{"ringbuf-size", required_argument, NULL, O_RB},
	{"drain-ms", required_argument, NULL, O_DRAIN},
	{"wake-every", no_argument, NULL, O_WAKE},
	{"wakeup-bytes", required_argument, NULL, O_WAKEB},
	{"match", no_argument, NULL, O_MATCH},
	{"dir", required_argument, NULL, O_DIR},
	{"config", required_argument, NULL, O_CONFIG},
	{"data-dir", required_argument, NULL, O_DATA_DIR},
	{"policy", required_argument, NULL, O_POLICY},
	{"no-cwd", no_argument, NULL, O_NOCWD},
	{"cgroup-v1", no_argument, NULL, O_V1},
	{"btf", required_argument, NULL, O_BTF},
	{"verbose", no_argument, NULL, 'v'},
	{"help", no_argument, NULL, 'h'},
	{0},
};

/* The sensor's options: 0, or the usage error's exit status; -ENOENT: not one of them. */
static int sensor_option(struct vg_sensor_opts *so, int opt, const char *arg)
{
	uint64_t v;

	switch (opt) {
	case O_RB:
		if (vg_parse_u64(arg, &v, true) || !v)
			return vg_usage_error(
				"events",
				"--ringbuf-size takes a size such as 256K or 4M, got '%s'", arg);
		so->ringbuf_bytes = v > VG_RINGBUF_MAX ? UINT32_MAX : (uint32_t)v;
		return 0;
	case O_DRAIN:
		if (vg_parse_u64(arg, &v, false) || !v || v > 10000)
			return vg_usage_error("events",
					      "--drain-ms takes 1 to 10000 milliseconds, got '%s'",
					      arg);
		so->drain_ms = (uint32_t)v;
		return 0;
	case O_WAKEB:
		if (vg_parse_u64(arg, &v, true) || !v)
			return vg_usage_error(
				"events", "--wakeup-bytes takes a size such as 64K, got '%s'", arg);
		so->wakeup_bytes = v;
		return 0;
	case O_WAKE:
		so->wake_every = true;
		return 0;
	case O_NOCWD:
		so->no_cwd = true;
		return 0;
	case O_V1:
		so->cgroup_mode = VG_CGROUP_V1;
		return 0;
	case O_BTF:
		so->btf_path = arg;
		return 0;
	case 'v':
		so->verbose = true;
		return 0;
	}
	return -ENOENT;
}

/* What is printed and when to stop: 0, or the usage error's exit status; -ENOENT: not these. */
static int output_option(struct events_ctx *c, struct events_opts *o, int opt, const char *arg)
{
	uint64_t v;

	switch (opt) {
	case O_JSON:
		c->json = true;
		return 0;
	case O_COUNT:
		if (vg_parse_u64(arg, &v, false) || !v)
			return vg_usage_error("events", "--count needs a positive number, got '%s'",
					      arg);
		c->max_count = v;
		return 0;
	case O_CONT:
		c->containers_only = true;
		return 0;
	case O_STATS:
		o->stats = true;
		return 0;
	case O_COMM:
		if (o->ncomm == (int)(sizeof(o->comms) / sizeof(o->comms[0])) || !*arg ||
		    strlen(arg) >= VG_COMM_LEN)
			return vg_usage_error("events",
					      "--comm takes a process name of 1 to 15 characters "
					      "(the kernel's comm), at most 64 times; got '%s'",
					      arg);
		o->comms[o->ncomm++] = arg;
		return 0;
	case O_MATCH:
		o->match = true;
		return 0;
	case O_DIR:
		o->policy_dir = arg;
		return 0;
	case O_CONFIG:
		o->config = arg;
		return 0;
	case O_DATA_DIR:
		o->data_dir = arg;
		return 0;
	case O_POLICY:
		o->policy = arg;
		return 0;
	}
	return -ENOENT;
}

/* true: run; false: done (--help, a usage error), with *status the exit status. */
static bool parse_options(int argc, char **argv, struct events_ctx *c, struct events_opts *o,
			  int *status)
{
	int opt, rc;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "vh", long_options, NULL)) != -1) {
		if (opt == 'h') {
			fputs(usage_text, stdout);
			*status = 0;
			return false;
		}
		rc = sensor_option(&o->so, opt, optarg);
		if (rc == -ENOENT)
			rc = output_option(c, o, opt, optarg);
		if (rc == -ENOENT)
			rc = vg_usage_unknown("events", argv[optind - 1], optopt);
		if (rc) {
			*status = rc;
			return false;
		}
	}
	*status = 2;
	if (optind < argc)
		*status = vg_usage_error("events", "unexpected argument '%s'", argv[optind]);
	else if ((o->policy_dir || o->policy) && !o->match)
		*status = vg_usage_error("events", "--dir and --policy go with --match");
	else if (o->match && o->ncomm)
		*status = vg_usage_error("events",
					 "--match programs the kernel filter itself: drop --comm");
	else
		*status = vg_cli_config(&o->cfg, o->config, o->data_dir);
	return *status == 0;
}

/* ---- running ------------------------------------------------------------------------- */

/* --comm: only those names pass the kernel filter. */
static int program_comms(struct events_ctx *c, const struct events_opts *o)
{
	for (int i = 0; i < o->ncomm; i++) {
		int rc = vg_sensor_filter_set(c->sensor, o->comms[i], VG_ACT_SEND);

		if (rc) {
			vg_err("cannot program the kernel filter map with '%s' (%s)", o->comms[i],
			       strerror(errno));
			return rc;
		}
	}
	if (o->ncomm)
		vg_sensor_filter_mode(c->sensor, VG_FILTER_MAP);
	return 0;
}

/* --match: the policies, the pipeline that runs each exec through them, the kernel filter. */
static int open_match(struct events_ctx *c, const struct events_opts *o)
{
	struct vg_pipeline_opts po = {.report = on_violation,
				      .report_ctx = c,
				      .base = c->base,
				      .live = true,
				      .content = o->cfg.content,
				      .content_cache = o->cfg.content_files,
				      .content_max_bytes = (uint64_t)o->cfg.content_max_mb << 20,
				      .identified = identified,
				      .identified_ctx = c};
	struct vg_load_error *errs;
	char err[512];
	int nerr, rc;

	c->eo = vg_cli_engine_opts(&o->cfg, o->policy_dir);
	c->eo.lineage_fn = lineage_cb;
	c->eo.lineage_ctx = c;
	rc = vg_engine_load(&c->engine, &c->eo, &errs, &nerr);
	for (int i = 0; i < nerr; i++)
		vg_err("%s", errs[i].msg);
	vg_load_errors_free(errs, nerr);
	if (rc)
		return rc;
	if (!o->policy_dir && vg_cli_live_state(&o->cfg, c->engine))
		vg_warn("matching with the policy files' own state (enabled, enforcement)");
	/* --policy: the others off (a SIGHUP reload keeps them so, by name) */
	for (int i = 0; o->policy && i < vg_engine_count(c->engine); i++)
		if (!vg_cli_policy_matches(vg_engine_policy(c->engine, i)->name, o->policy))
			vg_engine_enable(c->engine, i, false);
	po.engine = c->engine;
	c->content = o->cfg.content;
	rc = vg_pipeline_new(&c->pipeline, &po, err, sizeof(err));
	if (rc) {
		vg_err("%s", err);
		return rc;
	}
	c->json = true;
	rc = program_kernel(c);
	if (rc)
		vg_err("cannot program the kernel filter map (%s)", strerror(errno));
	return rc;
}

static int open_events(struct events_ctx *c, const struct events_opts *o)
{
	char err[512];
	int rc;

	signal(SIGPIPE, SIG_IGN);
	c->ev = calloc(1, sizeof(*c->ev));
	c->base = event_base_new();
	if (!c->ev || !c->base) {
		vg_err("cannot create the event loop");
		return -ENOMEM;
	}
	rc = vg_sensor_open(&c->sensor, &o->so, c->base, on_record, c, err, sizeof(err));
	if (rc) {
		vg_err("%s", err);
		return rc;
	}
	rc = program_comms(c, o);
	if (!rc && c->json) {
		struct vg_ctrinfo_opts co = {.storage_root = o->cfg.ctr_storage_root,
					     .docker_root = o->cfg.ctr_docker_root};

		rc = vg_ctrinfo_new(&c->ctrinfo, &co);
		if (rc)
			vg_err("cannot keep container names: %s", strerror(-rc));
	}
	if (!rc && o->match)
		rc = open_match(c, o);
	return rc;
}

static int register_events(struct events_ctx *c)
{
	c->sigint = evsignal_new(c->base, SIGINT, on_signal, c);
	c->sigterm = evsignal_new(c->base, SIGTERM, on_signal, c);
	c->sighup = evsignal_new(c->base, SIGHUP, on_hup, c);
	c->flush = event_new(c->base, -1, EV_PERSIST, on_flush, c);
	if (!c->sigint || !c->sigterm || !c->sighup || !c->flush || event_add(c->sigint, NULL) ||
	    event_add(c->sigterm, NULL) || event_add(c->sighup, NULL) ||
	    event_add(c->flush, &(struct timeval){.tv_sec = 0, .tv_usec = 20000})) {
		vg_err("cannot register with the event loop");
		return -ENOMEM;
	}
	return 0;
}

/* Until --count, a signal or stdout gone; then what is already buffered. Exit status. */
static int watch(struct events_ctx *c, const struct events_opts *o)
{
	if (!c->json && !c->engine)
		printf("%-12s %-7s %-7s %-6s %-12s %-15s %s\n", "TIME", "PID", "PPID", "UID",
		       "CONTAINER", "COMM", "EXE ARGS");
	fflush(stdout);
	vg_info("watching execs (filter: %s)",
		o->ncomm
			? "comm map"
			: (c->engine && !vg_engine_kernel_all(c->engine) ? "policy names" : "all"));
	event_base_dispatch(c->base);
	if (!c->out_error)
		vg_sensor_drain(c->sensor); /* what is already in the buffer is not lost */
	fflush(stdout);
	if (o->stats || c->interrupted)
		print_stats(c);
	return c->out_error ? 1 : 0;
}

static void close_events(struct events_ctx *c)
{
	struct event *evs[] = {c->sigint, c->sigterm, c->sighup, c->flush};

	for (size_t i = 0; i < sizeof(evs) / sizeof(evs[0]); i++)
		if (evs[i])
			event_free(evs[i]);
	vg_sensor_close(c->sensor);
	vg_pipeline_free(c->pipeline);
	vg_ctrinfo_free(c->ctrinfo);
	vg_engine_free(c->engine);
	if (c->base)
		event_base_free(c->base);
	free(c->ev);
}

int vg_cmd_events(int argc, char **argv)
{
	struct events_ctx c = {0};
	struct events_opts o = {0};
	int status;

	if (!parse_options(argc, argv, &c, &o, &status))
		return status;
	status = 1;
	if (!open_events(&c, &o) && !register_events(&c))
		status = watch(&c, &o);
	close_events(&c);
	return status;
}
