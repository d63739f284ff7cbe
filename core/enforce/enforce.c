// SPDX-License-Identifier: BSD-2-Clause
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <linux/magic.h>

#include "enforce.h"

#ifndef __NR_pidfd_open
#define __NR_pidfd_open 434
#endif
#ifndef __NR_pidfd_send_signal
#define __NR_pidfd_send_signal 424
#endif

int vg_kill_process(uint32_t pid, char *msg, size_t n)
{
	int fd = (int)syscall(__NR_pidfd_open, (pid_t)pid, 0), rc = 0;

	if (fd < 0) {
		rc = -errno;
		snprintf(msg, n, "pid %u: %s", pid, rc == -ESRCH ? "already gone" : strerror(-rc));
		return rc;
	}
	if (syscall(__NR_pidfd_send_signal, fd, SIGKILL, NULL, 0)) {
		rc = -errno;
		snprintf(msg, n, "pid %u: %s", pid, strerror(-rc));
	} else {
		snprintf(msg, n, "pid %u killed", pid);
	}
	close(fd);
	return rc;
}

static bool is_cgroup2(const char *path)
{
	struct statfs sf;

	return statfs(path, &sf) == 0 && sf.f_type == CGROUP2_SUPER_MAGIC;
}

/*
 * The hierarchy the sensor's paths are in (sensor.c picks the same): the v2
 * one (hybrid hosts mount it at unified/), else, on a v1-only host, the memory
 * controller's.
 */
static const char *cg_root(void)
{
	if (is_cgroup2("/sys/fs/cgroup/unified"))
		return "/sys/fs/cgroup/unified";
	if (is_cgroup2("/sys/fs/cgroup"))
		return "/sys/fs/cgroup";
	return "/sys/fs/cgroup/memory";
}

int vg_cgroup_root_owned(const char *path, size_t len)
{
	int fd = open(cg_root(), O_PATH | O_DIRECTORY | O_CLOEXEC), rc = 1;
	struct stat st;

	if (fd < 0)
		return -errno;
	for (size_t i = 0; i < len && rc == 1;) {
		char name[256];
		size_t n;
		int next;

		while (i < len && path[i] == '/')
			i++;
		for (n = 0; i + n < len && path[i + n] != '/';)
			n++;
		if (!n)
			break;
		if (n >= sizeof(name)) {
			rc = -ENAMETOOLONG;
			break;
		}
		memcpy(name, path + i, n);
		name[n] = '\0';
		i += n;
		next = openat(fd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (next < 0 || fstat(next, &st)) {
			rc = -errno;
			if (next >= 0)
				close(next);
			break;
		}
		close(fd);
		fd = next;
		if (st.st_uid != 0)
			rc = 0;
	}
	close(fd);
	return rc;
}

int vg_cgroup_count(const char *path)
{
	char p[4200], buf[4096];
	int fd, count = 0;
	ssize_t r;

	snprintf(p, sizeof(p), "%s%s/cgroup.procs", cg_root(), path);
	fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while ((r = read(fd, buf, sizeof(buf))) > 0)
		for (ssize_t i = 0; i < r; i++)
			count += buf[i] == '\n';
	close(fd);
	return count;
}

int vg_kill_cgroup(const char *path, char *msg, size_t n)
{
	char p[4200];
	int fd, rc = 0;

	if (!path || !*path || !strcmp(path, "/")) {
		snprintf(msg, n, "refused: the root cgroup is the host");
		return -EPERM;
	}
	snprintf(p, sizeof(p), "%s%s/cgroup.kill", cg_root(), path);
	fd = open(p, O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (write(fd, "1", 1) != 1)
			rc = -errno;
		close(fd);
		if (rc)
			snprintf(msg, n, "writing %s: %s", p, strerror(-rc));
		else
			snprintf(msg, n, "cgroup %s killed", path);
		return rc;
	}
	rc = -errno;
	if (rc == -ENOENT && vg_cgroup_count(path) == -ENOENT) {
		snprintf(msg, n, "cgroup %s is gone (its processes exited)", path);
		return -ENOENT;
	}
	/* no cgroup.kill (v1, or a kernel before 5.14): every pid of cgroup.procs */
	{
		char procs[4200], buf[65536];
		ssize_t r;
		int pfd, killed = 0;

		snprintf(procs, sizeof(procs), "%s%s/cgroup.procs", cg_root(), path);
		pfd = open(procs, O_RDONLY | O_CLOEXEC);
		if (pfd < 0) {
			rc = -errno;
			snprintf(msg, n, "cannot open %s: %s", procs, strerror(-rc));
			return rc;
		}
		r = read(pfd, buf, sizeof(buf) - 1);
		close(pfd);
		buf[r > 0 ? r : 0] = '\0';
		for (char *t = strtok(buf, "\n"); t; t = strtok(NULL, "\n"))
			killed += kill((pid_t)atoi(t), SIGKILL) == 0;
		snprintf(msg, n, "cgroup %s: %d processes killed one by one", path, killed);
	}
	return 0;
}
