// SPDX-License-Identifier: BSD-2-Clause
/* The process baseline requests of the API and CLI (bl_requests.h), on a real store. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tmpdir.h"

#include <jansson.h>

#include "alerts.h"
#include "baselines.h"
#include "bl_requests.h"

#define MIN (60ull * 1000000000ull)

static struct vg_alerts *store;
static struct vg_baselines *bls;
static char ids[3][VG_BL_ID_LEN + 1];
static char err[700];

/* A fresh store with shop/web/app, shop/api/app and other/web/app, the first locked. */
static int setup(void **state)
{
	static const char *const keys[3][3] = {
		{"shop", "web", "app"}, {"shop", "api", "app"}, {"other", "web", "app"}};
	struct vg_alerts_opts o = {.dir = dir};
	struct vg_wal_report rep;
	const struct vg_baseline *bl;
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -f %s/seg-*", dir); /* each test from an empty store */
	(void)!system(cmd);
	assert_int_equal(vg_alerts_open(&store, &o, NULL, &rep, err, sizeof(err)), 0);
	bls = vg_alerts_baselines(store);
	for (int i = 0; i < 3; i++) {
		struct vg_baseline_key k = {0};

		snprintf(k.namespace_, sizeof(k.namespace_), "%s", keys[i][0]);
		snprintf(k.deployment, sizeof(k.deployment), "%s", keys[i][1]);
		snprintf(k.container, sizeof(k.container), "%s", keys[i][2]);
		assert_int_equal(vg_baselines_ensure(bls, &k, MIN, 60 * MIN, &bl), 0);
		assert_int_equal(vg_baselines_learn(bls, bl, "/bin/sh", MIN), 1);
		memcpy(ids[i], bl->id, sizeof(ids[i]));
	}
	assert_int_equal(vg_baselines_lock(bls, vg_baselines_find(bls, ids[0]), true, true, MIN),
			 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	vg_alerts_close(store);
	return 0;
}

static size_t selected(const char *q, int *rc)
{
	const struct vg_baseline **list;
	size_t n;

	*rc = vg_blreq_select(bls, q, &list, &n, err, sizeof(err));
	free(list);
	return n;
}

static void test_select(void **state)
{
	int rc;

	(void)state;
	assert_int_equal(selected(NULL, &rc), 3);
	assert_int_equal(selected("Namespace:shop", &rc), 2);
	assert_int_equal(selected("Locked:true", &rc), 1);
	assert_int_equal(selected("Locked:false+Deployment:web", &rc), 1);
	assert_int_equal(selected("Container Name:app+Namespace:other", &rc), 1);
	assert_int_equal(selected("Namespace:none", &rc), 0);
	assert_int_equal(rc, 0);
	(void)selected("Pod:x", &rc);
	assert_int_equal(rc, -EINVAL);
	assert_non_null(strstr(err, "unknown query key 'Pod'"));
	(void)selected("Locked:maybe", &rc);
	assert_int_equal(rc, -EINVAL);
	(void)selected("Namespace", &rc);
	assert_int_equal(rc, -EINVAL);
}

static int update(const char *body_text, json_t **out)
{
	json_t *body = json_loads(body_text, 0, NULL);
	int rc;

	assert_non_null(body);
	rc = vg_blreq_update(bls, body, 2 * MIN, out, err, sizeof(err));
	json_decref(body);
	return rc;
}

static size_t n_elements(int i)
{
	return vg_baselines_find(bls, ids[i])->n_elements;
}

/* Each bad part refuses the whole request: no baseline changes. */
static void test_update_bad_changes_nothing(void **state)
{
	char body[512];
	json_t *out = NULL;

	(void)state;
	snprintf(body, sizeof(body),
		 "{\"keys\": [{\"id\": \"%s\"}, {\"id\": \"ffffffffffffffff\"}], "
		 "\"addElements\": [{\"processName\": \"/usr/bin/a\"}]}",
		 ids[1]);
	assert_int_equal(update(body, &out), -ENOENT);
	assert_non_null(strstr(err, "vigil baselines list"));
	snprintf(body, sizeof(body),
		 "{\"keys\": [{\"id\": \"%s\"}], \"addElements\": [{\"processName\": \"bin/a\"}]}",
		 ids[1]);
	assert_int_equal(update(body, &out), -EINVAL);
	assert_non_null(strstr(err, "not an absolute path"));
	snprintf(body, sizeof(body),
		 "{\"keys\": [{\"id\": \"%s\"}], \"addElements\": [{\"processName\": \"/a\"}, "
		 "{\"processName\": \"/a\"}]}",
		 ids[1]);
	assert_int_equal(update(body, &out), -EINVAL);
	assert_non_null(strstr(err, "duplicate element"));
	/* already in the second of two: the first does not change either */
	snprintf(body, sizeof(body),
		 "{\"keys\": [{\"id\": \"%s\"}, {\"id\": \"%s\"}], \"addElements\": "
		 "[{\"processName\": \"/usr/bin/new\"}, {\"processName\": \"/bin/sh\"}]}",
		 ids[1], ids[2]);
	assert_int_equal(update(body, &out), -EINVAL);
	assert_non_null(strstr(err, "already in baseline"));
	snprintf(body, sizeof(body),
		 "{\"keys\": [{\"id\": \"%s\"}], \"removeElements\": [{\"processName\": "
		 "\"/not/there\"}]}",
		 ids[1]);
	assert_int_equal(update(body, &out), -EINVAL);
	assert_int_equal(update("{\"keys\": []}", &out), -EINVAL);
	assert_int_equal(update("{\"keys\": [{\"id\": 1}]}", &out), -EINVAL);
	assert_int_equal(update("{\"keys\": [{\"nope\": \"x\"}]}", &out), -EINVAL);
	assert_int_equal(update("{\"keys\": [{\"id\": \"x\"}], \"extra\": 1}", &out), -EINVAL);
	assert_null(out);
	assert_int_equal(n_elements(1), 1);
	assert_int_equal(n_elements(2), 1);
}

static void test_update_add_remove(void **state)
{
	json_t *out = NULL;
	const struct vg_baseline *bl;

	(void)state;
	assert_int_equal(update("{\"keys\": [{\"namespace\": \"shop\", \"deploymentId\": \"api\", "
				"\"containerName\": \"app\"}, {\"id\": \"other/web/app\"}], "
				"\"addElements\": [{\"processName\": \"/usr/bin/a\"}]}",
				&out),
			 0);
	assert_int_equal(json_array_size(json_object_get(out, "baselines")), 2);
	json_decref(out);
	assert_int_equal(n_elements(1), 2);
	assert_int_equal(n_elements(2), 2);
	assert_int_equal(update("{\"keys\": [{\"id\": \"other/web/app\"}], \"removeElements\": "
				"[{\"processName\": \"/usr/bin/a\"}]}",
				&out),
			 0);
	json_decref(out);
	bl = vg_baselines_find(bls, ids[2]);
	assert_int_equal(bl->n_elements, 1);
	assert_int_equal(bl->n_removed, 1);
	assert_string_equal(bl->removed[0], "/usr/bin/a");
}

static void test_lock_and_delete(void **state)
{
	json_t *body, *out = NULL;
	size_t deleted;

	(void)state;
	body = json_pack("{s:[{s:s}], s:b}", "keys", "id", "ffffffffffffffff", "locked", 1);
	assert_int_equal(vg_blreq_lock(bls, body, 3 * MIN, &out, err, sizeof(err)), -ENOENT);
	json_decref(body);
	body = json_pack("{s:[{s:s}], s:s}", "keys", "id", ids[1], "locked", "yes");
	assert_int_equal(vg_blreq_lock(bls, body, 3 * MIN, &out, err, sizeof(err)), -EINVAL);
	json_decref(body);
	assert_false(vg_baselines_find(bls, ids[1])->locked);
	body = json_pack("{s:[{s:s},{s:s}], s:b}", "keys", "id", ids[1], "id", ids[2], "locked", 1);
	assert_int_equal(vg_blreq_lock(bls, body, 3 * MIN, &out, err, sizeof(err)), 0);
	json_decref(body);
	json_decref(out);
	assert_true(vg_baselines_find(bls, ids[1])->locked);
	assert_false(vg_baselines_find(bls, ids[1])->auto_locked);
	assert_int_equal(vg_blreq_delete(bls, "Namespace:shop", &deleted, err, sizeof(err)), 0);
	assert_int_equal(deleted, 2);
	assert_null(vg_baselines_find(bls, ids[0]));
	assert_non_null(vg_baselines_find(bls, ids[2]));
	assert_int_equal(vg_blreq_delete(bls, "Bad", &deleted, err, sizeof(err)), -EINVAL);
}

static void test_add_alert(void **state)
{
	struct vg_proc_rec procs[4] = {{.exe = "/usr/bin/curl"},
				       {.exe = "/bin/sh"},
				       {.exe = "/usr/bin/curl"},
				       {.exe = NULL}};
	struct vg_alert al = {.id = "a1",
			      .namespace_ = "shop",
			      .deployment = "api",
			      .container_id = "c0ffee",
			      .container_name = "app",
			      .procs = procs,
			      .nprocs = 4};
	struct vg_alert host = {.id = "h1", .procs = procs, .nprocs = 1};
	struct vg_alert other = al;
	struct vg_baseline_key k;
	size_t added;

	(void)state;
	assert_int_equal(vg_blreq_add_alert(bls, &host, 4 * MIN, &added, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "host process"));
	other.deployment = "gone";
	assert_int_equal(vg_blreq_add_alert(bls, &other, 4 * MIN, &added, err, sizeof(err)),
			 -ENOENT);
	assert_int_equal(vg_blreq_add_alert(bls, &al, 4 * MIN, &added, err, sizeof(err)), 0);
	assert_int_equal(added, 1); /* /bin/sh is there already; curl once */
	assert_true(vg_baselines_has(vg_baselines_find(bls, ids[1]), "/usr/bin/curl"));
	assert_int_equal(vg_blreq_add_alert(bls, &al, 4 * MIN, &added, err, sizeof(err)), 0);
	assert_int_equal(added, 0);
	/* without Kubernetes: image and container name */
	other = (struct vg_alert){.id = "a2",
				  .container_id = "c1",
				  .container_name = "web",
				  .image = "docker.io/nginx:1"};
	assert_int_equal(vg_blreq_alert_key(&other, &k, err, sizeof(err)), 0);
	assert_string_equal(k.image, "docker.io/nginx:1");
	assert_string_equal(k.container, "web");
	assert_string_equal(k.namespace_, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_select, setup, teardown),
		cmocka_unit_test_setup_teardown(test_update_bad_changes_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_update_add_remove, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lock_and_delete, setup, teardown),
		cmocka_unit_test_setup_teardown(test_add_alert, setup, teardown),
	};

	return RUN_IN_TMPDIR(tests, "vg-blreq");
}
