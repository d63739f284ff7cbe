/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tmpdir.h - for unit tests that need a store on disk: `dir` is a fresh
 * temporary directory while the group runs, removed when every test passed
 * and kept to look at when one failed.
 */
#ifndef VG_TEST_TMPDIR_H
#define VG_TEST_TMPDIR_H

#include <stdio.h>
#include <stdlib.h>

static char dir[64];

static void rm_rf(const char *path)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
	(void)!system(cmd);
}

#define RUN_IN_TMPDIR(tests, prefix)                                                               \
	({                                                                                         \
		int rc_ = 1;                                                                       \
		snprintf(dir, sizeof(dir), "/tmp/" prefix "-XXXXXX");                              \
		if (mkdtemp(dir)) {                                                                \
			rc_ = cmocka_run_group_tests(tests, NULL, NULL);                           \
			if (!rc_)                                                                  \
				rm_rf(dir);                                                        \
			else                                                                       \
				fprintf(stderr, "kept %s to look at\n", dir);                      \
		}                                                                                  \
		rc_;                                                                               \
	})

#endif
