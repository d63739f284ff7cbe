/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * wal_priv.h - what the log's writer (wal.c) and its recovery at open
 * (wal_recover.c) share: the log object, the on-disk constants, the framing
 * helpers.
 */
#ifndef VG_WAL_PRIV_H
#define VG_WAL_PRIV_H

#include <limits.h>
#include <pthread.h>
#include <stdio.h>

#include "wal.h"

#define FRAME_MAGIC    0x52474c56u   /* "VLGR" little endian */
#define SEG_HDR_V1     "VGSEG\0\1\0" /* magic, NUL, version 1 (u16 LE): older stores */
#define SEG_HDR_V1_LEN 8
#define SEG_MAGIC      "VGSEG\0\2\0" /* version 2: + u32 seq, u32 base, u32 crc32c */
#define SEG_HDR_LEN    20
#define FRAME_HDR      12

struct buf {
	unsigned char *p;
	size_t len, cap;
};

struct ack {
	uint64_t seq;
	vg_wal_ack_cb cb;
	void *ctx;
};

struct vg_wal {
	char dir[PATH_MAX];
	struct vg_wal_opts o;
	int fd, dirfd;
	uint32_t seg_no;
	uint32_t base; /* the log's first segment: older numbers were compacted away */
	uint64_t seg_size;
	struct vg_wal_report rep; /* what opening found, for the stats */

	pthread_t th;
	bool th_started;
	pthread_mutex_t mu;
	pthread_cond_t cv;	/* writer: work or stop */
	pthread_cond_t done_cv; /* sync(): durable progressed */
	struct buf cur, wr;	/* appended by the loop / being written */
	uint64_t seq_appended, seq_cur_end, seq_wr_end, seq_durable;
	bool kick, stop, failing;
	struct vg_wal_stats st;

	int efd; /* writer -> loop: durable progressed */
	struct event *ev_efd, *ev_timer;
	struct ack *acks;
	size_t nacks, ack_head, ack_cap;
};

static inline void wal_put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16);
	p[3] = (unsigned char)(v >> 24);
}

static inline uint32_t wal_get32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline void wal_seg_name(char *out, size_t n, uint32_t no)
{
	snprintf(out, n, "seg-%08u.log", no);
}

/* ---- wal.c ---- */

/* Writes all n bytes (retrying short writes and EINTR). 0 or -errno. */
int wal_write_all(int fd, const unsigned char *p, size_t n);
/* Creates segment no with its header, durable; returns its fd or -errno. */
int wal_seg_create(struct vg_wal *w, uint32_t no);

/* ---- wal_recover.c ---- */

/* The segment numbers in the directory, sorted (caller frees). 0 or -errno. */
int wal_list_segs(struct vg_wal *w, uint32_t **out, size_t *nout);
/*
 * Finds the log's segments and its base, replays every good record through
 * cb, repairs a torn tail and opens the writer's segment (w->fd, w->seg_no,
 * w->seg_size). 0 or -errno with a message in err.
 */
int wal_recover(struct vg_wal *w, vg_wal_replay_cb cb, void *ctx, struct vg_wal_report *rep,
		char *err, size_t errlen);

#endif
