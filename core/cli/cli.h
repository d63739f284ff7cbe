/* SPDX-License-Identifier: BSD-2-Clause */
/* cli.h - the vigil command line: subcommands and their shared helpers. */
#ifndef VG_CLI_H
#define VG_CLI_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "engine.h"
#include "parse.h"

/* Subcommands: each returns the process exit status (0 ok, 1 failure, 2 usage). */
int vg_cmd_events(int argc, char **argv);
int vg_cmd_policy(int argc, char **argv);
int vg_cmd_record(int argc, char **argv);
int vg_cmd_replay(int argc, char **argv);
int vg_cmd_run(int argc, char **argv);
int vg_cmd_violations(int argc, char **argv);
int vg_cmd_notifiers(int argc, char **argv);
int vg_cmd_baselines(int argc, char **argv);
int vg_cmd_console(int argc, char **argv);
int vg_cmd_bench(int argc, char **argv);

/* true when argv (a subcommand's, argv[0] its name) asks for help: -h or --help before "--". */
bool vg_asks_help(int argc, char **argv);

/* Prints "vigil CMD: <message> (see 'vigil CMD --help')" and returns 2. */
int vg_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The same for an option getopt did not know or that lacked its argument. */
int vg_usage_unknown(const char *cmd, const char *arg, int optopt);

/* The configuration: the file (--config, else ./vigil.conf.lua), then --data-dir over it.
 * 0, or 2 (the usage status) with the error printed. */
int vg_cli_config(struct vg_config *cfg, const char *config, const char *data_dir);

/*
 * The policies as the daemon loads them: DIR alone when --dir DIR is given, else
 * policy_dir (and the default pack unless builtin_policies = false), else the default pack.
 * The strings stay cfg's and dir's.
 */
struct vg_engine_opts vg_cli_engine_opts(const struct vg_config *cfg, const char *dir);

/*
 * The live enabled and enforcement state put on e's policies: the running daemon's (its
 * API), else what the store's policy settings recorded; the files' own when there is no
 * store. 0, or -errno with the error printed.
 */
int vg_cli_live_state(const struct vg_config *cfg, struct vg_engine *e);

/* --policy F: F a case-insensitive substring of the policy's name; NULL F: any name. */
bool vg_cli_policy_matches(const char *name, const char *filter);

/* A short alert id: at least this many characters of one id's beginning (as git's). */
#define VG_CLI_ID_PREFIX_MIN 4

/*
 * The one id of ids[0..n) that is prefix or starts with it; NULL with the error in err
 * (too short, no match, or ambiguous with the candidates named).
 */
const char *vg_cli_id_prefix(const char *const *ids, int n, const char *prefix, char *err,
			     size_t errlen);

/* An alert id (a uuid) and its NUL. */
#define VG_CLI_ALERT_ID_LEN 37

struct vg_alerts;

/* arg (an alert id or its first characters) as the full id of one of the store's alerts,
 * into id; 0, or 1 with the error printed. */
int vg_cli_store_alert_id(struct vg_alerts *s, const char *arg, char id[VG_CLI_ALERT_ID_LEN]);
/* The same among the alerts of the daemon's API (a full id is taken as it is). */
int vg_cli_api_alert_id(const struct vg_config *cfg, const char *arg, char id[VG_CLI_ALERT_ID_LEN]);

#endif
