/* SPDX-License-Identifier: BSD-2-Clause */
/* tls_words.c - a failed TLS connection in words; see tls_words.h. */
#include "tls_words.h"

#include <stdio.h>
#include <string.h>

/* s past prefix when it starts with it. */
static const char *past(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) ? s : s + strlen(prefix);
}

const char *vg_tls_reason(const char *s)
{
	const char *colons;

	s = past(s, "SSL certificate problem: ");
	s = past(s, "SSL: ");
	colons = strstr(s, "::");
	if ((!strncmp(s, "OpenSSL/", 8) || !strncmp(s, "error:", 6)) && colons)
		return colons + 2;
	return s;
}

const char *vg_tls_words(char *buf, size_t n, enum vg_tls_failure f, const char *cause)
{
	cause = vg_tls_reason(cause);
	switch (f) {
	case VG_TLS_VERIFY:
		(void)snprintf(buf, n, /* truncation keeps the start, which says what failed */
			       "TLS certificate verify failed: %s (trust the receiver's CA with "
			       "ca_file, or set insecure = true)",
			       cause);
		break;
	case VG_TLS_HANDSHAKE:
		(void)snprintf(
			buf, n, /* as above */
			"TLS handshake failed: %s (does the receiver speak TLS on this port?)",
			cause);
		break;
	case VG_TLS_CA_FILE:
		(void)snprintf(buf, n, "TLS: cannot use ca_file: %s", cause); /* as above */
		break;
	}
	return buf;
}
