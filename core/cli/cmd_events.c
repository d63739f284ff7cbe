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
#include "log.h"
#include "sensor.h"

struct events_ctx {
	struct vg_sensor *sensor;
	struct event_base *base;
	struct vg_event ev;
	bool json, containers_only;
	struct vg_engine *engine; /* --match: only violations are printed */
	struct vg_engine_opts eo; /* how it was loaded, for SIGHUP */
	uint64_t max_count, printed, not_container, bad;
	bool interrupted, out_error;
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
	"  --dir DIR            with --match: the policies in DIR, not the default pack\n"
	"                       (SIGHUP reloads them: all or nothing)\n"
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

static void on_violation(void *arg, struct vg_event *ev, int pol, const struct vg_policy_info *p)
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
	print_json(o);
	json_decref(o);
	if (++c->printed == c->max_count)
		event_base_loopbreak(c->base);
}

static void lineage_cb(void *arg, struct vg_event *ev)
{
	vg_sensor_lineage(((struct events_ctx *)arg)->sensor, ev);
}

static int on_record(void *arg, const void *rec, size_t len)
{
	struct events_ctx *c = arg;
	struct vg_event *ev = &c->ev;

	if (c->max_count && c->printed >= c->max_count)
		return 0;
	if (vg_event_decode(ev, rec, len, vg_sensor_boot_to_wall(c->sensor))) {
		c->bad++;
		return 0;
	}
	if (c->engine) {
		vg_engine_eval(c->engine, ev, on_violation, c);
		return 0;
	}
	if (c->containers_only && !vg_event_in_container(ev)) {
		c->not_container++;
		return 0;
	}
	vg_sensor_lineage(c->sensor, ev);
	if (c->json) {
		json_t *o = vg_event_json(ev);

		if (o) {
			print_json(o);
			json_decref(o);
		}
	} else {
		char ts[40];

		vg_event_args(ev);
		vg_event_container(ev);
		vg_time_rfc3339(ev->time_ns, ts, sizeof(ts));
		printf("%.12s %-7u %-7u %-6u %-12s %-15s %s%s%s\n", ts + 11, ev->rec->pid,
		       ev->rec->ppid, ev->rec->uid, ev->ctr.id[0] ? ev->ctr.short_id : "-",
		       ev->comm, ev->exe, ev->args[0] ? " " : "", ev->args);
	}
	if (++c->printed == c->max_count)
		event_base_loopbreak(c->base);
	return 0;
}

