// SPDX-License-Identifier: BSD-2-Clause
/*
 * procmap.c - the sensor's process map from user space: seeded from /proc at
 * start, swept of exited processes, and read to name an exec's ancestors.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "sensor_priv.h"

#define SWEEP_AGE_NS (5ull * 1000 * 1000 * 1000) /* exited entries kept this long for lineage */
#define PF_KTHREAD   0x00200000

void sensor_procmap_sweep(struct vg_sensor *s)
{
	struct sweep_buf *b = s->sweep;
	int64_t now = sensor_clock_ns(CLOCK_BOOTTIME);
	__u32 batch = 0, ndead;
	void *in = NULL;

	for (;;) {
		__u32 n = SWEEP_CHUNK;
		int rc = bpf_map_lookup_batch(s->procs_fd, in, &batch, b->keys, b->vals, &n, NULL);

		if (rc && errno != ENOENT)
			return;
		ndead = 0;
		for (__u32 i = 0; i < n; i++)
			if ((b->vals[i].flags & VG_PROC_EXITED) &&
			    now - (int64_t)b->vals[i].exit_boot_ns > (int64_t)SWEEP_AGE_NS)
				b->dead[ndead++] = b->keys[i];
		for (__u32 i = 0; i < ndead; i++)
			if (bpf_map_delete_elem(s->procs_fd, &b->dead[i]) == 0)
				s->st.swept++;
		if (rc) /* ENOENT: that was the last chunk */
			return;
		in = &batch;
	}
}

/* Reads a small /proc file into buf, terminated; returns its length or -errno. */
static ssize_t read_small(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, cap - 1);
	if (n < 0)
		n = -errno;
	(void)close(fd); /* read-only: nothing to lose */
	if (n >= 0)
		buf[n] = '\0';
	return n;
}

/* The real uid from /proc/<pid>/status; 0 when it cannot be read. */
static __u32 proc_uid(__u32 pid)
{
	char path[64], buf[1024], *u;

	snprintf(path, sizeof(path), "/proc/%u/status", pid);
	if (read_small(path, buf, sizeof(buf)) > 0 && (u = strstr(buf, "\nUid:")))
		return (__u32)strtoul(u + 5, NULL, 10);
	return 0;
}

/*
 * Fills *p from /proc/<pid>: ppid, real uid, comm, exe. Returns 0, -ESRCH for
 * a process that is gone, -EBADMSG for an unreadable stat, -EPERM for a kernel
 * thread (not an image: never an ancestor worth naming).
 */
static int proc_read(__u32 pid, struct vg_proc *p)
{
	char path[64], buf[1024], *rp, *lp;
	unsigned long flags = 0;
	int ppid = 0;
	ssize_t n;

	memset(p, 0, sizeof(*p));
	snprintf(path, sizeof(path), "/proc/%u/stat", pid);
	if (read_small(path, buf, sizeof(buf)) < 0)
		return -ESRCH;
	rp = strrchr(buf, ')');
	lp = strchr(buf, '(');
	if (!rp || !lp)
		return -EBADMSG;
	n = rp - lp - 1;
	memcpy(p->comm, lp + 1, n < VG_COMM_LEN - 1 ? (size_t)n : VG_COMM_LEN - 1);
	/* after ") ": state ppid pgrp session tty_nr tpgid flags */
	if (sscanf(rp + 2, "%*c %d %*d %*d %*d %*d %lu", &ppid, &flags) != 2)
		return -EBADMSG;
	if (flags & PF_KTHREAD)
		return -EPERM;
	p->ppid = (__u32)ppid;
	p->uid = proc_uid(pid);
	snprintf(path, sizeof(path), "/proc/%u/exe", pid);
	n = readlink(path, p->exe, sizeof(p->exe) - 1);
	p->exe[n > 0 ? n : 0] = '\0';
	p->flags = VG_PROC_SEEDED;
	return 0;
}

