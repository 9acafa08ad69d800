/*
 * probe_ping.c: the asynchronous ping engine behind icmpprobe.
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
 * Packets are built and parsed in probe_pingwire.c.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

struct ping_engine *
ping_new(const struct ping_conf *conf)
{
	struct ping_engine *e = calloc(1, sizeof(*e));
	size_t w = conf->window, i;
	int l;

	if (e == NULL)
		return NULL;
	e->conf = *conf;
	e->slot = calloc(w, sizeof(*e->slot));
	e->rtt_us = calloc(w * conf->count, sizeof(*e->rtt_us));
	e->sent_ns = calloc(w * conf->count, sizeof(*e->sent_ns));
	if (e->slot == NULL || e->rtt_us == NULL || e->sent_ns == NULL) {
		ping_free(e);
		errno = ENOMEM;
		return NULL;
	}
	for (l = 0; l < L_COUNT; l++)
		e->head[l] = e->tail[l] = PING_NIL;
	for (i = 0; i < w; i++)
		list_append(e, L_FREE, (uint32_t)i);
	probe_key_init(&e->key);
	e->ident = (uint16_t)probe_siphash(&e->key, "id", 2);
	/* A burst of 5 ms worth of probes keeps the send loop efficient
	   without bunching the pace visibly. */
	probe_bucket_init(&e->bucket, conf->rate, conf->rate / 200,
	    probe_now_ns());
	return e;
}

