/*
 * gate_out.c: the gateway's output module (hub only): its routes, and
 * POST /results.
 *
 * A request is one delivery, as a segment over socat is: its body becomes
 * the lines of one session with the hub's sink (gate_out_sink.c), bound
 * to the key's worker, named by X-Hopmap-Segment (or a name made here),
 * and answered only after the sink's commit (gate_out_answer.c).  The
 * handler blocks in its connection's thread meanwhile; requests at once
 * wait together for one commit.  The module keeps only counters.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "httpd/gate_out.h"

/* Longer than a commit under any load seen; the shipper sends again
   after a 503, and records with ids are stored once. */
#define GO_WAIT_MS 60000

struct go_state {
	atomic_ulong posts, lines, stored, dups, refused, failed;
	atomic_ulong seq;	/* for the segment names made here */
};

static struct go_state *
state(const struct hx_req *req)
{
	int i;

	for (i = 0; hx_modules[i] != NULL; i++)
		if (hx_modules[i] == &hx_gate_out)
			return req->ctx->mod[i];
	return NULL;
}

/* A segment name for a request that gave none: unique per daemon run
   and sortable by time, as the shipper's are. */
static void
make_segment(struct go_state *st, char *buf, size_t cap)
{
	struct timespec ts;
	struct tm tm;
	char when[32];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof when, "%Y%m%dT%H%M%SZ", &tm);
	snprintf(buf, cap, "http-%s-%ld-%lu", when, (long)getpid(),
	    st != NULL ? atomic_fetch_add(&st->seq, 1) + 1 : 0UL);
}

static void
count(struct go_state *st, const struct hx_resp *resp,
    const struct go_lines *l)
{
	json_t *a;

	if (st == NULL)
		return;
	atomic_fetch_add(&st->posts, 1);
	if (resp->status != 200 && resp->status != 422) {
		atomic_fetch_add(&st->failed, 1);
		return;
	}
	atomic_fetch_add(&st->lines, l->n);
	if ((a = json_loadb(resp->body, resp->len, 0, NULL)) == NULL)
		return;
	atomic_fetch_add(&st->stored, (unsigned long)json_integer_value(
	    json_object_get(a, "stored")));
	atomic_fetch_add(&st->dups, (unsigned long)json_integer_value(
	    json_object_get(a, "duplicate")));
	atomic_fetch_add(&st->refused, (unsigned long)json_integer_value(
	    json_object_get(a, "refused")));
	json_decref(a);
}

static void
post_results(struct hx_req *req, struct hx_resp *resp)
{
	struct go_state *st = state(req);
	struct go_lines l;
	enum go_form form = go_form(req->content_type);
	char why[256], seg[256];
	const char *segment = req->segment, *peer = req->peer;
	json_t *a;

	if (req->consumer == NULL || !go_plain(req->consumer, 64, "._-")) {
		hx_error(resp, 401, "the key names no worker");
		return;
	}
	if (form == GO_BADTYPE) {
		hx_error(resp, 415, "Content-Type is application/x-ndjson "
		    "or application/json, not %.100s", req->content_type);
		return;
	}
	if (segment != NULL && !go_plain(segment, 255, "._:+-")) {
		hx_error(resp, 400, "X-Hopmap-Segment is not a plain name "
		    "(letters, digits, '.', '_', ':', '+', '-'; at most 255)");
		return;
	}
	if (segment == NULL) {
		make_segment(st, seg, sizeof seg);
		segment = seg;
	}
	if (peer != NULL && !go_plain(peer, 63, ".:[]"))
		peer = NULL;
	if (go_split(form, req->body, req->body_len, &l, why, sizeof why) !=
	    0) {
		hx_error(resp, 400, "%s", why);
		return;
	}
	a = go_sink_session(req->ctx->sink_socket, req->consumer, segment,
	    peer, &l, GO_WAIT_MS, why, sizeof why);
	if (a == NULL)
		hx_error(resp, 503, "%s", why);
	else
		go_answer(a, &l, resp);
	json_decref(a);
	count(st, resp, &l);
	go_lines_free(&l);
}

static int
go_open(struct hx_ctx *ctx, int slot)
{
	if (ctx->sink_socket == NULL) {
		fprintf(stderr, "hopmap-httpd: the output needs the hub's "
		    "sink (--hub)\n");
		return -1;
	}
	if ((ctx->mod[slot] = calloc(1, sizeof(struct go_state))) == NULL) {
		fprintf(stderr, "hopmap-httpd: out of memory\n");
		return -1;
	}
	return 0;
}

static void
go_close(struct hx_ctx *ctx, int slot)
{
	free(ctx->mod[slot]);
	ctx->mod[slot] = NULL;
}

static void
go_metrics(struct hx_ctx *ctx, int slot, FILE *out)
{
	static const struct {
		const char *name, *help;
		size_t off;
	} c[] = {
		{ "posts", "POST /results answered",
		    offsetof(struct go_state, posts) },
		{ "lines", "lines of answered posts",
		    offsetof(struct go_state, lines) },
		{ "stored", "records stored", offsetof(struct go_state,
		    stored) },
		{ "duplicates", "records stored before",
		    offsetof(struct go_state, dups) },
		{ "refused", "lines refused", offsetof(struct go_state,
		    refused) },
		{ "failed", "posts not delivered (the sink away or failing)",
		    offsetof(struct go_state, failed) },
	};
	const char *st = ctx->mod[slot];
	size_t i;

	if (st == NULL)
		return;
	for (i = 0; i < sizeof c / sizeof c[0]; i++) {
		fprintf(out, "# HELP hopmap_httpd_results_%s_total %s\n"
		    "# TYPE hopmap_httpd_results_%s_total counter\n"
		    "hopmap_httpd_results_%s_total %lu\n", c[i].name,
		    c[i].help, c[i].name, c[i].name,
		    atomic_load((const atomic_ulong *)(st + c[i].off)));
	}
}

static const struct hx_route routes[] = {
	{ "POST", "/results", 0, 1, post_results },
	{ "GET", "/stats", 0, 1, go_stats },
	{ "GET", "/recent", 0, 1, go_recent },
	{ "GET", "/dump", 0, 1, go_dump },
	{ "POST", "/rotate", 0, 1, go_rotate },
	{ NULL, NULL, 0, 0, NULL }
};

const struct hx_module hx_gate_out = {
	"output", routes, 1, go_open, go_close, go_metrics
};
