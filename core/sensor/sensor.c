// SPDX-License-Identifier: BSD-2-Clause
/*
 * sensor.c - the sensor's life: checks what the kernel and the options give,
 * opens, configures, loads and attaches the BPF skeleton, hands over to the
 * ring buffer (ringbuf.c), reads the kernel's counters, and tears down.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <linux/magic.h>

#include "log.h"
#include "sensor_priv.h"

/* The ABI is pinned here: a change on either side that moves a field fails the build. */
_Static_assert(sizeof(struct vg_exec) == 400, "struct vg_exec layout changed: bump VG_ABI_VERSION");
_Static_assert(__builtin_offsetof(struct vg_exec, comm) == 92, "vg_exec.comm moved");
_Static_assert(__builtin_offsetof(struct vg_exec, ancestors) == 112, "vg_exec.ancestors moved");
_Static_assert(sizeof(struct vg_proc) == 304, "struct vg_proc layout changed");
_Static_assert(sizeof(struct vg_counters) == VG_C_MAX * 8, "struct vg_counters layout changed");
_Static_assert((VG_DATA_MAX & VG_DATA_MASK) == 0, "VG_DATA_MAX must be a power of two");
_Static_assert(VG_EXE_MAX + 1024 + VG_NAME_MAX + VG_CGROUP_DEPTH * VG_NAME_MAX + VG_ARGS_MAX <=
		       VG_DATA_MAX,
	       "field budgets exceed the record's string area");

#define BATCH_DEFAULT 4096

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
	[VG_C_EXE_NAME_HIT] = "exe_name_hits",
	[VG_C_IDENT_HIT] = "ident_hits",
	[VG_C_FILELESS] = "fileless",
	[VG_C_DRIFT] = "drift",
	[VG_C_BL_CHECKED] = "baseline_checked",
	[VG_C_BL_KILLED] = "baseline_killed",
};

const char *vg_sensor_counter_name(int idx)
{
	if (idx < 0 || idx >= VG_C_MAX)
		return "?";
	return counter_names[idx];
}

static bool verbose;

static int libbpf_print(enum libbpf_print_level lvl, const char *fmt, va_list ap)
{
	if (!verbose || (lvl == LIBBPF_DEBUG && !getenv("VIGIL_LIBBPF_DEBUG")))
		return 0;
	return vfprintf(stderr, fmt, ap);
}

