// SPDX-License-Identifier: BSD-2-Clause
/*
 * cmd_policy.c - `vigil policy list|show|test|lint`: the policy pack on the
 * command line, without a daemon.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <curl/curl.h>
#include <unistd.h>

#include "cli.h"
#include "client.h"
#include "config.h"
#include "enforcer.h"
#include "engine.h"
#include "log.h"

static const char usage_text[] =
	"usage: vigil policy COMMAND [options]\n"
	"\n"
	"  list [--filter TEXT] [--json]   the policies, their severity and state\n"
	"  show NAME [--json]              one policy in full, with its compiled criteria\n"
	"  test [FILE...]                  run every policy's embedded tests\n"
	"  lint FILE...                    check policy files; errors name file:line\n"
	"  enforce NAME [--action A]       kill on violation. kill_pod (default): the process\n"
	"                                  (in the kernel at exec where it can decide), then its\n"
	"                                  container (cgroup) or, with Kubernetes, its pod\n"
	"                                  (DELETE and Event); a host process alone.\n"
	"                                  kill_process: the process alone\n"
	"  inform NAME                     record violations only\n"
	"  enable NAME | disable NAME\n"
	"                                  (these four persist in the daemon's store and take\n"
	"                                  effect at once: through its API when it runs)\n"
	"  stats TRACE                     per-policy counters (candidates, matches, Lua\n"
	"                                  time, errors) over a trace from 'vigil record'\n"
	"\n"
	"  --dir DIR    use the policies in DIR instead of the built-in default pack\n";

struct popts {
	const char *dir, *filter;
	bool json;
	char **files;
	int nfiles;
};

static int parse(const char *cmd, int argc, char **argv, struct popts *o)
{
	static const struct option lo[] = {
		{"dir", required_argument, NULL, 'd'},
		{"filter", required_argument, NULL, 'f'},
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	int opt;

	memset(o, 0, sizeof(*o));
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (opt) {
		case 'd':
			o->dir = optarg;
			break;
		case 'f':
			o->filter = optarg;
			break;
		case 'j':
			o->json = true;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 1;
		default:
			return vg_usage_unknown(cmd, argv[optind - 1], optopt);
		}
	}
	o->files = argv + optind;
	o->nfiles = argc - optind;
	return 0;
}

/* Loads the pack (or files); prints load errors. Returns the engine or NULL. */
static struct vg_engine *load(const struct popts *o, bool files, int *nerr_out)
{
	struct vg_engine_opts eo = {.dir = o->dir};
	struct vg_load_error *errs;
	struct vg_engine *e;
	const char **fl = NULL;
	int nerr, rc;

	if (files && o->nfiles) {
		fl = calloc((size_t)o->nfiles + 1, sizeof(char *));
		if (!fl)
			return NULL;
		for (int i = 0; i < o->nfiles; i++)
			fl[i] = o->files[i];
		eo.files = fl;
	}
	rc = vg_engine_load(&e, &eo, &errs, &nerr);
	free(fl);
	for (int i = 0; i < nerr; i++)
		fprintf(stderr, "%s\n", errs[i].msg);
	vg_load_errors_free(errs, nerr);
	*nerr_out = nerr;
	if (rc) {
		vg_err("cannot build the policy engine");
		return NULL;
	}
	return e;
}

/* What an enforcement does, in words (pods: 1 with Kubernetes, 0 without, -1 unknown). */
static const char *effect(const char *enforcement, int pods)
{
	enum vg_enforce_mode mode = VG_ENFORCE_INFORM;

	(void)vg_enforce_mode_parse(enforcement, &mode); /* checked where it entered */
	return vg_enforce_effect(mode, pods);
}

static const char *state_of(const struct vg_policy_info *p)
{
	if (p->waits_for)
		return "waits";
	return p->enabled ? "enabled" : "disabled";
}

