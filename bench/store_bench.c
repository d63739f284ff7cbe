// SPDX-License-Identifier: BSD-2-Clause
/*
 * store_bench - the violation store's throughput and rebuild time.
 *
 *   store_bench [--json] DIR N [PODS]
 *
 * Appends N violations (spread over PODS pods, so over PODS alerts) through
 * vg_alerts_add with group commit, waits until all are durable, and reports
 * violations/s; then reopens the store and reports the index rebuild time.
 * DIR is created (and must not hold a store yet). --json adds one line at the end,
 * {"violations", "write_s", "violations_per_s", "fsyncs", "alerts", "records",
 * "rebuild_s"}, for the harness (bench/vigilbench/suites/store.py).
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "alerts.h"
#include "record.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long acked;

static void on_ack(void *ctx, bool ok)
{
	(void)ctx;
	acked += ok;
}

/* Appends n violations over pods pods to s and waits until all are durable; 0 or 1. */
static int fill(struct vg_alerts *s, struct event_base *base, struct vg_event *ev, long n,
		long pods)
{
	static unsigned char rec[sizeof(struct vg_exec) + VG_DATA_MAX];

	for (long i = 0; i < n; i++) {
		char cg[256], arg[32];
		const char *av[] = {"/usr/bin/apt-get", "install", arg};
		struct vg_record_spec sp = {.exe = "/usr/bin/apt-get",
					    .argv = av,
					    .argc = 3,
					    .cwd = "/",
					    .cgroup = cg,
					    .pid = 1000 + (uint32_t)i,
					    .boot_ns = (uint64_t)i};
		struct vg_violation v = {.ev = ev,
					 .policy_id = "ubuntu-package-manager-execution",
					 .policy_name = "Ubuntu Package Manager Execution",
					 .severity = "low"};

		snprintf(arg, sizeof(arg), "pkg%ld", i);
		snprintf(cg, sizeof(cg),
			 "/kubepods/besteffort/pod%08lx-0000-0000-0000-000000000000/"
			 "%064lx",
			 i % pods, i % pods);
		vg_record_build(rec, sizeof(rec), &sp);
		vg_event_decode(ev, rec, ((struct vg_exec *)rec)->size, 1800000000000000000);
		ev->lineage_done = true;
		ev->n_lineage = 2;
		ev->lineage[0] = (struct vg_ancestor_info){10, 0, "/bin/bash", "bash"};
		ev->lineage[1] = (struct vg_ancestor_info){9, 0, "/usr/bin/containerd-shim-runc-v2",
							   "containerd-shim-runc-v2"};
		if (vg_alerts_add(s, &v, on_ack, NULL, NULL))
			return fprintf(stderr, "append failed at %ld\n", i), 1;
		if (i % 4096 == 0)
			event_base_loop(
				base,
				EVLOOP_NONBLOCK); /* let acks in, as the daemon's loop would */
	}
	while (acked < n)
		event_base_loop(base, EVLOOP_ONCE);
	return 0;
}

int main(int argc, char **argv)
{
	struct vg_event *ev = calloc(1, sizeof(*ev)); /* 21 KB: not on the stack */
	struct vg_alerts_opts o = {0};
	struct vg_wal_report rep;
	struct vg_alerts_stats st;
	struct vg_alerts *s;
	struct event_base *base = event_base_new();
	long n, pods;
	bool as_json = argc > 1 && !strcmp(argv[1], "--json");
	char err[512], dir[512];
	double t0, t1, write_s;
	unsigned long long fsyncs, alerts;

	if (!ev)
		return fprintf(stderr, "out of memory\n"), 1;
	argc -= as_json;
	argv += as_json;
	if (argc < 3)
		return fprintf(stderr, "usage: store_bench [--json] DIR N [PODS]\n"), 2;
	n = atol(argv[2]);
	pods = argc > 3 ? atol(argv[3]) : 1000;
	snprintf(dir, sizeof(dir), "%s/store", argv[1]);
	o.dir = dir;
	if (n <= 0 || pods <= 0)
		return fprintf(stderr, "store_bench: N and PODS are positive counts\n"), 2;
	if (vg_alerts_open(&s, &o, base, &rep, err, sizeof(err)))
		return fprintf(stderr, "%s\n", err), 1;
	t0 = now();
	if (fill(s, base, ev, n, pods))
		return 1;
	write_s = now() - t0;
	vg_alerts_stats(s, &st);
	fsyncs = (unsigned long long)st.wal.fsyncs;
	alerts = (unsigned long long)st.alerts;
	printf("store: %ld violations durable in %.3f s: %.0f violations/s; %llu fsyncs (%.0f "
	       "violations per group commit); %llu alerts\n",
	       n, write_s, (double)n / write_s, fsyncs, (double)n / (double)(fsyncs ? fsyncs : 1),
	       alerts);
	vg_alerts_close(s);
	t0 = now();
	if (vg_alerts_open(&s, &o, NULL, &rep, err, sizeof(err)))
		return fprintf(stderr, "%s\n", err), 1;
	t1 = now();
	vg_alerts_stats(s, &st);
	printf("rebuild: %llu records (%llu violations, %llu alerts) in %.3f s\n",
	       (unsigned long long)rep.records, (unsigned long long)st.violations,
	       (unsigned long long)st.alerts, t1 - t0);
	if (as_json)
		printf("{\"violations\": %ld, \"write_s\": %.6f, \"violations_per_s\": %.1f, "
		       "\"fsyncs\": %llu, \"alerts\": %llu, \"records\": %llu, \"rebuild_s\": "
		       "%.6f}\n",
		       n, write_s, (double)n / write_s, fsyncs, alerts,
		       (unsigned long long)rep.records, t1 - t0);
	vg_alerts_close(s);
	event_base_free(base);
	free(ev);
	return 0;
}
