/*
 * trace/state.c: one trace's state machine: which TTL to probe next, when
 * a hop is done, and why the trace stops.
 *
 * A trace probes TTLs in order with at most `window` of them open; hops are
 * judged strictly in TTL order, so the stop reason is the one a hop-by-hop
 * traceroute would give.  Once the target (or an unreachable) answers at
 * TTL d no probe with a TTL above d is sent; with window 1 (the default)
 * none is ever sent past the destination.
 *
 * A trace may start past TTL 1: at cfg's first_ttl, or at its own start
 * (the target's distance, guessed from its ping's reply TTL).  Once it has
 * ended forwards it goes back from start - 1, one hop at a time, to
 * low_ttl (1 unless the caller wants nothing below its first TTL),
 * or with a stop set until a router answers that the set knows at that TTL
 * with the whole way home (trace/stopset.c): those hops are taken from the
 * set.  A guess too long is found again backwards (the target answers at
 * the TTLs past its distance, and the hop list ends at the lowest); too
 * short, the forward part goes on to the target.  Either way the hops are
 * the ones a trace from TTL 1 would find; only probes are lost.
 *
 * What must stay true: the machine is the bottom of the engine's stack.  It
 * is given events (a trace started, a probe sent, a reply, time passed, a
 * send failed) with the times they happened, and returns what to do; it
 * touches no socket, reads no clock and calls nothing above it, so it can
 * be driven alone (tests/unit/trace.c).  trace/loop.c acts on its verdicts.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

int
trace_machine_init(struct trace_machine *m, const struct trace_config *cfg)
{
	size_t nhop = cfg->max_ttl + 1;

	memset(m, 0, sizeof(*m));
	m->hops = calloc(nhop, sizeof(*m->hops));
	m->way = calloc(nhop, sizeof(*m->way));
	m->sent_us = calloc(nhop * cfg->queries, sizeof(*m->sent_us));
	return m->hops == NULL || m->way == NULL || m->sent_us == NULL ? -1 : 0;
}

void
trace_machine_free(struct trace_machine *m)
{
	free(m->hops);
	free(m->way);
	free(m->sent_us);
	free(m->rep);
}

/*
 * A trace with a silent hop sends one probe per wait (window probes with a
 * wider window); one whose hops answer sends faster.  So rate x wait /
 * window traces keep the rate busy even when every hop is silent; fewer
 * and the rate is never reached (64 at 10,000 probes a second and a wait of
 * 1 s: 64 probes a second on silent stretches).  At least 1, at most
 * TRACE_MAX_ACTIVE.
 */
unsigned
trace_in_flight(const struct trace_config *c)
{
	double n = c->rate * c->wait_ms / 1000.0 / (c->window ? c->window : 1);

	if (n < 1)
		return 1;
	if (n >= TRACE_MAX_ACTIVE)
		return TRACE_MAX_ACTIVE;
	return (unsigned)n + (n > (unsigned)n);
}

/*
 * Hosts start their replies at TTL 64 (Linux, the BSDs, macOS), 128
 * (Windows) or 255 (many routers and appliances); a reply that arrived with
 * TTL r left the nearest of those at or above r, r - 1 routers ago... the
 * target is 64 - r + 1 hops out, and so on.  Below 33 it may as well have
 * started at 32 (or be a 64 more than 32 hops out): no guess.  A wrong one
 * (an unusual initial TTL, a return path of another length) costs probes,
 * not hops: the machine finds the target again either way.
 */
unsigned
trace_guess_ttl(unsigned reply_ttl, unsigned max_ttl)
{
	unsigned init, d;

	if (reply_ttl <= 32 || reply_ttl > 255)
		return 0;
	init = reply_ttl <= 64 ? 64 : reply_ttl <= 128 ? 128 : 255;
	d = init - reply_ttl + 1;
	return d <= max_ttl ? d : 0;
}

static int
hop_done(const struct trace_config *c, const struct hop *h, uint64_t now)
{
	return h->answered >= c->queries || (h->sent >= c->queries &&
	    now >= h->last_sent_ms + c->wait_ms);
}

/* A router address that answered at an earlier TTL as well, with another
   hop between: a forwarding loop.  The same address at two consecutive
   TTLs is left alone: some routers forward a packet whose TTL is 0 once,
   and the trace goes on past that artifact (a "loop" in the Paris
   traceroute paper's terms; what we stop at is their "cycle"). */
static int
seen_before(const struct trace_machine *m, unsigned ttl)
{
	const struct trace_reply *first = NULL;
	size_t i;

	for (i = 0; i < m->nrep && first == NULL; i++)
		if (m->rep[i].ttl == ttl && m->rep[i].icmp_type == 11)
			first = &m->rep[i];
	if (first == NULL)
		return 0;
	for (i = 0; i < m->nrep; i++)
		if (m->rep[i].ttl + 1u < ttl && m->rep[i].from == first->from &&
		    m->rep[i].icmp_type == 11)
			return 1;
	return 0;
}

