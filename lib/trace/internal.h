/*
 * trace/internal.h: the trace engine's insides, a stack of three files, each
 * calling only the ones below it:
 *
 *   trace/loop.c    the loop: starts traces, paces, polls, sends, receives,
 *                   matches replies to traces, and acts on the verdicts
 *   trace/engine.c  the slots and the finished results
 *   trace/state.c   one trace's state machine: given events (started, a
 *                   probe sent, a reply, time passing, a failure) it
 *                   decides and returns what to do (send TTL t, wait, the
 *                   trace is over and why); no socket, no clock of its own
 *
 * Nothing outside the engine includes this but the engine's unit test,
 * which drives the state machine alone.
 */
#ifndef HOPMAP_TRACE_INT_H
#define HOPMAP_TRACE_INT_H

#include <poll.h>

#include "probe/probe.h"
#include "trace.h"

/* ---- trace/state.c: one trace's state machine ---- */
enum { HOP_RESP = 1, HOP_TARGET = 2, HOP_UNREACH = 4,
	HOP_BELOW = 8 };		/* the way back went on below this
					   hop's router (trace_stopset_below) */

struct hop {
	uint64_t last_sent_ms;		/* monotonic */
	uint64_t ready_ms;		/* a retry's probes leave then (booked
					   on its router's schedule) */
	uint16_t answered_mask;
	uint8_t sent, answered, flags;
	uint8_t retries;		/* rounds probed again (rate limiting) */
};

/* What the machine knows of one trace; times are the caller's. */
struct trace_machine {
	uint32_t dst;			/* host order */
	unsigned lo, hi;		/* open hops: [lo, hi) */
	unsigned limit;			/* highest TTL still worth probing */
	unsigned gap, probes, last_ttl;
	enum trace_stop stop;
	int error;
	int ended;			/* the target or an unreachable answered */
	unsigned first;			/* the TTL probing started at */
	int back;			/* probing backwards */
	unsigned bttl;			/* ... at this TTL */
	unsigned low_ttl;		/* lowest TTL judged */
	unsigned home;			/* hops 1 .. home taken from the stop
					   set (0: none) */
	uint32_t *way;			/* ... way[t]: the hop at TTL t */
	uint64_t now_ms;		/* the last event's time */
	uint64_t hold_ms;		/* the way back waits for another
					   trace's way home until then */
	int queued;			/* not started: its /24 has settle
					   traces under way (until hold_ms) */
	int walking;			/* counted under way in its /24 */
	enum trace_stop fwd_stop;	/* how the forward part ended */
	struct hop *hops;		/* by TTL */
	uint64_t *sent_us;		/* by TTL * queries + attempt */
	struct trace_reply *rep;	/* in arrival order */
	size_t nrep, caprep;
};

/* What the machine tells the loop to do after an event. */
enum trace_verdict {
	TRACE_WAIT,			/* nothing to send: wait for replies */
	TRACE_SEND,			/* send a probe at TTL ttl */
	TRACE_OVER			/* the trace is over: stop says why */
};
struct trace_action {
	enum trace_verdict what;
	unsigned ttl;			/* TRACE_SEND: the TTL to probe */
	unsigned judged;		/* last hop judged by the event, or 0 */
	enum trace_stop stop;		/* TRACE_OVER: why */
};

/* How a reply naming probe tag fits what the machine has sent. */
enum trace_fit { TRACE_FIT_NEW, TRACE_FIT_STRAY, TRACE_FIT_DUP };

/* Probes one hop may take: queries, again for each retry (at most 16). */
unsigned trace_machine_attempts(const struct trace_config *cfg);
/* Room for cfg's TTLs and queries; 0, or -1 when out of memory. */
int trace_machine_init(struct trace_machine *m, const struct trace_config *cfg);
void trace_machine_free(struct trace_machine *m);
/* A new trace to dst at monotonic time now_ms, starting at TTL start (0:
   cfg's first_ttl): what to do first. */
