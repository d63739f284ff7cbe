/* SPDX-License-Identifier: BSD-2-Clause */
/* stream.c - TCP / TLS / UDP delivery on the event loop; see stream.h. */
#include "stream.h"
#include "log.h"
#include "tls_words.h"

#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

enum proto { P_TCP, P_TLS, P_UDP };

struct vg_stream {
	struct event_base *base;
	struct evdns_base *dns;	 /* created on the first host name */
	struct bufferevent *bev; /* the open connection, or NULL */
	SSL_CTX *ctx;
	char key[512]; /* address + TLS settings the connection was made for */
	bool connected;
	/* the send in flight */
	bool busy;
	enum proto proto;
	char host[256], port[16];
	char ca_file[256];
	bool insecure;
	struct timeval tv;
	struct evbuffer *out;
	vg_stream_cb cb;
	void *cbctx;
	char error[256];
	struct event *done; /* defers the callback to the loop */
};

static void drop_conn(struct vg_stream *s)
{
	if (s->bev)
		bufferevent_free(s->bev);
	s->bev = NULL;
	s->connected = false;
	s->key[0] = 0;
}

/* Ends the send in flight: the callback runs from the loop on the next turn. */
static void finish(struct vg_stream *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void finish(struct vg_stream *s, const char *fmt, ...)
{
	s->error[0] = 0;
	if (fmt) {
		va_list ap;

		va_start(ap, fmt);
		vsnprintf(s->error, sizeof(s->error), fmt, ap);
		va_end(ap);
		drop_conn(s);
	}
	evbuffer_drain(s->out, evbuffer_get_length(s->out));
	event_active(s->done, EV_TIMEOUT, 0);
}

static void on_done(evutil_socket_t fd, short what, void *arg)
{
	struct vg_stream *s = arg;
	vg_stream_cb cb = s->cb;

	(void)fd;
	(void)what;
	s->busy = false;
	s->cb = NULL;
	if (cb)
		cb(s->cbctx, s->error[0] ? s->error : NULL);
}

static const char *tls_error(struct bufferevent *bev)
{
	static char buf[200];
	unsigned long e = bev ? bufferevent_get_openssl_error(bev) : 0;

	if (!e)
		e = ERR_get_error();
	if (!e)
		return NULL;
	ERR_error_string_n(e, buf, sizeof(buf));
	return buf;
}

/* A TLS failure on bev in words (tls_words.h), in buf: an untrusted certificate names the
 * verify error; a failure before the connection was up is a broken handshake. NULL when OpenSSL
 * has no error to tell. */
static const char *tls_failure(struct vg_stream *s, struct bufferevent *bev, char *buf, size_t n)
{
	SSL *ssl = bufferevent_openssl_get_ssl(bev);
	long verify = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;
	const char *t;

	if (verify != X509_V_OK) /* more precise than OpenSSL's "certificate verify failed" */
		return vg_tls_words(buf, n, VG_TLS_VERIFY, X509_verify_cert_error_string(verify));
	t = tls_error(bev);
	if (!t)
		return NULL;
	if (!s->connected)
		return vg_tls_words(buf, n, VG_TLS_HANDSHAKE, t);
	(void)snprintf(buf, n, "TLS: %s", vg_tls_reason(t)); /* truncation keeps the start */
	return buf;
}

static void on_read(struct bufferevent *bev, void *arg)
{
	(void)arg; /* syslog receivers do not answer; discard whatever comes */
	evbuffer_drain(bufferevent_get_input(bev), evbuffer_get_length(bufferevent_get_input(bev)));
}

static void on_write(struct bufferevent *bev, void *arg)
{
	struct vg_stream *s = arg;

	if (s->busy && s->connected && evbuffer_get_length(bufferevent_get_output(bev)) == 0) {
		/* the output buffer drained into the kernel: idle, but keep watching for close */
		bufferevent_set_timeouts(s->bev, NULL, NULL);
		finish(s, NULL);
	}
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	struct vg_stream *s = arg;

	if (what & BEV_EVENT_CONNECTED) {
		s->connected = true;
		bufferevent_enable(bev, EV_READ | EV_WRITE);
		bufferevent_write_buffer(bev, s->out); /* on_write fires once it drains */
		return;
	}
	if (!s->busy) { /* the peer closed an idle connection: reopen on the next send */
		drop_conn(s);
		return;
	}
	if (what & BEV_EVENT_TIMEOUT)
		finish(s, "%s:%s: timed out %s", s->host, s->port,
		       s->connected	   ? "writing"
		       : s->proto == P_TLS ? "connecting (TCP + TLS handshake)"
					   : "connecting");
	else if (what & BEV_EVENT_EOF)
		finish(s, "%s:%s: the receiver closed the connection", s->host, s->port);
	else {
		char words[sizeof(s->error)];
		const char *t =
			s->proto == P_TLS ? tls_failure(s, bev, words, sizeof(words)) : NULL;
		int e = EVUTIL_SOCKET_ERROR();

		if (t)
			finish(s, "%s:%s: %s", s->host, s->port, t);
		else
			finish(s, "%s:%s: %s", s->host, s->port,
			       e ? evutil_socket_error_to_string(e) : "connection failed");
	}
}

/* The TLS context: 0, -ENOMEM, or -EINVAL when the CA file does not load. */
static int make_ctx(struct vg_stream *s)
{
	if (s->ctx)
		SSL_CTX_free(s->ctx);
	s->ctx = SSL_CTX_new(TLS_client_method());
	if (!s->ctx)
		return -ENOMEM;
	SSL_CTX_set_min_proto_version(s->ctx, TLS1_2_VERSION);
	if (s->insecure) {
		SSL_CTX_set_verify(s->ctx, SSL_VERIFY_NONE, NULL);
		return 0;
	}
	SSL_CTX_set_verify(s->ctx, SSL_VERIFY_PEER, NULL);
	if (s->ca_file[0] ? SSL_CTX_load_verify_locations(s->ctx, s->ca_file, NULL) != 1
			  : SSL_CTX_set_default_verify_paths(s->ctx) != 1)
		return -EINVAL;
	return 0;
}

static void send_udp(struct vg_stream *s, struct evutil_addrinfo *ai)
{
	size_t len = evbuffer_get_length(s->out);
	unsigned char *p = evbuffer_pullup(s->out, -1);
	int fd = socket(ai->ai_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0) {
		finish(s, "%s:%s: socket: %s", s->host, s->port, strerror(errno));
		return;
	}
	if (sendto(fd, p, len, 0, ai->ai_addr, ai->ai_addrlen) != (ssize_t)len)
		finish(s, "%s:%s: sendto: %s", s->host, s->port, strerror(errno));
	else
		finish(s, NULL);
	(void)close(fd); /* a datagram socket: nothing left to flush */
}

static void connect_to(struct vg_stream *s, struct evutil_addrinfo *ai)
{
	if (s->proto == P_UDP) {
		send_udp(s, ai);
		return;
	}
	if (s->proto == P_TLS) {
		SSL *ssl;
		struct in6_addr a6;
		bool ip = inet_pton(AF_INET, s->host, &a6) == 1 ||
			  inet_pton(AF_INET6, s->host, &a6) == 1;

		if (make_ctx(s) || !(ssl = SSL_new(s->ctx))) {
			finish(s, "TLS set-up failed (CA file %s): %s",
			       s->ca_file[0] ? s->ca_file : "system store",
			       tls_error(NULL) ? tls_error(NULL) : "unknown");
			return;
		}
		if (!s->insecure && ip) /* the certificate must name what was dialled */
			X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), s->host);
		else if (!s->insecure)
			X509_VERIFY_PARAM_set1_host(SSL_get0_param(ssl), s->host, 0);
		if (!ip) /* SNI takes names only */
			SSL_set_tlsext_host_name(ssl, s->host);
		s->bev = bufferevent_openssl_socket_new(
			s->base, -1, ssl, BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
	} else {
		s->bev = bufferevent_socket_new(s->base, -1, BEV_OPT_CLOSE_ON_FREE);
	}
	if (!s->bev) {
		finish(s, "%s:%s: out of memory", s->host, s->port);
		return;
	}
	bufferevent_setcb(s->bev, on_read, on_write, on_event, s);
	bufferevent_set_timeouts(s->bev, &s->tv, &s->tv);
	if (bufferevent_socket_connect(s->bev, ai->ai_addr, (int)ai->ai_addrlen)) {
		int e = EVUTIL_SOCKET_ERROR();

		finish(s, "%s:%s: connect: %s", s->host, s->port, evutil_socket_error_to_string(e));
	}
}

