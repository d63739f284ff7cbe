// SPDX-License-Identifier: BSD-2-Clause
#include <dirent.h>
#include <stdarg.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lauxlib.h>

#include "embed.h"
#include "engine.h"
#include "log.h"
#include "lua_event.h"
#include "lua_host.h"
#include "record.h"

#define LOAD_BUDGET 10000000L /* instructions to run one policy file */
#define CTR_CACHE   4096      /* container status by cgroup path hash, direct mapped */

struct excl {
	struct vg_regex *ns, *deploy, *pod;
	char **labels; /* key, value, ... */
	int nlabels;
};

enum on_err { ON_ERR_ALERT, ON_ERR_IGNORE, ON_ERR_ENFORCE };

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
};

#define CTR_KEY 256 /* cgroup paths up to this long are cached (compared whole) */

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
	bool any_host;
	long budget;
	vg_lineage_fn lineage_fn;
	void *lineage_ctx;
	struct vg_engine_stats st;
	struct ctr_slot ctr[CTR_CACHE];
	/* the event being evaluated, for the matcher's callback */
	struct vg_event *cur;
	vg_violation_cb cb;
	void *cb_ctx;
	int nviol;
	bool testing;
	uint64_t eval_seq;  /* evaluations so far: which check errors are current */
	uint32_t *kactions; /* vg_engine_kernel_program's answer */
	int *kuid_name, nkuid;
	uint32_t *kuid;
	/* the violation the flow is running for */
	const struct vg_flow_ops *ops;
	void *ops_ctx;
	int flow_pol;
	bool flow_stored;
	const char *flow_err; /* the violation's check() error, or NULL */
};

static char *save(struct pol *p, const char *s)
{
	char **n = realloc(p->strs, (size_t)(p->nstrs + 1) * sizeof(char *));

	if (!n)
		return NULL;
	p->strs = n;
	return p->strs[p->nstrs++] = strdup(s ? s : "");
}

