/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * engine.h - the policy engine: policies loaded from Lua files, each into its
 * own sandboxed state (its own memory cap, on a pool shared by all), their
 * criteria compiled into the fast path (match.h), and the per-event pipeline:
 * fast path -> scope and exclusions -> Lua check.
 *
 * An engine is built whole and never changed, except for per-policy enable
 * and counters; a reload builds a new one and swaps it in, or keeps the old.
 */
#ifndef VG_ENGINE_H
#define VG_ENGINE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "enforce_mode.h"
#include "event.h"
#include "match.h"

struct vg_engine;

struct vg_engine_opts {
	const char *dir;	  /* policy directory; NULL: the embedded default pack */
	bool with_builtin;	  /* with dir: the default pack too, less the policies of dir's
				     ids (or names), which replace them */
	const char *const *files; /* or these files (NULL-terminated); overrides dir */
	size_t lua_mem;		  /* Lua memory of all policies together, bytes (0: 64 MiB) */
	size_t policy_mem;	  /* Lua memory of one policy, bytes (0: lua_mem / 4) */
	long budget;		  /* instructions per Lua call (0: 1,000,000) */
	long time_ms;		  /* wall time per Lua call (0: 1000 ms) */
	vg_lineage_fn lineage_fn; /* names an event's ancestors on demand */
	void *lineage_ctx;
};

/* What one policy is and did; owned by the engine. */
struct vg_policy_info {
	const char *name, *id, *severity, *enforcement, *description, *rationale, *remediation;
	enum vg_enforce_mode mode; /* enforcement, parsed (settings override the file's) */
	const char *on_error;	   /* a failed check(): "alert" (default), "ignore" or "enforce" */
	const char *file;	   /* where it was loaded from */
	const char *waits_for;	   /* non-NULL: it needs a feature vigil does not have */
	const char *const *categories;
	const char *const *notifiers; /* the policy's own notifiers, or NULL: the defaults */
	bool enabled, host, has_check;
	/* what the policy is, for people (the API's policy detail): {"criteria", "scope",
	 * "exclusions", "hasCheck", "check", "tests", "definitionTruncated"}; NULL when it
	 * could not be built (out of memory) */
	const struct json_t *definition;
	bool broken; /* failed to compile: kept only to be freed, never evaluated */
	int nsections;
	/* counters */
	uint64_t candidates; /* criteria matched (before scope, exclusions, check) */
	uint64_t matches;    /* violations: all of it held */
	uint64_t out_of_scope, excluded, check_false;
	uint64_t lua_ns;	    /* time in check() */
	uint64_t errors;	    /* check() failed, every class (what follows: on_error) */
	uint64_t budget_stops;	    /* of which: past the instruction budget or the time limit */
	uint64_t nomem;		    /* of which: past the policy's memory cap (or the pool's) */
	uint64_t flow_errors;	    /* its violation flow (on_violation) failed */
	size_t mem_bytes, mem_peak; /* the policy's Lua state */
};

struct vg_engine_stats {
	uint64_t events, rejected, candidates, matches, lua_calls, lua_errors;
	/* every event is one of: rejected (no policy's criteria could match), passed (some policy's
	 * criteria looked at it, none gave a violation), violating (one or more violations) */
	uint64_t passed, violating;
	size_t lua_mem, lua_mem_cap; /* every policy's Lua state together, and the pool's cap */
	bool kernel_all;	     /* the kernel must send every exec */
	int exact_names;	     /* names the kernel filter map passes */
};

/* One problem found while loading, with file:line where known. */
struct vg_load_error {
	char *file;
	char *msg;
};

/*
 * Loads every *.lua policy of the directory (sorted) or the given files (and,
 * with_builtin, then the default pack, each built-in whose id or name a policy
 * of the directory has being replaced by it, logged). A file
 * that fails to load or validate is recorded in errors and skipped; the rest
 * load. Returns 0 and *out (possibly with zero policies), or -errno when the
 * engine itself could not be built (errors says why).
 */
int vg_engine_load(struct vg_engine **out, const struct vg_engine_opts *o,
		   struct vg_load_error **errors, int *nerrors);
