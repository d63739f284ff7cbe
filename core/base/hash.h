/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * hash.h - a fast hash of bytes for in-memory tables (never stored: it may change):
 * 8 bytes at a time, the tail folded in last (the last 8 bytes, overlapping, when there are
 * 8 or more), then mixed again so that the last bytes reach the low bits (a table indexes by
 * those; paths that differ only in their last character must not cluster).
 */
#ifndef VG_BASE_HASH_H
#define VG_BASE_HASH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline uint64_t vg_hash_bytes(const void *data, size_t n)
{
	const unsigned char *p = data;
	uint64_t h = 0x9e3779b97f4a7c15ull ^ n, w;
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		memcpy(&w, p + i, 8);
		h = (h ^ w) * 0xff51afd7ed558ccdull;
		h ^= h >> 32;
	}
	w = 0;
	if (i < n && n >= 8)
		memcpy(&w, p + n - 8, 8);
	for (; i < n && n < 8; i++)
		w = w << 8 | p[i];
	h = (h ^ w) * 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 32;
	h *= 0xff51afd7ed558ccdull;
	return h ^ (h >> 29);
}

#endif
