// SPDX-License-Identifier: BSD-2-Clause
/*
 * The notifiers' outbox against a real local HTTP receiver (a forked libevent
 * server that records each body): events past queue_max wait in the spill
 * file and still go out in order per alert, across a close and reopen (the
 * two-pass replay); a log of mostly delivered records is compacted, keeping
 * the dead letters and the tries of what is backing off; a dead letter sent
 * again does not come back after a restart.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <cmocka.h>

#include "tmpdir.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>

#include "alerts.h"
#include "http.h"
#include "notify.h"
#include "record.h"

#define NALERTS 8
static const char *const EVENTS[] = {"created", "updated", "resolved"};

static char bodies[200];    /* the receiver's record: one body a line */
static int refuse_resolved; /* the receiver answers 400 to resolve events */
static char fail_id[64];    /* the receiver answers 500 (Retry-After: an hour) to this alert */

static void on_req(struct evhttp_request *req, void *arg)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req), *out = evbuffer_new();
	size_t len = evbuffer_get_length(in);
	char *b = malloc(len + 1);
	FILE *f = fopen(bodies, "a");

	(void)arg;
	evbuffer_remove(in, b, len);
	b[len] = 0;
	if (f) {
		fprintf(f, "%s\n", b);
		fclose(f);
	}
	evbuffer_add(out, "{}", 2);
	if (*fail_id && strstr(b, fail_id)) { /* and not again for an hour: no try after this */
		evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", "3600");
		evhttp_send_reply(req, 500, "Down", out);
	} else
		evhttp_send_reply(req, refuse_resolved && !strncmp(b, "resolved", 8) ? 400 : 200,
				  "OK", out);
	evbuffer_free(out);
	free(b);
}

static pid_t receiver(int port)
{
	pid_t pid = fork();

	if (pid == 0) {
		struct event_base *base = event_base_new();
		struct evhttp *h = evhttp_new(base);

		evhttp_set_gencb(h, on_req, NULL);
		if (evhttp_bind_socket(h, "127.0.0.1", (unsigned short)port))
			_exit(1);
		event_base_dispatch(base);
		_exit(0);
	}
	usleep(200000);
	return pid;
}