static void add_error(struct vg_load_error **errs, int *n, const char *file, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void add_error(struct vg_load_error **errs, int *n, const char *file, const char *fmt, ...)
{
	struct vg_load_error *e = realloc(*errs, (size_t)(*n + 1) * sizeof(**errs));
	char buf[1024];
	va_list ap;

	if (!e)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	e[*n].file = strdup(file);
	e[*n].msg = strdup(buf);
	*errs = e;
	(*n)++;
}

void vg_load_errors_free(struct vg_load_error *errs, int n)
{
	for (int i = 0; i < n; i++) {
		free(errs[i].file);
		free(errs[i].msg);
	}
	free(errs);
}

static void excl_free(struct excl *x)
{
	vg_regex_free(x->ns);
	vg_regex_free(x->deploy);
	vg_regex_free(x->pod);
	for (int i = 0; i < x->nlabels; i++)
		free(x->labels[i]);
	free(x->labels);
}

void vg_engine_free(struct vg_engine *e)
{
	if (!e)
		return;
	for (int i = 0; i < e->npol; i++) {
		struct pol *p = &e->pol[i];

		for (int k = 0; k < p->nstrs; k++)
			free(p->strs[k]);
		free(p->strs);
		free(p->cats);
		free(p->nots);
		for (int k = 0; k < p->nexcl; k++)
			excl_free(&p->excl[k]);
		free(p->excl);
		excl_free(&p->scope);
		vg_lua_free(p->lua);
	}
	free(e->pol);
	free(e->want_ctr);
	free(e->want_host);
	free(e->kactions);
	free(e->kuid_name);
	free(e->kuid);
	vg_matcher_free(e->m);
	free(e);
}

/* -------------------------------------------------------------------------- */
/* loading                                                                     */

/* __where(): "chunk:line" of the policy file's `policy {` call, for messages */
static int l_where(lua_State *L)
{
	lua_Debug ar;

	if (lua_getstack(L, (int)luaL_optinteger(L, 1, 2), &ar) && lua_getinfo(L, "Sl", &ar))
		lua_pushfstring(L, "%s:%d", ar.short_src, ar.currentline);
	else
		lua_pushliteral(L, "?");
	return 1;
}

/* The list of strings at t[key] (a Lua array), NULL-terminated; caller frees the array. */
static const char **string_list(lua_State *L, int t, const char *key, int *n)
{
	const char **out;
	int len;

	lua_getfield(L, t, key);
	len = lua_istable(L, -1) ? (int)lua_rawlen(L, -1) : 0;
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

static int compile_scoping(lua_State *L, int t, struct excl *x, char *err, size_t n)
{
	static const char *const keys[] = {"namespace", "deployment", "pod"};
	struct vg_regex **dst[] = {&x->ns, &x->deploy, &x->pod};

	for (int k = 0; k < 3; k++) {
		int cnt;
		const char **v = string_list(L, t, keys[k], &cnt);
		size_t len = 1;
		char *alt, *p;

		for (int i = 0; v && i < cnt; i++)
			len += strlen(v[i]) + 5;
		alt = p = cnt && v ? malloc(len) : NULL;
		for (int i = 0; alt && i < cnt; i++)
			p += sprintf(p, "%s(?:%s)", i ? "|" : "", v[i]);
		free(v);
		if (!cnt)
			continue;
		if (!alt)
			return snprintf(err, n, "out of memory"), -ENOMEM;
		*dst[k] = vg_regex_new(alt, true, err, n);
		free(alt);
		if (!*dst[k])
			return -EINVAL;
	}
	lua_getfield(L, t, "labels");
	if (lua_istable(L, -1)) {
		lua_pushnil(L);
		while (lua_next(L, -2)) {
			char **nl = realloc(x->labels, (size_t)(x->nlabels + 2) * sizeof(char *));

			if (!nl) {
				lua_pop(L, 3);
				return -ENOMEM;
			}
			x->labels = nl;
			x->labels[x->nlabels++] = strdup(lua_tostring(L, -2));
			x->labels[x->nlabels++] = strdup(lua_tostring(L, -1));
			lua_pop(L, 1);
		}
	}
	lua_pop(L, 1);
	return 0;
}

static enum vg_crit_kind crit_kind(const char *c)
{
	static const char *const names[VG_CRIT_MAX] = {
		[VG_CRIT_NAME] = "process_name",     [VG_CRIT_EXE_NAME] = "exe_name",
		[VG_CRIT_ARGS] = "process_args",     [VG_CRIT_ANCESTOR] = "process_ancestor",
		[VG_CRIT_EXE_PATH] = "exe_path",     [VG_CRIT_UID] = "process_uid",
		[VG_CRIT_PRIVILEGED] = "privileged", [VG_CRIT_UNEXPECTED] = "unexpected_process",
	};

	for (int i = 0; i < VG_CRIT_MAX; i++)
		if (!strcmp(names[i], c))
			return (enum vg_crit_kind)i;
	return VG_CRIT_MAX;
}

/* t[key], a list of strings, copied into the policy's storage: NULL-terminated, or NULL
 * when out of memory. */
static const char **saved_list(struct pol *p, lua_State *L, int t, const char *key)
{
	int cnt;
	const char **src = string_list(L, t, key, &cnt);
	const char **out = calloc((size_t)cnt + 1, sizeof(char *));

	for (int i = 0; out && src && i < cnt; i++)
		out[i] = save(p, src[i]);
	free(src);
	return out;
}

/* Compiles the normalised policy table on top of the stack (left there). */
static int compile_policy(struct vg_engine *e, int pi, const char *file, char *err, size_t n)
{
	struct pol *p = &e->pol[pi];
	struct vg_lua *h = p->lua;
	lua_State *L = vg_lua_state(h);
	int t = lua_gettop(L), nsec, rc = 0;
	struct vg_policy_info *in = &p->info;
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

	memset(p, 0, sizeof(*p));
	p->lua = h;
	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
		lua_getfield(L, t, strs[i].key);
		*(const char **)((char *)in + strs[i].off) = save(p, lua_tostring(L, -1));
		lua_pop(L, 1);
	}
	(void)vg_enforce_mode_parse(in->enforcement, &in->mode); /* policy.lua allows only those */
	lua_getfield(L, t, "id");
	in->id = lua_isstring(L, -1) ? save(p, lua_tostring(L, -1)) : in->name;
	lua_pop(L, 1);
	lua_getfield(L, t, "waits_for");
	in->waits_for = lua_isstring(L, -1) ? save(p, lua_tostring(L, -1)) : NULL;
	lua_pop(L, 1);
	in->file = save(p, file);
	lua_getfield(L, t, "on_error"); /* checked by the DSL: alert, ignore or enforce */
	in->on_error = save(p, lua_isstring(L, -1) ? lua_tostring(L, -1) : "alert");
	p->on_err = !strcmp(in->on_error, "ignore")    ? ON_ERR_IGNORE
		    : !strcmp(in->on_error, "enforce") ? ON_ERR_ENFORCE
						       : ON_ERR_ALERT;
	lua_pop(L, 1);
	lua_getfield(L, t, "enabled");
	in->enabled = lua_toboolean(L, -1);
	lua_pop(L, 1);
	p->cats = saved_list(p, L, t, "categories");
	in->categories = p->cats;
	lua_getfield(L, t, "notifiers");
	if (lua_istable(L, -1)) /* absent: the defaults; {} is a list too (notify no one) */
		in->notifiers = p->nots = saved_list(p, L, t, "notifiers");
	lua_pop(L, 1);
	lua_getfield(L, t, "scope");
	lua_getfield(L, -1, "host");
	in->host = lua_toboolean(L, -1);
	lua_pop(L, 1);
	rc = compile_scoping(L, lua_gettop(L), &p->scope, err, n);
	p->has_scope = p->scope.ns || p->scope.deploy || p->scope.pod || p->scope.nlabels;
	lua_pop(L, 1);
	if (rc)
		return rc;

	lua_getfield(L, t, "exclude");
	p->nexcl = (int)lua_rawlen(L, -1);
	p->excl = calloc((size_t)p->nexcl + 1, sizeof(*p->excl));
	for (int i = 0; i < p->nexcl && !rc; i++) {
		lua_rawgeti(L, -1, i + 1);
		rc = compile_scoping(L, lua_gettop(L), &p->excl[i], err, n);
		lua_pop(L, 1);
	}
	lua_pop(L, 1);
	if (rc)
		return rc;

	lua_getfield(L, t, "check");
	in->has_check = lua_isfunction(L, -1);
	p->check_ref = in->has_check ? luaL_ref(L, LUA_REGISTRYINDEX) : LUA_NOREF;
	if (!in->has_check)
		lua_pop(L, 1);

	lua_getfield(L, t, "sections");
	nsec = (int)lua_rawlen(L, -1);
	in->nsections = nsec;
	for (int s = 0; s < nsec && !rc; s++) {
		int ncrit;

		lua_rawgeti(L, -1, s + 1);
		rc = vg_matcher_section(e->m, pi, vg_matcher_sections(e->m));
		ncrit = (int)lua_rawlen(L, -1);
		for (int c = 0; c < ncrit && !rc; c++) {
			const char *vals[256];
			char nums[256][24];
			int nv;
			enum vg_crit_kind kind;
			bool neg;

			lua_rawgeti(L, -1, c + 1);
			lua_getfield(L, -1, "criterion");
			kind = crit_kind(lua_tostring(L, -1));
			lua_pop(L, 1);
			lua_getfield(L, -1, "negate");
			neg = lua_toboolean(L, -1);
			lua_pop(L, 1);
			lua_getfield(L, -1, "values");
			nv = (int)lua_rawlen(L, -1);
			if (nv > 256)
				nv = 256;
			for (int v = 0; v < nv; v++) {
				lua_rawgeti(L, -1, v + 1);
				if (lua_type(L, -1) == LUA_TBOOLEAN) {
					vals[v] = lua_toboolean(L, -1) ? "true" : "false";
				} else if (lua_type(L, -1) == LUA_TNUMBER) {
					snprintf(nums[v], sizeof(nums[v]), "%lld",
						 (long long)lua_tointeger(L, -1));
					vals[v] = nums[v];
				} else {
					vals[v] = lua_tostring(L, -1);
				}
				lua_pop(L, 1);
			}
			if (kind == VG_CRIT_MAX) {
				snprintf(err, n, "internal: unknown criterion");
				rc = -EINVAL;
			} else {
				char e2[512];

				rc = vg_matcher_criterion(e->m, kind, neg, vals, nv, e2,
							  sizeof(e2));
				if (rc)
					snprintf(err, n, "match section %d: %s", s + 1, e2);
			}
			lua_pop(L, 2);
		}
		lua_pop(L, 1);
	}
	lua_pop(L, 1);
	if (rc)
		return rc;
	p->table_ref = luaL_ref(L, LUA_REGISTRYINDEX); /* pops the policy table */
	return 0;
}

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && n < (16 << 20) &&
	    fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)n + 1))) {
		if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
			free(buf);
			buf = NULL;
		} else {
			buf[n] = '\0';
			*len = (size_t)n;
		}
	} else if (!errno) {
		errno = EFBIG;
	}
	fclose(f);
	return buf;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The line of the first `policy {` (or `policy(`) in a source, for messages; 1 if none. */
