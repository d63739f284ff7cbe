// SPDX-License-Identifier: BSD-2-Clause
/*
 * replay_bench - the policy engine's throughput on exec traces.
 *
 *   replay_bench gen FILE N          write a synthetic trace of N execs with a
 *                                    node's process-name mix (~1% candidates)
 *   replay_bench run FILE [-r R] [-d POLICY_DIR]
 *                                    replay FILE R times through each stage
 *
 * Stages, each timed over the whole trace on one core:
 *   read     walk the trace's records (msgpack bin headers), nothing else
 *   decode   + vg_event_decode (what live events cost before the policies)
 *   engine   + the pipeline (pipeline.h) with the policies (the default pack, or -d),
 *            each violation counted: what `vigil replay` runs
 * Prints events/s and ns/event per stage, and the engine's counters.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine.h"
#include "pipeline.h"
#include "record.h"
#include "trace.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng % n);
}

struct kind {
	const char *exe;
	const char *args;
	int weight;
};

/* A node's exec mix: shells, runtimes, coreutils, probes; the last rows are candidates. */
static const struct kind mix[] = {
	{"/bin/sh", "-c /app/healthcheck.sh", 120},
	{"/bin/bash", "-c exec /usr/local/bin/entrypoint", 40},
	{"/usr/bin/python3", "/app/manage.py runjob --queue default", 60},
	{"/usr/local/bin/node", "/srv/app/worker.js --port 8080", 40},
	{"/usr/bin/java", "-Xmx512m -jar /opt/app/app.jar", 15},
	{"/bin/ls", "-la /var/log", 60},
	{"/bin/cat", "/proc/meminfo", 70},
	{"/bin/grep", "-c ERROR /var/log/app.log", 60},
	{"/bin/sed", "-e s/a/b/ /tmp/x", 30},
	{"/usr/bin/awk", "{print $1}", 30},
	{"/bin/date", "+%s", 50},
	{"/bin/sleep", "5", 50},
	{"/usr/bin/head", "-n 20 /tmp/out", 30},
	{"/usr/bin/curl", "-fsS http://localhost:8080/healthz", 120},
	{"/usr/bin/wget", "-q -O- http://127.0.0.1:9090/ready", 40},
	{"/usr/bin/pg_isready", "-h localhost -p 5432", 40},
	{"/usr/bin/redis-cli", "ping", 40},
	{"/usr/bin/nginx", "-s reload", 10},
	{"/usr/sbin/runc", "--root /run/runc state abc", 30},
	{"/usr/bin/containerd-shim-runc-v2", "-namespace k8s.io -id abc", 10},
	/* ~1%: what the default pack flags */
	{"/usr/bin/dpkg", "--version", 3},
	{"/usr/bin/apt-get", "update", 2},
	{"/bin/nc", "-z 10.0.0.1 443", 2},
	{"/sbin/ip", "addr", 2},
	{"/usr/bin/curl", "-k https://10.0.0.1:10250/pods", 1},
};

static const char *cgroup_of(uint32_t pod, uint32_t ctr, char *buf, size_t n)
{
	snprintf(buf, n, "/kubepods/besteffort/pod%08x-1111-2222-3333-%012x/%08x%08x%048x", pod,
		 pod, pod, ctr, 0);
	return buf;
}

