/*
 * gate_in_state.c: the input's state as JSON: every consumer's progress
 * (GET /status), and one consumer's state to move between hubs (GET
 * /export, POST /import).
 *
 * What moves: the range cursor (fingerprint, position, restarts) and the
 * hops the consumer had not been given yet.  Two hubs with the same range
 * set have the same order (gate_in_ranges.c), so the position means the
 * same addresses there: none skipped, none repeated.  The pending hops join
 * the receiving hub's pool (its dedup decides, and its other consumers get
 * them too); the consumer's place in that pool is its own there if it had
 * one, else the start, as for any newcomer.  A state whose range set
 * differs from the hub's is taken all the same and restarts at its next
 * answer (gate_in_feed.c); the answer says "ranges_match": false.
 */
#include <stdio.h>
#include <string.h>

#include "core/core.h"
#include "httpd/gate_in.h"

#define SHARED_CURSOR ""

static const char *
cursor_name(const struct gi_engine *e, const char *consumer)
{
	return e->shard ? SHARED_CURSOR : consumer;
}

/* One consumer's line of GET /status; NULL on a database error. */
static json_t *
consumer_status(struct gi_engine *e, sqlite3_stmt *row)
{
	const char *name = (const char *)sqlite3_column_text(row, 0);
	struct gi_cursor c;
	uint64_t pending, done;
	int same;

	if (name == NULL ||
	    gi_store_cursor(&e->store, cursor_name(e, name), NULL, &c) != 0 ||
	    gi_store_pool_count(&e->store, c.hop_pos, &pending) != 0)
		return NULL;
	same = strcmp(c.fp, e->ranges.fp) == 0;
	done = same ? c.range_pos : 0;
	return json_pack("{s:s, s:I, s:I, s:b, s:b, s:I, s:I, s:I, s:I, s:f, "
	    "s:f, s:f}",
	    "name", name,
	    "done", (json_int_t)done,
	    "total", (json_int_t)e->ranges.total,
	    "finished", done == e->ranges.total,
	    "ranges_changed", !same && c.fp[0] != '\0',
	    "restarts", (json_int_t)c.restarts,
	    "targets_served", (json_int_t)sqlite3_column_int64(row, 3),
	    "hops_served", (json_int_t)sqlite3_column_int64(row, 4),
	    "hops_pending", (json_int_t)pending,
	    "first_seen", sqlite3_column_double(row, 1),
	    "last_seen", sqlite3_column_double(row, 2),
	    "idle_seconds", sqlite3_column_double(row, 5));
}

json_t *
gi_engine_status(struct gi_engine *e, double now)
{
	sqlite3_stmt *st = NULL;
	json_t *list = json_array(), *one, *out = NULL;
	int64_t top;
	int rc;

	pthread_mutex_lock(&e->lock);
	if (sqlite3_prepare_v2(e->store.db, "SELECT name, first_seen, "
	    "last_seen, ranges_served + hops_served, hops_served, ?1 - last_seen "
	    "FROM consumers ORDER BY name", -1, &st, NULL) != SQLITE_OK)
		goto out;
	sqlite3_bind_double(st, 1, now);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if ((one = consumer_status(e, st)) == NULL)
			goto out;
		json_array_append_new(list, one);
	}
	if (rc != SQLITE_DONE || (top = gi_store_pool_top(&e->store)) < 0)
		goto out;
	out = json_pack("{s:{s:I, s:s, s:i}, s:b, s:{s:I}, s:O}",
	    "ranges", "total", (json_int_t)e->ranges.total,
	    "fingerprint", e->ranges.fp, "files", (int)e->ranges.nfiles,
	    "shard", e->shard,
	    "hops", "pool", (json_int_t)top,
	    "consumers", list);
out:
	sqlite3_finalize(st);
	pthread_mutex_unlock(&e->lock);
	json_decref(list);
	return out;
}

