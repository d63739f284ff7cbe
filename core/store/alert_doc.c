// SPDX-License-Identifier: BSD-2-Clause
/*
 * alert_doc.c - the alert as StackRox documents it: the list form or the
 * full one with every kept process, written to an emitter (emit.h; Lua
 * tables for the notifiers) or built as a jansson tree (the API, the CLI).
 */
#include <stdio.h>
#include <string.h>

#include "alerts_priv.h"
#include "event_json.h"

const char *vg_alert_state_name(enum vg_alert_state st)
{
	switch (st) {
	case VG_ALERT_RESOLVED:
		return "RESOLVED";
	case VG_ALERT_ATTEMPTED:
		return "ATTEMPTED";
	case VG_ALERT_ACTIVE:
		break;
	}
	return "ACTIVE";
}

void vg_alert_message(const struct vg_alert *a, char *buf, size_t n)
{
	const struct vg_proc_rec *p;

	if (!a->nprocs) {
		snprintf(buf, n, "Policy '%s' violated", a->policy_name);
		return;
	}
	p = alert_proc_at(a, 0);
	if (p->baseline_path) { /* StackRox's words for an exec its locked baseline lacks */
		const char *ctr = a->container_name;
		const char *note = "";

		if (!ctr)
			ctr = a->container_id ? a->container_id : "";
		if (p->baseline_replaced)
			note = " (the path is in the baseline; the file there was replaced since "
			       "the baseline was programmed into the kernel)";
		snprintf(buf, n, "Unexpected process '%s' in container '%s'%s", p->baseline_path,
			 ctr, note);
		return;
	}
	snprintf(buf, n, "Binary '%s' executed with arguments '%s' under user ID %u", p->exe,
		 p->args ? p->args : "", p->uid);
}

/* s, or NULL (JSON null) when it is empty */
static const char *or_null(const char *s)
{
	if (s && *s)
		return s;
	return NULL;
}

static const char *or_empty(const char *s)
{
	if (s)
		return s;
	return "";
}

/* A string member, made UTF-8 if it is not (args and paths are whatever bytes the process had). */
static void emit_str(const struct vg_emit *w, void *c, const char *key, const char *s)
{
	char buf[16384];

	w->str(c, key, vg_utf8_or_lossy(s, buf, sizeof(buf)));
}

static void emit_time(const struct vg_emit *w, void *c, const char *key, uint64_t ns)
{
	char ts[40];

	vg_time_rfc3339(ns, ts, sizeof(ts));
	emit_str(w, c, key, ts);
}

static void emit_lineage(const struct vg_emit *w, void *c, const struct vg_proc_rec *p)
{
	w->open(c, "lineage", true, p->nlineage);
	for (int i = 0; i < p->nlineage; i++) {
		w->open(c, NULL, false, 3);
		w->num(c, "parentPid", p->lineage[i].pid);
		w->num(c, "parentUid", p->lineage[i].uid);
		emit_str(w, c, "parentExecFilePath", or_empty(p->lineage[i].exe));
		w->close(c);
	}
	w->close(c);
}

/* How the policy's name matched and what the executable is: 8 members. */
static void emit_ident(const struct vg_emit *w, void *c, const struct vg_proc_rec *p)
{
	emit_str(w, c, "matchedBy", vg_way_name(p->matched_by));
	emit_str(w, c, "matchedName", or_null(p->matched_name ? p->matched_name : p->comm));
	emit_str(w, c, "exeName", or_null(p->exe_name));
	emit_str(w, c, "exeSha256", or_null(p->exe_sha256));
	w->boolean(c, "exeFileless", p->exe_fileless);
	w->boolean(c, "exeNotInImage", p->exe_not_in_image);
	emit_str(w, c, "decidedIn", p->decided_in_kernel ? "kernel" : "userspace");
	w->boolean(c, "baselineFileReplaced", p->baseline_replaced);
}

static void emit_proc(const struct vg_emit *w, void *c, const struct vg_proc_rec *p)
{
	int nmembers = 17 + 8;

	if (p->error)
		nmembers++;
	w->open(c, NULL, false, nmembers);
	emit_time(w, c, "time", p->time_ns);
	emit_str(w, c, "containerId", or_null(p->container_id));
	emit_str(w, c, "podUid", or_null(p->pod_uid));
	emit_str(w, c, "podId", or_null(p->pod));
	emit_str(w, c, "namespace", or_null(p->namespace_));
	emit_str(w, c, "name", or_null(p->comm));
	emit_str(w, c, "args", or_empty(p->args));
	emit_str(w, c, "execFilePath", or_null(p->exe));
	emit_str(w, c, "cwd", or_null(p->cwd));
	emit_str(w, c, "attributionWarning", or_null(p->attribution));
	w->num(c, "pid", p->pid);
	w->num(c, "ppid", p->ppid);
	w->num(c, "uid", p->uid);
	w->num(c, "gid", p->gid);
	w->num(c, "euid", p->euid);
	emit_lineage(w, c, p);
	w->boolean(c, "killedInKernel", p->killed_in_kernel);
	emit_ident(w, c, p);
	if (p->error) /* the check() failed: not a decision of the policy */
		emit_str(w, c, "evaluationError", p->error);
	w->close(c);
}

