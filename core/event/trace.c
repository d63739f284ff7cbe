// SPDX-License-Identifier: BSD-2-Clause
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <msgpack.h>
#include <msgpack/fbuffer.h>

#include "trace.h"

#define MAGIC	      "vigil-trace"
#define TRACE_VERSION 1

struct vg_trace_writer {
	FILE *f;
	msgpack_packer pk;
};

struct vg_trace_reader {
	const unsigned char *p;
	size_t len, off;
	int fd;
	int64_t boot_to_wall;
};

struct vg_trace_writer *vg_trace_create(const char *path, int64_t boot_to_wall)
{
	struct vg_trace_writer *w = calloc(1, sizeof(*w));
	struct timespec ts;
	char host[256] = "";

	if (!w)
		return NULL;
	w->f = fopen(path, "wb");
	if (!w->f) {
		free(w);
		return NULL;
	}
	msgpack_packer_init(&w->pk, w->f, msgpack_fbuffer_write);
	clock_gettime(CLOCK_REALTIME, &ts);
	gethostname(host, sizeof(host) - 1);
	msgpack_pack_map(&w->pk, 6);
	msgpack_pack_str_with_body(&w->pk, "boot_to_wall_ns", 15);
	msgpack_pack_int64(&w->pk, boot_to_wall);
	msgpack_pack_str_with_body(&w->pk, "format", 6);
	msgpack_pack_str_with_body(&w->pk, MAGIC, strlen(MAGIC));
	msgpack_pack_str_with_body(&w->pk, "version", 7);
	msgpack_pack_int(&w->pk, TRACE_VERSION);
	msgpack_pack_str_with_body(&w->pk, "abi", 3);
	msgpack_pack_int(&w->pk, VG_ABI_VERSION);
	msgpack_pack_str_with_body(&w->pk, "created_ns", 10);
	msgpack_pack_uint64(&w->pk, (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec);
	msgpack_pack_str_with_body(&w->pk, "host", 4);
	msgpack_pack_str_with_body(&w->pk, host, strlen(host));
	return w;
}

int vg_trace_write(struct vg_trace_writer *w, const struct vg_event *ev)
{
	size_t size = ev->rec->size, extra = 0;

	long pos = ftell(w->f);
	unsigned char hdr[5];
	uint32_t bl;

	for (int i = 0; ev->lineage_done && i < ev->n_lineage; i++)
		extra += strlen(ev->lineage[i].exe) + 1;
	/*
	 * nil (0xc0) padding so that the record, after its 5-byte bin32 header,
	 * starts 8-byte aligned in the file: the reader then decodes it in place.
	 */
	while (pos >= 0 && (pos + 5) % 8) {
		msgpack_pack_nil(&w->pk);
		pos++;
	}
	bl = (uint32_t)(size + extra);
	hdr[0] = 0xc6;
	hdr[1] = (unsigned char)(bl >> 24);
	hdr[2] = (unsigned char)(bl >> 16);
	hdr[3] = (unsigned char)(bl >> 8);
	hdr[4] = (unsigned char)bl;
	if (fwrite(hdr, 1, 5, w->f) != 5 || msgpack_pack_bin_body(&w->pk, ev->rec, size))
		return -EIO;
	for (int i = 0; ev->lineage_done && i < ev->n_lineage; i++)
		if (msgpack_pack_bin_body(&w->pk, ev->lineage[i].exe,
					  strlen(ev->lineage[i].exe) + 1))
			return -EIO;
	return ferror(w->f) ? -EIO : 0;
}

int vg_trace_close(struct vg_trace_writer *w)
{
	int rc = 0;

	if (!w)
		return 0;
	if (fflush(w->f) || ferror(w->f))
		rc = -EIO;
	if (fclose(w->f))
		rc = -EIO;
	free(w);
	return rc;
}

static int hdr_err(char *err, size_t n, const char *path, const char *what)
{
	snprintf(err, n, "%s is not a vigil trace: %s (make one with 'vigil record FILE')", path,
		 what);
	return -EBADMSG;
}

static bool keyeq(const msgpack_object *k, const char *s)
{
	return k->via.str.size == strlen(s) && !memcmp(k->via.str.ptr, s, k->via.str.size);
}

/* Checks the header map; returns its length in bytes or -EBADMSG. */
static long check_header(const unsigned char *p, size_t len, const char *path, int64_t *b2w,
			 char *err, size_t n)
{
	msgpack_unpacked u;
	size_t off = 0;
	long rc;
	bool magic = false;
	int64_t version = -1, abi = -1;

	msgpack_unpacked_init(&u);
	if (msgpack_unpack_next(&u, (const char *)p, len, &off) != MSGPACK_UNPACK_SUCCESS ||
	    u.data.type != MSGPACK_OBJECT_MAP) {
		msgpack_unpacked_destroy(&u);
		return hdr_err(err, n, path, "no header at byte offset 0");
	}
	for (uint32_t i = 0; i < u.data.via.map.size; i++) {
		msgpack_object *k = &u.data.via.map.ptr[i].key, *v = &u.data.via.map.ptr[i].val;

		if (k->type != MSGPACK_OBJECT_STR)
			continue;
		if (keyeq(k, "format") && v->type == MSGPACK_OBJECT_STR)
			magic = v->via.str.size == strlen(MAGIC) &&
				!memcmp(v->via.str.ptr, MAGIC, strlen(MAGIC));
		else if (keyeq(k, "version") && v->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
			version = (int64_t)v->via.u64;
		else if (keyeq(k, "abi") && v->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
			abi = (int64_t)v->via.u64;
		else if (keyeq(k, "boot_to_wall_ns") &&
			 (v->type == MSGPACK_OBJECT_POSITIVE_INTEGER ||
			  v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER))
			*b2w = v->via.i64;
	}
	msgpack_unpacked_destroy(&u);
	if (!magic)
		return hdr_err(err, n, path, "the header has no format \"vigil-trace\"");
	if (version != TRACE_VERSION || abi != VG_ABI_VERSION) {
		snprintf(err, n,
			 "%s is a version %lld trace of record ABI %lld; this vigil reads version "
			 "%d, "
			 "ABI %d: record it again with this vigil",
			 path, (long long)version, (long long)abi, TRACE_VERSION, VG_ABI_VERSION);
		return -EBADMSG;
	}
	rc = (long)off;
	return rc;
}

struct vg_trace_reader *vg_trace_open(const char *path, char *err, size_t errlen)
{
	struct vg_trace_reader *r = calloc(1, sizeof(*r));
	struct stat st;
	long h;

	if (!r) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	r->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (r->fd < 0 || fstat(r->fd, &st)) {
		snprintf(err, errlen, "cannot open the trace %s: %s", path, strerror(errno));
		goto fail;
	}
	r->len = (size_t)st.st_size;
	if (!r->len) {
		hdr_err(err, errlen, path, "the file is empty");
		goto fail;
	}
	r->p = mmap(NULL, r->len, PROT_READ, MAP_PRIVATE | MAP_POPULATE, r->fd, 0);
	if (r->p == MAP_FAILED) {
		r->p = NULL;
		snprintf(err, errlen, "cannot map the trace %s: %s", path, strerror(errno));
		goto fail;
	}
	madvise((void *)r->p, r->len, MADV_SEQUENTIAL);
	h = check_header(r->p, r->len, path, &r->boot_to_wall, err, errlen);
	if (h < 0)
		goto fail;
	r->off = (size_t)h;
	return r;
fail:
	vg_trace_close_reader(r);
	return NULL;
}

int vg_trace_next(struct vg_trace_reader *r, struct vg_event *ev, char *err, size_t errlen)
{
	const unsigned char *p = r->p + r->off;
	size_t left = r->len - r->off, hl, bl;
	const struct vg_exec *rec;

	while (left && p[0] == 0xc0) { /* alignment padding */
		p++;
		left--;
		r->off++;
	}
	if (!left)
		return 0;
	/* the hot loop reads msgpack bin headers itself: 1 + 1, 2 or 4 length bytes */
	switch (p[0]) {
	case 0xc4:
		hl = 2;
		break;
	case 0xc5:
		hl = 3;
		break;
	case 0xc6:
		hl = 5;
		break;
	default:
		snprintf(err, errlen,
			 "corrupt trace at byte offset %zu: expected a record (msgpack bin), "
			 "found type byte 0x%02x",
			 r->off, p[0]);
		return -EBADMSG;
	}
	if (left < hl) {
		snprintf(err, errlen,
			 "truncated trace at byte offset %zu: a record header is cut short",
			 r->off);
		return -EBADMSG;
	}
	bl = hl == 2   ? p[1]
	     : hl == 3 ? ((size_t)p[1] << 8 | p[2])
		       : ((size_t)p[1] << 24 | (size_t)p[2] << 16 | (size_t)p[3] << 8 | p[4]);
	if (left - hl < bl) {
		snprintf(err, errlen,
			 "truncated trace at byte offset %zu: the record needs %zu bytes, %zu "
			 "remain",
			 r->off, bl, left - hl);
		return -EBADMSG;
	}
	rec = (const struct vg_exec *)(p + hl);
	if (bl < sizeof(*rec) || ((uintptr_t)rec & 7) != 0) {
		/* records are 8-byte aligned structs: copy an unaligned one (rare) */
		static unsigned char copy[sizeof(struct vg_exec) + VG_DATA_MAX + 4096]
			__attribute__((aligned(8)));

		if (bl > sizeof(copy) || bl < sizeof(*rec)) {
			snprintf(err, errlen,
				 "corrupt record at byte offset %zu: %zu bytes is not an exec "
				 "record",
				 r->off, bl);
			return -EBADMSG;
		}
		memcpy(copy, rec, bl);
		rec = (const struct vg_exec *)copy;
	}
	if (rec->size > bl || vg_event_decode(ev, rec, rec->size, r->boot_to_wall)) {
		snprintf(err, errlen,
			 "corrupt record at byte offset %zu: it does not decode as an "
			 "exec record of ABI %d",
			 r->off, VG_ABI_VERSION);
		return -EBADMSG;
	}
	/* ancestors' exe paths follow the record: named on demand (vg_trace_lineage) */
	ev->lineage_src = (const char *)rec + rec->size;
	ev->lineage_len = bl - rec->size;
	r->off += hl + bl;
	return 1;
}

void vg_trace_lineage(void *ctx, struct vg_event *ev)
{
	const char *lin = ev->lineage_src, *end = lin + ev->lineage_len;
	const struct vg_exec *rec = ev->rec;

	(void)ctx;
	if (ev->lineage_done)
		return;
	ev->n_lineage = 0;
	for (int i = 0; lin && i < rec->n_ancestors && lin < end; i++) {
		size_t n = strnlen(lin, (size_t)(end - lin));
		const char *sl;

		if (n >= VG_EXE_MAX || lin + n == end)
			break;
		memcpy(ev->lineage_buf[i], lin, n + 1);
		sl = strrchr(ev->lineage_buf[i], '/');
		ev->lineage[i].pid = rec->ancestors[i].pid;
		ev->lineage[i].uid = rec->ancestors[i].uid;
		ev->lineage[i].exe = ev->lineage_buf[i];
		ev->lineage[i].name = sl ? sl + 1 : ev->lineage_buf[i];
		ev->n_lineage = i + 1;
		lin += n + 1;
	}
	ev->lineage_done = true;
}

int64_t vg_trace_boot_to_wall(const struct vg_trace_reader *r)
{
	return r->boot_to_wall;
}

uint64_t vg_trace_offset(const struct vg_trace_reader *r)
{
	return r->off;
}

void vg_trace_close_reader(struct vg_trace_reader *r)
{
	if (!r)
		return;
	if (r->p)
		munmap((void *)r->p, r->len);
	if (r->fd >= 0)
		close(r->fd);
	free(r);
}
