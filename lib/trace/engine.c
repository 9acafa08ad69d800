/*
 * trace/engine.c: many Paris traceroutes at once: the engine's slots and
 * the finished traces waiting for the caller.
 *
 * The engine is split as scamper splits a measurement, into a stack (see
 * trace/internal.h): trace/loop.c starts traces, paces, sends and receives, and
 * calls down to this file for slots and to hand over results; below both,
 * trace/state.c is one trace's state machine (which TTL next, when a hop
 * is done, why it stops).  This file calls nothing above it.
 */
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
	const struct trace_machine *m = &t->m;
	struct result_node *n = calloc(1, sizeof(*n));
	struct trace_result *r;
	size_t i, k = 0;

	if (n == NULL)
		abort();
	r = &n->r;
	r->dst = m->dst;
	r->src = t->src;
	r->user = t->user;
	r->stop = m->stop;
	r->error = m->error;
	r->probes = m->probes;
	r->first_ttl = r->measured_ttl = m->low_ttl;
	r->start_ttl = m->first;
	r->last_ttl = m->last_ttl;
	for (i = 1; i <= m->last_ttl; i++)
		if (m->hops[i].retries > 0 && i >= m->low_ttl) {
			if (r->retried == NULL &&
			    (r->retried = calloc(m->last_ttl + 1, 1)) == NULL)
				abort();
			r->retried[i] = m->hops[i].retries;
			r->limited++;
		}
	if (m->home > 0 && m->last_ttl != 0) {
		/* The way home, from the stop set. */
		if ((r->spliced = malloc(m->home * sizeof(*r->spliced))) ==
		    NULL)
			abort();
		memcpy(r->spliced, m->way + 1, m->home * sizeof(*r->spliced));
		r->first_ttl = 1;
	}
	/* The hop list ends at the hop that ended the trace: replies to
	   probes in flight beyond it (window > 1) are not part of it. */
	if (m->nrep > 0 && (r->replies = malloc(m->nrep *
	    sizeof(*r->replies))) == NULL)
		abort();
	for (i = 0; i < m->nrep; i++)
		if (m->rep[i].ttl <= m->last_ttl)
			r->replies[k++] = m->rep[i];
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
	/* Slow start: a trace that met no limiting router, one more. */
	if (r->limited == 0 && e->admit < e->cfg.max_active)
		e->admit++;
}

struct trace *
trace_slot_take(struct trace_engine *e)
{
	struct trace *t;

	if (e->nfree == 0)
		return NULL;
	t = &e->slots[e->freelist[--e->nfree]];
	/* t->queued survives: the slot may still sit in the send queue. */
	t->active = 1;
	e->nactive++;
	return t;
}

struct trace_engine *
trace_engine_new(const struct trace_config *cfg, const struct trace_sockets *s)
{
	struct trace_engine *e = calloc(1, sizeof(*e));
	unsigned i, span;

	if (e == NULL)
		return NULL;
	e->cfg = *cfg;
	if (e->cfg.max_active == 0)
		e->cfg.max_active = trace_in_flight(cfg);
	cfg = &e->cfg;
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
	if (trace_sendq_init(&e->q, cfg->max_active, !cfg->no_spread,
	    ((uint64_t)e->flow_base << 32) ^ probe_now_ns()) != 0)
		goto fail;
	for (i = 0; i < cfg->max_active; i++) {
		struct trace *t = &e->slots[i];

		t->fd = -1;
		if (trace_machine_init(&t->m, cfg) != 0)
			goto fail;
		/* Hand out low slots first: fewer flows, same paths reused. */
		e->freelist[cfg->max_active - 1 - i] = i;
	}
	e->nfree = cfg->max_active;
	e->admit = cfg->slow_start && cfg->stop_set != NULL &&
	    cfg->max_active > TRACE_SLOW_START ? TRACE_SLOW_START :
	    cfg->max_active;
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
	for (i = 0; e->slots != NULL && i < e->cfg.max_active; i++)
		trace_machine_free(&e->slots[i].m);
	if (e->route_fd >= 0)
		close(e->route_fd);
	for (i = 0; e->slots != NULL && i < e->cfg.max_active; i++)
		if (e->slots[i].fd >= 0)
			close(e->slots[i].fd);
	free(e->slots);
	free(e->freelist);
	free(e->pfd);
	free(e->pslot);
	trace_sendq_free(&e->q);
	free(e);
}

int
trace_engine_full(const struct trace_engine *e)
{
	return e->nfree == 0 || e->nactive >= e->admit;
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
		free(r->spliced);
		free(r->retried);
		free(r);
	}
}

const struct trace_stats *
trace_engine_stats(const struct trace_engine *e)
{
	return &e->st;
}
