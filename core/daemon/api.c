// SPDX-License-Identifier: BSD-2-Clause
/*
 * api.c - the REST API on the daemon's loop (evhttp), JSON through jansson.
 * Every endpoint but /healthz needs the bearer token kept in DATA_DIR/api.token.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

#include "api.h"
#include "log.h"
#include "safefile.h"

#define MAX_BODY    (64 << 10)
#define MAX_HEADERS (16 << 10)
/*
 * Descriptors kept out of the API's reach: enforcement (pidfds, cgroup
 * files), the store (segments, compaction), notifiers and Kubernetes
 * (sockets, outbox files). The API holds at most the open-files limit less
 * the descriptors open at start less these.
 */
#define FD_RESERVE     256
#define SWEEP_MS       100  /* closed connections reaped, deadlines checked */
#define PRESSED_MS     500  /* at the cap, a request gets this long, not request_timeout_s */
#define ACCEPT_RETRY_S 1    /* after an accept error (EMFILE, ENFILE, ENOBUFS) */
#define BACKLOG	       4096 /* (the kernel caps it at net.core.somaxconn) */

/* One accepted connection: its bufferevent, which evhttp owns and we hold a reference to. */
struct conn {
	struct vg_api *a;
	struct bufferevent *bev;
	struct evbuffer_cb_entry *in_cb, *out_cb;
	struct conn *prev, *next;
	uint64_t since_ms; /* monotonic: accepted, or its last request came whole */
	bool dropped;
};

struct vg_api {
	struct vg_daemon *d;
	struct evhttp *http;
	struct evconnlistener *listener;
	struct event *sweep, *retry;
	struct conn *conns;
	uint32_t nconns, max_conns, timeout_s;
	bool at_cap, accept_failing;
	char token[80];
	uint64_t requests, errors4xx, unauthorized;
	uint64_t timeouts, cap_pauses, accept_errors, http_errors;
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
	const char *qs = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
	struct vg_list_params lp;
	const struct vg_alert **list;
	char err[512];
	size_t want;
	json_t *arr;
	int n, rc;

