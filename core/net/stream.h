/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * stream.h - raw byte delivery on the event loop for notifiers that do not
 * speak HTTP (syslog): TCP, TLS (OpenSSL through libevent's bufferevent_ssl)
 * or UDP to "tcp://host:port", "tls://host:port" or "udp://host:port".
 *
 * One vg_stream is one destination's connection, kept open between sends
 * and reopened when the peer closed it (checked before each reuse, so a close
 * the loop has not processed yet does not swallow the next message). At most one send is in flight;
 * its callback always runs later from the loop, never from inside vg_stream_send. A send succeeds
 * once every byte has been written to the kernel (TCP, TLS) or the datagram was accepted (UDP):
 * what a syslog client can know.
 */
#ifndef VG_STREAM_H
#define VG_STREAM_H

#include <stdbool.h>
#include <stddef.h>

struct event_base;
struct vg_stream;

struct vg_stream_req {
	const char *address; /* tcp://host:port, tls://host:port, udp://host:port */
	const void *data;    /* copied */
	size_t len;
	const char *ca_file; /* TLS: NULL = the system store */
	bool insecure;	     /* TLS: skip verification */
	long timeout_ms;     /* connect + handshake + write; 0 = 5000 */
};

typedef void (*vg_stream_cb)(void *ctx, const char *error /* NULL: sent */);

struct vg_stream *vg_stream_new(struct event_base *base);
/* 0, or -errno with err filled (bad address, a send already in flight). */
int vg_stream_send(struct vg_stream *s, const struct vg_stream_req *r, vg_stream_cb cb, void *ctx,
		   char *err, size_t en);
/* Closes the connection; a pending callback is not called. */
void vg_stream_free(struct vg_stream *s);

#endif