static int gen(const char *path, long n)
{
	static unsigned char rec[sizeof(struct vg_exec) + VG_DATA_MAX];
	static struct vg_event ev;
	struct vg_trace_writer *w = vg_trace_create(path, 0);
	int total = 0;
	static const char *const anc_exe[] = {"/usr/bin/containerd-shim-runc-v2", "/bin/sh",
					      "/usr/lib/systemd/systemd"};

	if (!w) {
		perror(path);
		return 1;
	}
	for (size_t i = 0; i < sizeof(mix) / sizeof(mix[0]); i++)
		total += mix[i].weight;
	for (long i = 0; i < n; i++) {
		int pick = (int)rnd((uint32_t)total), k = 0;
		char cg[256], argbuf[256], *argv[16];
		int argc = 0;
		struct vg_ancestor anc[3] = {{100, 0, 1, 0, 1}, {200, 0, 1, 0, 2}, {1, 0, 1, 0, 0}};
		bool host = rnd(10) < 3; /* 30% host processes */
		struct vg_record_spec s = {0};

		while (pick >= mix[k].weight)
			pick -= mix[k++].weight;
		argv[argc++] = (char *)mix[k].exe;
		snprintf(argbuf, sizeof(argbuf), "%s", mix[k].args);
		for (char *t = strtok(argbuf, " "); t && argc < 15; t = strtok(NULL, " "))
			argv[argc++] = t;
		s.exe = mix[k].exe;
		/* the mapped exe's name, as the kernel sends it */
		s.exe_name = strrchr(s.exe, '/') + 1;
		s.argv = (const char *const *)argv;
		s.argc = argc;
		s.cwd = host ? "/root" : "/app";
		s.cgroup = host ? "/system.slice/kubelet.service"
				: cgroup_of(rnd(40), rnd(3), cg, sizeof(cg)); /* 40 pods x 3 */
		s.pid = 1000 + (uint32_t)i;
		s.ppid = 200;
		s.uid = s.euid = rnd(2) ? 0 : 1000;
		s.boot_ns = (uint64_t)i * 1000;
		s.cgroup_id = host ? 1 : 5000 + rnd(4800);
		s.anc = anc;
		s.nanc = 3;
		if (!vg_record_build(rec, sizeof(rec), &s) ||
		    vg_event_decode(&ev, rec, ((struct vg_exec *)rec)->size, 0)) {
			fprintf(stderr, "gen: record %ld does not build\n", i);
			return 1;
		}
		for (int a = 0; a < 3; a++) {
			snprintf(ev.lineage_buf[a], VG_EXE_MAX, "%s", anc_exe[a]);
			ev.lineage[a].exe = ev.lineage_buf[a];
		}
		ev.n_lineage = 3;
		ev.lineage_done = true;
		if (vg_trace_write(w, &ev)) {
			fprintf(stderr, "gen: write failed\n");
			return 1;
		}
	}
	return vg_trace_close(w) ? 1 : 0;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

enum stage { S_READ, S_DECODE, S_ENGINE };

static uint64_t violations;

static void on_v(void *ctx, struct vg_event *ev, int pol, const struct vg_policy_info *p,
		 const struct vg_match_by *by)
{
	(void)by;
	(void)ctx;
	(void)ev;
	(void)pol;
	(void)p;
	violations++;
}

static int run(const char *path, int reps, const char *dir)
{
	static const char *const names[] = {"read+decode (trace walk)", "  the same, again",
					    "engine (decode + policies)"};
	struct vg_engine_opts eo = {.dir = dir, .lineage_fn = vg_trace_lineage};
	struct vg_load_error *errs;
	struct vg_engine *e;
	struct vg_pipeline *p;
	struct vg_pipeline_opts po = {.report = on_v};
	struct vg_engine_stats st;
	static struct vg_event ev;
	double t[3] = {0};
	uint64_t n[3] = {0};
	int nerr;
	char err[512];

	if (vg_engine_load(&e, &eo, &errs, &nerr) || nerr) {
		for (int i = 0; i < nerr; i++)
			fprintf(stderr, "%s\n", errs[i].msg);
		return 1;
	}
	vg_load_errors_free(errs, nerr);
	po.engine = e;
	if (vg_pipeline_new(&p, &po, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	for (int s = 0; s < 3; s++) {
		for (int r = 0; r < reps; r++) {
			double t0 = now(); /* mapping the file counts: it is part of reading it */
			struct vg_trace_reader *tr = vg_trace_open(path, err, sizeof(err));
			int rc;

			if (!tr) {
				fprintf(stderr, "%s\n", err);
				return 1;
			}
			if (s < 2) {
				while ((rc = vg_trace_next(tr, &ev, err, sizeof(err))) == 1)
					n[s]++;
			} else {
				while ((rc = vg_trace_next(tr, &ev, err, sizeof(err))) == 1) {
					n[s]++;
					vg_pipeline_event(p, &ev);
				}
			}
			vg_trace_close_reader(tr);
			t[s] += now() - t0;
			if (rc < 0) {
				fprintf(stderr, "%s\n", err);
				return 1;
			}
		}
		printf("%-30s %12llu events %8.3f s %12.0f events/s %8.1f ns/event\n", names[s],
		       (unsigned long long)n[s], t[s], (double)n[s] / t[s],
		       t[s] * 1e9 / (double)n[s]);
	}
	vg_engine_stats(e, &st);
	printf("policies: %s; violations %llu (%.3f%% of events), candidates %llu, rejected %llu, "
	       "Lua calls %llu, Lua errors %llu\n",
	       dir ? dir : "default pack", (unsigned long long)st.matches,
	       100.0 * (double)st.matches / (double)n[2], (unsigned long long)st.candidates,
	       (unsigned long long)st.rejected, (unsigned long long)st.lua_calls,
	       (unsigned long long)st.lua_errors);
	printf("SUMMARY engine %.0f events/s per core, %.1f ns/event; policies alone %.1f "
	       "ns/event\n",
	       (double)n[2] / t[2], t[2] * 1e9 / (double)n[2],
	       (t[2] / (double)n[2] - t[1] / (double)n[1]) * 1e9);
	vg_pipeline_free(p);
	vg_engine_free(e);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 4 && !strcmp(argv[1], "gen"))
		return gen(argv[2], atol(argv[3]));
	if (argc >= 3 && !strcmp(argv[1], "run")) {
		int reps = 1;
		const char *dir = NULL;

		for (int i = 3; i + 1 < argc; i += 2) {
			if (!strcmp(argv[i], "-r"))
				reps = atoi(argv[i + 1]);
			else if (!strcmp(argv[i], "-d"))
				dir = argv[i + 1];
		}
		return run(argv[2], reps > 0 ? reps : 1, dir);
	}
	fprintf(stderr, "usage: replay_bench gen FILE N | run FILE [-r REPEAT] [-d POLICY_DIR]\n");
	return 2;
}
