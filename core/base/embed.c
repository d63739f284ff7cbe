// SPDX-License-Identifier: BSD-2-Clause
#include <string.h>

#include "embed.h"

const struct vg_embedded *vg_embedded_find(const char *path)
{
	for (const struct vg_embedded *f = vg_embedded; f->path; f++)
		if (!strcmp(f->path, path))
			return f;
	return NULL;
}
