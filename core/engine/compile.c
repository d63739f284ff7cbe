// SPDX-License-Identifier: BSD-2-Clause
/*
 * compile.c - a policy's normalised table (what lua/policy.lua made of the
 * file) compiled: its description copied out of Lua, its scope and exclusions
 * into regexes, its match sections into the fast path (match.h); and the
 * kernel filter the compiled policies allow.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "engine_priv.h"
#include "log.h"

#define MAX_VALUES 256 /* values of one criterion the fast path takes */

char *engine_save(struct pol *p, const char *s)
{
	char **n = realloc(p->strs, (size_t)(p->nstrs + 1) * sizeof(char *));
	char *copy;

	if (!s)
		s = "";
	copy = n ? strdup(s) : NULL;
	if (n)
		p->strs = n;
	if (!copy) {
		p->nomem = true;
		return NULL;
	}
	p->strs[p->nstrs++] = copy;
	return copy;
}

void engine_excl_free(struct excl *x)
{
	vg_regex_free(x->ns);
	vg_regex_free(x->deploy);
	vg_regex_free(x->pod);
	for (int i = 0; i < x->nlabels; i++)
		free(x->labels[i]);
	free(x->labels);
}

const char **engine_string_list(lua_State *L, int t, const char *key, int *n)
{
	const char **out;
	int len = 0;

	lua_getfield(L, t, key);
	if (lua_istable(L, -1))
		len = (int)lua_rawlen(L, -1);
	out = calloc((size_t)len + 1, sizeof(char *));
	for (int i = 0; out && i < len; i++) {
		lua_rawgeti(L, -1, i + 1);
		/* strings only (anchored by the table); anything else reads as "" */
		out[i] = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "";
		lua_pop(L, 1);
	}
	lua_pop(L, 1);
	*n = len;
	return out;
}

/* One more step of a key path (name NULL: the list index); a path too deep keeps its head. */
static void key_push(struct key_path *k, const char *name, int index)
{
	if (k->n == KEY_PATH_MAX)
		return;
	(void)snprintf(k->name[k->n], sizeof(k->name[k->n]), "%s", name ? name : "");
	k->index[k->n++] = index; /* a long name is cut: its line is not found, the parent's is */
}

/* The key path the DSL left at the top of the stack (popped), e.g. {"match", 2, "exe_path"}. */
static void key_from_lua(struct key_path *k, lua_State *L)
{
	int n = lua_istable(L, -1) ? (int)lua_rawlen(L, -1) : 0;

	for (int i = 1; i <= n; i++) {
		if (lua_rawgeti(L, -1, i) == LUA_TSTRING)
			key_push(k, lua_tostring(L, -1), 0);
		else
			key_push(k, NULL, (int)lua_tointeger(L, -1));
		lua_pop(L, 1);
	}
	lua_pop(L, 1);
}

/* t[key], a list of regexes, as one whole-string alternation into *dst (none: NULL). */
static int compile_alternation(lua_State *L, int t, const char *key, struct vg_regex **dst,
			       char *err, size_t n)
{
	int cnt;
	const char **v = engine_string_list(L, t, key, &cnt);
	size_t len = 1;
	char *alt, *p;

	if (!cnt) {
		free(v);
		return 0;
	}
	for (int i = 0; v && i < cnt; i++)
		len += strlen(v[i]) + 5;
	alt = v ? malloc(len) : NULL;
	p = alt;
	for (int i = 0; alt && i < cnt; i++)
		p += sprintf(p, "%s(?:%s)", i ? "|" : "", v[i]);
	free(v);
	if (!alt)
		return vg_errf(err, n, -ENOMEM, "out of memory");
	*dst = vg_regex_new(alt, true, err, n);
	free(alt);
	if (!*dst)
		return -EINVAL;
	return 0;
}