static int policy_line(const char *buf, size_t len)
{
	int line = 1;

	for (size_t i = 0; i + 6 < len; i++) {
		if (buf[i] == '\n')
			line++;
		if (!strncmp(buf + i, "policy", 6) &&
		    (i == 0 || buf[i - 1] == ' ' || buf[i - 1] == '\n' || buf[i - 1] == '\t')) {
			size_t k = i + 6;

			while (k < len && (buf[k] == ' ' || buf[k] == '\t'))
				k++;
			if (k < len && (buf[k] == '{' || buf[k] == '('))
				return line;
		}
	}
	return 1;
}

static struct vg_lua *new_state(struct vg_engine *e, char *err, size_t n);

/* Loads one policy source into a state of its own; on success appends a policy. */
static void load_one(struct vg_engine *e, const char *file, const char *buf, size_t len,
		     struct vg_load_error **errs, int *nerr)
{
	char err[1024], chunk[512];
	struct vg_lua *h = new_state(e, err, sizeof(err));
	lua_State *L;
	struct pol *np;
	int rc, top;

	if (!h) {
		add_error(errs, nerr, file, "%s: %s", file, err);
		return;
	}
	L = vg_lua_state(h);
	top = lua_gettop(L);
	snprintf(chunk, sizeof(chunk), "@%s", file);
	rc = vg_lua_run_chunk(h, buf, len, chunk, 1, LOAD_BUDGET, err, sizeof(err));
	if (rc) {
		size_t fl = strlen(file);

		vg_lua_free(h);
		/* `return policy {...}` is a tail call: the DSL cannot see the file's line */
		if (strncmp(err, file, fl) || err[fl] != ':')
			add_error(errs, nerr, file, "%s:%d: %s", file, policy_line(buf, len), err);
		else
			add_error(errs, nerr, file, "%s", err);
		return;
	}
	/* only what policy{} made: its private metatable cannot be read or forged */
	lua_getfield(L, LUA_REGISTRYINDEX, "vigil.policy.mt");
	if (!lua_istable(L, -2) || !lua_getmetatable(L, -2) || !lua_rawequal(L, -1, -2)) {
		add_error(errs, nerr, file,
			  "%s: the file must end with 'return policy { ... }' (it returned a %s)",
			  file, luaL_typename(L, top + 1));
		vg_lua_free(h);
		return;
	}
	lua_pop(L, 2);
	lua_getfield(L, -1, "name");
	for (int i = 0; i < e->npol; i++) {
		if (!strcmp(e->pol[i].info.name, lua_tostring(L, -1))) {
			add_error(errs, nerr, file,
				  "%s: a policy named '%s' is already loaded from %s", file,
				  e->pol[i].info.name, e->pol[i].info.file);
			vg_lua_free(h);
			return;
		}
	}
	lua_pop(L, 1);
	np = realloc(e->pol, (size_t)(e->npol + 1) * sizeof(*np));
	if (!np) {
		add_error(errs, nerr, file, "out of memory");
		vg_lua_free(h);
		return;
	}
	e->pol = np;
	e->pol[e->npol].lua = h; /* the policy's from now on, freed with it */
	rc = compile_policy(e, e->npol, file, err, sizeof(err));
	if (rc) {
		/* the matcher may hold sections of this policy: the load fails whole */
		add_error(errs, nerr, file, "%s:%d: policy '%s': %s", file, policy_line(buf, len),
			  e->pol[e->npol].info.name ? e->pol[e->npol].info.name : "?", err);
		e->npol++; /* kept for freeing; never evaluated nor listed */
		e->pol[e->npol - 1].info.broken = true;
		e->pol[e->npol - 1].info.waits_for = "a policy that loads";
		lua_settop(L, top);
		return;
	}
	e->npol++;
	lua_settop(L, top);
	/* the DSL has done its work: its code need not stay in every policy's state */
	lua_pushnil(L);
	vg_lua_expose(h, "policy");
	lua_pushnil(L);
	vg_lua_expose(h, "__where");
	lua_gc(L, LUA_GCCOLLECT);
}

/* ---- the per-violation flow ------------------------------------------------- */

static struct vg_engine *flow_engine(lua_State *L)
{
	return lua_touserdata(L, lua_upvalueindex(1));
}

static int l_store(lua_State *L)
{
	struct vg_engine *e = flow_engine(L);
	bool ok = false;

	if (e->ops && e->ops->store && !e->flow_stored) {
		ok = e->ops->store(e->ops_ctx, e->cur, e->flow_pol);
		e->flow_stored = ok;
	}
	lua_pushboolean(L, ok);
	return 1;
}

/*
 * vigil.enforce(action). A violation whose check() failed is not a decision:
 * it is never enforced (the flow, or the policy's own on_violation, is told
 * false and the skip is recorded) unless the policy says on_error = "enforce".
 */
