/*
 * trace_engine.c: many Paris traceroutes at once, as one state machine.
 *
 * Each running trace holds a slot; the slot number is its flow identifier
 * (ICMP id or source port, offset by a per-run base), so a reply finds its
 * trace in O(1).  A reply is accepted only when its destination, TTL,
 * attempt and keyed check all agree with a probe we sent and that has not
 * been answered: strays, forgeries and late replies to an earlier trace in
 * the same slot (another nonce, so another check) are counted and dropped.
 *
 * A trace probes TTLs in order with at most `window` of them open; hops are
 * judged strictly in TTL order, so the stop reason is the one a hop-by-hop
 * traceroute would give.  Once the target (or an unreachable) answers at
 * TTL d no probe with a TTL above d is sent; with window 1 (the default)
 * none is ever sent past the destination.  Sends of all traces share one
 * token bucket, taken round-robin from a queue of traces with work.
 *
 * Without CAP_NET_RAW (cfg.dgram) each trace has its own datagram socket
 * instead (trace_dgram.c); the socket, not the flow, then names the trace.
 * With a stop set (Doubletree), a trace that has ended forwards goes back
 * from first_ttl - 1, one hop at a time, until a known router answers.
 */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "probe.h"
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

static uint64_t
clock_us(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* A 16-bit keyed value (SipHash, key random per run), never 0 or 0xffff
   (each means "no checksum" somewhere): replies cannot be forged without
   seeing our probes, nor matched to another run or trace. */
static uint16_t
keyed16(const struct trace_engine *e, const struct trace *t, uint32_t what)
{
	uint32_t in[3] = { t->dst, t->nonce, what };
	uint64_t h = probe_siphash(&e->key, in, sizeof(in));
	uint16_t v = (uint16_t)(h ^ h >> 16 ^ h >> 32 ^ h >> 48);

	return v == 0 || v == 0xffff ? 0x5a5a : v;
}

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

static void
enqueue(struct trace_engine *e, struct trace *t)
{
	t->queued = 1;
	t->qnext = NULL;
	if (e->qtail != NULL)
		e->qtail->qnext = t;
	else
		e->qhead = t;
	e->qtail = t;
}

/* The open hop that needs a probe next, or 0. */
static unsigned
next_to_send(const struct trace_engine *e, const struct trace *t)
{
	unsigned ttl;

	if (t->back)
		return t->hops[t->bttl].sent < e->cfg.queries ? t->bttl : 0;
	for (ttl = t->lo; ttl < t->hi && ttl <= t->limit; ttl++)
		if (t->hops[ttl].sent < e->cfg.queries)
			return ttl;
	return 0;
}

static int
reply_cmp(const void *a, const void *b)
{
	const struct trace_reply *x = a, *y = b;

	return (int)x->ttl - (int)y->ttl;
}

static void
finish(struct trace_engine *e, struct trace *t)
{
	struct result_node *n = calloc(1, sizeof(*n));
	struct trace_result *r;
	size_t i, k = 0;

	if (n == NULL)
		abort();
	r = &n->r;
	r->dst = t->dst;
	r->src = t->src;
	r->user = t->user;
	r->stop = t->stop;
	r->error = t->error;
	r->probes = t->probes;
	r->first_ttl = t->low_ttl;
	r->last_ttl = t->last_ttl;
	/* The hop list ends at the hop that ended the trace: replies to
	   probes in flight beyond it (window > 1) are not part of it. */
	if (t->nrep > 0 && (r->replies = malloc(t->nrep *
	    sizeof(*r->replies))) == NULL)
		abort();
	for (i = 0; i < t->nrep; i++)
		if (t->rep[i].ttl <= t->last_ttl)
			r->replies[k++] = t->rep[i];
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
		finish(e, t);
		return;
	}
	if (!t->queued && next_to_send(e, t) != 0)
		enqueue(e, t);
}

/* Judge finished hops in order, open new ones, queue sends, or finish. */
static void
advance(struct trace_engine *e, struct trace *t, uint64_t now)
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
			finish(e, t);
		return;
	}
	while (t->hi - t->lo < e->cfg.window && t->hi <= t->limit) {
		memset(&t->hops[t->hi], 0, sizeof(t->hops[t->hi]));
		t->hi++;
	}
	if (!t->queued && next_to_send(e, t) != 0)
		enqueue(e, t);
}

