/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * query.h - the alert query syntax (StackRox-like): Key:Value terms joined by
 * '+', keys Policy, Namespace, Deployment, Pod, State, Since (unix seconds).
 */
#ifndef VG_QUERY_H
#define VG_QUERY_H

#include <stddef.h>

#include "alerts.h"

/* A parsed query: f points into the buffers. */
struct vg_query {
	struct vg_alert_filter f;
	char policy[256], namespace_[256], deployment[256], pod[256], state[256];
};

/* 0, or -EINVAL with the problem named in err. */
int vg_api_parse_query(const char *q, struct vg_query *out, char *err, size_t errlen);

#endif
