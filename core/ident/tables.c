// SPDX-License-Identifier: BSD-2-Clause
/*
 * tables.c - each container's name table (loop thread): the worker lists the
 * root's PATH directories, this file keeps the names some policy can match
 * (opts.wanted) and has them hashed through the shared cache, then the table
 * maps content to names (several files, hence contents, may have one name). At most IDENT_TABLES of
 * them, least recently used first out; one is rebuilt after opts.table_ttl_s.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ident_priv.h"

struct ident_table *table_find(struct vg_ident *id, const char *ctr)
{
	for (int i = 0; i < IDENT_TABLES; i++)
		if (id->tables[i].used && strcmp(id->tables[i].ctr, ctr) == 0)
			return &id->tables[i];
	return NULL;
}

static void forget(struct ident_table *t)
{
	free(t->names);
	t->names = NULL;
	t->n_names = 0;
	t->has_names = false;
}

/* An unused slot, or the least recently used one not being built; NULL when all are. */
static struct ident_table *free_slot(struct vg_ident *id)
{
	struct ident_table *old = NULL;

	for (int i = 0; i < IDENT_TABLES; i++) {
		struct ident_table *t = &id->tables[i];

		if (!t->used)
			return t;
		if (!t->building && (!old || t->used_ns < old->used_ns))
			old = t;
	}
	if (old)
		forget(old);
	return old;
}

struct ident_table *table_get(struct vg_ident *id, const char *ctr, bool *start)
{
	struct ident_table *t = table_find(id, ctr);
	uint64_t now = ident_now_ns();

	if (!t) {
		t = free_slot(id);
		if (!t)
			return NULL;
		memset(t, 0, sizeof(*t));
		t->used = true;
		t->root = -1;
		snprintf(t->ctr, sizeof(t->ctr), "%s", ctr);
	}
	t->used_ns = now;
	*start = !t->building && (!t->has_names || t->stale ||
				  now - t->built_ns > (uint64_t)id->o.table_ttl_s * 1000000000ull);
	return t;
}

int table_start(struct vg_ident *id, struct ident_table *t, int root)
{
	struct hjob *j = calloc(1, sizeof(*j));
	int fd = fcntl(root, F_DUPFD_CLOEXEC, 0);

	if (!j || fd < 0) {
		free(j);
		if (fd >= 0)
			(void)close(fd); /* O_PATH */
		(void)close(root);	 /* O_PATH */
		return -ENOMEM;
	}
	j->kind = HJ_SCAN;
	j->fd = fd;
	j->table = (int)(t - id->tables);
	t->root = root;
	t->building = t->scanning = true;
	t->stale = false;
	hashd_submit(id->hashd, j);
	return 0;
}

/* The build is complete: it answers from now on, and its waiters are woken. */
static void finish(struct vg_ident *id, struct ident_table *t)
{
	struct ident_req *r = t->waiters;

	forget(t);
	t->names = t->build;
	t->n_names = t->n_build;
	t->build = NULL;
	t->n_build = t->cap_build = 0;
	t->has_names = true;
	t->building = false;
	t->built_ns = ident_now_ns();
	if (t->root >= 0)
		(void)close(t->root); /* O_PATH */
	t->root = -1;
	id->st.tables_built++;
	t->waiters = NULL;
	while (r) {
		struct ident_req *next = r->next_table;

		ident_req_wake(id, r);
		r = next;
	}
}

/*
 * The same file under the same name (bin and usr/bin may be one directory).
 * Another file of a name is kept too: a planted usr/local/bin/dpkg must not
 * hide usr/bin/dpkg's content.
 */
static bool already(const struct ident_table *t, const char *lcname, const struct fkey *key)
{
	for (int i = 0; i < t->n_build; i++)
		if (fkey_eq(&t->build[i].key, key) && strcmp(t->build[i].lcname, lcname) == 0)
			return true;
	return false;
}

/* Has n (a name of t) hashed under t's root, unless its hash is known or coming. */
static void want_hash(struct vg_ident *id, struct ident_table *t, struct tname *n,
		      const struct scan_name *s)
{
	struct centry *e = cache_find(id->cache, &n->key);
	struct hjob *j;

	if (e && e->state == CE_READY) {
		memcpy(n->sha, e->sha, 32);
		return;
	}
	if (e && e->state == CE_PENDING) {
		n->pending = true;
		t->waits++;
		return;
	}
	j = calloc(1, sizeof(*j));
	if (e)
		cache_unsettle(id->cache, e);
	else
		e = cache_add(id->cache, &n->key, &id->st.evicted);
	if (!j || !e || id->closing) {
		n->unknown = true;
		id->st.errors++;
		if (e) {
			e->state = CE_FAILED;
			e->err = -ENOMEM;
			cache_settle(id->cache, e);
		}
		free(j);
		return;
	}
	j->kind = HJ_HASH_AT;
	j->first = table_hash_at_first;
	j->fd = fcntl(t->root, F_DUPFD_CLOEXEC, 0);
	j->key = n->key;
	j->max_bytes = id->o.max_file_bytes;
	snprintf(j->path, sizeof(j->path), "%s/%s", rootscan_dirs[s->dir], s->name);
	n->pending = true;
	t->waits++;
	hashd_submit(id->hashd, j); /* a failed dup is reported by the worker as EBADF */
}

