// SPDX-License-Identifier: BSD-2-Clause
/*
 * stream.c - GET /v1/alerts/stream: Server-Sent Events of new and changed
 * alerts, one message per change as the store's observer reports it, and a
 * comment line every keepalive_s. A stream holds its connection past the
 * request deadline; a reader that falls behind by more than STREAM_PENDING_MAX
 * bytes is cut (counted) rather than let the daemon's memory grow.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <jansson.h>

#include "alerts.h"
#include "api_priv.h"
#include "log.h"
#include "session.h"

#define STREAMS_MAX	   32
#define STREAM_PENDING_MAX (1u << 20) /* bytes not yet taken by the reader */
#define STREAM_WRITE_S	   60	      /* a reader taking nothing this long is cut by evhttp */
#define SESSION_CHECK_MS   1000	      /* a session's stream looks its session up this often */

struct stream {
	struct api_streams *all;
	struct evhttp_request *req;
	struct bufferevent *bev;
	struct evbuffer_cb_entry *in_cb; /* what the client sends is dropped */
	struct stream *prev, *next;
	bool cut; /* shut down (a slow reader, its session gone): its close is on the way */
	char sid[VG_SESSION_TOKEN_LEN + 1]; /* the console session it serves; "": the token */
	uint64_t live_ms; /* when the session was last found live (checked once a second) */
};

struct api_streams {
	struct vg_api *a;
	struct stream *list;
	struct event *keepalive;
	uint32_t n;
	uint64_t opened, refused, cut_slow, closed, messages, signed_out;
};

static void unlink_stream(struct stream *s)
{
	struct api_streams *st = s->all;

	if (s->in_cb) /* (the connection holds the bufferevent until after this) */
		evbuffer_remove_cb_entry(bufferevent_get_input(s->bev), s->in_cb);
	if (s->prev)
		s->prev->next = s->next;
	else
		st->list = s->next;
	if (s->next)
		s->next->prev = s->prev;
	st->n--;
	free(s);
}

/* A stream reads nothing: bytes the client sends are dropped, not kept (reading goes on, to
 * see the client close). */
static void on_stream_input(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
	(void)arg;
	if (info->n_added)
		evbuffer_drain(buf, evbuffer_get_length(buf));
}

/* evhttp closed the stream's connection (the reader left, a write failed or timed out). */
static void on_stream_close(void *arg)
{
	struct stream *s = arg;
	struct evhttp_request *req = s->req;

	s->all->closed++;
	unlink_stream(s);
	/* evhttp let go of the unfinished request when it dropped the connection: free it */
	if (!evhttp_request_get_connection(req))
		evhttp_send_reply_end(req);
}

/* The console session s was opened with is still signed in (looked up at most once a second
 * unless now: every lookup compares against every session). */
static bool session_live(struct stream *s, bool now)
{
	uint64_t exp, t = api_mono_ms();

	if (!now && t - s->live_ms < SESSION_CHECK_MS)
		return true;
	if (!vg_sessions_find(s->all->a->sessions, t, s->sid, &exp))
		return false;
	s->live_ms = t;
	return true;
}

/* true, once s is cut, when the console session s was opened with is gone (signed out or
 * expired): such a reader gets nothing more. */
static bool signed_out(struct stream *s, bool now)
{
	if (!s->sid[0] || session_live(s, now))
		return false;
	s->cut = true;
	s->all->signed_out++;
	shutdown(bufferevent_getfd(s->bev), SHUT_RDWR); /* evhttp then closes it */
	return true;
}

void api_streams_recheck(struct vg_api *a)
{
	if (!a->streams)
		return;
	for (struct stream *s = a->streams->list; s; s = s->next)
		if (!s->cut)
			(void)signed_out(s, true);
}

/* Appends len bytes of text to s, or cuts s when its reader is too far behind. */
static void stream_put(struct stream *s, const char *text, size_t len)
{
	size_t pending = evbuffer_get_length(bufferevent_get_output(s->bev));
	struct evbuffer *b;

	if (s->cut)
		return;
	if (signed_out(s, false))
		return;
	if (pending + len > STREAM_PENDING_MAX) {
		s->cut = true;
		s->all->cut_slow++;
		vg_warn("API: an alert stream's reader is %zu bytes behind: it is cut (it may "
			"connect again and list GET /v1/alerts for what it missed)",
			pending);
		shutdown(bufferevent_getfd(s->bev), SHUT_RDWR); /* evhttp then closes it */
		return;
	}
	b = evbuffer_new();
	if (!b || evbuffer_add(b, text, len)) {
		evbuffer_free(b);
		return;
	}
	evhttp_send_reply_chunk(s->req, b);
	evbuffer_free(b);
}

