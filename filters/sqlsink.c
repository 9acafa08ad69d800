/*
 * sqlsink: store records in SQLite, the end of every hopmap pipeline.
 *
 * Three kinds of thread.  The main thread reads lines (standard input
 * and, with --listen, any number of Unix-socket connections in one poll()
 * loop) and packs them into chunks; parser threads parse each line with
 * jansson once, classify it and take out its column values; the writer
 * thread owns the database and stores the chunks, in the order they were
 * read, with prepared statements.  Only a few chunks are in flight, so a
 * slow disk slows the readers instead of growing memory.
 *
 * What must stay true:
 * - Rows are written in batches, one transaction a batch, committed when
 *   --batch records are in it or --interval has passed since its first
 *   record.  A batch is reported (-v, metrics) only after COMMIT returned,
 *   so everything reported is in the database even after a SIGKILL.
 * - A line is stored whole or not at all: a connection's last line without
 *   a newline is torn (its writer died mid-line) and is reported, not
 *   stored.
 * - Nothing valid is dropped: JSON that is not a ping, trace or target goes
 *   to the raw table.  Only lines that are not JSON at all are skipped.
 * - A record whose "id" is already in the database is ignored whole, so a
 *   sender may retry a delivery without storing it twice.
 * - The DB path is a symlink to the current file; rotated files are named
 *   STEM-YYYYMMDDTHHMMSS.mmmZ.EXT so they sort by time.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "hopmap.h"

static const char usage[] =
"usage: sqlsink [-v] [-b N] [-i DURATION] [-l PATH] [--no-stdin]\n"
"               [-s SIZE] [-a DURATION] [-k K] [--sync MODE]\n"
"               [--metrics FILE] [--strict] [--max-line N] [DB]\n"
"Store hopmap records in SQLite (DB, default map.db, a symlink to the\n"
"current file of a rotated series).\n"
"  -b, --batch N          commit every N records (default 1000)\n"
"  -i, --interval DUR     or when a batch is this old (default 1s)\n"
"  -l, --listen PATH      also accept writers on a Unix stream socket\n"
"      --no-stdin         do not read standard input (with --listen)\n"
"  -s, --max-size SIZE    rotate when the file passes SIZE (default 100M,\n"
"                         0: never)\n"
"  -a, --max-age DUR      rotate when the file is older (default 7d, 0: never)\n"
"  -k, --keep K           keep the newest K files (default 5)\n"
"      --sync MODE        normal (default) or full: fsync every commit\n"
"  -v, --verbose          report commits, rotations and connections\n"
HM_COMMON_HELP;

enum {
	OPT_NO_STDIN = HM_OPT_FIRST_PRIVATE,
	OPT_SYNC
};

/* Options. */
static unsigned batch_max = 1000;
static uint64_t interval_ms = 1000;
static const char *listen_path;
static int no_stdin, verbose, sync_full;
static uint64_t max_size = 100ull << 20, max_age_ms = 7ull * 86400000;
static unsigned keep = 5;

/*
 * Counters, exported with --metrics.  The writer's own are plain; the
 * others are counted atomically by the readers and parsers and copied
 * (x_*) by the thread that writes the metrics file, before it does.
 */
static uint64_t m_lines, m_bad, m_torn, m_conns, m_conns_open;
static uint64_t x_lines, x_bad, x_torn, x_conns, x_conns_open;
static uint64_t m_records, m_dups, m_batches, m_pings, m_traces, m_hops,
    m_links, m_targets, m_raw, m_rotations;
static volatile sig_atomic_t strict_stopped;

/* Messages from two threads: one message is one locked unit. */
#define SAY(...) do { flockfile(stderr); hm_warnx(__VA_ARGS__); \
	funlockfile(stderr); } while (0)

/* ---- records ---- */

enum kind { K_PROBED, K_TARGET, K_RAW };

/*
 * A column value, taken out of the record by the parser so that the writer
 * binds it without walking the tree (made on another core, so cold in the
 * writer's cache).
 */
struct col {
	int type;		/* JSON_*; JSON_NULL for absent too */
	int len;
	union {
		sqlite3_int64 i;
		double d;
		const char *s;
		const json_t *j;	/* objects and arrays */
	} v;
};
enum { C_RID, C_IP, C_NODE, C_SRC, C_VIA, C_TTL, C_PING, NCOL = C_PING + 7 };

/*
 * One parsed line, handed from a parser to the writer.  The json_t
 * pointers are borrowed from obj; text is the line as it came, left in its
 * chunk (which outlives the item's storing), or the object a bare address
 * stands for.  The item's own block also holds an arena from which
 * jansson builds obj.
 */
struct item {
	enum kind kind;
	json_t *obj;
	json_t *ping, *trace;
	struct col col[NCOL];
	const char *reason;	/* why a raw record is raw */
	const char *text;	/* the line, in its chunk; or own */
	size_t len;
	struct hm_jarena arena;	/* after the item, in the same block */
	char own[32];		/* the object a bare address stands for */
};

/*
 * jansson allocates a few dozen small blocks per record, and that was most
 * of a parser's time: the item's own block holds an arena they come from
 * instead (hm_jarena), so an item goes in one free().  Item blocks of one
 * common size are recycled by the parser thread that made them (items go
 * back to it to be freed), so the steady state calls malloc for none.
 * Threads without a pool just use malloc and free.
 */
#define POOL_BLOCK 4096
#define POOL_MAX 2048
struct pool {
	void *block[POOL_MAX];
	size_t n;
};
static __thread struct pool *pool;

/* A new item for a line; jansson allocates from it until hm_jarena_end. */
static struct item *
item_new(const char *text, size_t len)
{
	/* Room for the parse of a typical record; more falls back to the
	   heap.  The arena starts 16-aligned after the item. */
	size_t off = (sizeof(struct item) + 15) & ~(size_t)15;
	size_t acap = 8 * len + 1024;
	struct item *it;

	if (off + acap <= POOL_BLOCK) {
		acap = POOL_BLOCK - off;
		it = pool != NULL && pool->n > 0 ? pool->block[--pool->n] :
		    malloc(POOL_BLOCK);
	} else {
		it = malloc(off + acap);
	}
	if (it == NULL)
		hm_err(HM_EXIT_FAIL, "malloc");
	memset(it, 0, sizeof(*it));
	it->text = text;
	it->len = len;
	hm_jarena_begin(&it->arena, (char *)it + off, acap);
	return it;
}

static void
item_free(struct item *it)
{
	/* All in the arena: walking the tree to free nothing is skipped. */
	if (it->arena.spilled)
		json_decref(it->obj);
	if (it->arena.base + it->arena.cap == (char *)it + POOL_BLOCK &&
	    pool != NULL && pool->n < POOL_MAX)
		pool->block[pool->n++] = it;
	else
		free(it);
}

