// SPDX-License-Identifier: BSD-2-Clause
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "attrib.h"
#include "enforce.h"
#include "log.h"

/* A suspect attribution is worth a warning; a storm of them, one a minute with the count. */
static void warn(struct vg_attrib *a, struct vg_event *ev)
{
	struct timespec ts;
	uint64_t now;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	if (a->warn_ns && now - a->warn_ns < 60ull * 1000000000ull) {
		a->warn_skipped++;
		return;
	}
	vg_warn("pid %u (%s) in cgroup %.300s: %s (possibly an attempt to pass as another pod; "
		"vigil_attribution_*_total count them)%s",
		ev->rec->pid, ev->exe, ev->cgroup, ev->attr_warning,
		a->warn_skipped ? " [more like it since the last warning]" : "");
	a->warn_ns = now;
	a->warn_skipped = 0;
}

/*
 * 1 when every cgroup above the container's own level is root's (the kubelet's
 * and the runtime's; the container's own may be delegated to it), 0 when one
 * is not, -errno when that cannot be told. Cached by the leaf's cgroup id.
 */
static int made_by_root(struct vg_attrib *a, struct vg_event *ev)
{
	uint64_t id = ev->rec->cgroup_id;
	size_t n = sizeof(a->seen) / sizeof(a->seen[0]), top = ev->ctr.level_len;
	int rc;

	if (id && a->seen[id % n].cgroup_id == id)
		return a->seen[id % n].root_owned;
	while (top > 0 && ev->cgroup[top - 1] != '/')
		top--;
	rc = vg_cgroup_root_owned(ev->cgroup, top);
	if (rc >= 0 && id) {
		a->seen[id % n].cgroup_id = id;
		a->seen[id % n].root_owned = rc;
	}
	return rc;
}

void vg_attribute(struct vg_attrib *a, struct vg_k8s *k, struct vg_event *ev)
{
	struct vg_container *c = &ev->ctr;
	size_t n = sizeof(ev->attr_warning);
	int rc;

	vg_event_container(ev);
	if (c->nested) {
		a->nested++;
		snprintf(ev->attr_warning, n,
			 "a pod or container is named below container %s's own cgroup (%.120s): "
			 "attributed to container %s",
			 c->short_id, ev->cgroup + c->level_len, c->short_id);
	} else if (c->truncated && c->id[0]) {
		a->unverified++;
		snprintf(ev->attr_warning, n,
			 "the cgroup path lost its top levels (deeper than "
			 "the sensor walks): attributed to no pod");
	}
	if (!k || !c->pod_uid[0])
		goto out;
	switch (vg_k8s_verify(k, c->pod_uid, c->id[0] ? c->id : NULL, &ev->meta)) {
	case VG_K8S_UNKNOWN:
		goto out;
	case VG_K8S_MISMATCH:
		snprintf(ev->attr_warning, n,
			 "pod %s does not list container %s (API server): attributed to the "
			 "container alone",
			 c->pod_uid, c->id[0] ? c->short_id : "(none)");
		break;
	case VG_K8S_VERIFIED:
		rc = made_by_root(a, ev);
		if (rc == 1) {
			ev->pod_verified = true;
			goto out;
		}
		snprintf(ev->attr_warning, n,
			 "%s above container %s%s%s: attributed to the container alone",
			 rc ? "cannot tell who made the cgroups"
			    : "a cgroup not owned by root (a delegated subtree) is",
			 c->short_id, rc ? ": " : "", rc ? strerror(-rc) : "");
		break;
	}
	/* a pod named, not verified: the event names none */
	a->unverified++;
	ev->meta = NULL;
	ev->pod_denied = true;
	c->pod_uid[0] = '\0';
out:
	if (ev->attr_warning[0])
		warn(a, ev);
}
