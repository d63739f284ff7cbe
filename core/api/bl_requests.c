// SPDX-License-Identifier: BSD-2-Clause
/*
 * bl_requests.c - the process baseline requests (bl_requests.h): queries,
 * keys, element changes checked whole before any is made, locks, deletes and
 * add to baseline from an alert.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bl_requests.h"
#include "log.h"

/* ---- queries ------------------------------------------------------------------------------ */

struct bl_query {
	char ns[VG_BL_NS_MAX], deploy[VG_BL_DEPLOY_MAX], ctr[VG_BL_CTR_MAX], image[VG_BL_IMAGE_MAX];
	int locked; /* -1: any */
};

/* The value of a Locked: term into q; -EINVAL unless true or false. */
static int query_locked(const char *v, size_t vl, struct bl_query *q, char *err, size_t n)
{
	if (vl == 4 && !strncasecmp(v, "true", 4))
		q->locked = 1;
	else if (vl == 5 && !strncasecmp(v, "false", 5))
		q->locked = 0;
	else
		return vg_errf(err, n, -EINVAL, "Locked takes true or false, not '%.*s'",
			       (int)(vl > 40 ? 40 : vl), v);
	return 0;
}

/* One Key:Value term, p[0..len), into q. */
static int query_term(const char *p, size_t len, struct bl_query *q, char *err, size_t n)
{
	static const char *const keys[] = {"Namespace", "Deployment", "Container Name", "Image"};
	char *bufs[] = {q->ns, q->deploy, q->ctr, q->image};
	size_t sizes[] = {sizeof(q->ns), sizeof(q->deploy), sizeof(q->ctr), sizeof(q->image)};
	const char *colon = memchr(p, ':', len);
	size_t kl = colon ? (size_t)(colon - p) : 0, vl = colon ? len - kl - 1 : 0;

	if (!colon || !kl || !vl)
		return vg_errf(err, n, -EINVAL,
			       "bad query term '%.*s': write Key:Value (e.g. Namespace:default), "
			       "terms joined by '+'",
			       (int)(len > 200 ? 200 : len), p);
	if (kl == 6 && !strncasecmp(p, "Locked", 6))
		return query_locked(colon + 1, vl, q, err, n);
	for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
		if (strlen(keys[k]) != kl || strncasecmp(keys[k], p, kl))
			continue;
		if (vl >= sizes[k])
			return vg_errf(err, n, -EINVAL, "query key %s takes up to %zu characters",
				       keys[k], sizes[k] - 1);
		memcpy(bufs[k], colon + 1, vl);
		bufs[k][vl] = '\0';
		return 0;
	}
	return vg_errf(err, n, -EINVAL,
		       "unknown query key '%.*s' (known: Namespace, Deployment, Container Name, "
		       "Image, Locked)",
		       (int)(kl > 60 ? 60 : kl), p);
}

static int query_parse(const char *s, struct bl_query *q, char *err, size_t n)
{
	int rc;

	memset(q, 0, sizeof(*q));
	q->locked = -1;
	while (s && *s) {
		const char *end = strchr(s, '+');
		size_t len = end ? (size_t)(end - s) : strlen(s);

		rc = len ? query_term(s, len, q, err, n) : 0; /* "a++b": nothing between */
		if (rc)
			return rc;
		s = end ? end + 1 : NULL;
	}
	return 0;
}

static bool query_matches(const struct bl_query *q, const struct vg_baseline *bl)
{
	return (!q->ns[0] || !strcmp(q->ns, bl->key.namespace_)) &&
	       (!q->deploy[0] || !strcmp(q->deploy, bl->key.deployment)) &&
	       (!q->ctr[0] || !strcmp(q->ctr, bl->key.container)) &&
	       (!q->image[0] || !strcmp(q->image, bl->key.image)) &&
	       (q->locked < 0 || q->locked == (int)bl->locked);
}

int vg_blreq_select(struct vg_baselines *b, const char *query, const struct vg_baseline ***out,
		    size_t *n, char *err, size_t errlen)
{
	struct bl_query q;
	size_t kept = 0;
	int rc;

	*out = NULL;
	*n = 0;
	rc = query_parse(query, &q, err, errlen);
	if (rc)
		return rc;
	rc = vg_baselines_list(b, out, n);
	if (rc)
		return vg_errf(err, errlen, rc, "cannot list the baselines: %s", strerror(-rc));
	for (size_t i = 0; i < *n; i++)
		if (query_matches(&q, (*out)[i]))
			(*out)[kept++] = (*out)[i];
	*n = kept;
	return 0;
}

