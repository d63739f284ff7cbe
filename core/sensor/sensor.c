// SPDX-License-Identifier: BSD-2-Clause
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <event2/event.h>
#include <linux/magic.h>

#include "log.h"
#include "sensor.h"
#include "sensor.skel.h"

/* The ABI is pinned here: a change on either side that moves a field fails the build. */
_Static_assert(sizeof(struct vg_exec) == 352, "struct vg_exec layout changed: bump VG_ABI_VERSION");
_Static_assert(__builtin_offsetof(struct vg_exec, comm) == 92, "vg_exec.comm moved");
_Static_assert(__builtin_offsetof(struct vg_exec, ancestors) == 112, "vg_exec.ancestors moved");
_Static_assert(sizeof(struct vg_proc) == 304, "struct vg_proc layout changed");
_Static_assert(sizeof(struct vg_counters) == VG_C_MAX * 8, "struct vg_counters layout changed");
_Static_assert((VG_DATA_MAX & VG_DATA_MASK) == 0, "VG_DATA_MAX must be a power of two");
_Static_assert(VG_EXE_MAX + 1024 + VG_NAME_MAX + VG_CGROUP_DEPTH * VG_NAME_MAX + VG_ARGS_MAX <=
		       VG_DATA_MAX,
	       "field budgets exceed the record's string area");

#define SWEEP_PERIOD_MS	 2000
#define SWEEP_AGE_NS	 (5ull * 1000 * 1000 * 1000) /* exited entries kept this long for lineage */
#define DRAIN_BUDGET_HIT (-ECANCELED)
#define EXE_CACHE	 1024 /* ancestors' exe, direct-mapped on pid: shells and shims repeat */

struct exe_slot {
	__u32 pid, exec_id;
	__u64 start_ns;
	char exe[VG_EXE_MAX];
};

struct vg_sensor {
	struct sensor_bpf *skel;
	struct ring_buffer *rb;
	struct event *ev_ready; /* ring buffer epoll fd readable */
	struct event *ev_timer; /* periodic drain */
	struct event *ev_again; /* continue a drain cut by the batch budget */
	struct event *ev_sweep; /* process map sweep */
	vg_sensor_cb cb;
	void *ctx;
	uint32_t batch, budget;
	int64_t boot_to_wall;
	int ncpu;
	int procs_fd;
	struct vg_sensor_stats st;
	struct vg_counters *percpu; /* ncpu slots, for reading counters */
	struct exe_slot *exe_cache; /* EXE_CACHE slots */
};

static const char *const counter_names[VG_C_MAX] = {
	[VG_C_EXEC_SEEN] = "exec_seen",
	[VG_C_EXEC_SENT] = "exec_sent",
	[VG_C_EXEC_FILTERED] = "exec_filtered",
	[VG_C_RB_DROPPED] = "ringbuf_dropped",
	[VG_C_ARGS_TRUNCATED] = "args_truncated",
	[VG_C_READ_FAULT] = "read_faults",
	[VG_C_FORK_SEEN] = "fork_seen",
	[VG_C_EXIT_SEEN] = "exit_seen",
	[VG_C_PROCMAP_FAIL] = "procmap_failures",
	[VG_C_WAKEUPS] = "wakeups",
	[VG_C_KILLED] = "killed",
	[VG_C_KILL_SPARED] = "kill_spared",
};

const char *vg_sensor_counter_name(int idx)
{
	return idx >= 0 && idx < VG_C_MAX ? counter_names[idx] : "?";
}

static bool verbose;

