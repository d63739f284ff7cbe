/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * record.h - builds a struct vg_exec exactly as the kernel program does, for
 * policy tests, synthetic traces and the benchmark.
 */
#ifndef VG_RECORD_H
#define VG_RECORD_H

#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>

#include "vigil_abi.h"

struct vg_record_spec {
	const char *exe;	 /* required */
	const char *comm;	 /* NULL: basename of exe, cut to 15 bytes as the kernel does */
	const char *const *argv; /* argv[0..argc-1]; NULL: { exe } */
	int argc;
	const char *cwd;      /* "/a/b"; NULL: not captured */
	const char *cgroup;   /* "/kubepods/.../libpod-<id>"; NULL: "/" */
	const char *exe_name; /* the mapped executable's basename; NULL: not known */
	uint32_t pid, ppid, uid, gid, euid, egid;
	/* pid in its pid namespace; 0: pid + 1 with VG_EXEC_IN_CONTAINER (a namespace of its
	 * own, as container runtimes make), else pid (the initial namespace) */
	uint32_t ns_pid;
	uint64_t boot_ns, cgroup_id;
	const struct vg_ancestor *anc;
	int nanc;
	uint32_t flags; /* VG_EXEC_* facts the kernel would set (EXE_KNOWN, EXE_FILELESS, ...) */
};

/* Returns the record's size, or 0 when it does not fit in cap or a field is too long. */
size_t vg_record_build(void *buf, size_t cap, const struct vg_record_spec *s);

#endif
