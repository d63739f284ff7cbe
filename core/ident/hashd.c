// SPDX-License-Identifier: BSD-2-Clause
/*
 * hashd.c - the worker thread: takes jobs from a queue, hashes files with
 * OpenSSL's SHA-256 in chunks or lists a root's PATH directories, and hands
 * finished jobs back to the loop through an eventfd watched by libevent. The
 * worker touches only its jobs: never libevent, never the caller's state.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <event2/event.h>
#include <openssl/evp.h>

#include "ident_priv.h"

#define CHUNK (256 * 1024)

struct jqueue {
	struct hjob *head, *tail;
};

struct hashd {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct jqueue queued, done; /* under mu */
	bool stop;		    /* under mu; also read between chunks */
	int efd;
	struct event *ev;
	hashd_done_fn done_fn;
	void *ctx;
	EVP_MD_CTX *md; /* worker's */
	unsigned char *buf;
};

static void jq_push(struct jqueue *q, struct hjob *j)
{
	j->next = NULL;
	if (q->tail)
		q->tail->next = j;
	else
		q->head = j;
	q->tail = j;
}

static struct hjob *jq_take_all(struct jqueue *q)
{
	struct hjob *j = q->head;

	q->head = q->tail = NULL;
	return j;
}

static bool stopping(struct hashd *h)
{
	bool s;

	pthread_mutex_lock(&h->mu);
	s = h->stop;
	pthread_mutex_unlock(&h->mu);
	return s;
}

int hashd_sha256(struct hashd *h, int fd, uint64_t max, uint8_t sha[32], uint64_t *read_bytes)
{
	uint64_t off = 0;
	unsigned int len = 0;

	if (EVP_DigestInit_ex(h->md, EVP_sha256(), NULL) != 1)
		return -EIO;
	for (;;) {
		size_t want = max - off < CHUNK ? (size_t)(max - off) : CHUNK;
		ssize_t got;

		if (want == 0)
			break;
		if (stopping(h))
			return -ECANCELED;
		got = pread(fd, h->buf, want, (off_t)off);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return -errno;
		if (got == 0)
			break;
		if (EVP_DigestUpdate(h->md, h->buf, (size_t)got) != 1)
			return -EIO;
		off += (uint64_t)got;
		*read_bytes = off;
	}
	if (EVP_DigestFinal_ex(h->md, sha, &len) != 1 || len != 32)
		return -EIO;
	return 0;
}

/* Hashes j->fd, then checks the file did not change meanwhile. */
static int hash_fd(struct hashd *h, struct hjob *j)
{
	struct stat st;
	struct fkey now;
	int rc = hashd_sha256(h, j->fd, j->max_bytes, j->sha, &j->bytes_read);

	if (rc < 0)
		return rc;
	if (fstat(j->fd, &st) < 0)
		return -errno;
	fkey_of_stat(&now, &st);
	return fkey_eq(&now, &j->key) ? 0 : -ENOENT;
}

void (*hashd_test_before_hash_at)(const struct hjob *j);

/*
 * Opens rel under root for reading, as a regular file only: O_PATH first, so
 * that a FIFO or a device node swapped in for the file is never opened (a
 * FIFO's open would block the worker), then reopened through /proc/self/fd.
 * The fd and its stat in *st, or -errno (-EOPNOTSUPP: not a regular file).
 */
