// SPDX-License-Identifier: BSD-2-Clause
/*
 * The enforcement rules (enforcer.c) without BPF, cgroups or an API server:
 * the side effects are recorded by a fake ops table. Never vigil, never PID 1,
 * the host only under a host-scoped policy, break-glass, dry run, a failed
 * check, the container's own cgroup level, the pod deleted only when verified.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "enforcer.h"
#include "record.h"

#define CID	     "a64d5cf3b6007b2124a13570959ee8efd99f9d062692753019249ef524816820"
#define POD	     "c4c73a6e-a65a-4669-8d38-59082e097a43"
#define CONTAINER_CG "/kubepods/besteffort/pod" POD "/" CID
#define SELF_PID     4242u

/* What the ops were asked to do. */
struct fake {
	int kill_process, kill_cgroup, delete_pod, records;
	int cgroup_rc;
	bool break_glass;
	uint32_t killed_pid;
	char cgroup[4096], action[64], msg[1024], target[128], pod[64];
	bool ok;
};

static struct fake fake;

static int f_kill_process(void *ctx, uint32_t pid, char *msg, size_t n)
{
	(void)ctx;
	fake.kill_process++;
	fake.killed_pid = pid;
	snprintf(msg, n, "pid %u killed", pid);
	return 0;
}

static int f_kill_cgroup(void *ctx, const char *path, char *msg, size_t n)
{
	(void)ctx;
	fake.kill_cgroup++;
	snprintf(fake.cgroup, sizeof(fake.cgroup), "%s", path);
	snprintf(msg, n, "cgroup %s killed", path);
	return fake.cgroup_rc;
}

static void f_delete_pod(void *ctx, const struct vg_alert *a, const char *pod_uid,
			 const char *policy)
{
	(void)ctx;
	(void)a;
	(void)policy;
	fake.delete_pod++;
	snprintf(fake.pod, sizeof(fake.pod), "%s", pod_uid);
}

static bool f_break_glass(void *ctx, const struct vg_meta *pod)
{
	(void)ctx;
	return pod && fake.break_glass;
}

static void f_record(void *ctx, const struct vg_alert *a, const char *action, bool ok,
		     const char *msg, const char *target)
{
	(void)ctx;
	(void)a;
	fake.records++;
	fake.ok = ok;
	snprintf(fake.action, sizeof(fake.action), "%s", action);
	snprintf(fake.msg, sizeof(fake.msg), "%s", msg);
	snprintf(fake.target, sizeof(fake.target), "%s", target);
}

static const struct vg_enforce_ops ops = {
	.kill_process = f_kill_process,
	.kill_cgroup = f_kill_cgroup,
	.delete_pod = f_delete_pod,
	.break_glass = f_break_glass,
	.record = f_record,
};

/* One exec, its target and the request, as the pipeline builds them. */
struct exec {
	unsigned char rec[sizeof(struct vg_exec) + VG_DATA_MAX];
	struct vg_event ev;
	struct vg_enforce_target target;
	struct vg_enforce_request rq;
	char msg[768];
};

static struct exec *exec_new(uint32_t pid, const char *cgroup, uint32_t flags)
{
	struct exec *x = calloc(1, sizeof(*x));
	struct vg_record_spec s = {.exe = "/usr/bin/nc", .cgroup = cgroup, .pid = pid, .ppid = 1};

	assert_non_null(x);
	assert_true(vg_record_build(x->rec, sizeof(x->rec), &s) > 0);
	((struct vg_exec *)x->rec)->flags |= flags;
	assert_int_equal(vg_event_decode(&x->ev, x->rec, ((struct vg_exec *)x->rec)->size, 0), 0);
	vg_enforce_target_of(&x->ev, &x->target);
	x->rq = (struct vg_enforce_request){.ev = &x->ev,
					    .target = &x->target,
					    .policy = "netcat",
					    .action = VG_ENFORCE_KILL_PROCESS};
	return x;
}

