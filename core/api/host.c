// SPDX-License-Identifier: BSD-2-Clause
/*
 * host.c - the names the API answers for. A page of another site whose name
 * was made to resolve to this address (DNS rebinding) sends its own name in
 * the Host header: such a request is refused (421) before any route sees it.
 * Answered: no Host at all (not a browser), an IP address, "localhost", the
 * host of api.listen, and the names of api.hosts ("*": any name).
 */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "api_priv.h"

#define NAME_MAX_LEN 255

/* The name part of a Host value (without its port or IPv6 brackets) into out; false when the
 * value is malformed. */
static bool host_name(const char *host, char *out, size_t n)
{
	const char *name = host, *end, *port;
	size_t len;

	if (host[0] == '[') {
		name = host + 1;
		end = strchr(name, ']');
		if (!end)
			return false;
		port = end + 1;
	} else {
		end = name + strcspn(name, ":");
		port = end;
	}
	if (*port == ':')
		port++;
	else if (*port)
		return false;
	len = (size_t)(end - name);
	if (!len || len >= n || strspn(port, "0123456789") != strlen(port))
		return false;
	memcpy(out, name, len);
	out[len] = '\0';
	return true;
}

static bool ip_literal(const char *name)
{
	unsigned char buf[16];

	return inet_pton(AF_INET, name, buf) == 1 || inet_pton(AF_INET6, name, buf) == 1;
}

/* name is one of list's comma- or space-separated names (any case), or list is "*". */
static bool listed(const char *list, const char *name)
{
	size_t nl = strlen(name);

	for (const char *p = list; p && *p;) {
		size_t len;

		p += strspn(p, ", \t");
		len = strcspn(p, ", \t");
		if (len == 1 && *p == '*')
			return true;
		if (len && len == nl && !strncasecmp(p, name, nl))
			return true;
		p += len;
	}
	return false;
}

/* The host of api.listen ("127.0.0.1:8077", "[::1]:8077", "vigil.lan:8077") is name. */
static bool listen_name(const char *listen, const char *name)
{
	char own[NAME_MAX_LEN + 1];

	return listen && host_name(listen, own, sizeof(own)) && !strcasecmp(own, name);
}

bool api_host_ok(struct vg_api *a, struct evhttp_request *req)
{
	const char *host = evhttp_find_header(evhttp_request_get_input_headers(req), "Host");
	char name[NAME_MAX_LEN + 1];

	if (!host)
		return true;
	if (host_name(host, name, sizeof(name)) &&
	    (ip_literal(name) || !strcasecmp(name, "localhost") ||
	     listen_name(a->host.listen, name) || listed(a->host.hosts, name)))
		return true;
	a->host_refused++;
	api_fail(a, req, 421,
		 "this vigil does not answer for the name in the Host header (a page of another "
		 "site may be reaching it): open it by IP address, localhost or the host of "
		 "api.listen (%s), or add the name to api.hosts in vigil's configuration",
		 a->host.listen);
	return false;
}
