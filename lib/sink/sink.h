/*
 * sink.h: the parts of sqlsink, one concern a file; only sqlsink calls
 * them, so only it links SQLite and pthreads.
 *
 *   item.c         a line to an item: parse, classify, take out columns
 *   pipe.c         the chunks between reader, parser threads and writer
 *   read.c         the readers: standard input, the socket, connections
 *   store.c        the database: schema, statements, rows, links
 *   rotate.c       the time-named file series, its symlink and pruning
 *   session.c      a connection's session: the node it binds, the records
 *                  it refuses, the delivery row, the answer after commit
 *   send.c         the client side of a session (sqlsink --send)
 *   client.c       a session's exchange, for every client (send.c, httpd)
 *
 * filters/sqlsink.c holds the options, the writer's batches and main.
 */
#ifndef HOPMAP_SINK_H
#define HOPMAP_SINK_H

#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>
#include <sqlite3.h>

#include "core/core.h"

/* Options, set by sqlsink's option parser before anything starts. */
struct sink_opt {
	unsigned batch_max;
	uint64_t interval_ms;
	const char *listen_path;
	int no_stdin, verbose, sync_full;
	uint64_t max_size, max_age_ms;
	unsigned keep;
	unsigned socket_mode;	/* 0600 or 0660 */
};
extern struct sink_opt sink_opt;

/*
 * Counters, exported with --metrics.  The writer's own are plain; lines,
 * bad, torn, conns and conns_open are counted atomically by the readers
 * and parsers.
 */
struct sink_counts {
	uint64_t lines, bad, torn, conns, conns_open;
	uint64_t records, dups, batches, pings, traces, hops, links, targets,
	    raw, rotations, refused, sessions;
};
extern struct sink_counts sink_n;
extern volatile sig_atomic_t sink_strict_stopped;

/* Messages from two threads: one message is one locked unit. */
#define SAY(...) do { flockfile(stderr); hm_warnx(__VA_ARGS__); \
	funlockfile(stderr); } while (0)

/* ---- records (item.c) ---- */

enum kind { K_PROBED, K_TARGET, K_RAW };

/*
 * A column value, taken out of the record by the parser so that the writer
 * binds it without walking the tree (made on another core, so cold in the
 * writer's cache).
 */
struct col {
	int type;		/* JSON_*; JSON_NULL for absent too */
	int len;
	union {
		sqlite3_int64 i;
		double d;
		const char *s;
		const json_t *j;	/* objects and arrays */
	} v;
};
enum { C_RID, C_IP, C_NODE, C_SRC, C_VIA, C_TTL, C_PING, NCOL = C_PING + 7 };

/*
 * One parsed line, handed from a parser to the writer.  The json_t
 * pointers are borrowed from obj; text is the line as it came, left in its
 * chunk (which outlives the item's storing), or the object a bare address
 * stands for.  The item's own block also holds an arena from which
 * jansson builds obj.
 */
struct item {
	enum kind kind;
	json_t *obj;
	json_t *ping, *trace;
	struct col col[NCOL];
	const char *reason;	/* why a raw record is raw */
	const char *text;	/* the line, in its chunk; or own, or heap */
	size_t len;
	char *heap;		/* text rewritten for a session, or NULL */
	struct hm_jarena arena;	/* after the item, in the same block */
	char own[32];		/* the object a bare address stands for */
};

/*
 * jansson allocates a few dozen small blocks per record, and that was most
 * of a parser's time: the item's own block holds an arena they come from
 * instead (hm_jarena), so an item goes in one free().  Item blocks of one
 * common size are recycled by the parser thread that made them (items go
 * back to it to be freed), so the steady state calls malloc for none.
 * Threads without a pool just use malloc and free.
 */
#define POOL_BLOCK 4096
#define POOL_MAX 2048
struct sink_pool {
	void *block[POOL_MAX];
	size_t n;
};


/* A parser thread recycles item blocks in its pool; drop frees them. */
void sink_pool_use(struct sink_pool *);
void sink_pool_drop(void);
struct item *sink_parse_line(const char *line, size_t len, int strict_keys,
    const char **why);
void sink_item_free(struct item *);
void sink_members(const json_t *obj, const char *const names[], size_t n,
    json_t *out[]);

/* ---- sessions (session.c) ---- */

/*
 * A connection whose first line is a session line
 * ({"hopmap-session":1,"node":...}) is a delivery: its records are bound
 * to the node, and when the writer half-closes, the sink answers after
 * the commit that holds its last line.  The reader makes the session and
 * fills in its first part; at the session's end it hands the connection
 * to the writer, which counts, writes the delivery row, answers, closes
 * and frees.
 */
