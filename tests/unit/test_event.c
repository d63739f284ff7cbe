// SPDX-License-Identifier: BSD-2-Clause
/*
 * Decoding sensor records: well-formed records decode to the right fields,
 * malformed ones are refused with -EBADMSG and never read out of bounds.
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

#include "event.h"
#include "record.h"

#define CID "a64d5cf3b6007b2124a13570959ee8efd99f9d062692753019249ef524816820"
#define POD "c4c73a6e-a65a-4669-8d38-59082e097a43"

struct rec {
	struct vg_exec h;
	char data[VG_DATA_MAX];
};

static size_t put(struct rec *r, size_t off, const char *s, size_t n)
{
	memcpy(r->data + off, s, n);
	return off + n;
}

/* A record as the kernel builds it: exe, cwd and cgroup leaf first, argv. */
static size_t build(struct rec *r)
{
	static const char cwd[] = "deeper\0work dir\0tmp";
	static const char cg[] = "libpod-" CID "\0pod" POD "\0besteffort\0kubepods";
	static const char args[] = "/usr/bin/dpkg\0--version\0two words";
	size_t o = 0;

	memset(r, 0, sizeof(*r));
	r->h.type = VG_REC_EXEC;
	r->h.abi = VG_ABI_VERSION;
	r->h.pid = 100;
	r->h.ppid = 99;
	r->h.boot_ns = 5;
	r->h.argc = 3;
	r->h.flags = VG_EXEC_HAS_CWD;
	memcpy(r->h.comm, "dpkg", 5);
	r->h.exe_off = 0;
	r->h.exe_len = 13;
	o = put(r, o, "/usr/bin/dpkg", 14);
	r->h.cwd_off = o;
	r->h.cwd_len = sizeof(cwd);
	r->h.cwd_depth = 3;
	o = put(r, o, cwd, sizeof(cwd));
	r->h.cg_off = o;
	r->h.cg_len = sizeof(cg);
	r->h.cg_depth = 4;
	o = put(r, o, cg, sizeof(cg));
	r->h.args_off = o;
	r->h.args_len = sizeof(args);
	o = put(r, o, args, sizeof(args));
	r->h.n_ancestors = 1;
	r->h.ancestors[0].pid = 99;
	r->h.size = sizeof(r->h) + o;
	return r->h.size;
}

/* the decoded event (~21 KB), on the heap for the group (group_setup) */
static struct vg_event *ev;

static int decode_all(struct rec *r, size_t n)
{
	int rc = vg_event_decode(ev, r, n, 0);

	if (!rc) {
		vg_event_args(ev);
		vg_event_container(ev);
	}
	return rc;
}

static void test_good_record(void **state)
{
	struct rec r;
	size_t n = build(&r);

	(void)state;
	assert_int_equal(vg_event_decode(ev, &r, n, 1000), 0);
	vg_event_args(ev);
	vg_event_container(ev);
	assert_int_equal(ev->time_ns, 1005);
	assert_string_equal(ev->exe, "/usr/bin/dpkg");
	assert_string_equal(ev->name, "dpkg");
	assert_string_equal(ev->comm, "dpkg");
	assert_int_equal(ev->argc, 3);
	assert_string_equal(ev->argv[0], "/usr/bin/dpkg");
	assert_string_equal(ev->argv[2], "two words");
	assert_string_equal(ev->args, "--version two words");
	assert_false(ev->args_truncated);
	assert_string_equal(ev->cwd, "/tmp/work dir/deeper");
	assert_string_equal(ev->cgroup, "/kubepods/besteffort/pod" POD "/libpod-" CID);
	assert_string_equal(ev->ctr.id, CID);
	assert_string_equal(ev->ctr.pod_uid, POD);
	assert_false(ev->lineage_done);
}

static void test_root_cwd_and_no_cwd(void **state)
{
	struct rec r;
	size_t n = build(&r);

	(void)state;
	r.h.cwd_len = 0;
	r.h.cwd_depth = 0;
	assert_int_equal(decode_all(&r, n), 0);
	assert_string_equal(ev->cwd, "/");
	r.h.flags &= ~VG_EXEC_HAS_CWD;
	assert_int_equal(decode_all(&r, n), 0);
	assert_string_equal(ev->cwd, "");
	r.h.cg_len = 0;
	r.h.cg_depth = 0;
	assert_int_equal(decode_all(&r, n), 0);
	assert_string_equal(ev->cgroup, "/");
	assert_string_equal(ev->ctr.id, "");
}

