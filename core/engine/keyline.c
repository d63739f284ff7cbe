// SPDX-License-Identifier: BSD-2-Clause
/*
 * keyline.c - the line of a key in a policy file's source, for messages: a
 * small Lua lexer walks the `policy { ... }` table constructor along a key
 * path (match -> process_name, tests -> 2 -> ev -> uid), following a field
 * whose value is a local table (`match = m`) to that table's constructor.
 */
#include <ctype.h>
#include <stdbool.h>
#include <string.h>

#include "keyline.h"

enum tok_kind { T_EOF, T_NAME, T_STR, T_NUM, T_OP };

struct tok {
	enum tok_kind kind;
	const char *s; /* the token's text */
	size_t len;
	int line;
	char op; /* T_OP: the character; '==' and the other two-character comparisons are 'E' */
};

struct lex {
	const char *s;
	size_t len, i;
	int line;
};

/* At s[i] a long bracket `[==[`: skips it and its contents, true; false (nothing skipped)
 * when s[i] opens no long bracket. */
static bool skip_long(struct lex *lx)
{
	size_t k = lx->i + 1, level = 0;

	while (k < lx->len && lx->s[k] == '=')
		k++, level++;
	if (k >= lx->len || lx->s[k] != '[')
		return false;
	for (k++; k < lx->len; k++) {
		size_t e = k + 1, l = 0;

		if (lx->s[k] == '\n')
			lx->line++;
		if (lx->s[k] != ']')
			continue;
		while (e < lx->len && lx->s[e] == '=')
			e++, l++;
		if (l == level && e < lx->len && lx->s[e] == ']') {
			lx->i = e + 1;
			return true;
		}
	}
	lx->i = lx->len; /* unfinished: the rest of the file */
	return true;
}

/* Spaces and comments. */
static void skip_space(struct lex *lx)
{
	while (lx->i < lx->len) {
		char c = lx->s[lx->i];

		if (c == '\n') {
			lx->line++;
			lx->i++;
		} else if (isspace((unsigned char)c)) {
			lx->i++;
		} else if (c == '-' && lx->i + 1 < lx->len && lx->s[lx->i + 1] == '-') {
			lx->i += 2;
			if (lx->i < lx->len && lx->s[lx->i] == '[' && skip_long(lx))
				continue;
			while (lx->i < lx->len && lx->s[lx->i] != '\n')
				lx->i++;
		} else {
			return;
		}
	}
}

/* A quoted string at s[i] (escapes included), skipped. */
static void skip_quoted(struct lex *lx)
{
	char q = lx->s[lx->i++];

	while (lx->i < lx->len && lx->s[lx->i] != q) {
		if (lx->s[lx->i] == '\\' && lx->i + 1 < lx->len)
			lx->i++;
		if (lx->s[lx->i] == '\n')
			lx->line++;
		lx->i++;
	}
	if (lx->i < lx->len)
		lx->i++;
}

static void next(struct lex *lx, struct tok *t)
{
	const char *s = lx->s;
	size_t start;

	skip_space(lx);
	start = lx->i;
	t->line = lx->line;
	t->s = s + start;
	t->kind = T_OP;
	t->op = 0;
	if (lx->i >= lx->len) {
		t->kind = T_EOF;
	} else if (s[start] == '"' || s[start] == '\'') {
		skip_quoted(lx);
		t->kind = T_STR;
	} else if (s[start] == '[' && skip_long(lx)) {
		t->kind = T_STR;
	} else if (isalpha((unsigned char)s[start]) || s[start] == '_') {
		while (lx->i < lx->len && (isalnum((unsigned char)s[lx->i]) || s[lx->i] == '_'))
			lx->i++;
		t->kind = T_NAME;
	} else if (isdigit((unsigned char)s[start])) {
		while (lx->i < lx->len && (isalnum((unsigned char)s[lx->i]) || s[lx->i] == '.'))
			lx->i++;
		t->kind = T_NUM;
	} else if (strchr("=~<>", s[start]) && start + 1 < lx->len && s[start + 1] == '=') {
		lx->i += 2;
		t->op = 'E';
	} else {
		t->op = s[lx->i++];
	}
	t->len = lx->i - start;
}

