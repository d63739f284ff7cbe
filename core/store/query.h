/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * query.h - the alert query syntax (StackRox-like): terms joined by '+', each
 * Key:Value (keys Policy, Namespace, Deployment, Pod, State, Severity, Since in
 * unix seconds) or a free-text word (no colon) that all must hold.
 */
#ifndef VG_QUERY_H
#define VG_QUERY_H

#include <stddef.h>
#include <stdint.h>

#include "alerts.h"

/* A parsed query: f points into the buffers. */
struct vg_query {
	struct vg_alert_filter f;
	char policy[256], namespace_[256], deployment[256], pod[256], state[256], severity[256];
	char text[VG_QUERY_TERMS][256];
};

/* 0, or -EINVAL with the problem named in err. */
int vg_api_parse_query(const char *q, struct vg_query *out, char *err, size_t errlen);

/*
 * A numeric parameter: the whole of s is decimal digits (no sign, space,
 * exponent or suffix) making a number from min to max. 0, or -EINVAL with
 * err naming the parameter and the range.
 */
int vg_api_parse_uint(const char *name, const char *s, uint64_t min, uint64_t max, uint64_t *out,
		      char *err, size_t errlen);

/*
 * The value of parameter name in a raw (percent-encoded) URI query string,
 * decoded ('+' stays '+': it joins query terms). 1 with *out set (caller
 * frees), 0 when absent, or -EINVAL with err naming the problem: the name
 * given twice, or a NUL or control character in the value.
 */
int vg_api_param(const char *qs, const char *name, char **out, char *err, size_t errlen);

#define VG_PAGE_DEFAULT 100
#define VG_PAGE_MAX	1000
#define VG_OFFSET_MAX	2147483647u

/* GET /v1/alerts: the query and the page asked for. */
struct vg_list_params {
	struct vg_query q;
	size_t limit, offset;
	enum vg_alert_sort sort; /* VG_SORT_TIME unless asked */
	bool desc;
};

/*
 * Parses the query string of GET /v1/alerts (raw, may be NULL): query=,
 * pagination.limit= (1 to VG_PAGE_MAX), pagination.offset= (0 to
 * VG_OFFSET_MAX), and the order: sort=FIELD[:asc|:desc], or StackRox's
 * pagination.sortOption.field=FIELD with pagination.sortOption.reversed=true|false
 * (reversed: descending); FIELD is one of vg_alert_sort_name's, any case. Other names are not
 * looked at (the API refuses them before). 0, or -EINVAL with err naming the parameter, its
 * value and what it takes.
 */
int vg_api_parse_list(const char *qs, struct vg_list_params *out, char *err, size_t errlen);

#endif
