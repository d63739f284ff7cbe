// SPDX-License-Identifier: BSD-2-Clause
/*
 * The policy engine end to end on synthetic records: StackRox matching
 * semantics (policies/README.md), containers-only, Lua checks that fail or run away,
 * the kernel filter mode, and reload atomicity.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <lauxlib.h>
#include <lua.h>

#include "engine.h"
#include "event_json.h"
#include "record.h"
#include "vigil_abi.h"

#define CTR                                                                                        \
	"/kubepods/besteffort/pod00000000-1111-2222-3333-444444444444/libpod-"                     \
	"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static char dir[64];

static void write_policy(const char *name, const char *body)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s.lua", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(body, f);
	fclose(f);
}

static void rm_policy(const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s.lua", dir, name);
	unlink(path);
}

static struct vg_engine *load_dir(int expect_errors)
{
	struct vg_engine_opts o = {.dir = dir, .budget = 100000};
	struct vg_load_error *errs;
	struct vg_engine *e;
	int n;

	assert_int_equal(vg_engine_load(&e, &o, &errs, &n), 0);
	for (int i = 0; i < n; i++)
		print_message("load: %s\n", errs[i].msg);
	vg_load_errors_free(errs, n);
	assert_int_equal(n, expect_errors);
	return e;
}

static unsigned char rec[sizeof(struct vg_exec) + VG_DATA_MAX];
static struct vg_event ev;
static char matched[1024];

static char matched_by[1024]; /* way:name; per violation */

static void on_violation(void *ctx, struct vg_event *e, int pol, const struct vg_policy_info *p,
			 const struct vg_match_by *by)
{
	(void)ctx;
	(void)e;
	(void)pol;
	strcat(matched, p->name);
	strcat(matched, ";");
	strcat(matched_by, vg_way_name(by->way));
	strcat(matched_by, ":");
	strcat(matched_by, by->name);
	strcat(matched_by, ";");
}

/* Evaluates exe + args (space separated) under uid, in a container or not. */
static const char *eval(struct vg_engine *e, const char *exe, const char *args, uint32_t uid,
			bool ctr)
{
	const char *argv[32] = {exe};
	char buf[512];
	int argc = 1;
	struct vg_record_spec s = {.exe = exe, .uid = uid, .euid = uid, .cgroup = ctr ? CTR : "/"};

	snprintf(buf, sizeof(buf), "%s", args ? args : "");
	for (char *t = strtok(buf, " "); t; t = strtok(NULL, " "))
		argv[argc++] = t;
	s.argv = argv;
	s.argc = argc;
	assert_true(vg_record_build(rec, sizeof(rec), &s) > 0);
	assert_int_equal(vg_event_decode(&ev, rec, ((struct vg_exec *)rec)->size, 0), 0);
	ev.lineage_done = true;
	ev.n_lineage = 0;
	matched[0] = '\0';
	vg_engine_eval(e, &ev, on_violation, NULL);
	return matched;
}

static void test_semantics(void **state)
{
	struct vg_engine *e;

	(void)state;
	write_policy("a", "return policy { name = 'or-values', severity = 'low',"
			  " match = { process_name = { 'curl', 'wget' } } }");
	write_policy("b", "return policy { name = 'and-criteria', severity = 'low',"
			  " match = { process_name = 'nc', process_args = '-e' } }");
	write_policy("c",
		     "return policy { name = 'or-sections', severity = 'low',"
		     " match = { { process_name = 'python3' }, { process_args = 'pwned' } } }");
	write_policy("d",
		     "return policy { name = 'negated', severity = 'low',"
		     " match = { process_name = 'systemctl', not_process_args = '--version' } }");
	write_policy(
		"e",
		"return policy { name = 'truncated', severity = 'low',"
		" match = { process_name = { 'start-stop-daem', 'a-name-longer-than-comm' } } }");
	write_policy("f", "return policy { name = 'uid-and-glob', severity = 'low',"
			  " match = { process_uid = 0, exe_path = '/opt/*/bin/*' } }");
	write_policy("g",
		     "return policy { name = 'host-too', severity = 'low', scope = { host = true },"
		     " match = { process_name = 'nmap' } }");
	write_policy("h", "return policy { name = 'regex-name', severity = 'low',"
			  " match = { process_name = 'llvm-.*' } }");
	e = load_dir(0);
	/* twice: the second pass answers from the comm and args caches, and must agree */
	for (int pass = 0; pass < 2; pass++) {
		assert_string_equal(eval(e, "/usr/bin/curl", NULL, 0, true), "or-values;");
		assert_string_equal(eval(e, "/usr/bin/WGET", NULL, 0, true),
				    "or-values;");				   /* caseless */
		assert_string_equal(eval(e, "/usr/bin/curly", NULL, 0, true), ""); /* whole name */
		assert_string_equal(eval(e, "/bin/nc", "-l -p 1", 0, true), "");   /* AND */
		assert_string_equal(eval(e, "/bin/nc", "host 1 -e /bin/sh", 0, true),
				    "and-criteria;");
		assert_string_equal(eval(e, "/bin/nc", "x-E", 0, true),
				    "and-criteria;"); /* substring, caseless */
		assert_string_equal(eval(e, "/usr/bin/python3", NULL, 0, true), "or-sections;");
		assert_string_equal(eval(e, "/bin/ls", "/tmp/pwned", 0, true), "or-sections;");
		assert_string_equal(eval(e, "/bin/systemctl", "start x", 0, true), "negated;");
		assert_string_equal(eval(e, "/bin/systemctl", "--version", 0, true), "");
		/* comm is the kernel's 15 bytes: the truncated literal matches, the long one cannot
		 */
		assert_string_equal(eval(e, "/sbin/start-stop-daemon", NULL, 0, true),
				    "truncated;");
		assert_string_equal(eval(e, "/x/a-name-longer-than-comm", NULL, 0, true), "");
		assert_string_equal(eval(e, "/opt/app/bin/run", NULL, 0, true), "uid-and-glob;");
		assert_string_equal(eval(e, "/opt/app/bin/run", NULL, 1000, true), "");
		assert_string_equal(eval(e, "/usr/bin/llvm-ar", NULL, 1000, true), "regex-name;");
		/* containers only, unless the policy opts the host in */
		assert_string_equal(eval(e, "/usr/bin/curl", NULL, 0, false), "");
		/* a cgroup path cut by the sensor's depth bound counts as a container (fail closed)
		 */
		{
			const char *argv[] = {"/usr/bin/curl"};
			struct vg_record_spec s = {.exe = "/usr/bin/curl",
						   .argv = argv,
						   .argc = 1,
						   .cgroup = "/a/b/c/d/e/f/g/h"};

			assert_true(vg_record_build(rec, sizeof(rec), &s) > 0);
			((struct vg_exec *)rec)->flags |= VG_EXEC_CGROUP_TRUNCATED;
			assert_int_equal(
				vg_event_decode(&ev, rec, ((struct vg_exec *)rec)->size, 0), 0);
			matched[0] = '\0';
			vg_engine_eval(e, &ev, on_violation, NULL);
			assert_string_equal(matched, "or-values;");
		}
		assert_string_equal(eval(e, "/usr/bin/nmap", NULL, 0, false), "host-too;");
		/* args longer than the cache key are matched every time */
		assert_string_equal(
			eval(e, "/bin/ls",
			     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
			     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa pwned",
			     0, true),
			"or-sections;");
		assert_string_equal(eval(e, "/bin/ls", "/tmp/pwnee", 0, true), "");
	}
	/* a regex name means the kernel must send every exec */
	assert_true(vg_engine_kernel_all(e));
	vg_engine_free(e);
	for (const char *p = "abcdefgh"; *p; p++) {
		char n[2] = {*p, 0};

		rm_policy(n);
	}
}

