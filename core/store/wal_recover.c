// SPDX-License-Identifier: BSD-2-Clause
/*
 * wal_recover.c - reading the log back at open (wal.h says what recovery
 * promises): segments listed and checked for gaps, frames replayed past
 * damage, a torn tail kept aside and cut, the writer's segment chosen; the
 * second read-only pass (vg_wal_scan) and the report for the operator.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crc32c.h"
#include "log.h"
#include "wal_priv.h"

static bool frame_ok(const unsigned char *p, size_t size, size_t off, size_t *flen)
{
	uint32_t len;

	if (off + FRAME_HDR > size || wal_get32(p + off) != FRAME_MAGIC)
		return false;
	len = wal_get32(p + off + 4);
	if (len > VG_WAL_MAX_RECORD || off + FRAME_HDR + len > size)
		return false;
	if (vg_crc32c(0, p + off + FRAME_HDR, len) != wal_get32(p + off + 8))
		return false;
	*flen = FRAME_HDR + len;
	return true;
}

/* The offset of the first good frame at or after off, or size when there is none. */
static size_t next_frame(const unsigned char *p, size_t size, size_t off)
{
	size_t flen;

	while (off + FRAME_HDR <= size) {
		const unsigned char *m = memmem(p + off, size - off, "VLGR", 4);

		if (!m)
			break;
		off = (size_t)(m - p);
		if (frame_ok(p, size, off, &flen))
			return off;
		off++;
	}
	return size;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

enum { HDR_NONE, HDR_V1, HDR_V2, HDR_BAD };

struct seg_hdr {
	int kind;	    /* HDR_NONE: empty, or cut before its header was durable */
	uint32_t seq, base; /* HDR_V2: its own number, and the log's first segment then */
	size_t len;	    /* where its frames start (0 when damaged: found by scanning) */
};

static void hdr_parse(const unsigned char *p, size_t size, struct seg_hdr *h)
{
	memset(h, 0, sizeof(*h));
	if (!size) {
		h->kind = HDR_NONE;
	} else if (size >= SEG_HDR_V1_LEN && !memcmp(p, SEG_HDR_V1, SEG_HDR_V1_LEN)) {
		h->kind = HDR_V1;
		h->len = SEG_HDR_V1_LEN;
	} else if (size >= SEG_HDR_LEN && !memcmp(p, SEG_MAGIC, 8) &&
		   wal_get32(p + 16) == vg_crc32c(0, p, 16) &&
		   wal_get32(p + 12) <= wal_get32(p + 8)) {
		h->kind = HDR_V2;
		h->seq = wal_get32(p + 8);
		h->base = wal_get32(p + 12);
		h->len = SEG_HDR_LEN;
	} else if (size < SEG_HDR_LEN && !memcmp(p, SEG_MAGIC, size < 8 ? size : 8)) {
		h->kind = HDR_NONE;
	} else {
		h->kind = HDR_BAD;
	}
}

/* Reads the header of segment no. 0 or -errno. */
static int seg_peek(struct vg_wal *w, uint32_t no, struct seg_hdr *h)
{
	unsigned char b[SEG_HDR_LEN];
	char name[64];
	ssize_t n;
	int fd, e;

	wal_seg_name(name, sizeof(name), no);
	fd = openat(w->dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	n = pread(fd, b, sizeof(b), 0);
	e = errno;
	close(fd);
	if (n < 0)
		return -e;
	hdr_parse(b, (size_t)n, h);
	return 0;
}

static void note_skip(struct vg_wal_report *rep, const char *name, size_t off, size_t n,
		      const char *what)
{
	if (!rep->skipped_regions)
		snprintf(rep->first_skip, sizeof(rep->first_skip),
			 "%s: %zu %s at offset %zu skipped", name, n, what, off);
	rep->skipped_regions++;
	rep->skipped_bytes += n;
}

/* Keeps n bytes cut from segment name at off in <name>.<off>.damaged, durable. 0 or -errno. */
static int keep_damaged(struct vg_wal *w, const char *name, const unsigned char *p, size_t off,
			size_t n, char *kept, size_t keptn)
{
	int fd, rc;

	snprintf(kept, keptn, "%s.%zu.damaged", name, off);
	fd = openat(w->dirfd, kept, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	rc = wal_write_all(fd, p + off, n);
	if (!rc && fdatasync(fd))
		rc = -errno;
	close(fd);
	if (!rc && fsync(w->dirfd))
		rc = -errno;
	return rc;
}

static int cut(struct vg_wal *w, const char *name, size_t len)
{
	int fd = openat(w->dirfd, name, O_WRONLY | O_CLOEXEC | O_NOFOLLOW), rc = 0;

	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)len) || fdatasync(fd))
		rc = -errno;
	close(fd);
	return rc;
}

