// SPDX-License-Identifier: BSD-2-Clause
/*
 * metrics.c - GET /metrics: the daemon's counters and those of every module
 * it runs (sensor, engine, store, enforcement, Kubernetes, notifiers, API),
 * as Prometheus text.
 */
#include <stdio.h>

#include <event2/buffer.h>

#include "api.h"
#include "log.h"
#include "metrics.h"
#include "pipeline.h"

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

/* The sensor's kernel counters, the kernel filter and the engine's fast path and Lua. */
static void sensor_engine_metrics(struct vg_daemon *d, struct evbuffer *b)
{
	struct vg_pipeline_stats ps;
	struct vg_sensor_stats ss;
	struct vg_engine_stats es;

	vg_pipeline_stats(d->pipeline, &ps);
	vg_sensor_stats(d->sensor, &ss);
	vg_engine_stats(d->engine, &es);
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
}

/* check() failures by class: error, budget (or time), memory. */
static void check_failure_metrics(struct vg_daemon *d, struct evbuffer *b)
{
	uint64_t cls[3] = {0};

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
}

static void store_metrics(struct vg_daemon *d, struct evbuffer *b)
{
	struct vg_pipeline_stats ps;
	struct vg_alerts_stats as;

	vg_pipeline_stats(d->pipeline, &ps);
	vg_alerts_stats(d->alerts, &as);
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
	metric(b, "vigil_store_alert_label_bytes", "bytes of the pod labels kept with the alerts",
	       "gauge", as.label_bytes);
	metric(b, "vigil_store_alert_labels_omitted",
	       "pod labels past an alert's 64, counted and not kept", "gauge", as.labels_omitted);
	metric(b, "vigil_store_timeline_uncounted",
	       "violations the timeline does not count (no known severity, or over 7 days old)",
	       "gauge", as.timeline_uncounted);
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
}

static void enforce_metrics(struct vg_daemon *d, struct evbuffer *b)
{
	struct vg_pipeline_stats ps;

	vg_pipeline_stats(d->pipeline, &ps);
	metric(b, "vigil_enforcements_total", "enforcements that worked", "counter",
	       ps.enforce.enforced);
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
	metric(b, "vigil_container_name_misses_total",
	       "execs whose container's name and image were not cached (the runtime's file is "
	       "read again, at most once a second)",
	       "counter", ps.ctrinfo.misses);
	metric(b, "vigil_container_state_reads_total",
	       "reads of a runtime's state file (containers.json, config.v2.json)", "counter",
	       ps.ctrinfo.reads);
	metric(b, "vigil_container_state_read_errors_total",
	       "reads of a runtime's state file that failed (missing, not JSON)", "counter",
	       ps.ctrinfo.read_errors);
}

/* Content identity and drift (policies/README.md, "What a process name means"). */
static void identity_metrics(const struct vg_pipeline_stats *ps, struct evbuffer *b)
{
	const struct {
		const char *name, *help;
		uint64_t v;
	} m[] = {
		{"vigil_content_files_hashed_total",
		 "executables hashed (each once while unchanged)", ps->ident.hashed},
		{"vigil_content_bytes_hashed_total", "bytes read to hash them",
		 ps->ident.hash_bytes},
		{"vigil_content_cache_hits_total", "execs whose executable's hash was cached",
		 ps->ident.cache_hits},
		{"vigil_content_cache_evictions_total",
		 "hashes dropped for room (identity.cache_files)", ps->ident.evicted},
		{"vigil_content_tables_built_total", "containers' tables of named binaries built",
		 ps->ident.tables_built},
		{"vigil_content_scans_truncated_total",
		 "PATH directories with more files than a table's scan keeps (4096)",
		 ps->ident.scan_truncated},
		{"vigil_content_unknown_total",
		 "execs whose content could not be known: too big, gone, on FUSE, errors, queue "
		 "full",
		 ps->ident.too_big + ps->ident.gone + ps->ident.fuse + ps->ident.errors +
			 ps->ident.queue_full},
		{"vigil_content_deferred_total",
		 "execs evaluated before their hash was ready, kept to be evaluated again",
		 ps->content_kept},
		{"vigil_content_reevaluated_total", "kept execs evaluated again with their hash",
		 ps->content_late_evals},
		{"vigil_content_late_violations_total",
		 "violations found on that second evaluation", ps->content_late_violations},
		{"vigil_content_not_deferred_total",
		 "execs evaluated once without their hash: too many already waiting",
		 ps->content_not_kept},
		{"vigil_content_late_unknown_total",
		 "kept execs whose content could not be known after all (the file changed, its "
		 "hash "
		 "was evicted): evaluated once, without it",
		 ps->content_late_unknown},
		{"vigil_content_cache_misses_total", "execs whose executable's hash was not cached",
		 ps->ident.cache_misses},
		{"vigil_drift_unknown_start_total",
		 "container execs of another mount whose container's start could not be read",
		 ps->drift.unknown_start},
		{"vigil_content_kernel_names_total",
		 "files named by content given to the kernel, which decides their next exec",
		 ps->content_to_kernel},
		{"vigil_drift_userspace_checks_total",
		 "container execs of another mount checked against the container's start",
		 ps->drift.checked},
		{"vigil_drift_userspace_total", "... changed after it: not in the image",
		 ps->drift.drifted},
	};

	for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++)
		metric(b, m[i].name, m[i].help, "counter", m[i].v);
}

