// SPDX-License-Identifier: BSD-2-Clause
/*
 * k8s_pods.c - the caches the reflectors (k8s_watch.c) fill: this node's pods, by uid in a
 * hash table (looked up on every exec), and the namespaces' labels and annotations.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "k8s_priv.h"
#include "serial.h"

static char *keep(struct pod *p, const char *s)
{
	char **n = realloc(p->strs, (size_t)(p->nstrs + 1) * sizeof(char *));

	if (!n)
		return NULL;
	p->strs = n;
	return p->strs[p->nstrs++] = strdup(s ? s : "");
}

static void pod_free(struct pod *p)
{
	for (int i = 0; i < p->nstrs; i++)
		free(p->strs[i]);
	free(p->strs);
	free(p->labels);
	free(p->cids);
	free(p);
}

static unsigned bucket(const char *uid)
{
	unsigned h = 2166136261u; /* FNV-1a */

	for (; *uid; uid++)
		h = (h ^ (unsigned char)*uid) * 16777619u;
	return h % VG_K8S_POD_BUCKETS;
}

struct pod *vg_k8s_pod_find(const struct vg_k8s *k, const char *uid)
{
	struct pod *p = k->buckets[bucket(uid)];

	while (p && strcmp(p->uid, uid))
		p = p->next;
	return p;
}

/* Takes uid's pod out of the table (not freed); NULL when not there. */
static struct pod *unlink_pod(struct vg_k8s *k, const char *uid)
{
	struct pod **pp = &k->buckets[bucket(uid)], *p;

	while (*pp && strcmp((*pp)->uid, uid))
		pp = &(*pp)->next;
	p = *pp;
	if (p) {
		*pp = p->next;
		k->npods--;
		k->ngone -= p->gone_at != 0;
	}
	return p;
}

void vg_k8s_pods_free(struct vg_k8s *k)
{
	for (int b = 0; b < VG_K8S_POD_BUCKETS; b++)
		while (k->buckets[b]) {
			struct pod *p = k->buckets[b];

			k->buckets[b] = p->next;
			pod_free(p);
		}
	k->npods = k->ngone = 0;
	k->st.pods = 0;
}

/* The deleted pods kept long enough go. */
static void sweep(struct vg_k8s *k)
{
	int64_t old = vg_k8s_mono_s() - VG_K8S_GONE_KEEP_S;

	for (int b = 0; k->ngone && b < VG_K8S_POD_BUCKETS; b++)
		for (struct pod **pp = &k->buckets[b]; *pp;) {
			struct pod *p = *pp;

			if (!p->gone_at || p->gone_at > old) {
				pp = &p->next;
				continue;
			}
			*pp = p->next;
			k->npods--;
			k->ngone--;
			pod_free(p);
		}
}

/* The ids the runtime gave, from "containerd://<64 hex>" (or cri-o://...) of every status list. */
static void keep_container_ids(struct pod *p, const json_t *status)
{
	static const char *const lists[] = {"containerStatuses", "initContainerStatuses",
					    "ephemeralContainerStatuses"};
	size_t n = 0, i;
	const json_t *c;

	for (size_t l = 0; l < sizeof(lists) / sizeof(lists[0]); l++)
		n += json_array_size(json_object_get(status, lists[l]));
	p->cids = n ? calloc(n, sizeof(*p->cids)) : NULL;
	for (size_t l = 0; p->cids && l < sizeof(lists) / sizeof(lists[0]); l++)
		json_array_foreach(json_object_get(status, lists[l]), i, c)
		{
			const char *id = json_string_value(json_object_get(c, "containerID")), *sep;

			sep = id ? strstr(id, "://") : NULL;
			if (sep && strlen(sep + 3) == 64)
				snprintf(p->cids[p->ncids++], sizeof(p->cids[0]), "%s", sep + 3);
		}
}

/* The controller ownerReference of md (else the first): its kind and name, and the deployment
 * (or other top owner) they stand for. */
