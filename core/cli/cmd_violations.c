// SPDX-License-Identifier: BSD-2-Clause
/*
 * cmd_violations.c - `vigil violations list|show|resolve`: the Violations page
 * on the command line. Talks to the daemon's API when one runs on the data
 * directory, and reads (or writes) the store directly when none does.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <event2/event.h>
#include <jansson.h>

#include "alerts.h"
#include "bl_requests.h"
#include "query.h"
#include "cli.h"
#include "client.h"
#include "http.h"
#include "notify.h"
#include "config.h"
#include "engine.h"
#include "log.h"

#define VG_ID_LEN VG_CLI_ALERT_ID_LEN

struct vopts {
	struct vg_config cfg;
	const char *policy, *ns, *pod, *deploy, *state, *since;
	bool json, add_to_baseline;
	char **args;
	int nargs;
};

static const char usage_text[] =
	"usage: vigil violations COMMAND [options]\n"
	"\n"
	"  list [--policy P] [--namespace N] [--pod P] [--deployment D]\n"
	"       [--state active|resolved|all] [--since 1h|UNIX_SECONDS] [--json]\n"
	"  show ID [--json]      one alert with every process's forensic detail\n"
	"  resolve ID... [--add-to-baseline] [--json]\n"
	"                        mark alerts resolved; --add-to-baseline first adds each\n"
	"                        process's executable to its container's process baseline\n"
	"\n"
	"  ID               an alert id, or its first characters (at least 4) when they are\n"
	"                   the beginning of one alert's id only\n"
	"  --policy P       alerts of the policies whose name holds P, in any case\n"
	"  --json           JSON (resolve: one object per line)\n"
	"  --data-dir DIR   the daemon's data directory (./var/vigil)\n"
	"  --config FILE    read data_dir and api.listen from vigil.conf.lua\n"
	"With a daemon running on the data directory the CLI goes through its API;\n"
	"otherwise it opens the store itself.\n";

/* Takes one option into o (or the config and data dir names). 0, or an exit code. */
static int take_option(const char *cmd, char **argv, int opt, struct vopts *o, const char **config,
		       const char **data_dir)
{
	switch (opt) {
	case 'P':
		o->policy = optarg;
		break;
	case 'n':
		o->ns = optarg;
		break;
	case 'p':
		o->pod = optarg;
		break;
	case 'D':
		o->deploy = optarg;
		break;
	case 's':
		o->state = optarg;
		break;
	case 'S':
		o->since = optarg;
		break;
	case 'j':
		o->json = true;
		break;
	case 'B':
		o->add_to_baseline = true;
		break;
	case 'd':
		*data_dir = optarg;
		break;
	case 'c':
		*config = optarg;
		break;
	case 'h':
		fputs(usage_text, stdout);
		return 1;
	default:
		return vg_usage_unknown(cmd, argv[optind - 1], optopt);
	}
	return 0;
}

