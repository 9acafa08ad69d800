/*
 * gate_out_stats.c: GET /stats, read-only on the hub's database while the
 * sink writes (a connection of its own per request, a busy timeout).
 *
 * /stats reads every retained file of the series, as hopmap-status and
 * hopmap-map do (the map lasts across rotations: issue 9), with the same
 * SQL as hopmap-status, so its figures are theirs on the same data: a
 * rotation must not make a hub look as if it had forgotten.  It costs a
 * pass over every file per request; monitoring asks every few seconds at
 * most, and the sink goes on meanwhile (WAL readers do not block it).
 */
#include <stdio.h>

#include "httpd/gate_out.h"

/* One file's sums into the temporary tables: hopmap-status's per-file
   SQL, with the responders (addresses with a ping that was answered). */
static const char stats_tables[] =
"CREATE TEMP TABLE xp (node, n, ok, last);"
"CREATE TEMP TABLE xt (node, n, alone, last);"
"CREATE TEMP TABLE xg (node, n); CREATE TEMP TABLE xr (node, ip);"
"CREATE TEMP TABLE xl (node, a, b, last); CREATE TEMP TABLE xa (node, n, last);"
"CREATE TEMP TABLE xo (node, ip);";

static const char stats_file[] =
"INSERT INTO xp SELECT coalesce(node, ''), count(*), coalesce(sum(ok), 0),"
"    max(ts) FROM s.pings GROUP BY 1;"
"INSERT INTO xt SELECT coalesce(node, ''), count(*),"
"    sum(json_extract(json, '$.ping') IS NULL), max(ts) FROM s.traces"
"    GROUP BY 1;"
"INSERT INTO xg SELECT coalesce(node, ''), count(*) FROM s.targets GROUP BY 1;"
"INSERT INTO xr SELECT DISTINCT coalesce(t.node, ''), h.ip"
"    FROM s.hops h JOIN s.traces t ON t.id = h.trace_id"
"    WHERE h.ip IS NOT NULL AND h.ip != t.ip;"
"INSERT INTO xl SELECT node, a, b, last_seen FROM s.links;"
"INSERT INTO xa SELECT coalesce(node, ''), count(*),"
"    max(json_extract(json, '$.ts')) FROM s.raw"
"    WHERE src = 'hopmap-ack' GROUP BY 1;"
"INSERT INTO xo SELECT DISTINCT coalesce(node, ''), ip FROM s.pings"
"    WHERE ok = 1;";

/* The sums: hopmap-status's, and the totals over the nodes (an address
   or a link seen by two nodes counts once there). */
