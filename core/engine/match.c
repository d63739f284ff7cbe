// SPDX-License-Identifier: BSD-2-Clause
#define PCRE2_CODE_UNIT_WIDTH 8
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pcre2.h>

#include "log.h"
#include "match.h"

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
	if (!mctx && (mctx = pcre2_match_context_create(NULL))) {
		pcre2_set_match_limit(mctx, 1000000);
		pcre2_set_depth_limit(mctx, 10000);
	}
	return mctx;
}

struct crit {
	enum vg_crit_kind kind;
	bool negate;
	struct vg_regex *re; /* regex kinds */
	char **globs;	     /* VG_CRIT_EXE_PATH */
	uint32_t *uids;	     /* VG_CRIT_UID */
	int n;		     /* globs or uids */
	bool bval;	     /* VG_CRIT_PRIVILEGED, VG_CRIT_UNEXPECTED */
};

struct section {
	int pol;
	struct crit *c;
	int nc;
	char (*lits)[VG_COMM_LEN]; /* lowercased literal values of the positive name criterion */
	int nlit;
	char **name_res; /* its regex values */
	int nres;
	bool has_name;
	const char *const *args_vals; /* its positive args criterion's values (owned by crit) */
	char **args_own;
	int nargs;
};

struct slot {
	char key[VG_COMM_LEN]; /* lowercased comm; "" = empty slot */
	int *secs;
	int n;
};

/*
 * Result caches for the two regexes every event may meet. Keys are stored
 * whole and compared byte for byte: a hash collision can never turn a
 * violation into a cached "no match".
 */
#define COMM_CACHE 1024
#define ARGS_CACHE 2048
#define ARGS_KEY   118

struct comm_slot {
	char key[VG_COMM_LEN];
	uint8_t state; /* 0 empty, 1 no match, 2 match */
};

struct args_slot {
	uint16_t len;
	uint8_t state;
	char key[ARGS_KEY + 7];
};

struct vg_matcher {
	struct section *secs;
	int nsec, cap;
	struct slot *hash; /* open addressing, power-of-two size */
	size_t hmask;
	int *regex_secs, nregex;
	int *all_secs, nall;	    /* no name criterion: looked at for every event */
	int *args_secs, nargsec;    /* ... of which gated by a positive args criterion */
	struct vg_regex *combined;  /* every regex name value, whole string */
	struct vg_regex *args_gate; /* every gated section's args values: one pass rejects all */
	uint32_t *pol_gen, gen;	    /* per-policy "matched in this eval" marks */
	int npol;
	const char **names;
	bool done;
	struct comm_slot comm_cache[COMM_CACHE];
	struct args_slot args_cache[ARGS_CACHE];
};

struct vg_regex *vg_regex_new(const char *pattern, bool whole, char *err, size_t errlen)
{
	struct vg_regex *r = calloc(1, sizeof(*r));
	size_t len = strlen(pattern) + 16;
	char *p = malloc(len);
	int ec;
	PCRE2_SIZE eo;

	if (!r || !p) {
		free(r);
		free(p);
		vg_errf(err, errlen, 0, "out of memory");
		return NULL;
	}
	snprintf(p, len, whole ? "^(?:%s)$" : "%s", pattern);
	r->re = pcre2_compile((PCRE2_SPTR)p, PCRE2_ZERO_TERMINATED, PCRE2_CASELESS, &ec, &eo, NULL);
	free(p);
	if (!r->re) {
		PCRE2_UCHAR msg[160];

		pcre2_get_error_message(ec, msg, sizeof(msg));
		vg_errf(err, errlen, 0, "bad regex '%s': %s at offset %zu", pattern, (char *)msg,
			(size_t)eo - (whole ? 4 : 0));
		free(r);
		return NULL;
	}
	pcre2_jit_compile(r->re, PCRE2_JIT_COMPLETE); /* falls back to the interpreter */
	r->md = pcre2_match_data_create(1, NULL);
	return r;
}

bool vg_regex_match(const struct vg_regex *r, const char *s, size_t len)
{
	int rc = pcre2_match(r->re, (PCRE2_SPTR)s, len, 0, 0, r->md, match_ctx());

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

struct vg_matcher *vg_matcher_new(void)
{
	return calloc(1, sizeof(struct vg_matcher));
}

static uint64_t hash_bytes(const char *p, size_t n)
{
	uint64_t h = 0x9e3779b97f4a7c15ull ^ n, w;
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		memcpy(&w, p + i, 8);
		h = (h ^ w) * 0xff51afd7ed558ccdull;
		h ^= h >> 32;
	}
	for (w = 0; i < n; i++)
		w = w << 8 | (unsigned char)p[i];
	h = (h ^ w) * 0xc4ceb9fe1a85ec53ull;
	return h ^ (h >> 29);
}

