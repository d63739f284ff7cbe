/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * k8s.h - what vigil needs from a Kubernetes API server, asynchronously
 * (http.h): the pods on this node (namespace, name, deployment, labels,
 * break-glass annotation, privileged), and deleting a pod plus recording a
 * Warning Event for it.
 *
 * Pod metadata comes from listing the node's pods (fieldSelector
 * spec.nodeName), refreshed periodically and, rate-limited, whenever an
 * unknown pod uid shows up. A list is a plain request: no long-lived watch
 * to keep alive or resynchronise, and the API server rejects a field
 * selector on metadata.uid anyway.
 *
 * Namespaces (their labels and annotations, which notifiers route on: a
 * Jira project key) come from listing them, at start, with every refresh,
 * when a pod of an unseen namespace appears and, rate-limited, when one is
 * asked for and unknown. A service account that may not list namespaces
 * costs only that: counted, and the notifiers fall back to their defaults.
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
	uint32_t refresh_s;	/* pod list period (0: 30 s) */
};

struct vg_k8s_stats {
	uint64_t lists, list_errors, deletes, delete_retries, delete_errors, events, event_errors;
	uint64_t deletes_deduped; /* a pod's deletion asked for again within 30 s: not sent */
	uint64_t pods, ns_lists, ns_list_errors, namespaces, attr_mismatches;
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

/* The pod's metadata, or NULL (unknown yet: a refresh is asked for). */
const struct vg_meta *vg_k8s_pod(struct vg_k8s *k, const char *pod_uid);

/*
 * cb(ctx, pod_uid) runs from the loop when a pod becomes known or its metadata
 * changes (vg_k8s_pod then has it); never from within a vg_k8s_* call. One
 * callback: a second call replaces the first (cb NULL: none).
 */
typedef void (*vg_k8s_pod_cb)(void *ctx, const char *pod_uid);
void vg_k8s_set_pod_cb(struct vg_k8s *k, vg_k8s_pod_cb cb, void *ctx);

/* Whether the client knows the node's pods: a pod list has succeeded and the last did not
   fail. An unknown pod uid is then most likely a pod the API server has not told of yet. */
bool vg_k8s_synced(const struct vg_k8s *k);

/*
 * Whether the API server agrees that container `cid` (64 hex, as the cgroup
 * path names it) belongs to pod `pod_uid` of this node: VERIFIED when the
 * pod's container statuses list it (*m: the pod's metadata), UNKNOWN when the
 * pod is not known (yet: a refresh is asked for), MISMATCH when the pod is
 * known and does not list it (a refresh is asked for too, rate-limited, in
 * case the status lags a container just started). *m is NULL but when VERIFIED.
 */
enum vg_k8s_attr { VG_K8S_UNKNOWN, VG_K8S_VERIFIED, VG_K8S_MISMATCH };
enum vg_k8s_attr vg_k8s_verify(struct vg_k8s *k, const char *pod_uid, const char *cid,
			       const struct vg_meta **m);
/* The namespace's {"name", "labels", "annotations"} (borrowed), or NULL (unknown yet: a list is
 * asked for). */
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