static const char stats_sum[] =
"WITH p AS (SELECT node, sum(n) AS n, sum(ok) AS ok, max(last) AS last"
"        FROM xp GROUP BY 1),"
"t AS (SELECT node, sum(n) AS n, sum(alone) AS alone, max(last) AS last"
"        FROM xt GROUP BY 1),"
"g AS (SELECT node, sum(n) AS n FROM xg GROUP BY 1),"
"r AS (SELECT node, count(DISTINCT ip) AS n FROM xr GROUP BY 1),"
"o AS (SELECT node, count(DISTINCT ip) AS n FROM xo GROUP BY 1),"
"l AS (SELECT node, count(*) AS n, max(last) AS last"
"        FROM (SELECT node, a, b, max(last) AS last FROM xl GROUP BY 1, 2, 3)"
"        GROUP BY 1),"
"a AS (SELECT node, sum(n) AS n, max(last) AS last FROM xa GROUP BY 1),"
"k AS (SELECT node FROM p UNION SELECT node FROM t UNION SELECT node FROM g"
"        UNION SELECT node FROM a),"
"s AS (SELECT k.node AS node,"
"    coalesce(p.n, 0) + coalesce(t.alone, 0) + coalesce(g.n, 0) AS records,"
"    coalesce(p.n, 0) AS pings, coalesce(p.ok, 0) AS pings_ok,"
"    coalesce(o.n, 0) AS responders,"
"    coalesce(t.n, 0) AS traces, coalesce(g.n, 0) AS targets,"
"    coalesce(r.n, 0) AS routers, coalesce(l.n, 0) AS links,"
"    coalesce(a.n, 0) AS deliveries,"
"    nullif(max(coalesce(p.last, ''), coalesce(t.last, ''),"
"        coalesce(l.last, '')), '') AS last_record,"
"    a.last AS last_delivery"
"    FROM k LEFT JOIN p USING (node) LEFT JOIN t USING (node)"
"    LEFT JOIN g USING (node) LEFT JOIN r USING (node)"
"    LEFT JOIN o USING (node)"
"    LEFT JOIN l USING (node) LEFT JOIN a USING (node)),"
"c AS (SELECT *, CASE WHEN last_delivery IS NULL THEN last_record"
"        WHEN last_record IS NULL THEN last_delivery"
"        WHEN julianday(last_delivery) > julianday(last_record)"
"        THEN last_delivery ELSE last_record END AS last_contact FROM s)"
"SELECT json_object('files', ?1,"
"    'records', (SELECT coalesce(sum(records), 0) FROM c),"
"    'pings', (SELECT coalesce(sum(pings), 0) FROM c),"
"    'responders', (SELECT count(DISTINCT ip) FROM xo),"
"    'traces', (SELECT coalesce(sum(traces), 0) FROM c),"
"    'targets', (SELECT coalesce(sum(targets), 0) FROM c),"
"    'routers', (SELECT count(DISTINCT ip) FROM xr),"
"    'links', (SELECT count(*) FROM (SELECT DISTINCT a, b FROM xl)),"
"    'deliveries', (SELECT coalesce(sum(deliveries), 0) FROM c),"
"    'nodes', (SELECT json_group_array(json_object('node', node,"
"        'records', records, 'pings', pings, 'pings_ok', pings_ok,"
"        'responders', responders, 'traces', traces, 'targets', targets,"
"        'routers', routers, 'links', links, 'deliveries', deliveries,"
"        'last_record', last_record, 'last_contact', last_contact))"
"        FROM (SELECT * FROM c ORDER BY node)));";

/* The one-row answer of SQL (with ?1 bound to N), as JSON text. */
static int
answer_row(sqlite3 *db, const char *sql, long long n, struct hx_resp *resp)
{
	sqlite3_stmt *st;
	const unsigned char *t;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int64(st, 1, n);
	if (sqlite3_step(st) != SQLITE_ROW ||
	    (t = sqlite3_column_text(st, 0)) == NULL) {
		sqlite3_finalize(st);
		return -1;
	}
	hx_json(resp, 200, json_loads((const char *)t, 0, NULL));
	sqlite3_finalize(st);
	return 0;
}

void
go_stats(struct hx_req *req, struct hx_resp *resp)
{
	struct go_series s;
	char why[512];
	sqlite3 *db;
	size_t i;

	if (go_series_find(req->ctx->db_path, &s) != 0) {
		hx_error(resp, 500, "out of memory");
		return;
	}
	if (s.n == 0) {
		hx_error(resp, 503, "%s: no database yet", req->ctx->db_path);
		go_series_free(&s);
		return;
	}
	if ((db = go_db_reader(why, sizeof why)) == NULL) {
		hx_error(resp, 503, "%s", why);
		go_series_free(&s);
		return;
	}
	if (sqlite3_exec(db, stats_tables, NULL, NULL, NULL) != SQLITE_OK)
		goto sqlfail;
	for (i = 0; i < s.n; i++) {
		if (go_db_attach(db, s.file[i], why, sizeof why) != 0)
			goto fail;
		if (sqlite3_exec(db, stats_file, NULL, NULL, NULL) !=
		    SQLITE_OK) {
			snprintf(why, sizeof why, "%s: %s", s.file[i],
			    sqlite3_errmsg(db));
			goto fail;
		}
		go_db_detach(db);
	}
	if (answer_row(db, stats_sum, (long long)s.n, resp) == 0)
		goto done;
sqlfail:
	snprintf(why, sizeof why, "sqlite: %s", sqlite3_errmsg(db));
fail:
	hx_error(resp, 503, "%s", why);
done:
	sqlite3_close(db);
	go_series_free(&s);
}