static struct vg_enforcer *enforcer(bool dry_run, bool pods)
{
	struct vg_enforcer_opts o = {
		.ops = &ops, .self_pid = SELF_PID, .dry_run = dry_run, .pods = pods};
	struct vg_enforcer *enf;

	memset(&fake, 0, sizeof(fake));
	assert_int_equal(vg_enforcer_new(&enf, &o), 0);
	return enf;
}

static enum vg_enforce_outcome apply(struct vg_enforcer *enf, struct exec *x)
{
	return vg_enforcer_apply(enf, &x->rq, x->msg, sizeof(x->msg));
}

static void target_is_decided_from_the_container(void **state)
{
	struct exec *host = exec_new(100, "/system.slice/cron.service", 0);
	struct exec *ctr = exec_new(100, "/docker/" CID, 0);
	struct exec *pod = exec_new(100, CONTAINER_CG, 0);

	(void)state;
	assert_false(host->target.container);
	assert_string_equal(host->target.name, "host");
	assert_true(ctr->target.container);
	assert_string_equal(ctr->target.name, "a64d5cf3b600");
	assert_true(pod->target.container);
	assert_string_equal(pod->target.name, POD);
	free(host);
	free(ctr);
	free(pod);
}

static void refused(struct exec *x, struct vg_enforcer *enf, const char *why)
{
	struct vg_enforce_stats st;

	assert_int_equal(apply(enf, x), VG_ENFORCE_REFUSED);
	assert_int_equal(fake.kill_process + fake.kill_cgroup + fake.delete_pod, 0);
	assert_int_equal(fake.records, 1);
	assert_false(fake.ok);
	assert_non_null(strstr(fake.msg, why));
	vg_enforcer_stats(enf, &st);
	assert_int_equal(st.refused, 1);
	vg_enforcer_free(enf);
	free(x);
}

static void never_pid_1(void **state)
{
	struct exec *x = exec_new(1, CONTAINER_CG, 0);

	(void)state;
	refused(x, enforcer(false, true), "PID 1 is never killed");
}

static void never_pid_1_even_for_a_pod(void **state)
{
	struct exec *x = exec_new(1, CONTAINER_CG, 0);

	(void)state;
	x->rq.action = VG_ENFORCE_KILL_POD;
	x->rq.policy_host = true;
	refused(x, enforcer(false, true), "PID 1 is never killed");
}

static void never_vigil_itself(void **state)
{
	struct exec *x = exec_new(SELF_PID, CONTAINER_CG, 0);

	(void)state;
	x->rq.policy_host = true;
	refused(x, enforcer(false, true), "vigil never kills itself");
}

static void never_the_host_under_a_container_scope(void **state)
{
	struct exec *x = exec_new(100, "/system.slice/cron.service", 0);

	(void)state;
	refused(x, enforcer(false, true), "a host process, and the policy's scope is containers");
	assert_string_equal(fake.target, "host");
}

static void the_host_under_a_host_scope(void **state)
{
	struct vg_enforcer *enf = enforcer(false, true);
	struct exec *x = exec_new(100, "/system.slice/cron.service", 0);

	(void)state;
	x->rq.policy_host = true;
	assert_int_equal(apply(enf, x), VG_ENFORCE_DONE);
	assert_int_equal(fake.kill_process, 1);
	assert_int_equal(fake.killed_pid, 100);
	assert_string_equal(fake.action, "kill_process");
	assert_true(fake.ok);
	vg_enforcer_free(enf);
	free(x);
}

static void break_glass_exempts(void **state)
{
	static const struct vg_meta meta = {.namespace_ = "prod", .pod = "web-1"};
	struct exec *x = exec_new(100, CONTAINER_CG, 0);
	struct vg_enforcer *enf = enforcer(false, true);

	(void)state;
	x->ev.meta = &meta;
	fake.break_glass = true;
	refused(x, enf, "pod prod/web-1 is annotated vigil.io/break-glass");
}

