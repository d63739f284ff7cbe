// SPDX-License-Identifier: BSD-2-Clause
/*
 * k8s.c - the Kubernetes API client on the loop (see k8s.h): the node's pods
 * and the namespaces, listed and refreshed; a pod deleted, and its Event.
 * The kubeconfig is read in kubeconfig.c.
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
#define MAX_PODS     4096
#define DELETE_TRIES 4

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
}

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

/* "web-5d8f7b9c4d" (a ReplicaSet of Deployment "web") -> "web" */
static void owner_to_deployment(const char *kind, const char *name, char *out, size_t n)
{
	const char *dash = strrchr(name, '-');

	if (!strcmp(kind, "ReplicaSet") && dash)
		snprintf(out, n, "%.*s", (int)(dash - name), name);
	else
		snprintf(out, n, "%s", name);
}

static int64_t mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec;
}

static void list_namespaces(struct vg_k8s *k, bool periodic);

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

/* ownerReferences[0] of md, as a deployment name in dep ("" when none). */
static void deployment_of(const json_t *md, char *dep, size_t n)
{
	const json_t *own = json_array_get(json_object_get(md, "ownerReferences"), 0);
	const char *kind = json_string_value(json_object_get(own, "kind"));
	const char *name = json_string_value(json_object_get(own, "name"));

	if (own)
		owner_to_deployment(kind ? kind : "", name ? name : "", dep, n);
}

/* One item of a PodList into p: false when it has no uid. */
static bool parse_pod(struct pod *p, const json_t *it)
{
	const json_t *md = json_object_get(it, "metadata"), *labels, *ann, *ctrs, *c, *v;
	const char *uid = json_string_value(json_object_get(md, "uid")), *key;
	char dep[256] = "";
	size_t ci, nl = 0;

	if (!uid)
		return false;
	snprintf(p->uid, sizeof(p->uid), "%s", uid);
	p->ns = keep(p, json_string_value(json_object_get(md, "namespace")));
	p->name = keep(p, json_string_value(json_object_get(md, "name")));
	deployment_of(md, dep, sizeof(dep));
	p->deployment = dep[0] ? keep(p, dep) : NULL;
	labels = json_object_get(md, "labels");
	p->labels = calloc(2 * json_object_size(labels) + 1, sizeof(char *));
	json_object_foreach((json_t *)labels, key, v)
	{
		if (p->labels && json_is_string(v)) {
			p->labels[nl++] = keep(p, key);
			p->labels[nl++] = keep(p, json_string_value(v));
		}
	}
	ann = json_object_get(md, "annotations");
	p->break_glass = json_object_get(ann, "vigil.io/break-glass") != NULL;
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
	return true;
}

/* The pods of this node now known: pods (n of them) replace the ones known before. */
static void replace_pods(struct vg_k8s *k, struct pod *pods, int n)
{
	for (int q = 0; q < k->npods; q++)
		pod_free(&k->pods[q]);
	free(k->pods);
	k->pods = pods;
	k->npods = n;
	k->st.pods = (uint64_t)n;
	k->listed = true;
	k->list_failed = false;
	for (int q = 0; k->pod_cb && q < n; q++) /* each pod, known now: a list tells no changes */
		k->pod_cb(k->pod_cb_ctx, pods[q].uid);
	for (int q = 0; q < n; q++) /* a pod in a namespace not seen yet: its annotations are
				       wanted soon */
		if (!json_object_get(k->namespaces, pods[q].ns)) {
			list_namespaces(k, false);
			break;
		}
}

static void parse_pods(struct vg_k8s *k, const char *body)
{
	json_error_t je;
	json_t *j = json_loads(body, 0, &je), *items, *it;
	size_t i;
	struct pod *pods;
	int n = 0;

	items = j ? json_object_get(j, "items") : NULL;
	if (!json_is_array(items)) {
		k->st.list_errors++;
		k->list_failed = true;
		snprintf(k->st.last_error, sizeof(k->st.last_error), "pod list is not a PodList");
		json_decref(j);
		return;
	}
	pods = calloc(json_array_size(items) + 1, sizeof(*pods));
	if (!pods) {
		json_decref(j);
		return;
	}
	json_array_foreach(items, i, it)
	{
		if (n < MAX_PODS && parse_pod(&pods[n], it))
			n++;
	}
	json_decref(j);
	replace_pods(k, pods, n);
}

