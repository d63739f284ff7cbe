// SPDX-License-Identifier: BSD-2-Clause
/*
 * kill_bench - exec-to-kill latency against a running `vigil run`.
 *
 *   kill_bench [--json] [--sleep MS] proc BIN N
 *                                spawn BIN N times; time from spawn to reap; count
 *                                SIGKILLed runs and runs whose marker file appeared
 *   kill_bench [--json] [--sleep MS] pod BIN N
 *                                the same, each run in a fresh cgroup named like a
 *                                container (libpod-<64 hex>) holding a sleeper too;
 *                                time from spawn until the cgroup is empty
 *
 * BIN is the marker (tests/integration/marker.c): it creates argv[1] first
 * thing, so "marker written" means the binary ran instructions of its own.
 * The marker then sleeps MS milliseconds (default 200), so a run that was not
 * killed stands out. Prints p50/p90/p99/max in microseconds, or with --json
 * every run: its latency, whether SIGKILL ended it and whether its marker file
 * appeared. Needs root (cgroups, the daemon).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void report(const char *what, double *v, int n, int killed, int ran)
{
	qsort(v, (size_t)n, sizeof(*v), cmp);
	printf("%s: n=%d killed=%d marker_written=%d p50=%.0fus p90=%.0fus p99=%.0fus max=%.0fus\n",
	       what, n, killed, ran, v[n / 2], v[n * 9 / 10], v[n * 99 / 100], v[n - 1]);
}

static const char *root(void)
{
	return access("/sys/fs/cgroup/unified/cgroup.procs", F_OK) == 0 ? "/sys/fs/cgroup/unified"
									: "/sys/fs/cgroup";
}

static int write_str(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), rc = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, s, strlen(s)) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

static int procs_in(const char *cg)
{
	char p[512], buf[4096];
	int fd, n = 0;
	ssize_t r;

	snprintf(p, sizeof(p), "%s/cgroup.procs", cg);
	fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	while ((r = read(fd, buf, sizeof(buf))) > 0)
		for (ssize_t i = 0; i < r; i++)
			n += buf[i] == '\n';
	close(fd);
	return n;
}

/* fork a child into cgroup cg, then exec argv there */
static pid_t spawn_in(const char *cg, char **argv)
{
	pid_t pid = fork();

	if (pid == 0) {
		char p[512], me[32];

		if (cg) {
			snprintf(p, sizeof(p), "%s/cgroup.procs", cg);
			snprintf(me, sizeof(me), "%d", getpid());
			if (write_str(p, me))
				_exit(126);
		}
		execve(argv[0], argv, environ);
		_exit(127);
	}
	return pid;
}

/* one run: spawn BIN (in a fresh "pod" cgroup in pod mode), wait; its latency in *lat */
static int run_one(bool pod, const char *bin, int i, const char *mark, const char *sleep_ms,
		   double *lat, int *st)
{
	char *av[] = {(char *)bin, (char *)mark, (char *)sleep_ms, NULL};
	char cg[512] = "";
	pid_t sleeper = 0, pid;
	double t0;

	unlink(mark);
	if (pod) {
		char *sl[] = {"/bin/sleep", "60", NULL};
		char parent[256];

		snprintf(parent, sizeof(parent), "%s/vigil-bench-%d", root(), getpid());
		mkdir(parent, 0755);
		snprintf(cg, sizeof(cg), "%s/libpod-%064x", parent, i);
		if (mkdir(cg, 0755) && errno != EEXIST)
			return fprintf(stderr, "kill_bench: %s: %s\n", cg, strerror(errno)), -EIO;
		sleeper = spawn_in(cg, sl);
		while (procs_in(cg) < 1)
			usleep(100);
	}
	t0 = now_us();
	pid = spawn_in(cg[0] ? cg : NULL, av);
	if (pid < 0 || waitpid(pid, st, 0) < 0)
		return fprintf(stderr, "kill_bench: spawn %s: %s\n", bin, strerror(errno)), -EIO;
	if (pod) {
		while (procs_in(cg) > 0 && now_us() - t0 < 5e6)
			usleep(50);
		*lat = now_us() - t0;
		if (sleeper)
			kill(sleeper, SIGKILL), waitpid(sleeper, NULL, 0);
		rmdir(cg);
	} else {
		*lat = now_us() - t0;
	}
	return 0;
}

/* --json: every run, as one JSON object on stdout */
static void report_json(const char *mode, const double *v, const char *sig, const char *ran, int n,
			int killed, int nran)
{
	printf("{\"mode\": \"%s\", \"n\": %d, \"killed\": %d, \"marker_written\": %d,\n", mode, n,
	       killed, nran);
	printf(" \"latency_us\": [");
	for (int i = 0; i < n; i++)
		printf("%s%.1f", i ? ", " : "", v[i]);
	printf("],\n \"signalled\": [");
	for (int i = 0; i < n; i++)
		printf("%s%d", i ? ", " : "", sig[i]);
	printf("],\n \"marker\": [");
	for (int i = 0; i < n; i++)
		printf("%s%d", i ? ", " : "", ran[i]);
	printf("]}\n");
}

int main(int argc, char **argv)
{
	const char *sleep_ms = "200";
	bool json = false, pod;
	char *sig, *ran, mark[64];
	double *lat;
	int n, a = 1, killed = 0, nran = 0;

	for (; a < argc && !strncmp(argv[a], "--", 2); a++) {
		if (!strcmp(argv[a], "--json"))
			json = true;
		else if (!strcmp(argv[a], "--sleep") && a + 1 < argc)
			sleep_ms = argv[++a];
		else
			break;
	}
	if (argc - a != 3 || (strcmp(argv[a], "proc") && strcmp(argv[a], "pod")) ||
	    (n = atoi(argv[a + 2])) < 1)
		return fprintf(stderr, "usage: kill_bench [--json] [--sleep MS] proc|pod BIN N\n"),
		       2;
	pod = !strcmp(argv[a], "pod");
	snprintf(mark, sizeof(mark), "/tmp/vigil-kill-bench-mark-%d", getpid());
	lat = calloc((size_t)n, sizeof(*lat));
	sig = calloc((size_t)n, 1);
	ran = calloc((size_t)n, 1);
	if (!lat || !sig || !ran)
		return fprintf(stderr, "kill_bench: out of memory\n"), 1;
	for (int i = 0; i < n; i++) {
		int st;

		if (run_one(pod, argv[a + 1], i, mark, sleep_ms, &lat[i], &st))
			return 1;
		sig[i] = WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL;
		ran[i] = access(mark, F_OK) == 0;
		killed += sig[i];
		nran += ran[i];
	}
	unlink(mark);
	if (pod) {
		char parent[512];

		snprintf(parent, sizeof(parent), "%s/vigil-bench-%d", root(), getpid());
		rmdir(parent);
	}
	if (json)
		report_json(argv[a], lat, sig, ran, n, killed, nran);
	else
		report(pod ? "exec to empty cgroup" : "exec to reap", lat, n, killed, nran);
	return 0;
}
