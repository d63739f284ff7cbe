/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * container.h - container and pod identity from a cgroup path.
 *
 * Understands every layout the runtimes users have produce, on cgroup v1 and
 * v2 alike (the path is the same shape in both):
 *   containerd  .../cri-containerd-<id>.scope, /kubepods/<qos>/pod<uid>/<id>
 *   CRI-O       .../crio-<id>.scope, .../crio-<id>
 *   Docker      .../docker-<id>.scope, /docker/<id>
 *   podman      .../libpod-<id>.scope, .../libpod-<id>
 *   kubelet     kubepods-<qos>-pod<uid_with_underscores>.slice, pod<uid>
 * The deepest container component wins (nested runtimes, sub-cgroups such as
 * init.scope below a container). conmon's own cgroups are not containers.
 */
#ifndef VG_CONTAINER_H
#define VG_CONTAINER_H

#define VG_CONTAINER_ID_LEN 64
#define VG_CONTAINER_SHORT_LEN 12
#define VG_POD_UID_LEN 36

struct vg_container {
	char id[VG_CONTAINER_ID_LEN + 1];      /* 64 lowercase hex, "" for a host process */
	char short_id[VG_CONTAINER_SHORT_LEN + 1];
	char pod_uid[VG_POD_UID_LEN + 1];      /* 8-4-4-4-12, "" when not in a pod */
	const char *runtime;		       /* static string, NULL for a host process */
};

/*
 * Parses a cgroup path ("/kubepods/besteffort/pod<uid>/<id>"); a leading '/'
 * is optional. Fills *c (cleared first). Returns 1 when the path names a
 * container, 0 when it does not (c->pod_uid may still be set), -EINVAL when
 * path or c is NULL.
 */
int vg_container_parse(const char *path, struct vg_container *c);

#endif
