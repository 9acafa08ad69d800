/* controls.c: the controls page: rotate the hub's database (POST /rotate
   on the hub's gateway) and download a dump (its GET /dump streamed
   through), both with the admin key the manager keeps sealed in its
   store; the key made on the hub from here, or one given. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "manager/manager.h"

#define ADMIN_NAME "hopmap-manager"	/* the admin key's name on the hub */
#define ADMIN_AD "hub-admin-key"
#define FIELD 256

/* The hub's gateway: HOPMAP_MANAGER_HUB_URL, else the registered node
   whose detected type is the hub's ("output"). */
static int
hub_url(const struct mg_view *v, char *buf, size_t cap)
{
	sqlite3_stmt *q;
	int rc = -1;

	if (v->cf->hub_url != NULL) {
		snprintf(buf, cap, "%s", v->cf->hub_url);
		return mg_url_ok(buf) ? 0 : -1;
	}
	if (sqlite3_prepare_v2(v->st->db, "SELECT url FROM workers WHERE"
	    " detected = 'output' ORDER BY id LIMIT 1", -1, &q, NULL) !=
	    SQLITE_OK)
		return -1;
	if (sqlite3_step(q) == SQLITE_ROW) {
		snprintf(buf, cap, "%s", sqlite3_column_text(q, 0));
		rc = 0;
	}
	sqlite3_finalize(q);
	return rc;
}

/* The admin key into buf: 1 when kept, 0 when none, -1 when it cannot be
   opened under this server key. */