static json_t *policy_json(const struct vg_policy_info *p, bool full)
{
	json_t *cats = json_array(), *o;

	for (int i = 0; p->categories && p->categories[i]; i++)
		json_array_append_new(cats, json_string(p->categories[i]));
	o = json_pack("{s:s, s:s, s:s, s:b, s:s, s:s, s:o}", "id", p->id, "name", p->name,
		      "severity", p->severity, "enabled", p->enabled, "state", state_of(p),
		      "enforcement", p->enforcement, "categories", cats);
	if (p->waits_for)
		json_object_set_new(o, "waits_for", json_string(p->waits_for));
	if (full) {
		json_object_set_new(o, "enforcement_effect",
				    json_string(effect(p->enforcement, -1)));
		json_object_set_new(o, "description", json_string(p->description));
		json_object_set_new(o, "rationale", json_string(p->rationale));
		json_object_set_new(o, "remediation", json_string(p->remediation));
		json_object_set_new(o, "file", json_string(p->file));
		json_object_set_new(o, "host", json_boolean(p->host));
		json_object_set_new(o, "check", json_boolean(p->has_check));
		json_object_set_new(o, "sections", json_integer(p->nsections));
	}
	return o;
}

static int cmd_list(int argc, char **argv)
{
	struct popts o;
	struct vg_engine *e;
	int nerr, rc = parse("policy list", argc, argv, &o);
	json_t *arr = NULL;

	if (rc)
		return rc == 1 ? 0 : rc;
	if (!(e = load(&o, false, &nerr)))
		return 1;
	if (o.json)
		arr = json_array();
	else
		printf("%-58s %-9s %-9s %-12s %s\n", "NAME", "SEVERITY", "STATE", "ENFORCEMENT",
		       "CATEGORIES");
	for (int i = 0; i < vg_engine_count(e); i++) {
		const struct vg_policy_info *p = vg_engine_policy(e, i);
		char cats[256] = "";
		size_t off = 0;

		if (p->broken || (o.filter && !strcasestr(p->name, o.filter) &&
				  !strcasestr(p->severity, o.filter)))
			continue;
		if (arr) {
			json_array_append_new(arr, policy_json(p, false));
			continue;
		}
		for (int k = 0; p->categories[k] && off < sizeof(cats) - 1; k++) {
			int w = snprintf(cats + off, sizeof(cats) - off, "%s%s", k ? ", " : "",
					 p->categories[k]);

			if (w < 0)
				break;
			off += (size_t)w;
			if (off >= sizeof(cats))
				off = sizeof(cats) -
				      1; /* cut: the table's column is short anyway */
		}
		printf("%-58s %-9s %-9s %-12s %s\n", p->name, p->severity, state_of(p),
		       p->enforcement, cats);
	}
	if (arr) {
		json_dumpf(arr, stdout, JSON_INDENT(2));
		putchar('\n');
		json_decref(arr);
	}
	vg_engine_free(e);
	return nerr ? 1 : 0;
}

static int cmd_show(int argc, char **argv)
{
	struct popts o;
	struct vg_engine *e;
	const struct vg_policy_info *p;
	int nerr, i, rc = parse("policy show", argc, argv, &o);

	if (rc)
		return rc == 1 ? 0 : rc;
	if (o.nfiles != 1)
		return vg_usage_error("policy show",
				      "give one policy name (quote it: "
				      "vigil policy show \"Ubuntu Package Manager Execution\")");
	if (!(e = load(&o, false, &nerr)))
		return 1;
	i = vg_engine_find(e, o.files[0]);
	if (i < 0 || vg_engine_policy(e, i)->broken) {
		vg_err("no policy named '%s' (see 'vigil policy list')", o.files[0]);
		vg_engine_free(e);
		return 1;
	}
	p = vg_engine_policy(e, i);
	if (o.json) {
		json_t *j = policy_json(p, true);

		json_dumpf(j, stdout, JSON_INDENT(2));
		putchar('\n');
		json_decref(j);
	} else {
		printf("Name:         %s\nSeverity:     %s\nState:        %s%s%s\n", p->name,
		       p->severity, state_of(p), p->waits_for ? " - needs " : "",
		       p->waits_for ? p->waits_for : "");
		printf("Enforcement:  %s: %s\nCategories:  ", p->enforcement,
		       effect(p->enforcement, -1));
		for (int k = 0; p->categories[k]; k++)
			printf("%s %s", k ? "," : "", p->categories[k]);
		printf("\nScope:        %s\nCheck:        %s\nSections:     %d\nFile:         %s\n",
		       p->host ? "containers and host" : "containers only",
		       p->has_check ? "yes (Lua)" : "no", p->nsections, p->file);
		printf("\nDescription:  %s\nRationale:    %s\nRemediation:  %s\n", p->description,
		       p->rationale, p->remediation);
	}
	vg_engine_free(e);
	return 0;
}