	rc = vg_api_parse_list(qs, &lp, err, sizeof(err));
	if (rc) {
		fail(a, req, rc == -ENOMEM ? 503 : 400, "%s", err);
		return;
	}
	/* offset + limit cannot overflow a size_t (both bounded); the store takes an int */
	want = lp.offset + lp.limit;
	n = vg_alerts_query_window(a->d->alerts, &lp.q.f, want > INT_MAX ? INT_MAX : (int)want,
				   &list);
	if (n < 0) {
		fail(a, req, 503, "out of memory");
		return;
	}
	arr = json_array();
	for (size_t i = lp.offset; i < (size_t)n && i < want; i++)
		json_array_append_new(arr, vg_alert_json(list[i], false));
	free(list);
	reply(req, 200,
	      json_pack("{s:o, s:i, s:I, s:I}", "alerts", arr, "total", n, "offset",
			(json_int_t)lp.offset, "limit", (json_int_t)lp.limit));
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

/*
 * PATCH /v1/alerts/resolve {"query": "...", "confirm": true}: the active alerts
 * the query matches. An empty query would match them all: it needs confirm.
 */
static void resolve_bulk(struct vg_api *a, struct evhttp_request *req)
{
	json_t *b = body_json(a, req), *v;
	const char *key, *q = NULL;
	bool confirm = false;
	struct vg_query qq;
	const struct vg_alert **list;
	char err[512];
	int n, done = 0;

	if (!b)
		return;
	json_object_foreach(b, key, v)
	{
		if (!strcmp(key, "query") && json_is_string(v)) {
			q = json_string_value(v);
		} else if (!strcmp(key, "confirm") && json_is_boolean(v)) {
			confirm = json_is_true(v);
		} else {
			fail(a, req, 400,
			     "the body must be {\"query\": \"Policy:...+Namespace:...\"}, "
			     "optionally with \"confirm\": true; '%s' is not that",
			     key);
			goto out;
		}
	}
	if ((!q || !q[strspn(q, " ")]) && !confirm) {
		fail(a, req, 400,
		     "an empty query would resolve every active alert: give a query "
		     "(\"State:ACTIVE\" for all of them) or add \"confirm\": true");
		goto out;
	}
	if (vg_api_parse_query(q ? q : "", &qq, err, sizeof(err))) {
		fail(a, req, 400, "%s", err);
		goto out;
	}
	qq.f.state = VG_ALERT_ACTIVE;
	n = vg_alerts_query(a->d->alerts, &qq.f, &list);
	for (int i = 0; i < n; i++) {
		char id[37];

		snprintf(id, sizeof(id), "%s", list[i]->id);
		if (vg_alerts_resolve(a->d->alerts, id, (uint64_t)time(NULL) * 1000000000ull) ==
		    0) {
			done++;
			if (a->d->notify)
				vg_notify_alert(a->d->notify, "resolved", list[i]);
		}
	}
	free(list);
	reply(req, 200, json_pack("{s:i}", "resolved", done));
out:
	json_decref(b);
}

static json_t *policy_json(struct vg_api *a, int i)
{
	const struct vg_policy_info *p = vg_engine_policy(a->d->engine, i);
	const struct vg_policy_setting *st = vg_alerts_policy_setting(a->d->alerts, p->id);
	json_t *cats = json_array();

	for (int k = 0; p->categories[k]; k++)
		json_array_append_new(cats, json_string(p->categories[k]));
	return json_pack(
		"{s:s, s:s, s:s, s:b, s:s, s:s*, s:o, s:s, s:s, s:s, s:s*, "
		"s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I}}",
		"id", p->id, "name", p->name, "severity", p->severity, "disabled", !p->enabled,
		"enforcement", st && st->enforcement ? st->enforcement : p->enforcement, "onError",
		p->on_error, "categories", cats, "description", p->description, "rationale",
		p->rationale, "remediation", p->remediation, "waitsFor", p->waits_for, "counters",
		"candidates", (json_int_t)p->candidates, "matches", (json_int_t)p->matches,
		"errors", (json_int_t)p->errors, "budgetStops", (json_int_t)p->budget_stops,
		"memoryStops", (json_int_t)p->nomem, "luaNs", (json_int_t)p->lua_ns, "luaMemBytes",
		(json_int_t)p->mem_bytes);
}

static void patch_policy(struct vg_api *a, struct evhttp_request *req, int i)
{
	const struct vg_policy_info *p = vg_engine_policy(a->d->engine, i);
	json_t *b = body_json(a, req), *v;
	const char *key, *enforcement = NULL;
	int enabled = -1, rc;

	if (!b)
		return;
	json_object_foreach(b, key, v)
	{
		if (!strcmp(key, "disabled") || !strcmp(key, "enabled")) {
			if (!json_is_boolean(v)) {
				fail(a, req, 400, "'%s' must be true or false", key);
				goto out;
			}
			enabled = !strcmp(key, "enabled") ? json_is_true(v) : !json_is_true(v);
		} else if (!strcmp(key, "enforcement")) {
			const char *s = json_string_value(v);
			enum vg_enforce_mode mode;

			if (vg_enforce_mode_parse(s, &mode)) {
				fail(a, req, 400,
				     "'enforcement' is \"inform\", \"kill_process\" or "
				     "\"kill_pod\"");
				goto out;
			}
			enforcement = s;
		} else {
			fail(a, req, 400,
			     "unknown field '%s' (known: disabled, enabled, enforcement)", key);
			goto out;
		}
	}
	if (enabled == 1 && p->waits_for) {
		fail(a, req, 409, "policy '%s' cannot be enabled: it waits for %s", p->name,
		     p->waits_for);
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
	evbuffer_add_printf(b, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n", name, help, name, type,
			    name, (unsigned long long)v);
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
	static const char *const pfields[] = {"candidates", "matches",	"errors", "budget_stops",
					      "nomem",	    "excluded", "lua_ns"};
	uint64_t cls[3] = {0}; /* check() failures: error, budget (or time), memory */
	struct vg_pipeline_stats ps;

	vg_pipeline_stats(d->pipeline, &ps);
	vg_sensor_stats(d->sensor, &ss);
	vg_engine_stats(d->engine, &es);
	vg_alerts_stats(d->alerts, &as);
	for (int i = 0; i < VG_C_MAX; i++) {
		char n[96];

		snprintf(n, sizeof(n), "vigil_sensor_%s_total", vg_sensor_counter_name(i));
		metric(b, n, "kernel counter of the exec sensor", "counter", ss.k[i]);
	}
	metric(b, "vigil_sensor_received_total", "records drained from the ring buffer", "counter",
	       ss.received);
	metric(b, "vigil_sensor_filter_all",
	       "1 when the kernel sends every exec, 0 when only policy names", "gauge",
	       !!es.kernel_all);
	metric(b, "vigil_sensor_filter_names", "exact names in the kernel filter map", "gauge",
	       (uint64_t)es.exact_names);
	metric(b, "vigil_events_total", "execs received by the daemon", "counter", ps.events);
	metric(b, "vigil_events_suppressed_total",
	       "repeats dropped by volume control before detection", "counter", ps.suppressed);
	metric(b, "vigil_decode_errors_total", "records that did not decode", "counter",
	       ps.decode_errors);
	metric(b, "vigil_fastpath_rejected_total", "events no policy could match", "counter",
	       es.rejected);
	metric(b, "vigil_fastpath_candidates_total", "policy criteria matches", "counter",
	       es.candidates);
	metric(b, "vigil_lua_calls_total", "check() calls", "counter", es.lua_calls);
	metric(b, "vigil_lua_errors_total", "check() and flow errors", "counter", es.lua_errors);
	metric(b, "vigil_lua_memory_bytes",
	       "Lua memory of every policy together (lua.memory_mb caps it)", "gauge", es.lua_mem);
	for (int i = 0; i < vg_engine_count(d->engine); i++) {
		const struct vg_policy_info *p = vg_engine_policy(d->engine, i);

		cls[1] += p->budget_stops;
		cls[2] += p->nomem;
		cls[0] += p->errors - p->budget_stops - p->nomem;
	}
	evbuffer_add_printf(b,
			    "# HELP vigil_check_failures_total check() failures by class "
			    "(error, budget: instructions or time, memory)\n"
			    "# TYPE vigil_check_failures_total counter\n"
			    "vigil_check_failures_total{class=\"error\"} %llu\n"
			    "vigil_check_failures_total{class=\"budget\"} %llu\n"
			    "vigil_check_failures_total{class=\"memory\"} %llu\n",
			    (unsigned long long)cls[0], (unsigned long long)cls[1],
			    (unsigned long long)cls[2]);
	metric(b, "vigil_violations_total", "violations detected", "counter", ps.violations);
	metric(b, "vigil_violations_stored_total", "violations appended to the store", "counter",
	       ps.stored);
	metric(b, "vigil_violations_durable_total", "violations acknowledged durable", "counter",
	       ps.acked);
	metric(b, "vigil_store_errors_total", "violations the store refused", "counter",
	       ps.store_errors);
	metric(b, "vigil_flow_errors_total", "violation flows that failed", "counter",
	       ps.flow_errors);
	metric(b, "vigil_store_alerts", "alerts in the store", "gauge", as.alerts);
	metric(b, "vigil_store_alerts_active", "active alerts", "gauge", as.active);
	metric(b, "vigil_store_records_appended_total", "records appended to the log", "counter",
	       as.wal.appended);
	metric(b, "vigil_store_records_committed_total", "records durable", "counter",
	       as.wal.committed);
	metric(b, "vigil_store_fsyncs_total", "group commits", "counter", as.wal.fsyncs);
	metric(b, "vigil_store_write_errors_total", "failed writes (disk full, I/O errors)",
	       "counter", as.wal.write_errors);
	metric(b, "vigil_store_dropped_total",
	       "records dropped: memory bound full while the disk refused", "counter",
	       as.wal.dropped);
	metric(b, "vigil_store_pending_bytes", "bytes waiting to be written", "gauge",
	       as.wal.pending_bytes);
	metric(b, "vigil_store_damaged_regions_total",
	       "damaged regions of the log skipped at start (their records lost)", "counter",
	       as.wal.skipped_regions);
	metric(b, "vigil_store_damaged_bytes_total",
	       "bytes of the log found damaged at start: skipped, or cut and kept in *.damaged",
	       "counter", as.wal.damaged_bytes);
	metric(b, "vigil_store_missing_segments",
	       "segments missing from the log at start (deleted or moved: their records are lost)",
	       "gauge", as.wal.missing_segments);
	metric(b, "vigil_enforcements_total", "enforcements that worked", "counter", ps.enforce.enforced);
	metric(b, "vigil_enforcements_failed_total", "enforcements that failed (alert ATTEMPTED)",
	       "counter", ps.enforce.failed);
	metric(b, "vigil_enforcements_refused_total",
	       "kills refused for safety: vigil, PID 1, host", "counter", ps.enforce.refused);
	metric(b, "vigil_enforcements_dry_run_total", "kills only logged (enforcement.dry_run)",
	       "counter", ps.enforce.dry_run);
	metric(b, "vigil_enforcements_skipped_total",
	       "kills not done: the policy's check() failed (on_error = alert)", "counter",
	       ps.enforce.skipped);
	metric(b, "vigil_killed_in_kernel_total",
	       "violations whose process died at exec in the kernel", "counter",
	       ps.enforce.killed_in_kernel);
	metric(b, "vigil_attribution_nested_total",
	       "execs in a cgroup naming a pod or container below their container's own", "counter",
	       ps.attr_nested);
	metric(b, "vigil_attribution_unverified_total",
	       "execs whose named pod was not verified (not listing the container, a delegated "
	       "cgroup) or whose cgroup path lost its top",
	       "counter", ps.attr_unverified);
	if (d->k8s) {
		struct vg_k8s_stats ks;

		vg_k8s_stats(d->k8s, &ks);
		metric(b, "vigil_k8s_pod_lists_total", "pod lists asked of the API server",
		       "counter", ks.lists);
		metric(b, "vigil_k8s_pod_list_errors_total", "pod lists that failed", "counter",
		       ks.list_errors);
		metric(b, "vigil_k8s_pods", "pods of this node known", "gauge", ks.pods);
		metric(b, "vigil_k8s_namespace_lists_total",
		       "namespace lists asked of the API server", "counter", ks.ns_lists);
		metric(b, "vigil_k8s_namespace_list_errors_total", "namespace lists that failed",
		       "counter", ks.ns_list_errors);
		metric(b, "vigil_k8s_namespaces",
		       "namespaces known (labels and annotations for notifiers)", "gauge",
		       ks.namespaces);
		metric(b, "vigil_k8s_deletes_total", "pod DELETE requests sent", "counter",
		       ks.deletes);
		metric(b, "vigil_k8s_delete_retries_total", "pod DELETE retries", "counter",
		       ks.delete_retries);
		metric(b, "vigil_k8s_delete_errors_total", "pod deletions given up", "counter",
		       ks.delete_errors);
		metric(b, "vigil_k8s_events_total", "Kubernetes Events recorded", "counter",
		       ks.events);
		metric(b, "vigil_k8s_event_errors_total", "Kubernetes Events refused", "counter",
		       ks.event_errors);
	}
	if (d->notify)
		vg_notify_metrics(d->notify, b);
	metric(b, "vigil_policy_reloads_total", "successful reloads", "counter", d->reloads);
	metric(b, "vigil_policy_reload_failures_total", "reloads refused (old set kept)", "counter",
	       d->reload_failures);
	metric(b, "vigil_api_requests_total", "API requests", "counter", a->requests);
	metric(b, "vigil_api_errors_total", "API requests answered 4xx", "counter", a->errors4xx);
	metric(b, "vigil_api_http_errors_total",
	       "malformed or oversized requests answered before the handler", "counter",
	       a->http_errors);
	metric(b, "vigil_api_connections", "API connections held", "gauge", a->nconns);
	metric(b, "vigil_api_connections_max", "the cap on API connections held at once", "gauge",
	       a->max_conns);
	metric(b, "vigil_api_connection_cap_reached_total", "times accepting paused at the cap",
	       "counter", a->cap_pauses);
	metric(b, "vigil_api_timeouts_total",
	       "connections cut for a request not whole within api.request_timeout_s", "counter",
	       a->timeouts);
	metric(b, "vigil_api_accept_errors_total",
	       "accept() failures (no descriptors, no memory): accepting paused 1 s", "counter",
	       a->accept_errors);
	metric(b, "vigil_log_lines_suppressed_total",
	       "log lines held back by the rate limit on repeats", "counter", vg_log_suppressed());
	for (size_t f = 0; f < sizeof(pfields) / sizeof(pfields[0]); f++) {
		evbuffer_add_printf(b,
				    "# HELP vigil_policy_%s_total per policy\n# TYPE "
				    "vigil_policy_%s_total counter\n",
				    pfields[f], pfields[f]);
		for (int i = 0; i < vg_engine_count(d->engine); i++) {
			const struct vg_policy_info *p = vg_engine_policy(d->engine, i);
			const uint64_t v[] = {p->candidates,   p->matches, p->errors,
					      p->budget_stops, p->nomem,   p->excluded,
					      p->lua_ns};
			char name[512];

			if (p->broken)
				continue;
			label_escape(name, sizeof(name), p->name);
			evbuffer_add_printf(b, "vigil_policy_%s_total{policy=\"%s\"} %llu\n",
					    pfields[f], name, (unsigned long long)v[f]);
		}
	}
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
			  "text/plain; version=0.0.4");
	evhttp_send_reply(req, 200, "OK", b);
	evbuffer_free(b);
}

/*
 * The id in a path segment of len bytes, percent-decoded into out (n bytes).
 * -EINVAL when it holds a NUL or control character, or does not fit: no
 * alert, policy or notifier has such an id.
 */
static int path_id(const char *seg, size_t len, char *out, size_t n)
{
	char *raw = strndup(seg, len), *dec;
	size_t dl = 0;
	int rc = 0;

	dec = raw ? evhttp_uridecode(raw, 0, &dl) : NULL;
	free(raw);
	if (!dec)
		return -ENOMEM;
	for (size_t i = 0; i < dl; i++)
		if ((unsigned char)dec[i] < 0x20 || dec[i] == 0x7f)
			rc = -EINVAL;
	if (!rc && dl >= n)
		rc = -EINVAL;
	if (!rc)
		memcpy(out, dec, dl + 1);
	free(dec);
	return rc;
}

static void alert_path(struct vg_api *a, struct evhttp_request *req, const char *rest,
		       enum evhttp_cmd_type m)
{
	const char *slash = strchr(rest, '/');
	char id[64];

