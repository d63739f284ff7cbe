// SPDX-License-Identifier: BSD-2-Clause
#include <stdarg.h>
#include <stdio.h>

#include "log.h"

static enum vg_log_level level = VG_LOG_INFO;

void vg_log_set_level(enum vg_log_level lvl)
{
	level = lvl;
}

enum vg_log_level vg_log_level(void)
{
	return level;
}

void vg_log(enum vg_log_level lvl, const char *fmt, ...)
{
	static const char *const tag[] = { "error: ", "warning: ", "", "debug: " };
	va_list ap;

	if (lvl > level)
		return;
	fprintf(stderr, "vigil: %s", tag[lvl]);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int vg_errf(char *err, size_t n, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, n, fmt, ap);
	va_end(ap);
	return rc;
}
