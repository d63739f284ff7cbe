// SPDX-License-Identifier: BSD-2-Clause
/*
 * k8s_owner.c - the top owner of a pod, as alerts name it (the "deployment"): a ReplicaSet's
 * controller (a Deployment), a Job's (a CronJob), read from the API server once per owner and
 * kept an hour; a StatefulSet, DaemonSet, ReplicationController, a ReplicaSet or Job of no
 * controller: their own name. Until an owner's answer comes (and when it cannot be read) the
 * name is guessed: a ReplicaSet "web-5d8f7b9c4d" is Deployment "web".
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>

#include "k8s_priv.h"

#define OWNERS_MAX    1024
#define OWNER_KEEP_S  3600 /* an owner's answer */
#define OWNER_RETRY_S 300  /* an owner that could not be read */

enum { PENDING, RESOLVED, FAILED };

struct vg_k8s_owner_req {
	struct vg_k8s_owner_req *next;
	struct vg_k8s *k;
	char key[600], ns[128], kind[32], name[256];
};

/* "web-5d8f7b9c4d" (a ReplicaSet of Deployment "web") -> "web" */
static void guess(const char *kind, const char *name, char *out, size_t n)
{
	const char *dash = strrchr(name, '-');

	if (!strcmp(kind, "ReplicaSet") && dash)
		snprintf(out, n, "%.*s", (int)(dash - name), name);
	else
		snprintf(out, n, "%s", name);
}

/* Room for one more entry: the expired ones go, and all of them if that is not enough. */
static void make_room(struct vg_k8s *k)
{
	const char *key;
	json_t *v, *tmp;
	int64_t now = vg_k8s_mono_s();

	if (json_object_size(k->owners) < OWNERS_MAX)
		return;
	json_object_foreach_safe(k->owners, tmp, key, v)
	{
		if (json_integer_value(json_object_get(v, "until")) <= now)
			json_object_del(k->owners, key);
	}
	if (json_object_size(k->owners) >= OWNERS_MAX)
		json_object_clear(k->owners);
}

static void req_done(struct vg_k8s_owner_req *q)
{
	struct vg_k8s_owner_req **pp = &q->k->owner_reqs;

	while (*pp && *pp != q)
		pp = &(*pp)->next;
	if (*pp)
		*pp = q->next;
	free(q);
}

/* The pods owned by q's owner get top as their deployment. */
static void update_pods(struct vg_k8s_owner_req *q, const char *top)
{
	struct vg_k8s *k = q->k;

	for (int b = 0; b < VG_K8S_POD_BUCKETS; b++)
		for (struct pod *p = k->buckets[b]; p; p = p->next)
			if (p->owner_kind && !strcmp(p->ns, q->ns) &&
			    !strcmp(p->owner_kind, q->kind) && !strcmp(p->owner_name, q->name))
				vg_k8s_pod_set_deployment(k, p, top);
}

/* The name of the controller of the owner object in body (its own name when none). */
static void controller_of(const char *body, const char *own, char *top, size_t n)
{
	json_t *j = json_loads(body, JSON_ALLOW_NUL, NULL), *o, *refs;
	size_t i;

	snprintf(top, n, "%s", own);
	refs = json_object_get(json_object_get(j, "metadata"), "ownerReferences");
	json_array_foreach(refs, i, o) if (json_is_true(json_object_get(o, "controller")) &&
					   json_is_string(json_object_get(o, "name")))
	{
		snprintf(top, n, "%s", json_string_value(json_object_get(o, "name")));
		break;
	}
	json_decref(j);
}

/* Once: why owners are guessed, and the fix. */
static void say_error(struct vg_k8s *k, const struct vg_k8s_owner_req *q,
		      const struct vg_http_resp *r)
{
	char msg[1024];

	snprintf(msg, sizeof(msg),
		 "reading %s %s/%s: %ld %.80s: deployments are guessed from pod owner names; the "
		 "ClusterRole needs get on replicasets (apps) and jobs (batch)",
		 q->kind, q->ns, q->name, r->status, r->error ? r->error : r->body);
	snprintf(k->st.last_error, sizeof(k->st.last_error), "%.255s", msg);
}

