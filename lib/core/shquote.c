/* shquote.c: a word for sh, for commands a message suggests to paste. */
#include <string.h>

#include "core.h"

const char *
hm_shquote(const char *s, char *buf, size_t size)
{
	size_t n = 0;

	/* Plain words stay as they are: the message reads as typed. */
	if (*s != '\0' && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklm"
	    "nopqrstuvwxyz0123456789_./,:=@%+-") == strlen(s)) {
		snprintf(buf, size, "%s", s);
		return buf;
	}
	/* Else in single quotes, where only ' itself needs care: '\''. */
#define PUT(c) do { if (n + 1 < size) buf[n++] = (c); } while (0)
	PUT('\'');
	for (; *s != '\0'; s++) {
		if (*s == '\'') {
			PUT('\'');
			PUT('\\');
			PUT('\'');
		}
		PUT(*s);
	}
	PUT('\'');
#undef PUT
	buf[n] = '\0';
	return buf;
}
