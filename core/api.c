// SPDX-License-Identifier: BSD-2-Clause
/*
 * api.c - the REST API on the daemon's loop (evhttp), JSON through jansson.
 * Every endpoint but /healthz needs the bearer token kept in DATA_DIR/api.token.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

#include "api.h"
#include "log.h"
#include "safefile.h"

#define MAX_BODY (64 << 10)
#define MAX_HEADERS (16 << 10)
#define TIMEOUT_S 10
#define PAGE_DEFAULT 100
#define PAGE_MAX 1000

struct vg_api {
	struct vg_daemon *d;
	struct evhttp *http;
	char token[80];
	uint64_t requests, errors4xx, unauthorized;
};

/* ---- helpers ---------------------------------------------------------------------------- */

static void reply(struct evhttp_request *req, int code, json_t *body)
{
	struct evbuffer *b = evbuffer_new();
	char *s = json_dumps(body, JSON_COMPACT);

	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
			  "application/json");
	if (s) {
		evbuffer_add(b, s, strlen(s));
		evbuffer_add(b, "\n", 1);
	}
	evhttp_send_reply(req, code, code < 300 ? "OK" : "Error", b);
	evbuffer_free(b);
	free(s);
	json_decref(body);
}

static void fail(struct vg_api *a, struct evhttp_request *req, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void fail(struct vg_api *a, struct evhttp_request *req, int code, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	a->errors4xx++;
	reply(req, code, json_pack("{s:s, s:i}", "error", msg, "code", code));
}

/* The value of a query-string parameter, decoded (no '+' to space); caller frees. */
static char *param(struct evhttp_request *req, const char *name)
{
	const char *q = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
	size_t nl = strlen(name);

	for (const char *p = q; p && *p;) {
		const char *amp = strchr(p, '&');
		size_t len = amp ? (size_t)(amp - p) : strlen(p);

		if (len > nl && !strncmp(p, name, nl) && p[nl] == '=') {
			char *raw = strndup(p + nl + 1, len - nl - 1), *dec;

			dec = raw ? evhttp_uridecode(raw, 0, NULL) : NULL;
			free(raw);
			return dec;
		}
		p = amp ? amp + 1 : NULL;
	}
	return NULL;
}

static json_t *body_json(struct vg_api *a, struct evhttp_request *req)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in);
	json_error_t je;
	json_t *j;

	if (!len) {
		fail(a, req, 400, "the request needs a JSON body");
		return NULL;
	}
	j = json_loadb((const char *)evbuffer_pullup(in, -1), len, JSON_REJECT_DUPLICATES, &je);
	if (!j) {
		fail(a, req, 400, "malformed JSON at line %d, column %d: %s", je.line, je.column,
		     je.text);
		return NULL;
	}
	if (!json_is_object(j)) {
		json_decref(j);
		fail(a, req, 400, "the body must be a JSON object");
		return NULL;
	}
	return j;
}

static bool authorized(struct vg_api *a, struct evhttp_request *req)
{
	const char *h = evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");
	size_t n = strlen(a->token);
	unsigned diff = 0;

	if (!h || strncmp(h, "Bearer ", 7) || strlen(h + 7) != n)
		return false;
	for (size_t i = 0; i < n; i++) /* constant time */
		diff |= (unsigned)(h[7 + i] ^ a->token[i]);
	return diff == 0;
}

/* ---- endpoints ---------------------------------------------------------------------------- */

static void list_alerts(struct vg_api *a, struct evhttp_request *req)
{
	char *q = param(req, "query"), *lim = param(req, "pagination.limit"),
	     *off = param(req, "pagination.offset"), err[512];
	struct vg_query qq;
	const struct vg_alert **list;
	long limit = PAGE_DEFAULT, offset = 0;
	json_t *arr;
	int n;

	if (vg_api_parse_query(q ? q : "", &qq, err, sizeof(err))) {
		fail(a, req, 400, "%s", err);
		goto out;
	}
	if (lim && ((limit = strtol(lim, NULL, 10)) < 1 || limit > PAGE_MAX || !isdigit((unsigned char)lim[0]))) {
		fail(a, req, 400, "pagination.limit takes 1 to %d", PAGE_MAX);
		goto out;
	}
	if (off && ((offset = strtol(off, NULL, 10)) < 0 || !isdigit((unsigned char)off[0]))) {
		fail(a, req, 400, "pagination.offset takes a number from 0");
		goto out;
	}
	n = vg_alerts_query_window(a->d->alerts, &qq.f, (int)(offset + limit), &list);
	if (n < 0) {
		fail(a, req, 503, "out of memory");
		goto out;
	}
	arr = json_array();
	for (long i = offset; i < n && i < offset + limit; i++)
		json_array_append_new(arr, vg_alert_json(list[i], false));
	free(list);
	reply(req, 200, json_pack("{s:o, s:i, s:i, s:i}", "alerts", arr, "total", n, "offset",
				  (int)offset, "limit", (int)limit));
out:
	free(q);
	free(lim);
	free(off);
}