/* Judge hop ttl, all of whose probes are answered or timed out. */
static void
retire(const struct trace_config *c, struct trace_machine *m, unsigned ttl)
{
	const struct hop *h = &m->hops[ttl];

	m->last_ttl = ttl;
	if (h->flags & HOP_TARGET) {
		m->stop = TRACE_STOP_COMPLETED;
	} else if (h->flags & HOP_UNREACH) {
		m->stop = TRACE_STOP_UNREACH;
	} else if (h->flags & HOP_RESP) {
		m->gap = 0;
		if (seen_before(m, ttl))
			m->stop = TRACE_STOP_LOOP;
	} else if (++m->gap >= c->gap_limit && !m->ended) {
		/* (Unless a later hop already answered with an end.) */
		m->stop = TRACE_STOP_GAPLIMIT;
	}
}

unsigned
trace_machine_next_ttl(const struct trace_machine *m,
    const struct trace_config *c)
{
	unsigned ttl;

	if (m->back)
		return m->hops[m->bttl].sent < c->queries ? m->bttl : 0;
	for (ttl = m->lo; ttl < m->hi && ttl <= m->limit; ttl++)
		if (m->hops[ttl].sent < c->queries)
			return ttl;
	return 0;
}

/* The one router that answered at ttl (time exceeded, not the target), or
   0: none, or more than one (no single way through that hop). */
static uint32_t
one_router(const struct trace_machine *m, unsigned ttl)
{
	uint32_t a = 0;
	size_t i;

	for (i = 0; i < m->nrep; i++) {
		const struct trace_reply *r = &m->rep[i];

		if (r->ttl != ttl)
			continue;
		if (r->icmp_type != 11 || r->from == m->dst ||
		    (a != 0 && a != r->from))
			return 0;
		a = r->from;
	}
	return a;
}

/* Hop ttl is judged: put its router in the stop set, with the one before
   it, and name it as the one before the router after it (the way back
   measures from the top down).  Only hops this trace measured, each link
   one trace saw from one hop to the next. */
static void
learn(const struct trace_config *c, const struct trace_machine *m,
    unsigned ttl)
{
	uint32_t a, b;

	if (c->stop_set == NULL || (a = one_router(m, ttl)) == 0)
		return;
	trace_stopset_put(c->stop_set, a, ttl,
	    ttl > 1 ? one_router(m, ttl - 1) : 0);
	if (ttl < TRACE_MAX_TTL && (b = one_router(m, ttl + 1)) != 0)
		trace_stopset_put(c->stop_set, b, ttl + 1, a);
}

/*
 * May the way back stop at ttl?  When its router p is known there with the
 * whole way home, and the link this trace just measured from p to the
 * router x above it says nothing new: x is known one TTL up, with p (or
 * no one yet) before it, or as a join.  Not at the hop below the target
 * (nothing above it to compare), and not when x was known with another
 * router before it: there two paths join (an ECMP diamond), the way home
 * of another flow may not be this one's, so this trace goes on down its
 * own branch (and x is marked as a join when it is learnt).
 */
static int
may_stop(const struct trace_config *c, struct trace_machine *m, unsigned ttl)
{
	uint32_t p = one_router(m, ttl), x = one_router(m, ttl + 1);

	return c->stop_set != NULL && ttl > 1 && p != 0 && x != 0 &&
	    trace_stopset_agrees(c->stop_set, x, ttl + 1, p) &&
	    trace_stopset_chain(c->stop_set, p, ttl, m->way);
}

/* Judge the backward hop: 1 when the way home is known (or TTL 1 done). */
static int
back_retire(const struct trace_config *c, struct trace_machine *m)
{
	int known;

	m->low_ttl = m->bttl;
	/* The target answers here too: it is nearer than the start TTL, and
	   the forward part only found it again.  It ends here. */
	if (m->hops[m->bttl].flags & HOP_TARGET)
		m->last_ttl = m->bttl;
	/* Before this trace's own hop is put in the set: known to others. */
	known = may_stop(c, m, m->bttl);
	learn(c, m, m->bttl);
	if (known) {
		m->home = m->bttl - 1;
		return 1;
	}
	if (m->bttl-- <= (c->low_ttl ? c->low_ttl : 1))
		return 1;
	memset(&m->hops[m->bttl], 0, sizeof(m->hops[m->bttl]));
	return 0;
}

/* Once the forward part has ended, go back from the start - 1 down to
   low_ttl (unless nothing was sent at all). */
static int
start_back(const struct trace_config *c, struct trace_machine *m)
{
	if (m->first <= (c->low_ttl ? c->low_ttl : 1) || m->back ||
	    m->stop == TRACE_STOP_ERROR)
		return 0;
	m->fwd_stop = m->stop;
	m->stop = TRACE_STOP_NONE;
	m->back = 1;
	m->bttl = m->first - 1;
	memset(&m->hops[m->bttl], 0, sizeof(m->hops[m->bttl]));
	return 1;
}

/* What to do next, once the hops are judged: send, wait or stop. */
static struct trace_action
decide(const struct trace_config *c, const struct trace_machine *m,
    unsigned judged)
{
	struct trace_action a = { TRACE_WAIT, 0, judged, TRACE_STOP_NONE };

	if (m->stop != TRACE_STOP_NONE) {
		a.what = TRACE_OVER;
		a.stop = m->stop;
	} else if ((a.ttl = trace_machine_next_ttl(m, c)) != 0) {
		a.what = TRACE_SEND;
	}
	return a;
}

