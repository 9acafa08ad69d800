/* workers_page.c: the workers page and its forms: register a node by URL
   (type and name from its /service-info, a manual type overriding, a poll
   key kept sealed), remove it, and make or revoke its API key on the hub
   (the new key shown once, never stored here).  Plain forms, no script. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "manager/manager.h"

#define FIELD 512

static void
when(FILE *out, int64_t t, time_t now)
{
	char buf[32];
	time_t tt = (time_t)t;
	struct tm tm;

	if (t <= 0) {
		fputs("never", out);
		return;
	}
	strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%SZ", gmtime_r(&tt, &tm));
	fprintf(out, "%s (%" PRId64 " s ago)", buf, (int64_t)now - t);
}

/* A one-button form on a worker's row. */
static void
button(const struct mg_view *v, FILE *out, const char *action,
    const struct mg_worker *w, const char *label, const char *id)
{
	fputs("<form method=\"post\" action=\"", out);
	mg_html(out, v->script);
	fprintf(out, "%s\">", action);
	mg_csrf_field(out, v->s);
	fprintf(out, "<input type=\"hidden\" name=\"id\" value=\"%" PRId64
	    "\"><button type=\"submit\" id=\"%s-", w->id, id);
	mg_html(out, w->name);
	fprintf(out, "\">%s</button></form>", label);
}

struct rows {
	const struct mg_view *v;
	FILE *out;
};

static void
worker_row(void *arg, const struct mg_worker *w)
{
	const struct mg_view *v = ((struct rows *)arg)->v;
	FILE *out = ((struct rows *)arg)->out;

	fputs("<tr class=\"worker\"><td class=\"name\">", out);
	mg_html(out, w->name);
	fputs("</td><td class=\"url\">", out);
	mg_html(out, w->url);
	fputs("</td><td class=\"type\">", out);
	mg_html(out, w->type);
	if (w->manual) {
		fputs(" (manual; detected ", out);
		mg_html(out, *w->detected != '\0' ? w->detected : "none");
		fputs(")", out);
	}
	fprintf(out, "</td><td class=\"state\">%s</td><td class=\"seen\">",
	    w->polled == 0 ? "not polled yet" : w->up ? "up" : "down");
	when(out, w->last_seen, v->now);
	if (!w->up && *w->error != '\0') {
		fputs("<br><span class=\"msg\">", out);
		mg_html(out, w->error);
		fputs("</span>", out);
	}
	fputs("</td><td class=\"version\">", out);
	mg_html(out, w->version);
	fputs("</td><td class=\"counters\">", out);
	if (w->up)
		fprintf(out, "uptime %" PRId64 " s; ", w->uptime);
	mg_html(out, w->counters);
	fputs("</td><td>", out);
	button(v, out, "/workers/key-add", w, "New API key", "key-add");
	button(v, out, "/workers/key-revoke", w, "Revoke API key",
	    "key-revoke");
	button(v, out, "/workers/remove", w, "Remove", "remove");
	fputs("</td></tr>\n", out);
}

void
mg_workers_page(const struct mg_view *v, FILE *out)
{
	struct rows arg = { v, out };

	fputs("<table id=\"workers\"><tr><th>name</th><th>URL</th>"
	    "<th>type</th><th>state</th><th>last seen</th><th>version</th>"
	    "<th>counters</th><th></th></tr>\n", out);
	if (mg_worker_list(v->st, worker_row, &arg) != 0) {
		fputs("</table><p class=\"msg\">The store failed: ", out);
		mg_html(out, sqlite3_errmsg(v->st->db));
		fputs("</p>\n", out);
		return;
	}
	fputs("</table>\n<p>States are what <code>hopmap-manager poll</code> "
	    "saw last (cron, each minute).  An API key made here is the "
	    "worker's key on the hub, shown once.</p>\n"
	    "<h2>Register a worker</h2>\n<form method=\"post\" action=\"", out);
	mg_html(out, v->script);
	fputs("/workers/add\">", out);
	mg_csrf_field(out, v->s);
	fprintf(out, "\n<p><label>URL <input name=\"url\" id=\"url\" required "
	    "maxlength=\"%d\" placeholder=\"https://worker.example:8080\">"
	    "</label></p>\n<p><label>Type <input name=\"type\" id=\"type\" "
	    "maxlength=\"%d\" placeholder=\"detected\"></label></p>\n"
	    "<p><label>Its key, if its /health needs one <input "
	    "name=\"key\" id=\"key\" type=\"password\" autocomplete=\"off\" "
	    "maxlength=\"128\"></label></p>\n<p><button type=\"submit\" "
	    "id=\"register\">Register</button></p>\n</form>\n", MG_URL_MAX,
	    MG_TYPE_MAX);
}

