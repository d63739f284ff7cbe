// SPDX-License-Identifier: BSD-2-Clause
/* routes_notifiers.c - /v1/notifiers: the notifiers and their counters, dead letters sent again. */
#include <errno.h>
#include <stdlib.h>
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

/* A test send waiting for its notifier: answered when the send ends. */
struct notifier_test {
	struct vg_api *a;
	struct evhttp_request *req;
	struct notifier_test *prev, *next;
	char name[64];
};

static void test_unlink(struct notifier_test *t)
{
	if (t->prev)
		t->prev->next = t->next;
	else
		t->a->tests = t->next;
	if (t->next)
		t->next->prev = t->prev;
}

static void no_close_hook(void *arg)
{
	(void)arg; /* the request stays ours: answering it then frees it */
}

/* The send ended: 200 {"sent": true} or 502 {"error": why}. */
static void on_test_done(void *ctx, bool sent, const char *why)
{
	struct notifier_test *t = ctx;
	struct vg_api *a = t->a;

	test_unlink(t);
	(void)api_conn_stream(a, t->req, NULL, NULL); /* deadlines again (-ENOENT: gone) */
	if (sent)
		api_reply(t->req, 200, json_pack("{s:b}", "sent", true));
	else
		api_reply(t->req, 502,
			  json_pack("{s:s+++, s:i}", "error", "notifier '", t->name,
				    "' did not deliver the test message: ", why ? why : "no answer",
				    "code", 502));
	free(t);
}

void api_notifier_test(struct vg_api *a, struct evhttp_request *req, const char *rest)
{
	const char *sl = strchr(rest, '/');
	struct notifier_test *t;
	char name[64];
	int rc;

	if (!a->host.notify) {
		api_fail(a, req, 404,
			 "this vigil has no notifiers configured (notifiers = { ... } in its "
			 "configuration): none to test");
		return;
	}
	if (!sl || strcmp(sl, "/test") ||
	    api_path_id(rest, (size_t)(sl - rest), name, sizeof(name))) {
		api_fail(a, req, 404, "use POST /v1/notifiers/{name}/test");
		return;
	}
	t = calloc(1, sizeof(*t));
	if (!t) {
		api_fail(a, req, 503, "out of memory starting a notifier test: try again");
		return;
	}
	*t = (struct notifier_test){.a = a, .req = req, .next = a->tests};
	memcpy(t->name, name, sizeof(name));
	if (a->tests)
		a->tests->prev = t;
	a->tests = t;
	/* the request waits for the receiver: no request deadline meanwhile */
	(void)api_conn_stream(a, req, no_close_hook, t);
	rc = vg_notify_test(a->host.notify, t->name, on_test_done, t);
	if (!rc)
		return; /* (on_test_done may have run already) */
	test_unlink(t);
	(void)api_conn_stream(a, req, NULL, NULL);
	if (rc == -ENOENT)
		api_fail(a, req, 404, "no notifier named '%s' (GET /v1/notifiers lists them)",
			 t->name);
	else if (rc == -EBUSY)
		api_fail(a, req, 409, "a test of notifier '%s' is under way: wait for its answer",
			 t->name);
	else if (rc == -ENOTSUP)
		api_reply(
			req, 502,
			json_pack("{s:s++, s:i}", "error", "notifier '", t->name,
				  "': its plugin has no 'created' function, so a test has nothing "
				  "to send",
				  "code", 502));
	else
		api_fail(a, req, 503, "out of memory starting the test of notifier '%s': try again",
			 t->name);
	free(t);
}

void api_notifier_tests_stop(struct vg_api *a)
{
	while (a->tests) {
		struct notifier_test *t = a->tests;

		vg_notify_test_cancel(a->host.notify, t);
		test_unlink(t);
		free(t);
	}
}
