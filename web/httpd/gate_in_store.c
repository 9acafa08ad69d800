/*
 * gate_in_store.c: the input's state in SQLite (HUB/gateway.db): each
 * consumer (an API key's worker), each cursor (a consumer's own, or the
 * one --shard shares) and the hop pool (one row per address: the global
 * dedup; a cursor's hop_pos is the last row it was given).
 *
 * The caller wraps each answer in one transaction and commits it before
 * the answer leaves, so a lost answer repeats targets and never skips
 * them.  WAL with synchronous FULL: a commit survives the machine too.
 * Not thread-safe: gate_in.c holds its lock around every use.
 */
#include <stdio.h>
#include <string.h>

#include "httpd/gate_in.h"

static const char schema[] =
"PRAGMA journal_mode=WAL;"
"PRAGMA synchronous=FULL;"
"CREATE TABLE IF NOT EXISTS consumers(name TEXT PRIMARY KEY,"
"  first_seen REAL, last_seen REAL, ranges_served INTEGER DEFAULT 0,"
"  hops_served INTEGER DEFAULT 0);"
"CREATE TABLE IF NOT EXISTS cursors(name TEXT PRIMARY KEY, fp TEXT,"
"  range_pos INTEGER, hop_pos INTEGER, restarts INTEGER);"
"CREATE TABLE IF NOT EXISTS hops(id INTEGER PRIMARY KEY,"
"  ip INTEGER NOT NULL UNIQUE, found_by TEXT, added REAL);"
"CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value INTEGER);";

int
gi_store_open(struct gi_store *s, const char *path, char *err, size_t errlen)
{
	char *msg = NULL;

	s->path = path;
	if (sqlite3_open(path, &s->db) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path, s->db ?
		    sqlite3_errmsg(s->db) : "out of memory");
		gi_store_close(s);
		return -1;
	}
	sqlite3_busy_timeout(s->db, 10000);
	if (sqlite3_exec(s->db, schema, NULL, NULL, &msg) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path, msg ? msg : "?");
		sqlite3_free(msg);
		gi_store_close(s);
		return -1;
	}
	return 0;
}

void
gi_store_close(struct gi_store *s)
{
	sqlite3_close(s->db);
	s->db = NULL;
}

static int
exec(struct gi_store *s, const char *sql)
{
	return sqlite3_exec(s->db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
}

int
gi_store_begin(struct gi_store *s)
{
	return exec(s, "BEGIN IMMEDIATE");
}

int
gi_store_commit(struct gi_store *s)
{
	return exec(s, "COMMIT");
}

void
gi_store_rollback(struct gi_store *s)
{
	if (!sqlite3_get_autocommit(s->db))
		exec(s, "ROLLBACK");
}

static sqlite3_stmt *
prep(struct gi_store *s, const char *sql)
{
	sqlite3_stmt *st = NULL;

	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
		return NULL;
	return st;
}

/* Step a statement that returns no row, and finalize it. */
static int
done(sqlite3_stmt *st)
{
	int rc = st != NULL ? sqlite3_step(st) : SQLITE_ERROR;

	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

int
gi_store_cursor(struct gi_store *s, const char *name, const char *fp,
    struct gi_cursor *c)
{
	sqlite3_stmt *st = prep(s, "SELECT fp, range_pos, hop_pos, restarts "
	    "FROM cursors WHERE name = ?");
	const unsigned char *t;
	int rc;

	memset(c, 0, sizeof *c);
	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if ((t = sqlite3_column_text(st, 0)) != NULL)
			snprintf(c->fp, sizeof c->fp, "%s", (const char *)t);
		c->range_pos = (uint64_t)sqlite3_column_int64(st, 1);
		c->hop_pos = sqlite3_column_int64(st, 2);
		c->restarts = (uint64_t)sqlite3_column_int64(st, 3);
	} else if (rc == SQLITE_DONE && fp != NULL) {
		snprintf(c->fp, sizeof c->fp, "%s", fp);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

int
gi_store_cursor_save(struct gi_store *s, const char *name,
    const struct gi_cursor *c)
{
	sqlite3_stmt *st = prep(s, "INSERT OR REPLACE INTO cursors(name, fp, "
	    "range_pos, hop_pos, restarts) VALUES (?, ?, ?, ?, ?)");

	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, c->fp, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)c->range_pos);
	sqlite3_bind_int64(st, 4, c->hop_pos);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)c->restarts);
	return done(st);
}

