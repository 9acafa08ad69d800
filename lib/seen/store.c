/*
 * store.c: the set of addresses a filter has already let through, and
 * when.  cooldown asks "was this passed within the period?", hopextract
 * "was this hop ever emitted?"; both are one operation, claim, which
 * answers and records in one step.
 *
 * In memory the set is a linear-probing hash of address -> time plus a FIFO
 * of claims in time order, so expired entries are purged from the front as
 * time goes on and, at the entry bound, the oldest is evicted.
 *
 * With a state file it is an SQLite table shared by every process using the
 * file.  A claim is one atomic upsert that succeeds only when no row exists
 * or the row is older than the cutoff, so of several processes claiming the
 * same address exactly one gets changes() == 1.  Claims are collected in
 * batches and made in one short transaction each, and what must stay true
 * is that output caused by a claim is written only after that claim's
 * transaction commits: a crash may then lose a batch of output whose claims
 * were recorded (those addresses wait out one period), but never write an
 * address that another process will also write.  The write lock is held
 * only while the batch's statements run, not while input is parsed, and a
 * waiting process polls every millisecond or so, so processes sharing a
 * file take turns instead of one starving the others.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "core/core.h"
#include "seen.h"

/*
 * A batch commits at whichever comes first.  Random addresses dirty about
 * one page each, and every commit writes its dirty pages to the WAL, so
 * batches of 1000 spent most of their time rewriting the same pages; at
 * 10000 claims, or 100 ms, the write lock is still held only briefly.
 */
#define BATCH_ITEMS	10000
#define BATCH_MS	100
#define BATCH_BYTES	(1u << 20)
#define PURGE_MS	60000
#define BUSY_MS		60000

struct slot {
	uint32_t ip;
	uint32_t used;
	uint64_t t;
};

/* A line of the batch: written at the commit if it has no claim
   (claim == 0) or its claim succeeds. */
struct item {
	uint32_t ip;
	int claim;
	uint64_t now;
	size_t off, len;	/* in out, with the "\n" */
};

struct fifo_ent {
	uint32_t ip;
	uint64_t t;
};

struct hm_seen {
	uint64_t period;	/* ms; 0 means entries never expire */
	struct hm_seen_stats *st;	/* the caller's */

	/* In memory. */
	struct slot *slots;
	size_t mask, max;	/* mask + 1 slots; at most max entries */
	struct fifo_ent *fifo;	/* ring of claims, oldest at head */
	size_t fhead, flen, fcap;

	/* In SQLite. */
	const char *path;
	sqlite3 *db;
	sqlite3_stmt *claim, *begin, *commit, *purge;
	uint64_t busy_start, last_purge;
	unsigned int jitter;
	int purge_due;
	struct item *items;	/* the batch, in input order */
	size_t nitems, items_cap;
	struct item **order;	/* its claims, in address order */
	size_t order_cap;
	char *out;		/* the batch's lines, each with its "\n" */
	size_t outlen, outcap;
	uint64_t batch_start;
};

/* ---- in memory ---- */

static size_t
home(const struct hm_seen *s, uint32_t ip)
{
	return (size_t)((ip * 0x9E3779B97F4A7C15ull) >> 32) & s->mask;
}

static struct slot *
mem_find(struct hm_seen *s, uint32_t ip)
{
	size_t i = home(s, ip);

	while (s->slots[i].used && s->slots[i].ip != ip)
		i = (i + 1) & s->mask;
	return &s->slots[i];
}

/* Backward-shift deletion keeps every probe chain unbroken without
   tombstones, so lookups stay short however many entries come and go. */
static void
mem_delete(struct hm_seen *s, struct slot *sl)
{
	size_t i = (size_t)(sl - s->slots), j = i, k;

	for (;;) {
		j = (j + 1) & s->mask;
		if (!s->slots[j].used)
			break;
		k = home(s, s->slots[j].ip);
		/* Move j into the hole unless its home lies in (i, j]. */
		if ((j > i && (k <= i || k > j)) || (j < i && k <= i && k > j)) {
			s->slots[i] = s->slots[j];
			i = j;
		}
	}
	s->slots[i].used = 0;
	s->st->entries--;
}

static void
mem_grow(struct hm_seen *s)
{
	struct slot *old = s->slots;
	size_t n = s->mask + 1, i;

	if ((s->slots = calloc(2 * n, sizeof(*s->slots))) == NULL)
		hm_err(HM_EXIT_FAIL, "calloc");
	s->mask = 2 * n - 1;
	for (i = 0; i < n; i++)
		if (old[i].used)
			*mem_find(s, old[i].ip) = old[i];
	free(old);
}