static void resolve_one(struct vg_api *a, struct evhttp_request *req, const char *id)
{
	int rc = vg_alerts_resolve(a->d->alerts, id, (uint64_t)time(NULL) * 1000000000ull);
	const struct vg_alert *al = vg_alerts_get(a->d->alerts, id);

	if (rc == -ENOENT)
		fail(a, req, 404, "no alert with id '%s'", id);
	else if (rc && rc != -EALREADY)
		fail(a, req, 503, "cannot record the resolution: %s", strerror(-rc));
	else {
		if (!rc && a->d->notify)
			vg_notify_alert(a->d->notify, "resolved", al);
		reply(req, 200, vg_alert_json(al, false));
	}
}

static void resolve_bulk(struct vg_api *a, struct evhttp_request *req)
{
	json_t *b = body_json(a, req), *q;
	struct vg_query qq;
	const struct vg_alert **list;
	char err[512];
	int n, done = 0;

	if (!b)
		return;
	q = json_object_get(b, "query");
	if (!json_is_string(q)) {
		fail(a, req, 400, "the body must be {\"query\": \"Policy:...+Namespace:...\"}");
		json_decref(b);
		return;
	}
	if (vg_api_parse_query(json_string_value(q), &qq, err, sizeof(err))) {
		fail(a, req, 400, "%s", err);
		json_decref(b);
		return;
	}
	json_decref(b);
	qq.f.state = VG_ALERT_ACTIVE;
	n = vg_alerts_query(a->d->alerts, &qq.f, &list);
	for (int i = 0; i < n; i++) {
		char id[37];

		snprintf(id, sizeof(id), "%s", list[i]->id);
		if (vg_alerts_resolve(a->d->alerts, id, (uint64_t)time(NULL) * 1000000000ull) == 0) {
			done++;
			if (a->d->notify)
				vg_notify_alert(a->d->notify, "resolved", list[i]);
		}
	}
	free(list);
	reply(req, 200, json_pack("{s:i}", "resolved", done));
}

static json_t *policy_json(struct vg_api *a, int i)
{
	const struct vg_policy_info *p = vg_engine_policy(a->d->engine, i);
	const struct vg_policy_setting *st = vg_alerts_policy_setting(a->d->alerts, p->id);
	json_t *cats = json_array();

	for (int k = 0; p->categories[k]; k++)
		json_array_append_new(cats, json_string(p->categories[k]));
	return json_pack("{s:s, s:s, s:s, s:b, s:s, s:o, s:s, s:s, s:s, s:s*, s:{s:I, s:I, s:I, s:I}}",
			 "id", p->id, "name", p->name, "severity", p->severity, "disabled",
			 !p->enabled, "enforcement",
			 st && st->enforcement ? st->enforcement : p->enforcement, "categories",
			 cats, "description", p->description, "rationale", p->rationale,
			 "remediation", p->remediation, "waitsFor", p->waits_for, "counters",
			 "candidates", (json_int_t)p->candidates, "matches", (json_int_t)p->matches,
			 "errors", (json_int_t)p->errors, "luaNs", (json_int_t)p->lua_ns);
}

