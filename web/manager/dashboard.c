/* dashboard.c: the first page after login: the hub's counts and its most
   recent results, read from the hub's database (HOPMAP_MANAGER_HUB_DB)
   read-only, so the manager never holds the sink's lock. */
#include <stdio.h>

#include "manager/manager.h"

static const struct {
	const char *id, *label, *sql;
} counts[] = {
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

void
mg_dashboard(const struct mg_view *v, FILE *out)
{
	const struct mg_config *cf = v->cf;
	sqlite3 *db = NULL;
	sqlite3_stmt *q;
	size_t i;

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
	fputs("<table id=\"counts\">\n", out);
	for (i = 0; i < sizeof counts / sizeof counts[0]; i++) {
		fprintf(out, "<tr><th>%s</th><td class=\"n\" id=\"%s\">",
		    counts[i].label, counts[i].id);
		if (sqlite3_prepare_v2(db, counts[i].sql, -1, &q, NULL) ==
		    SQLITE_OK) {
			if (sqlite3_step(q) == SQLITE_ROW)
				fprintf(out, "%lld", (long long)
				    sqlite3_column_int64(q, 0));
			sqlite3_finalize(q);
		} else
			fputs("?", out);
		fputs("</td></tr>\n", out);
	}
	fputs("</table>\n", out);
	recent(out, db);
	sqlite3_close(db);
}
