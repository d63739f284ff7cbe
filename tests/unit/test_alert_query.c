// SPDX-License-Identifier: BSD-2-Clause
/* test_alert_query.c - the alert store's time index and its queries, against a full scan. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <cmocka.h>

#include "tmpdir.h"

#include "alerts.h"
#include "query.h"
#include "record.h"
#include "store_fixture.h"

static unsigned char rec[sizeof(struct vg_exec) + VG_DATA_MAX];
static struct vg_event *ev; /* 21 KB: on the heap, made in main */
static struct vg_meta meta;

#define CID "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

/* Where and what a violation is. */
struct spot {
	const char *ns, *deploy, *pod, *pod_uid, *ctr; /* pod_uid NULL: the host */
	const char *exe, *arg;
	uint64_t t;
};

struct pol {
	const char *id, *name, *severity;
};

static struct vg_event *mk(const struct spot *sp)
{
	const char *argv[] = {sp->exe, sp->arg};
	char cg[256];
	struct vg_record_spec s = {
		.exe = sp->exe, .argv = argv, .argc = 2, .boot_ns = sp->t, .cwd = "/"};

	s.cgroup = "/";
	if (sp->pod_uid) {
		snprintf(cg, sizeof(cg), "/kubepods/besteffort/pod%s/libpod-" CID, sp->pod_uid);
		s.cgroup = cg;
	}
	assert_true(vg_record_build(rec, sizeof(rec), &s) > 0);
	assert_int_equal(vg_event_decode(ev, rec, ((struct vg_exec *)rec)->size, 0), 0);
	ev->lineage_done = true;
	ev->n_lineage = 0;
	ev->ctr_name[0] = '\0';
	if (sp->ctr)
		snprintf(ev->ctr_name, sizeof(ev->ctr_name), "%s", sp->ctr);
	memset(&meta, 0, sizeof(meta));
	ev->meta = NULL;
	if (sp->ns) {
		meta.namespace_ = sp->ns;
		meta.deployment = sp->deploy;
		meta.pod = sp->pod;
		ev->meta = &meta;
	}
	return ev;
}

static const struct vg_alert *add(struct vg_alerts *s, const struct pol *p, const struct spot *sp)
{
	struct vg_violation v = {
		.ev = mk(sp), .policy_id = p->id, .policy_name = p->name, .severity = p->severity};
	const struct vg_alert *a;

	assert_int_equal(vg_alerts_add(s, &v, NULL, NULL, &a), 0);
	return a;
}

static struct vg_alert_filter all_filter(void)
{
	struct vg_alert_filter f = {.state = -1};

	return f;
}

/* The page's policy names, joined by ',', with the total. */
static void page(struct vg_alerts *s, const struct vg_alert_filter *f, int off, int lim, char *buf,
		 size_t n)
{
	const struct vg_alert **out;
	int total = vg_alerts_query_window(s, f, off + lim, &out);
	size_t used;

	assert_true(total >= 0);
	used = (size_t)snprintf(buf, n, "%d:", total);
	for (int i = off; i < total && i < off + lim && used < n; i++) {
		const char *d = out[i]->deployment;

		if (!d)
			d = "-";
		if (i > off)
			used += (size_t)snprintf(buf + used, n - used, ",");
		used += (size_t)snprintf(buf + used, n - used, "%s", d);
	}
	free(out);
}

#define POD1 "11111111-2222-3333-4444-555555555555"
#define POD2 "66666666-2222-3333-4444-555555555555"
#define POD3 "77777777-2222-3333-4444-555555555555"

static const struct pol P_UBU = {"pol-ubuntu", "Ubuntu Package Manager Execution", "low"};
static const struct pol P_SH = {"pol-shell", "Shell Spawned", "high"};

/* The deployment names the alert in the checks below. */
static struct spot at(const char *deploy, const char *pod_uid, uint64_t t)
{
	struct spot sp = {.ns = "shop",
			  .deploy = deploy,
			  .pod = "web-1",
			  .pod_uid = pod_uid,
			  .ctr = "app",
			  .exe = "/usr/bin/apt",
			  .arg = "install",
			  .t = t};
	return sp;
}

