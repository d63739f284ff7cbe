/* SPDX-License-Identifier: BSD-2-Clause */
/* cli.h - the vigil command line: subcommands and their shared helpers. */
#ifndef VG_CLI_H
#define VG_CLI_H

#include <stdbool.h>
#include <stdint.h>

#include "parse.h"

/* Subcommands: each returns the process exit status (0 ok, 1 failure, 2 usage). */
int vg_cmd_events(int argc, char **argv);
int vg_cmd_policy(int argc, char **argv);
int vg_cmd_record(int argc, char **argv);
int vg_cmd_replay(int argc, char **argv);
int vg_cmd_run(int argc, char **argv);
int vg_cmd_violations(int argc, char **argv);
int vg_cmd_notifiers(int argc, char **argv);

/* true when argv (a subcommand's, argv[0] its name) asks for help: -h or --help before "--". */
bool vg_asks_help(int argc, char **argv);

/* Prints "vigil CMD: <message> (see 'vigil CMD --help')" and returns 2. */
int vg_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The same for an option getopt did not know or that lacked its argument. */
int vg_usage_unknown(const char *cmd, const char *arg, int optopt);

#endif