	if (path_id(rest, slash ? (size_t)(slash - rest) : strlen(rest), id, sizeof(id))) {
		fail(a, req, 404,
		     "no alert with that id (ids are 36 characters: letters, digits, '-')");
	} else if (!slash && m == EVHTTP_REQ_GET) {
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
}

/* PATCH /v1/notifiers/{name|alert id|dead letter id}/retry: dead letters back into the queue */
static void notifier_path(struct vg_api *a, struct evhttp_request *req, const char *rest)
{
	const char *sl = strchr(rest, '/');
	char name[64];
	int k;

	if (!a->d->notify || !sl || strcmp(sl, "/retry") ||
	    path_id(rest, (size_t)(sl - rest), name, sizeof(name)))
		fail(a, req, 404, "use PATCH /v1/notifiers/{name|alert id|dead letter id}/retry");
	else if ((k = vg_notify_retry_dead(a->d->notify, name)) < 0)
		fail(a, req, 404,
		     "no notifier named that, and no dead letter of that alert or with that id "
		     "(GET /v1/notifiers lists them)");
	else
		reply(req, 200, json_pack("{s:i}", "requeued", k));
}

static void policy_path(struct vg_api *a, struct evhttp_request *req, const char *rest,
			enum evhttp_cmd_type m)
{
	char id[512];
	bool bad = path_id(rest, strlen(rest), id, sizeof(id)) != 0;
	int i = bad ? -1 : vg_engine_find(a->d->engine, id);

