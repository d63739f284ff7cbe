// SPDX-License-Identifier: BSD-2-Clause
/*
 * test_ident.c - content identity (core/ident/) with real files, the real
 * worker thread and a real event loop: a temporary directory stands for a
 * container's root, records carry the identity stat() gives.
 */
#include <errno.h>
#include <signal.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <cmocka.h>
#include <event2/event.h>
#include <openssl/evp.h>

#include "event.h"
#include "record.h"
#include "ident.h"
#include "ident_priv.h"
#include "tmpdir.h"

#define CGROUP "/system.slice/docker-" HEX64 ".scope"
#define HEX64  "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define NO_PID 0x7ffffff0u /* above any pid_max: /proc/PID/exe never opens */

struct rec {
	struct vg_exec h;
	char data[VG_DATA_MAX];
};

static struct event_base *base;
static int done_count[128];
static int done_total;
static struct vg_ident *freeing; /* set while vg_ident_free runs: fill must say -ECANCELED */
static int fill_during_free;

static struct vg_ident *answering; /* set: done() checks fill answers "dpkg" */
static int answered;

static bool has_name(const struct vg_event *ev, const char *name)
{
	for (int i = 0; i < ev->id.n_content; i++)
		if (strcmp(ev->id.content[i], name) == 0)
			return true;
	return false;
}

static bool want_ls; /* the policies changed: "ls" is wanted too */

static bool wanted(void *ctx, const char *lcname)
{
	(void)ctx;
	return strcmp(lcname, "dpkg") == 0 || strcmp(lcname, "dpkg-query") == 0 ||
	       (want_ls && strcmp(lcname, "ls") == 0);
}

static void on_done(void *ctx, uint64_t token)
{
	struct vg_event *ev = ctx;

	assert_true(token < 128);
	done_count[token]++;
	done_total++;
	if (freeing && ev && vg_ident_fill(freeing, ev) == -ECANCELED)
		fill_during_free++;
	if (answering && ev && vg_ident_fill(answering, ev) == 0 && has_name(ev, "dpkg"))
		answered++; /* the answer is there when done() is called */
}

