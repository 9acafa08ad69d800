/* pages.c: the frame of every page (no JavaScript: plain HTML forms and
   links, so the manager works in any browser and in curl), and the login
   form. */
#include <stdio.h>

#include "manager/manager.h"

static const char style[] =
"body{font-family:sans-serif;margin:2em;max-width:60em}"
"nav a{margin-right:1em}nav form{display:inline}"
"table{border-collapse:collapse}td,th{border:1px solid #ccc;"
"padding:.2em .6em;text-align:left}.n{text-align:right}"
".msg{color:#a00}";

void
mg_page_top(FILE *out, const char *script, const char *title,
    const struct mg_session *s)
{
	const struct mg_page *p;

	fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
	    "<title>", out);
	mg_html(out, title);
	fprintf(out, " - hopmap manager</title><style>%s</style></head>\n"
	    "<body>\n", style);
	if (s != NULL) {
		fputs("<nav>", out);
		for (p = mg_pages; p->path != NULL; p++) {
			if (p->raw)
				continue;
			fputs("<a href=\"", out);
			mg_html(out, script);
			mg_html(out, p->path);
			fputs("\">", out);
			mg_html(out, p->title);
			fputs("</a>", out);
		}
		fputs("<form method=\"post\" action=\"", out);
		mg_html(out, script);
		fputs("/logout\">", out);
		mg_csrf_field(out, s);
		fputs("<button type=\"submit\" id=\"logout\">Log out ", out);
		mg_html(out, s->user);
		fputs("</button></form></nav>\n", out);
	}
	fputs("<h1>", out);
	mg_html(out, title);
	fputs("</h1>\n", out);
}

void
mg_csrf_field(FILE *out, const struct mg_session *s)
{
	fputs("<input type=\"hidden\" name=\"csrf\" value=\"", out);
	mg_html(out, s->csrf);
	fputs("\">", out);
}

void
mg_page_bottom(FILE *out)
{
	fputs("</body></html>\n", out);
}

void
mg_login_form(FILE *out, const char *script, const char *token,
    const char *message)
{
	if (message != NULL)
		mg_message(out, message, NULL);
	fputs("<form method=\"post\" action=\"", out);
	mg_html(out, script);
	fputs("/login\">\n<input type=\"hidden\" name=\"csrf\" value=\"", out);
	mg_html(out, token);
	fputs("\">\n<p><label>User <input name=\"user\" id=\"user\" "
	    "autocomplete=\"username\" required maxlength=\"32\"></label></p>\n"
	    "<p><label>Code <input name=\"code\" id=\"code\" "
	    "autocomplete=\"one-time-code\" inputmode=\"numeric\" "
	    "pattern=\"[0-9]{6}\" required maxlength=\"6\"></label></p>\n"
	    "<p><button type=\"submit\" id=\"login\">Log in</button></p>\n"
	    "</form>\n", out);
}