static int cmd_test(int argc, char **argv)
{
	struct popts o;
	struct vg_engine *e;
	int nerr, failed, ntests = 0, rc = parse("policy test", argc, argv, &o);

	if (rc)
		return rc == 1 ? 0 : rc;
	if (!(e = load(&o, true, &nerr)))
		return 1;
	failed = vg_engine_run_tests(e, o.filter, stdout, &ntests);
	printf("%d policies, %d tests: %d passed, %d failed%s\n", vg_engine_count(e), ntests,
	       ntests - failed, failed, nerr ? " (and files that did not load, above)" : "");
	vg_engine_free(e);
	return failed || nerr ? 1 : 0;
}

static int cmd_lint(int argc, char **argv)
{
	struct popts o;
	struct vg_engine *e;
	int nerr, rc = parse("policy lint", argc, argv, &o);

	if (rc)
		return rc == 1 ? 0 : rc;
	if (!o.nfiles)
		return vg_usage_error("policy lint", "name the policy files to check");
	if (!(e = load(&o, true, &nerr)))
		return 1;
	for (int i = 0; i < vg_engine_count(e); i++) {
		const struct vg_policy_info *p = vg_engine_policy(e, i);

		if (!p->broken)
			printf("%s: ok: policy '%s'\n", p->file, p->name);
	}
	vg_engine_free(e);
	return nerr ? 1 : 0;
}

/* enforce / inform / enable / disable: one setting of one policy, persisted. */
/* What `vigil policy enforce|inform|enable|disable` was asked. */
struct setting {
	const char *verb, *action, *dir, *config, *data_dir, *name;
	const char *enforcement; /* enforce, inform: the new enforcement; else NULL */
	int enabled;		 /* enable: 1, disable: 0; else -1 */
	char cmd[32];
};

/* The command line into st; 0, or the exit status of a usage error. */
static int setting_args(int argc, char **argv, struct setting *st)
{
	static const struct option lo[] = {
		{"action", required_argument, NULL, 'a'},
		{"dir", required_argument, NULL, 'd'},
		{"data-dir", required_argument, NULL, 'D'},
		{"config", required_argument, NULL, 'c'},
		{0},
	};
	enum vg_enforce_mode mode;
	int opt;

	/* StackRox's "inform and enforce": the process, then its container or pod */
	*st = (struct setting){.verb = argv[0], .action = "kill_pod", .enabled = -1};
	(void)snprintf(st->cmd, sizeof(st->cmd), "policy %s", st->verb); /* verbs are short */
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (opt == 'a')
			st->action = optarg;
		else if (opt == 'd')
			st->dir = optarg;
		else if (opt == 'D')
			st->data_dir = optarg;
		else if (opt == 'c')
			st->config = optarg;
		else
			return vg_usage_unknown(st->cmd, argv[optind - 1], optopt);
	}
	if (optind != argc - 1)
		return vg_usage_error(st->cmd,
				      "give one policy name or id (quote names with spaces)");
	st->name = argv[optind];
	if (vg_enforce_mode_parse(st->action, &mode) || mode == VG_ENFORCE_INFORM)
		return vg_usage_error(st->cmd,
				      "--action is kill_pod (the default) or kill_process, "
				      "not '%s'",
				      st->action);
	if (!strcmp(st->verb, "enforce"))
		st->enforcement = st->action;
	else if (!strcmp(st->verb, "inform"))
		st->enforcement = vg_enforce_mode_name(VG_ENFORCE_INFORM);
	else
		st->enabled = !strcmp(st->verb, "enable");
	return 0;
}

/* The setting sent to the running daemon (PATCH /v1/policies/ID). Returns the exit status. */
static int setting_via_api(const struct vg_config *cfg, const struct setting *st,
			   const char *policy_id)
{
	CURL *c = curl_easy_init();
	char *id = NULL;
	char path[512], body[128];
	json_t *r;

	if (c)
		id = curl_easy_escape(c, policy_id, 0);
	(void)snprintf(path, sizeof(path), "/v1/policies/%s", id ? id : ""); /* ids are short */
	if (st->enforcement)
		(void)snprintf(body, sizeof(body), "{\"enforcement\": \"%s\"}", st->enforcement);
	else if (st->enabled)
		(void)snprintf(body, sizeof(body), "{\"disabled\": false}");
	else
		(void)snprintf(body, sizeof(body), "{\"disabled\": true}");
	curl_free(id);
	curl_easy_cleanup(c);
	r = vg_client_api(cfg, "PATCH", path, body);
	json_decref(r);
	return r ? 0 : 1;
}

