// SPDX-License-Identifier: BSD-2-Clause
/*
 * answer.c - a receiver's answer in words, for dead letters, `last` and the
 * log: "HTTP 429 Too Many Requests: <body>", the body on one line (control
 * characters escaped) and capped, so a log line stays one line.
 */
#include <stdio.h>
#include <string.h>

#include "notify_priv.h"

#define BODY_MAX 512 /* bytes of the (escaped) body kept */

/* The standard reason phrase of status (RFC 9110, 6585), or "" (HTTP/2 sends none). */
static const char *reason_phrase(long status)
{
	static const struct {
		long status;
		const char *words;
	} phrases[] = {
		{400, "Bad Request"},
		{401, "Unauthorized"},
		{402, "Payment Required"},
		{403, "Forbidden"},
		{404, "Not Found"},
		{405, "Method Not Allowed"},
		{406, "Not Acceptable"},
		{408, "Request Timeout"},
		{409, "Conflict"},
		{410, "Gone"},
		{411, "Length Required"},
		{412, "Precondition Failed"},
		{413, "Content Too Large"},
		{414, "URI Too Long"},
		{415, "Unsupported Media Type"},
		{422, "Unprocessable Content"},
		{425, "Too Early"},
		{428, "Precondition Required"},
		{429, "Too Many Requests"},
		{431, "Request Header Fields Too Large"},
		{500, "Internal Server Error"},
		{501, "Not Implemented"},
		{502, "Bad Gateway"},
		{503, "Service Unavailable"},
		{504, "Gateway Timeout"},
	};

	for (size_t i = 0; i < sizeof(phrases) / sizeof(phrases[0]); i++)
		if (phrases[i].status == status)
			return phrases[i].words;
	return "";
}

/* One byte of the body as it is written: itself, or an escape. Returns its length in out. */
static size_t escaped(unsigned char c, char out[5])
{
	switch (c) {
	case '\n':
		return (size_t)snprintf(out, 5, "\\n");
	case '\r':
		return (size_t)snprintf(out, 5, "\\r");
	case '\t':
		return (size_t)snprintf(out, 5, "\\t");
	case '\\':
		return (size_t)snprintf(out, 5, "\\\\");
	default:
		if (c < 0x20 || c == 0x7f)
			return (size_t)snprintf(out, 5, "\\x%02x", c);
		out[0] = (char)c;
		out[1] = '\0';
		return 1;
	}
}

/* body on one line into out (size > BODY_MAX + 32): escaped, cut at BODY_MAX bytes (never inside
 * a UTF-8 character), trailing blanks dropped, a cut said. */
static void one_line(char *out, size_t size, const char *body, size_t len)
{
	size_t o = 0, i = 0;
	char esc[5];

	while (len && (body[len - 1] == '\n' || body[len - 1] == '\r' || body[len - 1] == ' '))
		len--;
	for (; i < len; i++) {
		size_t k = escaped((unsigned char)body[i], esc);

		if (o + k > BODY_MAX)
			break;
		memcpy(out + o, esc, k);
		o += k;
	}
	while (i < len && o > 0 && ((unsigned char)body[i] & 0xc0) == 0x80 &&
	       ((unsigned char)out[o - 1] & 0x80)) { /* back to the start of a character */
		o--;
		i--;
	}
	out[o] = '\0';
	if (i < len)
		snprintf(out + o, size - o, "... (%zu bytes more)", len - i);
}

void notify_describe_answer(char *why, size_t size, long status, const char *body, size_t len)
{
	char line[BODY_MAX + 64];
	const char *phrase = reason_phrase(status);

	one_line(line, sizeof(line), body ? body : "", body ? len : 0);
	snprintf(why, size, "HTTP %ld%s%s%s%s", status, *phrase ? " " : "", phrase,
		 line[0] ? ": " : "", line);
}
