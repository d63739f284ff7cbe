/* SPDX-License-Identifier: BSD-2-Clause */
/* luajson.h - JSON (jansson) to Lua tables and back, for plugins. */
#ifndef VG_LUAJSON_H
#define VG_LUAJSON_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>
#include <lua.h>

#include "emit.h"

/* Pushes j as Lua values: objects and arrays become tables (arrays 1-based), null nil. */
void vg_lua_push_json(lua_State *L, const json_t *j);

/*
 * The value at idx as JSON (new reference): a table with keys 1..n is an
 * array, else an object (string keys only). NULL with err on a value JSON
 * cannot hold (a function, a cycle or more than 32 levels, a non-string key).
 */
json_t *vg_lua_to_json(lua_State *L, int idx, char *err, size_t errlen);

/*
 * Pushes the value at idx as JSON text: the document vg_lua_to_json describes,
 * written in one pass without a jansson tree (every notification body goes
 * through it). Returns 0, or -errno with err and nothing pushed.
 */
int vg_lua_encode_json(lua_State *L, int idx, char *err, size_t errlen);

/*
 * The value at idx as JSON for a person to read (new reference; NULL only out
 * of memory). Never refused: a Lua function is "function (Lua)", a C function
 * "function (C)", userdata or a thread its type name, a table met again inside
 * itself "(cycle)", one more than VG_LUA_SHOW_DEPTH levels down "(too deep)",
 * inf and nan "inf", "-inf", "nan", bytes that are not UTF-8 '?'; a key that is
 * not a string is written as text (1, true); keys are in byte order. Tables are read raw (no
 * metamethod runs) and nothing is allocated in Lua. Each value costs its text's length and a few
 * bytes of s->left; a value past the budget is "(truncated)", what follows it in its table is left
 * out and s->truncated is set.
 */
#define VG_LUA_SHOW_DEPTH 32
struct vg_lua_show {
	size_t left; /* bytes of budget left */
	bool truncated;
};
json_t *vg_lua_show_json(lua_State *L, int idx, struct vg_lua_show *s);

/*
 * An emitter (emit.h) whose document is left on L's stack as Lua tables
 * (null members absent). ctx: a struct vg_lua_doc, zeroed but for L. Runs
 * Lua API calls that raise on out-of-memory: call it inside a protected call.
 */
#define VG_LUA_DOC_DEPTH 16
struct vg_lua_doc {
	lua_State *L;
	int depth, lost;
	bool array[VG_LUA_DOC_DEPTH];
	lua_Integer count[VG_LUA_DOC_DEPTH];
	const char *key[VG_LUA_DOC_DEPTH];
};
extern const struct vg_emit vg_lua_emitter;

#endif
