/*
 * store.c: sqlsink's database: the schema, the prepared statements,
 * a record's rows (pings, traces and their hops, links, targets, raw) and
 * the ids that make a retried delivery harmless.  Only the writer thread
 * calls it once the pipeline runs.
 */
#include <string.h>

#include "sink.h"

/* The schema, documented column by column in sqlsink(1). */
static const char schema[] =
"CREATE TABLE IF NOT EXISTS pings (id INTEGER PRIMARY KEY, rid,"
" ip TEXT NOT NULL, node TEXT, src TEXT, method TEXT, ok INTEGER,"
" sent INTEGER, recv INTEGER, rtt_ms REAL, reply_ttl INTEGER, ts TEXT,"
" json TEXT NOT NULL);"
"CREATE TABLE IF NOT EXISTS traces (id INTEGER PRIMARY KEY, rid,"
" ip TEXT NOT NULL, node TEXT, src TEXT, method TEXT, stop TEXT,"
" hop_count INTEGER, ts TEXT, json TEXT NOT NULL);"
"CREATE TABLE IF NOT EXISTS hops (trace_id INTEGER NOT NULL"
" REFERENCES traces(id), ttl INTEGER, ip TEXT, rtt_ms REAL,"
" icmp_type INTEGER, icmp_code INTEGER, reply_ttl INTEGER, node TEXT,"
" src TEXT, tcp_flags TEXT);"
"CREATE TABLE IF NOT EXISTS links (a TEXT NOT NULL, b TEXT NOT NULL,"
" node TEXT NOT NULL, src TEXT, count INTEGER NOT NULL, first_seen TEXT,"
" last_seen TEXT, min_rtt_ms REAL, UNIQUE (a, b, node));"
"CREATE TABLE IF NOT EXISTS targets (id INTEGER PRIMARY KEY, rid,"
" ip TEXT NOT NULL, node TEXT, src TEXT, via TEXT, ttl INTEGER,"
" json TEXT NOT NULL);"
"CREATE TABLE IF NOT EXISTS raw (id INTEGER PRIMARY KEY, rid, node,"
" src, reason TEXT, json TEXT NOT NULL);"
"CREATE TABLE IF NOT EXISTS ids (rid PRIMARY KEY,"
" inherited INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;"
"CREATE INDEX IF NOT EXISTS hops_trace ON hops (trace_id);";

/*
 * The schema's version, in user_version.  1: the first; 2: hops has
 * tcp_flags (added at the end, so a migrated file and a new one have the
 * same columns in the same order).  An older file is brought up to date
 * when opened, in one transaction; a newer one is refused.
 */
#define SCHEMA_VERSION 2
static const char migrate_tcp_flags[] =
"BEGIN IMMEDIATE; ALTER TABLE hops ADD COLUMN tcp_flags TEXT;"
"PRAGMA user_version = 2; COMMIT";

enum stmt_id {
	S_ID, S_PING, S_TRACE, S_HOP, S_LINK, S_TARGET, S_RAW, S_BEGIN,
	S_COMMIT, S_NSTMT
};

