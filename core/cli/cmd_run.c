// SPDX-License-Identifier: BSD-2-Clause
/* cmd_run.c - `vigil run`: its options; the daemon itself is daemon/. */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "daemon.h"
#include "log.h"

static const char run_usage[] =
	"usage: vigil run [options]\n"
	"The daemon: watches every exec, applies the policies, records violations.\n"
	"\n"
	"  --config FILE    vigil.conf.lua (default: ./vigil.conf.lua if it exists)\n"
	"  --data-dir DIR   where the store, the API token and the lock live (./var/vigil)\n"
	"  --policies DIR   policy files instead of the built-in default pack\n"
	"  --listen ADDR    API address (127.0.0.1:8077)\n"
	"  --fsync MODE     batch (group commit, default) or always\n"
	"  --dry-run        enforcing policies log what they would kill, and kill nothing\n"
	"  -v, --verbose    libbpf's log and debug messages\n";

int vg_cmd_run(int argc, char **argv)
{
	static const struct option lo[] = {
		{"config", required_argument, NULL, 'c'},
		{"data-dir", required_argument, NULL, 'd'},
		{"policies", required_argument, NULL, 'p'},
		{"listen", required_argument, NULL, 'l'},
		{"fsync", required_argument, NULL, 'f'},
		{"dry-run", no_argument, NULL, 'n'},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	struct vg_run_opts o = {0};
	int opt;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "vh", lo, NULL)) != -1) {
		switch (opt) {
		case 'c':
			o.config = optarg;
			break;
		case 'd':
			o.data_dir = optarg;
			break;
		case 'p':
			o.policies = optarg;
			break;
		case 'l':
			o.listen = optarg;
			break;
		case 'f':
			o.fsync = optarg;
			break;
		case 'n':
			o.dry_run = true;
			break;
		case 'v':
			o.verbose = true;
			vg_log_set_level(VG_LOG_DEBUG);
			break;
		case 'h':
			fputs(run_usage, stdout);
			return 0;
		default:
			return vg_usage_unknown("run", argv[optind - 1], optopt);
		}
	}
	if (optind < argc)
		return vg_usage_error("run", "unexpected argument '%s'", argv[optind]);
	if (o.fsync && strcmp(o.fsync, "always") && strcmp(o.fsync, "batch"))
		return vg_usage_error("run", "--fsync takes batch or always, not '%s'", o.fsync);
	return vg_daemon_run(&o);
}
