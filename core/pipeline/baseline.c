// SPDX-License-Identifier: BSD-2-Clause
/*
 * baseline.c - process baselines in the pipeline: each container exec's key
 * and real executable path, learned or checked against its baseline (the
 * store's model, core/store/baselines.h).
 *
 * The real path: live, /proc/PID/exe when it is still the file the kernel saw
 * (same st_dev and st_ino as the record's exe_dev and exe_ino), else the exec'd
 * path resolved inside the container's root and checked the same way; a small
 * LRU cache maps (container, dev, ino) to the path found. A trace's: the
 * exec'd path (made absolute with the cwd).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "baseline.h"
#include "bl_cache.h"
#include "ident.h"
#include "log.h"

#define PC_SIZE	    1024 /* paths cached */
#define CG_SIZE	    4096 /* cgroups cached (bl_cache.h) */
#define PC_BUCKETS  2048
#define VIOL_POLICY 32 /* policies whose violations on unexpected execs are counted */
#define NS	    1000000000ull

struct pc_entry {
	char ctr[VG_CONTAINER_ID_LEN + 1];
	uint64_t dev, ino;
	char *path;	  /* NULL: a free slot */
	int hnext;	  /* the next in its bucket, -1 */
	int older, newer; /* the LRU list, -1 at its ends */
};

struct viol {
	char policy[128];
	uint64_t n;
};

struct vg_bl {
	struct vg_bl_opts o;
	struct vg_bl_stats st;
	struct pc_entry pc[PC_SIZE];
	int bucket[PC_BUCKETS]; /* -1: empty */
	int newest, oldest, used;
	struct viol viol[VIOL_POLICY];
	int nviol;
	struct vg_blc *cg;   /* per cgroup: its container and baseline */
	const uint64_t *gen; /* the store's generation (vg_baselines_generation_at) */
};

int vg_bl_new(struct vg_bl **out, const struct vg_bl_opts *o)
{
	struct vg_bl *b = calloc(1, sizeof(*b));

	if (!b)
		return -ENOMEM;
	b->o = *o;
	b->gen = vg_baselines_generation_at(o->store);
	if (vg_blc_new(&b->cg, CG_SIZE)) {
		free(b);
		return -ENOMEM;
	}
	for (int i = 0; i < PC_BUCKETS; i++)
		b->bucket[i] = -1;
	b->newest = b->oldest = -1;
	*out = b;
	return 0;
}

void vg_bl_free(struct vg_bl *b)
{
	if (!b)
		return;
	for (int i = 0; i < PC_SIZE; i++)
		free(b->pc[i].path);
	vg_blc_free(b->cg);
	free(b);
}

/* ---- the path cache: (container, dev, ino) -> path, least recently used out ---- */

