// SPDX-License-Identifier: BSD-2-Clause
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "crc32c.h"
#include "log.h"
#include "safefile.h"
#include "wal.h"

#define FRAME_MAGIC    0x52474c56u   /* "VLGR" little endian */
#define SEG_HDR_V1     "VGSEG\0\1\0" /* magic, NUL, version 1 (u16 LE): older stores */
#define SEG_HDR_V1_LEN 8
#define SEG_MAGIC      "VGSEG\0\2\0" /* version 2: + u32 seq, u32 base, u32 crc32c */
#define SEG_HDR_LEN    20
#define FRAME_HDR      12

struct buf {
	unsigned char *p;
	size_t len, cap;
};

struct ack {
	uint64_t seq;
	vg_wal_ack_cb cb;
	void *ctx;
};

struct vg_wal {
	char dir[PATH_MAX];
	struct vg_wal_opts o;
	int fd, dirfd;
	uint32_t seg_no;
	uint32_t base; /* the log's first segment: older numbers were compacted away */
	uint64_t seg_size;
	struct vg_wal_report rep; /* what opening found, for the stats */

	pthread_t th;
	bool th_started;
	pthread_mutex_t mu;
	pthread_cond_t cv;	/* writer: work or stop */
	pthread_cond_t done_cv; /* sync(): durable progressed */
	struct buf cur, wr;	/* appended by the loop / being written */
	uint64_t seq_appended, seq_cur_end, seq_wr_end, seq_durable;
	bool kick, stop, failing;
	struct vg_wal_stats st;

	int efd; /* writer -> loop: durable progressed */
	struct event *ev_efd, *ev_timer;
	struct ack *acks;
	size_t nacks, ack_head, ack_cap;
};

static int buf_reserve(struct buf *b, size_t more)
{
	size_t cap = b->cap ? b->cap : 65536;
	unsigned char *p;

	if (b->len + more <= b->cap)
		return 0;
	while (cap < b->len + more)
		cap *= 2;
	p = realloc(b->p, cap);
	if (!p)
		return -ENOMEM;
	b->p = p;
	b->cap = cap;
	return 0;
}

static void put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16);
	p[3] = (unsigned char)(v >> 24);
}

static uint32_t get32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void seg_name(char *out, size_t n, uint32_t no)
{
	snprintf(out, n, "seg-%08u.log", no);
}

