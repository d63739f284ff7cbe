// SPDX-License-Identifier: BSD-2-Clause
/* lines.c - a stream cut into lines (lines.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lines.h"

#define LINE_MAX_DEFAULT (16u << 20)

static int append(struct vg_lines *l, const char *p, size_t n)
{
	size_t max = l->max ? l->max : LINE_MAX_DEFAULT, cap;
	char *b;

	if (l->len + n > max)
		return -E2BIG;
	if (l->len + n + 1 <= l->cap)
		goto copy;
	cap = l->cap ? l->cap : 4096;
	while (cap < l->len + n + 1)
		cap *= 2;
	b = realloc(l->buf, cap);
	if (!b)
		return -ENOMEM;
	l->buf = b;
	l->cap = cap;
copy:
	memcpy(l->buf + l->len, p, n);
	l->len += n;
	l->buf[l->len] = '\0';
	return 0;
}

/* The line in l->buf (l->len bytes) to cb, then forgotten. */
static bool deliver(struct vg_lines *l, vg_line_cb cb, void *ctx)
{
	size_t n = l->len;
	bool go = true;

	if (n && l->buf[n - 1] == '\r')
		l->buf[--n] = '\0';
	if (n)
		go = cb(ctx, l->buf, n);
	l->len = 0;
	return go;
}

int vg_lines_feed(struct vg_lines *l, const char *p, size_t n, vg_line_cb cb, void *ctx)
{
	while (n) {
		const char *nl = memchr(p, '\n', n);
		size_t part = nl ? (size_t)(nl - p) : n;
		int rc = append(l, p, part);

		if (rc)
			return rc;
		if (!nl)
			return 0;
		if (!deliver(l, cb, ctx))
			return 1;
		p += part + 1;
		n -= part + 1;
	}
	return 0;
}

void vg_lines_reset(struct vg_lines *l)
{
	l->len = 0;
}

void vg_lines_free(struct vg_lines *l)
{
	free(l->buf);
	l->buf = NULL;
	l->len = l->cap = 0;
}