static void write_file(const char *rel, const char *content, size_t len)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(content, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static void write_text(const char *rel, const char *text)
{
	write_file(rel, text, strlen(text));
}

static void sha_of(const char *text, uint8_t out[32])
{
	unsigned int len = 0;

	assert_int_equal(EVP_Digest(text, strlen(text), out, &len, EVP_sha256(), NULL), 1);
}

/* A decoded event for `exe` (a path in the fake root) with the identity of real_path. */
static void event_for_file(struct vg_event *ev, struct rec *r, const char *exe,
			   const char *real_path, uint32_t pid)
{
	struct vg_record_spec s = {.exe = exe, .cgroup = CGROUP, .pid = pid, .ppid = NO_PID};
	struct stat st;
	size_t n = vg_record_build(r, sizeof(*r), &s);

	assert_true(n > 0);
	assert_int_equal(stat(real_path, &st), 0);
	r->h.flags |= VG_EXEC_EXE_KNOWN;
	r->h.exe_name_off = r->h.exe_off + r->h.exe_len; /* "": the exe's NUL */
	r->h.exe_dev = (uint32_t)(major(st.st_dev) << 20 | minor(st.st_dev));
	r->h.exe_ino = st.st_ino;
	r->h.exe_size = (uint64_t)st.st_size;
	r->h.exe_ctime_ns = (uint64_t)st.st_ctim.tv_sec * 1000000000ull + st.st_ctim.tv_nsec;
	assert_int_equal(vg_event_decode(ev, r, n, 0), 0);
}

static void event_for(struct vg_event *ev, struct rec *r, const char *exe)
{
	char real[512];

	snprintf(real, sizeof(real), "%s%s", dir, exe);
	event_for_file(ev, r, exe, real, NO_PID);
}

static int ttl_s; /* a test's table_ttl_s, 0: the default */

static struct vg_ident *new_ident_pending(size_t cache, uint64_t max_bytes, int max_pending)
{
	struct vg_ident_opts o = {.base = base,
				  .table_ttl_s = ttl_s,
				  .cache_entries = cache,
				  .max_file_bytes = max_bytes,
				  .max_pending = max_pending,
				  .wanted = wanted,
				  .root_override = dir};
	struct vg_ident *id = NULL;
	char err[256];

	assert_int_equal(vg_ident_new(&id, &o, err, sizeof(err)), 0);
	return id;
}

/* Runs the loop until `total` done() calls were seen (at most ~5 s). */
static struct vg_ident *new_ident(size_t cache, uint64_t max_bytes)
{
	return new_ident_pending(cache, max_bytes, 0);
}

static void run_until(int total)
{
	struct timeval tick = {0, 10000};

	for (int i = 0; i < 500 && done_total < total; i++) {
		assert_int_equal(event_base_loopexit(base, &tick), 0);
		assert_true(event_base_dispatch(base) >= 0);
	}
	assert_int_equal(done_total, total);
}

/* Looks ev up, waiting for the answer when it is not immediate; returns fill's answer. */
static int ask(struct vg_ident *id, struct vg_event *ev)
{
	int before = done_total, rc = vg_ident_lookup(id, ev, on_done, NULL, 0);

	if (rc != -EINPROGRESS)
		return rc;
	run_until(before + 1);
	return vg_ident_fill(id, ev);
}

static int setup_root(void **state)
{
	char path[512];

	(void)state;
	snprintf(path, sizeof(path), "%s/usr", dir);
	(void)mkdir(path, 0755); /* made once for the group */
	snprintf(path, sizeof(path), "%s/usr/bin", dir);
	(void)mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/tmp", dir);
	(void)mkdir(path, 0755);
	write_text("usr/bin/dpkg", "#dpkg, the real one\n");
	write_text("usr/bin/dpkg-query", "#dpkg-query, another program\n");
	write_text("usr/bin/ls", "#ls\n");
	memset(done_count, 0, sizeof(done_count));
	done_total = 0;
	base = event_base_new();
	assert_non_null(base);
	return 0;
}

static int teardown_root(void **state)
{
	(void)state;
	event_base_free(base);
	base = NULL;
	return 0;
}

static struct vg_event ev;
static struct rec r;

static void test_renamed_copy_and_hard_link(void **state)
{
	struct vg_ident *id = new_ident(0, 0);
	char from[512], to[512];
	uint8_t want[32];

	(void)state;
	write_text("tmp/x", "#dpkg, the real one\n");
	snprintf(from, sizeof(from), "%s/usr/bin/dpkg", dir);
	snprintf(to, sizeof(to), "%s/tmp/hl", dir);
	assert_int_equal(link(from, to), 0);
	event_for(&ev, &r, "/tmp/x");
	assert_int_equal(ask(id, &ev), 0);
	assert_true(ev.id.content_known);
	assert_int_equal(ev.id.n_content, 1);
	assert_string_equal(ev.id.content[0], "dpkg");
	sha_of("#dpkg, the real one\n", want);
	assert_true(ev.id.has_sha256);
	assert_memory_equal(ev.id.sha256, want, 32);
	event_for(&ev, &r, "/tmp/hl");
	assert_int_equal(ask(id, &ev), 0); /* the file of the table: hashed already */
	assert_true(has_name(&ev, "dpkg"));
	vg_ident_free(id);
}

/* mkdir of dir/rel, which may exist */
static void make_dir(const char *rel)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	assert_true(mkdir(path, 0755) == 0 || errno == EEXIST);
}

static void remove_file(const char *rel)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	assert_int_equal(unlink(path), 0);
}

