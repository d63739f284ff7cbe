// SPDX-License-Identifier: BSD-2-Clause
/*
 * session.c - the web console's sign-in codes and sessions: fixed tables in
 * memory (a daemon restart signs everyone out), tokens from getrandom, every
 * lookup a constant-time comparison against each live entry.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "session.h"

struct code {
	char code[VG_SESSION_TOKEN_LEN + 1];
	uint64_t expires_ms; /* 0: free */
};

struct session {
	char id[VG_SESSION_TOKEN_LEN + 1], csrf[VG_SESSION_TOKEN_LEN + 1];
	uint64_t expires_ms; /* 0: free */
};

struct vg_sessions {
	uint32_t code_ttl_s, session_ttl_s;
	struct code codes[VG_SESSION_CODES_MAX];
	struct session sessions[VG_SESSION_MAX];
};

struct vg_sessions *vg_sessions_new(uint32_t code_ttl_s, uint32_t session_ttl_s)
{
	struct vg_sessions *s = calloc(1, sizeof(*s));

	if (s) {
		s->code_ttl_s = code_ttl_s;
		s->session_ttl_s = session_ttl_s;
	}
	return s;
}

void vg_sessions_free(struct vg_sessions *s)
{
	if (s)
		explicit_bzero(s, sizeof(*s));
	free(s);
}

uint32_t vg_sessions_code_ttl(const struct vg_sessions *s)
{
	return s->code_ttl_s;
}

uint32_t vg_sessions_session_ttl(const struct vg_sessions *s)
{
	return s->session_ttl_s;
}

bool vg_sessions_equal(const char *a, const char *b)
{
	size_t n = strlen(a);
	unsigned diff = 0;

	if (n != strlen(b))
		return false;
	for (size_t i = 0; i < n; i++)
		diff |= (unsigned)(a[i] ^ b[i]);
	return diff == 0;
}

/* 32 random bytes as base64url (no padding) into out (VG_SESSION_TOKEN_LEN + 1). 0 or -EIO. */
static int random_token(char *out)
{
	static const char b64[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	unsigned char raw[33] = {0}; /* one byte over: the last group reads it as 0 */
	size_t o = 0;

	if (getrandom(raw, 32, 0) != 32)
		return -EIO;
	for (size_t i = 0; i < 32; i += 3) {
		uint32_t v = (uint32_t)raw[i] << 16 | (uint32_t)raw[i + 1] << 8;

		if (i + 2 < 32)
			v |= raw[i + 2];
		out[o++] = b64[v >> 18 & 63];
		out[o++] = b64[v >> 12 & 63];
		out[o++] = b64[v >> 6 & 63];
		if (i + 2 < 32)
			out[o++] = b64[v & 63];
	}
	out[o] = '\0';
	explicit_bzero(raw, sizeof(raw));
	return 0;
}

int vg_sessions_code(struct vg_sessions *s, uint64_t now_ms, char *code)
{
	struct code *slot = &s->codes[0];

	for (size_t i = 0; i < VG_SESSION_CODES_MAX; i++) {
		struct code *c = &s->codes[i];

		if (c->expires_ms <= now_ms) { /* free, or expired */
			slot = c;
			break;
		}
		if (c->expires_ms < slot->expires_ms) /* same ttl: the oldest expires first */
			slot = c;
	}
	if (random_token(slot->code))
		return -EIO;
	slot->expires_ms = now_ms + (uint64_t)s->code_ttl_s * 1000u;
	memcpy(code, slot->code, sizeof(slot->code));
	return 0;
}

bool vg_sessions_redeem(struct vg_sessions *s, uint64_t now_ms, const char *code)
{
	bool found = false;

	if (strlen(code) != VG_SESSION_TOKEN_LEN)
		return false;
	for (size_t i = 0; i < VG_SESSION_CODES_MAX; i++) {
		struct code *c = &s->codes[i];

		if (c->expires_ms > now_ms && vg_sessions_equal(c->code, code)) {
			explicit_bzero(c, sizeof(*c));
			found = true;
		}
	}
	return found;
}

int vg_sessions_open(struct vg_sessions *s, uint64_t now_ms, char *id, char *csrf)
{
	struct session *slot = &s->sessions[0];

	for (size_t i = 0; i < VG_SESSION_MAX; i++) {
		struct session *x = &s->sessions[i];

		if (x->expires_ms <= now_ms) {
			slot = x;
			break;
		}
		if (x->expires_ms < slot->expires_ms)
			slot = x;
	}
	if (random_token(slot->id) || random_token(slot->csrf)) {
		explicit_bzero(slot, sizeof(*slot));
		return -EIO;
	}
	slot->expires_ms = now_ms + (uint64_t)s->session_ttl_s * 1000u;
	memcpy(id, slot->id, sizeof(slot->id));
	memcpy(csrf, slot->csrf, sizeof(slot->csrf));
	return 0;
}

static struct session *find(struct vg_sessions *s, uint64_t now_ms, const char *id)
{
	struct session *hit = NULL;

	if (strlen(id) != VG_SESSION_TOKEN_LEN)
		return NULL;
	for (size_t i = 0; i < VG_SESSION_MAX; i++) {
		struct session *x = &s->sessions[i];

		if (x->expires_ms > now_ms && vg_sessions_equal(x->id, id))
			hit = x;
	}
	return hit;
}

const char *vg_sessions_find(struct vg_sessions *s, uint64_t now_ms, const char *id,
			     uint64_t *expires_ms)
{
	struct session *x = find(s, now_ms, id);

	if (!x)
		return NULL;
	*expires_ms = x->expires_ms;
	return x->csrf;
}

void vg_sessions_close(struct vg_sessions *s, const char *id)
{
	struct session *x = find(s, 0, id);

	if (x)
		explicit_bzero(x, sizeof(*x));
}
