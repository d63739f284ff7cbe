// SPDX-License-Identifier: BSD-2-Clause
/*
 * settings.c - a notifier instance's settings: vigil's own (concurrency,
 * queue_max, max_age_s, max_attempts, retry_ms, timeout_ms), then each key checked
 * against its plugin's schema (type, format = "url", required), secrets read
 * from {file = PATH} or {env = NAME} and shown redacted (a secret table, such
 * as webhook headers: each of its values), and the plugin's own check().
 * Every error names the instance, the key and the fix.
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
#define DEFAULT_TIMEOUT_MS  10000 /* a request without an answer by then is retried */
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
	} else if (!strcmp(key, "timeout_ms")) {
		if (!in_range(v, 100, 600000))
			return vg_errf(
				err, en, -EINVAL,
				"notifiers.%s.timeout_ms must be from 100 to 600000 (ten minutes)",
				inst->name);
		inst->timeout_ms = (int)json_integer_value(v);
		/* the plugin sees it too (conf.timeout_ms); fails only out of memory */
		(void)json_object_set_new(inst->conf, key, json_integer(inst->timeout_ms));
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
		return vg_errf(err, en, -ENOENT,
			       "notifiers.%s.%s: cannot read the secret file %s: %s (fix the path, "
			       "or let vigil's user read it)",
			       inst->name, key, file, strerror(errno));
	r = fread(buf, 1, bn - 1, f);
	(void)fclose(f); /* read only: nothing to flush */
	buf[r] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	return 0;
}

/* spec is {env = NAME} or {file = PATH}, exactly one, a string: its parts, or -EINVAL with err. */
static int secret_spec(struct inst *inst, const char *key, const json_t *spec, const char **env,
		       const char **file, char *err, size_t en)
{
	const char *k;
	json_t *v;

	*env = *file = NULL;
	json_object_foreach((json_t *)spec, k, v)
	{
		if ((strcmp(k, "env") && strcmp(k, "file")) || !json_is_string(v))
			return vg_errf(err, en, -EINVAL,
				       "notifiers.%s.%s: '%s' cannot be in a secret; write "
				       "{ env = \"NAME\" } or { file = \"PATH\" } (a string each)",
				       inst->name, key, k);
		*(strcmp(k, "env") ? file : env) = json_string_value(v);
	}
	if (!*env == !*file)
		return vg_errf(err, en, -EINVAL,
			       "notifiers.%s.%s: a secret is a string, { env = \"NAME\" } or "
			       "{ file = \"PATH\" } (one of the two)",
			       inst->name, key);
	return 0;
}

/* A secret given as {file = PATH} or {env = NAME}: its value in *out (a new reference); with
 * resolve false only checked, and *out is "***" (`vigil notifiers list` reads no secret). */
static int resolve_secret(struct inst *inst, const char *key, const json_t *spec, bool resolve,
			  json_t **out, char *err, size_t en)
{
	const char *file, *env;
	char buf[4096] = "";
	int rc;

	if ((rc = secret_spec(inst, key, spec, &env, &file, err, en)))
		return rc;
	if (!resolve) {
		*out = json_string("***");
		return 0;
	}
	if (file && (rc = read_secret_file(inst, key, file, buf, sizeof(buf), err, en)))
		return rc;
	if (env && !getenv(env))
		return vg_errf(err, en, -EINVAL,
			       "notifiers.%s.%s: the environment variable %s is not set (set it in "
			       "vigil's environment, or give the secret as { file = \"PATH\" })",
			       inst->name, key, env);
	if (env)
		snprintf(buf, sizeof(buf), "%s", getenv(env));
	if (!buf[0])
		return vg_errf(err, en, -EINVAL, "notifiers.%s.%s: the secret in %s %s is empty",
			       inst->name, key, env ? "environment variable" : "file",
			       env ? env : file);
	*out = json_string(buf);
	return 0;
}

/* A table whose values are secrets (webhook headers): each a string, {env = NAME} or
 * {file = PATH}, resolved into *out (a new object), each shown as "***" in *shown. */
