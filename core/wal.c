// SPDX-License-Identifier: BSD-2-Clause
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
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

#define FRAME_MAGIC 0x52474c56u /* "VLGR" little endian */
#define SEG_HDR "VGSEG\0\1\0"	/* magic, NUL, version 1 (u16 LE) */
#define SEG_HDR_LEN 8
#define FRAME_HDR 12

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
	uint64_t seg_size;

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

/* Creates segment no with its header, durable (file and directory entry). */
static int seg_create(struct vg_wal *w, uint32_t no)
{
	char name[64];
	int fd, rc;

	seg_name(name, sizeof(name), no);
	fd = openat(w->dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	rc = write_all(fd, (const unsigned char *)SEG_HDR, SEG_HDR_LEN);
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
		if (rc) { /* no torn record stays behind: back to the last durable size, and write from there */
			(void)!ftruncate(w->fd, (off_t)before);
			(void)lseek(w->fd, (off_t)before, SEEK_SET);
		}
		else
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
	w->acks[(w->ack_head + w->nacks++) % w->ack_cap] = (struct ack){ seq, cb, ctx };
	return 0;
}

int vg_wal_append(struct vg_wal *w, const void *payload, size_t len, vg_wal_ack_cb ack, void *ctx)
{
	unsigned char *p;
	uint64_t seq;

	if (len > VG_WAL_MAX_RECORD)
		return -E2BIG;
	pthread_mutex_lock(&w->mu);
	if (w->cur.len + w->wr.len + len + FRAME_HDR > w->o.mem_bound ||
	    buf_reserve(&w->cur, len + FRAME_HDR)) {
		w->st.dropped++;
		pthread_mutex_unlock(&w->mu);
		return -ENOSPC;
	}
	p = w->cur.p + w->cur.len;
	put32(p, FRAME_MAGIC);
	put32(p + 4, (uint32_t)len);
	put32(p + 8, vg_crc32c(0, payload, len));
	memcpy(p + FRAME_HDR, payload, len);
	w->cur.len += len + FRAME_HDR;
	seq = ++w->seq_appended;
	w->seq_cur_end = seq;
	w->st.appended++;
	if (w->o.fsync_always) {
		w->kick = true;
		pthread_cond_signal(&w->cv);
	}
	pthread_mutex_unlock(&w->mu);
	return ack ? push_ack(w, seq, ack, ctx) : 0;
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

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Replays one segment; returns its good length, or -errno. */
static int64_t replay_seg(struct vg_wal *w, uint32_t no, bool last, vg_wal_replay_cb cb, void *ctx,
			  struct vg_wal_report *rep)
{
	char name[64];
	int fd;
	struct stat st;
	unsigned char *p = NULL;
	size_t size, off = SEG_HDR_LEN, flen, good_end = SEG_HDR_LEN;

	seg_name(name, sizeof(name), no);
	fd = openat(w->dirfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st)) {
		if (fd >= 0)
			close(fd);
		return -errno;
	}
	size = (size_t)st.st_size;
	if (size >= SEG_HDR_LEN) {
		p = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (p == MAP_FAILED) {
			close(fd);
			return -errno;
		}
	}
	close(fd);
	if (!p || memcmp(p, SEG_HDR, SEG_HDR_LEN)) {
		/* a segment cut before its header was durable, or not ours */
		if (p)
			munmap(p, size);
		if (!rep->truncated) {
			rep->truncated = true;
			rep->truncated_at = 0;
			snprintf(rep->truncated_file, sizeof(rep->truncated_file), "%s", name);
		}
		return 0;
	}
	rep->segments++;
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
		/* look for the next good frame after the bad one */
		for (next = off + 1; next + FRAME_HDR <= size; next++) {
			const unsigned char *m = memmem(p + next, size - next, "VLGR", 4);

			if (!m)
				break;
			next = (size_t)(m - p);
			if (frame_ok(p, size, next, &flen))
				break;
		}
		if (next + FRAME_HDR <= size && frame_ok(p, size, next, &flen)) {
			if (!rep->skipped_regions)
				snprintf(rep->first_skip, sizeof(rep->first_skip),
					 "%s: %zu corrupt bytes at offset %zu skipped", name, next - off,
					 off);
			rep->skipped_regions++;
			rep->skipped_bytes += next - off;
			off = next;
			continue;
		}
		break; /* nothing good after it */
	}
	munmap(p, size);
	if (good_end < size) {
		if (!rep->truncated) {
			rep->truncated = true;
			rep->truncated_at = good_end;
			snprintf(rep->truncated_file, sizeof(rep->truncated_file), "%s", name);
		}
		if (last) {
			char path[64];
			int tfd;

			seg_name(path, sizeof(path), no);
			tfd = openat(w->dirfd, path, O_WRONLY | O_CLOEXEC);
			if (tfd < 0 || ftruncate(tfd, (off_t)good_end) || fdatasync(tfd)) {
				int e = errno;

				if (tfd >= 0)
					close(tfd);
				return -e;
			}
			close(tfd);
		}
	}
	return (int64_t)good_end;
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
	rewinddir(d); /* a dup shares the directory offset with dirfd: a second listing starts at the end */
	while ((de = readdir(d))) {
		unsigned no;
		char tail;
		uint32_t *n;

		if (sscanf(de->d_name, "seg-%8u.lo%c", &no, &tail) != 2 || tail != 'g')
			continue;
		n = realloc(nos, (nn + 1) * sizeof(*nos));
		if (!n) {
			closedir(d);
			free(nos);
			return -ENOMEM;
		}
		nos = n;
		nos[nn++] = no;
	}
	closedir(d);
	if (nn)
		qsort(nos, nn, sizeof(*nos), cmp_u32);
	*out = nos;
	*nout = nn;
	return 0;
}

