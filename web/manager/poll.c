/* poll.c: hopmap-manager poll, run by cron each minute: each worker's
   /health (up or down, last seen, version, counters) into the store, and
   one sample of the hub's counts for the dashboard's charts, so a page
   load never counts over the whole database. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "manager/manager.h"

const struct mg_count mg_counts[MG_NCOUNTS] = {
	{ "probed", "Targets probed", "SELECT count(DISTINCT ip) FROM pings" },
	{ "responders", "Responders",
	    "SELECT count(DISTINCT ip) FROM pings WHERE ok = 1" },
	/* Intermediate hops only, as hopmap-status counts them. */
	{ "routers", "Routers", "SELECT count(DISTINCT h.ip) FROM hops h"
	    " JOIN traces t ON t.id = h.trace_id"
	    " WHERE h.ip IS NOT NULL AND h.ip != t.ip" },
	{ "links", "Links",
	    "SELECT count(*) FROM (SELECT DISTINCT a, b FROM links)" },
};

/* /health's "programs" as one line: "stem: name=value ...; ...", cut at
   the buffer's end (the page shows it as text). */
static void
summarize(json_t *programs, char *buf, size_t cap)
{
	const char *stem, *k;
	json_t *file, *v;
	size_t len = 0;

	*buf = '\0';
	json_object_foreach(programs, stem, file) {
		json_t *m = json_object_get(file, "metrics");

		len += (size_t)snprintf(buf + len, cap - len, "%s%s:",
		    len > 0 ? "; " : "", stem);
		if (len >= cap)
			break;
		json_object_foreach(m, k, v) {
			len += (size_t)snprintf(buf + len, cap - len,
			    " %s=%.15g", k, json_number_value(v));
			if (len >= cap)
				break;
		}
		if (len >= cap)
			break;
	}
	if (len >= cap && cap > 4)
		memcpy(buf + cap - 4, "...", 4);
}

static int
record(struct mg_store *st, const struct mg_worker *w, time_t now, int up,
    json_t *h, const char *error)
{
	char counters[sizeof w->counters];
	sqlite3_stmt *q;
	int rc;

	if (up)
		summarize(json_object_get(h, "programs"), counters,
		    sizeof counters);
	rc = sqlite3_prepare_v2(st->db, up ?
	    "UPDATE workers SET polled = ?2, last_seen = ?2, up = 1,"
	    " version = ?3, uptime = ?4, counters = ?5, error = NULL"
	    " WHERE id = ?1" :
	    "UPDATE workers SET polled = ?2, up = 0, error = ?6"
	    " WHERE id = ?1", -1, &q, NULL);
	if (rc != SQLITE_OK)
		return -1;
	sqlite3_bind_int64(q, 1, (sqlite3_int64)w->id);
	sqlite3_bind_int64(q, 2, (sqlite3_int64)now);
	if (up) {
		sqlite3_bind_text(q, 3, json_string_value(json_object_get(h,
		    "version")), -1, SQLITE_STATIC);
		sqlite3_bind_int64(q, 4, (sqlite3_int64)json_integer_value(
		    json_object_get(h, "uptime")));
		sqlite3_bind_text(q, 5, counters, -1, SQLITE_STATIC);
	} else
		sqlite3_bind_text(q, 6, error, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	sqlite3_finalize(q);
	return rc == SQLITE_DONE ? 0 : -1;
}

struct list {
	struct mg_worker *v;
	size_t n, cap;
};

static void
collect(void *arg, const struct mg_worker *w)
{
	struct list *l = arg;

	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 16;
		struct mg_worker *v = realloc(l->v, cap * sizeof *v);

		if (v == NULL)
			return;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = *w;
}

int
mg_poll_workers(struct mg_store *st, time_t now, FILE *log)
{
	struct list l = { 0 };
	char key[160], err[256];
	int down = 0;

	/* The list first, so no statement is open while curl waits. */
	if (mg_worker_list(st, collect, &l) != 0) {
		free(l.v);
		return -1;
	}
	for (size_t i = 0; i < l.n; i++) {
		const struct mg_worker *w = &l.v[i];
		const char *status;
		json_t *h = NULL;
		int up;

		if (mg_worker_key(st, w, key, sizeof key) != 0) {
			snprintf(err, sizeof err, "its key cannot be opened "
			    "under this server key");
			up = 0;
		} else
			up = mg_fetch_json(w->url, "/health", key,
			    MG_FETCH_TIMEOUT, &h, err, sizeof err) == 0;
		sodium_memzero(key, sizeof key);
		status = json_string_value(json_object_get(h, "status"));
		if (up && (status == NULL || strcmp(status, "ok") != 0)) {
			snprintf(err, sizeof err, "status %s",
			    status != NULL ? status : "missing");
			up = 0;
		}
		if (record(st, w, now, up, h, err) != 0) {
			json_decref(h);
			free(l.v);
			return -1;
		}
		json_decref(h);
		down += !up;
		if (log != NULL)
			fprintf(log, "%s %s %s%s%s\n", w->name, w->url,
			    up ? "up" : "down", up ? "" : ": ", up ? "" : err);
	}
	free(l.v);
	return down;
}

int
mg_hub_counts(const char *hub_db, int64_t v[MG_NCOUNTS], char *err,
    size_t errlen)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *q;
	int rc = 0;

	if (sqlite3_open_v2(hub_db, &db, SQLITE_OPEN_READONLY, NULL) !=
	    SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", hub_db, db != NULL ?
		    sqlite3_errmsg(db) : "cannot open");
		sqlite3_close(db);
		return -1;
	}
	sqlite3_busy_timeout(db, 5000);
	for (int i = 0; i < MG_NCOUNTS && rc == 0; i++) {
		if (sqlite3_prepare_v2(db, mg_counts[i].sql, -1, &q, NULL) !=
		    SQLITE_OK) {
			snprintf(err, errlen, "%s: %s", hub_db,
			    sqlite3_errmsg(db));
			rc = -1;
			break;
		}
		if (sqlite3_step(q) == SQLITE_ROW)
			v[i] = (int64_t)sqlite3_column_int64(q, 0);
		else {
			snprintf(err, errlen, "%s: %s", hub_db,
			    sqlite3_errmsg(db));
			rc = -1;
		}
		sqlite3_finalize(q);
	}
	sqlite3_close(db);
	return rc;
}

/* One sample a second: a second poll within it keeps the first's. */
int
mg_sample_add(struct mg_store *st, time_t now, const int64_t v[MG_NCOUNTS])
{
	sqlite3_stmt *q;
	int rc;

	if (sqlite3_prepare_v2(st->db, "INSERT OR IGNORE INTO samples (at,"
	    " probed, responders, routers, links) VALUES (?, ?, ?, ?, ?)", -1,
	    &q, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int64(q, 1, (sqlite3_int64)now);
	for (int i = 0; i < MG_NCOUNTS; i++)
		sqlite3_bind_int64(q, i + 2, (sqlite3_int64)v[i]);
	rc = sqlite3_step(q);
	sqlite3_finalize(q);
	return rc == SQLITE_DONE ? 0 : -1;
}