struct trace_action trace_machine_start(struct trace_machine *m,
    const struct trace_config *cfg, uint32_t dst, unsigned start,
    uint64_t now_ms);
/* The TTL that needs a probe next, or 0. */
unsigned trace_machine_next_ttl(const struct trace_machine *m,
    const struct trace_config *cfg);
/* A probe at ttl left at wall time stamp_us (monotonic now_ms). */
struct trace_action trace_machine_sent(struct trace_machine *m,
    const struct trace_config *cfg, unsigned ttl, uint64_t stamp_us,
    uint64_t now_ms);
/* Does a reply to probe tag (ttl << 8 | attempt) answer a probe sent and
   not yet answered, of a hop not yet judged? */
enum trace_fit trace_machine_fits(const struct trace_machine *m,
    const struct trace_config *cfg, uint16_t tag);
/* A reply that fits (TRACE_FIT_NEW), arrived at wall time rx_us. */
struct trace_action trace_machine_reply(struct trace_machine *m,
    const struct trace_config *cfg, const struct trace_match *mt,
    uint64_t rx_us, uint64_t now_ms);
/* Time has passed: judge the hops whose wait is over. */
struct trace_action trace_machine_tick(struct trace_machine *m,
    const struct trace_config *cfg, uint64_t now_ms);
/* A probe could not be sent (errno err): the trace is over. */
struct trace_action trace_machine_fail(struct trace_machine *m,
    const struct trace_config *cfg, int err);

/* ---- trace/engine.c: slots and results ---- */
struct trace {
	struct trace_machine m;		/* what it has seen and decided */
	uint32_t src, nonce;
	void *user;
	uint16_t flow, flow_sum;
	int active, queued;
	int fd;				/* its own socket, in dgram mode */
};

/* ---- trace/sendq.c: the traces with a probe to send ---- */
struct trace_sendq {
	struct trace **v;		/* a ring of cap */
	unsigned cap, head, n;
	unsigned left;			/* of this round, at the head */
	int spread;			/* draw at random, else FIFO */
	uint64_t rnd;
};
/* 0, or -1 when out of memory; seed 0: a fixed one. */
int trace_sendq_init(struct trace_sendq *q, unsigned cap, int spread,
    uint64_t seed);
void trace_sendq_free(struct trace_sendq *q);
/* At the back, or (a trace that could not send) at the front; -1 full. */
int trace_sendq_push(struct trace_sendq *q, struct trace *t);
int trace_sendq_push_front(struct trace_sendq *q, struct trace *t);
/* The next trace to send (spread: any of those queued), or NULL. */
struct trace *trace_sendq_pop(struct trace_sendq *q);

struct result_node {
	struct trace_result r;		/* first: freed through it */
	struct result_node *next;
};

struct trace_engine {
	struct trace_config cfg;
	struct trace_sockets s;
	int route_fd;			/* UDP, for source address lookups */
	struct trace *slots;
	unsigned *freelist, nfree, nactive;
	struct trace_sendq q;		/* traces with probes to send */
	struct result_node *rhead, *rtail;
	size_t nresults;
	struct probe_key key;
	uint32_t next_nonce;
	uint16_t flow_base;
	struct probe_bucket bucket;
	struct pollfd *pfd;		/* max_active + 3 */
	unsigned *pslot;		/* dgram mode: pfd[i] is slot pslot[i] */
	uint64_t next_scan_ms, scan_ms;
	unsigned admit;			/* traces at once, at most (slow
					   start: trace/loop.c admit) */
	uint64_t silences, cut_ms;	/* ... the silences seen when it was
					   last halved, and when next it may be */
	struct trace_stats st;
};

/* A free slot, counted active, or NULL when all are taken. */
struct trace *trace_slot_take(struct trace_engine *e);
/* Hand t's result (its machine's verdict) to the caller's queue and free
   its slot. */
void trace_finish(struct trace_engine *e, struct trace *t);

#endif