void vg_engine_free(struct vg_engine *e);

/*
 * Reload: builds a new engine from o and, only if every file loaded, frees
 * *cur and puts the new one in its place; otherwise *cur stays as it was (the
 * whole set, never a part). Policies keep their enabled state by name.
 * Returns 0 when swapped, else -errno with the reasons in errors.
 */
int vg_engine_reload(struct vg_engine **cur, const struct vg_engine_opts *o,
		     struct vg_load_error **errors, int *nerrors);
void vg_load_errors_free(struct vg_load_error *errs, int n);

int vg_engine_count(const struct vg_engine *e);
struct vg_policy_info *vg_engine_policy(struct vg_engine *e, int i);
/* The index of the policy with that name or id (else name, any case), or -ENOENT. */
int vg_engine_find(const struct vg_engine *e, const char *name_or_id);

/*
 * Evaluates one event. For each violated policy calls cb. A policy whose
 * check() fails (error, budget, time, memory) is counted by class and
 * reported, then follows its on_error: "alert" and "enforce" call cb (the
 * violation carries the error: vg_engine_check_error), "ignore" does not. A
 * check stopped by vg_lua_interrupt() decides nothing. by says which name of
 * the exec the policy's process-name criterion matched (comm without one).
 * Returns the number of violations.
 */
typedef void (*vg_violation_cb)(void *ctx, struct vg_event *ev, int pol,
				const struct vg_policy_info *p, const struct vg_match_by *by);
int vg_engine_eval(struct vg_engine *e, struct vg_event *ev, vg_violation_cb cb, void *ctx);
/*
 * The same, leaving out the policies with skip[pol] (vg_engine_count entries):
 * an exec evaluated again once its content names are known, for the policies
 * it did not violate the first time.
 */
int vg_engine_eval_except(struct vg_engine *e, struct vg_event *ev, const bool *skip,
			  vg_violation_cb cb, void *ctx);
/*
 * Whether the kernel decided this violation of pol by ev: it killed the exec,
 * or the policy rests on a fact about the executable (fileless, not in the
 * image) that the kernel decided. The alert's decidedIn.
 */
bool vg_engine_decided_in_kernel(const struct vg_engine *e, int pol, const struct vg_event *ev);
/* Whether pol rests on the process baseline (unexpected_process): its alert names the path. */
bool vg_engine_uses_baseline(const struct vg_engine *e, int pol);
/* Whether an enabled policy looks at host processes too (its scope says so). */
bool vg_engine_any_host(const struct vg_engine *e);

/*
 * The error of the policy's check() in the last vg_engine_eval (the violation
 * is an evaluation error), or NULL when its check held or it has none.
 */
const char *vg_engine_check_error(const struct vg_engine *e, int pol);

/*
 * Whether some enabled policy's positive process-name criterion matches this
 * whole lowercased name (a literal or a regex value), or it names a dynamic
 * loader or a multi-call binary (whose copies are known by their argv): the
 * content-identity scan hashes only the files so named. Safe from a worker thread; a reload
 * frees the engine, so the caller holds the one it asks.
 */
bool vg_engine_name_wanted(const struct vg_engine *e, const char *lcname);

/* Enables or disables a policy: the fast path follows at once. */
void vg_engine_enable(struct vg_engine *e, int pol, bool on);

/*
 * Kernel filter programming: exact names (lowercased) or "send all". A section
 * that needs exe_fileless or exe_not_in_image to be true does not make it send
 * all: those execs come by vg_engine_kernel_exe_policy's send bits, which the
 * owner programs along with the names.
 */
bool vg_engine_kernel_all(const struct vg_engine *e);
int vg_engine_kernel_names(const struct vg_engine *e, const char ***names);

/* The policy's enforcement now (settings override the file's). */
void vg_engine_set_enforcement(struct vg_engine *e, int pol, enum vg_enforce_mode mode);
/*
 * Whether the kernel can enforce the policy alone at exec: exact names only,
 * no check, no exclusions or scope filters (containers only, or the host too).
 */
