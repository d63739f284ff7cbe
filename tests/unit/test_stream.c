// SPDX-License-Identifier: BSD-2-Clause
/*
 * stream.c against a real local TCP receiver: the connection is kept between
 * sends, and one the receiver closed while idle is not written into even when
 * the loop has not yet seen the close (the next send reconnects instead of
 * losing its message in a dead socket).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <poll.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <cmocka.h>

#include <event2/event.h>

#include "stream.h"

static int done;
static char error[256];

static void on_sent(void *ctx, const char *err)
{
	(void)ctx;
	done = 1;
	snprintf(error, sizeof(error), "%s", err ? err : "");
}

static void send_and_wait(struct event_base *base, struct vg_stream *s, const char *addr,
			  const char *msg)
{
	struct vg_stream_req r = {
		.address = addr, .data = msg, .len = strlen(msg), .timeout_ms = 2000};
	char err[256];

	done = 0;
	assert_int_equal(vg_stream_send(s, &r, on_sent, NULL, err, sizeof(err)), 0);
	while (!done)
		event_base_loop(base, EVLOOP_ONCE);
	assert_string_equal(error, "");
}

/* A connection accepted within ms, or -1. */
static int accept_within(int lfd, int ms)
{
	struct pollfd p = {.fd = lfd, .events = POLLIN};

	return poll(&p, 1, ms) == 1 ? accept(lfd, NULL, NULL) : -1;
}

/* Reads what the peer sent within ms (up to n-1 bytes). */
static void read_within(int fd, char *buf, size_t n, int ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	size_t got = 0;

	buf[0] = 0;
	while (got < n - 1 && poll(&p, 1, ms) == 1) {
		ssize_t r = read(fd, buf + got, n - 1 - got);

		if (r <= 0)
			break;
		got += (size_t)r;
		buf[got] = 0;
		ms = 50;
	}
}

static void test_idle_close_reconnects(void **state)
{
	struct event_base *base = event_base_new();
	struct vg_stream *s = vg_stream_new(base);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof(sa);
	int lfd = socket(AF_INET, SOCK_STREAM, 0), c1, c2;
	char addr[64], buf[256];

	(void)state;
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(lfd, 4), 0);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&sa, &sl), 0);
	snprintf(addr, sizeof(addr), "tcp://127.0.0.1:%d", ntohs(sa.sin_port));

	send_and_wait(base, s, addr, "one\n");
	c1 = accept_within(lfd, 2000);
	assert_true(c1 >= 0);
	read_within(c1, buf, sizeof(buf), 2000);
	assert_string_equal(buf, "one\n");
	send_and_wait(base, s, addr, "two\n"); /* kept open: the same connection */
	read_within(c1, buf, sizeof(buf), 2000);
	assert_string_equal(buf, "two\n");
	assert_int_equal(accept_within(lfd, 100), -1);

	/* the receiver closes while vigil is idle, and vigil's loop has not run since */
	close(c1);
	usleep(100000); /* the FIN is in vigil's socket */
	send_and_wait(base, s, addr, "three\n");
	c2 = accept_within(lfd, 2000);
	assert_true(c2 >= 0); /* a new connection, not the dead one */
	read_within(c2, buf, sizeof(buf), 2000);
	assert_string_equal(buf, "three\n");

	/* it says something first (an error line), then closes: the FIN is behind data */
	assert_int_equal(write(c2, "bye\n", 4), 4);
	close(c2);
	usleep(100000);
	send_and_wait(base, s, addr, "four\n");
	c2 = accept_within(lfd, 2000);
	assert_true(c2 >= 0);
	read_within(c2, buf, sizeof(buf), 2000);
	assert_string_equal(buf, "four\n");

	close(c2);
	close(lfd);
	vg_stream_free(s);
	event_base_free(base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_idle_close_reconnects),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