void
ping_free(struct ping_engine *e)
{
	if (e == NULL)
		return;
	free(e->slot);
	free(e->rtt_us);
	free(e->sent_ns);
	free(e);
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

static void
finish(struct ping_engine *e, uint32_t i, ping_done_fn *done, void *ctx)
{
	struct ping_slot *s = &e->slot[i];
	struct ping_result r;

	list_remove(e, i);
	r.ip = s->ip;
	r.user = s->user;
	r.probes = s->probes;
	r.sent = s->sent;
	r.recv = s->recv;
	r.error = s->error;
	r.unreach_code = s->unreach_code;
	r.unreach_from = s->unreach_from;
	r.rtt_us = &e->rtt_us[i * e->conf.count];
	r.reply_ttl = s->reply_ttl;
	r.tcp_flags = s->tcp_flags;
	/* From here on, replies to this target's probes are late. */
	s->gen++;
	list_append(e, L_FREE, i);
	e->active--;
	done(&r, ctx);
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

/* Send what is due, as far as the bucket allows; at most a batch, so
   replies get read before the socket buffer overflows. */
static void
send_due(struct ping_engine *e)
{
	uint64_t now = probe_now_ns();
	int n;

	for (n = 0; n < 512; n++) {
		uint32_t i = next_due(e, now);
		struct ping_slot *s;
		int r;

		if (i == PING_NIL || !probe_bucket_take(&e->bucket, now))
			break;
		s = &e->slot[i];
		/* Wall clock, to compare with the kernel's receive stamp. */
		e->sent_ns[i * e->conf.count + s->probes] = probe_wall_ns();
		r = ping_wire_send(e, i, now);
		if (r < 0) {
			/* Buffers full: give the token back, retry soon. */
			e->bucket.tokens += 1;
			e->blocked = 1;
			break;
		}
		/* "sent" is what the kernel took; a refusal is reported. */
		if (r == 0) {
			s->sent++;
			e->stats.sent++;
		} else {
			s->error = errno;
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
		if ((n & 63) == 63)
			now = probe_now_ns();
	}
}

/* A reply the wire layer has verified: record it, finish the target when
   every probe has its answer. */
void
ping_reply(struct ping_engine *e, uint32_t i, uint32_t gen, unsigned k,
    const struct ping_answer *a, ping_done_fn *done, void *ctx)
{
	struct ping_slot *s = &e->slot[i];
	uint32_t *rtt;
	uint64_t d;

	if (s->gen != gen || s->list == L_FREE || k >= s->probes) {
		e->stats.late++;
		return;
	}
	rtt = &e->rtt_us[i * e->conf.count + k];
	if (*rtt != PING_NO_RTT) {
		e->stats.dups++;
		return;
	}
	/* A wall clock stepped back could make this negative: call it 0. */
	d = a->rx_ns - e->sent_ns[i * e->conf.count + k];
	if (a->rx_ns < e->sent_ns[i * e->conf.count + k])
		d = 0;
	*rtt = d / 1000 >= PING_NO_RTT ? PING_NO_RTT - 1 : (uint32_t)(d / 1000);
	s->recv++;
	s->reply_ttl = a->ttl;
	s->tcp_flags = a->tcp_flags;
	e->stats.recv++;
	if (s->recv == e->conf.count)
		finish(e, i, done, ctx);
}

void
ping_unreach(struct ping_engine *e, uint32_t i, uint32_t gen, unsigned k,
    int code, uint32_t router)
{
	struct ping_slot *s = &e->slot[i];

	if (s->gen != gen || s->list == L_FREE || k >= s->probes) {
		e->stats.late++;
		return;
	}
	e->stats.unreach++;
	s->unreach_code = (int16_t)code;
	s->unreach_from = router;
}

static void
expire(struct ping_engine *e, ping_done_fn *done, void *ctx)
{
	uint64_t now = probe_now_ns();
	uint32_t i;

	while ((i = e->head[L_EXPIRE]) != PING_NIL && e->slot[i].due_ns <= now)
		finish(e, i, done, ctx);
}

/* Nanoseconds until the engine next has something to do (-1: nothing). */
static int64_t
next_event(struct ping_engine *e, uint64_t now)
{
	int64_t t = -1;
	uint32_t i;

	if (!e->blocked && next_due(e, now) != PING_NIL)
		t = (int64_t)probe_bucket_wait(&e->bucket, now);
	else if ((i = e->head[L_RESEND]) != PING_NIL)
		t = e->slot[i].due_ns > now ? (int64_t)(e->slot[i].due_ns - now)
		    : 0;
	if (e->blocked)
		t = t < 0 || t > 1000000 ? 1000000 : t;
	if ((i = e->head[L_EXPIRE]) != PING_NIL) {
		int64_t x = e->slot[i].due_ns > now ?
		    (int64_t)(e->slot[i].due_ns - now) : 0;

		if (t < 0 || x < t)
			t = x;
	}
	return t;
}

int
ping_poll(struct ping_engine *e, int extra_fd, ping_done_fn *done, void *ctx)
{
	struct pollfd pfd[2];
	struct timespec ts, *tsp = NULL;
	int64_t t;
	int n;
	size_t before = e->active;

	e->done = done;
	e->ctx = ctx;
	e->blocked = 0;
	send_due(e);
	ping_wire_recv(e, done, ctx);
	expire(e, done, ctx);
	t = next_event(e, probe_now_ns());
	/* Do not wait when there is nothing to wait for, nor when the caller
	   could not offer more targets (no extra_fd) and now can. */
	if (t == 0 || (extra_fd < 0 && (t < 0 || e->active < before)))
		return 0;
	if ((t < 0 || t >= 1000000) && e->conf.idle != NULL)
		e->conf.idle(ctx);
	if (t > 0) {
		ts.tv_sec = t / 1000000000;
		ts.tv_nsec = t % 1000000000;
		tsp = &ts;
	}
	pfd[0].fd = e->conf.fd;
	pfd[0].events = POLLIN;
	pfd[1].fd = extra_fd;
	pfd[1].events = POLLIN;
	n = ppoll(pfd, extra_fd >= 0 ? 2 : 1, tsp, NULL);
	/* POLLERR too: the UDP method's answers are on the error queue. */
	if (n > 0 && pfd[0].revents != 0)
		ping_wire_recv(e, done, ctx);
	return n > 0 && extra_fd >= 0 && pfd[1].revents != 0;
}
