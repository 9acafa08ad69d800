/*
 * probe/ping.c: the asynchronous ping engine's state machine, behind
 * icmpprobe.
 *
 * State: a window of slots, one per target in flight.  A slot is on exactly
 * one list at a time: free, new (waiting for its first probe), resend
 * (waiting for its next probe, in order of due time) or expire (all probes
 * sent, waiting for replies until its deadline).  The intervals and the
 * timeout are the same for every target, so appending keeps the resend and
 * expire lists in time order and every step is O(1).
 *
 * What must stay true: a probe's wire form names (slot, generation, probe
 * number) and a reply is counted only if its keyed check verifies against
 * the reply's source address and the slot still has that generation.  A
 * slot's generation changes when its target finishes, so nothing sent for
 * an earlier target can be counted for a later one.
 *
 * This file is the machine at the bottom of the engine's stack (see
 * probe/ping.h): it is told what happened (a probe sent, a verified reply,
 * an unreachable) and when, and says which slot to probe next and which
 * targets are finished.  It touches no socket and calls nothing above it;
 * the loop (probe/pingloop.c) sends, receives, paces and reports, and
 * packets are built and parsed in probe/pingwire.c.
 */
#include <stdlib.h>

#include "core/core.h"
#include "probe.h"
#include "ping.h"

enum { L_FREE, L_NEW, L_RESEND, L_EXPIRE, L_COUNT };

static void
list_append(struct ping_engine *e, int l, uint32_t i)
{
	struct ping_slot *s = &e->slot[i];

	s->list = (uint8_t)l;
	s->next = PING_NIL;
	s->prev = e->tail[l];
	if (e->tail[l] != PING_NIL)
		e->slot[e->tail[l]].next = i;
	else
		e->head[l] = i;
	e->tail[l] = i;
}

static void
list_remove(struct ping_engine *e, uint32_t i)
{
	struct ping_slot *s = &e->slot[i];

	if (s->prev != PING_NIL)
		e->slot[s->prev].next = s->next;
	else
		e->head[s->list] = s->next;
	if (s->next != PING_NIL)
		e->slot[s->next].prev = s->prev;
	else
		e->tail[s->list] = s->prev;
}

int
ping_machine_init(struct ping_engine *e)
{
	size_t w = e->conf.window, i;
	int l;

	e->slot = calloc(w, sizeof(*e->slot));
	e->rtt_us = calloc(w * e->conf.count, sizeof(*e->rtt_us));
	e->sent_ns = calloc(w * e->conf.count, sizeof(*e->sent_ns));
	if (e->slot == NULL || e->rtt_us == NULL || e->sent_ns == NULL)
		return -1;
	for (l = 0; l < L_COUNT; l++)
		e->head[l] = e->tail[l] = PING_NIL;
	for (i = 0; i < w; i++)
		list_append(e, L_FREE, (uint32_t)i);
	return 0;
}

void
ping_machine_free(struct ping_engine *e)
{
	free(e->slot);
	free(e->rtt_us);
	free(e->sent_ns);
}

int
ping_room(const struct ping_engine *e)
{
	return e->head[L_FREE] != PING_NIL;
}

size_t
ping_active(const struct ping_engine *e)
{
	return e->active;
}

const struct ping_stats *
ping_stats(const struct ping_engine *e)
{
	return &e->stats;
}

int
ping_add(struct ping_engine *e, uint32_t ip, void *user)
{
	uint32_t i = e->head[L_FREE];
	struct ping_slot *s;
	size_t k;

	if (i == PING_NIL)
		return -1;
	list_remove(e, i);
	s = &e->slot[i];
	s->ip = ip;
	s->src = 0;
	s->user = user;
	s->probes = s->sent = s->recv = 0;
	s->reply_ttl = -1;
	s->unreach_code = -1;
	s->unreach_from = 0;
	s->error = 0;
	s->tcp_flags = 0;
	for (k = 0; k < e->conf.count; k++)
		e->rtt_us[i * e->conf.count + k] = PING_NO_RTT;
	list_append(e, L_NEW, i);
	e->active++;
	return 0;
}

void
ping_machine_finish(struct ping_engine *e, uint32_t i, struct ping_result *r)
{
	struct ping_slot *s = &e->slot[i];

	list_remove(e, i);
	r->ip = s->ip;
	r->user = s->user;
	r->probes = s->probes;
	r->sent = s->sent;
	r->recv = s->recv;
	r->error = s->error;
	r->unreach_code = s->unreach_code;
	r->unreach_from = s->unreach_from;
	r->rtt_us = &e->rtt_us[i * e->conf.count];
	r->reply_ttl = s->reply_ttl;
	r->tcp_flags = s->tcp_flags;
	/* From here on, replies to this target's probes are late. */
	s->gen++;
	list_append(e, L_FREE, i);
	e->active--;
}

