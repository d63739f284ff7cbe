// SPDX-License-Identifier: BSD-2-Clause
/*
 * config.c - vigil.conf.lua: run in a sandbox of its own, every key checked
 * against one table (its type, its range, its syntax) and copied into struct
 * vg_config; an unknown key or a bad value is an error naming file and key.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>
#include <lauxlib.h>

#include "parse.h"
#include "config.h"
#include "log.h"
#include "lua_host.h"
#include "luajson.h"
#include "sensor.h"

enum kind { K_STR, K_U32, K_BOOL, K_SIZE, K_DUR, K_TABLE, K_JSON };

struct key {
	const char *parent, *name; /* parent NULL: top level */
	enum kind kind;
	size_t off, cap; /* where it goes in struct vg_config */
	const char *const *choices;
};

static const char *const fsync_modes[] = {"batch", "always", NULL};

#define F(m) offsetof(struct vg_config, m), sizeof(((struct vg_config *)0)->m)
static const struct key keys[] = {
	{NULL, "data_dir", K_STR, F(data_dir), NULL},
	{NULL, "policy_dir", K_STR, F(policy_dir), NULL},
	{NULL, "builtin_policies", K_BOOL, F(builtin_policies), NULL},
	{NULL, "plugin_dir", K_STR, F(plugin_dir), NULL},
	{NULL, "api", K_TABLE, 0, 0, NULL},
	{"api", "listen", K_STR, F(api_listen), NULL},
	{"api", "hosts", K_STR, F(api_hosts), NULL},
	{"api", "max_connections", K_U32, F(api_max_connections), NULL},
	{"api", "request_timeout_s", K_U32, F(api_request_timeout_s), NULL},
	{"api", "stream_keepalive_s", K_U32, F(api_stream_keepalive_s), NULL},
	{"api", "console_code_ttl", K_DUR, F(api_console_code_ttl_s), NULL},
	{"api", "console_session_ttl", K_DUR, F(api_console_session_ttl_s), NULL},
	{NULL, "store", K_TABLE, 0, 0, NULL},
	{"store", "fsync", K_STR, 0, 0, fsync_modes},
	{"store", "commit_ms", K_U32, F(commit_ms), NULL},
	{"store", "retention_days", K_U32, F(retention_days), NULL},
	{"store", "memory_mb", K_U32, F(store_memory_mb), NULL},
	{NULL, "sensor", K_TABLE, 0, 0, NULL},
	{"sensor", "ringbuf_size", K_SIZE, F(ringbuf_bytes), NULL},
	{"sensor", "drain_ms", K_U32, F(drain_ms), NULL},
	{NULL, "volume", K_TABLE, 0, 0, NULL},
	{"volume", "burst", K_U32, F(burst), NULL},
	{"volume", "window_s", K_U32, F(window_s), NULL},
	{NULL, "reload", K_TABLE, 0, 0, NULL},
	{"reload", "watch", K_BOOL, F(reload_watch), NULL},
	{NULL, "enforcement", K_TABLE, 0, 0, NULL},
	{"enforcement", "dry_run", K_BOOL, F(dry_run), NULL},
	{NULL, "identity", K_TABLE, 0, 0, NULL},
	{"identity", "content", K_BOOL, F(content), NULL},
	{"identity", "cache_files", K_U32, F(content_files), NULL},
	{"identity", "max_file_mb", K_U32, F(content_max_mb), NULL},
	{NULL, "kubernetes", K_TABLE, 0, 0, NULL},
	{"kubernetes", "server", K_STR, F(k8s_server), NULL},
	{"kubernetes", "kubeconfig", K_STR, F(k8s_kubeconfig), NULL},
	{"kubernetes", "token_file", K_STR, F(k8s_token_file), NULL},
	{"kubernetes", "ca_file", K_STR, F(k8s_ca_file), NULL},
	{"kubernetes", "node", K_STR, F(k8s_node), NULL},
	{"kubernetes", "insecure", K_BOOL, F(k8s_insecure), NULL},
	{"kubernetes", "refresh_s", K_U32, F(k8s_refresh_s), NULL},
	{"kubernetes", "pod_wait_ms", K_U32, F(k8s_pod_wait_ms), NULL},
	{"kubernetes", "pod_wait_max", K_U32, F(k8s_pod_wait_max), NULL},
	{NULL, "containers", K_TABLE, 0, 0, NULL},
	{"containers", "storage_root", K_STR, F(ctr_storage_root), NULL},
	{"containers", "docker_root", K_STR, F(ctr_docker_root), NULL},
	{NULL, "notifiers", K_JSON, offsetof(struct vg_config, notifiers), 0, NULL},
	{NULL, "default_notifiers", K_JSON, offsetof(struct vg_config, default_notifiers), 0, NULL},
	{NULL, "lua", K_TABLE, 0, 0, NULL},
	{"lua", "memory_mb", K_U32, F(lua_memory_mb), NULL},
	{"lua", "budget", K_U32, F(lua_budget), NULL},
	{"lua", "policy_memory_mb", K_U32, F(lua_policy_memory_mb), NULL},
	{"lua", "time_ms", K_U32, F(lua_time_ms), NULL},
	{NULL, "baselines", K_TABLE, 0, 0, NULL},
	{"baselines", "enabled", K_BOOL, F(bl_enabled), NULL},
	{"baselines", "observe", K_DUR, F(bl_observe_s), NULL},
	{"baselines", "startup", K_DUR, F(bl_startup_s), NULL},
	{"baselines", "auto_lock", K_BOOL, F(bl_auto_lock), NULL},
	{"baselines", "max_elements", K_U32, F(bl_max_elements), NULL},
};