/* The options; 1 when --help was answered, 2 on a usage error, else 0. */
static int parse(const char *cmd, int argc, char **argv, struct vopts *o)
{
	static const struct option lo[] = {
		{"policy", required_argument, NULL, 'P'},
		{"namespace", required_argument, NULL, 'n'},
		{"pod", required_argument, NULL, 'p'},
		{"deployment", required_argument, NULL, 'D'},
		{"state", required_argument, NULL, 's'},
		{"since", required_argument, NULL, 'S'},
		{"json", no_argument, NULL, 'j'},
		{"add-to-baseline", no_argument, NULL, 'B'},
		{"data-dir", required_argument, NULL, 'd'},
		{"config", required_argument, NULL, 'c'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	const char *config = NULL, *data_dir = NULL;
	char err[1024];
	int opt, rc;

	memset(o, 0, sizeof(*o));
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		rc = take_option(cmd, argv, opt, o, &config, &data_dir);
		if (rc)
			return rc;
	}
	if (vg_config_resolve(&o->cfg, config, data_dir, err, sizeof(err))) {
		vg_err("%s", err);
		return 2;
	}
	if (o->state && strcasecmp(o->state, "active") && strcasecmp(o->state, "resolved") &&
	    strcasecmp(o->state, "all"))
		return vg_usage_error(cmd, "--state takes active, resolved or all, not '%s'",
				      o->state);
	if (o->add_to_baseline && strcmp(cmd, "violations resolve"))
		return vg_usage_error(cmd,
				      "--add-to-baseline is an option of 'violations resolve'");
	o->args = argv + optind;
	o->nargs = argc - optind;
	return 0;
}

/* --since: a duration ago (30m, 2h, 7d) or unix seconds; 0 on error. */
static uint64_t since_s(const char *s)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 10);

	if (!isdigit((unsigned char)*s))
		return 0;
	if (!*end)
		return v;
	if (end[1])
		return 0;
	switch (*end) {
	case 's':
		return (uint64_t)time(NULL) - v;
	case 'm':
		return (uint64_t)time(NULL) - v * 60;
	case 'h':
		return (uint64_t)time(NULL) - v * 3600;
	case 'd':
		return (uint64_t)time(NULL) - v * 86400;
	}
	return 0;
}

static void urlenc(CURL *c, const char *s, char *out, size_t n)
{
	char *e = curl_easy_escape(c, s, 0);

	snprintf(out, n, "%s", e ? e : "");
	curl_free(e);
}

/* ---- output ------------------------------------------------------------------------------ */

static const char *js(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : "-";
}

static void print_table(json_t *alerts)
{
	size_t i;
	json_t *a;

	printf("%-36s  %-40s %-8s %-9s %-28s %5s  %s\n", "ID", "POLICY", "SEVERITY", "STATE",
	       "WHERE", "COUNT", "LAST SEEN");
	json_array_foreach(alerts, i, a)
	{
		json_t *pol = json_object_get(a, "policy"), *dep = json_object_get(a, "deployment");
		char where[128];

		if (json_is_object(dep))
			snprintf(where, sizeof(where), "%s/%s", js(a, "namespace"),
				 js(dep, "name"));
		else if (json_string_value(json_object_get(a, "pod")))
			snprintf(where, sizeof(where), "%s/%s", js(a, "namespace"), js(a, "pod"));
		else if (json_string_value(json_object_get(a, "containerId")))
			snprintf(where, sizeof(where), "container %.12s", js(a, "containerId"));
		else
			snprintf(where, sizeof(where), "host");
		printf("%-36s  %-40.40s %-8s %-9s %-28.28s %5lld  %.19s\n", js(a, "id"),
		       js(pol, "name"), js(pol, "severity"), js(a, "state"), where,
		       (long long)json_integer_value(json_object_get(a, "violations")),
		       js(a, "time"));
	}
}

/* The enforcement outcome: the last action, its time and message, and how many there were. */
static void print_enforcement(json_t *a)
{
	json_t *enf = json_object_get(a, "enforcement");

	if (!json_is_object(enf)) {
		printf("Enforcement:  none\n");
		return;
	}
	printf("Enforcement:  %s at %s: %s (%lld in all)\n", js(enf, "action"), js(enf, "time"),
	       js(enf, "message"),
	       (long long)json_integer_value(json_object_get(a, "enforcementCount")));
}

/* How the policy's name matched, and what the executable is (nothing from an older vigil). */
static void print_identity(json_t *p)
{
	const char *by = json_string_value(json_object_get(p, "matchedBy"));
	const char *sha = json_string_value(json_object_get(p, "exeSha256"));

	if (!by)
		return;
	if (strcmp(by, "comm"))
		printf("  matched by: %s (%s); exec'd as %s, comm %s\n", by, js(p, "matchedName"),
		       js(p, "execFilePath"), js(p, "name"));
	else
		printf("  matched by: comm (%s)\n", js(p, "matchedName"));
	printf("  executable: %s%s%s%s%s; decided in %s\n",
	       json_string_value(json_object_get(p, "exeName")) ? js(p, "exeName")
								: "(name unknown)",
	       sha ? "  sha256 " : "", sha ? sha : "",
	       json_is_true(json_object_get(p, "exeFileless")) ? "  fileless" : "",
	       json_is_true(json_object_get(p, "exeNotInImage")) ? "  not in the image" : "",
	       js(p, "decidedIn"));
}

