// SPDX-License-Identifier: BSD-2-Clause
/*
 * baseline_mem - what process baselines cost: heap for 1,000 baselines x 200
 * paths, the per-exec lookup, and the rebuild at open.
 *
 *   baseline_mem [DIR]
 *
 * Paths are shared as real images share them: 50 images, each with 150
 * paths common to all (/bin/sh, /usr/bin/python3, ...) and 50 of its own;
 * 1,000 containers spread over the images. Heap growth is mallinfo2's
 * in-use bytes after the store has synced (so the log's buffers are empty),
 * measured against the empty store. DIR (default a fresh /tmp directory)
 * must not hold a store yet; it is removed at the end.
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alerts.h"
#include "baselines.h"
#include "wal.h"

#define N_BASELINES 1000
#define N_IMAGES    50
#define N_COMMON    150
#define N_OWN	    50

static const char *const dirs[] = {"/usr/bin", "/bin", "/usr/sbin", "/usr/local/bin",
				   "/usr/lib/jvm/java-17-openjdk-amd64/bin"};
static const char *const tools[] = {"python3", "sh",  "bash", "curl", "node", "java",
				    "ls",      "cat", "grep", "sed",  "awk",  "env"};

static double now(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts); /* cannot fail */
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The i-th path of an image: the first N_COMMON the same for all images. */
static void path_of(int image, int i, char *buf, size_t n)
{
	if (i < N_COMMON)
		snprintf(buf, n, "%s/%s%d", dirs[i % 5], tools[i % 12], i / 12);
	else
		snprintf(buf, n, "/opt/app-%d/venv/lib/python3.11/site-packages/bin/worker-%d",
			 image, i - N_COMMON);
}

static size_t heap_in_use(void)
{
	struct mallinfo2 mi = mallinfo2();

	return mi.uordblks + mi.hblkhd;
}

static struct vg_alerts *open_store(const char *dir, double *secs)
{
	struct vg_alerts_opts o = {.dir = dir};
	struct vg_wal_report rep;
	struct vg_alerts *s;
	char err[256];
	double t0 = now();

	if (vg_alerts_open(&s, &o, NULL, &rep, err, sizeof(err))) {
		fprintf(stderr, "baseline_mem: %s\n", err);
		exit(1);
	}
	*secs = now() - t0;
	return s;
}

static void fill(struct vg_baselines *b)
{
	char path[256];

	for (int c = 0; c < N_BASELINES; c++) {
		struct vg_baseline_key k = {0};
		const struct vg_baseline *bl;
		int image = c % N_IMAGES;

		snprintf(k.namespace_, sizeof(k.namespace_), "team-%d", c % 20);
		snprintf(k.deployment, sizeof(k.deployment), "service-%d", c);
		snprintf(k.container, sizeof(k.container), "app");
		if (vg_baselines_ensure(b, &k, 1, 3600000000000ull, &bl)) {
			fprintf(stderr, "baseline_mem: ensure failed\n");
			exit(1);
		}
		for (int i = 0; i < N_COMMON + N_OWN; i++) {
			path_of(image, i, path, sizeof(path));
			if (vg_baselines_learn(b, bl, path, 2) != 1) {
				fprintf(stderr, "baseline_mem: learn %s failed\n", path);
				exit(1);
			}
		}
	}
}

static int image_of(const struct vg_baseline *bl)
{
	return atoi(bl->key.deployment + strlen("service-")) % N_IMAGES;
}

