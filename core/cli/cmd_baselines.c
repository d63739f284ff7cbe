// SPDX-License-Identifier: BSD-2-Clause
/*
 * cmd_baselines.c - `vigil baselines list|show|lock|unlock|add|remove`: process
 * baselines on the command line. Through the daemon's API when one runs on the
 * data directory; otherwise the same requests (bl_requests.h) on its store.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "bl_requests.h"
#include "cli.h"
#include "client.h"
#include "config.h"
#include "log.h"
#include "query.h"

static const char usage_text[] =
	"usage: vigil baselines COMMAND [options]\n"
	"\n"
	"  list [--namespace N] [--deployment D] [--locked|--unlocked] [--json]\n"
	"                        the process baselines: one per container (namespace,\n"
	"                        deployment, container name; without Kubernetes, image and\n"
	"                        container name)\n"
	"  show KEY|ALERT_ID [--json]\n"
	"                        one baseline's executables; an alert id shows the baseline\n"
	"                        of the alert's container\n"
	"  lock KEY...|--namespace N|--all\n"
	"                        lock: an executable not in a locked baseline is a violation\n"
	"                        of \"Unauthorized Process Execution\"\n"
	"  unlock KEY...|--namespace N|--all\n"
	"  add KEY PATH...       add executables (absolute paths) to a baseline\n"
	"  remove KEY PATH...    remove them (a removed path is not learned again)\n"
	"\n"
	"  KEY              a baseline's id, or its key as 'list' prints it:\n"
	"                   NAMESPACE/DEPLOYMENT/CONTAINER, or IMAGE/CONTAINER without Kubernetes\n"
	"  --json           JSON (StackRox's ProcessBaseline)\n"
	"  --data-dir DIR   the daemon's data directory (./var/vigil)\n"
	"  --config FILE    read data_dir and api.listen from vigil.conf.lua\n"
	"With a daemon running on the data directory the CLI goes through its API;\n"
	"otherwise it opens the store itself.\n";

struct bopts {
	struct vg_config cfg;
	const char *cmd, *ns, *deploy;
	int locked; /* --locked 1, --unlocked 0, else -1 */
	bool all, json;
	char **args;
	int nargs;
};

/* Where the baselines are: the daemon's API, or its store opened here. */
struct where {
	struct vg_alerts *store; /* NULL: through the API */
	int lock_fd;
};

/* ---- options ----------------------------------------------------------------------------- */

/* Takes one option into o. 0, 1 when --help was answered, or a usage status. */
static int take_option(char **argv, int opt, struct bopts *o, const char **config,
		       const char **data_dir)
{
	switch (opt) {
	case 'n':
		o->ns = optarg;
		return 0;
	case 'D':
		o->deploy = optarg;
		return 0;
	case 'l':
	case 'u':
		if (o->locked >= 0 && o->locked != (opt == 'l'))
			return vg_usage_error(o->cmd, "give --locked or --unlocked, not both");
		o->locked = opt == 'l';
		return 0;
	case 'a':
		o->all = true;
		return 0;
	case 'j':
		o->json = true;
		return 0;
	case 'd':
		*data_dir = optarg;
		return 0;
	case 'c':
		*config = optarg;
		return 0;
	case 'h':
		fputs(usage_text, stdout);
		return 1;
	default:
		return vg_usage_unknown(o->cmd, argv[optind - 1], optopt);
	}
}

static int parse(const char *cmd, int argc, char **argv, struct bopts *o)
{
	static const struct option lo[] = {
		{"namespace", required_argument, NULL, 'n'},
		{"deployment", required_argument, NULL, 'D'},
		{"locked", no_argument, NULL, 'l'},
		{"unlocked", no_argument, NULL, 'u'},
		{"all", no_argument, NULL, 'a'},
		{"json", no_argument, NULL, 'j'},
		{"data-dir", required_argument, NULL, 'd'},
		{"config", required_argument, NULL, 'c'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	const char *config = NULL, *data_dir = NULL;
	int opt, rc;

	memset(o, 0, sizeof(*o));
	o->cmd = cmd;
	o->locked = -1;
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "h", lo, NULL)) != -1)
		if ((rc = take_option(argv, opt, o, &config, &data_dir)))
			return rc;
	rc = vg_cli_config(&o->cfg, config, data_dir);
	o->args = argv + optind;
	o->nargs = argc - optind;
	return rc;
}

