// SPDX-License-Identifier: BSD-2-Clause
/*
 * conn.c - the API's connections: a cap on those held at once (the kernel's
 * backlog holds the rest), a deadline per request, accept errors waited out,
 * and JSON in place of libevent's own HTML error pages.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <jansson.h>

#include "api_priv.h"
#include "log.h"

/*
 * Descriptors kept out of the API's reach: enforcement (pidfds, cgroup
 * files), the store (segments, compaction), notifiers and Kubernetes
 * (sockets, outbox files). The API holds at most the open-files limit less
 * the descriptors open at start less these.
 */
#define FD_RESERVE     256
#define SWEEP_MS       100 /* closed connections reaped, deadlines checked */
#define PRESSED_MS     500 /* at the cap, a request gets this long, not request_timeout_s */
#define ACCEPT_RETRY_S 1   /* after an accept error (EMFILE, ENFILE, ENOBUFS) */

uint64_t api_mono_ms(void)
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
	if (!a->listener)
		return;
	/* both only fail on a listener without a socket, which this one is not */
	if (on)
		(void)evconnlistener_enable(a->listener);
	else
		(void)evconnlistener_disable(a->listener);
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
	uint64_t now = api_mono_ms(), limit = a->timeout_s * 1000ull;

	(void)fd;
	(void)what;
	if (a->at_cap && limit > PRESSED_MS)
		limit = PRESSED_MS;
	for (struct conn *c = a->conns, *next; c; c = next) {
		next = c->next;
		if (conn_closed(c)) {
			conn_free(c);
		} else if (!c->streaming && now - c->since_ms >= limit) {
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
	if (c->on_close)
		c->on_close(c->close_arg);
	conn_free(c); /* our reference: evhttp's own goes next, and the socket with it */
	update_accept(a);
}

/* A whole request came: the next one is due from now. */
void api_conn_request(struct vg_api *a, struct evhttp_request *req)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	struct bufferevent *bev = evcon ? evhttp_connection_get_bufferevent(evcon) : NULL;

	for (struct conn *c = a->conns; c && bev; c = c->next)
		if (c->bev == bev) {
			c->since_ms = api_mono_ms();
			evhttp_connection_set_closecb(evcon, on_conn_close, c);
			return;
		}
}

int api_conn_stream(struct vg_api *a, struct evhttp_request *req, void (*fn)(void *), void *arg)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	struct bufferevent *bev = evcon ? evhttp_connection_get_bufferevent(evcon) : NULL;

	for (struct conn *c = a->conns; c && bev; c = c->next)
		if (c->bev == bev) {
			c->streaming = fn != NULL;
			c->on_close = fn;
			c->close_arg = arg;
			return 0;
		}
	return -ENOENT;
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

	if (!info->n_added || len < 16 || c->streaming)
		return; /* (a stream's output is ours, and long: not searched each time) */
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
	c->since_ms = api_mono_ms();
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

/* Descriptors open now (/proc/self/fd), or -errno. */
static long fds_open(void)
{
	DIR *dir = opendir("/proc/self/fd");
	long n = -1; /* the directory's own */

	if (!dir)
		return -errno;
	while (readdir(dir))
		n++;
	(void)closedir(dir); /* read only: nothing to lose */
	return n - 2;	     /* . and .. */
}

/*
 * The connection cap: api.max_connections, lowered when the open-files limit
 * less what is open now less FD_RESERVE cannot hold it.
 */
int api_conn_budget(struct vg_api *a, char *err, size_t n)
{
	const struct vg_api_host *c = &a->host;
	struct rlimit rl;
	long open = fds_open(), room;

	if (c->max_connections < 1 || c->max_connections > 65536)
		return vg_errf(err, n, -EINVAL,
			       "api.max_connections is %u: give 1 to 65536 (default 256)",
			       c->max_connections);
	if (c->request_timeout_s < 1 || c->request_timeout_s > 3600)
		return vg_errf(err, n, -EINVAL,
			       "api.request_timeout_s is %u: give 1 to 3600 (default 10)",
			       c->request_timeout_s);
	a->max_conns = c->max_connections;
	a->timeout_s = c->request_timeout_s;
	if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur == RLIM_INFINITY || open < 0)
		return 0;
	room = (long)(rl.rlim_cur > LONG_MAX ? LONG_MAX : rl.rlim_cur) - open - FD_RESERVE;
	if (room < (long)a->max_conns) {
		a->max_conns = room < 8 ? 8 : (uint32_t)room;
		vg_warn("API: at most %u connections at once, not api.max_connections = %u: the "
			"open-files limit is %llu, %ld are open and %d are kept for enforcement "
			"and the "
			"store; raise the limit (LimitNOFILE=, ulimit -n)",
			a->max_conns, c->max_connections, (unsigned long long)rl.rlim_cur, open,
			FD_RESERVE);
	}
	return 0;
}

int api_conn_setup(struct vg_api *a)
{
	a->sweep = evtimer_new(a->host.base, on_sweep, a);
	a->retry = evtimer_new(a->host.base, on_retry, a);
	if (!a->sweep || !a->retry)
		return -ENOMEM;
	evhttp_set_bevcb(a->http, on_accept, a);
	return 0;
}

void api_conn_listening(struct vg_api *a, struct evconnlistener *listener)
{
	a->listener = listener;
	evconnlistener_set_error_cb(a->listener, on_accept_error);
	the_api = a;
}

void api_conn_free_all(struct vg_api *a)
{
	while (a->conns)
		conn_free(a->conns);
	if (a->sweep)
		event_free(a->sweep);
	if (a->retry)
		event_free(a->retry);
	if (the_api == a)
		the_api = NULL;
}