static void dry_run_kills_nothing(void **state)
{
	struct vg_enforcer *enf = enforcer(true, true);
	struct exec *x = exec_new(100, CONTAINER_CG, 0);
	struct vg_enforce_stats st;

	(void)state;
	x->rq.action = VG_ENFORCE_KILL_POD;
	assert_int_equal(apply(enf, x), VG_ENFORCE_DRY_RUN);
	assert_int_equal(fake.kill_process + fake.kill_cgroup + fake.delete_pod, 0);
	assert_string_equal(fake.action, "dry run");
	assert_true(fake.ok);
	assert_non_null(strstr(fake.msg, "dry run: would kill the pod of pid 100"));
	vg_enforcer_stats(enf, &st);
	assert_int_equal(st.dry_run, 1);
	vg_enforcer_free(enf);
	free(x);
}

static void a_failed_check_skips(void **state)
{
	struct vg_enforcer *enf = enforcer(false, true);
	struct exec *x = exec_new(100, CONTAINER_CG, 0);

	(void)state;
	x->rq.check_error = "attempt to index a nil value";
	assert_int_equal(apply(enf, x), VG_ENFORCE_SKIPPED);
	assert_int_equal(fake.kill_process + fake.kill_cgroup + fake.delete_pod, 0);
	assert_string_equal(fake.msg, "skipped: check() failed (attempt to index a nil value)");
	assert_string_equal(fake.action, "kill_process");
	vg_enforcer_free(enf);
	free(x);
}

static void inform_is_no_kill(void **state)
{
	struct vg_enforcer *enf = enforcer(false, true);
	struct exec *x = exec_new(100, CONTAINER_CG, 0);

	(void)state;
	x->rq.action = VG_ENFORCE_INFORM;
	assert_int_equal(apply(enf, x), VG_ENFORCE_REFUSED);
	assert_int_equal(fake.kill_process + fake.kill_cgroup + fake.records, 0);
	vg_enforcer_free(enf);
	free(x);
}

static void killed_in_kernel_is_not_killed_again(void **state)
{
	struct vg_enforcer *enf = enforcer(false, true);
	struct exec *x = exec_new(100, CONTAINER_CG, VG_EXEC_KILLED);

	(void)state;
	assert_int_equal(apply(enf, x), VG_ENFORCE_DONE_IN_KERNEL);
	assert_int_equal(fake.kill_process, 0);
	assert_string_equal(fake.action, "killed in kernel");
	vg_enforcer_free(enf);
	free(x);
}

/* The container's own level, never the level named below it; the pod only when verified. */
static void kill_pod_kills_the_containers_own_cgroup(void **state)
{
	struct vg_enforcer *enf = enforcer(false, true);
	struct exec *x = exec_new(100, CONTAINER_CG "/nested/deeper", 0);

	(void)state;
	x->rq.action = VG_ENFORCE_KILL_POD;
	assert_int_equal(apply(enf, x), VG_ENFORCE_DONE);
	assert_int_equal(fake.kill_cgroup, 1);
	assert_string_equal(fake.cgroup, CONTAINER_CG);
	assert_int_equal(fake.delete_pod, 0); /* not verified by the API server */
	assert_non_null(strstr(fake.msg, "not in this node's pod list"));
	vg_enforcer_free(enf);
	free(x);
}

static void kill_pod_deletes_a_verified_pod(void **state)
{
	struct vg_enforcer *enf = enforcer(false, true);
	struct exec *x = exec_new(100, CONTAINER_CG, 0);

	(void)state;
	x->rq.action = VG_ENFORCE_KILL_POD;
	x->ev.pod_verified = true;
	assert_int_equal(apply(enf, x), VG_ENFORCE_DONE);
	assert_int_equal(fake.delete_pod, 1);
	assert_string_equal(fake.pod, POD);
	vg_enforcer_free(enf);
	free(x);
}

