// SPDX-License-Identifier: BSD-2-Clause
/*
 * policy_settings.c - per-policy overrides kept in the store (enabled or not,
 * enforcement mode): set through the API or CLI, one "ps" record each,
 * replayed at open.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "alerts_priv.h"

static struct vg_policy_setting *find(const struct policy_settings *ps, const char *policy)
{
	for (int i = 0; i < ps->n; i++)
		if (!strcmp(ps->v[i].policy_id, policy))
			return &ps->v[i];
	return NULL;
}

struct vg_policy_setting *policy_settings_slot(struct policy_settings *ps, const char *policy)
{
	struct vg_policy_setting *st = find(ps, policy), *v;
	char *id;

	if (st)
		return st;
	v = realloc(ps->v, (size_t)(ps->n + 1) * sizeof(*v));
	if (!v)
		return NULL;
	ps->v = v;
	id = strdup(policy);
	if (!id)
		return NULL;
	st = &ps->v[ps->n++];
	st->policy_id = id;
	st->enabled = -1;
	st->enforcement = NULL;
	return st;
}

void policy_settings_apply(struct vg_policy_setting *st, int enabled, const char *enforcement)
{
	if (enabled >= 0)
		st->enabled = enabled;
	if (enforcement) {
		free(st->enforcement);
		st->enforcement = strdup(enforcement);
	}
}

void policy_settings_free(struct policy_settings *ps)
{
	for (int i = 0; i < ps->n; i++) {
		free(ps->v[i].policy_id);
		free(ps->v[i].enforcement);
	}
	free(ps->v);
	memset(ps, 0, sizeof(*ps));
}

int vg_alerts_set_policy(struct vg_alerts *s, const char *policy_id, int enabled,
			 const char *enforcement)
{
	struct vg_policy_setting *st = policy_settings_slot(&s->settings, policy_id);
	struct alert_rec r = {.type = ALERT_REC_SETTING,
			      .policy_id = policy_id,
			      .enabled = enabled,
			      .enforcement = enforcement};
	int rc;

	if (!st)
		return -ENOMEM;
	rc = alert_log_put(s->log, &r);
	if (rc)
		return rc; /* not in the log: not changed */
	policy_settings_apply(st, enabled, enforcement);
	return 0;
}

const struct vg_policy_setting *vg_alerts_policy_setting(struct vg_alerts *s, const char *policy_id)
{
	return find(&s->settings, policy_id);
}
