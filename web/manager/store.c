/* store.c: DIR/manager.db: its schema, and opening it under the server key.
   The meta table keeps a check value sealed under the key, so a wrong key
   is told apart from a damaged store before any secret is touched. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <liboath/oath.h>
#include <sodium.h>

#include "manager/manager.h"

static const char schema[] =
"PRAGMA journal_mode = WAL;"
"CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v BLOB NOT NULL);"
"CREATE TABLE IF NOT EXISTS users (name TEXT PRIMARY KEY,"
" secret BLOB NOT NULL, last_step INTEGER NOT NULL DEFAULT -1,"
" created INTEGER NOT NULL, last_login INTEGER);"
/* Only a hash of a session id is kept: a copy of the store opens no
   session. */
"CREATE TABLE IF NOT EXISTS sessions (id_hash TEXT PRIMARY KEY,"
" user TEXT NOT NULL, csrf TEXT NOT NULL, expires INTEGER NOT NULL);"
"CREATE TABLE IF NOT EXISTS failures (at INTEGER NOT NULL, user TEXT,"
" ip TEXT);"
"CREATE INDEX IF NOT EXISTS failures_user ON failures (user, at);"
"CREATE INDEX IF NOT EXISTS failures_ip ON failures (ip, at);"
/* The addresses each user logged in from (ratelimit.c): a user's lock
   does not hold there. */
"CREATE TABLE IF NOT EXISTS known_addrs (user TEXT NOT NULL, ip TEXT NOT NULL,"
" at INTEGER NOT NULL, PRIMARY KEY (user, ip));"
/* The registered nodes (workers.c); key is the poll key, sealed to the
   URL; the rest is what the last poll saw (poll.c). */
"CREATE TABLE IF NOT EXISTS workers (id INTEGER PRIMARY KEY,"
" url TEXT UNIQUE NOT NULL, name TEXT NOT NULL, type TEXT NOT NULL,"
" detected TEXT NOT NULL, manual INTEGER NOT NULL, key BLOB,"
" added INTEGER NOT NULL, polled INTEGER, last_seen INTEGER,"
" up INTEGER NOT NULL DEFAULT 0, uptime INTEGER, version TEXT,"
" counters TEXT, error TEXT);"
/* The hub's counts, one row a poll: the dashboard's charts. */
"CREATE TABLE IF NOT EXISTS samples (at INTEGER PRIMARY KEY,"
" probed INTEGER, responders INTEGER, routers INTEGER, links INTEGER);";

static const char check_plain[] = "hopmap-manager server key check";

static int
db_fail(struct mg_store *st, const char *what, char *err, size_t errlen)
{
	snprintf(err, errlen, "%s: %s", what, sqlite3_errmsg(st->db));
	return -1;
}

/* The key as given: --key-file, HOPMAP_MANAGER_KEY, or DIR/server.key
   (made when may_make and missing). */
static int
load_key(const char *dir, const char *key_file, int may_make,
    unsigned char key[MG_KEYBYTES], char *err, size_t errlen)
{
	const char *env = getenv("HOPMAP_MANAGER_KEY");
	char path[4096];

	if (key_file != NULL && *key_file != '\0')
		return mg_key_read(key_file, key, err, errlen);
	if (env != NULL && *env != '\0') {
		if (mg_key_from_hex(env, key) != 0) {
			snprintf(err, errlen, "HOPMAP_MANAGER_KEY: not a server "
			    "key (64 hex digits)");
			return -1;
		}
		return 0;
	}
	snprintf(path, sizeof path, "%s/%s", dir, MG_KEY_NAME);
	if (may_make && access(path, F_OK) != 0 && errno == ENOENT)
		return mg_key_make(path, key, err, errlen);
	return mg_key_read(path, key, err, errlen);
}

/* Derive the two working keys from the server key. */
static void
derive(struct mg_store *st, const unsigned char key[MG_KEYBYTES])
{
	crypto_kdf_derive_from_key(st->box_key, MG_KEYBYTES, 1, "hopmapMG",
	    key);
	crypto_kdf_derive_from_key(st->mac_key, MG_KEYBYTES, 2, "hopmapMG",
	    key);
}