/* ---- keys --------------------------------------------------------------------------------- */

/* Member name of key, a string of at most max - 1 bytes ("" when absent), into out. */
static int key_field(const json_t *key, const char *name, char *out, size_t max, char *err,
		     size_t n)
{
	const json_t *v = json_object_get(key, name);

	out[0] = '\0';
	if (!v)
		return 0;
	if (!json_is_string(v) || json_string_length(v) >= max)
		return vg_errf(err, n, -EINVAL,
			       "key member \"%s\" must be a string of up to %zu bytes", name,
			       max - 1);
	memcpy(out, json_string_value(v), json_string_length(v) + 1);
	return 0;
}

/* A key object's members: only the known ones. */
static int key_members_known(const json_t *key, char *err, size_t n)
{
	static const char *const known[] = {
		"id", "namespace", "deploymentId", "deploymentName", "containerName", "image"};
	const char *name;
	json_t *v;

	json_object_foreach((json_t *)key, name, v)
	{
		size_t k = 0;

		while (k < sizeof(known) / sizeof(known[0]) && strcmp(known[k], name))
			k++;
		if (k == sizeof(known) / sizeof(known[0]))
			return vg_errf(
				err, n, -EINVAL,
				"unknown key member \"%.60s\": a key is {\"id\"} or "
				"{\"namespace\", \"deploymentId\", \"containerName\", \"image\"}",
				name);
	}
	return 0;
}

int vg_blreq_key(struct vg_baselines *b, const json_t *key, const struct vg_baseline **out,
		 char *err, size_t errlen)
{
	struct vg_baseline_key k;
	char text[VG_BL_NS_MAX + VG_BL_DEPLOY_MAX + VG_BL_CTR_MAX + VG_BL_IMAGE_MAX + 4];
	const char *id;
	int rc;

	*out = NULL;
	if (!json_is_object(key))
		return vg_errf(err, errlen, -EINVAL,
			       "a key is an object: {\"id\": ...} or {\"namespace\", "
			       "\"deploymentId\", \"containerName\", \"image\"}");
	if ((rc = key_members_known(key, err, errlen)))
		return rc;
	id = json_string_value(json_object_get(key, "id"));
	if (json_object_get(key, "id") && !id)
		return vg_errf(err, errlen, -EINVAL, "key member \"id\" must be a string");
	memset(&k, 0, sizeof(k));
	if (!id &&
	    ((rc = key_field(key, "namespace", k.namespace_, sizeof(k.namespace_), err, errlen)) ||
	     (rc = key_field(key, "deploymentId", k.deployment, sizeof(k.deployment), err,
			     errlen)) ||
	     (rc = key_field(key, "containerName", k.container, sizeof(k.container), err,
			     errlen)) ||
	     (rc = key_field(key, "image", k.image, sizeof(k.image), err, errlen))))
		return rc;
	*out = id ? vg_baselines_find(b, id) : vg_baselines_get(b, &k);
	if (*out)
		return 0;
	if (!id)
		(void)vg_baseline_key_text(&k, text, sizeof(text)); /* cut: it only names it */
	return vg_errf(err, errlen, -ENOENT,
		       "no process baseline '%.300s' (GET /v1/processbaselines or 'vigil baselines "
		       "list' lists them)",
		       id ? id : text);
}

/* The ids of the baselines body's "keys" names (at least one), into *ids (malloc'd). */
static int keys_ids(struct vg_baselines *b, const json_t *body, char (**ids)[VG_BL_ID_LEN + 1],
		    size_t *n, char *err, size_t errlen)
{
	const json_t *keys = json_object_get(body, "keys");
	const struct vg_baseline *bl;
	int rc;

	*ids = NULL;
	*n = json_array_size(keys);
	if (!json_is_array(keys) || !*n)
		return vg_errf(err, errlen, -EINVAL,
			       "the body needs \"keys\": a non-empty array of keys ({\"id\"} or "
			       "{\"namespace\", \"deploymentId\", \"containerName\", \"image\"})");
	*ids = calloc(*n, sizeof(**ids));
	if (!*ids)
		return vg_errf(err, errlen, -ENOMEM, "out of memory");
	for (size_t i = 0; i < *n; i++) {
		rc = vg_blreq_key(b, json_array_get(keys, i), &bl, err, errlen);
		if (rc) {
			free(*ids);
			*ids = NULL;
			return rc;
		}
		memcpy((*ids)[i], bl->id, sizeof((*ids)[i]));
	}
	return 0;
}