static void test_truncated_paths_are_marked(void **state)
{
	struct rec r;
	size_t n = build(&r);

	(void)state;
	r.h.flags |= VG_EXEC_CWD_TRUNCATED | VG_EXEC_CGROUP_TRUNCATED;
	assert_int_equal(decode_all(&r, n), 0);
	assert_string_equal(ev->cwd, ".../tmp/work dir/deeper");
	assert_string_equal(ev->cgroup, ".../kubepods/besteffort/pod" POD "/libpod-" CID);
}

/* The kernel cut argv mid-argument: the tail has no NUL and is kept, terminated. */
static void test_truncated_args(void **state)
{
	struct rec r;
	size_t n = build(&r);

	(void)state;
	r.h.args_len -= 4; /* "two wo", the NUL and "rds" cut */
	n -= 4;
	r.h.size = n;
	r.h.flags |= VG_EXEC_ARGS_TRUNCATED;
	r.h.argc = 9;
	assert_int_equal(decode_all(&r, n), 0);
	assert_true(ev->args_truncated);
	assert_int_equal(ev->argc, 3);
	assert_string_equal(ev->argv[2], "two wo");
	assert_string_equal(ev->args, "--version two wo");
}

/* argc larger than what the record holds means something was not captured. */
static void test_argc_mismatch_is_truncation(void **state)
{
	struct rec r;
	size_t n = build(&r);

	(void)state;
	r.h.argc = 4;
	assert_int_equal(decode_all(&r, n), 0);
	assert_true(ev->args_truncated);
}

static void test_malformed(void **state)
{
	struct rec r;
	size_t n;

	(void)state;
	n = build(&r);
	assert_int_equal(vg_event_decode(ev, &r, sizeof(r.h) - 1, 0), -EBADMSG);
	r.h.type = 7;
	assert_int_equal(vg_event_decode(ev, &r, n, 0), -EBADMSG);
	n = build(&r);
	r.h.abi = VG_ABI_VERSION + 1;
	assert_int_equal(vg_event_decode(ev, &r, n, 0), -EBADMSG);
	n = build(&r);
	assert_int_equal(vg_event_decode(ev, &r, n - 1, 0), -EBADMSG); /* size != len */
	n = build(&r);
	r.h.args_len += 100; /* past the end */
	assert_int_equal(vg_event_decode(ev, &r, n, 0), -EBADMSG);
	n = build(&r);
	r.h.cg_off = 60000;
	assert_int_equal(vg_event_decode(ev, &r, n, 0), -EBADMSG);
	n = build(&r);
	r.data[13] = 'x'; /* exe not terminated */
	assert_int_equal(vg_event_decode(ev, &r, n, 0), -EBADMSG);
	n = build(&r);
	r.h.n_ancestors = VG_LINEAGE_MAX + 1;
	assert_int_equal(vg_event_decode(ev, &r, n, 0), -EBADMSG);
}

/* A forged record with an unterminated argv longer than the kernel's bound. */
static void test_oversized_args(void **state)
{
	static struct {
		struct vg_exec h;
		char data[65536];
	} big;
	size_t n;

	(void)state;
	memset(&big, 0, sizeof(big));
	big.h.type = VG_REC_EXEC;
	big.h.abi = VG_ABI_VERSION;
	big.h.exe_len = 1;
	memcpy(big.data, "x", 2);
	big.h.args_off = 2;
	big.h.args_len = 60000;
	memset(big.data + 2, 'A', 60000);
	n = sizeof(big.h) + 2 + 60000;
	big.h.size = (uint32_t)n;
	assert_int_equal(vg_event_decode(ev, &big, n, 0), -EBADMSG);
}

/* Random bytes behind a valid header never crash the decoder. */
static void test_random_garbage(void **state)
{
	struct rec r;

	(void)state;
	srand(42);
	for (int i = 0; i < 20000; i++) {
		size_t n = sizeof(r.h) + (size_t)(rand() % 512);
		unsigned char *b = (unsigned char *)&r;

		for (size_t k = 0; k < n; k++)
			b[k] = (unsigned char)rand();
		if (i % 2) {
			r.h.type = VG_REC_EXEC;
			r.h.abi = VG_ABI_VERSION;
			r.h.size = n;
			r.h.n_ancestors %= VG_LINEAGE_MAX + 1;
			r.h.exe_off %= 64;
			r.h.cwd_off %= 64;
			r.h.cg_off %= 64;
			r.h.args_off %= 64;
			r.h.exe_len %= 64;
			r.h.cwd_len %= 64;
			r.h.cg_len %= 64;
			r.h.args_len %= 64;
		}
		(void)decode_all(&r, n);
	}
}