static void patch_policy(struct vg_api *a, struct evhttp_request *req, int i)
{
	const struct vg_policy_info *p = vg_engine_policy(a->d->engine, i);
	json_t *b = body_json(a, req), *v;
	const char *key, *enforcement = NULL;
	int enabled = -1, rc;

	if (!b)
		return;
	json_object_foreach(b, key, v) {
		if (!strcmp(key, "disabled") || !strcmp(key, "enabled")) {
			if (!json_is_boolean(v)) {
				fail(a, req, 400, "'%s' must be true or false", key);
				goto out;
			}
			enabled = !strcmp(key, "enabled") ? json_is_true(v) : !json_is_true(v);
		} else if (!strcmp(key, "enforcement")) {
			const char *s = json_string_value(v);

			if (!s || (strcmp(s, "inform") && strcmp(s, "kill_process") && strcmp(s, "kill_pod"))) {
				fail(a, req, 400, "'enforcement' is \"inform\", \"kill_process\" or \"kill_pod\"");
				goto out;
			}
			enforcement = s;
		} else {
			fail(a, req, 400, "unknown field '%s' (known: disabled, enabled, enforcement)", key);
			goto out;
		}
	}
	if (enabled == 1 && p->waits_for) {
		fail(a, req, 409, "policy '%s' cannot be enabled: it waits for %s", p->name, p->waits_for);
		goto out;
	}
	rc = vg_alerts_set_policy(a->d->alerts, p->id, enabled, enforcement);
	if (rc) {
		fail(a, req, 503, "cannot record the setting: %s", strerror(-rc));
		goto out;
	}
	vg_daemon_policy_changed(a->d);
	reply(req, 200, policy_json(a, i));
out:
	json_decref(b);
}

static void metric(struct evbuffer *b, const char *name, const char *help, const char *type,
		   uint64_t v)
{
	evbuffer_add_printf(b, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n", name, help, name, type, name,
			    (unsigned long long)v);
}

static void label_escape(char *out, size_t n, const char *s)
{
	size_t o = 0;

	for (; *s && o + 2 < n; s++) {
		if (*s == '"' || *s == '\\')
			out[o++] = '\\';
		out[o++] = *s == '\n' ? ' ' : *s;
	}
	out[o] = '\0';
}

