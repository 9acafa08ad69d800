/*
 * manager.h: the face of hopmap's manager (web/manager/): the store of
 * users and sessions under a server key, TOTP, the failure log, the CGI's
 * request parsing and its pages.  manager.cgi (cgi-main.c) and
 * hopmap-manager (manager-main.c) are the two mains on top; each file
 * below does one of these jobs and is tested without a web server
 * (tests/unit/manager_*.c).
 *
 * What must stay true: a secret leaves the store only decrypted under the
 * server key, and only into memory; a name from a request reaches the log
 * escaped (authlog.c) and a page escaped (html.c); a TOTP step is accepted
 * at most once per user, whatever the number of CGI processes (totp.c
 * asks the store with one conditional UPDATE).
 */
#ifndef HOPMAP_MANAGER_H
#define HOPMAP_MANAGER_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include <time.h>

#include <jansson.h>
#include <sqlite3.h>

/* ---- store.c, key.c: DIR/manager.db under the server key ---- */
#define MG_KEYBYTES 32
#define MG_DB_NAME "manager.db"
#define MG_KEY_NAME "server.key"
#define MG_ERRLEN 512

struct mg_store {
	sqlite3 *db;
	unsigned char box_key[MG_KEYBYTES];	/* encrypts secrets (AEAD) */
	unsigned char mac_key[MG_KEYBYTES];	/* signs login-form tokens */
};

/*
 * Open (creating if need be) DIR/manager.db.  The key comes from key_file
 * when given, else HOPMAP_MANAGER_KEY (64 hex digits), else DIR/server.key;
 * a new store makes DIR/server.key (0600) when no key exists.  A store
 * with users is never opened without its key, and a wrong key is refused
 * by the check value ("wrong server key").  Returns 0, or -1 with err set.
 */
int mg_store_open(struct mg_store *st, const char *dir, const char *key_file,
    char *err, size_t errlen);
void mg_store_close(struct mg_store *st);

/* key.c: read a key file (64 hex digits and an optional newline; refused
   when group or others may read it) or make one.  0, or -1 with err. */
int mg_key_read(const char *path, unsigned char key[MG_KEYBYTES], char *err,
    size_t errlen);
int mg_key_make(const char *path, unsigned char key[MG_KEYBYTES], char *err,
    size_t errlen);
int mg_key_from_hex(const char *hex, unsigned char key[MG_KEYBYTES]);
/* Encrypt plain under the box key with ad bound to it (a user's name), so
   a sealed value cannot be moved to another row.  The result (malloc'd)
   is nonce, tag and ciphertext; *outlen its length.  NULL on failure. */
unsigned char *mg_seal(const struct mg_store *st, const void *plain,
    size_t len, const char *ad, size_t *outlen);
/* The inverse, NUL-terminated, in sodium_malloc memory (free it with
   sodium_free); NULL when the value was not sealed under this key and ad. */
unsigned char *mg_open(const struct mg_store *st, const unsigned char *box,
    size_t len, const char *ad, size_t *outlen);

/* ---- users.c ---- */
#define MG_NAME_MAX 32
/* A user name: 1..32 of [A-Za-z0-9._-], not starting with '.' or '-'. */
int mg_name_ok(const char *name);
/* Add a user with a fresh random secret; writes its base32 form (NUL-
   terminated) into b32.  0, 1 when the user exists, -1 on error. */
int mg_user_add(struct mg_store *st, const char *name, char *b32, size_t cap);
/* 0 deleted (with the user's sessions), 1 no such user, -1 error. */
int mg_user_del(struct mg_store *st, const char *name);
/* Calls fn for each user by name: name, created (Unix s), last login. */
int mg_user_list(struct mg_store *st,
    void (*fn)(void *arg, const char *name, int64_t created, int64_t last),
    void *arg);

