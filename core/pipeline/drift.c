// SPDX-License-Identifier: BSD-2-Clause
/*
 * drift.c - "not in the image" where the kernel cannot tell: a container's
 * executable on another mount (a volume, a bind mount) counts as not in its
 * image when the file changed after the container started. The kernel decides
 * the writable layer and tmpfs itself (event.c, decode_ident).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "drift.h"
#include "enforce.h"

#define STARTS 64 /* containers whose start time is kept */

struct start {
	char id[VG_CONTAINER_ID_LEN + 1];
	uint64_t ns;
};

struct vg_drift {
	struct start starts[STARTS];
	unsigned next; /* the slot replaced next: round robin */
	struct vg_drift_stats st;
};

int vg_drift_new(struct vg_drift **out)
{
	*out = calloc(1, sizeof(**out));
	return *out ? 0 : -ENOMEM;
}

void vg_drift_free(struct vg_drift *d)
{
	free(d);
}

/* The container's start: its cgroup level's making, cached by container id. */
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
	rc = vg_cgroup_made_ns(ev->cgroup, c->level_len, ns);
	if (rc)
		return rc;
	s = &d->starts[d->next++ % STARTS];
	memcpy(s->id, c->id, sizeof(s->id));
	s->ns = *ns;
	return 0;
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
