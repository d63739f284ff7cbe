// SPDX-License-Identifier: BSD-2-Clause
/*
 * tests.c - `vigil policy test`: the `tests` a policy carries, each a test
 * event and an expectation, run through the same fast path, scope,
 * exclusions and check() as real traffic, for that policy alone.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "engine_priv.h"
#include "log.h"
#include "record.h"

#define TEST_CID  "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define TEST_POD  "00000000-1111-2222-3333-444444444444"
#define TEST_ARGC 128

/* One test event and what it points into: 21 KB and more, so on the heap. */
struct test_ev {
	unsigned char rec[sizeof(struct vg_exec) + VG_DATA_MAX];
	struct vg_event ev;
	struct vg_meta meta;
	const char **labels; /* key, value, ..., NULL: as many as the test gives (realloc'd) */
	size_t labels_cap;   /* entries labels has room for */
	char cgroup[512];
	char argbuf[VG_ARGS_MAX];
	const char *argv[TEST_ARGC + 1];
	struct vg_ancestor anc[VG_LINEAGE_MAX];
};

static const char *opt_str(lua_State *L, int t, const char *k, const char *dflt)
{
	const char *s = dflt;

	lua_getfield(L, t, k);
	/* strings only: a number converted here would be a string nothing keeps alive */
	if (lua_type(L, -1) == LUA_TSTRING)
		s = lua_tostring(L, -1); /* anchored by the table */
	lua_pop(L, 1);
	return s;
}

static lua_Integer opt_int(lua_State *L, int t, const char *k, lua_Integer dflt)
{
	lua_Integer v = dflt;

	lua_getfield(L, t, k);
	if (lua_isinteger(L, -1))
		v = lua_tointeger(L, -1);
	lua_pop(L, 1);
	return v;
}

/* The exe, then t.args (split at spaces) or t.argv (a list), into s->argv. */
static int test_argv(lua_State *L, int t, struct test_ev *te, struct vg_record_spec *s)
{
	const char *args = opt_str(L, t, "args", NULL);
	int argc = 0;

	te->argv[argc++] = opt_str(L, t, "argv0", s->exe);
	if (args) {
		snprintf(te->argbuf, sizeof(te->argbuf), "%s", args);
		for (char *tok = strtok(te->argbuf, " "); tok && argc < TEST_ARGC;
		     tok = strtok(NULL, " "))
			te->argv[argc++] = tok;
	} else {
		int na;
		const char **av = engine_string_list(L, t, "argv", &na);

		if (!av)
			return -ENOMEM;
		for (int i = 0; i < na && argc < TEST_ARGC; i++)
			te->argv[argc++] = av[i];
		free(av);
	}
	s->argv = te->argv;
	s->argc = argc;
	return 0;
}

/* t.content, names whose binaries have this exe's content, as the content module sets them. */
static int test_content(lua_State *L, int t, struct test_ev *te)
{
	struct vg_exe_ident *id = &te->ev.id;
	int n;
	const char **names = engine_string_list(L, t, "content", &n);

	if (!names)
		return -ENOMEM;
	id->n_content = 0;
	for (int i = 0; i < n && i < VG_IDENT_NAMES; i++) {
		char *dst = id->content[id->n_content++];

		(void)snprintf(dst, VG_IDENT_NAME_MAX, "%s", names[i]); /* cut to fit */
		for (char *c = dst; *c; c++)
			*c = (char)tolower((unsigned char)*c);
	}
	id->content_known = n > 0;
	free(names);
	return 0;
}

/* The event's ancestors, nearest first, as if the sensor had named them. */
static void test_lineage(struct test_ev *te, const char **ancs, int nanc)
{
	for (int i = 0; i < nanc; i++) {
		struct vg_ancestor_info *l = &te->ev.lineage[i];
		const char *sl;

		snprintf(te->ev.lineage_buf[i], VG_EXE_MAX, "%s", ancs[i]);
		l->pid = te->anc[i].pid;
		l->uid = 0;
		l->exe = te->ev.lineage_buf[i];
		sl = strrchr(te->ev.lineage_buf[i], '/');
		l->name = sl ? sl + 1 : te->ev.lineage_buf[i];
	}
	te->ev.n_lineage = nanc;
	te->ev.lineage_done = true;
}

/* t.labels, {key = value, ...} (strings: policy.lua checked them), all of them, into
 * te->meta.labels. 0 or -ENOMEM. */
static int test_labels(lua_State *L, int t, struct test_ev *te)
{
	size_t k = 0, need = 1;

	lua_getfield(L, t, "labels");
	if (!lua_istable(L, -1)) {
		lua_pop(L, 1);
		return 0;
	}
	for (lua_pushnil(L); lua_next(L, -2); lua_pop(L, 1))
		need += 2;
	if (need > te->labels_cap) {
		const char **grown = realloc(te->labels, need * sizeof(*grown));

		if (!grown) {
			lua_pop(L, 1);
			return -ENOMEM;
		}
		te->labels = grown;
		te->labels_cap = need;
	}
	for (lua_pushnil(L); lua_next(L, -2); lua_pop(L, 1)) {
		if (lua_type(L, -2) == LUA_TSTRING && lua_type(L, -1) == LUA_TSTRING) {
			te->labels[k++] = lua_tostring(L, -2); /* anchored by the test's table */
			te->labels[k++] = lua_tostring(L, -1);
		}
	}
	te->labels[k] = NULL;
	te->meta.labels = te->labels;
	lua_pop(L, 1);
	return 0;
}

