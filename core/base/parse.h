/* SPDX-License-Identifier: BSD-2-Clause */
/* parse.h - numbers as the operator writes them (options, configuration). */
#ifndef VG_PARSE_H
#define VG_PARSE_H

#include <stdbool.h>
#include <stdint.h>

/*
 * Parses a decimal number; with sizes, a K, M or G suffix (powers of 1024).
 * Returns 0, or -EINVAL for anything else (empty, sign, junk, overflow).
 */
int vg_parse_u64(const char *s, uint64_t *out, bool sizes);

#endif
