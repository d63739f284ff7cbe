// SPDX-License-Identifier: BSD-2-Clause
/*
 * luajson.c - JSON and Lua values: jansson trees to Lua tables and back,
 * Lua values to JSON text in one pass, and an emitter building Lua tables.
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>

#include "emit.h"
#include "log.h"
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
		json_object_foreach((json_t *)j, k, v)
		{
			vg_lua_push_json(L, v);
			lua_setfield(L, -2, k);
		}
		break;
	case JSON_ARRAY:
		lua_createtable(L, (int)json_array_size(j), 0);
		json_array_foreach(j, i, v)
		{
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

/* Whether the table at idx is a non-empty sequence 1..n (then it is a JSON array). */
static bool is_array(lua_State *L, int idx)
{
	lua_Integer len = (lua_Integer)lua_rawlen(L, idx), count = 0;

	lua_pushnil(L);
	while (lua_next(L, idx)) {
		count++;
		lua_pop(L, 1);
	}
	return len > 0 && count == len;
}

static json_t *conv(lua_State *L, int idx, int depth, char *err, size_t n);

static json_t *conv_array(lua_State *L, int idx, int depth, char *err, size_t n)
{
	lua_Integer len = (lua_Integer)lua_rawlen(L, idx);
	json_t *out = json_array();

	if (!out) {
		(void)vg_errf(err, n, -ENOMEM, "out of memory");
		return NULL;
	}
	for (lua_Integer i = 1; i <= len; i++) {
		json_t *v;

		lua_rawgeti(L, idx, i);
		v = conv(L, -1, depth + 1, err, n);
		lua_pop(L, 1);
		if (!v || json_array_append_new(out, v)) {
			if (v)
				(void)vg_errf(err, n, -ENOMEM, "out of memory");
			json_decref(out);
			return NULL;
		}
	}
	return out;
}

/* The key/value pair on top of the stack into out; -errno with err (the pair is left). */
static int conv_member(lua_State *L, json_t *out, int depth, char *err, size_t n)
{
	size_t klen;
	const char *k;
	json_t *v;

	if (lua_type(L, -2) != LUA_TSTRING)
		return vg_errf(err, n, -EINVAL,
			       "a table mixing string keys with others cannot be JSON");
	v = conv(L, -1, depth + 1, err, n);
	if (!v)
		return -EINVAL;
	k = lua_tolstring(L, -2, &klen);
	if (json_object_setn_new(out, k, klen, v)) /* a key that is not UTF-8 */
		return vg_errf(err, n, -EINVAL, "a string that is not UTF-8");
	return 0;
}

static json_t *conv_object(lua_State *L, int idx, int depth, char *err, size_t n)
{
	json_t *out = json_object();

	if (!out) {
		(void)vg_errf(err, n, -ENOMEM, "out of memory");
		return NULL;
	}
	lua_pushnil(L);
	while (lua_next(L, idx)) {
		if (conv_member(L, out, depth, err, n)) {
			lua_pop(L, 2);
			json_decref(out);
			return NULL;
		}
		lua_pop(L, 1);
	}
	return out;
}

static json_t *conv(lua_State *L, int idx, int depth, char *err, size_t n)
{
	int t = lua_type(L, idx);
	json_t *j = NULL;

	idx = lua_absindex(L, idx);
	if (depth > 32) {
		(void)vg_errf(err, n, -ELOOP, "more than 32 levels of tables (a cycle?)");
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
		if (!isfinite(lua_tonumber(L, idx)))
			(void)vg_errf(err, n, -ERANGE, "a number JSON cannot hold (inf or nan)");
		else
			j = json_real(lua_tonumber(L, idx));
		return j;
	case LUA_TSTRING: {
		size_t len;
		const char *s = lua_tolstring(L, idx, &len);

		j = json_stringn(s, len);
		if (!j)
			(void)vg_errf(err, n, -EINVAL, "a string that is not UTF-8");
		return j;
	}
	case LUA_TTABLE:
		luaL_checkstack(L, 4, "JSON nested too deep"); /* a key and a value a level */
		if (is_array(L, idx))
			return conv_array(L, idx, depth, err, n);
		return conv_object(L, idx, depth, err, n);
	default:
		(void)vg_errf(err, n, -EINVAL, "a %s cannot be JSON", lua_typename(L, t));
		return NULL;
	}
}

json_t *vg_lua_to_json(lua_State *L, int idx, char *err, size_t n)
{
	return conv(L, idx, 0, err, n);
}

/* ---- Lua value to JSON text in one pass (vigil.json_encode) -------------------------- */