static void metrics(struct vg_api *a, struct evhttp_request *req)
{
	struct vg_daemon *d = a->d;
	struct evbuffer *b = evbuffer_new();
	struct vg_sensor_stats ss;
	struct vg_engine_stats es;
	struct vg_alerts_stats as;
	static const char *const pfields[] = { "candidates", "matches", "errors", "budget_stops",
					       "excluded", "lua_ns" };

	vg_sensor_stats(d->sensor, &ss);
	vg_engine_stats(d->engine, &es);
	vg_alerts_stats(d->alerts, &as);
	for (int i = 0; i < VG_C_MAX; i++) {
		char n[96];

		snprintf(n, sizeof(n), "vigil_sensor_%s_total", vg_sensor_counter_name(i));
		metric(b, n, "kernel counter of the exec sensor", "counter", ss.k[i]);
	}
	metric(b, "vigil_sensor_received_total", "records drained from the ring buffer", "counter", ss.received);
	metric(b, "vigil_sensor_filter_all", "1 when the kernel sends every exec, 0 when only policy names", "gauge", !!es.kernel_all);
	metric(b, "vigil_sensor_filter_names", "exact names in the kernel filter map", "gauge", (uint64_t)es.exact_names);
	metric(b, "vigil_events_total", "execs received by the daemon", "counter", d->events);
	metric(b, "vigil_events_suppressed_total", "repeats dropped by volume control before detection", "counter", d->suppressed);
	metric(b, "vigil_decode_errors_total", "records that did not decode", "counter", d->decode_errors);
	metric(b, "vigil_fastpath_rejected_total", "events no policy could match", "counter", es.rejected);
	metric(b, "vigil_fastpath_candidates_total", "policy criteria matches", "counter", es.candidates);
	metric(b, "vigil_lua_calls_total", "check() calls", "counter", es.lua_calls);
	metric(b, "vigil_lua_errors_total", "check() and flow errors", "counter", es.lua_errors);
	metric(b, "vigil_violations_total", "violations detected", "counter", d->violations);
	metric(b, "vigil_violations_stored_total", "violations appended to the store", "counter", d->stored);
	metric(b, "vigil_violations_durable_total", "violations acknowledged durable", "counter", d->acked);
	metric(b, "vigil_store_errors_total", "violations the store refused", "counter", d->store_errors);
	metric(b, "vigil_flow_errors_total", "violation flows that failed", "counter", d->flow_errors);
	metric(b, "vigil_store_alerts", "alerts in the store", "gauge", as.alerts);
	metric(b, "vigil_store_alerts_active", "active alerts", "gauge", as.active);
	metric(b, "vigil_store_records_appended_total", "records appended to the log", "counter", as.wal.appended);
	metric(b, "vigil_store_records_committed_total", "records durable", "counter", as.wal.committed);
	metric(b, "vigil_store_fsyncs_total", "group commits", "counter", as.wal.fsyncs);
	metric(b, "vigil_store_write_errors_total", "failed writes (disk full, I/O errors)", "counter", as.wal.write_errors);
	metric(b, "vigil_store_dropped_total", "records dropped: memory bound full while the disk refused", "counter", as.wal.dropped);
	metric(b, "vigil_store_pending_bytes", "bytes waiting to be written", "gauge", as.wal.pending_bytes);
	metric(b, "vigil_enforcements_total", "enforcements that worked", "counter", d->enforced);
	metric(b, "vigil_enforcements_failed_total", "enforcements that failed (alert ATTEMPTED)", "counter", d->enforce_failed);
	metric(b, "vigil_enforcements_refused_total", "kills refused for safety: vigil, PID 1, host", "counter", d->enforce_refused);
	metric(b, "vigil_enforcements_dry_run_total", "kills only logged (enforcement.dry_run)", "counter", d->enforce_dry_run);
	metric(b, "vigil_killed_in_kernel_total", "violations whose process died at exec in the kernel", "counter", d->killed_in_kernel);
	if (d->k8s) {
		struct vg_k8s_stats ks;

		vg_k8s_stats(d->k8s, &ks);
		metric(b, "vigil_k8s_pod_lists_total", "pod lists asked of the API server", "counter", ks.lists);
		metric(b, "vigil_k8s_pod_list_errors_total", "pod lists that failed", "counter", ks.list_errors);
		metric(b, "vigil_k8s_pods", "pods of this node known", "gauge", ks.pods);
		metric(b, "vigil_k8s_namespace_lists_total", "namespace lists asked of the API server", "counter", ks.ns_lists);
		metric(b, "vigil_k8s_namespace_list_errors_total", "namespace lists that failed", "counter", ks.ns_list_errors);
		metric(b, "vigil_k8s_namespaces", "namespaces known (labels and annotations for notifiers)", "gauge", ks.namespaces);
		metric(b, "vigil_k8s_deletes_total", "pod DELETE requests sent", "counter", ks.deletes);
		metric(b, "vigil_k8s_delete_retries_total", "pod DELETE retries", "counter", ks.delete_retries);
		metric(b, "vigil_k8s_delete_errors_total", "pod deletions given up", "counter", ks.delete_errors);
		metric(b, "vigil_k8s_events_total", "Kubernetes Events recorded", "counter", ks.events);
		metric(b, "vigil_k8s_event_errors_total", "Kubernetes Events refused", "counter", ks.event_errors);
	}
	if (d->notify)
		vg_notify_metrics(d->notify, b);
	metric(b, "vigil_policy_reloads_total", "successful reloads", "counter", d->reloads);
	metric(b, "vigil_policy_reload_failures_total", "reloads refused (old set kept)", "counter", d->reload_failures);
	metric(b, "vigil_api_requests_total", "API requests", "counter", a->requests);
	metric(b, "vigil_api_errors_total", "API requests answered 4xx", "counter", a->errors4xx);
	for (size_t f = 0; f < sizeof(pfields) / sizeof(pfields[0]); f++) {
		evbuffer_add_printf(b, "# HELP vigil_policy_%s_total per policy\n# TYPE vigil_policy_%s_total counter\n",
				    pfields[f], pfields[f]);
		for (int i = 0; i < vg_engine_count(d->engine); i++) {
			const struct vg_policy_info *p = vg_engine_policy(d->engine, i);
			const uint64_t v[] = { p->candidates, p->matches, p->errors, p->budget_stops,
					       p->excluded, p->lua_ns };
			char name[512];

			if (p->broken)
				continue;
			label_escape(name, sizeof(name), p->name);
			evbuffer_add_printf(b, "vigil_policy_%s_total{policy=\"%s\"} %llu\n", pfields[f],
					    name, (unsigned long long)v[f]);
		}
	}
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
			  "text/plain; version=0.0.4");
	evhttp_send_reply(req, 200, "OK", b);
	evbuffer_free(b);
}

