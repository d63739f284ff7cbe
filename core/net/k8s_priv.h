/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * k8s_priv.h - the Kubernetes client's state, shared by k8s.c (pods, namespaces,
 * deletions) and k8s_event.c (Events).
 */
#ifndef VG_K8S_PRIV_H
#define VG_K8S_PRIV_H

#include "http.h"
#include "k8s.h"

struct pod {
	char uid[40];
	char *ns, *name, *deployment, *container;
	const char **labels; /* key, value, ..., NULL (strings owned by `strs`) */
	char **strs;
	int nstrs;
	bool break_glass, privileged;
	char (*cids)[65]; /* the containers' ids from its (init, ephemeral) containerStatuses */
	int ncids;
	struct vg_meta meta;
};

struct vg_k8s {
	struct event_base *base;
	struct vg_http *http;
	char server[512], token[4096], ca[512], node[256], auth[4200];
	bool insecure;
	struct pod *pods;
	int npods;
	struct event *refresh;
	uint32_t refresh_s;
	time_t last_list;
	int64_t ns_next; /* monotonic s: no namespace list asked for by a miss before this */
	bool listing, listing_ns;
	bool listed, list_failed; /* a pod list succeeded once; the last one failed */
	vg_k8s_pod_cb pod_cb;	  /* a pod became known or changed (vg_k8s_set_pod_cb) */
	void *pod_cb_ctx;
	json_t *namespaces; /* name -> {"name", "labels", "annotations"} */
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

#endif
