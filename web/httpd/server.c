/*
 * server.c: hopmap-httpd on libmicrohttpd, a thread per connection.
 *
 * A request's life: the URI callback makes its state (the raw query, the
 * peer); the access handler checks the announced body size on its first
 * call, gathers the body (bounded by --max-body) on the next ones, and on
 * the last builds the hx_req, dispatches it (server_dispatch.c) and queues
 * the answer; the completion callback logs the line and counts it.  A
 * handler runs in its connection's thread and may block.
 */
#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "core/core.h"
#include "httpd/keys.h"
#include "httpd/server.h"
#include "httpd/tls.h"

struct hs_server {
	struct MHD_Daemon *mhd;
	const struct hs_dispatch *d;
	atomic_int inflight;	/* requests begun and not yet completed */
	atomic_uint open;	/* connections open */
	atomic_ullong refused_log;	/* when we last said we refused one */
};

struct hs_request {
	char *uri;		/* the raw request target, split at '?' */
	const char *query;	/* into uri, "" when none */
	char method[16];
	char *path;		/* as libmicrohttpd decoded it */
	char peer[64];
	char consumer[HK_NAME_MAX + 1];
	const char *route;
	char *body;
	size_t len, cap;
	int begun;		/* the access handler saw the headers */
	uint64_t start;		/* hm_mono_ms() at the request line */
	int status;		/* of the answer queued, 0 before */
	uint64_t bytes_out;
};

/* An answer that streams a descriptor after its body. */
struct hs_stream {
	struct hx_resp r;
	size_t sent;		/* bytes of r.body sent */
	/* The request's count of bytes sent.  libmicrohttpd reads the
	   stream only before it reports the request complete, so the
	   request is still there whenever this is written. */
	uint64_t *bytes;
};

static void
peer_text(struct MHD_Connection *c, char *buf, size_t cap)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci != NULL ? ci->client_addr : NULL;
	socklen_t len = sa == NULL ? 0 : sa->sa_family == AF_INET6 ?
	    sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);

	if (sa == NULL || getnameinfo(sa, len, buf, (socklen_t)cap, NULL, 0,
	    NI_NUMERICHOST) != 0)
		snprintf(buf, cap, "-");
}

static void *
on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
	struct hs_server *s = cls;
	struct hs_request *rq = calloc(1, sizeof *rq);
	char *q;

	if (rq == NULL || (rq->uri = strdup(uri)) == NULL) {
		free(rq);
		return NULL;
	}
	q = strchr(rq->uri, '?');
	if (q != NULL)
		*q++ = '\0';
	rq->query = q != NULL ? q : "";
	peer_text(c, rq->peer, sizeof rq->peer);
	rq->start = hm_mono_ms();
	atomic_fetch_add(&s->inflight, 1);
	return rq;
}

static ssize_t
stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct hs_stream *st = cls;
	ssize_t n;

	(void)pos;
	if (st->sent < st->r.len) {
		size_t k = st->r.len - st->sent;

		if (k > max)
			k = max;
		memcpy(buf, st->r.body + st->sent, k);
		st->sent += k;
		*st->bytes += k;
		return (ssize_t)k;
	}
	do
		n = read(st->r.fd, buf, max);
	while (n < 0 && errno == EINTR);
	if (n == 0)
		return MHD_CONTENT_READER_END_OF_STREAM;
	if (n < 0)
		return MHD_CONTENT_READER_END_WITH_ERROR;
	*st->bytes += (uint64_t)n;
	return n;
}

static void
stream_free(void *cls)
{
	struct hs_stream *st = cls;

	hx_resp_free(&st->r);
	free(st);
}

