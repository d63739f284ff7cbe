// SPDX-License-Identifier: BSD-2-Clause
/* api_address.c - DATA_DIR/api.address: where the running daemon's API listens. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "api_address.h"
#include "config.h"
#include "log.h"
#include "safefile.h"

#define ADDRESS_FILE "api.address"
#define ADDRESS_TMP  "api.address.tmp"

int vg_api_address_write(int data_fd, const char *data_dir, const char *listen, char *err,
			 size_t errlen)
{
	char line[160];
	ssize_t written;
	int fd, rc = 0, len = snprintf(line, sizeof(line), "%s\n", listen);

	if (len < 0 || (size_t)len >= sizeof(line))
		return vg_errf(err, errlen, -ENAMETOOLONG, "the API address %s is too long",
			       listen);
	(void)unlinkat(data_fd, ADDRESS_TMP, 0); /* a crash's leftover, if any: else ENOENT */
	fd = vg_safe_openat(data_fd, data_dir, ADDRESS_TMP, O_WRONLY | O_CREAT | O_EXCL, 0644, 0022,
			    err, errlen);
	if (fd < 0)
		return fd;
	written = write(fd, line, (size_t)len);
	if (written < 0 || fsync(fd))
		rc = -errno;
	else if (written != len)
		rc = -EIO; /* a short write of a few bytes: the disk is full */
	if (close(fd) && !rc)
		rc = -errno;
	if (!rc && renameat(data_fd, ADDRESS_TMP, data_fd, ADDRESS_FILE))
		rc = -errno;
	if (rc) {
		(void)unlinkat(data_fd, ADDRESS_TMP, 0); /* best effort: the error is reported */
		return vg_errf(err, errlen, rc, "cannot write %s/%s: %s", data_dir, ADDRESS_FILE,
			       strerror(-rc));
	}
	return 0;
}

void vg_api_address_remove(int data_fd)
{
	(void)unlinkat(data_fd, ADDRESS_FILE, 0); /* absent already: nothing to remove */
}

int vg_api_address_read(const char *data_dir, char *addr, size_t cap, char *err, size_t errlen)
{
	char path[1100];
	ssize_t r;
	int fd;

	(void)snprintf(path, sizeof(path), "%.1000s/%s", data_dir, ADDRESS_FILE); /* fits */
	/* the daemon's own rule (safefile.h): never a link, nobody else's, nobody else's to write
	 */
	fd = vg_safe_open(path, O_RDONLY, 0, 0022, err, errlen);
	if (fd < 0)
		return fd;
	r = read(fd, addr, cap - 1);
	if (r < 0)
		r = -errno;
	(void)close(fd); /* only read: nothing to lose */
	if (r < 0)
		return vg_errf(err, errlen, (int)r, "cannot read %s: %s", path, strerror((int)-r));
	addr[r] = '\0';
	addr[strcspn(addr, "\r\n")] = '\0';
	return vg_check_listen(path, addr, err, errlen);
}
