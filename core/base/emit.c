// SPDX-License-Identifier: BSD-2-Clause
#include <stdint.h>
#include <string.h>

#include "emit.h"

size_t vg_utf8_len(const unsigned char *s, size_t n)
{
	uint32_t cp;
	size_t k;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xC2 && s[0] <= 0xDF)
		k = 2, cp = s[0] & 0x1F;
	else if (s[0] >= 0xE0 && s[0] <= 0xEF)
		k = 3, cp = s[0] & 0x0F;
	else if (s[0] >= 0xF0 && s[0] <= 0xF4)
		k = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (k > n)
		return 0;
	for (size_t i = 1; i < k; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3F);
	}
	if ((k == 3 && cp < 0x800) || (k == 4 && cp < 0x10000) || cp > 0x10FFFF ||
	    (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	return k;
}

const char *vg_utf8_or_lossy(const char *s, char *buf, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t len, i = 0, o = 0, k = 0;

	if (!s)
		return NULL;
	len = strlen(s);
	while (i < len && (u[i] < 0x80 || (k = vg_utf8_len(u + i, len - i))))
		i += u[i] < 0x80 ? 1 : k;
	if (i == len)
		return s;
	for (i = 0; i < len && n;) {
		k = vg_utf8_len(u + i, len - i);
		if (o + (k ? k : 3) >= n)
			break;
		if (k) {
			memcpy(buf + o, s + i, k);
			o += k;
			i += k;
		} else {
			memcpy(buf + o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
		}
	}
	if (n)
		buf[o] = 0;
	return buf;
}
