// SPDX-License-Identifier: BSD-2-Clause
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <event2/event.h>

#include "http.h"
#include "lines.h"
#include "tls_words.h"

struct vg_http {
	struct event_base *base;
	CURLM *multi;
	struct event *timer;
	int running;
	struct xfer *xfers; /* in flight */
	CURL *idle[16];	    /* easy handles kept for the next requests (reset, not rebuilt) */
	int nidle;
};

struct xfer {
	struct vg_http *h;
	struct xfer *prev, *next;
	bool unlinked; /* off h->xfers (its callback running) */
	CURL *easy;
	struct curl_slist *headers;
	char *body_out;
	char *buf;
	size_t len, cap;
	long retry_after;
	vg_line_cb line; /* a stream (vg_http_stream): its lines, once a 2xx answer began */
	struct vg_lines lines;
	int stream; /* 0: not yet known; 1: a 2xx stream (buf: bytes not cut yet); -1: not */
	vg_http_cb cb;
	void *ctx;
	char err[CURL_ERROR_SIZE];
	char words[CURL_ERROR_SIZE + 160]; /* the error as the operator reads it (error_words) */
};

struct sock {
	struct event *ev;
};

/* Off the in-flight list (and out of the multi handle: the caller did that or does not need it),
 * freed. */
static void xfer_unlink(struct xfer *x)
{
	if (x->unlinked)
		return;
	if (x->prev)
		x->prev->next = x->next;
	else
		x->h->xfers = x->next;
	if (x->next)
		x->next->prev = x->prev;
	x->unlinked = true;
}

static void xfer_free(struct xfer *x)
{
	xfer_unlink(x);
	if (x->h->nidle < (int)(sizeof(x->h->idle) / sizeof(x->h->idle[0]))) {
		curl_easy_reset(x->easy);
		x->h->idle[x->h->nidle++] = x->easy;
	} else {
		curl_easy_cleanup(x->easy);
	}
	curl_slist_free_all(x->headers);
	free(x->body_out);
	free(x->buf);
	vg_lines_free(&x->lines);
	free(x);
}

/* A failed transfer in words, in x->words: for TLS, what failed, the cause and the fix (curl's
 * error buffer, else its text for the code). */
static const char *error_words(struct xfer *x, CURLcode rc)
{
	const char *cause = x->err[0] ? x->err : curl_easy_strerror(rc);

	switch (rc) {
	case CURLE_PEER_FAILED_VERIFICATION:
		return vg_tls_words(x->words, sizeof(x->words), VG_TLS_VERIFY, cause);
	case CURLE_SSL_CONNECT_ERROR:
		return vg_tls_words(x->words, sizeof(x->words), VG_TLS_HANDSHAKE, cause);
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
		return vg_tls_words(x->words, sizeof(x->words), VG_TLS_CA_FILE, cause);
	default:
		return cause;
	}
}

static void check_done(struct vg_http *h)
{
	CURLMsg *m;
	int left;

	while ((m = curl_multi_info_read(h->multi, &left))) {
		struct xfer *x;
		struct vg_http_resp r = {0};

		if (m->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
		curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &r.status);
		r.body = x->buf && x->stream != 1 ? x->buf : "";
		r.len = x->stream != 1 ? x->len : 0;
		r.retry_after_s = x->retry_after;
		if (m->data.result != CURLE_OK)
			r.error = error_words(x, m->data.result);
		curl_multi_remove_handle(h->multi, x->easy);
		xfer_unlink(x); /* the callback may cancel its other requests: not this one */
		x->cb(x->ctx, &r);
		xfer_free(x);
	}
}

/*
 * The bytes streams received, cut into lines for their callbacks: here, outside libcurl's
 * callbacks, so that a line callback may start requests. A callback that says stop, or a
 * line too long, ends its stream: done runs with an error.
 */
static void drain_streams(struct vg_http *h)
{
	struct xfer *x;

	for (;;) {
		struct vg_http_resp r = {.body = "", .retry_after_s = -1};
		size_t n;
		int rc;

		for (x = h->xfers; x && !(x->stream == 1 && x->len); x = x->next)
			;
		if (!x)
			return;
		n = x->len;
		x->len = 0; /* taken: the next bytes start the buffer again */
		rc = vg_lines_feed(&x->lines, x->buf, n, x->line, x->ctx);
		if (!rc)
			continue;
		curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &r.status);
		r.error = rc == 1 ? "stopped by its reader" : "a line of the stream is too long";
		curl_multi_remove_handle(h->multi, x->easy);
		xfer_unlink(x); /* the callback may cancel its other requests: not this one */
		x->cb(x->ctx, &r);
		xfer_free(x);
	}
}

