// SPDX-License-Identifier: BSD-2-Clause
/* client.c - the CLI's way to a daemon's data: its API, or its store offline. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include <curl/curl.h>

#include "api_address.h"
#include "client.h"
#include "log.h"
#include "query.h"
#include "safefile.h"

/* The daemon holds an exclusive flock on DATA_DIR/vigil.lock while it runs. */
int vg_client_daemon_running(const struct vg_config *cfg, int *lock_fd)
{
	char path[1100];
	int fd;

	snprintf(path, sizeof(path), "%.1000s/vigil.lock", cfg->data_dir);
	fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	*lock_fd = -1;
	if (fd < 0)
		return 0;
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		(void)close(fd); /* never written: nothing to lose */
		return 1;
	}
	*lock_fd = fd; /* held while we use the store ourselves */
	return 0;
}

/* ---- through the API ------------------------------------------------------------------ */

struct body {
	char *p;
	size_t n;
};

static size_t on_body(char *p, size_t sz, size_t nm, void *ud)
{
	struct body *b = ud;
	char *n = realloc(b->p, b->n + sz * nm + 1);

	if (!n)
		return 0;
	memcpy(n + b->n, p, sz * nm);
	b->n += sz * nm;
	n[b->n] = '\0';
	b->p = n;
	return sz * nm;
}

/* The daemon's API token into token (cap bytes); 0, or -errno with the error printed. */
static int read_token(const struct vg_config *cfg, char *token, size_t cap)
{
	char path[1100], err[1024];
	ssize_t r = -1;
	int fd;

	/* the daemon's own rule (safefile.h): never a link, nobody else's, nobody else's to read */
	snprintf(path, sizeof(path), "%.1000s/api.token", cfg->data_dir);
	fd = vg_safe_open(path, O_RDONLY, 0, 0077, err, sizeof(err));
	if (fd >= 0) {
		r = read(fd, token, cap - 1);
		if (r < 0)
			(void)vg_errf(err, sizeof(err), -errno, "cannot read %s: %s", path,
				      strerror(errno));
		(void)close(fd); /* only read: nothing to lose */
	}
	if (r < 0) {
		vg_err("cannot use the API token of the daemon running on %s: %s", cfg->data_dir,
		       err);
		return -EACCES;
	}
	token[r] = '\0';
	token[strcspn(token, "\r\n")] = '\0';
	return 0;
}

/*
 * Where the daemon of cfg->data_dir listens, into addr (cap bytes): the address it recorded
 * there (api_address.h), which wins over the configuration's api.listen (the configuration
 * may name another daemon's, or none); the configuration's when the daemon recorded none.
 * *recorded tells which. 0, or -errno with the error printed.
 */
static int daemon_address(const struct vg_config *cfg, char *addr, size_t cap, bool *recorded)
{
	char err[1200];
	int rc = vg_api_address_read(cfg->data_dir, addr, cap, err, sizeof(err));

	*recorded = !rc;
	if (rc == -ENOENT) {
		(void)snprintf(addr, cap, "%s", cfg->api_listen); /* both 128 bytes: fits */
		return 0;
	}
	if (rc)
		vg_err("cannot tell where the daemon running on %s listens: %s", cfg->data_dir,
		       err);
	return rc;
}

/* The answer of a finished request: its JSON, or NULL with the API's error printed. */
static json_t *answer(const struct vg_config *cfg, const char *addr, bool recorded, CURL *c,
		      CURLcode rc, const struct body *b)
{
	json_t *j, *e;
	long code = 0;

	if (rc != CURLE_OK && recorded) {
		vg_err("the vigil daemon running on %s does not answer at %s, the API address it "
		       "recorded in %s/api.address (%s)",
		       cfg->data_dir, addr, cfg->data_dir, curl_easy_strerror(rc));
		return NULL;
	}
	if (rc != CURLE_OK) {
		vg_err("a vigil daemon holds %s but its API at %s (api.listen of the "
		       "configuration) "
		       "does not answer (%s): is api.listen the same for both? (--config)",
		       cfg->data_dir, addr, curl_easy_strerror(rc));
		return NULL;
	}
	if (curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code) != CURLE_OK)
		code = 0; /* a finished HTTP transfer always has one */
	j = b->p ? json_loads(b->p, 0, NULL) : NULL;
	if (code < 300)
		return j;
	e = j ? json_object_get(j, "error") : NULL;
	vg_err("%s", e ? json_string_value(e) : "the API answered an error");
	json_decref(j);
	return NULL;
}

