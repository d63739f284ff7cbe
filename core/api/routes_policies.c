// SPDX-License-Identifier: BSD-2-Clause
/*
 * routes_policies.c - /v1/policies: the policies of the current engine (asked
 * of the host at each request: a reload replaces it), their settings and
 * counters; PATCH persists a setting and has the host apply it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/http.h>
#include <jansson.h>

#include "alerts.h"
#include "api_priv.h"
#include "engine.h"

/* Policy i of engine, with its persisted setting. */
static json_t *policy_json(struct vg_api *a, struct vg_engine *engine, int i)
{
	const struct vg_policy_info *p = vg_engine_policy(engine, i);
	const struct vg_policy_setting *st = vg_alerts_policy_setting(a->host.alerts, p->id);
	json_t *cats = json_array();

	for (int k = 0; p->categories[k]; k++)
		json_array_append_new(cats, json_string(p->categories[k]));
	return json_pack(
		"{s:s, s:s, s:s, s:b, s:s, s:s*, s:o, s:s, s:s, s:s, s:s*, "
		"s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I}}",
		"id", p->id, "name", p->name, "severity", p->severity, "disabled", !p->enabled,
		"enforcement", st && st->enforcement ? st->enforcement : p->enforcement, "onError",
		p->on_error, "categories", cats, "description", p->description, "rationale",
		p->rationale, "remediation", p->remediation, "waitsFor", p->waits_for, "counters",
		"candidates", (json_int_t)p->candidates, "matches", (json_int_t)p->matches,
		"errors", (json_int_t)p->errors, "budgetStops", (json_int_t)p->budget_stops,
		"memoryStops", (json_int_t)p->nomem, "luaNs", (json_int_t)p->lua_ns, "luaMemBytes",
		(json_int_t)p->mem_bytes);
}

/*
 * Policy i with its definition (criteria, scope, exclusions, check, tests): a copy, the
 * engine's stays its own.
 */
static json_t *policy_detail_json(struct vg_api *a, struct vg_engine *engine, int i)
{
	const struct vg_policy_info *p = vg_engine_policy(engine, i);
	json_t *out = policy_json(a, engine, i);

	if (out && p->definition)
		(void)json_object_update_new(out, json_deep_copy(p->definition));
	return out;
}

static void patch_policy(struct vg_api *a, struct evhttp_request *req, struct vg_engine *engine,
			 int i)
{
	const struct vg_policy_info *p = vg_engine_policy(engine, i);
	json_t *b = api_body_json(a, req), *v;
	const char *key, *enforcement = NULL;
	int enabled = -1, rc;

	if (!b)
		return;
	json_object_foreach(b, key, v)
	{
		if (!strcmp(key, "disabled") || !strcmp(key, "enabled")) {
			if (!json_is_boolean(v)) {
				api_fail(a, req, 400, "'%s' must be true or false", key);
				goto out;
			}
			enabled = !strcmp(key, "enabled") ? json_is_true(v) : !json_is_true(v);
		} else if (!strcmp(key, "enforcement")) {
			const char *s = json_string_value(v);
			enum vg_enforce_mode mode;

			if (vg_enforce_mode_parse(s, &mode)) {
				api_fail(a, req, 400,
					 "'enforcement' is \"inform\", \"kill_process\" or "
					 "\"kill_pod\"");
				goto out;
			}
			enforcement = s;
		} else {
			api_fail(a, req, 400,
				 "unknown field '%s' (known: disabled, enabled, enforcement)", key);
			goto out;
		}
	}
	if (enabled == 1 && p->waits_for) {
		api_fail(a, req, 409, "policy '%s' cannot be enabled: it waits for %s", p->name,
			 p->waits_for);
		goto out;
	}
	rc = vg_alerts_set_policy(a->host.alerts, p->id, enabled, enforcement);
	if (rc) {
		api_fail(a, req, 503, "cannot record the setting: %s", strerror(-rc));
		goto out;
	}
	/* the setting is recorded; applying it to the kernel filter logs its own failure */
	(void)a->host.policy_changed(a->host.ctx);
	api_reply(req, 200, policy_detail_json(a, engine, i));
out:
	json_decref(b);
}

void api_list_policies(struct vg_api *a, struct evhttp_request *req)
{
	struct vg_engine *engine = a->host.engine(a->host.ctx);
	json_t *arr = json_array();

	for (int i = 0; i < vg_engine_count(engine); i++)
		if (!vg_engine_policy(engine, i)->broken)
			json_array_append_new(arr, policy_json(a, engine, i));
	api_reply(req, 200, json_pack("{s:o}", "policies", arr));
}

void api_policy_path(struct vg_api *a, struct evhttp_request *req, const char *rest,
		     enum evhttp_cmd_type m)
{
	char id[512];
	bool bad = api_path_id(rest, strlen(rest), id, sizeof(id)) != 0;
	struct vg_engine *engine = a->host.engine(a->host.ctx);
	int i = bad ? -1 : vg_engine_find(engine, id);

	if (bad)
		api_fail(a, req, 404,
			 "no policy has that id: ids and names hold no NUL or control "
			 "characters (GET /v1/policies lists them)");
	else if (i < 0 || vg_engine_policy(engine, i)->broken)
		api_fail(a, req, 404, "no policy '%s' (GET /v1/policies lists them)", id);
	else if (m == EVHTTP_REQ_GET)
		api_reply(req, 200, policy_detail_json(a, engine, i));
	else
		patch_policy(a, req, engine, i);
}