#define SESSION_NODE_MAX 64
#define SESSION_REASONS 5
struct refusal {
	unsigned long line;
	char why[120];
};
struct session {
	/* The reader's, until the session's end chunk is submitted. */
	int fd;
	char node[SESSION_NODE_MAX + 1];
	char segment[256], peer[64];
	unsigned long lines;
	int complete;		/* ended by the writer's half-close */
	/* The writer's. */
	uint64_t stored, dups, refused;
	unsigned nreasons;
	struct refusal reason[SESSION_REASONS];
	struct session *next;	/* waiting for a commit */
};

/* The first line of a connection: a session, NULL when it is not a
   session line (*why NULL) or a bad one (*why says why). */
struct session *sink_session_open(const char *line, size_t len,
    const char **why);
/* Answer a connection whose session line was bad, without a session. */
void sink_session_refuse(int fd, const char *why);
/* In a parser: bind an item to its session's node; -1 and *why when the
   record is refused. */
int sink_session_bind(struct item *, const struct session *,
    const char **why);
/* In the writer: a chunk's refusals, in line order. */
void sink_session_note(struct session *, const struct refusal *, size_t n,
    uint64_t total);
/* In the writer, once its last commit returned: answer, close, free. */
void sink_session_answer(struct session *);
/* The client: sqlsink --send.  Returns the exit status. */
int sink_send(const char *path, const char *node, const char *segment,
    const char *peer, uint64_t wait_ms);

/* ---- a session's client side, for every client (client.c) ---- */
/* Connect to the sink at PATH (writes that stall WAIT_MS fail): the fd,
   or -1 (errno). */
int sink_client_connect(const char *path, uint64_t wait_ms);
/* The session line: 0, -1 on a write error (errno), -2 when it cannot be
   made (NODE not UTF-8, or too long). */
int sink_client_begin(int fd, const char *node, const char *segment,
    const char *peer);
/* N bytes at P, whole: 0 or -1 (errno). */
int sink_client_write(int fd, const char *p, size_t n);
/* After the half-close: the answer line into BUF (NUL-terminated) within
   WAIT_MS; its length, or -1 (errno ETIMEDOUT, or 0: closed unanswered). */
ssize_t sink_client_answer(int fd, char *buf, size_t size, uint64_t wait_ms);

/* ---- the pipeline (pipe.c) ---- */

/*
 * The reader packs whole lines of one source into chunks; parser threads
 * (as many as there are processors, up to four) turn a chunk's lines into
 * items, each chunk on its own; the writer stores chunks in the order the
 * reader made them, so the database sees the input's order.  At most
 * MAXFLIGHT chunks are between reader and writer: memory stays bounded and
 * a slow disk slows the readers.
 */
#define CHUNK_BYTES (64 * 1024)
#define CHUNK_LINES 1024
#define MAXFLIGHT 16
#define MAXPARSERS 4

struct chunk {
	struct chunk *next;		/* in the parse queue or a spent list */
	uint64_t seq;
	int owner;			/* the parser that made its items */
	char name[PATH_MAX + 32];	/* the source, for diagnostics */
	size_t nlines, used, cap, nitems;
	unsigned long lineno[CHUNK_LINES];
	size_t off[CHUNK_LINES], len[CHUNK_LINES];
	unsigned char note[CHUNK_LINES];	/* the text is a diagnostic */
	struct item *items[CHUNK_LINES];
	char *text;
	struct session *sess;		/* the lines' session, or NULL */
	int sess_end;			/* the session's last chunk */
	size_t nrefused;		/* session lines refused here */
	struct refusal refused[SESSION_REASONS];	/* the first ones */
};

void sink_pipe_init(void);
void sink_pipe_rotate(void);		/* asked by SIGHUP */
void sink_pipe_input_done(void);
struct chunk *sink_chunk_get(void);
void sink_chunk_submit(struct chunk *);
void *sink_parser_main(void *arg);	/* arg: the parser's number */
struct chunk *sink_chunk_next(uint64_t deadline, int *done, int *rotate);
void sink_chunk_stored(struct chunk *);
void sink_pipe_free(void);

/* ---- the readers (read.c) ---- */

struct sockaddr_un;
void sink_unix_addr(struct sockaddr_un *sun, const char *path);
void sink_readers_open(void);
void sink_reader_loop(const sigset_t *unblocked);
void sink_readers_close(void);

/* ---- the database (store.c) ---- */

extern char sink_cur_path[PATH_MAX];	/* the current file */
void sink_db_open(const char *path);
void sink_db_close(void);
int sink_db_is_open(void);
void sink_db_exec(const char *sql);
sqlite3_int64 sink_db_int(const char *sql);
void sink_begin(void);
void sink_commit(void);
/* Store one record; 0 when its id was stored before. */
int sink_store(const struct item *);
/* A session's delivery row, in table raw with "src":"hopmap-ack". */
void sink_store_delivery(const struct session *);

/* ---- the file series (rotate.c) ---- */

void sink_names_init(const char *link);
const char *sink_db_name(void);		/* DB as the user named it */
void sink_open_current(void);
void sink_rotate(const char *why);
const char *sink_rotation_due(void);

#endif