static void test_kernel_names(void **state)
{
	struct vg_engine *e;
	const char **names;
	int n;

	(void)state;
	write_policy("k", "return policy { name = 'k', severity = 'low',"
			  " match = { process_name = { 'Apt', 'dpkg' } } }");
	e = load_dir(0);
	assert_false(vg_engine_kernel_all(e));
	n = vg_engine_kernel_names(e, &names);
	assert_int_equal(n, 2);
	assert_true((!strcmp(names[0], "apt") && !strcmp(names[1], "dpkg")) ||
		    (!strcmp(names[1], "apt") && !strcmp(names[0], "dpkg")));
	/* disabling the only policy leaves nothing for the kernel to pass */
	vg_engine_enable(e, 0, false);
	assert_int_equal(vg_engine_kernel_names(e, &names), 0);
	vg_engine_free(e);
	rm_policy("k");
}

static void test_kernel_kill_actions(void **state)
{
	struct vg_engine *e;
	const uint32_t *actions, *uids;
	const char **names;
	const int *idx;
	int n, nu;

	(void)state;
	write_policy(
		"k1",
		"return policy { name = 'names', severity = 'low', enforcement = 'kill_process',"
		" match = { process_name = 'apt' } }");
	write_policy("k2", "return policy { name = 'names and uid', severity = 'low',"
			   " enforcement = 'kill_pod', scope = { host = true },"
			   " match = { process_name = 'nc', process_uid = { 0, 33 } } }");
	write_policy("k3", "return policy { name = 'with args', severity = 'low', enforcement = "
			   "'kill_process',"
			   " match = { process_name = 'curl', process_args = 'evil' } }");
	write_policy("k4", "return policy { name = 'inform', severity = 'low',"
			   " match = { process_name = 'dpkg' } }");
	e = load_dir(0);
	assert_true(vg_engine_kernel_decidable(e, vg_engine_find(e, "names")));
	assert_true(vg_engine_kernel_decidable(e, vg_engine_find(e, "names and uid")));
	assert_false(vg_engine_kernel_decidable(e, vg_engine_find(e, "with args")));
	n = vg_engine_kernel_program(e, &names, &actions);
	assert_int_equal(n, 4);
	for (int i = 0; i < n; i++) {
		if (!strcmp(names[i], "apt"))
			assert_int_equal(actions[i], VG_ACT_KILL);
		else if (!strcmp(names[i], "nc"))
			assert_int_equal(actions[i], VG_ACT_KILL_UID | VG_ACT_KILL_HOST);
		else /* curl needs user space (args), dpkg only informs */
			assert_int_equal(actions[i], 0);
	}
	nu = vg_engine_kernel_kill_uids(e, &idx, &uids);
	assert_int_equal(nu, 2);
	assert_string_equal(names[idx[0]], "nc");
	assert_true((uids[0] == 0 && uids[1] == 33) || (uids[0] == 33 && uids[1] == 0));
	vg_engine_free(e);
	rm_policy("k1");
	rm_policy("k2");
	rm_policy("k3");
	rm_policy("k4");
}

/*
 * A policy's sections together may name more uids for one process than a criterion
 * holds (256): the kernel gets every one of them, none is dropped without a word.
 */
static void test_kernel_kill_uids_all(void **state)
{
	struct vg_engine *e;
	const uint32_t *actions, *uids;
	const char **names;
	const int *idx;
	bool seen[400] = {0};
	int nu;

	(void)state;
	write_policy("u1", "local a, b = {}, {}\n"
			   "for u = 0, 199 do a[#a + 1] = u; b[#b + 1] = u + 200 end\n"
			   "return policy { name = 'many uids', severity = 'low',"
			   " enforcement = 'kill_process', match = {"
			   " { process_name = 'nc', process_uid = a },"
			   " { process_name = 'nc', process_uid = b } } }");
	e = load_dir(0);
	assert_int_equal(vg_engine_kernel_program(e, &names, &actions), 1);
	assert_int_equal(actions[0], VG_ACT_KILL_UID);
	nu = vg_engine_kernel_kill_uids(e, &idx, &uids);
	assert_int_equal(nu, 400);
	for (int i = 0; i < nu; i++) {
		assert_int_equal(idx[i], 0);
		assert_true(uids[i] < 400);
		seen[uids[i]] = true;
	}
	for (int u = 0; u < 400; u++)
		assert_true(seen[u]);
	vg_engine_free(e);
	rm_policy("u1");
}

static void test_lua_checks(void **state)
{
	struct vg_engine *e;
	struct vg_engine_stats st;
	const struct vg_policy_info *p;

	(void)state;
	write_policy("l1",
		     "return policy { name = 'check-true', severity = 'low',"
		     " match = { process_name = 'curl' },"
		     " check = function(ev) return ev.args:find('evil') ~= nil"
		     "   and ev.container_id ~= nil and ev.uid == 0 and ev.name == 'curl' end }");
	write_policy("l2", "return policy { name = 'check-error', severity = 'low',"
			   " match = { process_name = 'curl' },"
			   " check = function(ev) return ev.nosuchfield end }");
	write_policy("l3", "return policy { name = 'check-loop', severity = 'low',"
			   " match = { process_name = 'curl' },"
			   " check = function(ev) while true do end end }");
	e = load_dir(0);
	/* the broken checks fail closed, counted; the good one decides for itself */
	assert_string_equal(eval(e, "/usr/bin/curl", "http://evil", 0, true),
			    "check-true;check-error;check-loop;");
	assert_string_equal(eval(e, "/usr/bin/curl", "http://fine", 0, true),
			    "check-error;check-loop;");
	p = vg_engine_policy(e, vg_engine_find(e, "check-error"));
	assert_int_equal(p->errors, 2);
	p = vg_engine_policy(e, vg_engine_find(e, "check-loop"));
	assert_int_equal(p->budget_stops, 2);
	p = vg_engine_policy(e, vg_engine_find(e, "check-true"));
	assert_int_equal(p->candidates, 2);
	assert_int_equal(p->matches, 1);
	assert_int_equal(p->check_false, 1);
	/* an event no policy can match never enters Lua */
	vg_engine_stats(e, &st);
	assert_int_equal(st.lua_calls, 6);
	eval(e, "/bin/ls", NULL, 0, true);
	vg_engine_stats(e, &st);
	assert_int_equal(st.lua_calls, 6);
	assert_int_equal(st.rejected, 1);
	vg_engine_free(e);
	rm_policy("l1");
	rm_policy("l2");
	rm_policy("l3");
}