static void kill_pod_without_kubernetes_deletes_nothing(void **state)
{
	struct vg_enforcer *enf = enforcer(false, false);
	struct exec *x = exec_new(100, CONTAINER_CG, 0);

	(void)state;
	x->rq.action = VG_ENFORCE_KILL_POD;
	x->ev.pod_verified = true;
	assert_int_equal(apply(enf, x), VG_ENFORCE_DONE);
	assert_int_equal(fake.kill_cgroup, 1);
	assert_int_equal(fake.delete_pod, 0);
	vg_enforcer_free(enf);
	free(x);
}

static void kill_pod_of_a_denied_pod_fails(void **state)
{
	struct vg_enforcer *enf = enforcer(false, true);
	struct exec *x = exec_new(100, CONTAINER_CG, 0);
	struct vg_enforce_stats st;

	(void)state;
	x->rq.action = VG_ENFORCE_KILL_POD;
	x->ev.pod_denied = true;
	snprintf(x->ev.attr_warning, sizeof(x->ev.attr_warning), "a delegated subtree");
	assert_int_equal(apply(enf, x), VG_ENFORCE_FAILED);
	assert_int_equal(fake.kill_cgroup, 1); /* the container dies all the same */
	assert_int_equal(fake.delete_pod, 0);
	assert_non_null(strstr(fake.msg, "no pod deleted: a delegated subtree"));
	vg_enforcer_stats(enf, &st);
	assert_int_equal(st.failed, 1);
	vg_enforcer_free(enf);
	free(x);
}

static void kill_pod_gone_cgroup_is_success(void **state)
{
	struct vg_enforcer *enf = enforcer(false, false);
	struct exec *x = exec_new(100, CONTAINER_CG, 0);

	(void)state;
	x->rq.action = VG_ENFORCE_KILL_POD;
	fake.cgroup_rc = -ENOENT;
	assert_int_equal(apply(enf, x), VG_ENFORCE_DONE);
	vg_enforcer_free(enf);
	free(x);
}

/* A path cut short has no level to trust: the process alone is killed, no cgroup. */
static void kill_pod_of_a_path_cut_short_kills_the_process_alone(void **state)
{
	struct vg_enforcer *enf = enforcer(false, true);
	struct exec *x = exec_new(100, CONTAINER_CG, VG_EXEC_CGROUP_TRUNCATED);

	(void)state;
	x->rq.action = VG_ENFORCE_KILL_POD;
	assert_true(x->ev.ctr.truncated);
	assert_int_equal(apply(enf, x), VG_ENFORCE_FAILED);
	assert_int_equal(fake.kill_cgroup + fake.delete_pod, 0);
	assert_int_equal(fake.kill_process, 1);
	assert_non_null(strstr(fake.msg, "refused: the cgroup path is deeper than the sensor"));
	vg_enforcer_free(enf);
	free(x);
}

/* kill_pod of a host process: its cgroup is the host's (a service, a session): the process alone.
 */
static void kill_pod_of_a_host_process_kills_the_process_alone(void **state)
{
	struct vg_enforcer *enf = enforcer(false, false);
	struct exec *x = exec_new(100, "/system.slice/cron.service", 0);

	(void)state;
	x->rq.action = VG_ENFORCE_KILL_POD;
	x->rq.policy_host = true;
	assert_int_equal(apply(enf, x), VG_ENFORCE_DONE);
	assert_int_equal(fake.kill_cgroup + fake.delete_pod, 0);
	assert_int_equal(fake.kill_process, 1);
	assert_int_equal(fake.killed_pid, 100);
	assert_string_equal(fake.action, "kill_process");
	assert_non_null(strstr(fake.msg, "a host process: the process alone"));
	vg_enforcer_free(enf);
	free(x);
}

