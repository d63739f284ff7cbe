// SPDX-License-Identifier: BSD-2-Clause
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "lua_event.h"

#define MT	 "vigil.event"
#define RE_CACHE 16

struct ud {
	struct vg_event *ev;
	vg_lineage_fn fn;
	void *ctx;
	struct {
		char *pattern;
		struct vg_regex *re;
	} cache[RE_CACHE];
	int next;
};

enum field {
	F_TIME = 1,
	F_PID,
	F_PPID,
	F_UID,
	F_GID,
	F_EUID,
	F_EGID,
	F_COMM,
	F_EXE,
	F_NAME,
	F_ARGS,
	F_ARGV,
	F_TRUNCATED,
	F_CWD,
	F_CGROUP,
	F_CONTAINER_ID,
	F_POD_UID,
	F_NAMESPACE,
	F_POD,
	F_CONTAINER,
	F_IMAGE,
	F_DEPLOYMENT,
	F_LABELS,
	F_KILLED,
	F_EXE_FILELESS,
	F_EXE_NOT_IN_IMAGE,
	F_PRIVILEGED,
	F_LINEAGE,
	F_ANCESTOR,
	F_EXE_NAME,
	F_LOADER,
	F_APPLET,
	F_CONTENT,
	F_EXE_SHA256,
	F_UNEXPECTED_PROCESS,
	F_BASELINE_PATH,
};

static const char *const field_names[] = {
	[F_TIME] = "time",
	[F_PID] = "pid",
	[F_PPID] = "ppid",
	[F_UID] = "uid",
	[F_GID] = "gid",
	[F_EUID] = "euid",
	[F_EGID] = "egid",
	[F_COMM] = "comm",
	[F_EXE] = "exe",
	[F_NAME] = "name",
	[F_ARGS] = "args",
	[F_ARGV] = "argv",
	[F_TRUNCATED] = "truncated",
	[F_CWD] = "cwd",
	[F_CGROUP] = "cgroup",
	[F_CONTAINER_ID] = "container_id",
	[F_POD_UID] = "pod_uid",
	[F_NAMESPACE] = "namespace",
	[F_POD] = "pod",
	[F_CONTAINER] = "container",
	[F_IMAGE] = "image",
	[F_DEPLOYMENT] = "deployment",
	[F_LABELS] = "labels",
	[F_KILLED] = "killed",
	[F_EXE_FILELESS] = "exe_fileless",
	[F_EXE_NOT_IN_IMAGE] = "exe_not_in_image",
	[F_PRIVILEGED] = "privileged",
	[F_LINEAGE] = "lineage",
	[F_ANCESTOR] = "ancestor",
	[F_EXE_NAME] = "exe_name",
	[F_LOADER] = "loader",
	[F_APPLET] = "applet",
	[F_CONTENT] = "content",
	[F_EXE_SHA256] = "exe_sha256",
	[F_UNEXPECTED_PROCESS] = "unexpected_process",
	[F_BASELINE_PATH] = "baseline_path",
};

static struct ud *check_ev(lua_State *L)
{
	struct ud *u = luaL_checkudata(L, 1, MT);

	if (!u->ev)
		luaL_error(L, "the event is only valid during the call it was passed to");
	return u;
}

static void push_str_or_nil(lua_State *L, const char *s)
{
	if (s && *s)
		lua_pushstring(L, s);
	else
		lua_pushnil(L);
}

static void fill_lineage(struct ud *u)
{
	if (!u->ev->lineage_done && u->fn)
		u->fn(u->ctx, u->ev);
}

static int l_lineage(lua_State *L)
{
	struct ud *u = check_ev(L);

	fill_lineage(u);
	lua_createtable(L, u->ev->n_lineage, 0);
	for (int i = 0; i < u->ev->n_lineage; i++) {
		lua_createtable(L, 0, 4);
		lua_pushinteger(L, u->ev->lineage[i].pid);
		lua_setfield(L, -2, "pid");
		lua_pushinteger(L, u->ev->lineage[i].uid);
		lua_setfield(L, -2, "uid");
		lua_pushstring(L, u->ev->lineage[i].exe);
		lua_setfield(L, -2, "exe");
		lua_pushstring(L, u->ev->lineage[i].name);
		lua_setfield(L, -2, "name");
		lua_rawseti(L, -2, i + 1);
	}
	return 1;
}