/* The next slot to probe: a due resend first (it frees a slot sooner),
   else a new target. */
static uint32_t
next_due(const struct ping_engine *e, uint64_t now)
{
	uint32_t i = e->head[L_RESEND];

	if (i != PING_NIL && e->slot[i].due_ns <= now)
		return i;
	return e->head[L_NEW];
}

int
ping_machine_due(const struct ping_engine *e, uint64_t now,
    struct ping_probe *p)
{
	uint32_t i = next_due(e, now);

	if (i == PING_NIL)
		return 0;
	p->tag.slot = i;
	p->tag.gen = e->slot[i].gen;
	p->tag.k = e->slot[i].probes;
	p->ip = e->slot[i].ip;
	p->src = e->slot[i].src;
	return 1;
}

void
ping_machine_sent(struct ping_engine *e, const struct ping_probe *p, int r,
    int err, uint64_t stamp_ns, uint64_t now)
{
	uint32_t i = p->tag.slot;
	struct ping_slot *s = &e->slot[i];

	/* Wall clock, to compare with the kernel's receive stamp. */
	e->sent_ns[i * e->conf.count + s->probes] = stamp_ns;
	s->src = p->src;
	/* "sent" is what the kernel took; a refusal is reported. */
	if (r == 0) {
		s->sent++;
		e->stats.sent++;
	} else {
		s->error = err;
		e->stats.send_errors++;
	}
	s->probes++;
	list_remove(e, i);
	if (s->probes < e->conf.count) {
		s->due_ns = now + e->conf.interval_ns;
		list_append(e, L_RESEND, i);
	} else {
		s->due_ns = now + e->conf.timeout_ns;
		list_append(e, L_EXPIRE, i);
	}
}

/* Is t a probe of the target slot t->slot holds now, already sent? */
static int
current(struct ping_engine *e, const struct ping_tag *t)
{
	const struct ping_slot *s = &e->slot[t->slot];

	if (s->gen != t->gen || s->list == L_FREE || t->k >= s->probes) {
		e->stats.late++;
		return 0;
	}
	return 1;
}

int
ping_machine_reply(struct ping_engine *e, const struct ping_tag *t,
    const struct ping_answer *a)
{
	struct ping_slot *s = &e->slot[t->slot];
	size_t at = t->slot * e->conf.count + t->k;
	uint32_t *rtt;
	uint64_t d;

	if (!current(e, t))
		return 0;
	rtt = &e->rtt_us[at];
	if (*rtt != PING_NO_RTT) {
		e->stats.dups++;
		return 0;
	}
	/* A wall clock stepped back could make this negative: call it 0. */
	d = a->rx_ns - e->sent_ns[at];
	if (a->rx_ns < e->sent_ns[at])
		d = 0;
	*rtt = d / 1000 >= PING_NO_RTT ? PING_NO_RTT - 1 : (uint32_t)(d / 1000);
	s->recv++;
	s->reply_ttl = (int16_t)a->ttl;
	s->tcp_flags = a->tcp_flags;
	e->stats.recv++;
	return s->recv == e->conf.count || e->conf.retry;
}

void
ping_machine_unreach(struct ping_engine *e, const struct ping_tag *t,
    int code, uint32_t router)
{
	struct ping_slot *s = &e->slot[t->slot];

	if (!current(e, t))
		return;
	e->stats.unreach++;
	s->unreach_code = (int16_t)code;
	s->unreach_from = router;
}

uint32_t
ping_machine_expired(const struct ping_engine *e, uint64_t now)
{
	uint32_t i = e->head[L_EXPIRE];

	return i != PING_NIL && e->slot[i].due_ns <= now ? i : PING_NIL;
}

uint64_t
ping_machine_resend_at(const struct ping_engine *e)
{
	uint32_t i = e->head[L_RESEND];

	return i != PING_NIL ? e->slot[i].due_ns : UINT64_MAX;
}

uint64_t
ping_machine_expire_at(const struct ping_engine *e)
{
	uint32_t i = e->head[L_EXPIRE];

	return i != PING_NIL ? e->slot[i].due_ns : UINT64_MAX;
}

uint32_t
ping_machine_gen(const struct ping_engine *e, uint32_t i)
{
	return e->slot[i].gen;
}