static const char *const stmt_sql[S_NSTMT] = {
	[S_ID] = "INSERT OR IGNORE INTO ids (rid) VALUES (?1)",
	[S_PING] = "INSERT INTO pings (rid, ip, node, src, method, ok, sent,"
	    " recv, rtt_ms, reply_ttl, ts, json) VALUES"
	    " (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
	[S_TRACE] = "INSERT INTO traces (rid, ip, node, src, method, stop,"
	    " hop_count, ts, json) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
	[S_HOP] = "INSERT INTO hops (trace_id, ttl, ip, rtt_ms, icmp_type,"
	    " icmp_code, reply_ttl, tcp_flags, node, src) VALUES"
	    " (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
	/* min() of SQL is NULL when either side is: coalesce keeps the
	   known RTT when one of them is unknown. */
	[S_LINK] = "INSERT INTO links (a, b, node, src, count, first_seen,"
	    " last_seen, min_rtt_ms) VALUES (?1, ?2, ?3, ?4, 1, ?5, ?5, ?6)"
	    " ON CONFLICT (a, b, node) DO UPDATE SET count = count + 1,"
	    " first_seen = min(first_seen, excluded.first_seen),"
	    " last_seen = max(last_seen, excluded.last_seen),"
	    " min_rtt_ms = coalesce(min(min_rtt_ms, excluded.min_rtt_ms),"
	    " min_rtt_ms, excluded.min_rtt_ms)",
	[S_TARGET] = "INSERT INTO targets (rid, ip, node, src, via, ttl, json)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	[S_RAW] = "INSERT INTO raw (rid, node, src, reason, json)"
	    " VALUES (?1, ?2, ?3, ?4, ?5)",
	[S_BEGIN] = "BEGIN",
	[S_COMMIT] = "COMMIT",
};

static sqlite3 *db;
static sqlite3_stmt *stmt[S_NSTMT];
char sink_cur_path[PATH_MAX];

/* An error names the database as the user did (the stable name), then
   the file of the series and the step that failed. */
static _Noreturn void
db_fail(const char *what)
{
	hm_errx(HM_EXIT_FAIL, "%s: %s (%s: %s)", sink_db_name(),
	    db ? sqlite3_errmsg(db) : "out of memory", sink_cur_path, what);
}

void
sink_db_exec(const char *sql)
{
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
		db_fail(sql);
}

sqlite3_int64
sink_db_int(const char *sql)
{
	sqlite3_stmt *st;
	sqlite3_int64 v = 0;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		db_fail(sql);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

void
sink_db_open(const char *path)
{
	size_t i;

	snprintf(sink_cur_path, sizeof(sink_cur_path), "%s", path);
	/* One thread at a time uses the connection (main opens it before the
	   writer starts; after that only the writer): no mutexes needed. */
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK)
		db_fail("open");
	sqlite3_busy_timeout(db, 10000);
	/* 8 KB pages: a record is about 500 bytes with its JSON; fewer,
	   larger pages cut B-tree and WAL overhead (measured 10%).  Takes
	   effect for a new file only. */
	sink_db_exec("PRAGMA page_size = 8192");
	/* WAL: readers (sqlite3, the manager) never block the sink.  With
	   synchronous=NORMAL a commit survives a crash of this process (the
	   WAL is written before COMMIT returns); only an OS crash or power
	   loss may roll back the last batches, never corrupt the file. */
	sink_db_exec("PRAGMA journal_mode = WAL");
	sink_db_exec(sink_opt.sync_full ? "PRAGMA synchronous = FULL" :
	    "PRAGMA synchronous = NORMAL");
	sink_db_exec("PRAGMA cache_size = -32768");
	/* Checkpoint every 32 MB of WAL rather than 4: pages that many
	   batches touch (index leaves, a table's last page) are copied once. */
	sink_db_exec("PRAGMA wal_autocheckpoint = 4096");
	if (sink_db_int("PRAGMA user_version") > SCHEMA_VERSION)
		hm_errx(HM_EXIT_FAIL, "%s: made by a newer sqlsink (%s)",
		    sink_db_name(), path);
	sink_db_exec(schema);
	if (sink_db_int("SELECT count(*) FROM pragma_table_info('hops')"
	    " WHERE name = 'tcp_flags'") == 0) {
		sink_db_exec(migrate_tcp_flags);
		if (sink_opt.verbose)
			SAY("%s: schema brought to version 2 (hops.tcp_flags)",
			    path);
	}
	if (sink_db_int("PRAGMA user_version") < SCHEMA_VERSION)
		sink_db_exec("PRAGMA user_version = 2");
	for (i = 0; i < S_NSTMT; i++)
		if (sqlite3_prepare_v3(db, stmt_sql[i], -1,
		    SQLITE_PREPARE_PERSISTENT, &stmt[i], NULL) != SQLITE_OK)
			db_fail(stmt_sql[i]);
}