	if (bad)
		fail(a, req, 404,
		     "no policy has that id: ids and names hold no NUL or control "
		     "characters (GET /v1/policies lists them)");
	else if (i < 0 || vg_engine_policy(a->d->engine, i)->broken)
		fail(a, req, 404, "no policy '%s' (GET /v1/policies lists them)", id);
	else if (m == EVHTTP_REQ_GET)
		reply(req, 200, policy_json(a, i));
	else
		patch_policy(a, req, i);
}

static void conn_request(struct vg_api *a, struct evhttp_request *req);

static void handle(struct evhttp_request *req, void *arg)
{
	struct vg_api *a = arg;
	const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
	enum evhttp_cmd_type m = evhttp_request_get_command(req);

	a->requests++;
	conn_request(a, req);
	if (!path)
		path = "/";
	if (m != EVHTTP_REQ_GET && m != EVHTTP_REQ_PATCH) {
		fail(a, req, 405,
		     "the API answers GET and PATCH only (see the README's API section)");
		return;
	}
	if (!strcmp(path, "/healthz")) {
		reply(req, 200, json_pack("{s:s}", "status", "ok"));
		return;
	}
	if (!authorized(a, req)) {
		a->unauthorized++;
		fail(a, req, 401,
		     "missing or wrong bearer token: send 'Authorization: Bearer <token>' "
		     "with the token in %s/api.token",
		     a->d->cfg.data_dir);
		return;
	}
	if (!strcmp(path, "/metrics") && m == EVHTTP_REQ_GET) {
		metrics(a, req);
	} else if (!strcmp(path, "/v1/alerts") && m == EVHTTP_REQ_GET) {
		list_alerts(a, req);
	} else if (!strcmp(path, "/v1/alerts/resolve") && m == EVHTTP_REQ_PATCH) {
		resolve_bulk(a, req);
	} else if (!strncmp(path, "/v1/alerts/", 11)) {
		alert_path(a, req, path + 11, m);
	} else if (!strcmp(path, "/v1/notifiers") && m == EVHTTP_REQ_GET) {
		reply(req, 200,
		      json_pack("{s:o}", "notifiers",
				a->d->notify ? vg_notify_json(a->d->notify) : json_array()));
	} else if (!strncmp(path, "/v1/notifiers/", 14) && m == EVHTTP_REQ_PATCH) {
		notifier_path(a, req, path + 14);
	} else if (!strcmp(path, "/v1/policies") && m == EVHTTP_REQ_GET) {
		json_t *arr = json_array();

		for (int i = 0; i < vg_engine_count(a->d->engine); i++)
			if (!vg_engine_policy(a->d->engine, i)->broken)
				json_array_append_new(arr, policy_json(a, i));
		reply(req, 200, json_pack("{s:o}", "policies", arr));
	} else if (!strncmp(path, "/v1/policies/", 13)) {
		policy_path(a, req, path + 13, m);
	} else {
		fail(a, req, 404, "no such endpoint: %.200s (see the README's API section)", path);
	}
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
		return vg_errf(err, n, -EINVAL,
			       "%s/api.token holds no usable token (16+ "
			       "characters): delete it and vigil makes a new one",
			       dir);
	}
	if (fd != -ENOENT)
		return fd;
	if (getrandom(raw, sizeof(raw), 0) != sizeof(raw))
		return vg_errf(err, n, -EIO, "cannot draw a random API token");
	for (size_t i = 0; i < sizeof(raw); i++)
		snprintf(a->token + 2 * i, 3, "%02x", raw[i]);
	fd = vg_safe_openat(a->d->data_fd, dir, "api.token", O_WRONLY | O_CREAT | O_EXCL, 0600,
			    0077, err, n);
	if (fd < 0)
		return fd;
	rc = write(fd, a->token, strlen(a->token)) < 0 || write(fd, "\n", 1) < 0 ? -errno : 0;
	close(fd);
	if (rc)
		return vg_errf(err, n, rc, "cannot write %s/api.token: %s", dir, strerror(-rc));
	return 0;
}

/* ---- connections: a cap, a deadline per request, JSON for libevent's own errors ---------- */

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Accepting while below the cap and no accept error is being waited out. */
static void update_accept(struct vg_api *a)
{
	bool on = a->nconns < a->max_conns && !a->accept_failing;

	if (!on && !a->at_cap && a->nconns >= a->max_conns)
		a->cap_pauses++;
	a->at_cap = a->nconns >= a->max_conns;
	if (a->listener)
		on ? evconnlistener_enable(a->listener) : evconnlistener_disable(a->listener);
}

/* evhttp has let go of it (bufferevent_free clears its callbacks): drop our reference. */
static bool conn_closed(struct conn *c)
{
	bufferevent_data_cb r, w;
	bufferevent_event_cb e;

	bufferevent_getcb(c->bev, &r, &w, &e, NULL);
	return !r && !w && !e;
}

static void conn_free(struct conn *c)
{
	struct vg_api *a = c->a;

	evbuffer_remove_cb_entry(bufferevent_get_input(c->bev), c->in_cb);
	evbuffer_remove_cb_entry(bufferevent_get_output(c->bev), c->out_cb);
	bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	bufferevent_decref(c->bev); /* the last reference: the socket closes */
	if (c->prev)
		c->prev->next = c->next;
	else
		a->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	a->nconns--;
	free(c);
}

/*
 * Every SWEEP_MS while connections are held: reap the ones evhttp closed,
 * and cut the ones whose next request is not whole within request_timeout_s
 * (within PRESSED_MS while the cap is reached, so that trickling clients
 * cannot keep good ones waiting long). A response being written is left to
 * evhttp's write timeout. shutdown() makes evhttp see the end.
 */
static void on_sweep(evutil_socket_t fd, short what, void *arg)
{
	struct vg_api *a = arg;
	uint64_t now = mono_ms(), limit = a->timeout_s * 1000ull;

	(void)fd;
	(void)what;
	if (a->at_cap && limit > PRESSED_MS)
		limit = PRESSED_MS;
	for (struct conn *c = a->conns, *next; c; c = next) {
		next = c->next;
		if (conn_closed(c)) {
			conn_free(c);
		} else if (now - c->since_ms >= limit) {
			if (evbuffer_get_length(bufferevent_get_output(c->bev))) {
				c->since_ms = now;
				continue;
			}
			if (!c->dropped)
				a->timeouts++;
			c->dropped = true;
			shutdown(bufferevent_getfd(c->bev), SHUT_RDWR);
		}
	}
	update_accept(a);
	if (a->conns)
		event_add(a->sweep, &(struct timeval){0, SWEEP_MS * 1000});
}

/* evhttp is closing a connection that sent a request: it no longer counts, accept again. */
static void on_conn_close(struct evhttp_connection *evcon, void *arg)
{
	struct conn *c = arg;
	struct vg_api *a = c->a;

	(void)evcon;
	conn_free(c); /* our reference: evhttp's own goes next, and the socket with it */
	update_accept(a);
}

/* A whole request came: the next one is due from now. */
static void conn_request(struct vg_api *a, struct evhttp_request *req)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	struct bufferevent *bev = evcon ? evhttp_connection_get_bufferevent(evcon) : NULL;

