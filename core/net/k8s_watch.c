// SPDX-License-Identifier: BSD-2-Clause
/*
 * k8s_watch.c - a reflector (k8s_priv.h), as client-go's: LIST the collection and take the
 * list's metadata.resourceVersion; WATCH from it (allowWatchBookmarks, a timeoutSeconds drawn
 * in 300..600 so that the watches of many nodes do not end together); apply ADDED, MODIFIED
 * and DELETED; a BOOKMARK moves the resourceVersion only; an ERROR with code 410 (or an HTTP
 * 410) means the resourceVersion is older than the server keeps: list again. A watch the
 * server ends is started again from the last resourceVersion; errors back off.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <jansson.h>

#include "k8s_priv.h"
#include "log.h"

#define BACKOFF_MIN_MS	1000L
#define BACKOFF_MAX_MS	30000L
#define BACKOFF_RESET_S 120 /* as client-go: no error for this long, the next wait is short */
#define GUARD_S		10  /* how often a reflector is checked for making progress */
#define LIST_STALL_S	60  /* a list unanswered this long is given up (requests time out in 10) */
#define WATCH_MIN_S	300

static void list(struct vg_k8s_refl *r);
static void watch(struct vg_k8s_refl *r);

void vg_k8s_req(struct vg_k8s *k, struct vg_http_req *r, const char *url, const char **hdr)
{
	hdr[0] = k->auth;
	hdr[1] = "Accept: application/json";
	hdr[2] = NULL;
	*r = (struct vg_http_req){.method = "GET",
				  .url = url,
				  .headers = hdr,
				  .ca_file = k->ca[0] ? k->ca : NULL,
				  .insecure = k->insecure,
				  .timeout_ms = 30000};
}

static void error_msg(struct vg_k8s_refl *r, const char *doing, const struct vg_http_resp *h)
{
	const char *hint = "";

	if (h->status == 401)
		hint = " (the token is wrong or expired)";
	else if (h->status == 403)
		hint = " (the service account may not do this: see deploy/rbac.yaml)";
	snprintf(r->k->st.last_error, sizeof(r->k->st.last_error), "%s %s: %ld %.150s%s", doing,
		 r->what, h->status, h->error ? h->error : h->body, hint);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct vg_k8s_refl *r = arg;

	(void)fd;
	(void)what;
	if (r->rv[0])
		watch(r);
	else
		list(r);
}

/* After an error: the next try (a watch from rv, else a list) after the backoff. */
static void back_off(struct vg_k8s_refl *r)
{
	int64_t now = vg_k8s_mono_s();
	long ms, jitter;
	struct timeval tv;

	if (now - r->backed_off >= BACKOFF_RESET_S)
		r->backoff_ms = 0; /* the first error after a quiet spell (an API server restart) */
	r->backed_off = now;
	ms = r->backoff_ms ? r->backoff_ms : BACKOFF_MIN_MS;
	jitter = nrand48(r->rand) % (ms / 2 + 1);
	tv.tv_sec = (ms + jitter) / 1000;
	tv.tv_usec = (ms + jitter) % 1000 * 1000;
	r->synced = false;
	r->backoff_ms = ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : ms * 2;
	vg_warn("kubernetes: %s; trying again in %.1f s", r->k->st.last_error,
		(double)(ms + jitter) / 1000);
	(void)event_add(r->timer, &tv); /* fails only for an event of another base */
}

static void on_list(void *ctx, const struct vg_http_resp *h)
{
	struct vg_k8s_refl *r = ctx;
	json_t *j = NULL, *items;
	const char *rv;

	r->listing = false;
	if (h->error || h->status != 200) {
		(*r->list_errors)++;
		error_msg(r, "listing", h);
		back_off(r);
		return;
	}
	j = json_loads(h->body, JSON_ALLOW_NUL, NULL); /* "\u0000" in a label value is valid */
	items = json_object_get(j, "items");
	rv = json_string_value(json_object_get(json_object_get(j, "metadata"), "resourceVersion"));
	if (!json_is_array(items) || !rv || !*rv) {
		(*r->list_errors)++;
		snprintf(r->k->st.last_error, sizeof(r->k->st.last_error),
			 "the %s list is not a list with a resourceVersion", r->what);
		json_decref(j);
		back_off(r);
		return;
	}
	snprintf(r->rv, sizeof(r->rv), "%s", rv);
	r->consistent = false;
	r->synced = true; /* the API server answers; a watch that then fails says otherwise */
	r->replace(r->k, items);
	json_decref(j);
	watch(r);
}

