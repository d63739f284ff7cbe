// SPDX-License-Identifier: BSD-2-Clause
/*
 * cmd_notifiers.c - `vigil notifiers list|test|outbox|retry`.
 * list, outbox and retry go through the daemon's API; test runs the plugin
 * right here with a sample alert and prints the receiver's answer.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <jansson.h>

#include "alerts.h"
#include "cli.h"
#include "client.h"
#include "config.h"
#include "http.h"
#include "log.h"
#include "notify.h"
#include "record.h"

/* The sample alert's exec: a record and its decoded event (about 21 KB: on the heap). */
struct sample_exec {
	unsigned char rec[sizeof(struct vg_exec) + VG_DATA_MAX];
	struct vg_event ev;
};

/* s, or fallback when s is missing or empty (a notifier's "last" before any request). */
static const char *or_default(const char *s, const char *fallback)
{
	return s && s[0] ? s : fallback;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static const char usage_text[] =
	"usage: vigil notifiers COMMAND [--config FILE] [--data-dir DIR] [--json]\n"
	"\n"
	"  list           each notifier: type, settings (secrets ***), default or not, and with a\n"
	"                 running daemon its counters and last outcome (--json: as JSON)\n"
	"  test NAME      send a sample alert through NAME now; print the receiver's answer\n"
	"  outbox [NAME]  pending events with their tries, and dead letters (needs the daemon;\n"
	"                 --json: as JSON)\n"
	"  retry NAME|ALERT_ID|DEAD_ID\n"
	"                 send dead letters again: a notifier's, an alert's (its id, or a unique\n"
	"                 prefix of 4 characters or more), or one (ids from outbox)\n";

static int load_cfg(int argc, char **argv, const char *cmd, struct vg_config *cfg, char ***args,
		    int *nargs, bool *as_json)
{
	static const struct option lo[] = {
		{"config", required_argument, NULL, 'c'},
		{"data-dir", required_argument, NULL, 'd'},
		{"json", no_argument, NULL, 'j'},
		{0},
	};
	const char *config = NULL, *data_dir = NULL;
	char err[1024];
	int opt;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (opt) {
		case 'c':
			config = optarg;
			break;
		case 'd':
			data_dir = optarg;
			break;
		case 'j':
			*as_json = true;
			break;
		default:
			return vg_usage_unknown(cmd, argv[optind - 1], optopt);
		}
	}
	if (vg_config_resolve(cfg, config, data_dir, err, sizeof(err))) {
		vg_err("%s", err);
		return 2;
	}
	*args = argv + optind;
	*nargs = argc - optind;
	return 0;
}

static json_t *from_daemon(struct vg_config *cfg)
{
	int lock = -1;
	json_t *r = NULL;

	if (vg_client_daemon_running(cfg, &lock))
		r = vg_client_api(cfg, "GET", "/v1/notifiers", NULL);
	else
		vg_err("no vigil daemon runs on %s: the outbox lives in the daemon", cfg->data_dir);
	if (lock >= 0)
		(void)close(lock); /* a lock only: closing releases it */
	return r;
}

/* The notifiers as {"notifiers": [...]}: the daemon's (with counters and last outcome) when one
 * runs, else the configuration's (*live false). NULL once the error is logged. */
static json_t *list_notifiers(struct vg_config *cfg, bool *live)
{
	int lock = -1;
	json_t *r = NULL, *arr = NULL;
	char err[1024];

	*live = vg_client_daemon_running(cfg, &lock) == 1;
	if (*live)
		r = vg_client_api(cfg, "GET", "/v1/notifiers", NULL);
	if (lock >= 0)
		(void)close(lock); /* a lock only: closing releases it */
	if (*live)
		return r;
	if (vg_notify_describe(&arr, cfg->plugin_dir, cfg->notifiers, cfg->default_notifiers, err,
			       sizeof(err))) {
		vg_err("%s", err);
		return NULL;
	}
	return json_pack("{s:o}", "notifiers", arr);
}