/*
 * Several members of an object in one walk over it: cheaper than a hash
 * lookup each, for the small objects records are.  Out of order or
 * absent keys are fine; out[i] is NULL for an absent one.
 */
static void
members(const json_t *obj, const char *const names[], size_t n,
    json_t *out[])
{
	const char *key;
	json_t *v;
	size_t i;

	memset(out, 0, n * sizeof(*out));
	json_object_foreach((json_t *)obj, key, v)
		for (i = 0; i < n; i++)
			if (key[0] == names[i][0] &&
			    strcmp(key, names[i]) == 0) {
				if (out[i] == NULL)
					out[i] = v;
				break;
			}
}

static void
col_set(struct col *c, const json_t *v)
{
	c->type = v != NULL ? (int)json_typeof(v) : JSON_NULL;
	switch (c->type) {
	case JSON_STRING:
		c->v.s = json_string_value(v);
		c->len = (int)json_string_length(v);
		break;
	case JSON_INTEGER:
		c->v.i = json_integer_value(v);
		break;
	case JSON_REAL:
		c->v.d = json_real_value(v);
		break;
	case JSON_TRUE:
	case JSON_FALSE:
		c->v.i = c->type == JSON_TRUE;
		c->type = JSON_INTEGER;
		break;
	default:
		c->v.j = v;
	}
}

/* Fill in kind and the borrowed fields of an item whose obj is set. */
static void
classify(struct item *it)
{
	static const char *const names[] = { "id", "ip", "node", "src", "via",
	    "ttl", "ping", "trace" };
	static const char *const ping_names[] = { "method", "ok", "sent",
	    "recv", "rtt_ms", "reply_ttl", "ts" };
	json_t *m[8], *pm[7];
	uint32_t addr;
	int i;

	it->kind = K_RAW;
	if (!json_is_object(it->obj)) {
		it->reason = "not an object";
		for (i = 0; i < NCOL; i++)
			col_set(&it->col[i], NULL);
		return;
	}
	members(it->obj, names, 8, m);
	for (i = C_RID; i <= C_TTL; i++)
		col_set(&it->col[i], m[i]);
	for (i = C_PING; i < NCOL; i++)
		col_set(&it->col[i], NULL);
	if (m[0] != NULL && !json_is_string(m[0]) && !json_is_integer(m[0])) {
		it->reason = "\"id\" is neither a string nor an integer";
		col_set(&it->col[C_RID], NULL);
		return;
	}
	if (m[1] == NULL) {
		it->reason = "no \"ip\"";
		return;
	}
	if (!json_is_string(m[1]) || hm_ip_parse(json_string_value(m[1]),
	    json_string_length(m[1]), &addr) != 0) {
		it->reason = "\"ip\" is not an IPv4 address";
		return;
	}
	if ((m[6] != NULL && !json_is_object(m[6])) ||
	    (m[7] != NULL && !json_is_object(m[7]))) {
		it->reason = "\"ping\" or \"trace\" is not an object";
		return;
	}
	it->ping = m[6];
	it->trace = m[7];
	it->kind = it->ping != NULL || it->trace != NULL ? K_PROBED : K_TARGET;
	if (it->ping != NULL) {
		members(it->ping, ping_names, 7, pm);
		for (i = 0; i < 7; i++)
			col_set(&it->col[C_PING + i], pm[i]);
	}
}

static int
is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/*
 * Parse one line.  Returns the item, or NULL: blank (*why NULL) or bad
 * (*why says why).  A bare address is a target, as for every filter.
 */
static struct item *
parse_line(const char *line, size_t len, const char **why)
{
	static __thread char msg[200];
	json_error_t jerr;
	struct item *it;
	size_t b = 0, e = len;
	uint32_t addr;
	json_t *obj;

	*why = NULL;
	while (b < e && is_blank(line[b]))
		b++;
	while (e > b && is_blank(line[e - 1]))
		e--;
	if (b == e)
		return NULL;
	if (line[b] != '{' && hm_ip_parse(line + b, e - b, &addr) == 0) {
		char ipbuf[16];

		hm_ip_format(addr, ipbuf);
		it = item_new(NULL, 0);
		it->len = (size_t)snprintf(it->own, sizeof(it->own),
		    "{\"ip\":\"%s\"}", ipbuf);
		it->text = it->own;
		it->obj = json_pack("{s:s}", "ip", ipbuf);
		hm_jarena_end();
		classify(it);
		return it;
	}
	it = item_new(line + b, e - b);
	obj = json_loadb(line + b, e - b, JSON_DECODE_ANY, &jerr);
	hm_jarena_end();
	if (obj == NULL) {
		/* jansson refuses a NUL byte too; the reason says it plainly.
		   Looked for only now: good lines are the common case. */
		snprintf(msg, sizeof(msg), "bad JSON at column %d: %s",
		    jerr.column, jerr.text);
		*why = memchr(line, '\0', len) != NULL ? "NUL byte in line" :
		    msg;
		item_free(it);
		return NULL;
	}
	it->obj = obj;
	classify(it);
	return it;
}

/* ---- the pipeline: reader, parsers, writer ---- */

/*
 * The reader packs whole lines of one source into chunks; parser threads
 * (as many as there are processors, up to four) turn a chunk's lines into
 * items, each chunk on its own; the writer stores chunks in the order the
 * reader made them, so the database sees the input's order.  At most
 * MAXFLIGHT chunks are between reader and writer: memory stays bounded and
 * a slow disk slows the readers.
 */
#define CHUNK_BYTES (64 * 1024)
#define CHUNK_LINES 1024
#define MAXFLIGHT 16
#define MAXPARSERS 4

struct chunk {
	struct chunk *next;		/* in the parse queue or a spent list */
	uint64_t seq;
	int owner;			/* the parser that made its items */
	char name[PATH_MAX + 32];	/* the source, for diagnostics */
	size_t nlines, used, cap, nitems;
	unsigned long lineno[CHUNK_LINES];
	size_t off[CHUNK_LINES], len[CHUNK_LINES];
	unsigned char note[CHUNK_LINES];	/* the text is a diagnostic */
	struct item *items[CHUNK_LINES];
	char *text;
};

static struct {
	pthread_mutex_t mu;
	pthread_cond_t work, ready, space;
	struct chunk *head, *tail;	/* waiting to be parsed */
	struct chunk *slot[MAXFLIGHT];	/* parsed, by seq % MAXFLIGHT */
	struct chunk *spent[MAXPARSERS];/* stored, for their parser */
	struct chunk *free;		/* for the reader to reuse */
	uint64_t next_seq;		/* the reader's next chunk */
	uint64_t stored_seq;		/* the writer's next chunk */
	int input_done, rotate;
} pl = { .mu = PTHREAD_MUTEX_INITIALIZER };

