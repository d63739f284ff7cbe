// SPDX-License-Identifier: BSD-2-Clause
/* trace.c - exec traces written by `vigil record`, read by replay (core/event/TRACE.md). */
#include <errno.h>
#include <stddef.h>
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

#include "log.h"
#include "trace.h"

#define MAGIC	      "vigil-trace"
#define TRACE_VERSION 2 /* 2: records of ABI 2 (the mapped executable); 1 is still read */
/* An ABI 1 record is an ABI 2 one without the executable's fields before data[]. */
#define V1_HEAD offsetof(struct vg_exec, exe_ino)
_Static_assert(V1_HEAD == 352, "the ABI 1 header is 352 bytes");
/* the largest record an unaligned copy takes: a struct vg_exec, its data, its lineage */
#define COPY_MAX (sizeof(struct vg_exec) + VG_DATA_MAX + 4096)

struct vg_trace_writer {
	FILE *f;
	msgpack_packer pk;
};

struct vg_trace_reader {
	const unsigned char *p;
	size_t len, off;
	int fd;
	int64_t boot_to_wall;
	int64_t abi;	     /* the records' ABI: VG_ABI_VERSION, or 1 (upgraded as read) */
	size_t grown;	     /* bytes an upgrade adds to each record (0 for this ABI) */
	unsigned char *copy; /* COPY_MAX bytes: an unaligned or upgraded record, copied */
};

/* A string key or value; 0 or -EIO. */
static int pack_str(msgpack_packer *pk, const char *s)
{
	size_t n = strlen(s);

	if (msgpack_pack_str(pk, n) || msgpack_pack_str_body(pk, s, n))
		return -EIO;
	return 0;
}

