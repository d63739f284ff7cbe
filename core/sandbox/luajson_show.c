// SPDX-License-Identifier: BSD-2-Clause
/*
 * luajson_show.c - a Lua value as JSON for a person to read: never refused,
 * what JSON cannot hold written as a readable stand-in, its size bounded.
 * Reads tables raw (no metamethod runs) and allocates nothing in Lua.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "luajson.h"

#define SHOW_COST 4 /* bytes a value or key costs besides its text (quotes, comma, colon) */

struct show {
	struct vg_lua_show *s;
	const void *path[VG_LUA_SHOW_DEPTH]; /* the tables being written, outermost first */
	int depth;
};

static json_t *show(struct show *w, lua_State *L, int idx);

/* Spends n bytes of the budget; false (truncated set) when they are not left. */
static bool spend(struct show *w, size_t n)
{
	if (w->s->truncated || n > w->s->left) {
		w->s->truncated = true;
		w->s->left = 0;
		return false;
	}
	w->s->left -= n;
	return true;
}

/* s as a JSON string: bytes that are not UTF-8 become '?' (the rest stays readable). */
static json_t *show_string(const char *s, size_t len)
{
	json_t *j = json_stringn(s, len);
	char *copy;

	if (j)
		return j;
	copy = malloc(len + 1);
	if (!copy)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		copy[i] = (char)c;
		if (c >= 0x80 || !c)
			copy[i] = '?';
	}
	j = json_stringn(copy, len);
	free(copy);
	return j;
}

/* A table key as text into buf (a string key: its bytes, anchored by the table). */
static const char *key_text(lua_State *L, int idx, char *buf, size_t n, size_t *len)
{
	switch (lua_type(L, idx)) {
	case LUA_TSTRING:
		return lua_tolstring(L, idx, len); /* a string: converted in place is no change */
	case LUA_TNUMBER:
		if (lua_isinteger(L, idx))
			(void)snprintf(buf, n, "%lld", (long long)lua_tointeger(L, idx));
		else
			(void)snprintf(buf, n, "%.14g", lua_tonumber(L, idx));
		break;
	case LUA_TBOOLEAN:
		(void)snprintf(buf, n, "%s", lua_toboolean(L, idx) ? "true" : "false");
		break;
	default:
		(void)snprintf(buf, n, "(%s)", lua_typename(L, lua_type(L, idx)));
	}
	*len = strlen(buf);
	return buf;
}

/* Whether the table at idx is a non-empty sequence 1..n. */
static bool is_seq(lua_State *L, int idx)
{
	lua_Integer len = (lua_Integer)lua_rawlen(L, idx), count = 0;

	lua_pushnil(L);
	while (lua_next(L, idx)) {
		count++;
		lua_pop(L, 1);
	}
	return len > 0 && count == len;
}

static json_t *show_array(struct show *w, lua_State *L, int idx)
{
	lua_Integer len = (lua_Integer)lua_rawlen(L, idx);
	json_t *out = json_array();

	for (lua_Integer i = 1; out && i <= len && !w->s->truncated; i++) {
		json_t *v;

		lua_rawgeti(L, idx, i);
		v = show(w, L, -1);
		lua_pop(L, 1);
		if (!v || json_array_append_new(out, v)) {
			json_decref(out);
			return NULL;
		}
	}
	return out;
}

static int cmp_key(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* obj with its keys in byte order (Lua's own order changes from run to run); consumes obj. */
static json_t *sorted(json_t *obj)
{
	size_t n = json_object_size(obj), i = 0;
	const char **keys = calloc(n + 1, sizeof(*keys));
	json_t *out = json_object(), *v;
	const char *k;

	json_object_foreach(obj, k, v)
	{
		if (keys)
			keys[i++] = k;
	}
	if (keys)
		qsort(keys, n, sizeof(*keys), cmp_key);
	for (i = 0; keys && out && i < n; i++)
		if (json_object_set(out, keys[i], json_object_get(obj, keys[i])))
			break;
	free(keys);
	if (!keys || !out || i < n) { /* out of memory: as it was */
		json_decref(out);
		return obj;
	}
	json_decref(obj);
	return out;
}

static json_t *show_object(struct show *w, lua_State *L, int idx)
{
	json_t *out = json_object();

	if (!out)
		return NULL;
	lua_pushnil(L);
	while (lua_next(L, idx)) {
		char buf[64];
		size_t klen;
		const char *k = key_text(L, -2, buf, sizeof(buf), &klen);
		json_t *v, *kj;

		if (w->s->truncated || !spend(w, klen + SHOW_COST)) {
			lua_pop(L, 2);
			break;
		}
		v = show(w, L, -1);
		lua_pop(L, 1);
		kj = v ? show_string(k, klen)
		       : NULL; /* a key that is not UTF-8: '?' for its bad bytes */
		if (!kj ||
		    json_object_setn_new(out, json_string_value(kj), json_string_length(kj), v)) {
			if (!kj)
				json_decref(v);
			json_decref(kj);
			lua_pop(L, 1);
			json_decref(out);
			return NULL;
		}
		json_decref(kj);
	}
	return sorted(out);
}

static json_t *show_table(struct show *w, lua_State *L, int idx)
{
	const void *t = lua_topointer(L, idx);
	json_t *out;

	for (int i = 0; i < w->depth; i++)
		if (w->path[i] == t)
			return json_string("(cycle)");
	if (w->depth == VG_LUA_SHOW_DEPTH || !lua_checkstack(L, 4))
		return json_string("(too deep)");
	w->path[w->depth++] = t;
	if (is_seq(L, idx))
		out = show_array(w, L, idx);
	else
		out = show_object(w, L, idx);
	w->depth--;
	return out;
}

static json_t *show(struct show *w, lua_State *L, int idx)
{
	size_t len = 0;
	const char *s;

	idx = lua_absindex(L, idx);
	if (lua_type(L, idx) == LUA_TSTRING)
		(void)lua_tolstring(L, idx, &len);
	if (!spend(w, len + SHOW_COST))
		return json_string("(truncated)");
	switch (lua_type(L, idx)) {
	case LUA_TNIL:
		return json_null();
	case LUA_TBOOLEAN:
		return json_boolean(lua_toboolean(L, idx));
	case LUA_TNUMBER:
		if (lua_isinteger(L, idx))
			return json_integer((json_int_t)lua_tointeger(L, idx));
		if (isnan(lua_tonumber(L, idx)))
			return json_string("nan");
		if (isinf(lua_tonumber(L, idx)))
			return json_string(lua_tonumber(L, idx) > 0 ? "inf" : "-inf");
		return json_real(lua_tonumber(L, idx));
	case LUA_TSTRING:
		s = lua_tolstring(L, idx, &len);
		return show_string(s, len);
	case LUA_TTABLE:
		return show_table(w, L, idx);
	case LUA_TFUNCTION:
		if (lua_iscfunction(L, idx))
			return json_string("function (C)");
		return json_string("function (Lua)");
	default:
		return json_string(lua_typename(L, lua_type(L, idx)));
	}
}

json_t *vg_lua_show_json(lua_State *L, int idx, struct vg_lua_show *s)
{
	struct show w = {.s = s};

	return show(&w, L, idx);
}
