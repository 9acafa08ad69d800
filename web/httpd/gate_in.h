/*
 * gate_in.h: the gateway's input, below its routes.  Three parts, each
 * testable without HTTP:
 *   gate_in_ranges.c  the hub's range files as one address set, walked in
 *                     a fixed spread order (position -> address);
 *   gate_in_feed.c    what a consumer gets next (the decision, no I/O);
 *   gate_in_store.c   consumers, cursors and the hop pool in SQLite;
 *   gate_in_parse.c   what clients send: hop lines, an imported state;
 *   gate_in_engine.c  the parts together behind one lock: what a route
 *                     calls, in memory (tests/unit/httpd_gate_in.c);
 *   gate_in_state.c   the state as JSON: status, export, import.
 * gate_in.c puts the engine behind the routes (GET /targets, ...).
 */
#ifndef HOPMAP_HTTPD_GATE_IN_H
#define HOPMAP_HTTPD_GATE_IN_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <sqlite3.h>

#include "addrset/addrset.h"

/* gate_in.c: the module that modules.c lists. */
struct hx_module;
extern const struct hx_module hx_gate_in_module;

/* ---- gate_in_ranges.c ---- */
struct gi_ranges {
	struct hm_rangeset rs;
	struct hm_perm perm;
	uint64_t total;		/* addresses in the set */
	char fp[17];		/* fingerprint of the set: 16 hex digits */
	unsigned nfiles;	/* range files read */
	unsigned long bad;	/* lines refused (said on stderr) */
};
/* Every DIR/NAME.txt, in name order, read as cidr-expand reads its input;
   special-purpose addresses left out unless RESERVED.  A missing DIR is
   an empty set.  0, or -1 with ERR filled. */
int gi_ranges_load(struct gi_ranges *r, const char *dir, int reserved,
    char *err, size_t errlen);
/* The same from lines in memory (tests): TEXT is a whole file. */
int gi_ranges_from_text(struct gi_ranges *r, const char *text, int reserved);
/* The address at position I < total of the spread order. */
uint32_t gi_ranges_at(const struct gi_ranges *r, uint64_t i);
void gi_ranges_free(struct gi_ranges *r);

/* ---- gate_in_feed.c ---- */
/* Where one cursor stands: range positions [0, range_pos) and pool hops
   with id <= hop_pos are handed out, under the range set FP. */
struct gi_cursor {
	char fp[17];
	uint64_t range_pos;
	int64_t hop_pos;
	uint64_t restarts;	/* times the range set changed under it */
};
/* One answer: pool hops after hop_pos first (up to POOL), then ranges. */
struct gi_plan {
	size_t hops;		/* pool hops to hand out */
	uint64_t range_from, range_to;
	int restarted;		/* the cursor began the range set again */
};
/* Decide the next N targets of cursor C (its ranges part updated in place
   to where it stands after them) given POOL hops pending for it and the
   range set R.  Nothing to hand out: a plan of zeros. */
void gi_feed_plan(struct gi_cursor *c, const struct gi_ranges *r,
    size_t n, size_t pool, struct gi_plan *p);

/* ---- gate_in_store.c ---- */
struct gi_hop {
	uint32_t ip;
	int64_t id;		/* the pool row */
	char found_by[65];	/* "" when unknown */
};
struct gi_store {
	sqlite3 *db;
	const char *path;
};
int gi_store_open(struct gi_store *s, const char *path, char *err,
    size_t errlen);
void gi_store_close(struct gi_store *s);
/* BEGIN IMMEDIATE / COMMIT / ROLLBACK: -1 on a database error. */
int gi_store_begin(struct gi_store *s);
int gi_store_commit(struct gi_store *s);
void gi_store_rollback(struct gi_store *s);
/* The cursor NAME (fills C; a new one is all zeros with FP). */
int gi_store_cursor(struct gi_store *s, const char *name, const char *fp,
    struct gi_cursor *c);
int gi_store_cursor_save(struct gi_store *s, const char *name,
    const struct gi_cursor *c);
/* A consumer seen now (created when new), and what it was handed. */
int gi_store_seen(struct gi_store *s, const char *consumer, double now,
    uint64_t ranges, uint64_t hops);