	for (struct conn *c = a->conns; c && bev; c = c->next)
		if (c->bev == bev) {
			c->since_ms = mono_ms();
			evhttp_connection_set_closecb(evcon, on_conn_close, c);
			return;
		}
}

/* Bytes came in on a connection evhttp has already let go of: stop reading them. */
static void on_input(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
	struct conn *c = arg;

	if (info->n_added && conn_closed(c)) {
		bufferevent_disable(c->bev, EV_READ);
		evbuffer_drain(buf, evbuffer_get_length(buf));
	}
}

static const char *http_error_words(int code)
{
	switch (code) {
	case 400:
		return "malformed or oversized HTTP request: send a request line and Key: Value "
		       "headers (16 KiB in all), and a body of Content-Length bytes";
	case 413:
		return "request too large, or a malformed chunked body: headers up to 16 KiB and "
		       "a body up to 64 KiB";
	case 417:
		return "unsupported Expect header: only Expect: 100-continue is understood";
	case 501:
		return "method not implemented: the API answers GET and PATCH only";
	default:
		return "the HTTP request was refused";
	}
}

/*
 * evhttp answers some requests itself, before the handler sees them
 * (malformed request line or headers, headers or body over the limits, an
 * odd Expect), with an HTML page; the API's errors are JSON. Such a response
 * (the only text/html the API writes) is replaced, whole, once its body is in
 * the output buffer: evhttp adds the body last, in one piece.
 */