/* One API call; returns the JSON answer (new reference) or NULL with a message printed. */
json_t *vg_client_api(const struct vg_config *cfg, const char *method, const char *path_q,
		      const char *body)
{
	char url[2048], token[128] = "", auth[160], addr[sizeof(cfg->api_listen)];
	struct curl_slist *h = NULL, *h1;
	struct body b = {0};
	json_t *j = NULL;
	bool recorded;
	CURL *c;

	if (read_token(cfg, token, sizeof(token)) ||
	    daemon_address(cfg, addr, sizeof(addr), &recorded))
		return NULL;
	snprintf(url, sizeof(url), "http://%s%s", addr, path_q);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
	c = curl_easy_init();
	h1 = curl_slist_append(NULL, auth);
	h = h1 ? curl_slist_append(h1, "Content-Type: application/json") : NULL;
	if (!c || !h) {
		vg_err("out of memory");
		curl_slist_free_all(h ? h : h1);
		curl_easy_cleanup(c);
		return NULL;
	}
	/* setopt fails only for an unknown option or out of memory, which perform then reports */
	(void)curl_easy_setopt(c, CURLOPT_URL, url);
	(void)curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	(void)curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	(void)curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	(void)curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	(void)curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	if (body)
		(void)curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	j = answer(cfg, addr, recorded, c, curl_easy_perform(c), &b);
	free(b.p);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	return j;
}

struct vg_alerts *vg_client_open_store(const struct vg_config *cfg)
{
	struct vg_alerts_opts ao = {0};
	struct vg_wal_report rep;
	struct vg_alerts *s;
	char dir[1100], err[1024];

	snprintf(dir, sizeof(dir), "%.1000s/store", cfg->data_dir);
	if (access(dir, F_OK)) {
		vg_err("no vigil store in %s (start the daemon with 'vigil run', or pass "
		       "--data-dir)",
		       cfg->data_dir);
		return NULL;
	}
	ao.dir = dir;
	if (vg_alerts_open(&s, &ao, NULL, &rep, err, sizeof(err))) {
		vg_err("%s", err);
		return NULL;
	}
	vg_wal_report_log(&rep, dir);
	return s;
}

/* One page of alerts (query q) into all; the total the API counts, or -1 (printed). */
static long alerts_page(const struct vg_config *cfg, const char *q, size_t offset, json_t *all)
{
	char path[2300];
	json_t *r;
	long total;

	(void)snprintf(path, sizeof(path),
		       "/v1/alerts?pagination.limit=%d&pagination.offset=%zu"
		       "&query=%.2048s",
		       VG_PAGE_MAX, offset, q); /* q is bounded by callers */
	r = vg_client_api(cfg, "GET", path, NULL);
	if (!r)
		return -1;
	total = (long)json_integer_value(json_object_get(r, "total"));
	if (json_array_extend(all, json_object_get(r, "alerts")) ||
	    !json_array_size(json_object_get(r, "alerts")))
		total = (long)json_array_size(all); /* nothing more to page through */
	json_decref(r);
	return total;
}

json_t *vg_client_api_alerts(const struct vg_config *cfg, const char *q)
{
	json_t *all = json_array();
	long total = 1;

	while (all && (size_t)total > json_array_size(all)) {
		total = alerts_page(cfg, q, json_array_size(all), all);
		if (total < 0) {
			json_decref(all);
			return NULL;
		}
	}
	return all;
}