/* ---- where the baselines are ------------------------------------------------------------- */

/* 0, or 1 with the error printed (no store). */
static int where_open(const struct bopts *o, struct where *w)
{
	w->store = NULL;
	if (vg_client_daemon_running(&o->cfg, &w->lock_fd))
		return 0;
	w->store = vg_client_open_store(&o->cfg);
	return w->store ? 0 : 1;
}

/* Closes the store (its changes written) and lets go of the lock. 0, or 1 (printed). */
static int where_close(struct where *w)
{
	int rc = 0;

	if (w->store && vg_alerts_sync(w->store)) {
		vg_err("could not write the change to the store");
		rc = 1;
	}
	vg_alerts_close(w->store);
	if (w->lock_fd >= 0)
		(void)close(w->lock_fd); /* the lock only: nothing to flush */
	return rc;
}

static uint64_t now_ns(void)
{
	return (uint64_t)time(NULL) * 1000000000ull;
}

/* An API-style request (bl_requests.h) run on the store: its answer, or NULL (printed). */
static json_t *store_put(struct where *w, const char *path, const json_t *body)
{
	struct vg_baselines *b = vg_alerts_baselines(w->store);
	char err[700];
	json_t *out = NULL;
	int rc;

	if (!strcmp(path, "/v1/processbaselines/lock"))
		rc = vg_blreq_lock(b, body, now_ns(), &out, err, sizeof(err));
	else
		rc = vg_blreq_update(b, body, now_ns(), &out, err, sizeof(err));
	if (rc)
		vg_err("%s", err);
	return out;
}

/* PUT path with body (taken): the answer, or NULL with the error printed. */
static json_t *put(const struct bopts *o, struct where *w, const char *path, json_t *body)
{
	json_t *out = NULL;
	char *text;

	if (!body) {
		vg_err("out of memory");
		return NULL;
	}
	if (w->store) {
		out = store_put(w, path, body);
	} else {
		text = json_dumps(body, JSON_COMPACT);
		out = text ? vg_client_api(&o->cfg, "PUT", path, text) : NULL;
		free(text);
	}
	json_decref(body);
	return out;
}

/* The baselines query selects, as a JSON array: a new reference, or NULL (printed). */
static json_t *select_json(const struct bopts *o, struct where *w, const char *query)
{
	const struct vg_baseline **list;
	char err[512], path[1400];
	json_t *arr, *r;
	size_t n;

	if (!w->store) {
		CURL *c = curl_easy_init();
		char *q = c ? curl_easy_escape(c, query, 0) : NULL;

		(void)snprintf(path, sizeof(path), /* the query is bounded by its options */
			       "/v1/processbaselines?pagination.limit=%d&query=%.1200s",
			       VG_PAGE_MAX, q ? q : "");
		curl_free(q);
		curl_easy_cleanup(c);
		r = vg_client_api(&o->cfg, "GET", path, NULL);
		arr = json_incref(json_object_get(r, "baselines"));
		json_decref(r);
		return arr;
	}
	if (vg_blreq_select(vg_alerts_baselines(w->store), query, &list, &n, err, sizeof(err))) {
		vg_err("%s", err);
		return NULL;
	}
	arr = json_array();
	for (size_t i = 0; arr && i < n; i++)
		(void)json_array_append_new(arr, vg_baseline_json(list[i])); /* OOM: shorter */
	free(list);
	return arr;
}

