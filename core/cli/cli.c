// SPDX-License-Identifier: BSD-2-Clause
/* cli.c - what every subcommand shares: usage errors, the configuration, the live
 * policy state, policy filters and short alert ids (resolved in the store or through the API). */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"
#include "client.h"
#include "log.h"

bool vg_asks_help(int argc, char **argv)
{
	for (int i = 1; i < argc && strcmp(argv[i], "--"); i++)
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
			return true;
	return false;
}

int vg_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "vigil %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see 'vigil %s --help')\n", cmd);
	return 2;
}

int vg_usage_unknown(const char *cmd, const char *arg, int optopt)
{
	if (optopt && arg && strchr(arg, '='))
		return vg_usage_error(cmd, "option '%s' takes no value", arg);
	if (optopt)
		return vg_usage_error(cmd, "option '%s' needs a value", arg);
	return vg_usage_error(cmd, "unknown option '%s'", arg);
}

int vg_cli_config(struct vg_config *cfg, const char *config, const char *data_dir)
{
	char err[1024];

	if (vg_config_resolve(cfg, config, data_dir, err, sizeof(err))) {
		vg_err("%s", err);
		return 2;
	}
	return 0;
}

struct vg_engine_opts vg_cli_engine_opts(const struct vg_config *cfg, const char *dir)
{
	struct vg_engine_opts eo = {
		.lua_mem = (size_t)cfg->lua_memory_mb << 20,
		.policy_mem = (size_t)cfg->lua_policy_memory_mb << 20,
		.budget = cfg->lua_budget,
		.time_ms = cfg->lua_time_ms,
	};

	if (dir) {
		eo.dir = dir;
	} else if (cfg->policy_dir[0]) {
		eo.dir = cfg->policy_dir;
		eo.with_builtin = cfg->builtin_policies;
	}
	return eo;
}

/* One policy's setting on e: enabled (< 0: unset) and enforcement (NULL: unset). */
static void apply_setting(struct vg_engine *e, const char *id, int enabled, const char *enforcement)
{
	enum vg_enforce_mode mode;
	int i = id ? vg_engine_find(e, id) : -ENOENT;

	if (i < 0 || vg_engine_policy(e, i)->broken)
		return;
	if (enabled >= 0)
		vg_engine_enable(e, i, enabled);
	if (enforcement && !vg_enforce_mode_parse(enforcement, &mode))
		vg_engine_set_enforcement(e, i, mode);
}

/* The running daemon's state of each policy (GET /v1/policies). */
static int live_via_api(const struct vg_config *cfg, struct vg_engine *e)
{
	json_t *r = vg_client_api(cfg, "GET", "/v1/policies", NULL), *p;
	size_t i;

	if (!r)
		return -EIO;
	json_array_foreach(json_object_get(r, "policies"), i, p)
	{
		json_t *disabled = json_object_get(p, "disabled");

		apply_setting(e, json_string_value(json_object_get(p, "id")),
			      json_is_boolean(disabled) ? !json_is_true(disabled) : -1,
			      json_string_value(json_object_get(p, "enforcement")));
	}
	json_decref(r);
	return 0;
}

/* What `policy enforce|inform|enable|disable` recorded in the store, no daemon running. */
static int live_via_store(const struct vg_config *cfg, struct vg_engine *e)
{
	struct vg_alerts *store;
	char dir[1100];

	(void)snprintf(dir, sizeof(dir), "%.1000s/store", cfg->data_dir); /* fits */
	if (access(dir, F_OK))
		return 0; /* no store yet: the files' own state is the state */
	store = vg_client_open_store(cfg);
	if (!store)
		return -EIO;
	for (int i = 0; i < vg_engine_count(e); i++) {
		const struct vg_policy_info *p = vg_engine_policy(e, i);
		const struct vg_policy_setting *st = vg_alerts_policy_setting(store, p->id);

		if (st)
			apply_setting(e, p->id, st->enabled, st->enforcement);
	}
	vg_alerts_close(store);
	return 0;
}

