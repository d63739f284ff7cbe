// SPDX-License-Identifier: BSD-2-Clause
/*
 * ident_args.c - the names an exec answers to that only its argv tells: the
 * program a dynamic loader was asked to run, and a multi-call binary's applet
 * (policies/README.md, "What a process name means").
 */
#include <fnmatch.h>
#include <stdio.h>
#include <string.h>

#include "event.h"

/* ld.so's options that take the next argument as their value */
static const char *const loader_value_opts[] = {
	"--library-path",	  "--preload",		 "--audit", "--argv0", "--inhibit-rpath",
	"--glibc-hwcaps-prepend", "--glibc-hwcaps-mask", NULL,
};

/* multi-call binaries (and their variants: busybox.static, busybox-2): argv names the applet */
static const char *const multicall_names[] = {"busybox", "toybox", NULL};

/* ld.so's flags that inspect the program rather than run it (what ldd does) */
static const char *const loader_inspect_opts[] = {"--list", "--verify", NULL};

static bool in_list(const char *const *list, const char *s)
{
	for (int i = 0; list[i]; i++)
		if (!strcmp(list[i], s))
			return true;
	return false;
}

bool vg_ident_is_loader(const char *name)
{
	/* ld-linux*.so*, ld-musl-*.so* and any ld-*.so*; ld.so itself */
	return name[0] == 'l' && name[1] == 'd' &&
	       (!strcmp(name, "ld.so") || !fnmatch("ld-*.so*", name, 0));
}

bool vg_ident_is_multicall(const char *name)
{
	for (int i = 0; multicall_names[i]; i++)
		if (!strncmp(name, multicall_names[i], strlen(multicall_names[i])))
			return true;
	return false;
}

static const char *base_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

static void set_name(char *dst, const char *path)
{
	(void)snprintf(dst, VG_IDENT_NAME_MAX, "%s", base_of(path)); /* cut to fit */
}

/*
 * The first argument after argv[0] that is not a loader option: ld.so's
 * program; none when ld.so only inspects it (--list, --verify).
 */
static void loader_program(struct vg_event *ev)
{
	for (int i = 1; i < ev->argc; i++) {
		const char *a = ev->argv[i];

		if (!strcmp(a, "--")) {
			if (i + 1 < ev->argc)
				set_name(ev->id.loader, ev->argv[i + 1]);
			return;
		}
		if (strncmp(a, "--", 2)) {
			set_name(ev->id.loader, a);
			return;
		}
		if (in_list(loader_inspect_opts, a))
			return; /* the program is not run */
		if (in_list(loader_value_opts, a))
			i++; /* its value */
			     /* else a flag (--inhibit-cache, ...) or --opt=value */
	}
}

/* argv[0]'s basename when it is not the binary's own name, else argv[1]'s (`busybox dpkg`). */
static void multicall_applet(struct vg_event *ev)
{
	const char *a0 = ev->argc > 0 ? base_of(ev->argv[0]) : "";

	if (a0[0] && strcmp(a0, ev->id.exe_name)) {
		set_name(ev->id.applet, a0);
		return;
	}
	if (ev->argc > 1 && ev->argv[1][0] && ev->argv[1][0] != '-')
		set_name(ev->id.applet, ev->argv[1]);
}

/* Whether the exe's own name or one of its content names satisfies is(). */
static bool named(const struct vg_exe_ident *id, bool (*is)(const char *))
{
	if (is(id->exe_name))
		return true;
	for (int i = 0; i < id->n_content && i < VG_IDENT_NAMES; i++)
		if (is(id->content[i]))
			return true;
	return false;
}

void vg_event_ident_args(struct vg_event *ev)
{
	/* parsed again when content names came meanwhile: a copy of ld.so or busybox */
	if (ev->id.args_parsed && ev->id.args_content == ev->id.n_content)
		return;
	ev->id.args_parsed = true;
	ev->id.args_content = ev->id.n_content;
	ev->id.loader[0] = ev->id.applet[0] = '\0';
	if (named(&ev->id, vg_ident_is_loader)) {
		vg_event_args(ev);
		loader_program(ev);
	} else if (named(&ev->id, vg_ident_is_multicall)) {
		vg_event_args(ev);
		multicall_applet(ev);
	}
}
