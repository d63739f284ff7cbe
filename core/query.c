// SPDX-License-Identifier: BSD-2-Clause
/* query.c - the alert query syntax of the API and CLI (see query.h). */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "query.h"

int vg_api_parse_query(const char *q, struct vg_query *out, char *err, size_t n)
{
	static const char *const keys[] = { "Policy", "Namespace", "Deployment", "Pod", "State",
					    "Since" };
	char *bufs[] = { out->policy, out->namespace_, out->deployment, out->pod, out->state, NULL };
	const char *p = q;

	memset(out, 0, sizeof(*out));
	out->f.state = -1;
	while (p && *p) {
		const char *end = strchr(p, '+'), *colon;
		size_t len = end ? (size_t)(end - p) : strlen(p), kl;
		int k;

		colon = memchr(p, ':', len);
		if (!colon || colon == p)
			return snprintf(err, n, "bad query term '%.*s': write Key:Value, e.g. "
						"Namespace:default, terms joined by '+'",
					(int)len, p),
			       -EINVAL;
		kl = (size_t)(colon - p);
		for (k = 0; k < 6; k++)
			if (strlen(keys[k]) == kl && !strncasecmp(keys[k], p, kl))
				break;
		if (k == 6)
			return snprintf(err, n, "unknown query key '%.*s' (known: Policy, Namespace, "
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
			char num[32];
			char *e;
			unsigned long long v;

			snprintf(num, sizeof(num), "%.*s", (int)(len - kl - 1), colon + 1);
			v = strtoull(num, &e, 10);
			if (*e || !isdigit((unsigned char)num[0]))
				return snprintf(err, n, "Since takes unix seconds, not '%s'", num),
				       -EINVAL;
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
			return snprintf(err, n, "State is ACTIVE, RESOLVED, ATTEMPTED or ALL, not '%s'",
					out->state),
			       -EINVAL;
	}
	out->f.policy = out->policy[0] ? out->policy : NULL;
	out->f.namespace_ = out->namespace_[0] ? out->namespace_ : NULL;
	out->f.deployment = out->deployment[0] ? out->deployment : NULL;
	out->f.pod = out->pod[0] ? out->pod : NULL;
	return 0;
}

