// SPDX-License-Identifier: BSD-2-Clause
/*
 * notify.c - the notifiers: the plugins loaded (built-in, then plugin_dir),
 * the instances configured (settings.c) with their queues in the outbox
 * (outbox.h), the routes from policies to instances, and what is reported of
 * them (GET /v1/notifiers, /metrics). Delivery is in delivery.c, the plugins'
 * Lua API in plugin_api.c.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <lauxlib.h>

#include "embed.h"
#include "log.h"
#include "lua_host.h"
#include "notify_priv.h"
#include "stream.h"

struct inst *notify_inst(struct vg_notify *n, const char *name)
{
	for (int i = 0; i < n->ninst; i++)
		if (!strcmp(n->inst[i].name, name))
			return &n->inst[i];
	return NULL;
}

void vg_notify_routes_clear(struct vg_notify *n)
{
	for (int i = 0; i < n->nroutes; i++) {
		for (int k = 0; k < n->routes[i].nnames; k++)
			free(n->routes[i].names[k]);
		free(n->routes[i].names);
		free(n->routes[i].policy_id);
	}
	free(n->routes);
	n->routes = NULL;
	n->nroutes = 0;
}

int vg_notify_route(struct vg_notify *n, const char *policy_id, const char *const *names, char *err,
		    size_t en)
{
	struct route *nr, *r;
	int cnt = 0;

	for (; names[cnt]; cnt++)
		if (!notify_inst(n, names[cnt]))
			return vg_errf(
				err, en, -ENOENT,
				"policy '%s' names notifier '%s', which vigil.conf.lua does not "
				"configure (add it to notifiers, or fix the name)",
				policy_id, names[cnt]);
	nr = realloc(n->routes, (size_t)(n->nroutes + 1) * sizeof(*nr));
	if (!nr)
		return -ENOMEM;
	n->routes = nr;
	r = &n->routes[n->nroutes];
	r->policy_id = strdup(policy_id);
	r->names = calloc((size_t)cnt + 1, sizeof(char *));
	r->nnames = 0;
	if (!r->policy_id || !r->names) {
		free(r->policy_id);
		free(r->names);
		return -ENOMEM;
	}
	for (int i = 0; i < cnt; i++)
		if ((r->names[i] = strdup(names[i])))
			r->nnames++;
	n->nroutes++;
	return 0;
}

void vg_notify_set_store(struct vg_notify *n, struct vg_alerts *store)
{
	n->store = store;
}

int vg_notify_retry_dead(struct vg_notify *n, const char *what)
{
	int count = vg_outbox_retry_dead(n->outbox, what);

	event_active(n->pump, 0, 0);
	return count;
}

int vg_notify_pending(struct vg_notify *n, const char *name, int *dead)
{
	return vg_outbox_pending(n->outbox, name, dead);
}

/* name is one of default_notifiers. */
static bool is_default(const struct vg_notify *n, const char *name)
{
	for (int d = 0; d < n->ndefaults; d++)
		if (!strcmp(n->defaults[d], name))
			return true;
	return false;
}

/* ---- set-up ------------------------------------------------------------------------------ */

/* Runs one plugin file and keeps the table it returns. */
static int add_plugin(struct vg_notify *n, const char *path, const char *buf, size_t len, char *err,
		      size_t en)
{
	lua_State *L = vg_lua_state(n->lua);
	struct plugin *p, *np;
	char chunk[4100];

	snprintf(chunk, sizeof(chunk), "@%s", path);
	if (vg_lua_run_chunk(n->lua, buf, len, chunk, 1, PLUGIN_BUDGET, err, en))
		return -EINVAL;
	if (lua_istable(L, -1)) { /* raw: no metamethod runs outside a protected call */
		lua_pushliteral(L, "name");
		lua_rawget(L, -2);
	} else
		lua_pushnil(L);
	if (lua_type(L, -1) != LUA_TSTRING) {
		lua_pop(L, 2);
		return vg_errf(err, en, -EINVAL,
			       "%s must return a table with a name (see plugins/README.md)", path);
	}
	for (int i = 0; i < n->nplugins; i++)
		if (!strcmp(n->plugins[i].name, lua_tostring(L, -1))) {
			int rc = vg_errf(err, en, -EEXIST,
					 "%s: a notifier type '%s' is already defined by %s; "
					 "give the plugin another name",
					 path, lua_tostring(L, -1), n->plugins[i].file);

			lua_pop(L, 2);
			return rc;
		}
	np = realloc(n->plugins, (size_t)(n->nplugins + 1) * sizeof(*np));
	if (!np)
		return -ENOMEM;
	n->plugins = np;
	p = &n->plugins[n->nplugins++];
	snprintf(p->name, sizeof(p->name), "%s", lua_tostring(L, -1));
	snprintf(p->file, sizeof(p->file), "%s", path);
	lua_pop(L, 1);
	p->ref = luaL_ref(L, LUA_REGISTRYINDEX);
	return 0;
}

