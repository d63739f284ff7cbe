// SPDX-License-Identifier: BSD-2-Clause
/*
 * match_build.c - a matcher built: policies' sections and criteria compiled
 * (regexes, globs, uid sets), then the dispatch index over their process
 * names (exact names hashed, the rest one combined regex) and the args gate.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "match_priv.h"

struct vg_matcher *vg_matcher_new(void)
{
	return calloc(1, sizeof(struct vg_matcher));
}

static void crit_free(struct crit *c)
{
	vg_regex_free(c->re);
	for (int g = 0; c->globs && g < c->n; g++)
		free(c->globs[g]);
	free(c->globs);
	free(c->uids);
}

static void section_free(struct section *s)
{
	for (int k = 0; k < s->nc; k++)
		crit_free(&s->c[k]);
	for (int k = 0; k < s->nres; k++)
		free(s->name_res[k]);
	free(s->name_res);
	for (int k = 0; k < s->nargs; k++)
		free(s->args_own[k]);
	free(s->args_own);
	free(s->lits);
	free(s->c);
}

void vg_matcher_free(struct vg_matcher *m)
{
	if (!m)
		return;
	for (int i = 0; i < m->nsec; i++)
		section_free(&m->secs[i]);
	for (size_t i = 0; m->hash && i <= m->hmask; i++)
		free(m->hash[i].secs);
	free(m->hash);
	free(m->secs);
	free(m->regex_secs);
	free(m->all_secs);
	free(m->fact_secs);
	free(m->args_secs);
	vg_regex_free(m->args_gate);
	free(m->pol_gen);
	free(m->names);
	vg_regex_free(m->combined);
	free(m);
}

int vg_matcher_section(struct vg_matcher *m, int pol, int sec)
{
	if (m->done || sec != m->nsec || pol < 0)
		return -EINVAL;
	if (m->nsec == m->cap) {
		int cap = 64;
		struct section *n;

		if (m->cap)
			cap = m->cap * 2;
		n = realloc(m->secs, (size_t)cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		m->secs = n;
		m->cap = cap;
	}
	memset(&m->secs[m->nsec], 0, sizeof(m->secs[0]));
	m->secs[m->nsec].pol = pol;
	m->nsec++;
	if (pol + 1 > m->npol)
		m->npol = pol + 1;
	return 0;
}

static bool is_literal(const char *v)
{
	return strlen(v) < VG_COMM_LEN && !strpbrk(v, REGEX_SPECIAL);
}

/* A copy of each of the n strings, or NULL. */
static char **dup_all(const char *const *values, int n)
{
	char **out = calloc((size_t)n, sizeof(char *));

	for (int i = 0; out && i < n; i++) {
		out[i] = strdup(values[i]);
		if (!out[i]) {
			while (i--)
				free(out[i]);
			free(out);
			return NULL;
		}
	}
	return out;
}

/* The values as one regex; each compiled alone first, for a message that names it. */
static int crit_regex(struct crit *c, const char *const *values, int n, char *err, size_t errlen)
{
	bool whole = c->kind != VG_CRIT_ARGS;
	char *alt;

	for (int i = 0; i < n; i++) {
		struct vg_regex *one = vg_regex_new(values[i], whole, err, errlen);

		if (!one)
			return -EINVAL;
		vg_regex_free(one);
	}
	alt = match_join_alt(values, n);
	if (!alt)
		return vg_errf(err, errlen, -ENOMEM, "out of memory");
	c->re = vg_regex_new(alt, whole, err, errlen);
	free(alt);
	if (!c->re)
		return -EINVAL;
	return 0;
}

/* The values compiled for the criterion's kind. */
static int crit_values(struct crit *c, const char *const *values, int n, char *err, size_t errlen)
{
	switch (c->kind) {
	case VG_CRIT_NAME:
	case VG_CRIT_EXE_NAME:
	case VG_CRIT_ARGS:
	case VG_CRIT_ANCESTOR:
		return crit_regex(c, values, n, err, errlen);
	case VG_CRIT_EXE_PATH:
		c->globs = dup_all(values, n);
		if (!c->globs)
			return vg_errf(err, errlen, -ENOMEM, "out of memory");
		c->n = n;
		return 0;
	case VG_CRIT_UID:
		c->uids = calloc((size_t)n, sizeof(uint32_t));
		if (!c->uids)
			return vg_errf(err, errlen, -ENOMEM, "out of memory");
		for (int i = 0; i < n; i++)
			c->uids[i] = (uint32_t)strtoul(values[i], NULL, 10);
		c->n = n;
		return 0;
	case VG_CRIT_PRIVILEGED:
	case VG_CRIT_UNEXPECTED:
	case VG_CRIT_FILELESS:
	case VG_CRIT_NOT_IN_IMAGE:
		c->bval = !strcmp(values[0], "true");
		return 0;
	default:
		return 0;
	}
}

