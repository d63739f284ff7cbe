// SPDX-License-Identifier: BSD-2-Clause
/* query.c - the alert query syntax of the API and CLI (see query.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/http.h>

#include "log.h"
#include "query.h"

static const char *const query_keys[] = {"Policy", "Namespace", "Deployment", "Pod",
					 "State",  "Severity",	"Since"};
#define N_QUERY_KEYS  7
#define QUERY_SINCE   6 /* the one key whose value is a number */
#define QUERY_VAL_MAX sizeof(((struct vg_query *)0)->policy)

/* The index of the key named by p[0..len) (any case), or -ENOENT. */
static int query_key(const char *p, size_t len)
{
	for (int k = 0; k < N_QUERY_KEYS; k++)
		if (strlen(query_keys[k]) == len && !strncasecmp(query_keys[k], p, len))
			return k;
	return -ENOENT;
}

/* A free-text term (no colon), p[0..len), into out. 0 or -EINVAL. */
static int query_text(const char *p, size_t len, struct vg_query *out, char *err, size_t n)
{
	if (out->f.ntext >= VG_QUERY_TERMS)
		return vg_errf(
			err, n, -EINVAL,
			"too many free-text terms (at most %d): drop '%.*s' or use Key:Value "
			"terms",
			VG_QUERY_TERMS, (int)len, p);
	if (len >= QUERY_VAL_MAX)
		return vg_errf(err, n, -EINVAL, "a free-text term takes 1 to %zu characters",
			       QUERY_VAL_MAX - 1);
	memcpy(out->text[out->f.ntext], p, len);
	out->text[out->f.ntext][len] = '\0';
	out->f.text[out->f.ntext] = out->text[out->f.ntext];
	out->f.ntext++;
	return 0;
}

/* One term, p[0..len): Key:Value or free text, into out. 0 or -EINVAL with err. */
static int query_term(const char *p, size_t len, struct vg_query *out, char *err, size_t n)
{
	char *bufs[] = {out->policy, out->namespace_, out->deployment,
			out->pod,    out->state,      out->severity};
	const char *colon = memchr(p, ':', len);
	size_t kl, vl;
	uint64_t since;
	char num[QUERY_VAL_MAX];
	int k;

	if (len && !colon)
		return query_text(p, len, out, err, n);
	if (!colon || colon == p)
		return vg_errf(err, n, -EINVAL,
			       "bad query term '%.*s': write Key:Value, e.g. Namespace:default, or "
			       "a word to search for; terms joined by '+'",
			       (int)len, p);
	kl = (size_t)(colon - p);
	vl = len - kl - 1;
	k = query_key(p, kl);
	if (k < 0)
		return vg_errf(err, n, -EINVAL,
			       "unknown query key '%.*s' (known: Policy, Namespace, Deployment, "
			       "Pod, State, Severity, Since; a term without ':' is free text)",
			       (int)kl, p);
	if (vl == 0 || vl >= QUERY_VAL_MAX)
		return vg_errf(err, n, -EINVAL, "query key %s needs a value of 1 to %zu characters",
			       query_keys[k], QUERY_VAL_MAX - 1);
	if (k != QUERY_SINCE) {
		memcpy(bufs[k], colon + 1, vl);
		bufs[k][vl] = '\0';
		return 0;
	}
	snprintf(num, sizeof(num), "%.*s", (int)vl, colon + 1);
	/* unix seconds, bounded so that the product below cannot overflow */
	if (vg_api_parse_uint("Since", num, 0, UINT64_MAX / 1000000000ull, &since, err, n))
		return -EINVAL;
	out->f.since_ns = since * 1000000000ull;
	return 0;
}

