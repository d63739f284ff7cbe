/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * config.h - vigil.conf.lua: one Lua file returning a table; every key is
 * optional. Unknown keys, wrong types, numbers out of their range (ranges[] in
 * config.c) and malformed URLs are errors naming the key and the fix.
 */
#ifndef VG_CONFIG_H
#define VG_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct vg_config {
	char data_dir[1024];		/* ./var/vigil */
	char policy_dir[1024];		/* "" = the built-in default pack only */
	bool builtin_policies;		/* true: the default pack besides policy_dir */
	char plugin_dir[1024];		/* "" = only the built-in notifier plugins */
	char api_listen[128];		/* 127.0.0.1:8077 */
	char api_hosts[512];		/* api.hosts: more names for the Host header, "*": any */
	uint32_t api_max_connections;	/* api.max_connections: 256 held at once */
	uint32_t api_request_timeout_s; /* api.request_timeout_s: 10, for each whole request */

	uint32_t api_console_code_ttl_s;    /* api.console_code_ttl: "300s", a sign-in code */
	uint32_t api_console_session_ttl_s; /* api.console_session_ttl: "12h" */
	uint32_t api_stream_keepalive_s;    /* api.stream_keepalive_s: 15, the alert stream's */

	bool fsync_always;	  /* store.fsync = "always" | "batch" */
	uint32_t commit_ms;	  /* store.commit_ms: 5 */
	uint32_t retention_days;  /* store.retention_days: 30 (resolved alerts) */
	uint32_t store_memory_mb; /* store.memory_mb: 64, kept while the disk refuses writes */
	uint32_t ringbuf_bytes;	  /* sensor.ringbuf_size: 4 MiB */
	uint32_t drain_ms;	  /* sensor.drain_ms: 10 */
	uint32_t burst;		  /* volume.burst: 10 repeats ... */
	uint32_t window_s; /* volume.window_s: ... per 1800 s per (container, name, args, exe) */
	uint32_t lua_memory_mb;	       /* lua.memory_mb: 64 */
	uint32_t lua_budget;	       /* lua.budget: 1,000,000 instructions per call */
	uint32_t lua_policy_memory_mb; /* lua.policy_memory_mb: each policy's own cap (0: a quarter
					  of lua.memory_mb) */
	uint32_t lua_time_ms;	       /* lua.time_ms: 1000, wall time per call */
	bool reload_watch; /* reload.watch: true, reload when the files change (ConfigMaps too) */
	bool dry_run;	   /* enforcement.dry_run: log what would be killed, kill nothing */
	/* identity.*: naming executables by content (policies/README.md) */
	bool content;		 /* identity.content: true */
	uint32_t content_files;	 /* identity.cache_files: 4096 files' hashes kept */
	uint32_t content_max_mb; /* identity.max_file_mb: 64, larger files are not hashed */
	/* kubernetes.*: all empty = in-cluster when KUBERNETES_SERVICE_HOST is set, else none */
	char k8s_server[512], k8s_token_file[512], k8s_ca_file[512], k8s_node[256],
		k8s_kubeconfig[512];
	bool k8s_insecure;
	uint32_t k8s_refresh_s;
	uint32_t
		k8s_pod_wait_ms; /* kubernetes.pod_wait_ms: 2000, an exec of an unknown pod waits */
	uint32_t k8s_pod_wait_max; /* kubernetes.pod_wait_max: 1024 such execs at a time */
	/* containers.*: where the runtimes keep their state ("": storage.conf's, the default) */
	char ctr_storage_root[1024], ctr_docker_root[1024];
	/* baselines.*: process baselines (README, "Process baselines") */
	bool bl_enabled;	  /* baselines.enabled: true */
	uint32_t bl_observe_s;	  /* baselines.observe: "1h", learning from the first exec */
	uint32_t bl_startup_s;	  /* baselines.startup: "1m" after a container's start */
	bool bl_auto_lock;	  /* baselines.auto_lock: false (lock at the end of observe) */
	uint32_t bl_max_elements; /* baselines.max_elements: 1000 paths per baseline */
	json_t *notifiers; /* notifiers = { name = { type = ..., ... } } (owned; NULL: none) */
	json_t *default_notifiers; /* default_notifiers = { "name", ... } */
};

void vg_config_defaults(struct vg_config *c);

/*
 * Defaults, then config if given, else ./vigil.conf.lua if it exists, then
 * data_dir (--data-dir) if given over the file's: what every command starts
 * from. 0, or -errno with the message in err.
 */
int vg_config_resolve(struct vg_config *c, const char *config, const char *data_dir, char *err,
		      size_t errlen);

/*
 * key names 'url' in messages: 0 when it is an http:// or https:// URL with a
 * host, else -EINVAL with "key: why, and the fix" in err (the value not shown
 * when secret).
 */
int vg_check_http_url(const char *key, const char *url, bool secret, char *err, size_t errlen);

/* 0 when addr is HOST:PORT with a port from 1 to 65535, else -EINVAL naming key. */
int vg_check_listen(const char *key, const char *addr, char *err, size_t errlen);

/* Loads path over the defaults. 0, or -errno with "path: what is wrong" in err. */
int vg_config_load(struct vg_config *c, const char *path, char *err, size_t errlen);

#endif