static int nparsers;

static void
pipeline_init(void)
{
	pthread_condattr_t ca;

	/* Deadlines are monotonic: a clock step must not stall a batch. */
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&pl.work, &ca);
	pthread_cond_init(&pl.ready, &ca);
	pthread_cond_init(&pl.space, &ca);
	pthread_condattr_destroy(&ca);
}

/* Flags for the writer: set under the lock, then wake it. */
static void
pipeline_flag(int *flag)
{
	pthread_mutex_lock(&pl.mu);
	*flag = 1;
	pthread_cond_broadcast(&pl.ready);
	pthread_cond_broadcast(&pl.work);
	pthread_mutex_unlock(&pl.mu);
}

static struct chunk *
chunk_get(void)
{
	struct chunk *c;

	pthread_mutex_lock(&pl.mu);
	if ((c = pl.free) != NULL)
		pl.free = c->next;
	pthread_mutex_unlock(&pl.mu);
	if (c == NULL) {
		if ((c = malloc(sizeof(*c))) == NULL ||
		    (c->text = malloc(CHUNK_BYTES)) == NULL)
			hm_err(HM_EXIT_FAIL, "malloc");
		c->cap = CHUNK_BYTES;
	}
	c->nlines = c->used = c->nitems = 0;
	return c;
}

/* The reader hands a chunk on, waiting while too many are in flight. */
static void
chunk_submit(struct chunk *c)
{
	pthread_mutex_lock(&pl.mu);
	while (pl.next_seq - pl.stored_seq >= MAXFLIGHT)
		pthread_cond_wait(&pl.space, &pl.mu);
	c->seq = pl.next_seq++;
	c->next = NULL;
	if (pl.tail != NULL)
		pl.tail->next = c;
	else
		pl.head = c;
	pl.tail = c;
	pthread_cond_signal(&pl.work);
	pthread_mutex_unlock(&pl.mu);
}

static void
abstime(uint64_t mono_ms, struct timespec *ts)
{
	ts->tv_sec = (time_t)(mono_ms / 1000);
	ts->tv_nsec = (long)(mono_ms % 1000) * 1000000;
}

/* Free the items of chunks this parser made, and recycle the chunks. */
static void
free_spent(struct chunk *c)
{
	struct chunk *next;
	size_t i;

	for (; c != NULL; c = next) {
		next = c->next;
		for (i = 0; i < c->nitems; i++)
			item_free(c->items[i]);
		pthread_mutex_lock(&pl.mu);
		c->next = pl.free;
		pl.free = c;
		pthread_mutex_unlock(&pl.mu);
	}
}

static void parse_chunk(struct chunk *);

static void *
parser_main(void *arg)
{
	int me = (int)(intptr_t)arg;
	struct chunk *c, *spent;
	struct pool mine;

	mine.n = 0;
	pool = &mine;
	pthread_setname_np(pthread_self(), "sqlsink-parse");
	for (;;) {
		pthread_mutex_lock(&pl.mu);
		while (pl.head == NULL && !pl.input_done)
			pthread_cond_wait(&pl.work, &pl.mu);
		spent = pl.spent[me];
		pl.spent[me] = NULL;
		if ((c = pl.head) != NULL && (pl.head = c->next) == NULL)
			pl.tail = NULL;
		pthread_mutex_unlock(&pl.mu);
		free_spent(spent);
		if (c == NULL && spent == NULL)
			break;		/* input done, nothing queued */
		if (c == NULL)
			continue;
		c->owner = me;
		parse_chunk(c);
		pthread_mutex_lock(&pl.mu);
		pl.slot[c->seq % MAXFLIGHT] = c;
		pthread_cond_signal(&pl.ready);
		pthread_mutex_unlock(&pl.mu);
	}
	while (mine.n > 0)
		free(mine.block[--mine.n]);
	pool = NULL;
	return NULL;
}

/*
 * The writer's next chunk, in order; NULL when the deadline (monotonic ms,
 * 0 for none) passed, a rotation is asked for (*rotate), or everything is
 * stored (*done).
 */
static struct chunk *
chunk_next(uint64_t deadline, int *done, int *rotate)
{
	struct timespec ts;
	struct chunk *c;

	/* An idle writer still wakes now and then, for the metrics file. */
	if (deadline == 0)
		deadline = hm_mono_ms() + 5000;
	abstime(deadline, &ts);
	pthread_mutex_lock(&pl.mu);
	while ((c = pl.slot[pl.stored_seq % MAXFLIGHT]) == NULL &&
	    !(pl.input_done && pl.stored_seq == pl.next_seq) && !pl.rotate)
		if (pthread_cond_timedwait(&pl.ready, &pl.mu, &ts) ==
		    ETIMEDOUT)
			break;
	*done = c == NULL && pl.input_done && pl.stored_seq == pl.next_seq;
	*rotate = pl.rotate;
	pl.rotate = 0;
	pthread_mutex_unlock(&pl.mu);
	return c;
}

/* The writer is done with a chunk: back to its parser, room for more. */
static void
chunk_stored(struct chunk *c)
{
	pthread_mutex_lock(&pl.mu);
	pl.slot[c->seq % MAXFLIGHT] = NULL;
	pl.stored_seq++;
	/* Its parser frees the items when it next wakes for work. */
	c->next = pl.spent[c->owner];
	pl.spent[c->owner] = c;
	pthread_cond_signal(&pl.space);
	pthread_mutex_unlock(&pl.mu);
}

/* At the end, with every thread gone: what the parsers left. */
static void
pipeline_free(void)
{
	struct chunk *c;
	int i;

	for (i = 0; i < MAXPARSERS; i++) {
		free_spent(pl.spent[i]);
		pl.spent[i] = NULL;
	}
	while ((c = pl.free) != NULL) {
		pl.free = c->next;
		free(c->text);
		free(c);
	}
}

/* ---- the database ---- */

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
" src TEXT);"
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
"CREATE INDEX IF NOT EXISTS hops_trace ON hops (trace_id);"
"PRAGMA user_version = 1;";

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
	    " icmp_code, reply_ttl, node, src) VALUES"
	    " (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
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
static char cur_path[PATH_MAX];	/* the current file */
static uint64_t cur_created_ms;	/* from its name */

static _Noreturn void
db_fail(const char *what)
{
	hm_errx(HM_EXIT_FAIL, "%s: %s: %s", cur_path, what,
	    db ? sqlite3_errmsg(db) : "out of memory");
}

