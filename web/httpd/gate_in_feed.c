/*
 * gate_in_feed.c: what a consumer gets next, decided without I/O.
 *
 * Hops come first, then range targets fill the rest of the answer.  A hop
 * is a router a trace has just seen answer: it is few, fresh and likely
 * alive now, while the ranges are months of work that lose nothing by
 * waiting one answer; interleaving them would delay each hop by the size
 * of the answer for no gain.
 *
 * The range set changed under a cursor (its fingerprint differs): the
 * cursor starts the new set from position 0.  Continuing by position
 * would map the old count onto a new order and skip addresses nobody has
 * probed; starting again repeats some instead, which is what
 * at-least-once allows and skipping is not.  The restart is counted, and
 * GET /status shows it.
 */
#include <string.h>

#include "httpd/gate_in.h"

void
gi_feed_plan(struct gi_cursor *c, const struct gi_ranges *r, size_t n,
    size_t pool, struct gi_plan *p)
{
	uint64_t left;

	memset(p, 0, sizeof *p);
	if (strcmp(c->fp, r->fp) != 0) {
		if (c->fp[0] != '\0') {
			c->restarts++;
			p->restarted = 1;
		}
		memcpy(c->fp, r->fp, sizeof c->fp);
		c->range_pos = 0;
	}
	if (c->range_pos > r->total)	/* cannot happen with one fp */
		c->range_pos = r->total;
	p->hops = pool < n ? pool : n;
	n -= p->hops;
	left = r->total - c->range_pos;
	p->range_from = c->range_pos;
	p->range_to = c->range_pos + (left < n ? left : n);
	c->range_pos = p->range_to;
}
