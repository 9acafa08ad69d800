/* users.c: the users and their TOTP secrets, sealed under the server key
   with the user's name as associated data. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <liboath/oath.h>
#include <sodium.h>

#include "manager/manager.h"

int
mg_name_ok(const char *name)
{
	size_t i, n = strlen(name);

	if (n == 0 || n > MG_NAME_MAX || name[0] == '.' || name[0] == '-')
		return 0;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

static int
exists(struct mg_store *st, const char *name)
{
	sqlite3_stmt *q;
	int rc;

	if (sqlite3_prepare_v2(st->db, "SELECT 1 FROM users WHERE name = ?",
	    -1, &q, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	sqlite3_finalize(q);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

int
mg_user_add(struct mg_store *st, const char *name, char *b32, size_t cap)
{
	unsigned char secret[MG_SECRET_BYTES], *box;
	char *enc = NULL;
	size_t enclen, boxlen;
	sqlite3_stmt *q;
	int rc;

	if ((rc = exists(st, name)) != 0)
		return rc;
	randombytes_buf(secret, sizeof secret);
	if (oath_base32_encode((const char *)secret, sizeof secret, &enc,
	    &enclen) != OATH_OK || enclen + 1 > cap) {
		free(enc);
		return -1;
	}
	memcpy(b32, enc, enclen);
	b32[enclen] = '\0';
	sodium_memzero(enc, enclen);
	free(enc);
	box = mg_seal(st, secret, sizeof secret, name, &boxlen);
	sodium_memzero(secret, sizeof secret);
	if (box == NULL)
		return -1;
	rc = sqlite3_prepare_v2(st->db, "INSERT INTO users (name, secret, "
	    "created) VALUES (?, ?, ?)", -1, &q, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
		sqlite3_bind_blob(q, 2, box, (int)boxlen, SQLITE_TRANSIENT);
		sqlite3_bind_int64(q, 3, (sqlite3_int64)time(NULL));
		rc = sqlite3_step(q);
		sqlite3_finalize(q);
	}
	free(box);
	if (rc == SQLITE_CONSTRAINT)
		return 1;
	return rc == SQLITE_DONE ? 0 : -1;
}

int
mg_user_del(struct mg_store *st, const char *name)
{
	sqlite3_stmt *q;
	int n, rc;

	if (sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) !=
	    SQLITE_OK)
		return -1;
	rc = sqlite3_prepare_v2(st->db, "DELETE FROM users WHERE name = ?", -1,
	    &q, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
		rc = sqlite3_step(q);
		sqlite3_finalize(q);
	}
	n = sqlite3_changes(st->db);
	/* Their sessions end, and their addresses are no longer known: a
	   user of the same name made later starts afresh. */
	if (rc == SQLITE_DONE && sqlite3_prepare_v2(st->db, "DELETE FROM "
	    "sessions WHERE user = ?", -1, &q, NULL) == SQLITE_OK) {
		sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
		rc = sqlite3_step(q);
		sqlite3_finalize(q);
	}
	if (rc == SQLITE_DONE && sqlite3_prepare_v2(st->db, "DELETE FROM "
	    "known_addrs WHERE user = ?", -1, &q, NULL) == SQLITE_OK) {
		sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
		rc = sqlite3_step(q);
		sqlite3_finalize(q);
	}
	if (rc != SQLITE_DONE ||
	    sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
		return -1;
	}
	return n > 0 ? 0 : 1;
}

int
mg_user_list(struct mg_store *st,
    void (*fn)(void *arg, const char *name, int64_t created, int64_t last),
    void *arg)
{
	sqlite3_stmt *q;
	int rc;

	if (sqlite3_prepare_v2(st->db, "SELECT name, created, "
	    "coalesce(last_login, 0) FROM users ORDER BY name", -1, &q,
	    NULL) != SQLITE_OK)
		return -1;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW)
		fn(arg, (const char *)sqlite3_column_text(q, 0),
		    sqlite3_column_int64(q, 1), sqlite3_column_int64(q, 2));
	sqlite3_finalize(q);
	return rc == SQLITE_DONE ? 0 : -1;
}
