/* cgi.c: one request in, one CGI response out: the routes (GET a page,
   POST /login, POST /logout), the cookies, and the log line for every
   refusal.  It writes to a FILE so the unit tests read its answers
   without a server. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "manager/manager.h"

#define COOKIE_SESSION "hm_session"
#define COOKIE_LOGIN "hm_login"
#define FIELD 256	/* bytes of a form field read (a name is far less) */

/* The pages after login; the next ones (workers, map, controls) are added
   here and nowhere else. */
const struct mg_page mg_pages[] = {
	{ "/", "Dashboard", mg_dashboard, 0 },
	{ "/workers", "Workers", mg_workers_page, 0 },
	{ "/map", "Map", mg_map_page, 0 },
	{ "/controls", "Controls", mg_controls_page, 0 },
	{ "/map.svg", "Map", mg_map_image, 1 },
	{ NULL, NULL, NULL, 0 }
};

const struct mg_action mg_actions[] = {
	{ "/workers/add", "Workers", mg_worker_add_act },
	{ "/workers/remove", "Workers", mg_worker_del_act },
	{ "/workers/key-add", "New API key", mg_hubkey_add_act },
	{ "/workers/key-revoke", "Workers", mg_hubkey_revoke_act },
	{ "/map/filter", "Map", mg_map_filter_act },
	{ "/controls/rotate", "Controls", mg_rotate_act },
	{ "/controls/dump", "Controls", mg_dump_act },
	{ "/controls/admin-key", "Controls", mg_admin_key_act },
	{ NULL, NULL, NULL }
};

struct ctx {
	const struct mg_config *cf;
	const struct mg_req *req;
	time_t now;
	FILE *out;
	struct mg_store st;
};

static void
fail(struct ctx *c, const char *user, const char *reason)
{
	mg_authlog(c->cf->log, "AUTH_FAILURE", user, c->req->remote, reason,
	    c->now);
}

/* The status line and the headers every answer has. */
static void
head(struct ctx *c, int status, const char *why)
{
	fprintf(c->out, "Status: %d %s\r\n"
	    "Content-Type: text/html; charset=utf-8\r\n"
	    "Cache-Control: no-store\r\n"
	    "X-Frame-Options: DENY\r\n"
	    "X-Content-Type-Options: nosniff\r\n"
	    "Referrer-Policy: no-referrer\r\n"
	    "Content-Security-Policy: default-src 'none'; style-src "
	    "'unsafe-inline'; img-src 'self'; form-action 'self'; "
	    "frame-ancestors 'none'\r\n",
	    status, why);
}

/* A cookie the browser keeps for max_age seconds (0: deletes it). */
static void
cookie(struct ctx *c, const char *name, const char *value, long max_age)
{
	const char *path = *c->req->script != '\0' ? c->req->script : "/";

	fprintf(c->out, "Set-Cookie: %s=%s; Path=%s; Max-Age=%ld; HttpOnly; "
	    "Secure; SameSite=Strict\r\n", name, value, path, max_age);
}

static void
end_head(struct ctx *c)
{
	fputs("\r\n", c->out);
}

static void
redirect_home(struct ctx *c)
{
	fprintf(c->out, "Location: %s/\r\n", c->req->script);
	end_head(c);
}

static void
login_page(struct ctx *c, int status, const char *why, const char *message)
{
	char token[MG_TOKEN_HEX + 1];

	mg_login_token(&c->st, c->now, token);
	head(c, status, why);
	cookie(c, COOKIE_LOGIN, token, MG_LOGIN_FORM_LIFETIME);
	end_head(c);
	mg_page_top(c->out, c->req->script, "Log in", NULL);
	/* The cookies are Secure: a browser drops them over plain HTTP
	   (localhost aside), and the login then fails as a stale form.  Say
	   why before the operator wonders. */
	if (!c->req->https)
		fputs("<p class=\"msg\" id=\"insecure\">This page came over "
		    "plain HTTP: browsers keep the manager's cookies (Secure) "
		    "only over HTTPS, so a login works only over HTTPS (or a "
		    "proxy that speaks it), or on localhost.</p>\n", c->out);
	mg_login_form(c->out, c->req->script, token, message);
	mg_page_bottom(c->out);
}

static void
plain_page(struct ctx *c, int status, const char *why, const char *text)
{
	head(c, status, why);
	end_head(c);
	mg_page_top(c->out, c->req->script, why, NULL);
	mg_message(c->out, text, NULL);
	mg_page_bottom(c->out);
}

static const char *
form(struct ctx *c, const char *name, char *buf)
{
	return mg_form_get(c->req->body, c->req->body_len, name, buf, FIELD);
}