static int libbpf_print(enum libbpf_print_level lvl, const char *fmt, va_list ap)
{
	if (!verbose || (lvl == LIBBPF_DEBUG && !getenv("VIGIL_LIBBPF_DEBUG")))
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static int64_t clock_ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static bool is_cgroup2(const char *path)
{
	struct statfs sf;

	return statfs(path, &sf) == 0 && sf.f_type == CGROUP2_SUPER_MAGIC;
}

/* ring buffer -> callback, counting, stopping at the batch budget */
static int on_sample(void *ctx, void *data, size_t len)
{
	struct vg_sensor *s = ctx;
	int rc;

	s->st.received++;
	rc = s->cb(s->ctx, data, len);
	if (rc < 0)
		return rc;
	if (++s->budget >= s->batch)
		return DRAIN_BUDGET_HIT;
	return 0;
}

int vg_sensor_drain(struct vg_sensor *s)
{
	uint64_t before = s->st.received;
	int rc;

	s->budget = 0;
	rc = ring_buffer__consume(s->rb);
	if (s->st.received != before)
		s->st.drains++;
	if (rc == DRAIN_BUDGET_HIT) {
		event_active(s->ev_again, 0, 0); /* more may be waiting: yield, then go on */
		return (int)(s->st.received - before);
	}
	return rc < 0 ? rc : (int)(s->st.received - before);
}

static void on_drain(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	vg_sensor_drain(arg);
}

/* Removes process map entries of processes that exited SWEEP_AGE_NS ago. */
static void sweep(struct vg_sensor *s)
{
	enum { CHUNK = 512 };
	static __u32 keys[CHUNK], dead[CHUNK];
	static struct vg_proc vals[CHUNK];
	int64_t now = clock_ns(CLOCK_BOOTTIME);
	__u32 batch = 0, ndead;
	void *in = NULL;

	for (;;) {
		__u32 n = CHUNK;
		int rc = bpf_map_lookup_batch(s->procs_fd, in, &batch, keys, vals, &n, NULL);

		if (rc && errno != ENOENT)
			return;
		ndead = 0;
		for (__u32 i = 0; i < n; i++)
			if ((vals[i].flags & VG_PROC_EXITED) &&
			    now - (int64_t)vals[i].exit_boot_ns > (int64_t)SWEEP_AGE_NS)
				dead[ndead++] = keys[i];
		for (__u32 i = 0; i < ndead; i++)
			if (bpf_map_delete_elem(s->procs_fd, &dead[i]) == 0)
				s->st.swept++;
		if (rc) /* ENOENT: that was the last chunk */
			return;
		in = &batch;
	}
}

static void on_sweep(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	sweep(arg);
}

/* Reads a small /proc file into buf; returns its length or -1. */
static ssize_t read_small(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, cap - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	return n;
}

/*
 * Fills *p from /proc/<pid>: ppid, real uid, comm, exe. Returns 0, or -1 for
 * a kernel thread or a process that is gone.
 */
static int proc_read(__u32 pid, struct vg_proc *p)
{
	char path[64], buf[1024], *rp, *u;
	unsigned long flags = 0;
	int ppid = 0;
	ssize_t n;

	memset(p, 0, sizeof(*p));
	snprintf(path, sizeof(path), "/proc/%u/stat", pid);
	if (read_small(path, buf, sizeof(buf)) < 0)
		return -1;
	rp = strrchr(buf, ')');
	u = strchr(buf, '(');
	if (!rp || !u)
		return -1;
	n = rp - u - 1;
	memcpy(p->comm, u + 1, n < VG_COMM_LEN - 1 ? (size_t)n : VG_COMM_LEN - 1);
	/* after ") ": state ppid pgrp session tty_nr tpgid flags */
	if (sscanf(rp + 2, "%*c %d %*d %*d %*d %*d %lu", &ppid, &flags) != 2)
		return -1;
	if (flags & 0x00200000 /* PF_KTHREAD */)
		return -1;
	p->ppid = (__u32)ppid;
	snprintf(path, sizeof(path), "/proc/%u/status", pid);
	if (read_small(path, buf, sizeof(buf)) > 0 && (u = strstr(buf, "\nUid:")))
		p->uid = (__u32)strtoul(u + 5, NULL, 10);
	snprintf(path, sizeof(path), "/proc/%u/exe", pid);
	n = readlink(path, p->exe, sizeof(p->exe) - 1);
	p->exe[n > 0 ? n : 0] = '\0';
	p->flags = VG_PROC_SEEDED;
	return 0;
}

/* Seeds the process map with every process older than the sensor. */
static void seed(struct vg_sensor *s)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	struct vg_proc p;

	if (!d)
		return;
	while ((de = readdir(d))) {
		char *end;
		unsigned long pid = strtoul(de->d_name, &end, 10);

		if (*end || !pid || proc_read((__u32)pid, &p))
			continue;
		/* NOEXIST: what the kernel recorded since attach is newer */
		if (bpf_map_update_elem(s->procs_fd, &(__u32){(__u32)pid}, &p, BPF_NOEXIST) == 0)
			s->st.seeded++;
	}
	closedir(d);
}