static void emit_policy(const struct vg_emit *w, void *c, const struct vg_alert *a)
{
	w->open(c, "policy", false, 3);
	emit_str(w, c, "id", or_empty(a->policy_id));
	emit_str(w, c, "name", or_empty(a->policy_name));
	emit_str(w, c, "severity", or_empty(a->severity));
	w->close(c);
}

/* namespace, deployment, pod, podUid, containerId, containerName, image */
static void emit_where(const struct vg_emit *w, void *c, const struct vg_alert *a)
{
	emit_str(w, c, "namespace", or_null(a->namespace_));
	if (or_null(a->deployment)) {
		w->open(c, "deployment", false, 1);
		emit_str(w, c, "name", a->deployment);
		w->close(c);
	} else {
		emit_str(w, c, "deployment", NULL);
	}
	emit_str(w, c, "pod", or_null(a->pod));
	emit_str(w, c, "podUid", or_null(a->pod_uid));
	emit_str(w, c, "containerId", or_null(a->container_id));
	if (a->container_name)
		emit_str(w, c, "containerName", a->container_name);
	if (a->image)
		emit_str(w, c, "image", a->image);
}

/* "labels": {"key": "value", ...} ({} when none), and "labelsOmitted" when some were. */
static void emit_labels(const struct vg_emit *w, void *c, const struct vg_alert *a)
{
	const char *k = NULL;

	w->open(c, "labels", false, a->nlabels);
	while ((k = alert_labels_next(a, k)))
		emit_str(w, c, k, k + strlen(k) + 1);
	w->close(c);
	if (a->labels_omitted)
		w->num(c, "labelsOmitted", a->labels_omitted);
}

static void emit_enforcement(const struct vg_emit *w, void *c, const struct vg_alert *a)
{
	if (!a->enf_action) {
		emit_str(w, c, "enforcement", NULL);
		return;
	}
	w->open(c, "enforcement", false, 3);
	emit_str(w, c, "action", a->enf_action);
	emit_str(w, c, "message", or_empty(a->enf_msg));
	emit_time(w, c, "time", a->enf_ns);
	w->close(c);
}

void vg_alert_emit(const struct vg_alert *a, bool full, const struct vg_emit *w, void *c)
{
	char msg[1024];

	w->open(c, NULL, false,
		21 + (a->container_name != NULL) + (a->image != NULL) + (a->labels_omitted > 0));
	emit_str(w, c, "id", a->id);
	emit_policy(w, c, a);
	emit_str(w, c, "lifecycleStage", "RUNTIME");
	emit_str(w, c, "state", vg_alert_state_name(a->state));
	emit_time(w, c, "time", a->time_ns);
	emit_time(w, c, "firstOccurred", a->first_ns);
	if (a->state == VG_ALERT_RESOLVED)
		emit_time(w, c, "resolvedAt", a->resolved_ns);
	emit_where(w, c, a);
	emit_labels(w, c, a);
	w->num(c, "violations", (long long)a->violations);
	vg_alert_message(a, msg, sizeof(msg));
	emit_str(w, c, "message", msg);
	emit_enforcement(w, c, a);
	w->num(c, "enforcementCount", a->enf_count);
	if (full) {
		w->open(c, "processes", true, a->nprocs);
		for (int i = 0; i < a->nprocs; i++)
			emit_proc(w, c, alert_proc_at(a, i));
		w->close(c);
	}
	w->close(c);
}

/* ---- the alert as a jansson tree: an emitter that builds one ---- */

struct json_tree {
	json_t *root, *stack[8];
	int depth;
};

/* Out of memory, the member is left out (jansson takes the NULL and fails the set). */
static void tree_add(struct json_tree *t, const char *key, json_t *v)
{
	json_t *top = NULL;

	if (t->depth)
		top = t->stack[t->depth - 1];
	if (!top)
		t->root = v;
	else if (key)
		(void)json_object_set_new(top, key, v);
	else
		(void)json_array_append_new(top, v);
}

static void tree_open(void *c, const char *key, bool array, int n)
{
	struct json_tree *t = c;
	json_t *v;

	(void)n;
	if (array)
		v = json_array();
	else
		v = json_object();
	tree_add(t, key, v);
	if (t->depth < (int)(sizeof(t->stack) / sizeof(t->stack[0])))
		t->stack[t->depth++] = v;
}

static void tree_close(void *c)
{
	struct json_tree *t = c;

	if (t->depth)
		t->depth--;
}

static void tree_str(void *c, const char *key, const char *s)
{
	if (s)
		tree_add(c, key, json_string(s));
	else
		tree_add(c, key, json_null());
}

static void tree_num(void *c, const char *key, long long v)
{
	tree_add(c, key, json_integer((json_int_t)v));
}

static void tree_bool(void *c, const char *key, bool v)
{
	tree_add(c, key, json_boolean(v));
}

json_t *vg_alert_json(const struct vg_alert *a, bool full)
{
	static const struct vg_emit tree = {tree_open, tree_close, tree_str, tree_num, tree_bool};
	struct json_tree t = {0};

	vg_alert_emit(a, full, &tree, &t);
	return t.root;
}
