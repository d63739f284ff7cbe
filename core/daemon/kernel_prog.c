// SPDX-License-Identifier: BSD-2-Clause
/*
 * kernel_prog.c - the sensor's kernel maps from a policy set, for `vigil run`
 * and `vigil events --match` alike: the names to send and kill at exec, the
 * (name, euid) kills, what happens to fileless and drifted executables, and
 * the loaders and multi-call binaries whose program user space must name.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kernel_prog.h"

/*
 * Executables that run another program by name (kernel filter keys: a dentry
 * name cut to 15 bytes, lowercased): sent up, so that a policy's name reaches
 * the loader's program or the applet (policies/README.md).
 */
static const char *const relays[] = {
	"ld-linux-x86-64", "ld-linux-aarch6", "ld-linux-armhf.", "ld-linux.so.2", "ld-musl-x86_64.",
	"ld-musl-aarch64", "ld.so",	      "busybox",	 "toybox",
};
#define NRELAYS (int)(sizeof(relays) / sizeof(relays[0]))

/* The names with their actions, and the relays after them (send and wake only). */
static int program_names(struct vg_sensor *s, const char *const *names, const uint32_t *actions,
			 int n, bool all)
{
	const char **nm = calloc((size_t)n + NRELAYS, sizeof(*nm));
	uint32_t *act = calloc((size_t)n + NRELAYS, sizeof(*act));
	int rc = -ENOMEM;

	if (nm && act) {
		for (int i = 0; i < n; i++) {
			nm[i] = names[i];
			act[i] = actions ? actions[i] : 0;
		}
		for (int i = 0; i < NRELAYS && n; i++)
			nm[n + i] = relays[i]; /* act 0: send and wake only */
		rc = vg_sensor_filter_program_actions(s, nm, act, n ? n + NRELAYS : 0, all);
	}
	free(nm);
	free(act);
	return rc;
}

int vg_kernel_program(struct vg_sensor *s, struct vg_engine *e, const struct vg_kprog_opts *o)
{
	uint32_t bits = vg_engine_kernel_exe_policy(e);
	bool all = vg_engine_kernel_all(e);
	const uint32_t *actions;
	const char **names;
	int n = vg_engine_kernel_program(e, &names, &actions), rc;

	if (o->dry_run) { /* the kernel kills nothing */
		actions = NULL;
		bits &= ~(uint32_t)(VG_EXE_KILL_FILELESS | VG_EXE_KILL_FILELESS_HOST |
				    VG_EXE_KILL_DRIFT);
	} else { /* the uid pairs before the names that point at them */
		const int *ni;
		const uint32_t *uids;
		int nu = vg_engine_kernel_kill_uids(e, &ni, &uids);

		rc = vg_sensor_kill_uids_set(s, names, ni, uids, nu);
		if (rc)
			return rc;
	}
	if (o->content && n > 0)
		bits |= VG_EXE_SEND_CONTAINERS; /* content identity looks at every container exec */
	if (o->baselines)
		bits |= VG_EXE_SEND_CONTAINERS; /* every exec of a container is learned or checked
						 */
	/* ... and at every host exec when a policy looks at the host: the kernel sends all */
	all = all || (o->content && n > 0 && vg_engine_any_host(e));
	vg_sensor_ident_clear(s); /* the names files answer to are the old set's */
	vg_sensor_exe_policy(s, bits);
	return program_names(s, names, actions, n, all);
}