/*
 * As client-go: a list is served from the API server's watch cache (resourceVersion=0), not
 * read from etcd for every node, unless the last watch said its version is gone (410): then
 * the list must be at least as new as that, a consistent read.
 */
static void list(struct vg_k8s_refl *r)
{
	char url[1100];
	struct vg_http_req req;
	const char *hdr[3];

	r->rv[0] = '\0';
	if (r->consistent)
		snprintf(url, sizeof(url), "%s", r->url);
	else
		snprintf(url, sizeof(url), "%s%cresourceVersion=0", r->url,
			 strchr(r->url, '?') ? '&' : '?');
	vg_k8s_req(r->k, &req, url, hdr);
	(*r->lists)++;
	r->list_at = vg_k8s_mono_s();
	r->listing = vg_http_request(r->k->http, &req, on_list, r) == 0;
	if (!r->listing)
		back_off(r);
}

/* One event of the watch; false ends the watch (410, an error, a line that is no event). */
static bool on_line(void *ctx, const char *line, size_t len)
{
	struct vg_k8s_refl *r = ctx;
	struct vg_k8s_stats *st = &r->k->st;
	json_t *ev = json_loadb(line, len, JSON_ALLOW_NUL, NULL),
	       *obj = json_object_get(ev, "object");
	const char *type = json_string_value(json_object_get(ev, "type"));
	const char *rv = json_string_value(
		json_object_get(json_object_get(obj, "metadata"), "resourceVersion"));
	bool go = true;

	const char *msg = json_string_value(json_object_get(obj, "message"));

	r->got++;
	if (!type || !json_is_object(obj)) {
		/* the same line would come again from the same version: list afresh instead */
		r->failed = true;
		snprintf(st->last_error, sizeof(st->last_error),
			 "watching %s: not an event: %.100s", r->what, line);
		go = false;
	} else if (!strcmp(type, "ERROR")) {
		json_int_t code = json_integer_value(json_object_get(obj, "code"));

		r->gone = code == 410;
		r->failed = !r->gone;
		snprintf(st->last_error, sizeof(st->last_error), "watching %s: %lld %.150s",
			 r->what, (long long)code, msg ? msg : "(no message)");
		go = false;
	} else if (!strcmp(type, "BOOKMARK")) {
		st->bookmarks++;
	} else {
		st->watch_events++;
		r->apply(r->k, type, obj);
	}
	if (go && !r->good++) { /* the watch works (again) */
		r->backoff_ms = 0;
		r->synced = true;
	}
	if (go && rv && *rv)
		snprintf(r->rv, sizeof(r->rv), "%s", rv);
	json_decref(ev);
	return go;
}

static void on_watch_end(void *ctx, const struct vg_http_resp *h)
{
	struct vg_k8s_refl *r = ctx;
	struct vg_k8s_stats *st = &r->k->st;

	r->watching = false;
	if (r->gone || h->status == 410) { /* too old: what changed since is lost, list again */
		st->relists_410++;
		r->gone = false;
		r->consistent = true;
		if (r->good || vg_k8s_mono_s() - r->started >= 1) {
			r->synced = false;
			list(r);
			return;
		}
		r->rv[0] = '\0'; /* a 410 at once, again: list, but after the backoff */
		back_off(r);
		return;
	}
	/* the server ended it: go on, unless it ends every watch at once (as client-go, a watch
	 * of no event that lasted under a second counts as an error) */
	if (!r->failed && !h->error && h->status == 200 &&
	    (r->got || vg_k8s_mono_s() - r->started >= 1)) {
		r->backoff_ms = 0;
		watch(r);
		return;
	}
	st->watch_errors++;
	if (!r->failed && !h->error && h->status == 200)
		snprintf(st->last_error, sizeof(st->last_error),
			 "watching %s: the API server ended the watch at once", r->what);
	else if (!r->failed)
		error_msg(r, "watching", h);
	/* as client-go: a transport error, 429 or 5xx watches again from rv; an ERROR event (a
	 * version too large after an etcd restore...) or another refusal lists again */
	if (r->failed || (!h->error && h->status >= 400 && h->status != 429 && h->status < 500)) {
		r->rv[0] = '\0';
		r->consistent = true;
	}
	r->failed = false;
	back_off(r);
}