static int
form_type_ok(const struct mg_req *req)
{
	static const char t[] = "application/x-www-form-urlencoded";

	return strncmp(req->content_type, t, sizeof t - 1) == 0 &&
	    (req->content_type[sizeof t - 1] == '\0' ||
	    req->content_type[sizeof t - 1] == ';');
}

static void
do_login(struct ctx *c)
{
	char user[FIELD], code[FIELD], csrf[FIELD], ck[FIELD], id[MG_TOKEN_HEX + 1];
	const char *u = form(c, "user", user), *k = form(c, "code", code);
	const char *t = form(c, "csrf", csrf), *lock;
	struct mg_session s;
	enum mg_totp_result r;

	if (u == NULL)
		u = "";
	if (t == NULL || mg_cookie_get(c->req->cookies, COOKIE_LOGIN, ck,
	    sizeof ck) == NULL || !mg_token_eq(t, ck) ||
	    !mg_login_token_ok(&c->st, t, c->now)) {
		fail(c, u, t == NULL ? "missing_csrf" : "bad_csrf");
		login_page(c, 403, "Forbidden", "The form was stale or not "
		    "ours; log in again.");
		return;
	}
	if ((lock = mg_rate_check(&c->st, u, c->req->remote, c->now)) != NULL) {
		fail(c, u, lock);
		login_page(c, 429, "Too Many Requests", "Too many failed "
		    "logins; try again later.");
		return;
	}
	/* A name that cannot exist takes the unknown user's path, which
	   takes as long as a wrong code's (totp.c). */
	r = k == NULL ? MG_TOTP_MALFORMED : mg_totp_check(&c->st, u, k, c->now);
	if (r != MG_TOTP_OK) {
		mg_rate_fail(&c->st, u, c->req->remote, c->now);
		fail(c, u, mg_totp_reason(r));
		login_page(c, 403, "Forbidden", "Login failed.");
		return;
	}
	mg_rate_clear(&c->st, u, c->req->remote, c->now);
	if (mg_session_new(&c->st, u, c->now, id, &s) != 0) {
		plain_page(c, 500, "Internal Server Error", "The session "
		    "could not be stored.");
		return;
	}
	mg_authlog(c->cf->log, "LOGIN", u, c->req->remote, "ok", c->now);
	head(c, 303, "See Other");
	cookie(c, COOKIE_SESSION, id, MG_SESSION_LIFETIME);
	cookie(c, COOKIE_LOGIN, "", 0);
	redirect_home(c);
}

/* The session the cookie names: LIVE fills s; an expired or unknown one
   is logged (the expired one not as a failure: it is the lifetime at
   work, not an attack). */
static enum mg_session_state
session(struct ctx *c, struct mg_session *s, char *id)
{
	enum mg_session_state st;

	if (mg_cookie_get(c->req->cookies, COOKIE_SESSION, id,
	    MG_TOKEN_HEX + 1) == NULL || *id == '\0')
		return MG_SESSION_NONE;
	st = mg_session_get(&c->st, id, c->now, s);
	if (st == MG_SESSION_EXPIRED)
		mg_authlog(c->cf->log, "SESSION_EXPIRED", s->user,
		    c->req->remote, "lifetime", c->now);
	else if (st == MG_SESSION_NONE)
		fail(c, "", "bad_session");
	return st;
}

static void
do_logout(struct ctx *c)
{
	char id[MG_TOKEN_HEX + 1], csrf[FIELD];
	const char *t = form(c, "csrf", csrf);
	struct mg_session s;

	if (session(c, &s, id) != MG_SESSION_LIVE) {
		head(c, 303, "See Other");
		cookie(c, COOKIE_SESSION, "", 0);
		redirect_home(c);
		return;
	}
	if (t == NULL || !mg_token_eq(t, s.csrf)) {
		fail(c, s.user, t == NULL ? "missing_csrf" : "bad_csrf");
		plain_page(c, 403, "Forbidden", "The form was stale or not "
		    "ours.");
		return;
	}
	mg_session_end(&c->st, id);
	mg_authlog(c->cf->log, "LOGOUT", s.user, c->req->remote, "ok", c->now);
	head(c, 303, "See Other");
	cookie(c, COOKIE_SESSION, "", 0);
	redirect_home(c);
}

static struct mg_view
view(struct ctx *c, const struct mg_session *s)
{
	struct mg_view v = { .cf = c->cf, .st = &c->st, .s = s,
	    .script = c->req->script, .remote = c->req->remote,
	    .query = c->req->query, .raw = c->out, .now = c->now };

	return v;
}

/* A form after login: no live session goes back to the login form; a
   missing or foreign CSRF token is refused and logged, as at login. */