static bool is_name(const struct tok *t, const char *name)
{
	return t->kind == T_NAME && t->len == strlen(name) && !strncmp(t->s, name, t->len);
}

/* What `block` a keyword opens (+1) or closes (-1): function/if/do/repeat, end/until. */
static int block_delta(const struct tok *t)
{
	if (is_name(t, "function") || is_name(t, "if") || is_name(t, "do") || is_name(t, "repeat"))
		return 1;
	if (is_name(t, "end") || is_name(t, "until"))
		return -1;
	return 0;
}

/*
 * Skips a field's value, whose first token is t: up to the `,` or `;` after it (consumed)
 * or the `}` that ends the table (consumed, *closed set). Commas inside brackets or
 * inside a function's body are the value's.
 */
static void skip_value(struct lex *lx, struct tok *t, bool *closed)
{
	int depth = 0;

	*closed = false;
	for (; t->kind != T_EOF; next(lx, t)) {
		if (t->kind == T_OP && strchr("({[", t->op))
			depth++;
		else if (t->kind == T_OP && strchr(")]", t->op))
			depth--;
		else if (t->kind == T_OP && t->op == '}' && depth-- == 0)
			break;
		else if (depth == 0 && t->kind == T_OP && (t->op == ',' || t->op == ';'))
			return;
		else
			depth += block_delta(t);
	}
	*closed = true;
}

/* The constructor `NAME = {` of the local or global table `name`: *lx just inside it. */
static bool find_table(const struct lex *whole, const struct tok *name, struct lex *lx)
{
	struct tok t, eq, brace;

	*lx = *whole;
	lx->i = 0;
	lx->line = 1;
	for (next(lx, &t); t.kind != T_EOF; next(lx, &t)) {
		struct lex at;

		if (t.kind != T_NAME || t.len != name->len || strncmp(t.s, name->s, t.len))
			continue;
		at = *lx;
		next(&at, &eq);
		next(&at, &brace);
		if (eq.kind == T_OP && eq.op == '=' && brace.kind == T_OP && brace.op == '{') {
			*lx = at;
			return true;
		}
	}
	return false;
}

/* The field of the step in the table whose constructor lx is just inside: its line, or
 * deepest when the path leads past what the source spells out. */
static int walk(const struct lex *start, const struct vg_key_step *path, int n, int deepest)
{
	struct lex lx = *start;
	struct tok t, eq;
	int index = 0;
	bool closed = false;

	while (!closed) {
		struct lex after_key;
		bool hit;
		int line;

		next(&lx, &t);
		if (t.kind == T_EOF || (t.kind == T_OP && t.op == '}'))
			return deepest;
		line = t.line;
		after_key = lx;
		next(&after_key, &eq);
		if (t.kind == T_NAME && eq.kind == T_OP && eq.op == '=') {
			hit = path->name && is_name(&t, path->name);
			lx = after_key;
			next(&lx, &t);
		} else if (t.kind == T_OP && t.op == '[') {
			hit = false; /* [expr] = value: no key a path names */
		} else {
			index++;
			hit = !path->name && path->index == index;
		}
		if (!hit) {
			skip_value(&lx, &t, &closed);
			continue;
		}
		if (n == 1)
			return line;
		if (t.kind == T_OP && t.op == '{')
			return walk(&lx, path + 1, n - 1, line);
		if (t.kind == T_NAME && find_table(start, &t, &lx))
			return walk(&lx, path + 1, n - 1, line);
		return line;
	}
	return deepest;
}

int vg_policy_key_line(const char *src, size_t len, const struct vg_key_step *path, int n)
{
	struct lex lx = {.s = src, .len = len, .line = 1};
	struct tok t, u;

	for (next(&lx, &t); t.kind != T_EOF; next(&lx, &t)) {
		struct lex at = lx;

		if (!is_name(&t, "policy"))
			continue;
		next(&at, &u);
		if (u.kind == T_OP && u.op == '(')
			next(&at, &u);
		if (u.kind == T_OP && u.op == '{')
			return n > 0 ? walk(&at, path, n, t.line) : t.line;
		if (u.kind == T_NAME && find_table(&lx, &u, &at)) /* policy(p) */
			return n > 0 ? walk(&at, path, n, t.line) : t.line;
	}
	return 0;
}