/* t.labels, {key = value, ...}, into x->labels as key, value, ... */
static int compile_labels(lua_State *L, int t, struct excl *x, char *err, size_t n)
{
	int rc = 0;

	lua_getfield(L, t, "labels");
	if (lua_istable(L, -1)) {
		lua_pushnil(L);
		while (!rc && lua_next(L, -2)) {
			char **nl = realloc(x->labels, (size_t)(x->nlabels + 2) * sizeof(char *));

			if (nl) {
				x->labels = nl;
				x->labels[x->nlabels++] = strdup(lua_tostring(L, -2));
				x->labels[x->nlabels++] = strdup(lua_tostring(L, -1));
			}
			if (!nl || !x->labels[x->nlabels - 1] || !x->labels[x->nlabels - 2]) {
				rc = vg_errf(err, n, -ENOMEM, "out of memory");
				lua_pop(L, 1); /* the key too: the traversal stops */
			}
			lua_pop(L, 1);
		}
	}
	lua_pop(L, 1);
	return rc;
}

/* A scope or an exclusion, the table at t: namespaces, deployments, pods, labels; *bad
 * the key that failed. */
static int compile_scoping(lua_State *L, int t, struct excl *x, const char **bad, char *err,
			   size_t n)
{
	int rc = compile_alternation(L, t, *bad = "namespace", &x->ns, err, n);

	if (!rc)
		rc = compile_alternation(L, t, *bad = "deployment", &x->deploy, err, n);
	if (!rc)
		rc = compile_alternation(L, t, *bad = "pod", &x->pod, err, n);
	if (!rc)
		rc = compile_labels(L, t, x, err, n);
	return rc;
}

static enum vg_crit_kind crit_kind(const char *c)
{
	static const char *const names[VG_CRIT_MAX] = {
		[VG_CRIT_NAME] = "process_name",     [VG_CRIT_EXE_NAME] = "exe_name",
		[VG_CRIT_ARGS] = "process_args",     [VG_CRIT_ANCESTOR] = "process_ancestor",
		[VG_CRIT_EXE_PATH] = "exe_path",     [VG_CRIT_UID] = "process_uid",
		[VG_CRIT_PRIVILEGED] = "privileged", [VG_CRIT_UNEXPECTED] = "unexpected_process",
		[VG_CRIT_FILELESS] = "exe_fileless", [VG_CRIT_NOT_IN_IMAGE] = "exe_not_in_image",
	};

	for (int i = 0; c && i < VG_CRIT_MAX; i++)
		if (!strcmp(names[i], c))
			return (enum vg_crit_kind)i;
	return VG_CRIT_MAX;
}

/* t[key], a list of strings, copied into the policy's storage: NULL-terminated, or NULL
 * when out of memory. */
static const char **saved_list(struct pol *p, lua_State *L, int t, const char *key)
{
	int cnt;
	const char **src = engine_string_list(L, t, key, &cnt);
	const char **out = calloc((size_t)cnt + 1, sizeof(char *));

	if (!src || !out) {
		p->nomem = true;
		free(src);
		free(out);
		return NULL;
	}
	for (int i = 0; i < cnt; i++)
		out[i] = engine_save(p, src[i]);
	free(src);
	return out;
}

/* t[key] copied into the policy's storage when it is a string, else dflt. */
static const char *saved_string(struct pol *p, lua_State *L, int t, const char *key,
				const char *dflt)
{
	const char *s = dflt;

	lua_getfield(L, t, key);
	if (lua_isstring(L, -1))
		s = engine_save(p, lua_tostring(L, -1));
	lua_pop(L, 1);
	return s;
}

static enum on_err on_error_of(const char *s)
{
	if (!strcmp(s, "ignore"))
		return ON_ERR_IGNORE;
	if (!strcmp(s, "enforce"))
		return ON_ERR_ENFORCE;
	return ON_ERR_ALERT;
}

