/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * enforce_mode.h - what a policy does to a violating exec: inform, kill the
 * process, kill the pod. Parsed once where the string enters (a policy file,
 * an API request, the settings file, a flow's vigil.enforce) and compared as
 * an enum everywhere else.
 */
#ifndef VG_ENFORCE_MODE_H
#define VG_ENFORCE_MODE_H

enum vg_enforce_mode {
	VG_ENFORCE_INFORM,
	VG_ENFORCE_KILL_PROCESS,
	VG_ENFORCE_KILL_POD,
};

/* "inform", "kill_process" or "kill_pod" into *mode: 0, or -EINVAL for anything else. */
int vg_enforce_mode_parse(const char *s, enum vg_enforce_mode *mode);

/* The mode's name as policies and the API spell it. */
const char *vg_enforce_mode_name(enum vg_enforce_mode mode);

#endif