/* The section's positive name values, for the index: literal names, lowercased, or regexes. */
static int index_names(struct section *s, const char *const *values, int n, char *err,
		       size_t errlen)
{
	s->has_name = true;
	s->lits = calloc((size_t)n, sizeof(*s->lits));
	s->name_res = calloc((size_t)n, sizeof(char *));
	if (!s->lits || !s->name_res)
		return vg_errf(err, errlen, -ENOMEM, "out of memory");
	for (int i = 0; i < n; i++) {
		const char *v = values[i];

		if (!strpbrk(v, REGEX_SPECIAL)) {
			/* a literal longer than comm is keyed by its first 15 bytes: another
			   name of the exec (the exe's) can match it whole, comm never does */
			for (int k = 0; v[k] && k < VG_COMM_LEN - 1; k++)
				s->lits[s->nlit][k] = (char)tolower((unsigned char)v[k]);
			s->nlit++;
			s->long_lit |= !is_literal(v);
		} else {
			s->name_res[s->nres] = strdup(v);
			if (!s->name_res[s->nres])
				return vg_errf(err, errlen, -ENOMEM, "out of memory");
			s->nres++;
		}
	}
	return 0;
}

int vg_matcher_criterion(struct vg_matcher *m, enum vg_crit_kind kind, bool negate,
			 const char *const *values, int n, char *err, size_t errlen)
{
	struct section *s = NULL;
	struct crit *c, *nc;
	int rc;

	if (m->nsec)
		s = &m->secs[m->nsec - 1];
	if (!s || m->done || n < 1 || kind < 0 || kind >= VG_CRIT_MAX)
		return vg_errf(err, errlen, -EINVAL, "internal: criterion outside a section");
	nc = realloc(s->c, (size_t)(s->nc + 1) * sizeof(*nc));
	if (!nc)
		return vg_errf(err, errlen, -ENOMEM, "out of memory");
	s->c = nc;
	c = &s->c[s->nc];
	memset(c, 0, sizeof(*c));
	c->kind = kind;
	c->negate = negate;
	rc = crit_values(c, values, n, err, errlen);
	if (rc)
		return rc;
	s->nc++;
	if ((kind == VG_CRIT_FILELESS || kind == VG_CRIT_NOT_IN_IMAGE ||
	     kind == VG_CRIT_UNEXPECTED) &&
	    c->bval != negate)
		s->exe_gated = true;
	if (kind == VG_CRIT_ARGS && !negate && !s->nargs) {
		s->args_own = dup_all(values, n);
		if (!s->args_own)
			return vg_errf(err, errlen, -ENOMEM, "out of memory");
		s->nargs = n;
	}
	if (kind == VG_CRIT_NAME && !negate && !s->has_name)
		return index_names(s, values, n, err, errlen);
	return 0;
}

static int push_int(int **arr, int *n, int v)
{
	int *a = realloc(*arr, (size_t)(*n + 1) * sizeof(int));

	if (!a)
		return -ENOMEM;
	a[(*n)++] = v;
	*arr = a;
	return 0;
}

/* Section i's literal names into the hash. */
static int hash_names(struct vg_matcher *m, int i)
{
	const struct section *s = &m->secs[i];

	for (int k = 0; k < s->nlit; k++) {
		char key[VG_COMM_LEN] = {0};
		struct slot *sl;

		memcpy(key, s->lits[k], VG_COMM_LEN);
		sl = match_slot_find(m, key);
		memcpy(sl->key, key, VG_COMM_LEN);
		if ((!sl->n || sl->secs[sl->n - 1] != i) && push_int(&sl->secs, &sl->n, i))
			return -ENOMEM;
	}
	return 0;
}

/* Every section in the index: by literal name, by regex name (values into *res), or
 * looked at for every event (gated by its args, or not). */