static void on_resolved(int rc, struct evutil_addrinfo *ai, void *arg)
{
	struct vg_stream *s = arg;

	if (rc) {
		finish(s, "%s: cannot resolve: %s", s->host, evutil_gai_strerror(rc));
		return;
	}
	connect_to(s, ai);
	evutil_freeaddrinfo(ai);
}

static int parse(struct vg_stream *s, const char *addr, char *err, size_t en)
{
	const char *p, *colon;
	size_t hl;

	if (!strncmp(addr, "tcp://", 6))
		s->proto = P_TCP;
	else if (!strncmp(addr, "tls://", 6))
		s->proto = P_TLS;
	else if (!strncmp(addr, "udp://", 6))
		s->proto = P_UDP;
	else
		return vg_errf(
			err, en, -EINVAL,
			"address '%s': use tcp://HOST:PORT, tls://HOST:PORT or udp://HOST:PORT",
			addr);
	p = addr + 6;
	if (*p == '[') { /* [v6]:port */
		const char *e = strchr(p, ']');

		if (!e || e[1] != ':')
			return vg_errf(err, en, -EINVAL, "address '%s': write IPv6 as [addr]:port",
				       addr);
		hl = (size_t)(e - p - 1);
		p++;
		colon = e + 1;
	} else {
		colon = strrchr(p, ':');
		if (!colon)
			return vg_errf(err, en, -EINVAL,
				       "address '%s' has no port (e.g. tcp://127.0.0.1:6514)",
				       addr);
		hl = (size_t)(colon - p);
	}
	if (!hl || hl >= sizeof(s->host) || !colon[1] || strlen(colon + 1) >= sizeof(s->port) ||
	    strspn(colon + 1, "0123456789") != strlen(colon + 1) || atoi(colon + 1) < 1 ||
	    atoi(colon + 1) > 65535)
		return vg_errf(err, en, -EINVAL,
			       "address '%s': need a host and a port from 1 to 65535", addr);
	memcpy(s->host, p, hl);
	s->host[hl] = 0;
	snprintf(s->port, sizeof(s->port), "%s", colon + 1);
	return 0;
}

