// SPDX-License-Identifier: BSD-2-Clause
/*
 * Container identity from cgroup paths: table-driven over paths taken from
 * real nodes of every runtime layout, on v1 and v2, plus garbage.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "container.h"

#define ID   "3f2a1b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7a8"
#define ID2  "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define UID  "6a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
#define UIDU "6a1b2c3d_4e5f_4a6b_8c7d_9e0f1a2b3c4d"
/* a static pod's: the kubelet's hash of its manifest */
#define SUID "b3a0b7c1e5d9f8a2c4e6d8f0a1b2c3d4"
/* another pod's uid: what a container names its own sub-cgroups after to pass as that pod */
#define VUID  "0f9e8d7c-6b5a-4c3d-9e2f-1a0b9c8d7e6f"
#define VUIDU "0f9e8d7c_6b5a_4c3d_9e2f_1a0b9c8d7e6f"

struct row {
	const char *path;
	int rc;
	const char *id;
	const char *pod;
	const char *runtime;
};

static const struct row rows[] = {
	/* containerd, systemd cgroup driver (v2 and v1 paths look alike) */
	{"/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UIDU
	 ".slice/cri-containerd-" ID ".scope",
	 1, ID, UID, "containerd"},
	{"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UIDU
	 ".slice/cri-containerd-" ID ".scope",
	 1, ID, UID, "containerd"},
	/* guaranteed QoS has no qos level */
	{"/kubepods.slice/kubepods-pod" UIDU ".slice/cri-containerd-" ID ".scope", 1, ID, UID,
	 "containerd"},
	/* containerd / dockershim, cgroupfs driver */
	{"/kubepods/besteffort/pod" UID "/" ID, 1, ID, UID, "cri"},
	{"/kubepods/burstable/pod" UID "/" ID, 1, ID, UID, "cri"},
	{"/kubepods/pod" UID "/" ID, 1, ID, UID, "cri"},
	/* static pods (etcd, kube-apiserver...), both drivers */
	{"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" SUID
	 ".slice/cri-containerd-" ID ".scope",
	 1, ID, SUID, "containerd"},
	{"/kubepods/burstable/pod" SUID "/" ID, 1, ID, SUID, "cri"},
	/* CRI-O */
	{"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UIDU ".slice/crio-" ID
	 ".scope",
	 1, ID, UID, "cri-o"},
	{"/kubepods/besteffort/pod" UID "/crio-" ID, 1, ID, UID, "cri-o"},
	/* CRI-O's conmon is not the container */
	{"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UIDU
	 ".slice/crio-conmon-" ID ".scope",
	 0, "", UID, NULL},
	/* Docker */
	{"/system.slice/docker-" ID ".scope", 1, ID, "", "docker"},
	{"/docker/" ID, 1, ID, "", "docker"},
	/* podman: cgroupfs manager, systemd manager, inside a pod cgroup parent */
	{"/libpod_parent/libpod-" ID, 1, ID, "", "podman"},
	{"/machine.slice/libpod-" ID ".scope", 1, ID, "", "podman"},
	{"/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" ID ".scope", 1, ID, "",
	 "podman"},
	{"/kubepods/besteffort/pod" UID "/libpod-" ID, 1, ID, UID, "podman"},
	{"/machine.slice/libpod-conmon-" ID ".scope", 0, "", "", NULL},
	/* a sub-cgroup below the container keeps the container's identity */
	{"/system.slice/docker-" ID ".scope/init.scope", 1, ID, "", "docker"},
	/*
	 * Below its own level everything is the container's doing (a delegated or
	 * writable cgroupfs lets it mkdir there): the outermost container level is
	 * the process's, whatever is named below it. Nested runtimes included.
	 */
	{"/docker/" ID "/docker/" ID2, 1, ID, "", "docker"},
	/* a fake pod and container below a real one: containerd, systemd driver (v2 and v1) */
	{"/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UIDU
	 ".slice/cri-containerd-" ID ".scope/kubepods-besteffort-pod" VUIDU
	 ".slice/cri-containerd-" ID2 ".scope",
	 1, ID, UID, "containerd"},
	{"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UIDU
	 ".slice/cri-containerd-" ID ".scope/kubepods.slice/kubepods-burstable.slice/"
	 "kubepods-burstable-pod" VUIDU ".slice/cri-containerd-" ID2 ".scope",
	 1, ID, UID, "containerd"},
	/* containerd, cgroupfs driver: bare ids (as on v1 hosts' memory hierarchy, burstable) */
	{"/kubepods/besteffort/pod" UID "/" ID "/kubepods/besteffort/pod" VUID "/" ID2, 1, ID, UID,
	 "cri"},
	{"/kubepods/pod" UID "/" ID "/pod" VUID "/" ID2, 1, ID, UID, "cri"},
	{"/kubepods/burstable/pod" UID "/" ID "/kubepods/burstable/pod" VUID "/" ID2, 1, ID, UID,
	 "cri"},
	/* CRI-O, both drivers */
	{"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UIDU ".slice/crio-" ID
	 ".scope/kubepods-burstable-pod" VUIDU ".slice/crio-" ID2 ".scope",
	 1, ID, UID, "cri-o"},
	{"/kubepods/besteffort/pod" UID "/crio-" ID "/pod" VUID "/crio-" ID2, 1, ID, UID, "cri-o"},
	/* Docker (no pod): a fake pod below it gives it none */
	{"/system.slice/docker-" ID ".scope/kubepods.slice/kubepods-besteffort.slice/"
	 "kubepods-besteffort-pod" VUIDU ".slice/cri-containerd-" ID2 ".scope",
	 1, ID, "", "docker"},
	{"/docker/" ID "/kubepods/besteffort/pod" VUID "/" ID2, 1, ID, "", "docker"},
	/* podman: cgroupfs manager (as the integration tests run it) and systemd manager */
	{"/kubepods/besteffort/pod" UID "/libpod-" ID "/kubepods/besteffort/pod" VUID
	 "/libpod-" ID2,
	 1, ID, UID, "podman"},
	{"/kubepods/besteffort/pod" UID "/libpod-" ID "/kubepods-besteffort-pod" VUIDU
	 ".slice/cri-containerd-" ID2 ".scope",
	 1, ID, UID, "podman"},
	{"/machine.slice/libpod-" ID ".scope/kubepods-besteffort-pod" VUIDU ".slice/libpod-" ID2
	 ".scope",
	 1, ID, "", "podman"},
	/* only a fake pod level below the container, or a fake one deep in junk */
	{"/kubepods/besteffort/pod" UID "/" ID "/pod" VUID, 1, ID, UID, "cri"},
	{"/kubepods/besteffort/pod" UID "/" ID "/a/b/pod" VUID "/c/" ID2 "/d", 1, ID, UID, "cri"},
	/* a sub-cgroup named like a pod but of the same pod keeps the same identity */
	{"/kubepods/besteffort/pod" UID "/" ID "/pod" UID "/" ID, 1, ID, UID, "cri"},
	/* no leading slash, doubled slashes */
	{"kubepods//besteffort/pod" UID "//" ID, 1, ID, UID, "cri"},
	/* a pod-level cgroup (no container yet) */
	{"/kubepods/besteffort/pod" UID, 0, "", UID, NULL},
	{"/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UIDU ".slice", 0, "",
	 UID, NULL},
	/* host processes */
	{"/", 0, "", "", NULL},
	{"", 0, "", "", NULL},
	{"/system.slice/sshd.service", 0, "", "", NULL},
	{"/user.slice/user-0.slice/session-3.scope", 0, "", "", NULL},
	{"/init.scope", 0, "", "", NULL},
	{"/process_api/ac11c60860ca8a1a5bc1ee2fb8bcd4f7", 0, "", "", NULL},
	/* garbage: ids of the wrong length or alphabet, broken pod uids */
	{"/docker/"
	 "3f2a1b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7a",
	 0, "", "", NULL},
	{"/docker/" ID "0", 0, "", "", NULL},
	{"/docker/"
	 "3F2A1B4C5D6E7F8091A2B3C4D5E6F708192A3B4C5D6E7F8091A2B3C4D5E6F7A8",
	 0, "", "", NULL},
	{"/docker/"
	 "zz2a1b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7a8",
	 0, "", "", NULL},
	{"/system.slice/docker-" ID ".scopex", 0, "", "", NULL},
	{"/system.slice/docker-" ID, 0, "", "", NULL},
	{"/system.slice/cri-containerd-" ID ".slice", 0, "", "", NULL},
	{"/kubepods/besteffort/pod6a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4", 0, "", "", NULL},
	{"/kubepods/besteffort/podxa1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", 0, "", "", NULL},
	{"/kubepods/besteffort/pod6a1b2c3d+4e5f-4a6b-8c7d-9e0f1a2b3c4d", 0, "", "", NULL},
	{"/kubepods.slice/kubepods-besteffort-pod" UIDU ".slic", 0, "", "", NULL},
	{"/kubepods.slice/kubepods-besteffortpod" UIDU ".slice", 0, "", "", NULL},
	{"/pod", 0, "", "", NULL},
	{"////", 0, "", "", NULL},
	{"/libpod-", 0, "", "", NULL},
	{"/cri-containerd-.scope", 0, "", "", NULL},
};

