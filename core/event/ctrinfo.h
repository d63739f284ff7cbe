/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * ctrinfo.h - a container's name and image without Kubernetes, from the
 * runtime's own state files on this host (no program is run):
 *   podman, CRI-O  <storage root>/overlay-containers/containers.json
 *                  (containers/storage; root: the setting, else graphroot of
 *                  /etc/containers/storage.conf, else /var/lib/containers/storage)
 *   Docker         <docker root>/containers/<id>/config.v2.json
 * containerd keeps no such file (its state is in a bolt database): its
 * containers stay named by id.
 *
 * Cached by container id (a container's name and image never change), in a
 * bounded table; an id not found has the file read again at most once a
 * second, so a stream of execs never turns into a stream of file reads.
 */
#ifndef VG_CTRINFO_H
#define VG_CTRINFO_H

#include <stdbool.h>
#include <stdint.h>

#define VG_CTR_NAME_MAX	 128
#define VG_CTR_IMAGE_MAX 256

struct vg_ctrinfo;
struct vg_event;

struct vg_ctrinfo_opts {
	const char *storage_root; /* containers/storage root; NULL or "": storage.conf, default */
	const char *docker_root;  /* NULL or "": /var/lib/docker */
	const char *storage_conf; /* NULL: /etc/containers/storage.conf (tests point elsewhere) */
};

struct vg_ctrinfo_stats {
	uint64_t hits, misses; /* lookups answered from the cache, and not */
	uint64_t reads, read_errors;
};

/* 0 or -ENOMEM. */
int vg_ctrinfo_new(struct vg_ctrinfo **out, const struct vg_ctrinfo_opts *o);
void vg_ctrinfo_free(struct vg_ctrinfo *ci);

/*
 * Name and image of container id (64 hex) of runtime ("podman", "cri-o",
 * "docker", as container.h names them): true with *name and *image set
 * (borrowed until the next lookup; either may be "" when the runtime did not
 * say), false when unknown.
 */
bool vg_ctrinfo_lookup(struct vg_ctrinfo *ci, const char *id, const char *runtime,
		       const char **name, const char **image);

/*
 * Fills ev->ctr_name and ev->ctr_image for an exec in a container: from its
 * pod's metadata (ev->meta, Kubernetes) when that names the container, else
 * from the runtime's files through ci (NULL: none). Left "" when unknown.
 */
void vg_ctrinfo_name(struct vg_ctrinfo *ci, struct vg_event *ev);

void vg_ctrinfo_stats(const struct vg_ctrinfo *ci, struct vg_ctrinfo_stats *st);

#endif
