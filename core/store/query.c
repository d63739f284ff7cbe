// SPDX-License-Identifier: BSD-2-Clause
/* query.c - the alert query syntax of the API and CLI (see query.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/http.h>

#include "query.h"

int vg_api_parse_query(const char *q, struct vg_query *out, char *err, size_t n)
{
	static const char *const keys[] = {"Policy", "Namespace", "Deployment",
					   "Pod",    "State",	  "Since"};
	char *bufs[] = {out->policy, out->namespace_, out->deployment, out->pod, out->state, NULL};
	const char *p = q;

	memset(out, 0, sizeof(*out));
	out->f.state = -1;
	while (p && *p) {
		const char *end = strchr(p, '+'), *colon;
		size_t len = end ? (size_t)(end - p) : strlen(p), kl;
		int k;

		colon = memchr(p, ':', len);
		if (!colon || colon == p)
			return snprintf(err, n,
					"bad query term '%.*s': write Key:Value, e.g. "
					"Namespace:default, terms joined by '+'",
					(int)len, p),
			       -EINVAL;
		kl = (size_t)(colon - p);
		for (k = 0; k < 6; k++)
			if (strlen(keys[k]) == kl && !strncasecmp(keys[k], p, kl))
				break;
		if (k == 6)
			return snprintf(err, n,
					"unknown query key '%.*s' (known: Policy, Namespace, "
					"Deployment, Pod, State, Since)",
					(int)kl, p),
			       -EINVAL;
		if (len - kl - 1 == 0 || len - kl - 1 >= sizeof(out->policy))
			return snprintf(err, n, "query key %s needs a value of 1 to %zu characters",
					keys[k], sizeof(out->policy) - 1),
			       -EINVAL;
		if (k < 5) {
			memcpy(bufs[k], colon + 1, len - kl - 1);
			bufs[k][len - kl - 1] = '\0';
		} else {
			char num[256];
			uint64_t v;

			snprintf(num, sizeof(num), "%.*s", (int)(len - kl - 1), colon + 1);
			if (vg_api_parse_uint("Since", num, 0, UINT64_MAX / 1000000000ull, &v, err,
					      n))
				return -EINVAL; /* unix seconds: the product below cannot overflow
						 */
			out->f.since_ns = v * 1000000000ull;
		}
		p = end ? end + 1 : NULL;
	}
	if (out->state[0]) {
		if (!strcasecmp(out->state, "ACTIVE"))
			out->f.state = VG_ALERT_ACTIVE;
		else if (!strcasecmp(out->state, "RESOLVED"))
			out->f.state = VG_ALERT_RESOLVED;
		else if (!strcasecmp(out->state, "ATTEMPTED"))
			out->f.state = VG_ALERT_ATTEMPTED;
		else if (strcasecmp(out->state, "ALL"))
			return snprintf(err, n,
					"State is ACTIVE, RESOLVED, ATTEMPTED or ALL, not '%s'",
					out->state),
			       -EINVAL;
	}
	out->f.policy = out->policy[0] ? out->policy : NULL;
	out->f.namespace_ = out->namespace_[0] ? out->namespace_ : NULL;
	out->f.deployment = out->deployment[0] ? out->deployment : NULL;
	out->f.pod = out->pod[0] ? out->pod : NULL;
	return 0;
}

int vg_api_parse_uint(const char *name, const char *s, uint64_t min, uint64_t max, uint64_t *out,
		      char *err, size_t n)
{
	uint64_t v = 0;
	const char *p = s;

	for (; *p >= '0' && *p <= '9'; p++) {
		if (v > (UINT64_MAX - (uint64_t)(*p - '0')) / 10) {
			v = UINT64_MAX; /* saturate: out of any range below */
			while (p[1] >= '0' && p[1] <= '9')
				p++;
		} else {
			v = v * 10 + (uint64_t)(*p - '0');
		}
	}
	if (p == s || *p || v < min || v > max)
		return snprintf(err, n, "%s takes a whole number from %llu to %llu, not '%.40s'",
				name, (unsigned long long)min, (unsigned long long)max, s),
		       -EINVAL;
	*out = v;
	return 0;
}

int vg_api_param(const char *qs, const char *name, char **out, char *err, size_t n)
{
	size_t nl = strlen(name), dlen;
	char *raw = NULL, *dec;

	*out = NULL;
	for (const char *p = qs; p && *p;) {
		const char *amp = strchr(p, '&');
		size_t len = amp ? (size_t)(amp - p) : strlen(p);

		if (len > nl && !strncmp(p, name, nl) && p[nl] == '=') {
			if (raw) {
				free(raw);
				return snprintf(err, n, "parameter %s is given twice: give it once",
						name),
				       -EINVAL;
			}
			raw = strndup(p + nl + 1, len - nl - 1);
			if (!raw)
				return snprintf(err, n, "out of memory"), -ENOMEM;
		}
		p = amp ? amp + 1 : NULL;
	}
	if (!raw)
		return 0;
	dec = evhttp_uridecode(raw, 0, &dlen);
	free(raw);
	if (!dec)
		return snprintf(err, n, "out of memory"), -ENOMEM;
	for (size_t i = 0; i < dlen; i++) {
		if ((unsigned char)dec[i] < 0x20 || dec[i] == 0x7f) {
			free(dec);
			return snprintf(err, n,
					"parameter %s holds a NUL or control character "
					"(%%00-%%1F, %%7F): remove it",
					name),
			       -EINVAL;
		}
	}
	*out = dec;
	return 1;
}

int vg_api_parse_list(const char *qs, struct vg_list_params *out, char *err, size_t n)
{
	char *q = NULL, *lim = NULL, *off = NULL;
	uint64_t limit = VG_PAGE_DEFAULT, offset = 0;
	int rc;

	if ((rc = vg_api_param(qs, "query", &q, err, n)) < 0 ||
	    (rc = vg_api_param(qs, "pagination.limit", &lim, err, n)) < 0 ||
	    (rc = vg_api_param(qs, "pagination.offset", &off, err, n)) < 0)
		goto out;
	rc = -EINVAL;
	if (vg_api_parse_query(q ? q : "", &out->q, err, n) ||
	    (lim && vg_api_parse_uint("pagination.limit", lim, 1, VG_PAGE_MAX, &limit, err, n)) ||
	    (off && vg_api_parse_uint("pagination.offset", off, 0, VG_OFFSET_MAX, &offset, err, n)))
		goto out;
	out->limit = (size_t)limit;
	out->offset = (size_t)offset;
	rc = 0;
out:
	free(q);
	free(lim);
	free(off);
	return rc;
}