/* A planted usr/local/bin/dpkg (scanned first) does not hide usr/bin/dpkg's content. */
static void test_shadowing_name_kept_too(void **state)
{
	struct vg_ident *id = new_ident(0, 0);

	(void)state;
	make_dir("usr/local");
	make_dir("usr/local/bin");
	write_text("usr/local/bin/dpkg", "#a planted dpkg\n");
	write_text("tmp/x2", "#dpkg, the real one\n");
	event_for(&ev, &r, "/tmp/x2");
	assert_int_equal(ask(id, &ev), 0);
	assert_true(has_name(&ev, "dpkg"));
	event_for(&ev, &r, "/usr/local/bin/dpkg");
	assert_int_equal(ask(id, &ev), 0);
	assert_true(has_name(&ev, "dpkg"));
	vg_ident_free(id);
	remove_file("usr/local/bin/dpkg");
	remove_file("tmp/x2");
}

#define JUNK 16400 /* more than a whole scan used to keep */

/* Junk in usr/local/sbin stops that directory's scan, not the scan of usr/bin. */
static void test_junk_directory_bounded(void **state)
{
	struct vg_ident *id = new_ident(0, 0);
	struct vg_ident_stats st;
	char rel[64];

	(void)state;
	make_dir("usr/local");
	make_dir("usr/local/sbin");
	for (int i = 0; i < JUNK; i++) {
		snprintf(rel, sizeof(rel), "usr/local/sbin/j%d", i);
		write_text(rel, "");
	}
	write_text("tmp/x3", "#dpkg, the real one\n");
	event_for(&ev, &r, "/tmp/x3");
	assert_int_equal(ask(id, &ev), 0);
	assert_true(has_name(&ev, "dpkg"));
	vg_ident_stats(id, &st);
	assert_int_equal(st.scan_truncated, 1);
	vg_ident_free(id);
	for (int i = 0; i < JUNK; i++) {
		snprintf(rel, sizeof(rel), "usr/local/sbin/j%d", i);
		remove_file(rel);
	}
	remove_file("tmp/x3");
}

static enum { CHANGE_NONE, CHANGE_LINK, CHANGE_REPLACE } change; /* before dpkg's hash */

/* Worker: a scanned usr/bin/dpkg changes after the scan, before it is hashed. */
static void change_dpkg(const struct hjob *j)
{
	char from[512], to[512];
	size_t n = strlen(j->path);

	if (change == CHANGE_NONE || n < 12 || strcmp(j->path + n - 12, "usr/bin/dpkg"))
		return;
	snprintf(to, sizeof(to), "%s/usr/bin/dpkg", dir);
	if (change == CHANGE_LINK) { /* only its ctime changes */
		snprintf(from, sizeof(from), "%s/tmp/hl5", dir);
		if (link(to, from) != 0)
			abort();
	} else { /* another file at the path */
		snprintf(from, sizeof(from), "%s/tmp/new_dpkg", dir);
		if (rename(from, to) != 0)
			abort();
	}
	change = CHANGE_NONE;
}

/* The hash of the file found at a table's path belongs to that file's identity. */
static void test_changed_between_scan_and_hash(void **state)
{
	struct vg_ident *id = new_ident(0, 0);
	char from[512], to[512];
	uint8_t want[32];

	(void)state;
	hashd_test_before_hash_at = change_dpkg;
	write_text("tmp/z", "#z\n");
	change = CHANGE_LINK;
	event_for(&ev, &r, "/tmp/z");
	assert_int_equal(ask(id, &ev), 0); /* builds the table, dpkg linked meanwhile */
	assert_int_equal(change, CHANGE_NONE);
	event_for(&ev, &r, "/tmp/hl5");
	/* cached under the identity read: answered at once, and named */
	assert_int_equal(vg_ident_lookup(id, &ev, on_done, NULL, 0), 0);
	assert_true(has_name(&ev, "dpkg"));
	vg_ident_free(id);

	id = new_ident(0, 0);
	snprintf(from, sizeof(from), "%s/usr/bin/dpkg", dir);
	snprintf(to, sizeof(to), "%s/tmp/old_dpkg", dir);
	assert_int_equal(link(from, to), 0); /* the scanned file lives on there */
	write_text("tmp/new_dpkg", "#a new dpkg\n");
	change = CHANGE_REPLACE;
	event_for(&ev, &r, "/tmp/z");
	assert_int_equal(ask(id, &ev), 0);
	assert_int_equal(change, CHANGE_NONE);
	event_for(&ev, &r, "/tmp/old_dpkg"); /* the scanned identity: not the new content */
	assert_int_equal(ask(id, &ev), 0);
	sha_of("#dpkg, the real one\n", want);
	assert_memory_equal(ev.id.sha256, want, 32);
	event_for(&ev, &r, "/usr/bin/dpkg"); /* the file hashed: cached, and named */
	assert_int_equal(vg_ident_lookup(id, &ev, on_done, NULL, 0), 0);
	assert_true(has_name(&ev, "dpkg"));
	vg_ident_free(id);
	hashd_test_before_hash_at = NULL;
	remove_file("tmp/old_dpkg");
	remove_file("tmp/hl5");
}