/* {"baselines": [...]} for ids (found again: a change invalidates the views). */
static int reply_baselines(struct vg_baselines *b, char (*ids)[VG_BL_ID_LEN + 1], size_t n,
			   json_t **out, char *err, size_t errlen)
{
	json_t *arr = json_array();

	for (size_t i = 0; arr && i < n; i++) {
		const struct vg_baseline *bl = vg_baselines_find(b, ids[i]);

		if (bl && json_array_append_new(arr, vg_baseline_json(bl))) {
			json_decref(arr);
			arr = NULL;
		}
	}
	*out = arr ? json_pack("{s:o}", "baselines", arr) : NULL;
	if (!*out)
		return vg_errf(err, errlen, -ENOMEM, "out of memory");
	return 0;
}

/* ---- element changes ---------------------------------------------------------------------- */

struct paths {
	const char **v;
	size_t n;
};

/* The paths of an element list ([{"processName": PATH}...], absent: none) into ps. */
static int element_paths(const json_t *body, const char *name, struct paths *ps, char *err,
			 size_t errlen)
{
	const json_t *arr = json_object_get(body, name), *el;
	size_t i;

	ps->n = 0;
	ps->v = NULL;
	if (!arr)
		return 0;
	if (!json_is_array(arr))
		return vg_errf(err, errlen, -EINVAL,
			       "\"%s\" must be an array of {\"processName\": PATH}", name);
	ps->v = calloc(json_array_size(arr) + 1, sizeof(*ps->v));
	if (!ps->v)
		return vg_errf(err, errlen, -ENOMEM, "out of memory");
	json_array_foreach(arr, i, el)
	{
		const char *p = json_string_value(json_object_get(el, "processName"));

		if (!json_is_object(el) || !p || json_object_size(el) != 1)
			return vg_errf(err, errlen, -EINVAL,
				       "%s[%zu] is not {\"processName\": PATH}", name, i);
		if (p[0] != '/' || strlen(p) >= VG_BL_PATH_MAX)
			return vg_errf(err, errlen, -EINVAL,
				       "%s[%zu]: '%.200s' is not an absolute path (of up to %d "
				       "bytes): an element is the executable's full path",
				       name, i, p, VG_BL_PATH_MAX - 1);
		for (size_t j = 0; j < ps->n; j++)
			if (!strcmp(ps->v[j], p))
				return vg_errf(err, errlen, -EINVAL,
					       "duplicate element '%.200s' in %s", p, name);
		ps->v[ps->n++] = p;
	}
	return 0;
}

/* Each change against each baseline, before any is made: nothing changes when one is bad. */
static int check_changes(struct vg_baselines *b, char (*ids)[VG_BL_ID_LEN + 1], size_t nids,
			 const struct paths *add, const struct paths *rm, char *err, size_t errlen)
{
	for (size_t i = 0; i < add->n; i++)
		for (size_t j = 0; j < rm->n; j++)
			if (!strcmp(add->v[i], rm->v[j]))
				return vg_errf(err, errlen, -EINVAL,
					       "'%.200s' is both added and removed", add->v[i]);
	for (size_t k = 0; k < nids; k++) {
		const struct vg_baseline *bl = vg_baselines_find(b, ids[k]);

		for (size_t i = 0; i < add->n; i++)
			if (vg_baselines_has(bl, add->v[i]))
				return vg_errf(err, errlen, -EINVAL,
					       "duplicate element: '%.200s' is already in baseline "
					       "%s",
					       add->v[i], bl->id);
		for (size_t i = 0; i < rm->n; i++)
			if (!vg_baselines_has(bl, rm->v[i]))
				return vg_errf(err, errlen, -EINVAL,
					       "'%.200s' is not an element of baseline %s",
					       rm->v[i], bl->id);
	}
	return 0;
}

/* The store's refusal as one of ours: the cap and bad input stay 400s, the rest are 503s. */
static int store_rc(int rc)
{
	if (rc == -EINVAL || rc == -EEXIST || rc == -ENOSPC)
		return -EINVAL;
	if (rc == -ENOENT)
		return -ENOENT;
	return rc == -ENOMEM ? -ENOMEM : -EIO;
}