/* ---- totp.c: RFC 6238, 30 s steps, six digits, +-1 step ---- */
#define MG_TOTP_STEP 30
#define MG_TOTP_WINDOW 1
#define MG_SECRET_BYTES 20
/* The otpauth:// URI for an authenticator app (the name is mg_name_ok). */
int mg_otpauth_uri(const char *name, const char *b32, char *buf, size_t cap);
enum mg_totp_result {
	MG_TOTP_OK,
	MG_TOTP_UNKNOWN_USER,
	MG_TOTP_MALFORMED,	/* not six digits */
	MG_TOTP_BAD_CODE,	/* no step within the window gives it */
	MG_TOTP_REPLAYED,	/* its step, or a later one, was used already */
	MG_TOTP_ERROR		/* the store failed */
};
/* Check code for user at now; on success remember its step. */
enum mg_totp_result mg_totp_check(struct mg_store *st, const char *user,
    const char *code, time_t now);
const char *mg_totp_reason(enum mg_totp_result r);

/* ---- ratelimit.c: failed logins, per user and per address ---- */
#define MG_FAIL_WINDOW 900	/* seconds a failure counts */
#define MG_FAIL_USER_MAX 5	/* failures of one user in the window lock it */
#define MG_FAIL_IP_MAX 20	/* failures from one address lock it */
#define MG_KNOWN_ADDR_AGE (30 * 86400)	/* seconds a login's address is known */
/* NULL when user and ip may try; else the reason ("locked_user",
   "locked_ip").  A user's lock does not hold at an address the user
   logged in from within MG_KNOWN_ADDR_AGE: failures from elsewhere, which
   anyone can send, cannot keep the user out of their own address. */
const char *mg_rate_check(struct mg_store *st, const char *user,
    const char *ip, time_t now);
void mg_rate_fail(struct mg_store *st, const char *user, const char *ip,
    time_t now);
/* A login succeeded: the user's failures are forgiven and ip is known
   as theirs. */
void mg_rate_clear(struct mg_store *st, const char *user, const char *ip,
    time_t now);

/* ---- session.c: sessions in the store (shared by every instance) ---- */
#define MG_SESSION_LIFETIME 3600	/* seconds, fixed from the login */
#define MG_TOKEN_HEX 64		/* a session id or CSRF token: 32 random bytes */
struct mg_session {
	char user[MG_NAME_MAX + 1];
	char csrf[MG_TOKEN_HEX + 1];
	int64_t expires;
};
/* Make a session for user; writes its id (the cookie's value). */
int mg_session_new(struct mg_store *st, const char *user, time_t now,
    char id[MG_TOKEN_HEX + 1], struct mg_session *s);
enum mg_session_state { MG_SESSION_NONE, MG_SESSION_LIVE, MG_SESSION_EXPIRED };
/* Look up the session that id names; the store keeps only a hash of it.
   An expired one is deleted (its user is still returned). */
enum mg_session_state mg_session_get(struct mg_store *st, const char *id,
    time_t now, struct mg_session *s);
void mg_session_end(struct mg_store *st, const char *id);
/* The login form's token: its time, a random nonce and their MAC under
   the store's key, so a token not made here, or older than the form's
   lifetime, is refused without remembering any. */
#define MG_LOGIN_FORM_LIFETIME 3600	/* seconds */
void mg_login_token(const struct mg_store *st, time_t now,
    char out[MG_TOKEN_HEX + 1]);
int mg_login_token_ok(const struct mg_store *st, const char *token,
    time_t now);
/* Constant-time equality of two tokens (both NUL-terminated). */
int mg_token_eq(const char *a, const char *b);

/* ---- authlog.c: the failure log fail2ban reads ---- */
/* Append "TIME hopmap-manager[PID]: EVENT user=NAME ip=ADDR reason=WHY"
   to path (stderr when NULL) in one write.  NAME and ADDR are escaped:
   bytes outside [A-Za-z0-9._:@-] become %XX, an empty one is "-", and a
   long one is cut, so a field is one word that no request can forge. */
void mg_authlog(const char *path, const char *event, const char *user,
    const char *ip, const char *reason, time_t now);
/* The escaping alone: writes at most cap-1 bytes and a NUL. */
void mg_log_escape(const char *in, char *out, size_t cap);

