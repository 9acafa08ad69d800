/* ratelimit.c: failed logins counted in the store over a sliding window,
   per user and per address, so every instance sees every failure.  A
   refusal for a lock is not itself counted: the lock lifts a window after
   the last real attempt, and locked-out guessing is still logged. */
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
	if (n < 0 || n >= MG_FAIL_USER_MAX)
		return n < 0 ? "store_error" : "locked_user";
	return NULL;
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
mg_rate_clear(struct mg_store *st, const char *user)
{
	sqlite3_stmt *q;

	if (sqlite3_prepare_v2(st->db, "DELETE FROM failures WHERE user = ?",
	    -1, &q, NULL) == SQLITE_OK) {
		sqlite3_bind_text(q, 1, user, -1, SQLITE_STATIC);
		sqlite3_step(q);
		sqlite3_finalize(q);
	}
}
