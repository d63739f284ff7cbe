// SPDX-License-Identifier: BSD-2-Clause
/* ctrinfo.c - container names and images from the runtimes' state files (ctrinfo.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "ctrinfo.h"
#include "event.h"
#include "serial.h"

#define SLOTS		1024 /* containers remembered; a newer one takes an older one's slot */
#define STORAGE_DEFAULT "/var/lib/containers/storage"
#define DOCKER_DEFAULT	"/var/lib/docker"
#define STORAGE_CONF	"/etc/containers/storage.conf"

struct slot {
	char id[65]; /* "" when empty */
	char name[VG_CTR_NAME_MAX];
	char image[VG_CTR_IMAGE_MAX];
	uint64_t serial; /* new each time the slot is written */
};

struct vg_ctrinfo {
	char storage[1024], docker[1024];
	uint64_t storage_read_ns, docker_read_ns; /* the last read of each (rate limit) */
	struct vg_ctrinfo_stats st;
	struct slot *slots; /* SLOTS, by hash of the id */
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts); /* cannot fail with this clock */
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The id's slot: ids are random hex, so their first 16 digits hash well enough. */
static struct slot *slot_of(struct vg_ctrinfo *ci, const char *id)
{
	char head[17];

	memcpy(head, id, 16); /* ids are 64 digits (checked by the callers) */
	head[16] = '\0';
	return &ci->slots[strtoull(head, NULL, 16) % SLOTS];
}

/* Into id's slot, unless that holds `keep` (the id being looked up: it wins its slot). */
static void remember(struct vg_ctrinfo *ci, const char *keep, const char *id, const char *name,
		     const char *image)
{
	struct slot *s;

	if (!id || strlen(id) != 64)
		return;
	s = slot_of(ci, id);
	if (strcmp(id, keep) && !strcmp(s->id, keep))
		return;
	snprintf(s->id, sizeof(s->id), "%s", id);
	snprintf(s->name, sizeof(s->name), "%s", name ? name : "");
	snprintf(s->image, sizeof(s->image), "%s", image ? image : "");
	s->serial = vg_serial_next();
}

/* graphroot = "..." of containers/storage's storage.conf, when it sets one. */
static void storage_conf_root(const char *conf, char *root, size_t n)
{
	char line[1200], val[1024];
	FILE *f = fopen(conf, "re");

	if (!f)
		return; /* no such file: the default root */
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, " graphroot = \"%1023[^\"]\"", val) == 1)
			snprintf(root, n, "%s", val);
	(void)fclose(f); /* read only: nothing to lose */
}

int vg_ctrinfo_new(struct vg_ctrinfo **out, const struct vg_ctrinfo_opts *o)
{
	struct vg_ctrinfo *ci = calloc(1, sizeof(*ci));

	if (ci)
		ci->slots = calloc(SLOTS, sizeof(*ci->slots));
	if (!ci || !ci->slots) {
		free(ci);
		return -ENOMEM;
	}
	snprintf(ci->storage, sizeof(ci->storage), "%s", STORAGE_DEFAULT);
	if (o->storage_root && o->storage_root[0])
		snprintf(ci->storage, sizeof(ci->storage), "%s", o->storage_root);
	else
		storage_conf_root(o->storage_conf ? o->storage_conf : STORAGE_CONF, ci->storage,
				  sizeof(ci->storage));
	snprintf(ci->docker, sizeof(ci->docker), "%s", DOCKER_DEFAULT);
	if (o->docker_root && o->docker_root[0])
		snprintf(ci->docker, sizeof(ci->docker), "%s", o->docker_root);
	*out = ci;
	return 0;
}

void vg_ctrinfo_free(struct vg_ctrinfo *ci)
{
	if (!ci)
		return;
	free(ci->slots);
	free(ci);
}

/* The image name podman and CRI-O keep in the container's metadata (itself a JSON string). */
static void remember_storage_entry(struct vg_ctrinfo *ci, const char *keep, const json_t *c)
{
	const char *meta = json_string_value(json_object_get(c, "metadata"));
	json_t *m = meta ? json_loads(meta, 0, NULL) : NULL;
	const char *image = json_string_value(json_object_get(m, "image-name"));
	const char *name = json_string_value(json_array_get(json_object_get(c, "names"), 0));

	if (!name)
		name = json_string_value(json_object_get(m, "name"));
	remember(ci, keep, json_string_value(json_object_get(c, "id")), name, image);
	json_decref(m);
}

