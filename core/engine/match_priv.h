/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * match_priv.h - the matcher as built (match_build.c) and read (match.c);
 * not for outside core/engine/: match.h is the interface.
 */
#ifndef VG_MATCH_PRIV_H
#define VG_MATCH_PRIV_H

#include "match.h"

#define REGEX_SPECIAL "\\^$.|?*+()[]{}" /* a value without these is a literal name */

struct crit {
	enum vg_crit_kind kind;
	bool negate;
	struct vg_regex *re; /* regex kinds */
	char **globs;	     /* VG_CRIT_EXE_PATH */
	uint32_t *uids;	     /* VG_CRIT_UID */
	int n;		     /* globs or uids */
	bool bval;	     /* VG_CRIT_PRIVILEGED, VG_CRIT_UNEXPECTED, VG_CRIT_FILELESS, ... */
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
	bool long_lit;	/* a literal is longer than its key: never for the kernel to decide */
	bool exe_gated; /* needs the exe fileless or not in the image: the kernel sends those */
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

#define LONG_CACHE 256
#define LONG_KEY   48

struct long_slot {
	char key[LONG_KEY];
	uint8_t state;
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
	int *fact_secs, nfact;	    /* ... but a fileless / not-in-image one: for such execs */
	int *args_secs, nargsec;    /* ... of which gated by a positive args criterion */
	struct vg_regex *combined;  /* every regex name value, whole string */
	struct vg_regex *args_gate; /* every gated section's args values: one pass rejects all */
	uint32_t *pol_gen, gen;	    /* per-policy "matched in this eval" marks */
	int npol;
	const char **names;
	bool done;
	struct comm_slot comm_cache[COMM_CACHE];
	struct long_slot long_cache[LONG_CACHE]; /* names longer than a comm */
	struct args_slot args_cache[ARGS_CACHE];
};

/* regex.c: "a|b|c" as one regex alternation (each value grouped), or NULL. */
char *match_join_alt(const char *const *values, int n);

/* match.c: the index slot of a lowercased comm (VG_COMM_LEN bytes), or the empty one
 * where it would go. */
struct slot *match_slot_find(const struct vg_matcher *m, const char *key);

#endif
