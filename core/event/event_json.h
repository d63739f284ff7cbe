/* SPDX-License-Identifier: BSD-2-Clause */
/* event_json.h - an exec event as a JSON object (jansson). */
#ifndef VG_EVENT_JSON_H
#define VG_EVENT_JSON_H

#include <jansson.h>

#include "event.h"

/* New reference, or NULL on allocation failure. Includes lineage if filled. */
json_t *vg_event_json(struct vg_event *ev);

/* RFC 3339 UTC with nanoseconds into buf (at least 32 bytes). */
void vg_time_rfc3339(uint64_t ns, char *buf, size_t cap);

#endif
