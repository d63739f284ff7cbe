// SPDX-License-Identifier: BSD-2-Clause
/*
 * ident.c - the façade (ident.h): a lookup opens the executable at once on
 * the loop thread, checks it is the file the kernel saw, and leaves the
 * hashing to the worker (hashd.c); requests for one file, or one container's
 * table, share the work and are all answered when it is done.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>

#include "log.h"
#include "ident_priv.h"

uint64_t ident_now_ns(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts); /* cannot fail with this clock */
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The executable's identity as the kernel recorded it, in user-space dev_t. */
static void key_of_rec(struct fkey *k, const struct vg_exec *r)
{
	k->dev = (uint64_t)makedev(r->exe_dev >> 20, r->exe_dev & 0xfffff);
	k->ino = r->exe_ino;
	k->size = r->exe_size;
	k->ctime_ns = r->exe_ctime_ns;
}

void ident_req_wake(struct vg_ident *id, struct ident_req *r)
{
	if (--r->waits > 0)
		return;
	r->in_use = false;
	r->next_table = id->free_reqs;
	id->free_reqs = r;
	id->n_pending--;
	r->done(r->ctx, r->token); /* last: done() may look up again */
}

/* fd is the executable the kernel saw, a regular file not on FUSE: 0, or -errno (counted). */
static int check_exe(struct vg_ident *id, int fd, const struct fkey *key)
{
	struct stat st;
	struct statfs sfs;
	struct fkey now;

	if (fstat(fd, &st) < 0) {
		id->st.errors++;
		return -errno;
	}
	fkey_of_stat(&now, &st);
	if (!fkey_eq(&now, key))
		return -ENOENT;
	if (!S_ISREG(st.st_mode)) {
		id->st.errors++;
		return -EOPNOTSUPP;
	}
	if (fstatfs(fd, &sfs) == 0 && sfs.f_type == IDENT_FUSE_MAGIC) {
		id->st.fuse++;
		return -EOPNOTSUPP;
	}
	return 0;
}

/*
 * The exec'd path, resolved in the root of the exec's container (relative: to
 * its cwd). Opened O_PATH first, so that a FIFO or a device node swapped in for
 * the file never blocks the loop nor is opened: only a regular file with the
 * recorded identity is then opened for reading, through /proc/self/fd.
 */