static void test_order_merge_resolve_compact(void **state)
{
	struct vg_alert_filter f = all_filter();
	struct vg_alerts *s;
	struct spot sp;
	const struct vg_alert *a;
	char buf[256], cid[37];

	(void)state;
	clear_store();
	s = open_store();
	sp = at("A", POD1, 10);
	add(s, &P_UBU, &sp);
	sp = at("B", POD2, 20);
	add(s, &P_UBU, &sp);
	sp = at("C", POD3, 30);
	a = add(s, &P_UBU, &sp);
	snprintf(cid, sizeof(cid), "%s", a->id);
	page(s, &f, 0, 10, buf, sizeof(buf));
	assert_string_equal(buf, "3:C,B,A");
	sp = at("A", POD1, 40); /* merges into A: A is the newest now */
	add(s, &P_UBU, &sp);
	page(s, &f, 0, 10, buf, sizeof(buf));
	assert_string_equal(buf, "3:A,C,B");
	page(s, &f, 1, 1, buf, sizeof(buf));
	assert_string_equal(buf, "3:C");
	page(s, &f, 2, 5, buf, sizeof(buf));
	assert_string_equal(buf, "3:B");
	page(s, &f, 3, 5, buf, sizeof(buf));
	assert_string_equal(buf, "3:");
	assert_int_equal(vg_alerts_resolve(s, cid, 35), 0);
	f.state = VG_ALERT_RESOLVED;
	page(s, &f, 0, 10, buf, sizeof(buf));
	assert_string_equal(buf, "1:C");
	f.state = VG_ALERT_ACTIVE;
	page(s, &f, 0, 10, buf, sizeof(buf));
	assert_string_equal(buf, "2:A,B");
	a = vg_alerts_get(s, cid);
	sp = at("B", POD2, 50); /* B: newest, then a failed enforcement makes it ATTEMPTED */
	a = add(s, &P_UBU, &sp);
	assert_int_equal(vg_alerts_enforced(s, a, "kill_pod", false, "403", "p", 51), 0);
	page(s, &f, 0, 10, buf, sizeof(buf));
	assert_string_equal(buf, "1:A");
	f.state = VG_ALERT_ATTEMPTED;
	page(s, &f, 0, 10, buf, sizeof(buf));
	assert_string_equal(buf, "1:B");
	f.state = -1;
	vg_alerts_close(s); /* reopen: the index is rebuilt from the log in the same order */
	s = open_store();
	page(s, &f, 0, 10, buf, sizeof(buf));
	assert_string_equal(buf, "3:B,A,C");
	assert_int_equal(vg_alerts_compact(s, 1000), 1); /* C leaves */
	page(s, &f, 0, 10, buf, sizeof(buf));
	assert_string_equal(buf, "2:B,A");
	f.state = VG_ALERT_RESOLVED;
	page(s, &f, 0, 10, buf, sizeof(buf));
	assert_string_equal(buf, "0:");
	f.state = -1;
	sp = at("C", POD3, 45); /* a new alert, older than B: between B and A */
	add(s, &P_UBU, &sp);
	page(s, &f, 0, 10, buf, sizeof(buf));
	assert_string_equal(buf, "3:B,C,A");
	vg_alerts_close(s);
	s = open_store();
	page(s, &f, 0, 10, buf, sizeof(buf));
	assert_string_equal(buf, "3:B,C,A");
	vg_alerts_close(s);
	clear_store();
}

static struct vg_alert_filter parsed(const char *q, struct vg_query *buf)
{
	char err[512];

	if (vg_api_parse_query(q, buf, err, sizeof(err)))
		fail_msg("%s: %s", q, err);
	return buf->f;
}

static void q_page(struct vg_alerts *s, const char *q, char *buf, size_t n)
{
	struct vg_query vq;
	struct vg_alert_filter f = parsed(q, &vq);

	page(s, &f, 0, 20, buf, n);
}

/* Five alerts to filter, oldest first: A, B, C, D, E (their deployments). */
static struct vg_alerts *filter_store(void)
{
	struct vg_alerts *s;
	struct spot sp;
	struct pol crit = {"pol-nc", "Netcat Execution", "critical"};

	clear_store();
	s = open_store();
	sp = at("A", POD1, 10);
	add(s, &P_UBU, &sp);
	sp = at("B", POD2, 20);
	sp.ns = "dev";
	sp.pod = "b-0";
	sp.exe = "/bin/bash";
	sp.arg = "-c id";
	sp.ctr = "tmp-shell";
	add(s, &P_SH, &sp);
	sp = at("C", POD3, 30);
	sp.pod = "web-2";
	sp.exe = "/usr/bin/nc";
	sp.arg = "-l 4444";
	add(s, &crit, &sp);
	sp = at("D", NULL, 40);
	sp.pod = "web-3";
	add(s, &P_SH, &sp);
	sp = at("E", NULL, 50);
	sp.ns = NULL; /* no Kubernetes names at all */
	sp.exe = "/usr/bin/Curl";
	sp.arg = "http://x";
	add(s, &P_UBU, &sp);
	return s;
}