/*
 * The range of every numeric key, checked at load: a numeric key without one
 * is refused, so a new key cannot slip in unbounded. Keep README in step.
 */
static const struct range {
	const char *key;
	long long min, max;
	const char *what;
} ranges[] = {
	{"store.commit_ms", 1, 1000, "milliseconds between group commits"},
	{"store.retention_days", 0, 3650, "days; 0 keeps resolved alerts forever"},
	{"store.memory_mb", 1, 65536, "MiB"},
	{"sensor.ringbuf_size", VG_RINGBUF_MIN, VG_RINGBUF_MAX, "bytes, a power of two"},
	{"sensor.drain_ms", 1, 1000, "milliseconds"},
	{"volume.burst", 0, 1000000, "repeats; 0 turns volume control off"},
	{"volume.window_s", 1, 604800, "seconds"},
	{"kubernetes.refresh_s", 1, 86400, "seconds"},
	{"kubernetes.pod_wait_ms", 0, 60000,
	 "milliseconds an exec of a pod not known yet waits for the pod's metadata; 0 evaluates it "
	 "at once, without"},
	{"kubernetes.pod_wait_max", 1, 1000000, "execs waiting for their pod at a time"},
	{"lua.memory_mb", 1, 4096, "MiB"},
	{"lua.budget", 1000, 1000000000, "instructions per call"},
	{"lua.policy_memory_mb", 1, 4096, "MiB"},
	{"lua.time_ms", 1, 10000, "milliseconds of wall time per call"},
	{"identity.cache_files", 16, 1000000, "files whose hashes are kept"},
	{"identity.max_file_mb", 1, 4096, "MiB; larger executables are not hashed"},
	{"api.max_connections", 1, 65536, "connections"},
	{"api.request_timeout_s", 1, 3600, "seconds"},
	{"api.stream_keepalive_s", 1, 3600, "seconds"},
	{"api.console_code_ttl", 1, 3600, "seconds (\"30s\", \"5m\"), up to 1h"},
	{"api.console_session_ttl", 60, 604800, "seconds (\"30m\", \"12h\"), up to 7d"},
	{"baselines.observe", 1, 31536000, "seconds (\"30s\", \"5m\", \"1h\", \"2d\"), up to 365d"},
	{"baselines.startup", 0, 86400, "seconds (\"30s\", \"5m\", \"1h\"), up to 1d"},
	{"baselines.max_elements", 1, 100000, "paths per baseline"},
};

static const struct range *range_of(const char *key)
{
	for (size_t i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++)
		if (!strcmp(ranges[i].key, key))
			return &ranges[i];
	return NULL;
}

/* value (of kind K_U32 or K_SIZE) into its key's range, or -EINVAL naming both. */
static int in_range(const char *path, const char *full, long long v, char *err, size_t n)
{
	const struct range *r = range_of(full);

	if (!r)
		return vg_errf(
			err, n, -EINVAL,
			"%s: %s has no range (a bug: add it to ranges[] in core/config/config.c)",
			path, full);
	if (v < r->min || v > r->max)
		return vg_errf(err, n, -EINVAL,
			       "%s: %s = %lld is out of range: use %lld..%lld (%s)", path, full, v,
			       r->min, r->max, r->what);
	return 0;
}