static void test_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct vg_container c;
		int rc = vg_container_parse(rows[i].path, &c);

		print_message("row %zu: %s\n", i, rows[i].path);
		assert_int_equal(rc, rows[i].rc);
		assert_string_equal(c.id, rows[i].id);
		assert_string_equal(c.pod_uid, rows[i].pod);
		if (rows[i].runtime)
			assert_string_equal(c.runtime, rows[i].runtime);
		else
			assert_null(c.runtime);
		if (rc == 1) {
			assert_int_equal(strlen(c.short_id), 12);
			assert_memory_equal(c.short_id, rows[i].id, 12);
		} else {
			assert_string_equal(c.short_id, "");
		}
	}
}

/*
 * The container's own level (what a cgroup kill must target) and whether a
 * pod or container is named below it (the sign of a fake).
 */
static void test_own_level_and_nested(void **state)
{
	static const struct {
		const char *path, *own;
		bool nested;
	} t[] = {
		{"/kubepods/besteffort/pod" UID "/libpod-" ID,
		 "/kubepods/besteffort/pod" UID "/libpod-" ID, false},
		{"/kubepods/besteffort/pod" UID "/libpod-" ID "/kubepods/besteffort/pod" VUID
		 "/libpod-" ID2,
		 "/kubepods/besteffort/pod" UID "/libpod-" ID, true},
		{"/kubepods.slice/kubepods-pod" UIDU ".slice/cri-containerd-" ID
		 ".scope/kubepods-pod" VUIDU ".slice/cri-containerd-" ID2 ".scope",
		 "/kubepods.slice/kubepods-pod" UIDU ".slice/cri-containerd-" ID ".scope", true},
		{"/kubepods/besteffort/pod" UID "/" ID "/pod" VUID,
		 "/kubepods/besteffort/pod" UID "/" ID, true},
		{"/docker/" ID "/docker/" ID2, "/docker/" ID, true},
		/* a sub-cgroup of the container's own naming nothing: not a fake */
		{"/system.slice/docker-" ID ".scope/init.scope",
		 "/system.slice/docker-" ID ".scope", false},
		{"kubepods//besteffort/pod" UID "//" ID "/x",
		 "kubepods//besteffort/pod" UID "//" ID, false},
		/* no container: no level, even with a pod */
		{"/kubepods/besteffort/pod" UID, "", false},
	};
	struct vg_container c;

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct vg_container c;

		print_message("row %zu: %s\n", i, t[i].path);
		vg_container_parse(t[i].path, &c);
		assert_int_equal(c.level_len, strlen(t[i].own));
		assert_memory_equal(t[i].path, t[i].own, c.level_len);
		assert_int_equal(c.nested, t[i].nested);
		assert_false(c.truncated);
	}
	/*
	 * Nested deeper than the sensor walks, the real levels fall off the top:
	 * the outermost level left may be a fake, so no pod is named.
	 */
	assert_int_equal(vg_container_parse(".../kubepods/besteffort/pod" VUID "/libpod-" ID2, &c),
			 1);
	assert_true(c.truncated);
	assert_string_equal(c.pod_uid, "");
	assert_string_equal(c.id, ID2);
}

