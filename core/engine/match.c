// SPDX-License-Identifier: BSD-2-Clause
/*
 * match.c - the fast path: an event's comm looked up in the dispatch index,
 * the candidate sections' criteria tested, each matching policy reported
 * once; and what the compiled criteria tell the kernel filter.
 */
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hash.h"
#include "match_priv.h"

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

/* The same for a name longer than a comm (an exe's name the comm cut), up to LONG_KEY. */
static bool long_names_match(struct vg_matcher *m, const char *name, size_t n)
{
	char key[LONG_KEY] = {0};
	struct long_slot *s;
	bool hit;

	if (n >= LONG_KEY)
		return vg_regex_match(m->combined, name, n);
	memcpy(key, name, n);
	s = &m->long_cache[vg_hash_bytes(key, LONG_KEY) % LONG_CACHE];
	if (s->state && !memcmp(s->key, key, LONG_KEY))
		return s->state == 2;
	hit = vg_regex_match(m->combined, name, n);
	memcpy(s->key, key, LONG_KEY);
	s->state = hit ? 2 : 1;
	return hit;
}

/* A name's first bytes, zero padded: the key of a comm-sized cache or index slot. */
union name_key {
	uint64_t w[VG_COMM_LEN / 8];
	char c[VG_COMM_LEN];
};

_Static_assert(VG_COMM_LEN == 16, "name_key: a comm is two words");
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "name_key: byte masks");

#define BYTES_01 0x0101010101010101ull
#define BYTES_80 0x8080808080808080ull

/* The length of a comm (NUL-terminated within its 16 bytes), a word at a time. */
static size_t comm_len(const char *comm)
{
	union name_key k;
	uint64_t zero;

	memcpy(&k, comm, sizeof(k));
	zero = (k.w[0] - BYTES_01) & ~k.w[0] & BYTES_80; /* the lowest set byte is the NUL */
	if (zero)
		return (size_t)__builtin_ctzll(zero) / 8;
	zero = (k.w[1] - BYTES_01) & ~k.w[1] & BYTES_80;
	return 8 + (size_t)__builtin_ctzll(zero) / 8; /* comm[15] is the NUL (decode) */
}

/* A comm's n bytes as a key: read as two words, the bytes from n on cleared. */
static void comm_key(union name_key *k, const char *comm, size_t n)
{
	memcpy(k, comm, sizeof(*k));
	if (n < 8) {
		k->w[0] &= (1ull << (8 * n)) - 1; /* n == 0: all cleared */
		k->w[1] = 0;
	} else {
		k->w[1] &= (1ull << (8 * (n - 8))) - 1;
	}
}

/* ASCII A-Z to a-z in eight bytes at once (tolower() in the C locale; others kept). */
static uint64_t lower_word(uint64_t w)
{
	uint64_t low7 = w & ~BYTES_80;
	uint64_t from_a = low7 + BYTES_01 * (0x80 - 'A');     /* high bit: the byte >= 'A' */
	uint64_t past_z = low7 + BYTES_01 * (0x80 - 'Z' - 1); /* high bit: the byte > 'Z' */

	return w | ((from_a & ~past_z & ~w & BYTES_80) >> 2); /* 0x80 >> 2 is the case bit */
}

/*
 * Does the combined name regex match this name? Cached by the whole name (raw,
 * its key when it fits one); a name longer than any key is matched each time.
 */
