/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * ident.h - content identity of executables: which names an exec's
 * executable answers to by its SHA-256 (a binary of that name in the same
 * container's root filesystem, or a hash a policy lists).
 *
 * Everything slow happens on one worker thread: hashing files (each at most
 * once while its (dev, ino, size, ctime) is unchanged, in a bounded LRU
 * cache) and listing a container's PATH directories. The loop thread only
 * opens the executable (the process may be gone in milliseconds) and keeps
 * small books. Every call below is made on the loop thread of opts.base.
 */
#ifndef VG_IDENT_H
#define VG_IDENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "event.h"

struct event_base;
struct vg_ident;

struct vg_ident_opts {
	struct event_base *base; /* completions run on this loop's thread */
	size_t cache_entries;	 /* file hashes kept (LRU), default 4096 */
	uint64_t max_file_bytes; /* larger files are not hashed (counted), default 64 MiB */
	int max_pending;	 /* requests in flight, default 1024; over it: -ENOSPC, counted */
	int table_ttl_s;	 /* a container's name table is rebuilt after this, default 300 */
	/*
	 * Is lcname (lowercased file name) a name some policy's process-name
	 * criterion can match? Called on the loop thread only.
	 */
	bool (*wanted)(void *ctx, const char *lcname);
	void *wanted_ctx;
	/*
	 * Tests only: a directory used as every process's root (instead of
	 * /proc/PID/root, and of "/" for the host). NULL in the daemon.
	 */
	const char *root_override;
};

/* 0, or -errno with the reason in err (n bytes). */
int vg_ident_new(struct vg_ident **out, const struct vg_ident_opts *o, char *err, size_t n);
/*
 * Stops the worker (a file being hashed is abandoned between chunks), then
 * calls, on the caller's thread, the done() of every lookup still in flight
 * (each exactly once, as promised); vg_ident_fill() called from those
 * answers -ECANCELED. Nothing is called after it returns. So free the ident
 * before whatever its done() callbacks touch.
 */
void vg_ident_free(struct vg_ident *id);

/*
 * Policies' known hashes: names[i] has content sha[i]. Replaces the previous
 * set (reload) and forgets every container's name table. 0 or -ENOMEM.
 */
int vg_ident_set_known(struct vg_ident *id, const char *const *names, const uint8_t (*sha)[32],
		       int n);
/*
 * The wanted() set changed (policy reload): every container's name table is
 * rebuilt at its next lookup. A table being built when this is called
 * still answers the lookups waiting on it, and is rebuilt at the next one.
 */
void vg_ident_flush_tables(struct vg_ident *id);

typedef void (*vg_ident_done_fn)(void *ctx, uint64_t token);

/*
 * Content names of ev's executable into ev->id (content[], n_content,
 * sha256, has_sha256, content_known). Returns 0 when answered now (hash
 * cached and the container's table ready), -EINPROGRESS when work was
 * started: done(ctx, token) is called exactly once later on the loop thread,
 * after which vg_ident_fill() answers for the same event (call it from done()
 * or soon after: the answer lives in the LRU cache); or another -errno when
 * it cannot be known, counted by reason:
 *   -ENODATA     the record does not carry the executable's identity
 *   -ENOENT      process gone and file not found, or the file found is
 *                another one (identity differs): `gone`
 *   -EFBIG       larger than max_file_bytes: `too_big`
 *   -EOPNOTSUPP  on FUSE (`fuse`) or not a regular file (`errors`)
 *   -ENOSPC      max_pending requests in flight, or the cache is all
 *                pending: `queue_full`
 * ev->rec, ev->exe and the event's container must be valid during the call
 * only; ev is not kept.
 */
int vg_ident_lookup(struct vg_ident *id, struct vg_event *ev, vg_ident_done_fn done, void *ctx,
		    uint64_t token);
/*
 * Fills ev->id as lookup does, from what is known now: 0, or the file's
 * -errno (-EIO: reading failed; -ENOENT: it changed while hashed; -EFBIG;
 * -ECANCELED during vg_ident_free), or -EAGAIN when its hash is not in the
 * cache (not asked, still pending, or evicted since).
 */
int vg_ident_fill(struct vg_ident *id, struct vg_event *ev);

/*
 * The root filesystem of ev's container, through a process listed in its
 * cgroup now (O_PATH directory fd), or -errno (-ENOENT: not in a container).
 */
int vg_ident_container_root(struct vg_event *ev);

struct vg_ident_stats {
	uint64_t hashed;	 /* files hashed by the worker */
	uint64_t hash_bytes;	 /* bytes read to hash them */
	uint64_t cache_hits;	 /* lookups whose hash was cached */
	uint64_t cache_misses;	 /* lookups whose hash was not */
	uint64_t evicted;	 /* cache entries dropped for room (LRU) */
	uint64_t tables_built;	 /* containers' name tables built */
	uint64_t too_big;	 /* files over max_file_bytes */
	uint64_t gone;		 /* executables not found, or found changed */
	uint64_t queue_full;	 /* lookups refused with -ENOSPC */
	uint64_t errors;	 /* read errors, non-regular files, tables without a root */
	uint64_t fuse;		 /* files on FUSE, not read */
	uint64_t scan_truncated; /* PATH directories with more files than a scan keeps */
};
void vg_ident_stats(const struct vg_ident *id, struct vg_ident_stats *st);

#endif