/* ---- cgireq.c: a CGI/1.1 request, parsed ---- */
#define MG_BODY_MAX 16384
struct mg_req {
	const char *method;	/* REQUEST_METHOD */
	const char *script;	/* SCRIPT_NAME: where the manager is mounted */
	const char *path;	/* PATH_INFO, "" when none */
	const char *query;	/* QUERY_STRING, "" when none */
	const char *cookies;	/* HTTP_COOKIE, "" when none */
	const char *remote;	/* REMOTE_ADDR */
	const char *content_type;
	const char *body;	/* the form, NUL-terminated, "" when none */
	size_t body_len;
	int https;		/* HTTPS is "on": the client came over TLS */
};
/* The value of name in an application/x-www-form-urlencoded text (a form
   body or a query string), %-escapes and '+' decoded, into buf; NULL when
   absent, cut, longer than cap-1 or holding a NUL or control byte. */
const char *mg_form_get(const char *text, size_t len, const char *name,
    char *buf, size_t cap);
/* The value of cookie name in a Cookie header into buf (as sent); NULL
   when absent or too long. */
const char *mg_cookie_get(const char *header, const char *name, char *buf,
    size_t cap);
/* Fill req from the environment and read the body (CONTENT_LENGTH bytes,
   at most MG_BODY_MAX) from fd.  0, or an HTTP status to answer (400,
   411, 413). */
int mg_req_from_env(struct mg_req *req, int fd, char **body_owned);

/* ---- run.c: a helper program, without a shell ---- */
/* Run argv (PATH searched) with in (or NULL) on its stdin; its stdout,
   at most cap bytes, NUL-terminated, into *out (malloc'd; free it).  The
   exit code, or -1 with err set when it could not run or was killed. */
int mg_run(char *const argv[], const char *in, char **out, size_t *outlen,
    size_t cap, char *err, size_t errlen);
/* The same, its stdout left to read from *outfd (close it, then mg_wait
   the pid for the exit code).  0, or -1 with err. */
int mg_spawn(char *const argv[], const char *in, pid_t *pid, int *outfd,
    char *err, size_t errlen);
int mg_wait(pid_t pid, const char *name, char *err, size_t errlen);

/* ---- fetch.c: a node's JSON over HTTP(S), by curl ---- */
#define MG_URL_MAX 256
/* A URL the manager takes: http:// or https://, printable, no space,
   quote or backslash, at most MG_URL_MAX bytes. */
int mg_url_ok(const char *url);
/* An API key as hopmap-httpd makes them (base64url, at most 128). */
int mg_key_text_ok(const char *key);
/* GET base+path (key as a Bearer token, or none) within timeout seconds;
   a 200 with a JSON object in *out (json_decref it): 0.  Else -1 and err
   says why ("HTTP 401", "curl failed (exit 7: cannot connect)"...). */
int mg_fetch_json(const char *base, const char *path, const char *key,
    int timeout, json_t **out, char *err, size_t errlen);
/* Any method, any status: 0 with *status and the body in *out when it is
   a JSON object (else NULL); -1 with err when no answer came. */
int mg_http_json(const char *method, const char *base, const char *path,
    const char *key, int timeout, int *status, json_t **out, char *err,
    size_t errlen);
/* GET base+path by curl -i, its answer (status line, headers, blank line,
   body) to read from *fd as it comes: close it, then mg_wait(*pid). */
int mg_stream(const char *base, const char *path, const char *key,
    int timeout, pid_t *pid, int *fd, char *err, size_t errlen);