static void test_filters(void **state)
{
	struct vg_alerts *s;
	char buf[256];

	(void)state;
	s = filter_store();
	q_page(s, "", buf, sizeof(buf));
	assert_string_equal(buf, "5:-,D,C,B,A");
	q_page(s, "Namespace:shop", buf, sizeof(buf));
	assert_string_equal(buf, "3:D,C,A");
	q_page(s, "Deployment:C", buf, sizeof(buf));
	assert_string_equal(buf, "1:C");
	q_page(s, "Pod:web-1", buf, sizeof(buf));
	assert_string_equal(buf, "1:A");
	q_page(s, "Pod:nope", buf, sizeof(buf));
	assert_string_equal(buf, "0:");
	q_page(s, "Policy:Shell Spawned", buf, sizeof(buf));
	assert_string_equal(buf, "2:D,B");
	q_page(s, "Policy:pol-shell+Namespace:dev", buf, sizeof(buf)); /* by id */
	assert_string_equal(buf, "1:B");
	q_page(s, "Since:0+State:ACTIVE", buf, sizeof(buf));
	assert_string_equal(buf, "5:-,D,C,B,A");
	/* severity, any case */
	q_page(s, "Severity:HIGH", buf, sizeof(buf));
	assert_string_equal(buf, "2:D,B");
	q_page(s, "Severity:critical", buf, sizeof(buf));
	assert_string_equal(buf, "1:C");
	q_page(s, "Severity:medium", buf, sizeof(buf));
	assert_string_equal(buf, "0:");
	/* policy: no policy is named that exactly: a part of the name, any case */
	q_page(s, "Policy:ubuntu", buf, sizeof(buf));
	assert_string_equal(buf, "2:-,A");
	q_page(s, "Policy:EXEC", buf, sizeof(buf));
	assert_string_equal(buf, "3:-,C,A");
	q_page(s, "Policy:pol-", buf, sizeof(buf)); /* ids are matched whole only */
	assert_string_equal(buf, "0:");
	/* free text: names, container, newest process's exe and args, any case */
	q_page(s, "tmp-shell", buf, sizeof(buf));
	assert_string_equal(buf, "1:B");
	q_page(s, "curl", buf, sizeof(buf));
	assert_string_equal(buf, "1:-");
	q_page(s, "4444", buf, sizeof(buf));
	assert_string_equal(buf, "1:C");
	q_page(s, "WEB", buf, sizeof(buf)); /* pods web-1, web-2, web-3 */
	assert_string_equal(buf, "3:D,C,A");
	q_page(s, "web+apt", buf, sizeof(buf)); /* every term must hold */
	assert_string_equal(buf, "2:D,A");
	q_page(s, "shop+Severity:high+spawned", buf, sizeof(buf));
	assert_string_equal(buf, "1:D");
	q_page(s, "nothing-has-this", buf, sizeof(buf));
	assert_string_equal(buf, "0:");
	vg_alerts_close(s);
	clear_store();
}

static void parse_fails(const char *q, const char *said)
{
	struct vg_query vq;
	char err[512] = "";

	assert_int_equal(vg_api_parse_query(q, &vq, err, sizeof(err)), -EINVAL);
	if (!strstr(err, said))
		fail_msg("%s: '%s' lacks '%s'", q, err, said);
}

static void test_parse(void **state)
{
	struct vg_query vq;
	struct vg_alert_filter f;

	(void)state;
	f = parsed("Severity:Critical+tmp-shell+Policy:x+apt", &vq);
	assert_string_equal(f.severity, "critical");
	assert_int_equal(f.ntext, 2);
	assert_string_equal(f.text[0], "tmp-shell");
	assert_string_equal(f.text[1], "apt");
	assert_string_equal(f.policy, "x");
	f = parsed("", &vq);
	assert_null(f.severity);
	assert_int_equal(f.ntext, 0);
	parse_fails("Severity:urgent", "Severity is low, medium, high or critical");
	parse_fails("Colour:red", "(known: Policy, Namespace, Deployment, Pod, State, Severity, "
				  "Since; a term without ':' is free text)");
	parse_fails("a+b+c+d+e+f+g+h+i", "too many free-text terms (at most 8)");
	parse_fails("a++b", "bad query term ''");
	parse_fails(":x", "write Key:Value");
	parse_fails("Severity:", "needs a value");
}

