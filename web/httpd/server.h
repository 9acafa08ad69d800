/*
 * server.h: hopmap-httpd's own side, what the modules never see: the
 * listening daemon (server.c, libmicrohttpd), the dispatch of a request
 * built in memory to its route with the key check (server_dispatch.c),
 * the access log (server_log.c) and the daemon's counters
 * (server_stats.c).  main.c fills an hs_conf from the options.
 */
#ifndef HOPMAP_HTTPD_SERVER_H
#define HOPMAP_HTTPD_SERVER_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "httpd/handler.h"

struct hk_store;

struct hs_conf {
	struct sockaddr_storage addr;	/* -l ADDR:PORT */
	socklen_t addrlen;
	const char *listen;	/* as given, for messages */
	size_t max_body;	/* --max-body: bytes of a request's body */
	size_t max_header;	/* --max-header: a connection's memory */
	unsigned max_conns;	/* --max-conns */
	unsigned max_per_ip;	/* --max-per-ip (0: no limit) */
	unsigned timeout;	/* --timeout, seconds idle or per request */
	int health_key;		/* --health-key: open routes need a key too */
	int hub;		/* --hub given: hub modules and routes exist */
	const char *cert, *key;	/* --cert, --key (TLS), or NULL */
};

/* What dispatch needs beside the request: the modules that are open, the
   key store, and the configuration. */
struct hs_dispatch {
	struct hx_ctx *ctx;
	const struct hs_conf *conf;
	struct hk_store *keys;	/* NULL: no key store, keyed routes answer 401 */
	unsigned char opened[8];	/* hx_modules[i] was opened */
};

/* ---- server_dispatch.c: a request in memory to its answer ---- */
/*
 * Find REQ's route (404 when no module has the path, 405 with Allow when
 * none has the method), check the key in AUTH (the Authorization header,
 * or NULL) unless the route is open, set req->consumer and req->admin,
 * and call the handler.  *ROUTE is the matched route's path (static), or
 * NULL.  NAME (HK_NAME_MAX + 1 bytes, the caller's) holds the consumer's
 * name that req->consumer points to.  Always leaves an answer in RESP
 * (status != 0).
 */
void hs_dispatch(const struct hs_dispatch *d, struct hx_req *req,
    const char *auth, struct hx_resp *resp, const char **route, char *name);
/* The key in an Authorization header's value ("Bearer KEY", the scheme in
   any case, spaces around): a pointer into AUTH and its length, or NULL. */
const char *hs_bearer(const char *auth, size_t *len);

/* ---- server.c: the daemon on libmicrohttpd, thread per connection ---- */
struct hs_server;
/* Start listening; NULL after saying why on stderr. */
struct hs_server *hs_start(const struct hs_dispatch *d);
/* Stop accepting, let the requests in progress finish (at most WAIT_MS),
   close the rest. */
void hs_stop(struct hs_server *s, unsigned wait_ms);

/* ---- server_log.c: the access log, one line a request on stderr ---- */
void hs_log_request(const char *peer, const char *method, const char *path,
    const char *query, int status, uint64_t bytes, const char *consumer);
/* Copy S into BUF (CAP bytes) with what is not printable ASCII, a quote or
   a backslash as \xHH; cut with "..." when it does not fit. */
void hs_escape(const char *s, char *buf, size_t cap);

/* ---- server_stats.c: the daemon's own counters, for GET /metrics ---- */
void hs_stats_request(const char *route, int status, uint64_t bytes_in,
    uint64_t bytes_out);
void hs_stats_conn(int delta);
void hs_stats_refused(void);
void hs_stats_write(FILE *out);
/* The modules (D's opened ones) whose metrics() hs_metrics_write adds. */
void hs_stats_modules(const struct hs_dispatch *d);
/* The daemon's counters and the modules' metrics, for GET /metrics. */
void hs_metrics_write(FILE *out);

#endif