/* ---- workers.c: the registered nodes and what polling saw ---- */
#define MG_WNAME_MAX 64		/* as hopmap-httpd's key names */
#define MG_TYPE_MAX 32
#define MG_FETCH_TIMEOUT 10	/* seconds for one node's answer */
struct mg_worker {
	int64_t id;
	char url[MG_URL_MAX + 1];
	char name[MG_WNAME_MAX + 1];
	char type[MG_TYPE_MAX + 1];	/* the manual one, else detected */
	char detected[MG_TYPE_MAX + 1];	/* service_type, "" when none */
	int manual;
	int has_key;			/* a poll key is kept (sealed) */
	int up;				/* the last poll's verdict */
	int64_t added, polled, last_seen, uptime;
	char version[MG_TYPE_MAX + 1];
	char counters[1024];		/* "program: name=value ..." */
	char error[256];		/* why the last poll failed */
};
/* A worker name as hopmap-httpd's keys take them: 1..64 of [A-Za-z0-9._-]. */
int mg_wname_ok(const char *name);
/* A type: 1..32 of [a-z0-9_-]. */
int mg_type_ok(const char *type);
/* Register url: its /service-info (with key, if any) gives the name and
   the detected type; type (when not NULL or "") overrides the latter; the
   key is kept sealed to the URL.  0 and *id, or -1 with err. */
int mg_worker_register(struct mg_store *st, const char *url,
    const char *type, const char *key, time_t now, int64_t *id, char *err,
    size_t errlen);
int mg_worker_get(struct mg_store *st, int64_t id, struct mg_worker *w);
int mg_worker_list(struct mg_store *st,
    void (*fn)(void *arg, const struct mg_worker *w), void *arg);
/* 0 removed, 1 no such worker, -1 error. */
int mg_worker_del(struct mg_store *st, int64_t id);
/* The poll key of w into buf (cap bytes), "" when none: 0, or -1 when
   it cannot be opened under this server key. */
int mg_worker_key(struct mg_store *st, const struct mg_worker *w, char *buf,
    size_t cap);

/* ---- poll.c: what hopmap-manager poll does each minute ---- */
/* GET each worker's /health and record the verdict; log one line per
   worker on log.  The number of workers down, or -1 on a store error. */
int mg_poll_workers(struct mg_store *st, time_t now, FILE *log);
/* The hub's counts (targets probed, responders, routers, links) from its
   database, read-only, kept as one sample for the dashboard's charts.
   0, or -1 with err. */
#define MG_NCOUNTS 4
extern const struct mg_count {
	const char *id, *label, *sql;
} mg_counts[MG_NCOUNTS];
int mg_hub_counts(const char *hub_db, int64_t v[MG_NCOUNTS], char *err,
    size_t errlen);
int mg_sample_add(struct mg_store *st, time_t now,
    const int64_t v[MG_NCOUNTS]);

struct mg_config;
/* ---- map.c: the hub's map, made by hopmap-map, cached ---- */
/* The path of a fresh SVG of the hub's map (node NULL: every node) in
   DIR/cache/: made again by hopmap-map (HOPMAP_MANAGER_MAP) when the hub's
   database changed since.  0, or -1 with err. */
int mg_map_svg(const struct mg_config *cf, const char *node, char *path,
    size_t cap, char *err, size_t errlen);

/* ---- hubkey.c: a worker's API key on the hub ---- */
/* hopmap-httpd key add (or revoke) -d hub_dir name, by the program that
   HOPMAP_MANAGER_HTTPD names (default hopmap-httpd).  add writes the new
   key (an admin key with admin) into key (cap bytes).  0, 1 when revoke found no key of that name,
   or -1 with err. */
int mg_hubkey_add(const char *hub_dir, const char *name, int admin,
    char *key, size_t cap, char *err, size_t errlen);
int mg_hubkey_revoke(const char *hub_dir, const char *name, char *err,
    size_t errlen);

/* ---- chart.c: a count over time as inline SVG ---- */
/* n samples (at[] ascending Unix seconds, v[] the count), drawn as
   <svg id="chart-ID">, its label, newest value and span beside it. */
void mg_chart(FILE *out, const char *id, const char *label,
    const int64_t *at, const int64_t *v, size_t n);
#define MG_CHART_POINTS 240	/* at most this many points a chart */

/* ---- html.c: text into HTML ---- */
void mg_html(FILE *out, const char *s);
/* A page's message (id "msg"): what, and ": why" when why is not NULL. */
void mg_message(FILE *out, const char *what, const char *why);

