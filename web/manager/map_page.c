/* map_page.c: the map page (the hub's map as an image, a filter by node
   posted as a form with the session's token and answered by a redirect
   to /map?node=NAME) and the image itself (/map.svg), served from the
   cache map.c keeps.  The SVG is shown by <img>, so nothing in it runs. */
#include <stdio.h>
#include <string.h>

#include "manager/manager.h"

#define FIELD 128

/* The query's node, or NULL for every node; *bad when one is given but is
   not a node's name. */
static const char *
node_of(const struct mg_view *v, char *buf, size_t cap, int *bad)
{
	const char *n = mg_form_get(v->query, strlen(v->query), "node", buf,
	    cap);

	*bad = 0;
	if (n == NULL || *n == '\0')
		return NULL;
	if (!mg_wname_ok(n)) {
		*bad = 1;
		return NULL;
	}
	return n;
}

static void
option(void *arg, const struct mg_worker *w)
{
	fputs("<option value=\"", arg);
	mg_html(arg, w->name);
	fputs("\">", arg);
}

void
mg_map_page(const struct mg_view *v, FILE *out)
{
	char buf[FIELD], path[4096], err[MG_ERRLEN];
	int bad;
	const char *node = node_of(v, buf, sizeof buf, &bad);

	fputs("<form method=\"post\" action=\"", out);
	mg_html(out, v->script);
	fputs("/map/filter\">", out);
	mg_csrf_field(out, v->s);
	fputs("<label>Node <input name=\"node\" id=\"node\" list=\"nodes\" "
	    "maxlength=\"64\" placeholder=\"every node\" value=\"", out);
	mg_html(out, node != NULL ? node : "");
	fputs("\"></label><datalist id=\"nodes\">", out);
	mg_worker_list(v->st, option, out);
	fputs("</datalist> <button type=\"submit\" id=\"filter\">Show"
	    "</button></form>\n", out);
	if (bad) {
		mg_message(out, "Not a node's name.", NULL);
		return;
	}
	/* Drawn here, so that a failure is told on the page. */
	if (mg_map_svg(v->cf, node, path, sizeof path, err, sizeof err) != 0) {
		mg_message(out, "No map", err);
		return;
	}
	fputs("<p>Links seen by ", out);
	mg_html(out, node != NULL ? node : "every node");
	fputs(", drawn again when the hub's data changes.</p>\n"
	    "<p><img id=\"map\" alt=\"the hub's map\" src=\"", out);
	mg_html(out, v->script);
	fputs("/map.svg", out);
	if (node != NULL) {
		fputs("?node=", out);
		mg_html(out, node);
	}
	fputs("\" style=\"max-width:100%\"></p>\n", out);
}

void
mg_map_image(const struct mg_view *v, FILE *out)
{
	char buf[FIELD], path[4096], err[MG_ERRLEN] = "", chunk[65536];
	int bad;
	const char *node = node_of(v, buf, sizeof buf, &bad);
	FILE *f = NULL;
	size_t n;

	if (bad)
		snprintf(err, sizeof err, "not a node's name");
	if (bad || mg_map_svg(v->cf, node, path, sizeof path, err,
	    sizeof err) != 0 || (f = fopen(path, "r")) == NULL) {
		if (!bad && f == NULL && *err == '\0')
			snprintf(err, sizeof err, "the map cannot be read");
		fprintf(out, "Status: %d %s\r\nContent-Type: text/plain; "
		    "charset=utf-8\r\nCache-Control: no-store\r\n\r\n",
		    bad ? 400 : 502, bad ? "Bad Request" : "Bad Gateway");
		mg_html(out, err);
		fputs("\n", out);
		return;
	}
	/* Its own policy: opened by itself, the SVG runs nothing either. */
	fputs("Status: 200 OK\r\nContent-Type: image/svg+xml\r\n"
	    "Cache-Control: private, no-cache\r\n"
	    "X-Content-Type-Options: nosniff\r\n"
	    "Content-Security-Policy: default-src 'none'; style-src "
	    "'unsafe-inline'\r\n\r\n", out);
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		fwrite(chunk, 1, n, out);
	fclose(f);
}

int
mg_map_filter_act(const struct mg_view *v, const char *form, size_t len,
    FILE *out, const char **location)
{
	static char loc[FIELD + 16];
	char buf[FIELD];
	const char *node = mg_form_get(form, len, "node", buf, sizeof buf);

	if (node == NULL || *node == '\0') {
		*location = "/map";
		return 303;
	}
	if (!mg_wname_ok(node)) {
		mg_message(out, "Not a node's name.", NULL);
		mg_map_page(v, out);
		return 400;
	}
	snprintf(loc, sizeof loc, "/map?node=%s", node);
	*location = loc;
	return 303;
}