/* The query of --namespace, --deployment, --locked and --unlocked into q (n bytes). */
static void options_query(const struct bopts *o, char *q, size_t n)
{
	size_t len = 0;

	q[0] = '\0';
	if (o->ns)
		len += (size_t)snprintf(q + len, n - len, "Namespace:%.200s+", o->ns);
	if (o->deploy && len < n)
		len += (size_t)snprintf(q + len, n - len, "Deployment:%.260s+", o->deploy);
	if (o->locked >= 0 && len < n)
		(void)snprintf(q + len, n - len, "Locked:%s", o->locked ? "true" : "false");
}

/* ---- output ------------------------------------------------------------------------------ */

static const char *js(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : "";
}

/* A baseline's key text, as vg_baseline_key_text makes it, from its JSON. */
static void key_text(const json_t *bl, char *out, size_t n)
{
	const json_t *k = json_object_get(bl, "key");

	if (js(k, "image")[0])
		(void)snprintf(out, n, "%s/%s", js(k, "image"), js(k, "containerName"));
	else
		(void)snprintf(out, n, "%s/%s/%s", js(k, "namespace"), js(k, "deploymentId"),
			       js(k, "containerName"));
}

/* locked (by a user or at the end of observation), observing, or unlocked. */
static const char *state_of(const json_t *bl)
{
	const char *until = js(bl, "observeUntil");
	char now[40];
	time_t t = time(NULL);

	if (json_is_true(json_object_get(bl, "locked")))
		return js(bl, "userLockedTimestamp")[0] ? "locked" : "auto-locked";
	(void)strftime(now, sizeof(now), "%Y-%m-%dT%H:%M:%S", gmtime(&t));
	return until[0] && strncmp(until, now, 19) > 0 ? "observing" : "unlocked";
}

static void print_table(const json_t *arr)
{
	const json_t *bl;
	char key[1200];
	size_t i;

	printf("%-16s  %-11s %8s  %s\n", "ID", "STATE", "ELEMENTS", "KEY");
	json_array_foreach(arr, i, bl)
	{
		key_text(bl, key, sizeof(key));
		printf("%-16s  %-11s %8zu  %s\n", js(bl, "id"), state_of(bl),
		       json_array_size(json_object_get(bl, "elements")), key);
	}
}

static void print_baseline(const json_t *bl)
{
	const json_t *els = json_object_get(bl, "elements"), *el;
	char key[1200];
	size_t i;

	key_text(bl, key, sizeof(key));
	printf("Baseline:     %s\nKey:          %s\nState:        %s\nCreated:      %s\n"
	       "Observe until: %s\nLocked at:    %s\nLast update:  %s\nCapped paths: %lld\n"
	       "Elements (%zu):\n",
	       js(bl, "id"), key, state_of(bl), js(bl, "created"), js(bl, "observeUntil"),
	       js(bl, "userLockedTimestamp")[0] ? js(bl, "userLockedTimestamp")
						: js(bl, "stackRoxLockedTimestamp"),
	       js(bl, "lastUpdate"),
	       (long long)json_integer_value(json_object_get(bl, "cappedPaths")),
	       json_array_size(els));
	json_array_foreach(els, i, el)
		printf("  %-60s %s\n", js(json_object_get(el, "element"), "processName"),
		       json_is_true(json_object_get(el, "auto")) ? "learned" : "added by a user");
	els = json_object_get(bl, "elementGraveyard");
	if (json_array_size(els))
		printf("Removed (not learned again):\n");
	json_array_foreach(els, i, el)
		printf("  %s\n", js(json_object_get(el, "element"), "processName"));
}

static void print_json(const json_t *j)
{
	(void)json_dumpf(j, stdout, JSON_INDENT(2)); /* stdout's errors: at exit */
	putchar('\n');
}

/* ---- commands ---------------------------------------------------------------------------- */

static int cmd_list(int argc, char **argv)
{
	struct bopts o;
	struct where w;
	char q[600];
	json_t *arr;
	int rc = parse("baselines list", argc, argv, &o);

	if (rc)
		return rc == 1 ? 0 : rc;
	if (o.nargs || o.all)
		return vg_usage_error(o.cmd, "list takes only options (--namespace, --deployment, "
					     "--locked, --unlocked, --json)");
	if (where_open(&o, &w))
		return 1;
	options_query(&o, q, sizeof(q));
	arr = select_json(&o, &w, q);
	if (arr && o.json)
		print_json(arr);
	else if (arr)
		print_table(arr);
	rc = where_close(&w);
	json_decref(arr);
	return arr && !rc ? 0 : 1;
}