/* Does the combined name regex match this comm? Cached by the whole comm. */
static bool names_match(struct vg_matcher *m, struct vg_event *ev)
{
	char key[VG_COMM_LEN] = {0};
	struct comm_slot *s;
	size_t n = strnlen(ev->comm, VG_COMM_LEN - 1);
	bool hit;

	if (!n) /* no comm: the exe path stands in, uncached */
		return vg_regex_match(m->combined, ev->exe, strlen(ev->exe));
	memcpy(key, ev->comm, n);
	s = &m->comm_cache[hash_bytes(key, VG_COMM_LEN) % COMM_CACHE];
	if (s->state && !memcmp(s->key, key, VG_COMM_LEN))
		return s->state == 2;
	hit = vg_regex_match(m->combined, ev->comm, n);
	memcpy(s->key, key, VG_COMM_LEN);
	s->state = hit ? 2 : 1;
	return hit;
}

/* Does the args gate match? Cached by the raw argv bytes when they are short. */
static bool args_match(struct vg_matcher *m, struct vg_event *ev)
{
	const struct vg_exec *r = ev->rec;
	const char *raw = r->data + r->args_off;
	struct args_slot *s = NULL;
	bool hit;

	if (r->args_len <= ARGS_KEY) {
		s = &m->args_cache[hash_bytes(raw, r->args_len) % ARGS_CACHE];
		if (s->state && s->len == r->args_len && !memcmp(s->key, raw, r->args_len))
			return s->state == 2;
	}
	vg_event_args(ev);
	hit = vg_regex_match(m->args_gate, ev->args, strlen(ev->args));
	if (s) {
		s->len = r->args_len;
		memcpy(s->key, raw, r->args_len);
		s->state = hit ? 2 : 1;
	}
	return hit;
}

void vg_matcher_free(struct vg_matcher *m)
{
	if (!m)
		return;
	for (int i = 0; i < m->nsec; i++) {
		struct section *s = &m->secs[i];

		for (int k = 0; k < s->nc; k++) {
			vg_regex_free(s->c[k].re);
			for (int g = 0; s->c[k].globs && g < s->c[k].n; g++)
				free(s->c[k].globs[g]);
			free(s->c[k].globs);
			free(s->c[k].uids);
		}
		for (int k = 0; k < s->nres; k++)
			free(s->name_res[k]);
		free(s->name_res);
		for (int k = 0; k < s->nargs; k++)
			free(s->args_own[k]);
		free(s->args_own);
		free(s->lits);
		free(s->c);
	}
	for (size_t i = 0; m->hash && i <= m->hmask; i++)
		free(m->hash[i].secs);
	free(m->hash);
	free(m->secs);
	free(m->regex_secs);
	free(m->all_secs);
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
		int cap = m->cap ? m->cap * 2 : 64;
		struct section *n = realloc(m->secs, (size_t)cap * sizeof(*n));

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
	return strlen(v) < VG_COMM_LEN && !strpbrk(v, "\\^$.|?*+()[]{}");
}

/* "a|b|c" as one regex alternation */
static char *join_alt(const char *const *values, int n)
{
	size_t len = 1;
	char *out, *p;

	for (int i = 0; i < n; i++)
		len += strlen(values[i]) + 5;
	out = p = malloc(len);
	if (!out)
		return NULL;
	for (int i = 0; i < n; i++)
		p += sprintf(p, "%s(?:%s)", i ? "|" : "", values[i]);
	*p = '\0';
	return out;
}