/* ev decoded from a record of exe, exe_name and argv (NULL-terminated). */
static void decode_spec(const char *exe, const char *exe_name, const char *const *argv)
{
	static unsigned char buf[sizeof(struct vg_exec) + VG_DATA_MAX];
	struct vg_record_spec s = {.exe = exe, .exe_name = exe_name, .argv = argv};
	size_t n;

	while (argv && argv[s.argc])
		s.argc++;
	n = vg_record_build(buf, sizeof(buf), &s);
	assert_true(n > 0);
	assert_int_equal(vg_event_decode(ev, buf, n, 0), 0);
	vg_event_ident_args(ev);
}

static void test_exe_name_decoded(void **state)
{
	(void)state;
	decode_spec("/tmp/x", "dpkg", NULL);
	assert_string_equal(ev->id.exe_name, "dpkg");
	assert_string_equal(ev->id.loader, "");
	assert_string_equal(ev->id.applet, "");
	decode_spec("/tmp/x", NULL, NULL);
	assert_string_equal(ev->id.exe_name, "");
}

static void test_loader_program(void **state)
{
	static const char *const plain[] = {"/lib64/ld-linux-x86-64.so.2", "/usr/bin/dpkg",
					    "--version", NULL};
	static const char *const opts[] = {
		"ld.so",	   "--library-path",	  "/opt/lib", "--argv0", "x",
		"--inhibit-cache", "/usr/bin/dpkg-query", "-l",	      NULL};
	static const char *const dashdash[] = {"ld", "--preload", "a.so", "--", "./dpkg", NULL};
	static const char *const none[] = {"ld", "--list", NULL};

	(void)state;
	decode_spec("/lib64/ld-linux-x86-64.so.2", "ld-linux-x86-64.so.2", plain);
	assert_string_equal(ev->id.loader, "dpkg");
	decode_spec("/lib/ld.so", "ld.so", opts);
	assert_string_equal(ev->id.loader, "dpkg-query");
	decode_spec("/lib/ld-musl-x86_64.so.1", "ld-musl-x86_64.so.1", dashdash);
	assert_string_equal(ev->id.loader, "dpkg");
	decode_spec("/lib/ld-2.31.so", "ld-2.31.so", none);
	assert_string_equal(ev->id.loader, "");
	/* not a loader's name: argv says nothing */
	decode_spec("/usr/bin/ldd", "ldd", plain);
	assert_string_equal(ev->id.loader, "");
	assert_false(ev->has_args); /* not even parsed */
}

static void test_multicall_applet(void **state)
{
	static const char *const direct[] = {"busybox", "dpkg", "-l", NULL};
	static const char *const linked[] = {"/usr/bin/dpkg", "-l", NULL};
	static const char *const opt[] = {"busybox", "--list", NULL};

	(void)state;
	decode_spec("/bin/busybox", "busybox", direct);
	assert_string_equal(ev->id.applet, "dpkg");
	decode_spec("/usr/bin/dpkg", "toybox", linked);
	assert_string_equal(ev->id.applet, "dpkg");
	decode_spec("/bin/busybox", "busybox", opt);
	assert_string_equal(ev->id.applet, "");
	decode_spec("/bin/sh", "sh", direct);
	assert_string_equal(ev->id.applet, "");
}

/* `ld.so --list X` / `--verify X` (ldd) inspect X, they do not run it: no program */
static void test_loader_inspects(void **state)
{
	static const char *const list[] = {"ld.so", "--list", "/usr/bin/dpkg", NULL};
	static const char *const verify[] = {"ld.so", "--verify", "/usr/bin/dpkg", NULL};
	static const char *const after[] = {"ld.so", "--inhibit-cache", "--list", "dpkg", NULL};

	(void)state;
	decode_spec("/lib64/ld-linux-x86-64.so.2", "ld-linux-x86-64.so.2", list);
	assert_string_equal(ev->id.loader, "");
	decode_spec("/lib64/ld-linux-x86-64.so.2", "ld-linux-x86-64.so.2", verify);
	assert_string_equal(ev->id.loader, "");
	decode_spec("/lib64/ld-linux-x86-64.so.2", "ld-linux-x86-64.so.2", after);
	assert_string_equal(ev->id.loader, "");
}

