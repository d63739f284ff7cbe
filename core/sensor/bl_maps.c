// SPDX-License-Identifier: BSD-2-Clause
/*
 * bl_maps.c - the kernel's copy of locked process baselines (bpf/baseline.bpf.h),
 * written from user space: each programmed container's allowed executables
 * (bl_allow), the container itself (bl_ctr), and the switch that spares every
 * exec the lookup while nothing is programmed (vg_bl_on).
 */
#include <errno.h>

#include <bpf/bpf.h>

#include "sensor_priv.h"

bool vg_sensor_bl_supported(const struct vg_sensor *s)
{
	/* the kernel keys containers by the v2 cgroup id, which v1 hosts do not have per container
	 */
	return !s->skel->rodata->vg_cgroup_v1;
}

int vg_sensor_bl_allow(struct vg_sensor *s, const struct vg_bl_allow_key *k, bool add)
{
	int fd = bpf_map__fd(s->skel->maps.bl_allow);
	__u8 one = 1;

	if (add)
		return bpf_map_update_elem(fd, k, &one, BPF_ANY) ? -errno : 0;
	if (bpf_map_delete_elem(fd, k) && errno != ENOENT)
		return -errno;
	return 0;
}

int vg_sensor_bl_ctr(struct vg_sensor *s, uint64_t cgroup_id, uint32_t flags)
{
	int fd = bpf_map__fd(s->skel->maps.bl_ctr);
	struct vg_bl_ctr v = {.flags = flags};

	if (flags)
		return bpf_map_update_elem(fd, &cgroup_id, &v, BPF_ANY) ? -errno : 0;
	if (bpf_map_delete_elem(fd, &cgroup_id) && errno != ENOENT)
		return -errno;
	return 0;
}

void vg_sensor_bl_on(struct vg_sensor *s, bool on)
{
	__atomic_store_n(&s->skel->bss->vg_bl_on, (__u32)on, __ATOMIC_RELEASE);
}