static int index_sections(struct vg_matcher *m, const char ***res, int *nres)
{
	for (int i = 0; i < m->nsec; i++) {
		const struct section *s = &m->secs[i];

		if (hash_names(m, i))
			return -ENOMEM;
		if (s->nres) {
			const char **r = realloc(*res, (size_t)(*nres + s->nres) * sizeof(char *));

			if (!r)
				return -ENOMEM;
			*res = r;
			if (push_int(&m->regex_secs, &m->nregex, i))
				return -ENOMEM;
			for (int k = 0; k < s->nres; k++)
				(*res)[(*nres)++] = s->name_res[k];
		}
		if (s->has_name)
			continue;
		if (s->nargs && push_int(&m->args_secs, &m->nargsec, i))
			return -ENOMEM;
		if (!s->nargs && s->exe_gated && push_int(&m->fact_secs, &m->nfact, i))
			return -ENOMEM; /* looked at only for an exec with such a fact */
		if (!s->nargs && !s->exe_gated && push_int(&m->all_secs, &m->nall, i))
			return -ENOMEM;
	}
	return 0;
}

/* n values joined into one regex at *dst. */
static int join_regex(struct vg_regex **dst, const char *const *values, int n, bool whole,
		      char *err, size_t errlen)
{
	char *alt = match_join_alt(values, n);

	if (!alt)
		return vg_errf(err, errlen, -ENOMEM, "out of memory");
	*dst = vg_regex_new(alt, whole, err, errlen);
	free(alt);
	if (!*dst)
		return -EINVAL;
	return 0;
}

/* One regex of every gated section's args values: one pass rejects them all. */
static int build_args_gate(struct vg_matcher *m, char *err, size_t errlen)
{
	const char **all = NULL;
	int na = 0, rc;

	for (int k = 0; k < m->nargsec; k++) {
		const struct section *s = &m->secs[m->args_secs[k]];
		const char **a = realloc(all, (size_t)(na + s->nargs) * sizeof(char *));

		if (!a) {
			free(all);
			return vg_errf(err, errlen, -ENOMEM, "out of memory");
		}
		all = a;
		for (int v = 0; v < s->nargs; v++)
			all[na++] = s->args_own[v];
	}
	rc = join_regex(&m->args_gate, all, na, false, err, errlen);
	free(all);
	return rc;
}

int vg_matcher_finish(struct vg_matcher *m, char *err, size_t errlen)
{
	size_t nlit = 0, cap = 16;
	const char **res = NULL;
	int nres = 0, rc = 0;

	for (int i = 0; i < m->nsec; i++)
		nlit += (size_t)m->secs[i].nlit;
	while (cap < nlit * 2)
		cap *= 2;
	m->hash = calloc(cap, sizeof(*m->hash));
	m->pol_gen = calloc((size_t)m->npol + 1, sizeof(uint32_t));
	m->names = calloc(nlit + 1, sizeof(char *));
	if (!m->hash || !m->pol_gen || !m->names)
		return vg_errf(err, errlen, -ENOMEM, "out of memory");
	m->hmask = cap - 1;
	if (index_sections(m, &res, &nres))
		rc = vg_errf(err, errlen, -ENOMEM, "out of memory");
	if (!rc && m->nargsec)
		rc = build_args_gate(m, err, errlen);
	if (!rc && nres)
		rc = join_regex(&m->combined, res, nres, true, err, errlen);
	free(res);
	if (rc)
		return rc;
	m->done = true;
	return 0;
}

/* Whether section s has a positive `kind = true` criterion; *only: and nothing else. */
static bool section_fact(const struct section *s, enum vg_crit_kind kind, bool *only)
{
	for (int k = 0; k < s->nc; k++) {
		const struct crit *c = &s->c[k];

		if (c->kind == kind && c->bval != c->negate) {
			*only = s->nc == 1 && !c->negate;
			return true;
		}
	}
	*only = false;
	return false;
}

bool vg_matcher_needs_fact(const struct vg_matcher *m, int pol, enum vg_crit_kind kind)
{
	bool only;

	for (int i = 0; i < m->nsec; i++)
		if (m->secs[i].pol == pol && section_fact(&m->secs[i], kind, &only))
			return true;
	return false;
}

bool vg_matcher_fact_only(const struct vg_matcher *m, int pol, enum vg_crit_kind kind)
{
	bool any = false, only;

	for (int i = 0; i < m->nsec; i++) {
		if (m->secs[i].pol != pol)
			continue;
		if (!section_fact(&m->secs[i], kind, &only) || !only)
			return false;
		any = true;
	}
	return any;
}