/* Keeps the scanned name s in t's build when a policy can match it. */
static void keep(struct vg_ident *id, struct ident_table *t, const struct scan_name *s)
{
	char lc[VG_IDENT_NAME_MAX];
	struct tname *n;
	size_t i;

	for (i = 0; s->name[i]; i++)
		lc[i] = (char)tolower((unsigned char)s->name[i]);
	lc[i] = '\0';
	if (t->n_build >= IDENT_TABLE_NAMES || !id->o.wanted ||
	    !id->o.wanted(id->o.wanted_ctx, lc) || already(t, lc, &s->key))
		return;
	if (s->key.size > id->o.max_file_bytes) {
		id->st.too_big++;
		return;
	}
	if (t->n_build == t->cap_build) {
		int cap = t->cap_build ? t->cap_build * 2 : 16;
		struct tname *grown = realloc(t->build, (size_t)cap * sizeof(*grown));

		if (!grown) {
			id->st.errors++;
			return;
		}
		t->build = grown;
		t->cap_build = cap;
	}
	n = &t->build[t->n_build++];
	memset(n, 0, sizeof(*n));
	memcpy(n->lcname, lc, i + 1);
	n->key = s->key;
	want_hash(id, t, n, s);
}

void table_scan_done(struct vg_ident *id, struct hjob *j)
{
	struct ident_table *t = &id->tables[j->table];

	t->scanning = false;
	id->st.fuse += (uint64_t)j->n_fuse;
	id->st.scan_truncated += (uint64_t)j->n_truncated;
	if (j->err < 0 && j->err != -ECANCELED)
		id->st.errors++;
	t->build = NULL;
	t->n_build = t->cap_build = 0;
	t->waits = 0;
	for (int i = 0; !id->closing && i < j->n_names; i++)
		keep(id, t, &j->names[i]);
	free(j->names);
	free(j);
	if (t->waits == 0)
		finish(id, t);
}

void table_hash_done(struct vg_ident *id, const struct fkey *key, const uint8_t *sha)
{
	for (int i = 0; i < IDENT_TABLES; i++) {
		struct ident_table *t = &id->tables[i];
		bool waited = false;

		if (!t->used || !t->building || t->scanning)
			continue;
		for (int k = 0; k < t->n_build; k++) {
			struct tname *n = &t->build[k];

			if (!n->pending || !fkey_eq(&n->key, key))
				continue;
			n->pending = false;
			if (sha)
				memcpy(n->sha, sha, 32);
			else
				n->unknown = true;
			t->waits--;
			waited = true;
		}
		if (waited && t->waits == 0)
			finish(id, t);
	}
}

/* sha belongs to the file of identity found: cached (unless being hashed already). */
static void cache_found(struct vg_ident *id, const struct fkey *found, const uint8_t *sha)
{
	struct centry *e = cache_find(id->cache, found);

	bool added = false;

	if (e && e->state == CE_PENDING)
		return; /* its own hash settles it */
	if (!e) {
		e = cache_add(id->cache, found, &id->st.evicted);
		if (!e)
			return; /* every entry pending: it is hashed again when asked */
		added = true;
	}
	e->state = CE_READY;
	e->err = 0;
	memcpy(e->sha, sha, 32);
	if (added) /* a settled entry is in the LRU order already */
		cache_settle(id->cache, e);
}

void table_hash_at_first(void *ctx, struct hjob *j)
{
	struct vg_ident *id = ctx;

	if (j->err != 0 || fkey_eq(&j->found, &j->key))
		return; /* the scanned file itself, or no hash: done() does it all */
	id->st.hashed++;
	id->st.hash_bytes += j->bytes_read;
	cache_found(id, &j->found, j->sha);
	/* the names scanned under key are the path's: they get its content now */
	table_hash_done(id, &j->key, j->sha);
	/* what was read is not key's file: key's entry fails (done() counts it gone) */
	j->err = -ENOENT;
}

void table_flush(struct vg_ident *id)
{
	for (int i = 0; i < IDENT_TABLES; i++) {
		struct ident_table *t = &id->tables[i];

		if (!t->used)
			continue;
		if (t->building)
			t->stale = true;
		else
			forget(t);
	}
}

void table_free_all(struct vg_ident *id)
{
	for (int i = 0; i < IDENT_TABLES; i++) {
		struct ident_table *t = &id->tables[i];

		forget(t);
		free(t->build);
		t->build = NULL;
		if (t->root >= 0 && t->used)
			(void)close(t->root); /* O_PATH */
		t->used = false;
	}
}