int vg_wal_scan(struct vg_wal *w, vg_wal_replay_cb cb, void *ctx)
{
	struct vg_wal_report rep = { 0 };
	uint32_t *nos;
	size_t nn;
	int rc = list_segs(w, &nos, &nn);

	for (size_t i = 0; !rc && i < nn; i++) {
		int64_t good = replay_seg(w, nos[i], false, cb, ctx, &rep);

		if (good < 0)
			rc = (int)good;
	}
	free(nos);
	return rc;
}

int vg_wal_open(struct vg_wal **out, const struct vg_wal_opts *o, struct event_base *base,
		vg_wal_replay_cb cb, void *ctx, struct vg_wal_report *rep, char *err, size_t errlen)
{
	struct vg_wal *w = calloc(1, sizeof(*w));
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
		rc = vg_errf(err, errlen, -errno, "cannot create the store directory %s: %s", w->dir,
			  strerror(errno));
		goto fail;
	}
	rc = vg_safe_subdir(w->dir, err, errlen); /* ours, writable by nobody else, no links in it */
	if (rc)
		goto fail;
	w->dirfd = open(w->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	rc = w->dirfd < 0 ? -errno : list_segs(w, &nos, &nn);
	if (rc) {
		rc = vg_errf(err, errlen, rc, "cannot open the store directory %s: %s", w->dir, strerror(-rc));
		goto fail;
	}
	for (size_t i = 0; i < nn; i++) {
		int64_t good = replay_seg(w, nos[i], i == nn - 1, cb, ctx, rep);

		if (good < 0) {
			rc = vg_errf(err, errlen, (int)good, "cannot read store segment %u in %s: %s",
				  nos[i], w->dir, strerror((int)-good));
			goto fail;
		}
		w->seg_no = nos[i];
		w->seg_size = (uint64_t)good;
		w->st.bytes_on_disk += (uint64_t)good;
	}
	if (!nn || w->seg_size < SEG_HDR_LEN) {
		/* no segment yet, or the last one lost its header: start a fresh one */
		w->fd = seg_create(w, nn ? w->seg_no : 1);
		w->seg_no = nn ? w->seg_no : 1;
		w->seg_size = SEG_HDR_LEN;
	} else {
		char name[64];

		seg_name(name, sizeof(name), w->seg_no);
		w->fd = openat(w->dirfd, name, O_WRONLY | O_APPEND | O_CLOEXEC);
	}
	if (w->fd < 0) {
		rc = vg_errf(err, errlen, w->fd < -1 ? w->fd : -errno,
			  "cannot open the store's segment for writing in %s: %s", w->dir,
			  strerror(w->fd < -1 ? -w->fd : errno));
		goto fail;
	}
	if (base) {
		struct timeval tv = { .tv_sec = w->o.commit_ms / 1000,
				      .tv_usec = (w->o.commit_ms % 1000) * 1000 };

		w->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		w->ev_efd = w->efd >= 0 ? event_new(base, w->efd, EV_READ | EV_PERSIST, on_efd, w) : NULL;
		w->ev_timer = event_new(base, -1, EV_PERSIST, on_timer, w);
		if (!w->ev_efd || !w->ev_timer) {
			rc = vg_errf(err, errlen, -ENOMEM, "cannot register the store with the loop");
			goto fail;
		}
		event_add(w->ev_efd, NULL);
		event_add(w->ev_timer, &tv);
	}
	if (pthread_create(&w->th, NULL, writer, w)) {
		rc = vg_errf(err, errlen, -EAGAIN, "cannot start the store's writer thread");
		goto fail;
	}
	w->th_started = true;
	free(nos);
	*out = w;
	return 0;
fail:
	free(nos);
	vg_wal_close(w);
	return rc;
}

int vg_wal_rewrite(struct vg_wal *w, vg_wal_next_fn next, void *ctx)
{
	uint32_t first = w->seg_no + 1, no = first;
	int fd = seg_create(w, no), rc = 0;
	struct buf b = { 0 };
	uint64_t size = SEG_HDR_LEN;
	const void *p;
	size_t len;
	int more = 0;

	if (fd < 0)
		return fd;
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
	if (rc) {
		char name[64];

		close(fd);
		seg_name(name, sizeof(name), no);
		unlinkat(w->dirfd, name, 0);
		return rc;
	}
	/* the new segment is durable: the old ones go */
	pthread_mutex_lock(&w->mu);
	for (uint32_t i = 1; i < first; i++) {
		char name[64];

		seg_name(name, sizeof(name), i);
		unlinkat(w->dirfd, name, 0);
	}
	close(w->fd);
	w->fd = fd;
	w->seg_no = no;
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