/* Makes the checked changes, baseline after baseline. */
static int apply_changes(struct vg_baselines *b, char (*ids)[VG_BL_ID_LEN + 1], size_t nids,
			 const struct paths *add, const struct paths *rm, uint64_t now_ns,
			 char *err, size_t errlen)
{
	int rc = 0;

	for (size_t k = 0; !rc && k < nids; k++) {
		if (add->n)
			rc = vg_baselines_add(b, vg_baselines_find(b, ids[k]), add->v, add->n,
					      now_ns, err, errlen);
		if (!rc && rm->n)
			rc = vg_baselines_remove(b, vg_baselines_find(b, ids[k]), rm->v, rm->n,
						 now_ns, err, errlen);
	}
	return rc ? store_rc(rc) : 0;
}

/* The members a body may have: only names. */
static int body_members(const json_t *body, const char *const *names, size_t nn, const char *what,
			char *err, size_t errlen)
{
	const char *name;
	json_t *v;

	if (!json_is_object(body))
		return vg_errf(err, errlen, -EINVAL, "the body must be a JSON object: %s", what);
	json_object_foreach((json_t *)body, name, v)
	{
		size_t k = 0;

		while (k < nn && strcmp(names[k], name))
			k++;
		if (k == nn)
			return vg_errf(err, errlen, -EINVAL,
				       "unknown member \"%.60s\": the body is %s", name, what);
	}
	return 0;
}

int vg_blreq_update(struct vg_baselines *b, const json_t *body, uint64_t now_ns, json_t **out,
		    char *err, size_t errlen)
{
	static const char *const names[] = {"keys", "addElements", "removeElements"};
	struct paths add = {0}, rm = {0};
	char(*ids)[VG_BL_ID_LEN + 1] = NULL;
	size_t nids = 0;
	int rc;

	*out = NULL;
	rc = body_members(body, names, 3,
			  "{\"keys\": [KEY...], \"addElements\": [{\"processName\": PATH}...], "
			  "\"removeElements\": [...]}",
			  err, errlen);
	if (!rc)
		rc = keys_ids(b, body, &ids, &nids, err, errlen);
	if (!rc)
		rc = element_paths(body, "addElements", &add, err, errlen);
	if (!rc)
		rc = element_paths(body, "removeElements", &rm, err, errlen);
	if (!rc)
		rc = check_changes(b, ids, nids, &add, &rm, err, errlen);
	if (!rc)
		rc = apply_changes(b, ids, nids, &add, &rm, now_ns, err, errlen);
	if (!rc)
		rc = reply_baselines(b, ids, nids, out, err, errlen);
	free(add.v);
	free(rm.v);
	free(ids);
	return rc;
}

int vg_blreq_lock(struct vg_baselines *b, const json_t *body, uint64_t now_ns, json_t **out,
		  char *err, size_t errlen)
{
	static const char *const names[] = {"keys", "locked"};
	char(*ids)[VG_BL_ID_LEN + 1] = NULL;
	const json_t *locked = json_object_get(body, "locked");
	size_t nids = 0;
	int rc;

	*out = NULL;
	rc = body_members(body, names, 2, "{\"keys\": [KEY...], \"locked\": true|false}", err,
			  errlen);
	if (!rc && !json_is_boolean(locked))
		rc = vg_errf(err, errlen, -EINVAL, "the body needs \"locked\": true or false");
	if (!rc)
		rc = keys_ids(b, body, &ids, &nids, err, errlen);
	for (size_t k = 0; !rc && k < nids; k++) {
		rc = vg_baselines_lock(b, vg_baselines_find(b, ids[k]), json_is_true(locked), true,
				       now_ns);
		if (rc)
			rc = vg_errf(err, errlen, store_rc(rc), "cannot record the lock of %s: %s",
				     ids[k], strerror(-rc));
	}
	if (!rc)
		rc = reply_baselines(b, ids, nids, out, err, errlen);
	free(ids);
	return rc;
}

int vg_blreq_delete(struct vg_baselines *b, const char *query, size_t *deleted, char *err,
		    size_t errlen)
{
	const struct vg_baseline **list;
	char(*ids)[VG_BL_ID_LEN + 1];
	size_t n;
	int rc = vg_blreq_select(b, query, &list, &n, err, errlen);

	*deleted = 0;
	if (rc)
		return rc;
	ids = calloc(n + 1, sizeof(*ids));
	for (size_t i = 0; ids && i < n; i++)
		memcpy(ids[i], list[i]->id, sizeof(ids[i]));
	free(list); /* the views end with the first delete */
	if (!ids)
		return vg_errf(err, errlen, -ENOMEM, "out of memory");
	for (size_t i = 0; !rc && i < n; i++) {
		rc = vg_baselines_delete(b, vg_baselines_find(b, ids[i]));
		if (rc)
			rc = vg_errf(err, errlen, store_rc(rc),
				     "cannot record the deletion of %s: %s", ids[i], strerror(-rc));
		else
			(*deleted)++;
	}
	free(ids);
	return rc;
}

