/* libFuzzer target: manager.cgi's request parsing (web/manager/cgireq.c)
   and the log's escaping (authlog.c) over arbitrary bytes.  The input's
   first line is a Cookie header, the rest a form body or query string.
   A value found is NUL-terminated, shorter than its buffer, and free of
   control bytes; an escaped field is one word of the allowed bytes. */
#include <stdlib.h>
#include <string.h>

#include "manager/manager.h"

static const char *const names[] = { "user", "code", "csrf", "", "a=b",
    "hm_session", "hm_login" };

static void
check_value(const char *v, const char *buf, size_t cap)
{
	size_t n;

	if (v == NULL)
		return;
	if (v != buf || (n = strlen(v)) >= cap)
		abort();
	for (; *v != '\0'; v++)
		if ((unsigned char)*v < 0x20 || *v == 0x7f)
			abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1), buf[64], esc[256];
	const char *nl, *body, *v;
	size_t i, cap, blen;

	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	nl = memchr(text, '\n', size);
	body = nl != NULL ? nl + 1 : text + size;
	blen = size - (size_t)(body - text);
	if (nl != NULL)
		text[nl - text] = '\0';
	cap = 1 + (size != 0 ? data[0] % sizeof buf : 0);
	for (i = 0; i < sizeof names / sizeof names[0]; i++) {
		/* The body may hold NULs: the form is read by its length. */
		v = mg_form_get(body, blen, names[i], buf, cap);
		check_value(v, buf, cap);
		v = mg_cookie_get(text, names[i], buf, cap);
		if (v != NULL && (v != buf || strlen(v) >= cap))
			abort();
	}
	mg_log_escape(text, esc, 1 + (size != 0 ? data[size - 1] % sizeof esc : 0));
	for (v = esc; *v != '\0'; v++)
		if (strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		    "0123456789._:@-%~", *v) == NULL)
			abort();
	free(text);
	return 0;
}
