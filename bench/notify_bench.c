// SPDX-License-Identifier: BSD-2-Clause
/*
 * notify_bench - the notifier outbox under load.
 *
 *   notify_bench MODE N [DIR]
 *
 * MODE ok:   N alert events through the outbox to a webhook on a local
 *            keep-alive receiver (a forked libevent evhttp sink answering
 *            200); reports notifications/s, the sender's CPU µs per
 *            notification, and the event loop's lateness meanwhile.
 * MODE hang: the receiver accepts and never answers; N events wait. Reports
 *            the loop's lateness (a 1 ms timer's delay, p50/p99/max) against
 *            the same timer with no notifier work, to show a hanging receiver
 *            does not stall the loop that detection and enforcement share.
 * MODE dead: nothing listens; N events wait in the outbox. Reports the RSS
 *            the pending events cost: bounded by each notifier's queue_max
 *            (events past it wait in its spill file on disk).
 *
 * Events are raised in bursts of 1,000 with the loop turning between, as
 * alerts arrive, so the outbox log's writer keeps up as it would.
 */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <jansson.h>

#include "alerts.h"
#include "event.h"
#include "http.h"
#include "notify.h"
#include "record.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long rss_kib(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kb = -1;

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "VmRSS:", 6))
			kb = atol(line + 6);
	if (f)
		fclose(f);
	return kb;
}

static double cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* ---- the receiver (child process) ---- */
static int hang;

static void on_req(struct evhttp_request *req, void *arg)
{
	struct evbuffer *b;

	(void)arg;
	if (hang)
		return; /* never answer */
	b = evbuffer_new();
	evbuffer_add(b, "{}", 2);
	evhttp_send_reply(req, 200, "OK", b);
	evbuffer_free(b);
}

/* A socket on a port of 127.0.0.1 the kernel chose (a fixed one may be taken): listening
 * for the receiver, or only bound (for "dead": connections to it are refused). */
static int reserve(int *port, bool listening)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) || (listening && listen(fd, 128))) {
		perror("notify_bench: a port for the receiver");
		exit(1);
	}
	*port = ntohs(sa.sin_port);
	return fd;
}

/* the receiver, in a child, on the listening socket fd */
static pid_t sink(int fd)
{
	pid_t pid = fork();

	if (pid == 0) {
		struct event_base *base = event_base_new();
		struct evhttp *h = evhttp_new(base);

		evhttp_set_gencb(h, on_req, NULL);
		evhttp_set_timeout(h, 3600);
		if (evutil_make_socket_nonblocking(fd) || evhttp_accept_socket(h, fd)) {
			perror("notify_bench: the receiver");
			_exit(1);
		}
		event_base_dispatch(base);
		_exit(0);
	}
	close(fd);
	return pid;
}

/* ---- the loop's lateness: a 1 ms timer, rescheduled every time it fires ---- */
static double lat[200000], due;
static int nlat;
static struct event *probe;

static void arm_probe(void)
{
	struct timeval tv = {0, 1000};

	evtimer_add(probe, &tv);
}

