// SPDX-License-Identifier: BSD-2-Clause
/*
 * content.c - content identity in the pipeline (core/ident/). An exec whose
 * executable's content names are not known yet is evaluated at once without
 * them (every other way of naming it applies already), kept as a copy of its
 * record, and evaluated again when the answer comes, for the policies it did
 * not violate the first time. Nothing waits on the loop and nothing is lost:
 * past KEPT_MAX kept execs, an exec is evaluated once without its content
 * names, and counted. A file named by content is given to the kernel (the
 * owner's identified callback), so its next exec is decided at exec.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "pipeline_priv.h"

#define KEPT_MAX 256 /* execs waiting for their content names */

struct kept {
	uint64_t token; /* 0: a free slot */
	uint64_t gen;	/* the policy set that evaluated it first */
	bool *violated; /* per policy of that set */
	char **ids;	/* the ids of those policies, to find them in a reloaded set */
	int nids;
	struct vg_exec *rec; /* a copy of the record */
	int64_t boot_to_wall;
};

struct vg_content {
	struct vg_ident *ident;
	struct kept kept[KEPT_MAX];
	int nkept;
	uint64_t next_token, gen;
	struct vg_event *ev; /* the exec evaluated again: its own, p->ev may be in use */
	bool closing;	     /* vg_pipeline_content_free is running */
};

static bool wanted(void *ctx, const char *lcname)
{
	struct vg_pipeline *p = ctx;

	return vg_engine_name_wanted(p->engine, lcname);
}

/* Whether lcname (any case) is one of the names the kernel's filter map holds. */
static bool kernel_knows(struct vg_pipeline *p, const char *name)
{
	const char **names;
	int n = vg_engine_kernel_names(p->engine, &names);

	for (int i = 0; i < n; i++)
		if (!strncasecmp(names[i], name, VG_COMM_LEN - 1) &&
		    strlen(name) <= VG_COMM_LEN - 1)
			return true;
	return false;
}

/* A file named by content that the kernel did not know: it does from now on. */
static void tell_kernel(struct vg_pipeline *p, const struct vg_event *ev)
{
	const struct vg_exec *r = ev->rec;
	struct vg_ident_key key;

	if (!p->o.identified || !ev->id.n_content || (r->flags & VG_EXEC_IDENT_HIT))
		return;
	/*
	 * Only a file on the container's own root mount (or the host's): a volume or a
	 * bind mount may be shared with other containers or the host, and the names
	 * come from this container's files: one container must not decide what the
	 * kernel kills in another.
	 */
	if (r->flags & VG_EXEC_EXE_OTHER_MNT)
		return;
	for (int i = 0; i < ev->id.n_content; i++) {
		const char *nm = ev->id.content[i];

		if (!strcasecmp(nm, ev->id.exe_name) || !kernel_knows(p, nm))
			continue;
		key = (struct vg_ident_key){.dev = r->exe_dev,
					    .ino = r->exe_ino,
					    .ctime_ns = r->exe_ctime_ns,
					    .size = r->exe_size};
		p->o.identified(p->o.identified_ctx, &key, nm);
		p->st.content_to_kernel++;
		return;
	}
}

static void kept_clear(struct kept *k)
{
	free(k->violated);
	for (int i = 0; i < k->nids; i++)
		free(k->ids[i]);
	free(k->ids);
	free(k->rec);
	memset(k, 0, sizeof(*k));
}

static struct kept *kept_find(struct vg_content *c, uint64_t token)
{
	for (int i = 0; i < KEPT_MAX; i++)
		if (c->kept[i].token == token)
			return &c->kept[i];
	return NULL;
}

/*
 * The policies a kept exec violated already, as indices of the current set: the
 * same set, or a reloaded one where they are found by id (a policy is never
 * reported twice for one exec). NULL when none can be told.
 */
static const bool *skip_of(struct vg_pipeline *p, struct kept *k)
{
	int n = vg_engine_count(p->engine);
	bool *skip;

	if (k->gen == p->content->gen)
		return k->violated;
	skip = calloc((size_t)n + 1, sizeof(bool));
	if (!skip)
		return NULL;
	for (int i = 0; i < k->nids; i++) {
		int pol = vg_engine_find(p->engine, k->ids[i]);

		if (pol >= 0)
			skip[pol] = true;
	}
	free(k->violated); /* the old set's: the new one replaces it */
	k->violated = skip;
	return skip;
}

/* The answer for a kept exec: evaluated again with its content names. */
static void on_done(void *ctx, uint64_t token)
{
	struct vg_pipeline *p = ctx;
	struct vg_content *c = p->content;
	struct kept *k = kept_find(c, token);
	struct vg_event *ev = c->ev;

	if (!k || !token)
		return; /* not kept (the bound): its hash is cached for the next exec */
	if (!c->closing && !vg_event_decode(ev, k->rec, k->rec->size, k->boot_to_wall) &&
	    !vg_ident_fill(c->ident, ev) && ev->id.has_sha256) {
		vg_pipeline_attribute(p, ev);
		tell_kernel(p, ev);
		p->st.content_late_evals++;
		p->gone_pid = vg_pipeline_still_runs(ev)
				      ? 0
				      : ev->rec->pid; /* effects.c: not killed by pid */
		p->st.content_late_violations +=
			(uint64_t)vg_pipeline_evaluate(p, ev, skip_of(p, k));
		p->gone_pid = 0;
	} else if (!c->closing) {
		p->st.content_late_unknown++; /* evaluated once: its content could not be known */
	}
	kept_clear(k);
	c->nkept--;
}