/* What replaying one segment found. */
struct seg_res {
	struct seg_hdr h;
	uint64_t end;	 /* its length afterwards */
	bool appendable; /* the writer may go on in it: a good header, no damage left at its end */
};

/*
 * Damage at the end of a segment: in the last one (repair) a torn tail, cut
 * once its bytes are kept aside; anywhere else, or when they cannot be kept,
 * left in place and reported. Returns the segment's length afterwards.
 */
static size_t settle_tail(struct vg_wal *w, const char *name, const unsigned char *p, size_t size,
			  size_t good_end, bool repair, struct vg_wal_report *rep)
{
	char kept[128];

	if (!repair) {
		note_skip(rep, name, good_end, size - good_end,
			  "damaged bytes at the end (not the last segment: left in place)");
		return size;
	}
	if (keep_damaged(w, name, p, good_end, size - good_end, kept, sizeof(kept)) ||
	    cut(w, name, good_end)) {
		note_skip(rep, name, good_end, size - good_end,
			  "damaged bytes at the end (they could not be kept aside: left in place)");
		return size;
	}
	if (!rep->truncated) {
		rep->truncated = true;
		rep->truncated_at = good_end;
		snprintf(rep->truncated_file, sizeof(rep->truncated_file), "%s", name);
		snprintf(rep->damaged_file, sizeof(rep->damaged_file), "%s", kept);
	}
	rep->truncated_bytes += size - good_end;
	return good_end;
}

