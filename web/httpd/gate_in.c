/*
 * gate_in.c: the gateway's input, the module (hub only): what the old
 * input service did, over the engine of gate_in_engine.c.
 *
 *   GET  /targets?n=K   the next K targets of the key's consumer (NDJSON)
 *   GET  /              one, as text/plain, for the simplest clients
 *   POST /hops          hop records into every consumer's pool
 *   GET  /status        every consumer's progress
 *   GET  /export?consumer=NAME, POST /import   a consumer's state
 *
 * The state is HUB/gateway.db; the ranges ctx->ranges_dir (HUB/ranges);
 * the hub's own hops come from the queue `hopmap-hub hops` appends to
 * (HUB/hops.ndjson), read at each answer from where it was left.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/core.h"
#include "httpd/handler.h"
#include "httpd/gate_in.h"

#define N_DEFAULT 100
#define N_MAX 100000

static int slot = -1;

static struct gi_engine *
engine(const struct hx_req *req)
{
	return req->ctx->mod[slot];
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* May this key read or replace NAME's state?  Its own consumer, or any
   with an admin key. */
static int
may_touch(const struct hx_req *req, const char *name)
{
	return req->admin || strcmp(req->consumer, name) == 0;
}

/* Is argument NAME in QUERY, whatever its value?  (hx_arg says NULL for
   a value it cannot decode too, which is a bad value, not none.) */
static int
has_arg(const char *query, const char *name)
{
	size_t n = strlen(name);
	const char *p = query;

	while (p != NULL && *p != '\0') {
		if (strncmp(p, name, n) == 0 && (p[n] == '=' || p[n] == '&' ||
		    p[n] == '\0'))
			return 1;
		if ((p = strchr(p, '&')) != NULL)
			p++;
	}
	return 0;
}

/* The next N targets as the answer: 200 with them, 204 with none. */
static void
answer_targets(struct hx_req *req, struct hx_resp *resp, size_t n, int plain)
{
	struct gi_engine *e = engine(req);
	struct gi_batch b;
	size_t len;
	char *text;

	if (req->consumer == NULL) {
		hx_error(resp, 401, "no consumer: this route needs a key");
		return;
	}
	if (gi_engine_next(e, req->consumer, n, now(), &b) != 0) {
		hx_error(resp, 503, "the input's database is not available: "
		    "try again");
		return;
	}
	if (gi_batch_count(&b) == 0) {
		resp->status = 204;
		gi_batch_free(&b);
		return;
	}
	text = gi_batch_text(e, &b, plain, &len);
	gi_batch_free(&b);
	if (text == NULL) {
		/* Saved as given: at-least-once allows the loss, not the
		   skip, and these come back with no other way.  Rare. */
		hx_error(resp, 500, "out of memory");
		return;
	}
	free(resp->body);
	resp->body = text;
	resp->len = len;
	resp->status = 200;
	resp->type = plain ? "text/plain" : "application/x-ndjson";
}

static void
get_targets(struct hx_req *req, struct hx_resp *resp)
{
	char buf[32];
	const char *v = hx_arg(req, "n", buf, sizeof buf), *why = NULL;
	uint64_t n = N_DEFAULT;

	if (v == NULL && has_arg(req->query, "n"))
		why = "not a number";
	if (why != NULL || (v != NULL && hm_strtou64(v, 1, N_MAX, &n,
	    &why) != 0)) {
		hx_error(resp, 400, "n: %s (want 1 to %d)", why, N_MAX);
		return;
	}
	answer_targets(req, resp, (size_t)n, 0);
}

static void
get_one(struct hx_req *req, struct hx_resp *resp)
{
	answer_targets(req, resp, 1, 1);
}

static void
post_hops(struct hx_req *req, struct hx_resp *resp)
{
	struct gi_hops_result r;
	char why[160];

	if (gi_engine_add_hops(engine(req), req->body, req->body_len,
	    &r) != 0) {
		hx_error(resp, 503, "the input's database is not available: "
		    "try again");
		return;
	}
	if (r.bad == 0) {
		hx_json(resp, 200, json_pack("{s:I, s:I, s:I}",
		    "lines", (json_int_t)r.lines, "added", (json_int_t)r.added,
		    "known", (json_int_t)r.known));
		return;
	}
	/* As POST /results: the good lines are kept, the answer says which
	   one was refused first and why. */
	snprintf(why, sizeof why, "refused %zu of %zu: line %zu: %s", r.bad,
	    r.lines, r.bad_line, r.why);
	hx_json(resp, 422, json_pack("{s:s, s:I, s:I, s:I, s:I}",
	    "error", why, "lines", (json_int_t)r.lines,
	    "added", (json_int_t)r.added, "known", (json_int_t)r.known,
	    "refused", (json_int_t)r.bad));
}

static void
get_status(struct hx_req *req, struct hx_resp *resp)
{
	json_t *s = gi_engine_status(engine(req), now());

	if (s == NULL)
		hx_error(resp, 503, "the input's database is not available");
	else
		hx_json(resp, 200, s);
}

