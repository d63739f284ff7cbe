// SPDX-License-Identifier: BSD-2-Clause
/*
 * cmd_console.c - `vigil console`: asks the running daemon for a one-time
 * sign-in code for its web console and prints the link that uses it.
 */
#include <getopt.h>
#include <stdio.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"
#include "client.h"
#include "log.h"

static const char usage_text[] =
	"usage: vigil console [--config FILE] [--data-dir DIR] [--json]\n"
	"\n"
	"Asks the vigil daemon running on the data directory for a sign-in link to its web\n"
	"console and prints it. The link works once, within minutes (api.console_code_ttl);\n"
	"the session it opens lasts api.console_session_ttl (12 h).\n"
	"  --json  print the daemon's answer: {\"code\", \"url\", \"expiresAt\", ...}\n";

/* "5 minutes", "1 minute", "30 seconds" for s seconds, into out (n bytes). */
static const char *duration(long long s, char *out, size_t n)
{
	if (s >= 60 && s % 60 == 0)
		(void)snprintf(out, n, "%lld minute%s", s / 60, s == 60 ? "" : "s");
	else
		(void)snprintf(out, n, "%lld second%s", s, s == 1 ? "" : "s");
	return out;
}

static int ask(const struct vg_config *cfg, bool as_json)
{
	int lock = -1;
	json_t *r = NULL;
	const char *url;
	char d[64];

	if (vg_client_daemon_running(cfg, &lock))
		r = vg_client_api(cfg, "POST", "/v1/console/codes", NULL);
	else
		vg_err("no vigil daemon runs on %s: start it ('vigil run'), or pass the "
		       "--data-dir (or --config) it runs with",
		       cfg->data_dir);
	if (lock >= 0)
		(void)close(lock); /* a lock only: closing releases it */
	if (!r)
		return 1;
	url = json_string_value(json_object_get(r, "url"));
	if (as_json) {
		(void)json_dumpf(r, stdout, JSON_INDENT(2)); /* stdout: its errors show at exit */
		printf("\n");
	} else if (url) {
		printf("Open %s\n", url);
		printf("The link is valid for %s, once.\n",
		       duration(json_integer_value(json_object_get(r, "validSeconds")), d,
				sizeof(d)));
	}
	json_decref(r);
	if (!url && !as_json)
		vg_err("the daemon answered without a link: is it a vigil of this version?");
	return url ? 0 : 1;
}

int vg_cmd_console(int argc, char **argv)
{
	static const struct option lo[] = {
		{"config", required_argument, NULL, 'c'},
		{"data-dir", required_argument, NULL, 'd'},
		{"json", no_argument, NULL, 'j'},
		{0},
	};
	const char *config = NULL, *data_dir = NULL;
	struct vg_config cfg;
	bool as_json = false;
	int opt, rc;

	if (vg_asks_help(argc, argv)) {
		fputs(usage_text, stdout);
		return 0;
	}
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (opt == 'c')
			config = optarg;
		else if (opt == 'd')
			data_dir = optarg;
		else if (opt == 'j')
			as_json = true;
		else
			return vg_usage_unknown("console", argv[optind - 1], optopt);
	}
	if (optind < argc)
		return vg_usage_error("console", "unexpected argument '%s'", argv[optind]);
	rc = vg_cli_config(&cfg, config, data_dir);
	if (rc)
		return rc;
	return ask(&cfg, as_json);
}