/* ev:ancestor(pattern): the first ancestor whose exe path matches, whole and caseless. */
static int l_ancestor(lua_State *L)
{
	struct ud *u = check_ev(L);
	const char *pat = luaL_checkstring(L, 2);
	struct vg_regex *re = NULL;
	char err[256];

	for (int i = 0; i < RE_CACHE; i++)
		if (u->cache[i].pattern && !strcmp(u->cache[i].pattern, pat))
			re = u->cache[i].re;
	if (!re) {
		int slot = u->next++ % RE_CACHE;

		re = vg_regex_new(pat, true, err, sizeof(err));
		if (!re)
			return luaL_error(L, "ev:ancestor: %s", err);
		vg_regex_free(u->cache[slot].re);
		free(u->cache[slot].pattern);
		u->cache[slot].re = re;
		u->cache[slot].pattern = strdup(pat);
	}
	fill_lineage(u);
	for (int i = 0; i < u->ev->n_lineage; i++) {
		if (vg_regex_match(re, u->ev->lineage[i].exe, strlen(u->ev->lineage[i].exe))) {
			lua_pushboolean(L, 1);
			lua_pushstring(L, u->ev->lineage[i].exe);
			return 2;
		}
	}
	lua_pushboolean(L, 0);
	return 1;
}

/* A field of the process: time, ids, names. Pushes it and returns true, or false when f is not one
 * of them. */
static bool push_process_field(lua_State *L, struct vg_event *ev, lua_Integer f)
{
	const struct vg_exec *r = ev->rec;

	switch (f) {
	case F_TIME:
		lua_pushinteger(L, (lua_Integer)ev->time_ns);
		break;
	case F_PID:
		lua_pushinteger(L, r->pid);
		break;
	case F_PPID:
		lua_pushinteger(L, r->ppid);
		break;
	case F_UID:
		lua_pushinteger(L, r->uid);
		break;
	case F_GID:
		lua_pushinteger(L, r->gid);
		break;
	case F_EUID:
		lua_pushinteger(L, r->euid);
		break;
	case F_EGID:
		lua_pushinteger(L, r->egid);
		break;
	case F_COMM:
		lua_pushstring(L, ev->comm);
		break;
	case F_EXE:
		lua_pushstring(L, ev->exe);
		break;
	case F_NAME:
		lua_pushstring(L, ev->name);
		break;
	case F_KILLED: /* the sensor killed it at exec (an enforcing policy's name) */
		lua_pushboolean(L, (r->flags & VG_EXEC_KILLED) != 0);
		break;
	default:
		return false;
	}
	return true;
}

/* A field read on demand: args, paths, container, lineage. Pushes it and returns true, or false
 * when f is not one of them. */
static bool push_exec_field(lua_State *L, struct vg_event *ev, lua_Integer f)
{
	switch (f) {
	case F_ARGS:
		vg_event_args(ev);
		lua_pushstring(L, ev->args);
		break;
	case F_TRUNCATED:
		vg_event_args(ev);
		lua_pushboolean(L, ev->args_truncated);
		break;
	case F_ARGV:
		vg_event_args(ev);
		lua_createtable(L, ev->argc, 0);
		for (int i = 0; i < ev->argc; i++) {
			lua_pushstring(L, ev->argv[i]);
			lua_rawseti(L, -2, i + 1);
		}
		break;
	case F_CWD:
		vg_event_paths(ev);
		push_str_or_nil(L, ev->cwd);
		break;
	case F_CGROUP:
		vg_event_paths(ev);
		lua_pushstring(L, ev->cgroup);
		break;
	case F_CONTAINER_ID:
		push_str_or_nil(L, vg_event_container(ev)->id);
		break;
	case F_POD_UID:
		push_str_or_nil(L, vg_event_container(ev)->pod_uid);
		break;
	case F_LINEAGE:
		lua_pushcfunction(L, l_lineage);
		break;
	case F_ANCESTOR:
		lua_pushcfunction(L, l_ancestor);
		break;
	default:
		return false;
	}
	return true;
}

/* A field of the Kubernetes metadata. Pushes it and returns true, or false when f is not one of
 * them. */
static bool push_meta_field(lua_State *L, struct vg_event *ev, lua_Integer f)
{
	const struct vg_meta *m = ev->meta;

	switch (f) {
	case F_NAMESPACE:
		push_str_or_nil(L, m ? m->namespace_ : NULL);
		break;
	case F_POD:
		push_str_or_nil(L, m ? m->pod : NULL);
		break;
	case F_CONTAINER:
		push_str_or_nil(L, m ? m->container : NULL);
		break;
	case F_IMAGE:
		push_str_or_nil(L, m ? m->image : NULL);
		break;
	case F_DEPLOYMENT:
		push_str_or_nil(L, m ? m->deployment : NULL);
		break;
	case F_PRIVILEGED:
		lua_pushboolean(L, m && m->privileged);
		break;
	case F_LABELS:
		if (!m || !m->labels) {
			lua_pushnil(L);
			break;
		}
		lua_newtable(L);
		for (int i = 0; m->labels[i] && m->labels[i + 1]; i += 2) {
			lua_pushstring(L, m->labels[i + 1]);
			lua_setfield(L, -2, m->labels[i]);
		}
		break;
	default:
		return false;
	}
	return true;
}