static int write_all(int fd, const unsigned char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/*
 * Creates segment no (of the log starting at w->base) with its header, durable
 * (file and directory entry), under name (NULL: its own).
 */
static int seg_create_as(struct vg_wal *w, uint32_t no, const char *name)
{
	unsigned char h[SEG_HDR_LEN];
	char own[64];
	int fd, rc;

	memcpy(h, SEG_MAGIC, 8);
	put32(h + 8, no);
	put32(h + 12, w->base);
	put32(h + 16, vg_crc32c(0, h, 16));
	if (!name) {
		seg_name(own, sizeof(own), no);
		name = own;
	}
	fd = openat(w->dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	rc = write_all(fd, h, SEG_HDR_LEN);
	if (!rc && fdatasync(fd))
		rc = -errno;
	if (!rc && fsync(w->dirfd))
		rc = -errno;
	if (rc) {
		close(fd);
		return rc;
	}
	return fd;
}

static int seg_create(struct vg_wal *w, uint32_t no)
{
	return seg_create_as(w, no, NULL);
}

/* ---- writer thread ----------------------------------------------------- */

static void *writer(void *arg)
{
	struct vg_wal *w = arg;

	pthread_mutex_lock(&w->mu);
	for (;;) {
		uint64_t before, one = 1;
		int rc = 0;

		while (!w->stop && !(w->kick && (w->wr.len || w->cur.len)))
			pthread_cond_wait(&w->cv, &w->mu);
		if (!w->wr.len && !w->cur.len)
			break; /* stopping, nothing left */
		w->kick = false;
		if (!w->wr.len) { /* take what the loop appended */
			struct buf t = w->wr;

			w->wr = w->cur;
			w->cur = t;
			w->cur.len = 0;
			w->seq_wr_end = w->seq_cur_end;
		}
		pthread_mutex_unlock(&w->mu);

		before = w->seg_size;
		rc = write_all(w->fd, w->wr.p, w->wr.len);
		if (!rc && fdatasync(w->fd))
			rc = -errno;
		if (rc) { /* no torn record stays behind: back to the last durable size, and write
			     from there */
			(void)!ftruncate(w->fd, (off_t)before);
			(void)lseek(w->fd, (off_t)before, SEEK_SET);
		} else
			w->seg_size += w->wr.len;
		if (!rc && w->seg_size > w->o.segment_max) {
			int nfd = seg_create(w, w->seg_no + 1);

			if (nfd >= 0) {
				close(w->fd);
				w->fd = nfd;
				w->seg_no++;
				w->seg_size = SEG_HDR_LEN;
			}
		}

		pthread_mutex_lock(&w->mu);
		if (rc) {
			struct timespec ts;

			w->st.write_errors++;
			w->st.last_errno = -rc;
			w->failing = true;
			pthread_cond_broadcast(&w->done_cv); /* a waiting sync() learns of it */
			if (w->stop)
				break; /* shutting down on a full disk: what is left is reported */
			/* back off: the disk is full or failing; the timer kicks again */
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += 100 * 1000000;
			if (ts.tv_nsec >= 1000000000) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000;
			}
			pthread_cond_timedwait(&w->cv, &w->mu, &ts);
			continue;
		}
		w->failing = false;
		w->st.committed += w->seq_wr_end - w->seq_durable;
		w->st.fsyncs++;
		w->st.bytes_on_disk += w->wr.len;
		w->seq_durable = w->seq_wr_end;
		w->wr.len = 0;
		pthread_cond_broadcast(&w->done_cv);
		if (w->efd >= 0)
			(void)!write(w->efd, &one, sizeof(one));
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

/* ---- loop side ---------------------------------------------------------- */

static void run_acks(struct vg_wal *w)
{
	uint64_t durable;

	pthread_mutex_lock(&w->mu);
	durable = w->seq_durable;
	pthread_mutex_unlock(&w->mu);
	while (w->nacks && w->acks[w->ack_head].seq <= durable) {
		struct ack a = w->acks[w->ack_head];

		w->ack_head = (w->ack_head + 1) % w->ack_cap;
		w->nacks--;
		a.cb(a.ctx, true);
	}
}

static void on_efd(evutil_socket_t fd, short what, void *arg)
{
	uint64_t v;

	(void)what;
	(void)!read(fd, &v, sizeof(v));
	run_acks(arg);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct vg_wal *w = arg;

	(void)fd;
	(void)what;
	pthread_mutex_lock(&w->mu);
	if (w->cur.len || w->wr.len) {
		w->kick = true;
		pthread_cond_signal(&w->cv);
	}
	pthread_mutex_unlock(&w->mu);
}

static int push_ack(struct vg_wal *w, uint64_t seq, vg_wal_ack_cb cb, void *ctx)
{
	if (w->nacks == w->ack_cap) {
		size_t cap = w->ack_cap ? w->ack_cap * 2 : 1024;
		struct ack *a = malloc(cap * sizeof(*a));

		if (!a)
			return -ENOMEM;
		for (size_t i = 0; i < w->nacks; i++)
			a[i] = w->acks[(w->ack_head + i) % w->ack_cap];
		free(w->acks);
		w->acks = a;
		w->ack_cap = cap;
		w->ack_head = 0;
	}
	w->acks[(w->ack_head + w->nacks++) % w->ack_cap] = (struct ack){seq, cb, ctx};
	return 0;
}

int vg_wal_appendv(struct vg_wal *w, const struct iovec *recs, int n, vg_wal_ack_cb ack, void *ctx)
{
	size_t total = 0;
	uint64_t seq;

	for (int i = 0; i < n; i++) {
		if (recs[i].iov_len > VG_WAL_MAX_RECORD)
			return -E2BIG;
		total += recs[i].iov_len + FRAME_HDR;
	}
	pthread_mutex_lock(&w->mu);
	if (w->cur.len + w->wr.len + total > w->o.mem_bound || buf_reserve(&w->cur, total)) {
		w->st.dropped += (uint64_t)n;
		pthread_mutex_unlock(&w->mu);
		return -ENOSPC;
	}
	for (int i = 0; i < n; i++) {
		unsigned char *p = w->cur.p + w->cur.len;
		size_t len = recs[i].iov_len;

		put32(p, FRAME_MAGIC);
		put32(p + 4, (uint32_t)len);
		put32(p + 8, vg_crc32c(0, recs[i].iov_base, len));
		memcpy(p + FRAME_HDR, recs[i].iov_base, len);
		w->cur.len += len + FRAME_HDR;
	}
	w->seq_appended += (uint64_t)n;
	seq = w->seq_cur_end = w->seq_appended;
	w->st.appended += (uint64_t)n;
	if (w->o.fsync_always) {
		w->kick = true;
		pthread_cond_signal(&w->cv);
	}
	pthread_mutex_unlock(&w->mu);
	return ack ? push_ack(w, seq, ack, ctx) : 0;
}

int vg_wal_append(struct vg_wal *w, const void *payload, size_t len, vg_wal_ack_cb ack, void *ctx)
{
	struct iovec v = {(void *)payload, len};

	return vg_wal_appendv(w, &v, 1, ack, ctx);
}

int vg_wal_sync(struct vg_wal *w)
{
	int rc = 0;

	pthread_mutex_lock(&w->mu);
	while (w->seq_durable < w->seq_appended) {
		uint64_t before = w->st.write_errors;

		w->kick = true;
		pthread_cond_signal(&w->cv);
		pthread_cond_wait(&w->done_cv, &w->mu);
		if (w->st.write_errors != before || w->failing) {
			rc = -(w->st.last_errno ? w->st.last_errno : EIO);
			break;
		}
	}
	pthread_mutex_unlock(&w->mu);
	run_acks(w);
	return rc;
}

void vg_wal_stats(struct vg_wal *w, struct vg_wal_stats *st)
{
	pthread_mutex_lock(&w->mu);
	*st = w->st;
	st->skipped_regions = w->rep.skipped_regions;
	st->damaged_bytes = w->rep.skipped_bytes + w->rep.truncated_bytes;
	st->missing_segments = w->rep.missing_segments;
	st->pending_bytes = w->cur.len + w->wr.len;
	st->segments = w->seg_no;
	pthread_mutex_unlock(&w->mu);
}

/* ---- recovery ----------------------------------------------------------- */

static bool frame_ok(const unsigned char *p, size_t size, size_t off, size_t *flen)
{
	uint32_t len;

	if (off + FRAME_HDR > size || get32(p + off) != FRAME_MAGIC)
		return false;
	len = get32(p + off + 4);
	if (len > VG_WAL_MAX_RECORD || off + FRAME_HDR + len > size)
		return false;
	if (vg_crc32c(0, p + off + FRAME_HDR, len) != get32(p + off + 8))
		return false;
	*flen = FRAME_HDR + len;
	return true;
}

/* The offset of the first good frame at or after off, or size when there is none. */
static size_t next_frame(const unsigned char *p, size_t size, size_t off)
{
	size_t flen;

	while (off + FRAME_HDR <= size) {
		const unsigned char *m = memmem(p + off, size - off, "VLGR", 4);

		if (!m)
			break;
		off = (size_t)(m - p);
		if (frame_ok(p, size, off, &flen))
			return off;
		off++;
	}
	return size;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

enum { HDR_NONE, HDR_V1, HDR_V2, HDR_BAD };

struct seg_hdr {
	int kind;	    /* HDR_NONE: empty, or cut before its header was durable */
	uint32_t seq, base; /* HDR_V2: its own number, and the log's first segment then */
	size_t len;	    /* where its frames start (0 when damaged: found by scanning) */
};

static void hdr_parse(const unsigned char *p, size_t size, struct seg_hdr *h)
{
	memset(h, 0, sizeof(*h));
	if (!size) {
		h->kind = HDR_NONE;
	} else if (size >= SEG_HDR_V1_LEN && !memcmp(p, SEG_HDR_V1, SEG_HDR_V1_LEN)) {
		h->kind = HDR_V1;
		h->len = SEG_HDR_V1_LEN;
	} else if (size >= SEG_HDR_LEN && !memcmp(p, SEG_MAGIC, 8) &&
		   get32(p + 16) == vg_crc32c(0, p, 16) && get32(p + 12) <= get32(p + 8)) {
		h->kind = HDR_V2;
		h->seq = get32(p + 8);
		h->base = get32(p + 12);
		h->len = SEG_HDR_LEN;
	} else if (size < SEG_HDR_LEN && !memcmp(p, SEG_MAGIC, size < 8 ? size : 8)) {
		h->kind = HDR_NONE;
	} else {
		h->kind = HDR_BAD;
	}
}

/* Reads the header of segment no. 0 or -errno. */
static int seg_peek(struct vg_wal *w, uint32_t no, struct seg_hdr *h)
{
	unsigned char b[SEG_HDR_LEN];
	char name[64];
	ssize_t n;
	int fd, e;

	seg_name(name, sizeof(name), no);
	fd = openat(w->dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	n = pread(fd, b, sizeof(b), 0);
	e = errno;
	close(fd);
	if (n < 0)
		return -e;
	hdr_parse(b, (size_t)n, h);
	return 0;
}

static void note_skip(struct vg_wal_report *rep, const char *name, size_t off, size_t n,
		      const char *what)
{
	if (!rep->skipped_regions)
		snprintf(rep->first_skip, sizeof(rep->first_skip),
			 "%s: %zu %s at offset %zu skipped", name, n, what, off);
	rep->skipped_regions++;
	rep->skipped_bytes += n;
}

/* Keeps n bytes cut from segment name at off in <name>.<off>.damaged, durable. 0 or -errno. */
static int keep_damaged(struct vg_wal *w, const char *name, const unsigned char *p, size_t off,
			size_t n, char *kept, size_t keptn)
{
	int fd, rc;

	snprintf(kept, keptn, "%s.%zu.damaged", name, off);
	fd = openat(w->dirfd, kept, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	rc = write_all(fd, p + off, n);
	if (!rc && fdatasync(fd))
		rc = -errno;
	close(fd);
	if (!rc && fsync(w->dirfd))
		rc = -errno;
	return rc;
}

static int cut(struct vg_wal *w, const char *name, size_t len)
{
	int fd = openat(w->dirfd, name, O_WRONLY | O_CLOEXEC | O_NOFOLLOW), rc = 0;

	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)len) || fdatasync(fd))
		rc = -errno;
	close(fd);
	return rc;
}

/* What replaying one segment found. */
struct seg_res {
	struct seg_hdr h;
	uint64_t end;	 /* its length afterwards */
	bool appendable; /* the writer may go on in it: a good header, no damage left at its end */
};

/*
 * Damage at the end of a segment: in the last one (repair) a torn tail, cut
 * once its bytes are kept aside; anywhere else, or when they cannot be kept,
 * left in place and reported. Returns the segment's length afterwards.
 */
static size_t settle_tail(struct vg_wal *w, const char *name, const unsigned char *p, size_t size,
			  size_t good_end, bool repair, struct vg_wal_report *rep)
{
	char kept[128];

	if (!repair) {
		note_skip(rep, name, good_end, size - good_end,
			  "damaged bytes at the end (not the last segment: left in place)");
		return size;
	}
	if (keep_damaged(w, name, p, good_end, size - good_end, kept, sizeof(kept)) ||
	    cut(w, name, good_end)) {
		note_skip(rep, name, good_end, size - good_end,
			  "damaged bytes at the end (they could not be kept aside: left in place)");
		return size;
	}
	if (!rep->truncated) {
		rep->truncated = true;
		rep->truncated_at = good_end;
		snprintf(rep->truncated_file, sizeof(rep->truncated_file), "%s", name);
		snprintf(rep->damaged_file, sizeof(rep->damaged_file), "%s", kept);
	}
	rep->truncated_bytes += size - good_end;
	return good_end;
}

/*
 * Replays one segment, resynchronising past damage: a frame that fails its
 * checks (or a damaged header) loses only the bytes up to the next good frame.
 */
static int replay_seg(struct vg_wal *w, uint32_t no, bool repair, vg_wal_replay_cb cb, void *ctx,
		      struct vg_wal_report *rep, struct seg_res *res)
{
	char name[64];
	int fd;
	struct stat st;
	unsigned char *p = NULL;
	size_t size, off, flen, good_end;

	memset(res, 0, sizeof(*res));
	seg_name(name, sizeof(name), no);
	fd = openat(w->dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 || fstat(fd, &st)) {
		int e = errno;

		if (fd >= 0)
			close(fd);
		return -e;
	}
	size = (size_t)st.st_size;
	if (size) {
		p = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (p == MAP_FAILED) {
			int e = errno;

			close(fd);
			return -e;
		}
	}
	close(fd);
	hdr_parse(p, size, &res->h);
	if (res->h.kind == HDR_NONE) {
		if (p)
			munmap(p, size);
		return 0;
	}
	rep->segments++;
	off = good_end = res->h.len;
	while (off < size) {
		size_t next;

		if (frame_ok(p, size, off, &flen)) {
			cb(ctx, p + off + FRAME_HDR, flen - FRAME_HDR);
			rep->records++;
			rep->bytes += flen;
			off += flen;
			good_end = off;
			continue;
		}
		next = next_frame(p, size, off + 1);
		if (next == size)
			break; /* nothing good after it */
		note_skip(rep, name, off, next - off,
			  off ? "corrupt bytes" : "corrupt bytes (a damaged segment header)");
		off = next;
	}
	res->end = good_end < size ? settle_tail(w, name, p, size, good_end, repair, rep) : size;
	res->appendable = res->h.kind != HDR_BAD && res->end == good_end;
	munmap(p, size);
	return 0;
}

/* The segment numbers in the directory, sorted. 0 or -errno. */
static int list_segs(struct vg_wal *w, uint32_t **out, size_t *nout)
{
	int fd = dup(w->dirfd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	uint32_t *nos = NULL;
	size_t nn = 0;
	struct dirent *de;

	*out = NULL;
	*nout = 0;
	if (!d) {
		int e = errno;

		if (fd >= 0)
			close(fd);
		return -e;
	}
	rewinddir(d); /* a dup shares the directory offset with dirfd: a second listing starts at
			 the end */
	while ((de = readdir(d))) {
		const char *s = de->d_name;
		uint32_t *n;

		/* exactly seg-NNNNNNNN.log: not seg-NNNNNNNN.log.<offset>.damaged */
		if (strlen(s) != 16 || strncmp(s, "seg-", 4) || strcmp(s + 12, ".log") ||
		    strspn(s + 4, "0123456789") != 8)
			continue;
		n = realloc(nos, (nn + 1) * sizeof(*nos));
		if (!n) {
			closedir(d);
			free(nos);
			return -ENOMEM;
		}
		nos = n;
		nos[nn++] = (uint32_t)strtoul(s + 4, NULL, 10);
	}
	closedir(d);
	if (nn)
		qsort(nos, nn, sizeof(*nos), cmp_u32);
	*out = nos;
	*nout = nn;
	return 0;
}

/*
 * The log's first segment: the newest base a good header names (compaction
 * writes its own number there), else (a store older than those headers) the
 * lowest number there is.
 */
static uint32_t find_base(const uint32_t *nos, const struct seg_hdr *h, size_t nn)
{
	uint32_t base = 0;

	for (size_t i = 0; i < nn; i++)
		if (h[i].kind == HDR_V2 && h[i].seq == nos[i] && h[i].base > base)
			base = h[i].base;
	return base ? base : nn ? nos[0] : 1;
}

static void add_range(char *buf, size_t n, uint32_t from, uint32_t to)
{
	size_t l = strlen(buf);

	if (l + 24 >= n) {
		if (l + 4 < n && !strstr(buf, "..."))
			snprintf(buf + l, n - l, ", ...");
		return;
	}
	if (from == to)
		snprintf(buf + l, n - l, "%s%u", l ? ", " : "", from);
	else
		snprintf(buf + l, n - l, "%s%u-%u", l ? ", " : "", from, to);
}

/*
 * Checks the run of segments from base: a number missing is a segment lost
 * (compaction only ever removes numbers below base), a header naming another
 * number a file renamed. Segments below base are an interrupted compaction's
 * leftovers: removed once the compacted segment is there and sound.
 */
static void check_run(struct vg_wal *w, const uint32_t *nos, const struct seg_hdr *h, size_t nn,
		      struct vg_wal_report *rep)
{
	uint32_t expect = w->base;
	bool compacted = false;

	for (size_t i = 0; i < nn; i++)
		if (nos[i] == w->base && h[i].kind == HDR_V2 && h[i].seq == w->base &&
		    h[i].base == w->base)
			compacted = true;
	for (size_t i = 0; i < nn; i++) {
		char name[64];

		seg_name(name, sizeof(name), nos[i]);
		if (nos[i] < w->base) {
			if (compacted && !unlinkat(w->dirfd, name, 0))
				rep->stale_removed++;
			else
				rep->stale_kept++;
			continue;
		}
		if (nos[i] > expect) {
			rep->missing_segments += nos[i] - expect;
			add_range(rep->missing, sizeof(rep->missing), expect, nos[i] - 1);
		}
		expect = nos[i] + 1;
		if (h[i].kind == HDR_V2 && h[i].seq != nos[i] && !rep->misnamed++)
			snprintf(rep->first_misnamed, sizeof(rep->first_misnamed),
				 "%s holds segment %u", name, h[i].seq);
	}
	if (rep->stale_removed)
		fsync(w->dirfd);
}

int vg_wal_scan(struct vg_wal *w, vg_wal_replay_cb cb, void *ctx)
{
	struct vg_wal_report rep = {0};
	struct seg_res res;
	uint32_t *nos;
	size_t nn;
	int rc = list_segs(w, &nos, &nn);

	for (size_t i = 0; !rc && i < nn; i++)
		if (nos[i] >= w->base)
			rc = replay_seg(w, nos[i], false, cb, ctx, &rep, &res);
	free(nos);
	return rc;
}

/* Replays every segment from base, the last one's torn tail cut; opens the writer's segment. */
static int replay_all(struct vg_wal *w, const uint32_t *nos, size_t nn, vg_wal_replay_cb cb,
		      void *ctx, struct vg_wal_report *rep, char *err, size_t errlen)
{
	struct seg_res res = {.h.kind = HDR_NONE};
	uint32_t last = w->base;
	char name[64];

	for (size_t i = 0; i < nn; i++) {
		int rc;

		if (nos[i] < w->base)
			continue;
		rc = replay_seg(w, nos[i], i == nn - 1, cb, ctx, rep, &res);
		if (rc)
			return vg_errf(err, errlen, rc, "cannot read store segment %u in %s: %s",
				       nos[i], w->dir, strerror(-rc));
		last = nos[i];
		w->st.bytes_on_disk += res.end;
	}
	w->seg_no = last;
	w->seg_size = res.end;
	if (res.h.kind == HDR_NONE || !res.end) {
		/* none yet, or an empty one: (re)made with its header */
		w->fd = seg_create(w, last);
		w->seg_size = SEG_HDR_LEN;
	} else if (!res.appendable) {
		w->fd = seg_create(w, ++w->seg_no); /* never write after damage */
		w->seg_size = SEG_HDR_LEN;
	} else {
		seg_name(name, sizeof(name), last);
		w->fd = openat(w->dirfd, name, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
		if (w->fd < 0)
			w->fd = -errno;
	}
	if (w->fd < 0) {
		int rc = w->fd;

		w->fd = -1;
		return vg_errf(err, errlen, rc,
			       "cannot open the store's segment for writing in %s: %s", w->dir,
			       strerror(-rc));
	}
	return 0;
}

/* The writer thread, with SIGINT and SIGTERM blocked: they belong to the loop's thread. */
static int start_writer(struct vg_wal *w)
{
	sigset_t block, old;
	int rc;

	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	rc = pthread_create(&w->th, NULL, writer, w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc;
}

int vg_wal_open(struct vg_wal **out, const struct vg_wal_opts *o, struct event_base *base,
		vg_wal_replay_cb cb, void *ctx, struct vg_wal_report *rep, char *err, size_t errlen)
{
	struct vg_wal *w = calloc(1, sizeof(*w));
	struct seg_hdr *hdrs = NULL;
	uint32_t *nos = NULL;
	size_t nn = 0;
	int rc;

	*out = NULL;
	memset(rep, 0, sizeof(*rep));
	if (!w)
		return vg_errf(err, errlen, -ENOMEM, "out of memory");
	w->o = *o;
	if (!w->o.commit_ms)
		w->o.commit_ms = 5;
	if (!w->o.mem_bound)
		w->o.mem_bound = 64u << 20;
	if (!w->o.segment_max)
		w->o.segment_max = 64u << 20;
	w->fd = w->dirfd = w->efd = -1;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	pthread_cond_init(&w->done_cv, NULL);
	snprintf(w->dir, sizeof(w->dir), "%s", o->dir);
	if (mkdir(w->dir, 0700) && errno != EEXIST) {
		rc = vg_errf(err, errlen, -errno, "cannot create the store directory %s: %s",
			     w->dir, strerror(errno));
		goto fail;
	}
	rc = vg_safe_subdir(w->dir, err,
			    errlen); /* ours, writable by nobody else, no links in it */
	if (rc)
		goto fail;
	w->dirfd = open(w->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	rc = w->dirfd < 0 ? -errno : list_segs(w, &nos, &nn);
	hdrs = rc ? NULL : calloc(nn + 1, sizeof(*hdrs));
	if (!rc && !hdrs)
		rc = -ENOMEM;
	for (size_t i = 0; !rc && i < nn; i++)
		rc = seg_peek(w, nos[i], &hdrs[i]);
	if (rc) {
		rc = vg_errf(err, errlen, rc, "cannot open the store directory %s: %s", w->dir,
			     strerror(-rc));
		goto fail;
	}
	w->base = find_base(nos, hdrs, nn);
	check_run(w, nos, hdrs, nn, rep);
	rc = replay_all(w, nos, nn, cb, ctx, rep, err, errlen);
	if (rc)
		goto fail;
	w->rep = *rep;
	if (base) {
		struct timeval tv = {.tv_sec = w->o.commit_ms / 1000,
				     .tv_usec = (w->o.commit_ms % 1000) * 1000};

		w->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		w->ev_efd = w->efd >= 0 ? event_new(base, w->efd, EV_READ | EV_PERSIST, on_efd, w)
					: NULL;
		w->ev_timer = event_new(base, -1, EV_PERSIST, on_timer, w);
		if (!w->ev_efd || !w->ev_timer) {
			rc = vg_errf(err, errlen, -ENOMEM,
				     "cannot register the store with the loop");
			goto fail;
		}
		event_add(w->ev_efd, NULL);
		event_add(w->ev_timer, &tv);
	}
	if (start_writer(w)) {
		rc = vg_errf(err, errlen, -EAGAIN, "cannot start the store's writer thread");
		goto fail;
	}
	w->th_started = true;
	free(nos);
	free(hdrs);
	*out = w;
	return 0;
fail:
	free(nos);
	free(hdrs);
	vg_wal_close(w);
	return rc;
}

void vg_wal_report_log(const struct vg_wal_report *rep, const char *dir)
{
	if (rep->missing_segments)
		vg_err("%s: segment(s) %s missing (%llu): the records they held are lost; "
		       "restore them from a backup, or keep going without them "
		       "(vigil_store_missing_segments)",
		       dir, rep->missing, (unsigned long long)rep->missing_segments);
	if (rep->misnamed)
		vg_err("%s: %llu segment(s) under another segment's name (renamed?); first: %s",
		       dir, (unsigned long long)rep->misnamed, rep->first_misnamed);
	if (rep->stale_kept)
		vg_err("%s: %llu segment(s) older than the log's first one are left in place and "
		       "not read",
		       dir, (unsigned long long)rep->stale_kept);
	if (rep->stale_removed)
		vg_info("%s: removed %llu segment(s) an interrupted compaction left behind", dir,
			(unsigned long long)rep->stale_removed);
	if (rep->truncated)
		vg_warn("%s: %s had a torn tail: truncated to the last good record at offset %llu; "
			"the %llu bytes cut are kept in %s",
			dir, rep->truncated_file, (unsigned long long)rep->truncated_at,
			(unsigned long long)rep->truncated_bytes, rep->damaged_file);
	if (rep->skipped_regions)
		vg_warn("%s: %llu damaged region(s) skipped (%llu bytes, their records lost); "
			"first: %s",
			dir, (unsigned long long)rep->skipped_regions,
			(unsigned long long)rep->skipped_bytes, rep->first_skip);
}

int vg_wal_rewrite(struct vg_wal *w, vg_wal_next_fn next, void *ctx)
{
	uint32_t first = w->seg_no + 1, old_base = w->base, *nos;
	char name[64], tmp[80];
	int fd, rc = 0;
	struct buf b = {0};
	uint64_t size = SEG_HDR_LEN;
	const void *p;
	size_t len, nn;
	int more = 0;

	/*
	 * The new segment starts the log (its header says so): written under a
	 * temporary name, it takes its own only once complete and durable.
	 */
	seg_name(name, sizeof(name), first);
	snprintf(tmp, sizeof(tmp), "%s.tmp", name);
	w->base = first;
	fd = seg_create_as(w, first, tmp);
	if (fd < 0) {
		w->base = old_base;
		return fd;
	}
	while (!rc && (more = next(ctx, &p, &len)) > 0) {
		unsigned char h[FRAME_HDR];

		put32(h, FRAME_MAGIC);
		put32(h + 4, (uint32_t)len);
		put32(h + 8, vg_crc32c(0, p, len));
		rc = buf_reserve(&b, len + FRAME_HDR);
		if (rc)
			break;
		memcpy(b.p + b.len, h, FRAME_HDR);
		memcpy(b.p + b.len + FRAME_HDR, p, len);
		b.len += len + FRAME_HDR;
		if (b.len > (1u << 20)) {
			rc = write_all(fd, b.p, b.len);
			size += b.len;
			b.len = 0;
		}
	}
	if (!rc && more < 0)
		rc = more; /* the producer failed: a partial log must not replace the whole one */
	if (!rc)
		rc = write_all(fd, b.p, b.len);
	size += b.len;
	free(b.p);
	if (!rc && fdatasync(fd))
		rc = -errno;
	if (!rc && (renameat(w->dirfd, tmp, w->dirfd, name) || fsync(w->dirfd)))
		rc = -errno;
	if (rc) {
		close(fd);
		unlinkat(w->dirfd, tmp, 0);
		w->base = old_base;
		return rc;
	}
	/* the new segment is durable: the old ones go (if this stops half way, open finishes it) */
	pthread_mutex_lock(&w->mu);
	if (!list_segs(w, &nos, &nn)) {
		for (size_t i = 0; i < nn; i++) {
			char old[64];

			seg_name(old, sizeof(old), nos[i]);
			if (nos[i] < first)
				unlinkat(w->dirfd, old, 0);
		}
		free(nos);
	}
	close(w->fd);
	w->fd = fd;
	w->seg_no = first;
	w->seg_size = size;
	w->st.bytes_on_disk = size;
	pthread_mutex_unlock(&w->mu);
	fsync(w->dirfd);
	return 0;
}

void vg_wal_close(struct vg_wal *w)
{
	if (!w)
		return;
	if (w->th_started) {
		pthread_mutex_lock(&w->mu);
		w->stop = true;
		w->kick = true;
		pthread_cond_signal(&w->cv);
		pthread_mutex_unlock(&w->mu);
		pthread_join(w->th, NULL);
		run_acks(w);
	}
	if (w->ev_efd)
		event_free(w->ev_efd);
	if (w->ev_timer)
		event_free(w->ev_timer);
	if (w->efd >= 0)
		close(w->efd);
	if (w->fd >= 0)
		close(w->fd);
	if (w->dirfd >= 0)
		close(w->dirfd);
	free(w->cur.p);
	free(w->wr.p);
	free(w->acks);
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cv);
	pthread_cond_destroy(&w->done_cv);
	free(w);
}