static void stop(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

static const struct vg_alert *sample(struct vg_alerts *s, int k)
{
	static unsigned char rec[sizeof(struct vg_exec) + VG_DATA_MAX];
	static struct vg_event ev;
	char cg[200];
	const char *argv[] = {"/usr/bin/apt-get", "update"};
	struct vg_record_spec sp = {.exe = "/usr/bin/apt-get",
				    .argv = argv,
				    .argc = 2,
				    .cwd = "/",
				    .cgroup = cg,
				    .pid = 4242,
				    .ppid = 4241,
				    .boot_ns = 1};
	struct vg_violation v = {
		.ev = &ev, .policy_id = "p", .policy_name = "P", .severity = "low"};
	const struct vg_alert *a = NULL;

	snprintf(cg, sizeof(cg), "/kubepods/besteffort/pod00000000-0000-0000-0000-%012d/%064d", k,
		 k);
	vg_record_build(rec, sizeof(rec), &sp);
	vg_event_decode(&ev, rec, ((struct vg_exec *)rec)->size, 1700000000000000000ll);
	assert_int_equal(vg_alerts_add(s, &v, NULL, NULL, &a), 0);
	return a;
}

struct rig {
	struct event_base *base;
	struct vg_http *http;
	struct vg_alerts *store;
	struct vg_notify *n;
	json_t *inst, *def;
	char data[128], plugins[160];
	const struct vg_alert *a[NALERTS];
	int port;
};

static void rig_open_notify(struct rig *r)
{
	char err[512];

	if (vg_notify_open(&r->n, r->base, r->http, r->data, r->plugins, r->inst, r->def, err,
			   sizeof(err)))
		fail_msg("vg_notify_open: %s", err);
	vg_notify_set_store(r->n, r->store);
}

static void rig_init(struct rig *r, int queue_max)
{
	struct vg_alerts_opts ao = {0};
	struct vg_wal_report rep;
	char store[200], url[64], err[512];
	FILE *f;

	memset(r, 0, sizeof(*r));
	snprintf(r->data, sizeof(r->data), "%s/d%d", dir, queue_max);
	snprintf(r->plugins, sizeof(r->plugins), "%s/plugins", r->data);
	snprintf(bodies, sizeof(bodies), "%s/bodies", r->data);
	mkdir(r->data, 0700);
	mkdir(r->plugins, 0700);
	snprintf(store, sizeof(store), "%s/store", r->data);
	f = fopen(strcat(strcpy((char[200]){0}, r->plugins), "/seq.lua"), "w");
	assert_non_null(f);
	fputs("local function send(ev)\n"
	      "  return function(alert, conf, vigil)\n"
	      "    return vigil.http { url = conf.url, body = ev .. ' ' .. alert.id, timeout_ms = "
	      "2000 }\n"
	      "  end\n"
	      "end\n"
	      "return { name = 'seq', schema = { url = { type = 'string', required = true } },\n"
	      "  created = send('created'), updated = send('updated'), resolved = send('resolved') "
	      "}\n",
	      f);
	fclose(f);
	r->port = 20000 + (int)(getpid() % 20000) + queue_max % 97;
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", r->port);
	r->inst = json_pack("{s:{s:s, s:s, s:i, s:i, s:i}}", "seq", "type", "seq", "url", url,
			    "queue_max", queue_max, "retry_ms", 20, "max_attempts", 1000000);
	r->def = json_pack("[s]", "seq");
	r->base = event_base_new();
	r->http = vg_http_new(r->base);
	ao.dir = store;
	if (vg_alerts_open(&r->store, &ao, NULL, &rep, err, sizeof(err)))
		fail_msg("vg_alerts_open: %s", err);
	for (int k = 0; k < NALERTS; k++)
		r->a[k] = sample(r->store, k);
	rig_open_notify(r);
}

static void rig_free(struct rig *r)
{
	vg_notify_close(r->n);
	vg_alerts_close(r->store);
	vg_http_free(r->http);
	event_base_free(r->base);
	json_decref(r->inst);
	json_decref(r->def);
}

static void on_stop(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	event_base_loopbreak(arg);
}

static void run_for(struct event_base *base, int ms)
{
	struct event *t = evtimer_new(base, on_stop, base);
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

	evtimer_add(t, &tv);
	event_base_dispatch(base);
	event_free(t);
}

/* Runs the loop until nothing is pending (or timeout_s): the pending count at the end. */
static int drain(struct rig *r, int timeout_s, int *dead)
{
	time_t end = time(NULL) + timeout_s;
	int p;

	while ((p = vg_notify_pending(r->n, NULL, dead)) && time(NULL) < end)
		run_for(r->base, 20);
	return p;
}

static uint64_t metric(struct vg_notify *n, const char *name)
{
	struct evbuffer *b = evbuffer_new();
	char *s, *at;
	uint64_t v = 0;

	vg_notify_metrics(n, b);
	evbuffer_add(b, "", 1);
	s = (char *)evbuffer_pullup(b, -1);
	for (at = s; (at = strstr(at, name)); at++) /* the sample line, not its # TYPE line */
		if (at == s || at[-1] == '\n') {
			v = strtoull(at + strlen(name), NULL, 10);
			break;
		}
	evbuffer_free(b);
	return v;
}

static uint64_t dir_bytes(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;
	uint64_t sum = 0;

	while (d && (de = readdir(d))) {
		char p[600];
		struct stat st;

		snprintf(p, sizeof(p), "%s/%s", path, de->d_name);
		if (!strncmp(de->d_name, "seg-", 4) && !stat(p, &st))
			sum += (uint64_t)st.st_size;
	}
	if (d)
		closedir(d);
	return sum;
}

static void test_spill_replay_order(void **state)
{
	struct rig r;
	int dead, k, n = 600;
	char want[NALERTS][2048] = {{0}}, got[NALERTS][2048] = {{0}}, line[256];
	pid_t rx;
	FILE *f;

	(void)state;
	rig_init(&r, 16);
	/* nobody listens: everything waits, all but 16 in the spill file */
	for (int i = 0; i < n; i++) {
		const char *ev = EVENTS[(i / NALERTS) % 3];

		vg_notify_alert(r.n, ev, r.a[i % NALERTS]);
		strcat(want[i % NALERTS], ev);
		strcat(want[i % NALERTS], " ");
	}
	run_for(r.base, 200);
	assert_int_equal(vg_notify_pending(r.n, NULL, &dead), n);
	assert_true(metric(r.n, "vigil_notifier_spilled{notifier=\"seq\"} ") >= (uint64_t)(n - 16));
	/* closed and opened again: the two-pass replay rebuilds the queue and the spill file */
	vg_notify_close(r.n);
	rig_open_notify(&r);
	assert_int_equal(vg_notify_pending(r.n, NULL, &dead), n);
	assert_true(metric(r.n, "vigil_notifier_spilled{notifier=\"seq\"} ") >= (uint64_t)(n - 16));
	rx = receiver(r.port);
	assert_int_equal(drain(&r, 60, &dead), 0);
	stop(rx);
	assert_int_equal(dead, 0);
	f = fopen(bodies, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		char ev[16], id[64];

		assert_int_equal(sscanf(line, "%15s %63s", ev, id), 2);
		for (k = 0; k < NALERTS && strcmp(r.a[k]->id, id); k++)
			;
		assert_true(k < NALERTS);
		strcat(got[k], ev);
		strcat(got[k], " ");
	}
	fclose(f);
	for (k = 0; k < NALERTS;
	     k++) /* every event, once, in the order raised: resolves never overtake */
		assert_string_equal(got[k], want[k]);
	rig_free(&r);
}

static void test_compaction_keeps_dead_letters(void **state)
{
	struct rig r;
	int dead, n = 60000;
	char outbox[200];
	pid_t rx;

	(void)state;
	rig_init(&r, 25000); /* room for its 20,000 dead letters */
	snprintf(outbox, sizeof(outbox), "%s/outbox", r.data);
	refuse_resolved = 1; /* a third of the events become dead letters */
	rx = receiver(r.port);
	for (int i = 0; i < n; i++) {
		vg_notify_alert(r.n, EVENTS[(i / NALERTS) % 3], r.a[i % NALERTS]);
		if (i % 1000 == 999)
			run_for(r.base, 1);
	}
	assert_int_equal(drain(&r, 120, &dead), 0);
	assert_int_equal(dead, n / 3);
	run_for(r.base, 200); /* a pump turn after the last delivery */
	assert_true(metric(r.n, "vigil_outbox_compactions_total ") >= 1);
	/* what is left on disk is about the dead letters, not 120,000 records */
	assert_true(dir_bytes(outbox) < (uint64_t)n / 3 * 400);
	vg_notify_close(r.n);
	rig_open_notify(&r);
	assert_int_equal(vg_notify_pending(r.n, NULL, &dead), 0);
	assert_int_equal(dead, n / 3);
	/* sent again on request: the old dead letters do not come back after a restart */
	refuse_resolved = 0;
	stop(rx);
	rx = receiver(r.port);
	assert_int_equal(vg_notify_retry_dead(r.n, "seq"), n / 3);
	vg_notify_close(r.n); /* before any is delivered */
	rig_open_notify(&r);
	assert_int_equal(vg_notify_pending(r.n, NULL, &dead), n / 3);
	assert_int_equal(dead, 0);
	assert_int_equal(drain(&r, 120, &dead), 0);
	assert_int_equal(dead, 0);
	stop(rx);
	rig_free(&r);
}

/* Makes the spill file unwritable under the notifier (a read-only fd in its place): a full or
 * failing disk. */
static void break_spill_file(const char *data)
{
	char link[300], target[512], want[300];
	int ro = open("/dev/null", O_RDONLY);
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int found = 0;

	snprintf(want, sizeof(want), "%s/outbox/spill-0.jsonl", data);
	while (d && (de = readdir(d))) {
		ssize_t n;

		snprintf(link, sizeof(link), "/proc/self/fd/%s", de->d_name);
		n = readlink(link, target, sizeof(target) - 1);
		if (n > 0 && (target[n] = 0, !strcmp(target, want))) {
			assert_true(dup2(ro, atoi(de->d_name)) >= 0);
			found = 1;
		}
	}
	if (d)
		closedir(d);
	close(ro);
	assert_true(found);
}

static void test_spill_file_failing(void **state)
{
	struct rig r;
	int dead;
	pid_t rx;

	(void)state;
	rig_init(&r, 17);
	/* the spill file fails before anything spilled: kept in memory past queue_max, in order */
	break_spill_file(r.data);
	for (int i = 0; i < 40; i++)
		vg_notify_alert(r.n, "created", r.a[i % NALERTS]);
	assert_int_equal(vg_notify_pending(r.n, NULL, &dead), 40);
	vg_notify_close(r.n);
	rig_open_notify(&r); /* a working spill file again: 17 in memory, 23 spilled */
	assert_int_equal(vg_notify_pending(r.n, NULL, &dead), 40);
	assert_int_equal(metric(r.n, "vigil_notifier_spilled{notifier=\"seq\"} "), 23);
	/* it fails with events spilled: the next ones cannot go ahead of them, the log alone keeps
	 * them */
	break_spill_file(r.data);
	for (int i = 0; i < 10; i++)
		vg_notify_alert(r.n, "updated", r.a[i % NALERTS]);
	assert_int_equal(vg_notify_pending(r.n, NULL, &dead), 40);
	assert_int_equal(metric(r.n, "vigil_notifier_lost_total{notifier=\"seq\"} "), 0);
	/* a restart finds all 50 in the log and sends them */
	vg_notify_close(r.n);
	rig_open_notify(&r);
	assert_int_equal(vg_notify_pending(r.n, NULL, &dead), 50);
	rx = receiver(r.port);
	assert_int_equal(drain(&r, 60, &dead), 0);
	assert_int_equal(dead, 0);
	stop(rx);
	{
		FILE *f = fopen(bodies, "r");
		char line[256];
		int lines = 0;

		assert_non_null(f);
		while (fgets(line, sizeof(line), f))
			lines++;
		fclose(f);
		assert_int_equal(lines, 50);
	}
	rig_free(&r);
}

static void test_dead_letters_bounded(void **state)
{
	struct rig r;
	int dead;
	pid_t rx;

	(void)state;
	rig_init(&r, 18);
	refuse_resolved = 1;
	rx = receiver(r.port);
	for (int i = 0; i < 40; i++) /* every one refused: 40 dead letters for a cap of 18 */
		vg_notify_alert(r.n, "resolved", r.a[i % NALERTS]);
	assert_int_equal(drain(&r, 60, &dead), 0);
	stop(rx);
	refuse_resolved = 0;
	assert_int_equal(dead, 18);
	assert_int_equal(metric(r.n, "vigil_notifier_dead_dropped_total{notifier=\"seq\"} "), 22);
	vg_notify_close(r.n);
	rig_open_notify(&r); /* the dropped ones stay dropped */
	assert_int_equal(vg_notify_pending(r.n, NULL, &dead), 0);
	assert_int_equal(dead, 18);
	rig_free(&r);
}

/* The tries of instance seq's first waiting event (vg_notify_json). */
static int first_tries(struct vg_notify *n)
{
	json_t *arr = vg_notify_json(n);
	json_t *w = json_array_get(json_object_get(json_array_get(arr, 0), "waiting"), 0);
	int tries = w ? (int)json_integer_value(json_object_get(w, "attempts")) : -1;

	json_decref(arr);
	return tries;
}

static void test_compaction_keeps_tries(void **state)
{
	struct rig r;
	int dead, tries, n = 60000;
	time_t end;
	pid_t rx;

	(void)state;
	rig_init(&r, 30000);
	snprintf(fail_id, sizeof(fail_id), "%s", r.a[0]->id); /* alert 0's event backs off */
	rx = receiver(r.port);
	vg_notify_alert(r.n, "created", r.a[0]);
	for (int i = 0; i < n; i++) {
		vg_notify_alert(r.n, "created", r.a[1 + i % (NALERTS - 1)]);
		if (i % 1000 == 999)
			run_for(r.base, 1);
	}
	end = time(NULL) + 120;
	while (vg_notify_pending(r.n, NULL, &dead) > 1 && time(NULL) < end)
		run_for(r.base, 20);
	run_for(r.base, 200); /* a pump turn after the last delivery */
	assert_int_equal(vg_notify_pending(r.n, NULL, &dead), 1);
	assert_true(metric(r.n, "vigil_outbox_compactions_total ") >= 1);
	tries = first_tries(r.n);
	assert_int_equal(tries, 1); /* logged before the compaction, and not since */
	vg_notify_close(r.n);
	rig_open_notify(&r); /* from the compacted log: the tries are still there */
	assert_int_equal(first_tries(r.n), tries);
	stop(rx);
	fail_id[0] = '\0';
	rig_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spill_replay_order),
		cmocka_unit_test(test_compaction_keeps_dead_letters),
		cmocka_unit_test(test_compaction_keeps_tries),
		cmocka_unit_test(test_spill_file_failing),
		cmocka_unit_test(test_dead_letters_bounded),
	};

	return RUN_IN_TMPDIR(tests, "vigil-outbox");
}
