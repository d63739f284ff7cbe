/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * lua_event.h - the event a policy's check(ev) sees: one userdata, reused for
 * every event, whose fields are read lazily by __index (no table per event).
 * ev:lineage() returns the ancestors; ev:ancestor(pattern) tests them.
 */
#ifndef VG_LUA_EVENT_H
#define VG_LUA_EVENT_H

#include <lua.h>

#include "event.h"
#include "match.h"

/* Registers the metatable and creates the reused userdata. */
void vg_lua_event_init(lua_State *L, vg_lineage_fn fn, void *ctx);
/* Points the userdata at ev (NULL: detached) and pushes it. */
void vg_lua_event_push(lua_State *L, struct vg_event *ev);
void vg_lua_event_detach(lua_State *L);

#endif
