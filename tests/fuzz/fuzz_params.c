// SPDX-License-Identifier: BSD-2-Clause
/*
 * libFuzzer: the query string of GET /v1/alerts as the API parses it, raw
 * from the request line: parameters found and percent-decoded, query=
 * parsed, pagination.limit and pagination.offset checked whole and in range.
 * A success must hold what the contract says.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "query.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *qs = malloc(size + 1), err[512];
	struct vg_list_params lp;
	uint64_t v;

	if (!qs)
		return 0;
	memcpy(qs, data, size);
	qs[size] = '\0';
	if (vg_api_parse_list(qs, &lp, err, sizeof(err)) == 0) {
		if (lp.limit < 1 || lp.limit > VG_PAGE_MAX || lp.offset > VG_OFFSET_MAX)
			abort();
		if (lp.q.f.policy &&
		    (!*lp.q.f.policy || strlen(lp.q.f.policy) >= sizeof(lp.q.policy)))
			abort();
	} else if (!memchr(err, '\0', sizeof(err))) {
		abort();
	}
	/* the numeric rule alone, on the whole input */
	if (vg_api_parse_uint("n", qs, 0, VG_OFFSET_MAX, &v, err, sizeof(err)) == 0 &&
	    (v > VG_OFFSET_MAX || strspn(qs, "0123456789") != strlen(qs) || !*qs))
		abort();
	free(qs);
	return 0;
}
