// SPDX-License-Identifier: BSD-2-Clause
/*
 * reload.c - one reload for SIGHUP and for a change of the files: vigil.conf.lua
 * read and checked again, then the whole policy set rebuilt; applied whole, or
 * refused whole with the reason, the configuration and policies before kept.
 *
 * The watcher: inotify on the directory of vigil.conf.lua and on policy_dir,
 * on the loop (non-blocking). A Kubernetes ConfigMap volume changes by renaming
 * its `..data` symlink to a new directory; an editor writes a file several
 * times. Either way a 200 ms timer, restarted by each event, gives one reload.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <event2/event.h>

#include "daemon.h"
#include "log.h"

#define WATCH_MASK                                                                                 \
	(IN_MOVED_TO | IN_CREATE | IN_CLOSE_WRITE | IN_DELETE | IN_MOVED_FROM | IN_ATTRIB |        \
	 IN_ONLYDIR)
#define DEBOUNCE_MS 200

void vg_run_opts_apply(struct vg_config *c, const struct vg_run_opts *o)
{
	if (o->policies) { /* --policies: these instead of the default pack */
		(void)snprintf(c->policy_dir, sizeof(c->policy_dir), "%s", o->policies); /* fits */
		c->builtin_policies = false;
	}
	if (o->listen)
		snprintf(c->api_listen, sizeof(c->api_listen), "%s", o->listen);
	if (o->fsync)
		c->fsync_always = !strcmp(o->fsync, "always");
	if (o->dry_run)
		c->dry_run = true;
}

/* The configuration as `vigil run` resolved it at the start: the file, then its options. */
static int config_read(struct vg_daemon *d, struct vg_config *nc, char *err, size_t n)
{
	int rc = vg_config_resolve(nc, d->run.config, d->run.data_dir, err, n);

	if (!rc)
		vg_run_opts_apply(nc, &d->run);
	return rc;
}

static void config_drop(struct vg_config *c)
{
	json_decref(c->notifiers);
	json_decref(c->default_notifiers);
	c->notifiers = c->default_notifiers = NULL;
}

/* What a reload changes: the policies and their Lua limits; the rest waits for a restart. */
static void take_policy_keys(struct vg_config *to, const struct vg_config *from)
{
	memcpy(to->policy_dir, from->policy_dir, sizeof(to->policy_dir));
	to->builtin_policies = from->builtin_policies;
	to->lua_memory_mb = from->lua_memory_mb;
	to->lua_policy_memory_mb = from->lua_policy_memory_mb;
	to->lua_budget = from->lua_budget;
	to->lua_time_ms = from->lua_time_ms;
	to->reload_watch = from->reload_watch;
}

static bool json_same(const json_t *a, const json_t *b)
{
	if (a && b)
		return json_equal(a, b);
	return a == b;
}

/* Keys a reload does not take: said, so that a change waiting for a restart is not missed. */
static void note_restart_keys(const struct vg_config *cur, const struct vg_config *nc)
{
	struct vg_config a = *cur, b = *nc;
	bool same = json_same(a.notifiers, b.notifiers) &&
		    json_same(a.default_notifiers, b.default_notifiers);

	take_policy_keys(&a, &b);
	a.notifiers = b.notifiers;
	a.default_notifiers = b.default_notifiers;
	memset(a.data_dir, 0, sizeof(a.data_dir)); /* the checked path now: not comparable */
	memset(b.data_dir, 0, sizeof(b.data_dir));
	if (!same || memcmp(&a, &b, sizeof(a)))
		vg_warn("the configuration changed more than policy_dir, builtin_policies, lua.* "
			"and reload.*: the other keys take effect at the next start");
}

static void refused(struct vg_daemon *d, const char *why, const char *reason)
{
	char msg[1024];

	d->reload_failures++;
	(void)snprintf(msg, sizeof(msg),
		       "reload failed (%s): refused whole: %.700s; kept the configuration and "
		       "the %d policies loaded before (fix it and save again, or send SIGHUP)",
		       why, reason, vg_engine_count(d->engine));
	vg_err("%s", msg);
	(void)vg_k8s_self_event(d->k8s, "Warning", "VigilReloadRefused", msg);
}

static void applied(struct vg_daemon *d, const char *why)
{
	char err[512];

	d->reloads++;
	vg_pipeline_set_engine(d->pipeline, d->engine);
	if (vg_daemon_route_policies(d, err, sizeof(err)))
		vg_err("%s; that policy's alerts go to default_notifiers until it is fixed", err);
	if (vg_daemon_policy_changed(d))
		vg_err("cannot program the kernel filter map: %s", strerror(errno));
	(void)snprintf(err, sizeof(err), "reloaded %d policies (%s): applied",
		       vg_engine_count(d->engine), why);
	vg_info("%s", err);
	(void)vg_k8s_self_event(d->k8s, "Normal", "VigilReloaded", err);
}