static void on_output(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
	struct conn *c = arg;
	size_t len = evbuffer_get_length(buf), head, clen = 0;
	struct evbuffer_ptr end;
	char *h, *cl, line[1100];
	json_t *j;
	char *body;
	int code;

	if (!info->n_added || len < 16)
		return;
	end = evbuffer_search(buf, "\r\n\r\n", 4, NULL);
	if (end.pos < 0 || end.pos > 8192)
		return;
	head = (size_t)end.pos + 4;
	h = (char *)evbuffer_pullup(buf, (ev_ssize_t)head);
	if (!h || strncmp(h, "HTTP/1.", 7) || sscanf(h, "HTTP/1.%*d %d", &code) != 1 ||
	    !memmem(h, head, "\r\nContent-Type: text/html\r\n", 27))
		return;
	cl = memmem(h, head, "\r\nContent-Length: ", 18);
	if (cl)
		clen = strtoul(cl + 18, NULL, 10);
	if (len < head + clen)
		return; /* the body is not in yet */
	j = json_pack("{s:s, s:i}", "error", http_error_words(code), "code", code);
	body = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (!body)
		return;
	snprintf(line, sizeof(line),
		 "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nConnection: close\r\n"
		 "Content-Length: %zu\r\n\r\n",
		 code,
		 code == 413   ? "Payload Too Large"
		 : code == 400 ? "Bad Request"
			       : "Error",
		 strlen(body) + 1);
	c->a->http_errors++;
	c->a->errors4xx++;
	evbuffer_drain(buf, head + clen); /* (re-enters this callback: nothing was added) */
	evbuffer_add_printf(buf, "%s%s\n", line, body); /* (re-enters: not text/html) */
	free(body);
}