int vg_check_http_url(const char *key, const char *url, bool secret, char *err, size_t n)
{
	CURLU *h = curl_url();
	CURLUcode uc;
	char *scheme = NULL, who[300];
	int rc = 0;

	if (!h)
		return vg_errf(err, n, -ENOMEM, "out of memory");
	if (secret)
		(void)snprintf(who, sizeof(who), "%s (a secret)", key);
	else
		(void)snprintf(who, sizeof(who), "%s: '%.200s'", key, url);
	uc = curl_url_set(h, CURLUPART_URL, url, 0);
	if (uc == CURLUE_BAD_SCHEME && !strstr(url, "://") &&
	    curl_url_set(h, CURLUPART_URL, url, CURLU_DEFAULT_SCHEME) == CURLUE_OK)
		rc = vg_errf(err, n, -EINVAL, "%s has no scheme: use http:// or https://", who);
	else if (uc)
		rc = vg_errf(err, n, -EINVAL,
			     "%s is not a URL (%s): use http://HOST[:PORT][/PATH] or https://...",
			     who, curl_url_strerror(uc));
	else if (curl_url_get(h, CURLUPART_SCHEME, &scheme, 0) ||
		 (strcmp(scheme, "http") && strcmp(scheme, "https")))
		rc = vg_errf(err, n, -EINVAL, "%s is not an http:// or https:// URL", who);
	curl_free(scheme);
	curl_url_cleanup(h);
	return rc;
}

int vg_check_listen(const char *key, const char *addr, char *err, size_t n)
{
	const char *colon = strrchr(addr, ':');
	size_t digits = colon ? strspn(colon + 1, "0123456789") : 0;
	long port = digits && digits < 6 && !colon[1 + digits] ? strtol(colon + 1, NULL, 10) : 0;
	char url[200];
	CURLU *h;
	CURLUcode uc = CURLUE_MALFORMED_INPUT;

	if (port >= 1 && port <= 65535 && colon > addr && strlen(addr) < 150 &&
	    !strpbrk(addr, "/@?#") && (h = curl_url())) {
		(void)snprintf(url, sizeof(url), "http://%s/", addr);
		uc = curl_url_set(h, CURLUPART_URL, url, 0);
		curl_url_cleanup(h);
	}
	if (uc)
		return vg_errf(err, n, -EINVAL,
			       "%s: '%.200s' is not HOST:PORT with a port from 1 to 65535 "
			       "(e.g. 127.0.0.1:8077)",
			       key, addr);
	return 0;
}

/* Strings with a syntax, checked at load. */
static int check_format(const char *path, const char *full, const char *v, char *err, size_t n)
{
	char e[512];
	int rc = 0;

	if (!strcmp(full, "kubernetes.server") && *v)
		rc = vg_check_http_url(full, v, false, e, sizeof(e));
	else if (!strcmp(full, "api.listen"))
		rc = vg_check_listen(full, v, e, sizeof(e));
	else if (!strcmp(full, "api.hosts") &&
		 strspn(v,
			"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_*, ") !=
			 strlen(v))
		rc = vg_errf(e, sizeof(e), -EINVAL,
			     "%s: '%.200s' is not a list of host names (\"vigil.example.com, "
			     "monitor.lan\", or \"*\" for any)",
			     full, v);
	return rc ? vg_errf(err, n, -EINVAL, "%s: %s", path, e) : 0;
}

void vg_config_defaults(struct vg_config *c)
{
	memset(c, 0, sizeof(*c));
	strcpy(c->data_dir, "./var/vigil");	 /* fits: the fields hold paths */
	strcpy(c->api_listen, "127.0.0.1:8077"); /* and addresses */
	c->api_max_connections = 256;
	c->builtin_policies = true;
	c->api_request_timeout_s = 10;
	c->api_stream_keepalive_s = 15;
	c->api_console_code_ttl_s = 300;
	c->api_console_session_ttl_s = 43200;
	c->commit_ms = 5;
	c->retention_days = 30;
	c->store_memory_mb = 64;
	c->ringbuf_bytes = 4u << 20;
	c->drain_ms = 10;
	c->burst = 10;
	c->window_s = 1800;
	c->lua_memory_mb = 64;
	c->lua_budget = 1000000;
	c->lua_policy_memory_mb = 0; /* a quarter of lua.memory_mb */
	c->lua_time_ms = 1000;
	c->content = true;
	c->reload_watch = true;
	c->content_files = 4096;
	c->content_max_mb = 64;
	c->bl_enabled = true;
	c->bl_observe_s = 3600;
	c->bl_startup_s = 60;
	c->bl_max_elements = 1000;
	c->k8s_pod_wait_ms = 2000;
	c->k8s_pod_wait_max = 1024;
}