static bool names_match(struct vg_matcher *m, const char *name, size_t n, const union name_key *raw)
{
	struct comm_slot *s;
	bool hit;

	if (n >= VG_COMM_LEN)
		return long_names_match(m, name, n);
	if (!n)
		return vg_regex_match(m->combined, name, n);
	s = &m->comm_cache[hash16(raw->c) % COMM_CACHE];
	if (s->state && !memcmp(s->key, raw->c, VG_COMM_LEN))
		return s->state == 2;
	hit = vg_regex_match(m->combined, name, n);
	memcpy(s->key, raw->c, VG_COMM_LEN);
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
		s = &m->args_cache[vg_hash_bytes(raw, r->args_len) % ARGS_CACHE];
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

struct slot *match_slot_find(const struct vg_matcher *m, const char *key)
{
	size_t i = hash16(key) & m->hmask;

	while (m->hash[i].key[0]) {
		if (!memcmp(m->hash[i].key, key, VG_COMM_LEN))
			return &m->hash[i];
		i = (i + 1) & m->hmask;
	}
	return &m->hash[i];
}

#define EVAL_NAMES (4 + VG_IDENT_NAMES) /* comm, exe, loader, applet, content names */

/* One event through the index: its names (comm first), and how the last name criterion
 * matched. */
struct eval {
	struct vg_matcher *m;
	struct vg_event *ev;
	const bool *want;
	vg_lineage_fn lineage_fn;
	vg_match_cb cb;
	void *ctx;
	int looked;
	int nnames;
	struct vg_match_by names[EVAL_NAMES];
	size_t lens[EVAL_NAMES];
	struct vg_match_by by; /* the section being tested: the name its criterion matched */
};

/* Any name of the exec, in order: the first that matches is how it matched. */
static bool name_crit_match(const struct crit *c, struct eval *e)
{
	for (int i = 0; i < e->nnames; i++) {
		if (vg_regex_match(c->re, e->names[i].name, e->lens[i])) {
			e->by = e->names[i];
			return true;
		}
	}
	return false;
}

static bool crit_match(const struct crit *c, struct eval *e)
{
	struct vg_event *ev = e->ev;

	switch (c->kind) {
	case VG_CRIT_NAME:
		return name_crit_match(c, e);
	case VG_CRIT_EXE_NAME:
		return vg_regex_match(c->re, ev->name, strlen(ev->name));
	case VG_CRIT_ARGS:
		vg_event_args(ev);
		return vg_regex_match(c->re, ev->args, strlen(ev->args));
	case VG_CRIT_ANCESTOR:
		if (!ev->lineage_done && e->lineage_fn)
			e->lineage_fn(e->ctx, ev);
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
	case VG_CRIT_FILELESS:
		return vg_event_fileless_counts(ev) == c->bval; /* not a runtime's re-exec */
	case VG_CRIT_NOT_IN_IMAGE:
		return ev->id.not_in_image == c->bval;
	case VG_CRIT_UNEXPECTED: /* not in a locked process baseline (pipeline/baseline.c) */
		return ev->bl.unexpected == c->bval;
	default:
		return false;
	}
}

static bool section_match(const struct section *s, struct eval *e)
{
	e->by = e->names[0]; /* no name criterion: comm */
	for (int k = 0; k < s->nc; k++)
		if (crit_match(&s->c[k], e) == s->c[k].negate)
			return false;
	return true;
}

static void consider(struct eval *e, int si)
{
	const struct section *s = &e->m->secs[si];

	if ((e->want && !e->want[s->pol]) || e->m->pol_gen[s->pol] == e->m->gen)
		return;
	e->looked++;
	if (section_match(s, e)) {
		e->m->pol_gen[s->pol] = e->m->gen;
		e->cb(e->ctx, s->pol, &e->by);
	}
}

/* Adds a name unless it is empty or one already listed (criteria are caseless). */
static void add_name(struct eval *e, enum vg_way way, const char *name)
{
	if (!name[0] || e->nnames == EVAL_NAMES)
		return;
	for (int i = 0; i < e->nnames; i++)
		if (!strcasecmp(e->names[i].name, name))
			return;
	e->names[e->nnames] = (struct vg_match_by){way, name};
	e->lens[e->nnames++] = strlen(name);
}

/* Is the exe's name the comm (cut to 15 bytes, as the kernel cuts it)? Inline: per exec. */
static inline bool same_name(const char *x, const char *comm)
{
	int i = 0;

	while (i < VG_COMM_LEN - 1 && x[i] && x[i] == comm[i])
		i++;
	return x[i] == comm[i]; /* a longer name than the comm's 15 bytes is another name */
}

/* The exec's names in reporting order; the comm (else the exe path) is always first. */
static void gather_names(struct eval *e)
{
	struct vg_event *ev = e->ev;
	const char *comm = ev->comm[0] ? ev->comm : ev->exe;

	const char *x = ev->id.exe_name;

	e->names[0] = (struct vg_match_by){VG_WAY_COMM, comm};
	e->lens[0] = comm == ev->comm ? comm_len(comm) : strlen(comm);
	e->nnames = 1;
	/* the common case: the exe's name is the comm, and no loader, applet or content */
	if (x[0] && !(ev->rec->flags & VG_EXEC_EXE_IS_COMM) && !same_name(x, ev->comm))
		add_name(e, VG_WAY_EXE, x);
	/* ld*, busybox, toybox, or a copy of one (known by its content names) */
	if ((x[0] == 'l' && x[1] == 'd') || (x[0] == 'b' && x[1] == 'u') ||
	    (x[0] == 't' && x[1] == 'o') || ev->id.n_content > 0) {
		vg_event_ident_args(ev); /* parses argv only for a loader or a multi-call binary */
		add_name(e, VG_WAY_LOADER, ev->id.loader);
		add_name(e, VG_WAY_APPLET, ev->id.applet);
	}
	for (int i = 0; i < ev->id.n_content && i < VG_IDENT_NAMES; i++)
		add_name(e, VG_WAY_CONTENT, ev->id.content[i]);
}

/* The sections the index holds for one name: its literal slot, then the regex ones. */
static void dispatch_name(struct eval *e, int i)
{
	const char *name = e->names[i].name;
	size_t n = e->lens[i];
	union name_key raw, key; /* the name's first 15 bytes; lowercased */
	const struct slot *sl;

	if (name == e->ev->comm) { /* the common case: two words */
		comm_key(&raw, name, n);
	} else {
		memset(&raw, 0, sizeof(raw));
		memcpy(raw.c, name, n < VG_COMM_LEN ? n : VG_COMM_LEN - 1);
	}
	key.w[0] = lower_word(raw.w[0]);
	key.w[1] = lower_word(raw.w[1]);
	if (key.c[0] && (i || e->ev->comm[0])) { /* an exe path standing in for comm: no slot */
		sl = match_slot_find(e->m, key.c);
		for (int k = 0; k < sl->n; k++)
			consider(e, sl->secs[k]);
	}
	if (e->m->combined && names_match(e->m, name, n, &raw))
		for (int k = 0; k < e->m->nregex; k++)
			consider(e, e->m->regex_secs[k]);
}

int vg_matcher_eval(const struct vg_matcher *cm, struct vg_event *ev, const bool *want,
		    vg_lineage_fn lineage_fn, vg_match_cb cb, void *ctx)
{
	struct vg_matcher *m = (struct vg_matcher *)cm; /* only the eval marks change */
	struct eval e; /* names[] and by are written before they are read: not zeroed */

	if (++m->gen == 0) { /* wrapped: clear the marks */
		memset(m->pol_gen, 0, ((size_t)m->npol + 1) * sizeof(uint32_t));
		m->gen = 1;
	}
	e.m = m;
	e.ev = ev;
	e.want = want;
	e.lineage_fn = lineage_fn;
	e.cb = cb;
	e.ctx = ctx;
	e.looked = 0;
	gather_names(&e);
	for (int i = 0; i < e.nnames; i++)
		dispatch_name(&e, i);
	for (int i = 0; i < m->nall; i++)
		consider(&e, m->all_secs[i]);
	if (ev->id.fileless || ev->id.not_in_image || ev->bl.unexpected)
		for (int i = 0; i < m->nfact; i++)
			consider(&e, m->fact_secs[i]);
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
		if ((!s->has_name || s->nres) && !s->exe_gated)
			return true; /* no name, or a regex one: the kernel cannot pass exactly
					these (it sends fileless, drifted execs: vg_exe_policy) */
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
		if (s->nc != 1 || !s->has_name || s->nres || !s->nlit || s->c[0].negate ||
		    s->long_lit)
			return false;
		any = true;
	}
	return any;
}

