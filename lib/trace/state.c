/*
 * trace_state.c: one trace's state machine: which TTL to probe next, when
 * a hop is done, and why the trace stops.
 *
 * A trace probes TTLs in order with at most `window` of them open; hops are
 * judged strictly in TTL order, so the stop reason is the one a hop-by-hop
 * traceroute would give.  Once the target (or an unreachable) answers at
 * TTL d no probe with a TTL above d is sent; with window 1 (the default)
 * none is ever sent past the destination.
 *
 * With a stop set (Doubletree), a trace that has ended forwards goes back
 * from first_ttl - 1, one hop at a time, until a known router answers.
 * Nothing here touches a socket: sends and replies come through
 * trace_loop.c.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static int
hop_done(const struct trace_engine *e, const struct hop *h, uint64_t now)
{
	return h->answered >= e->cfg.queries || (h->sent >= e->cfg.queries &&
	    now >= h->last_sent_ms + e->cfg.wait_ms);
}

/* A router address that answered at an earlier TTL as well, with another
   hop between: a forwarding loop.  The same address at two consecutive
   TTLs is left alone: some routers forward a packet whose TTL is 0 once,
   and the trace goes on past that artifact (a "loop" in the Paris
   traceroute paper's terms; what we stop at is their "cycle"). */
static int
seen_before(const struct trace *t, unsigned ttl)
{
	const struct trace_reply *first = NULL;
	size_t i;

	for (i = 0; i < t->nrep && first == NULL; i++)
		if (t->rep[i].ttl == ttl && t->rep[i].icmp_type == 11)
			first = &t->rep[i];
	if (first == NULL)
		return 0;
	for (i = 0; i < t->nrep; i++)
		if (t->rep[i].ttl + 1u < ttl && t->rep[i].from == first->from &&
		    t->rep[i].icmp_type == 11)
			return 1;
	return 0;
}

/* Judge hop ttl, all of whose probes are answered or timed out. */
static void
retire(const struct trace_engine *e, struct trace *t, unsigned ttl)
{
	const struct hop *h = &t->hops[ttl];

	t->last_ttl = ttl;
	if (h->flags & HOP_TARGET) {
		t->stop = TRACE_STOP_COMPLETED;
	} else if (h->flags & HOP_UNREACH) {
		t->stop = TRACE_STOP_UNREACH;
	} else if (h->flags & HOP_RESP) {
		t->gap = 0;
		if (seen_before(t, ttl))
			t->stop = TRACE_STOP_LOOP;
	} else if (++t->gap >= e->cfg.gap_limit && !t->ended) {
		/* (Unless a later hop already answered with an end.) */
		t->stop = TRACE_STOP_GAPLIMIT;
	}
}

/* The open hop that needs a probe next, or 0. */
unsigned
trace_next_ttl(const struct trace_engine *e, const struct trace *t)
{
	unsigned ttl;

	if (t->back)
		return t->hops[t->bttl].sent < e->cfg.queries ? t->bttl : 0;
	for (ttl = t->lo; ttl < t->hi && ttl <= t->limit; ttl++)
		if (t->hops[ttl].sent < e->cfg.queries)
			return ttl;
	return 0;
}

/* Judge the backward hop: 1 when the way home is known (or TTL 1 done). */
static int
back_retire(struct trace_engine *e, struct trace *t)
{
	size_t i;
	int known = 0;

	t->low_ttl = t->bttl;
	/* The target answers here too: it is nearer than the start TTL, and
	   the forward part only found it again.  It ends here. */
	if (t->hops[t->bttl].flags & HOP_TARGET)
		t->last_ttl = t->bttl;
	for (i = 0; i < t->nrep; i++)
		if (t->rep[i].ttl == t->bttl &&
		    trace_stopset_has(e->cfg.stop_set, t->rep[i].from))
			known = 1;
	for (i = 0; i < t->nrep; i++)
		if (t->rep[i].ttl == t->bttl && t->rep[i].from != t->dst)
			trace_stopset_add(e->cfg.stop_set, t->rep[i].from);
	if (known || --t->bttl == 0)
		return 1;
	memset(&t->hops[t->bttl], 0, sizeof(t->hops[t->bttl]));
	return 0;
}

