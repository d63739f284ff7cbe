/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sensor_priv.h - the sensor's state, shared by its parts: loading (sensor.c),
 * the ring buffer (ringbuf.c), the process map and lineage (procmap.c), and the
 * kernel's filter maps (filters.c). Not for use outside core/sensor/.
 */
#ifndef VG_SENSOR_PRIV_H
#define VG_SENSOR_PRIV_H

#include <stdint.h>

#include <event2/event.h>

#include "sensor.h"
#include "sensor.skel.h"

#define EXE_CACHE   1024 /* ancestors' exe, direct-mapped on pid: shells and shims repeat */
#define SWEEP_CHUNK 512	 /* process map entries read per batch lookup when sweeping */

struct exe_slot {
	__u32 pid, exec_id;
	__u64 start_ns;
	char exe[VG_EXE_MAX];
};

/* What one sweep batch reads: on the heap, allocated with the sensor (~160 KB). */
struct sweep_buf {
	__u32 keys[SWEEP_CHUNK], dead[SWEEP_CHUNK];
	struct vg_proc vals[SWEEP_CHUNK];
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
	struct sweep_buf *sweep;
};

/* ringbuf.c: maps the ring buffer and registers the drain and sweep events. 0 or -errno. */
int sensor_ringbuf_start(struct vg_sensor *s, const struct vg_sensor_opts *o,
			 struct event_base *base, char *err, size_t errlen);
void sensor_ringbuf_stop(struct vg_sensor *s);

/* procmap.c: removes entries of processes that exited a while ago. */
void sensor_procmap_sweep(struct vg_sensor *s);
/* procmap.c: seeds the process map with every process older than the sensor. */
void sensor_procmap_seed(struct vg_sensor *s);

/* sensor.c: CLOCK_* in ns */
int64_t sensor_clock_ns(clockid_t c);

#endif