/*
 * The exe of one ancestor: the cache, else the process map when its entry is
 * this very image (same start time and exec count), else /proc. Only an
 * entry proven to be this image is cached.
 */
static void ancestor_exe(struct vg_sensor *s, const struct vg_ancestor *a, char *exe)
{
	struct exe_slot *slot = &s->exe_cache[a->pid % EXE_CACHE];
	struct vg_proc p;
	char path[64];
	ssize_t n = 0;
	bool have = false, same = false, seeded = false;

	if (slot->pid == a->pid && slot->exec_id == a->exec_id && slot->start_ns == a->start_ns) {
		s->st.lineage_cached++;
		memcpy(exe, slot->exe, VG_EXE_MAX);
		return;
	}
	exe[0] = '\0';
	if (bpf_map_lookup_elem(s->procs_fd, &a->pid, &p) == 0) {
		have = p.exe[0] != '\0';
		same = have && p.start_ns == a->start_ns && p.exec_id == a->exec_id;
		seeded = (p.flags & VG_PROC_SEEDED) != 0;
		if (same) {
			memcpy(exe, p.exe, VG_EXE_MAX);
			exe[VG_EXE_MAX - 1] = '\0';
		}
	}
	if (!same) {
		/* seeded, empty, or a later image: /proc names the live process */
		snprintf(path, sizeof(path), "/proc/%u/exe", a->pid);
		n = readlink(path, exe, VG_EXE_MAX - 1);
		exe[n > 0 ? n : 0] = '\0';
		if (n <= 0 && have) { /* gone: the map's name is the best there is */
			memcpy(exe, p.exe, VG_EXE_MAX);
			exe[VG_EXE_MAX - 1] = '\0';
		}
	}
	if (!exe[0]) {
		s->st.lineage_miss++;
		if (!seeded)
			return;
		/* a process older than vigil whose exe cannot be read (PID 1 here): remember that
		 */
	}
	/*
	 * Cache what names this very image: a map entry that proves it, or, for a
	 * process older than vigil (seeded: no identity in the map), what /proc
	 * says while it is alive, which is its image unless it exec'd again
	 * since the event (a window of one drain interval).
	 */
	if (!same && !(seeded && (n > 0 || !exe[0])))
		return;
	slot->pid = a->pid;
	slot->exec_id = a->exec_id;
	slot->start_ns = a->start_ns;
	memcpy(slot->exe, exe, VG_EXE_MAX);
}

void vg_sensor_lineage(struct vg_sensor *s, struct vg_event *ev)
{
	const struct vg_exec *r = ev->rec;

	if (ev->lineage_done)
		return;
	ev->n_lineage = r->n_ancestors;
	for (int i = 0; i < r->n_ancestors; i++) {
		struct vg_ancestor_info *a = &ev->lineage[i];
		char *exe = ev->lineage_buf[i];
		const char *slash;

		a->pid = r->ancestors[i].pid;
		a->uid = r->ancestors[i].uid;
		ancestor_exe(s, &r->ancestors[i], exe);
		a->exe = exe;
		slash = strrchr(exe, '/');
		a->name = slash ? slash + 1 : exe;
	}
	ev->lineage_done = true;
}

int vg_sensor_filter_set(struct vg_sensor *s, const char *comm, uint32_t action)
{
	struct vg_filter_key k = {};

	if (!comm || !*comm)
		return -EINVAL;
	for (size_t i = 0; i < sizeof(k.comm) - 1 && comm[i]; i++)
		k.comm[i] = (char)tolower((unsigned char)comm[i]);
	if (bpf_map__update_elem(s->skel->maps.filter, &k, sizeof(k), &action, sizeof(action), 0))
		return -errno;
	return 0;
}

int vg_sensor_filter_program(struct vg_sensor *s, const char *const *names, int n, bool send_all)
{
	return vg_sensor_filter_program_actions(s, names, NULL, n, send_all);
}