static void handle(struct evhttp_request *req, void *arg)
{
	struct vg_api *a = arg;
	const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
	enum evhttp_cmd_type m = evhttp_request_get_command(req);
	char *dec = NULL;
	const char *rest;

	a->requests++;
	if (!path)
		path = "/";
	if (!strcmp(path, "/healthz")) {
		reply(req, 200, json_pack("{s:s}", "status", "ok"));
		return;
	}
	if (!authorized(a, req)) {
		a->unauthorized++;
		fail(a, req, 401, "missing or wrong bearer token: send 'Authorization: Bearer <token>' "
				  "with the token in %s/api.token", a->d->cfg.data_dir);
		return;
	}
	if (!strcmp(path, "/metrics") && m == EVHTTP_REQ_GET) {
		metrics(a, req);
	} else if (!strcmp(path, "/v1/alerts") && m == EVHTTP_REQ_GET) {
		list_alerts(a, req);
	} else if (!strcmp(path, "/v1/alerts/resolve") && m == EVHTTP_REQ_PATCH) {
		resolve_bulk(a, req);
	} else if (!strncmp(path, "/v1/alerts/", 11)) {
		char id[64];
		const char *slash;

		rest = path + 11;
		slash = strchr(rest, '/');
		snprintf(id, sizeof(id), "%.*s", slash ? (int)(slash - rest) : (int)strlen(rest), rest);
		if (!slash && m == EVHTTP_REQ_GET) {
			const struct vg_alert *al = vg_alerts_get(a->d->alerts, id);

			if (al)
				reply(req, 200, vg_alert_json(al, true));
			else
				fail(a, req, 404, "no alert with id '%s'", id);
		} else if (slash && !strcmp(slash, "/resolve") && m == EVHTTP_REQ_PATCH) {
			resolve_one(a, req, id);
		} else {
			fail(a, req, slash && strcmp(slash, "/resolve") ? 404 : 405,
			     "use GET /v1/alerts/{id} or PATCH /v1/alerts/{id}/resolve");
		}
	} else if (!strcmp(path, "/v1/notifiers") && m == EVHTTP_REQ_GET) {
		reply(req, 200, json_pack("{s:o}", "notifiers",
					  a->d->notify ? vg_notify_json(a->d->notify) : json_array()));
	} else if (!strncmp(path, "/v1/notifiers/", 14) && m == EVHTTP_REQ_PATCH) {
		/* PATCH /v1/notifiers/{name|alert id|dead letter id}/retry: dead letters back into the queue */
		char name[64];
		const char *sl = strchr(path + 14, '/');
		int k;

		snprintf(name, sizeof(name), "%.*s", sl ? (int)(sl - path - 14) : 63, path + 14);
		if (!a->d->notify || !sl || strcmp(sl, "/retry"))
			fail(a, req, 404, "use PATCH /v1/notifiers/{name|alert id|dead letter id}/retry");
		else if ((k = vg_notify_retry_dead(a->d->notify, name)) < 0)
			fail(a, req, 404, "no notifier named that, and no dead letter of that alert or with that id "
					  "(GET /v1/notifiers lists them)");
		else
			reply(req, 200, json_pack("{s:i}", "requeued", k));
	} else if (!strcmp(path, "/v1/policies") && m == EVHTTP_REQ_GET) {
		json_t *arr = json_array();

		for (int i = 0; i < vg_engine_count(a->d->engine); i++)
			if (!vg_engine_policy(a->d->engine, i)->broken)
				json_array_append_new(arr, policy_json(a, i));
		reply(req, 200, json_pack("{s:o}", "policies", arr));
	} else if (!strncmp(path, "/v1/policies/", 13)) {
		int i;

		dec = evhttp_uridecode(path + 13, 0, NULL);
		i = dec ? vg_engine_find(a->d->engine, dec) : -1;
		if (i < 0 || vg_engine_policy(a->d->engine, i)->broken)
			fail(a, req, 404, "no policy '%s' (GET /v1/policies lists them)", dec ? dec : "");
		else if (m == EVHTTP_REQ_GET)
			reply(req, 200, policy_json(a, i));
		else if (m == EVHTTP_REQ_PATCH)
			patch_policy(a, req, i);
		else
			fail(a, req, 405, "use GET or PATCH on /v1/policies/{id}");
	} else {
		fail(a, req, 404, "no such endpoint: %s (see the README's API section)", path);
	}
	free(dec);
}

