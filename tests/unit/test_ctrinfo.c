// SPDX-License-Identifier: BSD-2-Clause
/*
 * Container names from the runtimes' state files (ctrinfo.h): podman/CRI-O's
 * containers.json, Docker's config.v2.json, storage.conf's graphroot, the cache,
 * the one-read-a-second limit for ids not found, and an event's names with the serial
 * of the entry they came from (a new serial each time the entry is written).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "tmpdir.h"

#include "ctrinfo.h"
#include "event.h"
#include "record.h"

#define ID_A "aaaa000000000000000000000000000000000000000000000000000000000001"
#define ID_B "bbbb000000000000000000000000000000000000000000000000000000000002"
#define ID_D "dddd000000000000000000000000000000000000000000000000000000000003"

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static void mkdirs(const char *path)
{
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "mkdir -p '%s'", path);
	assert_int_equal(system(cmd), 0);
}

/* containers.json under root with the containers given as JSON array members */
static void storage_json(const char *root, const char *members)
{
	char path[512], text[2048];

	snprintf(path, sizeof(path), "%s/overlay-containers", root);
	mkdirs(path);
	snprintf(text, sizeof(text), "[%s]", members);
	strcat(path, "/containers.json");
	write_file(path, text);
}

static const char *entry_a = "{\"id\":\"" ID_A "\",\"names\":[\"web\"],\"image\":\"926c\","
			     "\"metadata\":\"{\\\"image-name\\\":\\\"localhost/"
			     "debmin:bookworm\\\",\\\"name\\\":\\\"web\\\"}\"}";

static void test_podman_storage_and_cache(void **state)
{
	struct vg_ctrinfo_opts o = {0};
	struct vg_ctrinfo *ci;
	struct vg_ctrinfo_stats st;
	const char *name, *image;
	char root[256], members[2048];

	(void)state;
	snprintf(root, sizeof(root), "%s/storage", dir);
	storage_json(root, entry_a);
	o.storage_root = root;
	assert_int_equal(vg_ctrinfo_new(&ci, &o), 0);
	assert_true(vg_ctrinfo_lookup(ci, ID_A, "podman", &name, &image));
	assert_string_equal(name, "web");
	assert_string_equal(image, "localhost/debmin:bookworm");
	assert_true(vg_ctrinfo_lookup(ci, ID_A, "cri-o", &name, &image)); /* cached */
	/* a new container right after: not re-read within the second */
	snprintf(members, sizeof(members), "%s,{\"id\":\"" ID_B "\",\"names\":[\"db\"]}", entry_a);
	storage_json(root, members);
	assert_false(vg_ctrinfo_lookup(ci, ID_B, "podman", &name, &image));
	vg_ctrinfo_stats(ci, &st);
	assert_int_equal(st.reads, 1);
	assert_int_equal(st.hits, 1);
	assert_int_equal(st.misses, 2);
	sleep(1);
	assert_true(vg_ctrinfo_lookup(ci, ID_B, "podman", &name, &image));
	assert_string_equal(name, "db");
	assert_string_equal(image, "");
	/* ID_A and ID_B share a slot: the one asked for wins it, before or after in the file */
	snprintf(members, sizeof(members), "{\"id\":\"" ID_B "\",\"names\":[\"db\"]},%s", entry_a);
	storage_json(root, members);
	sleep(1);
	assert_true(vg_ctrinfo_lookup(ci, ID_A, "podman", &name, &image));
	assert_string_equal(name, "web");
	sleep(1);
	assert_true(vg_ctrinfo_lookup(ci, ID_B, "podman", &name, &image));
	assert_string_equal(name, "db");
	/* containerd keeps no file vigil reads: no read at all */
	assert_false(vg_ctrinfo_lookup(ci, ID_D, "containerd", &name, &image));
	assert_false(vg_ctrinfo_lookup(ci, "short", "podman", &name, &image));
	vg_ctrinfo_stats(ci, &st);
	assert_int_equal(st.reads, 4);
	vg_ctrinfo_free(ci);
}

