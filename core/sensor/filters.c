// SPDX-License-Identifier: BSD-2-Clause
/*
 * filters.c - the kernel's decision maps, written from user space: which comms
 * are sent and woken for (filter), which (comm, euid) pairs are killed at exec
 * (kill_uid), which cgroups are never killed (exempt), the filter mode, what
 * happens to execs by where their executable lives (vg_exe_policy), and the
 * files identified by content (ident).
 */
#include <ctype.h>
#include <errno.h>
#include <string.h>

#include <bpf/bpf.h>

#include "sensor_priv.h"

/* Copies name into a map key's comm, lowercased (the kernel matches caselessly). */
static void comm_key(char *comm, size_t cap, const char *name)
{
	for (size_t i = 0; i < cap - 1 && name[i]; i++)
		comm[i] = (char)tolower((unsigned char)name[i]);
}

/* Deletes every key of a small map; stops at the first key it cannot delete. */
static void map_clear(int fd, void *key)
{
	while (bpf_map_get_next_key(fd, NULL, key) == 0)
		if (bpf_map_delete_elem(fd, key))
			break;
}

int vg_sensor_filter_set(struct vg_sensor *s, const char *comm, uint32_t action)
{
	struct vg_filter_key k = {};

	if (!comm || !*comm)
		return -EINVAL;
	comm_key(k.comm, sizeof(k.comm), comm);
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
	struct vg_filter_key k;
	int rc;

	/* send everything while the map is rewritten, so no candidate is lost */
	vg_sensor_filter_mode(s, VG_FILTER_ALL);
	map_clear(bpf_map__fd(s->skel->maps.filter), &k);
	for (int i = 0; i < n; i++) {
		uint32_t action = VG_ACT_SEND | VG_ACT_WAKE;

		if (extra)
			action |= extra[i];
		rc = vg_sensor_filter_set(s, names[i], action);
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

	map_clear(fd, &k); /* small: clear, then fill */
	for (int i = 0; i < n; i++) {
		memset(&k, 0, sizeof(k));
		comm_key(k.comm, sizeof(k.comm), names[name_idx[i]]);
		k.uid = uids[i];
		if (bpf_map_update_elem(fd, &k, &one, BPF_ANY))
			return -errno;
	}
	return 0;
}

static bool listed(const uint64_t *ids, int n, uint64_t id)
{
	for (int i = 0; i < n; i++)
		if (ids[i] == id)
			return true;
	return false;
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
			if (!listed(ids, n, k) && !bpf_map_delete_elem(fd, &k)) {
				again = 1; /* the iteration restarts after a delete */
				break;
			}
		} while (!bpf_map_get_next_key(fd, &k, &k));
	}
	return 0;
}

void vg_sensor_exe_policy(struct vg_sensor *s, uint32_t bits)
{
	uint32_t keep =
		__atomic_load_n(&s->skel->bss->vg_exe_policy, __ATOMIC_ACQUIRE) & VG_EXE_IDENT;

	__atomic_store_n(&s->skel->bss->vg_exe_policy, (bits & ~(uint32_t)VG_EXE_IDENT) | keep,
			 __ATOMIC_RELEASE);
}

int vg_sensor_ident_add(struct vg_sensor *s, const struct vg_ident_key *key, const char *name)
{
	struct vg_filter_key v = {};

	if (!name || !*name)
		return -EINVAL;
	comm_key(v.comm, sizeof(v.comm), name);
	if (bpf_map__update_elem(s->skel->maps.ident, key, sizeof(*key), &v, sizeof(v), 0))
		return -errno;
	__atomic_or_fetch(&s->skel->bss->vg_exe_policy, (uint32_t)VG_EXE_IDENT, __ATOMIC_RELEASE);
	return 0;
}

void vg_sensor_ident_clear(struct vg_sensor *s)
{
	struct vg_ident_key k;

	__atomic_and_fetch(&s->skel->bss->vg_exe_policy, ~(uint32_t)VG_EXE_IDENT, __ATOMIC_RELEASE);
	map_clear(bpf_map__fd(s->skel->maps.ident), &k);
}

void vg_sensor_filter_mode(struct vg_sensor *s, enum vg_filter_mode mode)
{
	__atomic_store_n(&s->skel->bss->vg_filter_mode, (__u32)mode, __ATOMIC_RELEASE);
}