/* An instance's settings on one line, "key=JSON" in key order, the type left out. */
static void print_settings(const json_t *settings)
{
	const char **keys = calloc(json_object_size(settings) + 1, sizeof(char *));
	size_t nkeys = 0;
	const char *key;
	json_t *v;

	if (!keys)
		return;
	json_object_foreach((json_t *)settings, key, v)
	{
		if (strcmp(key, "type"))
			keys[nkeys++] = key;
	}
	qsort(keys, nkeys, sizeof(char *), by_name);
	printf("  settings:");
	for (size_t i = 0; i < nkeys; i++) {
		char *text = json_dumps(json_object_get(settings, keys[i]),
					JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);

		printf(" %s=%s", keys[i], or_default(text, "?"));
		free(text);
	}
	printf("\n");
	free(keys);
}

static void print_counters(const json_t *c)
{
	static const char *const names[] = {"sent", "skipped", "failed", "retried", "dead"};

	printf("  counters:");
	for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++)
		printf(" %s %lld,", names[k],
		       (long long)json_integer_value(json_object_get(c, names[k])));
	printf(" queued %lld (%lld on disk)\n",
	       (long long)json_integer_value(json_object_get(c, "queued")),
	       (long long)json_integer_value(json_object_get(c, "onDisk")));
}

/* One line a notifier, then its settings, then (from a daemon) its counters. */
static void print_table(const json_t *arr)
{
	json_t *in;
	size_t i;

	if (!json_array_size(arr)) {
		printf("no notifiers configured (notifiers = { ... } in vigil.conf.lua)\n");
		return;
	}
	printf("%-20s %-12s %-8s %s\n", "NAME", "TYPE", "DEFAULT", "LAST");
	json_array_foreach(arr, i, in)
	{
		printf("%-20s %-12s %-8s %s\n", json_string_value(json_object_get(in, "name")),
		       json_string_value(json_object_get(in, "type")),
		       json_is_true(json_object_get(in, "default")) ? "yes" : "no",
		       or_default(json_string_value(json_object_get(in, "last")), "-"));
		print_settings(json_object_get(in, "settings"));
		if (json_object_get(in, "counters"))
			print_counters(json_object_get(in, "counters"));
	}
}

static int cmd_list(struct vg_config *cfg, bool as_json)
{
	bool live = false;
	json_t *r = list_notifiers(cfg, &live);

	if (!r)
		return 1;
	if (as_json) {
		(void)json_dumpf(r, stdout, JSON_INDENT(2)); /* stdout: its errors show at exit */
		printf("\n");
	} else {
		print_table(json_object_get(r, "notifiers"));
		if (!live)
			printf("(no vigil daemon runs on %s: settings from the configuration, "
			       "no counters)\n",
			       cfg->data_dir);
	}
	json_decref(r);
	return 0;
}

/* The names of the daemon's list arr, ", " between them, into out (cap bytes; "none"). */
static void names_of(json_t *arr, char *out, size_t cap)
{
	size_t i, off = 0;
	json_t *in;

	(void)snprintf(out, cap, "none"); /* fits */
	json_array_foreach(arr, i, in)
	{
		const char *n = or_default(json_string_value(json_object_get(in, "name")), "");
		int w = snprintf(out + off, cap - off, "%s%s", off ? ", " : "", n);

		if (w > 0 && (size_t)w < cap - off)
			off += (size_t)w;
	}
}

/* true when the daemon's list arr has a notifier named name; else says which it has. */
static bool known_notifier(json_t *arr, const char *name)
{
	char known[512];
	size_t i;
	json_t *in;

	json_array_foreach(arr, i, in)
	{
		if (!strcmp(or_default(json_string_value(json_object_get(in, "name")), ""), name))
			return true;
	}
	names_of(arr, known, sizeof(known));
	vg_err("no notifier named '%s' (known: %s)", name, known);
	return false;
}

static long long num(const json_t *o, const char *key)
{
	return (long long)json_integer_value(json_object_get(o, key));
}

/* One instance's outbox as text: its counts, each event waiting with its tries, each dead
 * letter. */