/* ev.killed is the kernel's own word: true when the exec was killed in the kernel. */
static void test_killed_field(void **state)
{
	const char *argv[] = {"/usr/bin/curl"};
	struct vg_record_spec s = {.exe = "/usr/bin/curl", .argv = argv, .argc = 1, .cgroup = CTR};
	struct vg_engine_stats st;
	struct vg_engine *e;

	(void)state;
	write_policy("kf", "return policy { name = 'killed-only', severity = 'low',"
			   " match = { process_name = 'curl' },"
			   " check = function(ev) return ev.killed == true end }");
	e = load_dir(0);
	assert_string_equal(eval(e, "/usr/bin/curl", NULL, 0, true), "");
	assert_true(vg_record_build(rec, sizeof(rec), &s) > 0);
	((struct vg_exec *)rec)->flags |= VG_EXEC_KILLED;
	assert_int_equal(vg_event_decode(&ev, rec, ((struct vg_exec *)rec)->size, 0), 0);
	ev.lineage_done = true;
	matched[0] = '\0';
	vg_engine_eval(e, &ev, on_violation, NULL);
	assert_string_equal(matched, "killed-only;");
	/* every event in one class: a check that said no, a violation, a fast-path reject */
	eval(e, "/bin/ls", NULL, 0, true);
	vg_engine_stats(e, &st);
	assert_int_equal(st.events, 3);
	assert_int_equal(st.passed, 1);
	assert_int_equal(st.violating, 1);
	assert_int_equal(st.rejected, 1);
	vg_engine_free(e);
	rm_policy("kf");
}

/*
 * One policy that hoards memory until its cap does not break another's
 * decision: each policy has its own state and cap, on a pool it cannot take.
 */
static void test_memory_isolated(void **state)
{
	struct vg_engine_opts o = {.dir = dir, .budget = 1000000, .lua_mem = 32u << 20};
	struct vg_load_error *errs;
	struct vg_engine *e;
	const struct vg_policy_info *hog, *guard;
	int n;

	(void)state;
	/* the hog fills memory to the last few bytes, catching the errors, and returns */
	write_policy(
		"m1",
		"local keep = {}\n"
		"local function grab(n) keep[#keep + 1] = string.rep('x', n) .. #keep end\n"
		"return policy { name = 'hog', severity = 'low', match = { process_name = 'curl' },"
		" check = function(ev) local n = 1 << 20"
		"   while n >= 16 do if not pcall(grab, n) then n = n // 2 end end"
		"   return false end }");
	write_policy("m2",
		     "return policy { name = 'guard', severity = 'low', match = { process_name = "
		     "'curl' },"
		     " check = function(ev) local t = {} for i = 1, 2000 do t[i] = ev.args .. i end"
		     "   return ev.args:find('evil') ~= nil end }");
	assert_int_equal(vg_engine_load(&e, &o, &errs, &n), 0);
	vg_load_errors_free(errs, n);
	assert_int_equal(n, 0);
	for (int i = 0; i < 5; i++) {
		/* whatever becomes of the hog, the guard decides, both ways */
		assert_null(strstr(eval(e, "/usr/bin/curl", "http://fine", 0, true), "guard;"));
		assert_non_null(strstr(eval(e, "/usr/bin/curl", "http://evil", 0, true), "guard;"));
	}
	hog = vg_engine_policy(e, vg_engine_find(e, "hog"));
	guard = vg_engine_policy(e, vg_engine_find(e, "guard"));
	print_message("hog: %llu errors, %zu bytes; guard: %llu errors\n",
		      (unsigned long long)hog->errors, hog->mem_bytes,
		      (unsigned long long)guard->errors);
	assert_true(hog->mem_bytes <= 8u << 20);
	assert_true(hog->mem_peak > 7u << 20); /* it did fill its share */
	assert_int_equal(guard->errors, 0);
	assert_int_equal(guard->matches, 5);
	assert_int_equal(guard->check_false, 5);
	assert_null(vg_engine_check_error(e, vg_engine_find(e, "guard")));
	vg_engine_free(e);
	rm_policy("m1");
	rm_policy("m2");
}

/* What the flow was asked to do, for one violation (the test's bindings' state). */
struct flow_log {
	const char *veto; /* vg_engine_enforce_veto(), as the pipeline's enforce obeys it */
	int stored, enforced, skipped, notified;
	char why[512];
};

static int log_store(lua_State *L)
{
	struct flow_log *l = vg_flow_ctx(L);

	l->stored++;
	lua_createtable(L, 0, 1);
	lua_pushstring(L, "alert-1");
	lua_setfield(L, -2, "id");
	return 1;
}

static int log_enforce(lua_State *L)
{
	struct flow_log *l = vg_flow_ctx(L);

	(void)luaL_checkstring(L, 1); /* the action: only counted here */
	if (l->veto) {
		l->skipped++;
		snprintf(l->why, sizeof(l->why), "%s", l->veto);
	} else {
		l->enforced++;
	}
	lua_pushboolean(L, l->veto == NULL);
	return 1;
}

static int log_notify(lua_State *L)
{
	((struct flow_log *)vg_flow_ctx(L))->notified++;
	lua_pushboolean(L, 1);
	return 1;
}

/* Runs the flow (lua/flow.lua, enforcing) for the policy's violation of the last evaluation. */
static struct flow_log run_flows(struct vg_engine *e, const char *policy)
{
	int pol = vg_engine_find(e, policy);
	struct flow_log l = {.veto = vg_engine_enforce_veto(e, pol)};
	const struct vg_flow_binding bindings[] = {
		{"store", log_store, &l}, {"enforce", log_enforce, &l}, {"notify", log_notify, &l}};
	char err[512];

	vg_engine_set_enforcement(e, pol, VG_ENFORCE_KILL_PROCESS);
	assert_int_equal(vg_engine_run_flow(e, &ev, pol, bindings, 3, err, sizeof(err)), 0);
	return l;
}