/* Process baselines: the store's, and what the pipeline did with each exec (baseline.h). */
static void baseline_metrics(struct vg_daemon *d, const struct vg_pipeline_stats *ps,
			     struct evbuffer *b)
{
	const struct vg_bl_stats *bs = &ps->bl;
	struct vg_bl *bl = vg_pipeline_baselines(d->pipeline);
	struct vg_baselines_stats st;
	const struct {
		const char *name, *help;
		uint64_t v;
	} m[] = {
		{"vigil_baseline_learned_total", "paths added to baselines while observing",
		 bs->learned},
		{"vigil_baseline_checked_total",
		 "container execs checked against a locked baseline", bs->checked},
		{"vigil_baseline_unexpected_execs_total", "... whose path was not in it",
		 bs->unexpected},
		{"vigil_baseline_auto_locked_total", "baselines locked at the end of observation",
		 bs->auto_locked},
		{"vigil_baseline_errors_total", "baseline changes the store refused", bs->errors},
		{"vigil_baseline_path_cache_total", "real paths found in the path cache",
		 bs->path_cache},
		{"vigil_baseline_path_proc_total", "... read from /proc/PID/exe", bs->path_proc},
		{"vigil_baseline_path_root_total", "... resolved in the container's root",
		 bs->path_root},
		{"vigil_baseline_path_execd_total",
		 "the exec'd path taken instead (a trace, or the real path not found)",
		 bs->path_exec},
		{"vigil_baseline_path_mismatch_total",
		 "real paths not taken: the file there is no longer the executable",
		 bs->path_mismatch},
		{"vigil_baseline_path_failed_total", "real paths not found: nothing to read",
		 bs->path_failed},
		{"vigil_baseline_cache_hits_total",
		 "container execs whose baseline came from the per-cgroup cache", bs->cache_hits},
		{"vigil_baseline_cache_misses_total",
		 "... looked up by key instead (a new cgroup, the baselines or the key changed)",
		 bs->cache_misses},
		{"vigil_baseline_cache_evictions_total",
		 "cgroups pushed out of the per-cgroup cache (least recently used)",
		 bs->cache_evictions},
	};
	const char *policy;
	uint64_t n;

	vg_baselines_stats(vg_alerts_baselines(d->alerts), &st);
	evbuffer_add_printf(b,
			    "# HELP vigil_baselines process baselines by state\n"
			    "# TYPE vigil_baselines gauge\n"
			    "vigil_baselines{state=\"observing\"} %llu\n"
			    "vigil_baselines{state=\"locked\"} %llu\n"
			    "vigil_baselines{state=\"unlocked\"} %llu\n",
			    (unsigned long long)st.observing, (unsigned long long)st.locked,
			    (unsigned long long)(st.baselines - st.locked - st.observing));
	metric(b, "vigil_baseline_elements", "paths in all baselines", "gauge", st.elements);
	metric(b, "vigil_baseline_capped_total", "paths the element cap turned away", "counter",
	       st.capped);
	for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++)
		metric(b, m[i].name, m[i].help, "counter", m[i].v);
	evbuffer_add_printf(
		b, "# HELP vigil_baseline_unexpected_total violations on unexpected execs, "
		   "per policy\n# TYPE vigil_baseline_unexpected_total counter\n");
	for (int i = 0; bl && vg_bl_violations(bl, i, &policy, &n); i++) {
		char name[512];

		label_escape(name, sizeof(name), policy);
		evbuffer_add_printf(b, "vigil_baseline_unexpected_total{policy=\"%s\"} %llu\n",
				    name, (unsigned long long)n);
	}
}

