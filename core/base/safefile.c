// SPDX-License-Identifier: BSD-2-Clause
/* safefile.c - the data directory, which only vigil's own user may shape (safefile.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "safefile.h"

static const char link_fix[] = "vigil never follows links in its data directory (one could "
			       "point it at any file): remove it";

/*
 * What st (at shown) must be: vigil's user's, none of forbid's permission bits.
 * what prefixes the path in messages ("the data directory ", or "").
 */
static int check_stat(const struct stat *st, const char *what, const char *shown, mode_t forbid,
		      char *err, size_t n)
{
	uid_t me = geteuid();
	unsigned mode = st->st_mode & 07777;
	const struct passwd *pw;

	if (st->st_uid != me && S_ISDIR(st->st_mode) && (pw = getpwuid(me)))
		return vg_errf(
			err, n, -EPERM,
			"%s%s belongs to uid %u, not to vigil's user (uid %u): another user "
			"could have planted files in it; remove it and let vigil make it, or "
			"check what is in it and chown %s: %s; chmod 700 %s",
			what, shown, (unsigned)st->st_uid, (unsigned)me, pw->pw_name, shown, shown);
	if (st->st_uid != me) /* a file, or a directory of a user without a name */
		return vg_errf(err, n, -EPERM,
			       "%s%s belongs to uid %u, not to vigil's user (uid %u): another user "
			       "could have chosen what is in it; remove it",
			       what, shown, (unsigned)st->st_uid, (unsigned)me);
	if ((mode & forbid) && S_ISDIR(st->st_mode))
		return vg_errf(err, n, -EPERM,
			       "%s%s is writable by group or others (mode %04o): chmod 700 %s",
			       what, shown, mode, shown);
	if ((mode & forbid) && forbid & 0044)
		return vg_errf(
			err, n, -EPERM,
			"%s%s is open to group or others (mode %04o): chmod 600 %s, or remove "
			"it and vigil makes a new one",
			what, shown, mode, shown);
	if (mode & forbid)
		return vg_errf(err, n, -EPERM,
			       "%s%s is writable by group or others (mode %04o): chmod go-w %s",
			       what, shown, mode, shown);
	return 0;
}

/* Each directory above canon must be root's or ours, and not writable by others unless sticky. */
static int check_parents(const char *canon, char *err, size_t n)
{
	char up[PATH_MAX];
	struct stat st;

	snprintf(up, sizeof(up), "%s", canon);
	for (char *slash = strrchr(up, '/'); slash; slash = strrchr(up, '/')) {
		slash[slash == up] = '\0'; /* "/a/b" -> "/a" -> "/" */
		if (lstat(up, &st))
			return vg_errf(err, n, -errno,
				       "cannot check %s, above the data directory %s: %s", up,
				       canon, strerror(errno));
		if (st.st_uid != 0 && st.st_uid != geteuid())
			return vg_errf(
				err, n, -EPERM,
				"the data directory %s is inside %s, which belongs to uid %u: "
				"that user could swap the data directory; use one whose parents "
				"belong to root (e.g. --data-dir /var/lib/vigil)",
				canon, up, (unsigned)st.st_uid);
		if ((st.st_mode & 0022) && !(st.st_mode & S_ISVTX))
			return vg_errf(
				err, n, -EPERM,
				"the data directory %s is inside %s, which is writable by group or "
				"others (mode %04o) and not sticky: anyone could swap the data "
				"directory; chmod go-w %s, or use another data directory",
				canon, up, (unsigned)(st.st_mode & 07777), up);
		if (!strcmp(up, "/"))
			break;
	}
	return 0;
}

static int mkdirs(const char *path)
{
	char buf[PATH_MAX];

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, 0700) && errno != EEXIST)
		return -errno;
	return 0;
}

/* Opened with O_NONBLOCK (a FIFO must not block the open): blocking again for the caller. */
static int clear_nonblock(int fd, const char *what, const char *shown, char *err, size_t n)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK))
		return vg_errf(err, n, -errno, "cannot use %s%s: %s", what, shown, strerror(errno));
	return 0;
}