struct jbuf {
	lua_State *L;
	int slot; /* the stack slot of the userdata holding p */
	char *p;
	size_t len, cap;
	char *err;
	size_t errlen;
};

/* Room for need more bytes: a bigger userdata takes the buffer's slot (no leak if Lua raises). */
static void room(struct jbuf *b, size_t need)
{
	size_t cap = b->cap;
	char *p;

	if (b->len + need <= b->cap)
		return;
	while (cap < b->len + need)
		cap *= 2;
	p = lua_newuserdatauv(b->L, cap, 0);
	memcpy(p, b->p, b->len);
	lua_replace(b->L, b->slot);
	b->p = p;
	b->cap = cap;
}

static void put(struct jbuf *b, const char *s, size_t n)
{
	room(b, n);
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

/* The control character or quote c, escaped. */
static void put_escape(struct jbuf *b, unsigned char c)
{
	static const char hex[] = "0123456789ABCDEF";
	char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};

	switch (c) {
	case '"':
		put(b, "\\\"", 2);
		return;
	case '\\':
		put(b, "\\\\", 2);
		return;
	case '\b':
		put(b, "\\b", 2);
		return;
	case '\f':
		put(b, "\\f", 2);
		return;
	case '\n':
		put(b, "\\n", 2);
		return;
	case '\r':
		put(b, "\\r", 2);
		return;
	case '\t':
		put(b, "\\t", 2);
		return;
	default:
		put(b, esc, 6);
	}
}

static int put_string(struct jbuf *b, const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0;

	room(b, n + 2);
	b->p[b->len++] = '"';
	while (i < n) {
		size_t run = i, k;

		while (run < n && u[run] >= 0x20 && u[run] < 0x80 && u[run] != '"' &&
		       u[run] != '\\')
			run++;
		if (run > i) {
			put(b, s + i, run - i);
			i = run;
		} else if (u[i] >= 0x80) {
			k = vg_utf8_len(u + i, n - i);
			if (!k)
				return vg_errf(b->err, b->errlen, -EINVAL,
					       "a string that is not UTF-8");
			put(b, s + i, k);
			i += k;
		} else {
			put_escape(b, u[i++]);
		}
	}
	put(b, "\"", 1);
	return 0;
}

/* A real as jansson writes it: 17 significant digits, a ".0" on integral values, no '+' or leading
 * zeros in the exponent. */
static void put_real(struct jbuf *b, double d)
{
	char s[40], *e;
	int n = snprintf(s, sizeof(s), "%.17g", d);

	if (!strpbrk(s, ".eE"))
		n += snprintf(s + n, sizeof(s) - (size_t)n, ".0");
	if ((e = strchr(s, 'e'))) {
		char *d0 = ++e, *q;

		if (*e == '-')
			d0 = ++e;
		else if (*e == '+')
			d0 = e;
		for (q = d0; *q == '+' || (*q == '0' && q[1]); q++)
			;
		memmove(e, q, strlen(q) + 1);
		n = (int)strlen(s);
	}
	put(b, s, (size_t)n);
}

static int enc(struct jbuf *b, int idx, int depth);

static int enc_array(struct jbuf *b, int idx, int depth)
{
	lua_Integer len = (lua_Integer)lua_rawlen(b->L, idx);

	put(b, "[", 1);
	for (lua_Integer i = 1; i <= len; i++) {
		int rc;

		if (i > 1)
			put(b, ",", 1);
		lua_rawgeti(b->L, idx, i);
		rc = enc(b, lua_gettop(b->L), depth + 1);
		lua_pop(b->L, 1);
		if (rc)
			return rc;
	}
	put(b, "]", 1);
	return 0;
}

static int enc_object(struct jbuf *b, int idx, int depth)
{
	lua_State *L = b->L;
	bool first = true;

	put(b, "{", 1);
	lua_pushnil(L);
	while (lua_next(L, idx)) {
		size_t klen;
		const char *k;
		int rc;

		if (lua_type(L, -2) != LUA_TSTRING) {
			lua_pop(L, 2);
			return vg_errf(b->err, b->errlen, -EINVAL,
				       "a table mixing string keys with others cannot be JSON");
		}
		if (!first)
			put(b, ",", 1);
		first = false;
		k = lua_tolstring(L, -2, &klen);
		rc = put_string(b, k, klen);
		if (!rc) {
			put(b, ":", 1);
			rc = enc(b, lua_gettop(L), depth + 1);
		}
		if (rc) {
			lua_pop(L, 2);
			return rc;
		}
		lua_pop(L, 1);
	}
	put(b, "}", 1);
	return 0;
}