/* The check value into *blob (malloc'd): 1 when present, 0 when not. */
static int
read_check(struct mg_store *st, unsigned char **blob, size_t *len)
{
	sqlite3_stmt *q;
	int rc = 0;

	*blob = NULL;
	if (sqlite3_prepare_v2(st->db, "SELECT v FROM meta WHERE k = 'check'",
	    -1, &q, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(q) == SQLITE_ROW) {
		*len = (size_t)sqlite3_column_bytes(q, 0);
		if ((*blob = malloc(*len + 1)) != NULL) {
			memcpy(*blob, sqlite3_column_blob(q, 0), *len);
			rc = 1;
		} else
			rc = -1;
	}
	sqlite3_finalize(q);
	return rc;
}

static int
write_check(struct mg_store *st)
{
	sqlite3_stmt *q;
	unsigned char *box;
	size_t len;
	int rc;

	box = mg_seal(st, check_plain, sizeof check_plain - 1, "check", &len);
	if (box == NULL)
		return -1;
	/* OR IGNORE: another process may have written its own meanwhile;
	   the caller reads back whichever won and checks it. */
	rc = sqlite3_prepare_v2(st->db, "INSERT OR IGNORE INTO meta (k, v) "
	    "VALUES ('check', ?)", -1, &q, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_blob(q, 1, box, (int)len, SQLITE_TRANSIENT);
		rc = sqlite3_step(q) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
		sqlite3_finalize(q);
	}
	free(box);
	return rc == SQLITE_OK ? 0 : -1;
}

int
mg_store_open(struct mg_store *st, const char *dir, const char *key_file,
    char *err, size_t errlen)
{
	unsigned char key[MG_KEYBYTES], *check, *plain;
	char path[4096];
	size_t len, plen;
	int fd, have, ok;

	memset(st, 0, sizeof *st);
	if (sodium_init() < 0 || oath_init() != OATH_OK) {
		snprintf(err, errlen, "libsodium or liboath failed to start");
		return -1;
	}
	if (dir == NULL || *dir == '\0') {
		snprintf(err, errlen, "no manager directory (-d DIR, or "
		    "HOPMAP_MANAGER_DIR)");
		return -1;
	}
	snprintf(path, sizeof path, "%s/%s", dir, MG_DB_NAME);
	/* Made 0600 whatever the web server's umask (SQLite gives its -wal
	   and -shm files the same mode): names, addresses and session
	   hashes are nobody else's to read. */
	if ((fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC,
	    0600)) >= 0)
		close(fd);
	if (sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path, st->db ?
		    sqlite3_errmsg(st->db) : "cannot open");
		mg_store_close(st);
		return -1;
	}
	sqlite3_busy_timeout(st->db, 10000);
	if (sqlite3_exec(st->db, schema, NULL, NULL, NULL) != SQLITE_OK) {
		db_fail(st, path, err, errlen);
		mg_store_close(st);
		return -1;
	}
	if ((have = read_check(st, &check, &len)) < 0) {
		db_fail(st, path, err, errlen);
		mg_store_close(st);
		return -1;
	}
	/* A new store may make its key; one that has a check value never
	   does, or a lost key would silently become a new, empty one. */
	if (load_key(dir, key_file, !have, key, err, errlen) != 0) {
		free(check);
		mg_store_close(st);
		return -1;
	}
	derive(st, key);
	sodium_memzero(key, sizeof key);
	if (!have) {
		if (write_check(st) != 0 || read_check(st, &check, &len) != 1) {
			db_fail(st, path, err, errlen);
			free(check);
			mg_store_close(st);
			return -1;
		}
	}
	plain = mg_open(st, check, len, "check", &plen);
	ok = plain != NULL && plen == sizeof check_plain - 1 &&
	    memcmp(plain, check_plain, plen) == 0;
	if (plain != NULL)
		sodium_free(plain);
	free(check);
	if (!ok) {
		snprintf(err, errlen, "%s: wrong server key (the store was "
		    "made under another)", path);
		mg_store_close(st);
		return -1;
	}
	return 0;
}

void
mg_store_close(struct mg_store *st)
{
	if (st->db != NULL)
		sqlite3_close(st->db);
	sodium_memzero(st, sizeof *st);
}
