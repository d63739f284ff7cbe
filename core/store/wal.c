// SPDX-License-Identifier: BSD-2-Clause
/*
 * wal.c - the log's writer: records framed into a buffer by the loop,
 * written and fsynced by a thread (group commit), acknowledged back on the
 * loop through an eventfd; compaction's rewrite; open and close. Reading
 * the log back at open is wal_recover.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "crc32c.h"
#include "log.h"
#include "safefile.h"
#include "wal_priv.h"

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

int wal_write_all(int fd, const unsigned char *p, size_t n)
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
static int wal_seg_create_as(struct vg_wal *w, uint32_t no, const char *name)
{
	unsigned char h[SEG_HDR_LEN];
	char own[64];
	int fd, rc;

	memcpy(h, SEG_MAGIC, 8);
	wal_put32(h + 8, no);
	wal_put32(h + 12, w->base);
	wal_put32(h + 16, vg_crc32c(0, h, 16));
	if (!name) {
		wal_seg_name(own, sizeof(own), no);
		name = own;
	}
	fd = openat(w->dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	rc = wal_write_all(fd, h, SEG_HDR_LEN);
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

int wal_seg_create(struct vg_wal *w, uint32_t no)
{
	return wal_seg_create_as(w, no, NULL);
}

/* ---- writer thread ----------------------------------------------------- */

/* Writes and fsyncs w->wr at the end of the segment (the writer, unlocked). 0 or -errno. */
static int write_batch(struct vg_wal *w)
{
	uint64_t before = w->seg_size;
	int rc = wal_write_all(w->fd, w->wr.p, w->wr.len);

	if (!rc && fdatasync(w->fd))
		rc = -errno;
	if (rc) { /* no torn record stays behind: back to the last durable size, write from there */
		(void)!ftruncate(w->fd, (off_t)before); /* failing too: replay skips the tail */
		(void)lseek(w->fd, (off_t)before, SEEK_SET);
		return rc;
	}
	w->seg_size += w->wr.len;
	if (w->seg_size > w->o.segment_max) {
		int nfd = wal_seg_create(w, w->seg_no + 1);

		if (nfd >= 0) { /* else the segment grows on, and the next batch tries again */
			(void)close(w->fd); /* fdatasync'd above */
			w->fd = nfd;
			w->seg_no++;
			w->seg_size = SEG_HDR_LEN;
		}
	}
	return 0;
}

/*
 * A batch the disk refused (locked): counted, a waiting sync() told, and a
 * pause before the next try. True when stopping: what is left is reported.
 */
static bool write_failed(struct vg_wal *w, int rc)
{
	struct timespec ts;

	w->st.write_errors++;
	w->st.last_errno = -rc;
	w->failing = true;
	pthread_cond_broadcast(&w->done_cv); /* a waiting sync() learns of it */
	if (w->stop)
		return true;
	/* back off: the disk is full or failing; the timer kicks again */
	(void)clock_gettime(CLOCK_REALTIME, &ts); /* CLOCK_REALTIME cannot fail */
	ts.tv_nsec += 100 * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	(void)pthread_cond_timedwait(&w->cv, &w->mu, &ts); /* a timeout is the point */
	return false;
}

/* A batch durable (locked): acknowledged to sync() and to the loop. */
static void write_done(struct vg_wal *w)
{
	uint64_t one = 1;

	w->failing = false;
	w->st.committed += w->seq_wr_end - w->seq_durable;
	w->st.fsyncs++;
	w->st.bytes_on_disk += w->wr.len;
	w->seq_durable = w->seq_wr_end;
	w->wr.len = 0;
	pthread_cond_broadcast(&w->done_cv);
	if (w->efd >= 0)
		(void)!write(w->efd, &one, sizeof(one)); /* the counter is full: the loop wakes */
}