static void owner_of(struct vg_k8s *k, struct pod *p, const json_t *md)
{
	const json_t *refs = json_object_get(md, "ownerReferences"), *own = NULL, *o;
	const char *kind, *name;
	char dep[256] = "";
	size_t i;

	json_array_foreach(refs, i, o) if (!own && json_is_true(json_object_get(o, "controller")))
		own = o;
	if (!own)
		own = json_array_get(refs, 0);
	kind = json_string_value(json_object_get(own, "kind"));
	name = json_string_value(json_object_get(own, "name"));
	if (!kind || !name)
		return;
	p->owner_kind = keep(p, kind);
	p->owner_name = keep(p, name);
	p->owner_pending = !vg_k8s_owner_top(k, p->ns, kind, name, dep, sizeof(dep));
	p->deployment = dep[0] ? keep(p, dep) : NULL;
}

static void labels_of(struct pod *p, const json_t *labels)
{
	const char *key;
	json_t *v;
	size_t nl = 0;

	p->labels = calloc(2 * json_object_size(labels) + 1, sizeof(char *));
	json_object_foreach((json_t *)labels, key, v)
	{
		if (p->labels && json_is_string(v)) {
			p->labels[nl++] = keep(p, key);
			p->labels[nl++] = keep(p, json_string_value(v));
		}
	}
}

/*
 * The uid a pod's cgroups carry: its metadata.uid, but for a static pod (a manifest the kubelet
 * runs itself: etcd, kube-apiserver...) the kubelet's own uid, which the API server's mirror of
 * it names in its kubernetes.io/config.mirror annotation. NULL when neither fits.
 */
static const char *cgroup_uid(const json_t *md)
{
	const char *uid = json_string_value(json_object_get(md, "uid"));
	const char *mirror = json_string_value(
		json_object_get(json_object_get(md, "annotations"), "kubernetes.io/config.mirror"));

	if (mirror && *mirror && strlen(mirror) < sizeof(((struct pod *)0)->uid))
		return mirror;
	return uid;
}

/* A Pod object; NULL when it has no uid (or out of memory). */
static struct pod *parse_pod(struct vg_k8s *k, const json_t *it)
{
	const json_t *md = json_object_get(it, "metadata"), *ctrs, *c;
	const char *uid = cgroup_uid(md);
	const char *api_uid = json_string_value(json_object_get(md, "uid"));
	struct pod *p;
	size_t ci;

	if (!uid || !api_uid || strlen(uid) >= sizeof(p->uid) ||
	    strlen(api_uid) >= sizeof(p->api_uid) || !(p = calloc(1, sizeof(*p))))
		return NULL;
	snprintf(p->uid, sizeof(p->uid), "%s", uid);
	snprintf(p->api_uid, sizeof(p->api_uid), "%s", api_uid);
	p->ns = keep(p, json_string_value(json_object_get(md, "namespace")));
	p->name = keep(p, json_string_value(json_object_get(md, "name")));
	owner_of(k, p, md);
	labels_of(p, json_object_get(md, "labels"));
	p->break_glass =
		json_object_get(json_object_get(md, "annotations"), "vigil.io/break-glass") != NULL;
	ctrs = json_object_get(json_object_get(it, "spec"), "containers");
	json_array_foreach(ctrs, ci, c) p->privileged |=
		json_is_true(json_object_get(json_object_get(c, "securityContext"), "privileged"));
	keep_container_ids(p, json_object_get(it, "status"));
	p->meta.namespace_ = p->ns;
	p->meta.pod = p->name;
	p->meta.deployment = p->deployment;
	p->meta.labels = p->labels;
	p->meta.privileged = p->privileged;
	p->meta.serial = vg_serial_next();
	return p;
}