static void
db_exec(const char *sql)
{
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
		db_fail(sql);
}

static sqlite3_int64
db_int(const char *sql)
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

static void
db_open(const char *path)
{
	size_t i;

	snprintf(cur_path, sizeof(cur_path), "%s", path);
	/* One thread at a time uses the connection (main opens it before the
	   writer starts; after that only the writer): no mutexes needed. */
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK)
		db_fail("open");
	sqlite3_busy_timeout(db, 10000);
	/* 8 KB pages: a record is about 500 bytes with its JSON; fewer,
	   larger pages cut B-tree and WAL overhead (measured 10%).  Takes
	   effect for a new file only. */
	db_exec("PRAGMA page_size = 8192");
	/* WAL: readers (sqlite3, the manager) never block the sink.  With
	   synchronous=NORMAL a commit survives a crash of this process (the
	   WAL is written before COMMIT returns); only an OS crash or power
	   loss may roll back the last batches, never corrupt the file. */
	db_exec("PRAGMA journal_mode = WAL");
	db_exec(sync_full ? "PRAGMA synchronous = FULL" :
	    "PRAGMA synchronous = NORMAL");
	db_exec("PRAGMA cache_size = -32768");
	/* Checkpoint every 32 MB of WAL rather than 4: pages that many
	   batches touch (index leaves, a table's last page) are copied once. */
	db_exec("PRAGMA wal_autocheckpoint = 4096");
	if (db_int("PRAGMA user_version") > 1)
		hm_errx(HM_EXIT_FAIL, "%s: made by a newer sqlsink", path);
	db_exec(schema);
	for (i = 0; i < S_NSTMT; i++)
		if (sqlite3_prepare_v3(db, stmt_sql[i], -1,
		    SQLITE_PREPARE_PERSISTENT, &stmt[i], NULL) != SQLITE_OK)
			db_fail(stmt_sql[i]);
}

static void
db_close(void)
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
	m_pings++;
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
	m_links++;
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
	    "icmp_type", "icmp_code", "reply_ttl" };
	json_t *m[6];
	int i;

	members(h, names, 6, m);
	sqlite3_bind_int64(stmt[S_HOP], 1, trace_id);
	for (i = 0; i < 6; i++)
		bind_json(S_HOP, 2 + i, m[i]);
	bind_col(S_HOP, 8, &it->col[C_NODE]);
	bind_col(S_HOP, 9, &it->col[C_SRC]);
	step(S_HOP);
	m_hops++;
}

static void
store_trace(const struct item *it)
{
	static const char *const names[] = { "method", "stop", "hops", "ts" };
	json_t *m[4], *now = NULL;
	const json_t *hops, *ts, *h;
	sqlite3_int64 trace_id;
	size_t i;

	members(it->trace, names, 4, m);
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
	m_traces++;
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
	m_targets++;
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
	m_raw++;
}

/* Store one record; 0 when its id was stored before. */
static int
store(const struct item *it)
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

/* ---- rotation ---- */

static const char *db_link;		/* the stable name, a symlink */
static char db_dir[PATH_MAX];		/* its directory, "" or ending in / */
static char db_stem[NAME_MAX + 1], db_ext[NAME_MAX + 1];

#define STAMP_LEN 20			/* 20261125T201500.123Z */

static void
names_init(const char *link)
{
	const char *base = strrchr(link, '/'), *dot;

	db_link = link;
	base = base ? base + 1 : link;
	if (*base == '\0' || strlen(base) > NAME_MAX - STAMP_LEN - 2)
		hm_errx(HM_EXIT_USAGE, "bad database name: %s", link);
	snprintf(db_dir, sizeof(db_dir), "%.*s", (int)(base - link), link);
	dot = strrchr(base, '.');
	if (dot == NULL || dot == base)
		dot = base + strlen(base);
	snprintf(db_stem, sizeof(db_stem), "%.*s", (int)(dot - base), base);
	snprintf(db_ext, sizeof(db_ext), "%s", dot);
}

/* The time in a rotated file's base name, or 0 if it is not one of ours. */
static uint64_t
name_time(const char *base)
{
	size_t sl = strlen(db_stem), el = strlen(db_ext), n = strlen(base);
	const char *s = base + sl + 1;
	struct tm tm;
	char *end;

	if (n != sl + 1 + STAMP_LEN + el || strncmp(base, db_stem, sl) != 0 ||
	    base[sl] != '-' || strcmp(base + n - el, db_ext) != 0)
		return 0;
	memset(&tm, 0, sizeof(tm));
	end = strptime(s, "%Y%m%dT%H%M%S", &tm);
	if (end != s + 15 || end[0] != '.' || end[4] != 'Z' ||
	    strspn(end + 1, "0123456789") < 3)
		return 0;
	return (uint64_t)timegm(&tm) * 1000 +
	    (uint64_t)((end[1] - '0') * 100 + (end[2] - '0') * 10 +
	    (end[3] - '0'));
}

