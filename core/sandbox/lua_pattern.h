/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * lua_pattern.h - Lua 5.4's string patterns with a step count.
 *
 * string.find, match, gmatch and gsub with exactly the stock semantics
 * (classes, sets, captures, %b, %f, anchors, position captures,
 * back-references, the same errors), but a matcher that charges every step
 * to the running call's instruction budget through vg_lua_charge(): a
 * backtracking pattern stops like a loop does, however long the subject.
 */
#ifndef VG_LUA_PATTERN_H
#define VG_LUA_PATTERN_H

#include <lua.h>

/* Replaces find, match, gmatch and gsub in the string library table at lib. */
void vg_pattern_register(lua_State *L, int lib);

#endif