static void
get_export(struct hx_req *req, struct hx_resp *resp)
{
	char buf[96];
	const char *name = hx_arg(req, "consumer", buf, sizeof buf);
	json_t *x;
	int known;

	if (name == NULL && has_arg(req->query, "consumer")) {
		hx_error(resp, 400, "consumer: not a name");
		return;
	}
	if (name == NULL)
		name = req->consumer;
	if (name == NULL || !may_touch(req, name)) {
		hx_error(resp, 403, "a key exports only its own consumer "
		    "unless it is an admin key");
		return;
	}
	if ((x = gi_engine_export(engine(req), name, &known)) != NULL)
		hx_json(resp, 200, x);
	else if (!known)
		hx_error(resp, 404, "unknown consumer: %s", name);
	else
		hx_error(resp, 503, "the input's database is not available");
}

static void
post_import(struct hx_req *req, struct hx_resp *resp)
{
	struct gi_state st;
	char why[160];
	json_t *r;

	if (gi_parse_state(req->body, req->body_len, &st, why,
	    sizeof why) != 0) {
		hx_error(resp, 400, "bad state: %s", why);
		return;
	}
	if (req->consumer == NULL || !may_touch(req, st.consumer))
		hx_error(resp, 403, "a key imports only its own consumer "
		    "unless it is an admin key");
	else if ((r = gi_engine_import(engine(req), &st, now())) == NULL)
		hx_error(resp, 503, "the input's database is not available");
	else
		hx_json(resp, 200, r);
	gi_state_free(&st);
}

static const struct hx_route routes[] = {
	{ "GET", "/targets", 0, 1, get_targets },
	{ "GET", "/", 0, 1, get_one },
	{ "POST", "/hops", 0, 1, post_hops },
	{ "GET", "/status", 0, 1, get_status },
	{ "GET", "/export", 0, 1, get_export },
	{ "POST", "/import", 0, 1, post_import },
	{ NULL, NULL, 0, 0, NULL }
};

static int
gate_in_open(struct hx_ctx *ctx, int s)
{
	struct gi_engine *e;
	char db[4096], ranges[4096], queue[4096], err[512];

	if (ctx->hub_dir == NULL)
		return 0;
	snprintf(db, sizeof db, "%s/gateway.db", ctx->hub_dir);
	snprintf(ranges, sizeof ranges, "%s/ranges", ctx->hub_dir);
	snprintf(queue, sizeof queue, "%s/hops.ndjson", ctx->hub_dir);
	if ((e = calloc(1, sizeof *e)) == NULL) {
		hm_warnx("gateway input: out of memory");
		return -1;
	}
	if (gi_engine_open(e, db, ctx->ranges_dir ? ctx->ranges_dir : ranges,
	    queue, ctx->shard, ctx->reserved, err, sizeof err) != 0) {
		hm_warnx("gateway input: %s", err);
		free(e);
		return -1;
	}
	if (e->ranges.bad > 0)
		hm_warnx("gateway input: %lu bad range lines left out",
		    e->ranges.bad);
	ctx->mod[s] = e;
	slot = s;
	return 0;
}

static void
gate_in_close(struct hx_ctx *ctx, int s)
{
	if (ctx->mod[s] != NULL) {
		gi_engine_close(ctx->mod[s]);
		free(ctx->mod[s]);
		ctx->mod[s] = NULL;
	}
}

static void
gate_in_metrics(struct hx_ctx *ctx, int s, FILE *out)
{
	struct gi_engine *e = ctx->mod[s];

	if (e == NULL)
		return;
	pthread_mutex_lock(&e->lock);
	fprintf(out,
	    "# HELP hopmap_gateway_targets_total targets handed out\n"
	    "# TYPE hopmap_gateway_targets_total counter\n"
	    "hopmap_gateway_targets_total %llu\n"
	    "# HELP hopmap_gateway_hops_served_total pool hops handed out\n"
	    "# TYPE hopmap_gateway_hops_served_total counter\n"
	    "hopmap_gateway_hops_served_total %llu\n"
	    "# HELP hopmap_gateway_hops_added_total new hops in the pool\n"
	    "# TYPE hopmap_gateway_hops_added_total counter\n"
	    "hopmap_gateway_hops_added_total %llu\n"
	    "# HELP hopmap_gateway_hops_known_total hops posted already known\n"
	    "# TYPE hopmap_gateway_hops_known_total counter\n"
	    "hopmap_gateway_hops_known_total %llu\n"
	    "# HELP hopmap_gateway_range_addresses addresses in the ranges\n"
	    "# TYPE hopmap_gateway_range_addresses gauge\n"
	    "hopmap_gateway_range_addresses %llu\n",
	    (unsigned long long)e->targets,
	    (unsigned long long)e->hops_served,
	    (unsigned long long)e->hops_added,
	    (unsigned long long)e->hops_known,
	    (unsigned long long)e->ranges.total);
	pthread_mutex_unlock(&e->lock);
}

const struct hx_module hx_gate_in_module = {
	"input", routes, 1, gate_in_open, gate_in_close, gate_in_metrics
};
