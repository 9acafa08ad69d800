/* totp.c: RFC 6238 codes with liboath, each accepted once.  The step a
   code matched is stored per user by one conditional UPDATE, so two CGI
   processes given the same code cannot both accept it, and a code of an
   earlier step is refused once a later one was used. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <liboath/oath.h>
#include <sodium.h>

#include "manager/manager.h"

int
mg_otpauth_uri(const char *name, const char *b32, char *buf, size_t cap)
{
	int n;

	/* The name is mg_name_ok, so it needs no escaping in the URI. */
	n = snprintf(buf, cap, "otpauth://totp/hopmap:%s?secret=%s&issuer="
	    "hopmap&algorithm=SHA1&digits=6&period=%d", name, b32,
	    MG_TOTP_STEP);
	return n < 0 || (size_t)n >= cap ? -1 : 0;
}

const char *
mg_totp_reason(enum mg_totp_result r)
{
	switch (r) {
	case MG_TOTP_OK: return "ok";
	case MG_TOTP_UNKNOWN_USER: return "unknown_user";
	case MG_TOTP_MALFORMED: return "malformed_code";
	case MG_TOTP_BAD_CODE: return "bad_code";
	case MG_TOTP_REPLAYED: return "replayed_code";
	case MG_TOTP_ERROR: break;
	}
	return "store_error";
}

/* The user's secret, opened; NULL when there is no such user (*found 0)
   or it does not open. */
static unsigned char *
secret_of(struct mg_store *st, const char *user, size_t *len, int *found)
{
	sqlite3_stmt *q;
	unsigned char *plain = NULL;

	*found = 0;
	if (sqlite3_prepare_v2(st->db, "SELECT secret FROM users WHERE "
	    "name = ?", -1, &q, NULL) != SQLITE_OK)
		return NULL;
	sqlite3_bind_text(q, 1, user, -1, SQLITE_STATIC);
	if (sqlite3_step(q) == SQLITE_ROW) {
		*found = 1;
		plain = mg_open(st, sqlite3_column_blob(q, 0),
		    (size_t)sqlite3_column_bytes(q, 0), user, len);
	}
	sqlite3_finalize(q);
	return plain;
}

/* A random secret of a user's size, sealed and opened again as a user's
   is: what an unknown name costs. */
static unsigned char *
decoy(struct mg_store *st, size_t *len)
{
	unsigned char raw[MG_SECRET_BYTES], *box, *plain;
	size_t boxlen;

	randombytes_buf(raw, sizeof raw);
	if ((box = mg_seal(st, raw, sizeof raw, "-", &boxlen)) == NULL)
		return NULL;
	plain = mg_open(st, box, boxlen, "-", len);
	free(box);
	return plain;
}

/* Take step for user unless it or a later one was taken: 1 taken, 0 not,
   -1 error. */
static int
take_step(struct mg_store *st, const char *user, uint64_t step, time_t now)
{
	sqlite3_stmt *q;
	int rc;

	if (sqlite3_prepare_v2(st->db, "UPDATE users SET last_step = ?, "
	    "last_login = ? WHERE name = ? AND last_step < ?", -1, &q,
	    NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int64(q, 1, (sqlite3_int64)step);
	sqlite3_bind_int64(q, 2, (sqlite3_int64)now);
	sqlite3_bind_text(q, 3, user, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 4, (sqlite3_int64)step);
	rc = sqlite3_step(q);
	sqlite3_finalize(q);
	if (rc != SQLITE_DONE)
		return -1;
	return sqlite3_changes(st->db) > 0;
}

enum mg_totp_result
mg_totp_check(struct mg_store *st, const char *user, const char *code,
    time_t now)
{
	unsigned char *secret;
	uint64_t step = 0;
	size_t i, len = 0;
	int found, pos, rc;

	for (i = 0; code[i] != '\0'; i++)
		if (code[i] < '0' || code[i] > '9')
			break;
	if (i != 6 || code[i] != '\0')
		return MG_TOTP_MALFORMED;
	secret = secret_of(st, user, &len, &found);
	if (secret == NULL && found)
		return MG_TOTP_ERROR;
	if (secret == NULL) {
		/* No such user: the same work as a wrong code (a secret opened
		   and the code checked against it), so that the answer's time
		   does not tell which names exist. */
		secret = decoy(st, &len);
		if (secret != NULL) {
			oath_totp_validate3((const char *)secret, len, now,
			    MG_TOTP_STEP, OATH_TOTP_DEFAULT_START_TIME,
			    MG_TOTP_WINDOW, &pos, &step, code);
			sodium_free(secret);
		}
		return MG_TOTP_UNKNOWN_USER;
	}
	rc = oath_totp_validate3((const char *)secret, len, now, MG_TOTP_STEP,
	    OATH_TOTP_DEFAULT_START_TIME, MG_TOTP_WINDOW, &pos, &step, code);
	sodium_free(secret);
	if (rc < 0)
		return rc == OATH_INVALID_OTP ? MG_TOTP_BAD_CODE :
		    MG_TOTP_ERROR;
	switch (take_step(st, user, step, now)) {
	case 1: return MG_TOTP_OK;
	case 0: return MG_TOTP_REPLAYED;
	}
	return MG_TOTP_ERROR;
}