static void on_list(void *ctx, const struct vg_http_resp *r)
{
	struct vg_k8s *k = ctx;

	k->listing = false;
	if (r->error || r->status != 200) {
		k->st.list_errors++;
		k->list_failed = true;
		snprintf(k->st.last_error, sizeof(k->st.last_error), "listing pods: %s",
			 r->error ? r->error : r->body);
		return;
	}
	parse_pods(k, r->body);
}

static void list_pods(struct vg_k8s *k)
{
	char url[1024], *node = curl_easy_escape(NULL, k->node, 0);
	const char *hdr[] = {k->auth, "Accept: application/json", NULL};
	struct vg_http_req r = {.method = "GET",
				.url = url,
				.headers = hdr,
				.ca_file = k->ca[0] ? k->ca : NULL,
				.insecure = k->insecure,
				.timeout_ms = 10000};

	if (k->listing)
		return;
	snprintf(url, sizeof(url), "%s/api/v1/pods?fieldSelector=spec.nodeName%%3D%s", k->server,
		 node ? node : "");
	curl_free(node);
	k->last_list = time(NULL);
	k->st.lists++;
	k->listing = vg_http_request(k->http, &r, on_list, k) == 0;
}

/* ---- namespaces: their labels and annotations, for the notifiers ---------------------- */

static void on_ns_list(void *ctx, const struct vg_http_resp *r)
{
	struct vg_k8s *k = ctx;
	json_t *j, *items, *it, *all;
	size_t i;

	k->listing_ns = false;
	/* a miss asks again soon after a good list, only at the refresh after a failed one (a 403
	 * stays a 403) */
	k->ns_next = mono_s() + (r->error || r->status != 200 ? (int64_t)k->refresh_s : 5);
	if (r->error || r->status != 200) {
		k->st.ns_list_errors++;
		snprintf(
			k->st.last_error, sizeof(k->st.last_error), "listing namespaces: %s%s",
			r->error ? r->error : r->body,
			r->status == 403
				? " (the service account may not list namespaces: notifiers see no "
				  "namespace annotations)"
				: "");
		return;
	}
	j = json_loads(r->body, 0, NULL);
	items = json_object_get(j, "items");
	all = json_is_array(items) ? json_object() : NULL;
	if (!all) {
		k->st.ns_list_errors++;
		snprintf(k->st.last_error, sizeof(k->st.last_error),
			 "namespace list is not a NamespaceList");
		json_decref(j);
		return;
	}
	json_array_foreach(items, i, it)
	{
		json_t *md = json_object_get(it, "metadata"), *labels, *ann;
		const char *name = json_string_value(json_object_get(md, "name"));

		if (!name)
			continue;
		labels = json_object_get(md, "labels");
		ann = json_object_get(md, "annotations");
		json_object_set_new(
			all, name,
			json_pack("{s:s, s:o, s:o}", "name", name, "labels",
				  json_is_object(labels) ? json_incref(labels) : json_object(),
				  "annotations",
				  json_is_object(ann) ? json_incref(ann) : json_object()));
	}
	json_decref(j);
	json_decref(k->namespaces);
	k->namespaces = all;
	k->st.namespaces = json_object_size(all);
}

