/* session.c: login sessions in the store, and the CSRF tokens.  A session
   has a fixed lifetime from its login (no sliding renewal), its own CSRF
   token, and is found by a hash of its id. */
#include <string.h>

#include <sodium.h>

#include "manager/manager.h"

static void
random_hex(char out[MG_TOKEN_HEX + 1])
{
	unsigned char b[MG_TOKEN_HEX / 2];

	randombytes_buf(b, sizeof b);
	sodium_bin2hex(out, MG_TOKEN_HEX + 1, b, sizeof b);
}

static void
id_hash(const char *id, char out[MG_TOKEN_HEX + 1])
{
	unsigned char h[MG_TOKEN_HEX / 2];

	crypto_generichash(h, sizeof h, (const unsigned char *)id, strlen(id),
	    NULL, 0);
	sodium_bin2hex(out, MG_TOKEN_HEX + 1, h, sizeof h);
}

int
mg_token_eq(const char *a, const char *b)
{
	size_t n = strlen(a);

	return n == strlen(b) && n > 0 && sodium_memcmp(a, b, n) == 0;
}

int
mg_session_new(struct mg_store *st, const char *user, time_t now,
    char id[MG_TOKEN_HEX + 1], struct mg_session *s)
{
	char h[MG_TOKEN_HEX + 1];
	sqlite3_stmt *q;
	int rc;

	random_hex(id);
	id_hash(id, h);
	memset(s, 0, sizeof *s);
	snprintf(s->user, sizeof s->user, "%s", user);
	random_hex(s->csrf);
	s->expires = (int64_t)now + MG_SESSION_LIFETIME;
	if (sqlite3_prepare_v2(st->db, "INSERT INTO sessions (id_hash, user, "
	    "csrf, expires) VALUES (?, ?, ?, ?)", -1, &q, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(q, 1, h, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, user, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 3, s->csrf, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 4, s->expires);
	rc = sqlite3_step(q);
	sqlite3_finalize(q);
	/* Expired sessions nobody came back for. */
	if (sqlite3_prepare_v2(st->db, "DELETE FROM sessions WHERE expires < ?",
	    -1, &q, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(q, 1, (sqlite3_int64)now - 86400);
		sqlite3_step(q);
		sqlite3_finalize(q);
	}
	return rc == SQLITE_DONE ? 0 : -1;
}

enum mg_session_state
mg_session_get(struct mg_store *st, const char *id, time_t now,
    struct mg_session *s)
{
	char h[MG_TOKEN_HEX + 1];
	sqlite3_stmt *q;
	enum mg_session_state r = MG_SESSION_NONE;

	memset(s, 0, sizeof *s);
	if (strlen(id) != MG_TOKEN_HEX)
		return MG_SESSION_NONE;
	id_hash(id, h);
	if (sqlite3_prepare_v2(st->db, "SELECT user, csrf, expires FROM "
	    "sessions WHERE id_hash = ?", -1, &q, NULL) != SQLITE_OK)
		return MG_SESSION_NONE;
	sqlite3_bind_text(q, 1, h, -1, SQLITE_STATIC);
	if (sqlite3_step(q) == SQLITE_ROW) {
		snprintf(s->user, sizeof s->user, "%s",
		    (const char *)sqlite3_column_text(q, 0));
		snprintf(s->csrf, sizeof s->csrf, "%s",
		    (const char *)sqlite3_column_text(q, 1));
		s->expires = sqlite3_column_int64(q, 2);
		r = s->expires > (int64_t)now ? MG_SESSION_LIVE :
		    MG_SESSION_EXPIRED;
	}
	sqlite3_finalize(q);
	if (r == MG_SESSION_EXPIRED)
		mg_session_end(st, id);
	return r;
}

void
mg_session_end(struct mg_store *st, const char *id)
{
	char h[MG_TOKEN_HEX + 1];
	sqlite3_stmt *q;

	id_hash(id, h);
	if (sqlite3_prepare_v2(st->db, "DELETE FROM sessions WHERE id_hash = ?",
	    -1, &q, NULL) == SQLITE_OK) {
		sqlite3_bind_text(q, 1, h, -1, SQLITE_STATIC);
		sqlite3_step(q);
		sqlite3_finalize(q);
	}
}

/* The login form comes before any session, so its token is its issue
   time, a random nonce and a MAC of both: valid tokens are made only
   here, expire with the form's cookie, and nothing is stored.  The same
   token goes in a cookie and in the form (double submit): a forged
   cross-site POST may carry the cookie but cannot read it. */
#define TOKEN_BYTES (MG_TOKEN_HEX / 2)	/* 8 time, 8 nonce, 16 MAC */

static void
put_time(unsigned char *b, time_t now)
{
	uint64_t t = (uint64_t)now;

	for (int i = 7; i >= 0; i--, t >>= 8)
		b[i] = (unsigned char)t;
}

void
mg_login_token(const struct mg_store *st, time_t now,
    char out[MG_TOKEN_HEX + 1])
{
	unsigned char b[16 + crypto_auth_BYTES];

	put_time(b, now);
	randombytes_buf(b + 8, 8);
	crypto_auth(b + 16, b, 16, st->mac_key);
	/* The MAC is cut to 16 bytes: 32 bytes, 64 hex digits in all. */
	sodium_bin2hex(out, MG_TOKEN_HEX + 1, b, TOKEN_BYTES);
}

int
mg_login_token_ok(const struct mg_store *st, const char *token, time_t now)
{
	unsigned char b[TOKEN_BYTES], mac[crypto_auth_BYTES];
	uint64_t t = 0;
	size_t n = 0;

	if (strlen(token) != MG_TOKEN_HEX ||
	    sodium_hex2bin(b, sizeof b, token, MG_TOKEN_HEX, NULL, &n,
	    NULL) != 0 || n != TOKEN_BYTES)
		return 0;
	crypto_auth(mac, b, 16, st->mac_key);
	if (sodium_memcmp(mac, b + 16, 16) != 0)
		return 0;
	for (int i = 0; i < 8; i++)
		t = t << 8 | b[i];
	/* Made here, so t is a time this clock gave: a little ahead is
	   another instance's clock, not a forgery. */
	return t <= (uint64_t)now + 60 && t + MG_LOGIN_FORM_LIFETIME >
	    (uint64_t)now;
}
