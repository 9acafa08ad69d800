/*
 * trace_engine.c: many Paris traceroutes at once: the engine's slots,
 * starting a trace, and handing finished ones to the caller.
 *
 * The engine is split as scamper splits a measurement: this file keeps
 * the slots and the results; trace_state.c is one trace's state machine
 * (which TTL next, when a hop is done, why it stops); trace_loop.c is the
 * loop (pacing, the in-flight bound, poll, send, receive and matching).
 * Their shared structures are in trace_int.h.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "internal.h"

static int
reply_cmp(const void *a, const void *b)
{
	const struct trace_reply *x = a, *y = b;

	return (int)x->ttl - (int)y->ttl;
}

void
trace_finish(struct trace_engine *e, struct trace *t)
{
	struct result_node *n = calloc(1, sizeof(*n));
	struct trace_result *r;
	size_t i, k = 0;

	if (n == NULL)
		abort();
	r = &n->r;
	r->dst = t->dst;
	r->src = t->src;
	r->user = t->user;
	r->stop = t->stop;
	r->error = t->error;
	r->probes = t->probes;
	r->first_ttl = t->low_ttl;
	r->last_ttl = t->last_ttl;
	/* The hop list ends at the hop that ended the trace: replies to
	   probes in flight beyond it (window > 1) are not part of it. */
	if (t->nrep > 0 && (r->replies = malloc(t->nrep *
	    sizeof(*r->replies))) == NULL)
		abort();
	for (i = 0; i < t->nrep; i++)
		if (t->rep[i].ttl <= t->last_ttl)
			r->replies[k++] = t->rep[i];
	r->nreplies = k;
	/* Arrival order within a TTL is kept: insertion sort is stable. */
	for (i = 1; i < k; i++) {
		struct trace_reply x = r->replies[i];
		size_t j = i;

		while (j > 0 && reply_cmp(&r->replies[j - 1], &x) > 0) {
			r->replies[j] = r->replies[j - 1];
			j--;
		}
		r->replies[j] = x;
	}
	if (e->rtail != NULL)
		e->rtail->next = n;
	else
		e->rhead = n;
	e->rtail = n;
	e->nresults++;
	if (t->fd >= 0) {
		close(t->fd);
		t->fd = -1;
	}
	t->active = 0;
	e->nactive--;
	e->freelist[e->nfree++] = (unsigned)(t - e->slots);
	e->st.done++;
}

/* Our source address toward dst, as the kernel would choose it. */
static int
route_source(struct trace_engine *e, uint32_t dst, uint32_t *src)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(e->cfg.dport ? e->cfg.dport : 33434);
	sin.sin_addr.s_addr = htonl(dst);
	if (connect(e->route_fd, (struct sockaddr *)&sin, sizeof(sin)) != 0 ||
	    getsockname(e->route_fd, (struct sockaddr *)&sin, &len) != 0)
		return -1;
	*src = ntohl(sin.sin_addr.s_addr);
	return 0;
}

int
trace_engine_add(struct trace_engine *e, uint32_t dst, void *user)
{
	struct trace *t;
	unsigned idx;

	if (e->nfree == 0)
		return -1;
	idx = e->freelist[--e->nfree];
	t = &e->slots[idx];
	/* t->queued survives: the slot may still sit in the send queue. */
	t->dst = dst;
	t->user = user;
	t->nonce = ++e->next_nonce;
	t->flow = (uint16_t)(e->flow_base + idx);
	t->flow_sum = trace_keyed16(e, t, 0x10000);
	t->lo = t->hi = t->low_ttl = e->cfg.first_ttl;
	t->back = 0;
	t->limit = e->cfg.max_ttl;
	t->gap = t->probes = t->last_ttl = 0;
	t->stop = TRACE_STOP_NONE;
	t->error = t->ended = 0;
	t->nrep = 0;
	t->active = 1;
	e->nactive++;
	e->st.started++;
	if (e->cfg.dgram ? (t->fd = trace_dgram_open(e->cfg.method, dst,
	    e->cfg.dport, &t->src, &t->flow)) < 0 :
	    route_source(e, dst, &t->src) != 0) {
		t->src = 0;
		t->stop = TRACE_STOP_ERROR;
		t->error = errno;
		trace_finish(e, t);
		return 0;
	}
	trace_advance(e, t, probe_now_ns() / 1000000);
	return 0;
}