int vg_cli_live_state(const struct vg_config *cfg, struct vg_engine *e)
{
	int lock = -1, rc;

	if (vg_client_daemon_running(cfg, &lock))
		rc = live_via_api(cfg, e);
	else
		rc = live_via_store(cfg, e);
	if (lock >= 0)
		(void)close(lock); /* only held to read: nothing to flush */
	return rc;
}

bool vg_cli_policy_matches(const char *name, const char *filter)
{
	return !filter || (name && strcasestr(name, filter));
}

const char *vg_cli_id_prefix(const char *const *ids, int n, const char *prefix, char *err,
			     size_t errlen)
{
	size_t len = strlen(prefix), off;
	const char *found = NULL;
	int nfound = 0;

	for (int i = 0; i < n; i++)
		if (!strcmp(ids[i], prefix))
			return ids[i];
	if (len < VG_CLI_ID_PREFIX_MIN) {
		(void)vg_errf(err, errlen, -EINVAL,
			      "alert id '%s' is too short: give at least %d characters of it",
			      prefix, VG_CLI_ID_PREFIX_MIN);
		return NULL;
	}
	off = (size_t)snprintf(err, errlen, "alert id '%s' is ambiguous: it begins each of",
			       prefix);
	for (int i = 0; i < n; i++) {
		if (strncasecmp(ids[i], prefix, len))
			continue;
		found = ids[i];
		if (off < errlen)
			off += (size_t)snprintf(err + off, errlen - off, " %s", ids[i]);
		nfound++;
	}
	if (nfound == 1)
		return found;
	if (!nfound)
		(void)vg_errf(err, errlen, -ENOENT,
			      "no alert with id '%s' (see 'vigil violations list --state all')",
			      prefix);
	return NULL;
}

/* The one id of ids that arg is or begins, into id; 0, or 1 (said why). */
static int pick_id(const char **ids, int n, const char *arg, char id[VG_CLI_ALERT_ID_LEN])
{
	char err[4096];
	const char *found = vg_cli_id_prefix(ids, n, arg, err, sizeof(err));

	if (!found) {
		vg_err("%s", err);
		return 1;
	}
	(void)snprintf(id, VG_CLI_ALERT_ID_LEN, "%s", found); /* ids are uuids */
	return 0;
}

int vg_cli_store_alert_id(struct vg_alerts *s, const char *arg, char id[VG_CLI_ALERT_ID_LEN])
{
	struct vg_alert_filter f = {.state = -1};
	const struct vg_alert **list;
	const char **ids;
	int n, rc = 1;

	if (vg_alerts_get(s, arg))
		return pick_id(&arg, 1, arg, id);
	n = vg_alerts_query_unsorted(s, &f, &list);
	ids = calloc((size_t)n + 1, sizeof(*ids));
	if (ids) {
		for (int i = 0; i < n; i++)
			ids[i] = list[i]->id;
		rc = pick_id(ids, n, arg, id);
	} else {
		vg_err("out of memory");
	}
	free(ids);
	free(list);
	return rc;
}

int vg_cli_api_alert_id(const struct vg_config *cfg, const char *arg, char id[VG_CLI_ALERT_ID_LEN])
{
	json_t *alerts, *a;
	const char **ids;
	size_t i;
	int rc = 1;

	if (strlen(arg) == VG_CLI_ALERT_ID_LEN - 1)
		return pick_id(&arg, 1, arg, id);
	alerts = vg_client_api_alerts(cfg, "State:ALL");
	if (!alerts)
		return 1;
	ids = calloc(json_array_size(alerts) + 1, sizeof(*ids));
	if (ids) {
		json_array_foreach(alerts, i, a)
		{
			const char *s = json_string_value(json_object_get(a, "id"));

			ids[i] = s ? s : "";
		}
		rc = pick_id(ids, (int)json_array_size(alerts), arg, id);
	} else {
		vg_err("out of memory");
	}
	free(ids);
	json_decref(alerts);
	return rc;
}