int64_t sensor_clock_ns(clockid_t c)
{
	struct timespec ts;

	(void)clock_gettime(c, &ts); /* fails only for an unknown clock: these are fixed */
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static bool is_cgroup2(const char *path)
{
	struct statfs sf;

	return statfs(path, &sf) == 0 && sf.f_type == CGROUP2_SUPER_MAGIC;
}

/* strerror that also knows libbpf's own error codes, into buf */
static const char *bpf_strerror(int rc, char *buf, size_t cap)
{
	libbpf_strerror(rc, buf, cap);
	return buf;
}

static bool is_pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

/* The BTF the sensor is relocated against: the kernel's, or a readable --btf file. */
static int preflight_btf(const char *path, char *err, size_t n)
{
	char why[128];
	struct btf *btf;

	if (!path && access("/sys/kernel/btf/vmlinux", R_OK))
		return vg_errf(
			err, n, -ENOTSUP,
			"this kernel exposes no BTF (/sys/kernel/btf/vmlinux is missing): vigil's "
			"CO-RE sensor needs a kernel built with CONFIG_DEBUG_INFO_BTF=y, or a BTF "
			"file for this kernel passed with --btf FILE");
	if (!path)
		return 0;
	if (access(path, R_OK))
		return vg_errf(err, n, -errno,
			       "cannot read the BTF file %s (%s): pass a readable BTF file "
			       "for this kernel with --btf, or drop --btf to use the kernel's own",
			       path, strerror(errno));
	btf = btf__parse(path, NULL);
	if (!btf)
		return vg_errf(err, n, -EINVAL,
			       "%s is not a BTF file (%s): pass the kernel's BTF (raw or in an "
			       "ELF file) with --btf",
			       path, bpf_strerror(-errno, why, sizeof(why)));
	btf__free(btf);
	return 0;
}

/* A ring buffer size the kernel takes (0: the default). */
static int preflight_ringbuf(uint32_t bytes, char *err, size_t n)
{
	if (bytes && bytes < VG_RINGBUF_MIN)
		return vg_errf(err, n, -EINVAL,
			       "ring buffer of %u bytes is too small: it must hold at least one "
			       "full exec record; use --ringbuf-size %uK or more (default 4M)",
			       bytes, VG_RINGBUF_MIN >> 10);
	if (bytes && bytes > VG_RINGBUF_MAX)
		return vg_errf(err, n, -EINVAL,
			       "ring buffer is too large: use at most --ringbuf-size %uM",
			       VG_RINGBUF_MAX >> 20);
	if (bytes && !is_pow2(bytes))
		return vg_errf(
			err, n, -EINVAL,
			"ring buffer size %u is not a power of two, which the kernel requires: "
			"use e.g. --ringbuf-size 1M, 4M or 16M",
			bytes);
	return 0;
}

/* Checks what the kernel and the caller give us before touching BPF. */
static int preflight(const struct vg_sensor_opts *o, char *err, size_t n)
{
	int rc;

	if (geteuid() != 0)
		return vg_errf(err, n, -EPERM,
			       "vigil must run as root to load its eBPF sensor (it needs CAP_BPF, "
			       "CAP_PERFMON and CAP_SYS_RESOURCE): run it with sudo");
	rc = preflight_btf(o->btf_path, err, n);
	if (rc)
		return rc;
	return preflight_ringbuf(o->ringbuf_bytes, err, n);
}

/* The sensor's memory: counters per CPU, the exe cache, the sweep's batch. */
static int sensor_alloc(struct vg_sensor **out, const struct vg_sensor_opts *o, uint32_t rbsz,
			char *err, size_t errlen)
{
	struct vg_sensor *s = calloc(1, sizeof(*s));

	*out = s;
	if (!s)
		return vg_errf(err, errlen, -ENOMEM, "out of memory");
	s->batch = o->batch ? o->batch : BATCH_DEFAULT;
	s->st.ringbuf_bytes = rbsz;
	s->ncpu = libbpf_num_possible_cpus();
	s->percpu = calloc((size_t)(s->ncpu > 0 ? s->ncpu : 1), sizeof(*s->percpu));
	s->exe_cache = calloc(EXE_CACHE, sizeof(*s->exe_cache));
	s->sweep = malloc(sizeof(*s->sweep));
	if (s->ncpu <= 0 || !s->percpu || !s->exe_cache || !s->sweep)
		return vg_errf(err, errlen, -ENOMEM, "cannot size per-CPU counters");
	return 0;
}

/* The knobs set between open and load: cgroup hierarchy, cwd, self, wake-ups, map sizes. */
static int configure(struct vg_sensor *s, const struct vg_sensor_opts *o, uint32_t rbsz)
{
	enum vg_cgroup_mode cg = o->cgroup_mode;
	int rc;

	if (cg == VG_CGROUP_AUTO &&
	    (is_cgroup2("/sys/fs/cgroup") || is_cgroup2("/sys/fs/cgroup/unified")))
		cg = VG_CGROUP_V2;
	else if (cg == VG_CGROUP_AUTO)
		cg = VG_CGROUP_V1;
	s->skel->rodata->vg_cgroup_v1 = cg == VG_CGROUP_V1;
	s->skel->rodata->vg_want_cwd = !o->no_cwd;
	s->skel->rodata->vg_self_tgid = (__u32)getpid();
	if (o->wake_every)
		s->skel->rodata->vg_wakeup_bytes = 0;
	else if (o->wakeup_bytes)
		s->skel->rodata->vg_wakeup_bytes = o->wakeup_bytes;
	else
		s->skel->rodata->vg_wakeup_bytes = rbsz / 4;
	rc = bpf_map__set_max_entries(s->skel->maps.events, rbsz);
	if (!rc && o->procs_max)
		rc = bpf_map__set_max_entries(s->skel->maps.procs, o->procs_max);
	return rc;
}

/* Opens the skeleton (with --btf's BTF) and configures it. */
static int open_skeleton(struct vg_sensor *s, const struct vg_sensor_opts *o, uint32_t rbsz,
			 char *err, size_t errlen)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo);
	char why[128];
	int rc;

	oo.btf_custom_path = o->btf_path;
	s->skel = sensor_bpf__open_opts(&oo);
	if (!s->skel) {
		rc = -errno;
		return vg_errf(err, errlen, rc, "cannot open the eBPF sensor object (%s)%s",
			       bpf_strerror(rc, why, sizeof(why)),
			       verbose ? "" : ": run with -v for libbpf's log");
	}
	rc = configure(s, o, rbsz);
	if (rc)
		return vg_errf(err, errlen, rc, "cannot size the eBPF sensor's maps (%s)",
			       bpf_strerror(rc, why, sizeof(why)));
	return 0;
}

