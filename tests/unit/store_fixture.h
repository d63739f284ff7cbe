/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * store_fixture.h - an alert store in tmpdir.h's `dir` for unit tests: emptied
 * (clear_store) and opened (open_store). Include after tmpdir.h and cmocka.h.
 */
#ifndef VG_TEST_STORE_FIXTURE_H
#define VG_TEST_STORE_FIXTURE_H

#include "alerts.h"
#include "wal.h"

/* The store's segments removed: the next open_store() starts empty. */
static void clear_store(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -f %s/seg-*", dir);
	(void)!system(cmd);
}

static struct vg_alerts *open_store(void)
{
	struct vg_alerts_opts o = {.dir = dir};
	struct vg_wal_report rep;
	struct vg_alerts *s;
	char err[256];

	assert_int_equal(vg_alerts_open(&s, &o, NULL, &rep, err, sizeof(err)), 0);
	return s;
}

#endif