/* Send one probe of t; 0 sent, 1 try later (buffers full), -1 t ended. */
static int
send_probe(struct trace_engine *e, struct trace *t, uint64_t now)
{
	struct trace_probe p;
	struct sockaddr_in sin;
	uint8_t buf[TRACE_PKT_MAX];
	unsigned ttl = next_to_send(e, t);
	struct hop *h = &t->hops[ttl];
	uint64_t stamp;
	size_t len;

	memset(&p, 0, sizeof(p));
	p.method = e->cfg.method;
	p.src = t->src;
	p.dst = t->dst;
	p.ttl = (uint8_t)ttl;
	p.flow = t->flow;
	p.dport = e->cfg.dport;
	p.flow_sum = t->flow_sum;
	p.tag = (uint16_t)(ttl << 8 | h->sent);
	p.check = keyed16(e, t, p.tag);
	len = e->cfg.dgram ? 0 : trace_pkt_build(&p, buf);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(t->dst);
	/* Before sending: on loopback the reply is in before sendto returns. */
	stamp = clock_us(CLOCK_REALTIME);
	if (e->cfg.dgram ? trace_dgram_send(t->fd, &p) < 0 :
	    sendto(e->s.send_fd, buf, len, 0, (struct sockaddr *)&sin,
	    sizeof(sin)) < 0) {
		if (errno == EAGAIN || errno == ENOBUFS || errno == EINTR)
			return 1;
		e->st.send_errors++;
		t->stop = TRACE_STOP_ERROR;
		t->error = errno;
		finish(e, t);
		return -1;
	}
	t->sent_us[ttl * e->cfg.queries + h->sent] = stamp;
	h->sent++;
	h->last_sent_ms = now;
	t->probes++;
	e->st.probes++;
	return 0;
}

/* Send round-robin over the traces with work while tokens last. */
static void
send_ready(struct trace_engine *e, uint64_t now)
{
	uint64_t ns = probe_now_ns();

	while (e->qhead != NULL && probe_bucket_wait(&e->bucket, ns) == 0) {
		struct trace *t = e->qhead;
		int r;

		if ((e->qhead = t->qnext) == NULL)
			e->qtail = NULL;
		t->queued = 0;
		if (!t->active || next_to_send(e, t) == 0)
			continue;
		if ((r = send_probe(e, t, now)) > 0) {
			/* Put it back in front and wait a little. */
			t->queued = 1;
			t->qnext = e->qhead;
			e->qhead = t;
			if (e->qtail == NULL)
				e->qtail = t;
			return;
		}
		if (r == 0) {
			(void)probe_bucket_take(&e->bucket, ns);
			if (next_to_send(e, t) != 0)
				enqueue(e, t);
		}
	}
}

static void accept_reply(struct trace_engine *, struct trace *,
    const struct trace_match *, uint64_t);

/* A reply on the shared raw sockets: its flow names the slot. */
static void
on_match(struct trace_engine *e, const struct trace_match *mt, uint64_t rx_us)
{
	unsigned idx = (uint16_t)(mt->flow - e->flow_base);

	if (idx >= e->cfg.max_active || !e->slots[idx].active ||
	    e->slots[idx].flow != mt->flow) {
		e->st.strays++;
		return;
	}
	accept_reply(e, &e->slots[idx], mt, rx_us);
}

static void
accept_reply(struct trace_engine *e, struct trace *t,
    const struct trace_match *mt, uint64_t rx_us)
{
	unsigned ttl = mt->tag >> 8, attempt = mt->tag & 0xff;
	struct trace_reply *r;
	struct hop *h;
	uint64_t sent;

	if (!rx_us)
		rx_us = clock_us(CLOCK_REALTIME);
	/* Only hops not yet judged: a late answer cannot change a verdict. */
	if (t->dst != mt->dst || ttl < 1 ||
	    (t->back ? ttl != t->bttl : ttl < t->lo) ||
	    ttl > e->cfg.max_ttl || attempt >= e->cfg.queries ||
	    mt->check != keyed16(e, t, mt->tag) ||
	    attempt >= (h = &t->hops[ttl])->sent) {
		e->st.strays++;
		return;
	}
	if (h->answered_mask & (1u << attempt)) {
		e->st.dups++;
		return;
	}
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
	e->st.replies++;
	advance(e, t, clock_us(CLOCK_MONOTONIC) / 1000);
}

/* The kernel's arrival time, or now. */
static uint64_t
arrival_us(struct msghdr *msg)
{
	struct cmsghdr *c;

	for (c = CMSG_FIRSTHDR(msg); c != NULL; c = CMSG_NXTHDR(msg, c))
		if (c->cmsg_level == SOL_SOCKET &&
		    c->cmsg_type == SCM_TIMESTAMPNS) {
			struct timespec ts;

			memcpy(&ts, CMSG_DATA(c), sizeof(ts));
			return (uint64_t)ts.tv_sec * 1000000 +
			    (uint64_t)ts.tv_nsec / 1000;
		}
	return clock_us(CLOCK_REALTIME);
}

