/*
 * trace_int.h: the trace engine's insides, shared by its three files
 * (trace_engine.c: slots, adding traces, results; trace_state.c: one
 * trace's state machine; trace_loop.c: pacing, poll, send, receive and
 * matching).  Nothing outside the engine includes this.
 */
#ifndef HOPMAP_TRACE_INT_H
#define HOPMAP_TRACE_INT_H

#include <poll.h>

#include "probe/probe.h"
#include "trace.h"

enum { HOP_RESP = 1, HOP_TARGET = 2, HOP_UNREACH = 4 };

struct hop {
	uint64_t last_sent_ms;		/* monotonic */
	uint16_t answered_mask;
	uint8_t sent, answered, flags;
};

struct trace {
	uint32_t dst, src, nonce;
	void *user;
	uint16_t flow, flow_sum;
	unsigned lo, hi;		/* open hops: [lo, hi) */
	unsigned limit;			/* highest TTL still worth probing */
	unsigned gap, probes, last_ttl;
	enum trace_stop stop;
	int error, active, queued;
	int ended;			/* the target or an unreachable answered */
	int fd;				/* its own socket, in dgram mode */
	int back;			/* Doubletree: probing backwards */
	unsigned bttl;			/* ... at this TTL */
	unsigned low_ttl;		/* lowest TTL judged */
	enum trace_stop fwd_stop;	/* how the forward part ended */
	struct hop *hops;		/* by TTL */
	uint64_t *sent_us;		/* by TTL * queries + attempt */
	struct trace_reply *rep;
	size_t nrep, caprep;
	struct trace *qnext;
};

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
	struct trace *qhead, *qtail;	/* traces with probes to send */
	struct result_node *rhead, *rtail;
	size_t nresults;
	struct probe_key key;
	uint32_t next_nonce;
	uint16_t flow_base;
	struct probe_bucket bucket;
	struct pollfd *pfd;		/* max_active + 3 */
	unsigned *pslot;		/* dgram mode: pfd[i] is slot pslot[i] */
	uint64_t next_scan_ms, scan_ms;
	struct trace_stats st;
};

/* trace_engine.c */
/* Hand t's result to the caller's queue and free its slot. */
void trace_finish(struct trace_engine *e, struct trace *t);

/* trace_state.c */
/* Judge finished hops in order, open new ones, queue sends, or finish. */
void trace_advance(struct trace_engine *e, struct trace *t, uint64_t now);
/* The open hop that needs a probe next, or 0. */
unsigned trace_next_ttl(const struct trace_engine *e, const struct trace *t);
/* Keep a reply that matched a probe of t not yet answered. */
void trace_record_reply(struct trace_engine *e, struct trace *t,
    const struct trace_match *mt, uint64_t rx_us);

/* trace_loop.c */
uint16_t trace_keyed16(const struct trace_engine *e, const struct trace *t,
    uint32_t what);
/* Put t at the back of the send queue. */
void trace_enqueue(struct trace_engine *e, struct trace *t);

#endif