/* Maps segment name read-only: *p (NULL when empty) and its *size. 0 or -errno. */
static int map_seg(struct vg_wal *w, const char *name, unsigned char **p, size_t *size)
{
	struct stat st;
	int fd = openat(w->dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	*p = NULL;
	*size = 0;
	if (fd < 0 || fstat(fd, &st)) {
		int e = errno;

		if (fd >= 0)
			(void)close(fd); /* read-only */
		return -e;
	}
	*size = (size_t)st.st_size;
	if (*size) {
		*p = mmap(NULL, *size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (*p == MAP_FAILED) {
			int e = errno;

			*p = NULL;
			(void)close(fd); /* read-only */
			return -e;
		}
	}
	(void)close(fd); /* read-only; the mapping stays */
	return 0;
}

/*
 * Replays one segment, resynchronising past damage: a frame that fails its
 * checks (or a damaged header) loses only the bytes up to the next good frame.
 */
static int replay_seg(struct vg_wal *w, uint32_t no, bool repair, vg_wal_replay_cb cb, void *ctx,
		      struct vg_wal_report *rep, struct seg_res *res)
{
	char name[64];
	unsigned char *p;
	size_t size, off, flen, good_end;
	int rc;

	memset(res, 0, sizeof(*res));
	wal_seg_name(name, sizeof(name), no);
	rc = map_seg(w, name, &p, &size);
	if (rc)
		return rc;
	hdr_parse(p, size, &res->h);
	if (res->h.kind == HDR_NONE) {
		if (p)
			munmap(p, size);
		return 0;
	}
	rep->segments++;
	off = good_end = res->h.len;
	while (off < size) {
		size_t next;

		if (frame_ok(p, size, off, &flen)) {
			cb(ctx, p + off + FRAME_HDR, flen - FRAME_HDR);
			rep->records++;
			rep->bytes += flen;
			off += flen;
			good_end = off;
			continue;
		}
		next = next_frame(p, size, off + 1);
		if (next == size)
			break; /* nothing good after it */
		note_skip(rep, name, off, next - off,
			  off ? "corrupt bytes" : "corrupt bytes (a damaged segment header)");
		off = next;
	}
	res->end = good_end < size ? settle_tail(w, name, p, size, good_end, repair, rep) : size;
	res->appendable = res->h.kind != HDR_BAD && res->end == good_end;
	munmap(p, size);
	return 0;
}

/* The segment numbers in the directory, sorted. 0 or -errno. */
int wal_list_segs(struct vg_wal *w, uint32_t **out, size_t *nout)
{
	int fd = dup(w->dirfd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	uint32_t *nos = NULL;
	size_t nn = 0;
	struct dirent *de;

	*out = NULL;
	*nout = 0;
	if (!d) {
		int e = errno;

		if (fd >= 0)
			close(fd);
		return -e;
	}
	rewinddir(d); /* a dup shares the directory offset with dirfd: a second listing starts at
			 the end */
	while ((de = readdir(d))) {
		const char *s = de->d_name;
		uint32_t *n;

		/* exactly seg-NNNNNNNN.log: not seg-NNNNNNNN.log.<offset>.damaged */
		if (strlen(s) != 16 || strncmp(s, "seg-", 4) || strcmp(s + 12, ".log") ||
		    strspn(s + 4, "0123456789") != 8)
			continue;
		n = realloc(nos, (nn + 1) * sizeof(*nos));
		if (!n) {
			closedir(d);
			free(nos);
			return -ENOMEM;
		}
		nos = n;
		nos[nn++] = (uint32_t)strtoul(s + 4, NULL, 10);
	}
	closedir(d);
	if (nn)
		qsort(nos, nn, sizeof(*nos), cmp_u32);
	*out = nos;
	*nout = nn;
	return 0;
}

/*
 * The log's first segment: the newest base a good header names (compaction
 * writes its own number there), else (a store older than those headers) the
 * lowest number there is.
 */
static uint32_t find_base(const uint32_t *nos, const struct seg_hdr *h, size_t nn)
{
	uint32_t base = 0;

	for (size_t i = 0; i < nn; i++)
		if (h[i].kind == HDR_V2 && h[i].seq == nos[i] && h[i].base > base)
			base = h[i].base;
	return base ? base : nn ? nos[0] : 1;
}

static void add_range(char *buf, size_t n, uint32_t from, uint32_t to)
{
	size_t l = strlen(buf);

	if (l + 24 >= n) {
		if (l + 4 < n && !strstr(buf, "..."))
			snprintf(buf + l, n - l, ", ...");
		return;
	}
	if (from == to)
		snprintf(buf + l, n - l, "%s%u", l ? ", " : "", from);
	else
		snprintf(buf + l, n - l, "%s%u-%u", l ? ", " : "", from, to);
}

/*
 * Checks the run of segments from base: a number missing is a segment lost
 * (compaction only ever removes numbers below base), a header naming another
 * number a file renamed. Segments below base are an interrupted compaction's
 * leftovers: removed once the compacted segment is there and sound.
 */
static void check_run(struct vg_wal *w, const uint32_t *nos, const struct seg_hdr *h, size_t nn,
		      struct vg_wal_report *rep)
{
	uint32_t expect = w->base;
	bool compacted = false;

	for (size_t i = 0; i < nn; i++)
		if (nos[i] == w->base && h[i].kind == HDR_V2 && h[i].seq == w->base &&
		    h[i].base == w->base)
			compacted = true;
	for (size_t i = 0; i < nn; i++) {
		char name[64];

		wal_seg_name(name, sizeof(name), nos[i]);
		if (nos[i] < w->base) {
			if (compacted && !unlinkat(w->dirfd, name, 0))
				rep->stale_removed++;
			else
				rep->stale_kept++;
			continue;
		}
		if (nos[i] > expect) {
			rep->missing_segments += nos[i] - expect;
			add_range(rep->missing, sizeof(rep->missing), expect, nos[i] - 1);
		}
		expect = nos[i] + 1;
		if (h[i].kind == HDR_V2 && h[i].seq != nos[i] && !rep->misnamed++)
			snprintf(rep->first_misnamed, sizeof(rep->first_misnamed),
				 "%s holds segment %u", name, h[i].seq);
	}
	if (rep->stale_removed)
		fsync(w->dirfd);
}

int vg_wal_scan(struct vg_wal *w, vg_wal_replay_cb cb, void *ctx)
{
	struct vg_wal_report rep = {0};
	struct seg_res res;
	uint32_t *nos;
	size_t nn;
	int rc = wal_list_segs(w, &nos, &nn);

	for (size_t i = 0; !rc && i < nn; i++)
		if (nos[i] >= w->base)
			rc = replay_seg(w, nos[i], false, cb, ctx, &rep, &res);
	free(nos);
	return rc;
}

/* Replays every segment from base, the last one's torn tail cut; opens the writer's segment. */
static int replay_all(struct vg_wal *w, const uint32_t *nos, size_t nn, vg_wal_replay_cb cb,
		      void *ctx, struct vg_wal_report *rep, char *err, size_t errlen)
{
	struct seg_res res = {.h.kind = HDR_NONE};
	uint32_t last = w->base;
	char name[64];

	for (size_t i = 0; i < nn; i++) {
		int rc;

		if (nos[i] < w->base)
			continue;
		rc = replay_seg(w, nos[i], i == nn - 1, cb, ctx, rep, &res);
		if (rc)
			return vg_errf(err, errlen, rc, "cannot read store segment %u in %s: %s",
				       nos[i], w->dir, strerror(-rc));
		last = nos[i];
		w->st.bytes_on_disk += res.end;
	}
	w->seg_no = last;
	w->seg_size = res.end;
	if (res.h.kind == HDR_NONE || !res.end) {
		/* none yet, or an empty one: (re)made with its header */
		w->fd = wal_seg_create(w, last);
		w->seg_size = SEG_HDR_LEN;
	} else if (!res.appendable) {
		w->fd = wal_seg_create(w, ++w->seg_no); /* never write after damage */
		w->seg_size = SEG_HDR_LEN;
	} else {
		wal_seg_name(name, sizeof(name), last);
		w->fd = openat(w->dirfd, name, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
		if (w->fd < 0)
			w->fd = -errno;
	}
	if (w->fd < 0) {
		int rc = w->fd;

		w->fd = -1;
		return vg_errf(err, errlen, rc,
			       "cannot open the store's segment for writing in %s: %s", w->dir,
			       strerror(-rc));
	}
	return 0;
}

int wal_recover(struct vg_wal *w, vg_wal_replay_cb cb, void *ctx, struct vg_wal_report *rep,
		char *err, size_t errlen)
{
	struct seg_hdr *hdrs = NULL;
	uint32_t *nos = NULL;
	size_t nn = 0;
	int rc = wal_list_segs(w, &nos, &nn);

	if (!rc) {
		hdrs = calloc(nn + 1, sizeof(*hdrs));
		if (!hdrs)
			rc = -ENOMEM;
	}
	for (size_t i = 0; !rc && i < nn; i++)
		rc = seg_peek(w, nos[i], &hdrs[i]);
	if (rc) {
		rc = vg_errf(err, errlen, rc, "cannot open the store directory %s: %s", w->dir,
			     strerror(-rc));
	} else {
		w->base = find_base(nos, hdrs, nn);
		check_run(w, nos, hdrs, nn, rep);
		rc = replay_all(w, nos, nn, cb, ctx, rep, err, errlen);
	}
	free(nos);
	free(hdrs);
	return rc;
}

void vg_wal_report_log(const struct vg_wal_report *rep, const char *dir)
{
	if (rep->missing_segments)
		vg_err("%s: segment(s) %s missing (%llu): the records they held are lost; "
		       "restore them from a backup, or keep going without them "
		       "(vigil_store_missing_segments)",
		       dir, rep->missing, (unsigned long long)rep->missing_segments);
	if (rep->misnamed)
		vg_err("%s: %llu segment(s) under another segment's name (renamed?); first: %s",
		       dir, (unsigned long long)rep->misnamed, rep->first_misnamed);
	if (rep->stale_kept)
		vg_err("%s: %llu segment(s) older than the log's first one are left in place and "
		       "not read",
		       dir, (unsigned long long)rep->stale_kept);
	if (rep->stale_removed)
		vg_info("%s: removed %llu segment(s) an interrupted compaction left behind", dir,
			(unsigned long long)rep->stale_removed);
	if (rep->truncated)
		vg_warn("%s: %s had a torn tail: truncated to the last good record at offset %llu; "
			"the %llu bytes cut are kept in %s",
			dir, rep->truncated_file, (unsigned long long)rep->truncated_at,
			(unsigned long long)rep->truncated_bytes, rep->damaged_file);
	if (rep->skipped_regions)
		vg_warn("%s: %llu damaged region(s) skipped (%llu bytes, their records lost); "
			"first: %s",
			dir, (unsigned long long)rep->skipped_regions,
			(unsigned long long)rep->skipped_bytes, rep->first_skip);
}