/* busybox.static, busybox-2, toybox-x86_64: still multi-call binaries */
static void test_multicall_variants(void **state)
{
	static const char *const direct[] = {"busybox.static", "dpkg", NULL};
	static const char *const dash[] = {"/bin/busybox-2", "dpkg", NULL};

	(void)state;
	decode_spec("/bin/busybox.static", "busybox.static", direct);
	assert_string_equal(ev->id.applet, "dpkg");
	decode_spec("/bin/busybox-2", "busybox-2", dash);
	assert_string_equal(ev->id.applet, "dpkg");
	assert_true(vg_ident_is_multicall("toybox-x86_64"));
	assert_false(vg_ident_is_multicall("busy"));
}

/* A renamed copy of busybox or ld.so: its content names (filled later) say what it is. */
static void test_args_by_content_name(void **state)
{
	static const char *const bb[] = {"/tmp/bb2", "dpkg", "-l", NULL};
	static const char *const ld[] = {"/tmp/l", "/usr/bin/dpkg", NULL};

	(void)state;
	decode_spec("/tmp/bb2", "bb2", bb);
	assert_string_equal(ev->id.applet, "");
	snprintf(ev->id.content[0], VG_IDENT_NAME_MAX, "%s", "busybox");
	ev->id.n_content = 1;
	vg_event_ident_args(ev); /* parsed again: the content names changed */
	assert_string_equal(ev->id.applet, "dpkg");
	vg_event_ident_args(ev); /* and not a third time */
	assert_string_equal(ev->id.applet, "dpkg");
	decode_spec("/tmp/l", "l", ld);
	assert_string_equal(ev->id.loader, "");
	snprintf(ev->id.content[0], VG_IDENT_NAME_MAX, "%s", "ld-linux-x86-64.so.2");
	snprintf(ev->id.content[1], VG_IDENT_NAME_MAX, "%s", "ld.so");
	ev->id.n_content = 2;
	vg_event_ident_args(ev);
	assert_string_equal(ev->id.loader, "dpkg");
	assert_string_equal(ev->id.applet, "");
}

/* ev decoded from a fileless exec's record: flags, pid and ns_pid */
static void decode_fileless(uint32_t flags, uint32_t pid, uint32_t ns_pid)
{
	static unsigned char buf[sizeof(struct vg_exec) + VG_DATA_MAX];
	struct vg_record_spec s = {.exe = "/memfd:x (deleted)",
				   .cgroup = "/machine.slice/libpod-0123456789ab.scope",
				   .pid = pid,
				   .ns_pid = ns_pid,
				   .flags = flags | VG_EXEC_EXE_KNOWN | VG_EXEC_EXE_FILELESS};
	size_t n = vg_record_build(buf, sizeof(buf), &s);

	assert_true(n > 0);
	assert_int_equal(vg_event_decode(ev, buf, n, 0), 0);
	assert_true(ev->id.fileless); /* the fact, always */
}

/* A container runtime re-executes itself from a memfd before entering the pid namespace. */
static void test_fileless_runtime_like(void **state)
{
	(void)state;
	decode_fileless(VG_EXEC_IN_CONTAINER, 4242, 4242); /* the initial pid namespace */
	assert_true(ev->id.runtime_like);
	assert_false(vg_event_fileless_counts(ev));
	decode_fileless(VG_EXEC_IN_CONTAINER, 4242, 7); /* the container's own */
	assert_false(ev->id.runtime_like);
	assert_true(vg_event_fileless_counts(ev));
	decode_fileless(0, 4242, 4242); /* the host */
	assert_false(ev->id.runtime_like);
	assert_true(vg_event_fileless_counts(ev));
	decode_fileless(VG_EXEC_IN_CONTAINER, 4242, 0); /* the builder's default: its own */
	assert_true(vg_event_fileless_counts(ev));
}

static int group_setup(void **state)
{
	(void)state;
	ev = calloc(1, sizeof(*ev));
	return ev ? 0 : -ENOMEM;
}

static int group_teardown(void **state)
{
	(void)state;
	free(ev);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_record),
		cmocka_unit_test(test_root_cwd_and_no_cwd),
		cmocka_unit_test(test_truncated_paths_are_marked),
		cmocka_unit_test(test_truncated_args),
		cmocka_unit_test(test_argc_mismatch_is_truncation),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_oversized_args),
		cmocka_unit_test(test_random_garbage),
		cmocka_unit_test(test_exe_name_decoded),
		cmocka_unit_test(test_loader_program),
		cmocka_unit_test(test_multicall_applet),
		cmocka_unit_test(test_loader_inspects),
		cmocka_unit_test(test_multicall_variants),
		cmocka_unit_test(test_args_by_content_name),
		cmocka_unit_test(test_fileless_runtime_like),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