/* Loads (the verifier runs here) and attaches the three tracepoint programs. */
static int load_attach(struct vg_sensor *s, char *err, size_t errlen)
{
	char why[128];
	int rc;

	if (sensor_bpf__load(s->skel)) {
		rc = -errno;
		if (rc == -EPERM)
			return vg_errf(err, errlen, rc,
				       "the kernel refused to load the eBPF sensor (%s): vigil "
				       "needs CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN); run it "
				       "as root, outside a container that drops those capabilities",
				       bpf_strerror(rc, why, sizeof(why)));
		return vg_errf(err, errlen, rc, "the kernel refused to load the eBPF sensor (%s)%s",
			       bpf_strerror(rc, why, sizeof(why)),
			       verbose ? "" : ": run with -v to see the verifier's log");
	}
	if (sensor_bpf__attach(s->skel)) {
		rc = -errno;
		return vg_errf(err, errlen, rc,
			       "cannot attach to the sched_process_exec/fork/exit tracepoints "
			       "(%s): vigil needs BTF tracepoints (tp_btf, kernel 5.5 or later)%s",
			       bpf_strerror(rc, why, sizeof(why)),
			       verbose ? "" : "; run with -v for libbpf's log");
	}
	s->procs_fd = bpf_map__fd(s->skel->maps.procs);
	return 0;
}

int vg_sensor_open(struct vg_sensor **out, const struct vg_sensor_opts *o, struct event_base *base,
		   vg_sensor_cb cb, void *ctx, char *err, size_t errlen)
{
	uint32_t rbsz = o->ringbuf_bytes ? o->ringbuf_bytes : VG_RINGBUF_DEFAULT;
	struct vg_sensor *s;
	int rc;

	*out = NULL;
	verbose = o->verbose;
	(void)libbpf_set_print(libbpf_print); /* returns the previous printer: not needed */
	rc = preflight(o, err, errlen);
	if (rc)
		return rc;
	rc = sensor_alloc(&s, o, rbsz, err, errlen);
	if (!rc) {
		s->cb = cb;
		s->ctx = ctx;
		rc = open_skeleton(s, o, rbsz, err, errlen);
	}
	if (!rc)
		rc = load_attach(s, err, errlen);
	if (!rc)
		rc = sensor_ringbuf_start(s, o, base, err, errlen);
	if (rc) {
		vg_sensor_close(s);
		return rc;
	}
	s->boot_to_wall = sensor_clock_ns(CLOCK_REALTIME) - sensor_clock_ns(CLOCK_BOOTTIME);
	sensor_procmap_seed(s);
	*out = s;
	return 0;
}

void vg_sensor_close(struct vg_sensor *s)
{
	if (!s)
		return;
	sensor_ringbuf_stop(s);
	sensor_bpf__destroy(s->skel);
	free(s->percpu);
	free(s->exe_cache);
	free(s->sweep);
	free(s);
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