/*
 * The token: DATA_DIR/api.token, made there (0600, only where none is) on
 * first start. One found must be a regular file of vigil's user that nobody
 * else may read or write, never a link: a token someone else could have
 * chosen or read is refused.
 */
static int load_token(struct vg_api *a, char *err, size_t n)
{
	const char *dir = a->d->cfg.data_dir;
	unsigned char raw[24];
	int fd, rc;
	ssize_t r;

	fd = vg_safe_openat(a->d->data_fd, dir, "api.token", O_RDONLY, 0, 0077, err, n);
	if (fd >= 0) {
		r = read(fd, a->token, sizeof(a->token) - 1);
		close(fd);
		a->token[r > 0 ? r : 0] = '\0';
		a->token[strcspn(a->token, "\r\n")] = '\0';
		if (strlen(a->token) >= 16)
			return 0;
		return vg_errf(err, n, -EINVAL, "%s/api.token holds no usable token (16+ "
			       "characters): delete it and vigil makes a new one", dir);
	}
	if (fd != -ENOENT)
		return fd;
	if (getrandom(raw, sizeof(raw), 0) != sizeof(raw))
		return vg_errf(err, n, -EIO, "cannot draw a random API token");
	for (size_t i = 0; i < sizeof(raw); i++)
		snprintf(a->token + 2 * i, 3, "%02x", raw[i]);
	fd = vg_safe_openat(a->d->data_fd, dir, "api.token", O_WRONLY | O_CREAT | O_EXCL, 0600, 0077,
			    err, n);
	if (fd < 0)
		return fd;
	rc = write(fd, a->token, strlen(a->token)) < 0 || write(fd, "\n", 1) < 0 ? -errno : 0;
	close(fd);
	if (rc)
		return vg_errf(err, n, rc, "cannot write %s/api.token: %s", dir, strerror(-rc));
	return 0;
}

int vg_api_start(struct vg_api **out, struct vg_daemon *d, char *err, size_t n)
{
	struct vg_api *a = calloc(1, sizeof(*a));
	char host[128];
	const char *colon = strrchr(d->cfg.api_listen, ':');
	long port;

	*out = NULL;
	if (!a)
		return -ENOMEM;
	a->d = d;
	if (!colon || (port = strtol(colon + 1, NULL, 10)) <= 0 || port > 65535) {
		free(a);
		return snprintf(err, n, "API address '%s' is not host:port (e.g. 127.0.0.1:8077)",
				d->cfg.api_listen),
		       -EINVAL;
	}
	snprintf(host, sizeof(host), "%.*s", (int)(colon - d->cfg.api_listen), d->cfg.api_listen);
	if (load_token(a, err, n)) {
		free(a);
		return -EINVAL;
	}
	a->http = evhttp_new(d->base);
	if (!a->http) {
		free(a);
		return snprintf(err, n, "cannot create the HTTP server"), -ENOMEM;
	}
	evhttp_set_max_body_size(a->http, MAX_BODY);
	evhttp_set_max_headers_size(a->http, MAX_HEADERS);
	evhttp_set_timeout(a->http, TIMEOUT_S);
	evhttp_set_allowed_methods(a->http, EVHTTP_REQ_GET | EVHTTP_REQ_PATCH);
	evhttp_set_gencb(a->http, handle, a);
	if (evhttp_bind_socket(a->http, host, (ev_uint16_t)port)) {
		evhttp_free(a->http);
		free(a);
		return snprintf(err, n, "cannot listen on %s (%s): another process has the port? "
					"set another with --listen or api.listen",
				d->cfg.api_listen, strerror(errno)),
		       -EADDRINUSE;
	}
	*out = a;
	return 0;
}

void vg_api_stop(struct vg_api *a)
{
	if (!a)
		return;
	evhttp_free(a->http);
	free(a);
}
