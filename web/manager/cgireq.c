/* cgireq.c: a CGI/1.1 request: the environment the server sets, the form
   body on stdin, and the two encodings read from them (form fields and
   cookies).  Everything here is untrusted input, bounded and fuzzed
   (tests/fuzz/manager_request.c). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core/core.h"
#include "manager/manager.h"

/* Names and codes never hold a control byte, and the log and the pages
   must not see one. */
const char *
mg_form_get(const char *text, size_t len, const char *name, char *buf,
    size_t cap)
{
	return hm_form_get(text, len, name, buf, cap, HM_FORM_NO_CTRL);
}

const char *
mg_cookie_get(const char *header, const char *name, char *buf, size_t cap)
{
	size_t nlen = strlen(name);
	const char *p = header;

	while (p != NULL && *p != '\0') {
		const char *end = strchr(p, ';'), *eq;
		size_t len;

		while (*p == ' ' || *p == '\t')
			p++;
		len = end != NULL ? (size_t)(end - p) : strlen(p);
		eq = memchr(p, '=', len);
		if (eq != NULL && (size_t)(eq - p) == nlen &&
		    memcmp(p, name, nlen) == 0) {
			size_t vlen = len - nlen - 1;

			/* A value with quotes around it, as RFC 6265 allows. */
			if (vlen >= 2 && eq[1] == '"' && eq[vlen] == '"') {
				eq++;
				vlen -= 2;
			}
			if (vlen + 1 > cap)
				return NULL;
			memcpy(buf, eq + 1, vlen);
			buf[vlen] = '\0';
			return buf;
		}
		p = end != NULL ? end + 1 : NULL;
	}
	return NULL;
}

static const char *
env(const char *name)
{
	const char *v = getenv(name);

	return v != NULL ? v : "";
}

int
mg_req_from_env(struct mg_req *req, int fd, char **body_owned)
{
	const char *cl = env("CONTENT_LENGTH");
	uint64_t want = 0;
	const char *why;
	size_t got = 0;
	char *body;

	memset(req, 0, sizeof *req);
	*body_owned = NULL;
	req->method = env("REQUEST_METHOD");
	req->script = env("SCRIPT_NAME");
	req->path = env("PATH_INFO");
	req->query = env("QUERY_STRING");
	req->cookies = env("HTTP_COOKIE");
	req->remote = env("REMOTE_ADDR");
	req->content_type = env("CONTENT_TYPE");
	req->https = strcasecmp(env("HTTPS"), "on") == 0;
	req->body = "";
	if (strcmp(req->method, "POST") != 0)
		return 0;
	if (*cl == '\0')
		return 411;
	if (hm_strtou64(cl, 0, UINT64_MAX, &want, &why) != 0)
		return 400;
	if (want > MG_BODY_MAX)
		return 413;
	if ((body = malloc(want + 1)) == NULL)
		return 500;
	while (got < want) {
		ssize_t n = read(fd, body + got, want - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			free(body);
			return 400;
		}
		got += (size_t)n;
	}
	body[got] = '\0';
	req->body = body;
	req->body_len = got;
	*body_owned = body;
	return 0;
}