static struct trace_action
advance_back(const struct trace_config *c, struct trace_machine *m,
    uint64_t now, unsigned judged)
{
	if (hop_done(c, &m->hops[m->bttl], now)) {
		judged = m->bttl;
		if (back_retire(c, m))
			m->stop = m->fwd_stop;
	}
	return decide(c, m, judged);
}

/* Judge finished hops in order, open new ones, and say what to do. */
static struct trace_action
advance(const struct trace_config *c, struct trace_machine *m, uint64_t now)
{
	unsigned judged = 0;

	if (m->back)
		return advance_back(c, m, now, 0);
	while (m->stop == TRACE_STOP_NONE && m->lo < m->hi &&
	    hop_done(c, &m->hops[m->lo], now)) {
		retire(c, m, judged = m->lo++);
		learn(c, m, judged);
	}
	if (m->stop == TRACE_STOP_NONE && m->lo > c->max_ttl)
		m->stop = TRACE_STOP_MAXHOPS;
	if (m->stop != TRACE_STOP_NONE) {
		if (start_back(c, m))
			return advance_back(c, m, now, judged);
		return decide(c, m, judged);
	}
	while (m->hi - m->lo < c->window && m->hi <= m->limit) {
		memset(&m->hops[m->hi], 0, sizeof(m->hops[m->hi]));
		m->hi++;
	}
	return decide(c, m, judged);
}

struct trace_action
trace_machine_start(struct trace_machine *m, const struct trace_config *c,
    uint32_t dst, unsigned start, uint64_t now_ms)
{
	m->dst = dst;
	m->first = start >= 1 && start <= c->max_ttl ? start : c->first_ttl;
	m->lo = m->hi = m->low_ttl = m->first;
	m->back = 0;
	m->home = 0;
	m->limit = c->max_ttl;
	m->gap = m->probes = m->last_ttl = 0;
	m->stop = TRACE_STOP_NONE;
	m->error = m->ended = 0;
	m->nrep = 0;
	return advance(c, m, now_ms);
}

struct trace_action
trace_machine_tick(struct trace_machine *m, const struct trace_config *c,
    uint64_t now_ms)
{
	return advance(c, m, now_ms);
}

struct trace_action
trace_machine_sent(struct trace_machine *m, const struct trace_config *c,
    unsigned ttl, uint64_t stamp_us, uint64_t now_ms)
{
	struct hop *h = &m->hops[ttl];

	m->sent_us[ttl * c->queries + h->sent] = stamp_us;
	h->sent++;
	h->last_sent_ms = now_ms;
	m->probes++;
	return decide(c, m, 0);
}

struct trace_action
trace_machine_fail(struct trace_machine *m, int err)
{
	struct trace_action a = { TRACE_OVER, 0, 0, TRACE_STOP_ERROR };

	m->stop = TRACE_STOP_ERROR;
	m->error = err;
	return a;
}

enum trace_fit
trace_machine_fits(const struct trace_machine *m, const struct trace_config *c,
    uint16_t tag)
{
	unsigned ttl = tag >> 8, attempt = tag & 0xff;

	/* Only hops not yet judged: a late answer cannot change a verdict. */
	if (ttl < 1 || (m->back ? ttl != m->bttl : ttl < m->lo) ||
	    ttl > c->max_ttl || attempt >= c->queries ||
	    attempt >= m->hops[ttl].sent)
		return TRACE_FIT_STRAY;
	if (m->hops[ttl].answered_mask & (1u << attempt))
		return TRACE_FIT_DUP;
	return TRACE_FIT_NEW;
}

/* Keep a reply that fits, and what it says of its hop. */
static void
record_reply(struct trace_machine *m, const struct trace_config *c,
    const struct trace_match *mt, uint64_t rx_us)
{
	unsigned ttl = mt->tag >> 8, attempt = mt->tag & 0xff;
	struct hop *h = &m->hops[ttl];
	struct trace_reply *r;
	uint64_t sent;

	if (m->nrep == m->caprep) {
		size_t cap = m->caprep ? 2 * m->caprep : 16;
		void *p = realloc(m->rep, cap * sizeof(*m->rep));

		if (p == NULL)
			abort();
		m->rep = p;
		m->caprep = cap;
	}
	sent = m->sent_us[ttl * c->queries + attempt];
	r = &m->rep[m->nrep++];
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
	if ((h->flags & (HOP_TARGET | HOP_UNREACH)) && ttl <= m->limit &&
	    !m->back) {
		/* Nothing past here is ever probed again. */
		m->limit = ttl;
		m->ended = 1;
	}
}

struct trace_action
trace_machine_reply(struct trace_machine *m, const struct trace_config *c,
    const struct trace_match *mt, uint64_t rx_us, uint64_t now_ms)
{
	record_reply(m, c, mt, rx_us);
	return advance(c, m, now_ms);
}
