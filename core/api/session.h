/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * session.h - the web console's one-time sign-in codes and its sessions, in
 * memory: random tokens (32 bytes, base64url), each with an expiry on the
 * monotonic clock the caller passes in (milliseconds), compared in constant time.
 */
#ifndef VG_SESSION_H
#define VG_SESSION_H

#include <stdbool.h>
#include <stdint.h>

#define VG_SESSION_TOKEN_LEN 43	 /* 32 random bytes as base64url, without padding */
#define VG_SESSION_CODES_MAX 16	 /* pending codes: a new one replaces the oldest */
#define VG_SESSION_MAX	     256 /* sessions: a new one replaces the oldest */

struct vg_sessions;

/* Codes valid code_ttl_s, sessions session_ttl_s (both > 0). NULL: out of memory. */
struct vg_sessions *vg_sessions_new(uint32_t code_ttl_s, uint32_t session_ttl_s);
void vg_sessions_free(struct vg_sessions *s);
uint32_t vg_sessions_code_ttl(const struct vg_sessions *s);
uint32_t vg_sessions_session_ttl(const struct vg_sessions *s);

/* A new one-time code into code (VG_SESSION_TOKEN_LEN + 1 bytes). 0, or -EIO (no randomness). */
int vg_sessions_code(struct vg_sessions *s, uint64_t now_ms, char *code);

/* true when code is pending at now_ms: it is used up by this. */
bool vg_sessions_redeem(struct vg_sessions *s, uint64_t now_ms, const char *code);

/* A new session: its id and CSRF token (VG_SESSION_TOKEN_LEN + 1 bytes each). 0 or -EIO. */
int vg_sessions_open(struct vg_sessions *s, uint64_t now_ms, char *id, char *csrf);

/* The CSRF token of session id, alive at now_ms, and when it expires; NULL: no such session. */
const char *vg_sessions_find(struct vg_sessions *s, uint64_t now_ms, const char *id,
			     uint64_t *expires_ms);

/* Ends session id (nothing when there is none). */
void vg_sessions_close(struct vg_sessions *s, const char *id);

/* a and b equal, in time that depends on their lengths only. */
bool vg_sessions_equal(const char *a, const char *b);

#endif