int vg_sensor_filter_program_actions(struct vg_sensor *s, const char *const *names,
				     const uint32_t *extra, int n, bool send_all)
{
	int fd = bpf_map__fd(s->skel->maps.filter), rc;
	struct vg_filter_key k;

	/* send everything while the map is rewritten, so no candidate is lost */
	vg_sensor_filter_mode(s, VG_FILTER_ALL);
	while (bpf_map_get_next_key(fd, NULL, &k) == 0)
		if (bpf_map_delete_elem(fd, &k))
			break;
	for (int i = 0; i < n; i++) {
		rc = vg_sensor_filter_set(s, names[i],
					  VG_ACT_SEND | VG_ACT_WAKE | (extra ? extra[i] : 0));
		if (rc)
			return rc;
	}
	vg_sensor_filter_mode(s, send_all ? VG_FILTER_ALL : VG_FILTER_MAP);
	return 0;
}

int vg_sensor_kill_uids_set(struct vg_sensor *s, const char *const *names, const int *name_idx,
			    const uint32_t *uids, int n)
{
	int fd = bpf_map__fd(s->skel->maps.kill_uid);
	struct vg_kill_uid_key k;
	__u8 one = 1;

	while (bpf_map_get_next_key(fd, NULL, &k) == 0) /* small: clear, then fill */
		if (bpf_map_delete_elem(fd, &k))
			break;
	for (int i = 0; i < n; i++) {
		memset(&k, 0, sizeof(k));
		for (size_t c = 0; c < sizeof(k.comm) - 1 && names[name_idx[i]][c]; c++)
			k.comm[c] = (char)tolower((unsigned char)names[name_idx[i]][c]);
		k.uid = uids[i];
		if (bpf_map_update_elem(fd, &k, &one, BPF_ANY))
			return -errno;
	}
	return 0;
}

int vg_sensor_exempt_set(struct vg_sensor *s, const uint64_t *ids, int n)
{
	int fd = bpf_map__fd(s->skel->maps.exempt);
	__u64 k;
	__u8 one = 1;

	/* add first, then remove the stale: no moment without the new ones */
	for (int i = 0; i < n; i++)
		if (bpf_map_update_elem(fd, &ids[i], &one, BPF_ANY))
			return -errno;
	for (int again = 1; again;) {
		again = 0;
		if (bpf_map_get_next_key(fd, NULL, &k))
			break;
		do {
			bool keep = false;

			for (int i = 0; i < n && !keep; i++)
				keep = ids[i] == k;
			if (!keep && !bpf_map_delete_elem(fd, &k)) {
				again = 1; /* the iteration restarts after a delete */
				break;
			}
		} while (!bpf_map_get_next_key(fd, &k, &k));
	}
	return 0;
}

void vg_sensor_filter_mode(struct vg_sensor *s, enum vg_filter_mode mode)
{
	__atomic_store_n(&s->skel->bss->vg_filter_mode, (__u32)mode, __ATOMIC_RELEASE);
}

void vg_sensor_stats(struct vg_sensor *s, struct vg_sensor_stats *st)
{
	__u32 zero = 0;

	memset(s->st.k, 0, sizeof(s->st.k));
	if (bpf_map__lookup_elem(s->skel->maps.counters, &zero, sizeof(zero), s->percpu,
				 sizeof(*s->percpu) * s->ncpu, 0) == 0)
		for (int c = 0; c < s->ncpu; c++)
			for (int i = 0; i < VG_C_MAX; i++)
				s->st.k[i] += s->percpu[c].c[i];
	s->st.filter_mode = (enum vg_filter_mode)s->skel->bss->vg_filter_mode;
	*st = s->st;
}

int64_t vg_sensor_boot_to_wall(const struct vg_sensor *s)
{
	return s->boot_to_wall;
}

void vg_sensor_close(struct vg_sensor *s)
{
	if (!s)
		return;
	if (s->ev_ready)
		event_free(s->ev_ready);
	if (s->ev_timer)
		event_free(s->ev_timer);
	if (s->ev_again)
		event_free(s->ev_again);
	if (s->ev_sweep)
		event_free(s->ev_sweep);
	ring_buffer__free(s->rb);
	sensor_bpf__destroy(s->skel);
	free(s->percpu);
	free(s->exe_cache);
	free(s);
}