static void print_alert(json_t *a)
{
	json_t *pol = json_object_get(a, "policy"), *procs = json_object_get(a, "processes"), *p;
	size_t i;

	printf("Alert:        %s\nPolicy:       %s (%s)\nState:        %s\nFirst seen:   %s\n"
	       "Last seen:    %s\nNamespace:    %s\nPod:          %s (uid %s)\nContainer:    %s\n"
	       "Violations:   %lld\nMessage:      %s\n",
	       js(a, "id"), js(pol, "name"), js(pol, "severity"), js(a, "state"),
	       js(a, "firstOccurred"), js(a, "time"), js(a, "namespace"), js(a, "pod"),
	       js(a, "podUid"), js(a, "containerId"),
	       (long long)json_integer_value(json_object_get(a, "violations")), js(a, "message"));
	print_enforcement(a);
	json_array_foreach(procs, i, p)
	{
		json_t *lin = json_object_get(p, "lineage"), *l;
		size_t k;

		printf("\nProcess %zu: %s\n  exe:   %s\n  args:  %s\n  pid %lld  ppid %lld  uid "
		       "%lld  "
		       "gid %lld  euid %lld\n  cwd:   %s\n  container %s  pod uid %s\n  lineage:",
		       i + 1, js(p, "time"), js(p, "execFilePath"), js(p, "args"),
		       (long long)json_integer_value(json_object_get(p, "pid")),
		       (long long)json_integer_value(json_object_get(p, "ppid")),
		       (long long)json_integer_value(json_object_get(p, "uid")),
		       (long long)json_integer_value(json_object_get(p, "gid")),
		       (long long)json_integer_value(json_object_get(p, "euid")), js(p, "cwd"),
		       js(p, "containerId"), js(p, "podUid"));
		json_array_foreach(lin, k, l) printf(
			"%s %s (pid %lld, uid %lld)", k ? " <-" : "", js(l, "parentExecFilePath"),
			(long long)json_integer_value(json_object_get(l, "parentPid")),
			(long long)json_integer_value(json_object_get(l, "parentUid")));
		printf("%s\n", json_is_true(json_object_get(p, "killedInKernel"))
				       ? "\n  killed in kernel"
				       : "");
		print_identity(p);
		if (json_string_value(json_object_get(p, "evaluationError")))
			printf("  evaluation error (the policy's check() failed): %s\n",
			       js(p, "evaluationError"));
	}
}

/* --policy: only the alerts whose policy's name holds it, in any case. */
static void keep_policy(json_t *alerts, const char *policy)
{
	for (size_t i = json_array_size(alerts); policy && i-- > 0;) {
		json_t *pol = json_object_get(json_array_get(alerts, i), "policy");

		if (!vg_cli_policy_matches(json_string_value(json_object_get(pol, "name")), policy))
			(void)json_array_remove(alerts, i); /* i is in range */
	}
}

/* The list from the daemon's API, every page: a new reference, or NULL (reported). */
static json_t *list_via_api(const struct vopts *o, uint64_t since)
{
	CURL *c = curl_easy_init();
	char q[2048] = "", e[600];
	size_t n = 0;
	json_t *alerts;
	const char *keys[] = {"Namespace", "Pod", "Deployment", "State"};
	const char *vals[] = {o->ns, o->pod, o->deploy, o->state};

	if (!vals[3])
		vals[3] = "active";
	for (int i = 0; i < 4; i++) {
		if (!vals[i])
			continue;
		urlenc(c, vals[i], e, sizeof(e));
		n += (size_t)snprintf(q + n, sizeof(q) - n, "%s%s:%s", n ? "%2B" : "", keys[i], e);
	}
	if (since)
		n += (size_t)snprintf(q + n, sizeof(q) - n, "%sSince:%llu", n ? "%2B" : "",
				      (unsigned long long)since);
	curl_easy_cleanup(c);
	alerts = vg_client_api_alerts(&o->cfg, q);
	keep_policy(alerts, o->policy);
	return alerts;
}

