/*
 * gate_out_recent.c: GET /recent, read-only on the hub's database while
 * the sink writes.  The files are read newest first, and only while the
 * limit is not reached: the newest results are in the current file, and
 * an address's last results may be in an older one.
 */
#include <arpa/inet.h>

#include <stdlib.h>
#include <string.h>

#include "httpd/gate_out.h"

/*
 * GET /recent: the newest results (pings, and traces without a ping: a
 * record with both is in both tables), as NDJSON, newest first.  Each
 * file gives its newest LIMIT of each table by rowid (the order the sink
 * stored them), merged by "ts"; older files are read only while the
 * limit is not reached.
 */
static const char recent_sql[] =
"SELECT json FROM ("
"  SELECT * FROM (SELECT json, ts, id FROM s.pings"
"      WHERE ?2 IS NULL OR ip = ?2 ORDER BY id DESC LIMIT ?1)"
"  UNION ALL"
"  SELECT * FROM (SELECT json, ts, id FROM s.traces"
"      WHERE (?2 IS NULL OR ip = ?2) AND json_extract(json, '$.ping') IS NULL"
"      ORDER BY id DESC LIMIT ?1))"
" ORDER BY ts DESC, id DESC LIMIT ?1";

#define RECENT_MAX 1000

struct text {
	char *p;
	size_t len, cap;
};

static int
append(struct text *t, const void *s, size_t n)
{
	if (t->len + n + 2 > t->cap) {
		size_t c = (t->len + n + 2) * 2;
		char *p = realloc(t->p, c);

		if (p == NULL)
			return -1;
		t->p = p;
		t->cap = c;
	}
	memcpy(t->p + t->len, s, n);
	t->len += n;
	t->p[t->len++] = '\n';
	return 0;
}

/* The newest results of the attached file, at most *left, appended. */
static int
recent_file(sqlite3 *db, const char *ip, long *left, struct text *out)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(db, recent_sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int64(st, 1, *left);
	if (ip != NULL)
		sqlite3_bind_text(st, 2, ip, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && *left > 0) {
		if (append(out, sqlite3_column_text(st, 0),
		    (size_t)sqlite3_column_bytes(st, 0)) != 0)
			break;
		(*left)--;
	}
	sqlite3_finalize(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

/* Whether QUERY names argument NAME (hx_arg says NULL also when its
   value does not fit or is bad). */
static int
named(const char *query, const char *name)
{
	size_t n = strlen(name);
	const char *q = query;

	while (q != NULL && *q != '\0') {
		if (strncmp(q, name, n) == 0 && (q[n] == '=' || q[n] == '&' ||
		    q[n] == '\0'))
			return 1;
		q = strchr(q, '&');
		q = q != NULL ? q + 1 : NULL;
	}
	return 0;
}

void
go_recent(struct hx_req *req, struct hx_resp *resp)
{
	char lbuf[16], ipbuf[64], why[512] = "", *end;
	const char *lim = hx_arg(req, "limit", lbuf, sizeof lbuf);
	const char *ip = hx_arg(req, "ip", ipbuf, sizeof ipbuf);
	unsigned char a[16];
	struct text out = { 0 };
	struct go_series s;
	sqlite3 *db;
	long limit = 100;
	size_t i;

	if (lim != NULL || named(req->query, "limit")) {
		limit = lim != NULL ? strtol(lim, &end, 10) : 0;
		if (lim == NULL || *lim == '\0' || *end != '\0' ||
		    limit < 1 || limit > RECENT_MAX) {
			hx_error(resp, 400, "limit is a number from 1 to %d",
			    RECENT_MAX);
			return;
		}
	}
	if (ip == NULL ? named(req->query, "ip") : inet_pton(AF_INET, ip,
	    a) != 1 && inet_pton(AF_INET6, ip, a) != 1) {
		hx_error(resp, 400, "ip is not an address");
		return;
	}
	if (go_series_find(req->ctx->db_path, &s) != 0 || s.n == 0) {
		hx_error(resp, 503, "%s: no database yet", req->ctx->db_path);
		go_series_free(&s);
		return;
	}
	if ((db = go_db_reader(why, sizeof why)) == NULL) {
		hx_error(resp, 503, "%s", why);
		go_series_free(&s);
		return;
	}
	for (i = s.n; i > 0 && limit > 0; i--) {
		if (go_db_attach(db, s.file[i - 1], why, sizeof why) != 0 ||
		    recent_file(db, ip, &limit, &out) != 0) {
			if (why[0] == '\0' || strstr(why, s.file[i - 1]) ==
			    NULL)
				snprintf(why, sizeof why, "%s: %s",
				    s.file[i - 1], sqlite3_errmsg(db));
			hx_error(resp, 503, "%s", why);
			goto done;
		}
		go_db_detach(db);
	}
	hx_text(resp, 200, "application/x-ndjson", out.p ? out.p : "",
	    out.len);
done:
	free(out.p);
	sqlite3_close(db);
	go_series_free(&s);
}