/* What the policy says about itself: names, texts, state, categories, notifiers. */
static int compile_info(struct pol *p, lua_State *L, int t, const char *file)
{
	static const struct {
		const char *key;
		size_t off;
	} strs[] = {
		{"name", offsetof(struct vg_policy_info, name)},
		{"severity", offsetof(struct vg_policy_info, severity)},
		{"enforcement", offsetof(struct vg_policy_info, enforcement)},
		{"description", offsetof(struct vg_policy_info, description)},
		{"rationale", offsetof(struct vg_policy_info, rationale)},
		{"remediation", offsetof(struct vg_policy_info, remediation)},
	};
	struct vg_policy_info *info = &p->info;

	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
		lua_getfield(L, t, strs[i].key);
		*(const char **)((char *)info + strs[i].off) = engine_save(p, lua_tostring(L, -1));
		lua_pop(L, 1);
	}
	/* policy.lua allows only the known modes, so this cannot fail */
	(void)vg_enforce_mode_parse(info->enforcement, &info->mode);
	info->id = saved_string(p, L, t, "id", info->name);
	info->waits_for = saved_string(p, L, t, "waits_for", NULL);
	info->file = engine_save(p, file);
	/* checked by the DSL: alert, ignore or enforce */
	info->on_error = saved_string(p, L, t, "on_error", "alert");
	if (p->nomem)
		return -ENOMEM;
	p->on_err = on_error_of(info->on_error);
	lua_getfield(L, t, "enabled");
	info->enabled = lua_toboolean(L, -1);
	lua_pop(L, 1);
	p->cats = saved_list(p, L, t, "categories");
	info->categories = p->cats;
	lua_getfield(L, t, "notifiers");
	if (lua_istable(L, -1)) /* absent: the defaults; {} is a list too (notify no one) */
		info->notifiers = p->nots = saved_list(p, L, t, "notifiers");
	lua_pop(L, 1);
	return p->nomem ? -ENOMEM : 0;
}

/* t.scope (host, and the Kubernetes keys) and t.exclude, a list of the same shape. */
static int compile_scope(struct pol *p, lua_State *L, int t, char *err, size_t n)
{
	const char *bad = NULL;
	int rc;

	lua_getfield(L, t, "scope");
	lua_getfield(L, -1, "host");
	p->info.host = lua_toboolean(L, -1);
	lua_pop(L, 1);
	rc = compile_scoping(L, lua_gettop(L), &p->scope, &bad, err, n);
	if (rc) {
		key_push(&p->bad, "scope", 0);
		key_push(&p->bad, bad, 0);
	}
	p->has_scope = p->scope.ns || p->scope.deploy || p->scope.pod || p->scope.nlabels;
	lua_pop(L, 1);
	if (rc)
		return rc;
	lua_getfield(L, t, "exclude");
	p->nexcl = (int)lua_rawlen(L, -1);
	p->excl = calloc((size_t)p->nexcl + 1, sizeof(*p->excl));
	if (!p->excl) {
		p->nexcl = 0;
		rc = vg_errf(err, n, -ENOMEM, "out of memory");
	}
	for (int i = 0; i < p->nexcl && !rc; i++) {
		lua_rawgeti(L, -1, i + 1);
		rc = compile_scoping(L, lua_gettop(L), &p->excl[i], &bad, err, n);
		lua_pop(L, 1);
		if (rc) {
			key_push(&p->bad, "exclude", 0);
			key_push(&p->bad, NULL, i + 1);
			key_push(&p->bad, bad, 0);
		}
	}
	lua_pop(L, 1);
	return rc;
}

/*
 * The criterion table on top of the stack (left there) into the section being
 * built: its values as strings (booleans and integers spelled out).
 */
