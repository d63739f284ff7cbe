// SPDX-License-Identifier: BSD-2-Clause
/*
 * test_trace.c - trace files across record ABIs (a version 1 trace of ABI 1
 * records still replays, with the executable's fields unknown), and the
 * decode of the mapped executable's identity and facts (ABI 2).
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
#include <msgpack.h>
#include <msgpack/fbuffer.h>

#include "event.h"
#include "record.h"
#include "trace.h"
#include "tmpdir.h"

#define V1_HEAD offsetof(struct vg_exec, exe_ino)

struct rec {
	struct vg_exec h;
	char data[VG_DATA_MAX];
};

static size_t dpkg_record(struct rec *r, const char *exe)
{
	static const char *const argv[] = {"dpkg", "--version"};
	struct vg_record_spec s = {.exe = exe,
				   .argv = argv,
				   .argc = 2,
				   .cwd = "/tmp",
				   .pid = 42,
				   .ppid = 7,
				   .boot_ns = 1000};

	return vg_record_build(r, sizeof(*r), &s);
}

/* Writes a version 1 trace holding one ABI 1 record (an ABI 2 one cut back). */
static void write_v1_trace(const char *path)
{
	struct rec r;
	size_t n = dpkg_record(&r, "/usr/bin/dpkg"), grow = sizeof(struct vg_exec) - V1_HEAD;
	FILE *f = fopen(path, "wb");
	msgpack_packer pk;
	char v1[sizeof(r)];

	assert_non_null(f);
	assert_true(n > 0);
	r.h.abi = 1;
	r.h.size = (uint32_t)(n - grow);
	memcpy(v1, &r, V1_HEAD);
	memcpy(v1 + V1_HEAD, r.data, n - sizeof(struct vg_exec));
	msgpack_packer_init(&pk, f, msgpack_fbuffer_write);
	msgpack_pack_map(&pk, 4);
	msgpack_pack_str_with_body(&pk, "format", 6);
	msgpack_pack_str_with_body(&pk, "vigil-trace", 11);
	msgpack_pack_str_with_body(&pk, "version", 7);
	msgpack_pack_int(&pk, 1);
	msgpack_pack_str_with_body(&pk, "abi", 3);
	msgpack_pack_int(&pk, 1);
	msgpack_pack_str_with_body(&pk, "boot_to_wall_ns", 15);
	msgpack_pack_int64(&pk, 5);
	msgpack_pack_bin_with_body(&pk, v1, n - grow);
	assert_int_equal(fclose(f), 0);
}

static void test_v1_trace_replays(void **state)
{
	char path[96], err[256];
	struct vg_trace_reader *rd;
	static struct vg_event ev;

	(void)state;
	snprintf(path, sizeof(path), "%s/old.trace", dir);
	write_v1_trace(path);
	rd = vg_trace_open(path, err, sizeof(err));
	assert_non_null(rd);
	assert_int_equal(vg_trace_next(rd, &ev, err, sizeof(err)), 1);
	assert_string_equal(ev.exe, "/usr/bin/dpkg");
	assert_string_equal(ev.comm, "dpkg");
	assert_int_equal(ev.rec->pid, 42);
	assert_int_equal((int64_t)ev.time_ns, 1005);
	vg_event_args(&ev);
	assert_string_equal(ev.args, "--version");
	vg_event_paths(&ev);
	assert_string_equal(ev.cwd, "/tmp");
	assert_string_equal(ev.id.exe_name, ""); /* unknown in an ABI 1 record */
	assert_false(ev.id.fileless);
	assert_int_equal(vg_trace_next(rd, &ev, err, sizeof(err)), 0);
	vg_trace_close_reader(rd);
}

/* A record as the kernel fills the mapped executable's part. */
static size_t with_exe(struct rec *r, const char *exe, const char *name, uint32_t flags,
		       uint32_t magic)
{
	size_t n = dpkg_record(r, exe), nl = strlen(name);

	r->h.exe_name_off = (uint16_t)(n - sizeof(struct vg_exec));
	r->h.exe_name_len = (uint16_t)nl;
	memcpy(r->data + r->h.exe_name_off, name, nl + 1);
	r->h.flags |= VG_EXEC_EXE_KNOWN | flags;
	r->h.exe_fs_magic = magic;
	n += nl + 1;
	r->h.size = (uint32_t)n;
	return n;
}

static void test_decode_exe_identity(void **state)
{
	static struct vg_event ev;
	struct rec r;
	size_t n;

	(void)state;
	n = with_exe(&r, "/tmp/pkgtool", "dpkg", 0, 0x794c7630u);
	assert_int_equal(vg_event_decode(&ev, &r, n, 0), 0);
	assert_string_equal(ev.id.exe_name, "dpkg");
	assert_false(ev.id.fileless);
	assert_false(ev.id.not_in_image);

	n = with_exe(&r, "/proc/self/fd/3", "memfd:x", VG_EXEC_EXE_FILELESS | VG_EXEC_IN_CONTAINER,
		     0x01021994u);
	assert_int_equal(vg_event_decode(&ev, &r, n, 0), 0);
	assert_true(ev.id.fileless);
	assert_int_equal(ev.id.fileless_by, VG_DECIDED_KERNEL);
	assert_false(ev.id.not_in_image); /* fileless is its own fact */

	n = with_exe(&r, "/tmp/new", "new", VG_EXEC_EXE_UPPER | VG_EXEC_IN_CONTAINER, 0x794c7630u);
	assert_int_equal(vg_event_decode(&ev, &r, n, 0), 0);
	assert_true(ev.id.not_in_image);
	assert_int_equal(ev.id.not_in_image_by, VG_DECIDED_KERNEL);

	n = with_exe(&r, "/scratch/new", "new", VG_EXEC_IN_CONTAINER | VG_EXEC_EXE_OTHER_MNT,
		     0x01021994u);
	assert_int_equal(vg_event_decode(&ev, &r, n, 0), 0);
	assert_true(ev.id.not_in_image); /* tmpfs */

	n = with_exe(&r, "/tmp/new", "new", VG_EXEC_EXE_UPPER, 0x794c7630u);
	assert_int_equal(vg_event_decode(&ev, &r, n, 0), 0);
	assert_false(ev.id.not_in_image); /* on the host: no image */
}

static void test_decode_rejects_a_bad_exe_name(void **state)
{
	static struct vg_event ev;
	struct rec r;
	size_t n = with_exe(&r, "/usr/bin/dpkg", "dpkg", 0, 0);

	(void)state;
	r.h.exe_name_len = 4000; /* past the record */
	assert_int_equal(vg_event_decode(&ev, &r, n, 0), -EBADMSG);
	n = with_exe(&r, "/usr/bin/dpkg", "dpkg", 0, 0);
	r.data[r.h.exe_name_off + 4] = 'x'; /* not terminated */
	assert_int_equal(vg_event_decode(&ev, &r, n, 0), -EBADMSG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_v1_trace_replays),
		cmocka_unit_test(test_decode_exe_identity),
		cmocka_unit_test(test_decode_rejects_a_bad_exe_name),
	};

	return RUN_IN_TMPDIR(tests, "vigil-trace");
}