static void print_outbox(const json_t *in)
{
	const json_t *counters = json_object_get(in, "counters");
	json_t *dl = json_object_get(in, "deadLetters"), *w = json_object_get(in, "waiting"), *e;
	size_t k;

	printf("%s (%s): %lld pending (%lld of them on disk), %zu dead; last: %s\n",
	       json_string_value(json_object_get(in, "name")),
	       json_string_value(json_object_get(in, "type")), num(counters, "queued"),
	       num(counters, "onDisk"), json_array_size(dl),
	       or_default(json_string_value(json_object_get(in, "last")), "-"));
	json_array_foreach(w, k, e) printf(
		"  waiting %lld: alert %s %s: %lld tries (%lld toward max_attempts), %s%lld ms\n",
		num(e, "id"), json_string_value(json_object_get(e, "alert")),
		json_string_value(json_object_get(e, "event")), num(e, "attempts"),
		num(e, "failures"),
		json_is_true(json_object_get(e, "inFlight")) ? "in flight, next try in "
							     : "next try in ",
		num(e, "nextTryMs"));
	json_array_foreach(dl, k, e) printf("  dead %lld: alert %s %s: %s\n", num(e, "id"),
					    json_string_value(json_object_get(e, "alert")),
					    json_string_value(json_object_get(e, "event")),
					    json_string_value(json_object_get(e, "reason")));
}

/* The outbox of each instance (or of NAME): {"notifiers": [{name, type, last, counters,
 * waiting, deadLetters}]}, a new reference. */
static json_t *outbox_json(json_t *arr, const char *name)
{
	static const char *const keys[] = {"name",     "type",	  "last",
					   "counters", "waiting", "deadLetters"};
	json_t *out = json_array(), *in;
	size_t i;

	json_array_foreach(arr, i, in)
	{
		json_t *one = json_object();

		if (name &&
		    strcmp(name, or_default(json_string_value(json_object_get(in, "name")), "")))
			continue;
		for (size_t k = 0; one && k < sizeof(keys) / sizeof(keys[0]); k++)
			if (json_object_get(in, keys[k]))
				/* out of memory: the key is left out of the output */
				(void)json_object_set(one, keys[k], json_object_get(in, keys[k]));
		(void)json_array_append_new(out, one); /* out of memory: one left out */
	}
	return json_pack("{s:o}", "notifiers", out);
}

static int cmd_outbox(struct vg_config *cfg, const char *name, bool as_json)
{
	json_t *r = from_daemon(cfg), *arr, *in, *out;
	size_t i;

	if (!r)
		return 1;
	arr = json_object_get(r, "notifiers");
	if (name && !known_notifier(arr, name)) {
		json_decref(r);
		return 1;
	}
	if (as_json) {
		out = outbox_json(arr, name);
		(void)json_dumpf(out, stdout, JSON_INDENT(2)); /* stdout: its errors show at exit */
		printf("\n");
		json_decref(out);
	} else {
		json_array_foreach(arr, i, in)
		{
			if (!name || !strcmp(name, json_string_value(json_object_get(in, "name"))))
				print_outbox(in);
		}
	}
	json_decref(r);
	return 0;
}

/* true when arg is a notifier's name, or the id of one of its dead letters, in arr. */
static bool names_one(json_t *arr, const char *arg)
{
	bool digits = arg[0] && strspn(arg, "0123456789") == strlen(arg);
	json_t *in, *e;
	size_t i, k;

	json_array_foreach(arr, i, in)
	{
		if (!strcmp(or_default(json_string_value(json_object_get(in, "name")), ""), arg))
			return true;
		json_array_foreach(json_object_get(in, "deadLetters"), k, e)
		{
			if (digits &&
			    strtoll(arg, NULL, 10) == json_integer_value(json_object_get(e, "id")))
				return true;
		}
	}
	return false;
}

/* The ids of the alerts with dead letters in arr (each once) into ids (cap of them): how many. */
static int dead_alerts(json_t *arr, const char **ids, int cap)
{
	json_t *in, *e;
	size_t i, k;
	int n = 0;

	json_array_foreach(arr, i, in)
	{
		json_array_foreach(json_object_get(in, "deadLetters"), k, e)
		{
			const char *id = json_string_value(json_object_get(e, "alert"));
			int seen = 0;

			while (id && seen < n && strcmp(ids[seen], id))
				seen++;
			if (id && seen == n && n < cap)
				ids[n++] = id;
		}
	}
	return n;
}

/*
 * What `retry ARG` names, as the API takes it: a notifier, a dead letter's id, or an alert
 * with dead letters by its id or a unique prefix of it. NULL with the error printed.
 */