/* p in the table, in place of the pod of its uid if any; false when full (p freed). */
static bool put(struct vg_k8s *k, struct pod *p)
{
	struct pod *old = unlink_pod(k, p->uid);
	unsigned b = bucket(p->uid);

	if (old)
		pod_free(old);
	if (k->npods >= VG_K8S_MAX_PODS) {
		pod_free(p);
		return false;
	}
	p->next = k->buckets[b];
	k->buckets[b] = p;
	k->npods++;
	return true;
}

/* The callback, for a pod whose metadata is complete: one whose owner is being read is told
 * of when the answer comes (vg_k8s_pod_set_deployment). */
static void fire(struct vg_k8s *k, const struct pod *p)
{
	if (k->pod_cb && !p->owner_pending)
		k->pod_cb(k->pod_cb_ctx, p->uid);
}

void vg_k8s_pods_replace(struct vg_k8s *k, const json_t *items)
{
	const json_t *it;
	size_t i;

	vg_k8s_pods_free(k);
	json_array_foreach(items, i, it)
	{
		struct pod *p = parse_pod(k, it);

		if (p && put(k, p))
			fire(k, p);
	}
	k->st.pods = (uint64_t)k->npods;
}

void vg_k8s_pods_apply(struct vg_k8s *k, const char *type, const json_t *obj)
{
	const char *uid = cgroup_uid(json_object_get(obj, "metadata"));
	struct pod *p;

	if (!uid)
		return;
	sweep(k);
	if (!strcmp(type, "DELETED")) {
		p = vg_k8s_pod_find(k, uid);
		if (p && !p->gone_at) {
			p->gone_at = vg_k8s_mono_s();
			k->ngone++;
		}
	} else if (!strcmp(type, "ADDED") || !strcmp(type, "MODIFIED")) {
		p = parse_pod(k, obj);
		if (p && put(k, p))
			fire(k, p);
	}
	k->st.pods = (uint64_t)(k->npods - k->ngone);
}

void vg_k8s_pod_set_deployment(struct vg_k8s *k, struct pod *p, const char *dep)
{
	bool was_pending = p->owner_pending;

	p->owner_pending = false;
	if (p->deployment && !strcmp(p->deployment, dep)) {
		if (was_pending) /* the guess was right: complete now */
			fire(k, p);
		return;
	}
	p->deployment = keep(p, dep);
	p->meta.deployment = p->deployment;
	p->meta.serial = vg_serial_next();
	fire(k, p);
}

/* ---- namespaces: their labels and annotations, for the notifiers ---------------------- */

static json_t *ns_entry(const json_t *it, const char **name)
{
	const json_t *md = json_object_get(it, "metadata");
	json_t *labels, *ann;

	*name = json_string_value(json_object_get(md, "name"));
	if (!*name)
		return NULL;
	labels = json_object_get(md, "labels");
	ann = json_object_get(md, "annotations");
	return json_pack("{s:s, s:o, s:o}", "name", *name, "labels",
			 json_is_object(labels) ? json_incref(labels) : json_object(),
			 "annotations", json_is_object(ann) ? json_incref(ann) : json_object());
}

void vg_k8s_ns_replace(struct vg_k8s *k, const json_t *items)
{
	json_t *all = json_object();
	const json_t *it;
	size_t i;

	json_array_foreach(items, i, it)
	{
		const char *name;
		json_t *e = ns_entry(it, &name);

		if (e)
			json_object_set_new(all, name, e);
	}
	json_decref(k->namespaces);
	k->namespaces = all;
	k->st.namespaces = json_object_size(all);
}

void vg_k8s_ns_apply(struct vg_k8s *k, const char *type, const json_t *obj)
{
	const char *name;
	json_t *e = ns_entry(obj, &name);

	if (!e)
		return;
	if (!k->namespaces)
		k->namespaces = json_object();
	if (!strcmp(type, "DELETED")) {
		json_object_del(k->namespaces, name);
		json_decref(e);
	} else {
		json_object_set_new(k->namespaces, name, e);
	}
	k->st.namespaces = json_object_size(k->namespaces);
}