/* A baseline's id (16 hex digits) or key text (it has a '/'), rather than an alert id. */
static bool names_baseline(const char *arg)
{
	size_t n = strspn(arg, "0123456789abcdef");

	return strchr(arg, '/') || (n == VG_BL_ID_LEN && !arg[n]);
}

/* show through the API: the baseline, or NULL (printed). */
static json_t *show_via_api(const struct bopts *o, const char *arg)
{
	char path[1400], id[VG_CLI_ALERT_ID_LEN];
	CURL *c;
	char *enc;

	if (!names_baseline(arg)) {
		if (vg_cli_api_alert_id(&o->cfg, arg, id))
			return NULL;
		(void)snprintf(path, sizeof(path), "/v1/processbaselines/key?alertId=%s", id);
		return vg_client_api(&o->cfg, "GET", path, NULL);
	}
	c = curl_easy_init();
	enc = c ? curl_easy_escape(c, arg, 0) : NULL;
	curl_easy_cleanup(c);
	if (!enc) {
		vg_err("out of memory");
		return NULL;
	}
	(void)snprintf(path, sizeof(path), "/v1/processbaselines/key?id=%.1300s", enc);
	curl_free(enc);
	return vg_client_api(&o->cfg, "GET", path, NULL);
}

/* show on the store: the baseline, or NULL (printed). */
static json_t *show_offline(struct vg_alerts *s, const char *arg)
{
	const struct vg_baseline *bl = NULL;
	char id[VG_CLI_ALERT_ID_LEN], err[700];

	if (names_baseline(arg)) {
		bl = vg_baselines_find(vg_alerts_baselines(s), arg);
		if (!bl)
			vg_err("no process baseline '%s' (see 'vigil baselines list')", arg);
	} else if (!vg_cli_store_alert_id(s, arg, id) &&
		   vg_blreq_alert_baseline(vg_alerts_baselines(s), vg_alerts_get(s, id), &bl, err,
					   sizeof(err))) {
		vg_err("%s", err);
	}
	return bl ? vg_baseline_json(bl) : NULL;
}

static int cmd_show(int argc, char **argv)
{
	struct bopts o;
	struct where w;
	json_t *bl;
	int rc = parse("baselines show", argc, argv, &o);

	if (rc)
		return rc == 1 ? 0 : rc;
	if (o.nargs != 1 || o.ns || o.deploy || o.all || o.locked >= 0)
		return vg_usage_error(o.cmd,
				      "give one baseline (its id or key, as 'vigil baselines "
				      "list' prints them) or one alert id");
	if (where_open(&o, &w))
		return 1;
	bl = w.store ? show_offline(w.store, o.args[0]) : show_via_api(&o, o.args[0]);
	if (bl && o.json)
		print_json(bl);
	else if (bl)
		print_baseline(bl);
	rc = where_close(&w);
	json_decref(bl);
	return bl && !rc ? 0 : 1;
}

/* {"keys": [{"id": ...}...]} for the KEY arguments, or the baselines --namespace or --all
 * select; NULL (printed) when it cannot be made. */
static json_t *keys_body(const struct bopts *o, struct where *w, char **args, int nargs)
{
	json_t *keys = json_array(), *sel = NULL, *bl;
	char q[300];
	size_t i;

	for (int k = 0; keys && k < nargs; k++)
		(void)json_array_append_new(keys,
					    json_pack("{s:s}", "id", args[k])); /* OOM: fewer */
	if (keys && !nargs) {
		(void)snprintf(q, sizeof(q), o->ns ? "Namespace:%.200s" : "%s", o->ns ? o->ns : "");
		sel = select_json(o, w, q);
		json_array_foreach(sel, i, bl)(void) json_array_append_new(
			keys, json_pack("{s:s}", "id", js(bl, "id"))); /* OOM: fewer */
		if (!sel) {
			json_decref(keys);
			keys = NULL;
		}
	}
	json_decref(sel);
	return keys ? json_pack("{s:o}", "keys", keys) : NULL;
}

