// SPDX-License-Identifier: BSD-2-Clause
/*
 * load.c - an engine built from policy files: each file run in a sandboxed
 * state of its own (with the DSL, lua/policy.lua, and the flow), the policy
 * it returns compiled (compile.c), and every problem recorded with its
 * file:line; reload swaps a whole new engine in, or keeps the old one.
 */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "embed.h"
#include "engine_priv.h"
#include "keyline.h"
#include "log.h"
#include "lua_event.h"

#define MAX_POLICY_FILE (16 << 20) /* bytes */
#define MAX_KEY_PATH	8	   /* steps of a key path the DSL names in an error */

/* The policy file being run, for the DSL's messages (a userdata in its state). */
struct policy_src {
	const char *file, *buf;
	size_t len;
};

static void add_error(struct vg_load_error **errs, int *n, const char *file, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Appends one load error (out of memory: it is lost, the load goes on). */
static void add_error(struct vg_load_error **errs, int *n, const char *file, const char *fmt, ...)
{
	struct vg_load_error *e = realloc(*errs, (size_t)(*n + 1) * sizeof(**errs));
	char buf[1024];
	va_list ap;

	if (!e)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(buf, sizeof(buf), fmt, ap); /* a long message is cut, not lost */
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

static void pol_free(struct pol *p)
{
	for (int k = 0; k < p->nstrs; k++)
		free(p->strs[k]);
	free(p->strs);
	free(p->cats);
	free(p->nots);
	for (int k = 0; k < p->nexcl; k++)
		engine_excl_free(&p->excl[k]);
	free(p->excl);
	engine_excl_free(&p->scope);
	engine_known_hashes_free(p);
	json_decref(p->def);
	vg_lua_free(p->lua);
}

void vg_engine_free(struct vg_engine *e)
{
	if (!e)
		return;
	for (int i = 0; i < e->npol; i++)
		pol_free(&e->pol[i]);
	free(e->pol);
	free(e->want_ctr);
	free(e->want_host);
	free(e->want_tmp);
	free(e->kactions);
	free(e->kuid_name);
	free(e->kuid);
	free(e->kh_names);
	free(e->kh_sha);
	vg_matcher_free(e->m);
	free(e);
}

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

/*
 * key_where(path): "file:line" of the key path ({"match", "process_name"}) in the policy
 * file being run, or nil. The DSL calls it for the line of an offending key.
 */
static int l_key_where(lua_State *L)
{
	const struct policy_src *src = lua_touserdata(L, lua_upvalueindex(1));
	struct vg_key_step path[MAX_KEY_PATH];
	int n = 0, line;

	luaL_checktype(L, 1, LUA_TTABLE);
	if (!src || !src->buf)
		return 0;
	for (; n < MAX_KEY_PATH && lua_rawgeti(L, 1, n + 1) != LUA_TNIL; n++) {
		path[n].name = NULL;
		path[n].index = 0;
		if (lua_type(L, -1) == LUA_TSTRING)
			path[n].name = lua_tostring(L, -1); /* anchored by the path table */
		else if (lua_isinteger(L, -1))
			path[n].index = (int)lua_tointeger(L, -1);
		else
			break; /* a key no source names: its parent's line */
		lua_pop(L, 1);
	}
	line = vg_policy_key_line(src->buf, src->len, path, n);
	if (line <= 0)
		return 0;
	lua_pushfstring(L, "%s:%d", src->file, line);
	return 1;
}

/* The whole file, NUL-terminated, or NULL with errno. */
static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n = -1;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0)
		n = ftell(f);
	if (n >= MAX_POLICY_FILE)
		errno = EFBIG;
	else if (n >= 0 && fseek(f, 0, SEEK_SET) == 0)
		buf = malloc((size_t)n + 1);
	if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
		errno = EIO;
	} else if (buf) {
		buf[n] = '\0';
		*len = (size_t)n;
	}
	(void)fclose(f); /* read only: nothing to lose */
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

