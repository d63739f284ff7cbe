// SPDX-License-Identifier: BSD-2-Clause
/*
 * kill_bench - exec-to-kill latency against a running `vigil run`.
 *
 *   kill_bench proc BIN N        spawn BIN N times; time from spawn to reap; count
 *                                SIGKILLed runs and runs whose marker file appeared
 *   kill_bench pod BIN N         the same, each run in a fresh cgroup named like a
 *                                container (libpod-<64 hex>) holding a sleeper too;
 *                                time from spawn until the cgroup is empty
 *
 * BIN is the marker (tests/integration/marker.c): it creates argv[1] first
 * thing, so "marker written" means the binary ran instructions of its own.
 * Prints p50/p90/p99/max in microseconds. Needs root (cgroups, the daemon).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
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

int main(int argc, char **argv)
{
	const char *mode, *bin;
	double *lat;
	int n, killed = 0, ran = 0;
	char mark[] = "/tmp/vigil-kill-bench-mark";

	if (argc != 4 || (strcmp(argv[1], "proc") && strcmp(argv[1], "pod")))
		return fprintf(stderr, "usage: kill_bench proc|pod BIN N\n"), 2;
	mode = argv[1];
	bin = argv[2];
	n = atoi(argv[3]);
	lat = calloc((size_t)n, sizeof(*lat));
	if (!lat || n < 1)
		return 2;
	for (int i = 0; i < n; i++) {
		char *av[] = {(char *)bin, mark, "200", NULL};
		char cg[512] = "";
		pid_t sleeper = 0, pid;
		int st;
		double t0;

		unlink(mark);
		if (!strcmp(mode, "pod")) {
			char *sl[] = {"/bin/sleep", "60", NULL};

			char parent[256];

			snprintf(parent, sizeof(parent), "%s/vigil-bench-%d", root(), getpid());
			mkdir(parent, 0755);
			snprintf(cg, sizeof(cg), "%s/libpod-%064x", parent, i);
			if (mkdir(cg, 0755) && errno != EEXIST)
				return perror(cg), 1;
			sleeper = spawn_in(cg, sl);
			while (procs_in(cg) < 1)
				usleep(100);
		}
		t0 = now_us();
		pid = spawn_in(cg[0] ? cg : NULL, av);
		if (waitpid(pid, &st, 0) < 0)
			return perror("waitpid"), 1;
		if (!strcmp(mode, "pod")) {
			while (procs_in(cg) > 0 && now_us() - t0 < 5e6)
				usleep(50);
			lat[i] = now_us() - t0;
			if (sleeper)
				kill(sleeper, SIGKILL), waitpid(sleeper, NULL, 0);
			rmdir(cg);
		} else {
			lat[i] = now_us() - t0;
		}
		killed += WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL;
		ran += access(mark, F_OK) == 0;
	}
	if (!strcmp(mode, "pod")) {
		char parent[512];

		snprintf(parent, sizeof(parent), "%s/vigil-bench-%d", root(), getpid());
		rmdir(parent);
	}
	report(!strcmp(mode, "pod") ? "exec to empty cgroup" : "exec to reap", lat, n, killed, ran);
	return 0;
}