void
sink_db_close(void)
{
	size_t i;

	for (i = 0; i < S_NSTMT; i++) {
		sqlite3_finalize(stmt[i]);
		stmt[i] = NULL;
	}
	if (sqlite3_close(db) != SQLITE_OK)
		db_fail("close");
	db = NULL;
}

int
sink_db_is_open(void)
{
	return db != NULL;
}

/* Run a statement whose parameters are bound, then reset it. */
static void
step(enum stmt_id s)
{
	int rc = sqlite3_step(stmt[s]);

	if (rc != SQLITE_DONE)
		db_fail(stmt_sql[s]);
	/* Every parameter is bound again before the next step, so the
	   bindings need no clearing. */
	sqlite3_reset(stmt[s]);
}

/* Bind a JSON value as the SQL value closest to it; absent is NULL. */
static void
bind_json(enum stmt_id s, int i, const json_t *v)
{
	sqlite3_stmt *st = stmt[s];
	json_free_t jfree;
	char *text;

	switch (v ? json_typeof(v) : JSON_NULL) {
	case JSON_STRING:
		sqlite3_bind_text(st, i, json_string_value(v),
		    (int)json_string_length(v), SQLITE_STATIC);
		break;
	case JSON_INTEGER:
		sqlite3_bind_int64(st, i, json_integer_value(v));
		break;
	case JSON_REAL:
		sqlite3_bind_double(st, i, json_real_value(v));
		break;
	case JSON_TRUE:
		sqlite3_bind_int(st, i, 1);
		break;
	case JSON_FALSE:
		sqlite3_bind_int(st, i, 0);
		break;
	case JSON_OBJECT:
	case JSON_ARRAY:
		/* Made by jansson's allocator: freed by it too. */
		text = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER);
		json_get_alloc_funcs(NULL, &jfree);
		sqlite3_bind_text(st, i, text, -1, jfree);
		break;
	default:
		sqlite3_bind_null(st, i);
	}
}

static void
bind_col(enum stmt_id s, int i, const struct col *c)
{
	sqlite3_stmt *st = stmt[s];

	switch (c->type) {
	case JSON_STRING:
		sqlite3_bind_text(st, i, c->v.s, c->len, SQLITE_STATIC);
		break;
	case JSON_INTEGER:
		sqlite3_bind_int64(st, i, c->v.i);
		break;
	case JSON_REAL:
		sqlite3_bind_double(st, i, c->v.d);
		break;
	case JSON_NULL:
		sqlite3_bind_null(st, i);
		break;
	default:
		bind_json(s, i, c->v.j);
	}
}

static void
bind_text(enum stmt_id s, int i, const struct item *it)
{
	sqlite3_bind_text(stmt[s], i, it->text, (int)it->len, SQLITE_STATIC);
}

/* The columns every table starts with: rid, ip, node, src. */
static void
bind_head(enum stmt_id s, const struct item *it)
{
	bind_col(s, 1, &it->col[C_RID]);
	bind_col(s, 2, &it->col[C_IP]);
	bind_col(s, 3, &it->col[C_NODE]);
	bind_col(s, 4, &it->col[C_SRC]);
}

static void
store_ping(const struct item *it)
{
	int i;

	bind_head(S_PING, it);
	for (i = 0; i < 7; i++)
		bind_col(S_PING, 5 + i, &it->col[C_PING + i]);
	bind_text(S_PING, 12, it);
	step(S_PING);
	sink_n.pings++;
}

/* A responsive hop, for links. */
struct rhop {
	json_int_t ttl;
	const char *ip;
	const json_t *rtt;
};