/* Prints what a PUT answered: each baseline, as JSON or a line with its state. */
static void print_changed(const struct bopts *o, const json_t *answer)
{
	const json_t *arr = json_object_get(answer, "baselines"), *bl;
	char key[1200];
	size_t i;

	if (o->json) {
		print_json(arr);
		return;
	}
	json_array_foreach(arr, i, bl)
	{
		key_text(bl, key, sizeof(key));
		printf("%s  %s: %s, %zu elements\n", js(bl, "id"), key, state_of(bl),
		       json_array_size(json_object_get(bl, "elements")));
	}
}

static int cmd_lock(int argc, char **argv, bool locked)
{
	struct bopts o;
	struct where w;
	json_t *body, *answer = NULL;
	int rc = parse(locked ? "baselines lock" : "baselines unlock", argc, argv, &o);

	if (rc)
		return rc == 1 ? 0 : rc;
	if ((o.nargs > 0) + (o.ns != NULL) + o.all != 1 || o.deploy || o.locked >= 0)
		return vg_usage_error(o.cmd, "give the baselines: KEY..., --namespace N or --all");
	if (where_open(&o, &w))
		return 1;
	body = keys_body(&o, &w, o.args, o.nargs);
	if (body && !json_array_size(json_object_get(body, "keys")))
		printf("no baselines to %s\n", locked ? "lock" : "unlock");
	else if (body && json_object_set_new(body, "locked", json_boolean(locked)) == 0)
		answer = put(&o, &w, "/v1/processbaselines/lock", json_incref(body));
	if (answer)
		print_changed(&o, answer);
	rc = where_close(&w) || !body ||
	     (json_array_size(json_object_get(body, "keys")) && !answer);
	json_decref(body);
	json_decref(answer);
	return rc ? 1 : 0;
}

/* add or remove: KEY PATH... */
static int cmd_elements(int argc, char **argv, bool add)
{
	struct bopts o;
	struct where w;
	json_t *body, *paths, *answer = NULL;
	int rc = parse(add ? "baselines add" : "baselines remove", argc, argv, &o);

	if (rc)
		return rc == 1 ? 0 : rc;
	if (o.nargs < 2 || o.ns || o.deploy || o.all || o.locked >= 0)
		return vg_usage_error(o.cmd,
				      "give one baseline (its id or key) and the executables' "
				      "absolute paths");
	if (where_open(&o, &w))
		return 1;
	body = keys_body(&o, &w, o.args, 1);
	paths = json_array();
	for (int i = 1; paths && i < o.nargs; i++)
		(void)json_array_append_new(paths, json_pack("{s:s}", "processName", o.args[i]));
	if (body && paths &&
	    !json_object_set_new(body, add ? "addElements" : "removeElements", paths))
		answer = put(&o, &w, "/v1/processbaselines", body);
	else
		json_decref(body);
	if (answer)
		print_changed(&o, answer);
	rc = where_close(&w);
	json_decref(answer);
	return answer && !rc ? 0 : 1;
}

int vg_cmd_baselines(int argc, char **argv)
{
	if (argc < 2 || vg_asks_help(argc, argv)) {
		fputs(usage_text, argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (!strcmp(argv[1], "list"))
		return cmd_list(argc - 1, argv + 1);
	if (!strcmp(argv[1], "show"))
		return cmd_show(argc - 1, argv + 1);
	if (!strcmp(argv[1], "lock") || !strcmp(argv[1], "unlock"))
		return cmd_lock(argc - 1, argv + 1, !strcmp(argv[1], "lock"));
	if (!strcmp(argv[1], "add") || !strcmp(argv[1], "remove"))
		return cmd_elements(argc - 1, argv + 1, !strcmp(argv[1], "add"));
	return vg_usage_error("baselines", "unknown command '%s'", argv[1]);
}
