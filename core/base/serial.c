// SPDX-License-Identifier: BSD-2-Clause
#include <stdatomic.h>

#include "serial.h"

static _Atomic uint64_t last;

uint64_t vg_serial_next(void)
{
	return atomic_fetch_add(&last, 1) + 1;
}