static json_t *
export_locked(struct gi_engine *e, const char *consumer, int *known)
{
	struct gi_hop h[256];
	struct gi_cursor c;
	json_t *hops, *one;
	size_t got, i;
	int64_t after;

	if ((*known = gi_store_known(&e->store, consumer)) != 1 ||
	    gi_store_cursor(&e->store, cursor_name(e, consumer), NULL, &c) != 0) {
		*known = *known != 0;
		return NULL;
	}
	if (strcmp(c.fp, e->ranges.fp) != 0) {	/* as its next answer would */
		c.restarts += c.fp[0] != '\0';
		memcpy(c.fp, e->ranges.fp, sizeof c.fp);
		c.range_pos = 0;
	}
	hops = json_array();
	for (after = c.hop_pos;; after = h[got - 1].id) {
		if (gi_store_pool(&e->store, after, h, 256, &got) != 0) {
			json_decref(hops);
			return NULL;
		}
		for (i = 0; i < got; i++) {
			char ip[16];

			hm_ip_format(h[i].ip, ip);
			one = h[i].found_by[0] != '\0' ?
			    json_pack("{s:s, s:s}", "ip", ip, "found_by",
			    h[i].found_by) : json_pack("{s:s}", "ip", ip);
			json_array_append_new(hops, one);
		}
		if (got < 256)
			break;
	}
	return json_pack("{s:i, s:s, s:b, s:{s:s, s:I, s:I}, s:I, s:o}",
	    "version", 1, "consumer", consumer, "shard", e->shard,
	    "ranges", "fingerprint", c.fp, "done", (json_int_t)c.range_pos,
	    "total", (json_int_t)e->ranges.total,
	    "restarts", (json_int_t)c.restarts, "hops", hops);
}

json_t *
gi_engine_export(struct gi_engine *e, const char *consumer, int *known)
{
	json_t *out;

	pthread_mutex_lock(&e->lock);
	out = export_locked(e, consumer, known);
	pthread_mutex_unlock(&e->lock);
	return out;
}

static int
import_locked(struct gi_engine *e, const struct gi_state *st, double now,
    size_t *added)
{
	const char *cname = cursor_name(e, st->consumer);
	struct gi_cursor c;
	size_t i;
	int rc;

	if (gi_store_cursor(&e->store, cname, NULL, &c) != 0)
		return -1;
	memcpy(c.fp, st->cur.fp, sizeof c.fp);
	c.range_pos = st->cur.range_pos;
	c.restarts = st->cur.restarts;
	for (i = 0; i < st->nhops; i++) {
		if ((rc = gi_store_hop_add(&e->store, st->hops[i].ip,
		    st->hops[i].found_by)) < 0)
			return -1;
		*added += (size_t)rc;
	}
	return gi_store_cursor_save(&e->store, cname, &c) != 0 ||
	    gi_store_seen(&e->store, st->consumer, now, 0, 0) != 0 ? -1 : 0;
}

json_t *
gi_engine_import(struct gi_engine *e, const struct gi_state *st, double now)
{
	size_t added = 0;
	int rc = -1;

	pthread_mutex_lock(&e->lock);
	if (gi_store_begin(&e->store) == 0) {
		if ((rc = import_locked(e, st, now, &added)) == 0)
			rc = gi_store_commit(&e->store);
		if (rc != 0)
			gi_store_rollback(&e->store);
	}
	if (rc == 0)
		e->hops_added += added;
	pthread_mutex_unlock(&e->lock);
	if (rc != 0)
		return NULL;
	return json_pack("{s:s, s:I, s:I, s:b, s:I, s:I}",
	    "consumer", st->consumer, "done", (json_int_t)st->cur.range_pos,
	    "total", (json_int_t)e->ranges.total,
	    "ranges_match", strcmp(st->cur.fp, e->ranges.fp) == 0,
	    "hops", (json_int_t)st->nhops, "hops_added", (json_int_t)added);
}