/* Up to MAX hops of the pool after AFTER, in order. */
int gi_store_pool(struct gi_store *s, int64_t after, struct gi_hop *h,
    size_t max, size_t *got);
/* Hops in the pool after AFTER (pending for a cursor there). */
int gi_store_pool_count(struct gi_store *s, int64_t after, uint64_t *count);
/* Add a hop to the pool: 1 added, 0 known, -1 error. */
int gi_store_hop_add(struct gi_store *s, uint32_t ip, const char *found_by);
int64_t gi_store_pool_top(struct gi_store *s);
/* A named number kept between runs (the hub queue's offset...). */
int gi_store_meta_get(struct gi_store *s, const char *key, int64_t *v);
int gi_store_meta_set(struct gi_store *s, const char *key, int64_t v);
/* Does the consumer exist? 1, 0, -1. */
int gi_store_known(struct gi_store *s, const char *consumer);

/* ---- gate_in_parse.c ---- */
/* A hop line as hopextract writes it ({"ip": ..., "found_by": ...}) or a
   bare address: 1 with *ip and found_by (cut to 64 bytes, "" if none), 0
   for a blank line, -1 with *why. */
int gi_parse_hop(const char *line, size_t len, uint32_t *ip,
    char found_by[65], const char **why);
/* An exported state (gi_export's text) read back. */
struct gi_state {
	char consumer[65];
	struct gi_cursor cur;	/* range_pos, fp, restarts; hop_pos unused */
	uint64_t total;
	struct gi_hop *hops;	/* malloc'd: the hops it had not been given */
	size_t nhops;
};
int gi_parse_state(const char *text, size_t len, struct gi_state *st,
    char *why, size_t whylen);
void gi_state_free(struct gi_state *st);

/* ---- gate_in_engine.c ---- */
struct gi_engine {
	pthread_mutex_t lock;
	struct gi_ranges ranges;
	struct gi_store store;
	int shard;		/* one cursor for all: each address to one */
	char *queue;		/* the hub's own hop queue, or NULL */
	uint64_t targets, hops_served, hops_added, hops_known;	/* counters */
};
/* What one answer hands out: hops, then range positions [from, to). */
struct gi_batch {
	struct gi_hop *hops;
	size_t nhops;
	uint64_t range_from, range_to;
};
struct gi_hops_result {
	size_t lines, added, known, bad;
	size_t bad_line;	/* the first bad line, and why */
	char why[96];
};
/* DB the state (created when new), RANGES_DIR the range files, QUEUE the
   hub's hop queue file that `hopmap-hub hops` appends to (NULL: none). */
int gi_engine_open(struct gi_engine *e, const char *db,
    const char *ranges_dir, const char *queue, int shard, int reserved,
    char *err, size_t errlen);
void gi_engine_close(struct gi_engine *e);
/* The next up to N targets of CONSUMER, saved before it returns (so a
   lost answer may repeat them, never skip them).  0, or -1: database. */
int gi_engine_next(struct gi_engine *e, const char *consumer, size_t n,
    double now, struct gi_batch *b);
size_t gi_batch_count(const struct gi_batch *b);
/* The batch as NDJSON target records, or bare addresses when PLAIN. */
char *gi_batch_text(const struct gi_engine *e, const struct gi_batch *b,
    int plain, size_t *len);
void gi_batch_free(struct gi_batch *b);
/* Hop lines (NDJSON or bare addresses) into the pool: good lines are
   kept even when others are bad.  0, or -1: database. */
int gi_engine_add_hops(struct gi_engine *e, const char *body, size_t len,
    struct gi_hops_result *r);
/* ---- gate_in_state.c ---- */
/* Every consumer's progress; NULL: database. */
json_t *gi_engine_status(struct gi_engine *e, double now);
/* CONSUMER's state to move to another hub; NULL when unknown (*known 0)
   or on a database error (*known 1). */
json_t *gi_engine_export(struct gi_engine *e, const char *consumer,
    int *known);
/* Take a state exported by gi_engine_export: the range cursor as it was,
   its pending hops into the pool.  What was done, or NULL: database. */
json_t *gi_engine_import(struct gi_engine *e, const struct gi_state *st,
    double now);

#endif