/* Runs the policy's flow once with the test's bindings; the flow's return code. */
static int run_flow_rc(struct vg_engine *e, int pol, struct flow_log *l, char *err, size_t n)
{
	const struct vg_flow_binding bindings[] = {
		{"store", log_store, l}, {"enforce", log_enforce, l}, {"notify", log_notify, l}};

	return vg_engine_run_flow(e, &ev, pol, bindings, 3, err, n);
}

/*
 * The bindings are the owner's closures for this one violation: what
 * store() returns reaches enforce and notify, and a `vigil` kept past its
 * flow is refused rather than reaching state that is gone.
 */
static void test_flow_bindings_are_per_violation(void **state)
{
	struct vg_engine *e;
	struct flow_log l = {0};
	char err[512];
	int pol;

	(void)state;
	write_policy("b1", "local kept\n"
			   "return policy { name = 'keeps', severity = 'low',"
			   " match = { process_name = 'curl' }, on_violation = function(ev, vigil)"
			   "   if kept then return kept.store() end"
			   "   kept = vigil; local a = vigil.store()"
			   "   assert(a.id == 'alert-1')"
			   "   assert(vigil.enforce('kill_process', a)); assert(vigil.notify(a))"
			   "   assert(vigil.notify()); vigil.log('flow ran') end }");
	e = load_dir(0);
	pol = vg_engine_find(e, "keeps");
	assert_string_equal(eval(e, "/usr/bin/curl", "x", 0, true), "keeps;");
	assert_null(vg_engine_enforce_veto(e, pol));
	assert_int_equal(run_flow_rc(e, pol, &l, err, sizeof(err)), 0);
	assert_int_equal(l.stored, 1);
	assert_int_equal(l.enforced, 1);
	assert_int_equal(l.notified, 2);
	/* the next violation's flow calls the kept vigil.store: an error, nothing stored */
	assert_int_not_equal(run_flow_rc(e, pol, &l, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "after its violation's flow returned"));
	assert_int_equal(l.stored, 1);
	assert_int_equal(vg_engine_policy(e, pol)->flow_errors, 1);
	vg_engine_free(e);
	rm_policy("b1");
}

/*
 * A failed check() of an enforcing policy never kills: the violation is
 * stored as an evaluation error and the enforcement skipped, unless the policy
 * says on_error = "enforce"; "ignore" makes no violation at all.
 */
static void test_failed_check_never_enforces(void **state)
{
	struct vg_engine *e;
	struct flow_log l;

	(void)state;
	write_policy(
		"f1",
		"return policy { name = 'fails', severity = 'low', enforcement = 'kill_process',"
		" match = { process_name = 'curl' },"
		" check = function(ev) if ev.args:find('boom') then error('no such thing') end"
		"   return ev.args:find('evil') ~= nil end }");
	write_policy("f2", "return policy { name = 'fails-closed', severity = 'low', enforcement = "
			   "'kill_process',"
			   " on_error = 'enforce', match = { process_name = 'curl' },"
			   " check = function(ev) error('no such thing') end }");
	write_policy("f3", "return policy { name = 'fails-open', severity = 'low', enforcement = "
			   "'kill_process',"
			   " on_error = 'ignore', match = { process_name = 'curl' },"
			   " check = function(ev) error('no such thing') end }");
	write_policy(
		"f4",
		"return policy { name = 'own-flow', severity = 'low', enforcement = 'kill_process',"
		" match = { process_name = 'curl' }, check = function(ev) error('no such thing') "
		"end,"
		" on_violation = function(ev, vigil, enf) vigil.store() "
		"vigil.enforce('kill_process') end }");
	e = load_dir(0);
	assert_string_equal(eval(e, "/usr/bin/curl", "boom", 0, true),
			    "fails;fails-closed;own-flow;");
	l = run_flows(e, "fails");
	assert_int_equal(l.stored, 1);
	assert_int_equal(l.enforced, 0);
	assert_int_equal(l.skipped, 1);
	assert_non_null(strstr(l.why, "no such thing"));
	l = run_flows(e, "own-flow"); /* its own on_violation cannot kill either */
	assert_int_equal(l.enforced, 0);
	assert_int_equal(l.skipped, 1);
	l = run_flows(e, "fails-closed");
	assert_int_equal(l.enforced, 1);
	assert_int_equal(l.skipped, 0);
	/* a real match of the same policy is enforced */
	assert_string_equal(eval(e, "/usr/bin/curl", "evil", 0, true),
			    "fails;fails-closed;own-flow;");
	assert_null(vg_engine_check_error(e, vg_engine_find(e, "fails")));
	l = run_flows(e, "fails");
	assert_int_equal(l.enforced, 1);
	assert_int_equal(l.skipped, 0);
	assert_int_equal(vg_engine_policy(e, vg_engine_find(e, "fails-open"))->errors, 2);
	vg_engine_free(e);
	rm_policy("f1");
	rm_policy("f2");
	rm_policy("f3");
	rm_policy("f4");
}

/* A hostile pattern at load time fails that file, promptly, and the rest load. */
static void test_hostile_load(void **state)
{
	struct vg_engine *e;

	(void)state;
	write_policy("h1", "local x = string.rep('a', 65536):find('.-.-b')\n"
			   "return policy { name = 'hostile', severity = 'low', match = { "
			   "process_name = 'a' } }");
	write_policy("h2", "return policy { name = 'fine', severity = 'low', match = { "
			   "process_name = 'a' } }");
	e = load_dir(1);
	assert_string_equal(eval(e, "/bin/a", NULL, 0, true), "fine;");
	vg_engine_free(e);
	rm_policy("h1");
	rm_policy("h2");
}

static void test_reload_is_atomic(void **state)
{
	struct vg_engine_opts o = {.dir = dir};
	struct vg_load_error *errs;
	struct vg_engine *e;
	int n;

	(void)state;
	write_policy(
		"r1",
		"return policy { name = 'one', severity = 'low', match = { process_name = 'a' } }");
	e = load_dir(0);
	vg_engine_enable(e, 0, false);
	write_policy(
		"r2",
		"return policy { name = 'two', severity = 'low', match = { process_name = 'b' } }");
	write_policy("r3", "return policy { name = 'three', severity = 'low', match = { "
			   "process_name = 'c(' } }");
	assert_int_equal(vg_engine_reload(&e, &o, &errs, &n), -EINVAL);
	assert_int_equal(n, 1);
	vg_load_errors_free(errs, n);
	assert_int_equal(vg_engine_count(e), 1); /* the old set, whole */
	rm_policy("r3");
	assert_int_equal(vg_engine_reload(&e, &o, &errs, &n), 0);
	vg_load_errors_free(errs, n);
	assert_int_equal(vg_engine_count(e), 2);
	/* the setting of 'one' survived the reload */
	assert_false(vg_engine_policy(e, vg_engine_find(e, "one"))->enabled);
	assert_true(vg_engine_policy(e, vg_engine_find(e, "two"))->enabled);
	vg_engine_free(e);
	rm_policy("r1");
	rm_policy("r2");
}

