// SPDX-License-Identifier: BSD-2-Clause
/* libFuzzer: the alert query parser (API ?query= and bulk resolve). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "query.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *q = malloc(size + 1), err[512];
	struct vg_query out;

	if (!q)
		return 0;
	memcpy(q, data, size);
	q[size] = '\0';
	if (vg_api_parse_query(q, &out, err, sizeof(err)) == 0 && out.f.policy)
		(void)strlen(out.f.policy);
	free(q);
	return 0;
}
