// SPDX-License-Identifier: BSD-2-Clause
/*
 * The data directory's rule (safefile.h): links, FIFOs, loose modes, other users'
 * files and swappable parents are refused with the path and the fix named.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "tmpdir.h"

#include "safefile.h"

static char err[1024];

static void path_of(char *out, size_t n, const char *name)
{
	snprintf(out, n, "%s/%s", dir, name);
}

static void write_file(const char *name, mode_t mode)
{
	char p[PATH_MAX];
	int fd;

	path_of(p, sizeof(p), name);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, mode);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "x\n", 2), 2);
	close(fd);
	assert_int_equal(chmod(p, mode), 0);
}

static int open_in(const char *name, int flags, mode_t forbid)
{
	int dfd = open(dir, O_RDONLY | O_DIRECTORY), fd;

	assert_true(dfd >= 0);
	fd = vg_safe_openat(dfd, dir, name, flags, 0600, forbid, err, sizeof(err));
	close(dfd);
	return fd;
}

static void test_regular_file_of_ours(void **state)
{
	int fd;

	(void)state;
	write_file("ok", 0600);
	fd = open_in("ok", O_RDONLY, 0077);
	assert_true(fd >= 0);
	assert_int_equal(fcntl(fd, F_GETFL) & O_NONBLOCK, 0); /* cleared once checked */
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	close(fd);
	/* created where absent, never where present */
	fd = open_in("new", O_WRONLY | O_CREAT | O_EXCL, 0077);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(open_in("new", O_WRONLY | O_CREAT | O_EXCL, 0077), -EEXIST);
	assert_int_equal(open_in("absent", O_RDONLY, 0077), -ENOENT);
}

static void test_links_are_never_followed(void **state)
{
	char p[PATH_MAX], want[PATH_MAX + 64];

	(void)state;
	write_file("target", 0600);
	path_of(p, sizeof(p), "link");
	assert_int_equal(symlink("target", p), 0);
	assert_int_equal(open_in("link", O_RDONLY, 0077), -ELOOP);
	snprintf(want, sizeof(want), "%s is a symbolic link", p);
	assert_non_null(strstr(err, want));
	/* nor created through: a dangling link stays dangling */
	path_of(p, sizeof(p), "dangling");
	assert_int_equal(symlink("nowhere", p), 0);
	assert_int_equal(open_in("dangling", O_RDWR | O_CREAT, 0022), -ELOOP);
	path_of(p, sizeof(p), "nowhere");
	assert_int_equal(access(p, F_OK), -1);
	assert_int_equal(vg_safe_open(p, O_RDONLY, 0, 0022, err, sizeof(err)), -ENOENT);
}

static void test_fifo_does_not_hang(void **state)
{
	char p[PATH_MAX];

	(void)state;
	path_of(p, sizeof(p), "fifo");
	assert_int_equal(mkfifo(p, 0600), 0);
	assert_int_equal(open_in("fifo", O_RDONLY, 0077), -EPERM);
	assert_non_null(strstr(err, "is not a regular file"));
}

static void test_modes_and_owners(void **state)
{
	(void)state;
	write_file("loose", 0640);
	assert_int_equal(open_in("loose", O_RDONLY, 0077), -EPERM);
	assert_non_null(strstr(err, "is open to group or others (mode 0640): chmod 600"));
	assert_true(open_in("loose", O_RDONLY, 0022) >= 0); /* readable is fine for 0022 */
	write_file("gw", 0620);
	assert_int_equal(open_in("gw", O_RDONLY, 0022), -EPERM);
	assert_non_null(strstr(err, "is writable by group or others (mode 0620): chmod go-w"));
	if (geteuid() == 0) { /* only root can give a file away */
		char p[PATH_MAX];

		write_file("theirs", 0600);
		path_of(p, sizeof(p), "theirs");
		assert_int_equal(chown(p, 65534, 65534), 0);
		assert_int_equal(open_in("theirs", O_RDONLY, 0077), -EPERM);
		assert_non_null(strstr(err, "belongs to uid 65534"));
	}
}

static void test_subdir_checks_every_entry(void **state)
{
	char sub[PATH_MAX], p[PATH_MAX + 16];

	(void)state;
	path_of(sub, sizeof(sub), "sub");
	assert_int_equal(mkdir(sub, 0700), 0);
	snprintf(p, sizeof(p), "%s/a", sub);
	close(open(p, O_WRONLY | O_CREAT, 0600));
	assert_int_equal(vg_safe_subdir(sub, err, sizeof(err)), 0);
	snprintf(p, sizeof(p), "%s/l", sub);
	assert_int_equal(symlink("/etc/passwd", p), 0);
	assert_int_equal(vg_safe_subdir(sub, err, sizeof(err)), -ELOOP);
	assert_non_null(strstr(err, "/sub/l is a symbolic link"));
	unlink(p);
	assert_int_equal(chmod(sub, 0770), 0);
	assert_int_equal(vg_safe_subdir(sub, err, sizeof(err)), -EPERM);
	assert_non_null(strstr(err, "is writable by group or others (mode 0770): chmod 700"));
	assert_int_equal(chmod(sub, 0700), 0);
	/* the directory itself a link */
	path_of(p, sizeof(p), "sublink");
	assert_int_equal(symlink("sub", p), 0);
	assert_int_equal(vg_safe_subdir(p, err, sizeof(err)), -ELOOP);
}

static void test_data_dir(void **state)
{
	char p[PATH_MAX], link[PATH_MAX], want[PATH_MAX];
	struct stat st;
	int fd;

	(void)state;
	/* made 0700 with its parents, the path made canonical */
	path_of(p, sizeof(p), "a/b/../data");
	fd = vg_safe_data_dir(p, sizeof(p), err, sizeof(err));
	assert_true(fd >= 0);
	close(fd);
	path_of(want, sizeof(want), "a/data");
	assert_string_equal(p, want);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	/* a link to it is resolved, and the real path kept */
	path_of(link, sizeof(link), "datalink");
	assert_int_equal(symlink(p, link), 0);
	fd = vg_safe_data_dir(link, sizeof(link), err, sizeof(err));
	assert_true(fd >= 0);
	close(fd);
	assert_string_equal(link, want);
	/* a parent anyone may write, not sticky: refused; sticky (as /tmp): fine */
	path_of(p, sizeof(p), "a");
	assert_int_equal(chmod(p, 0777), 0);
	snprintf(link, sizeof(link), "%s", want);
	assert_int_equal(vg_safe_data_dir(link, sizeof(link), err, sizeof(err)), -EPERM);
	assert_non_null(strstr(err, "and not sticky"));
	assert_int_equal(chmod(p, 01777), 0);
	fd = vg_safe_data_dir(link, sizeof(link), err, sizeof(err));
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(chmod(p, 0755), 0);
	/* the data directory itself loose */
	assert_int_equal(chmod(want, 0757), 0);
	assert_int_equal(vg_safe_data_dir(link, sizeof(link), err, sizeof(err)), -EPERM);
	assert_non_null(strstr(err, "the data directory"));
	assert_non_null(strstr(err, "(mode 0757): chmod 700"));
	assert_int_equal(chmod(want, 0700), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_regular_file_of_ours),
		cmocka_unit_test(test_links_are_never_followed),
		cmocka_unit_test(test_fifo_does_not_hang),
		cmocka_unit_test(test_modes_and_owners),
		cmocka_unit_test(test_subdir_checks_every_entry),
		cmocka_unit_test(test_data_dir),
	};

	umask(022);
	return RUN_IN_TMPDIR(tests, "vigil-safefile");
}
