/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * safefile.h - the data directory, which only vigil's own user may shape.
 *
 * The rule: the data directory and every directory and file vigil opens in it
 * belong to vigil's effective user and are writable by nobody else, and vigil
 * never follows a symbolic link in it. The directories above the data
 * directory belong to root or vigil's user and are writable by nobody else,
 * unless sticky (as /tmp is): so nobody else can swap what a path names
 * between the check and the use. Every function returns -errno with the path,
 * what is wrong and the fix in err.
 */
#ifndef VG_SAFEFILE_H
#define VG_SAFEFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/*
 * Opens the data directory at path (cap bytes), made 0700 (its missing parents
 * 0755) when absent, after checking it and every directory above it. path is
 * replaced by its canonical form (absolute, no symbolic links), so that later
 * opens by name land where the check looked. The directory's fd, or -errno.
 */
int vg_safe_data_dir(char *path, size_t cap, char *err, size_t errlen);

/*
 * Checks the directory path inside a checked directory: not a symbolic link,
 * vigil's user's, writable by nobody else, and every entry in it likewise
 * (no link, nothing but regular files and directories). 0, or -errno.
 */
int vg_safe_subdir(const char *path, char *err, size_t errlen);

/*
 * openat(dirfd, name, flags | O_NOFOLLOW | O_CLOEXEC, mode), dir naming dirfd
 * in messages: refuses a symbolic link, anything but a regular file, a file of
 * another user, and a file with any of the permission bits in forbid (0022:
 * writable by others; 0077: open to others at all). The fd, or -errno.
 */
int vg_safe_openat(int dirfd, const char *dir, const char *name, int flags, mode_t mode,
		   mode_t forbid, char *err, size_t errlen);

/* The same for a path whose directories were checked (its last component is not followed). */
int vg_safe_open(const char *path, int flags, mode_t mode, mode_t forbid, char *err, size_t errlen);

#endif
