// SPDX-License-Identifier: BSD-2-Clause
/* The store's log: round trip, group-commit acks, torn tail kept aside, damaged headers and
 * frames skipped, missing segments reported, rewrite. */
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
	struct vg_wal_opts o = {.dir = dir};
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

/* Every file of the store removed: the next open starts empty. */
static void wipe(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -f %s/*", dir);
	(void)!system(cmd);
}

static struct vg_wal *open_wal_seg(struct vg_wal_report *rep, size_t segment_max)
{
	struct vg_wal_opts o = {.dir = dir, .segment_max = segment_max};
	struct vg_wal *w;
	char err[256];

	seen = 0;
	order_ok = 1;
	assert_int_equal(vg_wal_open(&w, &o, NULL, on_rec, NULL, rep, err, sizeof(err)), 0);
	return w;
}

static off_t fsize(const char *path)
{
	struct stat st;

	return stat(path, &st) ? -1 : st.st_size;
}

static char *seg_n(int no)
{
	static char p[4][128];
	static int k;

	k = (k + 1) % 4;
	snprintf(p[k], sizeof(p[k]), "%s/seg-%08d.log", dir, no);
	return p[k];
}

/* A store of n segments of 10 records each ("record 0" ...), and an empty one after them. */
static void write_segments(int n)
{
	struct vg_wal_report rep;
	struct vg_wal *w;

	wipe();
	w = open_wal_seg(&rep, 64);
	for (int i = 0; i < n; i++)
		write_n(w, i * 10, 10); /* each sync passes 64 bytes: the next starts a segment */
	vg_wal_close(w);
	for (int i = 1; i <= n; i++)
		assert_true(fsize(seg_n(i)) > 20);
	assert_int_equal(fsize(seg_n(n + 1)), 20);
}

static void xor_at(const char *path, off_t off, unsigned char x)
{
	int fd = open(path, O_RDWR);
	unsigned char c;

	assert_true(fd >= 0);
	assert_true(pread(fd, &c, 1, off) == 1);
	c ^= x;
	assert_true(pwrite(fd, &c, 1, off) == 1);
	close(fd);
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
	{				    /* the bytes cut are kept aside, whole */
		char kept[256], buf[64];
		int kfd;

		snprintf(kept, sizeof(kept), "%s.%lld.damaged", seg_path(), (long long)good);
		assert_string_equal(rep.damaged_file, strrchr(kept, '/') + 1);
		assert_int_equal(rep.truncated_bytes, 16);
		kfd = open(kept, O_RDONLY);
		assert_true(kfd >= 0);
		assert_int_equal(read(kfd, buf, sizeof(buf)), 16);
		assert_memory_equal(buf, "VLGR\x40\x00\x00\x00\x01\x02\x03\x04half", 16);
		close(kfd);
		unlink(kept);
	}
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
	w = open_wal(&rep); /* no good frame: cut, its bytes kept aside, a fresh one started */
	assert_int_equal(seen, 0);
	assert_true(rep.truncated);
	assert_int_equal(rep.truncated_at, 0);
	assert_int_equal(rep.truncated_bytes, strlen("this is not a segment"));
	{
		char kept[256];

		snprintf(kept, sizeof(kept), "%s.0.damaged", seg_path());
		assert_int_equal(fsize(kept), strlen("this is not a segment"));
		unlink(kept);
	}
	write_n(w, 0, 3);
	vg_wal_close(w);
	w = open_wal(&rep);
	assert_int_equal(seen, 3);
	vg_wal_close(w);
}

static void test_not_a_directory(void **state)
{
	struct vg_wal_opts o = {.dir = "/etc/hostname"};
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
	struct vg_wal_opts o = {.dir = dir, .commit_ms = 2};
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
	event_add(tick, &(struct timeval){0, 1000});
	event_base_dispatch(base);
	assert_int_equal(acked, 200);
	vg_wal_stats(w, &st);
	assert_int_equal(st.committed, 200);
	assert_true(st.fsyncs >= 1 && st.fsyncs < 200); /* group commit */
	event_free(tick);
	vg_wal_close(w);
	event_base_free(base);
}

/* The first 4 bytes of a segment damaged: its header is skipped, every record read, nothing cut. */
static void test_damaged_header(void **state)
{
	struct vg_wal_report rep;
	struct vg_wal_stats st;
	struct vg_wal *w;
	off_t size;

	(void)state;
	wipe();
	w = open_wal(&rep);
	write_n(w, 0, 100);
	vg_wal_close(w);
	size = fsize(seg_path());
	for (int i = 0; i < 4; i++)
		xor_at(seg_path(), i, 0xff);
	w = open_wal(&rep);
	assert_int_equal(seen, 100);
	assert_true(order_ok);
	assert_false(rep.truncated);
	assert_int_equal(rep.skipped_regions, 1);
	assert_int_equal(rep.skipped_bytes, 20); /* the header, and nothing else */
	assert_non_null(strstr(rep.first_skip, "seg-00000001.log: 20 corrupt bytes "
					       "(a damaged segment header) at offset 0"));
	assert_int_equal(fsize(seg_path()), size);
	vg_wal_stats(w, &st);
	assert_int_equal(st.skipped_regions, 1);
	assert_int_equal(st.damaged_bytes, 20);
	write_n(w, 100, 5); /* into a new segment: never after damage */
	vg_wal_close(w);
	assert_int_equal(fsize(seg_path()), size);
	w = open_wal(&rep);
	assert_int_equal(seen, 105);
	assert_true(order_ok);
	assert_int_equal(rep.missing_segments, 0);
	vg_wal_close(w);
}

/* A damaged frame header in the middle loses only its own record. */
static void test_damaged_frame_header(void **state)
{
	struct vg_wal_report rep;
	struct vg_wal *w;
	off_t off = 20;

	(void)state;
	wipe();
	w = open_wal(&rep);
	write_n(w, 0, 30);
	vg_wal_close(w);
	for (int i = 0; i < 10; i++) /* to record 10's frame: "record 0".."record 9" */
		off += 12 + (off_t)strlen("record 0");
	xor_at(seg_path(), off, 0xff);	   /* its magic */
	xor_at(seg_path(), off + 5, 0x10); /* and its length */
	w = open_wal(&rep);
	assert_int_equal(seen, 29);
	assert_int_equal(rep.skipped_regions, 1);
	assert_int_equal(rep.skipped_bytes, 12 + strlen("record 10"));
	assert_string_equal(last, "record 29");
	assert_false(rep.truncated);
	vg_wal_close(w);
}

/* Damage at the end of a segment that is not the last: reported, never cut. */
static void test_damaged_end_of_older_segment(void **state)
{
	struct vg_wal_report rep;
	struct vg_wal *w;
	off_t size;
	int fd;

	(void)state;
	write_segments(3);
	size = fsize(seg_n(1));
	fd = open(seg_n(1), O_WRONLY | O_APPEND);
	assert_true(write(fd, "VLGR\x40\x00\x00\x00\x01\x02\x03\x04half", 16) == 16);
	close(fd);
	w = open_wal(&rep);
	assert_int_equal(seen, 30);
	assert_true(order_ok);
	assert_false(rep.truncated);
	assert_int_equal(rep.skipped_regions, 1);
	assert_int_equal(rep.skipped_bytes, 16);
	assert_int_equal(fsize(seg_n(1)), size + 16);
	vg_wal_close(w);
}

/* A segment deleted from the middle, or the first one: a gap, reported and counted. */
static void test_missing_segment(void **state)
{
	struct vg_wal_report rep;
	struct vg_wal_stats st;
	struct vg_wal *w;

	(void)state;
	write_segments(4);
	w = open_wal(&rep);
	assert_int_equal(rep.missing_segments, 0);
	vg_wal_close(w);
	assert_int_equal(unlink(seg_n(2)), 0);
	w = open_wal(&rep);
	assert_int_equal(seen, 30); /* of 40 */
	assert_int_equal(rep.missing_segments, 1);
	assert_string_equal(rep.missing, "2");
	vg_wal_stats(w, &st);
	assert_int_equal(st.missing_segments, 1);
	vg_wal_close(w);
	assert_int_equal(unlink(seg_n(1)), 0); /* the first one too: the others' headers know */
	w = open_wal(&rep);
	assert_int_equal(rep.missing_segments, 2);
	assert_string_equal(rep.missing, "1-2");
	vg_wal_close(w);
	/* a segment renamed: its header names its own number */
	write_segments(4);
	assert_int_equal(rename(seg_n(3), seg_n(7)), 0);
	w = open_wal(&rep);
	assert_int_equal(rep.misnamed, 1);
	assert_non_null(strstr(rep.first_misnamed, "seg-00000007.log holds segment 3"));
	assert_string_equal(rep.missing, "3, 6");
	vg_wal_close(w);
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

/* Compaction removes segments: never a gap; one interrupted before it removed them neither. */
static void test_compaction_is_no_gap(void **state)
{
	struct vg_wal_report rep;
	struct vg_wal *w;
	char cmd[512];

	(void)state;
	write_segments(4);
	w = open_wal_seg(&rep, 64);
	snprintf(cmd, sizeof(cmd), "mkdir -p %s.old && cp %s/seg-* %s.old/", dir, dir, dir);
	assert_int_equal(system(cmd), 0);
	rw_i = 0;
	assert_int_equal(vg_wal_rewrite(w, next_rec, NULL), 0);
	write_n(w, 10, 10);
	write_n(w, 20, 10); /* and on into a new segment */
	vg_wal_close(w);
	assert_int_equal(access(seg_n(1), F_OK), -1);
	assert_true(fsize(seg_n(8)) > 0); /* 6 compacted, 7 and 8 written after */
	w = open_wal(&rep);
	assert_int_equal(seen, 30);
	assert_true(order_ok);
	assert_int_equal(rep.missing_segments, 0);
	assert_int_equal(rep.stale_removed, 0);
	vg_wal_close(w);
	/* the old segments back, as if the compaction had stopped before removing them */
	snprintf(cmd, sizeof(cmd), "cp %s.old/seg-* %s/ && rm -rf %s.old", dir, dir, dir);
	assert_int_equal(system(cmd), 0);
	w = open_wal(&rep);
	assert_int_equal(seen, 30); /* not read twice */
	assert_true(order_ok);
	assert_int_equal(rep.missing_segments, 0);
	assert_int_equal(rep.stale_removed, 5);
	assert_int_equal(access(seg_n(1), F_OK), -1);
	vg_wal_close(w);
	/* one that stopped before its segment was complete: it never took a segment's name */
	snprintf(cmd, sizeof(cmd), "cp %s %s/seg-00000009.log.tmp", seg_n(6), dir);
	assert_int_equal(system(cmd), 0);
	w = open_wal(&rep);
	assert_int_equal(seen, 30);
	assert_int_equal(rep.missing_segments + rep.stale_removed + rep.skipped_regions, 0);
	vg_wal_close(w);
}

static void test_rewrite(void **state)
{
	struct vg_wal_report rep;
	struct vg_wal *w;

	(void)state;
	wipe();
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
		cmocka_unit_test(test_damaged_header),
		cmocka_unit_test(test_damaged_frame_header),
		cmocka_unit_test(test_damaged_end_of_older_segment),
		cmocka_unit_test(test_missing_segment),
		cmocka_unit_test(test_compaction_is_no_gap),
		cmocka_unit_test(test_rewrite),
	};

	return RUN_IN_TMPDIR(tests, "vigil-wal");
}
