// SPDX-License-Identifier: BSD-2-Clause
/*
 * bl_kernel.c - the kernel's copy of locked process baselines (bl_kernel.h).
 *
 * A container is tracked from its first exec checked against a locked
 * baseline (its cgroup id, cgroup path and key); it is programmed while its
 * baseline is locked and the kernel may kill: each baseline path resolved in
 * the container's root (/proc/PID/root of a process its cgroup lists, opened
 * with RESOLVE_IN_ROOT) gives a (dev, ino) for bl_allow, then the container
 * goes into bl_ctr. A path not there is not allowed. Any change reprograms
 * at once: the new entries first, then the container, then the stale ones
 * out, so no exec sees a set smaller than both. Unprogramming is the reverse.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "bl_kernel.h"
#include "log.h"

/* Where the sensor's (v2) cgroup paths are: a hybrid host mounts that hierarchy here. */
#define CG_HYBRID "/sys/fs/cgroup/unified"
#define CG_V2	  "/sys/fs/cgroup"

struct kctr {
	uint64_t cgid;
	char cg[VG_PATH_MAX]; /* its cgroup path under CG_ROOT */
	struct vg_baseline_key key;
	bool programmed, retry;
	struct vg_bl_allow_key *allow; /* what the kernel holds for it, sorted */
	size_t nallow;
	struct kctr *hnext; /* the next in its bucket of by_id */
};

#define BY_ID 2048 /* buckets of the containers by cgroup id: found on every checked exec */

struct vg_blk {
	const char *cg_root; /* CG_HYBRID or CG_V2 */
	struct vg_sensor *s;
	struct vg_baselines *store;
	bool enforce, supported;
	struct kctr *ctr[VG_BLK_CTR_MAX];
	int nctr;
	struct kctr *by_id[BY_ID];
	struct vg_blk_stats st;
};

int vg_blk_new(struct vg_blk **out, struct vg_sensor *s, struct vg_baselines *store)
{
	struct vg_blk *b = calloc(1, sizeof(*b));
	struct statfs fs;

	if (!b)
		return -ENOMEM;
	b->s = s;
	b->store = store;
	b->supported = vg_sensor_bl_supported(s);
	b->cg_root =
		statfs(CG_HYBRID, &fs) == 0 && fs.f_type == CGROUP2_SUPER_MAGIC ? CG_HYBRID : CG_V2;
	*out = b;
	return 0;
}

void vg_blk_free(struct vg_blk *b)
{
	if (!b)
		return;
	for (int i = 0; i < b->nctr; i++) {
		free(b->ctr[i]->allow);
		free(b->ctr[i]);
	}
	free(b);
}

static int key_cmp(const void *a, const void *b)
{
	const struct vg_bl_allow_key *x = a, *y = b;

	if (x->dev != y->dev)
		return x->dev < y->dev ? -1 : 1;
	if (x->ino != y->ino)
		return x->ino < y->ino ? -1 : 1;
	return 0;
}

static void set_on(struct vg_blk *b)
{
	vg_sensor_bl_on(b->s, b->st.containers > 0);
}

/* Deletes the first n of keys from the kernel (best effort: a stale entry allows nothing). */
static void allow_del(struct vg_blk *b, const struct vg_bl_allow_key *keys, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (vg_sensor_bl_allow(b->s, &keys[i], false))
			b->st.failures++;
}

/* The container out of the kernel: bl_ctr first (nothing killed), then its entries. */
static void unprogram(struct vg_blk *b, struct kctr *c)
{
	if (!c->programmed && !c->nallow)
		return;
	if (c->programmed && vg_sensor_bl_ctr(b->s, c->cgid, 0))
		b->st.failures++;
	if (c->programmed)
		b->st.containers--;
	c->programmed = false;
	allow_del(b, c->allow, c->nallow);
	b->st.allow -= c->nallow;
	free(c->allow);
	c->allow = NULL;
	c->nallow = 0;
	set_on(b);
}

/* The container's root: /proc/PID/root of a process its cgroup lists now. */
static int ctr_root(const struct vg_blk *b, const struct kctr *c)
{
	char file[VG_PATH_MAX + 64], buf[4096];
	int fd = -ENOENT, rfd;
	ssize_t got;

	(void)snprintf(file, sizeof(file), "%s%s/cgroup.procs", b->cg_root, c->cg);
	rfd = open(file, O_RDONLY | O_CLOEXEC);
	if (rfd < 0)
		return -errno;
	got = read(rfd, buf, sizeof(buf) - 1);
	(void)close(rfd); /* read-only */
	if (got <= 0)
		return -ENOENT;
	buf[got] = '\0';
	for (char *p = buf, *end; fd < 0 && *p; p = end) {
		unsigned long pid = strtoul(p, &end, 10);

		if (end == p)
			break;
		(void)snprintf(file, sizeof(file), "/proc/%lu/root", pid);
		fd = open(file, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0)
			fd = -errno;
		while (*end == '\n')
			end++;
	}
	return fd;
}

