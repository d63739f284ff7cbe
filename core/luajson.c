// SPDX-License-Identifier: BSD-2-Clause
#include <math.h>
#include <stdio.h>

#include <lauxlib.h>

#include "luajson.h"

void vg_lua_push_json(lua_State *L, const json_t *j)
{
	const char *k;
	json_t *v;
	size_t i;

	luaL_checkstack(L, 4, "JSON nested too deep");
	switch (json_typeof(j)) {
	case JSON_OBJECT:
		lua_createtable(L, 0, (int)json_object_size(j));
		json_object_foreach((json_t *)j, k, v) {
			vg_lua_push_json(L, v);
			lua_setfield(L, -2, k);
		}
		break;
	case JSON_ARRAY:
		lua_createtable(L, (int)json_array_size(j), 0);
		json_array_foreach(j, i, v) {
			vg_lua_push_json(L, v);
			lua_rawseti(L, -2, (lua_Integer)i + 1);
		}
		break;
	case JSON_STRING:
		lua_pushlstring(L, json_string_value(j), json_string_length(j));
		break;
	case JSON_INTEGER:
		lua_pushinteger(L, (lua_Integer)json_integer_value(j));
		break;
	case JSON_REAL:
		lua_pushnumber(L, json_real_value(j));
		break;
	case JSON_TRUE:
		lua_pushboolean(L, 1);
		break;
	case JSON_FALSE:
		lua_pushboolean(L, 0);
		break;
	default:
		lua_pushnil(L);
	}
}

static json_t *conv(lua_State *L, int idx, int depth, char *err, size_t n)
{
	int t = lua_type(L, idx);

	idx = lua_absindex(L, idx);
	if (depth > 32) {
		snprintf(err, n, "more than 32 levels of tables (a cycle?)");
		return NULL;
	}
	switch (t) {
	case LUA_TNIL:
		return json_null();
	case LUA_TBOOLEAN:
		return json_boolean(lua_toboolean(L, idx));
	case LUA_TNUMBER:
		if (lua_isinteger(L, idx))
			return json_integer((json_int_t)lua_tointeger(L, idx));
		if (!isfinite(lua_tonumber(L, idx))) {
			snprintf(err, n, "a number JSON cannot hold (inf or nan)");
			return NULL;
		}
		return json_real(lua_tonumber(L, idx));
	case LUA_TSTRING: {
		size_t len;
		const char *s = lua_tolstring(L, idx, &len);
		json_t *j = json_stringn(s, len);

		if (!j)
			snprintf(err, n, "a string that is not UTF-8");
		return j;
	}
	case LUA_TTABLE: {
		lua_Integer len = (lua_Integer)lua_rawlen(L, idx), count = 0;
		json_t *out;

		lua_pushnil(L);
		while (lua_next(L, idx)) {
			count++;
			lua_pop(L, 1);
		}
		if (len > 0 && count == len) {
			out = json_array();
			for (lua_Integer i = 1; i <= len; i++) {
				json_t *v;

				lua_rawgeti(L, idx, i);
				v = conv(L, -1, depth + 1, err, n);
				lua_pop(L, 1);
				if (!v) {
					json_decref(out);
					return NULL;
				}
				json_array_append_new(out, v);
			}
			return out;
		}
		out = json_object();
		lua_pushnil(L);
		while (lua_next(L, idx)) {
			json_t *v;

			if (lua_type(L, -2) != LUA_TSTRING) {
				snprintf(err, n, "a table mixing string keys with others cannot be JSON");
				lua_pop(L, 2);
				json_decref(out);
				return NULL;
			}
			v = conv(L, -1, depth + 1, err, n);
			if (!v) {
				lua_pop(L, 2);
				json_decref(out);
				return NULL;
			}
			json_object_set_new(out, lua_tostring(L, -2), v);
			lua_pop(L, 1);
		}
		return out;
	}
	default:
		snprintf(err, n, "a %s cannot be JSON", lua_typename(L, t));
		return NULL;
	}
}

json_t *vg_lua_to_json(lua_State *L, int idx, char *err, size_t n)
{
	return conv(L, idx, 0, err, n);
}
