/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * baseline.bpf.h - locked process baselines in the kernel: per container (its
 * cgroup id), the executables (dev, ino) it may run; anything else in a
 * programmed container is killed at exec, before its first instruction. User
 * space programs the maps (core/daemon/bl_kernel.c) and covers what they do
 * not hold. Part of sensor.bpf.c (one BPF object): included there after
 * enforce(), and called once per exec after it.
 */
#ifndef VIGIL_BASELINE_BPF_H
#define VIGIL_BASELINE_BPF_H

/* Nonzero while bl_ctr has entries: until then an exec pays one load. */
__u32 vg_bl_on = 0;

/* bl_ctr: container cgroup id -> struct vg_bl_ctr. Written by user space, after its allow set. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, VG_BLK_CTR_MAX);
	__type(key, __u64);
	__type(value, struct vg_bl_ctr);
} bl_ctr SEC(".maps");

/* bl_allow: (container cgroup id, dev, ino) of each executable a programmed container may run. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, VG_BLK_ALLOW_MAX);
	__type(key, struct vg_bl_allow_key);
	__type(value, __u8);
} bl_allow SEC(".maps");

/*
 * The baseline's verdict on a container exec the other rules did not kill:
 * a programmed container's executable not in its allow set dies now (a
 * fileless one too, inside the container's own pid namespace: the runtime's
 * memfd re-exec is spared, as in enforce()). Returns the actions to add:
 * VG_ACT_WAKE when it killed, so that user space records it at once.
 */
static __always_inline __u32 bl_enforce(struct scratch *s, struct vg_exec *ev, bool in_ctr,
					bool own_pidns)
{
	struct vg_bl_allow_key k = {};
	struct vg_bl_ctr *c;
	__u32 tgid = ev->pid;

	if (!vg_bl_on || !in_ctr || (ev->flags & VG_EXEC_KILLED))
		return 0;
	k.cgroup_id = ev->cgroup_id;
	c = bpf_map_lookup_elem(&bl_ctr, &k.cgroup_id);
	if (!c || !(c->flags & VG_BL_KILL))
		return 0;
	count(VG_C_BL_CHECKED);
	if (!(s->x.flags & VG_EXEC_EXE_KNOWN))
		return 0; /* nothing to look up: user space decides */
	if (s->x.flags & VG_EXEC_EXE_FILELESS) {
		if (!own_pidns)
			return 0;
	} else {
		k.dev = s->x.key.dev;
		k.ino = s->x.key.ino;
		if (bpf_map_lookup_elem(&bl_allow, &k))
			return 0;
	}
	if (tgid == vg_self_tgid || tgid == 1 || bpf_map_lookup_elem(&exempt, &s->w.leaf_id) ||
	    bpf_map_lookup_elem(&exempt, &s->w.parent_id) || bpf_send_signal(9)) {
		count(VG_C_KILL_SPARED);
		return 0;
	}
	ev->flags |= VG_EXEC_KILLED;
	ev->kill_cause = VG_KILL_BASELINE;
	count(VG_C_KILLED);
	count(VG_C_BL_KILLED);
	return VG_ACT_WAKE;
}

#endif /* VIGIL_BASELINE_BPF_H */