/* R's answer as libmicrohttpd's; R is emptied (its parts moved). */
static struct MHD_Response *
make_response(struct hx_resp *r, uint64_t *bytes)
{
	struct MHD_Response *mr;
	const char *type = r->type != NULL ? r->type : "application/json";
	char *hname = r->header_name, *hvalue = r->header_value;

	if (r->fd < 0) {
		*bytes = r->len;
		mr = MHD_create_response_from_buffer(r->len, r->body,
		    MHD_RESPMEM_MUST_FREE);
		if (mr != NULL)
			r->body = NULL;
	} else {
		struct hs_stream *st = calloc(1, sizeof *st);
		struct stat sb;
		uint64_t size = MHD_SIZE_UNKNOWN;
		off_t at;

		if (st == NULL)
			return NULL;
		if (fstat(r->fd, &sb) == 0 && S_ISREG(sb.st_mode) &&
		    (at = lseek(r->fd, 0, SEEK_CUR)) >= 0 && at <= sb.st_size)
			size = r->len + (uint64_t)(sb.st_size - at);
		*bytes = 0;
		st->bytes = bytes;
		st->r = *r;
		st->r.header_value = NULL;
		hx_resp_init(r);
		r->header_name = hname;
		r->header_value = hvalue;
		mr = MHD_create_response_from_callback(size, 64 * 1024,
		    stream_read, st, stream_free);
		if (mr == NULL)
			stream_free(st);
	}
	if (mr == NULL)
		return NULL;
	if (r->status != 204 && r->status != 304)
		MHD_add_response_header(mr, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	if (hname != NULL && hvalue != NULL)
		MHD_add_response_header(mr, hname, hvalue);
	return mr;
}

static enum MHD_Result
queue(struct MHD_Connection *c, struct hs_request *rq, struct hx_resp *r)
{
	struct MHD_Response *mr;
	enum MHD_Result ok;
	int status = r->status;

	mr = make_response(r, &rq->bytes_out);
	hx_resp_free(r);
	if (mr == NULL)
		return MHD_NO;
	rq->status = status;
	ok = MHD_queue_response(c, (unsigned)status, mr);
	MHD_destroy_response(mr);
	return ok;
}

/* On the headers: a body announced larger than --max-body is refused
   before it is read. */
static int
announced_too_big(struct MHD_Connection *c, size_t max)
{
	const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_CONTENT_LENGTH);
	uint64_t n;
	const char *why;

	return cl != NULL && (hm_strtou64(cl, 0, UINT64_MAX, &n, &why) != 0 ||
	    n > max);
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *upload,
    size_t *upload_size, void **con_cls)
{
	struct hs_server *s = cls;
	const struct hs_conf *conf = s->d->conf;
	struct hs_request *rq = *con_cls;
	struct hx_resp resp;
	struct hx_req req;

	(void)version;
	if (rq == NULL)
		return MHD_NO;	/* out of memory at the URI callback */
	hx_resp_init(&resp);
	if (!rq->begun) {
		rq->begun = 1;
		snprintf(rq->method, sizeof rq->method, "%s", method);
		if ((rq->path = strdup(url)) == NULL)
			return MHD_NO;
		if (announced_too_big(c, conf->max_body)) {
			hx_error(&resp, 413, "the body is larger than %zu "
			    "bytes (--max-body)", conf->max_body);
			return queue(c, rq, &resp);
		}
		return MHD_YES;
	}
	if (*upload_size > 0) {
		size_t n = *upload_size;

		if (rq->status != 0) {	/* answered already: drop the rest */
			*upload_size = 0;
			return MHD_YES;
		}
		if (n > conf->max_body - rq->len) {
			/* Chunked, so not announced: close the connection. */
			rq->status = 413;
			return MHD_NO;
		}
		if (hm_mono_ms() - rq->start > (uint64_t)conf->timeout * 1000) {
			/* A body trickled in to hold the thread: no answer
			   can be queued while it is read, so close. */
			rq->status = 408;
			return MHD_NO;
		}
		if (rq->len + n + 1 > rq->cap) {
			size_t cap = rq->cap ? rq->cap : 4096;
			char *b;

			while (cap < rq->len + n + 1)
				cap *= 2;
			if ((b = realloc(rq->body, cap)) == NULL)
				return MHD_NO;
			rq->body = b;
			rq->cap = cap;
		}
		memcpy(rq->body + rq->len, upload, n);
		rq->len += n;
		*upload_size = 0;
		return MHD_YES;
	}
	if (rq->status != 0)
		return MHD_YES;
	memset(&req, 0, sizeof req);
	req.ctx = s->d->ctx;
	req.method = rq->method;
	req.path = rq->path;
	req.query = rq->query;
	req.peer = rq->peer;
	req.content_type = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_CONTENT_TYPE);
	if (rq->body != NULL)
		rq->body[rq->len] = '\0';
	req.body = rq->body != NULL ? rq->body : "";
	req.body_len = rq->len;
	hs_dispatch(s->d, &req, MHD_lookup_connection_value(c,
	    MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION), &resp,
	    &rq->route, rq->consumer);
	return queue(c, rq, &resp);
}