static int compile_criterion(struct vg_engine *e, struct pol *p, lua_State *L, int sec, char *err,
			     size_t n)
{
	const char *vals[MAX_VALUES];
	char nums[MAX_VALUES][24];
	char why[512];
	enum vg_crit_kind kind;
	bool neg;
	int nv, rc;

	lua_getfield(L, -1, "criterion");
	kind = crit_kind(lua_tostring(L, -1));
	lua_pop(L, 1);
	lua_getfield(L, -1, "negate");
	neg = lua_toboolean(L, -1);
	lua_pop(L, 1);
	lua_getfield(L, -1, "values");
	nv = (int)lua_rawlen(L, -1);
	if (nv > MAX_VALUES) { /* the DSL refuses these first: never cut silently */
		lua_pop(L, 1);
		return vg_errf(err, n, -E2BIG,
			       "match section %d: a criterion has %d values: at most %d", sec + 1,
			       nv, MAX_VALUES);
	}
	for (int v = 0; v < nv; v++) {
		lua_rawgeti(L, -1, v + 1);
		if (lua_type(L, -1) == LUA_TBOOLEAN) {
			vals[v] = lua_toboolean(L, -1) ? "true" : "false";
		} else if (lua_type(L, -1) == LUA_TNUMBER) {
			snprintf(nums[v], sizeof(nums[v]), "%lld", (long long)lua_tointeger(L, -1));
			vals[v] = nums[v];
		} else {
			vals[v] = lua_tostring(L, -1); /* anchored by the values table */
		}
		lua_pop(L, 1);
	}
	if (kind == VG_CRIT_MAX) {
		lua_pop(L, 1);
		return vg_errf(err, n, -EINVAL, "internal: unknown criterion");
	}
	rc = vg_matcher_criterion(e->m, kind, neg, vals, nv, why, sizeof(why));
	lua_pop(L, 1);
	if (!rc)
		return 0;
	(void)lua_getfield(L, -1, "at"); /* set by the DSL */
	key_from_lua(&p->bad, L);
	return vg_errf(err, n, rc, "match section %d: %s", sec + 1, why);
}

/* t.sections, each a list of criteria (ANDed), into the fast path for policy pi. */
static int compile_sections(struct vg_engine *e, int pi, lua_State *L, int t, char *err, size_t n)
{
	int nsec, rc = 0;

	lua_getfield(L, t, "sections");
	nsec = (int)lua_rawlen(L, -1);
	e->pol[pi].info.nsections = nsec;
	for (int s = 0; s < nsec && !rc; s++) {
		int ncrit;

		lua_rawgeti(L, -1, s + 1);
		rc = vg_matcher_section(e->m, pi, vg_matcher_sections(e->m));
		if (rc)
			rc = vg_errf(err, n, rc, "internal: cannot start match section %d", s + 1);
		ncrit = (int)lua_rawlen(L, -1);
		for (int c = 0; c < ncrit && !rc; c++) {
			lua_rawgeti(L, -1, c + 1);
			rc = compile_criterion(e, &e->pol[pi], L, s, err, n);
			lua_pop(L, 1);
		}
		lua_pop(L, 1);
	}
	lua_pop(L, 1);
	return rc;
}

int engine_compile_policy(struct vg_engine *e, int pi, const char *file, char *err, size_t n)
{
	struct pol *p = &e->pol[pi];
	struct vg_lua *h = p->lua;
	lua_State *L = vg_lua_state(h);
	int t = lua_gettop(L), rc;

	memset(p, 0, sizeof(*p));
	p->lua = h;
	rc = compile_info(p, L, t, file);
	if (rc)
		return vg_errf(err, n, rc, "out of memory");
	rc = compile_scope(p, L, t, err, n);
	if (rc)
		return rc;
	lua_getfield(L, t, "check");
	p->info.has_check = lua_isfunction(L, -1);
	p->check_ref = LUA_NOREF;
	if (p->info.has_check)
		p->check_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	else
		lua_pop(L, 1);
	rc = compile_sections(e, pi, L, t, err, n);
	if (!rc)
		rc = engine_compile_known_hashes(p, L, t, err, n);
	if (rc)
		return rc;
	p->table_ref = luaL_ref(L, LUA_REGISTRYINDEX); /* pops the policy table */
	return 0;
}

/* -------------------------------------------------------------------------- */
/* the kernel filter                                                           */