/* path inside root as the kernel keys the file; 0 or -errno. */
static int resolve(int root, const char *path, uint64_t cgid, struct vg_bl_allow_key *k)
{
	struct open_how how = {.flags = O_PATH | O_CLOEXEC, .resolve = RESOLVE_IN_ROOT};
	int fd = (int)syscall(SYS_openat2, root, path, &how, sizeof(how));
	struct stat st;
	int rc;

	if (fd < 0)
		return -errno;
	rc = fstat(fd, &st) ? -errno : 0;
	(void)close(fd); /* an O_PATH fd */
	if (rc)
		return rc;
	if (!S_ISREG(st.st_mode))
		return -ENOEXEC;
	memset(k, 0, sizeof(*k));
	k->cgroup_id = cgid;
	k->dev = (uint32_t)(major(st.st_dev) << 20 | minor(st.st_dev));
	k->ino = st.st_ino;
	return 0;
}

/* Every path of bl resolved in the container: a sorted, unique set into *out; its size or -errno.
 */
static ssize_t resolve_all(struct vg_blk *b, struct kctr *c, const struct vg_baseline *bl,
			   struct vg_bl_allow_key **out)
{
	struct vg_bl_allow_key *k = calloc(bl->n_elements + 1, sizeof(*k));
	int root = ctr_root(b, c);
	size_t n = 0, u = 0;

	if (!k || root < 0) {
		free(k);
		if (root >= 0)
			(void)close(root); /* an O_PATH fd */
		return k ? root : -ENOMEM;
	}
	for (size_t i = 0; i < bl->n_elements; i++) {
		if (!resolve(root, bl->elements[i].path, c->cgid, &k[n]))
			n++;
		else
			b->st.unresolved++;
	}
	(void)close(root); /* an O_PATH fd */
	qsort(k, n, sizeof(*k), key_cmp);
	for (size_t i = 0; i < n; i++)
		if (!u || key_cmp(&k[u - 1], &k[i]))
			k[u++] = k[i];
	*out = k;
	return (ssize_t)u;
}

/* New entries in, the container on, the old entries the new set lacks out. 0 or -errno. */
static int install(struct vg_blk *b, struct kctr *c, struct vg_bl_allow_key *k, size_t n)
{
	size_t added = 0;
	int rc = 0;

	if (b->st.allow + n > VG_BLK_ALLOW_MAX) {
		b->st.full++;
		return -E2BIG;
	}
	for (; added < n && !rc; added++)
		rc = vg_sensor_bl_allow(b->s, &k[added], true);
	if (!rc)
		rc = vg_sensor_bl_ctr(b->s, c->cgid, VG_BL_KILL);
	if (rc) {
		if (rc == -E2BIG)
			b->st.full++;
		unprogram(b, c);
		allow_del(b, k, added);
		return rc;
	}
	for (size_t i = 0; i < c->nallow; i++)
		if (!bsearch(&c->allow[i], k, n, sizeof(*k), key_cmp))
			allow_del(b, &c->allow[i], 1);
	b->st.allow += n - c->nallow;
	free(c->allow);
	c->allow = k;
	c->nallow = n;
	if (!c->programmed)
		b->st.containers++;
	c->programmed = true;
	set_on(b);
	return 0;
}

/* Programs c from its baseline now, or takes it out when the kernel is not to kill there. */
static void program(struct vg_blk *b, struct kctr *c)
{
	const struct vg_baseline *bl = vg_baselines_get(b->store, &c->key);
	struct vg_bl_allow_key *k = NULL;
	bool again = c->retry;
	ssize_t n;
	int rc;

	c->retry = false;
	if (!b->enforce || !b->supported || !bl || !bl->locked) {
		unprogram(b, c);
		return;
	}
	n = resolve_all(b, c, bl, &k);
	rc = n < 0 ? (int)n : install(b, c, k, (size_t)n);
	if (!rc) {
		b->st.programmed++;
		return;
	}
	if (n >= 0 && c->allow != k)
		free(k);
	b->st.failures++;
	c->retry = true;
	unprogram(b, c);
	if (!again) /* once, not at every try of the timer */
		vg_warn("cannot program the process baseline of container cgroup %s into the "
			"kernel: %s; its execs are checked in user space until it can",
			c->cg, strerror(-rc));
}

static struct kctr **bucket_of(struct vg_blk *b, uint64_t cgid)
{
	return &b->by_id[(cgid * 0x9e3779b97f4a7c15ull) >> 53]; /* 11 bits: BY_ID */
}

