// SPDX-License-Identifier: BSD-2-Clause
/* main.c - `vigil COMMAND ...`: hands the command line to one subcommand. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "log.h"

#ifndef VIGIL_VERSION
#define VIGIL_VERSION "0.1.0"
#endif

static const char usage_text[] =
	"usage: vigil COMMAND [options]\n"
	"\n"
	"  run        the daemon: policies on every exec, violations stored, REST API\n"
	"  events     live process executions as text or JSON lines, with lineage and\n"
	"             container identity\n"
	"  policy     list, show, test and lint policies\n"
	"  violations list, show and resolve alerts\n"
	"  notifiers  list, test, outbox, retry\n"
	"  baselines  process baselines: list, show, lock, unlock, add, remove\n"
	"  console    print a sign-in link to the running daemon's web console\n"
	"  record     write live execs to a trace file\n"
	"  replay     run a trace through the policies; print the matches\n"
	"  bench      run the benchmark suites, report them, compare two runs\n"
	"  version    print the version (--json: as JSON)\n"
	"\n"
	"'vigil COMMAND --help' describes a command.\n";

/* `vigil version [--json]`: exit status 0, or 2 for an unknown argument. */
static int version(int argc, char **argv)
{
	bool as_json = false;

	if (vg_asks_help(argc, argv)) {
		puts("usage: vigil version [--json]\nPrints the version (--json: as "
		     "{\"version\": \"...\"}).");
		return 0;
	}
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json"))
			return vg_usage_error("version", "unknown argument '%s'", argv[i]);
		as_json = true;
	}
	if (as_json)
		printf("{\"version\": \"%s\"}\n", VIGIL_VERSION);
	else
		printf("vigil %s\n", VIGIL_VERSION);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(int, char **);
	} cmds[] = {
		{"run", vg_cmd_run},
		{"events", vg_cmd_events},
		{"policy", vg_cmd_policy},
		{"record", vg_cmd_record},
		{"violations", vg_cmd_violations},
		{"notifiers", vg_cmd_notifiers},
		{"baselines", vg_cmd_baselines},
		{"console", vg_cmd_console},
		{"replay", vg_cmd_replay},
		{"bench", vg_cmd_bench},
	};

	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") ||
	    !strcmp(argv[1], "help")) {
		fputs(usage_text, argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (!strcmp(argv[1], "version") || !strcmp(argv[1], "--version"))
		return version(argc - 1, argv + 1);
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(argv[1], cmds[i].name))
			return cmds[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "vigil: unknown command '%s' (see 'vigil --help')\n", argv[1]);
	return 2;
}
