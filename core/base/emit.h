/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * emit.h - a document written value by value, so one description of a
 * document (the alert, alert_doc.c) can be built as a jansson tree for the API
 * and as Lua tables for the notifier plugins without a tree in between.
 *
 * key is the member's name inside an object and NULL inside an array. open
 * starts an object or array (n: how many members to expect, a hint) that
 * takes the values until its close. A NULL string is JSON null; in Lua, a
 * null member is absent.
 */
#ifndef VG_EMIT_H
#define VG_EMIT_H

#include <stdbool.h>
#include <stddef.h>

struct vg_emit {
	void (*open)(void *ctx, const char *key, bool array, int n);
	void (*close)(void *ctx);
	void (*str)(void *ctx, const char *key, const char *s);
	void (*num)(void *ctx, const char *key, long long v);
	void (*boolean)(void *ctx, const char *key, bool v);
};

/* Length of the UTF-8 sequence at s (n bytes left), or 0 when it is not valid UTF-8 (as jansson
 * checks it). */
size_t vg_utf8_len(const unsigned char *s, size_t n);

/* s if it is UTF-8 (or NULL), else a copy in buf (n bytes, truncated) with U+FFFD for each bad
 * byte. */
const char *vg_utf8_or_lossy(const char *s, char *buf, size_t n);

#endif