static void test_docker_config(void **state)
{
	struct vg_ctrinfo_opts o = {0};
	struct vg_ctrinfo *ci;
	struct vg_ctrinfo_stats st;
	const char *name, *image;
	char path[512];

	(void)state;
	snprintf(path, sizeof(path), "%s/docker/containers/" ID_D, dir);
	mkdirs(path);
	strcat(path, "/config.v2.json");
	write_file(path, "{\"Name\":\"/api\",\"Config\":{\"Image\":\"nginx:1.25\"}}");
	snprintf(path, sizeof(path), "%s/docker", dir);
	o.docker_root = path;
	o.storage_root = "/nonexistent";
	assert_int_equal(vg_ctrinfo_new(&ci, &o), 0);
	assert_true(vg_ctrinfo_lookup(ci, ID_D, "docker", &name, &image));
	assert_string_equal(name, "api");
	assert_string_equal(image, "nginx:1.25");
	assert_false(vg_ctrinfo_lookup(ci, ID_A, "podman", &name, &image)); /* no such file */
	vg_ctrinfo_stats(ci, &st);
	assert_int_equal(st.read_errors, 1);
	vg_ctrinfo_free(ci);
}

static void test_storage_conf_graphroot(void **state)
{
	struct vg_ctrinfo_opts o = {0};
	struct vg_ctrinfo *ci;
	const char *name, *image;
	char conf[256], root[256], text[512];

	(void)state;
	snprintf(root, sizeof(root), "%s/graph", dir);
	storage_json(root, entry_a);
	snprintf(conf, sizeof(conf), "%s/storage.conf", dir);
	snprintf(text, sizeof(text), "[storage]\ndriver = \"overlay\"\ngraphroot = \"%s\"\n", root);
	write_file(conf, text);
	o.storage_conf = conf;
	assert_int_equal(vg_ctrinfo_new(&ci, &o), 0);
	assert_true(vg_ctrinfo_lookup(ci, ID_A, "podman", &name, &image));
	assert_string_equal(name, "web");
	vg_ctrinfo_free(ci);
}

/* ev: an exec in podman container id */
static struct vg_event *exec_in(const char *id)
{
	static unsigned char rec[sizeof(struct vg_exec) + VG_DATA_MAX];
	static struct vg_event ev;
	char cg[128];
	struct vg_record_spec s = {.exe = "/bin/sh", .cgroup = cg, .pid = 10, .cgroup_id = 9};

	snprintf(cg, sizeof(cg), "/machine.slice/libpod-%s.scope", id);
	assert_true(vg_record_build(rec, sizeof(rec), &s) > 0);
	assert_int_equal(vg_event_decode(&ev, rec, ((struct vg_exec *)rec)->size, 0), 0);
	return &ev;
}

static void test_name_serial(void **state)
{
	struct vg_ctrinfo_opts o = {0};
	struct vg_ctrinfo *ci;
	struct vg_event *ev;
	const char *name, *image;
	char root[256], members[2048];
	uint64_t first;

	(void)state;
	snprintf(root, sizeof(root), "%s/serial", dir);
	snprintf(members, sizeof(members), "%s,{\"id\":\"" ID_B "\",\"names\":[\"db\"]}", entry_a);
	storage_json(root, members);
	o.storage_root = root;
	assert_int_equal(vg_ctrinfo_new(&ci, &o), 0);
	ev = exec_in(ID_A);
	vg_ctrinfo_name(ci, ev);
	assert_string_equal(ev->ctr_name, "web");
	assert_string_equal(ev->ctr_image, "localhost/debmin:bookworm");
	first = ev->ctr_names_serial;
	assert_true(first != 0);
	vg_ctrinfo_name(ci, ev = exec_in(ID_A)); /* from the cache: the same entry */
	assert_true(ev->ctr_names_serial == first);
	sleep(1);
	assert_true(vg_ctrinfo_lookup(ci, ID_B, "podman", &name, &image)); /* takes the slot */
	sleep(1);							   /* one read a second */
	vg_ctrinfo_name(ci, ev = exec_in(ID_A)); /* read again into it: a new serial */
	assert_string_equal(ev->ctr_name, "web");
	assert_true(ev->ctr_names_serial != 0 && ev->ctr_names_serial != first);
	ev = exec_in(ID_D); /* unknown to the runtime: no names, no serial */
	vg_ctrinfo_name(ci, ev);
	assert_string_equal(ev->ctr_name, "");
	assert_true(ev->ctr_names_serial == 0);
	vg_ctrinfo_free(ci);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_podman_storage_and_cache),
		cmocka_unit_test(test_docker_config),
		cmocka_unit_test(test_storage_conf_graphroot),
		cmocka_unit_test(test_name_serial),
	};

	return RUN_IN_TMPDIR(tests, "vigil-ctrinfo");
}
