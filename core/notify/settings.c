// SPDX-License-Identifier: BSD-2-Clause
/*
 * settings.c - a notifier instance's settings: vigil's own (concurrency,
 * queue_max, max_age_s, max_attempts, retry_ms), then each key checked
 * against its plugin's schema (type, format = "url", required), secrets read
 * from {file = PATH} or {env = NAME} and shown redacted, and the plugin's own
 * check(). Every error names the instance and the key.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "config.h"
#include "log.h"
#include "lua_host.h"
#include "luajson.h"
#include "notify_priv.h"

#define DEFAULT_ATTEMPTS    10
#define DEFAULT_RETRY_MS    1000
#define DEFAULT_MAX_AGE_S   86400 /* a day of retrying, then the dead letters */
#define DEFAULT_QUEUE_MAX   10000 /* events in memory per notifier; the rest wait on disk */
#define DEFAULT_CONCURRENCY 4

/* v is an integer from lo to hi. */
static bool in_range(const json_t *v, json_int_t lo, json_int_t hi)
{
	return json_is_integer(v) && json_integer_value(v) >= lo && json_integer_value(v) <= hi;
}

/* One of vigil's own keys: 1 when key is one (and v is right), 0 when not, or -errno with err. */
static int own_setting(struct inst *inst, const char *key, const json_t *v, char *err, size_t en)
{
	if (!strcmp(key, "concurrency")) {
		if (!in_range(v, 1, MAX_CONCURRENCY))
			return vg_errf(err, en, -EINVAL,
				       "notifiers.%s.concurrency must be from 1 to %d", inst->name,
				       MAX_CONCURRENCY);
		inst->conc = (int)json_integer_value(v);
	} else if (!strcmp(key, "queue_max")) {
		if (!in_range(v, 16, 10000000))
			return vg_errf(err, en, -EINVAL,
				       "notifiers.%s.queue_max must be from 16 to 10000000 "
				       "(events kept in memory; the rest wait on disk)",
				       inst->name);
		inst->queue_max = (int)json_integer_value(v);
	} else if (!strcmp(key, "max_age_s")) {
		if (!in_range(v, 1, 315360000))
			return vg_errf(err, en, -EINVAL,
				       "notifiers.%s.max_age_s must be a number of seconds "
				       "from 1 to 315360000 (ten years)",
				       inst->name);
		inst->max_age_s = json_integer_value(v);
	} else if (!strcmp(key, "max_attempts") || !strcmp(key, "retry_ms")) {
		if (!in_range(v, 1, 100000000))
			return vg_errf(err, en, -EINVAL,
				       "notifiers.%s.%s must be an integer from 1 to 100000000",
				       inst->name, key);
		*(!strcmp(key, "max_attempts") ? &inst->max_attempts : &inst->retry_ms) =
			(int)json_integer_value(v);
	} else {
		return 0;
	}
	return 1;
}

/* The first line of a file. 0 or -errno with err. */
static int read_secret_file(struct inst *inst, const char *key, const char *file, char *buf,
			    size_t bn, char *err, size_t en)
{
	FILE *f = fopen(file, "r");
	size_t r;

	if (!f)
		return vg_errf(err, en, -ENOENT, "notifiers.%s.%s: cannot read %s: %s", inst->name,
			       key, file, strerror(errno));
	r = fread(buf, 1, bn - 1, f);
	(void)fclose(f); /* read only: nothing to flush */
	buf[r] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	return 0;
}

/* A secret given as {file = PATH} or {env = NAME}: its value in *out (a new reference). */
static int resolve_secret(struct inst *inst, const char *key, const json_t *v, json_t **out,
			  char *err, size_t en)
{
	const char *file = json_string_value(json_object_get(v, "file"));
	const char *env = json_string_value(json_object_get(v, "env"));
	char buf[4096] = "";
	int rc;

	if (file) {
		if ((rc = read_secret_file(inst, key, file, buf, sizeof(buf), err, en)))
			return rc;
	} else if (env && getenv(env)) {
		snprintf(buf, sizeof(buf), "%s", getenv(env));
	} else {
		return vg_errf(err, en, -EINVAL,
			       "notifiers.%s.%s: a secret is a string, "
			       "{file = PATH} or {env = NAME} (and %s is not set)",
			       inst->name, key, env ? env : "no file or env given");
	}
	*out = json_string(buf);
	return 0;
}

/* v is of the schema's type ("string", "number", "boolean", "table"; NULL: any). */
static bool of_type(const char *type, const json_t *v)
{
	if (!type)
		return true;
	if (!strcmp(type, "string"))
		return json_is_string(v);
	if (!strcmp(type, "number"))
		return json_is_number(v);
	if (!strcmp(type, "boolean"))
		return json_is_boolean(v);
	if (!strcmp(type, "table"))
		return json_is_object(v) || json_is_array(v);
	return true;
}