/* Doubletree: once the forward part has ended, go back from first_ttl - 1
   (unless nothing was sent at all). */
static int
start_back(struct trace_engine *e, struct trace *t)
{
	if (e->cfg.stop_set == NULL || e->cfg.first_ttl < 2 || t->back ||
	    t->stop == TRACE_STOP_ERROR)
		return 0;
	t->fwd_stop = t->stop;
	t->stop = TRACE_STOP_NONE;
	t->back = 1;
	t->bttl = e->cfg.first_ttl - 1;
	memset(&t->hops[t->bttl], 0, sizeof(t->hops[t->bttl]));
	return 1;
}

static void
advance_back(struct trace_engine *e, struct trace *t, uint64_t now)
{
	if (hop_done(e, &t->hops[t->bttl], now) && back_retire(e, t)) {
		t->stop = t->fwd_stop;
		trace_finish(e, t);
		return;
	}
	if (!t->queued && trace_next_ttl(e, t) != 0)
		trace_enqueue(e, t);
}

/* Judge finished hops in order, open new ones, queue sends, or finish. */
void
trace_advance(struct trace_engine *e, struct trace *t, uint64_t now)
{
	if (t->back) {
		advance_back(e, t, now);
		return;
	}
	while (t->stop == TRACE_STOP_NONE && t->lo < t->hi &&
	    hop_done(e, &t->hops[t->lo], now))
		retire(e, t, t->lo++);
	if (t->stop == TRACE_STOP_NONE && t->lo > e->cfg.max_ttl)
		t->stop = TRACE_STOP_MAXHOPS;
	if (t->stop != TRACE_STOP_NONE) {
		if (start_back(e, t))
			advance_back(e, t, now);
		else
			trace_finish(e, t);
		return;
	}
	while (t->hi - t->lo < e->cfg.window && t->hi <= t->limit) {
		memset(&t->hops[t->hi], 0, sizeof(t->hops[t->hi]));
		t->hi++;
	}
	if (!t->queued && trace_next_ttl(e, t) != 0)
		trace_enqueue(e, t);
}

void
trace_record_reply(struct trace_engine *e, struct trace *t,
    const struct trace_match *mt, uint64_t rx_us)
{
	unsigned ttl = mt->tag >> 8, attempt = mt->tag & 0xff;
	struct hop *h = &t->hops[ttl];
	struct trace_reply *r;
	uint64_t sent;

	if (t->nrep == t->caprep) {
		size_t cap = t->caprep ? 2 * t->caprep : 16;
		void *p = realloc(t->rep, cap * sizeof(*t->rep));

		if (p == NULL)
			abort();
		t->rep = p;
		t->caprep = cap;
	}
	sent = t->sent_us[ttl * e->cfg.queries + attempt];
	r = &t->rep[t->nrep++];
	memset(r, 0, sizeof(*r));
	r->from = mt->from;
	r->rtt_us = rx_us > sent ? (uint32_t)(rx_us - sent) : 0;
	r->ttl = (uint8_t)ttl;
	r->attempt = (uint8_t)attempt;
	r->icmp_type = mt->icmp_type;
	r->icmp_code = mt->icmp_code;
	r->reply_ttl = mt->reply_ttl;
	r->tcp_flags = mt->tcp_flags;
	r->is_tcp = mt->is_tcp;
	h->answered_mask |= (uint16_t)(1u << attempt);
	h->answered++;
	h->flags |= HOP_RESP;
	if (mt->from_target)
		h->flags |= HOP_TARGET;
	else if (mt->icmp_type == 3)
		h->flags |= HOP_UNREACH;
	if ((h->flags & (HOP_TARGET | HOP_UNREACH)) && ttl <= t->limit &&
	    !t->back) {
		/* Nothing past here is ever probed again. */
		t->limit = ttl;
		t->ended = 1;
	}
}
