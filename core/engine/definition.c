// SPDX-License-Identifier: BSD-2-Clause
/*
 * definition.c - a policy's definition as JSON, built once at load for the
 * API and the console: its match sections, scope, exclusions, check (where
 * it is in the file, and its source) and embedded tests, read from the
 * normalised table the DSL made (plain tables: no metamethod runs).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>

#include "engine_priv.h"
#include "luajson.h"

#define DEF_BUDGET   (64u << 10) /* bytes of JSON text a policy's definition may take */
#define CHECK_SOURCE (8u << 10)	 /* bytes of a check's source shown */

/* Spends n bytes of the budget on what the definition adds around the values shown. */
static bool charge(struct vg_lua_show *s, size_t n)
{
	if (s->truncated || n > s->left) {
		s->truncated = true;
		s->left = 0;
		return false;
	}
	s->left -= n;
	return true;
}

/* The section on top of the stack, a list of criteria, as the match table it came from. */
static json_t *section_json(lua_State *L, struct vg_lua_show *s)
{
	int n = (int)lua_rawlen(L, -1);
	json_t *out = json_object();

	for (int c = 1; out && c <= n && !s->truncated; c++) {
		char key[80];
		json_t *v;

		lua_rawgeti(L, -1, c);
		lua_getfield(L, -1, "negate");
		lua_getfield(L, -2, "criterion");
		(void)snprintf(key, sizeof(key), "%s%s", lua_toboolean(L, -2) ? "not_" : "",
			       lua_tostring(L, -1));
		lua_pop(L, 2);
		if (!charge(s, strlen(key) + 4)) {
			lua_pop(L, 1);
			break;
		}
		lua_getfield(L, -1, "kind");
		lua_getfield(L, -2, "values");
		if (lua_type(L, -2) == LUA_TSTRING && !strcmp(lua_tostring(L, -2), "bool"))
			lua_rawgeti(L, -1, 1); /* written `privileged = true`: the one value */
		else
			lua_pushvalue(L, -1);
		v = vg_lua_show_json(L, -1, s);
		lua_pop(L, 4);
		if (!v || json_object_set_new(out, key, v)) {
			json_decref(out);
			return NULL;
		}
	}
	return out;
}

/* t[key], a list, each element shown by fn (NULL: as it is): a JSON array. */
static json_t *list_json(lua_State *L, int t, const char *key, struct vg_lua_show *s,
			 json_t *(*fn)(lua_State *L, struct vg_lua_show *s))
{
	json_t *out = json_array();
	int n;

	lua_getfield(L, t, key);
	n = (int)lua_rawlen(L, -1);
	for (int i = 1; out && i <= n && !s->truncated; i++) {
		json_t *v;

		lua_rawgeti(L, -1, i);
		if (fn)
			v = fn(L, s);
		else
			v = vg_lua_show_json(L, -1, s);
		lua_pop(L, 1);
		if (!v || json_array_append_new(out, v)) {
			json_decref(out);
			out = NULL;
		}
	}
	lua_pop(L, 1);
	return out;
}

/* The test on top of the stack, {ev = {...}, expect = b}, as {"ev": ..., "expect": b}. */
static json_t *test_json(lua_State *L, struct vg_lua_show *s)
{
	json_t *ev;
	bool expect;

	if (!charge(s, sizeof("{\"ev\":,\"expect\":false},")))
		return json_string("(truncated)");
	lua_getfield(L, -1, "expect");
	expect = lua_toboolean(L, -1);
	lua_getfield(L, -2, "ev");
	ev = vg_lua_show_json(L, -1, s);
	lua_pop(L, 2);
	if (!ev)
		return NULL;
	return json_pack("{s:o, s:b}", "ev", ev, "expect", expect);
}

/* Lines first..last of buf, at most max bytes (cut at a line's end), or NULL. */
static json_t *source_lines(const char *buf, size_t len, int first, int last, size_t max)
{
	const char *b = NULL, *e = buf + len;
	int line = 1;

	for (const char *q = buf; q < buf + len; q++) {
		if (line == first && !b)
			b = q;
		if (*q == '\n' && ++line > last) {
			e = q + 1;
			break;
		}
	}
	if (!b)
		return NULL;
	while ((size_t)(e - b) > max && e > b) {
		const char *nl = memrchr(b, '\n', (size_t)(e - b) - 1);

		e = nl ? nl + 1 : b;
	}
	return json_stringn(b, (size_t)(e - b)); /* NULL for a source that is not UTF-8 */
}

/* The policy's check function: where it is, and its source when it is in buf. */
static json_t *check_json(struct pol *p, lua_State *L, const char *buf, size_t len,
			  struct vg_lua_show *s)
{
	lua_Debug ar;
	json_t *out, *src = NULL;
	size_t max = CHECK_SOURCE;

	if (!p->info.has_check)
		return json_null();
	lua_rawgeti(L, LUA_REGISTRYINDEX, p->check_ref);
	if (!lua_getinfo(L, ">S", &ar) || ar.linedefined <= 0) /* pops the function */
		return json_pack("{s:s}", "kind", "function (C)");
	if (max > s->left)
		max = s->left;
	if (ar.source[0] == '@' && !strcmp(ar.source + 1, p->info.file))
		src = source_lines(buf, len, ar.linedefined, ar.lastlinedefined, max);
	if (src)
		s->left -= json_string_length(src);
	out = json_pack("{s:s, s:s, s:i, s:i}", "kind", "function (Lua)", "file", p->info.file,
			"firstLine", ar.linedefined, "lastLine", ar.lastlinedefined);
	if (out && src)
		(void)json_object_set_new(out, "source", src);
	else
		json_decref(src);
	return out;
}

int engine_definition_build(struct pol *p, lua_State *L, const char *buf, size_t len)
{
	struct vg_lua_show s = {.left = DEF_BUDGET};
	int top = lua_gettop(L), t;
	json_t *d;

	if (!lua_checkstack(L, 16))
		return -ENOMEM;
	lua_rawgeti(L, LUA_REGISTRYINDEX, p->table_ref);
	t = lua_gettop(L);
	d = json_object();
	if (d) {
		(void)json_object_set_new(d, "criteria",
					  list_json(L, t, "sections", &s, section_json));
		lua_getfield(L, t, "scope");
		(void)json_object_set_new(d, "scope", vg_lua_show_json(L, -1, &s));
		lua_pop(L, 1);
		(void)json_object_set_new(d, "exclusions", list_json(L, t, "exclude", &s, NULL));
		(void)json_object_set_new(d, "hasCheck", json_boolean(p->info.has_check));
		(void)json_object_set_new(d, "check", check_json(p, L, buf, len, &s));
		(void)json_object_set_new(d, "tests", list_json(L, t, "tests", &s, test_json));
		(void)json_object_set_new(d, "definitionTruncated", json_boolean(s.truncated));
	}
	lua_settop(L, top);
	if (!d || json_object_size(d) != 7) { /* a member lost to a failed allocation */
		json_decref(d);
		return -ENOMEM;
	}
	p->def = d;
	p->info.definition = d;
	return 0;
}