/* The Kubernetes metadata of the test event, attached only when it has some. 0 or -ENOMEM. */
static int test_meta(lua_State *L, int t, struct test_ev *te)
{
	struct vg_meta *m = &te->meta;

	m->namespace_ = opt_str(L, t, "namespace", NULL);
	m->pod = opt_str(L, t, "pod", NULL);
	m->deployment = opt_str(L, t, "deployment", NULL);
	m->container = opt_str(L, t, "container_name", NULL);
	m->image = opt_str(L, t, "image", NULL);
	lua_getfield(L, t, "privileged");
	m->privileged = lua_toboolean(L, -1);
	lua_pop(L, 1);
	if (test_labels(L, t, te))
		return -ENOMEM;
	if (m->namespace_ || m->pod || m->deployment || m->labels || m->privileged)
		te->ev.meta = m;
	return 0;
}

/* The record's ids, cwd and cgroup (a pod's container unless container = false). */
static void test_spec(lua_State *L, int t, struct test_ev *te, struct vg_record_spec *s)
{
	bool ctr;

	s->uid = (uint32_t)opt_int(L, t, "uid", 0);
	s->euid = (uint32_t)opt_int(L, t, "euid", (lua_Integer)s->uid);
	s->gid = (uint32_t)opt_int(L, t, "gid", 0);
	s->egid = s->gid;
	s->pid = (uint32_t)opt_int(L, t, "pid", 4242);
	s->ppid = (uint32_t)opt_int(L, t, "ppid", 4241);
	s->cwd = opt_str(L, t, "cwd", "/");
	lua_getfield(L, t, "container");
	ctr = lua_isnil(L, -1) || lua_toboolean(L, -1);
	lua_pop(L, 1);
	if (ctr)
		s->flags |= VG_EXEC_IN_CONTAINER;
	lua_getfield(L, t, "fileless");
	if (lua_toboolean(L, -1))
		s->flags |= VG_EXEC_EXE_KNOWN | VG_EXEC_EXE_FILELESS;
	lua_getfield(L, t, "not_in_image");
	if (lua_toboolean(L, -1))
		s->flags |= VG_EXEC_EXE_KNOWN | VG_EXEC_EXE_UPPER | VG_EXEC_IN_CONTAINER;
	lua_pop(L, 2);
	if (ctr)
		snprintf(te->cgroup, sizeof(te->cgroup), "%s",
			 "/kubepods/besteffort/pod" TEST_POD "/libpod-" TEST_CID);
	else
		snprintf(te->cgroup, sizeof(te->cgroup), "%s", "/");
	s->cgroup = te->cgroup;
}

/* The record built from s and decoded into te->ev. */
static int test_record(struct test_ev *te, const struct vg_record_spec *s, char *err, size_t n)
{
	if (!vg_record_build(te->rec, sizeof(te->rec), s))
		return vg_errf(err, n, -EINVAL, "test event does not fit in a record");
	if (vg_event_decode(&te->ev, te->rec, ((struct vg_exec *)te->rec)->size, 0))
		return vg_errf(err, n, -EINVAL, "internal: test record does not decode");
	return 0;
}

/*
 * A test event from the table on top of the stack: exe (required), comm,
 * exe_name (the mapped executable's name), argv0, args (string) or argv (list),
 * content (names of binaries with the same content), uid, euid, gid, pid, ppid, cwd, ancestors (exe
 * paths, nearest first), container (default true), namespace, pod,
 * deployment, container_name, image, labels, privileged, fileless, not_in_image,
 * unexpected_process (not in the container's locked process baseline).
 */
static int test_event(lua_State *L, struct test_ev *te, char *err, size_t n)
{
	int t = lua_gettop(L), nanc, rc;
	struct vg_record_spec s = {0};
	const char **ancs;

	memset(&te->meta, 0, sizeof(te->meta));
	memset(te->anc, 0, sizeof(te->anc));
	s.exe = opt_str(L, t, "exe", NULL);
	if (!s.exe)
		return vg_errf(err, n, -EINVAL, "test event has no exe");
	s.comm = opt_str(L, t, "comm", NULL);
	s.exe_name = opt_str(L, t, "exe_name", NULL);
	if (test_argv(L, t, te, &s))
		return vg_errf(err, n, -ENOMEM, "out of memory");
	test_spec(L, t, te, &s);
	ancs = engine_string_list(L, t, "ancestors", &nanc);
	if (!ancs)
		return vg_errf(err, n, -ENOMEM, "out of memory");
	if (nanc > VG_LINEAGE_MAX)
		nanc = VG_LINEAGE_MAX;
	for (int i = 0; i < nanc; i++)
		te->anc[i].pid = s.ppid - (uint32_t)i;
	s.anc = te->anc;
	s.nanc = nanc;
	rc = test_record(te, &s, err, n);
	if (!rc)
		test_lineage(te, ancs, nanc);
	free(ancs);
	if (rc)
		return rc;
	if (test_meta(L, t, te) || test_content(L, t, te))
		return vg_errf(err, n, -ENOMEM, "out of memory");
	lua_getfield(L, t, "unexpected_process"); /* the baseline's verdict, as the pipeline's */
	te->ev.bl.unexpected = lua_toboolean(L, -1);
	te->ev.bl.checked = te->ev.bl.unexpected;
	if (te->ev.bl.unexpected) {
		(void)snprintf(te->ev.bl.path_buf, sizeof(te->ev.bl.path_buf), "%s", s.exe);
		te->ev.bl.path = te->ev.bl.path_buf; /* fits: a test's exe is short */
	}
	lua_pop(L, 1);
	return 0;
}