void sensor_procmap_seed(struct vg_sensor *s)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	struct vg_proc p;

	if (!d)
		return;
	while ((de = readdir(d))) {
		char *end;
		unsigned long pid = strtoul(de->d_name, &end, 10);

		if (*end || !pid || proc_read((__u32)pid, &p))
			continue;
		/* NOEXIST: what the kernel recorded since attach is newer */
		if (bpf_map_update_elem(s->procs_fd, &(__u32){(__u32)pid}, &p, BPF_NOEXIST) == 0)
			s->st.seeded++;
	}
	(void)closedir(d); /* a directory stream read to its end: nothing to lose */
}

/* What the process map and /proc say about one ancestor (ancestor_exe). */
struct exe_found {
	bool have;   /* the map has an exe for this pid */
	bool same;   /* ... of this very image (same start time and exec count) */
	bool seeded; /* ... seeded from /proc: no identity to compare */
	ssize_t n;   /* readlink of /proc/<pid>/exe, when it was read */
};

/* The exe from the process map when it is this image, else /proc, else the map's. */
static void exe_lookup(struct vg_sensor *s, const struct vg_ancestor *a, char *exe,
		       struct exe_found *f)
{
	struct vg_proc p;
	char path[64];

	exe[0] = '\0';
	if (bpf_map_lookup_elem(s->procs_fd, &a->pid, &p) == 0) {
		f->have = p.exe[0] != '\0';
		f->same = f->have && p.start_ns == a->start_ns && p.exec_id == a->exec_id;
		f->seeded = (p.flags & VG_PROC_SEEDED) != 0;
		if (f->same) {
			memcpy(exe, p.exe, VG_EXE_MAX);
			exe[VG_EXE_MAX - 1] = '\0';
		}
	}
	if (f->same)
		return;
	/* seeded, empty, or a later image: /proc names the live process */
	snprintf(path, sizeof(path), "/proc/%u/exe", a->pid);
	f->n = readlink(path, exe, VG_EXE_MAX - 1);
	exe[f->n > 0 ? f->n : 0] = '\0';
	if (f->n <= 0 && f->have) { /* gone: the map's name is the best there is */
		memcpy(exe, p.exe, VG_EXE_MAX);
		exe[VG_EXE_MAX - 1] = '\0';
	}
}

/*
 * The exe of one ancestor: the cache, else exe_lookup(). Only what names this
 * very image is cached.
 */
static void ancestor_exe(struct vg_sensor *s, const struct vg_ancestor *a, char *exe)
{
	struct exe_slot *slot = &s->exe_cache[a->pid % EXE_CACHE];
	struct exe_found f = {0};

	if (slot->pid == a->pid && slot->exec_id == a->exec_id && slot->start_ns == a->start_ns) {
		s->st.lineage_cached++;
		memcpy(exe, slot->exe, VG_EXE_MAX);
		return;
	}
	exe_lookup(s, a, exe, &f);
	/* a process older than vigil whose exe cannot be read (PID 1 here) is still cached */
	if (!exe[0]) {
		s->st.lineage_miss++;
		if (!f.seeded)
			return;
	}
	/*
	 * Cache what names this very image: a map entry that proves it, or, for a
	 * process older than vigil (seeded: no identity in the map), what /proc
	 * says while it is alive, which is its image unless it exec'd again
	 * since the event (a window of one drain interval).
	 */
	if (!f.same && !(f.seeded && (f.n > 0 || !exe[0])))
		return;
	slot->pid = a->pid;
	slot->exec_id = a->exec_id;
	slot->start_ns = a->start_ns;
	memcpy(slot->exe, exe, VG_EXE_MAX);
}

void vg_sensor_lineage(struct vg_sensor *s, struct vg_event *ev)
{
	const struct vg_exec *r = ev->rec;

	if (ev->lineage_done)
		return;
	ev->n_lineage = r->n_ancestors;
	for (int i = 0; i < r->n_ancestors; i++) {
		struct vg_ancestor_info *a = &ev->lineage[i];
		char *exe = ev->lineage_buf[i];
		const char *slash;

		a->pid = r->ancestors[i].pid;
		a->uid = r->ancestors[i].uid;
		ancestor_exe(s, &r->ancestors[i], exe);
		a->exe = exe;
		slash = strrchr(exe, '/');
		a->name = slash ? slash + 1 : exe;
	}
	ev->lineage_done = true;
}