static void test_look_alikes_get_no_name(void **state)
{
	struct vg_ident *id = new_ident(0, 0);
	struct vg_ident_stats st;

	(void)state;
	write_text("tmp/dpkg.old", "#something else entirely\n");
	event_for(&ev, &r, "/usr/bin/dpkg-query");
	assert_int_equal(ask(id, &ev), 0);
	assert_int_equal(ev.id.n_content, 1);
	assert_string_equal(ev.id.content[0], "dpkg-query");
	event_for(&ev, &r, "/tmp/dpkg.old");
	assert_int_equal(ask(id, &ev), 0);
	assert_true(ev.id.content_known);
	assert_int_equal(ev.id.n_content, 0);
	vg_ident_stats(id, &st);
	assert_int_equal(st.tables_built, 1);
	assert_int_equal(st.hashed, 3); /* dpkg, dpkg-query (table), dpkg.old; never ls */
	vg_ident_free(id);
}

static void test_known_hash(void **state)
{
	struct vg_ident *id = new_ident(0, 0);
	const char *const names[] = {"NC"};
	uint8_t sha[1][32];

	(void)state;
	write_text("tmp/netcat", "#a netcat\n");
	sha_of("#a netcat\n", sha[0]);
	assert_int_equal(vg_ident_set_known(id, names, (const uint8_t(*)[32])sha, 1), 0);
	event_for(&ev, &r, "/tmp/netcat");
	assert_int_equal(ask(id, &ev), 0);
	assert_int_equal(ev.id.n_content, 1);
	assert_string_equal(ev.id.content[0], "nc");
	vg_ident_free(id);
}

static void test_hashed_once_and_again_when_changed(void **state)
{
	struct vg_ident *id = new_ident(0, 0);
	struct vg_ident_stats st;

	(void)state;
	write_text("tmp/y", "#version one\n");
	event_for(&ev, &r, "/tmp/y");
	assert_int_equal(ask(id, &ev), 0);
	vg_ident_stats(id, &st);
	assert_int_equal(st.hashed, 3); /* y and the table's two */
	assert_int_equal(vg_ident_lookup(id, &ev, on_done, NULL, 0), 0);
	assert_true(ev.id.content_known);
	vg_ident_stats(id, &st);
	assert_int_equal(st.hashed, 3);
	assert_int_equal(st.cache_hits, 1);
	usleep(20000); /* a later ctime, same size */
	write_text("tmp/y", "#version two\n");
	event_for(&ev, &r, "/tmp/y");
	assert_int_equal(vg_ident_lookup(id, &ev, on_done, NULL, 0), -EINPROGRESS);
	run_until(done_total + 1);
	assert_int_equal(vg_ident_fill(id, &ev), 0);
	vg_ident_stats(id, &st);
	assert_int_equal(st.hashed, 4);
	vg_ident_free(id);
}