static int lua_file(const struct dirent *de)
{
	size_t l = strlen(de->d_name);

	return de->d_name[0] != '.' && l > 4 && !strcmp(de->d_name + l - 4, ".lua");
}

/* A plugin from a file of plugin_dir (at most 16 MiB). */
static int add_plugin_file(struct vg_notify *n, const char *path, char *err, size_t en)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t len = 0;
	int rc;

	if (f) {
		long sz = fseek(f, 0, SEEK_END) ? -1 : ftell(f);

		rewind(f);
		if (sz >= 0 && sz < (16 << 20) && (buf = malloc((size_t)sz + 1)))
			len = fread(buf, 1, (size_t)sz, f);
		(void)fclose(f); /* read only: nothing to flush */
	}
	if (!buf)
		return vg_errf(err, en, -EIO, "%s: cannot read: %s", path,
			       strerror(errno ? errno : EIO));
	rc = add_plugin(n, path, buf, len, err, en);
	free(buf);
	return rc;
}

/* The built-in plugins, then every *.lua in plugin_dir (in name order). */
static int load_plugins(struct vg_notify *n, const char *plugin_dir, char *err, size_t en)
{
	struct dirent **ents = NULL;
	int rc = 0, cnt;

	for (const struct vg_embedded *f = vg_embedded; f->path; f++) {
		if (strncmp(f->path, "plugins/", 8) ||
		    strcmp(f->path + strlen(f->path) - 4, ".lua"))
			continue;
		if ((rc = add_plugin(n, f->path, f->data, f->len, err, en)))
			return rc;
	}
	if (!plugin_dir || !*plugin_dir)
		return 0;
	cnt = scandir(plugin_dir, &ents, lua_file, alphasort);
	if (cnt < 0)
		return vg_errf(err, en, -errno,
			       "plugin_dir %s: %s (fix the path in vigil.conf.lua)", plugin_dir,
			       strerror(errno));
	for (int i = 0; i < cnt; i++) {
		char path[4096];

		snprintf(path, sizeof(path), "%s/%s", plugin_dir, ents[i]->d_name);
		if (!rc)
			rc = add_plugin_file(n, path, err, en);
		free(ents[i]);
	}
	free(ents);
	return rc;
}

/* The known types, for an error: "a, b, c". */
static void plugin_names(const struct vg_notify *n, char *list, size_t size)
{
	size_t o = 0;

	list[0] = '\0';
	for (int k = 0; k < n->nplugins && o < size; k++)
		o += (size_t)snprintf(list + o, size - o, "%s%s", k ? ", " : "",
				      n->plugins[k].name);
}

/* One instance, {"type": ..., settings}: its plugin found, its settings checked. */
static int add_instance(struct vg_notify *n, const char *name, json_t *v, char *err, size_t en)
{
	const char *type = json_string_value(json_object_get(v, "type"));
	struct inst *inst, *grown;
	int plugin = -1;

	for (int k = 0; type && k < n->nplugins; k++)
		if (!strcmp(n->plugins[k].name, type))
			plugin = k;
	if (!json_is_object(v) || plugin < 0) {
		char list[512];

		plugin_names(n, list, sizeof(list));
		return vg_errf(err, en, -EINVAL,
			       "notifiers.%s: unknown notifier type '%s' (known: %s)", name,
			       type ? type : "(none)", list);
	}
	grown = realloc(n->inst, (size_t)(n->ninst + 1) * sizeof(*grown));
	if (!grown)
		return vg_errf(err, en, -ENOMEM, "out of memory configuring notifiers.%s", name);
	n->inst = grown;
	inst = &n->inst[n->ninst++];
	memset(inst, 0, sizeof(*inst));
	for (int k = 0; k < MAX_CONCURRENCY; k++)
		inst->slot[k].co_ref = LUA_NOREF;
	inst->probe.co_ref = LUA_NOREF;
	inst->plugin = plugin;
	snprintf(inst->name, sizeof(inst->name), "%s", name);
	snprintf(inst->type, sizeof(inst->type), "%s", type);
	return notify_configure(n, inst, v, err, en);
}