/* Execs held for their pod's metadata (core/pipeline/podwait.h). */
static void pod_wait_metrics(const struct vg_pipeline_stats *ps, struct evbuffer *b)
{
	metric(b, "vigil_k8s_exec_waits_total",
	       "execs of a pod not known yet, held for its metadata", "counter", ps->podwait.held);
	metric(b, "vigil_k8s_exec_wait_resolved_total",
	       "held execs evaluated when their pod became known", "counter", ps->podwait.resolved);
	metric(b, "vigil_k8s_exec_wait_timeouts_total",
	       "held execs evaluated after kubernetes.pod_wait_ms, without their pod", "counter",
	       ps->podwait.timeouts);
	metric(b, "vigil_k8s_exec_wait_overflow_total",
	       "execs of a pod not known yet evaluated at once: kubernetes.pod_wait_max held",
	       "counter", ps->podwait.overflow);
	metric(b, "vigil_k8s_exec_unsynced_total",
	       "execs of a pod not known evaluated at once: no pod list had succeeded, or the last "
	       "failed",
	       "counter", ps->k8s_unsynced);
	metric(b, "vigil_k8s_exec_waiting", "execs held for their pod now", "gauge",
	       ps->podwait.now);
}

static void k8s_metrics(struct vg_k8s *k8s, struct evbuffer *b)
{
	struct vg_k8s_stats ks;

	vg_k8s_stats(k8s, &ks);
	metric(b, "vigil_k8s_pod_lists_total", "pod lists asked of the API server", "counter",
	       ks.lists);
	metric(b, "vigil_k8s_pod_list_errors_total", "pod lists that failed", "counter",
	       ks.list_errors);
	metric(b, "vigil_k8s_pods", "pods of this node known", "gauge", ks.pods);
	metric(b, "vigil_k8s_watches_total", "watches started (pods and namespaces)", "counter",
	       ks.watches);
	metric(b, "vigil_k8s_watch_events_total", "watch events applied (added, modified, deleted)",
	       "counter", ks.watch_events);
	metric(b, "vigil_k8s_bookmarks_total", "watch bookmarks received", "counter", ks.bookmarks);
	metric(b, "vigil_k8s_relists_410_total",
	       "lists again because a watch's resourceVersion was gone (410)", "counter",
	       ks.relists_410);
	metric(b, "vigil_k8s_watch_errors_total", "watches ended by an error", "counter",
	       ks.watch_errors);
	metric(b, "vigil_k8s_stalls_total",
	       "a pod or namespace reflector found with nothing under way, or a list unanswered "
	       "for a minute, and started again",
	       "counter", ks.stalls);
	metric(b, "vigil_k8s_owner_gets_total", "ReplicaSets and Jobs read for their owner",
	       "counter", ks.owner_gets);
	metric(b, "vigil_k8s_owner_errors_total",
	       "owners that could not be read (deployment guessed from the name)", "counter",
	       ks.owner_errors);
	metric(b, "vigil_k8s_namespace_lists_total", "namespace lists asked of the API server",
	       "counter", ks.ns_lists);
	metric(b, "vigil_k8s_namespace_list_errors_total", "namespace lists that failed", "counter",
	       ks.ns_list_errors);
	metric(b, "vigil_k8s_namespaces", "namespaces known (labels and annotations for notifiers)",
	       "gauge", ks.namespaces);
	metric(b, "vigil_k8s_deletes_total", "pod DELETE requests sent", "counter", ks.deletes);
	metric(b, "vigil_k8s_deletes_deduped_total",
	       "pod deletions asked for again within 30 s of the first: not sent", "counter",
	       ks.deletes_deduped);
	metric(b, "vigil_k8s_delete_retries_total", "pod DELETE retries", "counter",
	       ks.delete_retries);
	metric(b, "vigil_k8s_delete_errors_total", "pod deletions given up", "counter",
	       ks.delete_errors);
	metric(b, "vigil_k8s_events_total", "Kubernetes Events recorded", "counter", ks.events);
	metric(b, "vigil_k8s_event_errors_total", "Kubernetes Events refused", "counter",
	       ks.event_errors);
}