int vg_matcher_criterion(struct vg_matcher *m, enum vg_crit_kind kind, bool negate,
			 const char *const *values, int n, char *err, size_t errlen)
{
	struct section *s = m->nsec ? &m->secs[m->nsec - 1] : NULL;
	struct crit *c, *nc;

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
	switch (kind) {
	case VG_CRIT_NAME:
	case VG_CRIT_EXE_NAME:
	case VG_CRIT_ARGS:
	case VG_CRIT_ANCESTOR: {
		char *alt = join_alt(values, n);

		if (!alt)
			return vg_errf(err, errlen, -ENOMEM, "out of memory");
		for (int i = 0; i < n; i++) { /* each value alone, for a message that names it */
			struct vg_regex *one =
				vg_regex_new(values[i], kind != VG_CRIT_ARGS, err, errlen);

			if (!one) {
				free(alt);
				return -EINVAL;
			}
			vg_regex_free(one);
		}
		c->re = vg_regex_new(alt, kind != VG_CRIT_ARGS, err, errlen);
		free(alt);
		if (!c->re)
			return -EINVAL;
		break;
	}
	case VG_CRIT_EXE_PATH:
		c->globs = calloc((size_t)n, sizeof(char *));
		if (!c->globs)
			return vg_errf(err, errlen, -ENOMEM, "out of memory");
		for (int i = 0; i < n; i++)
			c->globs[i] = strdup(values[i]);
		c->n = n;
		break;
	case VG_CRIT_UID:
		c->uids = calloc((size_t)n, sizeof(uint32_t));
		if (!c->uids)
			return vg_errf(err, errlen, -ENOMEM, "out of memory");
		for (int i = 0; i < n; i++)
			c->uids[i] = (uint32_t)strtoul(values[i], NULL, 10);
		c->n = n;
		break;
	case VG_CRIT_PRIVILEGED:
	case VG_CRIT_UNEXPECTED:
		c->bval = !strcmp(values[0], "true");
		break;
	default:
		break;
	}
	s->nc++;
	if (kind == VG_CRIT_ARGS && !negate && !s->nargs) {
		s->args_own = calloc((size_t)n, sizeof(char *));
		if (!s->args_own)
			return vg_errf(err, errlen, -ENOMEM, "out of memory");
		for (int i = 0; i < n; i++)
			s->args_own[i] = strdup(values[i]);
		s->nargs = n;
	}
	if (kind == VG_CRIT_NAME && !negate && !s->has_name) {
		s->has_name = true;
		s->lits = calloc((size_t)n, sizeof(*s->lits));
		s->name_res = calloc((size_t)n, sizeof(char *));
		if (!s->lits || !s->name_res)
			return vg_errf(err, errlen, -ENOMEM, "out of memory");
		for (int i = 0; i < n; i++) {
			if (is_literal(values[i])) {
				for (int k = 0; values[i][k]; k++)
					s->lits[s->nlit][k] =
						(char)tolower((unsigned char)values[i][k]);
				s->nlit++;
			} else if (strlen(values[i]) >= VG_COMM_LEN &&
				   !strpbrk(values[i], "\\^$.|?*+()[]{}")) {
				/* a literal longer than comm can never match it: drop from the
				 * index */
			} else {
				s->name_res[s->nres++] = strdup(values[i]);
			}
		}
	}
	return 0;
}

static uint64_t hash16(const char *k)
{
	uint64_t a, b;

	memcpy(&a, k, 8);
	memcpy(&b, k + 8, 8);
	a ^= b * 0x9e3779b97f4a7c15ull;
	a ^= a >> 31;
	a *= 0xbf58476d1ce4e5b9ull;
	return a ^ (a >> 29);
}

static struct slot *slot_find(const struct vg_matcher *m, const char *key)
{
	size_t i = hash16(key) & m->hmask;

