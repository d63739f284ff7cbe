// SPDX-License-Identifier: BSD-2-Clause
/*
 * ctr_root.c - the root filesystem an exec saw: the host's "/", or a
 * container's through /proc/PID/root of a process that is in that container
 * now (listed in the container's cgroup). The exec's own process may be gone
 * in milliseconds and its pid reused, and its parent may be outside the
 * container (conmon, runc): neither is trusted without the cgroup saying so.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ident_priv.h"

/* The hierarchies the sensor's cgroup paths may be in (sensor.c picks one of them). */
static const char *const cg_roots[] = {"/sys/fs/cgroup/unified", "/sys/fs/cgroup",
				       "/sys/fs/cgroup/memory"};

/* Up to max pids of cgroup.procs of path[0..len) in the first hierarchy that has it. */
static int cgroup_pids(const char *path, size_t len, uint32_t *pids, int max)
{
	char file[4200], buf[4096];
	ssize_t got = -1;
	int n = 0;

	for (size_t i = 0; i < sizeof(cg_roots) / sizeof(cg_roots[0]) && got < 0; i++) {
		int fd;

		snprintf(file, sizeof(file), "%s%.*s/cgroup.procs", cg_roots[i], (int)len, path);
		fd = open(file, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		got = read(fd, buf, sizeof(buf) - 1);
		(void)close(fd); /* read-only */
	}
	if (got <= 0)
		return 0;
	buf[got] = '\0';
	for (char *p = buf, *end; n < max && *p; p = end) {
		unsigned long v = strtoul(p, &end, 10);

		if (end == p)
			break;
		if (v && v <= UINT32_MAX)
			pids[n++] = (uint32_t)v;
		while (*end == '\n')
			end++;
	}
	return n;
}

static int open_proc_root(uint32_t pid)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/proc/%u/root", pid);
	fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/* The container's root through one of its processes: the exec's own first, if listed. */
static int container_root(struct vg_event *ev)
{
	const struct vg_container *c = vg_event_container(ev);
	uint32_t pids[64];
	int n = cgroup_pids(ev->cgroup, strlen(ev->cgroup), pids, 64), fd = -ENOENT;

	if (!n && c->level_len) /* the exec's own cgroup is empty now: the container's level */
		n = cgroup_pids(ev->cgroup, c->level_len, pids, 64);
	for (int i = 0; i < n; i++)
		if (pids[i] == ev->rec->pid)
			return open_proc_root(pids[i]);
	for (int i = 0; i < n && fd < 0; i++)
		fd = open_proc_root(pids[i]);
	return fd;
}

int ident_open_root(struct vg_ident *id, struct vg_event *ev)
{
	int fd;

	if (id->root_override || !vg_event_in_container(ev)) {
		fd = open(id->root_override ? id->root_override : "/",
			  O_PATH | O_DIRECTORY | O_CLOEXEC);
		return fd < 0 ? -errno : fd;
	}
	vg_event_paths(ev);
	return container_root(ev);
}

int vg_ident_container_root(struct vg_event *ev)
{
	if (!vg_event_in_container(ev))
		return -ENOENT;
	vg_event_paths(ev);
	return container_root(ev);
}