/* The header map (TRACE.md); 0 or -EIO. */
static int pack_header(msgpack_packer *pk, int64_t boot_to_wall)
{
	struct timespec ts;
	char host[256] = "";
	int bad = 0;

	(void)clock_gettime(CLOCK_REALTIME, &ts); /* a fixed clock: cannot fail */
	if (gethostname(host, sizeof(host) - 1))
		host[0] = '\0'; /* the host is informative only */
	bad |= msgpack_pack_map(pk, 6);
	bad |= pack_str(pk, "boot_to_wall_ns") || msgpack_pack_int64(pk, boot_to_wall);
	bad |= pack_str(pk, "format") || pack_str(pk, MAGIC);
	bad |= pack_str(pk, "version") || msgpack_pack_int(pk, TRACE_VERSION);
	bad |= pack_str(pk, "abi") || msgpack_pack_int(pk, VG_ABI_VERSION);
	bad |= pack_str(pk, "created_ns") ||
	       msgpack_pack_uint64(pk, (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec);
	bad |= pack_str(pk, "host") || pack_str(pk, host);
	return bad ? -EIO : 0;
}

struct vg_trace_writer *vg_trace_create(const char *path, int64_t boot_to_wall)
{
	struct vg_trace_writer *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	w->f = fopen(path, "wb");
	if (!w->f) {
		free(w);
		return NULL;
	}
	msgpack_packer_init(&w->pk, w->f, msgpack_fbuffer_write);
	if (pack_header(&w->pk, boot_to_wall)) {
		(void)fclose(w->f); /* the trace is unusable either way */
		free(w);
		errno = EIO;
		return NULL;
	}
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
	for (; pos >= 0 && (pos + 5) % 8; pos++)
		if (msgpack_pack_nil(&w->pk))
			return -EIO;
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
	return vg_errf(err, n, -EBADMSG,
		       "%s is not a vigil trace: %s (make one with 'vigil record FILE')", path,
		       what);
}

static bool keyeq(const msgpack_object *k, const char *s)
{
	return k->via.str.size == strlen(s) && !memcmp(k->via.str.ptr, s, k->via.str.size);
}

static bool is_int(const msgpack_object *v)
{
	return v->type == MSGPACK_OBJECT_POSITIVE_INTEGER ||
	       v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER;
}

/* What the header map says (check_header). */
struct header {
	bool magic;
	int64_t version, abi, boot_to_wall;
};

static void read_header_map(const msgpack_object_map *map, struct header *h)
{
	for (uint32_t i = 0; i < map->size; i++) {
		const msgpack_object *k = &map->ptr[i].key, *v = &map->ptr[i].val;

		if (k->type != MSGPACK_OBJECT_STR)
			continue;
		if (keyeq(k, "format") && v->type == MSGPACK_OBJECT_STR)
			h->magic = v->via.str.size == strlen(MAGIC) &&
				   !memcmp(v->via.str.ptr, MAGIC, strlen(MAGIC));
		else if (keyeq(k, "version") && v->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
			h->version = (int64_t)v->via.u64;
		else if (keyeq(k, "abi") && v->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
			h->abi = (int64_t)v->via.u64;
		else if (keyeq(k, "boot_to_wall_ns") && is_int(v))
			h->boot_to_wall = v->via.i64;
	}
}

/* Checks the header map; returns its length in bytes or -EBADMSG. */
static long check_header(struct vg_trace_reader *r, const char *path, char *err, size_t n)
{
	struct header h = {.version = -1, .abi = -1, .boot_to_wall = r->boot_to_wall};
	msgpack_unpacked u;
	size_t off = 0;
	bool is_map;

	msgpack_unpacked_init(&u);
	is_map = msgpack_unpack_next(&u, (const char *)r->p, r->len, &off) ==
			 MSGPACK_UNPACK_SUCCESS &&
		 u.data.type == MSGPACK_OBJECT_MAP;
	if (is_map)
		read_header_map(&u.data.via.map, &h);
	msgpack_unpacked_destroy(&u);
	if (!is_map)
		return hdr_err(err, n, path, "no header at byte offset 0");
	r->boot_to_wall = h.boot_to_wall;
	r->abi = h.abi;
	r->grown = h.abi == 1 ? sizeof(struct vg_exec) - V1_HEAD : 0;
	if (!h.magic)
		return hdr_err(err, n, path, "the header has no format \"vigil-trace\"");
	if ((h.version != TRACE_VERSION || h.abi != VG_ABI_VERSION) &&
	    (h.version != 1 || h.abi != 1))
		return vg_errf(err, n, -EBADMSG,
			       "%s is a version %lld trace of record ABI %lld; this vigil reads "
			       "version %d, ABI %d: record it again with this vigil",
			       path, (long long)h.version, (long long)h.abi, TRACE_VERSION,
			       VG_ABI_VERSION);
	return (long)off;
}

/* Maps the file and checks its header; 0 or -errno with err set. */
static int reader_map(struct vg_trace_reader *r, const char *path, char *err, size_t errlen)
{
	struct stat st;
	long h;

	r->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (r->fd < 0 || fstat(r->fd, &st))
		return vg_errf(err, errlen, -errno, "cannot open the trace %s: %s", path,
			       strerror(errno));
	r->len = (size_t)st.st_size;
	if (!r->len)
		return hdr_err(err, errlen, path, "the file is empty");
	r->p = mmap(NULL, r->len, PROT_READ, MAP_PRIVATE | MAP_POPULATE, r->fd, 0);
	if (r->p == MAP_FAILED) {
		r->p = NULL;
		return vg_errf(err, errlen, -errno, "cannot map the trace %s: %s", path,
			       strerror(errno));
	}
	(void)madvise((void *)r->p, r->len, MADV_SEQUENTIAL); /* a hint: reading works without */
	h = check_header(r, path, err, errlen);
	if (h < 0)
		return (int)h;
	r->off = (size_t)h;
	return 0;
}

struct vg_trace_reader *vg_trace_open(const char *path, char *err, size_t errlen)
{
	struct vg_trace_reader *r = calloc(1, sizeof(*r));
	int rc;

	if (r)
		r->fd = -1;
	if (!r || !(r->copy = malloc(COPY_MAX)))
		rc = vg_errf(err, errlen, -ENOMEM, "out of memory");
	else
		rc = reader_map(r, path, err, errlen);
	if (!rc)
		return r;
	vg_trace_close_reader(r);
	errno = -rc;
	return NULL;
}

/* Why the byte at the reader's offset does not start a record (-EBADMSG). */
static int bad_header(const struct vg_trace_reader *r, unsigned char type, char *err, size_t errlen)
{
	if (type == 0xc4 || type == 0xc5 || type == 0xc6)
		return vg_errf(err, errlen, -EBADMSG,
			       "truncated trace at byte offset %zu: a record header is cut short",
			       r->off);
	return vg_errf(err, errlen, -EBADMSG,
		       "corrupt trace at byte offset %zu: expected a record (msgpack "
		       "bin), found type byte 0x%02x",
		       r->off, type);
}

/*
 * The msgpack bin header at p (the hot loop reads it itself): its length hl
 * (1 + 1, 2 or 4 length bytes) and the payload's bl. 0 or -EBADMSG.
 */
static inline __attribute__((always_inline)) int bin_header(const struct vg_trace_reader *r,
							    const unsigned char *p, size_t left,
							    size_t *hl, size_t *bl, char *err,
							    size_t errlen)
{
	/* lengths read per case: this runs once a record, on the replay's hot loop */
	if (p[0] == 0xc4 && left >= 2) {
		*hl = 2;
		*bl = p[1];
	} else if (p[0] == 0xc5 && left >= 3) {
		*hl = 3;
		*bl = (size_t)p[1] << 8 | p[2];
	} else if (p[0] == 0xc6 && left >= 5) {
		*hl = 5;
		*bl = (size_t)p[1] << 24 | (size_t)p[2] << 16 | (size_t)p[3] << 8 | p[4];
	} else {
		return bad_header(r, p[0], err, errlen);
	}
	if (left - *hl < *bl)
		return vg_errf(err, errlen, -EBADMSG,
			       "truncated trace at byte offset %zu: the record needs %zu bytes, "
			       "%zu remain",
			       r->off, *bl, left - *hl);
	return 0;
}

/* The record at p, in place when it is aligned, else copied; NULL with err set. */
static inline __attribute__((always_inline)) const struct vg_exec *
record_at(struct vg_trace_reader *r, const unsigned char *p, size_t bl, char *err, size_t errlen)
{
	const struct vg_exec *rec = (const struct vg_exec *)p;

	if (bl >= sizeof(*rec) && ((uintptr_t)rec & 7) == 0)
		return rec;
	/* records are 8-byte aligned structs: copy an unaligned one (rare) */
	if (bl > COPY_MAX || bl < sizeof(*rec)) {
		(void)vg_errf(err, errlen, -EBADMSG,
			      "corrupt record at byte offset %zu: %zu bytes is not an exec record",
			      r->off, bl);
		return NULL;
	}
	memcpy(r->copy, rec, bl);
	return (const struct vg_exec *)r->copy;
}

/*
 * An ABI 1 record (a version 1 trace) as ABI 2: the executable's fields are
 * inserted, zero (unknown), before data[]; its lineage follows as before.
 */
static const struct vg_exec *upgrade_v1(struct vg_trace_reader *r, const unsigned char *p,
					size_t *bl, char *err, size_t errlen)
{
	const size_t grow = sizeof(struct vg_exec) - V1_HEAD;
	struct vg_exec *rec = (struct vg_exec *)r->copy;
	uint32_t size;

	if (*bl < V1_HEAD || *bl + grow > COPY_MAX)
		goto bad;
	memcpy(&size, p + offsetof(struct vg_exec, size), sizeof(size));
	if (size < V1_HEAD || size > *bl)
		goto bad;
	memcpy(r->copy, p, V1_HEAD);
	memset(r->copy + V1_HEAD, 0, grow);
	memcpy(r->copy + sizeof(struct vg_exec), p + V1_HEAD, *bl - V1_HEAD);
	rec->abi = VG_ABI_VERSION;
	rec->size = size + (uint32_t)grow;
	rec->flags &= ~(uint32_t)(VG_EXEC_EXE_KNOWN | VG_EXEC_EXE_FILELESS | VG_EXEC_EXE_UPPER |
				  VG_EXEC_EXE_OTHER_MNT | VG_EXEC_IN_CONTAINER);
	*bl += grow;
	return rec;
bad:
	(void)vg_errf(err, errlen, -EBADMSG,
		      "corrupt record at byte offset %zu: %zu bytes is not an ABI 1 exec record",
		      r->off, *bl);
	return NULL;
}

int vg_trace_next(struct vg_trace_reader *r, struct vg_event *ev, char *err, size_t errlen)
{
	const unsigned char *p = r->p + r->off;
	size_t left = r->len - r->off, hl = 0, bl = 0;
	const struct vg_exec *rec;
	int rc;

	if (left >= 8) { /* alignment padding: up to 7 nil bytes, counted in one word */
		uint64_t w;
		size_t pad;

		memcpy(&w, p, 8);
		w ^= 0xc0c0c0c0c0c0c0c0ull; /* a padding byte becomes 0 */
		pad = w ? (size_t)__builtin_ctzll(w) / 8 : 8;
		p += pad;
		left -= pad;
		r->off += pad;
	}
	while (left && p[0] == 0xc0) { /* longer padding, or the file's last bytes */
		p++;
		left--;
		r->off++;
	}
	if (!left)
		return 0;
	rc = bin_header(r, p, left, &hl, &bl, err, errlen);
	if (rc)
		return rc;
	if (r->abi == 1)
		rec = upgrade_v1(r, p + hl, &bl, err, errlen);
	else
		rec = record_at(r, p + hl, bl, err, errlen);
	if (!rec)
		return -EBADMSG;
	if (rec->size > bl || vg_event_decode(ev, rec, rec->size, r->boot_to_wall))
		return vg_errf(err, errlen, -EBADMSG,
			       "corrupt record at byte offset %zu: it does not decode as an exec "
			       "record of ABI %d",
			       r->off, VG_ABI_VERSION);
	/* ancestors' exe paths follow the record: named on demand (vg_trace_lineage) */
	ev->lineage_src = (const char *)rec + rec->size;
	ev->lineage_len = bl - rec->size;
	r->off += hl + bl - r->grown;
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
		(void)munmap((void *)r->p, r->len); /* fails only for a bad range: ours is not */
	if (r->fd >= 0)
		(void)close(r->fd); /* read-only: nothing to lose */
	free(r->copy);
	free(r);
}
