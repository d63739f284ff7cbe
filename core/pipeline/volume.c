// SPDX-License-Identifier: BSD-2-Clause
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "volume.h"

#define VOL_SLOTS 16384

/* One slot per (container, comm, args, exe), by two independent hashes. */
struct vol_slot {
	uint64_t h1, h2;
	uint64_t window_start_ns;
	uint32_t count;
};

struct vg_volume {
	uint32_t burst, window_s;
	uint64_t seed[2];
	struct vol_slot slot[VOL_SLOTS];
};

int vg_volume_new(struct vg_volume **out, uint32_t burst, uint32_t window_s)
{
	struct vg_volume *v = calloc(1, sizeof(*v));

	if (!v)
		return -ENOMEM;
	if (getrandom(v->seed, sizeof(v->seed), 0) < 0) {
		int rc = -errno;

		free(v);
		return rc;
	}
	v->burst = burst;
	v->window_s = window_s;
	*out = v;
	return 0;
}

void vg_volume_free(struct vg_volume *v)
{
	free(v);
}

static uint64_t mix(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ull;
	return h;
}

bool vg_volume_drop(struct vg_volume *v, const struct vg_event *ev)
{
	const struct vg_exec *r = ev->rec;
	uint64_t h1 = v->seed[0], h2 = v->seed[1], now = ev->time_ns;
	struct vol_slot *s;

	if (!v->burst)
		return false;
	h1 = mix(h1, r->data + r->cg_off, r->cg_len);
	h1 = mix(h1, r->comm, VG_COMM_LEN);
	h1 = mix(h1, r->data + r->args_off, r->args_len);
	h1 = mix(h1, ev->exe, strlen(ev->exe));
	h2 = mix(h2 ^ h1, r->data + r->args_off, r->args_len);
	h2 = mix(h2, r->data + r->cg_off, r->cg_len);
	s = &v->slot[h1 % VOL_SLOTS];
	if (s->h1 != h1 || s->h2 != h2 ||
	    now - s->window_start_ns > (uint64_t)v->window_s * 1000000000ull) {
		s->h1 = h1;
		s->h2 = h2;
		s->window_start_ns = now;
		s->count = 0;
	}
	return ++s->count > v->burst;
}