static int l_enforce(lua_State *L)
{
	struct vg_engine *e = flow_engine(L);
	const char *action = luaL_checkstring(L, 1);

	if (e->flow_err && e->pol[e->flow_pol].on_err != ON_ERR_ENFORCE) {
		if (e->ops && e->ops->enforce_skipped)
			e->ops->enforce_skipped(e->ops_ctx, e->cur, e->flow_pol, action,
						e->flow_err);
		lua_pushboolean(L, 0);
		return 1;
	}
	lua_pushboolean(L, e->ops && e->ops->enforce &&
				   e->ops->enforce(e->ops_ctx, e->cur, e->flow_pol, action));
	return 1;
}

static int l_notify(lua_State *L)
{
	struct vg_engine *e = flow_engine(L);

	lua_pushboolean(L, e->ops && e->ops->notify &&
				   e->ops->notify(e->ops_ctx, e->cur, e->flow_pol));
	return 1;
}

static int l_flow_log(lua_State *L)
{
	struct vg_engine *e = flow_engine(L);

	vg_info("policy '%s': %s", e->pol[e->flow_pol].info.name, luaL_checkstring(L, 1));
	return 0;
}

/* Loads lua/flow.lua into h, and the `vigil` bindings table (both left in its registry). */
static int load_flow(struct vg_engine *e, struct vg_lua *h, char *err, size_t n)
{
	const struct vg_embedded *f = vg_embedded_find("lua/flow.lua");
	lua_State *L = vg_lua_state(h);
	static const luaL_Reg fns[] = {
		{"store", l_store},  {"enforce", l_enforce}, {"notify", l_notify},
		{"log", l_flow_log}, {NULL, NULL},
	};

	if (!f)
		return snprintf(err, n, "internal: lua/flow.lua is not embedded"), -ENOENT;
	if (vg_lua_run_chunk(h, f->data, f->len, "@lua/flow.lua", 1, LOAD_BUDGET, err, n))
		return -EINVAL;
	if (!lua_isfunction(L, -1)) {
		lua_pop(L, 1);
		return snprintf(err, n, "lua/flow.lua must return a function"), -EINVAL;
	}
	lua_setfield(L, LUA_REGISTRYINDEX, "vigil.flow");
	lua_newtable(L);
	lua_pushlightuserdata(L, e);
	luaL_setfuncs(L, fns, 1);
	lua_setfield(L, LUA_REGISTRYINDEX, "vigil.flow.bindings");
	return 0;
}

int vg_engine_flow(struct vg_engine *e, struct vg_event *ev, int pi, const struct vg_flow_ops *ops,
		   void *ctx, char *err, size_t errlen)
{
	struct vg_lua *h = e->pol[pi].lua;
	lua_State *L = vg_lua_state(h);
	struct vg_event *prev = e->cur;
	int rc;

	e->cur = ev;
	e->ops = ops;
	e->ops_ctx = ctx;
	e->flow_pol = pi;
	e->flow_stored = false;
	e->flow_err = vg_engine_check_error(e, pi);
	lua_getfield(L, LUA_REGISTRYINDEX, "vigil.flow");
	vg_lua_event_push(L, ev);
	lua_rawgeti(L, LUA_REGISTRYINDEX, e->pol[pi].table_ref);
	lua_pushstring(L, vg_enforce_mode_name(e->pol[pi].info.mode));
	lua_getfield(L, LUA_REGISTRYINDEX, "vigil.flow.bindings");
	rc = vg_lua_call(h, 4, 0, e->budget, err, errlen);
	vg_lua_event_detach(L);
	if (rc) {
		e->pol[pi].info.flow_errors++;
		e->st.lua_errors++;
		if (!e->flow_stored && ops && ops->store) /* fail closed: never lose it */
			e->flow_stored = ops->store(ctx, ev, pi);
	}
	e->cur = prev;
	e->ops = NULL;
	e->flow_err = NULL;
	return rc ? -1 : 0;
}

/* lua/policy.lua, run trusted in h: its `policy` becomes a sandbox global. */
static int load_dsl(struct vg_lua *h, char *err, size_t n)
{
	const struct vg_embedded *f = vg_embedded_find("lua/policy.lua");
	lua_State *L = vg_lua_state(h);

	if (!f)
		return snprintf(err, n, "internal: lua/policy.lua is not embedded"), -ENOENT;
	lua_pushcfunction(L, l_where);
	vg_lua_expose(h, "__where");
	if (vg_lua_run_chunk(h, f->data, f->len, "@lua/policy.lua", 1, LOAD_BUDGET, err, n))
		return -EINVAL;
	lua_getfield(L, -1, "MT");
	lua_setfield(L, LUA_REGISTRYINDEX, "vigil.policy.mt");
	lua_getfield(L, -1, "policy");
	vg_lua_expose(h, "policy");
	lua_pop(L, 1);
	return 0;
}

/*
 * A state for one policy: the sandbox, the event object, the DSL and the
 * flow, its own memory cap on the engine's pool. NULL with err on failure.
 */
static struct vg_lua *new_state(struct vg_engine *e, char *err, size_t n)
{
	struct vg_lua_opts lo = {.mem_cap = e->pol_mem, .pool = &e->pool, .time_ms = e->time_ms};
	struct vg_lua *h = vg_lua_new_opts(&lo);

	if (!h) {
		snprintf(err, n,
			 "no memory for a Lua state (lua.memory_mb is %zu MiB for all "
			 "policies together)",
			 e->pool.cap >> 20);
		return NULL;
	}
	vg_lua_event_init(vg_lua_state(h), e->lineage_fn, e->lineage_ctx);
	if (load_dsl(h, err, n) || load_flow(e, h, err, n)) {
		vg_lua_free(h);
		return NULL;
	}
	return h;
}

static bool is_policy_file(const char *name)
{
	size_t n = strlen(name);

	return n > 4 && !strcmp(name + n - 4, ".lua") && name[0] != '.';
}

int vg_engine_load(struct vg_engine **out, const struct vg_engine_opts *o,
		   struct vg_load_error **errs, int *nerr)
{
	struct vg_engine *e = calloc(1, sizeof(*e));
	char err[1024];
	int rc;

