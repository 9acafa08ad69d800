/* server_dispatch.c: a request built in memory to its route, through the
   key check, to its handler.  No sockets here: the unit tests and the
   fuzz target call hs_dispatch as the server does. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "httpd/keys.h"
#include "httpd/server.h"

const char *
hs_bearer(const char *auth, size_t *len)
{
	const char *p = auth, *e;

	if (p == NULL)
		return NULL;
	while (*p == ' ' || *p == '\t')
		p++;
	if (strncasecmp(p, "Bearer", 6) != 0 || (p[6] != ' ' && p[6] != '\t'))
		return NULL;
	p += 6;
	while (*p == ' ' || *p == '\t')
		p++;
	for (e = p; *e != '\0' && *e != ' ' && *e != '\t'; e++)
		;
	/* Nothing but blanks may follow the token. */
	for (const char *q = e; *q != '\0'; q++)
		if (*q != ' ' && *q != '\t')
			return NULL;
	if (e == p)
		return NULL;
	*len = (size_t)(e - p);
	return p;
}

static int
method_is(const char *want, const char *got)
{
	/* HEAD is GET without the body (libmicrohttpd drops it). */
	return strcmp(want, got) == 0 ||
	    (strcmp(want, "GET") == 0 && strcmp(got, "HEAD") == 0);
}

/* The routes with REQ's path; the one with its method in *FOUND. */
static int
find_route(const struct hs_dispatch *d, const struct hx_req *req,
    const struct hx_route **found, char *allow, size_t cap)
{
	int i, paths = 0;

	*found = NULL;
	allow[0] = '\0';
	for (i = 0; hx_modules[i] != NULL && i < 8; i++) {
		const struct hx_route *r;

		if (!d->opened[i])
			continue;
		for (r = hx_modules[i]->routes; r->fn != NULL; r++) {
			if ((r->hub && !d->conf->hub) ||
			    strcmp(r->path, req->path) != 0)
				continue;
			paths++;
			if (*found == NULL && method_is(r->method, req->method)) {
				*found = r;
			}
			if (strstr(allow, r->method) == NULL) {
				size_t n = strlen(allow);

				snprintf(allow + n, cap - n, "%s%s%s",
				    n ? ", " : "", r->method,
				    strcmp(r->method, "GET") == 0 ? ", HEAD" : "");
			}
		}
	}
	return paths;
}

/* 0 when the request may go on (consumer set), else the 401 is in RESP. */
static int
check_key(const struct hs_dispatch *d, struct hx_req *req, const char *auth,
    char *name, struct hx_resp *resp)
{
	const char *key;
	size_t len;
	int admin = 0;

	if (auth == NULL) {
		hx_error(resp, 401, "an API key is needed: Authorization: "
		    "Bearer KEY");
		goto refused;
	}
	if ((key = hs_bearer(auth, &len)) == NULL) {
		hx_error(resp, 401, "the Authorization header is not "
		    "\"Bearer KEY\"");
		goto refused;
	}
	switch (d->keys != NULL ? hk_check(d->keys, key, len, name, &admin) :
	    HK_UNKNOWN) {
	case HK_VALID:
		req->consumer = name;
		req->admin = admin;
		return 0;
	case HK_REVOKED:
		hx_error(resp, 401, "this API key is revoked");
		break;
	default:
		hx_error(resp, 401, "unknown API key");
		break;
	}
refused:
	resp->header_name = "WWW-Authenticate";
	resp->header_value = strdup("Bearer realm=\"hopmap\"");
	return -1;
}

void
hs_dispatch(const struct hs_dispatch *d, struct hx_req *req,
    const char *auth, struct hx_resp *resp, const char **route, char *name)
{
	const struct hx_route *r;
	char allow[128];

	*route = NULL;
	req->consumer = NULL;
	req->admin = 0;
	if (find_route(d, req, &r, allow, sizeof allow) == 0) {
		hx_error(resp, 404, "no such path: %s", req->path);
		return;
	}
	if (r == NULL) {
		hx_error(resp, 405, "%s is not allowed on %s (only %s)",
		    req->method, req->path, allow);
		resp->header_name = "Allow";
		resp->header_value = strdup(allow);
		return;
	}
	*route = r->path;
	if ((!r->open || d->conf->health_key) &&
	    check_key(d, req, auth, name, resp) != 0)
		return;
	r->fn(req, resp);
	if (resp->status == 0) {
		hx_resp_free(resp);
		hx_error(resp, 500, "%s %s gave no answer", req->method,
		    req->path);
	}
}