/* periodic: the refresh's list, always; else one a miss asks for, rate-limited (ns_next). */
static void list_namespaces(struct vg_k8s *k, bool periodic)
{
	char url[1024];
	const char *hdr[] = {k->auth, "Accept: application/json", NULL};
	struct vg_http_req r = {.method = "GET",
				.url = url,
				.headers = hdr,
				.ca_file = k->ca[0] ? k->ca : NULL,
				.insecure = k->insecure,
				.timeout_ms = 10000};

	if (k->listing_ns || (!periodic && mono_s() < k->ns_next))
		return;
	snprintf(url, sizeof(url), "%s/api/v1/namespaces", k->server);
	k->st.ns_lists++;
	k->listing_ns = vg_http_request(k->http, &r, on_ns_list, k) == 0;
}

const json_t *vg_k8s_namespace(struct vg_k8s *k, const char *name)
{
	const json_t *ns;

	if (!k || !name || !*name)
		return NULL;
	ns = json_object_get(k->namespaces, name);
	if (!ns) /* a new namespace: look again (rate-limited) */
		list_namespaces(k, false);
	return ns;
}

static void on_refresh(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	list_pods(arg);
	list_namespaces(arg, true);
}

const struct vg_meta *vg_k8s_pod(struct vg_k8s *k, const char *uid)
{
	if (!k || !uid || !*uid)
		return NULL;
	for (int i = 0; i < k->npods; i++)
		if (!strcmp(k->pods[i].uid, uid))
			return &k->pods[i].meta;
	if (time(NULL) - k->last_list >= 1) /* a new pod: look again, at most once a second */
		list_pods(k);
	return NULL;
}

void vg_k8s_set_pod_cb(struct vg_k8s *k, vg_k8s_pod_cb cb, void *ctx)
{
	k->pod_cb = cb;
	k->pod_cb_ctx = ctx;
}

bool vg_k8s_synced(const struct vg_k8s *k)
{
	return k && k->listed && !k->list_failed;
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
	for (int i = 0; cid && i < p->ncids; i++)
		if (!strcmp(p->cids[i], cid)) {
			*m = pm;
			return VG_K8S_VERIFIED;
		}
	k->st.attr_mismatches++;
	if (time(NULL) - k->last_list >= 1) /* a status that lags a new container: look again */
		list_pods(k);
	return VG_K8S_MISMATCH;
}

int vg_k8s_break_glass_pods(struct vg_k8s *k, char (*uids)[40], int max)
{
	int n = 0;

	for (int i = 0; k && i < k->npods && n < max; i++)
		if (k->pods[i].break_glass)
			snprintf(uids[n++], 40, "%s", k->pods[i].uid);
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
	int64_t now = mono_s();
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
	const struct vg_meta *m = vg_k8s_pod(k, uid);
	struct kill *x;

	if (!m)
		return -ENOENT;
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
	snprintf(x->uid, sizeof(x->uid), "%s", uid);
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

int vg_k8s_new(struct vg_k8s **out, struct event_base *base, struct vg_http *http,
	       const struct vg_k8s_opts *o, char *err, size_t n)
{
	struct vg_k8s *k;
	const char *host = getenv("KUBERNETES_SERVICE_HOST"),
		   *port = getenv("KUBERNETES_SERVICE_PORT");
	const char *token_file = o->token_file;
	struct timeval tv;

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
		int rc = vg_errf(err, n, -EACCES,
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
	k->refresh_s = o->refresh_s ? o->refresh_s : 30;
	k->refresh = event_new(base, -1, EV_PERSIST, on_refresh, k);
	if (!k->refresh) {
		free(k);
		return vg_errf(err, n, -ENOMEM, "out of memory starting the Kubernetes client");
	}
	tv.tv_sec = k->refresh_s;
	tv.tv_usec = 0;
	(void)event_add(k->refresh, &tv); /* fails only for an event of another base */
	list_pods(k);
	list_namespaces(k, true);
	*out = k;
	return 0;
}

void vg_k8s_free(struct vg_k8s *k)
{
	if (!k)
		return;
	if (k->refresh)
		event_free(k->refresh);
	for (int i = 0; i < k->npods; i++)
		pod_free(&k->pods[i]);
	free(k->pods);
	json_decref(k->namespaces);
	free(k);
}
