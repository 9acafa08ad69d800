/*
 * seen.h: the set of addresses already let through (cooldown, hopextract),
 * in memory or in an SQLite file that processes share.  Programs that call
 * it link -lsqlite3 (LIBS_name in the Makefile).
 */
#ifndef HOPMAP_SEEN_H
#define HOPMAP_SEEN_H

#include <stddef.h>
#include <stdint.h>

struct hm_seen;
struct hm_seen_stats {
	uint64_t claimed;	/* offers that were new (or expired): written */
	uint64_t refused;	/* offers already in the set: not written */
	uint64_t entries;	/* in memory: addresses held */
	uint64_t evicted;	/* in memory: dropped at the entry bound */
	uint64_t purged;	/* expired entries removed */
	uint64_t commits;	/* SQLite transactions committed */
};
/*
 * A seen set whose entries expire period_ms after their claim (0: never).
 * With path, an SQLite file (WAL) in table TABLE (ip INTEGER PRIMARY KEY,
 * t INTEGER ms since the epoch) that processes may share; without, memory
 * holding at most max_entries, the oldest evicted first.  Errors exit 3.
 * The counters go to *stats, the caller's, so they outlive the set for the
 * last metrics write at exit.
 */
struct hm_seen *hm_seen_open(const char *path, const char *table,
    uint64_t period_ms, size_t max_entries, struct hm_seen_stats *stats);
/* Write line (plus "\n") to stdout if ip is not in the set, or has expired,
   and put it there as of now_ms; else drop the line.  Atomic across the
   processes sharing a file.  With a file, the answer and the line wait for
   the batch's commit. */
void hm_seen_offer(struct hm_seen *s, uint32_t ip, const char *line,
    size_t len, uint64_t now_ms);
/* Write a line unconditionally, in order with the offered ones. */
void hm_seen_emit(struct hm_seen *s, const char *line, size_t len);
/* True while a batch waits for its commit. */
int hm_seen_pending(const struct hm_seen *s);
/* Call once per record: commits the batch when it is due (10000 lines,
   1 MB or 100 ms) or when force (say, before input would block), then
   writes its lines; purges expired rows now and then. */
void hm_seen_sync(struct hm_seen *s, int force, uint64_t now_ms);
/* Commit, write what waits, and free. */
void hm_seen_close(struct hm_seen *s, uint64_t now_ms);

#endif