static void
fifo_push(struct hm_seen *s, uint32_t ip, uint64_t t)
{
	if (s->flen == s->fcap) {
		size_t n = s->fcap * 2, i;
		struct fifo_ent *f = malloc(n * sizeof(*f));

		if (f == NULL)
			hm_err(HM_EXIT_FAIL, "malloc");
		for (i = 0; i < s->flen; i++)
			f[i] = s->fifo[(s->fhead + i) % s->fcap];
		free(s->fifo);
		s->fifo = f;
		s->fhead = 0;
		s->fcap = n;
	}
	s->fifo[(s->fhead + s->flen) % s->fcap] = (struct fifo_ent){ ip, t };
	s->flen++;
}

/* Drop the oldest claim.  An entry claimed again since (its time differs)
   has a newer FIFO element of its own and stays. */
static void
fifo_pop(struct hm_seen *s, uint64_t *counter)
{
	struct fifo_ent e = s->fifo[s->fhead];
	struct slot *sl = mem_find(s, e.ip);

	s->fhead = (s->fhead + 1) % s->fcap;
	s->flen--;
	if (sl->used && sl->t == e.t) {
		mem_delete(s, sl);
		(*counter)++;
	}
}

static int
mem_claim(struct hm_seen *s, uint32_t ip, uint64_t now)
{
	struct slot *sl;

	if (s->period != 0)
		while (s->flen > 0 && s->fifo[s->fhead].t + s->period <= now)
			fifo_pop(s, &s->st->purged);
	sl = mem_find(s, ip);
	if (sl->used) {
		/* Expired but not yet purged happens only when the clock went
		   back; the entry then counts from now. */
		if (s->period == 0 || sl->t + s->period > now)
			return 0;
		sl->t = now;
		if (s->flen == s->max)
			fifo_pop(s, &s->st->evicted);
		fifo_push(s, ip, now);
		return 1;
	}
	if (s->flen == s->max) {
		fifo_pop(s, &s->st->evicted);
		sl = mem_find(s, ip);
	}
	/* Keep the load at most one half. */
	if (2 * (s->st->entries + 1) > s->mask + 1) {
		mem_grow(s);
		sl = mem_find(s, ip);
	}
	sl->ip = ip;
	sl->used = 1;
	sl->t = now;
	s->st->entries++;
	fifo_push(s, ip, now);
	return 1;
}

/* ---- in SQLite ---- */

_Noreturn static void
db_fail(struct hm_seen *s, const char *what)
{
	hm_errx(HM_EXIT_FAIL, "%s: %s: %s", s->path, what,
	    s->db != NULL ? sqlite3_errmsg(s->db) : "out of memory");
}

/*
 * SQLite's own busy handler backs off to 100 ms sleeps, and a process that
 * commits and begins again at once slips through that gap every time: the
 * waiter could starve.  Short, jittered sleeps catch the gap.
 */
static int
db_busy(void *arg, int count)
{
	struct hm_seen *s = arg;
	struct timespec ts = { 0, 0 };

	if (count == 0)
		s->busy_start = hm_mono_ms();
	else if (hm_mono_ms() - s->busy_start >= BUSY_MS)
		return 0;
	s->jitter = s->jitter * 1103515245u + 12345u;
	ts.tv_nsec = 200000 + (long)(s->jitter >> 8) % 800000;
	nanosleep(&ts, NULL);
	return 1;
}

/*
 * Switching a new file to WAL can fail with SQLITE_BUSY at once, without
 * the busy handler, when another process is switching it too; so set-up
 * statements retry as the handler would.
 */
static void
db_exec(struct hm_seen *s, const char *sql)
{
	int rc, n = 0;

	while ((rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL)) == SQLITE_BUSY &&
	    db_busy(s, n++))
		;
	if (rc != SQLITE_OK)
		db_fail(s, sql);
}

static sqlite3_stmt *
db_prepare(struct hm_seen *s, const char *sql)
{
	sqlite3_stmt *st;

	if (sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st,
	    NULL) != SQLITE_OK)
		db_fail(s, "prepare");
	return st;
}