struct trace_engine *
trace_engine_new(const struct trace_config *cfg, const struct trace_sockets *s)
{
	struct trace_engine *e = calloc(1, sizeof(*e));
	size_t nhop = cfg->max_ttl + 1;
	unsigned i, span;

	if (e == NULL)
		return NULL;
	e->cfg = *cfg;
	e->s = *s;
	e->route_fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	e->slots = calloc(cfg->max_active, sizeof(*e->slots));
	e->freelist = calloc(cfg->max_active, sizeof(*e->freelist));
	e->pfd = calloc(cfg->max_active + 3, sizeof(*e->pfd));
	e->pslot = calloc(cfg->max_active + 3, sizeof(*e->pslot));
	if (e->route_fd < 0 || e->slots == NULL || e->freelist == NULL ||
	    e->pfd == NULL || e->pslot == NULL ||
	    getrandom(&e->flow_base, sizeof(e->flow_base), 0) !=
	    sizeof(e->flow_base))
		goto fail;
	probe_key_init(&e->key);
	for (i = 0; i < cfg->max_active; i++) {
		struct trace *t = &e->slots[i];

		t->fd = -1;
		t->hops = calloc(nhop, sizeof(*t->hops));
		t->sent_us = calloc(nhop * cfg->queries, sizeof(*t->sent_us));
		if (t->hops == NULL || t->sent_us == NULL)
			goto fail;
		/* Hand out low slots first: fewer flows, same paths reused. */
		e->freelist[cfg->max_active - 1 - i] = i;
	}
	e->nfree = cfg->max_active;
	/* ICMP ids may be anything; ports stay clear of the well-known ones
	   and of wrapping past 65535. */
	span = 65536 - 20000 - cfg->max_active;
	if (cfg->method != TRACE_ICMP_PARIS)
		e->flow_base = (uint16_t)(20000 + e->flow_base % span);
	/* A burst of 10 ms worth of probes: smooth, but no stall per probe. */
	probe_bucket_init(&e->bucket, cfg->rate,
	    cfg->rate / 100 < 1 ? 1 : cfg->rate / 100, probe_now_ns());
	e->scan_ms = cfg->wait_ms / 10 < 1 ? 1 :
	    cfg->wait_ms / 10 > 20 ? 20 : cfg->wait_ms / 10;
	return e;
fail:
	trace_engine_free(e);
	return NULL;
}

void
trace_engine_free(struct trace_engine *e)
{
	struct trace_result *r;
	unsigned i;

	if (e == NULL)
		return;
	while ((r = trace_engine_result(e)) != NULL)
		trace_result_free(r);
	for (i = 0; e->slots != NULL && i < e->cfg.max_active; i++) {
		free(e->slots[i].hops);
		free(e->slots[i].sent_us);
		free(e->slots[i].rep);
	}
	if (e->route_fd >= 0)
		close(e->route_fd);
	for (i = 0; e->slots != NULL && i < e->cfg.max_active; i++)
		if (e->slots[i].fd >= 0)
			close(e->slots[i].fd);
	free(e->slots);
	free(e->freelist);
	free(e->pfd);
	free(e->pslot);
	free(e);
}

int
trace_engine_full(const struct trace_engine *e)
{
	return e->nfree == 0;
}

unsigned
trace_engine_pending(const struct trace_engine *e)
{
	return e->nactive + (unsigned)e->nresults;
}

struct trace_result *
trace_engine_result(struct trace_engine *e)
{
	struct result_node *n = e->rhead;

	if (n == NULL)
		return NULL;
	if ((e->rhead = n->next) == NULL)
		e->rtail = NULL;
	e->nresults--;
	return &n->r;
}

void
trace_result_free(struct trace_result *r)
{
	if (r != NULL) {
		free(r->replies);
		free(r);
	}
}

const struct trace_stats *
trace_engine_stats(const struct trace_engine *e)
{
	return &e->st;
}
