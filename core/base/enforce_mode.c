// SPDX-License-Identifier: BSD-2-Clause
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "enforce_mode.h"

static const char *const names[] = {
	[VG_ENFORCE_INFORM] = "inform",
	[VG_ENFORCE_KILL_PROCESS] = "kill_process",
	[VG_ENFORCE_KILL_POD] = "kill_pod",
};

int vg_enforce_mode_parse(const char *s, enum vg_enforce_mode *mode)
{
	for (size_t i = 0; s && i < sizeof(names) / sizeof(names[0]); i++) {
		if (!strcmp(s, names[i])) {
			*mode = (enum vg_enforce_mode)i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *vg_enforce_mode_name(enum vg_enforce_mode mode)
{
	if ((size_t)mode >= sizeof(names) / sizeof(names[0]))
		return "?";
	return names[mode];
}