/* lua/policy.lua, run trusted in h: its `policy` becomes a sandbox global. */
static int load_dsl(struct vg_lua *h, char *err, size_t n)
{
	const struct vg_embedded *f = vg_embedded_find("lua/policy.lua");
	lua_State *L = vg_lua_state(h);
	int rc;

	if (!f)
		return vg_errf(err, n, -ENOENT, "internal: lua/policy.lua is not embedded");
	lua_pushcfunction(L, l_where);
	vg_lua_expose(h, "__where");
	rc = vg_lua_run_chunk(h, f->data, f->len, "@lua/policy.lua", 1, LOAD_BUDGET, err, n);
	if (rc)
		return rc;
	lua_getfield(L, -1, "MT");
	lua_setfield(L, LUA_REGISTRYINDEX, "vigil.policy.mt");
	memset(lua_newuserdatauv(L, sizeof(struct policy_src), 0), 0, sizeof(struct policy_src));
	lua_pushvalue(L, -1);
	lua_setfield(L, LUA_REGISTRYINDEX, "vigil.policy.src");
	lua_pushcclosure(L, l_key_where, 1);
	lua_setfield(L, -2, "key_where");
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
		(void)vg_errf(err, n, -ENOMEM,
			      "no memory for a Lua state (lua.memory_mb is %zu MiB for all "
			      "policies together)",
			      e->pool.cap >> 20);
		return NULL;
	}
	vg_lua_event_init(vg_lua_state(h), e->lineage_fn, e->lineage_ctx);
	if (load_dsl(h, err, n) || engine_flow_load(h, err, n)) {
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

/*
 * Runs a policy source in h: it must return what policy{} made (its private
 * metatable cannot be read or forged), left on the stack. -EINVAL with the
 * error recorded otherwise.
 */
static int run_policy_file(struct vg_lua *h, const char *file, const char *buf, size_t len,
			   struct vg_load_error **errs, int *nerr)
{
	lua_State *L = vg_lua_state(h);
	int top = lua_gettop(L);
	char err[1024], chunk[512];
	size_t fl = strlen(file);
	struct policy_src *src;
	int rc;

	(void)snprintf(chunk, sizeof(chunk), "@%s", file); /* Lua cuts long names anyway */
	(void)lua_getfield(L, LUA_REGISTRYINDEX, "vigil.policy.src"); /* set by load_dsl */
	src = lua_touserdata(L, -1);
	lua_pop(L, 1);
	*src = (struct policy_src){.file = file, .buf = buf, .len = len};
	rc = vg_lua_run_chunk(h, buf, len, chunk, 1, LOAD_BUDGET, err, sizeof(err));
	*src = (struct policy_src){0};
	if (rc) {
		/* `return policy {...}` is a tail call: the DSL cannot see the file's line */
		if (strncmp(err, file, fl) || err[fl] != ':')
			add_error(errs, nerr, file, "%s:%d: %s", file, policy_line(buf, len), err);
		else
			add_error(errs, nerr, file, "%s", err);
		return -EINVAL;
	}
	lua_getfield(L, LUA_REGISTRYINDEX, "vigil.policy.mt");
	if (!lua_istable(L, -2) || !lua_getmetatable(L, -2) || !lua_rawequal(L, -1, -2)) {
		add_error(errs, nerr, file,
			  "%s: the file must end with 'return policy { ... }' (it returned a %s)",
			  file, luaL_typename(L, top + 1));
		return -EINVAL;
	}
	lua_pop(L, 2);
	return 0;
}

/* Whether a policy of the name of the one on top of the stack is loaded (recorded). */
static bool name_taken(const struct vg_engine *e, lua_State *L, const char *file,
		       struct vg_load_error **errs, int *nerr)
{
	bool taken = false;

	lua_getfield(L, -1, "name");
	for (int i = 0; i < e->npol && !taken; i++) {
		if (strcmp(e->pol[i].info.name, lua_tostring(L, -1)))
			continue;
		add_error(errs, nerr, file, "%s: a policy named '%s' is already loaded from %s",
			  file, e->pol[i].info.name, e->pol[i].info.file);
		taken = true;
	}
	lua_pop(L, 1);
	return taken;
}

/* With the default pack after a directory: whether the built-in on top of the stack is replaced. */
static bool builtin_replaced(const struct vg_engine *e, lua_State *L, const char *file)
{
	const char *id, *name;
	bool replaced = false;

	if (!e->builtin_pass)
		return false;
	lua_getfield(L, -1, "name");
	lua_getfield(L, -2, "id");
	name = lua_tostring(L, -2);
	id = lua_isstring(L, -1) ? lua_tostring(L, -1) : name;
	for (int i = 0; i < e->npol && !replaced && name; i++) {
		const struct vg_policy_info *p = &e->pol[i].info;

		if (p->broken || (strcmp(p->id, id) && strcmp(p->name, name)))
			continue;
		vg_info("policy '%s' (id %s) of %s replaces the built-in policy '%s' (%s)", p->name,
			p->id, p->file, name, file);
		replaced = true;
	}
	lua_pop(L, 2);
	return replaced;
}

/* The line of the key a compile error is about, else of `policy {`. */
static int bad_key_line(const struct key_path *k, const char *buf, size_t len)
{
	struct vg_key_step path[KEY_PATH_MAX];
	int line = 0;

	for (int i = 0; i < k->n; i++) {
		path[i].name = k->name[i][0] ? k->name[i] : NULL;
		path[i].index = k->index[i];
	}
	if (k->n)
		line = vg_policy_key_line(buf, len, path, k->n);
	return line > 0 ? line : policy_line(buf, len);
}

/* The policy on top of h's stack compiled into a new slot of e (h is the policy's now). */
static void add_policy(struct vg_engine *e, struct vg_lua *h, const char *file, const char *buf,
		       size_t len, struct vg_load_error **errs, int *nerr)
{
	struct pol *p;
	char err[1024];

	e->pol[e->npol].lua = h;
	p = &e->pol[e->npol++];
	if (engine_compile_policy(e, e->npol - 1, file, err, sizeof(err))) {
		/* the matcher may hold sections of this policy: the load fails whole */
		const char *name = "?";

		if (p->info.name)
			name = p->info.name;
		add_error(errs, nerr, file, "%s:%d: policy '%s': %s", file,
			  bad_key_line(&p->bad, buf, len), name, err);
		p->info.broken = true; /* kept for freeing; never evaluated nor listed */
		p->info.waits_for = "a policy that loads";
	} else if (engine_definition_build(p, vg_lua_state(h), buf, len)) {
		/* the policy works without it: the API shows it without its definition */
		vg_warn("policy '%s' (%s): no memory to describe its definition for the API",
			p->info.name, file);
	}
}

/* Loads one policy source into a state of its own; on success appends a policy. */
static void load_one(struct vg_engine *e, const char *file, const char *buf, size_t len,
		     struct vg_load_error **errs, int *nerr)
{
	char err[1024];
	struct vg_lua *h = new_state(e, err, sizeof(err));
	struct pol *np;
	lua_State *L;
	int top;

	if (!h) {
		add_error(errs, nerr, file, "%s: %s", file, err);
		return;
	}
	L = vg_lua_state(h);
	top = lua_gettop(L);
	if (run_policy_file(h, file, buf, len, errs, nerr) || builtin_replaced(e, L, file) ||
	    name_taken(e, L, file, errs, nerr)) {
		vg_lua_free(h);
		return;
	}
	np = realloc(e->pol, (size_t)(e->npol + 1) * sizeof(*np));
	if (!np) {
		add_error(errs, nerr, file, "out of memory");
		vg_lua_free(h);
		return;
	}
	e->pol = np;
	add_policy(e, h, file, buf, len, errs, nerr);
	lua_settop(L, top);
	if (e->pol[e->npol - 1].info.broken)
		return;
	/* the DSL has done its work: its code need not stay in every policy's state */
	lua_pushnil(L);
	vg_lua_expose(h, "policy");
	lua_pushnil(L);
	vg_lua_expose(h, "__where");
	(void)lua_gc(L, LUA_GCCOLLECT); /* returns 0 for a full collection */
}

static void load_path(struct vg_engine *e, const char *path, struct vg_load_error **errs, int *nerr)
{
	size_t len = 0;
	char *buf = read_file(path, &len);

	if (!buf && errno == EFBIG)
		add_error(errs, nerr, path, "%s: larger than %d MiB, the most a policy file may be",
			  path, MAX_POLICY_FILE >> 20);
	else if (!buf)
		add_error(errs, nerr, path, "%s: cannot read: %s", path, strerror(errno));
	if (!buf)
		return;
	load_one(e, path, buf, len, errs, nerr);
	free(buf);
}

/* The *.lua names of dir, sorted; *n of them. -errno when it cannot be read. */
static int policy_names(const char *dir, char ***names, int *n)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int rc = 0;

	*names = NULL;
	*n = 0;
	if (!d)
		return -errno;
	while (!rc && (de = readdir(d))) {
		char **nx;

		if (!is_policy_file(de->d_name))
			continue;
		nx = realloc(*names, (size_t)(*n + 1) * sizeof(char *));
		if (nx)
			*names = nx;
		if (!nx || !(nx[*n] = strdup(de->d_name)))
			rc = -ENOMEM;
		else
			(*n)++;
	}
	(void)closedir(d); /* read only: nothing to lose */
	qsort(*names, (size_t)*n, sizeof(char *), cmp_str);
	return rc;
}