static const char *retry_target(json_t *arr, const char *arg, const char **ids, int cap)
{
	char err[2048], known[512];
	const char *id;
	int n, matching = 0;

	if (!json_array_size(arr)) {
		vg_err("no notifier named '%s': this vigil has no notifiers configured (notifiers "
		       "= { ... } in vigil.conf.lua)",
		       arg);
		return NULL;
	}
	if (names_one(arr, arg))
		return arg;
	n = dead_alerts(arr, ids, cap);
	for (int i = 0; i < n; i++)
		matching += !strncasecmp(ids[i], arg, strlen(arg));
	if (!matching) {
		names_of(arr, known, sizeof(known));
		vg_err("no notifier named '%s' (known: %s), and no dead letter of an alert or with "
		       "an id like that (see 'vigil notifiers outbox')",
		       arg, known);
		return NULL;
	}
	id = vg_cli_id_prefix(ids, n, arg, err, sizeof(err));
	if (!id)
		vg_err("%s", err);
	return id;
}

#define RETRY_IDS_MAX 4096 /* alerts with dead letters a prefix is matched against */

static int cmd_retry(struct vg_config *cfg, const char *arg)
{
	const char **ids = calloc(RETRY_IDS_MAX, sizeof(*ids));
	json_t *list = ids ? from_daemon(cfg) : NULL, *r = NULL;
	const char *target;
	char path[256];
	int rc;

	if (!ids)
		vg_err("out of memory");
	target = list ? retry_target(json_object_get(list, "notifiers"), arg, ids, RETRY_IDS_MAX)
		      : NULL;
	if (target) {
		(void)snprintf(path, sizeof(path), "/v1/notifiers/%.64s/retry", target); /* fits */
		r = vg_client_api(cfg, "PATCH", path, NULL);
	}
	if (r)
		printf("%s: %lld dead letters queued again\n", target,
		       (long long)json_integer_value(json_object_get(r, "requeued")));
	rc = r ? 0 : 1;
	json_decref(r);
	json_decref(list);
	free(ids);
	return rc;
}

/* A sample alert: a package manager run in a container, as a real one looks; x holds its exec.
 * NULL when the store refused it. */