/* --state as a filter (active when not given). */
static int state_filter(const char *state)
{
	if (!state || !strcasecmp(state, "active"))
		return VG_ALERT_ACTIVE;
	if (!strcasecmp(state, "all"))
		return -1;
	if (!strcasecmp(state, "resolved"))
		return VG_ALERT_RESOLVED;
	return VG_ALERT_ACTIVE;
}

/* The list from the store itself: a new reference, or NULL (reported). */
static json_t *list_offline(const struct vopts *o, uint64_t since)
{
	struct vg_alerts *s = vg_client_open_store(&o->cfg);
	struct vg_alert_filter f = {.namespace_ = o->ns,
				    .pod = o->pod,
				    .deployment = o->deploy,
				    .state = state_filter(o->state),
				    .since_ns = since * 1000000000ull};
	const struct vg_alert **list;
	json_t *alerts;
	int n;

	if (!s)
		return NULL;
	n = vg_alerts_query(s, &f, &list);
	alerts = json_array();
	for (int i = 0; i < n; i++)
		if (vg_cli_policy_matches(list[i]->policy_name, o->policy))
			/* out of memory: a short list */
			(void)json_array_append_new(alerts, vg_alert_json(list[i], false));
	free(list);
	vg_alerts_close(s);
	return alerts;
}

static int cmd_list(int argc, char **argv)
{
	struct vopts o;
	int lock = -1, rc = parse("violations list", argc, argv, &o);
	json_t *alerts;
	uint64_t since = 0;

	if (rc)
		return rc == 1 ? 0 : rc;
	if (o.since && !(since = since_s(o.since)))
		return vg_usage_error("violations list",
				      "--since takes 30m, 2h, 7d or unix seconds");
	if (vg_client_daemon_running(&o.cfg, &lock))
		alerts = list_via_api(&o, since);
	else
		alerts = list_offline(&o, since);
	if (alerts && o.json) {
		(void)json_dumpf(alerts, stdout, JSON_INDENT(2)); /* stdout's errors: at exit */
		putchar('\n');
	} else if (alerts) {
		print_table(alerts);
	}
	json_decref(alerts);
	if (lock >= 0)
		(void)close(lock); /* a read lock: nothing to flush */
	return alerts ? 0 : 1;
}

static int cmd_show(int argc, char **argv)
{
	struct vopts o;
	int lock = -1, rc = parse("violations show", argc, argv, &o);
	json_t *a = NULL;

	if (rc)
		return rc == 1 ? 0 : rc;
	if (o.nargs != 1)
		return vg_usage_error("violations show",
				      "give one alert id (see 'vigil violations list')");
	if (vg_client_daemon_running(&o.cfg, &lock)) {
		char path[256], id[VG_ID_LEN];

		if (!vg_cli_api_alert_id(&o.cfg, o.args[0], id)) {
			(void)snprintf(path, sizeof(path), "/v1/alerts/%s", id); /* ids are short */
			a = vg_client_api(&o.cfg, "GET", path, NULL);
		}
	} else {
		struct vg_alerts *s = vg_client_open_store(&o.cfg);
		const struct vg_alert *al = NULL;
		char id[VG_ID_LEN];

		if (s && !vg_cli_store_alert_id(s, o.args[0], id))
			al = vg_alerts_get(s, id);
		a = al ? vg_alert_json(al, true) : NULL;
		vg_alerts_close(s);
	}
	if (lock >= 0)
		(void)close(lock); /* a read lock: nothing to flush */
	if (!a)
		return 1;
	if (o.json) {
		(void)json_dumpf(a, stdout, JSON_INDENT(2)); /* stdout's errors: at exit */
		putchar('\n');
	} else {
		print_alert(a);
	}
	json_decref(a);
	return 0;
}