/* default_notifiers: each a configured instance. */
static int add_defaults(struct vg_notify *n, const json_t *defaults, char *err, size_t en)
{
	size_t i;
	json_t *v;

	json_array_foreach(defaults, i, v)
	{
		char **grown;
		char *name;

		if (!json_is_string(v) || !notify_inst(n, json_string_value(v)))
			return vg_errf(err, en, -EINVAL,
				       "default_notifiers: '%s' is not a configured notifier",
				       json_string_value(v) ? json_string_value(v) : "?");
		grown = realloc(n->defaults, (size_t)(n->ndefaults + 1) * sizeof(char *));
		if (grown)
			n->defaults = grown;
		name = grown ? strdup(json_string_value(v)) : NULL;
		if (!name)
			return vg_errf(err, en, -ENOMEM, "out of memory reading default_notifiers");
		n->defaults[n->ndefaults++] = name;
	}
	return 0;
}

/* The outbox, with one queue per instance in the same order. */
static int open_outbox(struct vg_notify *n, const char *data_dir, char *err, size_t en)
{
	struct vg_outbox_queue_spec *specs = calloc((size_t)n->ninst + 1, sizeof(*specs));
	int rc;

	if (!specs)
		return vg_errf(err, en, -ENOMEM, "out of memory opening the outbox");
	for (int i = 0; i < n->ninst; i++)
		specs[i] = (struct vg_outbox_queue_spec){n->inst[i].name, n->inst[i].queue_max};
	rc = vg_outbox_open(&n->outbox, n->base, data_dir, specs, n->ninst, err, en);
	free(specs);
	return rc;
}

/* The plugins loaded and the configured instances and defaults added to n. */
static int configure(struct vg_notify *n, const char *plugin_dir, const json_t *instances,
		     const json_t *defaults, char *err, size_t en)
{
	const char *key;
	json_t *v;
	int rc = load_plugins(n, plugin_dir, err, en);

	json_object_foreach((json_t *)instances, key, v)
	{
		if (!rc)
			rc = add_instance(n, key, v, err, en);
	}
	if (!rc)
		rc = add_defaults(n, defaults, err, en);
	return rc;
}

int vg_notify_open(struct vg_notify **out, struct event_base *base, struct vg_http *http,
		   const char *data_dir, const char *plugin_dir, const json_t *instances,
		   const json_t *defaults, char *err, size_t en)
{
	struct vg_notify *n = calloc(1, sizeof(*n));
	int rc;

	*out = NULL;
	if (!n)
		return vg_errf(err, en, -ENOMEM, "out of memory starting the notifiers");
	n->base = base;
	n->http = http;
	n->lua = vg_lua_new(64u << 20);
	n->pump = event_new(base, -1, EV_PERSIST, notify_on_pump, n);
	if (!n->lua || !n->pump || notify_api_open(n)) {
		vg_notify_close(n);
		return vg_errf(err, en, -ENOMEM, "out of memory starting the notifiers");
	}
	rc = configure(n, plugin_dir, instances, defaults, err, en);
	if (!rc)
		rc = open_outbox(n, data_dir, err, en);
	if (rc) {
		vg_notify_close(n);
		return rc;
	}
	/* fails only for an event of another base: this one is ours */
	(void)event_add(n->pump, &(struct timeval){0, 100000});
	*out = n;
	return 0;
}

/* The instances as configured: name, type, default or not, settings (secrets "***"). */
static json_t *describe_json(const struct vg_notify *n)
{
	json_t *arr = json_array();

	for (int i = 0; i < n->ninst; i++) /* fails only out of memory: the list is short */
		(void)json_array_append_new(
			arr, json_pack("{s:s, s:s, s:b, s:O}", "name", n->inst[i].name, "type",
				       n->inst[i].type, "default", is_default(n, n->inst[i].name),
				       "settings", n->inst[i].shown));
	return arr;
}

