/* formenc.c: application/x-www-form-urlencoded, a query string's or a
   form body's field found by name and its value decoded; hopmap-httpd's
   query arguments and manager.cgi's forms both read with it. */
#include <string.h>

#include "core.h"

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

/* Decode len bytes at s into buf; -1 when an escape is cut, the value
   does not fit, or it holds a NUL (or, with HM_FORM_NO_CTRL, any control
   byte). */
static int
decode(const char *s, size_t len, char *buf, size_t cap, int flags)
{
	size_t i, o = 0;

	if (cap == 0)
		return -1;
	for (i = 0; i < len; i++) {
		int c = (unsigned char)s[i];

		if (c == '+')
			c = ' ';
		else if (c == '%') {
			int h, l;

			if (len - i < 3 || (h = hexval((unsigned char)s[i + 1])) < 0 ||
			    (l = hexval((unsigned char)s[i + 2])) < 0)
				return -1;
			c = h << 4 | l;
			i += 2;
		}
		if (c == '\0' || ((flags & HM_FORM_NO_CTRL) && (c < 0x20 ||
		    c == 0x7f)) || o + 1 >= cap)
			return -1;
		buf[o++] = (char)c;
	}
	buf[o] = '\0';
	return 0;
}

const char *
hm_form_get(const char *text, size_t len, const char *name, char *buf,
    size_t cap, int flags)
{
	size_t nlen = strlen(name), i = 0;

	while (i < len) {
		const char *amp = memchr(text + i, '&', len - i);
		size_t end = amp != NULL ? (size_t)(amp - text) : len;
		const char *eq = memchr(text + i, '=', end - i);
		size_t klen = eq != NULL ? (size_t)(eq - text) - i : end - i;

		if (klen == nlen && memcmp(text + i, name, nlen) == 0) {
			size_t v = eq != NULL ? (size_t)(eq - text) + 1 : end;

			return decode(text + v, end - v, buf, cap, flags) == 0 ?
			    buf : NULL;
		}
		i = end + 1;
	}
	return NULL;
}
