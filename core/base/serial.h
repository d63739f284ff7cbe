/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * serial.h - numbers unique within the process, never 0 and never reused: a
 * cache stamps a value it derived from something with that thing's serial,
 * and a later equal serial means the same thing, unchanged (pointers may be
 * reused after a free; serials are not).
 */
#ifndef VG_BASE_SERIAL_H
#define VG_BASE_SERIAL_H

#include <stdint.h>

uint64_t vg_serial_next(void);

#endif