/* Evaluates an exec with its mapped exe's name and content names; returns way:name; per
 * violation. */
static const char *eval_ident(struct vg_engine *e, const char *exe, const char *exe_name,
			      const char *args, const char *content)
{
	const char *argv[32] = {exe};
	char buf[512];
	int argc = 1;
	struct vg_record_spec s = {.exe = exe, .exe_name = exe_name, .cgroup = CTR};

	snprintf(buf, sizeof(buf), "%s", args ? args : "");
	for (char *t = strtok(buf, " "); t; t = strtok(NULL, " "))
		argv[argc++] = t;
	s.argv = argv;
	s.argc = argc;
	assert_true(vg_record_build(rec, sizeof(rec), &s) > 0);
	assert_int_equal(vg_event_decode(&ev, rec, ((struct vg_exec *)rec)->size, 0), 0);
	ev.lineage_done = true;
	ev.n_lineage = 0;
	if (content) {
		snprintf(ev.id.content[0], sizeof(ev.id.content[0]), "%s", content);
		ev.id.n_content = 1;
	}
	matched[0] = matched_by[0] = '\0';
	vg_engine_eval(e, &ev, on_violation, NULL);
	return matched_by;
}

/* Every name of an exec is looked up, the first that matches is reported. */
static void test_matched_by(void **state)
{
	struct vg_engine *e;

	(void)state;
	write_policy("w1", "return policy { name = 'lit', severity = 'low',"
			   " match = { process_name = 'dpkg' } }");
	write_policy("w2", "return policy { name = 'rx', severity = 'low',"
			   " match = { process_name = 'apt-.*' } }");
	write_policy("w3", "return policy { name = 'long', severity = 'low',"
			   " match = { process_name = 'a-very-long-program-name' } }");
	e = load_dir(0);
	assert_string_equal(eval_ident(e, "/usr/bin/dpkg", "dpkg", NULL, NULL), "comm:dpkg;");
	assert_string_equal(eval_ident(e, "/usr/bin/dpkg", NULL, NULL, NULL), "comm:dpkg;");
	assert_string_equal(eval_ident(e, "/tmp/x", "dpkg", NULL, NULL), "exe:dpkg;");
	assert_string_equal(eval_ident(e, "/lib64/ld-linux-x86-64.so.2", "ld-linux-x86-64.so.2",
				       "--preload a.so /usr/bin/apt-get install", NULL),
			    "loader:apt-get;");
	assert_string_equal(eval_ident(e, "/bin/busybox", "busybox", "dpkg -l", NULL),
			    "applet:dpkg;");
	assert_string_equal(eval_ident(e, "/tmp/x", "x", NULL, "dpkg"), "content:dpkg;");
	/* comm is cut to 15 bytes, the exe's name is not */
	assert_string_equal(eval_ident(e, "/opt/a-very-long-program-name",
				       "a-very-long-program-name", NULL, NULL),
			    "exe:a-very-long-program-name;");
	assert_string_equal(eval_ident(e, "/tmp/x", "dpkg-query", "-W", NULL), "");
	assert_string_equal(eval_ident(e, "/bin/busybox", "busybox", "ls", NULL), "");
	assert_string_equal(eval_ident(e, "/usr/bin/ldd", "ldd", "/usr/bin/dpkg", NULL), "");
	/* a renamed copy of busybox or ld.so is parsed by its content name */
	assert_string_equal(eval_ident(e, "/tmp/bb2", "bb2", "dpkg -l", "busybox"), "applet:dpkg;");
	assert_string_equal(eval_ident(e, "/tmp/l", "l", "/usr/bin/dpkg", "ld-linux-x86-64.so.2"),
			    "loader:dpkg;");
	/* ldd: ld.so inspects the program, it does not run it */
	assert_string_equal(eval_ident(e, "/lib64/ld-linux-x86-64.so.2", "ld-linux-x86-64.so.2",
				       "--list /usr/bin/dpkg", NULL),
			    "");
	/* a long literal is keyed by its first 15 bytes: the kernel never decides on those */
	assert_true(vg_engine_kernel_decidable(e, vg_engine_find(e, "lit")));
	assert_false(vg_engine_kernel_decidable(e, vg_engine_find(e, "long")));
	/* the content module's question: would a policy want a file of this name? */
	assert_true(vg_engine_name_wanted(e, "dpkg"));
	assert_true(vg_engine_name_wanted(e, "apt-get"));
	assert_true(vg_engine_name_wanted(e, "a-very-long-program-name"));
	assert_false(vg_engine_name_wanted(e, "a-very-long-pro"));
	assert_false(vg_engine_name_wanted(e, "dpkg-query"));
	assert_true(vg_engine_name_wanted(e, "busybox")); /* its copies are parsed by content */
	assert_true(vg_engine_name_wanted(e, "ld-linux-x86-64.so.2"));
	vg_engine_enable(e, vg_engine_find(e, "lit"), false);
	assert_false(vg_engine_name_wanted(e, "dpkg"));
	vg_engine_free(e);
	rm_policy("w1");
	rm_policy("w2");
	rm_policy("w3");
}

/* `vigil events --json`: the executable's names and facts. */
static void test_event_json_identity(void **state)
{
	struct vg_engine *e;
	json_t *o;

	(void)state;
	write_policy("j1", "return policy { name = 'none', severity = 'low',"
			   " match = { process_name = 'nothing' } }");
	e = load_dir(0);
	(void)eval_ident(e, "/lib64/ld-linux-x86-64.so.2", "ld-linux-x86-64.so.2",
			 "/usr/bin/dpkg -l", "dpkg");
	memset(ev.id.sha256, 0x0f, sizeof(ev.id.sha256));
	ev.id.has_sha256 = true;
	ev.id.not_in_image = true;
	ev.id.not_in_image_by = VG_DECIDED_USER;
	o = vg_event_json(&ev);
	assert_non_null(o);
	assert_string_equal(json_string_value(json_object_get(o, "exe_name")),
			    "ld-linux-x86-64.so.2");
	assert_string_equal(json_string_value(json_object_get(o, "loader")), "dpkg");
	assert_true(json_is_null(json_object_get(o, "applet")));
	assert_string_equal(json_string_value(json_array_get(json_object_get(o, "content"), 0)),
			    "dpkg");
	assert_string_equal(json_string_value(json_object_get(o, "exe_sha256")),
			    "0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f");
	assert_true(json_is_false(json_object_get(o, "exe_fileless")));
	assert_true(json_is_true(json_object_get(o, "exe_not_in_image")));
	assert_string_equal(json_string_value(json_object_get(o, "exe_not_in_image_by")),
			    "userspace");
	json_decref(o);
	vg_engine_free(e);
	rm_policy("j1");
}