static void test_too_big_and_gone(void **state)
{
	struct vg_ident *id = new_ident(0, 100);
	struct vg_ident_stats st;
	char big[200], path[512];

	(void)state;
	memset(big, 'x', sizeof(big));
	write_file("tmp/big", big, sizeof(big));
	event_for(&ev, &r, "/tmp/big");
	assert_int_equal(vg_ident_lookup(id, &ev, on_done, NULL, 0), -EFBIG);
	write_text("tmp/brief", "#here for a moment\n");
	event_for(&ev, &r, "/tmp/brief");
	snprintf(path, sizeof(path), "%s/tmp/brief", dir);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(vg_ident_lookup(id, &ev, on_done, NULL, 0), -ENOENT);
	write_text("tmp/brief", "#another file now\n"); /* same path, another inode */
	assert_int_equal(vg_ident_lookup(id, &ev, on_done, NULL, 0), -ENOENT);
	vg_ident_stats(id, &st);
	assert_int_equal(st.too_big, 1);
	assert_int_equal(st.gone, 2);
	vg_ident_free(id);
}

static void on_alarm(int sig)
{
	(void)sig;
	fail_msg("a lookup blocked: the FIFO planted for the executable was opened");
}

/* A FIFO or device node swapped in for a gone process's file is never opened. */
static void test_fifo_in_place_of_the_file(void **state)
{
	struct vg_ident *id = new_ident(0, 0);
	char path[512];

	(void)state;
	write_text("tmp/swapped", "#here for a moment\n");
	event_for(&ev, &r, "/tmp/swapped");
	snprintf(path, sizeof(path), "%s/tmp/swapped", dir);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(mkfifo(path, 0600), 0); /* opening it for reading would block */
	signal(SIGALRM, on_alarm);
	alarm(5);
	assert_int_equal(vg_ident_lookup(id, &ev, on_done, NULL, 0), -ENOENT);
	alarm(0);
	vg_ident_free(id);
}

/* Worker: a FIFO takes usr/bin/dpkg's place after the scan, before it is hashed. */
static void fifo_for_dpkg(const struct hjob *j)
{
	char path[512];
	size_t n = strlen(j->path);

	if (n < 12 || strcmp(j->path + n - 12, "usr/bin/dpkg"))
		return;
	snprintf(path, sizeof(path), "%s/usr/bin/dpkg", dir);
	if (unlink(path) != 0 || mkfifo(path, 0600) != 0)
		abort();
}

/* The worker is blocked in the FIFO's open: it cannot be joined, so the test ends here. */
static void on_worker_alarm(int sig)
{
	static const char msg[] = "the worker blocked opening a FIFO at a table's path\n";

	(void)sig;
	(void)!write(2, msg, sizeof(msg) - 1); /* the exit below says it anyway */
	_exit(1);
}

/* A FIFO at a table's path when the worker hashes it is never opened: no hash, no block. */
static void test_fifo_at_a_table_path(void **state)
{
	struct vg_ident *id = new_ident(0, 0);
	char path[512];

	(void)state;
	hashd_test_before_hash_at = fifo_for_dpkg;
	write_text("tmp/y2", "#y2\n");
	event_for(&ev, &r, "/tmp/y2");
	signal(SIGALRM, on_worker_alarm);
	alarm(4);
	assert_int_equal(ask(id, &ev), 0); /* the table is built without dpkg's hash */
	alarm(0);
	assert_false(has_name(&ev, "dpkg"));
	vg_ident_free(id);
	hashd_test_before_hash_at = NULL;
	snprintf(path, sizeof(path), "%s/usr/bin/dpkg", dir);
	assert_int_equal(unlink(path), 0);
	remove_file("tmp/y2");
}

