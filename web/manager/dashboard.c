/* dashboard.c: the first page after login: the hub's counts (targets
   probed, responders, routers, links), each a chart over the samples
   hopmap-manager poll keeps, so a page load reads a few hundred rows of
   the manager's store rather than counting over the hub's database; and
   the hub's most recent results, read-only (two bounded queries), so the
   manager never holds the sink's lock. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "manager/manager.h"

/* The spans a chart may show, by the query's span=. */
static const struct {
	const char *name;
	int64_t seconds;
} spans[] = {
	{ "1h", 3600 }, { "24h", 86400 }, { "7d", 7 * 86400 },
	{ "30d", 30 * 86400 },
};
#define NSPANS (sizeof spans / sizeof spans[0])
#define DEFAULT_SPAN 1

struct series {
	int64_t at[MG_CHART_POINTS], v[MG_NCOUNTS][MG_CHART_POINTS];
	size_t n;
};

/* The samples of the last span seconds, at most MG_CHART_POINTS: when
   there are more, they go in buckets of equal time, each drawn as its
   newest sample (SQLite takes the bare columns from max()'s row). */
static int
load(struct mg_store *st, time_t now, int64_t span, struct series *s)
{
	int64_t bucket = 1;
	sqlite3_stmt *q;
	int rc;

	s->n = 0;
	if (sqlite3_prepare_v2(st->db, "SELECT count(*) FROM samples WHERE"
	    " at > ?", -1, &q, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int64(q, 1, (sqlite3_int64)(now - span));
	if (sqlite3_step(q) == SQLITE_ROW &&
	    sqlite3_column_int64(q, 0) > MG_CHART_POINTS)
		bucket = span / MG_CHART_POINTS + 1;
	sqlite3_finalize(q);
	if (sqlite3_prepare_v2(st->db, "SELECT max(at), probed, responders,"
	    " routers, links FROM samples WHERE at > ?1 GROUP BY at / ?2"
	    " ORDER BY 1", -1, &q, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int64(q, 1, (sqlite3_int64)(now - span));
	sqlite3_bind_int64(q, 2, (sqlite3_int64)bucket);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW && s->n < MG_CHART_POINTS) {
		s->at[s->n] = sqlite3_column_int64(q, 0);
		for (int i = 0; i < MG_NCOUNTS; i++)
			s->v[i][s->n] = sqlite3_column_int64(q, i + 1);
		s->n++;
	}
	sqlite3_finalize(q);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

static void
cell(FILE *out, sqlite3_stmt *q, int col)
{
	fputs("<td>", out);
	if (sqlite3_column_type(q, col) != SQLITE_NULL)
		mg_html(out, (const char *)sqlite3_column_text(q, col));
	fputs("</td>", out);
}

static void
recent(FILE *out, sqlite3 *db)
{
	sqlite3_stmt *q;
	int rc;

	fputs("<h2>Most recent results</h2>\n<table id=\"recent\"><tr>"
	    "<th>time</th><th>kind</th><th>address</th><th>node</th>"
	    "<th>result</th></tr>\n", out);
	if (sqlite3_prepare_v2(db,
	    "SELECT ts, kind, ip, node, result FROM ("
	    " SELECT id, ts, 'ping' AS kind, ip, node, CASE WHEN ok = 1 THEN"
	    " printf('%.2f ms', rtt_ms) ELSE 'no reply' END AS result"
	    " FROM pings ORDER BY id DESC LIMIT 10)"
	    " UNION ALL SELECT ts, kind, ip, node, result FROM ("
	    " SELECT id, ts, 'trace' AS kind, ip, node,"
	    " printf('%d hops, %s', hop_count, stop) AS result"
	    " FROM traces ORDER BY id DESC LIMIT 10)"
	    " ORDER BY ts DESC LIMIT 10", -1, &q, NULL) != SQLITE_OK) {
		fputs("</table>\n<p class=\"msg\">", out);
		mg_html(out, sqlite3_errmsg(db));
		fputs("</p>\n", out);
		return;
	}
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		fputs("<tr>", out);
		for (int i = 0; i < 5; i++)
			cell(out, q, i);
		fputs("</tr>\n", out);
	}
	sqlite3_finalize(q);
	fputs("</table>\n", out);
}

static void
counts(const struct mg_view *v, FILE *out)
{
	char want[16];
	size_t k = DEFAULT_SPAN, i;
	struct series *s = malloc(sizeof *s);

	if (mg_form_get(v->query, strlen(v->query), "span", want,
	    sizeof want) != NULL)
		for (i = 0; i < NSPANS; i++)
			if (strcmp(want, spans[i].name) == 0)
				k = i;
	if (s == NULL || load(v->st, v->now, spans[k].seconds, s) != 0) {
		fputs("<p class=\"msg\">The samples cannot be read.</p>\n",
		    out);
		free(s);
		return;
	}
	/* The newest sample's counts, as numbers first. */
	fputs("<table id=\"counts\">\n", out);
	for (i = 0; i < MG_NCOUNTS; i++) {
		fprintf(out, "<tr><th>%s</th><td class=\"n\" id=\"%s\">",
		    mg_counts[i].label, mg_counts[i].id);
		if (s->n > 0)
			fprintf(out, "%" PRId64, s->v[i][s->n - 1]);
		fputs("</td></tr>\n", out);
	}
	fputs("</table>\n<p class=\"spans\">Over the last", out);
	for (i = 0; i < NSPANS; i++) {
		if (i == k) {
			fprintf(out, " <strong>%s</strong>", spans[i].name);
			continue;
		}
		fputs(" <a href=\"", out);
		mg_html(out, v->script);
		fprintf(out, "/?span=%s\">%s</a>", spans[i].name,
		    spans[i].name);
	}
	fputs(":</p>\n<div class=\"charts\">\n", out);
	for (i = 0; i < MG_NCOUNTS; i++)
		mg_chart(out, mg_counts[i].id, mg_counts[i].label, s->at,
		    s->v[i], s->n);
	fputs("</div>\n", out);
	free(s);
}

void
mg_dashboard(const struct mg_view *v, FILE *out)
{
	const struct mg_config *cf = v->cf;
	sqlite3 *db = NULL;

	counts(v, out);
	if (cf->hub_db == NULL || *cf->hub_db == '\0') {
		fputs("<p class=\"msg\">No hub database is configured "
		    "(HOPMAP_MANAGER_HUB_DB).</p>\n", out);
		return;
	}
	if (sqlite3_open_v2(cf->hub_db, &db, SQLITE_OPEN_READONLY, NULL) !=
	    SQLITE_OK) {
		fputs("<p class=\"msg\">The hub database cannot be opened: ",
		    out);
		mg_html(out, db != NULL ? sqlite3_errmsg(db) : "no memory");
		fputs("</p>\n", out);
		sqlite3_close(db);
		return;
	}
	sqlite3_busy_timeout(db, 5000);
	recent(out, db);
	sqlite3_close(db);
}