/* strerror that also knows libbpf's own error codes */
static const char *errstr(int rc)
{
	static char buf[128];

	libbpf_strerror(rc, buf, sizeof(buf));
	return buf;
}

static bool is_pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

/* Checks what the kernel and the caller give us before touching BPF. */
static int preflight(const struct vg_sensor_opts *o, char *err, size_t n)
{
	if (geteuid() != 0)
		return vg_errf(err, n, -EPERM,
			       "vigil must run as root to load its eBPF sensor (it needs CAP_BPF, "
			       "CAP_PERFMON and CAP_SYS_RESOURCE): run it with sudo");
	if (o->btf_path) {
		struct btf *btf;

		if (access(o->btf_path, R_OK))
			return vg_errf(
				err, n, -errno,
				"cannot read the BTF file %s (%s): pass a readable BTF file "
				"for this kernel with --btf, or drop --btf to use the kernel's own",
				o->btf_path, strerror(errno));
		btf = btf__parse(o->btf_path, NULL);
		if (!btf)
			return vg_errf(
				err, n, -EINVAL,
				"%s is not a BTF file (%s): pass the kernel's BTF (raw or in an "
				"ELF file) with --btf",
				o->btf_path, errstr(-errno));
		btf__free(btf);
	} else if (access("/sys/kernel/btf/vmlinux", R_OK)) {
		return vg_errf(
			err, n, -ENOTSUP,
			"this kernel exposes no BTF (/sys/kernel/btf/vmlinux is missing): vigil's "
			"CO-RE sensor needs a kernel built with CONFIG_DEBUG_INFO_BTF=y, or a BTF "
			"file for this kernel passed with --btf FILE");
	}
	if (o->ringbuf_bytes && o->ringbuf_bytes < VG_RINGBUF_MIN)
		return vg_errf(err, n, -EINVAL,
			       "ring buffer of %u bytes is too small: it must hold at least one "
			       "full exec record; use --ringbuf-size %uK or more (default 4M)",
			       o->ringbuf_bytes, VG_RINGBUF_MIN >> 10);
	if (o->ringbuf_bytes && o->ringbuf_bytes > VG_RINGBUF_MAX)
		return vg_errf(err, n, -EINVAL,
			       "ring buffer is too large: use at most --ringbuf-size %uM",
			       VG_RINGBUF_MAX >> 20);
	if (o->ringbuf_bytes && !is_pow2(o->ringbuf_bytes))
		return vg_errf(
			err, n, -EINVAL,
			"ring buffer size %u is not a power of two, which the kernel requires: "
			"use e.g. --ringbuf-size 1M, 4M or 16M",
			o->ringbuf_bytes);
	return 0;
}