static void
name_for(uint64_t ms, char *buf, size_t size)
{
	time_t sec = (time_t)(ms / 1000);
	char stamp[32];
	struct tm tm;

	gmtime_r(&sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%S", &tm);
	snprintf(buf, size, "%s-%s.%03uZ%s", db_stem, stamp,
	    (unsigned)(ms % 1000), db_ext);
}

/* Point the stable name at base, atomically (rename over it). */
static void
point_link(const char *base)
{
	char tmp[PATH_MAX + 32];

	snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", db_link, (long)getpid());
	unlink(tmp);
	if (symlink(base, tmp) != 0 || rename(tmp, db_link) != 0)
		hm_err(HM_EXIT_FAIL, "%s", db_link);
}

static int
cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
remove_db_file(const char *base)
{
	static const char *const suffix[] = { "", "-wal", "-shm" };
	char path[PATH_MAX * 2];
	size_t i;

	for (i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s%s%s", db_dir, base, suffix[i]);
		if (unlink(path) != 0 && errno != ENOENT)
			SAY("%s: %s", path, strerror(errno));
	}
	if (verbose)
		SAY("removed %s%s", db_dir, base);
}

/* Keep the newest `keep` files of the series; never the current one. */
static void
prune(void)
{
	const char *cur = strrchr(cur_path, '/');
	char **names = NULL;
	size_t n = 0, cap = 0, i;
	struct dirent *de;
	DIR *d = opendir(*db_dir ? db_dir : ".");

	if (d == NULL) {
		SAY("%s: %s", *db_dir ? db_dir : ".", strerror(errno));
		return;
	}
	cur = cur ? cur + 1 : cur_path;
	while ((de = readdir(d)) != NULL) {
		if (name_time(de->d_name) == 0)
			continue;
		if (n == cap && (names = realloc(names,
		    (cap = cap ? 2 * cap : 16) * sizeof(*names))) == NULL)
			hm_err(HM_EXIT_FAIL, "realloc");
		if ((names[n++] = strdup(de->d_name)) == NULL)
			hm_err(HM_EXIT_FAIL, "strdup");
	}
	closedir(d);
	qsort(names, n, sizeof(*names), cmp_names);
	for (i = 0; i < n; i++) {
		if (i + keep < n && strcmp(names[i], cur) != 0)
			remove_db_file(names[i]);
		free(names[i]);
	}
	free(names);
}

/*
 * Start a new file, named after now (later than the current one even if
 * the clock stepped back), carry over the ids the old file learnt itself,
 * and point the stable name at it.
 */
static void
rotate_to_new(const char *why)
{
	char base[2 * NAME_MAX + 64], path[PATH_MAX * 2], prev[PATH_MAX];
	uint64_t ms = hm_now_ms();
	struct stat sb;

	if (ms <= cur_created_ms)
		ms = cur_created_ms + 1;
	for (;; ms++) {
		name_for(ms, base, sizeof(base));
		snprintf(path, sizeof(path), "%s%s", db_dir, base);
		if (lstat(path, &sb) != 0)
			break;
	}
	prev[0] = '\0';
	if (db != NULL) {
		snprintf(prev, sizeof(prev), "%s", cur_path);
		db_close();
	}
	db_open(path);
	cur_created_ms = ms;
	if (prev[0] != '\0') {
		/* Ids the old file inherited itself are not passed on again,
		   so the set stays bounded: a retry is caught within about
		   two files' time. */
		char *sql = sqlite3_mprintf("ATTACH %Q AS prev;"
		    "INSERT OR IGNORE INTO ids (rid, inherited) SELECT rid, 1"
		    " FROM prev.ids WHERE inherited = 0; DETACH prev", prev);

		db_exec(sql);
		sqlite3_free(sql);
	}
	point_link(base);
	m_rotations += prev[0] != '\0';
	if (verbose)
		SAY("%s: new database%s%s", path, why ? ", rotated by " : "",
		    why ? why : "");
	prune();
}

/* Open the current file behind the stable name, or start one. */
static void
open_current(void)
{
	char target[PATH_MAX], path[PATH_MAX * 2];
	struct stat sb;
	ssize_t n;

	if (lstat(db_link, &sb) != 0) {
		if (errno != ENOENT)
			hm_err(HM_EXIT_FAIL, "%s", db_link);
		rotate_to_new(NULL);
		return;
	}
	if (!S_ISLNK(sb.st_mode))
		hm_errx(HM_EXIT_FAIL, "%s: not a symlink to a database file "
		    "(sqlsink keeps DB as a link to the current file of a "
		    "series; move this file away or name another DB)",
		    db_link);
	n = readlink(db_link, target, sizeof(target) - 1);
	if (n < 0)
		hm_err(HM_EXIT_FAIL, "%s", db_link);
	target[n] = '\0';
	if (target[0] == '/')
		snprintf(path, sizeof(path), "%s", target);
	else
		snprintf(path, sizeof(path), "%s%s", db_dir, target);
	if (stat(path, &sb) != 0) {
		rotate_to_new(NULL);	/* dangling: start afresh */
		return;
	}
	db_open(path);
	cur_created_ms = name_time(strrchr(path, '/') ?
	    strrchr(path, '/') + 1 : path);
	if (cur_created_ms == 0)
		cur_created_ms = hm_now_ms();
	prune();
}

/* Size and age checks, after a commit. */
static const char *
rotation_due(void)
{
	if (max_size > 0 && (uint64_t)(db_int("PRAGMA page_count") *
	    db_int("PRAGMA page_size")) >= max_size)
		return "size";
	if (max_age_ms > 0 && hm_now_ms() - cur_created_ms >= max_age_ms)
		return "age";
	return NULL;
}

/* ---- the writer thread ---- */

static struct {
	int open;
	unsigned n, dups;
	uint64_t deadline;
} batch;

static void
batch_commit(void)
{
	if (!batch.open)
		return;
	step(S_COMMIT);
	batch.open = 0;
	m_batches++;
	m_records += batch.n;
	m_dups += batch.dups;
	/* Said only now that COMMIT returned: a test may hold us to it. */
	if (verbose)
		SAY("%s: committed batch %" PRIu64 ": %u records, %u duplicates"
		    " ignored (%" PRIu64 " records in total)", cur_path,
		    m_batches, batch.n, batch.dups, m_records);
}

/* Commit, then start a new file if this one is big or old enough. */
static void
batch_end(void)
{
	const char *why;

	batch_commit();
	if ((why = rotation_due()) != NULL)
		rotate_to_new(why);
}

static void
batch_add(const struct item *it)
{
	if (!batch.open) {
		step(S_BEGIN);
		batch.open = 1;
		batch.n = batch.dups = 0;
		batch.deadline = hm_mono_ms() + interval_ms;
	}
	if (store(it))
		batch.n++;
	else
		batch.dups++;
	if (batch.n + batch.dups >= batch_max)
		batch_end();
}

static void
metrics_snapshot(void)
{
	x_lines = __atomic_load_n(&m_lines, __ATOMIC_RELAXED);
	x_bad = __atomic_load_n(&m_bad, __ATOMIC_RELAXED);
	x_torn = __atomic_load_n(&m_torn, __ATOMIC_RELAXED);
	x_conns = __atomic_load_n(&m_conns, __ATOMIC_RELAXED);
	x_conns_open = __atomic_load_n(&m_conns_open, __ATOMIC_RELAXED);
}

/* hm_metrics_write(0) looks at the clock only every 1024 calls; the
   writer may be idle, so it keeps its own time. */
static void
metrics_tick(void)
{
	static uint64_t last;
	uint64_t now = hm_mono_ms();

	if (hm_opt.metrics != NULL && now - last >= 5000) {
		last = now;
		metrics_snapshot();
		hm_metrics_write(1);
	}
}

/* Items were made on another core: ask for the next one's lines while
   this one is stored. */
static void
prefetch_item(const struct item *it)
{
	size_t off;

	for (off = 0; off < sizeof(*it); off += 64)
		__builtin_prefetch((const char *)it + off);
	for (off = 0; off < it->len; off += 64)
		__builtin_prefetch(it->text + off);
}

static void *
writer_main(void *arg)
{
	struct chunk *c;
	int done = 0, hup;
	size_t i;

	(void)arg;
	pthread_setname_np(pthread_self(), "sqlsink-writer");
	while (!done) {
		c = chunk_next(batch.open ? batch.deadline : 0, &done, &hup);
		if (c != NULL) {
			for (i = 0; i < c->nitems; i++) {
				if (i + 1 < c->nitems)
					prefetch_item(c->items[i + 1]);
				batch_add(c->items[i]);
			}
			chunk_stored(c);
		}
		if (batch.open && (done || hm_mono_ms() >= batch.deadline))
			batch_end();
		if (hup) {
			batch_commit();
			rotate_to_new("signal");
		}
		metrics_tick();
	}
	return NULL;
}

/* ---- the readers: standard input and socket connections ---- */

struct source {
	int fd, is_conn;
	char name[PATH_MAX + 32];
	unsigned long lineno;
	char *buf;
	size_t cap, start, end;
	int skipping;		/* inside an over-long line */
};

static void
bad_line(const char *name, unsigned long lineno, const char *why)
{
	flockfile(stderr);
	hm_linewarn(name, lineno, "%s", why);
	funlockfile(stderr);
	__atomic_fetch_add(&m_bad, 1, __ATOMIC_RELAXED);
	if (hm_opt.strict) {
		strict_stopped = 1;
		hm_stop = 1;
	}
}

/*
 * In a parser thread: the chunk's lines to items.  With --strict there is
 * one parser, so chunks come in order and the first bad line ends all.
 */
static void
parse_chunk(struct chunk *c)
{
	struct item *it;
	const char *why;
	size_t i;

	for (i = 0; i < c->nlines && !strict_stopped; i++) {
		if (c->note[i]) {
			c->text[c->off[i] + c->len[i]] = '\0';
			bad_line(c->name, c->lineno[i], c->text + c->off[i]);
			continue;
		}
		it = parse_line(c->text + c->off[i], c->len[i], &why);
		if (it != NULL)
			c->items[c->nitems++] = it;
		else if (why != NULL)
			bad_line(c->name, c->lineno[i], why);
	}
}

static struct chunk *filling;	/* the reader's chunk being filled */

static void
flush_chunk(void)
{
	if (filling != NULL && filling->nlines > 0) {
		chunk_submit(filling);
		filling = NULL;
	}
}

/*
 * In the reader: a line of a source into the chunk, or a note about one
 * (over-long, torn), so that diagnostics come out in the input's order.
 */
static void
chunk_add(struct source *s, const char *text, size_t len, int note)
{
	struct chunk *c = filling;

	/* A chunk holds lines of one source, so it can name them; a note
	   keeps room for a NUL after it. */
	if (c != NULL && (c->nlines == CHUNK_LINES ||
	    c->used + len + 1 > c->cap || strcmp(c->name, s->name) != 0)) {
		flush_chunk();
		c = NULL;
	}
	if (c == NULL) {
		c = filling = chunk_get();
		snprintf(c->name, sizeof(c->name), "%s", s->name);
	}
	if (len + 1 > c->cap &&
	    (c->text = realloc(c->text, c->cap = len + 1)) == NULL)
		hm_err(HM_EXIT_FAIL, "realloc");
	memcpy(c->text + c->used, text, len);
	c->off[c->nlines] = c->used;
	c->len[c->nlines] = len;
	c->note[c->nlines] = (unsigned char)note;
	c->lineno[c->nlines++] = s->lineno;
	c->used += len + note;
}

static void
note_line(struct source *s, const char *why)
{
	chunk_add(s, why, strlen(why), 1);
}

static void
handle_line(struct source *s, char *line, size_t len)
{
	s->lineno++;
	__atomic_fetch_add(&m_lines, 1, __ATOMIC_RELAXED);
	if (len > 0 && line[len - 1] == '\r')
		len--;
	if (len > hm_opt.maxline)
		note_line(s, "line too long, skipped");
	else
		chunk_add(s, line, len, 0);
}

/* Hand over every whole line in the buffer; skip over-long ones. */
static void
split_lines(struct source *s, size_t scan)
{
	char *nl;

	while ((nl = memchr(s->buf + scan, '\n', s->end - scan)) != NULL) {
		size_t len = (size_t)(nl - (s->buf + s->start));

		if (strict_stopped)
			break;
		if (s->skipping)
			s->skipping = 0;	/* the tail of a long line */
		else
			handle_line(s, s->buf + s->start, len);
		s->start = scan = (size_t)(nl - s->buf) + 1;
	}
	if (!s->skipping && s->end - s->start > hm_opt.maxline + 1) {
		/* No newline within the limit: report it now, then drop
		   bytes until its end, so memory stays bounded. */
		s->lineno++;
		__atomic_fetch_add(&m_lines, 1, __ATOMIC_RELAXED);
		note_line(s, "line too long, skipped");
		s->skipping = 1;
	}
	if (s->skipping)
		s->start = s->end;
	if (s->start == s->end)
		s->start = s->end = 0;
}

/*
 * At the end of a source, what is left has no newline.  At the end of
 * standard input that is a last line, as for every filter; anywhere else
 * (a connection, or a stop before the end) the line is torn.
 */
static void
finish_source(struct source *s, const char *how, int at_eof)
{
	size_t left = s->end - s->start;
	char why[96];

	if (left == 0 || s->skipping)
		return;
	if (!s->is_conn && at_eof) {
		handle_line(s, s->buf + s->start, left);
		return;
	}
	__atomic_fetch_add(&m_torn, 1, __ATOMIC_RELAXED);
	s->lineno++;
	snprintf(why, sizeof(why), "torn last line (%zu bytes without a "
	    "newline) %s, not stored", left, how);
	note_line(s, why);
}

/* What a read gave: the end (the source is finished), lines, nothing yet. */
enum { RS_END = 0, RS_DATA, RS_NOTHING };

static int
read_source(struct source *s)
{
	size_t limit = hm_opt.maxline + 2 + 65536;
	ssize_t n;

	if (s->start > 0 && s->end == s->cap) {
		memmove(s->buf, s->buf + s->start, s->end - s->start);
		s->end -= s->start;
		s->start = 0;
	}
	if (s->end == s->cap && s->cap < limit) {
		s->cap = s->cap * 2 < limit ? s->cap * 2 : limit;
		if ((s->buf = realloc(s->buf, s->cap)) == NULL)
			hm_err(HM_EXIT_FAIL, "realloc");
	}
	n = read(s->fd, s->buf + s->end, s->cap - s->end);
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return RS_NOTHING;
		SAY("%s: %s", s->name, strerror(errno));
		finish_source(s, "after a read error", 0);
		return RS_END;
	}
	if (n == 0) {
		finish_source(s, "at disconnect", 1);
		return RS_END;
	}
	s->end += (size_t)n;
	split_lines(s, s->end - (size_t)n);
	return RS_DATA;
}