static void on_sock_event(evutil_socket_t fd, short what, void *arg)
{
	struct vg_http *h = arg;
	int flags =
		(what & EV_READ ? CURL_CSELECT_IN : 0) | (what & EV_WRITE ? CURL_CSELECT_OUT : 0);

	curl_multi_socket_action(h->multi, fd, flags, &h->running);
	drain_streams(h);
	check_done(h);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct vg_http *h = arg;

	(void)fd;
	(void)what;
	curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &h->running);
	drain_streams(h);
	check_done(h);
}

/* curl tells which sockets to watch for what */
static int on_socket(CURL *e, curl_socket_t s, int what, void *userp, void *socketp)
{
	struct vg_http *h = userp;
	struct sock *sk = socketp;
	short kind = (what & CURL_POLL_IN ? EV_READ : 0) | (what & CURL_POLL_OUT ? EV_WRITE : 0);

	(void)e;
	if (what == CURL_POLL_REMOVE) {
		if (sk) {
			event_free(sk->ev);
			free(sk);
			curl_multi_assign(h->multi, s, NULL);
		}
		return 0;
	}
	if (!sk) {
		sk = calloc(1, sizeof(*sk));
		if (!sk || !(sk->ev = event_new(h->base, s, kind | EV_PERSIST, on_sock_event, h))) {
			free(sk);
			return -1; /* libcurl's convention for a socket callback, not an errno */
		}
		curl_multi_assign(h->multi, s, sk);
	} else { /* what to watch changed: the same event, reassigned */
		event_del(sk->ev);
		event_assign(sk->ev, h->base, s, kind | EV_PERSIST, on_sock_event, h);
	}
	event_add(sk->ev, NULL);
	return 0;
}

static int on_timer_set(CURLM *m, long ms, void *userp)
{
	struct vg_http *h = userp;
	struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};

	(void)m;
	if (ms < 0)
		event_del(h->timer);
	else
		event_add(h->timer, &tv);
	return 0;
}

static size_t on_body(char *p, size_t sz, size_t nm, void *ud)
{
	struct xfer *x = ud;
	size_t n = sz * nm;

	if (x->line && !x->stream) {
		long status = 0;

		curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
		x->stream = status >= 200 && status < 300 ? 1 : -1;
	}
	if (x->len + n + 1 > x->cap) {
		size_t cap = x->cap ? x->cap * 2 : 4096;
		char *b;

		while (cap < x->len + n + 1)
			cap *= 2;
		if (cap > (16u << 20) || !(b = realloc(x->buf, cap)))
			return 0; /* a runaway answer ends the transfer */
		x->buf = b;
		x->cap = cap;
	}
	memcpy(x->buf + x->len, p, n);
	x->len += n;
	x->buf[x->len] = '\0';
	return n;
}

/* A Retry-After value in seconds: delay-seconds, or an HTTP date (RFC 9110, IMF-fixdate) from
 * now, 0 if it is past; -1 if it is neither. */
static long retry_after_s(const char *v)
{
	struct tm tm = {0};
	char *end;
	long s;

	while (*v == ' ' || *v == '\t')
		v++;
	s = strtol(v, &end, 10);
	if (end != v)
		return s;
	if (!strptime(v, "%a, %d %b %Y %H:%M:%S GMT", &tm))
		return -1;
	s = (long)(timegm(&tm) - time(NULL));
	return s > 0 ? s : 0;
}

static size_t on_header(char *p, size_t sz, size_t nm, void *ud)
{
	struct xfer *x = ud;
	size_t n = sz * nm;
	char v[64];

	if (n > 12 && !strncasecmp(p, "Retry-After:", 12)) {
		/* the header is not NUL-terminated: a copy of its value */
		size_t len = n - 12 < sizeof(v) - 1 ? n - 12 : sizeof(v) - 1;

		memcpy(v, p + 12, len);
		v[len] = '\0';
		x->retry_after = retry_after_s(v);
	}
	return n;
}

struct vg_http *vg_http_new(struct event_base *base)
{
	struct vg_http *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	h->base = base;
	h->multi = curl_multi_init();
	h->timer = evtimer_new(base, on_timer, h);
	if (!h->multi || !h->timer) {
		vg_http_free(h);
		return NULL;
	}
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, on_timer_set);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
	return h;
}