/* Lookups over every baseline, half hits, half misses, paths made beforehand; ns per lookup. */
static double lookup_ns(struct vg_baselines *b, long *hits)
{
	static char paths[N_IMAGES][N_COMMON + N_OWN][96], miss[50][64];
	const struct vg_baseline **list;
	size_t n;
	long calls = 0;
	double t0;

	for (int m = 0; m < N_IMAGES; m++)
		for (int i = 0; i < N_COMMON + N_OWN; i++)
			path_of(m, i, paths[m][i], sizeof(paths[m][i]));
	for (int r = 0; r < 50; r++)
		snprintf(miss[r], sizeof(miss[r]), "/usr/bin/unexpected-%d", r);
	if (vg_baselines_list(b, &list, &n))
		exit(1);
	*hits = 0;
	t0 = now();
	for (int round = 0; round < 50; round++) {
		for (size_t i = 0; i < n; i++) {
			const char *hit =
				paths[image_of(list[i])][(round * 7 + (int)i) % (N_COMMON + N_OWN)];

			*hits += vg_baselines_has(list[i], hit);
			*hits += vg_baselines_has(list[i], miss[round]);
			calls += 2;
		}
	}
	t0 = now() - t0;
	free(list);
	return t0 * 1e9 / (double)calls;
}

/* The same on one baseline: a container's execs in a row, its set in the cache. */
static double lookup_one_ns(struct vg_baselines *b)
{
	const struct vg_baseline **list;
	char paths[N_COMMON + N_OWN][96];
	size_t n;
	long hits = 0, calls = 0;
	double t0;

	if (vg_baselines_list(b, &list, &n) || !n)
		exit(1);
	for (int i = 0; i < N_COMMON + N_OWN; i++)
		path_of(image_of(list[0]), i, paths[i], sizeof(paths[i]));
	t0 = now();
	for (int round = 0; round < 2000; round++) {
		for (int i = 0; i < N_COMMON + N_OWN; i++) {
			hits += vg_baselines_has(list[0], paths[i]);
			hits += vg_baselines_has(list[0], "/usr/bin/unexpected");
			calls += 2;
		}
	}
	t0 = now() - t0;
	free(list);
	if (hits != calls / 2)
		exit(1);
	return t0 * 1e9 / (double)calls;
}

int main(int argc, char **argv)
{
	char dir[64] = "/tmp/baseline_mem-XXXXXX", cmd[128];
	struct vg_baselines_stats st;
	struct vg_alerts *s;
	size_t before, after, empty;
	double secs, t0, fill_secs;
	long hits;

	if (argc > 1)
		snprintf(dir, sizeof(dir), "%s", argv[1]);
	else if (!mkdtemp(dir))
		return 1;
	s = open_store(dir, &secs);
	vg_alerts_close(s);
	s = open_store(dir, &secs); /* the empty store's own heap, as at the reopen below */
	empty = heap_in_use();
	before = heap_in_use();
	t0 = now();
	fill(vg_alerts_baselines(s));
	fill_secs = now() - t0;
	if (vg_alerts_sync(s))
		return 1;
	after = heap_in_use();
	vg_baselines_stats(vg_alerts_baselines(s), &st);
	printf("baselines %llu, elements %llu, learned in %.2f s (with the log)\n",
	       (unsigned long long)st.baselines, (unsigned long long)st.elements, fill_secs);
	printf("heap growth while learning (with the log's buffers, no loop to drain them): "
	       "%.2f MiB (%.1f bytes per element)\n",
	       (double)(after - before) / (1024.0 * 1024.0),
	       (double)(after - before) / (double)st.elements);
	printf("vg_baselines_has: %.1f ns per lookup\n", lookup_ns(vg_alerts_baselines(s), &hits));
	if (hits != 50L * N_BASELINES) {
		fprintf(stderr, "baseline_mem: %ld hits, expected %d\n", hits, 50 * N_BASELINES);
		return 1;
	}
	vg_alerts_close(s);
	s = open_store(dir, &secs);
	after = heap_in_use();
	printf("reopen (replay of %llu elements): %.3f s\n", (unsigned long long)st.elements, secs);
	printf("heap of the baselines after reopen: %.2f MiB (%.1f bytes per element)\n",
	       (double)(after - empty) / (1024.0 * 1024.0),
	       (double)(after - empty) / (double)st.elements);
	printf("vg_baselines_has after reopen: %.1f ns per lookup over all baselines, "
	       "%.1f ns on one\n",
	       lookup_ns(vg_alerts_baselines(s), &hits), lookup_one_ns(vg_alerts_baselines(s)));
	vg_alerts_close(s);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) != 0;
}