static int
admin_key(struct mg_store *st, char *buf, size_t cap)
{
	unsigned char *plain;
	sqlite3_stmt *q;
	size_t plen;
	int rc = 0;

	*buf = '\0';
	if (sqlite3_prepare_v2(st->db, "SELECT v FROM meta WHERE k ="
	    " 'hub_admin_key'", -1, &q, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(q) == SQLITE_ROW) {
		rc = -1;
		if ((plain = mg_open(st, sqlite3_column_blob(q, 0),
		    (size_t)sqlite3_column_bytes(q, 0), ADMIN_AD, &plen)) !=
		    NULL) {
			if (plen < cap) {
				memcpy(buf, plain, plen + 1);
				rc = 1;
			}
			sodium_free(plain);
		}
	}
	sqlite3_finalize(q);
	return rc;
}

static int
keep_admin_key(struct mg_store *st, const char *key)
{
	unsigned char *box;
	sqlite3_stmt *q;
	size_t len;
	int rc;

	if ((box = mg_seal(st, key, strlen(key), ADMIN_AD, &len)) == NULL)
		return -1;
	rc = sqlite3_prepare_v2(st->db, "INSERT OR REPLACE INTO meta (k, v)"
	    " VALUES ('hub_admin_key', ?)", -1, &q, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_blob(q, 1, box, (int)len, SQLITE_STATIC);
		rc = sqlite3_step(q) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
		sqlite3_finalize(q);
	}
	free(box);
	return rc == SQLITE_OK ? 0 : -1;
}

static void
form_head(const struct mg_view *v, FILE *out, const char *action)
{
	fputs("<form method=\"post\" action=\"", out);
	mg_html(out, v->script);
	fputs(action, out);
	fputs("\">", out);
	mg_csrf_field(out, v->s);
}

void
mg_controls_page(const struct mg_view *v, FILE *out)
{
	char url[MG_URL_MAX + 1], key[160];
	int have = admin_key(v->st, key, sizeof key);

	sodium_memzero(key, sizeof key);
	fputs("<p>The hub's gateway: <code id=\"hub-url\">", out);
	if (hub_url(v, url, sizeof url) == 0)
		mg_html(out, url);
	else
		fputs("none (set HOPMAP_MANAGER_HUB_URL, or register the hub "
		    "on the workers page)", out);
	fprintf(out, "</code>; the manager's admin key there: <span "
	    "id=\"admin-key\">%s</span>.</p>\n", have > 0 ? "kept" : have == 0 ?
	    "none" : "unreadable under this server key");
	fputs("<h2>The hub's database</h2>\n", out);
	form_head(v, out, "/controls/rotate");
	fputs("<button type=\"submit\" id=\"rotate\">Rotate: start a new "
	    "file</button></form>\n", out);
	form_head(v, out, "/controls/dump");
	fputs("<button type=\"submit\" id=\"dump\">Download a dump "
	    "(SQLite)</button></form>\n<h2>The manager's admin key</h2>\n"
	    "<p>Made on the hub as <code>" ADMIN_NAME "</code> (an older one "
	    "of that name is revoked), or one given; kept sealed under the "
	    "server key.</p>\n", out);
	form_head(v, out, "/controls/admin-key");
	fputs("<label>Admin key <input name=\"key\" id=\"admin-key-text\" "
	    "type=\"password\" autocomplete=\"off\" maxlength=\"128\" "
	    "placeholder=\"empty: make one on the hub\"></label> <button "
	    "type=\"submit\" id=\"admin-key-set\">Keep</button></form>\n",
	    out);
}

/* The hub's URL and the admin key, or the status after saying why. */
static int
need(const struct mg_view *v, char *url, size_t ucap, char *key,
    size_t kcap, FILE *out)
{
	if (hub_url(v, url, ucap) != 0) {
		mg_message(out, "No hub gateway is known", "set "
		    "HOPMAP_MANAGER_HUB_URL or register the hub");
		return 400;
	}
	if (admin_key(v->st, key, kcap) <= 0) {
		mg_message(out, "The manager keeps no admin key for the hub",
		    "make one below");
		mg_controls_page(v, out);
		return 400;
	}
	return 0;
}

int
mg_rotate_act(const struct mg_view *v, const char *form, size_t len,
    FILE *out, const char **location)
{
	char url[MG_URL_MAX + 1], key[160], err[MG_ERRLEN];
	const char *why, *file;
	json_t *j = NULL;
	int rc, status;

	(void)form;
	(void)len;
	(void)location;
	if ((rc = need(v, url, sizeof url, key, sizeof key, out)) != 0)
		return rc;
	rc = mg_http_json("POST", url, "/rotate", key, 60, &status, &j, err,
	    sizeof err);
	sodium_memzero(key, sizeof key);
	if (rc != 0 || status != 200) {
		why = json_string_value(json_object_get(j, "error"));
		if (rc == 0)
			snprintf(err, sizeof err, "HTTP %d: %s", status,
			    why != NULL ? why : "no reason given");
		mg_message(out, "Not rotated", err);
		json_decref(j);
		return 502;
	}
	mg_authlog(v->cf->log, "ROTATE", v->s->user, v->remote, "ok", v->now);
	file = json_string_value(json_object_get(j, "file"));
	fputs("<p id=\"rotated\">Rotated: the hub writes to <code>", out);
	mg_html(out, file != NULL ? file : "a new file");
	fputs("</code> now.</p>\n", out);
	json_decref(j);
	mg_controls_page(v, out);
	return 200;
}

/* Read the hub's status line and headers from fd (up to the blank line);
   the status, and its Content-Disposition's file name when it is a plain
   one. */
static int
answer_head(int fd, char *name, size_t cap)
{
	char head[16384], *line, *save, *eol;
	size_t len = 0;
	ssize_t n;
	int status = 0;

	*name = '\0';
	/* A byte at a time, so no byte of the body is read here. */
	while (len < sizeof head - 1 && (n = read(fd, head + len, 1)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		len++;
		if (len >= 4 && memcmp(head + len - 4, "\r\n\r\n", 4) == 0)
			break;
	}
	head[len] = '\0';
	if (len < 4 || memcmp(head + len - 4, "\r\n\r\n", 4) != 0)
		return -1;
	for (line = strtok_r(head, "\r\n", &save); line != NULL;
	    line = strtok_r(NULL, "\r\n", &save)) {
		if (strncmp(line, "HTTP/", 5) == 0 && (eol = strchr(line,
		    ' ')) != NULL)
			status = atoi(eol + 1);
		else if (strncasecmp(line, "Content-Disposition:", 20) == 0 &&
		    (eol = strstr(line, "filename=\"")) != NULL) {
			size_t k = strspn(eol + 10, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
			    "abcdefghijklmnopqrstuvwxyz0123456789._-");

			if (eol[10 + k] == '"' && k > 0 && k < cap &&
			    eol[10] != '.') {
				memcpy(name, eol + 10, k);
				name[k] = '\0';
			}
		}
	}
	return status;
}

int
mg_dump_act(const struct mg_view *v, const char *form, size_t len,
    FILE *out, const char **location)
{
	char url[MG_URL_MAX + 1], key[160], err[MG_ERRLEN], name[128];
	char chunk[65536];
	ssize_t n;
	pid_t pid;
	int rc, fd, status;

	(void)form;
	(void)len;
	(void)location;
	if ((rc = need(v, url, sizeof url, key, sizeof key, out)) != 0)
		return rc;
	rc = mg_stream(url, "/dump", key, 3600, &pid, &fd, err, sizeof err);
	sodium_memzero(key, sizeof key);
	if (rc != 0) {
		mg_message(out, "No dump", err);
		return 502;
	}
	status = answer_head(fd, name, sizeof name);
	if (status != 200) {
		close(fd);
		if (mg_wait(pid, "curl", err, sizeof err) > 0 || status < 0)
			snprintf(err, sizeof err, "the hub did not answer");
		else
			snprintf(err, sizeof err, "the hub answered HTTP %d",
			    status);
		mg_message(out, "No dump", err);
		return 502;
	}
	mg_authlog(v->cf->log, "DUMP", v->s->user, v->remote, "ok", v->now);
	fprintf(v->raw, "Status: 200 OK\r\nContent-Type: "
	    "application/vnd.sqlite3\r\nContent-Disposition: attachment; "
	    "filename=\"%s\"\r\nCache-Control: no-store\r\n"
	    "X-Content-Type-Options: nosniff\r\n\r\n", *name != '\0' ? name :
	    "hub.db");
	/* Streamed through as it comes: a dump may be larger than memory. */
	while ((n = read(fd, chunk, sizeof chunk)) > 0 ||
	    (n < 0 && errno == EINTR))
		if (n > 0 && fwrite(chunk, 1, (size_t)n, v->raw) != (size_t)n)
			break;
	close(fd);
	if (mg_wait(pid, "curl", err, sizeof err) != 0)
		fprintf(stderr, "hopmap-manager: dump: %s\n", *err != '\0' ?
		    err : "curl failed: the download is cut");
	return 0;
}

int
mg_admin_key_act(const struct mg_view *v, const char *form, size_t len,
    FILE *out, const char **location)
{
	char given[FIELD], key[160], err[MG_ERRLEN];
	const char *k = mg_form_get(form, len, "key", given, sizeof given);

	if (k != NULL && *k != '\0') {
		if (!mg_key_text_ok(k)) {
			sodium_memzero(given, sizeof given);
			mg_message(out, "Not kept", "not an API key");
			mg_controls_page(v, out);
			return 400;
		}
		snprintf(key, sizeof key, "%s", k);
	} else {
		/* The manager's own name: its older key goes first. */
		if (mg_hubkey_revoke(v->cf->hub_dir, ADMIN_NAME, err,
		    sizeof err) < 0 || mg_hubkey_add(v->cf->hub_dir,
		    ADMIN_NAME, 1, key, sizeof key, err, sizeof err) != 0) {
			mg_message(out, "No admin key made", err);
			mg_controls_page(v, out);
			return 502;
		}
	}
	sodium_memzero(given, sizeof given);
	if (keep_admin_key(v->st, key) != 0) {
		sodium_memzero(key, sizeof key);
		mg_message(out, "The store failed", sqlite3_errmsg(v->st->db));
		return 500;
	}
	sodium_memzero(key, sizeof key);
	mg_authlog(v->cf->log, "ADMIN_KEY", v->s->user, v->remote, "ok",
	    v->now);
	*location = "/controls";
	return 303;
}