/* Read what is waiting on fd (a bounded batch, so sends keep going). */
static void
drain(struct trace_engine *e, int fd)
{
	uint8_t pkt[1500];
	char cbuf[CMSG_SPACE(sizeof(struct timespec)) + 64];
	int n;

	for (n = 0; n < 512; n++) {
		struct iovec iov = { pkt, sizeof(pkt) };
		struct msghdr msg;
		struct trace_match mt;
		ssize_t len;

		memset(&msg, 0, sizeof(msg));
		msg.msg_iov = &iov;
		msg.msg_iovlen = 1;
		msg.msg_control = cbuf;
		msg.msg_controllen = sizeof(cbuf);
		if ((len = recvmsg(fd, &msg, MSG_DONTWAIT)) < 0)
			return;
		if (trace_pkt_parse(e->cfg.method, e->cfg.dport, pkt,
		    (size_t)len, &mt))
			on_match(e, &mt, arrival_us(&msg));
		else if (fd == e->s.icmp_fd)
			e->st.strays++;
	}
}

/* Expire waits: every trace is looked at every scan_ms. */
static void
scan(struct trace_engine *e, uint64_t now)
{
	unsigned i;

	if (now < e->next_scan_ms)
		return;
	e->next_scan_ms = now + e->scan_ms;
	for (i = 0; i < e->cfg.max_active; i++)
		if (e->slots[i].active)
			advance(e, &e->slots[i], now);
}

/* Read what waits on one trace's own socket (dgram mode). */
static void
drain_trace(struct trace_engine *e, struct trace *t)
{
	struct trace_match mt;
	uint64_t rx;
	int n, r;

	/* The trace may end (and its socket close) on any reply. */
	for (n = 0; n < 64 && t->active && t->fd >= 0; n++) {
		if ((r = trace_dgram_read(t->fd, e->cfg.method, t->dst, &mt,
		    &rx)) < 0)
			return;
		mt.flow = t->flow;
		if (r > 0)
			accept_reply(e, t, &mt, rx);
		else
			e->st.strays++;
	}
}

/* The descriptors to wait on: the shared raw sockets, or in dgram mode
   every running trace's socket (slot numbers in e->pslot); then extra. */
static nfds_t
poll_set(struct trace_engine *e, int extra_fd, nfds_t *extra)
{
	nfds_t n = 0;
	unsigned i;

	if (e->cfg.dgram) {
		for (i = 0; i < e->cfg.max_active; i++)
			if (e->slots[i].active && e->slots[i].fd >= 0) {
				e->pslot[n] = i;
				e->pfd[n].fd = e->slots[i].fd;
				e->pfd[n++].events = POLLIN;
			}
	} else {
		e->pfd[n].fd = e->s.icmp_fd;
		e->pfd[n++].events = POLLIN;
		if (e->s.tcp_fd >= 0) {
			e->pfd[n].fd = e->s.tcp_fd;
			e->pfd[n++].events = POLLIN;
		}
	}
	*extra = n + 1;
	if (extra_fd >= 0) {
		*extra = n;
		e->pfd[n].fd = extra_fd;
		e->pfd[n++].events = POLLIN;
	}
	return n;
}

static void
receive(struct trace_engine *e, nfds_t n, nfds_t extra)
{
	nfds_t i;

	if (!e->cfg.dgram) {
		drain(e, e->s.icmp_fd);
		if (e->s.tcp_fd >= 0)
			drain(e, e->s.tcp_fd);
		return;
	}
	for (i = 0; i < n; i++) {
		struct trace *t = &e->slots[e->pslot[i]];

		if (i != extra && e->pfd[i].revents != 0 && t->active &&
		    t->fd == e->pfd[i].fd)
			drain_trace(e, t);
	}
}