int vg_notify_describe(json_t **out, const char *plugin_dir, const json_t *instances,
		       const json_t *defaults, char *err, size_t en)
{
	struct vg_notify *n = calloc(1, sizeof(*n));
	int rc;

	*out = NULL;
	if (!n || !(n->lua = vg_lua_new(64u << 20)) || notify_api_open(n)) {
		vg_notify_close(n);
		return vg_errf(err, en, -ENOMEM, "out of memory reading the notifiers");
	}
	n->describe_only = true; /* no secret read, no plugin check(), no outbox */
	rc = configure(n, plugin_dir, instances, defaults, err, en);
	if (!rc && !(*out = describe_json(n)))
		rc = vg_errf(err, en, -ENOMEM, "out of memory reading the notifiers");
	vg_notify_close(n);
	return rc;
}

void vg_notify_close(struct vg_notify *n)
{
	if (!n)
		return;
	vg_outbox_close(n->outbox);
	notify_api_close(n); /* requests in flight stop: none goes out later */
	for (int i = 0; i < n->ninst; i++) {
		struct inst *inst = &n->inst[i];

		json_decref(inst->conf);
		json_decref(inst->shown);
		for (int k = 0; k < MAX_CONCURRENCY; k++) {
			vg_stream_free(inst->slot[k].stream);
			inst->slot[k].co = NULL;
		}
		vg_stream_free(inst->probe.stream);
		inst->probe.co = NULL;
	}
	free(n->inst);
	for (int i = 0; i < n->ndefaults; i++)
		free(n->defaults[i]);
	free(n->defaults);
	vg_notify_routes_clear(n);
	free(n->plugins);
	if (n->pump)
		event_free(n->pump);
	vg_lua_free(n->lua);
	free(n);
}

/* ---- what is reported ------------------------------------------------------------------------ */

#define SHOWN_WAITING 100 /* the first events an instance has waiting, with their tries */

/* Instance i's first events waiting: their tries so far and the time to their next try. */
static json_t *waiting_json(struct vg_notify *n, int i)
{
	json_t *arr = json_array();
	int64_t now = mono_ms();
	int k = 0;

	for (const struct vg_outbox_entry *e = vg_outbox_waiting(n->outbox, i);
	     e && k < SHOWN_WAITING; e = e->next, k++)
		/* out of memory: the entry is left out of a report */
		(void)json_array_append_new(
			arr,
			json_pack("{s:I, s:s, s:s, s:i, s:i, s:I, s:b}", "id", (json_int_t)e->id,
				  "alert", e->alert_id, "event", e->event, "attempts", e->attempts,
				  "failures", e->failures, "nextTryMs",
				  (json_int_t)(e->next_ms > now ? e->next_ms - now : 0), "inFlight",
				  e->inflight));
	return arr;
}

json_t *vg_notify_json(struct vg_notify *n)
{
	json_t *arr = json_array();

	for (int i = 0; i < n->ninst; i++) {
		struct inst *inst = &n->inst[i];
		json_t *dead = json_array();
		struct vg_outbox_stats st;
		bool def = is_default(n, inst->name);

		vg_outbox_stats(n->outbox, i, &st);
		for (const struct vg_outbox_entry *e = vg_outbox_dead(n->outbox, i); e; e = e->next)
			json_array_append_new(
				dead, json_pack("{s:I, s:s, s:s, s:s}", "id", (json_int_t)e->id,
						"alert", e->alert_id, "event", e->event, "reason",
						e->reason ? e->reason : ""));
		json_array_append_new(
			arr, json_pack("{s:s, s:s, s:s, s:b, s:O, s:{s:I, s:I, s:I, s:I, s:I, s:I, "
				       "s:I, s:I, s:I}, s:o}",
				       "name", inst->name, "type", inst->type, "last", inst->last,
				       "default", def, "settings", inst->shown, "counters", "sent",
				       (json_int_t)inst->sent, "skipped", (json_int_t)inst->skipped,
				       "failed", (json_int_t)inst->failed, "retried",
				       (json_int_t)inst->retried, "dead", (json_int_t)inst->deadc,
				       "notDurable", (json_int_t)st.not_durable, "lost",
				       (json_int_t)st.lost, "queued", (json_int_t)st.queued,
				       "onDisk", (json_int_t)st.spilled, "deadLetters", dead));
		/* out of memory: a report without them */
		(void)json_object_set_new(json_array_get(arr, (size_t)i), "waiting",
					  waiting_json(n, i));
	}
	return arr;
}