static unsigned pc_hash(const char *ctr, uint64_t dev, uint64_t ino)
{
	uint64_t h = 1469598103934665603ull ^ dev ^ (ino * 0x9e3779b97f4a7c15ull);

	for (const char *p = ctr; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ull;
	return (unsigned)(h % PC_BUCKETS);
}

static void lru_unlink(struct vg_bl *b, int i)
{
	struct pc_entry *e = &b->pc[i];

	if (e->older >= 0)
		b->pc[e->older].newer = e->newer;
	else
		b->oldest = e->newer;
	if (e->newer >= 0)
		b->pc[e->newer].older = e->older;
	else
		b->newest = e->older;
}

static void lru_push(struct vg_bl *b, int i)
{
	b->pc[i].older = b->newest;
	b->pc[i].newer = -1;
	if (b->newest >= 0)
		b->pc[b->newest].newer = i;
	b->newest = i;
	if (b->oldest < 0)
		b->oldest = i;
}

static const char *pc_get(struct vg_bl *b, const char *ctr, uint64_t dev, uint64_t ino)
{
	for (int i = b->bucket[pc_hash(ctr, dev, ino)]; i >= 0; i = b->pc[i].hnext) {
		struct pc_entry *e = &b->pc[i];

		if (e->dev == dev && e->ino == ino && !strcmp(e->ctr, ctr)) {
			lru_unlink(b, i);
			lru_push(b, i);
			return e->path;
		}
	}
	return NULL;
}

/* Slot i out of its bucket and the LRU list, its path freed. */
static void pc_drop(struct vg_bl *b, int i)
{
	struct pc_entry *e = &b->pc[i];
	int *link = &b->bucket[pc_hash(e->ctr, e->dev, e->ino)];

	while (*link >= 0 && *link != i)
		link = &b->pc[*link].hnext;
	if (*link == i)
		*link = e->hnext;
	lru_unlink(b, i);
	free(e->path);
	e->path = NULL;
}

static void pc_put(struct vg_bl *b, const char *ctr, uint64_t dev, uint64_t ino, const char *path)
{
	char *copy = strdup(path);
	unsigned h;
	int i;

	if (!copy)
		return; /* only a cache: the next exec resolves it again */
	if (b->used < PC_SIZE) {
		i = b->used++;
	} else {
		i = b->oldest;
		pc_drop(b, i);
	}
	h = pc_hash(ctr, dev, ino);
	(void)snprintf(b->pc[i].ctr, sizeof(b->pc[i].ctr), "%s", ctr); /* an id: fits */
	b->pc[i].dev = dev;
	b->pc[i].ino = ino;
	b->pc[i].path = copy;
	b->pc[i].hnext = b->bucket[h];
	b->bucket[h] = (int)i;
	lru_push(b, i);
}

/* ---- the real path ------------------------------------------------------------------ */

/* The exec'd path, made absolute with the cwd, into out (cut when longer: never run). */
/* s (len bytes) at out + at, cut to n - 1 bytes in all; the new length. */
static size_t put(char *out, size_t n, size_t at, const char *s, size_t len)
{
	if (at + len >= n)
		len = n - 1 - at;
	memcpy(out + at, s, len);
	return at + len;
}

/* Joined with memcpy, not snprintf: this is on every checked exec (bench/RESULTS.md). */
static void execd_path(struct vg_event *ev, char *out, size_t n)
{
	const char *dir = "";
	size_t at = 0, dlen;

	if (ev->exe[0] != '/') { /* the cwd decoded only when it is needed */
		vg_event_paths(ev);
		dir = ev->cwd[0] ? ev->cwd : "/";
	}
	dlen = strlen(dir);
	at = put(out, n, at, dir, dlen);
	if (dlen && dir[dlen - 1] != '/')
		at = put(out, n, at, "/", 1);
	at = put(out, n, at, ev->exe, strlen(ev->exe));
	out[at] = '\0';
}

/* The exec'd path: ev->exe itself when it is absolute and fits, else joined into out. */
static const char *execd_path_of(struct vg_event *ev, char *out, size_t n)
{
	if (ev->exe[0] == '/' && ev->rec->exe_len < n)
		return ev->exe;
	execd_path(ev, out, n);
	return out;
}

/* Whether st is the file (dev, ino): 0 or -ESTALE. */
static int same_file(const struct stat *st, uint64_t dev, uint64_t ino)
{
	return (uint64_t)st->st_dev == dev && (uint64_t)st->st_ino == ino ? 0 : -ESTALE;
}

/* readlink into out (terminated); 0 or -errno. */
static int read_link(const char *link, char *out, size_t n)
{
	ssize_t got = readlink(link, out, n - 1);

	if (got < 0)
		return -errno;
	if ((size_t)got >= n - 1)
		return -ENAMETOOLONG;
	out[got] = '\0';
	return 0;
}

/* /proc/PID/exe, when it is still the executable of the record. */
static int path_from_proc(struct vg_event *ev, uint64_t dev, char *out, size_t n)
{
	char link[64];
	struct stat st;
	int rc;

	(void)snprintf(link, sizeof(link), "/proc/%u/exe", ev->rec->pid);
	rc = stat(link, &st) ? -errno : same_file(&st, dev, ev->rec->exe_ino);
	if (!rc)
		rc = read_link(link, out, n);
	return rc;
}

/* The exec'd path resolved inside the container's root, when it is the record's file. */
static int path_from_root(struct vg_event *ev, uint64_t dev, char *out, size_t n)
{
	struct open_how how = {.flags = O_PATH | O_CLOEXEC, .resolve = RESOLVE_IN_ROOT};
	char link[64];
	struct stat st;
	int root = vg_ident_container_root(ev), fd, rc;

	if (root < 0)
		return root;
	execd_path(ev, out, n);
	fd = (int)syscall(SYS_openat2, root, out, &how, sizeof(how));
	rc = fd < 0 ? -errno : 0;
	(void)close(root); /* an O_PATH fd */
	if (rc)
		return rc;
	rc = fstat(fd, &st) ? -errno : same_file(&st, dev, ev->rec->exe_ino);
	(void)snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	if (!rc)
		rc = read_link(link, out, n);
	(void)close(fd); /* an O_PATH fd */
	return rc;
}

/* A live exec's real path (into out): cache, /proc/PID/exe, the root, else the exec'd path. */
static const char *live_path(struct vg_bl *b, struct vg_event *ev, char *out, size_t n)
{
	const struct vg_exec *r = ev->rec;
	const char *ctr = vg_event_container(ev)->id, *hit;
	uint64_t dev = makedev(r->exe_dev >> 20, r->exe_dev & 0xfffff);
	int rc;

	if (!(r->flags & VG_EXEC_EXE_KNOWN) || (r->flags & VG_EXEC_EXE_FILELESS)) {
		b->st.path_failed++;
		b->st.path_exec++;
		return execd_path_of(ev, out, n);
	}
	hit = pc_get(b, ctr, dev, r->exe_ino);
	if (hit) {
		b->st.path_cache++;
		(void)snprintf(out, n, "%s", hit); /* it came from such a buffer */
		return out;
	}
	rc = path_from_proc(ev, dev, out, n);
	if (!rc)
		b->st.path_proc++;
	else if (!(rc = path_from_root(ev, dev, out, n)))
		b->st.path_root++;
	if (!rc && out[0] == '/') {
		pc_put(b, ctr, dev, r->exe_ino, out);
		return out;
	}
	if (rc == -ESTALE)
		b->st.path_mismatch++;
	else
		b->st.path_failed++;
	b->st.path_exec++;
	return execd_path_of(ev, out, n);
}

static void real_path(struct vg_bl *b, struct vg_event *ev)
{
	if (b->o.live) {
		ev->bl.path = live_path(b, ev, ev->bl.path_buf, sizeof(ev->bl.path_buf));
	} else {
		b->st.path_exec++;
		ev->bl.path = execd_path_of(ev, ev->bl.path_buf, sizeof(ev->bl.path_buf));
	}
}

/* ---- the decisions ------------------------------------------------------------------- */

/* src into a key field of n bytes, cut as snprintf would (the key is on every exec). */
static void field(char *dst, size_t n, const char *src)
{
	size_t len = strnlen(src, n - 1);

	memcpy(dst, src, len);
	dst[len] = '\0';
}

/* ev's key, its container's short id from c. */
static void key_of(const struct vg_event *ev, const struct vg_container *c,
		   struct vg_baseline_key *k)
{
	const struct vg_meta *m = ev->meta;
	const char *name = ev->ctr_name[0] ? ev->ctr_name : c->short_id;

	memset(k, 0, sizeof(*k));
	if (m && m->namespace_ && m->namespace_[0]) {
		const char *deploy = m->deployment && m->deployment[0] ? m->deployment : m->pod;

		field(k->namespace_, sizeof(k->namespace_), m->namespace_);
		field(k->deployment, sizeof(k->deployment), deploy ? deploy : "");
		if (m->container && m->container[0])
			name = m->container;
	} else {
		field(k->image, sizeof(k->image), ev->ctr_image);
	}
	/* Kubernetes' names are shorter than the fields; a longer image is cut */
	field(k->container, sizeof(k->container), name);
}

void vg_bl_key_of(struct vg_event *ev, struct vg_baseline_key *k)
{
	key_of(ev, vg_event_container(ev), k);
}

/* Whether the field of n bytes is src as field() would cut it. */
static bool field_is(const char *f, size_t n, const char *src)
{
	return !strncmp(f, src, n - 1);
}

/* Whether ev's key (key_of) is k, without making it: a cached baseline's still ev's. */
static bool key_is(const struct vg_event *ev, const struct vg_container *c,
		   const struct vg_baseline_key *k)
{
	const struct vg_meta *m = ev->meta;
	const char *name = ev->ctr_name[0] ? ev->ctr_name : c->short_id;

	if (m && m->namespace_ && m->namespace_[0]) {
		const char *deploy = m->deployment && m->deployment[0] ? m->deployment : m->pod;

		if (!field_is(k->namespace_, sizeof(k->namespace_), m->namespace_) ||
		    !field_is(k->deployment, sizeof(k->deployment), deploy ? deploy : "") ||
		    k->image[0])
			return false;
		if (m->container && m->container[0])
			name = m->container;
	} else if (k->namespace_[0] || k->deployment[0] ||
		   !field_is(k->image, sizeof(k->image), ev->ctr_image)) {
		return false;
	}
	return field_is(k->container, sizeof(k->container), name);
}

enum vg_bl_step vg_bl_step_of(const struct vg_baseline *bl, uint64_t now_ns, bool in_startup)
{
	if (bl->locked)
		return VG_BL_CHECK;
	if (now_ns < bl->observe_until_ns || in_startup)
		return VG_BL_LEARN;
	return VG_BL_IGNORE;
}

bool vg_bl_lock_due(const struct vg_baseline *bl, uint64_t now_ns, bool auto_lock)
{
	return auto_lock && !bl->locked && bl->observe_until_ns && now_ns >= bl->observe_until_ns;
}

/* Whether ev's container started less than startup_ns before now. */
static bool in_startup(struct vg_bl *b, struct vg_event *ev, uint64_t now_ns)
{
	uint64_t start;

	if (!b->o.drift || !b->o.startup_ns || vg_drift_container_start(b->o.drift, ev, &start))
		return false;
	return now_ns < start + b->o.startup_ns;
}

/*
 * Killed by the kernel's copy of the baseline: a fileless executable, or one
 * whose path is not in the baseline, or a path in it whose file is not the
 * one the kernel was given (replaced since, a new inode). Each stays a
 * violation (the kernel killed it); for the last the kernel's copy takes the
 * new file (checked_fn).
 */
static void kernel_killed(struct vg_bl *b, struct vg_event *ev)
{
	b->st.kernel_killed++;
	ev->bl.decided_in_kernel = true;
	if (ev->rec->flags & VG_EXEC_EXE_FILELESS) { /* in no baseline, whatever it was named */
		ev->bl.unexpected = true;
		return;
	}
	if (ev->bl.unexpected)
		return; /* not in the baseline: the usual case */
	b->st.kernel_replaced++;
	ev->bl.replaced = true;
	ev->bl.unexpected = true;
	vg_warn("the file at %s in container %s is in its locked baseline but is not the one "
		"programmed into the kernel (replaced: a new inode %llu): killed at exec; the "
		"kernel allows the new file from now on",
		ev->bl.path, vg_event_container(ev)->short_id,
		(unsigned long long)ev->rec->exe_ino);
}

/* Against a locked baseline: ev->bl, then the kernel's copy follows. */
static void check(struct vg_bl *b, struct vg_event *ev, const struct vg_baseline *bl)
{
	const struct vg_exec *r = ev->rec;

	size_t len;

	if (ev->bl.path == ev->exe) /* as exec'd: its length is in the record */
		len = r->exe_len;
	else
		len = strlen(ev->bl.path);
	ev->bl.checked = true;
	ev->bl.unexpected = !vg_baselines_has_n(bl, ev->bl.path, len);
	if ((r->flags & VG_EXEC_KILLED) && r->kill_cause == VG_KILL_BASELINE)
		kernel_killed(b, ev);
	b->st.checked++;
	b->st.unexpected += ev->bl.unexpected;
	if (b->o.checked_fn)
		b->o.checked_fn(b->o.checked_ctx, ev, bl);
}

/* ---- the exec and the timer ----------------------------------------------------------- */

/* Whether ev's key comes from what ce's baseline's key was last found from, unchanged. */
static bool same_sources(const struct vg_blc_entry *ce, const struct vg_event *ev)
{
	return ce->names_serial && ce->names_serial == ev->ctr_names_serial &&
	       ce->meta == ev->meta &&
	       (!ev->meta || (ev->meta->serial && ce->meta_serial == ev->meta->serial));
}

static void remember(struct vg_blc_entry *ce, const struct vg_event *ev,
		     const struct vg_baseline *bl, uint64_t gen)
{
	ce->bl = bl;
	ce->gen = gen;
	ce->meta = ev->meta;
	ce->meta_serial = ev->meta ? ev->meta->serial : 0;
	ce->names_serial = ev->ctr_names_serial;
}

/* ev's baseline: the cgroup's cached one while the store has not changed and ev's key is its
   key (the metadata may come after the first exec), else the key's, made when there is none. */
static const struct vg_baseline *lookup(struct vg_bl *b, struct vg_event *ev,
					const struct vg_container *c, struct vg_blc_entry *ce,
					uint64_t now_ns)
{
	uint64_t gen = vg_baselines_generation(b->o.store);
	struct vg_baseline_key k;
	const struct vg_baseline *bl;

	if (ce && ce->bl && ce->gen == gen && same_sources(ce, ev)) {
		b->st.cache_hits++;
		return ce->bl;
	}
	if (ce && ce->bl && ce->gen == gen && key_is(ev, c, &ce->bl->key)) {
		b->st.cache_hits++;
		remember(ce, ev, ce->bl, gen); /* the key's sources now: the next finds them */
		return ce->bl;
	}
	b->st.cache_misses++;
	key_of(ev, c, &k);
	if (vg_baselines_ensure(b->o.store, &k, now_ns, b->o.observe_ns, &bl)) {
		b->st.errors++;
		return NULL;
	}
	if (ce)
		remember(ce, ev, bl, vg_baselines_generation(b->o.store));
	return bl;
}

/* ce's baseline when it is still ev's without a look at the store or the key; else NULL. */
static inline const struct vg_baseline *cached(const struct vg_bl *b, const struct vg_event *ev,
					       const struct vg_blc_entry *ce)
{
	if (ce && ce->bl && ce->gen == *b->gen && same_sources(ce, ev))
		return ce->bl;
	return NULL;
}

/* ev's baseline, locked first when its observation is over (auto_lock); NULL on error. */
static const struct vg_baseline *baseline_of(struct vg_bl *b, struct vg_event *ev,
					     const struct vg_container *c, struct vg_blc_entry *ce,
					     uint64_t now_ns)
{
	const struct vg_baseline *bl = lookup(b, ev, c, ce, now_ns);
	struct vg_baseline_key k;

	if (!bl || !vg_bl_lock_due(bl, now_ns, b->o.auto_lock))
		return bl;
	if (vg_baselines_lock(b->o.store, bl, true, false, now_ns)) {
		b->st.errors++;
		return bl;
	}
	b->st.auto_locked++;
	k = bl->key;
	bl = vg_baselines_get(b->o.store, &k); /* the old view is gone */
	if (ce)
		remember(ce, ev, bl, vg_baselines_generation(b->o.store));
	return bl;
}

void vg_bl_exec(struct vg_bl *b, struct vg_event *ev, uint64_t now_ns)
{
	struct vg_blc_entry *ce = vg_blc_get(b->cg, ev, &b->st.cache_evictions);
	const struct vg_container *c = ce ? &ce->ctr : vg_event_container(ev);
	const struct vg_baseline *bl;
	enum vg_bl_step step;
	int rc;

	if (ce) /* the engine's answer too: the same path's parse */
		ev->ctr_known = c->id[0] ? VG_CTR_IN : VG_CTR_HOST;
	if (!c->id[0])
		return; /* a host exec */
	b->st.execs++;
	bl = cached(b, ev, ce); /* the usual case, in line */
	if (bl && !vg_bl_lock_due(bl, now_ns, b->o.auto_lock))
		b->st.cache_hits++;
	else
		bl = baseline_of(b, ev, c, ce, now_ns);
	if (!bl)
		return;
	step = vg_bl_step_of(bl, now_ns,
			     !bl->locked && now_ns >= bl->observe_until_ns &&
				     in_startup(b, ev, now_ns));
	if (step == VG_BL_IGNORE)
		return;
	real_path(b, ev);
	if (step == VG_BL_CHECK) {
		check(b, ev, bl);
		return;
	}
	rc = vg_baselines_learn(b->o.store, bl, ev->bl.path, now_ns);
	if (rc == 1)
		b->st.learned++;
	else if (rc == -ENOSPC)
		b->st.capped++;
	else if (rc < 0)
		b->st.errors++;
}

void vg_bl_tick(struct vg_bl *b, uint64_t now_ns)
{
	const struct vg_baseline **all;
	struct vg_baseline_key *due = NULL;
	size_t n, ndue = 0;

	if (!b->o.auto_lock || vg_baselines_list(b->o.store, &all, &n))
		return;
	for (size_t i = 0; i < n; i++)
		ndue += vg_bl_lock_due(all[i], now_ns, true);
	if (ndue)
		due = malloc(ndue * sizeof(*due));
	ndue = 0;
	for (size_t i = 0; due && i < n; i++)
		if (vg_bl_lock_due(all[i], now_ns, true))
			due[ndue++] = all[i]->key; /* copied: a lock changes the views */
	free(all);
	for (size_t i = 0; i < ndue; i++) {
		const struct vg_baseline *bl = vg_baselines_get(b->o.store, &due[i]);

		if (bl && !vg_baselines_lock(b->o.store, bl, true, false, now_ns))
			b->st.auto_locked++;
		else
			b->st.errors++;
	}
	free(due);
}

void vg_bl_count_violation(struct vg_bl *b, const char *policy)
{
	int i = 0;

	while (i < b->nviol && strcmp(b->viol[i].policy, policy))
		i++;
	if (i == b->nviol) {
		if (b->nviol == VIOL_POLICY)
			return; /* more policies on unexpected execs than kept: not counted */
		(void)snprintf(b->viol[i].policy, sizeof(b->viol[i].policy), "%s", policy);
		b->nviol++;
	}
	b->viol[i].n++;
}

bool vg_bl_violations(const struct vg_bl *b, int i, const char **policy, uint64_t *count)
{
	if (i < 0 || i >= b->nviol)
		return false;
	*policy = b->viol[i].policy;
	*count = b->viol[i].n;
	return true;
}

void vg_bl_stats(const struct vg_bl *b, struct vg_bl_stats *st)
{
	*st = b->st;
}
