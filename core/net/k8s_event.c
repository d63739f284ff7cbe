// SPDX-License-Identifier: BSD-2-Clause
/*
 * k8s_event.c - Kubernetes Events: about a pod vigil deleted (k8s.c), and about
 * vigil's own pod (a reload applied or refused), named by the Downward API's
 * POD_NAME and POD_NAMESPACE (and POD_UID, when given).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "k8s_priv.h"
#include "log.h"

int vg_k8s_post_event(struct vg_k8s *k, const struct vg_k8s_obj *obj, const char *type,
		      const char *reason, const char *msg, vg_http_cb cb, void *ctx)
{
	const char *hdr[] = {k->auth, "Content-Type: application/json", NULL};
	char url[1024], ts[40];
	struct vg_http_req r = {.method = "POST",
				.url = url,
				.headers = hdr,
				.ca_file = k->ca[0] ? k->ca : NULL,
				.insecure = k->insecure};
	time_t now = time(NULL);
	json_t *ev, *involved;
	int rc;

	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
	involved = json_pack("{s:s, s:s, s:s, s:s}", "apiVersion", "v1", "kind", "Pod", "name",
			     obj->name, "namespace", obj->ns);
	if (involved && obj->uid && obj->uid[0])
		json_object_set_new(involved, "uid", json_string(obj->uid));
	ev = json_pack("{s:s, s:s, s:{s:s, s:s}, s:o, s:s, s:s, s:s, s:{s:s, s:s}, s:s, s:s, s:i}",
		       "apiVersion", "v1", "kind", "Event", "metadata", "generateName", "vigil-",
		       "namespace", obj->ns, "involvedObject", involved, "type", type, "reason",
		       reason, "message", msg, "source", "component", "vigil", "host", k->node,
		       "firstTimestamp", ts, "lastTimestamp", ts, "count", 1);
	r.body = ev ? json_dumps(ev, JSON_COMPACT) : NULL;
	json_decref(ev);
	if (!r.body)
		return -ENOMEM;
	snprintf(url, sizeof(url), "%s/api/v1/namespaces/%s/events", k->server, obj->ns);
	rc = vg_http_request(k->http, &r, cb, ctx);
	free((char *)r.body);
	return rc;
}

static void on_self_posted(void *ctx, const struct vg_http_resp *r)
{
	struct vg_k8s *k = ctx;

	if (r->error || r->status >= 300) {
		k->st.event_errors++;
		vg_warn("the Kubernetes Event about vigil's own pod was refused (%ld %s): give "
			"its service account create on events",
			r->status, r->error ? r->error : "");
	} else {
		k->st.events++;
	}
}

int vg_k8s_self_event(struct vg_k8s *k, const char *type, const char *reason, const char *msg)
{
	struct vg_k8s_obj self = {.ns = getenv("POD_NAMESPACE"),
				  .name = getenv("POD_NAME"),
				  .uid = getenv("POD_UID")};

	if (!k || !self.ns || !self.name || !self.ns[0] || !self.name[0])
		return 0;
	if (vg_k8s_post_event(k, &self, type, reason, msg, on_self_posted, k)) {
		k->st.event_errors++;
		return -EIO;
	}
	return 0;
}