/* Every container of containers/storage into the cache; id keeps its slot. */
static void read_storage(struct vg_ctrinfo *ci, const char *id)
{
	char path[1100];
	json_t *all;
	size_t i;

	snprintf(path, sizeof(path), "%s/overlay-containers/containers.json", ci->storage);
	ci->st.reads++;
	all = json_load_file(path, 0, NULL);
	if (!json_is_array(all)) {
		ci->st.read_errors++;
		json_decref(all);
		return;
	}
	for (i = 0; i < json_array_size(all); i++)
		remember_storage_entry(ci, id, json_array_get(all, i));
	json_decref(all);
}

/* Docker's own file for the container: "Name" ("/name") and Config.Image. */
static void read_docker(struct vg_ctrinfo *ci, const char *id)
{
	char path[1200];
	json_t *cfg;
	const char *name;

	snprintf(path, sizeof(path), "%s/containers/%s/config.v2.json", ci->docker, id);
	ci->st.reads++;
	cfg = json_load_file(path, 0, NULL);
	if (!json_is_object(cfg)) {
		ci->st.read_errors++;
		json_decref(cfg);
		return;
	}
	name = json_string_value(json_object_get(cfg, "Name"));
	if (name && name[0] == '/')
		name++;
	remember(ci, id, id, name,
		 json_string_value(json_object_get(json_object_get(cfg, "Config"), "Image")));
	json_decref(cfg);
}

/* Reads the runtime's state again, unless it was read less than a second ago. */
static void refresh(struct vg_ctrinfo *ci, const char *id, const char *runtime)
{
	uint64_t now = now_ns(), *last;
	bool docker = !strcmp(runtime, "docker");

	if (!docker && strcmp(runtime, "podman") && strcmp(runtime, "cri-o"))
		return; /* containerd and the rest keep no file vigil reads */
	last = docker ? &ci->docker_read_ns : &ci->storage_read_ns;
	if (*last && now - *last < 1000000000ull)
		return;
	*last = now;
	if (docker)
		read_docker(ci, id);
	else
		read_storage(ci, id);
}

/* Container id's slot, read from the runtime's state on a miss; NULL when unknown. */
static const struct slot *lookup(struct vg_ctrinfo *ci, const char *id, const char *runtime)
{
	struct slot *s;

	if (!id || strlen(id) != 64 || !runtime)
		return NULL;
	s = slot_of(ci, id);
	if (strcmp(s->id, id)) {
		ci->st.misses++;
		refresh(ci, id, runtime);
		if (strcmp(s->id, id))
			return NULL;
	} else {
		ci->st.hits++;
	}
	return s;
}

bool vg_ctrinfo_lookup(struct vg_ctrinfo *ci, const char *id, const char *runtime,
		       const char **name, const char **image)
{
	const struct slot *s = lookup(ci, id, runtime);

	if (!s)
		return false;
	*name = s->name;
	*image = s->image;
	return true;
}

/* src into dst of n bytes, cut to fit: a copy on every exec, without snprintf's parsing. */
static void copy_name(char *dst, size_t n, const char *src)
{
	size_t len = src ? strnlen(src, n - 1) : 0;

	memcpy(dst, src ? src : "", len);
	dst[len] = '\0';
}

void vg_ctrinfo_name(struct vg_ctrinfo *ci, struct vg_event *ev)
{
	const char *name = NULL, *image = NULL;
	const struct slot *s;

	if (!vg_event_in_container(ev))
		return;
	if (ev->meta && ev->meta->container) {
		name = ev->meta->container;
		image = ev->meta->image;
		ev->ctr_names_serial = ev->meta->serial;
	} else if (ci && (s = lookup(ci, ev->ctr.id, ev->ctr.runtime))) {
		name = s->name;
		image = s->image;
		ev->ctr_names_serial = s->serial;
	} else {
		return;
	}
	copy_name(ev->ctr_name, sizeof(ev->ctr_name), name);
	copy_name(ev->ctr_image, sizeof(ev->ctr_image), image);
}

void vg_ctrinfo_stats(const struct vg_ctrinfo *ci, struct vg_ctrinfo_stats *st)
{
	*st = ci->st;
}
