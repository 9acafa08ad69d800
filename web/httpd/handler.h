/*
 * handler.h: what a route of hopmap-httpd sees and answers.  The server
 * (the libmicrohttpd side) turns a connection into an hx_req, finds the
 * route, checks the API key, calls the handler, and sends the hx_resp.
 * Handlers know nothing of libmicrohttpd: they are tested and fuzzed by
 * calling them with a request built in memory.
 *
 * Threads: the server runs a handler in the connection's own thread, so a
 * handler may block (POST /results waits for the sink's commit) and must
 * be thread-safe; what a module keeps between requests it guards itself.
 */
#ifndef HOPMAP_HTTPD_HANDLER_H
#define HOPMAP_HTTPD_HANDLER_H

#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

/* The daemon's state, as the modules see it.  main.c fills it from the
   options before any module opens; the server's own state stays its own. */
struct hx_ctx {
	const char *name;	/* this node's name (--name; default the host name) */
	const char *instance_id;	/* stable per state directory */
	const char *hub_dir;	/* --hub DIR: the hub's state; NULL on a worker */
	const char *db_path;	/* the hub's database (default HUB/map.db) */
	const char *sink_socket;	/* the hub's sink (default HUB/sink.sock) */
	const char *ranges_dir;	/* the input's range files (default HUB/ranges) */
	int shard;		/* --shard: each address to one consumer only */
	const char *metrics_dir;	/* --metrics-dir: the programs' files */
	const char *keys_path;	/* the API key store */
	double started;		/* when the daemon started (CLOCK_REALTIME s) */
	void *mod[8];		/* each module's own state, by its index in hx_modules */
};

struct hx_req {
	struct hx_ctx *ctx;
	const char *method;	/* "GET", "POST", ... */
	const char *path;	/* without the query string */
	const char *query;	/* the raw query string, "" when none */
	const char *consumer;	/* the worker the API key names; NULL on open routes */
	const char *peer;	/* the client's address as text */
	const char *content_type;	/* NULL when none was sent */
	const char *body;	/* the whole body, NUL-terminated (bounded) */
	size_t body_len;
	int admin;		/* the key is an admin key (key add --admin) */
};

struct hx_resp {
	int status;		/* HTTP status; 0 until a handler sets it */
	const char *type;	/* Content-Type (static); NULL: application/json */
	char *body;		/* malloc'd text, freed by the server */
	size_t len;
	int fd;			/* >= 0: sent after body, then closed */
	char *unlink_path;	/* malloc'd; unlinked once fd is sent (a temporary dump) */
	char *header_name;	/* one extra header (static name, malloc'd value) */
	char *header_value;
};

typedef void hx_handler(struct hx_req *req, struct hx_resp *resp);

struct hx_route {
	const char *method;
	const char *path;
	int open;		/* answered without a key (health endpoints) */
	int hub;		/* exists only with --hub */
	hx_handler *fn;
};

/* A module is a set of routes with the state they share: the node's face,
   the gateway's input, its output.  modules.c lists them (hx_modules). */
struct hx_module {
	const char *name;
	const struct hx_route *routes;	/* ends with a route whose fn is NULL */
	int hub;		/* opened only with --hub */
	/* Before the first request: 0, or -1 after saying why on stderr
	   (the daemon then exits 3).  SLOT is ctx->mod[SLOT], its own. */
	int (*open)(struct hx_ctx *ctx, int slot);
	void (*close)(struct hx_ctx *ctx, int slot);
	/* Its counters for GET /metrics, as Prometheus text (may be NULL). */
	void (*metrics)(struct hx_ctx *ctx, int slot, FILE *out);
};
extern const struct hx_module *const hx_modules[];	/* NULL-terminated */

/* ---- reply.c: building answers and reading requests ---- */
/* An empty answer: fd -1, status 0. */
void hx_resp_init(struct hx_resp *resp);
void hx_resp_free(struct hx_resp *resp);
/* Answer STATUS with {"error": "..."} (the text formatted). */
void hx_error(struct hx_resp *resp, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Answer STATUS with the JSON text of V (a reference is stolen). */
void hx_json(struct hx_resp *resp, int status, json_t *v);
/* Answer STATUS with TEXT of type TYPE (copied). */
void hx_text(struct hx_resp *resp, int status, const char *type,
    const char *text, size_t len);
/* Query argument NAME of REQ, %-decoded into BUF (CAP bytes); NULL when
   absent, or when it does not fit or decodes to a NUL byte. */
const char *hx_arg(const struct hx_req *req, const char *name, char *buf,
    size_t cap);

#endif
