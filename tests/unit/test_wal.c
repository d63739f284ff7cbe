// SPDX-License-Identifier: BSD-2-Clause
/* The store's log: round trip, group-commit acks, torn tail, corrupt middle, rewrite. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "tmpdir.h"

#include <event2/event.h>

#include "crc32c.h"
#include "wal.h"

static int seen;
static char last[64];
static int order_ok;

static void on_rec(void *ctx, const void *p, size_t len)
{
	char want[64];

	(void)ctx;
	snprintf(want, sizeof(want), "record %d", seen);
	if (len != strlen(want) || memcmp(p, want, len))
		order_ok = 0;
	memcpy(last, p, len < 63 ? len : 63);
	last[len < 63 ? len : 63] = '\0';
	seen++;
}

static struct vg_wal *open_wal(struct vg_wal_report *rep)
{
	struct vg_wal_opts o = { .dir = dir };
	struct vg_wal *w;
	char err[256];

	seen = 0;
	order_ok = 1;
	assert_int_equal(vg_wal_open(&w, &o, NULL, on_rec, NULL, rep, err, sizeof(err)), 0);
	return w;
}

static void write_n(struct vg_wal *w, int from, int n)
{
	for (int i = from; i < from + n; i++) {
		char r[64];

		snprintf(r, sizeof(r), "record %d", i);
		assert_int_equal(vg_wal_append(w, r, strlen(r), NULL, NULL), 0);
	}
	assert_int_equal(vg_wal_sync(w), 0);
}

static char *seg_path(void)
{
	static char p[128];

	snprintf(p, sizeof(p), "%s/seg-00000001.log", dir);
	return p;
}

static void reset(void)
{
	unlink(seg_path());
}

static void test_crc32c(void **state)
{
	(void)state;
	assert_int_equal(vg_crc32c(0, "123456789", 9), 0xe3069283);
	assert_int_equal(vg_crc32c(vg_crc32c(0, "1234", 4), "56789", 5), 0xe3069283);
}

static void test_round_trip(void **state)
{
	struct vg_wal_report rep;
	struct vg_wal *w;

	(void)state;
	reset();
	w = open_wal(&rep);
	assert_int_equal(rep.records, 0);
	write_n(w, 0, 1000);
	vg_wal_close(w);
	w = open_wal(&rep);
	assert_int_equal(seen, 1000);
	assert_true(order_ok);
	assert_false(rep.truncated);
	assert_int_equal(rep.skipped_regions, 0);
	write_n(w, 1000, 10); /* appends after the old records */
	vg_wal_close(w);
	w = open_wal(&rep);
	assert_int_equal(seen, 1010);
	assert_true(order_ok);
	vg_wal_close(w);
}

static void test_torn_tail(void **state)
{
	struct vg_wal_report rep;
	struct vg_wal *w;
	struct stat st;
	off_t good;
	int fd;

	(void)state;
	reset();
	w = open_wal(&rep);
	write_n(w, 0, 50);
	vg_wal_close(w);
	assert_int_equal(stat(seg_path(), &st), 0);
	good = st.st_size;
	/* a crash mid-write: a frame header and half a payload */
	fd = open(seg_path(), O_WRONLY | O_APPEND);
	assert_true(write(fd, "VLGR\x40\x00\x00\x00\x01\x02\x03\x04half", 16) == 16);
	close(fd);
	w = open_wal(&rep);
	assert_int_equal(seen, 50);
	assert_true(rep.truncated);
	assert_int_equal(rep.truncated_at, good);
	assert_string_equal(rep.truncated_file, "seg-00000001.log");
	assert_int_equal(stat(seg_path(), &st), 0);
	assert_int_equal(st.st_size, good); /* cut back to the last good record */
	write_n(w, 50, 5);
	vg_wal_close(w);
	w = open_wal(&rep);
	assert_int_equal(seen, 55);
	assert_true(order_ok);
	assert_false(rep.truncated);
	vg_wal_close(w);
}