/* ---- against a full scan ---- */

#define MAX_IDS 4096

static char ids[MAX_IDS][37];
static int nids;
static uint64_t seed = 42;

static unsigned rnd(unsigned n)
{
	seed = seed * 6364136223846793005ull + 1442695040888963407ull;
	return (unsigned)((seed >> 33) % n);
}

static const struct pol pols[] = {
	{"pol-ubuntu", "Ubuntu Package Manager Execution", "low"},
	{"pol-shell", "Shell Spawned", "high"},
	{"Netcat Execution", "Netcat Execution", "critical"},
	{"pol-curl", "curl in Image", "medium"},
};

static void note_id(const char *id)
{
	for (int i = 0; i < nids; i++)
		if (!strcmp(ids[i], id))
			return;
	assert_true(nids < MAX_IDS);
	snprintf(ids[nids++], 37, "%s", id);
}

static bool ref_holds(const char *hay, const char *needle)
{
	size_t n = strlen(needle);

	for (; hay && *hay; hay++)
		if (!strncasecmp(hay, needle, n))
			return true;
	return false;
}

static bool ref_text(const struct vg_alert *a, const char *t)
{
	const struct vg_proc_rec *newest = NULL;
	int last = a->nprocs - 1; /* the last pushed; in a full ring, the one before its head */

	if (a->nprocs == VG_ALERT_MAX_PROCS)
		last = (a->head + VG_ALERT_MAX_PROCS - 1) % VG_ALERT_MAX_PROCS;
	if (last >= 0)
		newest = &a->procs[last];
	return ref_holds(a->policy_name, t) || ref_holds(a->namespace_, t) ||
	       ref_holds(a->deployment, t) || ref_holds(a->pod, t) ||
	       ref_holds(a->container_name, t) ||
	       (newest && (ref_holds(newest->exe, t) || ref_holds(newest->args, t)));
}

static bool same(const char *want, const char *have)
{
	return !want || (have && !strcmp(want, have));
}

static bool ref_match(const struct vg_alert_filter *f, bool exact, const struct vg_alert *a)
{
	if (f->state >= 0 && (int)a->state != f->state)
		return false;
	if (a->time_ns < f->since_ns)
		return false;
	if (f->policy && exact && !same(f->policy, a->policy_name) &&
	    !same(f->policy, a->policy_id))
		return false;
	if (f->policy && !exact && !ref_holds(a->policy_name, f->policy))
		return false;
	if (!same(f->namespace_, a->namespace_) || !same(f->deployment, a->deployment) ||
	    !same(f->pod, a->pod))
		return false;
	if (f->severity && strcasecmp(f->severity, a->severity))
		return false;
	for (int i = 0; i < f->ntext; i++)
		if (!ref_text(a, f->text[i]))
			return false;
	return true;
}

static int ref_order(const void *pa, const void *pb)
{
	const struct vg_alert *x = *(const struct vg_alert *const *)pa;
	const struct vg_alert *y = *(const struct vg_alert *const *)pb;

	if (x->time_ns < y->time_ns)
		return 1;
	if (x->time_ns > y->time_ns)
		return -1;
	return strcmp(x->id, y->id);
}

/* The query's matches by a scan of every alert and a sort; returns the count. */
static int reference(struct vg_alerts *s, const struct vg_alert_filter *f,
		     const struct vg_alert **out)
{
	bool exact = false;
	int n = 0;

	for (int i = 0; i < nids && f->policy; i++) {
		const struct vg_alert *a = vg_alerts_get(s, ids[i]);

		exact |= a && (same(f->policy, a->policy_name) || same(f->policy, a->policy_id));
	}
	for (int i = 0; i < nids; i++) {
		const struct vg_alert *a = vg_alerts_get(s, ids[i]);

		if (a && ref_match(f, exact, a))
			out[n++] = a;
	}
	qsort(out, (size_t)n, sizeof(*out), ref_order);
	return n;
}

