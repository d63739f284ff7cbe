/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * enforce.h - killing from user space: a process through a pidfd (no pid
 * reuse race once opened), a container through its cgroup (cgroup.kill on
 * v2, every pid of cgroup.procs on v1).
 */
#ifndef VG_ENFORCE_H
#define VG_ENFORCE_H

#include <stddef.h>
#include <stdint.h>

/* SIGKILL to pid through pidfd_open + pidfd_send_signal. 0, or -errno with msg. */
int vg_kill_process(uint32_t pid, char *msg, size_t n);

/*
 * Kills every process of the cgroup at `path` (as the sensor reports it: in
 * the v2 hierarchy, or the v1 memory one on a v1-only host). 0, or -errno
 * with msg (-ENOENT: it is already gone).
 */
int vg_kill_cgroup(const char *path, char *msg, size_t n);

/*
 * Whether every cgroup directory of the path's first len bytes (in the
 * sensor's hierarchy, from its root down) is owned by root, as what the kubelet and
 * the runtimes make is. A delegated subtree (systemd's Delegate=, a user's
 * user@.service) belongs to its user, and so does anything made below it.
 * 1, 0, or -errno (-ENOENT: gone).
 */
int vg_cgroup_root_owned(const char *path, size_t len);

/* Processes left in the cgroup (0 once empty, -errno if it is gone). */
int vg_cgroup_count(const char *path);

#endif