/*
 * evhttp asks for a bufferevent for each connection it accepts: we make it,
 * keep a reference to count the connection until its socket is closed, and
 * stop accepting at the cap (the kernel's backlog holds the rest).
 */
static struct bufferevent *on_accept(struct event_base *base, void *arg)
{
	struct vg_api *a = arg;
	struct conn *c = calloc(1, sizeof(*c));

	if (!c || !(c->bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE))) {
		free(c);
		return NULL; /* evhttp makes its own */
	}
	c->a = a;
	if (a->nconns + 1 >= a->max_conns) /* closed ones waiting for the sweep do not count */
		for (struct conn *o = a->conns, *next; o; o = next) {
			next = o->next;
			if (conn_closed(o))
				conn_free(o);
		}
	c->in_cb = evbuffer_add_cb(bufferevent_get_input(c->bev), on_input, c);
	c->out_cb = evbuffer_add_cb(bufferevent_get_output(c->bev), on_output, c);
	bufferevent_incref(c->bev);
	c->since_ms = mono_ms();
	c->next = a->conns;
	if (a->conns)
		a->conns->prev = c;
	a->conns = c;
	a->nconns++;
	update_accept(a);
	if (!evtimer_pending(a->sweep, NULL))
		event_add(a->sweep, &(struct timeval){0, SWEEP_MS * 1000});
	return c->bev;
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
	struct vg_api *a = arg;

	(void)fd;
	(void)what;
	a->accept_failing = false;
	update_accept(a);
}

/*
 * accept() failed for want of descriptors or memory: pause accepting for a
 * second instead of trying again at once (the listening socket stays
 * readable: a busy loop, a log line each turn). One API per daemon: the
 * listener's argument is evhttp's, so the API is found through this.
 */
static struct vg_api *the_api;

static void on_accept_error(struct evconnlistener *lev, void *arg)
{
	struct vg_api *a = the_api;
	int e = EVUTIL_SOCKET_ERROR();

	(void)lev;
	(void)arg;
	if (!a)
		return;
	a->accept_errors++;
	a->accept_failing = true;
	update_accept(a);
	event_add(a->retry, &(struct timeval){ACCEPT_RETRY_S, 0});
	vg_warn("API: cannot accept a connection (%s): accepting again in %d s; raise the "
		"open-files limit (LimitNOFILE=) or lower api.max_connections",
		evutil_socket_error_to_string(e), ACCEPT_RETRY_S);
}

/* Descriptors open now (/proc/self/fd), or -1. */
static long fds_open(void)
{
	DIR *dir = opendir("/proc/self/fd");
	long n = -1; /* the directory's own */

	if (!dir)
		return -1;
	while (readdir(dir))
		n++;
	closedir(dir);
	return n - 2; /* . and .. */
}

/*
 * The connection cap: api.max_connections, lowered when the open-files limit
 * less what is open now less FD_RESERVE cannot hold it.
 */