/*
 * As the daemon routes them: each policy's own `notifiers`, else the defaults.
 * The policies are loaded as the daemon would load them (policy_dir, with the
 * default pack unless builtin_policies = false); one that does not load leaves its
 * alerts to the defaults.
 */
static void route_offline(struct vg_notify *n, const struct vg_config *cfg)
{
	struct vg_engine_opts eo = vg_cli_engine_opts(cfg, NULL);
	struct vg_load_error *errs = NULL;
	struct vg_engine *e = NULL;
	int nerr = 0;
	char err[512];

	if (vg_engine_load(&e, &eo, &errs, &nerr))
		vg_warn("cannot load the policies to route the resolutions: they go to "
			"default_notifiers");
	else if (nerr)
		vg_warn("%d policy file(s) did not load (%s): their alerts' resolutions go to "
			"default_notifiers",
			nerr, errs[0].msg);
	vg_load_errors_free(errs, nerr);
	for (int i = 0; e && i < vg_engine_count(e); i++) {
		const struct vg_policy_info *p = vg_engine_policy(e, i);

		if (p->notifiers && !p->broken &&
		    vg_notify_route(n, p->id, p->notifiers, err, sizeof(err)))
			vg_warn("%s: its alerts' resolutions go to default_notifiers", err);
	}
	vg_engine_free(e);
}

/* One resolved alert (state "resolved" or "already resolved"): "ID: resolved", or with
 * --json a JSON line. */
static void print_resolved(const struct vopts *o, const char *id, const char *state,
			   const char *notifiers)
{
	json_t *j;

	if (!o->json) {
		printf("%s: %s%s%s%s\n", id,
		       strcmp(state, "resolved") ? "resolved (already)" : "resolved",
		       notifiers ? " (notifiers: " : "", notifiers ? notifiers : "",
		       notifiers ? ")" : "");
		return;
	}
	j = json_pack("{s:s, s:s}", "id", id, "result", state);
	if (j && notifiers)
		(void)json_object_set_new(j, "notifiers", json_string(notifiers)); /* OOM: less */
	if (j)
		(void)json_dumpf(j, stdout, JSON_COMPACT); /* stdout's errors: at exit */
	putchar('\n');
	json_decref(j);
}

/* Resolves through the daemon's API. Returns how many failed. */
static int resolve_via_api(const struct vopts *o)
{
	int bad = 0;

	for (int i = 0; i < o->nargs; i++) {
		char path[256], id[VG_ID_LEN];
		json_t *r = NULL;

		if (!vg_cli_api_alert_id(&o->cfg, o->args[i], id)) {
			(void)snprintf(path, sizeof(path), "/v1/alerts/%s/resolve", id); /* fits */
			r = vg_client_api(&o->cfg, "PATCH", path,
					  o->add_to_baseline ? "{\"addToBaseline\": true}" : NULL);
		}
		if (r)
			print_resolved(o, id, "resolved", NULL);
		bad += !r;
		json_decref(r);
	}
	return bad;
}

/* What resolving offline needs to queue the notifications: NULL members when it cannot. */
struct offline_notify {
	struct event_base *base;
	struct vg_http *http;
	struct vg_notify *notify;
};