/* Every *.lua of the directory, in name order. -errno when it cannot be opened. */
static int load_dir(struct vg_engine *e, const char *dir, struct vg_load_error **errs, int *nerr)
{
	char **names;
	int n, rc = policy_names(dir, &names, &n);

	if (rc) {
		add_error(errs, nerr, dir, "cannot open the policy directory %s: %s", dir,
			  strerror(-rc));
		for (int i = 0; i < n; i++)
			free(names[i]);
		free(names);
		return -ENOENT;
	}
	for (int i = 0; i < n; i++) {
		char path[4096];

		if (snprintf(path, sizeof(path), "%s/%s", dir, names[i]) >= (int)sizeof(path))
			add_error(errs, nerr, dir, "%s/%s: the path is too long", dir, names[i]);
		else
			load_path(e, path, errs, nerr);
		free(names[i]);
	}
	free(names);
	return 0;
}

/* The default pack, embedded at build. */
static void load_embedded(struct vg_engine *e, struct vg_load_error **errs, int *nerr)
{
	for (const struct vg_embedded *f = vg_embedded; f->path; f++)
		if (!strncmp(f->path, "policies/", 9) && is_policy_file(f->path))
			load_one(e, f->path, f->data, f->len, errs, nerr);
}

/* An engine with no policies yet: options, the matcher, and the Lua half checked. */
static int engine_new(struct vg_engine **out, const struct vg_engine_opts *o,
		      struct vg_load_error **errs, int *nerr)
{
	struct vg_engine *e = calloc(1, sizeof(*e));
	struct vg_lua *h;
	char err[1024];