int vg_sensor_open(struct vg_sensor **out, const struct vg_sensor_opts *o, struct event_base *base,
		   vg_sensor_cb cb, void *ctx, char *err, size_t errlen)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo);
	uint32_t rbsz = o->ringbuf_bytes ? o->ringbuf_bytes : VG_RINGBUF_DEFAULT;
	enum vg_cgroup_mode cg = o->cgroup_mode;
	struct vg_sensor *s;
	struct timeval tv;
	int rc;

	*out = NULL;
	verbose = o->verbose;
	libbpf_set_print(libbpf_print);
	rc = preflight(o, err, errlen);
	if (rc)
		return rc;

	s = calloc(1, sizeof(*s));
	if (!s)
		return vg_errf(err, errlen, -ENOMEM, "out of memory");
	s->cb = cb;
	s->ctx = ctx;
	s->batch = o->batch ? o->batch : 4096;
	s->st.ringbuf_bytes = rbsz;
	s->ncpu = libbpf_num_possible_cpus();
	s->percpu = calloc((size_t)(s->ncpu > 0 ? s->ncpu : 1), sizeof(*s->percpu));
	s->exe_cache = calloc(EXE_CACHE, sizeof(*s->exe_cache));
	if (s->ncpu <= 0 || !s->percpu || !s->exe_cache) {
		rc = vg_errf(err, errlen, -ENOMEM, "cannot size per-CPU counters");
		goto fail;
	}

	oo.btf_custom_path = o->btf_path;
	s->skel = sensor_bpf__open_opts(&oo);
	if (!s->skel) {
		rc = vg_errf(err, errlen, -errno, "cannot open the eBPF sensor object (%s)%s",
			     errstr(-errno), verbose ? "" : ": run with -v for libbpf's log");
		goto fail;
	}
	if (cg == VG_CGROUP_AUTO)
		cg = (is_cgroup2("/sys/fs/cgroup") || is_cgroup2("/sys/fs/cgroup/unified"))
			     ? VG_CGROUP_V2
			     : VG_CGROUP_V1;
	s->skel->rodata->vg_cgroup_v1 = cg == VG_CGROUP_V1;
	s->skel->rodata->vg_want_cwd = !o->no_cwd;
	s->skel->rodata->vg_self_tgid = (__u32)getpid();
	s->skel->rodata->vg_wakeup_bytes =
		o->wake_every ? 0 : (o->wakeup_bytes ? o->wakeup_bytes : rbsz / 4);
	bpf_map__set_max_entries(s->skel->maps.events, rbsz);
	if (o->procs_max)
		bpf_map__set_max_entries(s->skel->maps.procs, o->procs_max);

	rc = sensor_bpf__load(s->skel);
	if (rc) {
		rc = -errno;
		if (rc == -EPERM)
			vg_errf(err, errlen, rc,
				"the kernel refused to load the eBPF sensor (%s): vigil needs "
				"CAP_BPF "
				"and CAP_PERFMON (or CAP_SYS_ADMIN); run it as root, outside a "
				"container that drops those capabilities",
				errstr(rc));
		else
			vg_errf(err, errlen, rc,
				"the kernel refused to load the eBPF sensor (%s)%s", errstr(rc),
				verbose ? "" : ": run with -v to see the verifier's log");
		goto fail;
	}
	rc = sensor_bpf__attach(s->skel);
	if (rc) {
		rc = -errno;
		vg_errf(err, errlen, rc,
			"cannot attach to the sched_process_exec/fork/exit tracepoints (%s): vigil "
			"needs BTF tracepoints (tp_btf, kernel 5.5 or later)%s",
			errstr(rc), verbose ? "" : "; run with -v for libbpf's log");
		goto fail;
	}
	s->procs_fd = bpf_map__fd(s->skel->maps.procs);
	s->rb = ring_buffer__new(bpf_map__fd(s->skel->maps.events), on_sample, s, NULL);
	if (!s->rb) {
		rc = vg_errf(err, errlen, -errno, "cannot map the ring buffer (%s)",
			     strerror(errno));
		goto fail;
	}
	s->boot_to_wall = clock_ns(CLOCK_REALTIME) - clock_ns(CLOCK_BOOTTIME);

	s->ev_ready =
		event_new(base, ring_buffer__epoll_fd(s->rb), EV_READ | EV_PERSIST, on_drain, s);
	s->ev_timer = event_new(base, -1, EV_PERSIST, on_drain, s);
	s->ev_again = event_new(base, -1, 0, on_drain, s);
	s->ev_sweep = event_new(base, -1, EV_PERSIST, on_sweep, s);
	if (!s->ev_ready || !s->ev_timer || !s->ev_again || !s->ev_sweep) {
		rc = vg_errf(err, errlen, -ENOMEM, "cannot register with the event loop");
		goto fail;
	}
	event_add(s->ev_ready, NULL);
	tv.tv_sec = (o->drain_ms ? o->drain_ms : 10) / 1000;
	tv.tv_usec = (o->drain_ms ? o->drain_ms : 10) % 1000 * 1000;
	event_add(s->ev_timer, &tv);
	tv.tv_sec = SWEEP_PERIOD_MS / 1000;
	tv.tv_usec = 0;
	event_add(s->ev_sweep, &tv);

	seed(s);
	*out = s;
	return 0;
fail:
	vg_sensor_close(s);
	return rc;
}