static void on_owner(void *ctx, const struct vg_http_resp *r)
{
	struct vg_k8s_owner_req *q = ctx;
	struct vg_k8s *k = q->k;
	char top[256];
	bool ok = !r->error && r->status == 200;
	json_t *e = json_object_get(k->owners, q->key);

	if (!ok) {
		k->st.owner_errors++;
		if (!k->owner_error_said)
			say_error(k, q, r);
		k->owner_error_said = true;
		guess(q->kind, q->name, top, sizeof(top));
	} else {
		controller_of(r->body, q->name, top, sizeof(top));
	}
	if (e) {
		json_object_set_new(e, "top", json_string(top));
		json_object_set_new(e, "state", json_integer(ok ? RESOLVED : FAILED));
		json_object_set_new(
			e, "until",
			json_integer(vg_k8s_mono_s() + (ok ? OWNER_KEEP_S : OWNER_RETRY_S)));
	}
	update_pods(q, top);
	req_done(q);
}

static int ask(struct vg_k8s *k, const char *key, const char *ns, const char *kind,
	       const char *name)
{
	struct vg_k8s_owner_req *q;
	char url[1024], *ens, *ename;
	struct vg_http_req req;
	const char *hdr[3];

	/* an ownerReference's name is not checked by the API server: one that does not fit is
	 * not asked for (its pods keep the guess), and each goes into the path escaped */
	if (strlen(ns) >= sizeof(q->ns) || strlen(name) >= sizeof(q->name))
		return -ENAMETOOLONG;
	q = calloc(1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	q->k = k;
	snprintf(q->key, sizeof(q->key), "%s", key);
	snprintf(q->ns, sizeof(q->ns), "%s", ns);
	snprintf(q->kind, sizeof(q->kind), "%s", kind);
	snprintf(q->name, sizeof(q->name), "%s", name);
	ens = curl_easy_escape(NULL, ns, 0);
	ename = curl_easy_escape(NULL, name, 0);
	if (!ens || !ename) {
		curl_free(ens);
		curl_free(ename);
		free(q);
		return -ENOMEM;
	}
	if (!strcmp(kind, "ReplicaSet"))
		snprintf(url, sizeof(url), "%s/apis/apps/v1/namespaces/%s/replicasets/%s",
			 k->server, ens, ename);
	else
		snprintf(url, sizeof(url), "%s/apis/batch/v1/namespaces/%s/jobs/%s", k->server, ens,
			 ename);
	curl_free(ens);
	curl_free(ename);
	vg_k8s_req(k, &req, url, hdr);
	k->st.owner_gets++;
	if (vg_http_request(k->http, &req, on_owner, q)) {
		free(q);
		return -EIO;
	}
	q->next = k->owner_reqs;
	k->owner_reqs = q;
	return 0;
}

bool vg_k8s_owner_top(struct vg_k8s *k, const char *ns, const char *kind, const char *name,
		      char *out, size_t n)
{
	char key[600];
	json_t *e;

	guess(kind, name, out, n);
	if (strcmp(kind, "ReplicaSet") && strcmp(kind, "Job"))
		return true; /* a StatefulSet, DaemonSet...: the top already */
	if (!k->owners && !(k->owners = json_object()))
		return true;
	snprintf(key, sizeof(key), "%s/%s/%s", ns, kind, name);
	e = json_object_get(k->owners, key);
	if (e && json_integer_value(json_object_get(e, "until")) > vg_k8s_mono_s()) {
		if (json_integer_value(json_object_get(e, "state")) == PENDING)
			return false; /* asked already: update_pods tells this pod too */
		snprintf(out, n, "%s", json_string_value(json_object_get(e, "top")));
		return true;
	}
	make_room(k);
	/* pending for as long as a request may take, then asked again */
	json_object_set_new(k->owners, key,
			    json_pack("{s:s, s:I, s:i}", "top", out, "until",
				      (json_int_t)(vg_k8s_mono_s() + 60), "state", PENDING));
	if (!ask(k, key, ns, kind, name))
		return false;
	json_object_del(k->owners, key); /* not asked: the guess is the answer, asked next time */
	return true;
}

void vg_k8s_owners_free(struct vg_k8s *k)
{
	while (k->owner_reqs) {
		struct vg_k8s_owner_req *q = k->owner_reqs;

		(void)vg_http_cancel(k->http, q);
		k->owner_reqs = q->next;
		free(q);
	}
	json_decref(k->owners);
	k->owners = NULL;
}