static struct source *
source_new(int fd, int is_conn, size_t cap)
{
	struct source *s = calloc(1, sizeof(*s));

	if (s == NULL || (s->buf = malloc(cap)) == NULL)
		hm_err(HM_EXIT_FAIL, "malloc");
	s->fd = fd;
	s->is_conn = is_conn;
	s->cap = cap;
	return s;
}

static void
source_free(struct source *s)
{
	if (s->fd > 0)
		close(s->fd);
	free(s->buf);
	free(s);
}

/* ---- the listening socket ---- */

static int
listen_open(const char *path)
{
	struct sockaddr_un sun;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path))
		hm_errx(HM_EXIT_USAGE, "socket path is too long: %s", path);
	strcpy(sun.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		hm_err(HM_EXIT_FAIL, "socket");
	/* A socket file left by a dead sink is replaced; a live one is not. */
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0)
		hm_errx(HM_EXIT_FAIL, "%s: another process is listening", path);
	if (errno == ECONNREFUSED) {
		struct stat sb;

		if (lstat(path, &sb) == 0 && S_ISSOCK(sb.st_mode))
			unlink(path);
	}
	close(fd);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0 ||
	    listen(fd, 128) != 0)
		hm_err(HM_EXIT_FAIL, "%s", path);
	return fd;
}