static struct vg_alert_filter random_filter(uint64_t now)
{
	static const char *const policy[] = {"Shell Spawned", "pol-curl",	  "ubuntu",
					     "EXEC",	      "Netcat Execution", "zzz"};
	static const char *const ns[] = {"shop", "dev", "none"};
	static const char *const deploy[] = {"web", "db"};
	static const char *const pod[] = {"web-1", "web-2", "db-0"};
	static const char *const sev[] = {"low", "MEDIUM", "high", "critical"};
	static const char *const text[] = {"apt",   "WEB",  "shop", "install",
					   "ctr-a", "exec", "x1",   "/usr"};
	struct vg_alert_filter f = all_filter();

	if (!rnd(3))
		f.policy = policy[rnd(6)];
	if (!rnd(4))
		f.namespace_ = ns[rnd(3)];
	if (!rnd(5))
		f.deployment = deploy[rnd(2)];
	if (!rnd(5))
		f.pod = pod[rnd(3)];
	if (!rnd(3))
		f.state = (int)rnd(3);
	if (!rnd(4))
		f.severity = sev[rnd(4)];
	if (!rnd(6))
		f.since_ns = rnd((unsigned)now + 1);
	while (f.ntext < 2 && !rnd(4))
		f.text[f.ntext++] = text[rnd(8)];
	return f;
}

static const struct vg_alert *ref_buf[MAX_IDS];

static void check_queries(struct vg_alerts *s, uint64_t now)
{
	for (int q = 0; q < 40; q++) {
		struct vg_alert_filter f = random_filter(now);
		const struct vg_alert **out;
		int n = reference(s, &f, ref_buf), off = (int)rnd(4) * (int)rnd(6), lim;
		int total;

		lim = 1 + (int)rnd(12);
		if (!rnd(8))
			lim = MAX_IDS;
		total = vg_alerts_query_window(s, &f, off + lim, &out);
		if (total != n)
			fail_msg("total %d, want %d: policy %s ns %s deploy %s pod %s state %d sev "
				 "%s "
				 "since %llu text %d %s",
				 total, n, f.policy, f.namespace_, f.deployment, f.pod, f.state,
				 f.severity, (unsigned long long)f.since_ns, f.ntext, f.text[0]);
		for (int i = off; i < n && i < off + lim; i++)
			assert_ptr_equal(out[i], ref_buf[i]);
		free(out);
		total = vg_alerts_query(s, &f, &out);
		assert_int_equal(total, n);
		for (int i = 0; i < n; i++)
			assert_ptr_equal(out[i], ref_buf[i]);
		free(out);
	}
}

/* One violation somewhere: times mostly move forward, some arrive late, some tie. */
static void random_violation(struct vg_alerts *s, uint64_t *now)
{
	static const char *const uids[] = {POD1, POD2, POD3, NULL};
	static const char *const ns[] = {"shop", "dev", NULL};
	static const char *const deploy[] = {"web", "db", "api", "cache", "queue", "batch", NULL};
	static const char *const pod[] = {"web-1", "web-2", "db-0"};
	static const char *const exe[] = {"/usr/bin/apt", "/bin/sh", "/usr/bin/nc"};
	static const char *const ctrs[] = {"ctr-a", NULL};
	char arg[32];
	struct spot sp = {.ns = ns[rnd(3)],
			  .deploy = deploy[rnd(7)],
			  .pod = pod[rnd(3)],
			  .pod_uid = uids[rnd(4)],
			  .ctr = ctrs[rnd(2)],
			  .exe = exe[rnd(3)],
			  .arg = arg};
	const struct vg_alert *a;

	*now += 10 * rnd(3);
	sp.t = *now;
	if (!rnd(5) && *now > 200)
		sp.t = *now - 10 * rnd(20); /* late */
	snprintf(arg, sizeof(arg), "install x%u", rnd(20));
	a = add(s, &pols[rnd(4)], &sp);
	note_id(a->id);
}

static void random_step(struct vg_alerts **s, uint64_t *now)
{
	unsigned op = rnd(100);
	const struct vg_alert *a = NULL;

	if (nids)
		a = vg_alerts_get(*s, ids[rnd((unsigned)nids)]);
	if (op < 70) {
		random_violation(*s, now);
	} else if (op < 85 && a) {
		(void)vg_alerts_resolve(*s, a->id, *now - 10 * rnd(30));
	} else if (op < 92 && a) {
		assert_int_equal(vg_alerts_enforced(*s, a, "kill_pod", rnd(2), "m", "t", *now), 0);
	} else if (op < 96) {
		assert_true(vg_alerts_compact(*s, *now - 10 * rnd(50)) >= 0);
	} else {
		vg_alerts_close(*s);
		*s = open_store();
	}
}

