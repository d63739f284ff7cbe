// SPDX-License-Identifier: BSD-2-Clause
/*
 * regex.c - the one regex flavour of policies: PCRE2, caseless, JIT-compiled
 * where the CPU allows, with bounded backtracking that fails closed.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pcre2.h>

#include "log.h"
#include "match_priv.h"

struct vg_regex {
	pcre2_code *re;
	pcre2_match_data *md;
};

/*
 * Backtracking is bounded: a regex that hits the limit on some input counts
 * as a match there (fail closed), so crafted args cannot buy an evasion.
 */
static pcre2_match_context *mctx;

static pcre2_match_context *match_ctx(void)
{
	if (mctx)
		return mctx;
	mctx = pcre2_match_context_create(NULL);
	if (mctx) {
		(void)pcre2_set_match_limit(mctx, 1000000); /* only fails on a NULL context */
		(void)pcre2_set_depth_limit(mctx, 10000);
	}
	return mctx;
}

char *match_join_alt(const char *const *values, int n)
{
	size_t len = 1;
	char *out, *p;

	for (int i = 0; i < n; i++)
		len += strlen(values[i]) + 5;
	out = malloc(len);
	if (!out)
		return NULL;
	p = out;
	for (int i = 0; i < n; i++)
		p += sprintf(p, "%s(?:%s)", i ? "|" : "", values[i]);
	*p = '\0';
	return out;
}

/* pattern compiled (whole: anchored at both ends), or NULL with the message in err. */
static pcre2_code *compile(const char *pattern, bool whole, char *err, size_t errlen)
{
	size_t len = strlen(pattern) + 16;
	char *p = malloc(len);
	pcre2_code *re;
	PCRE2_UCHAR msg[160];
	PCRE2_SIZE eo;
	int ec;

	if (!p) {
		(void)vg_errf(err, errlen, -ENOMEM, "out of memory");
		return NULL;
	}
	if (whole)
		(void)snprintf(p, len, "^(?:%s)$", pattern); /* len leaves room */
	else
		(void)snprintf(p, len, "%s", pattern);
	re = pcre2_compile((PCRE2_SPTR)p, PCRE2_ZERO_TERMINATED, PCRE2_CASELESS, &ec, &eo, NULL);
	free(p);
	if (re)
		return re;
	(void)pcre2_get_error_message(ec, msg, sizeof(msg)); /* cut to fit: still a message */
	if (whole)
		eo -= 4;
	(void)vg_errf(err, errlen, -EINVAL, "bad regex '%s': %s at offset %zu", pattern,
		      (char *)msg, (size_t)eo);
	return NULL;
}

struct vg_regex *vg_regex_new(const char *pattern, bool whole, char *err, size_t errlen)
{
	struct vg_regex *r = calloc(1, sizeof(*r));

	if (!r) {
		(void)vg_errf(err, errlen, -ENOMEM, "out of memory");
		return NULL;
	}
	r->re = compile(pattern, whole, err, errlen);
	if (!r->re) {
		free(r);
		return NULL;
	}
	/* no JIT (an old CPU, a locked-down kernel): the interpreter matches the same */
	(void)pcre2_jit_compile(r->re, PCRE2_JIT_COMPLETE);
	r->md = pcre2_match_data_create(1, NULL);
	if (!r->md) {
		vg_regex_free(r);
		(void)vg_errf(err, errlen, -ENOMEM, "out of memory");
		return NULL;
	}
	return r;
}

bool vg_regex_match(const struct vg_regex *r, const char *s, size_t len)
{
	int rc = pcre2_match(r->re, (PCRE2_SPTR)s, len, 0, 0, r->md, match_ctx());

	return rc >= 0 || rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT;
}

bool vg_regex_match_alone(const struct vg_regex *r, const char *s, size_t len)
{
	pcre2_match_data *md = pcre2_match_data_create(1, NULL);
	int rc;

	if (!md)
		return true; /* out of memory: fail closed, as a backtracking limit does */
	rc = pcre2_match(r->re, (PCRE2_SPTR)s, len, 0, 0, md, match_ctx());
	pcre2_match_data_free(md);
	return rc >= 0 || rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT;
}

void vg_regex_free(struct vg_regex *r)
{
	if (!r)
		return;
	pcre2_match_data_free(r->md);
	pcre2_code_free(r->re);
	free(r);
}