/* A plugin's key, against the schema table on top of L: checked, kept in conf and shown. */
static int plugin_setting(struct inst *inst, lua_State *L, const char *key, json_t *v, char *err,
			  size_t en)
{
	const char *type, *format;
	bool secret;
	int rc = 0;

	lua_getfield(L, -1, key);
	if (!lua_istable(L, -1)) {
		lua_pop(L, 1);
		return vg_errf(err, en, -EINVAL, "notifiers.%s: unknown key '%s' for a %s notifier",
			       inst->name, key, inst->type);
	}
	lua_getfield(L, -1, "type");
	type = lua_tostring(L, -1);
	lua_getfield(L, -2, "secret");
	secret = lua_toboolean(L, -1);
	lua_getfield(L, -3, "format");
	format = lua_tostring(L, -1);
	lua_pop(L, 4);			   /* type and format stay alive: the schema holds them */
	if (secret && json_is_object(v)) { /* {file = PATH} or {env = NAME} */
		if ((rc = resolve_secret(inst, key, v, &v, err, en)))
			return rc;
	} else {
		json_incref(v);
	}
	if (!of_type(type, v)) {
		json_decref(v);
		return vg_errf(err, en, -EINVAL, "notifiers.%s.%s must be a %s", inst->name, key,
			       type);
	}
	if (format && !strcmp(format, "url") && json_is_string(v)) { /* parsed now, not later */
		char name[300];

		snprintf(name, sizeof(name), "notifiers.%s.%s", inst->name, key);
		rc = vg_check_http_url(name, json_string_value(v), secret, err, en);
		if (rc) {
			json_decref(v);
			return rc;
		}
	}
	json_object_set_new(inst->conf, key, v);
	json_object_set_new(inst->shown, key, secret ? json_string("***") : json_incref(v));
	return 0;
}

/* Every key the schema on top of L marks required is set. */
static int check_required(struct inst *inst, lua_State *L, char *err, size_t en)
{
	int rc = 0;

	lua_pushnil(L);
	while (lua_next(L, -2)) {
		lua_getfield(L, -1, "required");
		if (lua_toboolean(L, -1) && !json_object_get(inst->conf, lua_tostring(L, -3)) &&
		    !rc)
			rc = vg_errf(err, en, -EINVAL, "notifiers.%s: a %s notifier needs '%s'",
				     inst->name, inst->type, lua_tostring(L, -3));
		lua_pop(L, 2);
	}
	return rc;
}

/* The plugin's own check(conf), bounded like every plugin call: a string it returns is the error.
 */
static int plugin_check(struct vg_notify *n, struct inst *inst, char *err, size_t en)
{
	lua_State *L = vg_lua_state(n->lua);
	int rc = 0;

	lua_rawgeti(L, LUA_REGISTRYINDEX, n->plugins[inst->plugin].ref);
	if (lua_getfield(L, -1, "check") == LUA_TFUNCTION) {
		char cerr[512];

		vg_lua_push_json(L, inst->conf);
		if (vg_lua_call(n->lua, 1, 1, PLUGIN_BUDGET, cerr, sizeof(cerr)) != VG_LUA_OK) {
			lua_pushstring(L, cerr);
			rc = vg_errf(err, en, -EINVAL, "notifiers.%s: %s", inst->name, cerr);
		} else if (lua_isstring(L, -1)) {
			rc = vg_errf(err, en, -EINVAL, "notifiers.%s: %s", inst->name,
				     lua_tostring(L, -1));
		}
	}
	lua_pop(L, 2);
	return rc;
}

static void set_defaults(struct inst *inst)
{
	inst->conf = json_object();
	inst->shown = json_object();
	inst->max_attempts = DEFAULT_ATTEMPTS;
	inst->conc = DEFAULT_CONCURRENCY;
	inst->retry_ms = DEFAULT_RETRY_MS;
	inst->max_age_s = DEFAULT_MAX_AGE_S;
	inst->queue_max = DEFAULT_QUEUE_MAX;
}

int notify_configure(struct vg_notify *n, struct inst *inst, json_t *settings, char *err, size_t en)
{
	lua_State *L = vg_lua_state(n->lua);
	const char *key;
	json_t *v;
	int rc = 0;

	set_defaults(inst);
	lua_rawgeti(L, LUA_REGISTRYINDEX, n->plugins[inst->plugin].ref);
	if (lua_getfield(L, -1, "schema") != LUA_TTABLE) { /* no schema: no settings */
		lua_pop(L, 1);
		lua_newtable(L);
	}
	json_object_foreach(settings, key, v)
	{
		if (!strcmp(key, "type"))
			continue;
		rc = own_setting(inst, key, v, err, en);
		if (rc == 0)
			rc = plugin_setting(inst, L, key, v, err, en);
		if (rc < 0)
			break;
		rc = 0;
	}
	if (!rc)
		rc = check_required(inst, L, err, en);
	lua_pop(L, 2);
	if (!rc)
		rc = plugin_check(n, inst, err, en);
	json_object_set_new(inst->shown, "type", json_string(inst->type));
	return rc;
}
