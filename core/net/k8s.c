// SPDX-License-Identifier: BSD-2-Clause
/*
 * k8s.c - the Kubernetes API client on the loop (see k8s.h): lookups in the caches the
 * reflectors keep (k8s_watch.c, k8s_pods.c); a pod deleted, and its Event. The kubeconfig
 * is read in kubeconfig.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <event2/event.h>
#include <jansson.h>

#include "k8s.h"
#include "k8s_priv.h"
#include "log.h"
#include "serial.h"

#define SA_DIR	     "/var/run/secrets/kubernetes.io/serviceaccount"
#define DELETE_TRIES 4

static int read_file(const char *path, char *buf, size_t n)
{
	FILE *f = fopen(path, "r");
	size_t r;

	if (!f)
		return -errno;
	r = fread(buf, 1, n - 1, f);
	(void)fclose(f); /* read only: nothing to flush */
	buf[r] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	return 0;
}

int64_t vg_k8s_mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec;
}

const json_t *vg_k8s_namespace(struct vg_k8s *k, const char *name)
{
	if (!k || !name || !*name)
		return NULL;
	return json_object_get(k->namespaces, name); /* a new one comes with the watch */
}

const struct vg_meta *vg_k8s_pod(struct vg_k8s *k, const char *uid)
{
	struct pod *p;

	if (!k || !uid || !*uid)
		return NULL;
	p = vg_k8s_pod_find(k, uid);
	return p ? &p->meta : NULL; /* a new pod comes with the watch */
}

static bool lists_container(const struct pod *p, const char *cid)
{
	for (int i = 0; i < p->ncids; i++)
		if (!strcmp(p->cids[i], cid))
			return true;
	return false;
}

bool vg_k8s_pod_ready(struct vg_k8s *k, const char *uid, const char *cid)
{
	const struct pod *p;

	if (!k || !uid || !*uid)
		return false;
	p = vg_k8s_pod_find(k, uid);
	return p && !p->owner_pending && (!cid || lists_container(p, cid));
}

enum vg_k8s_attr vg_k8s_verify(struct vg_k8s *k, const char *uid, const char *cid,
			       const struct vg_meta **m)
{
	const struct vg_meta *pm = vg_k8s_pod(k, uid);
	const struct pod *p;

	*m = NULL;
	if (!pm)
		return VG_K8S_UNKNOWN;
	p = (const struct pod *)((const char *)pm - offsetof(struct pod, meta));
	if (cid && lists_container(p, cid)) {
		*m = pm;
		return VG_K8S_VERIFIED;
	}
	k->st.attr_mismatches++; /* a status that lags a new container: the watch brings it */
	return VG_K8S_MISMATCH;
}

int vg_k8s_break_glass_pods(struct vg_k8s *k, char (*uids)[40], int max)
{
	int n = 0;

	for (int b = 0; k && b < VG_K8S_POD_BUCKETS; b++)
		for (const struct pod *p = k->buckets[b]; p && n < max; p = p->next)
			if (p->break_glass && !p->gone_at)
				snprintf(uids[n++], 40, "%s", p->uid);
	return n;
}

bool vg_k8s_break_glass(const struct vg_meta *m)
{
	const struct pod *p;

	if (!m)
		return false;
	p = (const struct pod *)((const char *)m - offsetof(struct pod, meta));
	return p->break_glass;
}

void vg_k8s_set_pod_cb(struct vg_k8s *k, vg_k8s_pod_cb cb, void *ctx)
{
	if (!k)
		return;
	k->pod_cb = cb;
	k->pod_cb_ctx = ctx;
}

bool vg_k8s_synced(const struct vg_k8s *k)
{
	return k && k->pods_refl.synced;
}

/* ---- kill a pod -------------------------------------------------------------------- */

struct kill {
	struct vg_k8s *k;
	char uid[40], ns[128], name[256], policy[256];
	int tries;
	struct event *retry;
	vg_k8s_done done;
	void *ctx;
	char result[512];
	bool ok;
};

static void kill_finish(struct kill *x)
{
	x->done(x->ctx, x->ok, x->result);
	if (x->retry)
		event_free(x->retry);
	free(x);
}

static void on_event_posted(void *ctx, const struct vg_http_resp *r)
{
	struct kill *x = ctx;

	if (r->error || r->status >= 300) {
		x->k->st.event_errors++;
		snprintf(x->result + strlen(x->result), sizeof(x->result) - strlen(x->result),
			 "; the Event was refused (%ld %s)", r->status, r->error ? r->error : "");
	} else {
		x->k->st.events++;
	}
	kill_finish(x);
}

static void post_event(struct kill *x)
{
	char msg[600];
	struct vg_k8s_obj pod = {.ns = x->ns, .name = x->name, .uid = x->uid};

	snprintf(msg, sizeof(msg), "A pod (%s) violated vigil policy \"%s\" and was killed",
		 x->name, x->policy);
	if (vg_k8s_post_event(x->k, &pod, "Warning", "vigil enforcement", msg, on_event_posted,
			      x)) {
		x->k->st.event_errors++;
		kill_finish(x);
	}
}