/* ---- add to baseline from an alert -------------------------------------------------------- */

static int copy_field(char *out, size_t max, const char *v, const char *what, char *err, size_t n)
{
	if (strlen(v) >= max)
		return vg_errf(err, n, -EINVAL,
			       "the alert's %s is longer than a baseline key takes", what);
	memcpy(out, v, strlen(v) + 1);
	return 0;
}

int vg_blreq_alert_key(const struct vg_alert *al, struct vg_baseline_key *k, char *err,
		       size_t errlen)
{
	const char *deploy = al->deployment && al->deployment[0] ? al->deployment : al->pod;
	bool k8s = al->namespace_ && al->namespace_[0] && deploy && deploy[0];

	memset(k, 0, sizeof(*k));
	if (!al->container_id || !al->container_id[0])
		return vg_errf(err, errlen, -EINVAL,
			       "alert %s is on a host process: only a container's processes have a "
			       "baseline",
			       al->id);
	if (!al->container_name || !al->container_name[0] ||
	    (!k8s && (!al->image || !al->image[0])))
		return vg_errf(err, errlen, -EINVAL,
			       "alert %s: the name or image of its container is not known, so it "
			       "has no baseline key",
			       al->id);
	if (k8s &&
	    (copy_field(k->namespace_, sizeof(k->namespace_), al->namespace_, "namespace", err,
			errlen) ||
	     copy_field(k->deployment, sizeof(k->deployment), deploy, "deployment", err, errlen)))
		return -EINVAL;
	if (!k8s && copy_field(k->image, sizeof(k->image), al->image, "image", err, errlen))
		return -EINVAL;
	return copy_field(k->container, sizeof(k->container), al->container_name, "container name",
			  err, errlen);
}

/* The alert's process paths that are not in bl yet (each once), into ps. */
static int alert_paths(const struct vg_alert *al, const struct vg_baseline *bl, struct paths *ps,
		       char *err, size_t errlen)
{
	ps->n = 0;
	ps->v = calloc((size_t)al->nprocs + 1, sizeof(*ps->v));
	if (!ps->v)
		return vg_errf(err, errlen, -ENOMEM, "out of memory");
	for (int i = 0; i < al->nprocs; i++) {
		const char *p = al->procs[i].exe;
		bool seen = false;

		if (!p || p[0] != '/' || strlen(p) >= VG_BL_PATH_MAX || vg_baselines_has(bl, p))
			continue; /* no path to add (a fileless exec has none), or there already */
		for (size_t j = 0; j < ps->n && !seen; j++)
			seen = !strcmp(ps->v[j], p);
		if (!seen)
			ps->v[ps->n++] = p;
	}
	return 0;
}

int vg_blreq_alert_baseline(struct vg_baselines *b, const struct vg_alert *al,
			    const struct vg_baseline **out, char *err, size_t errlen)
{
	char text[VG_BL_NS_MAX + VG_BL_DEPLOY_MAX + VG_BL_CTR_MAX + VG_BL_IMAGE_MAX + 4];
	struct vg_baseline_key k;
	int rc;

	*out = NULL;
	if (!al)
		return vg_errf(err, errlen, -ENOENT, "no such alert");
	rc = vg_blreq_alert_key(al, &k, err, errlen);
	if (rc)
		return rc;
	*out = vg_baselines_get(b, &k);
	if (*out)
		return 0;
	(void)vg_baseline_key_text(&k, text, sizeof(text)); /* cut: it only names it */
	return vg_errf(err, errlen, -ENOENT,
		       "alert %s: its container '%.300s' has no process baseline yet", al->id,
		       text);
}

int vg_blreq_add_alert(struct vg_baselines *b, const struct vg_alert *al, uint64_t now_ns,
		       size_t *added, char *err, size_t errlen)
{
	const struct vg_baseline *bl;
	struct paths ps;
	int rc;

	*added = 0;
	rc = vg_blreq_alert_baseline(b, al, &bl, err, errlen);
	if (rc)
		return rc;
	rc = alert_paths(al, bl, &ps, err, errlen);
	if (!rc && ps.n)
		rc = vg_baselines_add(b, bl, ps.v, ps.n, now_ns, err, errlen);
	if (!rc)
		*added = ps.n;
	free(ps.v);
	return rc ? store_rc(rc) : 0;
}