/* A check() sees the executable's names and facts. */
static void test_lua_identity_fields(void **state)
{
	struct vg_engine *e;

	(void)state;
	write_policy("i1",
		     "return policy { name = 'ident', severity = 'low',"
		     " match = { process_name = 'dpkg' }, check = function(ev)"
		     " return ev.exe_name == 'ld.so' and ev.loader == 'dpkg' and ev.applet == nil"
		     " and ev.content[1] == 'dpkg' and #ev.content == 1 and ev.exe_sha256 == nil"
		     " and ev.exe_fileless == false and ev.exe_not_in_image == false end }");
	e = load_dir(0);
	assert_string_equal(eval_ident(e, "/lib/ld.so", "ld.so", "/usr/bin/dpkg", "dpkg"),
			    "loader:dpkg;");
	assert_string_equal(eval_ident(e, "/lib/ld.so", "ld.so", "/usr/bin/dpkg", NULL), "");
	vg_engine_free(e);
	rm_policy("i1");
}

static void test_bad_files_others_load(void **state)
{
	struct vg_engine *e;

	(void)state;
	write_policy("x1", "return policy { name = 'good', severity = 'low', match = { "
			   "process_name = 'a' } }");
	write_policy("x2", "return policy { name = 'bad', severity = 'low', match = { process_name "
			   "= 'a(' } }");
	write_policy("x3", "return policy { name = 'good', severity = 'low', match = { "
			   "process_name = 'b' } }");
	e = load_dir(2); /* a bad regex and a duplicate name */
	assert_int_equal(vg_engine_find(e, "good") >= 0, 1);
	assert_string_equal(eval(e, "/bin/a", NULL, 0, true), "good;");
	vg_engine_free(e);
	rm_policy("x1");
	rm_policy("x2");
	rm_policy("x3");
}

/* Evaluates exe with the record's flags (VG_EXEC_EXE_*) set as the kernel would. */
static const char *eval_exe(struct vg_engine *e, const char *exe, uint32_t flags, bool ctr)
{
	struct vg_record_spec s = {.exe = exe, .cgroup = ctr ? CTR : "/", .flags = flags};

	if (ctr)
		s.flags |= VG_EXEC_IN_CONTAINER;
	assert_true(vg_record_build(rec, sizeof(rec), &s) > 0);
	assert_int_equal(vg_event_decode(&ev, rec, ((struct vg_exec *)rec)->size, 0), 0);
	ev.lineage_done = true;
	ev.n_lineage = 0;
	matched[0] = '\0';
	vg_engine_eval(e, &ev, on_violation, NULL);
	return matched;
}

#define FILELESS (VG_EXEC_EXE_KNOWN | VG_EXEC_EXE_FILELESS)
#define UPPER	 (VG_EXEC_EXE_KNOWN | VG_EXEC_EXE_UPPER)

/* exe_fileless and exe_not_in_image match the event's facts, true or false; ev sees them. */
static void test_exe_fact_criteria(void **state)
{
	struct vg_engine *e;

	(void)state;
	write_policy("f1", "return policy { name = 'fl', severity = 'high',"
			   " match = { exe_fileless = true } }");
	write_policy("f2", "return policy { name = 'drift', severity = 'high',"
			   " match = { exe_not_in_image = true }, scope = { host = true } }");
	write_policy("f3", "return policy { name = 'on disk', severity = 'low',"
			   " match = { process_name = 'x', exe_fileless = false } }");
	write_policy("f4", "return policy { name = 'lua', severity = 'low',"
			   " match = { process_name = 'y' }, check = function(ev)"
			   " return ev.exe_fileless and not ev.exe_not_in_image end }");
	e = load_dir(0);
	assert_string_equal(eval_exe(e, "/memfd:a (deleted)", FILELESS, true), "fl;");
	assert_string_equal(eval_exe(e, "/tmp/a", UPPER, true), "drift;");
	assert_string_equal(eval_exe(e, "/usr/bin/a", VG_EXEC_EXE_KNOWN, true), "");
	/* fileless in a container's cgroup but the host's pid namespace: the runtime's re-exec */
	{
		struct vg_record_spec s = {.exe = "/memfd:runc (deleted)",
					   .cgroup = CTR,
					   .pid = 4242,
					   .ns_pid = 4242,
					   .flags = FILELESS | VG_EXEC_IN_CONTAINER};

		assert_true(vg_record_build(rec, sizeof(rec), &s) > 0);
		assert_int_equal(vg_event_decode(&ev, rec, ((struct vg_exec *)rec)->size, 0), 0);
		ev.lineage_done = true;
		matched[0] = '\0';
		vg_engine_eval(e, &ev, on_violation, NULL);
		assert_string_equal(matched, "");
		assert_true(ev.id.fileless);
	}
	/* the upper layer on the host is no drift: the host has no image */
	assert_string_equal(eval_exe(e, "/tmp/a", UPPER, false), "");
	assert_string_equal(eval_exe(e, "/tmp/x", 0, true), "on disk;");
	assert_string_equal(eval_exe(e, "/tmp/x", FILELESS, true), "fl;");
	eval_exe(e, "/tmp/y", FILELESS, true); /* both, in either order */
	assert_true(!strcmp(matched, "fl;lua;") || !strcmp(matched, "lua;fl;"));
	assert_string_equal(eval_exe(e, "/tmp/y", UPPER, true), "drift;");
	assert_string_equal(eval_exe(e, "/tmp/y", 0, true), "");
	vg_engine_free(e);
	rm_policy("f1");
	rm_policy("f2");
	rm_policy("f3");
	rm_policy("f4");
}

/* Loads one policy that must fail; its error must name want (file:line and what). */
static void expect_load_error(const char *body, const char *want)
{
	struct vg_engine_opts o = {.dir = dir};
	struct vg_load_error *errs;
	struct vg_engine *e;
	int n;

	write_policy("bad", body);
	assert_int_equal(vg_engine_load(&e, &o, &errs, &n), 0);
	assert_int_equal(n, 1);
	if (!strstr(errs[0].msg, want))
		print_message("error: %s\nwant: %s\n", errs[0].msg, want);
	assert_non_null(strstr(errs[0].msg, want));
	assert_int_equal(vg_engine_count(e), 0);
	vg_load_errors_free(errs, n);
	vg_engine_free(e);
	rm_policy("bad");
}

#define HASH_A "00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF"
#define HASH_B "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"