/* State: ACTIVE, RESOLVED, ATTEMPTED or ALL (any case). */
static int query_state(struct vg_query *out, char *err, size_t n)
{
	if (!out->state[0] || !strcasecmp(out->state, "ALL"))
		return 0;
	if (!strcasecmp(out->state, "ACTIVE"))
		out->f.state = VG_ALERT_ACTIVE;
	else if (!strcasecmp(out->state, "RESOLVED"))
		out->f.state = VG_ALERT_RESOLVED;
	else if (!strcasecmp(out->state, "ATTEMPTED"))
		out->f.state = VG_ALERT_ATTEMPTED;
	else
		return vg_errf(err, n, -EINVAL,
			       "State is ACTIVE, RESOLVED, ATTEMPTED or ALL, not '%s'", out->state);
	return 0;
}

/* Severity: low, medium, high or critical (any case), kept lower case. */
static int query_severity(struct vg_query *out, char *err, size_t n)
{
	static const char *const names[] = {"low", "medium", "high", "critical"};

	if (!out->severity[0])
		return 0;
	for (int i = 0; i < 4; i++) {
		if (!strcasecmp(out->severity, names[i])) {
			strcpy(out->severity, names[i]);
			out->f.severity = out->severity;
			return 0;
		}
	}
	return vg_errf(err, n, -EINVAL, "Severity is low, medium, high or critical, not '%s'",
		       out->severity);
}

static const char *or_null(const char *s)
{
	if (s[0])
		return s;
	return NULL;
}

int vg_api_parse_query(const char *q, struct vg_query *out, char *err, size_t n)
{
	const char *p = q;
	int rc;

	memset(out, 0, sizeof(*out));
	out->f.state = -1;
	while (p && *p) {
		const char *end = strchr(p, '+');
		size_t len = end ? (size_t)(end - p) : strlen(p);

		rc = query_term(p, len, out, err, n);
		if (rc)
			return rc;
		p = end ? end + 1 : NULL;
	}
	rc = query_state(out, err, n);
	if (!rc)
		rc = query_severity(out, err, n);
	if (rc)
		return rc;
	out->f.policy = or_null(out->policy);
	out->f.namespace_ = or_null(out->namespace_);
	out->f.deployment = or_null(out->deployment);
	out->f.pod = or_null(out->pod);
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
		return vg_errf(err, n, -EINVAL,
			       "%s takes a whole number from %llu to %llu, not '%.40s'", name,
			       (unsigned long long)min, (unsigned long long)max, s);
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
				return vg_errf(err, n, -EINVAL,
					       "parameter %s is given twice: give it once", name);
			}
			raw = strndup(p + nl + 1, len - nl - 1);
			if (!raw)
				return vg_errf(err, n, -ENOMEM, "out of memory");
		}
		p = amp ? amp + 1 : NULL;
	}
	if (!raw)
		return 0;
	dec = evhttp_uridecode(raw, 0, &dlen);
	free(raw);
	if (!dec)
		return vg_errf(err, n, -ENOMEM, "out of memory");
	for (size_t i = 0; i < dlen; i++) {
		if ((unsigned char)dec[i] < 0x20 || dec[i] == 0x7f) {
			free(dec);
			return vg_errf(err, n, -EINVAL,
				       "parameter %s holds a NUL or control character "
				       "(%%00-%%1F, %%7F): remove it",
				       name);
		}
	}
	*out = dec;
	return 1;
}

/* The field names, for an error: "time, severity, ... or enforcement". */
static void sort_fields(char *buf, size_t n)
{
	size_t used = 0;

	buf[0] = '\0';
	for (int k = 0; k < VG_SORT_N && used < n; k++)
		used += (size_t)snprintf(buf + used, n - used, "%s%s",
					 k == 0		      ? ""
					 : k == VG_SORT_N - 1 ? " or "
							      : ", ",
					 vg_alert_sort_name((enum vg_alert_sort)k));
}

/* A sort field, len bytes at v (any case), into out; 0 or -EINVAL naming the fields. */
static int sort_field(const char *param, const char *v, size_t len, struct vg_list_params *out,
		      char *err, size_t n)
{
	char names[160];

	for (int k = 0; k < VG_SORT_N; k++) {
		const char *name = vg_alert_sort_name((enum vg_alert_sort)k);

		if (strlen(name) == len && !strncasecmp(name, v, len)) {
			out->sort = (enum vg_alert_sort)k;
			out->desc = vg_alert_sort_desc_default(out->sort);
			return 0;
		}
	}
	sort_fields(names, sizeof(names));
	return vg_errf(err, n, -EINVAL, "%s: no field '%.*s' to sort by: give one of %s", param,
		       (int)(len > 40 ? 40 : len), v, names);
}

