// SPDX-License-Identifier: BSD-2-Clause
/*
 * execstorm - N spawn+exec+wait of a binary, sequential or from P workers.
 *
 *   execstorm [-p P] N [BIN [ARGS...]]      (BIN defaults to /bin/true)
 *
 * Prints one line: "execs=N workers=P seconds=S execs_per_s=R us_per_exec=U"
 * where us_per_exec is wall time per exec per worker. Exits 1 if any child
 * failed, so a broken run is never mistaken for a fast one.
 */
#define _GNU_SOURCE
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int worker(long n, char **argv)
{
	long bad = 0;

	for (long i = 0; i < n; i++) {
		pid_t pid;
		int st;

		if (posix_spawn(&pid, argv[0], NULL, NULL, argv, environ)) {
			perror("posix_spawn");
			return 1;
		}
		if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st))
			bad++;
	}
	return bad ? 1 : 0;
}

int main(int argc, char **argv)
{
	char *dflt[] = {"/bin/true", NULL};
	int p = 1, i = 1, failed = 0;
	long n;
	double t0, dt;

	if (argc > 2 && !strcmp(argv[1], "-p")) {
		p = atoi(argv[2]);
		i = 3;
	}
	if (i >= argc || p < 1 || (n = atol(argv[i])) < 1) {
		fprintf(stderr, "usage: execstorm [-p P] N [BIN [ARGS...]]\n");
		return 2;
	}
	t0 = now();
	for (int w = 0; w < p; w++) {
		pid_t pid = fork();

		if (pid == 0)
			_exit(worker(n / p + (w < n % p), i + 1 < argc ? argv + i + 1 : dflt));
	}
	for (int w = 0; w < p; w++) {
		int st;

		if (wait(&st) < 0 || !WIFEXITED(st) || WEXITSTATUS(st))
			failed = 1;
	}
	dt = now() - t0;
	printf("execs=%ld workers=%d seconds=%.3f execs_per_s=%.0f us_per_exec=%.1f\n", n, p, dt,
	       (double)n / dt, dt * 1e6 * p / (double)n);
	return failed;
}