static void test_exe_fact_load_errors(void **state)
{
	char big[160000];
	int o;

	(void)state;
	expect_load_error("return policy { name = 'b', severity = 'low',\n"
			  " match = { exe_fileless = 'yes' } }",
			  "bad.lua:2: policy.match.exe_fileless must be true or false");
	expect_load_error("return policy { name = 'b', severity = 'low',\n"
			  " match = {\n exe_not_in_image = 1 } }",
			  "bad.lua:3: policy.match.exe_not_in_image must be true or false");
	expect_load_error("return policy { name = 'b', severity = 'low',\n"
			  " match = { exe_fileless = true },\n"
			  " known_hashes = { dpkg = { '" HASH_A "',\n '00ff' } } }",
			  "bad.lua:4: policy.known_hashes.dpkg[2] must be a SHA-256");
	expect_load_error(
		"return policy { name = 'b', severity = 'low',\n"
		" match = { exe_fileless = true },\n"
		" known_hashes = { dpkg = { '" HASH_B "' },\n ['zz'] = {} } }",
		"policy.known_hashes.zz must be a SHA-256 (64 hex digits) or a non-empty");
	expect_load_error("return policy { name = 'b', severity = 'low',\n"
			  " match = { exe_fileless = true },\n"
			  " known_hashes = { [string.rep('n', 256)] = '" HASH_B "' } }",
			  "bad.lua:3: policy.known_hashes: a name must be a non-empty string of at "
			  "most 255 bytes");
	expect_load_error(
		"return policy { name = 'b', severity = 'low',\n"
		" match = { exe_fileless = true },\n"
		" known_hashes = { dpkg = '" HASH_B "x' } }",
		"bad.lua:3: policy.known_hashes.dpkg[1] must be a SHA-256: 64 hex digits");
	/* 1025 hashes: one too many */
	o = snprintf(big, sizeof(big),
		     "local h = {}\nfor i = 1, 1025 do h[i] = '%s' end\n"
		     "return policy { name = 'b', severity = 'low',\n"
		     " match = { exe_fileless = true },\n known_hashes = { dpkg = h } }",
		     HASH_B);
	assert_true(o > 0 && o < (int)sizeof(big));
	expect_load_error(big, "bad.lua:5: policy.known_hashes has more than 1024 hashes");
}

static void test_known_hashes(void **state)
{
	const uint8_t(*sha)[32];
	const char **names;
	struct vg_engine *e;
	int n, pi;

	(void)state;
	write_policy("k1", "return policy { name = 'one', severity = 'low',"
			   " match = { process_name = 'dpkg' },"
			   " known_hashes = { DPKG = { '" HASH_A "', '" HASH_B "' } } }");
	write_policy("k2",
		     "return policy { name = 'two', severity = 'low',"
		     " match = { process_name = 'nc' }, known_hashes = { nc = '" HASH_B "' } }");
	write_policy("k3", "return policy { name = 'none', severity = 'low',"
			   " match = { process_name = 'sh' } }");
	e = load_dir(0);
	n = vg_engine_known_hashes(e, &names, &sha);
	assert_int_equal(n, 3);
	pi = !strcmp(names[0], "dpkg") ? 0 : 2; /* load order is file order: k1 first */
	assert_int_equal(pi, 0);
	assert_string_equal(names[0], "dpkg");
	assert_string_equal(names[1], "dpkg");
	assert_string_equal(names[2], "nc");
	assert_int_equal(sha[0][0], 0x00);
	assert_int_equal(sha[0][1], 0x11);
	assert_int_equal(sha[0][31], 0xff);
	assert_int_equal(sha[0][26], 0xaa); /* upper-case hex reads the same */
	assert_int_equal(sha[1][0], 0xff);
	/* a disabled policy's hashes are not asked about */
	vg_engine_enable(e, vg_engine_find(e, "one"), false);
	n = vg_engine_known_hashes(e, &names, &sha);
	assert_int_equal(n, 1);
	assert_string_equal(names[0], "nc");
	vg_engine_free(e);
	rm_policy("k1");
	rm_policy("k2");
	rm_policy("k3");
}

/* Loads one policy and returns the engine's vg_exe_policy bits for it. */
static uint32_t exe_bits(const char *body, bool decidable)
{
	struct vg_engine *e;
	uint32_t bits;

	write_policy("x", body);
	e = load_dir(0);
	bits = vg_engine_kernel_exe_policy(e);
	assert_int_equal(vg_engine_kernel_decidable(e, 0), decidable);
	/* sent by their own bits: the kernel need not send every exec for them */
	assert_false(vg_engine_kernel_all(e));
	vg_engine_enable(e, 0, false);
	assert_int_equal(vg_engine_kernel_exe_policy(e), 0);
	vg_engine_enable(e, 0, true);
	vg_engine_set_enforcement(e, 0, VG_ENFORCE_INFORM);
	assert_int_equal(vg_engine_kernel_exe_policy(e) &
				 ~(uint32_t)(VG_EXE_SEND_FILELESS | VG_EXE_SEND_DRIFT),
			 0);
	vg_engine_free(e);
	rm_policy("x");
	return bits;
}

#define P(x) "return policy { name = 'p', severity = 'high', " x " }"

static void test_kernel_exe_policy(void **state)
{
	(void)state;
	assert_int_equal(exe_bits(P("match = { exe_fileless = true }"), true),
			 VG_EXE_SEND_FILELESS);
	assert_int_equal(
		exe_bits(P("enforcement = 'kill_process', match = { exe_fileless = true }"), true),
		VG_EXE_SEND_FILELESS | VG_EXE_KILL_FILELESS);
	assert_int_equal(exe_bits(P("enforcement = 'kill_pod', scope = { host = true },"
				    " match = { exe_fileless = true }"),
				  true),
			 VG_EXE_SEND_FILELESS | VG_EXE_KILL_FILELESS | VG_EXE_KILL_FILELESS_HOST);
	assert_int_equal(
		exe_bits(P("enforcement = 'kill_process', exclude = { namespace = 'kube' },"
			   " match = { exe_fileless = true }"),
			 false),
		VG_EXE_SEND_FILELESS);
	assert_int_equal(exe_bits(P("enforcement = 'kill_process',"
				    " match = { exe_fileless = true, process_uid = 0 }"),
				  false),
			 VG_EXE_SEND_FILELESS);
	assert_int_equal(exe_bits(P("enforcement = 'kill_process', match = { exe_fileless = true },"
				    " check = function(ev) return true end"),
				  false),
			 VG_EXE_SEND_FILELESS);
	assert_int_equal(exe_bits(P("enforcement = 'kill_process', match = {"
				    " { exe_fileless = true }, { exe_not_in_image = true } }"),
				  false),
			 VG_EXE_SEND_FILELESS | VG_EXE_SEND_DRIFT);
	assert_int_equal(exe_bits(P("match = { exe_not_in_image = true }"), true),
			 VG_EXE_SEND_DRIFT);
	assert_int_equal(exe_bits(P("enforcement = 'kill_process', scope = { host = true },"
				    " match = { exe_not_in_image = true }"),
				  true),
			 VG_EXE_SEND_DRIFT | VG_EXE_KILL_DRIFT); /* never on the host */
	assert_int_equal(exe_bits(P("enforcement = 'kill_process', match = {"
				    " exe_not_in_image = true, not_process_name = 'ok' }"),
				  false),
			 VG_EXE_SEND_DRIFT);
	/* a fact the section needs false asks nothing of the kernel */
	write_policy("x", P("enforcement = 'kill_process',"
			    " match = { process_name = 'a', exe_fileless = false }"));
	{
		struct vg_engine *e = load_dir(0);

		assert_int_equal(vg_engine_kernel_exe_policy(e), 0);
		assert_false(vg_engine_kernel_decidable(e, 0));
		vg_engine_free(e);
	}
	rm_policy("x");
}

