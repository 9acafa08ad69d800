/* ratelimit.c: failed logins counted in the store over a sliding window,
   per user and per address, so every instance sees every failure.  A
   refusal for a lock is not itself counted: the lock lifts a window after
   the last real attempt, and locked-out guessing is still logged.

   The policy against a lock used as a weapon: failures of a user name can
   be sent by anyone from anywhere, so the user's lock does not hold at an
   address the user logged in from in the last 30 days (that address is
   still held by its own, per-address lock).  An attacker can keep a user
   out of new addresses for as long as they keep failing, but never out of
   the ones the user came from. */
#include <stdio.h>

#include "manager/manager.h"

static long long
count(struct mg_store *st, const char *sql, const char *who, time_t since)
{
	sqlite3_stmt *q;
	long long n = -1;

	if (sqlite3_prepare_v2(st->db, sql, -1, &q, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(q, 1, who, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, (sqlite3_int64)since);
	if (sqlite3_step(q) == SQLITE_ROW)
		n = sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	return n;
}

/* Did user log in from ip within MG_KNOWN_ADDR_AGE? */
static int
known(struct mg_store *st, const char *user, const char *ip, time_t now)
{
	sqlite3_stmt *q;
	int yes = 0;

	if (sqlite3_prepare_v2(st->db, "SELECT 1 FROM known_addrs WHERE "
	    "user = ? AND ip = ? AND at > ?", -1, &q, NULL) != SQLITE_OK)
		return 0;
	sqlite3_bind_text(q, 1, user, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, ip, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 3, (sqlite3_int64)(now - MG_KNOWN_ADDR_AGE));
	yes = sqlite3_step(q) == SQLITE_ROW;
	sqlite3_finalize(q);
	return yes;
}

const char *
mg_rate_check(struct mg_store *st, const char *user, const char *ip,
    time_t now)
{
	time_t since = now - MG_FAIL_WINDOW;
	long long n;

	n = count(st, "SELECT count(*) FROM failures WHERE ip = ? AND at > ?",
	    ip, since);
	if (n < 0 || n >= MG_FAIL_IP_MAX)
		return n < 0 ? "store_error" : "locked_ip";
	n = count(st, "SELECT count(*) FROM failures WHERE user = ? AND "
	    "at > ?", user, since);
	if (n < 0)
		return "store_error";
	if (n < MG_FAIL_USER_MAX || known(st, user, ip, now))
		return NULL;
	return "locked_user";
}

void
mg_rate_fail(struct mg_store *st, const char *user, const char *ip,
    time_t now)
{
	sqlite3_stmt *q;

	if (sqlite3_prepare_v2(st->db, "INSERT INTO failures (at, user, ip) "
	    "VALUES (?, ?, ?)", -1, &q, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(q, 1, (sqlite3_int64)now);
		sqlite3_bind_text(q, 2, user, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 3, ip, -1, SQLITE_STATIC);
		sqlite3_step(q);
		sqlite3_finalize(q);
	}
	/* Old failures count for nothing: keep the table small. */
	if (sqlite3_prepare_v2(st->db, "DELETE FROM failures WHERE at < ?",
	    -1, &q, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(q, 1, (sqlite3_int64)(now - MG_FAIL_WINDOW));
		sqlite3_step(q);
		sqlite3_finalize(q);
	}
}

void
mg_rate_clear(struct mg_store *st, const char *user, const char *ip,
    time_t now)
{
	sqlite3_stmt *q;

	if (sqlite3_prepare_v2(st->db, "INSERT OR REPLACE INTO known_addrs "
	    "(user, ip, at) VALUES (?, ?, ?)", -1, &q, NULL) == SQLITE_OK) {
		sqlite3_bind_text(q, 1, user, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 2, ip, -1, SQLITE_STATIC);
		sqlite3_bind_int64(q, 3, (sqlite3_int64)now);
		sqlite3_step(q);
		sqlite3_finalize(q);
	}

	if (sqlite3_prepare_v2(st->db, "DELETE FROM failures WHERE user = ?",
	    -1, &q, NULL) == SQLITE_OK) {
		sqlite3_bind_text(q, 1, user, -1, SQLITE_STATIC);
		sqlite3_step(q);
		sqlite3_finalize(q);
	}
}