bool vg_engine_kernel_all(const struct vg_engine *e)
{
	return vg_matcher_needs_all(e->m, e->want_ctr);
}

int vg_engine_kernel_names(const struct vg_engine *e, const char ***names)
{
	return vg_matcher_exact_names(e->m, e->want_ctr, names);
}

bool vg_engine_kernel_decidable(const struct vg_engine *e, int pi)
{
	const struct pol *p = &e->pol[pi];

	return !p->info.broken && !p->info.has_check && !p->nexcl && !p->has_scope &&
	       (vg_matcher_kernel_shaped(e->m, pi) || engine_exe_fact_only(e, pi));
}

/* Records that the kernel kills name k for euid uid. */
static int push_kill_uid(struct vg_engine *e, int k, uint32_t uid)
{
	int *ni = realloc(e->kuid_name, (size_t)(e->nkuid + 1) * sizeof(int));
	uint32_t *nv;

	if (!ni)
		return -ENOMEM;
	e->kuid_name = ni;
	nv = realloc(e->kuid, (size_t)(e->nkuid + 1) * sizeof(uint32_t));
	if (!nv)
		return -ENOMEM;
	e->kuid = nv;
	e->kuid_name[e->nkuid] = k;
	e->kuid[e->nkuid++] = uid;
	return 0;
}

/*
 * The uids policy pi kills name at (its sections together may name more than one
 * criterion holds): into buf, or a larger array the caller frees. Out of memory, the
 * first MAX_VALUES: the kernel kills those, the engine decides the others in user space.
 */
static int kill_uids(struct vg_engine *e, int pi, const char *name, uint32_t *buf, uint32_t **uids,
		     bool *always)
{
	int nu = vg_matcher_kill_uids(e->m, pi, name, buf, MAX_VALUES, always);

	*uids = buf;
	if (nu <= MAX_VALUES)
		return nu;
	*uids = malloc((size_t)nu * sizeof(**uids));
	if (!*uids) {
		*uids = buf;
		return MAX_VALUES;
	}
	return vg_matcher_kill_uids(e->m, pi, name, *uids, nu, always);
}

/* The kill actions of name k (lowercased) over every policy the kernel can decide alone. */
static uint32_t kernel_actions(struct vg_engine *e, int k, const char *name)
{
	uint32_t act = 0;

	for (int i = 0; i < e->npol; i++) {
		const struct pol *p = &e->pol[i];
		uint32_t buf[MAX_VALUES], *uids;
		bool always;
		int nu;

		if (!p->info.enabled || p->info.mode == VG_ENFORCE_INFORM ||
		    !vg_engine_kernel_decidable(e, i) || !vg_matcher_policy_has_name(e->m, i, name))
			continue;
		nu = kill_uids(e, i, name, buf, &uids, &always);
		if (always)
			act |= VG_ACT_KILL;
		if (nu)
			act |= VG_ACT_KILL_UID;
		if (p->info.host)
			act |= VG_ACT_KILL_HOST;
		for (int u = 0; u < nu; u++)
			if (push_kill_uid(e, k, uids[u]))
				break; /* out of memory: the uid is not killed by the kernel, the
					  engine still decides it in user space */
		if (uids != buf)
			free(uids);
	}
	return act;
}

int vg_engine_kernel_program(struct vg_engine *e, const char ***names, const uint32_t **actions)
{
	int n = vg_engine_kernel_names(e, names);
	uint32_t *a = realloc(e->kactions, ((size_t)n + 1) * sizeof(*a));

	if (!a) {
		*actions = NULL;
		return n;
	}
	e->kactions = a;
	e->nkuid = 0;
	for (int k = 0; k < n; k++)
		a[k] = kernel_actions(e, k, (*names)[k]);
	*actions = a;
	return n;
}

int vg_engine_kernel_kill_uids(const struct vg_engine *e, const int **name_idx,
			       const uint32_t **uids)
{
	*name_idx = e->kuid_name;
	*uids = e->kuid;
	return e->nkuid;
}