	*out = NULL;
	*errs = NULL;
	*nerr = 0;
	if (!e)
		return -ENOMEM;
	e->budget = o->budget > 0 ? o->budget : 1000000;
	e->time_ms = o->time_ms > 0 ? o->time_ms : 1000;
	e->lineage_fn = o->lineage_fn;
	e->lineage_ctx = o->lineage_ctx;
	e->pool.cap = o->lua_mem ? o->lua_mem : (64u << 20);
	e->pol_mem = o->policy_mem ? o->policy_mem : e->pool.cap / 4;
	if (e->pol_mem > e->pool.cap / 2) {
		/* one policy must not be able to take what the others need */
		add_error(errs, nerr, "lua.policy_memory_mb",
			  "lua.policy_memory_mb (%zu MiB) must be at most half of lua.memory_mb "
			  "(%zu MiB), so that no policy can take the memory the others need: lower "
			  "it or raise lua.memory_mb",
			  e->pol_mem >> 20, e->pool.cap >> 20);
		vg_engine_free(e);
		return -EINVAL;
	}
	e->m = vg_matcher_new();
	if (!e->m) {
		vg_engine_free(e);
		return -ENOMEM;
	}
	{
		/* the embedded Lua half loads, or nothing will */
		struct vg_lua *h = new_state(e, err, sizeof(err));

		if (!h) {
			add_error(errs, nerr, "lua/", "%s", err);
			vg_engine_free(e);
			return -EINVAL;
		}
		vg_lua_free(h);
	}
	if (o->files) {
		for (int i = 0; o->files[i]; i++) {
			size_t len = 0;
			char *buf = read_file(o->files[i], &len);

			if (!buf) {
				add_error(errs, nerr, o->files[i], "%s: cannot read: %s",
					  o->files[i], strerror(errno));
				continue;
			}
			load_one(e, o->files[i], buf, len, errs, nerr);
			free(buf);
		}
	} else if (o->dir) {
		DIR *d = opendir(o->dir);
		struct dirent *de;
		char **names = NULL;
		int nn = 0;

		if (!d) {
			add_error(errs, nerr, o->dir, "cannot open the policy directory %s: %s",
				  o->dir, strerror(errno));
			vg_engine_free(e);
			return -ENOENT;
		}
		while ((de = readdir(d))) {
			char **nx;

			if (!is_policy_file(de->d_name) ||
			    !(nx = realloc(names, (size_t)(nn + 1) * sizeof(char *))))
				continue;
			names = nx;
			names[nn++] = strdup(de->d_name);
		}
		closedir(d);
		qsort(names, (size_t)nn, sizeof(char *), cmp_str);
		for (int i = 0; i < nn; i++) {
			char path[4096];
			size_t len = 0;
			char *buf;

			snprintf(path, sizeof(path), "%s/%s", o->dir, names[i]);
			buf = read_file(path, &len);
			if (!buf)
				add_error(errs, nerr, path, "%s: cannot read: %s", path,
					  strerror(errno));
			else
				load_one(e, path, buf, len, errs, nerr);
			free(buf);
			free(names[i]);
		}
		free(names);
	} else {
		for (const struct vg_embedded *f = vg_embedded; f->path; f++)
			if (!strncmp(f->path, "policies/", 9) && is_policy_file(f->path))
				load_one(e, f->path, f->data, f->len, errs, nerr);
	}
	rc = vg_matcher_finish(e->m, err, sizeof(err));
	if (rc) {
		add_error(errs, nerr, "(all policies)", "%s", err);
		vg_engine_free(e);
		return rc;
	}
	e->want_ctr = calloc((size_t)e->npol + 1, sizeof(bool));
	e->want_host = calloc((size_t)e->npol + 1, sizeof(bool));
	if (!e->want_ctr || !e->want_host) {
		vg_engine_free(e);
		return -ENOMEM;
	}
	for (int i = 0; i < e->npol; i++)
		vg_engine_enable(e, i, e->pol[i].info.enabled);
	*out = e;
	return 0;
}

int vg_engine_reload(struct vg_engine **cur, const struct vg_engine_opts *o,
		     struct vg_load_error **errs, int *nerr)
{
	struct vg_engine *n;
	int rc = vg_engine_load(&n, o, errs, nerr);

	if (rc)
		return rc;
	if (*nerr) {
		vg_engine_free(n);
		return -EINVAL;
	}
	for (int i = 0; *cur && i < n->npol; i++) {
		int k = vg_engine_find(*cur, n->pol[i].info.name);

		if (k >= 0)
			vg_engine_enable(n, i, (*cur)->pol[k].info.enabled);
	}
	vg_engine_free(*cur);
	*cur = n;
	return 0;
}

/* -------------------------------------------------------------------------- */
/* evaluation                                                                  */

int vg_engine_count(const struct vg_engine *e)
{
	return e->npol;
}

struct vg_policy_info *vg_engine_policy(struct vg_engine *e, int i)
{
	struct vg_lua_stats ls;

	if (i < 0 || i >= e->npol)
		return NULL;
	if (e->pol[i].lua) {
		vg_lua_stats(e->pol[i].lua, &ls);
		e->pol[i].info.mem_bytes = ls.mem_bytes;
		e->pol[i].info.mem_peak = ls.mem_peak;
	}
	return &e->pol[i].info;
}

int vg_engine_find(const struct vg_engine *e, const char *key)
{
	for (int i = 0; i < e->npol; i++)
		if (!strcmp(e->pol[i].info.name, key) || !strcmp(e->pol[i].info.id, key))
			return i;
	for (int i = 0; i < e->npol; i++)
		if (!strcasecmp(e->pol[i].info.name, key))
			return i;
	return -1;
}

void vg_engine_enable(struct vg_engine *e, int i, bool on)
{
	struct pol *p = &e->pol[i];

	/* a policy that waits for a missing feature, or failed to compile, stays off */
	on = on && !p->info.waits_for;
	p->info.enabled = on;
	e->want_ctr[i] = on;
	e->want_host[i] = on && p->info.host;
	e->any_host = false;
	for (int k = 0; k < e->npol; k++)
		e->any_host |= e->want_host[k];
}

bool vg_engine_kernel_all(const struct vg_engine *e)
{
	return vg_matcher_needs_all(e->m, e->want_ctr);
}

int vg_engine_kernel_names(const struct vg_engine *e, const char ***names)
{
	return vg_matcher_exact_names(e->m, e->want_ctr, names);
}

