// SPDX-License-Identifier: BSD-2-Clause
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

bool vg_asks_help(int argc, char **argv)
{
	for (int i = 1; i < argc && strcmp(argv[i], "--"); i++)
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
			return true;
	return false;
}

int vg_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "vigil %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see 'vigil %s --help')\n", cmd);
	return 2;
}

int vg_usage_unknown(const char *cmd, const char *arg, int optopt)
{
	if (optopt && arg && strchr(arg, '='))
		return vg_usage_error(cmd, "option '%s' takes no value", arg);
	if (optopt)
		return vg_usage_error(cmd, "option '%s' needs a value", arg);
	return vg_usage_error(cmd, "unknown option '%s'", arg);
}
