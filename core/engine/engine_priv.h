/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * engine_priv.h - what the engine's files share (load.c, compile.c, eval.c,
 * tests.c, flow.c): the engine and its policies as built. Not for outside
 * core/engine/: engine.h is the interface.
 */
#ifndef VG_ENGINE_PRIV_H
#define VG_ENGINE_PRIV_H

#include <jansson.h>
#include <lua.h>

#include "engine.h"
#include "lua_host.h"

#define LOAD_BUDGET 10000000L /* instructions to run one policy file */
#define CTR_CACHE   4096      /* container status by cgroup path hash: 1,024 sets of 4 */
#define CTR_WAYS    4
#define CTR_KEY	    256 /* cgroup paths up to this long are cached (compared whole) */

/* An exclusion, or a policy's scope: every key it names must match. */
struct excl {
	struct vg_regex *ns, *deploy, *pod;
	char **labels; /* key, value, ... */
	int nlabels;
};

enum on_err { ON_ERR_ALERT, ON_ERR_IGNORE, ON_ERR_ENFORCE };

#define KEY_PATH_MAX 4

/* A key of the policy table, for messages: field names, or (name "") list indexes. */
struct key_path {
	int n;
	int index[KEY_PATH_MAX];
	char name[KEY_PATH_MAX][64];
};

struct pol {
	struct vg_policy_info info;
	struct vg_lua *lua; /* the policy's own state: its file, check, on_violation, tests */
	enum on_err on_err;
	uint64_t err_seq; /* the evaluation whose check() failed with check_err */
	char check_err[512];
	char **strs; /* every string info points to, for freeing */
	int nstrs;
	const char **cats, **nots;
	int table_ref, check_ref;
	struct excl *excl, scope;
	int nexcl;
	bool has_scope;
	bool nomem;	     /* a copy into strs failed while compiling */
	struct key_path bad; /* the key a compile error is about (n = 0: not known) */
	char **kh_names;     /* known_hashes: lowercased names, one per hash */
	uint8_t (*kh_sha)[32];
	int nkh;
	json_t *def; /* info.definition */
};

struct ctr_slot {
	uint64_t key;
	uint16_t len;
	bool in_ctr;
	char bytes[CTR_KEY];
};

struct vg_engine {
	struct vg_lua_pool pool; /* every policy's state draws on it */
	size_t pol_mem;		 /* each policy's own cap */
	long time_ms;
	struct vg_matcher *m;
	struct pol *pol;
	int npol;
	bool *want_ctr, *want_host; /* enabled policies; enabled and host-scoped */
	bool *want_tmp;		    /* vg_engine_eval_except's: the above minus the skipped */
	bool any_host;
	long budget;
	vg_lineage_fn lineage_fn;
	void *lineage_ctx;
	struct vg_engine_stats st;
	struct ctr_slot ctr[CTR_CACHE];
	uint8_t ctr_next[CTR_CACHE / CTR_WAYS]; /* each set's next way to replace */
	/* the event being evaluated, for the matcher's callback */
	struct vg_event *cur;
	vg_violation_cb cb;
	void *cb_ctx;
	int nviol;
	bool testing;
	bool builtin_pass;  /* loading the default pack after a directory: same ids are replaced */
	uint64_t eval_seq;  /* evaluations so far: which check errors are current */
	uint32_t *kactions; /* vg_engine_kernel_program's answer */
	int *kuid_name, nkuid;
	uint32_t *kuid;
	const char **kh_names; /* vg_engine_known_hashes' answer */
	uint8_t (*kh_sha)[32];
};

/* compile.c: a copy of s (NULL: "") kept with the policy, or NULL (p->nomem set). */
char *engine_save(struct pol *p, const char *s);
/* compile.c: the list of strings at t[key] (a Lua array), NULL-terminated; the
 * caller frees the array, the strings stay the table's. */
const char **engine_string_list(lua_State *L, int t, const char *key, int *n);
void engine_excl_free(struct excl *x);
/*
 * compile.c: compiles the normalised policy table on top of the stack (popped
 * when it compiled) into policy pi and the matcher. 0 or -errno with err.
 */
int engine_compile_policy(struct vg_engine *e, int pi, const char *file, char *err, size_t n);

/* exe_facts.c: t.known_hashes (checked by the DSL) into p. 0 or -errno with err. */
int engine_compile_known_hashes(struct pol *p, lua_State *L, int t, char *err, size_t n);
void engine_known_hashes_free(struct pol *p);
/* exe_facts.c: room for every policy's known_hashes in the engine's answer. 0 or -ENOMEM. */
int engine_known_hashes_room(struct vg_engine *e);
/* exe_facts.c: every section of policy pi is exactly exe_fileless or exe_not_in_image = true. */
bool engine_exe_fact_only(const struct vg_engine *e, int pi);

/*
 * definition.c: p's definition (info.definition) from its compiled table, the
 * check's source read from buf (the policy file). 0 or -ENOMEM.
 */
int engine_definition_build(struct pol *p, lua_State *L, const char *buf, size_t len);

/* eval.c: evaluates ev for the policies want names (tests.c runs them one by one). */
int engine_eval_with(struct vg_engine *e, struct vg_event *ev, const bool *want, vg_violation_cb cb,
		     void *ctx);

/* flow.c: loads lua/flow.lua into a policy's state. */
int engine_flow_load(struct vg_lua *h, char *err, size_t n);

#endif