	while (m->hash[i].key[0]) {
		if (!memcmp(m->hash[i].key, key, VG_COMM_LEN))
			return &m->hash[i];
		i = (i + 1) & m->hmask;
	}
	return &m->hash[i];
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

int vg_matcher_finish(struct vg_matcher *m, char *err, size_t errlen)
{
	size_t nlit = 0, cap = 16;
	const char **res = NULL;
	int nres = 0;

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
	for (int i = 0; i < m->nsec; i++) {
		struct section *s = &m->secs[i];

		for (int k = 0; k < s->nlit; k++) {
			char key[VG_COMM_LEN] = {0};
			struct slot *sl;

			memcpy(key, s->lits[k], VG_COMM_LEN);
			sl = slot_find(m, key);
			memcpy(sl->key, key, VG_COMM_LEN);
			if (!sl->n || sl->secs[sl->n - 1] != i)
				if (push_int(&sl->secs, &sl->n, i))
					return vg_errf(err, errlen, -ENOMEM, "out of memory");
		}
		if (s->nres) {
			const char **r = realloc(res, (size_t)(nres + s->nres) * sizeof(char *));

			if (!r || push_int(&m->regex_secs, &m->nregex, i)) {
				free(r ? r : res);
				return vg_errf(err, errlen, -ENOMEM, "out of memory");
			}
			res = r;
			for (int k = 0; k < s->nres; k++)
				res[nres++] = s->name_res[k];
		}
		if (s->has_name)
			continue;
		if (s->nargs ? push_int(&m->args_secs, &m->nargsec, i)
			     : push_int(&m->all_secs, &m->nall, i))
			return vg_errf(err, errlen, -ENOMEM, "out of memory");
	}
	if (m->nargsec) {
		const char **all = NULL;
		int na = 0;
		char *alt;

		for (int k = 0; k < m->nargsec; k++) {
			const struct section *s = &m->secs[m->args_secs[k]];
			const char **a = realloc(all, (size_t)(na + s->nargs) * sizeof(char *));

			if (!a) {
				free(all);
				free(res);
				return vg_errf(err, errlen, -ENOMEM, "out of memory");
			}
			all = a;
			for (int v = 0; v < s->nargs; v++)
				all[na++] = s->args_own[v];
		}
		alt = join_alt(all, na);
		free(all);
		m->args_gate = alt ? vg_regex_new(alt, false, err, errlen) : NULL;
		free(alt);
		if (!m->args_gate) {
			free(res);
			return -EINVAL;
		}
	}
	if (nres) {
		char *alt = join_alt(res, nres);

		m->combined = alt ? vg_regex_new(alt, true, err, errlen) : NULL;
		free(alt);
		if (!m->combined) {
			free(res);
			return -EINVAL;
		}
	}
	free(res);
	m->done = true;
	return 0;
}

static bool crit_match(const struct crit *c, struct vg_event *ev, vg_lineage_fn lineage_fn,
		       void *ctx)
{
	switch (c->kind) {
	case VG_CRIT_NAME:
		if (ev->comm[0])
			return vg_regex_match(c->re, ev->comm, strlen(ev->comm));
		return vg_regex_match(c->re, ev->exe, strlen(ev->exe));
	case VG_CRIT_EXE_NAME:
		return vg_regex_match(c->re, ev->name, strlen(ev->name));
	case VG_CRIT_ARGS:
		vg_event_args(ev);
		return vg_regex_match(c->re, ev->args, strlen(ev->args));
	case VG_CRIT_ANCESTOR:
		if (!ev->lineage_done && lineage_fn)
			lineage_fn(ctx, ev);
		for (int i = 0; i < ev->n_lineage; i++)
			if (vg_regex_match(c->re, ev->lineage[i].exe, strlen(ev->lineage[i].exe)))
				return true;
		return false;
	case VG_CRIT_EXE_PATH:
		for (int i = 0; i < c->n; i++)
			if (!fnmatch(c->globs[i], ev->exe, 0))
				return true;
		return false;
	case VG_CRIT_UID:
		for (int i = 0; i < c->n; i++)
			if (ev->rec->euid == c->uids[i])
				return true;
		return false;
	case VG_CRIT_PRIVILEGED:
		return ev->meta && ev->meta->privileged == c->bval;
	case VG_CRIT_UNEXPECTED: /* process baselines do not exist yet: nothing is unexpected */
	default:
		return false;
	}
}

static bool section_match(const struct section *s, struct vg_event *ev, vg_lineage_fn lineage_fn,
			  void *ctx)
{
	for (int k = 0; k < s->nc; k++)
		if (crit_match(&s->c[k], ev, lineage_fn, ctx) == s->c[k].negate)
			return false;
	return true;
}

struct eval {
	struct vg_matcher *m;
	struct vg_event *ev;
	const bool *want;
	vg_lineage_fn lineage_fn;
	vg_match_cb cb;
	void *ctx;
	int looked;
};

static void consider(struct eval *e, int si)
{
	const struct section *s = &e->m->secs[si];

	if ((e->want && !e->want[s->pol]) || e->m->pol_gen[s->pol] == e->m->gen)
		return;
	e->looked++;
	if (section_match(s, e->ev, e->lineage_fn, e->ctx)) {
		e->m->pol_gen[s->pol] = e->m->gen;
		e->cb(e->ctx, s->pol);
	}
}

int vg_matcher_eval(const struct vg_matcher *cm, struct vg_event *ev, const bool *want,
		    vg_lineage_fn lineage_fn, vg_match_cb cb, void *ctx)
{
	struct vg_matcher *m = (struct vg_matcher *)cm; /* only the eval marks change */
	struct eval e = {m, ev, want, lineage_fn, cb, ctx, 0};
	char key[VG_COMM_LEN] = {0};
	const struct slot *sl;

	if (++m->gen == 0) { /* wrapped: clear the marks */
		memset(m->pol_gen, 0, ((size_t)m->npol + 1) * sizeof(uint32_t));
		m->gen = 1;
	}
	for (int i = 0; i < VG_COMM_LEN - 1 && ev->comm[i]; i++)
		key[i] = (char)tolower((unsigned char)ev->comm[i]);
	if (key[0]) {
		sl = slot_find(m, key);
		for (int i = 0; i < sl->n; i++)
			consider(&e, sl->secs[i]);
	}
	if (m->combined && names_match(m, ev))
		for (int i = 0; i < m->nregex; i++)
			consider(&e, m->regex_secs[i]);
	for (int i = 0; i < m->nall; i++)
		consider(&e, m->all_secs[i]);
	if (m->nargsec) {
		if (args_match(m, ev))
			for (int i = 0; i < m->nargsec; i++)
				consider(&e, m->args_secs[i]);
	}
	return e.looked;
}

bool vg_matcher_needs_all(const struct vg_matcher *m, const bool *enabled)
{
	for (int i = 0; i < m->nsec; i++) {
		const struct section *s = &m->secs[i];

		if (enabled && !enabled[s->pol])
			continue;
		if (!s->has_name || s->nres)
			return true; /* no name, or a regex one: the kernel cannot pass exactly
					these */
	}
	return false;
}

int vg_matcher_exact_names(const struct vg_matcher *m, const bool *enabled, const char ***names)
{
	int n = 0;

	for (size_t i = 0; i <= m->hmask; i++) {
		const struct slot *sl = &m->hash[i];
		bool on = false;

		for (int k = 0; k < sl->n && !on; k++)
			on = !enabled || enabled[m->secs[sl->secs[k]].pol];
		if (sl->key[0] && on)
			m->names[n++] = sl->key;
	}
	m->names[n] = NULL;
	*names = m->names;
	return n;
}

int vg_matcher_sections(const struct vg_matcher *m)
{
	return m->nsec;
}

bool vg_matcher_names_only(const struct vg_matcher *m, int pol)
{
	bool any = false;

	for (int i = 0; i < m->nsec; i++) {
		const struct section *s = &m->secs[i];

		if (s->pol != pol)
			continue;
		if (s->nc != 1 || !s->has_name || s->nres || !s->nlit || s->c[0].negate)
			return false;
		any = true;
	}
	return any;
}

bool vg_matcher_policy_has_name(const struct vg_matcher *m, int pol, const char *lcname)
{
	for (int i = 0; i < m->nsec; i++)
		for (int k = 0; m->secs[i].pol == pol && k < m->secs[i].nlit; k++)
			if (!strncmp(m->secs[i].lits[k], lcname, VG_COMM_LEN))
				return true;
	return false;
}

/* names-only: 1; exact names and a positive uid criterion: 2; anything else: 0 */
static int section_shape(const struct section *s)
{
	if (!s->has_name || s->nres || !s->nlit)
		return 0;
	if (s->nc == 1 && !s->c[0].negate)
		return 1;
	if (s->nc == 2 && !s->c[0].negate && !s->c[1].negate &&
	    ((s->c[0].kind == VG_CRIT_NAME && s->c[1].kind == VG_CRIT_UID) ||
	     (s->c[1].kind == VG_CRIT_NAME && s->c[0].kind == VG_CRIT_UID)))
		return 2;
	return 0;
}

bool vg_matcher_kernel_shaped(const struct vg_matcher *m, int pol)
{
	bool any = false;

	for (int i = 0; i < m->nsec; i++) {
		if (m->secs[i].pol != pol)
			continue;
		if (!section_shape(&m->secs[i]))
			return false;
		any = true;
	}
	return any;
}

int vg_matcher_kill_uids(const struct vg_matcher *m, int pol, const char *lcname, uint32_t *uids,
			 int max, bool *always)
{
	int n = 0;

	*always = false;
	for (int i = 0; i < m->nsec; i++) {
		const struct section *s = &m->secs[i];
		bool named = false;
		int shape;

		if (s->pol != pol)
			continue;
		for (int k = 0; k < s->nlit && !named; k++)
			named = !strncmp(s->lits[k], lcname, VG_COMM_LEN);
		if (!named)
			continue;
		shape = section_shape(s);
		if (shape == 1) {
			*always = true;
			continue;
		}
		for (int c = 0; shape == 2 && c < s->nc; c++)
			for (int u = 0; s->c[c].kind == VG_CRIT_UID && u < s->c[c].n && n < max;
			     u++)
				uids[n++] = s->c[c].uids[u];
	}
	return n;
}