static void test_corrupt_middle(void **state)
{
	struct vg_wal_report rep;
	struct vg_wal *w;
	struct stat st;
	int fd;
	char c;

	(void)state;
	reset();
	w = open_wal(&rep);
	write_n(w, 0, 100);
	vg_wal_close(w);
	assert_int_equal(stat(seg_path(), &st), 0);
	/* flip a byte in the payload of a record in the middle */
	fd = open(seg_path(), O_RDWR);
	assert_true(pread(fd, &c, 1, st.st_size / 2) == 1);
	c ^= 0x5a;
	assert_true(pwrite(fd, &c, 1, st.st_size / 2) == 1);
	close(fd);
	w = open_wal(&rep);
	assert_int_equal(seen, 99); /* one record lost, the rest read */
	assert_int_equal(rep.skipped_regions, 1);
	assert_false(rep.truncated);
	assert_non_null(strstr(rep.first_skip, "corrupt bytes at offset"));
	assert_string_equal(last, "record 99");
	vg_wal_close(w);
}

static void test_garbage_file_and_empty(void **state)
{
	struct vg_wal_report rep;
	struct vg_wal *w;
	FILE *f;

	(void)state;
	reset();
	f = fopen(seg_path(), "w");
	fputs("this is not a segment", f);
	fclose(f);
	w = open_wal(&rep); /* refused as a segment, a fresh one started */
	assert_int_equal(seen, 0);
	assert_true(rep.truncated);
	write_n(w, 0, 3);
	vg_wal_close(w);
	w = open_wal(&rep);
	assert_int_equal(seen, 3);
	vg_wal_close(w);
}

static void test_not_a_directory(void **state)
{
	struct vg_wal_opts o = { .dir = "/etc/hostname" };
	struct vg_wal_report rep;
	struct vg_wal *w;
	char err[256];

	(void)state;
	assert_true(vg_wal_open(&w, &o, NULL, on_rec, NULL, &rep, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "/etc/hostname"));
}

static int acked;

static void on_ack(void *ctx, bool ok)
{
	(void)ctx;
	if (ok)
		acked++;
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	if (acked == 200)
		event_base_loopbreak(arg);
}

static void test_acks_come_from_the_loop(void **state)
{
	struct event_base *base = event_base_new();
	struct vg_wal_opts o = { .dir = dir, .commit_ms = 2 };
	struct vg_wal_report rep;
	struct vg_wal_stats st;
	struct vg_wal *w;
	struct event *tick;
	char err[256];

	(void)state;
	reset();
	acked = 0;
	assert_int_equal(vg_wal_open(&w, &o, base, on_rec, NULL, &rep, err, sizeof(err)), 0);
	for (int i = 0; i < 200; i++)
		assert_int_equal(vg_wal_append(w, "x", 1, on_ack, NULL), 0);
	assert_int_equal(acked, 0); /* nothing is acknowledged before it is durable */
	tick = event_new(base, -1, EV_PERSIST, on_tick, base);
	event_add(tick, &(struct timeval){ 0, 1000 });
	event_base_dispatch(base);
	assert_int_equal(acked, 200);
	vg_wal_stats(w, &st);
	assert_int_equal(st.committed, 200);
	assert_true(st.fsyncs >= 1 && st.fsyncs < 200); /* group commit */
	event_free(tick);
	vg_wal_close(w);
	event_base_free(base);
}

static int rw_i;

static int next_rec(void *ctx, const void **p, size_t *len)
{
	static char r[64];

	(void)ctx;
	if (rw_i == 10)
		return 0;
	snprintf(r, sizeof(r), "record %d", rw_i++);
	*p = r;
	*len = strlen(r);
	return 1;
}

static void test_rewrite(void **state)
{
	struct vg_wal_report rep;
	struct vg_wal *w;

	(void)state;
	reset();
	w = open_wal(&rep);
	write_n(w, 0, 500);
	rw_i = 0;
	assert_int_equal(vg_wal_rewrite(w, next_rec, NULL), 0);
	write_n(w, 10, 2);
	vg_wal_close(w);
	w = open_wal(&rep);
	assert_int_equal(seen, 12);
	assert_true(order_ok);
	vg_wal_close(w);
	/* the rewrite left exactly one segment */
	assert_int_equal(access(seg_path(), F_OK), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crc32c),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_torn_tail),
		cmocka_unit_test(test_corrupt_middle),
		cmocka_unit_test(test_garbage_file_and_empty),
		cmocka_unit_test(test_not_a_directory),
		cmocka_unit_test(test_acks_come_from_the_loop),
		cmocka_unit_test(test_rewrite),
	};

	return RUN_IN_TMPDIR(tests, "vigil-wal");
}
