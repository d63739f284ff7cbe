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
 * The outermost container component wins: the runtime created that level,
 * and anything below it (init.scope, a nested runtime's containers, or a
 * sub-cgroup named after another pod to pass as it) is the container's own
 * doing, for a container whose cgroup is delegated or writable may mkdir
 * there. The pod is the one above that level; pod and container names below
 * it only set `nested`. A path the sensor cut short ("..." for its top levels,
 * deeper than it walks) names no pod: the levels that would tell are gone.
 * conmon's own cgroups are not containers.
 */
#ifndef VG_CONTAINER_H
#define VG_CONTAINER_H

#include <stdbool.h>
#include <stddef.h>

#define VG_CONTAINER_ID_LEN    64
#define VG_CONTAINER_SHORT_LEN 12
#define VG_POD_UID_LEN	       36

struct vg_container {
	char id[VG_CONTAINER_ID_LEN + 1]; /* 64 lowercase hex, "" for a host process */
	char short_id[VG_CONTAINER_SHORT_LEN + 1];
	char pod_uid[VG_POD_UID_LEN + 1]; /* 8-4-4-4-12 (a static pod's: 32 hex), "" when not
					     in a pod */
	const char *runtime;		  /* static string, NULL for a host process */
	size_t level_len; /* bytes of the path up to the end of the container's own level */
	bool nested;	  /* a pod or container name below that level (never attributed) */
	bool truncated;	  /* the path starts with "...": its top levels are unknown */
};

/*
 * Parses a cgroup path ("/kubepods/besteffort/pod<uid>/<id>"); a leading '/'
 * is optional. Fills *c (cleared first). Returns 1 when the path names a
 * container, 0 when it does not (c->pod_uid may still be set), -EINVAL when
 * path or c is NULL.
 */
int vg_container_parse(const char *path, struct vg_container *c);

#endif