static void test_hundred_lookups_one_hash(void **state)
{
	struct vg_ident *id = new_ident(0, 0);
	struct vg_ident_stats st;

	(void)state;
	write_text("tmp/z", "#dpkg, the real one\n");
	event_for(&ev, &r, "/usr/bin/ls"); /* the table first: only the file is waited on */
	assert_int_equal(ask(id, &ev), 0);
	event_for(&ev, &r, "/tmp/z");
	memset(done_count, 0, sizeof(done_count));
	done_total = 0;
	answering = id;
	answered = 0;
	for (uint64_t t = 0; t < 100; t++)
		assert_int_equal(vg_ident_lookup(id, &ev, on_done, &ev, t), -EINPROGRESS);
	run_until(100);
	answering = NULL;
	for (int t = 0; t < 100; t++)
		assert_int_equal(done_count[t], 1);
	assert_int_equal(answered, 100);
	assert_int_equal(vg_ident_fill(id, &ev), 0);
	assert_true(has_name(&ev, "dpkg"));
	vg_ident_stats(id, &st);
	assert_int_equal(st.hashed, 4); /* ls, the table's two, and z once */
	vg_ident_free(id);
}

static void test_cache_stays_bounded(void **state)
{
	struct vg_ident *id = new_ident(4, 0);
	struct vg_ident_stats st;
	char rel[64], text[64];

	(void)state;
	for (int i = 0; i < 10; i++) {
		snprintf(rel, sizeof(rel), "tmp/f%d", i);
		snprintf(text, sizeof(text), "#file %d\n", i);
		write_text(rel, text);
		snprintf(rel, sizeof(rel), "/tmp/f%d", i);
		event_for(&ev, &r, rel);
		assert_int_equal(ask(id, &ev), 0);
		vg_ident_stats(id, &st);
		assert_true(st.hashed - st.evicted <= 4);
	}
	assert_int_equal(st.hashed, 12);
	assert_int_equal(st.evicted, 8);
	event_for(&ev, &r, "/tmp/f0"); /* evicted long ago: hashed again */
	assert_int_equal(ask(id, &ev), 0);
	vg_ident_stats(id, &st);
	assert_int_equal(st.hashed, 13);
	vg_ident_free(id);
}

static void test_proc_exe_of_a_live_process(void **state)
{
	struct vg_ident *id = new_ident(0, 256ull << 20);
	char self[64];

	(void)state;
	snprintf(self, sizeof(self), "/proc/%d/exe", getpid());
	/* the path as exec'd does not exist: only /proc/PID/exe can find the file */
	event_for_file(&ev, &r, "/nonexistent/test_ident", self, (uint32_t)getpid());
	assert_int_equal(ask(id, &ev), 0);
	assert_true(ev.id.has_sha256);
	assert_int_equal(ev.id.n_content, 0);
	vg_ident_free(id);
}

static void test_free_with_work_pending(void **state)
{
	struct vg_ident *id = new_ident(0, 0);

	(void)state;
	write_text("tmp/w", "#pending at free\n");
	event_for(&ev, &r, "/tmp/w");
	memset(done_count, 0, sizeof(done_count));
	done_total = 0;
	fill_during_free = 0;
	for (uint64_t t = 0; t < 10; t++)
		assert_int_equal(vg_ident_lookup(id, &ev, on_done, &ev, t), -EINPROGRESS);
	freeing = id;
	vg_ident_free(id); /* the loop never ran: every answer comes from free */
	freeing = NULL;
	for (int t = 0; t < 10; t++)
		assert_int_equal(done_count[t], 1);
	assert_int_equal(fill_during_free, 10);
}

static void test_queue_full(void **state)
{
	struct vg_ident *id = new_ident_pending(0, 0, 2);
	struct vg_ident_stats st;
	char rel[64], text[64];

	(void)state;
	memset(done_count, 0, sizeof(done_count));
	done_total = 0;
	for (int i = 0; i < 3; i++) {
		snprintf(rel, sizeof(rel), "tmp/q%d", i);
		snprintf(text, sizeof(text), "#queued %d\n", i);
		write_text(rel, text);
		snprintf(rel, sizeof(rel), "/tmp/q%d", i);
		event_for(&ev, &r, rel);
		assert_int_equal(vg_ident_lookup(id, &ev, on_done, NULL, (uint64_t)i),
				 i < 2 ? -EINPROGRESS : -ENOSPC);
	}
	run_until(2);
	vg_ident_stats(id, &st);
	assert_int_equal(st.queue_full, 1);
	assert_int_equal(ask(id, &ev), 0); /* room again */
	vg_ident_free(id);
}