static void
on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct hs_server *s = cls;
	struct hs_request *rq = *con_cls;

	(void)c;
	if (rq == NULL)
		return;
	*con_cls = NULL;
	if (rq->status == 0 && toe != MHD_REQUEST_TERMINATED_COMPLETED_OK)
		rq->status = 400;	/* libmicrohttpd refused it (or 0) */
	hs_log_request(rq->peer, rq->method[0] ? rq->method : "-",
	    rq->path != NULL ? rq->path : rq->uri, rq->query, rq->status,
	    rq->bytes_out, rq->consumer);
	hs_stats_request(rq->route, rq->status, rq->len, rq->bytes_out);
	free(rq->uri);
	free(rq->path);
	free(rq->body);
	free(rq);
	atomic_fetch_sub(&s->inflight, 1);
}

static void
on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
    enum MHD_ConnectionNotificationCode toe)
{
	struct hs_server *s = cls;
	int up = toe == MHD_CONNECTION_NOTIFY_STARTED;

	(void)c;
	(void)socket_context;
	if (up)
		atomic_fetch_add(&s->open, 1);
	else
		atomic_fetch_sub(&s->open, 1);
	hs_stats_conn(up ? 1 : -1);
}

/* --max-conns: a connection past it is closed at once.  (libmicrohttpd's
   own limit, one above ours, only stops accepting: the client would wait
   in the backlog without a word.)  Said at most once a second. */
static enum MHD_Result
on_accept(void *cls, const struct sockaddr *addr, socklen_t len)
{
	struct hs_server *s = cls;
	uint64_t now, last;

	(void)addr;
	(void)len;
	if (atomic_load(&s->open) < s->d->conf->max_conns)
		return MHD_YES;
	hs_stats_refused();
	now = hm_mono_ms();
	last = atomic_load(&s->refused_log);
	if (now - last >= 1000 &&
	    atomic_compare_exchange_strong(&s->refused_log, &last, now))
		hm_warnx("%u connections open (--max-conns): closing new ones",
		    s->d->conf->max_conns);
	return MHD_NO;
}

static void
on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];
	size_t n;

	(void)cls;
	vsnprintf(msg, sizeof msg, fmt, ap);
	n = strlen(msg);
	while (n > 0 && msg[n - 1] == '\n')
		msg[--n] = '\0';
	fprintf(stderr, "%s: libmicrohttpd: %s\n", hm_prog, msg);
}

struct hs_server *
hs_start(const struct hs_dispatch *d)
{
	const struct hs_conf *conf = d->conf;
	struct hs_server *s = calloc(1, sizeof *s);
	unsigned flags = MHD_USE_THREAD_PER_CONNECTION |
	    MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG | MHD_USE_ITC;
	struct MHD_OptionItem ops[] = {
		{ MHD_OPTION_SOCK_ADDR, 0, (void *)&conf->addr },
		{ MHD_OPTION_CONNECTION_LIMIT, conf->max_conns + 1, NULL },
		{ MHD_OPTION_PER_IP_CONNECTION_LIMIT, conf->max_per_ip, NULL },
		{ MHD_OPTION_CONNECTION_TIMEOUT, conf->timeout, NULL },
		{ MHD_OPTION_CONNECTION_MEMORY_LIMIT,
		    (intptr_t)conf->max_header, NULL },
		/* Last: with TLS, the certificate callback. */
		{ conf->cert != NULL ? MHD_OPTION_HTTPS_CERT_CALLBACK :
		    MHD_OPTION_END, 0, conf->cert != NULL ? tls_callback() :
		    NULL },
		{ MHD_OPTION_END, 0, NULL }
	};

	if (s == NULL)
		return NULL;
	s->d = d;
	s->refused_log = hm_mono_ms() - 1000;
	if (conf->addr.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	if (conf->cert != NULL)
		flags |= MHD_USE_TLS;
	signal(SIGPIPE, SIG_IGN);
	s->mhd = MHD_start_daemon(flags, 0, on_accept, s, on_request, s,
	    MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL,
	    MHD_OPTION_URI_LOG_CALLBACK, on_uri, s,
	    MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
	    MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
	    MHD_OPTION_ARRAY, ops,
	    MHD_OPTION_END);
	if (s->mhd == NULL) {
		hm_warnx("cannot listen on %s", conf->listen);
		free(s);
		return NULL;
	}
	return s;
}

void
hs_stop(struct hs_server *s, unsigned wait_ms)
{
	MHD_socket fd = MHD_quiesce_daemon(s->mhd);
	uint64_t until = hm_mono_ms() + wait_ms;

	if (fd != MHD_INVALID_SOCKET)
		close(fd);
	while (atomic_load(&s->inflight) > 0 && hm_mono_ms() < until) {
		struct timespec ts = { 0, 20 * 1000 * 1000 };

		nanosleep(&ts, NULL);
	}
	MHD_stop_daemon(s->mhd);
	free(s);
}
