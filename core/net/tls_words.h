/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tls_words.h - a failed TLS connection in the operator's words: what failed, the cause without
 * OpenSSL's codes, and what to do about it. Shared by the HTTP client and the streams, so a
 * webhook and a syslog receiver say the same thing for the same failure.
 */
#ifndef VG_TLS_WORDS_H
#define VG_TLS_WORDS_H

#include <stddef.h>

enum vg_tls_failure {
	VG_TLS_VERIFY,	  /* the receiver's certificate is not trusted */
	VG_TLS_HANDSHAKE, /* the handshake broke (often: not TLS on that port) */
	VG_TLS_CA_FILE,	  /* the CA file does not load */
};

/* OpenSSL's reason without its codes: "OpenSSL/3.0: error:0A00010B:SSL routines::wrong version
 * number" or "error:0A00010B:SSL routines::wrong version number" -> "wrong version number". */
const char *vg_tls_reason(const char *s);
/* "TLS certificate verify failed: CAUSE (trust the receiver's CA ...)" and the like, into buf
 * (n bytes); returns buf. The cause goes through vg_tls_reason. */
const char *vg_tls_words(char *buf, size_t n, enum vg_tls_failure f, const char *cause);

#endif
