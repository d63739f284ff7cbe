/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * ident_priv.h - the parts of core/ident/ shared between its files: a file's
 * identity, the hash cache (cache.c), the worker and its jobs (hashd.c,
 * rootscan.c) and the containers' name tables (tables.c).
 */
#ifndef VG_IDENT_PRIV_H
#define VG_IDENT_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "ident.h"

#define IDENT_FUSE_MAGIC 0x65735546		  /* statfs f_type of FUSE */
#define IDENT_REL_MAX	 (32 + VG_IDENT_NAME_MAX) /* "usr/local/sbin/" + a name */

/* A file as it is while unchanged; dev is the user-space st_dev. */
struct fkey {
	uint64_t dev, ino, size, ctime_ns;
};

static inline void fkey_of_stat(struct fkey *k, const struct stat *st)
{
	k->dev = (uint64_t)st->st_dev;
	k->ino = (uint64_t)st->st_ino;
	k->size = (uint64_t)st->st_size;
	k->ctime_ns = (uint64_t)st->st_ctim.tv_sec * 1000000000ull + (uint64_t)st->st_ctim.tv_nsec;
}

static inline bool fkey_eq(const struct fkey *a, const struct fkey *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	       a->ctime_ns == b->ctime_ns;
}

/* ---- cache.c: file hashes by identity, bounded, LRU ------------------------------------ */

enum centry_state { CE_FREE, CE_PENDING, CE_READY, CE_FAILED };

struct ident_req;

struct centry {
	struct fkey key;
	uint8_t sha[32];
	int err;		   /* CE_FAILED: -errno */
	enum centry_state state;   /* CE_PENDING entries are never evicted */
	struct ident_req *waiters; /* lookups waiting on this hash (ident.c) */
	uint32_t hnext, lprev, lnext;
};

struct ident_cache;

int cache_new(struct ident_cache **out, size_t entries);
void cache_free(struct ident_cache *c);
/* The entry of key, or NULL; a settled entry becomes the most recently used. */
struct centry *cache_find(struct ident_cache *c, const struct fkey *key);
/*
 * A new CE_PENDING entry for key (not in the cache), evicting the least
 * recently used settled entry when full (*evicted counts it); NULL when
 * every entry is pending.
 */
struct centry *cache_add(struct ident_cache *c, const struct fkey *key, uint64_t *evicted);
/* e's state was set to CE_READY or CE_FAILED: it joins the LRU order. */
void cache_settle(struct ident_cache *c, struct centry *e);
/* e becomes CE_PENDING again (a failed hash retried): out of the LRU order. */
void cache_unsettle(struct ident_cache *c, struct centry *e);
size_t cache_count(const struct ident_cache *c);

/* ---- hashd.c: the worker thread and its jobs ------------------------------------------- */

enum hjob_kind {
	HJ_HASH_FD, /* hash fd (owned by the job), expected to be key */
	HJ_HASH_AT, /* open path under root fd (owned), check it is key, hash it */
	HJ_SCAN,    /* list the PATH directories under root fd (owned) */
};

/* One regular file in a container's PATH directories. */
struct scan_name {
	struct fkey key;
	uint8_t dir; /* index in rootscan_dirs[] */
	char name[VG_IDENT_NAME_MAX];
};

struct hjob;
struct hashd;
typedef void (*hashd_done_fn)(void *ctx, struct hjob *j);

struct hjob {
	struct hjob *next;
	enum hjob_kind kind;
	/* loop thread, before the hashd's done(): a job's own first step; NULL none */
	hashd_done_fn first;
	int fd;
	char path[IDENT_REL_MAX]; /* HJ_HASH_AT */
	struct fkey key;	  /* HJ_HASH_*: the file's expected identity */
	uint64_t max_bytes;
	int table; /* HJ_SCAN: the table's slot (tables.c) */
	/* results, set by the worker */
	int err; /* 0, or -errno; -ECANCELED when the worker stopped first */
	uint8_t sha[32];
	uint64_t bytes_read;
	struct fkey found;	 /* HJ_HASH_AT: the identity of the file read (maybe not key) */
	struct scan_name *names; /* HJ_SCAN: malloc'd, n_names of them */
	int n_names;
	int n_fuse;	 /* HJ_SCAN: directories skipped because on FUSE */
	int n_truncated; /* HJ_SCAN: directories with more files than were kept */
};