static int open_by_path(struct vg_ident *id, struct vg_event *ev, const struct fkey *key)
{
	char path[VG_PATH_MAX + VG_EXE_MAX + 2], self[64];
	int root, fd, rc;

	if (ev->exe[0] != '/') {
		vg_event_paths(ev);
		if (!ev->cwd[0])
			return -ENOENT;
		snprintf(path, sizeof(path), "%s/%s", ev->cwd, ev->exe);
	} else {
		snprintf(path, sizeof(path), "%s", ev->exe);
	}
	root = ident_open_root(id, ev); /* the process is gone: its container's root */
	if (root < 0)
		return root;
	fd = rootscan_open(root, path, O_PATH | O_CLOEXEC);
	(void)close(root); /* O_PATH */
	if (fd < 0)
		return fd;
	rc = check_exe(id, fd, key); /* identity and regular, without opening it */
	if (!rc) {
		snprintf(self, sizeof(self), "/proc/self/fd/%d", fd);
		rc = open(self, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
		if (rc < 0)
			rc = -errno;
	}
	(void)close(fd); /* O_PATH */
	return rc;
}

/* Opens ev's executable now: /proc/PID/exe, else its path; the fd, or -errno (counted). */
static int open_exe(struct vg_ident *id, struct vg_event *ev, const struct fkey *key)
{
	char path[64];
	int fd, rc = -ENOENT;

	snprintf(path, sizeof(path), "/proc/%u/exe", ev->rec->pid);
	fd = open(path, O_PATH | O_CLOEXEC);
	if (fd >= 0) {
		rc = check_exe(id, fd, key); /* identity, regular, not FUSE: before opening it */
		if (rc == 0) {
			snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
			rc = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
			if (rc < 0)
				rc = -errno;
		}
		(void)close(fd); /* O_PATH */
		if (rc != -ENOENT)
			return rc;
	}
	fd = open_by_path(id, ev, key);
	if (fd >= 0)
		return fd;
	if (fd != -ENOENT)
		return fd;
	id->st.gone++;
	return -ENOENT;
}

/* Adds lcname to ev's content names unless there or full. */
static void add_name(struct vg_event *ev, const char *lcname)
{
	struct vg_exe_ident *x = &ev->id;

	for (int i = 0; i < x->n_content; i++)
		if (strcmp(x->content[i], lcname) == 0)
			return;
	if (x->n_content < VG_IDENT_NAMES)
		snprintf(x->content[x->n_content++], VG_IDENT_NAME_MAX, "%s", lcname);
}

static void reset(struct vg_event *ev)
{
	ev->id.n_content = 0;
	ev->id.content_known = false;
	ev->id.has_sha256 = false;
}

int vg_ident_fill(struct vg_ident *id, struct vg_event *ev)
{
	const struct ident_table *t;
	struct centry *e;
	struct fkey key;

	reset(ev);
	if (id->closing)
		return -ECANCELED;
	if (!(ev->rec->flags & VG_EXEC_EXE_KNOWN))
		return -ENODATA;
	key_of_rec(&key, ev->rec);
	if (key.size > id->o.max_file_bytes)
		return -EFBIG;
	e = cache_find(id->cache, &key);
	if (!e || e->state == CE_PENDING)
		return -EAGAIN;
	if (e->state == CE_FAILED)
		return e->err;
	memcpy(ev->id.sha256, e->sha, 32);
	ev->id.has_sha256 = true;
	for (int i = 0; i < id->n_known; i++)
		if (memcmp(id->known[i].sha, e->sha, 32) == 0)
			add_name(ev, id->known[i].lcname);
	t = table_find(id, vg_event_container(ev)->id);
	for (int i = 0; t && t->has_names && i < t->n_names; i++)
		if (!t->names[i].unknown && memcmp(t->names[i].sha, e->sha, 32) == 0)
			add_name(ev, t->names[i].lcname);
	ev->id.content_known = true;
	return 0;
}

/* Opens ev's executable and has it hashed into a pending entry (*e, maybe a failed one). */
static int start_file(struct vg_ident *id, struct vg_event *ev, const struct fkey *key,
		      struct centry **e)
{
	int fd = open_exe(id, ev, key);
	struct hjob *j;

	if (fd < 0)
		return fd;
	j = calloc(1, sizeof(*j));
	if (j && *e)
		cache_unsettle(id->cache, *e);
	else if (j)
		*e = cache_add(id->cache, key, &id->st.evicted);
	if (!j || !*e) {
		(void)close(fd); /* read-only */
		if (!j) {
			id->st.errors++;
			return -ENOMEM;
		}
		free(j);
		id->st.queue_full++; /* every cache entry is a pending hash */
		return -ENOSPC;
	}
	j->kind = HJ_HASH_FD;
	j->fd = fd;
	j->key = *key;
	j->max_bytes = id->o.max_file_bytes;
	hashd_submit(id->hashd, j);
	return 0;
}

/* Starts building t from the root ev's process sees; a failure leaves t as it was. */
static void start_table(struct vg_ident *id, struct ident_table *t, struct vg_event *ev)
{
	int root = ident_open_root(id, ev);

	if (root < 0 || table_start(id, t, root) < 0)
		id->st.errors++;
}

/* A pooled request waiting on e's hash and / or t's build; 0 when nothing to wait for. */
static int wait_on(struct vg_ident *id, struct centry *e, struct ident_table *t,
		   vg_ident_done_fn done, void *ctx, uint64_t token)
{
	struct ident_req *r = id->free_reqs;

	id->free_reqs = r->next_table;
	*r = (struct ident_req){.done = done, .ctx = ctx, .token = token, .in_use = true};
	if (e->state == CE_PENDING) {
		r->next_file = e->waiters;
		e->waiters = r;
		r->waits++;
	}
	if (t && !t->has_names && t->building) {
		r->next_table = t->waiters;
		t->waiters = r;
		r->waits++;
	}
	if (r->waits == 0) {
		r->in_use = false;
		r->next_table = id->free_reqs;
		id->free_reqs = r;
		return 0;
	}
	id->n_pending++;
	return -EINPROGRESS;
}

int vg_ident_lookup(struct vg_ident *id, struct vg_event *ev, vg_ident_done_fn done, void *ctx,
		    uint64_t token)
{
	struct ident_table *t;
	struct centry *e;
	struct fkey key;
	bool start = false, wait;
	int rc;

	reset(ev);
	if (id->closing)
		return -ECANCELED;
	if (!(ev->rec->flags & VG_EXEC_EXE_KNOWN))
		return -ENODATA;
	if (ev->rec->exe_fs_magic == IDENT_FUSE_MAGIC) { /* opening it could block the loop */
		id->st.fuse++;
		return -EOPNOTSUPP;
	}
	key_of_rec(&key, ev->rec);
	if (key.size > id->o.max_file_bytes) {
		id->st.too_big++;
		return -EFBIG;
	}
	e = cache_find(id->cache, &key);
	if (e && e->state == CE_READY)
		id->st.cache_hits++;
	else
		id->st.cache_misses++;
	t = table_get(id, vg_event_container(ev)->id, &start);
	wait = !(e && e->state == CE_READY) || (t && !t->has_names);
	if (wait && !id->free_reqs) {
		id->st.queue_full++;
		return -ENOSPC;
	}
	if (!e || e->state == CE_FAILED) {
		rc = start_file(id, ev, &key, &e);
		if (rc < 0)
			return rc;
	}
	if (t && start) /* a table past its time is rebuilt while the old one answers */
		start_table(id, t, ev);
	rc = wait ? wait_on(id, e, t, done, ctx, token) : 0;
	return rc == 0 ? vg_ident_fill(id, ev) : rc;
}

/* A file's hash is done: it settles in the cache, and its waiters are woken. */
static void file_done(struct vg_ident *id, struct hjob *j)
{
	struct centry *e = cache_find(id->cache, &j->key);
	struct fkey key = j->key;
	uint8_t sha[32];
	int err = j->err;
	struct ident_req *r;

	memcpy(sha, j->sha, 32);
	if (err == 0) {
		id->st.hashed++;
		id->st.hash_bytes += j->bytes_read;
	} else if (err == -ENOENT) {
		id->st.gone++;
	} else if (err != -ECANCELED) {
		id->st.errors++;
	}
	free(j);
	if (!e || e->state != CE_PENDING)
		return; /* cannot happen: a pending entry is never evicted */
	e->state = err ? CE_FAILED : CE_READY;
	e->err = err;
	memcpy(e->sha, sha, 32);
	r = e->waiters;
	e->waiters = NULL;
	cache_settle(id->cache, e);
	/* e may be reused by a done() below: only the copies are used from here */
	table_hash_done(id, &key, err ? NULL : sha);
	while (r) {
		struct ident_req *next = r->next_file;

		ident_req_wake(id, r);
		r = next;
	}
}

static void on_job(void *ctx, struct hjob *j)
{
	struct vg_ident *id = ctx;

	if (j->kind == HJ_SCAN)
		table_scan_done(id, j);
	else
		file_done(id, j);
}

static void apply_defaults(struct vg_ident_opts *o)
{
	if (o->cache_entries == 0)
		o->cache_entries = 4096;
	if (o->max_file_bytes == 0)
		o->max_file_bytes = 64ull << 20;
	if (o->max_pending <= 0)
		o->max_pending = 1024;
	if (o->table_ttl_s <= 0)
		o->table_ttl_s = 300;
}

int vg_ident_new(struct vg_ident **out, const struct vg_ident_opts *o, char *err, size_t n)
{
	struct vg_ident *id;
	int rc;

	if (!o->base)
		return vg_errf(err, n, -EINVAL, "content identity: no event loop");
	id = calloc(1, sizeof(*id));
	if (!id)
		return vg_errf(err, n, -ENOMEM, "content identity: out of memory");
	id->o = *o;
	apply_defaults(&id->o);
	id->reqs = calloc((size_t)id->o.max_pending, sizeof(*id->reqs));
	id->root_override = o->root_override ? strdup(o->root_override) : NULL;
	rc = cache_new(&id->cache, id->o.cache_entries);
	if (!id->reqs || (o->root_override && !id->root_override) || rc < 0) {
		vg_ident_free(id);
		return vg_errf(err, n, rc < 0 ? rc : -ENOMEM, "content identity: cache of %zu: %s",
			       id->o.cache_entries, strerror(rc < 0 ? -rc : ENOMEM));
	}
	for (int i = 0; i < id->o.max_pending; i++) {
		id->reqs[i].next_table = id->free_reqs;
		id->free_reqs = &id->reqs[i];
	}
	rc = hashd_new(&id->hashd, id->o.base, on_job, id);
	if (rc < 0) {
		vg_ident_free(id);
		return vg_errf(err, n, rc, "content identity: worker thread: %s", strerror(-rc));
	}
	*out = id;
	return 0;
}

void vg_ident_free(struct vg_ident *id)
{
	if (!id)
		return;
	id->closing = true;
	hashd_free(id->hashd); /* answers every job: their waiters' done() run now */
	for (int i = 0; id->reqs && i < id->o.max_pending; i++) {
		struct ident_req *r = &id->reqs[i];

		if (r->in_use) { /* not expected: every wait hangs on a job */
			r->in_use = false;
			r->done(r->ctx, r->token);
		}
	}
	table_free_all(id);
	cache_free(id->cache);
	free(id->known);
	free(id->reqs);
	free(id->root_override);
	free(id);
}

int vg_ident_set_known(struct vg_ident *id, const char *const *names, const uint8_t (*sha)[32],
		       int n)
{
	struct known_hash *k = n > 0 ? calloc((size_t)n, sizeof(*k)) : NULL;

	if (n > 0 && !k)
		return -ENOMEM;
	for (int i = 0; i < n; i++) {
		size_t j;

		memcpy(k[i].sha, sha[i], 32);
		for (j = 0; names[i][j] && j + 1 < VG_IDENT_NAME_MAX; j++)
			k[i].lcname[j] = (char)tolower((unsigned char)names[i][j]);
		k[i].lcname[j] = '\0';
	}
	free(id->known);
	id->known = k;
	id->n_known = n > 0 ? n : 0;
	table_flush(id);
	return 0;
}

void vg_ident_flush_tables(struct vg_ident *id)
{
	table_flush(id);
}

void vg_ident_stats(const struct vg_ident *id, struct vg_ident_stats *st)
{
	*st = id->st;
}