/* Responsive hops with an integer TTL, sorted by TTL (stable). */
static size_t
responsive_hops(const json_t *hops, struct rhop *out, size_t max)
{
	size_t i, n = 0;
	const json_t *h;

	json_array_foreach(hops, i, h) {
		const json_t *ttl = json_object_get(h, "ttl");
		const json_t *ip = json_object_get(h, "ip");
		size_t j;

		if (n == max || !json_is_integer(ttl) || !json_is_string(ip))
			continue;
		for (j = n; j > 0 && out[j - 1].ttl > json_integer_value(ttl);
		    j--)
			out[j] = out[j - 1];
		out[j].ttl = json_integer_value(ttl);
		out[j].ip = json_string_value(ip);
		out[j].rtt = json_object_get(h, "rtt_ms");
		n++;
	}
	return n;
}

static void
store_link(const struct item *it, const struct rhop *a, const struct rhop *b,
    const json_t *seen)
{
	sqlite3_bind_text(stmt[S_LINK], 1, a->ip, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt[S_LINK], 2, b->ip, -1, SQLITE_STATIC);
	/* NULLs are distinct to UNIQUE: a missing node is "". */
	if (it->col[C_NODE].type != JSON_NULL)
		bind_col(S_LINK, 3, &it->col[C_NODE]);
	else
		sqlite3_bind_text(stmt[S_LINK], 3, "", 0, SQLITE_STATIC);
	bind_col(S_LINK, 4, &it->col[C_SRC]);
	bind_json(S_LINK, 5, seen);
	bind_json(S_LINK, 6, b->rtt);
	step(S_LINK);
	sink_n.links++;
}

/*
 * Links: each pair of responsive hops a, b with ttl(b) = ttl(a) + 1, once
 * per trace (a loop may show a pair twice).  A silent hop leaves a TTL
 * gap, so it breaks the chain instead of joining its neighbours.
 */
static void
store_links(const struct item *it, const json_t *hops, const json_t *seen)
{
	struct rhop h[256];
	const char *done[256][2];
	size_t n = responsive_hops(hops, h, 256), ndone = 0, i, j, k;

	for (i = 0; i < n; i++) {
		for (j = i + 1; j < n && h[j].ttl <= h[i].ttl + 1; j++) {
			if (h[j].ttl != h[i].ttl + 1 ||
			    strcmp(h[i].ip, h[j].ip) == 0)
				continue;
			for (k = 0; k < ndone; k++)
				if (strcmp(done[k][0], h[i].ip) == 0 &&
				    strcmp(done[k][1], h[j].ip) == 0)
					break;
			if (k < ndone)
				continue;
			if (ndone < 256) {
				done[ndone][0] = h[i].ip;
				done[ndone++][1] = h[j].ip;
			}
			store_link(it, &h[i], &h[j], seen);
		}
	}
}

static void
store_hop(const struct item *it, sqlite3_int64 trace_id, const json_t *h)
{
	static const char *const names[] = { "ttl", "ip", "rtt_ms",
	    "icmp_type", "icmp_code", "reply_ttl", "tcp_flags" };
	json_t *m[7];
	int i;

	sink_members(h, names, 7, m);
	sqlite3_bind_int64(stmt[S_HOP], 1, trace_id);
	for (i = 0; i < 7; i++)
		bind_json(S_HOP, 2 + i, m[i]);
	bind_col(S_HOP, 9, &it->col[C_NODE]);
	bind_col(S_HOP, 10, &it->col[C_SRC]);
	step(S_HOP);
	sink_n.hops++;
}

static void
store_trace(const struct item *it)
{
	static const char *const names[] = { "method", "stop", "hops", "ts" };
	json_t *m[4], *now = NULL;
	const json_t *hops, *ts, *h;
	sqlite3_int64 trace_id;
	size_t i;

	sink_members(it->trace, names, 4, m);
	hops = m[2];
	ts = m[3];
	bind_head(S_TRACE, it);
	bind_json(S_TRACE, 5, m[0]);
	bind_json(S_TRACE, 6, m[1]);
	if (json_is_array(hops))
		sqlite3_bind_int64(stmt[S_TRACE], 7,
		    (sqlite3_int64)json_array_size(hops));
	else
		sqlite3_bind_null(stmt[S_TRACE], 7);
	bind_json(S_TRACE, 8, ts);
	bind_text(S_TRACE, 9, it);
	step(S_TRACE);
	sink_n.traces++;
	if (!json_is_array(hops))
		return;
	trace_id = sqlite3_last_insert_rowid(db);
	json_array_foreach(hops, i, h)
		if (json_is_object(h))
			store_hop(it, trace_id, h);
	/* A trace without a time stamp is seen when it is stored. */
	if (!json_is_string(ts)) {
		char buf[32];

		hm_timestamp(buf, sizeof(buf));
		ts = now = json_string(buf);
	}
	store_links(it, hops, ts);
	json_decref(now);
}