/* The resolve events go to the outbox; the daemon sends them when it next starts. */
static void offline_notify_open(struct offline_notify *on, struct vg_alerts *s,
				const struct vg_config *cfg)
{
	char err[512];

	memset(on, 0, sizeof(*on));
	if (!cfg->notifiers || !json_object_size(cfg->notifiers))
		return;
	on->base = event_base_new();
	if (on->base)
		on->http = vg_http_new(on->base);
	if (!on->http)
		return;
	if (vg_notify_open(&on->notify, on->base, on->http, cfg->data_dir, cfg->plugin_dir,
			   cfg->notifiers, cfg->default_notifiers, err, sizeof(err))) {
		vg_err("%s: the resolutions are stored but not queued for the notifiers", err);
		on->notify = NULL;
		return;
	}
	vg_notify_set_store(on->notify, s);
	route_offline(on->notify, cfg);
}

static void offline_notify_close(struct offline_notify *on)
{
	vg_notify_close(on->notify); /* syncs the outbox */
	vg_http_free(on->http);
	if (on->base)
		event_base_free(on->base);
}

/* --add-to-baseline on a stopped daemon's store: 0, or 1 with the error printed. */
static int add_offline(struct vg_alerts *s, const char *id)
{
	char err[700];
	size_t added;
	int rc = vg_blreq_add_alert(vg_alerts_baselines(s), vg_alerts_get(s, id),
				    (uint64_t)time(NULL) * 1000000000ull, &added, err, sizeof(err));

	if (rc)
		vg_err("%s: not resolved: cannot add to the baseline: %s", id, err);
	return rc ? 1 : 0;
}

/* Resolves one alert in the store; 0, or 1 when there is no such alert. */
static int resolve_one(const struct vopts *o, struct vg_alerts *s, struct vg_notify *n,
		       const char *arg)
{
	char id[VG_ID_LEN];
	int r = vg_cli_store_alert_id(s, arg, id) ? -ENOENT : 0;
	bool queued;

	if (!r && o->add_to_baseline && add_offline(s, id))
		return 1;
	if (!r)
		r = vg_alerts_resolve(s, id, (uint64_t)time(NULL) * 1000000000ull);
	if (r == -ENOENT)
		return 1;
	queued = n && !r;
	print_resolved(o, id, r == -EALREADY ? "already resolved" : "resolved",
		       queued ? "queued until the daemon runs" : NULL);
	if (queued)
		/* best effort: the resolution itself is stored */
		(void)vg_notify_alert(n, "resolved", vg_alerts_get(s, id));
	return 0;
}

/* Resolves in the store itself. Returns how many failed. */
static int resolve_offline(const struct vopts *o)
{
	struct vg_alerts *s = vg_client_open_store(&o->cfg);
	struct offline_notify on;
	int bad = 0;

	if (!s)
		return 1;
	offline_notify_open(&on, s, &o->cfg);
	for (int i = 0; i < o->nargs; i++)
		bad += resolve_one(o, s, on.notify, o->args[i]);
	if (vg_alerts_sync(s)) {
		vg_err("could not write the resolution to the store");
		bad++;
	}
	offline_notify_close(&on);
	vg_alerts_close(s);
	return bad;
}

static int cmd_resolve(int argc, char **argv)
{
	struct vopts o;
	int lock = -1, rc = parse("violations resolve", argc, argv, &o), bad;

	if (rc)
		return rc == 1 ? 0 : rc;
	if (!o.nargs)
		return vg_usage_error("violations resolve",
				      "give the ids of the alerts to resolve");
	if (vg_client_daemon_running(&o.cfg, &lock))
		bad = resolve_via_api(&o);
	else
		bad = resolve_offline(&o);
	if (lock >= 0)
		(void)close(lock); /* a read lock: nothing to flush */
	return bad ? 1 : 0;
}

int vg_cmd_violations(int argc, char **argv)
{
	if (argc < 2 || vg_asks_help(argc, argv)) {
		fputs(usage_text, argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (!strcmp(argv[1], "list"))
		return cmd_list(argc - 1, argv + 1);
	if (!strcmp(argv[1], "show"))
		return cmd_show(argc - 1, argv + 1);
	if (!strcmp(argv[1], "resolve"))
		return cmd_resolve(argc - 1, argv + 1);
	return vg_usage_error("violations", "unknown command '%s'", argv[1]);
}
