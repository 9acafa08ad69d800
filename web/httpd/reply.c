/* reply.c: building hopmap-httpd's answers and reading query arguments,
   for every handler (handler.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"
#include "httpd/handler.h"

void
hx_resp_init(struct hx_resp *resp)
{
	memset(resp, 0, sizeof *resp);
	resp->fd = -1;
}

void
hx_resp_free(struct hx_resp *resp)
{
	free(resp->body);
	if (resp->fd >= 0)
		close(resp->fd);
	if (resp->unlink_path != NULL) {
		unlink(resp->unlink_path);
		free(resp->unlink_path);
	}
	free(resp->header_value);
	hx_resp_init(resp);
}

void
hx_text(struct hx_resp *resp, int status, const char *type, const char *text,
    size_t len)
{
	free(resp->body);
	resp->body = malloc(len + 1);
	if (resp->body == NULL) {
		resp->status = 500;
		resp->len = 0;
		return;
	}
	memcpy(resp->body, text, len);
	resp->body[len] = '\0';
	resp->len = len;
	resp->status = status;
	resp->type = type;
}

void
hx_json(struct hx_resp *resp, int status, json_t *v)
{
	size_t len = 0;
	char *text = v != NULL ? hm_json_text(v, JSON_COMPACT, &len) : NULL;

	json_decref(v);
	if (text == NULL) {
		hx_text(resp, 500, NULL, "{\"error\":\"out of memory\"}\n", 26);
		return;
	}
	free(resp->body);
	resp->len = len;
	resp->body = realloc(text, resp->len + 2);
	if (resp->body == NULL) {
		free(text);
		hx_text(resp, 500, NULL, "{\"error\":\"out of memory\"}\n", 26);
		return;
	}
	resp->body[resp->len++] = '\n';
	resp->body[resp->len] = '\0';
	resp->status = status;
	resp->type = NULL;
}

void
hx_error(struct hx_resp *resp, int status, const char *fmt, ...)
{
	char why[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	hx_json(resp, status, json_pack("{s:s}", "error", why));
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decode [S, E) into BUF; 0 on success. */
static int
decode(const char *s, const char *e, char *buf, size_t cap)
{
	size_t n = 0;

	for (; s < e; s++) {
		int c = (unsigned char)*s;

		if (c == '+')
			c = ' ';
		else if (c == '%') {
			int hi, lo;

			if (e - s < 3 || (hi = hexval(s[1])) < 0 ||
			    (lo = hexval(s[2])) < 0)
				return -1;
			c = hi * 16 + lo;
			s += 2;
		}
		if (c == '\0' || n + 1 >= cap)
			return -1;
		buf[n++] = (char)c;
	}
	if (cap == 0)
		return -1;
	buf[n] = '\0';
	return 0;
}

const char *
hx_arg(const struct hx_req *req, const char *name, char *buf, size_t cap)
{
	const char *p = req->query != NULL ? req->query : "";
	size_t nlen = strlen(name);

	while (*p != '\0') {
		const char *end = strchr(p, '&');
		const char *eq;

		if (end == NULL)
			end = p + strlen(p);
		eq = memchr(p, '=', (size_t)(end - p));
		if ((size_t)((eq != NULL ? eq : end) - p) == nlen &&
		    memcmp(p, name, nlen) == 0)
			return decode(eq != NULL ? eq + 1 : end, end, buf, cap) == 0
			    ? buf : NULL;
		p = *end != '\0' ? end + 1 : end;
	}
	return NULL;
}