static void watch(struct vg_k8s_refl *r)
{
	char url[1200];
	struct vg_http_req req;
	const char *hdr[3];
	long t = WATCH_MIN_S + nrand48(r->rand) % (WATCH_MIN_S + 1);

	snprintf(url, sizeof(url),
		 "%s%cwatch=1&allowWatchBookmarks=true&resourceVersion=%s&timeoutSeconds=%ld",
		 r->url, strchr(r->url, '?') ? '&' : '?', r->rv, t);
	vg_k8s_req(r->k, &req, url, hdr);
	r->k->st.watches++;
	r->started = vg_k8s_mono_s();
	r->got = 0;
	r->good = 0;
	/* the server ends it after t s; silent a minute longer, it is gone */
	r->watching = vg_http_stream(r->k->http, &req, on_line, t + 60, on_watch_end, r) == 0;
	if (!r->watching)
		back_off(r);
}

/*
 * Liveness, whatever went wrong: a reflector always has a list or a watch under way or a
 * retry pending. One found with none of them, or with a list unanswered past LIST_STALL_S
 * (its request should have timed out long before), is logged, counted and listed again.
 */
static void on_guard(evutil_socket_t fd, short what, void *arg)
{
	struct vg_k8s_refl *r = arg;
	bool stuck_list = r->listing && vg_k8s_mono_s() - r->list_at >= LIST_STALL_S;

	(void)fd;
	(void)what;
	if (stuck_list ||
	    (!r->listing && !r->watching && !event_pending(r->timer, EV_TIMEOUT, NULL))) {
		r->k->st.stalls++;
		vg_warn("kubernetes: the %s reflector %s: listing again", r->what,
			stuck_list ? "had a list unanswered for a minute"
				   : "had nothing under way");
		(void)vg_http_cancel(r->k->http, r);
		r->listing = r->watching = false;
		list(r);
	}
}

int vg_k8s_refl_start(struct vg_k8s_refl *r, struct vg_k8s *k, const char *what, const char *url)
{
	struct timeval every = {.tv_sec = GUARD_S};
	struct timespec ts;
	uint64_t seed;

	clock_gettime(CLOCK_REALTIME, &ts);
	seed = (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 16) ^ (uint64_t)(uintptr_t)r;
	memcpy(r->rand, &seed, sizeof(r->rand));
	r->k = k;
	r->what = what;
	snprintf(r->url, sizeof(r->url), "%s", url);
	r->timer = evtimer_new(k->base, on_timer, r);
	r->guard = event_new(k->base, -1, EV_PERSIST, on_guard, r);
	if (!r->timer || !r->guard || event_add(r->guard, &every))
		return -ENOMEM;
	list(r);
	return 0;
}

void vg_k8s_refl_relist(struct vg_k8s_refl *r)
{
	if (!r->timer || r->listing) /* a list on its way is as new as this one */
		return;
	(void)vg_http_cancel(r->k->http, r);
	(void)event_del(r->timer);
	r->watching = false;
	list(r);
}

void vg_k8s_refl_stop(struct vg_k8s_refl *r)
{
	if (!r->timer)
		return;
	(void)vg_http_cancel(r->k->http, r);
	event_free(r->timer);
	r->timer = NULL;
	if (r->guard)
		event_free(r->guard);
	r->guard = NULL;
}