static void
do_action(struct ctx *c, const struct mg_action *a)
{
	char id[MG_TOKEN_HEX + 1], csrf[FIELD], *body = NULL;
	const char *t = form(c, "csrf", csrf), *location = NULL;
	struct mg_session s;
	struct mg_view v;
	size_t len = 0;
	FILE *page;
	int status;

	switch (session(c, &s, id)) {
	case MG_SESSION_LIVE:
		break;
	case MG_SESSION_EXPIRED:
		login_page(c, 403, "Forbidden", "Your session expired; log in "
		    "again.");
		return;
	case MG_SESSION_NONE:
		login_page(c, 403, "Forbidden", NULL);
		return;
	}
	if (t == NULL || !mg_token_eq(t, s.csrf)) {
		fail(c, s.user, t == NULL ? "missing_csrf" : "bad_csrf");
		plain_page(c, 403, "Forbidden", "The form was stale or not "
		    "ours.");
		return;
	}
	if ((page = open_memstream(&body, &len)) == NULL) {
		plain_page(c, 500, "Internal Server Error", "Out of memory.");
		return;
	}
	v = view(c, &s);
	status = a->act(&v, c->req->body, c->req->body_len, page, &location);
	if (fclose(page) != 0 && status != 0) {
		free(body);
		plain_page(c, 500, "Internal Server Error", "Out of memory.");
		return;
	}
	if (status == 0)
		;	/* answered on v.raw already */
	else if (location != NULL) {
		head(c, 303, "See Other");
		fprintf(c->out, "Location: %s%s\r\n", c->req->script, location);
		end_head(c);
	} else {
		head(c, status, status == 200 ? "OK" : status == 400 ?
		    "Bad Request" : status == 404 ? "Not Found" : status == 502 ?
		    "Bad Gateway" : "Internal Server Error");
		end_head(c);
		mg_page_top(c->out, c->req->script, a->title, &s);
		fwrite(body, 1, len, c->out);
		mg_page_bottom(c->out);
	}
	free(body);
}

static void
do_get(struct ctx *c)
{
	const char *path = *c->req->path != '\0' ? c->req->path : "/";
	char id[MG_TOKEN_HEX + 1];
	const struct mg_page *p;
	struct mg_session s;

	if (strcmp(path, "/login") == 0)
		path = "/";
	for (p = mg_pages; p->path != NULL; p++)
		if (strcmp(p->path, path) == 0)
			break;
	if (p->path == NULL) {
		plain_page(c, 404, "Not Found", "No such page.");
		return;
	}
	switch (session(c, &s, id)) {
	case MG_SESSION_LIVE: {
		struct mg_view v = view(c, &s);

		if (p->raw) {
			p->render(&v, c->out);
			return;
		}
		head(c, 200, "OK");
		end_head(c);
		mg_page_top(c->out, c->req->script, p->title, &s);
		p->render(&v, c->out);
		mg_page_bottom(c->out);
		return;
	}
	case MG_SESSION_EXPIRED:
		login_page(c, 200, "OK", "Your session expired; log in again.");
		return;
	case MG_SESSION_NONE:
		login_page(c, 200, "OK", NULL);
		return;
	}
}

void
mg_cgi_handle(const struct mg_config *cf, const struct mg_req *req,
    time_t now, FILE *out)
{
	struct ctx c = { .cf = cf, .req = req, .now = now, .out = out };
	char err[MG_ERRLEN];
	int post = strcmp(req->method, "POST") == 0;

	if (mg_store_open(&c.st, cf->dir, cf->key_file, err, sizeof err) != 0) {
		/* The reason goes to the server's error log, not the page. */
		fprintf(stderr, "hopmap-manager: %s\n", err);
		plain_page(&c, 500, "Internal Server Error", "The manager's "
		    "store cannot be opened; see the server's error log.");
		return;
	}
	if (post && !form_type_ok(req))
		plain_page(&c, 415, "Unsupported Media Type", "Forms only.");
	else if (post && strcmp(req->path, "/login") == 0)
		do_login(&c);
	else if (post && strcmp(req->path, "/logout") == 0)
		do_logout(&c);
	else if (post) {
		const struct mg_action *a;

		for (a = mg_actions; a->path != NULL; a++)
			if (strcmp(a->path, req->path) == 0)
				break;
		if (a->path != NULL)
			do_action(&c, a);
		else
			plain_page(&c, 404, "Not Found", "No such form.");
	}
	else if (strcmp(req->method, "GET") == 0 ||
	    strcmp(req->method, "HEAD") == 0)
		do_get(&c);
	else
		plain_page(&c, 405, "Method Not Allowed", "GET or POST only.");
	mg_store_close(&c.st);
}
