// SPDX-License-Identifier: BSD-2-Clause
/* routes_notifiers.c - /v1/notifiers: the notifiers and their counters, dead letters sent again. */
#include <string.h>

#include <event2/http.h>
#include <jansson.h>

#include "api_priv.h"
#include "notify.h"

void api_list_notifiers(struct vg_api *a, struct evhttp_request *req)
{
	api_reply(req, 200,
		  json_pack("{s:o}", "notifiers",
			    a->host.notify ? vg_notify_json(a->host.notify) : json_array()));
}

/* PATCH /v1/notifiers/{name|alert id|dead letter id}/retry: dead letters back into the queue */
void api_notifier_path(struct vg_api *a, struct evhttp_request *req, const char *rest)
{
	const char *sl = strchr(rest, '/');
	char name[64];
	int k;

	if (!a->host.notify)
		api_fail(a, req, 404,
			 "this vigil has no notifiers configured (notifiers = { ... } in its "
			 "configuration): no notifier, alert or dead letter to retry");
	else if (!sl || strcmp(sl, "/retry") ||
		 api_path_id(rest, (size_t)(sl - rest), name, sizeof(name)))
		api_fail(a, req, 404,
			 "use PATCH /v1/notifiers/{name|alert id|dead letter id}/retry");
	else if ((k = vg_notify_retry_dead(a->host.notify, name)) < 0)
		api_fail(a, req, 404,
			 "no notifier named that, and no dead letter of that alert or with that id "
			 "(GET /v1/notifiers lists them)");
	else
		api_reply(req, 200, json_pack("{s:i}", "requeued", k));
}