static void broadcast(struct api_streams *st, const char *text, size_t len)
{
	for (struct stream *s = st->list, *next; s; s = next) {
		next = s->next; /* (a cut one stays listed until evhttp closes it) */
		stream_put(s, text, len);
	}
}

/* The store's observer: one message to every stream. */
static void on_alert_change(void *ctx, const struct vg_alert *alert, enum vg_alert_change ch)
{
	struct api_streams *st = ctx;
	json_t *j;
	char *data, *msg = NULL;
	int len;

	if (!st->list)
		return; /* nobody listens: no JSON work */
	j = json_pack("{s:s, s:o}", "change", vg_alert_change_name(ch), "alert",
		      vg_alert_json(alert, false));
	data = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	len = data ? asprintf(&msg, "event: alert\ndata: %s\n\n", data) : -1;
	free(data);
	if (len < 0)
		return; /* out of memory: the streams miss it, GET /v1/alerts has it */
	st->messages++;
	broadcast(st, msg, (size_t)len);
	free(msg);
}

static void on_keepalive(evutil_socket_t fd, short what, void *arg)
{
	static const char text[] = ": keepalive\n\n";

	(void)fd;
	(void)what;
	broadcast(arg, text, sizeof(text) - 1);
}

void api_stream_open(struct vg_api *a, struct evhttp_request *req, const char *sid)
{
	struct api_streams *st = a->streams;
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	struct stream *s;

	if (st->n >= STREAMS_MAX) {
		st->refused++;
		api_fail(a, req, 503,
			 "%d alert streams are open already, the most there may be: close one "
			 "(another console tab?) and connect again",
			 STREAMS_MAX);
		return;
	}
	s = calloc(1, sizeof(*s));
	if (!s || !evcon || api_conn_stream(a, req, on_stream_close, s)) {
		free(s);
		api_fail(a, req, 503, "cannot open an alert stream now (out of memory): try again");
		return;
	}
	*s = (struct stream){.all = st, .req = req, .next = st->list};
	(void)snprintf(s->sid, sizeof(s->sid), "%s", sid);
	s->live_ms = api_mono_ms(); /* (the request was just let in with it) */
	s->bev = evhttp_connection_get_bufferevent(evcon);
	s->in_cb = evbuffer_add_cb(bufferevent_get_input(s->bev), on_stream_input, s);
	if (st->list)
		st->list->prev = s;
	st->list = s;
	st->n++;
	st->opened++;
	evhttp_add_header(h, "Content-Type", "text/event-stream");
	evhttp_add_header(h, "Cache-Control", "no-store");
	evhttp_add_header(h, "X-Accel-Buffering", "no");
	evhttp_send_reply_start(req, 200, "OK");
	/* nothing more is read; a reader that takes nothing for STREAM_WRITE_S is cut */
	bufferevent_set_timeouts(s->bev, NULL, &(struct timeval){STREAM_WRITE_S, 0});
	stream_put(s, ": stream open\n\n", 15);
}

int api_streams_start(struct vg_api *a, uint32_t keepalive_s)
{
	struct api_streams *st = calloc(1, sizeof(*st));

	if (!st)
		return -ENOMEM;
	st->a = a;
	a->streams = st;
	st->keepalive = event_new(a->host.base, -1, EV_PERSIST, on_keepalive, st);
	if (!st->keepalive ||
	    event_add(st->keepalive, &(struct timeval){keepalive_s ? keepalive_s : 15, 0}))
		return -ENOMEM;
	if (a->host.alerts)
		vg_alerts_on_change(a->host.alerts, on_alert_change, st);
	return 0;
}

void api_streams_stop(struct vg_api *a)
{
	struct api_streams *st = a->streams;

	if (!st)
		return;
	if (a->host.alerts)
		vg_alerts_on_change(a->host.alerts, NULL, NULL);
	while (st->list) { /* evhttp_free frees their requests with their connections */
		(void)api_conn_stream(a, st->list->req, NULL, NULL);
		unlink_stream(st->list);
	}
	if (st->keepalive)
		event_free(st->keepalive);
	free(st);
	a->streams = NULL;
}

void api_streams_stats(const struct vg_api *a, struct vg_api_stats *out)
{
	const struct api_streams *st = a->streams;

	if (!st)
		return;
	out->streams = st->n;
	out->streams_max = STREAMS_MAX;
	out->streams_opened = st->opened;
	out->streams_refused = st->refused;
	out->streams_cut_slow = st->cut_slow;
	out->streams_closed = st->closed;
	out->stream_messages = st->messages;
	out->streams_signed_out = st->signed_out;
}