/* done(ctx, job) runs on base's thread for each job, which it then owns. */
int hashd_new(struct hashd **out, struct event_base *base, hashd_done_fn done, void *ctx);
/* Queues j (the worker owns j->fd from now on). */
void hashd_submit(struct hashd *h, struct hjob *j);
/*
 * Stops and joins the worker; every job not finished is handed to done()
 * with err -ECANCELED (its fd closed), on the caller's thread.
 */
void hashd_free(struct hashd *h);
/* Tests: called on the worker before each HJ_HASH_AT job is run; NULL none. */
extern void (*hashd_test_before_hash_at)(const struct hjob *j);
/* Worker side: SHA-256 of fd's first bytes (at most max); 0 or -errno. */
int hashd_sha256(struct hashd *h, int fd, uint64_t max, uint8_t sha[32], uint64_t *read_bytes);

/* ---- rootscan.c: a root's PATH directories (worker side) ------------------------------- */

extern const char *const rootscan_dirs[];

/* openat2(root, rel, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS); fd or -errno. */
int rootscan_open(int root, const char *rel, int flags);
/* Fills j->names, j->n_names, j->n_fuse from j->fd (a root directory); 0 or -errno. */
int rootscan_run(struct hjob *j);

/* ---- ident.c and tables.c: the loop thread's books -------------------------------------- */

#define IDENT_TABLES	  256  /* containers' name tables kept (LRU) */
#define IDENT_TABLE_NAMES 1024 /* wanted names kept in one table */

/* One lookup in flight (a slot of a pool of max_pending). */
struct ident_req {
	vg_ident_done_fn done;
	void *ctx;
	uint64_t token;
	int waits;		      /* the file's hash, the table: done() when 0 */
	struct ident_req *next_file;  /* on its cache entry's waiters */
	struct ident_req *next_table; /* on its table's waiters, or the free list */
	bool in_use;
};

/* A named binary of a root: its name, identity and (when known) content. */
struct tname {
	char lcname[VG_IDENT_NAME_MAX];
	struct fkey key;
	uint8_t sha[32];
	bool pending; /* its hash is being computed */
	bool unknown; /* it could not be hashed: never matches */
};

struct ident_table {
	char ctr[VG_CONTAINER_ID_LEN + 1]; /* "" the host */
	bool used;
	bool has_names; /* names[] answers lookups (maybe from the previous build) */
	bool building;	/* a scan or its hashes are in flight */
	bool scanning;	/* ... the scan itself */
	bool stale;	/* rebuild at the next lookup (flush during a build) */
	uint64_t built_ns, used_ns;
	struct tname *names, *build;
	int n_names, n_build, cap_build, waits;
	int root; /* O_PATH fd of the root while building, else -1 */
	struct ident_req *waiters;
};

struct known_hash {
	uint8_t sha[32];
	char lcname[VG_IDENT_NAME_MAX];
};

struct vg_ident {
	struct vg_ident_opts o;
	char *root_override;
	struct ident_cache *cache;
	struct hashd *hashd;
	struct ident_req *reqs, *free_reqs;
	int n_pending;
	struct ident_table tables[IDENT_TABLES];
	struct known_hash *known;
	int n_known;
	struct vg_ident_stats st;
	bool closing; /* vg_ident_free is running */
};

uint64_t ident_now_ns(void);
/* One of r's waits is over; done() when it was the last. */
void ident_req_wake(struct vg_ident *id, struct ident_req *r);
/* ctr_root.c: the root ev's process saw (O_PATH fd), or -errno. */
int ident_open_root(struct vg_ident *id, struct vg_event *ev);

/* tables.c */
/*
 * ctr's table (made, evicting the least recently used idle one, when there is
 * none); *start says it must be (re)built now. NULL when every slot is busy.
 */
struct ident_table *table_get(struct vg_ident *id, const char *ctr, bool *start);
struct ident_table *table_find(struct vg_ident *id, const char *ctr);
/* Starts building t from the root fd (taken); 0 or -errno (then t is as it was). */
int table_start(struct vg_ident *id, struct ident_table *t, int root);
void table_scan_done(struct vg_ident *id, struct hjob *j);
/*
 * An HJ_HASH_AT job's first step (hjob.first): when the file read is not the
 * one scanned, its hash is cached under the identity read and settles the
 * table's name, and the scanned identity's entry fails (-ENOENT).
 */
void table_hash_at_first(void *ctx, struct hjob *j);
/* The file key (a name some building table may wait on) is hashed: sha, or NULL (failed). */
void table_hash_done(struct vg_ident *id, const struct fkey *key, const uint8_t *sha);
void table_flush(struct vg_ident *id);
void table_free_all(struct vg_ident *id);

#endif
