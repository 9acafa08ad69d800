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
#include <time.h>

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
/* NULL when user and ip may try; else the reason ("locked_user",
   "locked_ip"). */
const char *mg_rate_check(struct mg_store *st, const char *user,
    const char *ip, time_t now);
void mg_rate_fail(struct mg_store *st, const char *user, const char *ip,
    time_t now);
/* A login succeeded: the user's failures are forgiven. */
void mg_rate_clear(struct mg_store *st, const char *user);

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

/* ---- html.c: text into HTML ---- */
void mg_html(FILE *out, const char *s);

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
};
/* Answer one request: the CGI response (headers, blank line, body) on
   out.  now is the clock, so tests can move it. */
void mg_cgi_handle(const struct mg_config *cf, const struct mg_req *req,
    time_t now, FILE *out);

/* A page after login: the seam where the next pages (workers, map,
   controls) join; cgi.c lists them in its nav and routes GET PATH_INFO. */
struct mg_page {
	const char *path;	/* PATH_INFO, "/" for the dashboard */
	const char *title;
	void (*render)(const struct mg_config *cf, FILE *out);
};
extern const struct mg_page mg_pages[];
void mg_dashboard(const struct mg_config *cf, FILE *out);

#endif