/* fd was opened (or failed to open, fd < 0) as shown: the checks every open shares. */
static int finish(int fd, const char *what, const char *shown, bool dir, int flags, mode_t forbid,
		  char *err, size_t n)
{
	struct stat st;
	int rc;

	if (fd < 0 && errno == ELOOP)
		return vg_errf(err, n, -ELOOP, "%s%s is a symbolic link: %s", what, shown,
			       link_fix);
	if (fd < 0)
		return vg_errf(err, n, -errno, "cannot open %s%s: %s", what, shown,
			       strerror(errno));
	if (fstat(fd, &st))
		rc = vg_errf(err, n, -errno, "cannot stat %s%s: %s", what, shown, strerror(errno));
	else if (dir ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode))
		rc = vg_errf(err, n, -EPERM, "%s%s is not a %s: remove it", what, shown,
			     dir ? "directory" : "regular file");
	else
		rc = check_stat(&st, what, shown, forbid, err, n);
	if (!rc && !(flags & O_NONBLOCK))
		rc = clear_nonblock(fd, what, shown, err, n);
	if (rc) {
		(void)close(fd); /* not handed out: nothing was written through it */
		return rc;
	}
	return fd;
}

int vg_safe_data_dir(char *path, size_t cap, char *err, size_t n)
{
	char canon[PATH_MAX];
	int rc, fd;

	rc = mkdirs(path);
	if (rc)
		return vg_errf(err, n, rc, "cannot create the data directory %s: %s", path,
			       strerror(-rc));
	if (!realpath(path, canon))
		return vg_errf(err, n, -errno, "cannot resolve the data directory %s: %s", path,
			       strerror(errno));
	if (strlen(canon) >= cap)
		return vg_errf(err, n, -ENAMETOOLONG, "the data directory %s: the path is too long",
			       canon);
	rc = check_parents(canon, err, n);
	if (rc)
		return rc;
	fd = open(canon, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	fd = finish(fd, "the data directory ", canon, true, O_NONBLOCK, 0022, err, n);
	if (fd >= 0)
		snprintf(path, cap, "%s", canon);
	return fd;
}

/* Every entry of the directory fd (shown as dir): a file or directory vigil could have made. */
static int check_entries(int fd, const char *dir, char *err, size_t n)
{
	int dfd = dup(fd), rc = 0;
	DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
	struct dirent *de;
	struct stat st;
	char shown[PATH_MAX];

	if (!d) {
		rc = vg_errf(err, n, -errno, "cannot list %s: %s", dir, strerror(errno));
		if (dfd >= 0)
			(void)close(dfd); /* a duplicate, only read: nothing to lose */
		return rc;
	}
	while (!rc && (de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(shown, sizeof(shown), "%s/%s", dir, de->d_name);
		if (fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW))
			rc = vg_errf(err, n, -errno, "cannot stat %s: %s", shown, strerror(errno));
		else if (S_ISLNK(st.st_mode))
			rc = vg_errf(err, n, -ELOOP, "%s is a symbolic link: %s", shown, link_fix);
		else if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
			rc = vg_errf(err, n, -EPERM, "%s is not a regular file: remove it", shown);
		else
			rc = check_stat(&st, "", shown, 0022, err, n);
	}
	(void)closedir(d); /* only read: nothing to lose */
	return rc;
}

int vg_safe_subdir(const char *path, char *err, size_t n)
{
	int fd, rc;

	fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && (errno == ELOOP || errno == ENOTDIR)) { /* a link to a directory: ENOTDIR */
		struct stat st;

		if (!lstat(path, &st) && S_ISLNK(st.st_mode))
			errno = ELOOP;
	}
	fd = finish(fd, "", path, true, O_NONBLOCK, 0022, err, n);
	if (fd < 0)
		return fd;
	rc = check_entries(fd, path, err, n);
	(void)close(fd); /* only read: nothing to lose */
	return rc;
}

int vg_safe_openat(int dirfd, const char *dir, const char *name, int flags, mode_t mode,
		   mode_t forbid, char *err, size_t n)
{
	char shown[PATH_MAX];
	int fd;

	snprintf(shown, sizeof(shown), "%s/%s", dir, name);
	fd = openat(dirfd, name, flags | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, mode);
	return finish(fd, "", shown, false, flags, forbid, err, n);
}

int vg_safe_open(const char *path, int flags, mode_t mode, mode_t forbid, char *err, size_t n)
{
	int fd = open(path, flags | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, mode);

	return finish(fd, "", path, false, flags, forbid, err, n);
}