int vg_pipeline_content(struct vg_pipeline *p, struct vg_event *ev, uint64_t *token)
{
	struct vg_content *c = p->content;
	uint64_t t;
	int rc;

	if (!c || !(ev->rec->flags & VG_EXEC_EXE_KNOWN))
		return 0;
	if (!vg_event_in_container(ev) && !vg_engine_any_host(p->engine))
		return 0; /* never the host's files unless a policy looks at the host */
	t = ++c->next_token;
	rc = vg_ident_lookup(c->ident, ev, on_done, p, t);
	if (!rc) {
		tell_kernel(p, ev);
		return 0;
	}
	if (rc != -EINPROGRESS)
		return 0; /* cannot be known: counted by reason (vg_ident_stats) */
	if (c->nkept >= KEPT_MAX) {
		p->st.content_not_kept++;
		return 0;
	}
	ev->id.content_pending = true;
	*token = t;
	return -EINPROGRESS;
}

void vg_pipeline_content_keep(struct vg_pipeline *p, const struct vg_event *ev, uint64_t token,
			      int nhits)
{
	struct vg_content *c = p->content;
	struct kept *k = kept_find(c, 0);

	if (!k) {
		p->st.content_not_kept++;
		return;
	}
	k->rec = malloc(ev->rec->size);
	k->violated = calloc((size_t)vg_engine_count(p->engine) + 1, sizeof(bool));
	if (!k->rec || !k->violated) {
		kept_clear(k);
		p->st.content_not_kept++;
		return;
	}
	memcpy(k->rec, ev->rec, ev->rec->size);
	k->ids = calloc((size_t)nhits + 1, sizeof(*k->ids));
	if (!k->ids) {
		kept_clear(k);
		p->st.content_not_kept++;
		return;
	}
	for (int i = 0; i < nhits; i++) {
		k->violated[p->hits[i].pol] = true;
		k->ids[k->nids] = strdup(vg_engine_policy(p->engine, p->hits[i].pol)->id);
		if (k->ids[k->nids]) /* out of memory: at worst reported again after a reload */
			k->nids++;
	}
	k->gen = c->gen;
	k->boot_to_wall = (int64_t)(ev->time_ns - ev->rec->boot_ns);
	k->token = token;
	c->nkept++;
	p->st.content_kept++;
}

/* The policies' known hashes, for the content module. */
static int set_known(struct vg_pipeline *p)
{
	const uint8_t(*sha)[32];
	const char **names;
	int n = vg_engine_known_hashes(p->engine, &names, &sha);

	return vg_ident_set_known(p->content->ident, names, sha, n);
}

int vg_pipeline_content_setup(struct vg_pipeline *p, char *err, size_t n)
{
	struct vg_ident_opts io = {.base = p->o.base,
				   .cache_entries = p->o.content_cache,
				   .max_file_bytes = p->o.content_max_bytes,
				   .wanted = wanted,
				   .wanted_ctx = p};
	struct vg_content *c = calloc(1, sizeof(*c));
	int rc;

	if (!c || !(c->ev = calloc(1, sizeof(*c->ev)))) {
		free(c);
		return vg_errf(err, n, -ENOMEM, "cannot set up content identity: out of memory");
	}
	p->content = c;
	rc = vg_ident_new(&c->ident, &io, err, n);
	if (!rc && set_known(p))
		rc = vg_errf(err, n, -ENOMEM, "cannot set up content identity: out of memory");
	return rc;
}

void vg_pipeline_content_reload(struct vg_pipeline *p)
{
	struct vg_content *c = p->content;

	if (!c)
		return;
	c->gen++; /* kept execs were evaluated by the old set: evaluated whole again */
	vg_ident_flush_tables(c->ident);
	if (set_known(p))
		vg_warn("content identity: the policies' known hashes were not taken: out of "
			"memory");
}

void vg_pipeline_content_free(struct vg_pipeline *p)
{
	struct vg_content *c = p->content;

	if (!c)
		return;
	c->closing = true; /* the answers vg_ident_free gives now are only cleared */
	vg_ident_free(c->ident);
	for (int i = 0; i < KEPT_MAX; i++)
		kept_clear(&c->kept[i]);
	free(c->ev);
	free(c);
	p->content = NULL;
}

void vg_pipeline_content_stats(const struct vg_pipeline *p, struct vg_pipeline_stats *st)
{
	if (p->content && p->content->ident)
		vg_ident_stats(p->content->ident, &st->ident);
}