static int conn_budget(struct vg_api *a, char *err, size_t n)
{
	const struct vg_config *c = &a->d->cfg;
	struct rlimit rl;
	long open = fds_open(), room;

	if (c->api_max_connections < 1 || c->api_max_connections > 65536)
		return snprintf(err, n, "api.max_connections is %u: give 1 to 65536 (default 256)",
				c->api_max_connections),
		       -EINVAL;
	if (c->api_request_timeout_s < 1 || c->api_request_timeout_s > 3600)
		return snprintf(err, n, "api.request_timeout_s is %u: give 1 to 3600 (default 10)",
				c->api_request_timeout_s),
		       -EINVAL;
	a->max_conns = c->api_max_connections;
	a->timeout_s = c->api_request_timeout_s;
	if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur == RLIM_INFINITY || open < 0)
		return 0;
	room = (long)(rl.rlim_cur > LONG_MAX ? LONG_MAX : rl.rlim_cur) - open - FD_RESERVE;
	if (room < (long)a->max_conns) {
		a->max_conns = room < 8 ? 8 : (uint32_t)room;
		vg_warn("API: at most %u connections at once, not api.max_connections = %u: the "
			"open-files limit is %llu, %ld are open and %d are kept for enforcement "
			"and the "
			"store; raise the limit (LimitNOFILE=, ulimit -n)",
			a->max_conns, c->api_max_connections, (unsigned long long)rl.rlim_cur, open,
			FD_RESERVE);
	}
	return 0;
}

/*
 * The listening socket, with a backlog deep enough that while the cap is
 * reached a good client's connection waits in the queue rather than having
 * its SYN dropped (and retried seconds later). A host name, not an address,
 * goes through evhttp's own bind (backlog 128).
 */
static struct evhttp_bound_socket *bind_listener(struct vg_api *a, const char *host,
						 ev_uint16_t port)
{
	struct sockaddr_storage ss;
	int sl = sizeof(ss);
	struct evconnlistener *lev;
	struct evhttp_bound_socket *bound;

	if (evutil_parse_sockaddr_port(a->d->cfg.api_listen, (struct sockaddr *)&ss, &sl))
		return evhttp_bind_socket_with_handle(a->http, host, port);
	lev = evconnlistener_new_bind(a->d->base, NULL, NULL,
				      LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_FREE |
					      LEV_OPT_CLOSE_ON_EXEC,
				      BACKLOG, (struct sockaddr *)&ss, sl);
	bound = lev ? evhttp_bind_listener(a->http, lev) : NULL;
	if (lev && !bound)
		evconnlistener_free(lev);
	return bound;
}

int vg_api_start(struct vg_api **out, struct vg_daemon *d, char *err, size_t n)
{
	struct vg_api *a = calloc(1, sizeof(*a));
	char host[128];
	const char *colon = strrchr(d->cfg.api_listen, ':');
	struct evhttp_bound_socket *bound;
	long port;
	int rc;

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
	if ((rc = conn_budget(a, err, n)) || (rc = load_token(a, err, n))) {
		free(a);
		return rc;
	}
	a->http = evhttp_new(d->base);
	a->sweep = evtimer_new(d->base, on_sweep, a);
	a->retry = evtimer_new(d->base, on_retry, a);
	if (!a->http || !a->sweep || !a->retry) {
		vg_api_stop(a);
		return snprintf(err, n, "cannot create the HTTP server"), -ENOMEM;
	}
	evhttp_set_max_body_size(a->http, MAX_BODY);
	evhttp_set_max_headers_size(a->http, MAX_HEADERS);
	evhttp_set_timeout(a->http, (int)a->timeout_s);
	/* every method reaches the handler, which answers 405 in JSON */
	evhttp_set_allowed_methods(a->http, 0xffff);
	evhttp_set_gencb(a->http, handle, a);
	evhttp_set_bevcb(a->http, on_accept, a);
	bound = bind_listener(a, host, (ev_uint16_t)port);
	if (!bound) {
		rc = errno;
		vg_api_stop(a);
		return snprintf(err, n,
				"cannot listen on %s (%s): another process has the port? "
				"set another with --listen or api.listen",
				d->cfg.api_listen, strerror(rc)),
		       -EADDRINUSE;
	}
	a->listener = evhttp_bound_socket_get_listener(bound);
	evconnlistener_set_error_cb(a->listener, on_accept_error);
	the_api = a;
	*out = a;
	return 0;
}

void vg_api_stop(struct vg_api *a)
{
	if (!a)
		return;
	a->listener = NULL; /* evhttp_free frees it */
	if (a->http)
		evhttp_free(a->http); /* closes its connections: ours are then reaped */
	while (a->conns)
		conn_free(a->conns);
	if (a->sweep)
		event_free(a->sweep);
	if (a->retry)
		event_free(a->retry);
	if (the_api == a)
		the_api = NULL;
	free(a);
}