/* Accept all waiting connections; -1 when out of descriptors. */
static int
accept_all(int lfd, struct source ***conns, size_t *nconns, size_t *cap)
{
	static unsigned long serial;
	struct ucred cred;
	socklen_t cl = sizeof(cred);
	struct source *s;
	int fd;

	while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC))
	    >= 0) {
		if (*nconns == *cap && (*conns = realloc(*conns,
		    (*cap = *cap ? *cap * 2 : 16) * sizeof(**conns))) == NULL)
			hm_err(HM_EXIT_FAIL, "realloc");
		s = source_new(fd, 1, 16384);
		snprintf(s->name, sizeof(s->name), "%s#%lu", listen_path,
		    ++serial);
		(*conns)[(*nconns)++] = s;
		__atomic_fetch_add(&m_conns, 1, __ATOMIC_RELAXED);
		__atomic_fetch_add(&m_conns_open, 1, __ATOMIC_RELAXED);
		if (verbose) {
			memset(&cred, 0, sizeof(cred));
			getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl);
			SAY("%s: connected (pid %ld, uid %ld)", s->name,
			    (long)cred.pid, (long)cred.uid);
		}
	}
	if (errno == EMFILE || errno == ENFILE) {
		SAY("%s: accept: %s", listen_path, strerror(errno));
		return -1;
	}
	return 0;
}

/* ---- the reader loop ---- */

static struct source *in_stdin;
static struct source **conns;
static size_t nconns, conncap;
static int lfd = -1;

static void
close_conn(size_t i)
{
	if (verbose)
		SAY("%s: closed after %lu lines", conns[i]->name,
		    conns[i]->lineno);
	source_free(conns[i]);
	conns[i] = conns[--nconns];
	__atomic_fetch_sub(&m_conns_open, 1, __ATOMIC_RELAXED);
}

static void
reader_loop(const sigset_t *unblocked)
{
	struct pollfd *pfd = NULL;
	size_t npfd = 0, n, i, base;
	uint64_t paused_until = 0;

	while (!hm_stop) {
		int timeout = -1;
		struct timespec ts, *tsp = NULL;

		if (hm_hup) {
			hm_hup = 0;
			pipeline_flag(&pl.rotate);
		}
		n = 0;
		if (npfd < nconns + 2 &&
		    (pfd = realloc(pfd, (npfd = nconns + 16) *
		    sizeof(*pfd))) == NULL)
			hm_err(HM_EXIT_FAIL, "realloc");
		if (in_stdin != NULL)
			pfd[n++] = (struct pollfd){ .fd = 0, .events = POLLIN };
		if (lfd >= 0 && hm_mono_ms() >= paused_until)
			pfd[n++] = (struct pollfd){ .fd = lfd, .events = POLLIN };
		else if (lfd >= 0)
			timeout = 1000;
		base = n;
		for (i = 0; i < nconns; i++)
			pfd[n++] = (struct pollfd){ .fd = conns[i]->fd,
			    .events = POLLIN };
		if (n == 0)
			break;		/* stdin done, not listening */
		/* About to wait: the writer gets what we have. */
		flush_chunk();
		if (timeout >= 0) {
			ts = (struct timespec){ timeout / 1000, 0 };
			tsp = &ts;
		}
		if (ppoll(pfd, n, tsp, unblocked) < 0) {
			if (errno == EINTR)
				continue;
			hm_err(HM_EXIT_FAIL, "poll");
		}
		for (i = 0; i < n; i++) {
			if (pfd[i].revents == 0)
				continue;
			if (pfd[i].fd == lfd && i < base) {
				if (accept_all(lfd, &conns, &nconns,
				    &conncap) < 0)
					paused_until = hm_mono_ms() + 1000;
			} else if (i < base) {
				if (!read_source(in_stdin)) {
					source_free(in_stdin);
					in_stdin = NULL;
				}
			}
		}
		/* Connections last: close_conn reorders the array. */
		for (i = n; i-- > base;)
			if (pfd[i].revents != 0 && !read_source(conns[i - base]))
				close_conn(i - base);
	}
	flush_chunk();
	free(pfd);
}

/*
 * Stopping: what writers sent before the signal is stored, as far as it
 * is already here (waiting connections included); reading stops at the
 * first moment a connection has nothing more, so a writer that keeps on
 * writing cannot hold the stop up for long.
 */
static void
readers_drain(void)
{
	size_t i;
	int n, r = RS_DATA;

	if (lfd >= 0)
		accept_all(lfd, &conns, &nconns, &conncap);
	for (i = nconns; i-- > 0;) {
		for (n = 0; n < 64 && (r = read_source(conns[i])) == RS_DATA;
		    n++)
			;
		if (r == RS_END)
			close_conn(i);
	}
}

/* Stop: lines already read are stored, half lines are reported. */
static void
readers_close(void)
{
	if (!strict_stopped)
		readers_drain();
	while (nconns > 0) {
		finish_source(conns[nconns - 1], "at shutdown", 0);
		close_conn(nconns - 1);
	}
	if (in_stdin != NULL) {
		finish_source(in_stdin, "at shutdown", 0);
		source_free(in_stdin);
		in_stdin = NULL;
	}
	flush_chunk();
	if (lfd >= 0) {
		close(lfd);
		unlink(listen_path);
	}
	free(conns);
}

