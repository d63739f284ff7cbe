// SPDX-License-Identifier: BSD-2-Clause
/*
 * drift.c - "not in the image" where the kernel cannot tell: a container's
 * executable on another mount (a volume, a bind mount) counts as not in its
 * image when the file changed after the container started. The kernel decides
 * the writable layer and tmpfs itself (event.c, decode_ident).
 *
 * The container's start is the start of its oldest process: the earliest
 * starttime (/proc/PID/stat) of the processes in its cgroup level or below,
 * usually its init. Nothing in the container can move that, unlike its cgroup
 * directory's ctime, which a mkdir of a child cgroup moves forward.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "drift.h"

#define STARTS	    64	 /* containers whose start time is kept */
#define CG_DIRS_MAX 1024 /* cgroup directories read below a container's level */
#define CG_DEPTH    16	 /* ... and how deep */
#define ROOT_MAX    256

struct start {
	char id[VG_CONTAINER_ID_LEN + 1];
	uint64_t ns;
};

struct vg_drift {
	struct start starts[STARTS];
	unsigned next;		    /* the slot replaced next: round robin */
	char proc_root[ROOT_MAX];   /* "/proc", or a test's */
	char cgroup_root[ROOT_MAX]; /* "": the first of the sensor's hierarchies with the level */
	struct vg_drift_stats st;
};

/* The oldest process found so far in a container's cgroup levels. */
struct oldest {
	const struct vg_drift *d;
	uint64_t ticks; /* its starttime, clock ticks since boot */
	bool found;
	int dirs; /* cgroup directories read */
};

int vg_drift_new_at(struct vg_drift **out, const char *proc_root, const char *cgroup_root)
{
	struct vg_drift *d = calloc(1, sizeof(*d));

	if (!d)
		return -ENOMEM;
	if (!proc_root)
		proc_root = "/proc";
	if (!cgroup_root)
		cgroup_root = "";
	if (strlen(proc_root) >= ROOT_MAX || strlen(cgroup_root) >= ROOT_MAX) {
		free(d);
		return -ENAMETOOLONG;
	}
	memcpy(d->proc_root, proc_root, strlen(proc_root) + 1);
	memcpy(d->cgroup_root, cgroup_root, strlen(cgroup_root) + 1);
	*out = d;
	return 0;
}

int vg_drift_new(struct vg_drift **out)
{
	return vg_drift_new_at(out, NULL, NULL);
}

void vg_drift_free(struct vg_drift *d)
{
	free(d);
}