/* sort=FIELD[:asc|:desc] */
static int sort_short(const char *v, struct vg_list_params *out, char *err, size_t n)
{
	const char *colon = strchr(v, ':');
	int rc = sort_field("sort", v, colon ? (size_t)(colon - v) : strlen(v), out, err, n);

	if (rc || !colon)
		return rc;
	if (!strcasecmp(colon + 1, "asc") || !strcasecmp(colon + 1, "desc")) {
		out->desc = !strcasecmp(colon + 1, "desc");
		return 0;
	}
	return vg_errf(err, n, -EINVAL,
		       "sort: the direction after ':' is asc or desc, not '%.20s' "
		       "(sort=severity:desc)",
		       colon + 1);
}

/* sort=, or pagination.sortOption.field= and .reversed= (StackRox's); not both. */
static int parse_sort(const char *qs, struct vg_list_params *out, char *err, size_t n)
{
	char *s = NULL, *field = NULL, *rev = NULL;
	int rc;

	out->sort = VG_SORT_TIME;
	out->desc = true;
	if ((rc = vg_api_param(qs, "sort", &s, err, n)) < 0 ||
	    (rc = vg_api_param(qs, "pagination.sortOption.field", &field, err, n)) < 0 ||
	    (rc = vg_api_param(qs, "pagination.sortOption.reversed", &rev, err, n)) < 0)
		goto out;
	rc = 0;
	if (s && (field || rev))
		rc = vg_errf(err, n, -EINVAL,
			     "give sort=FIELD[:asc|:desc] or pagination.sortOption.field (and "
			     ".reversed), not both");
	else if (rev && !field)
		rc = vg_errf(err, n, -EINVAL,
			     "pagination.sortOption.reversed needs pagination.sortOption.field");
	else if (s)
		rc = sort_short(s, out, err, n);
	else if (field && !(rc = sort_field("pagination.sortOption.field", field, strlen(field),
					    out, err, n))) {
		out->desc = rev && !strcmp(rev, "true");
		if (rev && strcmp(rev, "true") && strcmp(rev, "false"))
			rc = vg_errf(err, n, -EINVAL,
				     "pagination.sortOption.reversed is true or false, not '%.20s'",
				     rev);
	}
out:
	free(s);
	free(field);
	free(rev);
	return rc;
}

int vg_api_parse_list(const char *qs, struct vg_list_params *out, char *err, size_t n)
{
	char *q = NULL, *lim = NULL, *off = NULL;
	uint64_t limit = VG_PAGE_DEFAULT, offset = 0;
	char qerr[384];
	int rc;

	if ((rc = vg_api_param(qs, "query", &q, err, n)) < 0 ||
	    (rc = vg_api_param(qs, "pagination.limit", &lim, err, n)) < 0 ||
	    (rc = vg_api_param(qs, "pagination.offset", &off, err, n)) < 0)
		goto out;
	rc = -EINVAL;
	if (vg_api_parse_query(q ? q : "", &out->q, qerr, sizeof(qerr))) {
		(void)vg_errf(err, n, -EINVAL, "parameter query: %s", qerr); /* rc is set */
		goto out;
	}
	if ((lim && vg_api_parse_uint("pagination.limit", lim, 1, VG_PAGE_MAX, &limit, err, n)) ||
	    (off && vg_api_parse_uint("pagination.offset", off, 0, VG_OFFSET_MAX, &offset, err, n)))
		goto out;
	out->limit = (size_t)limit;
	out->offset = (size_t)offset;
	rc = parse_sort(qs, out, err, n);
out:
	free(q);
	free(lim);
	free(off);
	return rc;
}
