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

const char *
hx_arg(const struct hx_req *req, const char *name, char *buf, size_t cap)
{
	const char *q = req->query != NULL ? req->query : "";

	return hm_form_get(q, strlen(q), name, buf, cap, 0);
}