/* The setting written into the store directly (no daemon runs). Returns the exit status. */
static int setting_via_store(const struct vg_config *cfg, const struct setting *st,
			     const char *policy_id)
{
	struct vg_alerts *store = vg_client_open_store(cfg);
	int rc = 1;

	if (store && !vg_alerts_set_policy(store, policy_id, st->enabled, st->enforcement) &&
	    !vg_alerts_sync(store))
		rc = 0;
	vg_alerts_close(store);
	return rc;
}

/* The policy the setting is for, or NULL (said why). */
static const struct vg_policy_info *setting_policy(struct vg_engine *e, const struct setting *st)
{
	const struct vg_policy_info *p = NULL;
	int i = vg_engine_find(e, st->name);

	if (i >= 0)
		p = vg_engine_policy(e, i);
	if (!p || p->broken) {
		vg_err("no policy named '%s' (see 'vigil policy list')", st->name);
		return NULL;
	}
	if (st->enabled == 1 && p->waits_for) {
		vg_err("'%s' cannot be enabled: it waits for %s", p->name, p->waits_for);
		return NULL;
	}
	return p;
}

/* What the enforcement does with this daemon's configuration, in words. */
static const char *effect_of(const struct vg_config *cfg, const char *enforcement)
{
	bool pods = cfg->k8s_server[0] || cfg->k8s_kubeconfig[0] ||
		    getenv("KUBERNETES_SERVICE_HOST"); /* as the daemon decides (k8s.c) */

	return effect(enforcement, pods);
}

static int cmd_setting(int argc, char **argv)
{
	const struct vg_policy_info *p;
	struct vg_engine_opts eo = {0};
	struct vg_load_error *errs;
	struct vg_engine *e;
	struct vg_config cfg;
	struct setting st;
	char err[1024];
	int nerr, lock = -1, rc = setting_args(argc, argv, &st);

	if (rc)
		return rc;
	if (vg_config_resolve(&cfg, st.config, st.data_dir, err, sizeof(err))) {
		vg_err("%s", err);
		return 2;
	}
	eo.dir = st.dir;
	if (!eo.dir && cfg.policy_dir[0])
		eo.dir = cfg.policy_dir;
	if (vg_engine_load(&e, &eo, &errs, &nerr))
		return 1;
	vg_load_errors_free(errs, nerr);
	p = setting_policy(e, &st);
	rc = 1;
	if (p && vg_client_daemon_running(&cfg, &lock))
		rc = setting_via_api(&cfg, &st, p->id);
	else if (p)
		rc = setting_via_store(&cfg, &st, p->id);
	if (!rc && st.enforcement)
		printf("%s: %s: %s\n", p->name, st.enforcement, effect_of(&cfg, st.enforcement));
	else if (!rc)
		printf("%s: %s\n", p->name, st.enabled ? "enabled" : "disabled");
	if (lock >= 0)
		(void)close(lock); /* the daemon's lock, only held to look */
	vg_engine_free(e);
	return rc;
}

/* Per-policy counters need traffic: until the daemon serves its own, a trace's. */
static int cmd_stats(int argc, char **argv)
{
	char *args[8] = {"replay"};
	int n = 1;

	if (argc < 2 || argv[1][0] == '-')
		return vg_usage_error("policy stats",
				      "name a trace (make one with 'vigil record FILE')");
	args[n++] = argv[1];
	args[n++] = "--quiet";
	args[n++] = "--stats";
	for (int i = 2; i < argc && n < 7; i++)
		args[n++] = argv[i];
	return vg_cmd_replay(n, args);
}

int vg_cmd_policy(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(int, char **);
	} cmds[] = {
		{"list", cmd_list},	 {"show", cmd_show},	  {"test", cmd_test},
		{"lint", cmd_lint},	 {"stats", cmd_stats},	  {"enforce", cmd_setting},
		{"inform", cmd_setting}, {"enable", cmd_setting}, {"disable", cmd_setting},
	};

	if (argc < 2 || vg_asks_help(argc, argv)) {
		fputs(usage_text, argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(argv[1], cmds[i].name))
			return cmds[i].fn(argc - 1, argv + 1);
	return vg_usage_error("policy", "unknown command '%s'", argv[1]);
}