int
gi_store_seen(struct gi_store *s, const char *consumer, double now,
    uint64_t ranges, uint64_t hops)
{
	sqlite3_stmt *st = prep(s, "INSERT INTO consumers(name, first_seen, "
	    "last_seen, ranges_served, hops_served) VALUES (?1, ?2, ?2, ?3, ?4) "
	    "ON CONFLICT(name) DO UPDATE SET last_seen = ?2, "
	    "ranges_served = ranges_served + ?3, hops_served = hops_served + ?4");

	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, consumer, -1, SQLITE_STATIC);
	sqlite3_bind_double(st, 2, now);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)ranges);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)hops);
	return done(st);
}

/* Rows (id, ip, found_by) of ST into H. */
static int
hops_read(sqlite3_stmt *st, struct gi_hop *h, size_t max, size_t *got)
{
	const unsigned char *t;
	int rc = SQLITE_DONE;

	*got = 0;
	while (*got < max && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		h[*got].id = sqlite3_column_int64(st, 0);
		h[*got].ip = (uint32_t)sqlite3_column_int64(st, 1);
		t = sqlite3_column_text(st, 2);
		snprintf(h[*got].found_by, sizeof h[*got].found_by, "%s",
		    t ? (const char *)t : "");
		(*got)++;
	}
	if (*got < max && rc != SQLITE_DONE) {
		sqlite3_finalize(st);
		return -1;
	}
	sqlite3_finalize(st);
	return 0;
}

int
gi_store_pool(struct gi_store *s, int64_t after, struct gi_hop *h,
    size_t max, size_t *got)
{
	sqlite3_stmt *st = prep(s, "SELECT id, ip, found_by FROM hops "
	    "WHERE id > ? ORDER BY id LIMIT ?");

	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, after);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)max);
	return hops_read(st, h, max, got);
}

static int
count(struct gi_store *s, sqlite3_stmt *st, uint64_t *n)
{
	int rc;

	(void)s;
	*n = 0;
	if (st == NULL)
		return -1;
	if ((rc = sqlite3_step(st)) == SQLITE_ROW)
		*n = (uint64_t)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : -1;
}

int
gi_store_pool_count(struct gi_store *s, int64_t after, uint64_t *n)
{
	sqlite3_stmt *st = prep(s, "SELECT count(*) FROM hops WHERE id > ?");

	if (st != NULL)
		sqlite3_bind_int64(st, 1, after);
	return count(s, st, n);
}

int
gi_store_hop_add(struct gi_store *s, uint32_t ip, const char *found_by)
{
	sqlite3_stmt *st = prep(s, "INSERT OR IGNORE INTO hops(ip, found_by, "
	    "added) VALUES (?, ?, strftime('%s','now'))");

	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, ip);
	if (found_by != NULL && *found_by != '\0')
		sqlite3_bind_text(st, 2, found_by, -1, SQLITE_STATIC);
	if (done(st) != 0)
		return -1;
	return sqlite3_changes(s->db) > 0;
}

int64_t
gi_store_pool_top(struct gi_store *s)
{
	uint64_t n;

	if (count(s, prep(s, "SELECT coalesce(max(id), 0) FROM hops"), &n) != 0)
		return -1;
	return (int64_t)n;
}

int
gi_store_meta_get(struct gi_store *s, const char *key, int64_t *v)
{
	sqlite3_stmt *st = prep(s, "SELECT value FROM meta WHERE key = ?");
	int rc;

	*v = 0;
	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW)
		*v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

int
gi_store_meta_set(struct gi_store *s, const char *key, int64_t v)
{
	sqlite3_stmt *st = prep(s, "INSERT OR REPLACE INTO meta(key, value) "
	    "VALUES (?, ?)");

	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, v);
	return done(st);
}

int
gi_store_known(struct gi_store *s, const char *consumer)
{
	sqlite3_stmt *st = prep(s, "SELECT 1 FROM consumers WHERE name = ?");
	int rc;

	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, consumer, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}
