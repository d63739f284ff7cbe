// SPDX-License-Identifier: BSD-2-Clause
/*
 * baseline_json.c - a process baseline as StackRox's ProcessBaseline JSON
 * (baselines.h says which fields), plus observeUntil, locked and cappedPaths.
 */
#include <jansson.h>

#include "baselines_priv.h"
#include "emit.h"
#include "event_json.h"

/* A path as a JSON string: bytes that are not UTF-8 become U+FFFD. */
static json_t *text(const char *s)
{
	char buf[3 * VG_BL_PATH_MAX];

	return json_string(vg_utf8_or_lossy(s, buf, sizeof(buf)));
}

/* RFC 3339, or null for 0 (not set). */
static json_t *stamp(uint64_t ns)
{
	char ts[40];

	if (!ns)
		return json_null();
	vg_time_rfc3339(ns, ts, sizeof(ts));
	return json_string(ts);
}

static json_t *element(const char *path, bool learned, uint64_t added_ns)
{
	json_t *e =
		json_pack("{s:{s:o}, s:b}", "element", "processName", text(path), "auto", learned);

	if (e && added_ns)
		(void)json_object_set_new(e, "added", stamp(added_ns)); /* optional: left out */
	return e;
}

static json_t *key_json(const struct vg_baseline_key *k)
{
	return json_pack("{s:o, s:o, s:o, s:o, s:o}", "namespace", text(k->namespace_),
			 "deploymentId", text(k->deployment), "deploymentName", text(k->deployment),
			 "containerName", text(k->container), "image", text(k->image));
}

/* The elements and the graveyard, as arrays; false when out of memory. */
static bool put_elements(json_t *o, const struct vg_baseline *bl)
{
	json_t *els = json_array(), *grave = json_array();
	bool ok = els && grave;

	for (size_t i = 0; ok && i < bl->n_elements; i++)
		ok = !json_array_append_new(els, element(bl->elements[i].path,
							 bl->elements[i].origin == VG_BL_LEARNED,
							 bl->elements[i].added_ns));
	for (size_t i = 0; ok && i < bl->n_removed; i++)
		ok = !json_array_append_new(grave, element(bl->removed[i], false, 0));
	ok = ok && !json_object_set_new(o, "elements", els);
	if (ok)
		return !json_object_set_new(o, "elementGraveyard", grave);
	json_decref(els);
	json_decref(grave);
	return false;
}

json_t *vg_baseline_json(const struct vg_baseline *bl)
{
	uint64_t user_locked = 0, auto_locked = 0;
	json_t *o;

	if (bl->locked && bl->auto_locked)
		auto_locked = bl->locked_ns;
	else if (bl->locked)
		user_locked = bl->locked_ns;
	o = json_pack("{s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:b, s:I}", "id", bl->id, "key",
		      key_json(&bl->key), "created", stamp(bl->created_ns), "userLockedTimestamp",
		      stamp(user_locked), "stackRoxLockedTimestamp", stamp(auto_locked),
		      "lastUpdate", stamp(bl->updated_ns), "observeUntil",
		      stamp(bl->observe_until_ns), "locked", bl->locked, "cappedPaths",
		      (json_int_t)bl->capped);
	if (o && !put_elements(o, bl)) {
		json_decref(o);
		return NULL;
	}
	return o;
}