/* Reports test k of policy p as failed, what went wrong and why (or NULL). Returns false. */
static bool test_failed(const struct pol *p, int k, struct test_ev *te, const char *what,
			const char *why, FILE *out)
{
	vg_event_args(&te->ev);
	fprintf(out, "FAIL %s (%s): test %d: %s%s%s%s for exe=%s args='%s'%s\n", p->info.name,
		p->info.file, k + 1, what, why ? " (" : "", why ? why : "", why ? ")" : "",
		te->ev.exe, te->ev.args, vg_event_in_container(&te->ev) ? "" : " (host)");
	return false;
}

/* Runs test k of policy p (the test's table on top of the stack). Returns whether it held. */
static bool run_test(struct vg_engine *e, struct pol *p, int k, const bool *want,
		     struct test_ev *te, FILE *out)
{
	lua_State *L = vg_lua_state(p->lua);
	char err[256];
	bool expect, got;
	uint64_t before, errors;

	lua_getfield(L, -1, "expect");
	expect = lua_toboolean(L, -1);
	lua_pop(L, 1);
	lua_getfield(L, -1, "ev");
	if (test_event(L, te, err, sizeof(err))) {
		fprintf(out, "FAIL %s (%s): test %d: %s\n", p->info.name, p->info.file, k + 1, err);
		lua_pop(L, 1);
		return false;
	}
	lua_pop(L, 1);
	before = p->info.matches;
	errors = p->info.errors;
	if (vg_event_in_container(&te->ev) || p->info.host)
		(void)engine_eval_with(e, &te->ev, want, NULL, NULL); /* counted in matches */
	got = p->info.matches != before;
	if (p->info.errors != errors) /* a check() that throws decides nothing: it fails */
		return test_failed(p, k, te, "check() failed", p->check_err, out);
	if (got == expect)
		return true;
	return test_failed(p, k, te,
			   expect ? "expected a match, got no match"
				  : "expected no match, got a match",
			   NULL, out);
}

/* Tests are not traffic: the policy's counters go back to zero. */
static void reset_counters(struct vg_policy_info *info)
{
	info->candidates = 0;
	info->matches = 0;
	info->excluded = 0;
	info->out_of_scope = 0;
	info->check_false = 0;
	info->lua_ns = 0;
	info->errors = 0;
	info->budget_stops = 0;
	info->nomem = 0;
}

/* Runs every test of policy i, alone. Adds to *total; returns the failures. */
static int run_policy_tests(struct vg_engine *e, int i, bool *want, struct test_ev *te, FILE *out,
			    int *total)
{
	struct pol *p = &e->pol[i];
	lua_State *L = vg_lua_state(p->lua);
	int nt, failed = 0;

	lua_rawgeti(L, LUA_REGISTRYINDEX, p->table_ref);
	lua_getfield(L, -1, "tests");
	nt = (int)lua_rawlen(L, -1);
	want[i] = true;
	for (int k = 0; k < nt; k++) {
		lua_rawgeti(L, -1, k + 1);
		(*total)++;
		if (!run_test(e, p, k, want, te, out))
			failed++;
		lua_pop(L, 1);
	}
	want[i] = false;
	lua_pop(L, 2);
	reset_counters(&p->info);
	return failed;
}

int vg_engine_run_tests(struct vg_engine *e, const char *filter, FILE *out, int *ntests)
{
	struct test_ev *te = calloc(1, sizeof(*te));
	bool *want = calloc((size_t)e->npol + 1, sizeof(bool));
	int failed = 0, total = 0;

	if (!want || !te) {
		free(te);
		free(want);
		return -ENOMEM;
	}
	e->testing = true;
	for (int i = 0; i < e->npol; i++) {
		const struct pol *p = &e->pol[i];

		if ((filter && !strcasestr(p->info.name, filter)) || p->info.broken)
			continue;
		failed += run_policy_tests(e, i, want, te, out, &total);
	}
	e->testing = false;
	memset(&e->st, 0, sizeof(e->st));
	free(want);
	free(te->labels);
	free(te);
	if (ntests)
		*ntests = total;
	return failed;
}
