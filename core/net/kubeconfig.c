// SPDX-License-Identifier: BSD-2-Clause
/*
 * kubeconfig.c - the Kubernetes client's options from a kubeconfig's current
 * context, read once at start through `kubectl config view --raw --minify`
 * (blocking is fine there): server, CA (a file, or inline data written to a
 * file of the data directory), TLS verification, bearer token.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "k8s.h"
#include "log.h"

/* What kubectl printed for the kubeconfig at path (malloc'd). 0 or -errno with err. */
static int run_kubectl(const char *path, char **out, char *err, size_t n)
{
	char cmd[1200], *text = NULL;
	size_t cap = 0, len = 0;
	FILE *p;
	int rc;

	snprintf(cmd, sizeof(cmd),
		 "kubectl config view --raw --minify -o json --kubeconfig '%s' 2>&1", path);
	p = popen(cmd, "r");
	if (!p)
		return vg_errf(err, n, -errno, "cannot run kubectl to read %s", path);
	for (;;) {
		char buf[4096];
		size_t r = fread(buf, 1, sizeof(buf), p);

		if (!r)
			break;
		if (len + r + 1 > cap) {
			size_t grown_cap = (len + r + 1) * 2;
			char *grown = realloc(text, grown_cap);

			if (!grown)
				break;
			text = grown;
			cap = grown_cap;
		}
		memcpy(text + len, buf, r);
		len += r;
		text[len] = '\0';
	}
	if (pclose(p) != 0 || !text) {
		rc = vg_errf(err, n, -EINVAL,
			     "kubectl could not read the kubeconfig %s: %.300s (kubectl "
			     "reads kubeconfigs for vigil; or set kubernetes.server, "
			     "token_file and ca_file)",
			     path, text ? text : "no output");
		free(text);
		return rc;
	}
	*out = text;
	return 0;
}

/* certificate-authority-data (base64 of a PEM bundle) decoded into ca_out, the file curl reads. */
static int write_ca(const char *b64, const char *ca_out, char *err, size_t n)
{
	static const char tbl[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	/* in the data dir: never through a link */
	int cfd = open(ca_out, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	FILE *f = cfd >= 0 ? fdopen(cfd, "w") : NULL;
	unsigned acc = 0;
	int bits = 0;

	for (; f && *b64; b64++) {
		const char *c = strchr(tbl, *b64);

		if (!c || *b64 == '=')
			continue;
		acc = acc << 6 | (unsigned)(c - tbl);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			/* a write error shows again at fclose, checked below */
			(void)fputc((int)(acc >> bits) & 0xff, f);
		}
	}
	if (!f && cfd >= 0)
		(void)close(cfd); /* nothing written to it */
	if (!f || fclose(f))
		return vg_errf(err, n, -EIO, "cannot write the kubeconfig's CA to %s", ca_out);
	return 0;
}

/* The current context's cluster: server, TLS verification, CA. */
static int use_cluster(const char *path, const json_t *cluster, struct vg_k8s_opts *o, char *server,
		       size_t sn, const char *ca_out, char *err, size_t n)
{
	const char *v = json_string_value(json_object_get(cluster, "server"));
	int rc;

	if (!v)
		return vg_errf(err, n, -EINVAL,
			       "kubeconfig %s has no cluster server in its current context", path);
	snprintf(server, sn, "%s", v);
	o->server = server;
	o->insecure = json_is_true(json_object_get(cluster, "insecure-skip-tls-verify"));
	if ((v = json_string_value(json_object_get(cluster, "certificate-authority")))) {
		o->ca_file = strdup(v);
	} else if ((v = json_string_value(
			    json_object_get(cluster, "certificate-authority-data")))) {
		if ((rc = write_ca(v, ca_out, err, n)))
			return rc;
		o->ca_file = ca_out;
	}
	return 0;
}

/* The current context's user: a bearer token, inline or in a file. */
static int use_user(const char *path, const json_t *user, struct vg_k8s_opts *o, char *token,
		    size_t tn, char *err, size_t n)
{
	const char *v;

	if ((v = json_string_value(json_object_get(user, "token")))) {
		snprintf(token, tn, "%s", v);
		o->token = token;
		return 0;
	}
	if ((v = json_string_value(json_object_get(user, "tokenFile")))) {
		o->token_file = strdup(v);
		return 0;
	}
	return vg_errf(err, n, -EINVAL,
		       "kubeconfig %s: the current user has no token (vigil "
		       "authenticates with a bearer token)",
		       path);
}

int vg_k8s_from_kubeconfig(const char *path, struct vg_k8s_opts *o, char *server, size_t sn,
			   char *token, size_t tn, const char *ca_out, char *err, size_t n)
{
	char *out = NULL;
	json_t *j, *cluster, *user;
	int rc;

	if (access(path, R_OK))
		return vg_errf(err, n, -errno, "cannot read the kubeconfig %s: %s", path,
			       strerror(errno));
	if (strchr(path, '\''))
		return vg_errf(err, n, -EINVAL, "kubeconfig path %s: quotes are not allowed", path);
	if ((rc = run_kubectl(path, &out, err, n)))
		return rc;
	j = json_loads(out, 0, NULL);
	free(out);
	cluster = json_object_get(json_array_get(json_object_get(j, "clusters"), 0), "cluster");
	user = json_object_get(json_array_get(json_object_get(j, "users"), 0), "user");
	rc = use_cluster(path, cluster, o, server, sn, ca_out, err, n);
	if (!rc)
		rc = use_user(path, user, o, token, tn, err, n);
	json_decref(j);
	return rc;
}
