/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * k8s_priv.h - the Kubernetes client's state, shared by k8s.c (lookups, deletions, set-up),
 * k8s_watch.c (the reflectors: list, then watch), k8s_pods.c (the pod and namespace caches),
 * k8s_owner.c (a pod's top owner) and k8s_event.c (Events).
 */
#ifndef VG_K8S_PRIV_H
#define VG_K8S_PRIV_H

#include <jansson.h>

#include "http.h"
#include "k8s.h"

#define VG_K8S_MAX_PODS	   4096
#define VG_K8S_POD_BUCKETS 1024
#define VG_K8S_GONE_KEEP_S 30 /* a deleted pod is still known this long */

struct pod {
	struct pod *next; /* in its hash bucket */
	char uid[40];	  /* as its cgroups name it (a static pod's: the kubelet's) */
	char api_uid[40]; /* metadata.uid: a DELETE's precondition, an Event's object */
	char *ns, *name, *deployment, *container;
	char *owner_kind, *owner_name; /* its controller (else first) ownerReference, or NULL */
	bool owner_pending;	       /* its top owner is being read: deployment is a guess */
	const char **labels;	       /* key, value, ..., NULL (strings owned by `strs`) */
	char **strs;
	int nstrs;
	bool break_glass, privileged;
	int64_t gone_at;  /* monotonic s the watch said DELETED (0: alive): kept a while, since its
			     containers stop after the object is gone */
	char (*cids)[65]; /* the containers' ids from its (init, ephemeral) containerStatuses */
	int ncids;
	struct vg_meta meta;
};

/*
 * A reflector: one kind of object kept current as client-go's reflector does: LIST (its
 * resourceVersion), then WATCH from it; events applied, bookmarks move the resourceVersion,
 * 410 Gone lists again, a watch that ends is started again from the last resourceVersion,
 * errors back off (1 s doubling to 30 s, jittered).
 */
struct vg_k8s_refl {
	struct vg_k8s *k;
	const char *what;	/* "pods", "namespaces": for messages */
	char url[1024];		/* the collection, with its selector if any */
	char rv[64];		/* the last resourceVersion seen ("": list first) */
	bool synced;		/* listed, and its watch is running */
	bool gone;		/* the watch said 410: list again */
	bool failed;		/* the watch said another ERROR */
	bool listing;		/* a list is on its way */
	bool watching;		/* a watch is on its way */
	int64_t list_at;	/* monotonic s the list under way was sent */
	bool consistent;	/* the next list reads etcd (after a 410), not the watch cache */
	uint64_t good;		/* events the watch applied (bookmarks too) */
	long backoff_ms;	/* the next wait after an error (0: none yet) */
	int64_t backed_off;	/* when it last backed off (vg_k8s_mono_s) */
	int64_t started;	/* monotonic s the watch started */
	uint64_t got;		/* lines the watch delivered */
	unsigned short rand[3]; /* nrand48's state: each node's own jitter and watch lengths */
	struct event *timer;	/* the next list or watch after a backoff */
	struct event *guard;	/* every GUARD_S: a reflector with nothing under way lists */
	uint64_t *lists, *list_errors;
	/* a list's items replace the cache; an event's object changes it */
	void (*replace)(struct vg_k8s *k, const json_t *items);
	void (*apply)(struct vg_k8s *k, const char *type, const json_t *obj);
};

struct vg_k8s {
	struct event_base *base;
	struct vg_http *http;
	char server[512], token[4096], ca[512], node[256], auth[4200];
	bool insecure;
	struct pod *buckets[VG_K8S_POD_BUCKETS]; /* the node's pods, by uid */
	int npods, ngone;			 /* in the table; of them, deleted */
	struct vg_k8s_refl pods_refl, ns_refl;
	struct event *refresh; /* a full relist every refresh_s, when set */
	uint32_t refresh_s;
	json_t *namespaces; /* name -> {"name", "labels", "annotations"} */
	json_t *owners;	    /* "ns/kind/name" -> {"top", "until", "state"} (k8s_owner.c) */
	struct vg_k8s_owner_req *owner_reqs;
	bool owner_error_said;
	vg_k8s_pod_cb pod_cb;
	void *pod_cb_ctx;
	/* pods whose deletion was asked for lately: one DELETE a pod, however many violations */
	struct {
		char uid[40];
		int64_t at; /* monotonic s */
	} deleted[64];
	int deleted_next;
	struct vg_k8s_stats st;
};

/* The object an Event is about: a Pod in ns (uid "" or NULL: not named). */
struct vg_k8s_obj {
	const char *ns, *name, *uid;
};

/* POSTs an Event about obj; cb runs from the loop when it ends. 0, or -errno (cb never runs). */
int vg_k8s_post_event(struct vg_k8s *k, const struct vg_k8s_obj *obj, const char *type,
		      const char *reason, const char *msg, vg_http_cb cb, void *ctx);

/* Monotonic seconds. */
int64_t vg_k8s_mono_s(void);

/* k8s_watch.c: sets r up (url: the collection with its selector) and starts it. 0 or -errno. */
int vg_k8s_refl_start(struct vg_k8s_refl *r, struct vg_k8s *k, const char *what, const char *url);
/* Lists again now (a watch in flight is dropped). */
void vg_k8s_refl_relist(struct vg_k8s_refl *r);
void vg_k8s_refl_stop(struct vg_k8s_refl *r);
/* A GET request's fields for url, with k's credentials (hdr: 3 entries, filled). */
void vg_k8s_req(struct vg_k8s *k, struct vg_http_req *r, const char *url, const char **hdr);

/* k8s_pods.c: the caches the reflectors fill. */
void vg_k8s_pods_replace(struct vg_k8s *k, const json_t *items);
void vg_k8s_pods_apply(struct vg_k8s *k, const char *type, const json_t *obj);
void vg_k8s_ns_replace(struct vg_k8s *k, const json_t *items);
void vg_k8s_ns_apply(struct vg_k8s *k, const char *type, const json_t *obj);
struct pod *vg_k8s_pod_find(const struct vg_k8s *k, const char *uid);
void vg_k8s_pods_free(struct vg_k8s *k);
/* The pod's deployment is now dep (an owner resolved): its metadata changes, the callback runs. */
void vg_k8s_pod_set_deployment(struct vg_k8s *k, struct pod *p, const char *dep);

/*
 * k8s_owner.c: the deployment (or other top owner) name of a pod owned by kind/name in ns,
 * in out: from the owner cache, else guessed from the name while a GET of the owner is asked
 * for (its answer updates the pods it owns, vg_k8s_pod_set_deployment). True when out is the
 * answer; false while a GET of the owner is on its way (out is the guess meanwhile).
 */
bool vg_k8s_owner_top(struct vg_k8s *k, const char *ns, const char *kind, const char *name,
		      char *out, size_t n);
void vg_k8s_owners_free(struct vg_k8s *k);

#endif