static void test_null_args(void **state)
{
	struct vg_container c;

	(void)state;
	assert_int_equal(vg_container_parse(NULL, &c), -EINVAL);
	assert_int_equal(vg_container_parse("/docker/" ID, NULL), -EINVAL);
}

/* A very long path of junk components must neither crash nor match. */
static void test_long_garbage(void **state)
{
	enum { LEN = 65536 };
	char *path = malloc(LEN); /* 64 KB: on the heap, not the stack or a static */
	struct vg_container c;

	(void)state;
	assert_non_null(path);
	for (size_t i = 0; i < LEN - 1; i++)
		path[i] = i % 70 == 0 ? '/' : "0123456789abcdef"[i % 16];
	path[LEN - 1] = '\0';
	assert_int_equal(vg_container_parse(path, &c), 0);
	memset(path, 'a', LEN - 1);
	assert_int_equal(vg_container_parse(path, &c), 0);
	/* a real container id at the end of a long junk path is still found */
	snprintf(path + LEN - 100, 100, "/docker/%s", ID);
	assert_int_equal(vg_container_parse(path, &c), 1);
	assert_string_equal(c.id, ID);
	free(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_own_level_and_nested),
		cmocka_unit_test(test_null_args),
		cmocka_unit_test(test_long_garbage),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
