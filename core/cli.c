// SPDX-License-Identifier: BSD-2-Clause
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int vg_parse_u64(const char *s, uint64_t *out, bool sizes)
{
	unsigned long long v;
	char *end;
	int shift = 0;

	if (!s || !isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -EINVAL;
	if (sizes && *end) {
		switch (toupper((unsigned char)*end)) {
		case 'K':
			shift = 10;
			break;
		case 'M':
			shift = 20;
			break;
		case 'G':
			shift = 30;
			break;
		default:
			return -EINVAL;
		}
		end++;
		if (toupper((unsigned char)*end) == 'B' || toupper((unsigned char)*end) == 'I')
			end += (toupper((unsigned char)end[0]) == 'I' &&
				toupper((unsigned char)end[1]) == 'B')
				       ? 2
				       : 1;
	}
	if (*end || (shift && v > (~0ULL >> shift)))
		return -EINVAL;
	*out = (uint64_t)v << shift;
	return 0;
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