void vg_engine_set_enforcement(struct vg_engine *e, int pi, enum vg_enforce_mode mode)
{
	if (pi < 0 || pi >= e->npol)
		return;
	e->pol[pi].info.mode = mode;
	e->pol[pi].info.enforcement = vg_enforce_mode_name(mode);
}

bool vg_engine_kernel_decidable(const struct vg_engine *e, int pi)
{
	const struct pol *p = &e->pol[pi];

	return !p->info.broken && !p->info.has_check && !p->nexcl && !p->has_scope &&
	       vg_matcher_kernel_shaped(e->m, pi);
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
	for (int k = 0; k < n; k++) {
		a[k] = 0;
		for (int i = 0; i < e->npol; i++) {
			const struct pol *p = &e->pol[i];
			uint32_t uids[256];
			bool always;
			int nu;

			if (!p->info.enabled || p->info.mode == VG_ENFORCE_INFORM ||
			    !vg_engine_kernel_decidable(e, i) ||
			    !vg_matcher_policy_has_name(e->m, i, (*names)[k]))
				continue;
			nu = vg_matcher_kill_uids(e->m, i, (*names)[k], uids, 256, &always);
			a[k] |= (always ? VG_ACT_KILL : 0) | (nu ? VG_ACT_KILL_UID : 0) |
				(p->info.host ? VG_ACT_KILL_HOST : 0);
			for (int u = 0; u < nu; u++) {
				int *ni =
					realloc(e->kuid_name, (size_t)(e->nkuid + 1) * sizeof(int));
				uint32_t *nv = ni ? realloc(e->kuid, (size_t)(e->nkuid + 1) *
									     sizeof(uint32_t))
						  : NULL;

				if (ni)
					e->kuid_name = ni;
				if (!nv)
					break;
				e->kuid = nv;
				e->kuid_name[e->nkuid] = k;
				e->kuid[e->nkuid++] = uids[u];
			}
		}
	}
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

/* A hash of the cgroup path bytes, 8 at a time: the container-status cache key. */
static uint64_t cg_key(const struct vg_exec *r)
{
	const unsigned char *p = (const unsigned char *)r->data + r->cg_off;
	uint64_t h = 0x9e3779b97f4a7c15ull ^ r->cg_len, w;
	uint32_t i = 0;

	for (; i + 8 <= r->cg_len; i += 8) {
		memcpy(&w, p + i, 8);
		h = (h ^ w) * 0xff51afd7ed558ccdull;
		h ^= h >> 32;
	}
	for (w = 0; i < r->cg_len; i++)
		w = w << 8 | p[i];
	h = (h ^ w) * 0xc4ceb9fe1a85ec53ull;
	return (h ^ (h >> 29)) | 1;
}

/*
 * Container or host? Cached by the cgroup path, compared byte for byte. A
 * path cut short by the sensor's depth bound may have lost its container
 * component: it counts as a container (fail closed), so a process cannot
 * hide from container policies by nesting cgroups.
 */
static bool in_container(struct vg_engine *e, struct vg_event *ev)
{
	const struct vg_exec *r = ev->rec;
	const char *path = r->data + r->cg_off;
	struct ctr_slot *s;
	uint64_t k;

	if (r->flags & VG_EXEC_CGROUP_TRUNCATED)
		return true;
	if (ev->has_ctr || e->testing || r->cg_len > CTR_KEY)
		return vg_event_in_container(ev);
	k = cg_key(r);
	s = &e->ctr[k % CTR_CACHE];
	if (s->key != k || s->len != r->cg_len || memcmp(s->bytes, path, r->cg_len)) {
		s->key = k;
		s->len = r->cg_len;
		memcpy(s->bytes, path, r->cg_len);
		s->in_ctr = vg_event_in_container(ev);
	}
	return s->in_ctr;
}

static bool labels_match(const struct excl *x, const struct vg_meta *m)
{
	for (int i = 0; i < x->nlabels; i += 2) {
		bool found = false;

		for (int k = 0; m->labels && m->labels[k] && m->labels[k + 1] && !found; k += 2)
			found = !strcmp(m->labels[k], x->labels[i]) &&
				!strcmp(m->labels[k + 1], x->labels[i + 1]);
		if (!found)
			return false;
	}
	return true;
}

static bool re_field(const struct vg_regex *re, const char *v)
{
	return !re || (v && vg_regex_match(re, v, strlen(v)));
}

/* Every key the exclusion (or scope) names matches the event's metadata. */
static bool scoping_match(const struct excl *x, const struct vg_meta *m)
{
	if (!m)
		return false; /* no Kubernetes metadata: nothing to match against */
	return re_field(x->ns, m->namespace_) && re_field(x->deploy, m->deployment) &&
	       re_field(x->pod, m->pod) && labels_match(x, m);
}

/*
 * A check() that failed: counted by class, reported (rate-limited), then the
 * policy's on_error decides. Returns whether the event still counts as a
 * violation (one that carries the error).
 */
static bool check_failed(struct vg_engine *e, struct pol *p, int rc, const char *err)
{
	static const char *const what[] = {
		[ON_ERR_ALERT] = "recorded as an evaluation error, not enforced",
		[ON_ERR_IGNORE] = "ignored (on_error = \"ignore\")",
		[ON_ERR_ENFORCE] = "treated as a match and enforced (on_error = \"enforce\")",
	};

	if (rc == VG_LUA_INTERRUPTED)
		return false; /* vigil is stopping: this check decided nothing */
	p->info.errors++;
	p->info.budget_stops += rc == VG_LUA_BUDGET;
	p->info.nomem += rc == VG_LUA_NOMEM;
	e->st.lua_errors++;
	if (p->info.errors <= 3 || !(p->info.errors & (p->info.errors - 1)))
		vg_warn("policy '%s': check() failed (%s); %s (%llu errors so far)", p->info.name,
			err, what[p->on_err], (unsigned long long)p->info.errors);
	if (p->on_err == ON_ERR_IGNORE)
		return false;
	snprintf(p->check_err, sizeof(p->check_err), "%s", err);
	p->err_seq = e->eval_seq;
	return true;
}

/* Runs the policy's check() on ev, in the policy's own state: does the event violate it? */
static bool run_check(struct vg_engine *e, struct pol *p, struct vg_event *ev)
{
	lua_State *L = vg_lua_state(p->lua);
	struct timespec t0, t1;
	char err[512];
	bool yes;
	int rc;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	lua_rawgeti(L, LUA_REGISTRYINDEX, p->check_ref);
	vg_lua_event_push(L, ev);
	rc = vg_lua_call(p->lua, 1, 1, e->budget, err, sizeof(err));
	vg_lua_event_detach(L);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	p->info.lua_ns +=
		(uint64_t)((t1.tv_sec - t0.tv_sec) * 1000000000LL + (t1.tv_nsec - t0.tv_nsec));
	e->st.lua_calls++;
	if (rc)
		return check_failed(e, p, rc, err);
	yes = lua_toboolean(L, -1);
	lua_pop(L, 1);
	if (!yes)
		p->info.check_false++;
	return yes;
}

static void on_section(void *ctx, int pi)
{
	struct vg_engine *e = ctx;
	struct pol *p = &e->pol[pi];
	struct vg_event *ev = e->cur;

	p->info.candidates++;
	e->st.candidates++;
	if (p->has_scope && !scoping_match(&p->scope, ev->meta)) {
		p->info.out_of_scope++;
		return;
	}
	for (int i = 0; i < p->nexcl; i++) {
		if (scoping_match(&p->excl[i], ev->meta)) {
			p->info.excluded++;
			return;
		}
	}
	if (p->check_ref != LUA_NOREF && !run_check(e, p, ev))
		return;
	p->info.matches++;
	e->st.matches++;
	e->nviol++;
	if (e->cb)
		e->cb(e->cb_ctx, ev, pi, &p->info);
}

/* The matcher calls back with the engine; the owner's lineage function wants its own ctx. */
static void engine_lineage(void *ctx, struct vg_event *ev)
{
	struct vg_engine *e = ctx;

	e->lineage_fn(e->lineage_ctx, ev);
}

static int eval_with(struct vg_engine *e, struct vg_event *ev, const bool *want, vg_violation_cb cb,
		     void *ctx)
{
	e->cur = ev;
	e->cb = cb;
	e->cb_ctx = ctx;
	e->nviol = 0;
	e->eval_seq++;
	if (!vg_matcher_eval(e->m, ev, want, e->lineage_fn ? engine_lineage : NULL, on_section, e))
		e->st.rejected++;
	e->cur = NULL;
	return e->nviol;
}

int vg_engine_eval(struct vg_engine *e, struct vg_event *ev, vg_violation_cb cb, void *ctx)
{
	e->st.events++;
	/* containers only, unless a policy opted the host in */
	if (!in_container(e, ev)) {
		if (!e->any_host) {
			e->st.rejected++;
			return 0;
		}
		return eval_with(e, ev, e->want_host, cb, ctx);
	}
	return eval_with(e, ev, e->want_ctr, cb, ctx);
}

const char *vg_engine_check_error(const struct vg_engine *e, int pi)
{
	const struct pol *p = pi >= 0 && pi < e->npol ? &e->pol[pi] : NULL;

	return p && p->err_seq && p->err_seq == e->eval_seq ? p->check_err : NULL;
}

void vg_engine_stats(const struct vg_engine *e, struct vg_engine_stats *st)
{
	const char **names;

	*st = e->st;
	st->lua_mem = e->pool.used;
	st->lua_mem_cap = e->pool.cap;
	st->kernel_all = vg_engine_kernel_all(e);
	st->exact_names = vg_engine_kernel_names(e, &names);
}

/* -------------------------------------------------------------------------- */
/* policy tests                                                                */

#define TEST_CID "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define TEST_POD "00000000-1111-2222-3333-444444444444"

struct test_ev {
	unsigned char rec[sizeof(struct vg_exec) + VG_DATA_MAX];
	struct vg_event ev;
	struct vg_meta meta;
	const char *labels[65];
	char cgroup[512];
};

static const char *opt_str(lua_State *L, int t, const char *k, const char *dflt)
{
	const char *s;

	lua_getfield(L, t, k);
	/* strings only: a number converted here would be a string nothing keeps alive */
	s = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : dflt; /* anchored by the table */
	lua_pop(L, 1);
	return s;
}

static lua_Integer opt_int(lua_State *L, int t, const char *k, lua_Integer dflt)
{
	lua_Integer v;

	lua_getfield(L, t, k);
	v = lua_isinteger(L, -1) ? lua_tointeger(L, -1) : dflt;
	lua_pop(L, 1);
	return v;
}

/*
 * A test event from the table on top of the stack: exe (required), comm, args
 * (string) or argv (list), uid, euid, gid, pid, ppid, cwd, ancestors (exe
 * paths, nearest first), container (default true), namespace, pod,
 * deployment, container_name, image, labels, privileged.
 */
static int test_event(lua_State *L, struct test_ev *te, char *err, size_t n)
{
	int t = lua_gettop(L), argc = 0, nanc;
	struct vg_record_spec s = {0};
	const char *argv[129], *args;
	static char argbuf[VG_ARGS_MAX];
	struct vg_ancestor anc[VG_LINEAGE_MAX] = {0};
	const char **ancs;
	bool ctr;

	memset(&te->meta, 0, sizeof(te->meta));
	s.exe = opt_str(L, t, "exe", NULL);
	if (!s.exe)
		return snprintf(err, n, "test event has no exe"), -EINVAL;
	s.comm = opt_str(L, t, "comm", NULL);
	argv[argc++] = s.exe;
	args = opt_str(L, t, "args", NULL);
	if (args) {
		snprintf(argbuf, sizeof(argbuf), "%s", args);
		for (char *tok = strtok(argbuf, " "); tok && argc < 128; tok = strtok(NULL, " "))
			argv[argc++] = tok;
	} else {
		int na;
		const char **av = string_list(L, t, "argv", &na);

		for (int i = 0; av && i < na && argc < 128; i++)
			argv[argc++] = av[i];
		free(av);
	}
	s.argv = argv;
	s.argc = argc;
	s.uid = (uint32_t)opt_int(L, t, "uid", 0);
	s.euid = (uint32_t)opt_int(L, t, "euid", (lua_Integer)s.uid);
	s.gid = (uint32_t)opt_int(L, t, "gid", 0);
	s.egid = s.gid;
	s.pid = (uint32_t)opt_int(L, t, "pid", 4242);
	s.ppid = (uint32_t)opt_int(L, t, "ppid", 4241);
	s.cwd = opt_str(L, t, "cwd", "/");
	lua_getfield(L, t, "container");
	ctr = lua_isnil(L, -1) || lua_toboolean(L, -1);
	lua_pop(L, 1);
	snprintf(te->cgroup, sizeof(te->cgroup), "%s",
		 ctr ? "/kubepods/besteffort/pod" TEST_POD "/libpod-" TEST_CID : "/");
	s.cgroup = te->cgroup;
	ancs = string_list(L, t, "ancestors", &nanc);
	if (nanc > VG_LINEAGE_MAX)
		nanc = VG_LINEAGE_MAX;
	for (int i = 0; i < nanc; i++)
		anc[i].pid = s.ppid - (uint32_t)i;
	s.anc = anc;
	s.nanc = nanc;
	if (!vg_record_build(te->rec, sizeof(te->rec), &s)) {
		free(ancs);
		return snprintf(err, n, "test event does not fit in a record"), -EINVAL;
	}
	if (vg_event_decode(&te->ev, te->rec, ((struct vg_exec *)te->rec)->size, 0)) {
		free(ancs);
		return snprintf(err, n, "internal: test record does not decode"), -EINVAL;
	}
	for (int i = 0; i < nanc; i++) {
		const char *x = ancs[i], *sl = strrchr(x, '/');

		snprintf(te->ev.lineage_buf[i], VG_EXE_MAX, "%s", x);
		te->ev.lineage[i].pid = anc[i].pid;
		te->ev.lineage[i].uid = 0;
		te->ev.lineage[i].exe = te->ev.lineage_buf[i];
		sl = strrchr(te->ev.lineage_buf[i], '/');
		te->ev.lineage[i].name = sl ? sl + 1 : te->ev.lineage_buf[i];
	}
	free(ancs);
	te->ev.n_lineage = nanc;
	te->ev.lineage_done = true;
	te->meta.namespace_ = opt_str(L, t, "namespace", NULL);
	te->meta.pod = opt_str(L, t, "pod", NULL);
	te->meta.deployment = opt_str(L, t, "deployment", NULL);
	te->meta.container = opt_str(L, t, "container_name", NULL);
	te->meta.image = opt_str(L, t, "image", NULL);
	lua_getfield(L, t, "privileged");
	te->meta.privileged = lua_toboolean(L, -1);
	lua_pop(L, 1);
	lua_getfield(L, t, "labels");
	if (lua_istable(L, -1)) {
		int k = 0;

		lua_pushnil(L);
		while (k < 64 && lua_next(L, -2)) {
			if (lua_type(L, -2) == LUA_TSTRING && lua_type(L, -1) == LUA_TSTRING) {
				te->labels[k++] = lua_tostring(L, -2);
				te->labels[k++] = lua_tostring(L, -1);
			}
			lua_pop(L, 1);
		}
		if (k == 64 && lua_next(L, -2))
			lua_pop(L, 2); /* more than 32 labels: the rest are ignored */
		te->labels[k] = NULL;
		te->meta.labels = te->labels;
	}
	lua_pop(L, 1);
	if (te->meta.namespace_ || te->meta.pod || te->meta.deployment || te->meta.labels ||
	    te->meta.privileged)
		te->ev.meta = &te->meta;
	return 0;
}

int vg_engine_run_tests(struct vg_engine *e, const char *filter, FILE *out, int *ntests)
{
	static struct test_ev te;
	bool *want = calloc((size_t)e->npol + 1, sizeof(bool));
	int failed = 0, total = 0;

	if (!want)
		return -ENOMEM;
	e->testing = true;
	for (int i = 0; i < e->npol; i++) {
		struct pol *p = &e->pol[i];
		lua_State *L;
		int nt;

		if ((filter && !strstr(p->info.name, filter)) || p->info.broken)
			continue;
		L = vg_lua_state(p->lua);
		lua_rawgeti(L, LUA_REGISTRYINDEX, p->table_ref);
		lua_getfield(L, -1, "tests");
		nt = (int)lua_rawlen(L, -1);
		want[i] = true;
		for (int k = 0; k < nt; k++) {
			char err[256];
			bool expect, got;
			uint64_t before;

			lua_rawgeti(L, -1, k + 1);
			lua_getfield(L, -1, "expect");
			expect = lua_toboolean(L, -1);
			lua_pop(L, 1);
			lua_getfield(L, -1, "ev");
			total++;
			if (test_event(L, &te, err, sizeof(err))) {
				fprintf(out, "FAIL %s: test %d: %s\n", p->info.name, k + 1, err);
				failed++;
				lua_pop(L, 2);
				continue;
			}
			before = p->info.matches;
			if (vg_event_in_container(&te.ev) || p->info.host)
				eval_with(e, &te.ev, want, NULL, NULL);
			got = p->info.matches != before;
			if (got != expect) {
				failed++;
				fprintf(out,
					"FAIL %s (%s): test %d: expected %s, got %s for exe=%s "
					"args='%s'%s\n",
					p->info.name, p->info.file, k + 1,
					expect ? "a match" : "no match",
					got ? "a match" : "no match", te.ev.exe,
					(vg_event_args(&te.ev), te.ev.args),
					vg_event_in_container(&te.ev) ? "" : " (host)");
			}
			lua_pop(L, 2);
		}
		want[i] = false;
		lua_pop(L, 2);
		/* tests are not traffic: leave the policy's counters as they were */
		p->info.candidates = p->info.matches = p->info.excluded = p->info.out_of_scope = 0;
		p->info.check_false = p->info.lua_ns = p->info.errors = p->info.budget_stops = 0;
		p->info.nomem = 0;
	}
	e->testing = false;
	memset(&e->st, 0, sizeof(e->st));
	free(want);
	if (ntests)
		*ntests = total;
	return failed;
}