int
trace_engine_poll(struct trace_engine *e, int extra_fd, int timeout_ms)
{
	struct timespec ts;
	uint64_t now = clock_us(CLOCK_MONOTONIC) / 1000, wait_us;
	nfds_t n, extra;
	int ready = 0;

	send_ready(e, now);
	scan(e, now);
	wait_us = (uint64_t)timeout_ms * 1000;
	if (e->nresults > 0)
		wait_us = 0;
	if (e->qhead != NULL) {
		uint64_t t = probe_bucket_wait(&e->bucket, probe_now_ns()) /
		    1000 + 1;

		/* Wake at most once a millisecond to send: at high rates a
		   few probes a wake-up instead of one (the bucket banks up to
		   10 ms worth, so the rate is kept); when the send buffer was
		   full, let it drain. */
		if (t < 1000)
			t = 1000;
		if (t < wait_us)
			wait_us = t;
	}
	if (e->nactive > 0 && (e->next_scan_ms - now) * 1000 < wait_us)
		wait_us = (e->next_scan_ms - now) * 1000;
	n = poll_set(e, extra_fd, &extra);
	ts.tv_sec = (time_t)(wait_us / 1000000);
	ts.tv_nsec = (long)(wait_us % 1000000) * 1000;
	if (ppoll(e->pfd, n, &ts, NULL) > 0 && extra < n &&
	    (e->pfd[extra].revents & (POLLIN | POLLHUP | POLLERR)))
		ready = 1;
	receive(e, n, extra);
	now = clock_us(CLOCK_MONOTONIC) / 1000;
	send_ready(e, now);
	scan(e, now);
	return ready;
}

/* Our source address toward dst, as the kernel would choose it. */
static int
route_source(struct trace_engine *e, uint32_t dst, uint32_t *src)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(e->cfg.dport ? e->cfg.dport : 33434);
	sin.sin_addr.s_addr = htonl(dst);
	if (connect(e->route_fd, (struct sockaddr *)&sin, sizeof(sin)) != 0 ||
	    getsockname(e->route_fd, (struct sockaddr *)&sin, &len) != 0)
		return -1;
	*src = ntohl(sin.sin_addr.s_addr);
	return 0;
}

int
trace_engine_add(struct trace_engine *e, uint32_t dst, void *user)
{
	struct trace *t;
	unsigned idx;

	if (e->nfree == 0)
		return -1;
	idx = e->freelist[--e->nfree];
	t = &e->slots[idx];
	/* t->queued survives: the slot may still sit in the send queue. */
	t->dst = dst;
	t->user = user;
	t->nonce = ++e->next_nonce;
	t->flow = (uint16_t)(e->flow_base + idx);
	t->flow_sum = keyed16(e, t, 0x10000);
	t->lo = t->hi = t->low_ttl = e->cfg.first_ttl;
	t->back = 0;
	t->limit = e->cfg.max_ttl;
	t->gap = t->probes = t->last_ttl = 0;
	t->stop = TRACE_STOP_NONE;
	t->error = t->ended = 0;
	t->nrep = 0;
	t->active = 1;
	e->nactive++;
	e->st.started++;
	if (e->cfg.dgram ? (t->fd = trace_dgram_open(e->cfg.method, dst,
	    e->cfg.dport, &t->src, &t->flow)) < 0 :
	    route_source(e, dst, &t->src) != 0) {
		t->src = 0;
		t->stop = TRACE_STOP_ERROR;
		t->error = errno;
		finish(e, t);
		return 0;
	}
	advance(e, t, clock_us(CLOCK_MONOTONIC) / 1000);
	return 0;
}

struct trace_engine *
trace_engine_new(const struct trace_config *cfg, const struct trace_sockets *s)
{
	struct trace_engine *e = calloc(1, sizeof(*e));
	size_t nhop = cfg->max_ttl + 1;
	unsigned i, span;

	if (e == NULL)
		return NULL;
	e->cfg = *cfg;
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
	for (i = 0; i < cfg->max_active; i++) {
		struct trace *t = &e->slots[i];

		t->fd = -1;
		t->hops = calloc(nhop, sizeof(*t->hops));
		t->sent_us = calloc(nhop * cfg->queries, sizeof(*t->sent_us));
		if (t->hops == NULL || t->sent_us == NULL)
			goto fail;
		/* Hand out low slots first: fewer flows, same paths reused. */
		e->freelist[cfg->max_active - 1 - i] = i;
	}
	e->nfree = cfg->max_active;
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
	for (i = 0; e->slots != NULL && i < e->cfg.max_active; i++) {
		free(e->slots[i].hops);
		free(e->slots[i].sent_us);
		free(e->slots[i].rep);
	}
	if (e->route_fd >= 0)
		close(e->route_fd);
	for (i = 0; e->slots != NULL && i < e->cfg.max_active; i++)
		if (e->slots[i].fd >= 0)
			close(e->slots[i].fd);
	free(e->slots);
	free(e->freelist);
	free(e->pfd);
	free(e->pslot);
	free(e);
}

int
trace_engine_full(const struct trace_engine *e)
{
	return e->nfree == 0;
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
		free(r);
	}
}

const struct trace_stats *
trace_engine_stats(const struct trace_engine *e)
{
	return &e->st;
}
