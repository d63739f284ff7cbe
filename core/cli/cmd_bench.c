// SPDX-License-Identifier: BSD-2-Clause
/*
 * cmd_bench.c - `vigil bench ...`: the benchmark harness of the source tree this vigil
 * was built from (bench/vigil-bench, Python), run with this binary's build directory.
 * An installed vigil whose source tree is gone says so instead.
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "log.h"

#ifndef VIGIL_SOURCE_DIR
#define VIGIL_SOURCE_DIR "."
#endif

static const char usage_text[] =
	"usage: vigil bench [run] [--quick | --full | --tiny] [--build DIR] [--out DIR]\n"
	"                         [--only A,B] [--skip A,B] [--peer NAME=CMD]... [--no-peers]\n"
	"       vigil bench compare OLD.json NEW.json [--fail-above PCT] [--json]\n"
	"       vigil bench report RESULTS.json [--out DIR]\n"
	"\n"
	"Runs vigil's benchmark suites in order (exec, memory, replay, store, api, kill,\n"
	"notify) and writes results.json (every sample), summary.md and SVG plots into --out\n"
	"(default bench/out/<UTC time> of the source tree). Runs from a source checkout\n"
	"built with make; the build directory is this binary's unless --build is given.\n"
	"Without a command (`vigil bench`, `vigil bench --quick`) it runs the suites.\n"
	"  --quick            small sizes: the whole run in about two minutes\n"
	"  --full             the default: each suite up to a few minutes\n"
	"  --tiny             a few seconds a suite: checks the harness, not the code\n"
	"  --only, --skip     suites to run, or not, by name (comma-separated)\n"
	"  --peer NAME=CMD    also measure CMD beside vigil in the exec storm (repeatable);\n"
	"                     execsnoop and bpftrace are measured when installed\n"
	"  --no-peers         do not run execsnoop or bpftrace\n"
	"  --fail-above PCT   compare: exit 1 when a figure is worse by more than PCT %\n"
	"                     beyond its noise band (a CI gate)\n"
	"  --json             compare: print the comparison as JSON\n"
	"Exit status: 0 every suite ran, 1 some suite failed (see its errors), 2 bad input.\n";

/* The directory of the running binary, into dir (n bytes); 0 or -errno. */
static int self_dir(char *dir, size_t n)
{
	ssize_t len = readlink("/proc/self/exe", dir, n - 1);
	char *slash;

	if (len < 0)
		return -errno;
	dir[len] = '\0';
	slash = strrchr(dir, '/');
	if (!slash)
		return -ENOENT;
	*slash = '\0';
	return 0;
}

/* true when args (argc of them) name --build already. */
static bool has_build(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--"))
			break;
		if (!strcmp(argv[i], "--build") || !strncmp(argv[i], "--build=", 8))
			return true;
	}
	return false;
}

int vg_cmd_bench(int argc, char **argv)
{
	char script[PATH_MAX], build[PATH_MAX];
	const char *cmd = "run"; /* `vigil bench [--quick]`: run is what people mean */
	char **args;
	int n = 0, first = 1, rc;

	if (argc >= 2 &&
	    (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help"))) {
		fputs(usage_text, stdout);
		return 0;
	}
	if (argc >= 2 && argv[1][0] != '-') {
		cmd = argv[1];
		first = 2;
	}
	(void)snprintf(script, sizeof(script), "%s/bench/vigil-bench", VIGIL_SOURCE_DIR);
	if (access(script, R_OK)) {
		vg_err("vigil bench runs from a source checkout built with make: this vigil was "
		       "built from %s, which has no bench/vigil-bench now (an installed vigil); "
		       "run it from the checkout's build, e.g. build/vigil bench run",
		       VIGIL_SOURCE_DIR);
		return 1;
	}
	args = calloc((size_t)argc + 4, sizeof(*args));
	if (!args)
		return vg_err("out of memory"), 1;
	args[n++] = "python3";
	args[n++] = script;
	args[n++] = (char *)cmd;
	if (!strcmp(cmd, "run") && !has_build(argc, argv)) {
		rc = self_dir(build, sizeof(build));
		if (rc) {
			vg_err("vigil bench: cannot tell this binary's directory: %s; pass --build "
			       "DIR",
			       strerror(-rc));
			free(args);
			return 1;
		}
		args[n++] = "--build";
		args[n++] = build;
	}
	for (int i = first; i < argc; i++)
		args[n++] = argv[i];
	args[n] = NULL;
	(void)fflush(NULL);
	execvp("python3", args);
	vg_err("vigil bench: cannot run python3: %s (install python3)", strerror(errno));
	free(args);
	return 1;
}
