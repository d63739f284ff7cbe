// SPDX-License-Identifier: BSD-2-Clause
/*
 * exe_facts.c - policies on the executable itself: what their exe_fileless and
 * exe_not_in_image criteria ask of the kernel (send, kill: enum vg_exe_policy),
 * and the known_hashes they carry for content identity.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "engine_priv.h"
#include "log.h"
#include "vigil_abi.h"

void engine_known_hashes_free(struct pol *p)
{
	for (int i = 0; i < p->nkh; i++)
		free(p->kh_names[i]);
	free(p->kh_names);
	free(p->kh_sha);
	p->kh_names = NULL;
	p->kh_sha = NULL;
	p->nkh = 0;
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)tolower((unsigned char)c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* 64 hex digits into 32 bytes. 0 or -EINVAL. */
static int parse_sha256(const char *hex, size_t len, uint8_t out[32])
{
	if (len != 64)
		return -EINVAL;
	for (int i = 0; i < 32; i++) {
		int hi = hex_digit(hex[2 * i]), lo = hex_digit(hex[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -EINVAL;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

/* One more (name, hash) pair of p. 0 or -errno with err. */
static int add_known(struct pol *p, const char *name, const char *hex, size_t len, char *err,
		     size_t n)
{
	char **names = realloc(p->kh_names, (size_t)(p->nkh + 1) * sizeof(*names));
	uint8_t(*sha)[32];

	if (!names)
		return vg_errf(err, n, -ENOMEM, "out of memory");
	p->kh_names = names;
	sha = realloc(p->kh_sha, (size_t)(p->nkh + 1) * sizeof(*sha));
	if (!sha)
		return vg_errf(err, n, -ENOMEM, "out of memory");
	p->kh_sha = sha;
	if (parse_sha256(hex, len, sha[p->nkh])) /* the DSL checked it: a bug if it fails */
		return vg_errf(err, n, -EINVAL, "known_hashes.%s: '%s' is not a SHA-256", name,
			       hex);
	names[p->nkh] = strdup(name);
	if (!names[p->nkh])
		return vg_errf(err, n, -ENOMEM, "out of memory");
	for (char *c = names[p->nkh]; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	p->nkh++;
	return 0;
}

/* The entry { name = ..., hashes = { ... } } on top of the stack (left there) into p. */
static int compile_entry(struct pol *p, lua_State *L, char *err, size_t n)
{
	const char *name;
	int nh, rc = 0;

	lua_getfield(L, -1, "name");
	name = lua_tostring(L, -1); /* a string: the DSL checked it */
	(void)lua_getfield(L, -2, "hashes");
	nh = (int)lua_rawlen(L, -1);
	for (int i = 0; i < nh && !rc && name; i++) {
		size_t len = 0;
		const char *hex;

		lua_rawgeti(L, -1, i + 1);
		hex = lua_tolstring(L, -1, &len);
		rc = add_known(p, name, hex ? hex : "", hex ? len : 0, err, n);
		lua_pop(L, 1);
	}
	lua_pop(L, 2);
	return rc;
}

int engine_compile_known_hashes(struct pol *p, lua_State *L, int t, char *err, size_t n)
{
	int ne, rc = 0;

	lua_getfield(L, t, "known_hashes");
	ne = lua_istable(L, -1) ? (int)lua_rawlen(L, -1) : 0;
	for (int i = 0; i < ne && !rc; i++) {
		lua_rawgeti(L, -1, i + 1);
		rc = compile_entry(p, L, err, n);
		lua_pop(L, 1);
	}
	lua_pop(L, 1);
	return rc;
}

int engine_known_hashes_room(struct vg_engine *e)
{
	size_t total = 0;

	for (int i = 0; i < e->npol; i++)
		total += (size_t)e->pol[i].nkh;
	e->kh_names = calloc(total + 1, sizeof(*e->kh_names));
	e->kh_sha = calloc(total + 1, sizeof(*e->kh_sha));
	if (!e->kh_names || !e->kh_sha)
		return -ENOMEM;
	return 0;
}

int vg_engine_known_hashes(const struct vg_engine *e, const char ***names,
			   const uint8_t (**sha)[32])
{
	int n = 0;

	for (int i = 0; i < e->npol; i++) {
		const struct pol *p = &e->pol[i];

		if (!p->info.enabled || p->info.broken)
			continue;
		for (int k = 0; k < p->nkh; k++, n++) {
			e->kh_names[n] = p->kh_names[k];
			memcpy(e->kh_sha[n], p->kh_sha[k], 32);
		}
	}
	*names = e->kh_names;
	*sha = (const uint8_t(*)[32])e->kh_sha;
	return n;
}

/* -------------------------------------------------------------------------- */
/* what the kernel may decide alone                                            */

bool engine_exe_fact_only(const struct vg_engine *e, int pi)
{
	return vg_matcher_fact_only(e->m, pi, VG_CRIT_FILELESS) ||
	       vg_matcher_fact_only(e->m, pi, VG_CRIT_NOT_IN_IMAGE);
}

/* The bits policy pi asks for on the fact kind: send, kill, kill on the host. */
static uint32_t fact_bits(const struct vg_engine *e, int pi, enum vg_crit_kind kind,
			  const uint32_t bits[3])
{
	const struct pol *p = &e->pol[pi];
	uint32_t out;

	if (!vg_matcher_needs_fact(e->m, pi, kind))
		return 0;
	out = bits[0];
	if (p->info.mode == VG_ENFORCE_INFORM || !vg_engine_kernel_decidable(e, pi) ||
	    !vg_matcher_fact_only(e->m, pi, kind))
		return out;
	out |= bits[1];
	if (p->info.host)
		out |= bits[2];
	return out;
}

uint32_t vg_engine_kernel_exe_policy(const struct vg_engine *e)
{
	static const uint32_t fileless[3] = {VG_EXE_SEND_FILELESS, VG_EXE_KILL_FILELESS,
					     VG_EXE_KILL_FILELESS_HOST};
	static const uint32_t drift[3] = {VG_EXE_SEND_DRIFT, VG_EXE_KILL_DRIFT,
					  0}; /* the host has no image */
	uint32_t bits = 0;

	for (int i = 0; i < e->npol; i++) {
		if (!e->pol[i].info.enabled || e->pol[i].info.broken)
			continue;
		bits |= fact_bits(e, i, VG_CRIT_FILELESS, fileless);
		bits |= fact_bits(e, i, VG_CRIT_NOT_IN_IMAGE, drift);
	}
	return bits;
}

bool vg_engine_uses_baseline(const struct vg_engine *e, int pi)
{
	return pi >= 0 && pi < e->npol && vg_matcher_needs_fact(e->m, pi, VG_CRIT_UNEXPECTED);
}

bool vg_engine_decided_in_kernel(const struct vg_engine *e, int pi, const struct vg_event *ev)
{
	const struct vg_exe_ident *id = &ev->id;

	if (ev->rec->flags & VG_EXEC_KILLED)
		return true;
	if (pi < 0 || pi >= e->npol)
		return false;
	if (id->fileless && id->fileless_by == VG_DECIDED_KERNEL &&
	    vg_matcher_needs_fact(e->m, pi, VG_CRIT_FILELESS))
		return true;
	return id->not_in_image && id->not_in_image_by == VG_DECIDED_KERNEL &&
	       vg_matcher_needs_fact(e->m, pi, VG_CRIT_NOT_IN_IMAGE);
}

bool vg_engine_kernel_baselines(const struct vg_engine *e)
{
	for (int i = 0; i < e->npol; i++) {
		const struct pol *p = &e->pol[i];

		if (!p->info.enabled || p->info.broken || p->info.mode == VG_ENFORCE_INFORM)
			continue;
		if (p->info.has_check || p->nexcl || p->has_scope)
			continue; /* user space has more to decide than the kernel's copy */
		if (vg_matcher_fact_only(e->m, i, VG_CRIT_UNEXPECTED))
			return true;
	}
	return false;
}