void vg_daemon_reload(struct vg_daemon *d, const char *why)
{
	struct vg_config nc, old = d->cfg;
	struct vg_load_error *errs = NULL;
	struct vg_engine_opts eo;
	char err[1024];
	int nerr = 0;

	if (config_read(d, &nc, err, sizeof(err))) {
		config_drop(&nc);
		refused(d, why, err);
		return;
	}
	note_restart_keys(&d->cfg, &nc);
	take_policy_keys(&d->cfg, &nc);
	config_drop(&nc);
	eo = vg_daemon_engine_opts(d);
	if (vg_engine_reload(&d->engine, &eo, &errs, &nerr)) {
		for (int i = 0; i < nerr; i++)
			vg_err("%s", errs[i].msg);
		d->cfg = old;
		refused(d, why, nerr ? errs[0].msg : "the policy engine could not be built");
	} else {
		applied(d, why);
	}
	vg_load_errors_free(errs, nerr);
	vg_daemon_watch_update(d);
}

/* ---- the watcher ------------------------------------------------------------------ */

static void on_settled(evutil_socket_t s, short w, void *arg)
{
	(void)s;
	(void)w;
	vg_daemon_reload(arg, "the files changed");
}

/* Whether name, in the watched directory wd, is one a reload reads. */
static bool relevant(struct vg_daemon *d, int wd, const char *name)
{
	size_t len = strlen(name);

	if (!strcmp(name, "..data"))
		return true; /* a ConfigMap's new version */
	if (wd == d->wd_config && !strcmp(name, d->config_base))
		return true;
	return wd == d->wd_policy && len > 4 && !strcmp(name + len - 4, ".lua");
}

static void on_inotify(evutil_socket_t fd, short w, void *arg)
{
	struct vg_daemon *d = arg;
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	bool hit = false;
	ssize_t len;

	(void)w;
	while ((len = read(fd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + len;) {
			const struct inotify_event *e = (const struct inotify_event *)p;

			if (e->len && relevant(d, e->wd, e->name))
				hit = true;
			if (e->wd == d->wd_policy && (e->mask & IN_IGNORED))
				d->wd_policy = -1; /* its directory went: watched again at reload */
			p += sizeof(*e) + e->len;
		}
	}
	if (hit) /* restarted by each event: one reload once the writes settle */
		evtimer_add(d->ev_settle, &(struct timeval){.tv_usec = DEBOUNCE_MS * 1000});
}

/* The policy directory again: a ConfigMap's swap replaces the one watched. */
void vg_daemon_watch_update(struct vg_daemon *d)
{
	int wd;

	if (d->inotify_fd < 0 || !d->cfg.policy_dir[0])
		return;
	wd = inotify_add_watch(d->inotify_fd, d->cfg.policy_dir, WATCH_MASK);
	if (wd < 0) {
		d->watch_errors++;
		vg_warn("cannot watch the policy directory %s: %s (SIGHUP still reloads)",
			d->cfg.policy_dir, strerror(errno));
		return;
	}
	d->wd_policy = wd;
}

static int watch_config(struct vg_daemon *d, const char *path)
{
	const char *slash = strrchr(path, '/');
	char dir[PATH_MAX];

	if (slash)
		(void)snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	else
		strcpy(dir, ".");
	if (!dir[0])
		strcpy(dir, "/");
	(void)snprintf(d->config_base, sizeof(d->config_base), "%s", slash ? slash + 1 : path);
	d->wd_config = inotify_add_watch(d->inotify_fd, dir, WATCH_MASK);
	if (d->wd_config < 0) {
		d->watch_errors++;
		vg_warn("cannot watch %s for changes to %s: %s (SIGHUP still reloads)", dir, path,
			strerror(errno));
	}
	return 0;
}

/* Starts the watcher when reload.watch is on. 0, or -errno (the loop refused it). */
int vg_daemon_watch_start(struct vg_daemon *d)
{
	const char *config = d->run.config;

	d->inotify_fd = d->wd_config = d->wd_policy = -1;
	if (!d->cfg.reload_watch)
		return 0;
	if (!config && access("vigil.conf.lua", F_OK) == 0)
		config = "vigil.conf.lua";
	d->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (d->inotify_fd < 0) {
		d->watch_errors++;
		vg_warn("cannot watch the configuration for changes: %s (SIGHUP still reloads; "
			"raise fs.inotify.max_user_instances)",
			strerror(errno));
		return 0;
	}
	if (config)
		watch_config(d, config);
	vg_daemon_watch_update(d);
	d->ev_inotify = event_new(d->base, d->inotify_fd, EV_READ | EV_PERSIST, on_inotify, d);
	d->ev_settle = evtimer_new(d->base, on_settled, d);
	if (!d->ev_inotify || !d->ev_settle || event_add(d->ev_inotify, NULL))
		return -ENOMEM;
	return 0;
}

void vg_daemon_watch_stop(struct vg_daemon *d)
{
	if (d->ev_inotify)
		event_free(d->ev_inotify);
	if (d->ev_settle)
		event_free(d->ev_settle);
	if (d->inotify_fd >= 0)
		close(d->inotify_fd);
	d->ev_inotify = d->ev_settle = NULL;
	d->inotify_fd = -1;
}
