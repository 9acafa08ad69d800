/*
 * gate_out.h: the gateway's output on the hub (what the old output service
 * did): POST /results into the hub's sink, answered after the commit;
 * GET /stats, /recent, /dump and POST /rotate read or touch the database.
 *
 *   gate_out.c        the module: its routes, state, counters, /results
 *   gate_out_body.c   a body to the lines a sink session carries (no I/O)
 *   gate_out_sink.c   one session with the sink: send, half-close, answer
 *   gate_out_answer.c the sink's answer to the HTTP one (no I/O)
 *   gate_out_db.c     the database's files and a read-only connection
 *   gate_out_stats.c  GET /stats
 *   gate_out_recent.c GET /recent
 *   gate_out_dump.c   GET /dump and POST /rotate
 */
#ifndef HOPMAP_HTTPD_GATE_OUT_H
#define HOPMAP_HTTPD_GATE_OUT_H

#include <stddef.h>

#include <jansson.h>
#include <sqlite3.h>

#include "httpd/handler.h"

extern const struct hx_module hx_gate_out;

/* A body as the lines of a session: text holds them, each ending with a
   newline, and lineno[k] is the body's line (or the array's element, from
   1) that sent line k+1 came from, so the sink's refusals name the
   client's lines.  Blank lines are not sent. */
struct go_lines {
	char *text;
	size_t len;
	unsigned long n;
	unsigned long *lineno;
};

enum go_form { GO_NDJSON, GO_JSON, GO_BADTYPE };

/* The body's form from its Content-Type (NULL: NDJSON). */
enum go_form go_form(const char *content_type);
/* Split BODY (LEN bytes) of FORM into OUT: 0, or -1 with the reason in
   WHY (a body that is not what its type says; nothing of it is sent). */
int go_split(enum go_form form, const char *body, size_t len,
    struct go_lines *out, char *why, size_t whycap);
void go_lines_free(struct go_lines *);

/* One session with the sink at SOCK: the session line (NODE, SEGMENT,
   PEER; the last two may be NULL), the lines, a half-close and the sink's
   one-line answer within WAIT_MS.  Returns the parsed answer, or NULL
   with WHY (the sink is not there, stopped, did not answer in time). */
json_t *go_sink_session(const char *sock, const char *node,
    const char *segment, const char *peer, const struct go_lines *lines,
    unsigned wait_ms, char *why, size_t whycap);

/* The sink's answer A to the HTTP answer for LINES: 200, 422 with the
   reasons (lines named as the client numbered them), or 503/500. */
void go_answer(const json_t *a, const struct go_lines *lines,
    struct hx_resp *resp);

/* The files of the hub's database: every retained file of the series,
   oldest first, the current one last (one file when DB is no series). */
struct go_series {
	char **file;
	size_t n;
};
int go_series_find(const char *db, struct go_series *);
void go_series_free(struct go_series *);
/* An in-memory read-only connection (files attach read-only to it);
   NULL with WHY. */
sqlite3 *go_db_reader(char *why, size_t whycap);
/* FILE attached as "s"; -1 with WHY. */
int go_db_attach(sqlite3 *, const char *file, char *why, size_t whycap);
void go_db_detach(sqlite3 *);

/* GET /stats (gate_out_stats.c), GET /recent (gate_out_recent.c). */
void go_stats(struct hx_req *, struct hx_resp *);
void go_recent(struct hx_req *, struct hx_resp *);
/* GET /dump, POST /rotate (gate_out_dump.c). */
void go_dump(struct hx_req *, struct hx_resp *);
void go_rotate(struct hx_req *, struct hx_resp *);

/* Names that go into the delivery row: plain, short (the sink's rules). */
int go_plain(const char *s, size_t max, const char *extra);

#endif
