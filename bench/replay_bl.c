// SPDX-License-Identifier: BSD-2-Clause
/*
 * replay_bl - the pipeline's cost of process baselines on a trace of 1,000 containers.
 *
 *   replay_bl gen FILE N [U]    a trace of N execs spread over 1,000 containers (each
 *                               its own cgroup, so its own container id), U % of them
 *                               (default 2) a path outside the container's 200 paths,
 *                               the rest one of them
 *   replay_bl run FILE on|off [store|report]
 *                               replay FILE through the pipeline with the default pack
 *                               and a store, with process baselines on (1,000 locked
 *                               baselines of the trace's 200 paths, made before the
 *                               replay) or off; store (the default): the flow stores
 *                               each violation; report: each violation is counted
 *                               instead, as replay_bench does (the pipeline checks
 *                               baselines only with a flow, so the replay runs the
 *                               baseline step itself, where the pipeline would)
 *
 * A trace carries no container name or image (the live pipeline reads them from the
 * runtime's state), and a baseline's key needs one of Kubernetes' deployment or the
 * image: the replay gives each event its container's name and image (from its cgroup
 * id) as that lookup would, in both modes. Paths are shared as images share them:
 * 50 images, 150 paths common to all and 50 of each image's own.
 * Instructions per event: run under callgrind at two sizes and take the difference.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alerts.h"
#include "baseline.h"
#include "baselines.h"
#include "engine.h"
#include "pipeline.h"
#include "record.h"
#include "trace.h"
#include "wal.h"

#define N_CTRS	   1000
#define N_IMAGES   50
#define N_COMMON   150
#define N_PATHS	   200
#define UNEXPECTED 2 /* percent of execs outside the baseline, unless told */

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng % n);
}

static const char *const dirs[] = {"/usr/bin", "/bin", "/usr/sbin", "/usr/local/bin"};
static const char *const tools[] = {"python3", "sh",   "bash", "curl", "node", "java", "ls",
				    "cat",     "grep", "sed",  "awk",  "env",  "date", "head"};

/* The i-th path of an image: the first N_COMMON the same for all images. */
static void path_of(int image, int i, char *buf, size_t n)
{
	if (i < N_COMMON)
		snprintf(buf, n, "%s/%s%d", dirs[i % 4], tools[i % 14], i / 14);
	else
		snprintf(buf, n, "/opt/app-%d/bin/worker-%d", image, i - N_COMMON);
}

static const char *cgroup_of(int ctr, char *buf, size_t n)
{
	snprintf(buf, n, "/kubepods/besteffort/pod%08x-1111-2222-3333-%012x/%08x%056x", ctr, ctr,
		 ctr, 0);
	return buf;
}

/* What the runtime's state names container ctr (ctrinfo.c, live): its name and image,
   made once and copied into each event with the cache entry's serial, as a lookup in
   that cache would. */
static void name_ctr(struct vg_event *ev, int ctr)
{
	static char names[N_CTRS][16], images[N_IMAGES][64];

	if (!names[ctr][0])
		snprintf(names[ctr], sizeof(names[ctr]), "app-%d", ctr);
	if (!images[ctr % N_IMAGES][0])
		snprintf(images[ctr % N_IMAGES], sizeof(images[0]),
			 "registry.example.com/team/image-%d:1.0", ctr % N_IMAGES);
	memcpy(ev->ctr_name, names[ctr], sizeof(names[ctr]));
	memcpy(ev->ctr_image, images[ctr % N_IMAGES], sizeof(images[0]));
	ev->ctr_names_serial = (uint64_t)ctr + 1; /* as the runtime's state cache stamps them */
}

/* Container ctr's exec of exe, decoded as the trace reader gives it back. */
static int build(struct vg_event *ev, int ctr, const char *exe, long i)
{
	static unsigned char rec[sizeof(struct vg_exec) + VG_DATA_MAX];
	struct vg_ancestor anc[2] = {{100, 0, 1, 0, 1}, {1, 0, 1, 0, 0}};
	const char *argv[] = {exe, "--run"};
	char cg[256];
	struct vg_record_spec s = {.exe = exe,
				   .exe_name = strrchr(exe, '/') + 1,
				   .argv = argv,
				   .argc = 2,
				   .cwd = "/app",
				   .cgroup = cgroup_of(ctr, cg, sizeof(cg)),
				   .pid = 1000 + (uint32_t)i,
				   .ppid = 100,
				   .boot_ns = (uint64_t)i * 1000,
				   .cgroup_id = 5000 + (uint64_t)ctr,
				   .anc = anc,
				   .nanc = 2};

	if (!vg_record_build(rec, sizeof(rec), &s) ||
	    vg_event_decode(ev, rec, ((struct vg_exec *)rec)->size, 0))
		return -1;
	snprintf(ev->lineage_buf[0], VG_EXE_MAX, "%s", "/usr/bin/containerd-shim-runc-v2");
	ev->lineage[0].exe = ev->lineage_buf[0];
	ev->n_lineage = 1;
	ev->lineage_done = true;
	return 0;
}

static int gen(const char *path, long n, uint32_t unexpected)
{
	static struct vg_event ev;
	struct vg_trace_writer *w = vg_trace_create(path, 0);
	char exe[128];

	if (!w) {
		perror(path);
		return 1;
	}
	for (long i = 0; i < n; i++) {
		int ctr = (int)rnd(N_CTRS);

		if (rnd(100) < unexpected)
			snprintf(exe, sizeof(exe), "/usr/bin/unexpected-%u", rnd(20));
		else
			path_of(ctr % N_IMAGES, (int)rnd(N_PATHS), exe, sizeof(exe));
		if (build(&ev, ctr, exe, i) || vg_trace_write(w, &ev)) {
			fprintf(stderr, "replay_bl: record %ld does not build or write\n", i);
			return 1;
		}
	}
	return vg_trace_close(w) ? 1 : 0;
}