static int open_regular_at(int root, const char *rel, struct stat *st)
{
	int path_fd = rootscan_open(root, rel, O_PATH | O_CLOEXEC | O_NOFOLLOW), fd;
	char self[64];

	if (path_fd < 0)
		return path_fd;
	if (fstat(path_fd, st) < 0)
		fd = -errno;
	else if (!S_ISREG(st->st_mode))
		fd = -EOPNOTSUPP;
	else {
		(void)snprintf(self, sizeof(self), "/proc/self/fd/%d", path_fd);
		fd = open(self, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
		if (fd < 0)
			fd = -errno;
	}
	(void)close(path_fd); /* O_PATH: nothing to report */
	return fd;
}

/*
 * Opens j->path under the root j->fd and hashes it as it is now: a table's
 * name may have changed since the scan (a hard link made to it changes its
 * ctime), and what the table needs is the content found at that path. The
 * identity read is j->found, which the hash belongs to (not always j->key).
 * Only a change while it is read fails (-ENOENT).
 */
static int hash_at(struct hashd *h, struct hjob *j)
{
	struct fkey before, after;
	struct stat st;
	int fd = open_regular_at(j->fd, j->path, &st), rc;

	if (fd < 0)
		return fd;
	fkey_of_stat(&before, &st);
	j->found = before;
	rc = hashd_sha256(h, fd, j->max_bytes, j->sha, &j->bytes_read);
	if (!rc && fstat(fd, &st) < 0)
		rc = -errno;
	if (!rc) {
		fkey_of_stat(&after, &st);
		rc = fkey_eq(&before, &after) ? 0 : -ENOENT;
	}
	(void)close(fd); /* read-only: nothing to report */
	return rc;
}

static void run_job(struct hashd *h, struct hjob *j)
{
	switch (j->kind) {
	case HJ_HASH_FD:
		j->err = hash_fd(h, j);
		break;
	case HJ_HASH_AT:
		if (hashd_test_before_hash_at)
			hashd_test_before_hash_at(j);
		j->err = hash_at(h, j);
		break;
	case HJ_SCAN:
		j->err = rootscan_run(j);
		break;
	}
	(void)close(j->fd); /* read-only or O_PATH */
	j->fd = -1;
}

static void *worker(void *arg)
{
	struct hashd *h = arg;
	const uint64_t one = 1;

	pthread_mutex_lock(&h->mu);
	for (;;) {
		struct hjob *j;

		while (!h->stop && !h->queued.head)
			pthread_cond_wait(&h->cv, &h->mu);
		if (h->stop)
			break;
		j = h->queued.head;
		h->queued.head = j->next;
		if (!h->queued.head)
			h->queued.tail = NULL;
		pthread_mutex_unlock(&h->mu);
		run_job(h, j);
		pthread_mutex_lock(&h->mu);
		jq_push(&h->done, j);
		/* an eventfd counter cannot overflow here; a failed write is seen at stop */
		(void)!write(h->efd, &one, sizeof(one));
	}
	pthread_mutex_unlock(&h->mu);
	return NULL;
}

/* Loop thread: a finished job to its first step, then to done(). */
static void finish_job(struct hashd *h, struct hjob *j)
{
	if (j->first)
		j->first(h->ctx, j);
	h->done_fn(h->ctx, j);
}

/* Loop thread: hands every finished job to done(). */
static void on_wake(evutil_socket_t fd, short what, void *arg)
{
	struct hashd *h = arg;
	uint64_t count;
	struct hjob *j;

	(void)what;
	(void)!read(fd, &count, sizeof(count)); /* EAGAIN: already drained, fine */
	pthread_mutex_lock(&h->mu);
	j = jq_take_all(&h->done);
	pthread_mutex_unlock(&h->mu);
	while (j) {
		struct hjob *next = j->next;

		finish_job(h, j);
		j = next;
	}
}

static int setup(struct hashd *h, struct event_base *base)
{
	h->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (h->efd < 0)
		return -errno;
	h->md = EVP_MD_CTX_new();
	h->buf = malloc(CHUNK);
	if (!h->md || !h->buf)
		return -ENOMEM;
	h->ev = event_new(base, h->efd, EV_READ | EV_PERSIST, on_wake, h);
	if (!h->ev || event_add(h->ev, NULL) < 0)
		return -ENOMEM;
	return -pthread_create(&h->thread, NULL, worker, h);
}

static void release(struct hashd *h)
{
	if (h->ev)
		event_free(h->ev);
	if (h->efd >= 0)
		(void)close(h->efd); /* eventfd: nothing to report */
	EVP_MD_CTX_free(h->md);
	free(h->buf);
	pthread_cond_destroy(&h->cv);
	pthread_mutex_destroy(&h->mu);
	free(h);
}

int hashd_new(struct hashd **out, struct event_base *base, hashd_done_fn done, void *ctx)
{
	struct hashd *h = calloc(1, sizeof(*h));
	int rc;

	if (!h)
		return -ENOMEM;
	pthread_mutex_init(&h->mu, NULL);
	pthread_cond_init(&h->cv, NULL);
	h->efd = -1;
	h->done_fn = done;
	h->ctx = ctx;
	rc = setup(h, base);
	if (rc < 0) {
		release(h);
		return rc;
	}
	*out = h;
	return 0;
}

void hashd_submit(struct hashd *h, struct hjob *j)
{
	j->err = 0;
	pthread_mutex_lock(&h->mu);
	jq_push(&h->queued, j);
	pthread_cond_signal(&h->cv);
	pthread_mutex_unlock(&h->mu);
}

void hashd_free(struct hashd *h)
{
	struct hjob *queued, *done;

	if (!h)
		return;
	pthread_mutex_lock(&h->mu);
	h->stop = true;
	pthread_cond_signal(&h->cv);
	pthread_mutex_unlock(&h->mu);
	(void)pthread_join(h->thread, NULL); /* our own thread: cannot fail */
	queued = jq_take_all(&h->queued);
	done = jq_take_all(&h->done);
	for (struct hjob *j = queued, *next; j; j = next) {
		next = j->next;
		(void)close(j->fd); /* not run: its fd is still ours */
		j->fd = -1;
		j->err = -ECANCELED;
		finish_job(h, j);
	}
	for (struct hjob *j = done, *next; j; j = next) {
		next = j->next;
		finish_job(h, j);
	}
	release(h);
}