static void on_probe(evutil_socket_t fd, short what, void *arg)
{
	double t = now();

	(void)fd;
	(void)what;
	(void)arg;
	if (nlat < (int)(sizeof(lat) / sizeof(lat[0])))
		lat[nlat++] = (t - due) * 1e6;
	due = t + 0.001;
	arm_probe();
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void report_lat(const char *what)
{
	qsort(lat, (size_t)nlat, sizeof(double), cmp_d);
	if (nlat)
		printf("%s: loop lateness over %d ticks: p50 %.0f us, p99 %.0f us, max %.0f us\n",
		       what, nlat, lat[nlat / 2], lat[nlat * 99 / 100], lat[nlat - 1]);
	nlat = 0;
}

static void on_stop(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	event_base_loopbreak(arg);
}

static void run_for(struct event_base *base, double secs)
{
	struct event *stop = evtimer_new(base, on_stop, base);
	struct timeval tv = {(time_t)secs, (suseconds_t)((secs - (double)(time_t)secs) * 1e6)};

	evtimer_add(stop, &tv);
	due = now() + 0.001;
	arm_probe();
	event_base_dispatch(base);
	event_del(probe);
	event_free(stop);
}

static const struct vg_alert *sample(struct vg_alerts *s, int k)
{
	char cg[200];

	static unsigned char rec[sizeof(struct vg_exec) + VG_DATA_MAX];
	static struct vg_event ev;
	const char *argv[] = {"/usr/bin/apt-get", "update"};
	struct vg_record_spec sp = {.exe = "/usr/bin/apt-get",
				    .argv = argv,
				    .argc = 2,
				    .cwd = "/",
				    .cgroup = cg,
				    .pid = 4242,
				    .ppid = 4241,
				    .boot_ns = 1};
	struct vg_violation v = {.ev = &ev,
				 .policy_id = "ubuntu-package-manager-execution",
				 .policy_name = "Ubuntu Package Manager Execution",
				 .severity = "low"};
	const struct vg_alert *a = NULL;

	snprintf(cg, sizeof(cg),
		 "/kubepods/besteffort/pod00000000-0000-0000-0000-%012d/"
		 "%064d",
		 k, k);
	vg_record_build(rec, sizeof(rec), &sp);
	vg_event_decode(&ev, rec, ((struct vg_exec *)rec)->size, 1700000000000000000ll);
	vg_alerts_add(s, &v, NULL, NULL, &a);
	return a;
}

/* ok: the loop turns until every event was delivered (or given up); the rate, the loop's
 * lateness meanwhile, what was given up and the outbox compactions */
static void deliver_all(struct event_base *base, struct vg_notify *nt, long n, double t0, double c0)
{
	struct evbuffer *b = evbuffer_new();
	const char *m, *c;
	int dead = 0, pending;
	double t;

	due = now() + 0.001;
	arm_probe();
	while ((pending = vg_notify_pending(nt, NULL, &dead)) > 0 && !dead)
		event_base_loop(base, EVLOOP_ONCE);
	t = now() - t0;
	event_del(probe);
	printf("ok: %ld notifications in %.2f s: %.0f/s, sender CPU %.1f us each\n", n, t,
	       (double)n / t, (cpu_s() - c0) * 1e6 / (double)n);
	printf("ok: %d given up (dead letters), %d still pending\n", dead, pending);
	report_lat("ok (delivering)");
	/* the outbox was compacted meanwhile (its pause is inside the lateness above) */
	vg_notify_metrics(nt, b);
	evbuffer_add(b, "", 1);
	m = (const char *)evbuffer_pullup(b, -1);
	c = strstr(m, "\nvigil_outbox_compactions_total ");
	printf("ok: outbox compactions during the run: %llu\n",
	       c ? strtoull(c + strlen("\nvigil_outbox_compactions_total "), NULL, 10) : 0ull);
	evbuffer_free(b);
}

#define NALERTS 64

int main(int argc, char **argv)
{
	const char *mode = argc > 2 ? argv[1] : "";
	long n = argc > 2 ? atol(argv[2]) : 0;
	char dir[] = "/tmp/vigil-notify-bench-XXXXXX", store[64], err[512], conf[256];
	int port, dead = 0, fd;
	struct event_base *base = event_base_new();
	struct vg_http *http = vg_http_new(base);
	struct vg_alerts_opts ao = {0};
	struct vg_wal_report rep;
	struct vg_alerts *s = NULL;
	struct vg_notify *nt = NULL;
	json_t *inst, *def;
	pid_t child = 0;
	double t0, c0;
	long rss0;

	if (n <= 0 || (strcmp(mode, "ok") && strcmp(mode, "hang") && strcmp(mode, "dead"))) {
		fprintf(stderr, "usage: notify_bench ok|hang|dead N\n");
		return 2;
	}
	if (!mkdtemp(dir))
		return 1;
	hang = !strcmp(mode, "hang");
	fd = reserve(&port, strcmp(mode, "dead") != 0);
	if (strcmp(mode, "dead"))
		child = sink(fd);
	snprintf(store, sizeof(store), "%s/store", dir);
	ao.dir = store;
	snprintf(conf, sizeof(conf), "http://127.0.0.1:%d/hook", port);
	inst = json_pack("{s:{s:s, s:s, s:i, s:i, s:i}}", "hook", "type", "webhook", "url", conf,
			 "retry_ms", 600000, "max_attempts", 1000, "concurrency",
			 getenv("NOTIFY_BENCH_CONC") ? atoi(getenv("NOTIFY_BENCH_CONC")) : 4);
	def = json_pack("[s]", "hook");
	probe = evtimer_new(base, on_probe, NULL);
	if (vg_alerts_open(&s, &ao, NULL, &rep, err, sizeof(err)) ||
	    vg_notify_open(&nt, base, http, dir, NULL, inst, def, err, sizeof(err))) {
		fprintf(stderr, "notify_bench: %s\n", err);
		return 1;
	}
	const struct vg_alert *a[NALERTS];

	for (int k = 0; k < NALERTS;
	     k++) /* events of 64 alerts: in parallel across, in order within */
		a[k] = sample(s, k);

	if (!getenv("NOTIFY_BENCH_COPY")) /* the daemon's way: the alert JSON is built when sent */
		vg_notify_set_store(nt, s);

	run_for(base, 0.5);
	report_lat("idle (no notifier work)");
	rss0 = rss_kib();
	t0 = now();
	c0 = cpu_s();
	for (long i = 0; i < n;
	     i++) { /* as alerts arrive: in bursts of 1,000, the loop turning between */
		vg_notify_alert(nt, "created", a[i % NALERTS]);
		if (i % 1000 == 999) {
			event_base_loop(base, EVLOOP_NONBLOCK);
			usleep(200);
		}
	}
	if (!strcmp(mode, "ok")) {
		deliver_all(base, nt, n, t0, c0);
	} else {
		run_for(base, 3.0);
		report_lat(hang ? "hang (receiver never answers)" : "dead (nothing listens)");
		printf("%s: %d pending after 3 s; RSS %+.1f MiB for %ld pending (%.0f bytes "
		       "each)\n",
		       mode, vg_notify_pending(nt, NULL, &dead),
		       (double)(rss_kib() - rss0) / 1024.0, n,
		       (double)(rss_kib() - rss0) * 1024.0 / (double)n);
	}
	if (child) {
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
	} else {
		close(fd);
	}
	vg_notify_close(nt);
	vg_alerts_close(s);
	vg_http_free(http);
	json_decref(inst);
	json_decref(def);
	snprintf(conf, sizeof(conf), "rm -rf %s", dir);
	return system(conf) ? 1 : 0;
}
