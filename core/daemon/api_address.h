/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * api_address.h - DATA_DIR/api.address: the HOST:PORT the running daemon's API
 * listens on, beside api.token, so that `vigil ... --data-dir DIR` reaches the
 * daemon of DIR whatever configuration the command was given.
 */
#ifndef VG_API_ADDRESS_H
#define VG_API_ADDRESS_H

#include <stddef.h>

/* Writes listen into data_dir's api.address (data_fd: the checked directory), atomically
 * (a temporary file renamed over it). 0, or -errno with the error in err. */
int vg_api_address_write(int data_fd, const char *data_dir, const char *listen, char *err,
			 size_t errlen);

/* Removes it (a clean exit, or a start that has not listened yet). */
void vg_api_address_remove(int data_fd);

/* The address data_dir's daemon recorded, into addr (cap bytes): 0; -ENOENT when there is
 * none; another -errno with the error in err (an unsafe or malformed file). */
int vg_api_address_read(const char *data_dir, char *addr, size_t cap, char *err, size_t errlen);

#endif
