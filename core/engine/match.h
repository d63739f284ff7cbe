/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * match.h - policies' criteria compiled for the fast path.
 *
 * A criterion (process name, exe name, args, ancestor, exe path, uid, ...)
 * becomes a PCRE2-JIT regex, a glob list or an integer set; criteria in a
 * section are ANDed, sections ORed (StackRox semantics, policies/README.md). The
 * dispatch index gathers every section's positive process-name values: exact
 * names go into a hash of lowercased names (cut to a comm's length), the rest
 * into one combined regex; sections without a name criterion are checked for
 * every event. Each name of the exec (comm, mapped exe, loader's program,
 * applet, content names: enum vg_way) is looked up; an event none of whose
 * names is in either is never looked at again, and never enters Lua.
 */
#ifndef VG_MATCH_H
#define VG_MATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "event.h"

enum vg_crit_kind {
	VG_CRIT_NAME,	    /* any name of the exec (enum vg_way; comm first, the exe path
			       when comm is empty): whole, caseless regex */
	VG_CRIT_EXE_NAME,   /* basename of the exe path: whole, caseless regex */
	VG_CRIT_ARGS,	    /* argv[1..] joined: substring, caseless regex */
	VG_CRIT_ANCESTOR,   /* any ancestor's exe path: whole, caseless regex */
	VG_CRIT_EXE_PATH,   /* exe path: glob */
	VG_CRIT_UID,	    /* effective uid */
	VG_CRIT_PRIVILEGED, /* privileged container (Kubernetes metadata) */
	VG_CRIT_UNEXPECTED, /* not in the process baseline */
	/* the executable has no link on any filesystem (id.fileless) */
	VG_CRIT_FILELESS,
	/* a container's executable not from its image (id.not_in_image) */
	VG_CRIT_NOT_IN_IMAGE,
	VG_CRIT_MAX
};

struct vg_matcher;

/* Builds criteria into a matcher. Each returns 0 or -errno with a message. */
struct vg_matcher *vg_matcher_new(void);
void vg_matcher_free(struct vg_matcher *m);

/* Starts section `sec` of policy `pol` (both dense indices chosen by the caller). */
int vg_matcher_section(struct vg_matcher *m, int pol, int sec);

/*
 * Adds a criterion to the section being built. values are regexes, globs,
 * or decimal uids / "true"/"false" depending on kind.
 */
int vg_matcher_criterion(struct vg_matcher *m, enum vg_crit_kind kind, bool negate,
			 const char *const *values, int n, char *err, size_t errlen);

/* Compiles the dispatch index; then the matcher is read-only. */
int vg_matcher_finish(struct vg_matcher *m, char *err, size_t errlen);

/* Whole-string caseless match of one regex: for ev:ancestor() and exclusions. */
struct vg_regex;
struct vg_regex *vg_regex_new(const char *pattern, bool whole, char *err, size_t errlen);
bool vg_regex_match(const struct vg_regex *re, const char *s, size_t len);
/* The same with its own match data: for a thread other than the evaluating one. */
bool vg_regex_match_alone(const struct vg_regex *re, const char *s, size_t len);
void vg_regex_free(struct vg_regex *re);

/*
 * The fast path: calls cb(ctx, policy) once per policy (in section order)
 * whose section fully matches ev, considering only policies for which
 * want[pol] is true (NULL: all), with the way its name criterion matched. Lineage is asked for
 * through lineage_fn only when an ancestor criterion is reached. Returns the number of candidate
 * sections looked at (0: the event was rejected by the index).
 */
struct vg_match_by {
	enum vg_way way;  /* the first of the exec's names its name criterion matched */
	const char *name; /* that name (points into the event); comm without a criterion */
};
typedef void (*vg_match_cb)(void *ctx, int pol, const struct vg_match_by *by);
typedef void (*vg_lineage_fn)(void *ctx, struct vg_event *ev);
int vg_matcher_eval(const struct vg_matcher *m, struct vg_event *ev, const bool *want,
		    vg_lineage_fn lineage_fn, vg_match_cb cb, void *ctx);

/*
 * Exact names the kernel filter can pass on (lowercased comms), and whether
 * some section needs every exec (then the kernel must send all). The names
 * array is owned by the matcher.
 */
bool vg_matcher_needs_all(const struct vg_matcher *m, const bool *enabled);
int vg_matcher_exact_names(const struct vg_matcher *m, const bool *enabled, const char ***names);

/* Policy index of each candidate section, for counting: per-eval candidates. */
int vg_matcher_sections(const struct vg_matcher *m);

/*
 * Whether every section of policy pol is exact process names and nothing
 * else (so the kernel can decide it alone), and whether lowercased name is
 * one of them.
 */
bool vg_matcher_names_only(const struct vg_matcher *m, int pol);
/* Every section is exact names, optionally with a (positive) uid criterion. */
bool vg_matcher_kernel_shaped(const struct vg_matcher *m, int pol);
/*
 * For a kernel-shaped policy and a lowercased name: *always when a names-only
 * section names it; else the uids of the name-and-uid sections naming it, the
 * first max of them into uids. Returns the number of uids, all of them (more
 * than max: call again with room for that many).
 */
int vg_matcher_kill_uids(const struct vg_matcher *m, int pol, const char *lcname, uint32_t *uids,
			 int max, bool *always);
/*
 * Whether some section of a policy with enabled[pol] (NULL: all) has a positive
 * process-name criterion that matches the whole lowercased name. Reads only
 * compiled state: safe from another thread than the one evaluating.
 */
bool vg_matcher_name_wanted(const struct vg_matcher *m, const bool *enabled, const char *lcname);
bool vg_matcher_policy_has_name(const struct vg_matcher *m, int pol, const char *lcname);

/*
 * On the executable's facts (kind VG_CRIT_FILELESS or VG_CRIT_NOT_IN_IMAGE) for
 * policy pol: whether some section needs the fact to hold (the kernel must send
 * such execs), and whether every section is exactly `kind = true` and nothing
 * else (the kernel can decide the policy alone).
 */
bool vg_matcher_needs_fact(const struct vg_matcher *m, int pol, enum vg_crit_kind kind);
bool vg_matcher_fact_only(const struct vg_matcher *m, int pol, enum vg_crit_kind kind);

#endif