	*out = e;
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
		return -EINVAL;
	}
	e->m = vg_matcher_new();
	if (!e->m)
		return -ENOMEM;
	h = new_state(e, err, sizeof(err)); /* the embedded Lua half loads, or nothing will */
	if (!h) {
		add_error(errs, nerr, "lua/", "%s", err);
		return -EINVAL;
	}
	vg_lua_free(h);
	return 0;
}

/* The fast path's index built, and every policy enabled as its file says. */
static int engine_finish(struct vg_engine *e, struct vg_load_error **errs, int *nerr)
{
	char err[1024];
	int rc = vg_matcher_finish(e->m, err, sizeof(err));

	if (rc) {
		add_error(errs, nerr, "(all policies)", "%s", err);
		return rc;
	}
	e->want_ctr = calloc((size_t)e->npol + 1, sizeof(bool));
	e->want_host = calloc((size_t)e->npol + 1, sizeof(bool));
	e->want_tmp = calloc((size_t)e->npol + 1, sizeof(bool));
	if (!e->want_ctr || !e->want_host || !e->want_tmp || engine_known_hashes_room(e))
		return -ENOMEM;
	for (int i = 0; i < e->npol; i++)
		vg_engine_enable(e, i, e->pol[i].info.enabled);
	return 0;
}

int vg_engine_load(struct vg_engine **out, const struct vg_engine_opts *o,
		   struct vg_load_error **errs, int *nerr)
{
	struct vg_engine *e;
	int rc;

	*out = NULL;
	*errs = NULL;
	*nerr = 0;
	rc = engine_new(&e, o, errs, nerr);
	if (!rc && o->files) {
		for (int i = 0; o->files[i]; i++)
			load_path(e, o->files[i], errs, nerr);
	} else if (!rc && o->dir) {
		rc = load_dir(e, o->dir, errs, nerr);
		e->builtin_pass = true;
		if (!rc && o->with_builtin)
			load_embedded(e, errs, nerr);
		e->builtin_pass = false;
	} else if (!rc) {
		load_embedded(e, errs, nerr);
	}
	if (!rc)
		rc = engine_finish(e, errs, nerr);
	if (rc) {
		vg_engine_free(e);
		return rc;
	}
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
