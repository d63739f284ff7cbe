// SPDX-License-Identifier: BSD-2-Clause
/*
 * A stream cut into lines (core/net/lines.c), as a Kubernetes watch arrives: lines split
 * across chunks at every byte, several in one chunk, CRLF, empty lines, a reader that stops,
 * a line over the limit.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "lines.h"

struct got {
	char all[4096];
	int n, stop_after;
};

static bool on_line(void *ctx, const char *line, size_t len)
{
	struct got *g = ctx;

	assert_int_equal(strlen(line), len); /* NUL-terminated, no '\n' inside */
	assert_null(strchr(line, '\n'));
	snprintf(g->all + strlen(g->all), sizeof(g->all) - strlen(g->all), "[%s]", line);
	g->n++;
	return !g->stop_after || g->n < g->stop_after;
}

static const char STREAM[] = "{\"type\":\"ADDED\"}\n{\"type\":\"BOOKMARK\"}\r\n\n"
			     "{\"type\":\"DELETED\",\"object\":{\"a\":\"x\\ny\"}}\n{\"part";

static void every_chunk_size(void **state)
{
	(void)state;
	for (size_t chunk = 1; chunk <= sizeof(STREAM); chunk++) {
		struct vg_lines l = {0};
		struct got g = {0};

		for (size_t off = 0; off < sizeof(STREAM) - 1; off += chunk) {
			size_t n = sizeof(STREAM) - 1 - off;

			assert_int_equal(
				vg_lines_feed(&l, STREAM + off, n < chunk ? n : chunk, on_line, &g),
				0);
		}
		assert_string_equal(g.all, "[{\"type\":\"ADDED\"}][{\"type\":\"BOOKMARK\"}]"
					   "[{\"type\":\"DELETED\",\"object\":{\"a\":\"x\\ny\"}}]");
		/* the partial last line waits for its end */
		assert_int_equal(vg_lines_feed(&l, "\":1}\n", 5, on_line, &g), 0);
		assert_int_equal(g.n, 4);
		assert_non_null(strstr(g.all, "[{\"part\":1}]"));
		vg_lines_free(&l);
	}
}

static void reader_stops(void **state)
{
	struct vg_lines l = {0};
	struct got g = {.stop_after = 2};

	(void)state;
	assert_int_equal(vg_lines_feed(&l, "a\nb\nc\n", 6, on_line, &g), 1);
	assert_string_equal(g.all, "[a][b]");
	vg_lines_free(&l);
}

static void too_long_and_reset(void **state)
{
	struct vg_lines l = {.max = 8};
	struct got g = {0};

	(void)state;
	assert_int_equal(vg_lines_feed(&l, "12345678\n", 9, on_line, &g), 0);
	assert_int_equal(vg_lines_feed(&l, "12345", 5, on_line, &g), 0);
	assert_int_equal(vg_lines_feed(&l, "6789", 4, on_line, &g), -E2BIG);
	vg_lines_reset(&l); /* a new stream: the partial line is forgotten */
	assert_int_equal(vg_lines_feed(&l, "ok\n", 3, on_line, &g), 0);
	assert_string_equal(g.all, "[12345678][ok]");
	vg_lines_free(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_chunk_size),
		cmocka_unit_test(reader_stops),
		cmocka_unit_test(too_long_and_reset),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