static const char *
field(const char *form, size_t len, const char *name, char *buf)
{
	const char *v = mg_form_get(form, len, name, buf, FIELD);

	return v != NULL ? v : "";
}

/* The worker the form's id names into w: 0, or the status to answer
   after writing why. */
static int
the_worker(const struct mg_view *v, const char *form, size_t len,
    struct mg_worker *w, FILE *out)
{
	char buf[FIELD], *end;
	const char *id = field(form, len, "id", buf);
	long long n = strtoll(id, &end, 10);
	int rc;

	if (*id == '\0' || *end != '\0' || n <= 0) {
		mg_message(out, "No worker named", NULL);
		return 400;
	}
	if ((rc = mg_worker_get(v->st, (int64_t)n, w)) != 0) {
		mg_message(out, rc > 0 ? "No such worker" : "The store failed",
		    NULL);
		return rc > 0 ? 404 : 500;
	}
	return 0;
}

int
mg_worker_add_act(const struct mg_view *v, const char *form, size_t len,
    FILE *out, const char **location)
{
	char url[FIELD], type[FIELD], key[FIELD], err[MG_ERRLEN];
	int64_t id;
	int rc;

	rc = mg_worker_register(v->st, field(form, len, "url", url),
	    field(form, len, "type", type), field(form, len, "key", key),
	    v->now, &id, err, sizeof err);
	sodium_memzero(key, sizeof key);
	if (rc == 0) {
		*location = "/workers";
		return 303;
	}
	mg_message(out, "Not registered", err);
	mg_workers_page(v, out);
	return 400;
}

int
mg_worker_del_act(const struct mg_view *v, const char *form, size_t len,
    FILE *out, const char **location)
{
	struct mg_worker w;
	int rc;

	if ((rc = the_worker(v, form, len, &w, out)) != 0)
		return rc;
	if (mg_worker_del(v->st, w.id) < 0) {
		mg_message(out, "The store failed", sqlite3_errmsg(v->st->db));
		return 500;
	}
	*location = "/workers";
	return 303;
}

int
mg_hubkey_add_act(const struct mg_view *v, const char *form, size_t len,
    FILE *out, const char **location)
{
	char key[160], err[MG_ERRLEN];
	struct mg_worker w;
	int rc;

	(void)location;
	if ((rc = the_worker(v, form, len, &w, out)) != 0)
		return rc;
	if (mg_hubkey_add(v->cf->hub_dir, w.name, 0, key, sizeof key, err,
	    sizeof err) != 0) {
		mg_message(out, "No key made", err);
		return 502;
	}
	mg_authlog(v->cf->log, "KEY_ADD", v->s->user, v->remote, w.name,
	    v->now);
	fputs("<p>The hub's new API key for <strong id=\"keyname\">", out);
	mg_html(out, w.name);
	fputs("</strong>, shown this once (give it to the worker: "
	    "<code>hopmap-worker --key-file</code>); the manager keeps no copy:"
	    "</p>\n<p><code id=\"newkey\">", out);
	mg_html(out, key);
	sodium_memzero(key, sizeof key);
	fputs("</code></p>\n<p><a href=\"", out);
	mg_html(out, v->script);
	fputs("/workers\">Back to the workers</a></p>\n", out);
	return 200;
}

int
mg_hubkey_revoke_act(const struct mg_view *v, const char *form, size_t len,
    FILE *out, const char **location)
{
	char err[MG_ERRLEN];
	struct mg_worker w;
	int rc;

	if ((rc = the_worker(v, form, len, &w, out)) != 0)
		return rc;
	rc = mg_hubkey_revoke(v->cf->hub_dir, w.name, err, sizeof err);
	if (rc < 0) {
		mg_message(out, "Not revoked", err);
		return 502;
	}
	if (rc == 1) {
		mg_message(out, "The hub has no key named", w.name);
		mg_workers_page(v, out);
		return 404;
	}
	mg_authlog(v->cf->log, "KEY_REVOKE", v->s->user, v->remote, w.name,
	    v->now);
	*location = "/workers";
	return 303;
}