bool vg_engine_kernel_decidable(const struct vg_engine *e, int pol);
/*
 * The kernel filter with its kill actions: the exact names, and for each the
 * VG_ACT_KILL (| VG_ACT_KILL_HOST) of enabled, enforcing, kernel-decidable
 * policies naming it. *actions is owned by the engine. Returns the count.
 */
int vg_engine_kernel_program(struct vg_engine *e, const char ***names, const uint32_t **actions);
/*
 * After vg_engine_kernel_program: the (name index, euid) pairs behind the
 * VG_ACT_KILL_UID actions. Owned by the engine. Returns their number.
 */
int vg_engine_kernel_kill_uids(const struct vg_engine *e, const int **name_idx,
			       const uint32_t **uids);

/*
 * What the kernel does with execs by where their executable lives: enum
 * vg_exe_policy bits. VG_EXE_SEND_FILELESS when an enabled policy needs
 * exe_fileless = true in a section; VG_EXE_KILL_FILELESS when such a policy
 * enforces (kill_process or kill_pod) and the kernel can decide it alone
 * (vg_engine_kernel_decidable: every section exactly exe_fileless = true, no
 * check, exclusions or scope filters), | VG_EXE_KILL_FILELESS_HOST when its
 * scope takes the host in. VG_EXE_SEND_DRIFT / VG_EXE_KILL_DRIFT likewise for
 * exe_not_in_image = true (containers only: never the host).
 */
uint32_t vg_engine_kernel_exe_policy(const struct vg_engine *e);

/*
 * Whether the kernel may kill what a locked process baseline does not hold:
 * an enabled policy enforces (kill_process or kill_pod) on exactly
 * unexpected_process = true in every section, with no check, exclusions or
 * scope filters (the kernel's copy of the baseline decides it alone).
 */
bool vg_engine_kernel_baselines(const struct vg_engine *e);

/*
 * The known_hashes of the enabled policies: n (name, SHA-256) pairs, names
 * lowercased, a name once per hash. Both arrays are the engine's, valid until
 * the next call or vg_engine_free. Returns n.
 */
int vg_engine_known_hashes(const struct vg_engine *e, const char ***names,
			   const uint8_t (**sha)[32]);

void vg_engine_stats(const struct vg_engine *e, struct vg_engine_stats *st);

/*
 * The per-violation flow (lua/flow.lua, or the policy's on_violation) calls
 * the `vigil` table: vigil.log, the engine's, and the owner's bindings. Each
 * binding is a Lua C function made a closure over its ctx for this one
 * violation; it reads it with vg_flow_ctx(L).
 */
struct lua_State;
struct vg_flow_binding {
	const char *name;		/* vigil.<name> */
	int (*fn)(struct lua_State *L); /* a lua_CFunction */
	void *ctx;
};

/*
 * Runs the flow for one violation with the policy's current enforcement
 * (vg_engine_set_enforcement) and `vigil` made of the n bindings and log.
 * Returns 0 when it ran, else the call's -errno (enum vg_lua_rc) with err set
 * and the policy's flow_errors counted: the owner then stores the violation
 * unless the flow already did (fail closed).
 */
int vg_engine_run_flow(struct vg_engine *e, struct vg_event *ev, int pol,
		       const struct vg_flow_binding *bindings, int n, char *err, size_t errlen);

/*
 * Inside a binding: the ctx it closes over. Raises a Lua error when the
 * binding is called after its flow returned (a policy that kept `vigil`).
 */
void *vg_flow_ctx(struct lua_State *L);

/*
 * Why the violation of pol in the last vg_engine_eval must not be enforced:
 * its check() failed (the error) and its on_error is not "enforce". NULL when
 * it may be enforced. vigil.enforce() records the skip instead of acting.
 */
const char *vg_engine_enforce_veto(const struct vg_engine *e, int pol);

/*
 * Runs the `tests` of every policy (or those whose name contains filter, in any case):
 * each test event through the same fast path, scope, exclusions and check,
 * for that policy alone. Prints a line per failure and a summary to out.
 * Returns the number of failed tests.
 */
int vg_engine_run_tests(struct vg_engine *e, const char *filter, FILE *out, int *ntests);

#endif