/* The kernel killed at exec, then kill_pod took the container: the alert says both. */
static void killed_in_kernel_then_the_container(void **state)
{
	struct vg_enforcer *enf = enforcer(false, false);
	struct exec *x = exec_new(100, CONTAINER_CG, VG_EXEC_KILLED);

	(void)state;
	x->rq.action = VG_ENFORCE_KILL_POD;
	assert_int_equal(apply(enf, x), VG_ENFORCE_DONE_IN_KERNEL);
	assert_int_equal(fake.kill_process, 0);
	assert_int_equal(fake.kill_cgroup, 1);
	assert_string_equal(fake.cgroup, CONTAINER_CG);
	assert_string_equal(fake.action, "killed in kernel + kill_pod");
	assert_non_null(strstr(fake.msg, "killed in kernel at exec (pid 100)"));
	assert_non_null(strstr(fake.msg, "cgroup " CONTAINER_CG " killed"));
	vg_enforcer_free(enf);
	free(x);
}

static void effects_say_what_each_mode_does(void **state)
{
	(void)state;
	assert_non_null(strstr(vg_enforce_effect(VG_ENFORCE_KILL_POD, 1), "Kubernetes DELETE"));
	assert_null(strstr(vg_enforce_effect(VG_ENFORCE_KILL_POD, 0), "Kubernetes"));
	assert_non_null(strstr(vg_enforce_effect(VG_ENFORCE_KILL_POD, 0), "container's cgroup"));
	assert_null(strstr(vg_enforce_effect(VG_ENFORCE_KILL_PROCESS, 1), "cgroup"));
	assert_non_null(strstr(vg_enforce_effect(VG_ENFORCE_INFORM, -1), "kill nothing"));
}

static void modes_parse_once(void **state)
{
	enum vg_enforce_mode m = VG_ENFORCE_INFORM;

	(void)state;
	assert_int_equal(vg_enforce_mode_parse("kill_pod", &m), 0);
	assert_int_equal(m, VG_ENFORCE_KILL_POD);
	assert_int_equal(vg_enforce_mode_parse("kill_process", &m), 0);
	assert_int_equal(m, VG_ENFORCE_KILL_PROCESS);
	assert_int_equal(vg_enforce_mode_parse("Kill_pod", &m), -EINVAL);
	assert_int_equal(vg_enforce_mode_parse(NULL, &m), -EINVAL);
	assert_string_equal(vg_enforce_mode_name(VG_ENFORCE_INFORM), "inform");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(target_is_decided_from_the_container),
		cmocka_unit_test(never_pid_1),
		cmocka_unit_test(never_pid_1_even_for_a_pod),
		cmocka_unit_test(never_vigil_itself),
		cmocka_unit_test(never_the_host_under_a_container_scope),
		cmocka_unit_test(the_host_under_a_host_scope),
		cmocka_unit_test(break_glass_exempts),
		cmocka_unit_test(dry_run_kills_nothing),
		cmocka_unit_test(a_failed_check_skips),
		cmocka_unit_test(inform_is_no_kill),
		cmocka_unit_test(killed_in_kernel_is_not_killed_again),
		cmocka_unit_test(kill_pod_kills_the_containers_own_cgroup),
		cmocka_unit_test(kill_pod_deletes_a_verified_pod),
		cmocka_unit_test(kill_pod_without_kubernetes_deletes_nothing),
		cmocka_unit_test(kill_pod_of_a_denied_pod_fails),
		cmocka_unit_test(kill_pod_gone_cgroup_is_success),
		cmocka_unit_test(kill_pod_of_a_path_cut_short_kills_the_process_alone),
		cmocka_unit_test(kill_pod_of_a_host_process_kills_the_process_alone),
		cmocka_unit_test(killed_in_kernel_then_the_container),
		cmocka_unit_test(effects_say_what_each_mode_does),
		cmocka_unit_test(modes_parse_once),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