static void
store_target(const struct item *it)
{
	bind_head(S_TARGET, it);
	bind_col(S_TARGET, 5, &it->col[C_VIA]);
	bind_col(S_TARGET, 6, &it->col[C_TTL]);
	bind_text(S_TARGET, 7, it);
	step(S_TARGET);
	sink_n.targets++;
}

static void
store_raw(const struct item *it)
{
	bind_col(S_RAW, 1, &it->col[C_RID]);
	bind_col(S_RAW, 2, &it->col[C_NODE]);
	bind_col(S_RAW, 3, &it->col[C_SRC]);
	sqlite3_bind_text(stmt[S_RAW], 4, it->reason, -1, SQLITE_STATIC);
	bind_text(S_RAW, 5, it);
	step(S_RAW);
	sink_n.raw++;
}

int
sink_store(const struct item *it)
{
	if (it->col[C_RID].type != JSON_NULL) {
		bind_col(S_ID, 1, &it->col[C_RID]);
		step(S_ID);
		if (sqlite3_changes(db) == 0)
			return 0;
	}
	switch (it->kind) {
	case K_PROBED:
		if (it->ping != NULL)
			store_ping(it);
		if (it->trace != NULL)
			store_trace(it);
		break;
	case K_TARGET:
		store_target(it);
		break;
	case K_RAW:
		store_raw(it);
		break;
	}
	return 1;
}

/*
 * The delivery row of a session, written by the sink itself in the commit
 * that holds the session's last line: the hub's log of who delivered what
 * and when, with what was actually stored.  Records of a session can never
 * be one (sink_session_bind refuses them).
 */
void
sink_store_delivery(const struct session *s)
{
	char ts[32], text[1024];
	json_t *o;
	size_t n;

	hm_timestamp(ts, sizeof(ts));
	o = json_pack("{s:s,s:s,s:s,s:I,s:I,s:I,s:I,s:b}", "src", "hopmap-ack",
	    "node", s->node, "ts", ts, "lines", (json_int_t)s->lines,
	    "stored", (json_int_t)s->stored, "duplicate", (json_int_t)s->dups,
	    "refused", (json_int_t)s->refused, "complete", s->complete);
	if (o == NULL)
		hm_errx(HM_EXIT_FAIL, "cannot make a delivery row");
	if (s->segment[0] != '\0')
		json_object_set_new(o, "segment", json_string(s->segment));
	if (s->peer[0] != '\0')
		json_object_set_new(o, "peer", json_string(s->peer));
	n = json_dumpb(o, text, sizeof(text), JSON_COMPACT |
	    JSON_PRESERVE_ORDER);
	json_decref(o);
	if (n == 0 || n > sizeof(text))
		hm_errx(HM_EXIT_FAIL, "cannot make a delivery row");
	sqlite3_bind_null(stmt[S_RAW], 1);
	sqlite3_bind_text(stmt[S_RAW], 2, s->node, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt[S_RAW], 3, "hopmap-ack", -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt[S_RAW], 4, "delivery", -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt[S_RAW], 5, text, (int)n, SQLITE_TRANSIENT);
	step(S_RAW);
	sink_n.raw++;
}

void
sink_begin(void)
{
	step(S_BEGIN);
}

void
sink_commit(void)
{
	step(S_COMMIT);
}
