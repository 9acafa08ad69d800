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
	m->sent_us = calloc(nhop * trace_machine_attempts(cfg),
	    sizeof(*m->sent_us));
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

unsigned
trace_machine_attempts(const struct trace_config *c)
{
	unsigned n = c->queries * (1 + c->retries);

	return n > TRACE_MAX_QUERIES ? TRACE_MAX_QUERIES : n;
}

/* The probes hop h may take now: its queries, again for each retry. */
static unsigned
budget(const struct trace_config *c, const struct hop *h)
{
	unsigned n = c->queries * (1u + h->retries);

	return n > TRACE_MAX_QUERIES ? TRACE_MAX_QUERIES : n;
}

static int
hop_done(const struct trace_config *c, const struct hop *h, uint64_t now)
{
	return h->answered >= c->queries || (h->sent >= budget(c, h) &&
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

static int paced(const struct trace_machine *m, unsigned ttl);
static int below_silence(const struct trace_config *c,
    const struct trace_machine *m, unsigned ttl);

unsigned
trace_machine_next_ttl(const struct trace_machine *m,
    const struct trace_config *c)
{
	unsigned ttl;

	if (m->queued)
		return 0;
	if (m->back)
		return m->hops[m->bttl].sent < budget(c, &m->hops[m->bttl]) &&
		    !paced(m, m->bttl) ? m->bttl : 0;
	for (ttl = m->lo; ttl < m->hi && ttl <= m->limit; ttl++)
		if (m->hops[ttl].sent < budget(c, &m->hops[ttl]) &&
		    !paced(m, ttl))
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

/* Hop t was probed by this trace, and nothing answered. */
static int
silent(const struct trace_machine *m, unsigned t)
{
	int measured = (t >= m->first && t < m->hi) ||
	    (m->back && t >= m->bttl && t < m->first);

	return t >= 1 && measured && m->hops[t].sent > 0 &&
	    m->hops[t].answered == 0;
}

/* Hop ttl is judged: put its router in the stop set, with the one before
   it, and name it as the one before the router after it (the way back
   measures from the top down); across a silent hop, the router two hops
   before.  Only hops this trace measured, each link one trace saw from
   one hop to the next. */
static void
learn(const struct trace_config *c, const struct trace_machine *m,
    unsigned ttl)
{
	uint32_t a, b;

	if (c->stop_set == NULL || (a = one_router(m, ttl)) == 0)
		return;
	trace_stopset_put(c->stop_set, a, ttl,
	    ttl > 1 ? one_router(m, ttl - 1) : 0);
	if (ttl > 2 && silent(m, ttl - 1))
		trace_stopset_dark_below(c->stop_set, a, ttl,
		    one_router(m, ttl - 2));
	if (ttl < c->max_ttl && (m->hops[ttl + 1].flags & HOP_TARGET) &&
	    ttl + 1 <= m->last_ttl)
		trace_stopset_set_last(c->stop_set, m->dst, a, ttl);
	if (ttl < TRACE_MAX_TTL && (b = one_router(m, ttl + 1)) != 0)
		trace_stopset_put(c->stop_set, b, ttl + 1, a);
	else if (ttl + 2 <= TRACE_MAX_TTL && silent(m, ttl + 1) &&
	    (b = one_router(m, ttl + 2)) != 0)
		trace_stopset_dark_below(c->stop_set, b, ttl + 2, a);
}

/*
 * Rate limiting.  The router a probe at ttl is meant for, as far as the
 * stop set knows: the one known before the router this trace saw at ttl +
 * 1 (so on the way back, where most probes go), or below the target the
 * router seen there before on the way to its /24; 0 when not known.  Every
 * router in the set has answered before, so when the one a probe was meant
 * for keeps silent, it answers some probes and not others: it is rate
 * limiting.  Then the hop is probed again, up to cfg->retries times, before
 * it counts as silent, each time at a time booked on the router's schedule
 * (trace_stopset_book: one answer a gap, the gap learnt from its answers
 * and silences); a retry that would wait more than two waits is refused,
 * the hop given up, and the trace goes on.  A router that never answers is
 * never in the set, and its hop costs what it did; so do the hops past a
 * dark prefix's last router going forwards.
 */
static uint32_t
meant_for(const struct trace_config *c, const struct trace_machine *m,
    unsigned ttl)
{
	uint32_t y;

	if (c->stop_set == NULL || ttl >= c->max_ttl)
		return 0;
	/* Just below the target: the router before its /24, as seen. */
	if ((m->hops[ttl + 1].flags & HOP_TARGET) && ttl + 1 <= m->last_ttl)
		return trace_stopset_last(c->stop_set, m->dst, ttl);
	if ((y = one_router(m, ttl + 1)) == 0)
		return 0;
	return trace_stopset_pred(c->stop_set, y, ttl + 1);
}

/* Hop ttl is over and silent: 1 when it is to be probed again. */
static int
retry(const struct trace_config *c, struct trace_machine *m, unsigned ttl,
    uint64_t now)
{
	struct hop *h = &m->hops[ttl];
	uint32_t x;

	if (h->answered > 0 || h->retries >= c->retries ||
	    c->queries * (h->retries + 2u) > TRACE_MAX_QUERIES ||
	    (h->flags & (HOP_TARGET | HOP_UNREACH)) ||
	    (x = meant_for(c, m, ttl)) == 0)
		return 0;
	/* Booked on its schedule, unless its next free time is too far
	   off (many traces wait for it): then this hop is given up, the
	   trace goes on; others will find the links. */
	if (trace_stopset_book(c->stop_set, x, now, 2 * c->wait_ms,
	    c->queries, &h->ready_ms) != 0)
		return 0;
	h->retries++;
	return 1;
}

/* May a probe at ttl leave now, or is it booked later?  Only probes sent
   again wait: a first probe costs no time. */
static int
paced(const struct trace_machine *m, unsigned ttl)
{
	return m->hops[ttl].retries > 0 && m->hops[ttl].ready_ms > m->now_ms;
}

/* The target answered at ttl + 1 and ends the trace there. */
static int
below_target(const struct trace_config *c, const struct trace_machine *m,
    unsigned ttl)
{
	return ttl < c->max_ttl && (m->hops[ttl + 1].flags & HOP_TARGET) &&
	    ttl + 1 <= m->last_ttl;
}

/*
 * May the way back stop at ttl?  When its router p is known there with the
 * whole way home, and the link this trace just measured from p to the
 * router x above it says nothing new: x is known one TTL up, with p (or
 * no one yet) before it, or as a join.  Not when x was known with another
 * router before it: there two paths join (an ECMP diamond), the way home
 * of another flow may not be this one's, so this trace goes on down its
 * own branch (and x is marked as a join when it is learnt).
 *
 * At the hop below the target there is no router above to compare: p
 * must be the router its /24 was first reached through, at that TTL
 * (trace_stopset_last), not a join (behind a diamond each trace measures
 * its own branch), and no link into it inferred across a silent hop
 * (under rate limits a silence below it may hide a second way in); its
 * way home settled as anywhere.  So a trace to a /24 whose route is known
 * costs two probes, the target and that hop.  A route that changed at
 * its last router or at the target's distance is caught (another router,
 * or another TTL, is no stop); one that changed below an unchanged last
 * router is not.
 */
static int
known_link(const struct trace_config *c, const struct trace_machine *m,
    unsigned ttl)
{
	uint32_t p = one_router(m, ttl), x = one_router(m, ttl + 1);

	if (c->stop_set == NULL || ttl <= 1 || p == 0)
		return 0;
	if (x == 0)
		return below_target(c, m, ttl) &&
		    trace_stopset_last(c->stop_set, m->dst, ttl) == p &&
		    trace_stopset_clear_in(c->stop_set, p, ttl);
	return trace_stopset_agrees(c->stop_set, x, ttl + 1, p);
}

static int
may_stop(const struct trace_config *c, struct trace_machine *m, unsigned ttl)
{
	return known_link(c, m, ttl) &&
	    trace_stopset_chain(c->stop_set, one_router(m, ttl), ttl, m->way);
}

/*
 * Traces start together and meet on the way back: when the router at ttl
 * is known there but the way home below it is not yet, and other traces
 * are finding it out (the router before it is not known yet, or enough
 * of them are going on below it to settle it), wait for them (one wait
 * at most) rather than probe the same hops again.
 */
static int
hold(const struct trace_config *c, struct trace_machine *m, unsigned ttl,
    uint64_t now)
{
	uint32_t p = one_router(m, ttl);

	if (!known_link(c, m, ttl) ||
	    (!trace_stopset_pending(c->stop_set, p, ttl) &&
	    !trace_stopset_settling(c->stop_set, p, ttl)))
		return 0;
	if (m->hold_ms == 0)
		m->hold_ms = now + c->wait_ms;
	return now < m->hold_ms;
}

/* Judge the backward hop: 1 when the way home is known (or TTL 1 done). */
static int
back_retire(const struct trace_config *c, struct trace_machine *m)
{
	uint32_t p;
	int known;

	m->low_ttl = m->bttl;
	/* The target answers here too: it is nearer than the start TTL, and
	   the forward part only found it again.  It ends here. */
	if (m->hops[m->bttl].flags & HOP_TARGET)
		m->last_ttl = m->bttl;
	/* Before this trace's own hop is put in the set: known to others. */
	known = may_stop(c, m, m->bttl) || below_silence(c, m, m->bttl);
	learn(c, m, m->bttl);
	if (known) {
		m->home = m->bttl - 1;
		return 1;
	}
	if (c->stop_set != NULL && m->bttl > 1 &&
	    (p = one_router(m, m->bttl)) != 0) {
		trace_stopset_below(c->stop_set, p, m->bttl, 1);
		m->hops[m->bttl].flags |= HOP_BELOW;
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

/* The trace no longer counts as under way in its /24, nor below the
   routers it went on past. */
static void
unwalk(const struct trace_config *c, struct trace_machine *m)
{
	unsigned t;

	if (m->walking && c->stop_set != NULL)
		trace_stopset_walk(c->stop_set, m->dst, -1);
	m->walking = 0;
	for (t = m->bttl > 1 ? m->bttl : 1; m->back && t < m->first; t++)
		if (m->hops[t].flags & HOP_BELOW) {
			m->hops[t].flags &= (uint8_t)~HOP_BELOW;
			trace_stopset_below(c->stop_set, one_router(m, t), t,
			    -1);
		}
}

/* What to do next, once the hops are judged: send, wait or stop. */
static struct trace_action
decide(const struct trace_config *c, struct trace_machine *m,
    unsigned judged)
{
	struct trace_action a = { TRACE_WAIT, 0, judged, TRACE_STOP_NONE };

	if (m->stop != TRACE_STOP_NONE) {
		a.what = TRACE_OVER;
		a.stop = m->stop;
		unwalk(c, m);
	} else if ((a.ttl = trace_machine_next_ttl(m, c)) != 0) {
		a.what = TRACE_SEND;
	}
	return a;
}

/*
 * A hop on the way back is not answered yet (not probed, or silent), and
 * the router the stop set says it is for is rate limiting: do not spend
 * that router's allowance, nor wait for its next answer, on a link that is
 * no news.  When the link from that router x to the one this trace saw
 * above, y, is settled (measured by settle traces, x's way home too), or
 * x is the router its /24 was reached through before (the hop below the
 * target), the way home comes from the set, x included (marked so in the
 * record).  Its answers are left to the probes that can find a link.
 */
static int
limited_home(const struct trace_config *c, struct trace_machine *m,
    unsigned ttl)
{
	uint32_t x, y;

	if (c->stop_set == NULL || m->hops[ttl].answered > 0 ||
	    ttl >= c->max_ttl)
		return 0;
	if ((m->hops[ttl + 1].flags & HOP_TARGET) && ttl + 1 <= m->last_ttl) {
		if ((x = trace_stopset_last(c->stop_set, m->dst, ttl)) == 0 ||
		    !trace_stopset_limited(c->stop_set, x) ||
		    !trace_stopset_chain(c->stop_set, x, ttl, m->way))
			return 0;
	} else if ((y = one_router(m, ttl + 1)) == 0 ||
	    (x = trace_stopset_pred(c->stop_set, y, ttl + 1)) == 0 ||
	    !trace_stopset_limited(c->stop_set, x) ||
	    !trace_stopset_chain(c->stop_set, y, ttl + 1, m->way))
		return 0;
	m->way[ttl] = x;
	m->home = ttl;
	m->low_ttl = ttl + 1;
	return 1;
}

/*
 * The hop above ttl was silent (a router limiting its answers, or one
 * that never answers): there is no link to compare, and going on down
 * would only spend the allowance of the routers nearer home, every trace's
 * way.  So when the router p that answered at ttl is known there, not
 * where paths join, with its way home settled, the way back stops at p.
 */
static int
below_silence(const struct trace_config *c, const struct trace_machine *m,
    unsigned ttl)
{
	uint32_t p = one_router(m, ttl);

	return c->stop_set != NULL && ttl > 1 && ttl < c->max_ttl && p != 0 &&
	    silent(m, ttl + 1) && trace_stopset_pred(c->stop_set, p, ttl) != 0 &&
	    trace_stopset_chain(c->stop_set, p, ttl, m->way);
}

static struct trace_action
advance_back(const struct trace_config *c, struct trace_machine *m,
    uint64_t now, unsigned judged)
{
	if ((m->hops[m->bttl].sent == 0 ||
	    hop_done(c, &m->hops[m->bttl], now)) &&
	    limited_home(c, m, m->bttl)) {
		m->stop = m->fwd_stop;
		return decide(c, m, m->bttl);
	}
	if (hop_done(c, &m->hops[m->bttl], now) &&
	    !retry(c, m, m->bttl, now) &&
	    (may_stop(c, m, m->bttl) || !hold(c, m, m->bttl, now))) {
		m->hold_ms = 0;
		judged = m->bttl;
		if (back_retire(c, m))
			m->stop = m->fwd_stop;
	}
	return decide(c, m, judged);
}

/*
 * Reuse within a prefix.  Traces to one /24 mostly share a route; the
 * first of them measure it (settle of them, so that a per-flow load
 * balancer's branches show up), the rest need only its last hops: the
 * target and the hop below, its /24's last router (may_stop).  So a
 * guessed trace waits to start while settle traces to its /24 are under
 * way (one wait at most), rather than walk the same hops at the same
 * time.  A changed route is caught all the same at the last hops (they
 * are always measured) and below them (a link the set does not know is
 * no stop); not below an unchanged last router.
 */
static int
queue_start(const struct trace_config *c, struct trace_machine *m,
    uint64_t now)
{
	if (c->stop_set == NULL || m->first <= (c->low_ttl ? c->low_ttl : 1))
		return 0;
	if (!m->queued) {
		if (trace_stopset_walkers(c->stop_set, m->dst) <
		    trace_stopset_settle_count(c->stop_set))
			goto go;
		m->queued = 1;
		m->hold_ms = now + c->wait_ms;
		return 1;
	}
	if (trace_stopset_walkers(c->stop_set, m->dst) >=
	    trace_stopset_settle_count(c->stop_set) && now < m->hold_ms)
		return 1;
go:
	m->queued = 0;
	m->hold_ms = 0;
	m->walking = 1;
	trace_stopset_walk(c->stop_set, m->dst, 1);
	return 0;
}

/* Judge finished hops in order, open new ones, and say what to do. */
static struct trace_action
advance(const struct trace_config *c, struct trace_machine *m, uint64_t now)
{
	unsigned judged = 0;

	if ((m->queued || m->probes == 0) && m->lo == m->first &&
	    m->hi == m->first && queue_start(c, m, now))
		return decide(c, m, 0);
	if (m->back)
		return advance_back(c, m, now, 0);
	while (m->stop == TRACE_STOP_NONE && m->lo < m->hi &&
	    hop_done(c, &m->hops[m->lo], now) && !retry(c, m, m->lo, now)) {
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
	m->now_ms = now_ms;
	m->hold_ms = 0;
	m->queued = m->walking = 0;
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
	m->now_ms = now_ms;
	return advance(c, m, now_ms);
}

struct trace_action
trace_machine_sent(struct trace_machine *m, const struct trace_config *c,
    unsigned ttl, uint64_t stamp_us, uint64_t now_ms)
{
	struct hop *h = &m->hops[ttl];
	uint32_t x = meant_for(c, m, ttl);

	m->now_ms = now_ms;
	m->sent_us[ttl * trace_machine_attempts(c) + h->sent] = stamp_us;
	h->sent++;
	h->last_sent_ms = now_ms;
	m->probes++;
	/* A retry's probes are booked already; a first one takes its place
	   on a limiting router's schedule. */
	if (x != 0 && h->retries == 0)
		trace_stopset_sent(c->stop_set, x, now_ms);
	return decide(c, m, 0);
}

struct trace_action
trace_machine_fail(struct trace_machine *m, const struct trace_config *c,
    int err)
{
	struct trace_action a = { TRACE_OVER, 0, 0, TRACE_STOP_ERROR };

	m->stop = TRACE_STOP_ERROR;
	m->error = err;
	unwalk(c, m);
	return a;
}

enum trace_fit
trace_machine_fits(const struct trace_machine *m, const struct trace_config *c,
    uint16_t tag)
{
	unsigned ttl = tag >> 8, attempt = tag & 0xff;

	/* Only hops not yet judged: a late answer cannot change a verdict. */
	if (ttl < 1 || (m->back ? ttl != m->bttl : ttl < m->lo) ||
	    ttl > c->max_ttl || attempt >= trace_machine_attempts(c) ||
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
	sent = m->sent_us[ttl * trace_machine_attempts(c) + attempt];
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
	else if (c->stop_set != NULL)
		trace_stopset_answered(c->stop_set, mt->from);
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
	m->now_ms = now_ms;
	record_reply(m, c, mt, rx_us);
	return advance(c, m, now_ms);
}
