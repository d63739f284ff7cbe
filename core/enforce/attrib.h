/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * attrib.h - whose exec this is, in a way a container cannot forge.
 *
 * The container is the outermost container level of the cgroup path
 * (container.c): the runtime made it, and whatever is below it is the
 * container's own doing. With Kubernetes the pod is taken only when the
 * node's pod list has that container in it and the cgroups above the
 * container are root's (a delegated subtree belongs to its user). Anything
 * suspect is written on the event, counted and warned about.
 */
#ifndef VG_ATTRIB_H
#define VG_ATTRIB_H

#include <stdint.h>

#include "event.h"
#include "k8s.h"

struct vg_attrib {
	uint64_t nested;     /* execs with a pod or container named below their container */
	uint64_t unverified; /* execs whose named pod was dropped, or whose path lost its top */
	uint64_t warn_ns, warn_skipped; /* the warning: at most one a minute */
	struct {
		uint64_t cgroup_id;
		int root_owned;
	} seen[256]; /* who made the levels above a container, by leaf cgroup id */
};

/*
 * Checks ev's container and pod (k: NULL without Kubernetes). Sets
 * ev->meta and ev->pod_verified for a verified pod; for a pod named and not
 * verified clears ev->ctr.pod_uid and sets ev->pod_denied; ev->attr_warning
 * says what was suspect.
 */
void vg_attribute(struct vg_attrib *a, struct vg_k8s *k, struct vg_event *ev);

#endif
