/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * k8s.h - what vigil needs from a Kubernetes API server, asynchronously
 * (http.h): the pods on this node (namespace, name, deployment, labels,
 * break-glass annotation, privileged), and deleting a pod plus recording a
 * Warning Event for it.
 *
 * Pods and namespaces are kept as client-go's reflector keeps them: one LIST
 * (the node's pods by fieldSelector spec.nodeName; all namespaces), then a
 * WATCH from the list's resourceVersion that streams every change as it
 * happens (k8s_watch.c). A watch the server ends is started again from the
 * last resourceVersion seen (bookmarks keep it recent); only a 410 Gone (that
 * version is older than the server keeps) costs a new LIST. A lookup never
 * asks the API server anything: a pod unknown now arrives with the watch, and
 * vg_k8s_set_pod_cb says when.
 *
 * A pod's deployment is its top owner: a ReplicaSet's controller (a
 * Deployment) or a Job's (a CronJob), each read once (GET) and kept an hour
 * (k8s_owner.c); until then, or when it cannot be read, it is guessed from
 * the owner's name.
 *
 * Namespaces' labels and annotations are what notifiers route on (a Jira
 * project key). A service account that may not list namespaces costs only
 * that: counted, and the notifiers fall back to their defaults.
 */
#ifndef VG_K8S_H
#define VG_K8S_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "event.h"
#include "http.h"

struct vg_k8s;

struct vg_k8s_opts {
	const char *server;	/* https://host:port; NULL: in-cluster (KUBERNETES_SERVICE_HOST) */
	const char *token_file; /* NULL: the service account's */
	const char *token;	/* the token itself (from a kubeconfig), instead of a file */
	const char *ca_file;	/* NULL: the service account's (in-cluster), else the system's */
	bool insecure;		/* skip TLS verification */
	const char *node;	/* NULL: $NODE_NAME, else the host name */
	uint32_t refresh_s;	/* 0: none; else a full relist this often, besides the watch */
};

struct vg_k8s_stats {
	uint64_t lists, list_errors, deletes, delete_retries, delete_errors, events, event_errors;
	uint64_t deletes_deduped; /* a pod's deletion asked for again within 30 s: not sent */
	uint64_t pods, ns_lists, ns_list_errors, namespaces, attr_mismatches;
	/* the watches (pods and namespaces): started, events applied, bookmarks, lists again
	 * because the server said 410 Gone, watches ended by an error */
	uint64_t watches, watch_events, bookmarks, relists_410, watch_errors, stalls;
	uint64_t owner_gets, owner_errors; /* ReplicaSets and Jobs read for their controller */
	char last_error[256];
};

/*
 * Fills o (server, token, CA, insecure) from a kubeconfig's current context,
 * read with `kubectl config view --raw --minify` (a CA given inline is written
 * to ca_out, a file path). Runs once at start; blocking is fine there.
 * 0, or -errno with err naming the problem.
 */
int vg_k8s_from_kubeconfig(const char *path, struct vg_k8s_opts *o, char *server, size_t sn,
			   char *token, size_t tn, const char *ca_out, char *err, size_t errlen);

/* Returns 0, 1 when Kubernetes is not configured here (no client), or -errno with err. */
int vg_k8s_new(struct vg_k8s **out, struct event_base *base, struct vg_http *http,
	       const struct vg_k8s_opts *o, char *err, size_t errlen);
void vg_k8s_free(struct vg_k8s *k);

/* The pod's metadata, or NULL (unknown yet: it comes with the watch). */
const struct vg_meta *vg_k8s_pod(struct vg_k8s *k, const char *pod_uid);
/*
 * Whether the pod is known with its metadata complete: its top owner read (not a guess from
 * the owner's name) and, cid not NULL, container cid (64 hex) in its container statuses (a
 * pod is known from its scheduling on; a container's id comes with the status the kubelet
 * writes after starting it). The pod callback runs each time this may have become true.
 */
bool vg_k8s_pod_ready(struct vg_k8s *k, const char *pod_uid, const char *cid);

/*
 * cb(ctx, pod_uid) runs from the loop each time a pod becomes known or its metadata changes
 * (a list, an ADDED or MODIFIED event applied, its owner resolved), never from within a
 * vg_k8s_* call. One callback: a second call replaces the first (cb NULL: none).
 */
typedef void (*vg_k8s_pod_cb)(void *ctx, const char *pod_uid);
void vg_k8s_set_pod_cb(struct vg_k8s *k, vg_k8s_pod_cb cb, void *ctx);
/*
 * True once the first pod LIST succeeded and the pod watch is running: a pod unknown then is
 * not on this node yet. False while listing again, or waiting to, after an error.
 */
bool vg_k8s_synced(const struct vg_k8s *k);

/*
 * Whether the API server agrees that container `cid` (64 hex, as the cgroup
 * path names it) belongs to pod `pod_uid` of this node: VERIFIED when the
 * pod's container statuses list it (*m: the pod's metadata), UNKNOWN when the
 * pod is not known (yet), MISMATCH when the pod is known and does not list it
 * (the status may lag a container just started: the watch brings the change).
 * *m is NULL but when VERIFIED.
 */
enum vg_k8s_attr { VG_K8S_UNKNOWN, VG_K8S_VERIFIED, VG_K8S_MISMATCH };
enum vg_k8s_attr vg_k8s_verify(struct vg_k8s *k, const char *pod_uid, const char *cid,
			       const struct vg_meta **m);
/* The namespace's {"name", "labels", "annotations"} (borrowed), or NULL (unknown yet). */
const json_t *vg_k8s_namespace(struct vg_k8s *k, const char *name);
/* Uids of the known pods annotated vigil.io/break-glass (up to max). */
int vg_k8s_break_glass_pods(struct vg_k8s *k, char (*uids)[40], int max);

/* Whether the pod carries the vigil.io/break-glass annotation. */
bool vg_k8s_break_glass(const struct vg_meta *m);

/*
 * DELETE the pod (grace 0, background propagation, uid precondition), retried
 * with backoff (Retry-After honoured); NotFound and a uid conflict count as
 * done; then a Warning Event. done(ctx, ok, message) runs from the loop.
 */
typedef void (*vg_k8s_done)(void *ctx, bool ok, const char *msg);
int vg_k8s_kill_pod(struct vg_k8s *k, const char *pod_uid, const char *policy, vg_k8s_done done,
		    void *ctx);

void vg_k8s_stats(struct vg_k8s *k, struct vg_k8s_stats *st);

/*
 * An Event (type "Normal" or "Warning") about vigil's own pod, named by the
 * environment's POD_NAME and POD_NAMESPACE (the Downward API; POD_UID too, when
 * set); nothing without them or without k. Counted in the stats' events.
 */
int vg_k8s_self_event(struct vg_k8s *k, const char *type, const char *reason, const char *msg);

#endif