static void send_delete(struct kill *x);

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	send_delete(arg);
}

static void on_deleted(void *ctx, const struct vg_http_resp *r)
{
	struct kill *x = ctx;
	struct vg_k8s *k = x->k;
	bool retry = false;

	if (!r->error &&
	    (r->status == 200 || r->status == 202 || r->status == 404 || r->status == 409)) {
		/* NotFound, or a same-named replacement (uid precondition): nothing of it is left
		 */
		x->ok = true;
		snprintf(x->result, sizeof(x->result), "pod %s/%s deleted (%ld)", x->ns, x->name,
			 r->status);
		post_event(x);
		return;
	}
	retry = r->error || r->status == 429 || r->status >= 500;
	if (retry && x->tries < DELETE_TRIES) {
		long s = r->retry_after_s > 0 ? r->retry_after_s : 0;
		struct timeval tv = {.tv_sec = s,
				     .tv_usec = s ? 0 : (250000L << (x->tries - 1)) % 1000000};

		if (!s && x->tries > 2)
			tv.tv_sec = 1;
		k->st.delete_retries++;
		if (!x->retry)
			x->retry = evtimer_new(k->base, on_retry, x);
		event_add(x->retry, &tv);
		return;
	}
	k->st.delete_errors++;
	snprintf(x->result, sizeof(x->result), "deleting pod %s/%s failed: %s%s", x->ns, x->name,
		 r->error ? r->error : "",
		 r->error ? ""
			  : (r->status == 401 ? "401 Unauthorized (the token is wrong or expired)"
			     : r->status == 403
				     ? "403 Forbidden (the service account may not delete pods)"
				     : r->body));
	snprintf(k->st.last_error, sizeof(k->st.last_error), "%.250s", x->result);
	x->ok = false;
	kill_finish(x);
}

static void send_delete(struct kill *x)
{
	struct vg_k8s *k = x->k;
	const char *hdr[] = {k->auth, "Content-Type: application/json", NULL};
	char url[1024], body[256];
	struct vg_http_req r = {.method = "DELETE",
				.url = url,
				.body = body,
				.headers = hdr,
				.ca_file = k->ca[0] ? k->ca : NULL,
				.insecure = k->insecure};

	x->tries++;
	k->st.deletes++;
	snprintf(url, sizeof(url), "%s/api/v1/namespaces/%s/pods/%s", k->server, x->ns, x->name);
	snprintf(body, sizeof(body),
		 "{\"gracePeriodSeconds\":0,\"propagationPolicy\":\"Background\","
		 "\"preconditions\":{\"uid\":\"%s\"}}",
		 x->uid);
	if (vg_http_request(k->http, &r, on_deleted, x)) {
		snprintf(x->result, sizeof(x->result), "cannot start the DELETE request");
		kill_finish(x);
	}
}

/*
 * Whether uid's deletion was asked for in the last DELETE_DEDUP_S seconds; if not, it is
 * now. Violations of one pod come in bursts (each command of a shell), faster than the
 * pod list shows it gone: a second DELETE and Event for it would be noise.
 */
#define DELETE_DEDUP_S 30
static bool delete_asked(struct vg_k8s *k, const char *uid)
{
	int64_t now = vg_k8s_mono_s();
	int n = (int)(sizeof(k->deleted) / sizeof(k->deleted[0]));

	for (int i = 0; i < n; i++)
		if (k->deleted[i].at && now - k->deleted[i].at < DELETE_DEDUP_S &&
		    !strncmp(k->deleted[i].uid, uid, sizeof(k->deleted[i].uid)))
			return true;
	snprintf(k->deleted[k->deleted_next].uid, sizeof(k->deleted[0].uid), "%s", uid);
	k->deleted[k->deleted_next].at = now;
	k->deleted_next = (k->deleted_next + 1) % n;
	return false;
}

int vg_k8s_kill_pod(struct vg_k8s *k, const char *uid, const char *policy, vg_k8s_done done,
		    void *ctx)
{
	const struct pod *p = k ? vg_k8s_pod_find(k, uid) : NULL;
	const struct vg_meta *m;
	struct kill *x;

	if (!p)
		return -ENOENT;
	m = &p->meta;
	if (delete_asked(k, uid)) {
		k->st.deletes_deduped++;
		done(ctx, true, "pod deletion already requested");
		return 0;
	}
	x = calloc(1, sizeof(*x));
	if (!x)
		return -ENOMEM;
	x->k = k;
	x->done = done;
	x->ctx = ctx;
	snprintf(x->uid, sizeof(x->uid), "%s", p->api_uid); /* a static pod's mirror's */
	snprintf(x->ns, sizeof(x->ns), "%s", m->namespace_);
	snprintf(x->name, sizeof(x->name), "%s", m->pod);
	snprintf(x->policy, sizeof(x->policy), "%s", policy);
	send_delete(x);
	return 0;
}

