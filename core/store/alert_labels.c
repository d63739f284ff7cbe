// SPDX-License-Identifier: BSD-2-Clause
/*
 * alert_labels.c - an alert's pod labels: copied from the event's Kubernetes metadata when
 * the alert is made, packed in its "ac" record as "lbl" [key, value, ...] (and "lblx", the
 * count of labels omitted, when there were any), and emitted as the document's "labels".
 *
 * Bad input cannot blow memory: at most VG_ALERT_MAX_LABELS labels are kept, a key or value
 * longer than Kubernetes allows is cut at a UTF-8 boundary and ends in U+2026, and bytes
 * that are not UTF-8 become U+FFFD, so the document always holds them. All of an alert's
 * labels are one allocation of labels_len bytes: "k\0v\0k\0v\0...".
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "alerts_priv.h"

#define CUT_MARK     "\xe2\x80\xa6" /* U+2026, what a cut key or value ends with */
#define CUT_MARK_LEN 3
#define BAD_BYTE     "\xef\xbf\xbd" /* U+FFFD, for each byte that is not UTF-8 */

struct lbl_src {
	const char *p;
	size_t n;
};

/*
 * s (n bytes) as UTF-8 of at most max bytes, cut (and marked) past that, into dst (NULL:
 * only measure). Returns the bytes it takes, without a NUL.
 */
static size_t bounded(char *dst, const char *s, size_t n, size_t max)
{
	size_t out = 0, i = 0, l;
	const char *rep;
	bool cut = false;

	while (i < n) {
		l = vg_utf8_len((const unsigned char *)s + i, n - i);
		rep = s + i;
		i += l;
		if (!l) {
			rep = BAD_BYTE;
			l = 3;
			i++;
		}
		if (out + l > max) {
			cut = true;
			break;
		}
		if (dst)
			memcpy(dst + out, rep, l);
		out += l;
	}
	if (cut && dst)
		memcpy(dst + out, CUT_MARK, CUT_MARK_LEN);
	if (cut)
		out += CUT_MARK_LEN;
	return out;
}

/* A string up to its first NUL (the labels' separator). */
static struct lbl_src src_of(const char *p, size_t n)
{
	const char *nul = memchr(p, '\0', n);
	struct lbl_src s = {p, n};

	if (nul)
		s.n = (size_t)(nul - p);
	return s;
}

/*
 * Sets a's labels to the n pairs kv (key, value, ...), each bounded to kmax / vmax; omitted:
 * how many more there were. 0, or -ENOMEM (a has none then).
 */
static int labels_put(struct vg_alert *a, const struct lbl_src *kv, size_t n, size_t kmax,
		      size_t vmax, size_t omitted)
{
	size_t len = 0, off = 0;

	free(a->labels);
	a->labels = NULL;
	a->nlabels = 0;
	a->labels_len = 0;
	a->labels_omitted = (uint16_t)(omitted > UINT16_MAX ? UINT16_MAX : omitted);
	if (!n)
		return 0;
	for (size_t i = 0; i < 2 * n; i++)
		len += bounded(NULL, kv[i].p, kv[i].n, i % 2 ? vmax : kmax) + 1;
	a->labels = malloc(len);
	if (!a->labels)
		return -ENOMEM;
	for (size_t i = 0; i < 2 * n; i++) {
		off += bounded(a->labels + off, kv[i].p, kv[i].n, i % 2 ? vmax : kmax);
		a->labels[off++] = '\0';
	}
	a->nlabels = (uint16_t)n;
	a->labels_len = (uint32_t)len;
	return 0;
}

int alert_labels_set(struct vg_alert *a, const char *const *kv)
{
	struct lbl_src pairs[2 * VG_ALERT_MAX_LABELS];
	size_t n = 0, omitted = 0;

	for (size_t i = 0; kv && kv[i] && kv[i + 1]; i += 2) {
		if (n == VG_ALERT_MAX_LABELS) {
			omitted++;
			continue;
		}
		pairs[2 * n] = src_of(kv[i], strlen(kv[i]));
		pairs[2 * n + 1] = src_of(kv[i + 1], strlen(kv[i + 1]));
		n++;
	}
	return labels_put(a, pairs, n, VG_ALERT_LABEL_KEY_MAX, VG_ALERT_LABEL_VALUE_MAX, omitted);
}

/* The key of the label after prev's (NULL: the first); its value follows its NUL. */
const char *alert_labels_next(const struct vg_alert *a, const char *prev)
{
	if (!prev)
		return a->labels;
	prev += strlen(prev) + 1; /* its value */
	prev += strlen(prev) + 1;
	if (prev >= a->labels + a->labels_len)
		return NULL;
	return prev;
}

size_t alert_labels_fields(const struct vg_alert *a)
{
	return (a->nlabels > 0) + (a->labels_omitted > 0);
}

bool alert_labels_pack(msgpack_packer *pk, const struct vg_alert *a)
{
	const char *k = NULL;

	if (a->nlabels) {
		if (msgpack_pack_str_with_body(pk, "lbl", 3) ||
		    msgpack_pack_array(pk, 2 * (size_t)a->nlabels))
			return false;
		while ((k = alert_labels_next(a, k))) {
			const char *v = k + strlen(k) + 1;

			if (msgpack_pack_str_with_body(pk, k, strlen(k)) ||
			    msgpack_pack_str_with_body(pk, v, strlen(v)))
				return false;
		}
	}
	return !a->labels_omitted || (!msgpack_pack_str_with_body(pk, "lblx", 4) &&
				      !msgpack_pack_uint16(pk, a->labels_omitted));
}

/*
 * The labels of an "ac" record (lbl, lblx: either NULL when absent, as in a record from
 * before labels). Bounded again, with room for the mark a cut one has: a damaged record
 * cannot blow memory either; entries that are not strings are skipped in pairs.
 */
void alert_labels_replay(struct vg_alert *a, const msgpack_object *lbl, const msgpack_object *lblx)
{
	struct lbl_src pairs[2 * VG_ALERT_MAX_LABELS];
	size_t n = 0, omitted = 0;

	if (lblx && lblx->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
		omitted = lblx->via.u64 > UINT16_MAX ? UINT16_MAX : (size_t)lblx->via.u64;
	for (uint32_t i = 0;
	     lbl && lbl->type == MSGPACK_OBJECT_ARRAY && i + 1 < lbl->via.array.size; i += 2) {
		const msgpack_object *k = &lbl->via.array.ptr[i], *v = k + 1;

		if (k->type != MSGPACK_OBJECT_STR || v->type != MSGPACK_OBJECT_STR)
			continue;
		if (n == VG_ALERT_MAX_LABELS) {
			omitted++;
			continue;
		}
		pairs[2 * n] = src_of(k->via.str.ptr, k->via.str.size);
		pairs[2 * n + 1] = src_of(v->via.str.ptr, v->via.str.size);
		n++;
	}
	(void)labels_put(a, pairs, n, VG_ALERT_LABEL_KEY_MAX + CUT_MARK_LEN,
			 VG_ALERT_LABEL_VALUE_MAX + CUT_MARK_LEN, omitted);
}