static void
metrics_init(void)
{
	static const struct {
		const char *name;
		enum hm_metric_type type;
		const char *help;
		const uint64_t *v;
	} m[] = {
		{ "lines_in", HM_COUNTER, "lines read", &x_lines },
		{ "lines_bad", HM_COUNTER, "lines reported and skipped", &x_bad },
		{ "lines_torn", HM_COUNTER, "torn last lines of connections",
		    &x_torn },
		{ "records_committed", HM_COUNTER, "records in committed batches",
		    &m_records },
		{ "records_duplicate", HM_COUNTER,
		    "records ignored: their id was stored before", &m_dups },
		{ "batches_committed", HM_COUNTER, "transactions committed",
		    &m_batches },
		{ "rows_pings", HM_COUNTER, "ping rows inserted", &m_pings },
		{ "rows_traces", HM_COUNTER, "trace rows inserted", &m_traces },
		{ "rows_hops", HM_COUNTER, "hop rows inserted", &m_hops },
		{ "links_seen", HM_COUNTER, "link observations upserted",
		    &m_links },
		{ "rows_targets", HM_COUNTER, "target rows inserted",
		    &m_targets },
		{ "rows_raw", HM_COUNTER, "raw rows inserted", &m_raw },
		{ "rotations", HM_COUNTER, "database files rotated",
		    &m_rotations },
		{ "connections", HM_COUNTER, "socket connections accepted",
		    &x_conns },
		{ "connections_open", HM_GAUGE, "socket connections open",
		    &x_conns_open },
	};
	size_t i;

	for (i = 0; i < sizeof(m) / sizeof(m[0]); i++)
		hm_metric(m[i].name, m[i].type, m[i].help, m[i].v);
}

static void
parse_options(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "batch", required_argument, NULL, 'b' },
		{ "interval", required_argument, NULL, 'i' },
		{ "listen", required_argument, NULL, 'l' },
		{ "no-stdin", no_argument, NULL, OPT_NO_STDIN },
		{ "max-size", required_argument, NULL, 's' },
		{ "max-age", required_argument, NULL, 'a' },
		{ "keep", required_argument, NULL, 'k' },
		{ "sync", required_argument, NULL, OPT_SYNC },
		{ "verbose", no_argument, NULL, 'v' },
		HM_COMMON_LONGOPTS,
		{ NULL, 0, NULL, 0 }
	};
	int c;

	while ((c = getopt_long(argc, argv, "b:i:l:s:a:k:v"
	    HM_COMMON_SHORTOPTS, longopts, NULL)) != -1) {
		if (hm_common_option(c, optarg, usage))
			continue;
		switch (c) {
		case 'b':
			batch_max = (unsigned)hm_parse_uint(optarg, 1, 1000000,
			    "batch");
			break;
		case 'i':
			interval_ms = hm_parse_duration(optarg, "interval");
			if (interval_ms == 0 || interval_ms > 86400000)
				hm_errx(HM_EXIT_USAGE, "interval value is out "
				    "of range (1ms..1d): %s", optarg);
			break;
		case 'l':
			listen_path = optarg;
			break;
		case OPT_NO_STDIN:
			no_stdin = 1;
			break;
		case 's':
			max_size = hm_parse_size(optarg, "max-size");
			break;
		case 'a':
			max_age_ms = hm_parse_duration(optarg, "max-age");
			break;
		case 'k':
			keep = (unsigned)hm_parse_uint(optarg, 1, 100000,
			    "keep");
			break;
		case OPT_SYNC:
			if (strcmp(optarg, "full") != 0 &&
			    strcmp(optarg, "normal") != 0)
				hm_errx(HM_EXIT_USAGE, "sync value is invalid "
				    "(normal, full): %s", optarg);
			sync_full = strcmp(optarg, "full") == 0;
			break;
		case 'v':
			verbose = 1;
			break;
		default:
			hm_usage_error(usage);
		}
	}
	if (argc - optind > 1)
		hm_usage_error(usage);
	if (no_stdin && listen_path == NULL)
		hm_errx(HM_EXIT_USAGE, "--no-stdin needs --listen");
}

int
main(int argc, char *argv[])
{
	pthread_t writer, parser[MAXPARSERS];
	sigset_t block, old;
	int i;

	hm_setprog(argv);
	/* SQLite's memory statistics take a global mutex per allocation. */
	sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
	parse_options(argc, argv);
	names_init(optind < argc ? argv[optind] : "map.db");
	hm_signals_init(1);
	signal(SIGPIPE, SIG_IGN);
	metrics_init();
	pipeline_init();
	/* With fd 0 closed, a socket could take it and pose as stdin. */
	if (fcntl(0, F_GETFD) < 0 && open("/dev/null", O_RDONLY) != 0)
		hm_err(HM_EXIT_FAIL, "/dev/null");
	open_current();
	if (listen_path != NULL)
		lfd = listen_open(listen_path);
	if (!no_stdin)
		in_stdin = source_new(0, 0, 256 * 1024);
	if (in_stdin != NULL)
		snprintf(in_stdin->name, sizeof(in_stdin->name), "(stdin)");

	/* Signals reach the main thread only, inside ppoll(), so a stop or
	   a HUP is never lost between a flag check and the wait. */
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	nparsers = hm_opt.strict ? 1 : (int)sysconf(_SC_NPROCESSORS_ONLN);
	nparsers = nparsers < 1 ? 1 : nparsers > MAXPARSERS ? MAXPARSERS :
	    nparsers;
	for (i = 0; i < nparsers; i++)
		if (pthread_create(&parser[i], NULL, parser_main,
		    (void *)(intptr_t)i) != 0)
			hm_errx(HM_EXIT_FAIL, "cannot start a parser thread");
	if (pthread_create(&writer, NULL, writer_main, NULL) != 0)
		hm_errx(HM_EXIT_FAIL, "cannot start the writer thread");
	reader_loop(&old);
	readers_close();
	pipeline_flag(&pl.input_done);
	for (i = 0; i < nparsers; i++)
		pthread_join(parser[i], NULL);
	pthread_join(writer, NULL);
	pipeline_free();
	db_close();
	if (verbose)
		SAY("%" PRIu64 " records stored in %" PRIu64 " batches, %" PRIu64
		    " duplicates ignored, %" PRIu64 " bad lines", m_records,
		    m_batches, m_dups, m_bad);
	metrics_snapshot();	/* for the last write, in hm_exit */
	hm_exit(m_bad > 0 || strict_stopped ? HM_EXIT_BADINPUT : HM_EXIT_OK);
}