struct vg_stream *vg_stream_new(struct event_base *base)
{
	struct vg_stream *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->base = base;
	s->out = evbuffer_new();
	s->done = event_new(base, -1, 0, on_done, s);
	if (!s->out || !s->done) {
		vg_stream_free(s);
		return NULL;
	}
	return s;
}

/*
 * Whether the idle connection may take another message: the receiver may
 * have closed it since the loop last looked (its FIN, or a TLS close_notify,
 * already waiting in the socket). Writing into it would "succeed" and the
 * message would be lost, so a closed one is reopened instead.
 */
static bool still_open(struct vg_stream *s)
{
	evutil_socket_t fd = bufferevent_getfd(s->bev);
	char buf[4096];
	ssize_t r;

	if (fd < 0)
		return false;
	if (s->proto == P_TLS) {
		SSL *ssl = bufferevent_openssl_get_ssl(s->bev);
		int k;

		r = recv(fd, buf, 1, MSG_PEEK | MSG_DONTWAIT);
		if (r == 0)
			return false; /* closed */
		if (r < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
		/* records wait: let TLS read them (session tickets are fine; close_notify or an
		 * alert is not) */
		k = ssl ? SSL_peek(ssl, buf, 1) : 0;
		return k > 0 || (k <= 0 && SSL_get_error(ssl, k) == SSL_ERROR_WANT_READ);
	}
	for (;;) { /* plain TCP: whatever the receiver said is discarded anyway; read it to reach a
		      FIN behind it */
		r = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (r > 0)
			continue;
		return r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR);
	}
}

int vg_stream_send(struct vg_stream *s, const struct vg_stream_req *r, vg_stream_cb cb, void *ctx,
		   char *err, size_t en)
{
	struct evutil_addrinfo hints = {0}, *ai = NULL;
	char key[sizeof(s->key)];
	long ms = r->timeout_ms > 0 ? r->timeout_ms : 5000;
	int rc;

	if (s->busy)
		return vg_errf(err, en, -EBUSY, "a send is already in flight on this stream");
	if ((rc = parse(s, r->address, err, en)))
		return rc;
	if (evbuffer_add(s->out, r->data, r->len))
		return vg_errf(err, en, -ENOMEM, "out of memory");
	snprintf(s->ca_file, sizeof(s->ca_file), "%s", r->ca_file ? r->ca_file : "");
	s->insecure = r->insecure;
	s->tv.tv_sec = ms / 1000;
	s->tv.tv_usec = (ms % 1000) * 1000;
	s->busy = true;
	s->cb = cb;
	s->cbctx = ctx;
	s->error[0] = 0;
	snprintf(key, sizeof(key), "%s|%s|%d", r->address, s->ca_file, s->insecure);
	if (s->bev && s->connected && !strcmp(key, s->key) &&
	    still_open(s)) { /* reuse the open connection */
		bufferevent_set_timeouts(s->bev, &s->tv, &s->tv);
		bufferevent_write_buffer(s->bev, s->out);
		return 0;
	}
	drop_conn(s);
	snprintf(s->key, sizeof(s->key), "%s", key);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = s->proto == P_UDP ? SOCK_DGRAM : SOCK_STREAM;
	hints.ai_flags = EVUTIL_AI_NUMERICHOST | EVUTIL_AI_NUMERICSERV;
	if (!evutil_getaddrinfo(s->host, s->port, &hints, &ai)) { /* a literal address: no lookup */
		connect_to(s, ai);
		evutil_freeaddrinfo(ai);
		return 0;
	}
	hints.ai_flags = EVUTIL_AI_NUMERICSERV;
	if (!s->dns)
		s->dns = evdns_base_new(s->base, EVDNS_BASE_INITIALIZE_NAMESERVERS);
	if (!s->dns) {
		finish(s, "%s: cannot resolve: no name servers (/etc/resolv.conf)", s->host);
		return 0;
	}
	evdns_getaddrinfo(s->dns, s->host, s->port, &hints, on_resolved, s);
	return 0;
}

void vg_stream_free(struct vg_stream *s)
{
	if (!s)
		return;
	s->cb = NULL;
	drop_conn(s);
	if (s->dns) /* a lookup still running is discarded without its callback */
		evdns_base_free(s->dns, 0);
	if (s->ctx)
		SSL_CTX_free(s->ctx);
	if (s->out)
		evbuffer_free(s->out);
	if (s->done)
		event_free(s->done);
	free(s);
}