/* The counters of every instance, one family each. */
static void counter_metrics(struct vg_notify *n, struct evbuffer *b)
{
	static const char *const names[] = {"sent", "skipped",	   "failed", "retried",
					    "dead", "not_durable", "lost",   "dead_dropped"};

	for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
		evbuffer_add_printf(b, "# TYPE vigil_notifier_%s_total counter\n", names[k]);
		for (int i = 0; i < n->ninst; i++) {
			struct inst *inst = &n->inst[i];
			struct vg_outbox_stats st;

			vg_outbox_stats(n->outbox, i, &st);
			const uint64_t v[] = {inst->sent,    inst->skipped,  inst->failed,
					      inst->retried, inst->deadc,    st.not_durable,
					      st.lost,	     st.dead_dropped};

			evbuffer_add_printf(b, "vigil_notifier_%s_total{notifier=\"%s\"} %llu\n",
					    names[k], inst->name, (unsigned long long)v[k]);
		}
	}
}

/* The queues: depth, spilled, compactions, the oldest event waiting. */
static void queue_metrics(struct vg_notify *n, struct evbuffer *b)
{
	struct vg_outbox_stats st;
	uint64_t now = wall_ns();

	evbuffer_add_printf(b, "# TYPE vigil_notifier_queue_depth gauge\n");
	for (int i = 0; i < n->ninst; i++) {
		vg_outbox_stats(n->outbox, i, &st);
		evbuffer_add_printf(b, "vigil_notifier_queue_depth{notifier=\"%s\"} %llu\n",
				    n->inst[i].name, (unsigned long long)st.queued);
	}
	evbuffer_add_printf(b, "# TYPE vigil_notifier_spilled gauge\n");
	for (int i = 0; i < n->ninst; i++) {
		vg_outbox_stats(n->outbox, i, &st);
		evbuffer_add_printf(b, "vigil_notifier_spilled{notifier=\"%s\"} %llu\n",
				    n->inst[i].name, (unsigned long long)st.spilled);
	}
	evbuffer_add_printf(b,
			    "# TYPE vigil_outbox_compactions_total "
			    "counter\nvigil_outbox_compactions_total %llu\n",
			    (unsigned long long)vg_outbox_compactions(n->outbox));
	evbuffer_add_printf(b, "# TYPE vigil_notifier_oldest_pending_seconds gauge\n");
	for (int i = 0; i < n->ninst; i++) {
		vg_outbox_stats(n->outbox, i, &st);
		evbuffer_add_printf(
			b, "vigil_notifier_oldest_pending_seconds{notifier=\"%s\"} %.3f\n",
			n->inst[i].name, st.oldest_ns ? (double)(now - st.oldest_ns) / 1e9 : 0.0);
	}
}

/* The request latency histogram of every instance. */
static void latency_metrics(struct vg_notify *n, struct evbuffer *b)
{
	evbuffer_add_printf(b, "# TYPE vigil_notifier_request_seconds histogram\n");
	for (int i = 0; i < n->ninst; i++) {
		struct inst *inst = &n->inst[i];
		uint64_t cum = 0;

		for (size_t k = 0; k <= NBUCKETS; k++) {
			cum += inst->lat[k];
			if (k < NBUCKETS)
				evbuffer_add_printf(b,
						    "vigil_notifier_request_seconds_bucket{"
						    "notifier=\"%s\",le=\"%g\"} %llu\n",
						    inst->name, notify_buckets[k],
						    (unsigned long long)cum);
			else
				evbuffer_add_printf(b,
						    "vigil_notifier_request_seconds_bucket{"
						    "notifier=\"%s\",le=\"+Inf\"} %llu\n",
						    inst->name, (unsigned long long)cum);
		}
		evbuffer_add_printf(b,
				    "vigil_notifier_request_seconds_sum{notifier=\"%s\"} %.6f\n"
				    "vigil_notifier_request_seconds_count{notifier=\"%s\"} %llu\n",
				    inst->name, inst->lat_sum, inst->name, (unsigned long long)cum);
	}
}

void vg_notify_metrics(struct vg_notify *n, struct evbuffer *b)
{
	counter_metrics(n, b);
	queue_metrics(n, b);
	latency_metrics(n, b);
}