/* Whether the kernel's copy of a locked baseline may kill, for one policy. */
static bool bl_kernel(const char *body)
{
	struct vg_engine *e;
	bool on;

	write_policy("x", body);
	e = load_dir(0);
	on = vg_engine_kernel_baselines(e);
	vg_engine_set_enforcement(e, 0, VG_ENFORCE_INFORM);
	assert_false(vg_engine_kernel_baselines(e)); /* inform never kills */
	vg_engine_free(e);
	rm_policy("x");
	return on;
}

static void test_kernel_baselines(void **state)
{
	(void)state;
	assert_false(bl_kernel(P("match = { unexpected_process = true }")));
	assert_true(bl_kernel(
		P("enforcement = 'kill_process', match = { unexpected_process = true }")));
	assert_true(
		bl_kernel(P("enforcement = 'kill_pod', match = { unexpected_process = true }")));
	/* more than the baseline decides: user space only */
	assert_false(bl_kernel(P("enforcement = 'kill_process',"
				 " match = { unexpected_process = true, process_uid = 0 }")));
	assert_false(bl_kernel(P("enforcement = 'kill_process', exclude = { namespace = 'kube' },"
				 " match = { unexpected_process = true }")));
	assert_false(
		bl_kernel(P("enforcement = 'kill_process', match = { unexpected_process = true },"
			    " check = function(ev) return true end")));
	assert_false(bl_kernel(P("enforcement = 'kill_process', match = { process_name = 'a' }")));
}

/* The matcher folds a comm's case a word at a time: only A-Z, and only the name's bytes. */
static void test_name_keys(void **state)
{
	struct vg_engine *e;

	(void)state;
	write_policy("k1", "return policy { name = 'at-sign', severity = 'low',"
			   " match = { process_name = 'abcdefgz@' } }");
	write_policy("k2", "return policy { name = 'eight', severity = 'low',"
			   " match = { process_name = 'abcdefgh' } }");
	write_policy("k3", "return policy { name = 'high-bit', severity = 'low',"
			   " match = { process_name = '\\xe1bc' } }");
	write_policy("k4", "return policy { name = 'regex-eight', severity = 'low',"
			   " match = { process_name = 'qrstuvw.' } }");
	write_policy("k5", "return policy { name = 'short', severity = 'low',"
			   " match = { process_name = 'short' } }");
	e = load_dir(0);
	for (int pass = 0; pass < 2; pass++) { /* the second from the caches */
		assert_string_equal(eval(e, "/x/ABCDEFGZ@", NULL, 0, true), "at-sign;");
		assert_string_equal(eval(e, "/x/abcdefgz`", NULL, 0, true), ""); /* '@' | 0x20 */
		assert_string_equal(eval(e, "/x/ABCDEFGH", NULL, 0, true), "eight;");
		assert_string_equal(eval(e, "/x/abcdefghi", NULL, 0, true), ""); /* 9 bytes */
		assert_string_equal(eval(e, "/x/abcdefg", NULL, 0, true), "");
		assert_string_equal(eval(e,
					 "/x/\xe1"
					 "bc",
					 NULL, 0, true),
				    "high-bit;");
		assert_string_equal(eval(e,
					 "/x/\xc1"
					 "bc",
					 NULL, 0, true),
				    ""); /* not ASCII 'A' */
		assert_string_equal(eval(e, "/x/QRSTUVWX", NULL, 0, true), "regex-eight;");
		assert_string_equal(eval(e, "/x/qrstuvwxy", NULL, 0, true), "");
		/* a comm's bytes after its NUL are not part of its name (both words) */
		for (int len = 5; len <= 8; len += 3) {
			char *comm = ((struct vg_exec *)rec)->comm;
			const char *want = len == 5 ? "short;" : "eight;";

			assert_string_equal(
				eval(e, len == 5 ? "/x/SHORT" : "/x/abcdefgh", NULL, 0, true),
				want);
			memset(comm + len + 1, 'q', VG_COMM_LEN - len - 2);
			assert_int_equal(
				vg_event_decode(&ev, rec, ((struct vg_exec *)rec)->size, 0), 0);
			matched[0] = '\0';
			vg_engine_eval(e, &ev, on_violation, NULL);
			assert_string_equal(matched, want);
		}
	}
	vg_engine_free(e);
	for (const char *p = "12345"; *p; p++) {
		char n[3] = {'k', *p, 0};

		rm_policy(n);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_semantics),
		cmocka_unit_test(test_name_keys),
		cmocka_unit_test(test_kernel_names),
		cmocka_unit_test(test_kernel_kill_actions),
		cmocka_unit_test(test_kernel_kill_uids_all),
		cmocka_unit_test(test_lua_checks),
		cmocka_unit_test(test_killed_field),
		cmocka_unit_test(test_memory_isolated),
		cmocka_unit_test(test_failed_check_never_enforces),
		cmocka_unit_test(test_flow_bindings_are_per_violation),
		cmocka_unit_test(test_hostile_load),
		cmocka_unit_test(test_reload_is_atomic),
		cmocka_unit_test(test_bad_files_others_load),
		cmocka_unit_test(test_matched_by),
		cmocka_unit_test(test_event_json_identity),
		cmocka_unit_test(test_lua_identity_fields),
		cmocka_unit_test(test_exe_fact_criteria),
		cmocka_unit_test(test_exe_fact_load_errors),
		cmocka_unit_test(test_known_hashes),
		cmocka_unit_test(test_kernel_exe_policy),
		cmocka_unit_test(test_kernel_baselines),
	};
	int rc;

	snprintf(dir, sizeof(dir), "/tmp/vigil-engine-XXXXXX");
	if (!mkdtemp(dir))
		return 1;
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	rmdir(dir);
	return rc;
}