static void *writer(void *arg)
{
	struct vg_wal *w = arg;

	pthread_mutex_lock(&w->mu);
	for (;;) {
		int rc;

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
		rc = write_batch(w);
		pthread_mutex_lock(&w->mu);
		if (!rc) {
			write_done(w);
			continue;
		}
		if (write_failed(w, rc))
			break; /* shutting down on a full disk: what is left is reported */
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

		wal_put32(p, FRAME_MAGIC);
		wal_put32(p + 4, (uint32_t)len);
		wal_put32(p + 8, vg_crc32c(0, recs[i].iov_base, len));
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

/* The options, with their defaults filled in, and nothing open yet. */
static struct vg_wal *wal_new(const struct vg_wal_opts *o)
{
	struct vg_wal *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
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
	return w;
}

/* The store directory, made if missing, safe (ours, writable by nobody else, no links). */
static int open_dir(struct vg_wal *w, char *err, size_t errlen)
{
	int rc;

	if (mkdir(w->dir, 0700) && errno != EEXIST)
		return vg_errf(err, errlen, -errno, "cannot create the store directory %s: %s",
			       w->dir, strerror(errno));
	rc = vg_safe_subdir(w->dir, err, errlen);
	if (rc)
		return rc;
	w->dirfd = open(w->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (w->dirfd < 0)
		return vg_errf(err, errlen, -errno, "cannot open the store directory %s: %s",
			       w->dir, strerror(errno));
	return 0;
}

/* The eventfd the writer wakes the loop with, and the group commit timer. */
static int register_loop(struct vg_wal *w, struct event_base *base, char *err, size_t errlen)
{
	struct timeval tv = {.tv_sec = w->o.commit_ms / 1000,
			     .tv_usec = (w->o.commit_ms % 1000) * 1000};

	w->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->efd >= 0)
		w->ev_efd = event_new(base, w->efd, EV_READ | EV_PERSIST, on_efd, w);
	w->ev_timer = event_new(base, -1, EV_PERSIST, on_timer, w);
	if (!w->ev_efd || !w->ev_timer || event_add(w->ev_efd, NULL) || event_add(w->ev_timer, &tv))
		return vg_errf(err, errlen, -ENOMEM, "cannot register the store with the loop");
	return 0;
}

int vg_wal_open(struct vg_wal **out, const struct vg_wal_opts *o, struct event_base *base,
		vg_wal_replay_cb cb, void *ctx, struct vg_wal_report *rep, char *err, size_t errlen)
{
	struct vg_wal *w = wal_new(o);
	int rc;

	*out = NULL;
	memset(rep, 0, sizeof(*rep));
	if (!w)
		return vg_errf(err, errlen, -ENOMEM, "out of memory");
	rc = open_dir(w, err, errlen);
	if (!rc)
		rc = wal_recover(w, cb, ctx, rep, err, errlen);
	if (rc)
		goto fail;
	w->rep = *rep;
	if (base) {
		rc = register_loop(w, base, err, errlen);
		if (rc)
			goto fail;
	}
	if (start_writer(w)) {
		rc = vg_errf(err, errlen, -EAGAIN, "cannot start the store's writer thread");
		goto fail;
	}
	w->th_started = true;
	*out = w;
	return 0;
fail:
	vg_wal_close(w);
	return rc;
}

/* Frames every record next() gives into fd, 1 MiB at a time; *size grows by what it wrote. */
static int write_frames(int fd, vg_wal_next_fn next, void *ctx, uint64_t *size)
{
	struct buf b = {0};
	const void *p;
	size_t len;
	int more, rc = 0;

	while (!rc && (more = next(ctx, &p, &len)) > 0) {
		unsigned char *h;

		rc = buf_reserve(&b, len + FRAME_HDR);
		if (rc)
			break;
		h = b.p + b.len;
		wal_put32(h, FRAME_MAGIC);
		wal_put32(h + 4, (uint32_t)len);
		wal_put32(h + 8, vg_crc32c(0, p, len));
		memcpy(h + FRAME_HDR, p, len);
		b.len += len + FRAME_HDR;
		if (b.len > (1u << 20)) {
			rc = wal_write_all(fd, b.p, b.len);
			*size += b.len;
			b.len = 0;
		}
	}
	if (!rc && more < 0)
		rc = more; /* the producer failed: a partial log must not replace the whole one */
	if (!rc)
		rc = wal_write_all(fd, b.p, b.len);
	*size += b.len;
	free(b.p);
	return rc;
}

/* The segments before first go (if this stops half way, the next open finishes it). */
static void drop_before(struct vg_wal *w, uint32_t first)
{
	uint32_t *nos;
	size_t nn;

	if (wal_list_segs(w, &nos, &nn))
		return; /* they stay, below the base: open removes them */
	for (size_t i = 0; i < nn; i++) {
		char old[64];

		wal_seg_name(old, sizeof(old), nos[i]);
		if (nos[i] < first)
			(void)unlinkat(w->dirfd, old, 0); /* left: open removes it */
	}
	free(nos);
}

int vg_wal_rewrite(struct vg_wal *w, vg_wal_next_fn next, void *ctx)
{
	uint32_t first = w->seg_no + 1, old_base = w->base;
	char name[64], tmp[80];
	uint64_t size = SEG_HDR_LEN;
	int fd, rc;

	/*
	 * The new segment starts the log (its header says so): written under a
	 * temporary name, it takes its own only once complete and durable.
	 */
	wal_seg_name(name, sizeof(name), first);
	snprintf(tmp, sizeof(tmp), "%s.tmp", name);
	w->base = first;
	fd = wal_seg_create_as(w, first, tmp);
	if (fd < 0) {
		w->base = old_base;
		return fd;
	}
	rc = write_frames(fd, next, ctx, &size);
	if (!rc && fdatasync(fd))
		rc = -errno;
	if (!rc && (renameat(w->dirfd, tmp, w->dirfd, name) || fsync(w->dirfd)))
		rc = -errno;
	if (rc) {
		(void)close(fd);		  /* abandoned */
		(void)unlinkat(w->dirfd, tmp, 0); /* a leftover .tmp is never read */
		w->base = old_base;
		return rc;
	}
	pthread_mutex_lock(&w->mu);
	drop_before(w, first);
	(void)close(w->fd); /* synced before the rewrite */
	w->fd = fd;
	w->seg_no = first;
	w->seg_size = size;
	w->st.bytes_on_disk = size;
	pthread_mutex_unlock(&w->mu);
	(void)fsync(w->dirfd); /* the removals: open redoes them if they are lost */
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