static const struct vg_alert *sample(struct vg_alerts *s, struct sample_exec *x)
{
	const char *argv[] = {"/usr/bin/apt-get", "update"};
	struct vg_record_spec sp = {
		.exe = "/usr/bin/apt-get",
		.argv = argv,
		.argc = 2,
		.cwd = "/",
		.cgroup = "/kubepods/besteffort/pod00000000-0000-0000-0000-000000000000/"
			  "0000000000000000000000000000000000000000000000000000000000000000",
		.pid = 4242,
		.ppid = 4241,
	};
	struct vg_violation v = {.ev = &x->ev,
				 .policy_id = "vigil-test-notification",
				 .policy_name = "vigil test notification",
				 .severity = "low"};
	struct timespec ts;
	const struct vg_alert *a = NULL;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	sp.boot_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	vg_record_build(x->rec, sizeof(x->rec), &sp);
	clock_gettime(CLOCK_REALTIME, &ts);
	vg_event_decode(
		&x->ev, x->rec, ((struct vg_exec *)x->rec)->size,
		(int64_t)((uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec - sp.boot_ns));
	x->ev.lineage_done = true;
	x->ev.n_lineage = 1;
	x->ev.lineage[0] = (struct vg_ancestor_info){4241, 0, "/bin/bash", "bash"};
	if (vg_alerts_add(s, &v, NULL, NULL, &a))
		return NULL;
	return a;
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	event_base_loopbreak(arg);
}

/* The notifier's entry of GET /v1/notifiers (a new reference). */
static json_t *instance_info(struct vg_notify *n)
{
	json_t *j = vg_notify_json(n), *info = json_incref(json_array_get(j, 0));

	json_decref(j);
	return info;
}

/* Turns the loop until the event is delivered, dead, or retried (a retry means the receiver did
 * not take it: that is reported rather than waited out). Returns the notifier's entry. */
static json_t *wait_for_answer(struct vg_notify *n, struct event_base *base, const char *name,
			       int *pending, int *dead)
{
	for (int i = 0; i < 1000 && (*pending = vg_notify_pending(n, name, dead)) && !*dead; i++) {
		json_t *info = instance_info(n);
		const char *last = json_string_value(json_object_get(info, "last"));

		if (last && !strncmp(last, "will retry", 10))
			return info;
		json_decref(info);
		event_base_dispatch(base);
	}
	return instance_info(n);
}

/* The notifier alone, with a store of its own in tmp. 0, or 1 once the error is logged. */
static int open_one(const char *tmp, struct event_base *base, struct vg_http *http,
		    struct vg_config *cfg, const char *name, json_t *conf, struct vg_alerts **s,
		    struct vg_notify **n)
{
	json_t *one = json_object(), *def = json_array();
	struct vg_alerts_opts ao = {0};
	struct vg_wal_report rep;
	char err[1024], store[64];
	int rc = 0;

	json_object_set(one, name, conf);
	json_array_append_new(def, json_string(name));
	snprintf(store, sizeof(store), "%s/store", tmp);
	ao.dir = store;
	if (vg_alerts_open(s, &ao, NULL, &rep, err, sizeof(err)) ||
	    vg_notify_open(n, base, http, tmp, cfg->plugin_dir, one, def, err, sizeof(err))) {
		vg_err("%s", err);
		rc = 1;
	}
	json_decref(one);
	json_decref(def);
	return rc;
}

static int cmd_test(struct vg_config *cfg, const char *name)
{
	char tmp[] = "/tmp/vigil-notify-test-XXXXXX";
	struct event_base *base = event_base_new();
	struct vg_http *http = base ? vg_http_new(base) : NULL;
	struct sample_exec *x = calloc(1, sizeof(*x));
	struct vg_alerts *s = NULL;
	struct vg_notify *n = NULL;
	const struct vg_alert *a;
	json_t *conf, *info = NULL;
	struct event *tick = NULL;
	int rc = 1, dead = 0, pending = 1;

	conf = cfg->notifiers ? json_object_get(cfg->notifiers, name) : NULL;
	if (!conf || !mkdtemp(tmp) || !http || !x) {
		vg_err("no notifier named '%s' in the configuration (see 'vigil notifiers list')",
		       name);
		goto out;
	}
	if (open_one(tmp, base, http, cfg, name, conf, &s, &n))
		goto out;
	vg_notify_set_store(n, s);
	a = sample(s, x);
	tick = event_new(base, -1, EV_PERSIST, on_tick, base);
	if (!a || !tick || vg_notify_alert(n, "created", a)) {
		vg_err("out of memory making the sample alert");
		goto out;
	}
	(void)event_add(tick, &(struct timeval){0, 20000}); /* fails only for another base's */
	info = wait_for_answer(n, base, name, &pending, &dead);
	printf("%s: %s\n", name,
	       or_default(json_string_value(json_object_get(info, "last")), "no answer"));
	rc = !pending && !dead ? 0 : 1;
out:
	json_decref(info);
	if (tick)
		event_free(tick);
	vg_notify_close(n);
	vg_alerts_close(s);
	vg_http_free(http);
	if (base)
		event_base_free(base);
	free(x);
	if (tmp[strlen(tmp) - 1] != 'X') {
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", tmp);
		(void)!system(cmd); /* a temporary directory left behind costs nothing */
	}
	return rc;
}

int vg_cmd_notifiers(int argc, char **argv)
{
	struct vg_config cfg;
	char **args = NULL;
	int nargs = 0, rc;
	bool as_json = false;
	const char *sub;

	if (argc < 2 || vg_asks_help(argc, argv)) {
		fputs(usage_text, argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	sub = argv[1];
	rc = load_cfg(argc - 1, argv + 1, "notifiers", &cfg, &args, &nargs, &as_json);
	if (rc)
		return rc;
	if (!strcmp(sub, "list"))
		return cmd_list(&cfg, as_json);
	if (!strcmp(sub, "outbox"))
		return cmd_outbox(&cfg, nargs ? args[0] : NULL, as_json);
	if (!strcmp(sub, "test") && nargs == 1)
		return cmd_test(&cfg, args[0]);
	if (!strcmp(sub, "retry") && nargs == 1)
		return cmd_retry(&cfg, args[0]);
	return vg_usage_error("notifiers", "unknown command or missing NAME: '%s'", sub);
}