/* A field of the executable's identity. Pushes it and returns true, or false when f is not one
 * of them. */
static bool push_ident_field(lua_State *L, struct vg_event *ev, lua_Integer f)
{
	const struct vg_exe_ident *id = &ev->id;
	char hex[2 * sizeof(id->sha256) + 1];

	switch (f) {
	case F_EXE_NAME:
		push_str_or_nil(L, id->exe_name);
		return true;
	case F_LOADER:
	case F_APPLET:
		vg_event_ident_args(ev);
		push_str_or_nil(L, f == F_LOADER ? id->loader : id->applet);
		return true;
	case F_CONTENT:
		lua_createtable(L, id->n_content, 0);
		for (int i = 0; i < id->n_content && i < VG_IDENT_NAMES; i++) {
			lua_pushstring(L, id->content[i]);
			lua_rawseti(L, -2, i + 1);
		}
		return true;
	case F_EXE_SHA256:
		for (size_t i = 0; i < sizeof(id->sha256); i++)
			(void)snprintf(hex + 2 * i, 3, "%02x", id->sha256[i]); /* 2 digits, NUL */
		push_str_or_nil(L, id->has_sha256 ? hex : NULL);
		return true;
	case F_EXE_FILELESS:
		lua_pushboolean(L, id->fileless);
		return true;
	case F_EXE_NOT_IN_IMAGE:
		lua_pushboolean(L, id->not_in_image);
		return true;
	case F_UNEXPECTED_PROCESS:
		lua_pushboolean(L, ev->bl.unexpected);
		return true;
	case F_BASELINE_PATH:
		push_str_or_nil(L, ev->bl.path);
		return true;
	default:
		return false;
	}
}

static int l_index(lua_State *L)
{
	struct ud *u = check_ev(L);
	lua_Integer f;

	lua_pushvalue(L, 2);
	lua_rawget(L, lua_upvalueindex(1));
	f = lua_tointeger(L, -1);
	lua_pop(L, 1);
	if (push_process_field(L, u->ev, f) || push_exec_field(L, u->ev, f) ||
	    push_meta_field(L, u->ev, f) || push_ident_field(L, u->ev, f))
		return 1;
	return luaL_error(L, "event has no field '%s'", luaL_tolstring(L, 2, NULL));
}

static int l_newindex(lua_State *L)
{
	return luaL_error(L, "the event is read-only");
}

static int l_gc(lua_State *L)
{
	struct ud *u = luaL_checkudata(L, 1, MT);

	for (int i = 0; i < RE_CACHE; i++) {
		vg_regex_free(u->cache[i].re);
		free(u->cache[i].pattern);
	}
	return 0;
}

void vg_lua_event_init(lua_State *L, vg_lineage_fn fn, void *ctx)
{
	struct ud *u;

	luaL_newmetatable(L, MT);
	lua_newtable(L); /* field name -> id, the __index upvalue */
	for (int i = 1; i < (int)(sizeof(field_names) / sizeof(field_names[0])); i++) {
		lua_pushinteger(L, i);
		lua_setfield(L, -2, field_names[i]);
	}
	lua_pushcclosure(L, l_index, 1);
	lua_setfield(L, -2, "__index");
	lua_pushcfunction(L, l_newindex);
	lua_setfield(L, -2, "__newindex");
	lua_pushcfunction(L, l_gc);
	lua_setfield(L, -2, "__gc");
	lua_pushliteral(L, "vigil.event");
	lua_setfield(L, -2, "__metatable");
	lua_pop(L, 1);

	u = lua_newuserdatauv(L, sizeof(*u), 0);
	memset(u, 0, sizeof(*u));
	u->fn = fn;
	u->ctx = ctx;
	luaL_setmetatable(L, MT);
	lua_setfield(L, LUA_REGISTRYINDEX, "vigil.event.ud");
}

void vg_lua_event_push(lua_State *L, struct vg_event *ev)
{
	struct ud *u;

	lua_getfield(L, LUA_REGISTRYINDEX, "vigil.event.ud");
	u = lua_touserdata(L, -1);
	u->ev = ev;
}

void vg_lua_event_detach(lua_State *L)
{
	struct ud *u;

	lua_getfield(L, LUA_REGISTRYINDEX, "vigil.event.ud");
	u = lua_touserdata(L, -1);
	u->ev = NULL;
	lua_pop(L, 1);
}