void vg_k8s_stats(struct vg_k8s *k, struct vg_k8s_stats *st)
{
	*st = k->st;
}

/* ---- set-up ---------------------------------------------------------------------------- */

static void on_refresh(evutil_socket_t fd, short what, void *arg)
{
	struct vg_k8s *k = arg;

	(void)fd;
	(void)what;
	vg_k8s_refl_relist(&k->pods_refl);
	vg_k8s_refl_relist(&k->ns_refl);
}

/* The reflectors of the node's pods and of the namespaces; a full relist every refresh_s when
 * set. 0 or -ENOMEM. */
static int start(struct vg_k8s *k, uint32_t refresh_s)
{
	char url[1024], *node = curl_easy_escape(NULL, k->node, 0);
	struct timeval tv = {.tv_sec = refresh_s};
	int rc;

	snprintf(url, sizeof(url), "%s/api/v1/pods?fieldSelector=spec.nodeName%%3D%s", k->server,
		 node ? node : "");
	curl_free(node);
	k->pods_refl.lists = &k->st.lists;
	k->pods_refl.list_errors = &k->st.list_errors;
	k->pods_refl.replace = vg_k8s_pods_replace;
	k->pods_refl.apply = vg_k8s_pods_apply;
	rc = vg_k8s_refl_start(&k->pods_refl, k, "pods", url);
	snprintf(url, sizeof(url), "%s/api/v1/namespaces", k->server);
	k->ns_refl.lists = &k->st.ns_lists;
	k->ns_refl.list_errors = &k->st.ns_list_errors;
	k->ns_refl.replace = vg_k8s_ns_replace;
	k->ns_refl.apply = vg_k8s_ns_apply;
	if (!rc)
		rc = vg_k8s_refl_start(&k->ns_refl, k, "namespaces", url);
	k->refresh_s = refresh_s;
	if (rc || !refresh_s)
		return rc;
	k->refresh = event_new(k->base, -1, EV_PERSIST, on_refresh, k);
	if (!k->refresh)
		return -ENOMEM;
	(void)event_add(k->refresh, &tv); /* fails only for an event of another base */
	return 0;
}

int vg_k8s_new(struct vg_k8s **out, struct event_base *base, struct vg_http *http,
	       const struct vg_k8s_opts *o, char *err, size_t n)
{
	struct vg_k8s *k;
	const char *host = getenv("KUBERNETES_SERVICE_HOST"),
		   *port = getenv("KUBERNETES_SERVICE_PORT");
	const char *token_file = o->token_file;
	int rc;

	*out = NULL;
	if (!o->server && !host)
		return 1; /* no Kubernetes here: enforcement stays with cgroups */
	k = calloc(1, sizeof(*k));
	if (!k)
		return vg_errf(err, n, -ENOMEM, "out of memory starting the Kubernetes client");
	k->base = base;
	k->http = http;
	k->insecure = o->insecure;
	if (o->server) {
		snprintf(k->server, sizeof(k->server), "%s", o->server);
	} else {
		snprintf(k->server, sizeof(k->server), "https://%s:%s", host, port ? port : "443");
		if (!o->ca_file)
			snprintf(k->ca, sizeof(k->ca), "%s", SA_DIR "/ca.crt");
		if (!token_file)
			token_file = SA_DIR "/token";
	}
	if (o->ca_file)
		snprintf(k->ca, sizeof(k->ca), "%s", o->ca_file);
	if (o->token)
		snprintf(k->token, sizeof(k->token), "%s", o->token);
	else if (token_file && read_file(token_file, k->token, sizeof(k->token))) {
		rc = vg_errf(err, n, -EACCES,
			     "cannot read the Kubernetes token %s: %s: set "
			     "kubernetes.token_file",
			     token_file, strerror(errno));

		free(k);
		return rc;
	}
	snprintf(k->auth, sizeof(k->auth), "Authorization: Bearer %s", k->token);
	if (o->node)
		snprintf(k->node, sizeof(k->node), "%s", o->node);
	else if (getenv("NODE_NAME"))
		snprintf(k->node, sizeof(k->node), "%s", getenv("NODE_NAME"));
	else /* a name cut short is kept as it is: the last byte stays NUL (calloc) */
		(void)gethostname(k->node, sizeof(k->node) - 1);
	rc = start(k, o->refresh_s);
	if (rc) {
		vg_k8s_free(k);
		return vg_errf(err, n, rc, "out of memory starting the Kubernetes client");
	}
	*out = k;
	return 0;
}

void vg_k8s_free(struct vg_k8s *k)
{
	if (!k)
		return;
	if (k->refresh)
		event_free(k->refresh);
	vg_k8s_refl_stop(&k->pods_refl);
	vg_k8s_refl_stop(&k->ns_refl);
	vg_k8s_owners_free(k);
	vg_k8s_pods_free(k);
	json_decref(k->namespaces);
	free(k);
}
