/* html.c: text into HTML: the five characters that matter escaped, and
   control bytes dropped, so no name from a store or a request becomes
   markup; and the page's message, built on it. */
#include <stdio.h>

#include "manager/manager.h"

void
mg_html(FILE *out, const char *s)
{
	for (; s != NULL && *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		switch (c) {
		case '&': fputs("&amp;", out); break;
		case '<': fputs("&lt;", out); break;
		case '>': fputs("&gt;", out); break;
		case '"': fputs("&quot;", out); break;
		case '\'': fputs("&#39;", out); break;
		default:
			if (c >= 0x20 && c != 0x7f)
				putc(c, out);
		}
	}
}

void
mg_message(FILE *out, const char *what, const char *why)
{
	fputs("<p class=\"msg\" id=\"msg\">", out);
	mg_html(out, what);
	if (why != NULL) {
		fputs(": ", out);
		mg_html(out, why);
	}
	fputs("</p>\n", out);
}