static int program_kernel(struct events_ctx *c)
{
	const char **names;
	int n = vg_engine_kernel_names(c->engine, &names);

	return vg_sensor_filter_program(c->sensor, names, n, vg_engine_kernel_all(c->engine));
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

static void print_stats(struct events_ctx *c)
{
	struct vg_sensor_stats st;

	vg_sensor_stats(c->sensor, &st);
	if (c->json) {
		json_t *k = json_object(), *o;

		for (int i = 0; i < VG_C_MAX; i++)
			json_object_set_new(k, vg_sensor_counter_name(i),
					    json_integer((json_int_t)st.k[i]));
		o = json_pack("{s:{s:o, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}}",
			      "stats", "kernel", k, "filter_mode",
			      st.filter_mode == VG_FILTER_MAP ? "map" : "all", "ringbuf_bytes",
			      (json_int_t)st.ringbuf_bytes, "received", (json_int_t)st.received,
			      "printed", (json_int_t)c->printed, "not_in_container",
			      (json_int_t)c->not_container, "bad_records", (json_int_t)c->bad,
			      "procs_seeded", (json_int_t)st.seeded, "procs_swept",
			      (json_int_t)st.swept, "lineage_unknown", (json_int_t)st.lineage_miss,
			      "lineage_cached", (json_int_t)st.lineage_cached);
		if (c->engine) {
			struct vg_engine_stats es;

			vg_engine_stats(c->engine, &es);
			json_object_set_new(json_object_get(o, "stats"), "engine",
					    json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:s, s:i}",
						      "events", (json_int_t)es.events, "rejected",
						      (json_int_t)es.rejected, "candidates",
						      (json_int_t)es.candidates, "violations",
						      (json_int_t)es.matches, "lua_calls",
						      (json_int_t)es.lua_calls, "lua_errors",
						      (json_int_t)es.lua_errors, "kernel_filter",
						      es.kernel_all ? "all" : "names",
						      "kernel_names", es.exact_names));
		}
		json_dumpf(o, stderr, JSON_COMPACT);
		fputc('\n', stderr);
		json_decref(o);
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

int vg_cmd_events(int argc, char **argv)
{
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
		O_DIR
	};
	static const struct option lo[] = {
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
		{"no-cwd", no_argument, NULL, O_NOCWD},
		{"cgroup-v1", no_argument, NULL, O_V1},
		{"btf", required_argument, NULL, O_BTF},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	struct vg_sensor_opts so = {0};
	static struct events_ctx c; /* large (struct vg_event): not on the stack */
	const char *comms[64];
	int ncomm = 0, opt, rc = 1;
	bool stats = false, match = false;
	const char *policy_dir = NULL;
	struct event *sigint = NULL, *sigterm = NULL, *sighup = NULL, *flush = NULL;
	char err[512];
	uint64_t v;

	memset(&c, 0, sizeof(c));
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "vh", lo, NULL)) != -1) {
		switch (opt) {
		case O_JSON:
			c.json = true;
			break;
		case O_COUNT:
			if (vg_parse_u64(optarg, &v, false) || !v)
				return vg_usage_error("events",
						      "--count needs a positive number, got '%s'",
						      optarg);
			c.max_count = v;
			break;
		case O_CONT:
			c.containers_only = true;
			break;
		case O_STATS:
			stats = true;
			break;
		case O_COMM:
			if (ncomm == (int)(sizeof(comms) / sizeof(comms[0])) || !*optarg ||
			    strlen(optarg) >= VG_COMM_LEN)
				return vg_usage_error(
					"events",
					"--comm takes a process name of 1 to 15 characters "
					"(the kernel's comm), at most 64 times; got '%s'",
					optarg);
			comms[ncomm++] = optarg;
			break;
		case O_RB:
			if (vg_parse_u64(optarg, &v, true) || !v)
				return vg_usage_error(
					"events",
					"--ringbuf-size takes a size such as 256K or 4M, got '%s'",
					optarg);
			so.ringbuf_bytes = v > VG_RINGBUF_MAX ? UINT32_MAX : (uint32_t)v;
			break;
		case O_DRAIN:
			if (vg_parse_u64(optarg, &v, false) || !v || v > 10000)
				return vg_usage_error(
					"events",
					"--drain-ms takes 1 to 10000 milliseconds, got '%s'",
					optarg);
			so.drain_ms = (uint32_t)v;
			break;
		case O_WAKE:
			so.wake_every = true;
			break;
		case O_WAKEB:
			if (vg_parse_u64(optarg, &v, true) || !v)
				return vg_usage_error(
					"events",
					"--wakeup-bytes takes a size such as 64K, got '%s'",
					optarg);
			so.wakeup_bytes = v;
			break;
		case O_MATCH:
			match = true;
			break;
		case O_DIR:
			policy_dir = optarg;
			break;
		case O_NOCWD:
			so.no_cwd = true;
			break;
		case O_V1:
			so.cgroup_mode = VG_CGROUP_V1;
			break;
		case O_BTF:
			so.btf_path = optarg;
			break;
		case 'v':
			so.verbose = true;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		default:
			return vg_usage_unknown("events", argv[optind - 1], optopt);
		}
	}
	if (optind < argc)
		return vg_usage_error("events", "unexpected argument '%s'", argv[optind]);
	if (policy_dir && !match)
		return vg_usage_error("events", "--dir goes with --match");
	if (match && ncomm)
		return vg_usage_error("events",
				      "--match programs the kernel filter itself: drop --comm");

	signal(SIGPIPE, SIG_IGN);
	c.base = event_base_new();
	if (!c.base) {
		vg_err("cannot create the event loop");
		return 1;
	}
	rc = vg_sensor_open(&c.sensor, &so, c.base, on_record, &c, err, sizeof(err));
	if (rc) {
		vg_err("%s", err);
		rc = 1;
		goto out;
	}
	for (int i = 0; i < ncomm; i++) {
		if (vg_sensor_filter_set(c.sensor, comms[i], VG_ACT_SEND)) {
			vg_err("cannot program the kernel filter map with '%s' (%s)", comms[i],
			       strerror(errno));
			rc = 1;
			goto out;
		}
	}
	if (ncomm)
		vg_sensor_filter_mode(c.sensor, VG_FILTER_MAP);
	if (match) {
		struct vg_load_error *errs;
		int nerr;

		c.eo.dir = policy_dir;
		c.eo.lineage_fn = lineage_cb;
		c.eo.lineage_ctx = &c;
		rc = vg_engine_load(&c.engine, &c.eo, &errs, &nerr);
		for (int i = 0; i < nerr; i++)
			vg_err("%s", errs[i].msg);
		vg_load_errors_free(errs, nerr);
		if (rc) {
			rc = 1;
			goto out;
		}
		c.json = true;
		if (program_kernel(&c)) {
			vg_err("cannot program the kernel filter map (%s)", strerror(errno));
			rc = 1;
			goto out;
		}
	}

	sigint = evsignal_new(c.base, SIGINT, on_signal, &c);
	sigterm = evsignal_new(c.base, SIGTERM, on_signal, &c);
	sighup = evsignal_new(c.base, SIGHUP, on_hup, &c);
	flush = event_new(c.base, -1, EV_PERSIST, on_flush, &c);
	if (!sigint || !sigterm || !sighup || !flush) {
		vg_err("cannot register with the event loop");
		rc = 1;
		goto out;
	}
	event_add(sigint, NULL);
	event_add(sigterm, NULL);
	event_add(sighup, NULL);
	event_add(flush, &(struct timeval){.tv_sec = 0, .tv_usec = 20000});
	if (!c.json && !c.engine)
		printf("%-12s %-7s %-7s %-6s %-12s %-15s %s\n", "TIME", "PID", "PPID", "UID",
		       "CONTAINER", "COMM", "EXE ARGS");
	fflush(stdout);
	vg_info("watching execs (filter: %s)",
		ncomm ? "comm map"
		      : (c.engine && !vg_engine_kernel_all(c.engine) ? "policy names" : "all"));

	event_base_dispatch(c.base);
	if (!c.out_error)
		vg_sensor_drain(c.sensor); /* what is already in the buffer is not lost */
	fflush(stdout);
	if (stats || c.interrupted)
		print_stats(&c);
	rc = c.out_error ? 1 : 0;
out:
	if (sigint)
		event_free(sigint);
	if (sigterm)
		event_free(sigterm);
	if (sighup)
		event_free(sighup);
	if (flush)
		event_free(flush);
	vg_sensor_close(c.sensor);
	vg_engine_free(c.engine);
	event_base_free(c.base);
	return rc;
}
