// SPDX-License-Identifier: BSD-2-Clause
/*
 * rootscan.c - a root filesystem's named binaries, on the worker: the
 * regular files (not symlinks: those are caught by the mapped executable's
 * name) of the PATH directories, resolved inside the root so that nothing
 * in a container can point the scan outside it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <linux/openat2.h>

#include "ident_priv.h"

/*
 * Files kept from one directory: a bound per directory, so that junk in one
 * (usr/local/sbin, scanned first) cannot keep the others from being scanned.
 */
#define SCAN_DIR_NAMES 4096

const char *const rootscan_dirs[] = {"usr/local/sbin", "usr/local/bin", "usr/sbin", "usr/bin",
				     "sbin",	       "bin",		NULL};

int rootscan_open(int root, const char *rel, int flags)
{
	struct open_how how = {.flags = (uint64_t)flags,
			       .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS};
	long fd = syscall(SYS_openat2, root, rel, &how, sizeof(how));

	return fd < 0 ? -errno : (int)fd;
}

static bool on_fuse(int fd)
{
	struct statfs sfs;

	return fstatfs(fd, &sfs) == 0 && sfs.f_type == IDENT_FUSE_MAGIC;
}

/*
 * Appends the regular files of dir (index d) to j->names, at most
 * SCAN_DIR_NAMES of them (j->n_truncated counts a directory with more);
 * 0 or -ENOMEM.
 */
static int scan_dir(struct hjob *j, int dfd, uint8_t d, int *cap)
{
	DIR *dir = fdopendir(dfd);
	struct dirent *de;
	int rc = 0, kept = 0;

	if (!dir) {
		(void)close(dfd); /* O_DIRECTORY read-only */
		return 0;
	}
	while ((de = readdir(dir))) {
		struct stat st;
		size_t len = strlen(de->d_name);

		if (de->d_type != DT_REG && de->d_type != DT_UNKNOWN)
			continue;
		if (len >= VG_IDENT_NAME_MAX || de->d_name[0] == '.')
			continue;
		if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
			continue;
		if (kept == SCAN_DIR_NAMES) {
			j->n_truncated++;
			break;
		}
		if (j->n_names == *cap) {
			int ncap = *cap ? *cap * 2 : 256;
			struct scan_name *nn = realloc(j->names, (size_t)ncap * sizeof(*nn));

			if (!nn) {
				rc = -ENOMEM;
				break;
			}
			j->names = nn;
			*cap = ncap;
		}
		fkey_of_stat(&j->names[j->n_names].key, &st);
		j->names[j->n_names].dir = d;
		memcpy(j->names[j->n_names].name, de->d_name, len + 1);
		j->n_names++;
		kept++;
	}
	(void)closedir(dir); /* read-only */
	return rc;
}

int rootscan_run(struct hjob *j)
{
	int cap = 0;

	j->names = NULL;
	j->n_names = 0;
	j->n_fuse = 0;
	j->n_truncated = 0;
	for (uint8_t d = 0; rootscan_dirs[d]; d++) {
		int dfd =
			rootscan_open(j->fd, rootscan_dirs[d], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		int rc;

		if (dfd < 0)
			continue; /* no such directory in this root */
		if (on_fuse(dfd)) {
			j->n_fuse++;
			(void)close(dfd); /* read-only */
			continue;
		}
		rc = scan_dir(j, dfd, d, &cap);
		if (rc < 0)
			return rc;
	}
	return 0;
}