static struct kctr *find(struct vg_blk *b, uint64_t cgid)
{
	struct kctr *c = *bucket_of(b, cgid);

	while (c && c->cgid != cgid)
		c = c->hnext;
	return c;
}

/* c out of by_id (tick: its cgroup is gone). */
static void unhash(struct vg_blk *b, struct kctr *c)
{
	struct kctr **link = bucket_of(b, c->cgid);

	while (*link && *link != c)
		link = &(*link)->hnext;
	if (*link)
		*link = c->hnext;
}

void vg_blk_exec(void *ctx, struct vg_event *ev, const struct vg_baseline *bl)
{
	struct vg_blk *b = ctx;
	struct kctr *c = find(b, ev->rec->cgroup_id);

	if (!b->supported || !ev->rec->cgroup_id)
		return;
	if (c && !ev->bl.replaced && !memcmp(&c->key, &bl->key, sizeof(bl->key)))
		return; /* known, and the kernel holds what it should */
	if (!c) {
		if (b->nctr == VG_BLK_CTR_MAX) {
			b->st.untracked++;
			return;
		}
		c = calloc(1, sizeof(*c));
		if (!c) {
			b->st.untracked++;
			return;
		}
		b->ctr[b->nctr++] = c;
		c->cgid = ev->rec->cgroup_id;
		c->hnext = *bucket_of(b, c->cgid);
		*bucket_of(b, c->cgid) = c;
		vg_event_paths(ev);
		(void)snprintf(c->cg, sizeof(c->cg), "%s", ev->cgroup); /* the same bound */
	}
	c->key = bl->key;
	program(b, c); /* the first exec is decided in user space; the next in the kernel */
}

void vg_blk_changed(void *ctx, const struct vg_baseline *bl)
{
	struct vg_blk *b = ctx;

	for (int i = 0; i < b->nctr; i++) {
		struct kctr *c = b->ctr[i];

		if (memcmp(&c->key, &bl->key, sizeof(bl->key)))
			continue;
		if (bl->locked || c->programmed) /* a learn while unlocked changes nothing here */
			program(b, c);
	}
}

void vg_blk_set_enforce(struct vg_blk *b, bool enforce)
{
	if (b->enforce == enforce)
		return;
	b->enforce = enforce;
	for (int i = 0; i < b->nctr; i++)
		program(b, b->ctr[i]);
}

void vg_blk_tick(struct vg_blk *b)
{
	char dir[VG_PATH_MAX + 32];

	for (int i = 0; i < b->nctr;) {
		struct kctr *c = b->ctr[i];

		(void)snprintf(dir, sizeof(dir), "%s%s", b->cg_root, c->cg);
		if (access(dir, F_OK) && errno == ENOENT) {
			unprogram(b, c);
			unhash(b, c);
			free(c);
			b->ctr[i] = b->ctr[--b->nctr];
			b->st.removed++;
			continue;
		}
		if (c->retry)
			program(b, c);
		i++;
	}
}

void vg_blk_stats(const struct vg_blk *b, struct vg_blk_stats *st)
{
	*st = b->st;
}

static void metric(struct evbuffer *o, const char *name, const char *help, const char *type,
		   uint64_t v)
{
	evbuffer_add_printf(o, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n", name, help, name, type,
			    name, (unsigned long long)v);
}

void vg_blk_metrics(const struct vg_blk *b, struct evbuffer *o)
{
	const struct vg_blk_stats *st = &b->st;

	metric(o, "vigil_baseline_kernel_containers",
	       "containers whose locked process baseline is in the kernel", "gauge",
	       st->containers);
	metric(o, "vigil_baseline_kernel_allow_entries",
	       "executables the kernel allows, summed over programmed containers", "gauge",
	       st->allow);
	metric(o, "vigil_baseline_kernel_programmed_total",
	       "containers programmed into the kernel (each change counts)", "counter",
	       st->programmed);
	metric(o, "vigil_baseline_kernel_failures_total",
	       "programming failures: the container is left to user space", "counter",
	       st->failures);
	metric(o, "vigil_baseline_kernel_full_total",
	       "programming failures because the allow map had no room", "counter", st->full);
	metric(o, "vigil_baseline_kernel_unresolved_total",
	       "baseline paths not found in a container (not allowed there)", "counter",
	       st->unresolved);
	metric(o, "vigil_baseline_kernel_untracked_total",
	       "containers beyond the kernel's capacity, left to user space", "counter",
	       st->untracked);
	metric(o, "vigil_baseline_kernel_removed_total",
	       "containers taken out of the kernel because their cgroup is gone", "counter",
	       st->removed);
}