static void known(const char *parent, char *out, size_t n)
{
	size_t o = 0;

	out[0] = '\0';
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]) && o < n; i++)
		if ((!parent && !keys[i].parent) ||
		    (parent && keys[i].parent && !strcmp(parent, keys[i].parent)))
			o += (size_t)snprintf(out + o, n - o, "%s%s", o ? ", " : "", keys[i].name);
}

/* The key name under parent (NULL: top level), or NULL. */
static const struct key *find_key(const char *parent, const char *name)
{
	const struct key *k = NULL;

	for (size_t i = 0; name && i < sizeof(keys) / sizeof(keys[0]); i++)
		if (!strcmp(keys[i].name, name) &&
		    ((!parent && !keys[i].parent) ||
		     (parent && keys[i].parent && !strcmp(parent, keys[i].parent))))
			k = &keys[i];
	return k;
}

/* Where one key's value is read from and goes to. */
struct slot {
	lua_State *L; /* the value on top of the stack */
	const struct key *k;
	struct vg_config *c;
	const char *path, *full; /* the file, and the key's dotted name */
};

static int apply_table(lua_State *L, int idx, const char *parent, struct vg_config *c,
		       const char *path, char *err, size_t n);

static int apply_choice(const struct slot *s, char *err, size_t n)
{
	const char *v = lua_tostring(s->L, -1);
	bool ok = false;

	for (int i = 0; s->k->choices[i]; i++)
		ok |= !strcmp(v, s->k->choices[i]);
	if (!ok)
		return vg_errf(err, n, -EINVAL,
			       "%s: %s must be \"batch\" or \"always\", not \"%s\"", s->path,
			       s->full, v);
	s->c->fsync_always = !strcmp(v, "always");
	return 0;
}

static int apply_str(const struct slot *s, char *err, size_t n)
{
	int rc;

	if (lua_type(s->L, -1) != LUA_TSTRING)
		return vg_errf(err, n, -EINVAL, "%s: %s must be a string", s->path, s->full);
	if (s->k->choices)
		return apply_choice(s, err, n);
	if (lua_rawlen(s->L, -1) >= s->k->cap)
		return vg_errf(err, n, -EINVAL, "%s: %s is too long", s->path, s->full);
	rc = check_format(s->path, s->full, lua_tostring(s->L, -1), err, n);
	if (rc)
		return rc;
	/* fits: its length was checked against the field's */
	(void)snprintf((char *)s->c + s->k->off, s->k->cap, "%s", lua_tostring(s->L, -1));
	return 0;
}

static int apply_u32(const struct slot *s, char *err, size_t n)
{
	const struct range *r = range_of(s->full);
	int rc;

	if (!lua_isinteger(s->L, -1) && r)
		return vg_errf(err, n, -EINVAL, "%s: %s must be an integer (%lld..%lld, %s)",
			       s->path, s->full, r->min, r->max, r->what);
	rc = in_range(s->path, s->full, lua_tointeger(s->L, -1), err, n);
	if (rc)
		return rc;
	*(uint32_t *)((char *)s->c + s->k->off) = (uint32_t)lua_tointeger(s->L, -1);
	return 0;
}

