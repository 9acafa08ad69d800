/*
 * trace/sendq.c: the queue of traces with a probe to send.
 *
 * Spread (the default), the next trace to send is drawn at random among
 * all those waiting, not taken in turn: consecutive probes go to random
 * targets at random TTLs (each trace is somewhere else on its way), a
 * Yarrp-like permutation of (target, TTL) over the traces in flight.  Taken
 * in turn, the traces started together (a /24's, with the same guessed
 * start) probe the same router one after the other, a burst that a router
 * limiting its ICMP errors answers only the start of.  Draws go by
 * rounds: a round is the traces queued when it began, each drawn once in
 * a random order, and a trace queued again waits for the next round, so
 * every trace sends once a round, as in turn (none starves).  A draw is
 * O(1).  Without spread the queue is FIFO, as it was.
 *
 * A ring of at most cap entries (one per slot: a slot is queued once).
 */
#include <stdlib.h>

#include "internal.h"

int
trace_sendq_init(struct trace_sendq *q, unsigned cap, int spread,
    uint64_t seed)
{
	q->v = calloc(cap ? cap : 1, sizeof(*q->v));
	q->cap = cap ? cap : 1;
	q->head = q->n = q->left = 0;
	q->spread = spread;
	q->rnd = seed ? seed : 0x9e3779b97f4a7c15ULL;
	return q->v == NULL ? -1 : 0;
}

void
trace_sendq_free(struct trace_sendq *q)
{
	free(q->v);
	q->v = NULL;
	q->n = 0;
}

/* xorshift64*: cheap, good enough to mix an order. */
static uint64_t
next_rnd(struct trace_sendq *q)
{
	q->rnd ^= q->rnd >> 12;
	q->rnd ^= q->rnd << 25;
	q->rnd ^= q->rnd >> 27;
	return q->rnd * 0x2545f4914f6cdd1dULL;
}

int
trace_sendq_push(struct trace_sendq *q, struct trace *t)
{
	if (q->n == q->cap)
		return -1;
	q->v[(q->head + q->n++) % q->cap] = t;
	return 0;
}

int
trace_sendq_push_front(struct trace_sendq *q, struct trace *t)
{
	if (q->n == q->cap)
		return -1;
	q->head = (q->head + q->cap - 1) % q->cap;
	q->v[q->head] = t;
	q->n++;
	q->left++;
	return 0;
}

struct trace *
trace_sendq_pop(struct trace_sendq *q)
{
	struct trace *t;

	if (q->n == 0)
		return NULL;
	if (q->left == 0)
		q->left = q->n;		/* a new round: all queued now */
	if (q->spread && q->left > 1) {
		/* Swap a random entry of the round to the head, take it. */
		unsigned i = (q->head + (unsigned)(next_rnd(q) >> 33) %
		    q->left) % q->cap;

		t = q->v[i];
		q->v[i] = q->v[q->head];
		q->v[q->head] = t;
	}
	t = q->v[q->head];
	q->head = (q->head + 1) % q->cap;
	q->n--;
	q->left--;
	return t;
}
