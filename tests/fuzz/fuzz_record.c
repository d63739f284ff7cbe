// SPDX-License-Identifier: BSD-2-Clause
/*
 * libFuzzer: the two record decoders that read bytes from disk: an exec
 * record from a trace (vg_event_decode and its lazy parts) and a store log
 * record (the alert index's replay), fed the same input.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alerts.h"
#include "event.h"

static struct vg_alerts *store;
static struct vg_event *ev; /* 21 KB: on the heap, made once */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	void *rec = malloc(size ? size : 1);

	if (!store) {
		char dir[] = "/tmp/vigil-fuzz-XXXXXX", err[256];
		struct vg_alerts_opts o = {.dir = dir};
		struct vg_wal_report rep;

		if (!mkdtemp(dir) || vg_alerts_open(&store, &o, NULL, &rep, err, sizeof(err)))
			abort();
	}
	if (!ev)
		ev = calloc(1, sizeof(*ev));
	if (!rec || !ev) {
		free(rec);
		return 0;
	}
	memcpy(rec, data, size); /* aligned, as the trace reader hands records over */
	if (vg_event_decode(ev, rec, size, 0) == 0) {
		vg_event_args(ev);
		vg_event_container(ev);
	}
	free(rec);
	vg_alerts_replay_record(store, data, size);
	return 0;
}