/* "90", "30s", "5m", "1h", "2d" (or an integer: seconds) into seconds; 0 or -EINVAL. */
static int parse_duration(const char *v, uint64_t *secs)
{
	static const struct {
		char unit;
		uint64_t secs;
	} units[] = {{'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}};
	size_t digits = strspn(v, "0123456789");
	char num[24];
	uint64_t mult = 0, n;

	if (!digits || digits >= sizeof(num) || (v[digits] && v[digits + 1]))
		return -EINVAL;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (v[digits] == units[i].unit || (!v[digits] && units[i].unit == 's'))
			mult = units[i].secs;
	memcpy(num, v, digits);
	num[digits] = '\0';
	if (!mult || vg_parse_u64(num, &n, false) || n > UINT32_MAX)
		return -EINVAL;
	*secs = n * mult;
	return 0;
}

static int parse_size(const char *v, uint64_t *out)
{
	return vg_parse_u64(v, out, true);
}

/*
 * A count written as a non-negative integer or as a string parse() reads ("4M", "30s"),
 * range-checked, into the slot's uint32_t; else an error that shows the form (like).
 */
static int apply_unit(const struct slot *s, char *err, size_t n,
		      int (*parse)(const char *, uint64_t *), const char *like)
{
	uint64_t v = 0;
	bool ok = false;
	int rc;

	if (lua_isinteger(s->L, -1) && lua_tointeger(s->L, -1) >= 0) {
		v = (uint64_t)lua_tointeger(s->L, -1);
		ok = true;
	} else if (lua_type(s->L, -1) == LUA_TSTRING) {
		ok = !parse(lua_tostring(s->L, -1), &v);
	}
	if (!ok)
		return vg_errf(err, n, -EINVAL, "%s: %s must be %s", s->path, s->full, like);
	if (v > LLONG_MAX)
		v = LLONG_MAX;
	rc = in_range(s->path, s->full, (long long)v, err, n);
	if (rc)
		return rc;
	*(uint32_t *)((char *)s->c + s->k->off) = (uint32_t)v;
	return 0;
}

static int apply_json(const struct slot *s, char *err, size_t n)
{
	char jerr[256];
	json_t *j;

	if (!lua_istable(s->L, -1))
		return vg_errf(err, n, -EINVAL, "%s: %s must be a table", s->path, s->full);
	j = vg_lua_to_json(s->L, -1, jerr, sizeof(jerr));
	if (!j)
		return vg_errf(err, n, -EINVAL, "%s: %s must be a table: %s", s->path, s->full,
			       jerr);
	*(json_t **)((char *)s->c + s->k->off) = j;
	return 0;
}

static int apply_value(const struct slot *s, char *err, size_t n)
{
	switch (s->k->kind) {
	case K_TABLE:
		if (!lua_istable(s->L, -1))
			return vg_errf(err, n, -EINVAL, "%s: %s must be a table: %s = { ... }",
				       s->path, s->full, s->full);
		return apply_table(s->L, lua_gettop(s->L), s->k->name, s->c, s->path, err, n);
	case K_STR:
		return apply_str(s, err, n);
	case K_U32:
		return apply_u32(s, err, n);
	case K_SIZE:
		return apply_unit(s, err, n, parse_size, "a size such as \"4M\" or 4194304");
	case K_DUR:
		return apply_unit(s, err, n, parse_duration,
				  "a duration such as \"30s\", \"5m\", \"1h\" or \"2d\" (or an "
				  "integer: seconds)");
	case K_JSON:
		return apply_json(s, err, n);
	case K_BOOL:
		if (!lua_isboolean(s->L, -1))
			return vg_errf(err, n, -EINVAL, "%s: %s must be true or false", s->path,
				       s->full);
		*(bool *)((char *)s->c + s->k->off) = lua_toboolean(s->L, -1);
		return 0;
	}
	return vg_errf(err, n, -EINVAL, "internal: key %s has no kind", s->full);
}

/* Applies the table at idx (top level when parent is NULL). */
static int apply_table(lua_State *L, int idx, const char *parent, struct vg_config *c,
		       const char *path, char *err, size_t n)
{
	lua_pushnil(L);
	while (lua_next(L, idx)) {
		const char *name = NULL;
		char full[128], list[512];
		struct slot s = {.L = L, .c = c, .path = path, .full = full};
		int rc;

		if (lua_type(L, -2) == LUA_TSTRING)
			name = lua_tostring(L, -2);
		s.k = find_key(parent, name);
		(void)snprintf(full, sizeof(full), "%s%s%s", parent ? parent : "",
			       parent ? "." : "", name ? name : "?"); /* keys are short */
		if (!s.k) {
			known(parent, list, sizeof(list));
			lua_pop(L, 2);
			return vg_errf(err, n, -EINVAL, "%s: unknown key '%s' (known%s%s: %s)",
				       path, full, parent ? " in " : "", parent ? parent : "",
				       list);
		}
		rc = apply_value(&s, err, n);
		lua_pop(L, 1);
		if (rc) {
			lua_pop(L, 1);
			return rc;
		}
	}
	return 0;
}

int vg_config_resolve(struct vg_config *c, const char *config, const char *data_dir, char *err,
		      size_t n)
{
	int rc;

	vg_config_defaults(c);
	if (!config && access("vigil.conf.lua", F_OK) == 0)
		config = "vigil.conf.lua";
	rc = 0;
	if (config)
		rc = vg_config_load(c, config, err, n);
	if (!rc && data_dir &&
	    snprintf(c->data_dir, sizeof(c->data_dir), "%s", data_dir) >= (int)sizeof(c->data_dir))
		rc = vg_errf(err, n, -ENAMETOOLONG, "the data directory %s is too long", data_dir);
	if (!rc && c->plugin_dir[0]) { /* an error now, not when the first notifier is added */
		int fd = open(c->plugin_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		if (fd < 0)
			rc = vg_errf(err, n, -errno,
				     "%s: plugin_dir %s: %s (fix the path, or leave "
				     "plugin_dir out for the built-in plugins only)",
				     config ? config : "vigil.conf.lua", c->plugin_dir,
				     strerror(errno));
		else
			(void)close(fd); /* only opened to see that it is a directory */
	}
	return rc;
}

#define MAX_CONFIG (1 << 20) /* bytes of vigil.conf.lua, at most */

/* The whole file into a new buffer (*len bytes); a file past MAX_CONFIG is an error. */
static int read_config(const char *path, char **buf, size_t *len, char *err, size_t n)
{
	FILE *f = fopen(path, "rb");
	struct stat st;
	long size = -1;

	*buf = NULL;
	*len = 0;
	if (!f)
		return vg_errf(err, n, -errno, "cannot read the configuration %s: %s", path,
			       strerror(errno));
	if (!fstat(fileno(f), &st) && S_ISDIR(st.st_mode)) {
		(void)fclose(f); /* only opened: nothing to lose */
		return vg_errf(err, n, -EISDIR,
			       "the configuration %s is a directory: give the file "
			       "(--config DIR/vigil.conf.lua)",
			       path);
	}
	*buf = malloc(MAX_CONFIG + 1);
	if (*buf)
		*len = fread(*buf, 1, MAX_CONFIG + 1, f); /* one byte more: a longer file shows */
	if (*len > MAX_CONFIG && fseek(f, 0, SEEK_END) == 0)
		size = ftell(f);
	(void)fclose(f); /* read only: nothing to lose */
	if (!*buf)
		return vg_errf(err, n, -ENOMEM, "out of memory");
	if (*len > MAX_CONFIG) {
		free(*buf);
		*buf = NULL;
		if (size < 0)
			return vg_errf(err, n, -EFBIG,
				       "the configuration %s is larger than %d bytes (1 MiB), the "
				       "most vigil reads",
				       path, MAX_CONFIG);
		return vg_errf(err, n, -EFBIG,
			       "the configuration %s is %ld bytes: at most %d bytes (1 MiB) "
			       "are read",
			       path, size, MAX_CONFIG);
	}
	return 0;
}

int vg_config_load(struct vg_config *c, const char *path, char *err, size_t n)
{
	struct vg_lua *h;
	char *buf, chunk[1100];
	size_t len;
	lua_State *L;
	int rc = read_config(path, &buf, &len, err, n);

	if (rc)
		return rc;
	h = vg_lua_new(8u << 20);
	if (!h) {
		free(buf);
		return vg_errf(err, n, -ENOMEM, "out of memory");
	}
	L = vg_lua_state(h);
	(void)snprintf(chunk, sizeof(chunk), "@%s", path); /* Lua cuts long names anyway */
	rc = vg_lua_run_chunk(h, buf, len, chunk, 1, 1000000, err, n);
	if (rc)
		rc = -EINVAL;
	else if (!lua_istable(L, -1))
		rc = vg_errf(err, n, -EINVAL,
			     "%s: the file must return a table: return { data_dir = \"...\" }",
			     path);
	else
		rc = apply_table(L, lua_gettop(L), NULL, c, path, err, n);
	free(buf);
	vg_lua_free(h);
	return rc;
}