/* Each container's baseline, keyed as the pipeline keys its execs, 200 paths, locked. */
static int fill(struct vg_baselines *b)
{
	static struct vg_event ev;
	char path[128];
	const char *paths[N_PATHS];
	static char buf[N_PATHS][128];
	char err[256];

	for (int c = 0; c < N_CTRS; c++) {
		struct vg_baseline_key k;
		const struct vg_baseline *bl;

		if (build(&ev, c, "/bin/true", 0))
			return -1;
		name_ctr(&ev, c);
		vg_bl_key_of(&ev, &k);
		for (int i = 0; i < N_PATHS; i++) {
			path_of(c % N_IMAGES, i, path, sizeof(path));
			snprintf(buf[i], sizeof(buf[i]), "%s", path);
			paths[i] = buf[i];
		}
		if (vg_baselines_ensure(b, &k, 1, 1, &bl) ||
		    vg_baselines_add(b, bl, paths, N_PATHS, 2, err, sizeof(err)) ||
		    vg_baselines_lock(b, bl, true, true, 3)) {
			fprintf(stderr, "replay_bl: baseline %d: %s\n", c, err);
			return -1;
		}
	}
	return 0;
}

static uint64_t reported;

static void on_v(void *ctx, struct vg_event *ev, int pol, const struct vg_policy_info *pi,
		 const struct vg_match_by *by)
{
	(void)ctx;
	(void)ev;
	(void)pol;
	(void)pi;
	(void)by;
	reported++;
}

/* bl: the baseline step the report mode runs itself, as vg_pipeline_event would; or NULL */
static int replay(struct vg_pipeline *p, struct vg_bl *bl, const char *path, long *n)
{
	static struct vg_event ev;
	char err[512];
	struct vg_trace_reader *tr = vg_trace_open(path, err, sizeof(err));
	int rc;

	if (!tr) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	while ((rc = vg_trace_next(tr, &ev, err, sizeof(err))) == 1) {
		name_ctr(&ev, (int)(ev.rec->cgroup_id - 5000));
		if (bl)
			vg_bl_exec(bl, &ev, ev.time_ns);
		vg_pipeline_event(p, &ev);
		++*n;
	}
	vg_trace_close_reader(tr);
	if (rc < 0)
		fprintf(stderr, "%s\n", err);
	return rc < 0;
}

static void print(bool on, bool report, long n, double ns, struct vg_pipeline *p, struct vg_bl *bl)
{
	struct vg_pipeline_stats st;
	struct vg_bl_stats bs = {0};

	vg_pipeline_stats(p, &st);
	if (bl)
		vg_bl_stats(bl, &bs);
	else
		bs = st.bl;
	printf("baselines %s (%s): %ld events, %.1f ns/event; violations %llu, %s %llu; "
	       "baseline checks %llu, unexpected %llu\n",
	       on ? "on" : "off", report ? "report" : "store", n, ns / (double)n,
	       (unsigned long long)(report ? reported : st.violations),
	       report ? "reported" : "stored", (unsigned long long)(report ? reported : st.stored),
	       (unsigned long long)bs.checked, (unsigned long long)bs.unexpected);
}

static int run(const char *path, bool on, bool report)
{
	char dir[64] = "/tmp/replay_bl-XXXXXX", err[512], cmd[128];
	struct vg_alerts_opts ao = {.dir = dir};
	struct vg_engine_opts eo = {.lineage_fn = vg_trace_lineage};
	struct vg_pipeline_opts po = {.baselines = on && !report,
				      .bl_observe_ns = 3600000000000ull};
	struct vg_load_error *errs;
	struct vg_wal_report rep;
	struct vg_pipeline *p;
	struct vg_bl *bl = NULL;
	struct vg_alerts *s;
	struct vg_engine *e;
	struct timespec t0, t1;
	long n = 0;
	int nerr, rc;

	if (!mkdtemp(dir) || vg_alerts_open(&s, &ao, NULL, &rep, err, sizeof(err)) ||
	    (on && fill(vg_alerts_baselines(s))) || vg_engine_load(&e, &eo, &errs, &nerr) || nerr)
		return 1;
	po.engine = e;
	po.alerts = s;
	if (report) {
		struct vg_bl_opts bo = {.store = vg_alerts_baselines(s),
					.observe_ns = po.bl_observe_ns};

		po.report = on_v;
		if (on && vg_bl_new(&bl, &bo))
			return 1;
	}
	if (vg_pipeline_new(&p, &po, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = replay(p, bl, path, &n);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	print(on, report, n,
	      (double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec), p, bl);
	vg_bl_free(bl);
	vg_pipeline_free(p);
	vg_engine_free(e);
	vg_alerts_close(s);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return rc || system(cmd) != 0;
}

int main(int argc, char **argv)
{
	if ((argc == 4 || argc == 5) && !strcmp(argv[1], "gen"))
		return gen(argv[2], atol(argv[3]),
			   argc == 5 ? (uint32_t)atoi(argv[4]) : UNEXPECTED);
	if ((argc == 4 || argc == 5) && !strcmp(argv[1], "run") &&
	    (!strcmp(argv[3], "on") || !strcmp(argv[3], "off")) &&
	    (argc == 4 || !strcmp(argv[4], "store") || !strcmp(argv[4], "report")))
		return run(argv[2], !strcmp(argv[3], "on"),
			   argc == 5 && !strcmp(argv[4], "report"));
	fprintf(stderr,
		"usage: replay_bl gen FILE N [UNEXPECTED%%] | run FILE on|off [store|report]\n");
	return 2;
}