static int enc_number(struct jbuf *b, int idx)
{
	lua_State *L = b->L;

	if (lua_isinteger(L, idx)) {
		char s[24];
		int n = snprintf(s, sizeof(s), "%lld", (long long)lua_tointeger(L, idx));

		put(b, s, (size_t)n);
		return 0;
	}
	if (!isfinite(lua_tonumber(L, idx)))
		return vg_errf(b->err, b->errlen, -ERANGE,
			       "a number JSON cannot hold (inf or nan)");
	put_real(b, lua_tonumber(L, idx));
	return 0;
}

static int enc(struct jbuf *b, int idx, int depth)
{
	lua_State *L = b->L;
	int t = lua_type(L, idx);

	if (depth > 32)
		return vg_errf(b->err, b->errlen, -ELOOP,
			       "more than 32 levels of tables (a cycle?)");
	switch (t) {
	case LUA_TNIL:
		put(b, "null", 4);
		return 0;
	case LUA_TBOOLEAN:
		if (lua_toboolean(L, idx))
			put(b, "true", 4);
		else
			put(b, "false", 5);
		return 0;
	case LUA_TNUMBER:
		return enc_number(b, idx);
	case LUA_TSTRING: {
		size_t len;
		const char *s = lua_tolstring(L, idx, &len);

		return put_string(b, s, len);
	}
	case LUA_TTABLE:
		luaL_checkstack(L, 4, "JSON nested too deep");
		if (is_array(L, idx))
			return enc_array(b, idx, depth);
		return enc_object(b, idx, depth);
	default:
		return vg_errf(b->err, b->errlen, -EINVAL, "a %s cannot be JSON",
			       lua_typename(L, t));
	}
}

int vg_lua_encode_json(lua_State *L, int idx, char *err, size_t errlen)
{
	char first[4096]; /* most bodies fit: no Lua allocation but the result */
	struct jbuf b = {.L = L, .p = first, .cap = sizeof(first), .err = err, .errlen = errlen};
	int rc;

	idx = lua_absindex(L, idx);
	lua_pushnil(L); /* the slot a bigger buffer takes */
	b.slot = lua_gettop(L);
	rc = enc(&b, idx, 0);
	if (!rc)
		lua_pushlstring(L, b.p, b.len);
	lua_remove(L, b.slot);
	return rc;
}

/* ---- an emitter (emit.h) building Lua tables ---------------------------------------- */

/* The value at the top goes into the open table below it (or stays: the document's root). */
static void doc_attach(struct vg_lua_doc *d, const char *key)
{
	if (!d->depth)
		return;
	if (d->array[d->depth - 1])
		lua_rawseti(d->L, -2, ++d->count[d->depth - 1]);
	else if (key)
		lua_setfield(d->L, -2, key);
	else
		lua_pop(d->L, 1);
}

static void doc_open(void *c, const char *key, bool array, int n)
{
	struct vg_lua_doc *d = c;

	luaL_checkstack(d->L, 2, "document nested too deep");
	lua_createtable(d->L, array ? n : 0, array ? 0 : n);
	if (d->depth == VG_LUA_DOC_DEPTH) { /* deeper than any document vigil writes: dropped */
		d->lost++;
		return;
	}
	d->key[d->depth] = key;
	d->array[d->depth] = array;
	d->count[d->depth] = 0;
	d->depth++;
}

static void doc_close(void *c)
{
	struct vg_lua_doc *d = c;

	if (d->lost) {
		d->lost--;
		lua_pop(d->L, 1);
		return;
	}
	d->depth--;
	doc_attach(d, d->key[d->depth]);
}

static void doc_str(void *c, const char *key, const char *s)
{
	struct vg_lua_doc *d = c;

	if (!s) { /* null: an absent member, a hole kept in its place in an array */
		if (d->depth && d->array[d->depth - 1])
			d->count[d->depth - 1]++;
		else if (!d->depth)
			lua_pushnil(d->L);
		return;
	}
	lua_pushstring(d->L, s);
	doc_attach(d, key);
}

static void doc_num(void *c, const char *key, long long v)
{
	struct vg_lua_doc *d = c;

	lua_pushinteger(d->L, (lua_Integer)v);
	doc_attach(d, key);
}

static void doc_bool(void *c, const char *key, bool v)
{
	struct vg_lua_doc *d = c;

	lua_pushboolean(d->L, v);
	doc_attach(d, key);
}

const struct vg_emit vg_lua_emitter = {doc_open, doc_close, doc_str, doc_num, doc_bool};