/* The section's positive name criterion holds for the whole name. */
static bool section_wants(const struct section *s, const char *lcname, size_t n)
{
	for (int k = 0; k < s->nc; k++)
		if (s->c[k].kind == VG_CRIT_NAME && !s->c[k].negate)
			return vg_regex_match_alone(s->c[k].re, lcname, n);
	return false;
}

bool vg_matcher_name_wanted(const struct vg_matcher *m, const bool *enabled, const char *lcname)
{
	size_t n = strlen(lcname);
	int regex_hit = -1; /* the combined regex, tried once: -1 not yet */
	bool named;

	for (int i = 0; i < m->nsec; i++) {
		const struct section *s = &m->secs[i];

		if (!s->has_name || (enabled && !enabled[s->pol]))
			continue;
		named = false;
		for (int k = 0; k < s->nlit && !named; k++)
			named = !strncmp(s->lits[k], lcname, VG_COMM_LEN - 1);
		if (s->nres && regex_hit == -1) /* one pass of the combined regex rejects most */
			regex_hit = m->combined && vg_regex_match_alone(m->combined, lcname, n);
		named |= s->nres && regex_hit == 1;
		if (named && section_wants(s, lcname, n))
			return true;
	}
	return false;
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
	if (!s->has_name || s->nres || !s->nlit || s->long_lit)
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
			for (int u = 0; s->c[c].kind == VG_CRIT_UID && u < s->c[c].n; u++, n++)
				if (n < max)
					uids[n] = s->c[c].uids[u];
	}
	return n;
}