static void test_flush_after_policy_change(void **state)
{
	struct vg_ident *id = new_ident(0, 0);
	struct vg_ident_stats st;

	(void)state;
	write_text("tmp/l", "#ls\n");
	event_for(&ev, &r, "/tmp/l");
	assert_int_equal(ask(id, &ev), 0);
	assert_int_equal(ev.id.n_content, 0);
	want_ls = true;
	vg_ident_flush_tables(id);
	assert_int_equal(ask(id, &ev), 0);
	want_ls = false;
	assert_int_equal(ev.id.n_content, 1);
	assert_string_equal(ev.id.content[0], "ls");
	vg_ident_stats(id, &st);
	assert_int_equal(st.tables_built, 2);
	vg_ident_free(id);
}

static void test_table_rebuilt_after_ttl(void **state)
{
	struct vg_ident *id;
	struct vg_ident_stats st;

	(void)state;
	ttl_s = 1;
	id = new_ident(0, 0);
	ttl_s = 0;
	write_text("tmp/t", "#dpkg, the real one\n");
	event_for(&ev, &r, "/tmp/t");
	assert_int_equal(ask(id, &ev), 0);
	usleep(1100000);
	/* past its time: rebuilt in the background, the old table answers now */
	assert_int_equal(vg_ident_lookup(id, &ev, on_done, NULL, 0), 0);
	assert_true(has_name(&ev, "dpkg"));
	for (int i = 0; i < 500; i++) {
		struct timeval tick = {0, 10000};

		vg_ident_stats(id, &st);
		if (st.tables_built == 2)
			break;
		assert_int_equal(event_base_loopexit(base, &tick), 0);
		assert_true(event_base_dispatch(base) >= 0);
	}
	assert_int_equal(st.tables_built, 2);
	vg_ident_free(id);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_renamed_copy_and_hard_link, setup_root,
						teardown_root),
		cmocka_unit_test_setup_teardown(test_shadowing_name_kept_too, setup_root,
						teardown_root),
		cmocka_unit_test_setup_teardown(test_junk_directory_bounded, setup_root,
						teardown_root),
		cmocka_unit_test_setup_teardown(test_changed_between_scan_and_hash, setup_root,
						teardown_root),
		cmocka_unit_test_setup_teardown(test_look_alikes_get_no_name, setup_root,
						teardown_root),
		cmocka_unit_test_setup_teardown(test_known_hash, setup_root, teardown_root),
		cmocka_unit_test_setup_teardown(test_hashed_once_and_again_when_changed, setup_root,
						teardown_root),
		cmocka_unit_test_setup_teardown(test_fifo_in_place_of_the_file, setup_root,
						teardown_root),
		cmocka_unit_test_setup_teardown(test_fifo_at_a_table_path, setup_root,
						teardown_root),
		cmocka_unit_test_setup_teardown(test_too_big_and_gone, setup_root, teardown_root),
		cmocka_unit_test_setup_teardown(test_hundred_lookups_one_hash, setup_root,
						teardown_root),
		cmocka_unit_test_setup_teardown(test_cache_stays_bounded, setup_root,
						teardown_root),
		cmocka_unit_test_setup_teardown(test_proc_exe_of_a_live_process, setup_root,
						teardown_root),
		cmocka_unit_test_setup_teardown(test_free_with_work_pending, setup_root,
						teardown_root),
		cmocka_unit_test_setup_teardown(test_queue_full, setup_root, teardown_root),
		cmocka_unit_test_setup_teardown(test_table_rebuilt_after_ttl, setup_root,
						teardown_root),
		cmocka_unit_test_setup_teardown(test_flush_after_policy_change, setup_root,
						teardown_root),
	};

	return RUN_IN_TMPDIR(tests, "vigil-ident");
}