static int resolve_secret_table(struct inst *inst, const char *key, const json_t *v, bool resolve,
				json_t **out, json_t **shown, char *err, size_t en)
{
	char path[200];
	const char *k;
	json_t *item, *value;
	int rc = 0;

	if (!json_is_object(v) && !(json_is_array(v) && !json_array_size(v)))
		return vg_errf(
			err, en, -EINVAL,
			"notifiers.%s.%s must be a table of name = value (each value a string, "
			"{ env = \"NAME\" } or { file = \"PATH\" })",
			inst->name, key);
	*out = json_object();
	*shown = json_object();
	json_object_foreach((json_t *)v, k, item)
	{
		snprintf(path, sizeof(path), "%s.%s", key, k);
		if (json_is_string(item))
			value = json_incref(item);
		else if (json_is_object(item))
			rc = resolve_secret(inst, path, item, resolve, &value, err, en);
		else
			rc = vg_errf(err, en, -EINVAL,
				     "notifiers.%s.%s must be a string, { env = \"NAME\" } or "
				     "{ file = \"PATH\" }",
				     inst->name, path);
		if (rc)
			break;
		/* these fail only out of memory: the settings are then short, as is all else */
		(void)json_object_set_new(*out, k, value);
		(void)json_object_set_new(*shown, k, json_string("***"));
	}
	if (rc) {
		json_decref(*out);
		json_decref(*shown);
	}
	return rc;
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

/* What the schema says of one key. */
struct key_schema {
	const char *type, *format; /* alive while the schema is: it holds them */
	bool secret;
};

/* The schema of key, from the schema table on top of L: 0, or -EINVAL with err (unknown key). */
static int key_schema(struct inst *inst, lua_State *L, const char *key, struct key_schema *ks,
		      char *err, size_t en)
{
	lua_getfield(L, -1, key);
	if (!lua_istable(L, -1)) {
		lua_pop(L, 1);
		return vg_errf(err, en, -EINVAL, "notifiers.%s: unknown key '%s' for a %s notifier",
			       inst->name, key, inst->type);
	}
	lua_getfield(L, -1, "type");
	ks->type = lua_tostring(L, -1);
	lua_getfield(L, -2, "secret");
	ks->secret = lua_toboolean(L, -1);
	lua_getfield(L, -3, "format");
	ks->format = lua_tostring(L, -1);
	lua_pop(L, 4);
	return 0;
}

/* v as the instance keeps it (*out: secrets resolved) and shows it (*shown: secrets "***"), both
 * new references. A secret string may be {env = NAME} or {file = PATH}; a secret table's values
 * may each be. */
static int setting_value(struct inst *inst, const char *key, const struct key_schema *ks, json_t *v,
			 bool resolve, json_t **out, json_t **shown, char *err, size_t en)
{
	int rc = 0;

	*shown = NULL;
	if (ks->secret && ks->type && !strcmp(ks->type, "table"))
		return resolve_secret_table(inst, key, v, resolve, out, shown, err, en);
	if (ks->secret && json_is_object(v))
		rc = resolve_secret(inst, key, v, resolve, out, err, en);
	else
		*out = json_incref(v);
	if (!rc && !of_type(ks->type, *out)) {
		json_decref(*out);
		return vg_errf(err, en, -EINVAL, "notifiers.%s.%s must be a %s%s", inst->name, key,
			       ks->type,
			       ks->secret ? ", { env = \"NAME\" } or { file = \"PATH\" }" : "");
	}
	if (!rc)
		*shown = ks->secret ? json_string("***") : json_incref(*out);
	return rc;
}

/* A URL as shown (takes url): a password in its user:password@ is "***", and so is userinfo
 * without a colon (a token in the user's place). */
static json_t *shown_url(json_t *url)
{
	const char *u = json_string_value(url), *auth = strstr(u, "://"), *end, *at, *colon;
	char *masked;
	json_t *out;

	if (!auth)
		return url;
	auth += 3;
	end = auth + strcspn(auth, "/?#");
	at = memrchr(auth, '@', (size_t)(end - auth));
	if (!at)
		return url;
	colon = memchr(auth, ':', (size_t)(at - auth));
	if (!colon)
		colon = auth - 1; /* no user name to keep */
	if (asprintf(&masked, "%.*s***%s", (int)(colon + 1 - u), u, at) < 0)
		return url;
	out = json_string(masked);
	free(masked);
	if (!out)
		return url;
	json_decref(url);
	return out;
}

/* A plugin's key, against the schema table on top of L: checked, kept in conf and shown. */
static int plugin_setting(struct inst *inst, lua_State *L, const char *key, json_t *v, bool resolve,
			  char *err, size_t en)
{
	struct key_schema ks = {0};
	json_t *value, *shown;
	int rc;

	if ((rc = key_schema(inst, L, key, &ks, err, en)) ||
	    (rc = setting_value(inst, key, &ks, v, resolve, &value, &shown, err, en)))
		return rc;
	/* parsed now, not later; a secret not read (resolve false) is not checked */
	if (ks.format && !strcmp(ks.format, "url") && json_is_string(value) &&
	    (resolve || !json_is_object(v))) {
		char name[300];

		snprintf(name, sizeof(name), "notifiers.%s.%s", inst->name, key);
		rc = vg_check_http_url(name, json_string_value(value), ks.secret, err, en);
	}
	if (rc) {
		json_decref(value);
		json_decref(shown);
		return rc;
	}
	if (ks.format && !strcmp(ks.format, "url") && !ks.secret && json_is_string(shown))
		shown = shown_url(shown);
	/* these fail only out of memory: the settings are then short, as is all else */
	(void)json_object_set_new(inst->conf, key, value);
	(void)json_object_set_new(inst->shown, key, shown);
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
	inst->timeout_ms = DEFAULT_TIMEOUT_MS;
	/* fails only out of memory: the plugin then falls back to the instance's default itself */
	(void)json_object_set_new(inst->conf, "timeout_ms", json_integer(DEFAULT_TIMEOUT_MS));
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
		if (rc == 1) /* shown as given: none of vigil's own is a secret */
			(void)json_object_set(inst->shown, key, v); /* fails only out of memory */
		if (rc == 0)
			rc = plugin_setting(inst, L, key, v, !n->describe_only, err, en);
		if (rc < 0)
			break;
		rc = 0;
	}
	if (!rc)
		rc = check_required(inst, L, err, en);
	lua_pop(L, 2);
	if (!rc && !n->describe_only) /* the plugin checks the settings it will send with */
		rc = plugin_check(n, inst, err, en);
	json_object_set_new(inst->shown, "type", json_string(inst->type));
	return rc;
}