/* starttime (field 22 of /proc/PID/stat: clock ticks since boot) of pid; 0 or -errno. */
static int pid_start_ticks(const struct vg_drift *d, unsigned long pid, uint64_t *ticks)
{
	char path[ROOT_MAX + 32], buf[1024];
	const char *p;
	ssize_t got;
	int fd, field = 2; /* the field that ends at the comm's last ')' */

	(void)snprintf(path, sizeof(path), "%s/%lu/stat", d->proc_root, pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	got = read(fd, buf, sizeof(buf) - 1);
	(void)close(fd); /* read-only */
	if (got <= 0)
		return got < 0 ? -errno : -ENODATA;
	buf[got] = '\0';
	p = strrchr(buf, ')'); /* the comm may hold spaces and ')' itself */
	if (!p)
		return -EINVAL;
	while (field < 22 && (p = strchr(p + 1, ' ')))
		field++;
	if (!p)
		return -EINVAL;
	errno = 0;
	*ticks = strtoull(p + 1, NULL, 10);
	return errno ? -errno : 0;
}

/* Every pid of dfd's cgroup.procs: the oldest of them into o. */
static void oldest_in_procs(struct oldest *o, int dfd)
{
	int fd = openat(dfd, "cgroup.procs", O_RDONLY | O_CLOEXEC);
	FILE *f = fd < 0 ? NULL : fdopen(fd, "r");
	unsigned long pid;
	uint64_t ticks;

	if (!f) {
		if (fd >= 0)
			(void)close(fd); /* read-only */
		return;
	}
	while (fscanf(f, "%lu", &pid) == 1)
		if (pid_start_ticks(o->d, pid, &ticks) == 0 && (!o->found || ticks < o->ticks)) {
			o->ticks = ticks;
			o->found = true;
		}
	(void)fclose(f); /* read-only */
}

/* dfd's processes and those of its child cgroups, depth levels down; -E2BIG: too many. */
static int oldest_below(struct oldest *o, int dfd, int depth)
{
	int list = dup(dfd), rc = 0;
	DIR *dir = list < 0 ? NULL : fdopendir(list);
	struct dirent *de;

	if (++o->dirs > CG_DIRS_MAX)
		rc = -E2BIG;
	else
		oldest_in_procs(o, dfd);
	if (!dir) {
		if (list >= 0)
			(void)close(list); /* a directory read-only */
		return rc;
	}
	while (!rc && depth > 0 && (de = readdir(dir))) {
		int child;

		if (de->d_type != DT_DIR || !strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		child = openat(dfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (child < 0)
			continue; /* gone meanwhile */
		rc = oldest_below(o, child, depth - 1);
		(void)close(child); /* a directory read-only */
	}
	(void)closedir(dir); /* read-only */
	return rc;
}

/* The hierarchies the sensor's cgroup paths may be in (sensor.c picks one of them). */
static const char *const cg_roots[] = {"/sys/fs/cgroup/unified", "/sys/fs/cgroup",
				       "/sys/fs/cgroup/memory"};

/* The directory of the cgroup path's first len bytes; fd or -errno. */
static int open_level(const struct vg_drift *d, const char *cgroup, size_t len)
{
	char path[ROOT_MAX + 4200];
	int fd = -ENOENT;

	if (len >= 4096)
		return -ENAMETOOLONG;
	for (size_t i = 0; i < sizeof(cg_roots) / sizeof(cg_roots[0]) && fd < 0; i++) {
		const char *root = d->cgroup_root[0] ? d->cgroup_root : cg_roots[i];

		(void)snprintf(path, sizeof(path), "%s%.*s", root, (int)len, cgroup);
		fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0)
			fd = -errno;
		if (d->cgroup_root[0])
			break;
	}
	return fd;
}

/*
 * Ticks since boot to wall-clock ns, the clock of an inode's ctime: the boot's
 * wall time is now's CLOCK_REALTIME less CLOCK_BOOTTIME (starttime counts
 * suspend too). A starttime of t ticks means a start somewhere in tick t: the
 * END of that tick is taken, so a file changed in the container's first tick
 * (at most 1/CLK_TCK s, 10 ms, after its start) is not called drift, and a file
 * changed before the start never is.
 */
static int ticks_to_wall_ns(uint64_t ticks, uint64_t *ns)
{
	long hz = sysconf(_SC_CLK_TCK);
	struct timespec real, boot;
	uint64_t real_ns, boot_ns;

	if (hz <= 0 || clock_gettime(CLOCK_REALTIME, &real) || clock_gettime(CLOCK_BOOTTIME, &boot))
		return -EINVAL;
	real_ns = (uint64_t)real.tv_sec * 1000000000ull + (uint64_t)real.tv_nsec;
	boot_ns = (uint64_t)boot.tv_sec * 1000000000ull + (uint64_t)boot.tv_nsec;
	*ns = real_ns - boot_ns + (ticks + 1) * (1000000000ull / (uint64_t)hz);
	return 0;
}

/* The start of the container of ev's cgroup level, wall-clock ns; 0 or -errno. */
static int container_start_ns(const struct vg_drift *d, struct vg_event *ev, uint64_t *ns)
{
	const struct vg_container *c = vg_event_container(ev);
	struct oldest o = {.d = d};
	int fd = open_level(d, ev->cgroup, c->level_len), rc;

	if (fd < 0)
		return fd;
	rc = oldest_below(&o, fd, CG_DEPTH);
	(void)close(fd); /* a directory read-only */
	if (rc)
		return rc;
	if (!o.found)
		return -ESRCH;
	return ticks_to_wall_ns(o.ticks, ns);
}

/* The container's start, cached by container id. */
static int start_of(struct vg_drift *d, struct vg_event *ev, uint64_t *ns)
{
	const struct vg_container *c = vg_event_container(ev);
	struct start *s;
	int rc;

	for (int i = 0; i < STARTS; i++)
		if (!strcmp(d->starts[i].id, c->id)) {
			*ns = d->starts[i].ns;
			return 0;
		}
	rc = container_start_ns(d, ev, ns);
	if (rc)
		return rc;
	s = &d->starts[d->next++ % STARTS];
	memcpy(s->id, c->id, sizeof(s->id));
	s->ns = *ns;
	return 0;
}

int vg_drift_container_start(struct vg_drift *d, struct vg_event *ev, uint64_t *ns)
{
	return start_of(d, ev, ns);
}

void vg_drift_check(struct vg_drift *d, struct vg_event *ev)
{
	const struct vg_exec *r = ev->rec;
	uint64_t start;

	if ((r->flags & (VG_EXEC_IN_CONTAINER | VG_EXEC_EXE_OTHER_MNT | VG_EXEC_EXE_KNOWN)) !=
		    (VG_EXEC_IN_CONTAINER | VG_EXEC_EXE_OTHER_MNT | VG_EXEC_EXE_KNOWN) ||
	    ev->id.fileless || ev->id.not_in_image || !vg_event_in_container(ev))
		return;
	d->st.checked++;
	if (start_of(d, ev, &start)) {
		d->st.unknown_start++;
		return;
	}
	if (r->exe_ctime_ns > start) {
		ev->id.not_in_image = true;
		ev->id.not_in_image_by = VG_DECIDED_USER;
		d->st.drifted++;
	}
}

void vg_drift_stats(const struct vg_drift *d, struct vg_drift_stats *st)
{
	*st = d->st;
}