static void
db_step(struct hm_seen *s, sqlite3_stmt *st, const char *what)
{
	int rc, n = 0;

	/* Only BEGIN is retried here: nothing has happened when it fails. */
	while ((rc = sqlite3_step(st)) == SQLITE_BUSY && st == s->begin &&
	    db_busy(s, n++))
		sqlite3_reset(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		db_fail(s, what);
}

static void
db_open(struct hm_seen *s, const char *table)
{
	char sql[512];

	if (sqlite3_open_v2(s->path, &s->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE, NULL) != SQLITE_OK)
		db_fail(s, "open");
	/* Set before anything else touches the file: two processes starting
	   together contend for the WAL switch and the CREATE as well. */
	s->jitter = (unsigned int)getpid();
	sqlite3_busy_handler(s->db, db_busy, s);
	db_exec(s, "PRAGMA journal_mode=WAL");
	/* A power cut may lose the last commits, never the database. */
	db_exec(s, "PRAGMA synchronous=NORMAL");
	/* Claims land on random pages of the table: keep them cached
	   (64 MB holds the pages of some ten million addresses). */
	db_exec(s, "PRAGMA cache_size=-65536");
	/* Each batch fills the WAL past the default 1000 pages; checkpoint
	   (and fsync) every 64 MB of WAL rather than after every batch. */
	db_exec(s, "PRAGMA wal_autocheckpoint=16384");
	snprintf(sql, sizeof(sql), "CREATE TABLE IF NOT EXISTS %s "
	    "(ip INTEGER PRIMARY KEY, t INTEGER NOT NULL)", table);
	db_exec(s, sql);
	snprintf(sql, sizeof(sql), "INSERT INTO %s (ip, t) VALUES (?1, ?2) "
	    "ON CONFLICT (ip) DO UPDATE SET t = excluded.t WHERE t <= ?3",
	    table);
	s->claim = db_prepare(s, sql);
	snprintf(sql, sizeof(sql), "DELETE FROM %s WHERE t <= ?1", table);
	s->purge = db_prepare(s, sql);
	/* IMMEDIATE takes the write lock up front, where the busy handler
	   applies; a deferred read that upgrades later could fail at once. */
	s->begin = db_prepare(s, "BEGIN IMMEDIATE");
	s->commit = db_prepare(s, "COMMIT");
}

static int
db_claim(struct hm_seen *s, uint32_t ip, uint64_t now)
{
	/* With no period, the cutoff lies before every stored time. */
	int64_t cutoff = s->period == 0 ? -1 : (int64_t)now - (int64_t)s->period;

	sqlite3_bind_int64(s->claim, 1, ip);
	sqlite3_bind_int64(s->claim, 2, (int64_t)now);
	sqlite3_bind_int64(s->claim, 3, cutoff);
	db_step(s, s->claim, "claim");
	return sqlite3_changes(s->db) > 0;
}

static void
db_purge(struct hm_seen *s, uint64_t now)
{
	if (s->period == 0 || now < s->period)
		return;
	db_step(s, s->begin, "begin");
	sqlite3_bind_int64(s->purge, 1, (int64_t)(now - s->period));
	db_step(s, s->purge, "purge");
	s->st->purged += (uint64_t)sqlite3_changes(s->db);
	db_step(s, s->commit, "commit");
}

/* Append a line to the batch. */
static void
batch_add(struct hm_seen *s, uint32_t ip, int claim, uint64_t now,
    const char *line, size_t len)
{
	struct item *it;

	if (s->nitems == s->items_cap) {
		s->items_cap = s->items_cap ? 2 * s->items_cap : 1024;
		s->items = realloc(s->items, s->items_cap * sizeof(*s->items));
		if (s->items == NULL)
			hm_err(HM_EXIT_FAIL, "realloc");
	}
	if (s->outlen + len + 1 > s->outcap) {
		size_t n = s->outcap ? s->outcap : 64 * 1024;

		while (n < s->outlen + len + 1)
			n *= 2;
		if ((s->out = realloc(s->out, n)) == NULL)
			hm_err(HM_EXIT_FAIL, "realloc");
		s->outcap = n;
	}
	if (s->nitems == 0)
		s->batch_start = hm_mono_ms();
	it = &s->items[s->nitems++];
	it->ip = ip;
	it->claim = claim;
	it->now = now;
	it->off = s->outlen;
	it->len = len + 1;
	memcpy(s->out + s->outlen, line, len);
	s->out[s->outlen + len] = '\n';
	s->outlen += len + 1;
}

static int
order_cmp(const void *a, const void *b)
{
	const struct item *x = *(struct item *const *)a;
	const struct item *y = *(struct item *const *)b;

	if (x->ip != y->ip)
		return x->ip < y->ip ? -1 : 1;
	return x < y ? -1 : x > y;
}

/*
 * Make the batch's claims in one transaction; after the commit, write the
 * lines that may go.  Claims run in address order, which walks the table's
 * B-tree from left to right instead of jumping about it; for one address
 * claimed twice in a batch, the earlier line still wins.
 */
static void
batch_flush(struct hm_seen *s)
{
	size_t i, n = 0;

	if (s->order_cap < s->nitems) {
		s->order_cap = s->items_cap;
		free(s->order);
		if ((s->order = malloc(s->order_cap * sizeof(*s->order))) == NULL)
			hm_err(HM_EXIT_FAIL, "malloc");
	}
	for (i = 0; i < s->nitems; i++)
		if (s->items[i].claim)
			s->order[n++] = &s->items[i];
	qsort(s->order, n, sizeof(*s->order), order_cmp);
	db_step(s, s->begin, "begin");
	for (i = 0; i < n; i++) {
		struct item *it = s->order[i];

		it->claim = db_claim(s, it->ip, it->now) ? 0 : -1;
		if (it->claim == 0)
			s->st->claimed++;
		else
			s->st->refused++;
	}
	db_step(s, s->commit, "commit");
	s->st->commits++;
	for (i = 0; i < s->nitems; i++)
		if (s->items[i].claim == 0)
			fwrite(s->out + s->items[i].off, 1, s->items[i].len,
			    stdout);
	s->nitems = 0;
	s->outlen = 0;
}

/* ---- the interface ---- */

struct hm_seen *
hm_seen_open(const char *path, const char *table, uint64_t period_ms,
    size_t max_entries, struct hm_seen_stats *stats)
{
	struct hm_seen *s = calloc(1, sizeof(*s));

	if (s == NULL)
		hm_err(HM_EXIT_FAIL, "calloc");
	s->period = period_ms;
	s->st = stats;
	if (path != NULL) {
		s->path = path;
		db_open(s, table);
		/* Clear out what went stale while no one was running. */
		s->purge_due = 1;
		return s;
	}
	s->max = max_entries > 0 ? max_entries : 1;
	s->mask = 1023;
	s->fcap = 1024;
	if ((s->slots = calloc(s->mask + 1, sizeof(*s->slots))) == NULL ||
	    (s->fifo = malloc(s->fcap * sizeof(*s->fifo))) == NULL)
		hm_err(HM_EXIT_FAIL, "malloc");
	return s;
}

void
hm_seen_offer(struct hm_seen *s, uint32_t ip, const char *line, size_t len,
    uint64_t now_ms)
{
	if (s->db != NULL) {
		batch_add(s, ip, 1, now_ms, line, len);
	} else if (mem_claim(s, ip, now_ms)) {
		s->st->claimed++;
		hm_line_write(stdout, line, len);
	} else {
		s->st->refused++;
	}
}

void
hm_seen_emit(struct hm_seen *s, const char *line, size_t len)
{
	if (s->db != NULL && s->nitems > 0)
		batch_add(s, 0, 0, 0, line, len);
	else
		hm_line_write(stdout, line, len);
}

int
hm_seen_pending(const struct hm_seen *s)
{
	return s->nitems > 0;
}

void
hm_seen_sync(struct hm_seen *s, int force, uint64_t now_ms)
{
	uint64_t mono;

	if (s->db == NULL)
		return;
	mono = hm_mono_ms();
	if (s->nitems > 0 && (force || s->nitems >= BATCH_ITEMS ||
	    s->outlen >= BATCH_BYTES || mono - s->batch_start >= BATCH_MS)) {
		batch_flush(s);
		if (force)
			fflush(stdout);
	}
	if (s->purge_due || mono - s->last_purge >= PURGE_MS) {
		s->purge_due = 0;
		s->last_purge = mono;
		db_purge(s, now_ms);
	}
}

void
hm_seen_close(struct hm_seen *s, uint64_t now_ms)
{
	if (s->db != NULL) {
		hm_seen_sync(s, 1, now_ms);
		sqlite3_finalize(s->claim);
		sqlite3_finalize(s->purge);
		sqlite3_finalize(s->begin);
		sqlite3_finalize(s->commit);
		if (sqlite3_close(s->db) != SQLITE_OK)
			db_fail(s, "close");
		free(s->items);
		free(s->order);
		free(s->out);
	}
	free(s->slots);
	free(s->fifo);
	free(s);
}