/* GET /v1/alerts/stream's */
static void api_stream_metrics(struct evbuffer *b, const struct vg_api_stats *st)
{
	metric(b, "vigil_api_streams", "alert streams open (GET /v1/alerts/stream)", "gauge",
	       st->streams);
	metric(b, "vigil_api_streams_max", "the cap on alert streams open at once", "gauge",
	       st->streams_max);
	metric(b, "vigil_api_streams_opened_total", "alert streams opened", "counter",
	       st->streams_opened);
	metric(b, "vigil_api_streams_refused_total", "alert streams refused at the cap (503)",
	       "counter", st->streams_refused);
	metric(b, "vigil_api_streams_cut_slow_total",
	       "alert streams cut: the reader fell 1 MiB behind", "counter", st->streams_cut_slow);
	metric(b, "vigil_api_streams_closed_total",
	       "alert streams ended by the reader or a failed write", "counter",
	       st->streams_closed);
	metric(b, "vigil_api_streams_signed_out_total",
	       "alert streams ended: the console session they served was signed out or expired",
	       "counter", st->streams_signed_out);
	metric(b, "vigil_api_stream_messages_total", "alert changes sent to the streams", "counter",
	       st->stream_messages);
}

static void api_metrics(struct vg_daemon *d, struct evbuffer *b)
{
	struct vg_api_stats st = {0};

	if (d->api) /* (asked by the API itself: it is there) */
		vg_api_stats(d->api, &st);
	metric(b, "vigil_api_requests_total", "API requests", "counter", st.requests);
	metric(b, "vigil_api_errors_total", "API requests answered 4xx", "counter", st.errors4xx);
	metric(b, "vigil_api_http_errors_total",
	       "malformed or oversized requests answered before the handler", "counter",
	       st.http_errors);
	metric(b, "vigil_api_connections", "API connections held", "gauge", st.connections);
	metric(b, "vigil_api_connections_max", "the cap on API connections held at once", "gauge",
	       st.max_connections);
	metric(b, "vigil_api_connection_cap_reached_total", "times accepting paused at the cap",
	       "counter", st.cap_pauses);
	metric(b, "vigil_api_timeouts_total",
	       "connections cut for a request not whole within api.request_timeout_s", "counter",
	       st.timeouts);
	metric(b, "vigil_api_accept_errors_total",
	       "accept() failures (no descriptors, no memory): accepting paused 1 s", "counter",
	       st.accept_errors);
	api_stream_metrics(b, &st);
	metric(b, "vigil_api_console_signin_refused_total",
	       "web console sign-ins refused (a wrong, used or expired code or API token)",
	       "counter", st.login_refused);
	metric(b, "vigil_api_csrf_refused_total",
	       "console session requests refused for a missing or wrong X-CSRF-Token", "counter",
	       st.csrf_refused);
	metric(b, "vigil_api_unauthorized_total",
	       "API requests refused (401) for a missing or wrong bearer token or session cookie",
	       "counter", st.unauthorized);
	metric(b, "vigil_api_host_refused_total",
	       "requests refused (421) for a Host header that names another site (api.hosts)",
	       "counter", st.host_refused);
}

/* Per policy, one family per counter (broken policies are not listed). */
static void policy_metrics(struct vg_daemon *d, struct evbuffer *b)
{
	static const char *const pfields[] = {"candidates", "matches",	"errors", "budget_stops",
					      "nomem",	    "excluded", "lua_ns"};

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
}

void vg_daemon_metrics(struct vg_daemon *d, struct evbuffer *b)
{
	struct vg_pipeline_stats ps;

	sensor_engine_metrics(d, b);
	check_failure_metrics(d, b);
	store_metrics(d, b);
	vg_pipeline_stats(d->pipeline, &ps);
	enforce_metrics(d, b);
	identity_metrics(&ps, b);
	baseline_metrics(d, &ps, b);
	if (d->blk) {
		vg_blk_metrics(d->blk, b);
		metric(b, "vigil_baseline_kernel_killed_total",
		       "execs the kernel's copy of a baseline killed, as user space recorded them",
		       "counter", ps.bl.kernel_killed);
		metric(b, "vigil_baseline_kernel_replaced_total",
		       "of which the path was in the baseline: the file there had been replaced",
		       "counter", ps.bl.kernel_replaced);
	}
	if (d->k8s) {
		k8s_metrics(d->k8s, b);
		pod_wait_metrics(&ps, b);
	}
	if (d->notify)
		vg_notify_metrics(d->notify, b);
	metric(b, "vigil_policy_reloads_total", "successful reloads", "counter", d->reloads);
	metric(b, "vigil_policy_reload_failures_total", "reloads refused (old set kept)", "counter",
	       d->reload_failures);
	metric(b, "vigil_config_watch_errors_total",
	       "the watcher of vigil.conf.lua and policy_dir could not be set up", "counter",
	       d->watch_errors);
	api_metrics(d, b);
	metric(b, "vigil_log_lines_suppressed_total",
	       "log lines held back by the rate limit on repeats", "counter", vg_log_suppressed());
	policy_metrics(d, b);
}