static struct xfer *start(struct vg_http *h, const struct vg_http_req *r, vg_http_cb cb, void *ctx);
static int add(struct vg_http *h, struct xfer *x);

int vg_http_request(struct vg_http *h, const struct vg_http_req *r, vg_http_cb cb, void *ctx)
{
	struct xfer *x = start(h, r, cb, ctx);

	if (!x)
		return -ENOMEM;
	curl_easy_setopt(x->easy, CURLOPT_TIMEOUT_MS, r->timeout_ms ? r->timeout_ms : 10000L);
	return add(h, x);
}

int vg_http_stream(struct vg_http *h, const struct vg_http_req *r, vg_line_cb line, long idle_s,
		   vg_http_cb done, void *ctx)
{
	struct xfer *x = start(h, r, done, ctx);

	if (!x)
		return -ENOMEM;
	x->line = line;
	/* no end but the server's: only a connection that stays silent too long is given up */
	curl_easy_setopt(x->easy, CURLOPT_TIMEOUT_MS, 0L);
	curl_easy_setopt(x->easy, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
	curl_easy_setopt(x->easy, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(x->easy, CURLOPT_LOW_SPEED_TIME, idle_s > 0 ? idle_s : 60L);
	curl_easy_setopt(x->easy, CURLOPT_TCP_KEEPALIVE, 1L);
	return add(h, x);
}

/* An easy handle set up for r (all but its timeouts), not started; NULL when out of memory. */
static struct xfer *start(struct vg_http *h, const struct vg_http_req *r, vg_http_cb cb, void *ctx)
{
	struct xfer *x = calloc(1, sizeof(*x));

	if (!x)
		return NULL;
	x->h = h;
	x->cb = cb;
	x->ctx = ctx;
	x->retry_after = -1;
	x->easy = h->nidle ? h->idle[--h->nidle] : curl_easy_init();
	if (!x->easy) {
		free(x);
		return NULL;
	}
	for (int i = 0; r->headers && r->headers[i]; i++)
		x->headers = curl_slist_append(x->headers, r->headers[i]);
	curl_easy_setopt(x->easy, CURLOPT_URL, r->url);
	curl_easy_setopt(x->easy, CURLOPT_CUSTOMREQUEST, r->method);
	curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, x->headers);
	curl_easy_setopt(x->easy, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(x->easy, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(x->easy, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(x->easy, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(x->easy, CURLOPT_PRIVATE, x);
	curl_easy_setopt(x->easy, CURLOPT_ERRORBUFFER, x->err);
	curl_easy_setopt(x->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(x->easy, CURLOPT_PROTOCOLS_STR, "http,https");
	if (r->ca_file)
		curl_easy_setopt(x->easy, CURLOPT_CAINFO, r->ca_file);
	if (r->insecure) {
		curl_easy_setopt(x->easy, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(x->easy, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (r->body) {
		x->body_out = strdup(r->body);
		curl_easy_setopt(x->easy, CURLOPT_POSTFIELDS, x->body_out);
	}
	return x;
}

/* x in flight: 0, or -EIO (x freed). */
static int add(struct vg_http *h, struct xfer *x)
{
	if (curl_multi_add_handle(h->multi, x->easy) != CURLM_OK) {
		curl_easy_cleanup(x->easy);
		curl_slist_free_all(x->headers);
		free(x->body_out);
		free(x);
		return -EIO;
	}
	x->next = h->xfers;
	if (h->xfers)
		h->xfers->prev = x;
	h->xfers = x;
	return 0;
}

int vg_http_cancel(struct vg_http *h, void *ctx)
{
	int n = 0;

	for (struct xfer *x = h->xfers, *nx; x; x = nx) {
		nx = x->next;
		if (x->ctx != ctx)
			continue;
		curl_multi_remove_handle(h->multi, x->easy);
		xfer_free(x);
		n++;
	}
	return n;
}

int vg_http_pending(const struct vg_http *h)
{
	return h->running;
}

void vg_http_free(struct vg_http *h)
{
	if (!h)
		return;
	/* removing a transfer makes curl set its timer again: not on a freed event */
	if (h->multi)
		(void)curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, NULL);
	if (h->timer)
		event_free(h->timer);
	while (h->xfers) {
		curl_multi_remove_handle(h->multi, h->xfers->easy);
		xfer_free(h->xfers);
	}
	if (h->multi)
		curl_multi_cleanup(h->multi);
	while (h->nidle)
		curl_easy_cleanup(h->idle[--h->nidle]);
	free(h);
}
