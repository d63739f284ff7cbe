// SPDX-License-Identifier: BSD-2-Clause
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "container.h"

static bool is_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if ((unsigned char)(c - '0') > 9 && (unsigned char)(c - 'a') > 5)
			return false;
	}
	return true;
}

static bool has_prefix(const char *s, size_t n, const char *pfx)
{
	size_t k = strlen(pfx);

	return n >= k && !memcmp(s, pfx, k);
}

static bool has_suffix(const char *s, size_t n, const char *sfx)
{
	size_t k = strlen(sfx);

	return n >= k && !memcmp(s + n - k, sfx, k);
}

/* A pod uid, 8-4-4-4-12 hex, with '-' or (systemd slices) '_' as separator. */
/* A static pod's uid is the kubelet's hash of its manifest: 32 hex digits, no dashes. */
#define STATIC_POD_UID_LEN 32

static bool parse_uid(const char *s, size_t n, char *out)
{
	if (n == STATIC_POD_UID_LEN && is_hex(s, n)) {
		memcpy(out, s, n);
		out[n] = '\0';
		return true;
	}
	if (n != VG_POD_UID_LEN)
		return false;
	for (size_t i = 0; i < n; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;

		if (dash ? (s[i] != '-' && s[i] != '_') : !is_hex(&s[i], 1))
			return false;
		out[i] = dash ? '-' : s[i];
	}
	out[n] = '\0';
	return true;
}

/* "pod<uid>" (cgroupfs) or "kubepods[-<qos>]-pod<uid>.slice" (systemd). */
static bool parse_pod(const char *s, size_t n, char *out)
{
	const char *p;

	if (has_prefix(s, n, "pod"))
		return parse_uid(s + 3, n - 3, out);
	if (!has_prefix(s, n, "kubepods") || !has_suffix(s, n, ".slice"))
		return false;
	p = s + n - strlen(".slice") - VG_POD_UID_LEN;
	if (p - s >= 4 && !memcmp(p - 4, "-pod", 4))
		return parse_uid(p, VG_POD_UID_LEN, out);
	p = s + n - strlen(".slice") - STATIC_POD_UID_LEN;
	if (p - s >= 4 && !memcmp(p - 4, "-pod", 4))
		return parse_uid(p, STATIC_POD_UID_LEN, out);
	return false;
}

/* prefix<id>[suffix]: true when the component is exactly that. */
static bool id_between(const char *s, size_t n, const char *pfx, const char *sfx, char *out)
{
	size_t a = strlen(pfx), b = sfx ? strlen(sfx) : 0;

	if (n != a + VG_CONTAINER_ID_LEN + b || !has_prefix(s, n, pfx))
		return false;
	if (sfx && !has_suffix(s, n, sfx))
		return false;
	if (!is_hex(s + a, VG_CONTAINER_ID_LEN))
		return false;
	memcpy(out, s + a, VG_CONTAINER_ID_LEN);
	out[VG_CONTAINER_ID_LEN] = '\0';
	return true;
}

/* One component; prev is the component above it (for bare ids). */
static const char *parse_ctr(const char *s, size_t n, const char *prev, size_t pn, bool in_pod,
			     char *out)
{
	static const struct {
		const char *pfx, *sfx, *runtime;
	} forms[] = {
		{"cri-containerd-", ".scope", "containerd"},
		{"crio-", ".scope", "cri-o"},
		{"crio-", NULL, "cri-o"},
		{"docker-", ".scope", "docker"},
		{"libpod-", ".scope", "podman"},
		{"libpod-", NULL, "podman"},
	};

	/* every exec of a container parses its path: components of no form's length (pod,
	   slice and QoS levels) leave at once; the longest form is cri-containerd-<id>.scope */
	if (n < VG_CONTAINER_ID_LEN || n > VG_CONTAINER_ID_LEN + 21)
		return NULL;
	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++)
		if (id_between(s, n, forms[i].pfx, forms[i].sfx, out))
			return forms[i].runtime;
	if (!id_between(s, n, "", NULL, out))
		return NULL;
	if (prev && pn == 6 && !memcmp(prev, "docker", 6))
		return "docker";
	return in_pod ? "cri" : "unknown";
}

int vg_container_parse(const char *path, struct vg_container *c)
{
	const char *s, *prev = NULL;
	size_t pn = 0;
	char id[VG_CONTAINER_ID_LEN + 1], uid[VG_POD_UID_LEN + 1];

	if (!path || !c)
		return -EINVAL;
	memset(c, 0, sizeof(*c));
	for (s = path; *s;) {
		const char *runtime;
		size_t n;

		while (*s == '/')
			s++;
		n = strcspn(s, "/");
		if (!n)
			break;
		if (parse_pod(s, n, uid)) {
			if (c->id[0])
				c->nested = true; /* below the container: its own mkdir */
			else
				memcpy(c->pod_uid, uid, sizeof(uid));
		} else if ((runtime = parse_ctr(s, n, prev, pn, c->pod_uid[0], id))) {
			if (c->id[0]) {
				c->nested = true;
			} else {
				memcpy(c->id, id, sizeof(id));
				c->runtime = runtime;
				c->level_len = (size_t)(s + n - path);
			}
		}
		prev = s;
		pn = n;
		s += n;
	}
	c->truncated = !strncmp(path, "...", 3);
	if (c->truncated)
		c->pod_uid[0] = '\0';
	if (!c->id[0])
		return 0;
	memcpy(c->short_id, c->id, VG_CONTAINER_SHORT_LEN);
	c->short_id[VG_CONTAINER_SHORT_LEN] = '\0';
	return 1;
}