/* ---- pages.c: the frame every page shares, and the login form ---- */
/* The page's top; with a session, the nav and the logout form (its CSRF
   token).  script is SCRIPT_NAME, the prefix of every link. */
void mg_page_top(FILE *out, const char *script, const char *title,
    const struct mg_session *s);
void mg_page_bottom(FILE *out);
/* The login form with its token, and a message above it (or NULL). */
void mg_login_form(FILE *out, const char *script, const char *token,
    const char *message);

/* ---- pages.c, dashboard.c, cgi.c: what the CGI answers ---- */
struct mg_config {
	const char *dir;	/* HOPMAP_MANAGER_DIR */
	const char *key_file;	/* HOPMAP_MANAGER_KEY_FILE */
	const char *log;	/* HOPMAP_MANAGER_LOG */
	const char *hub_db;	/* HOPMAP_MANAGER_HUB_DB: the hub's database */
	const char *hub_dir;	/* HOPMAP_MANAGER_HUB_DIR: its keys */
	const char *hub_url;	/* HOPMAP_MANAGER_HUB_URL: its gateway */
};
/* Answer one request: the CGI response (headers, blank line, body) on
   out.  now is the clock, so tests can move it. */
void mg_cgi_handle(const struct mg_config *cf, const struct mg_req *req,
    time_t now, FILE *out);

/* What a page after login sees: the configuration, the open store, the
   session (its CSRF token for the page's forms), the mount point. */
struct mg_view {
	const struct mg_config *cf;
	struct mg_store *st;
	const struct mg_session *s;
	const char *script;	/* SCRIPT_NAME, the prefix of every link */
	const char *remote;	/* REMOTE_ADDR */
	const char *query;	/* QUERY_STRING */
	FILE *raw;		/* the response itself, for a raw answer */
	time_t now;
};
/* A page after login: the seam where the pages join; cgi.c lists them in
   its nav and routes GET PATH_INFO. */
struct mg_page {
	const char *path;	/* PATH_INFO, "/" for the dashboard */
	const char *title;
	void (*render)(const struct mg_view *v, FILE *out);
	int raw;		/* render writes the whole response (an
				   image, a download): not in the nav */
};
extern const struct mg_page mg_pages[];
void mg_dashboard(const struct mg_view *v, FILE *out);
void mg_workers_page(const struct mg_view *v, FILE *out);
void mg_map_page(const struct mg_view *v, FILE *out);
void mg_map_image(const struct mg_view *v, FILE *out);
void mg_controls_page(const struct mg_view *v, FILE *out);

/* A form after login (POST PATH_INFO), its session and CSRF token checked
   by cgi.c first.  It writes a page's body on out and returns the status,
   or sets *location (a page's path) for a 303 back to it, or returns 0
   after writing the whole response on v->raw itself (a download). */
struct mg_action {
	const char *path;
	const char *title;	/* of the page it answers with */
	int (*act)(const struct mg_view *v, const char *form, size_t len,
	    FILE *out, const char **location);
};
extern const struct mg_action mg_actions[];
int mg_worker_add_act(const struct mg_view *v, const char *form, size_t len,
    FILE *out, const char **location);
int mg_worker_del_act(const struct mg_view *v, const char *form, size_t len,
    FILE *out, const char **location);
int mg_hubkey_add_act(const struct mg_view *v, const char *form, size_t len,
    FILE *out, const char **location);
int mg_hubkey_revoke_act(const struct mg_view *v, const char *form,
    size_t len, FILE *out, const char **location);
int mg_map_filter_act(const struct mg_view *v, const char *form, size_t len,
    FILE *out, const char **location);
int mg_rotate_act(const struct mg_view *v, const char *form, size_t len,
    FILE *out, const char **location);
int mg_dump_act(const struct mg_view *v, const char *form, size_t len,
    FILE *out, const char **location);
int mg_admin_key_act(const struct mg_view *v, const char *form, size_t len,
    FILE *out, const char **location);
/* The hidden CSRF field every form after login carries. */
void mg_csrf_field(FILE *out, const struct mg_session *s);

#endif