static void test_against_full_scan(void **state)
{
	struct vg_alerts *s;
	uint64_t now = 1000;

	(void)state;
	clear_store();
	s = open_store();
	nids = 0;
	for (int step = 0; step < 3000; step++) {
		random_step(&s, &now);
		if (step % 25 == 24)
			check_queries(s, now);
	}
	check_queries(s, now);
	vg_alerts_close(s);
	clear_store();
}

/* A page of GET /v1/alerts's query string qs: "total:" and the deployments (E has none: "-"),
 * or the error. */
static void sorted(struct vg_alerts *s, const char *qs, char *buf, size_t n)
{
	struct vg_list_params lp;
	const struct vg_alert **out;
	size_t used;
	int total;

	if (vg_api_parse_list(qs, &lp, buf, n))
		return;
	total = vg_alerts_query_sorted(s, &lp.q.f, lp.sort, lp.desc, (int)(lp.offset + lp.limit),
				       &out);
	assert_true(total >= 0);
	used = (size_t)snprintf(buf, n, "%d:", total);
	for (size_t i = lp.offset; i < (size_t)total && i < lp.offset + lp.limit; i++)
		used += (size_t)snprintf(buf + used, n - used, "%s%s", i > lp.offset ? "," : "",
					 out[i]->deployment ? out[i]->deployment : "-");
	free(out);
}

static void test_sorted(void **state)
{
	static const char *const want[][2] = {
		{"", "5:A,-,D,C,B"},
		{"sort=time", "5:A,-,D,C,B"},
		{"sort=time:asc", "5:B,C,D,-,A"},
		{"sort=severity", "5:C,D,B,A,-"},
		{"sort=SEVERITY:asc", "5:A,-,D,B,C"},
		{"sort=severity&pagination.offset=2&pagination.limit=2", "5:B,A"},
		{"sort=severity&query=Namespace:shop", "3:C,D,A"},
		{"sort=policy", "5:C,D,B,A,-"},
		{"sort=policy:desc", "5:A,-,D,B,C"},
		{"sort=count", "5:A,-,D,C,B"},
		{"sort=count:asc", "5:-,D,C,B,A"},
		{"sort=namespace", "5:-,B,A,D,C"},
		{"sort=entity", "5:-,A,B,C,D"},
		{"sort=entity:desc", "5:D,C,B,A,-"},
		{"sort=state", "5:A,-,D,C,B"},
		{"sort=enforcement", "5:A,-,D,C,B"},
		{"pagination.sortOption.field=Severity&pagination.sortOption.reversed=true",
		 "5:C,D,B,A,-"},
		{"pagination.sortOption.field=severity", "5:A,-,D,B,C"},
		{"sort=colour", "sort: no field 'colour' to sort by: give one of time, severity, "
				"policy, state, count, namespace, entity or enforcement"},
		{"sort=severity:up", "sort: the direction after ':' is asc or desc, not 'up' "
				     "(sort=severity:desc)"},
		{"sort=time&pagination.sortOption.field=time", "give sort=FIELD[:asc|:desc] or "
							       "pagination.sortOption.field (and "
							       ".reversed), not both"},
		{"pagination.sortOption.field=time&pagination.sortOption.reversed=yes",
		 "pagination.sortOption.reversed is true or false, not 'yes'"},
	};
	struct vg_alerts *s = filter_store();
	struct spot sp = at("A", POD1, 60); /* A again: two violations, the newest */
	char buf[512];

	(void)state;
	add(s, &P_UBU, &sp);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		sorted(s, want[i][0], buf, sizeof(buf));
		if (strcmp(buf, want[i][1]))
			fail_msg("%s: got '%s', want '%s'", want[i][0], buf, want[i][1]);
	}
	vg_alerts_close(s);
	clear_store();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_order_merge_resolve_compact),
		cmocka_unit_test(test_filters),
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_against_full_scan),
		cmocka_unit_test(test_sorted),
	};
	int rc;

	ev = calloc(1, sizeof(*ev));
	if (!ev)
		return 1;
	rc = RUN_IN_TMPDIR(tests, "vigil-alert-query");
	free(ev);
	return rc;
}
