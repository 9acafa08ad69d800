/*
 * trace/loop.c: the engine's loop: pacing, poll, send, receive, matching.
 *
 * Each running trace holds a slot; the slot number is its flow identifier
 * (ICMP id or source port, offset by a per-run base), so a reply finds its
 * trace in O(1).  A reply is accepted only when its destination, TTL,
 * attempt and keyed check all agree with a probe we sent and that has not
 * been answered: strays, forgeries and late replies to an earlier trace in
 * the same slot (another nonce, so another check) are counted and dropped.
 *
 * Sends of all traces share one token bucket, taken from a queue of
 * traces with work, drawn at random so that no router sees a burst
 * (trace/sendq.c; in turn with cfg.no_spread); how many traces run at once (max_active) is
 * bounded by the slots.  Without CAP_NET_RAW (cfg.dgram) each trace has its
 * own datagram socket instead (trace/dgram.c); the socket, not the flow,
 * then names the trace.
 *
 * The loop is the top of the engine's stack (trace/internal.h): what a reply or
 * a timeout means for its trace is decided by the state machine below
 * (trace/state.c), and the loop acts on the verdict it returns (queue the
 * trace to send, or hand it to trace/engine.c as finished).  Nothing below
 * calls back up.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "internal.h"

/* A 16-bit keyed value (SipHash, key random per run), never 0 or 0xffff
   (each means "no checksum" somewhere): replies cannot be forged without
   seeing our probes, nor matched to another run or trace. */
static uint16_t
trace_keyed16(const struct trace_engine *e, const struct trace *t,
    uint32_t what)
{
	uint32_t in[3] = { t->m.dst, t->nonce, what };
	uint64_t h = probe_siphash(&e->key, in, sizeof(in));
	uint16_t v = (uint16_t)(h ^ h >> 16 ^ h >> 32 ^ h >> 48);

	return v == 0 || v == 0xffff ? 0x5a5a : v;
}

/* Put t at the back of the send queue. */
static void
trace_enqueue(struct trace_engine *e, struct trace *t)
{
	/* A slot is queued at most once: the ring holds them all. */
	if (trace_sendq_push(&e->q, t) != 0)
		abort();
	t->queued = 1;
}

/* Do what the state machine said: queue t to send, or finish it. */
static void
act(struct trace_engine *e, struct trace *t, struct trace_action a)
{
	if (a.what == TRACE_OVER)
		trace_finish(e, t);
	else if (a.what == TRACE_SEND && !t->queued)
		trace_enqueue(e, t);
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
trace_engine_add(struct trace_engine *e, uint32_t dst, unsigned start,
    void *user)
{
	struct trace *t = trace_slot_take(e);
	struct trace_action a;
	int err;

	if (t == NULL)
		return -1;
	a = trace_machine_start(&t->m, &e->cfg, dst, start,
	    probe_now_ns() / 1000000);
	t->user = user;
	t->nonce = ++e->next_nonce;
	t->flow = (uint16_t)(e->flow_base + (t - e->slots));
	t->flow_sum = trace_keyed16(e, t, 0x10000);
	e->st.started++;
	if (e->cfg.dgram ? (t->fd = trace_dgram_open(e->cfg.method, dst,
	    e->cfg.dport, &t->src, &t->flow)) < 0 :
	    route_source(e, dst, &t->src) != 0) {
		err = errno;
		t->src = 0;
		a = trace_machine_fail(&t->m, &e->cfg, err);
	}
	act(e, t, a);
	return 0;
}

/* Send one probe of t; 0 sent, 1 try later (buffers full), -1 t ended. */
static int
send_probe(struct trace_engine *e, struct trace *t, uint64_t now)
{
	struct trace_probe p;
	struct sockaddr_in sin;
	uint8_t buf[TRACE_PKT_MAX];
	unsigned ttl = trace_machine_next_ttl(&t->m, &e->cfg);
	const struct hop *h = &t->m.hops[ttl];
	uint64_t stamp;
	size_t len;

	memset(&p, 0, sizeof(p));
	p.method = e->cfg.method;
	p.src = t->src;
	p.dst = t->m.dst;
	p.ttl = (uint8_t)ttl;
	p.flow = t->flow;
	p.dport = e->cfg.dport;
	p.flow_sum = t->flow_sum;
	p.tag = (uint16_t)(ttl << 8 | h->sent);
	p.check = trace_keyed16(e, t, p.tag);
	len = e->cfg.dgram ? 0 : trace_pkt_build(&p, buf);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(t->m.dst);
	/* Before sending: on loopback the reply is in before sendto returns. */
	stamp = probe_wall_ns() / 1000;
	if (e->cfg.dgram ? trace_dgram_send(t->fd, &p) < 0 :
	    sendto(e->s.send_fd, buf, len, 0, (struct sockaddr *)&sin,
	    sizeof(sin)) < 0) {
		if (errno == EAGAIN || errno == ENOBUFS || errno == EINTR)
			return 1;
		e->st.send_errors++;
		act(e, t, trace_machine_fail(&t->m, &e->cfg, errno));
		return -1;
	}
	e->st.probes++;
	act(e, t, trace_machine_sent(&t->m, &e->cfg, ttl, stamp, now));
	return 0;
}

/* Send for the traces with work (drawn from the queue) while tokens last. */
static void
send_ready(struct trace_engine *e, uint64_t now)
{
	uint64_t ns = probe_now_ns();

	while (e->q.n > 0 && probe_bucket_wait(&e->bucket, ns) == 0) {
		struct trace *t = trace_sendq_pop(&e->q);
		int r;

		t->queued = 0;
		if (!t->active || trace_machine_next_ttl(&t->m, &e->cfg) == 0)
			continue;
		if ((r = send_probe(e, t, now)) > 0) {
			/* Put it back in front and wait a little. */
			if (trace_sendq_push_front(&e->q, t) != 0)
				abort();
			t->queued = 1;
			return;
		}
		if (r == 0)
			(void)probe_bucket_take(&e->bucket, ns);
	}
}

/* A reply that names trace t: it counts only if it answers a probe that t
   sent and that is not answered yet. */
static void
accept_reply(struct trace_engine *e, struct trace *t,
    const struct trace_match *mt, uint64_t rx_us)
{
	enum trace_fit fit;

	if (!rx_us)
		rx_us = probe_wall_ns() / 1000;
	if (t->m.dst != mt->dst || mt->check != trace_keyed16(e, t, mt->tag) ||
	    (fit = trace_machine_fits(&t->m, &e->cfg, mt->tag)) ==
	    TRACE_FIT_STRAY) {
		e->st.strays++;
		return;
	}
	if (fit == TRACE_FIT_DUP) {
		e->st.dups++;
		return;
	}
	e->st.replies++;
	act(e, t, trace_machine_reply(&t->m, &e->cfg, mt, rx_us,
	    probe_now_ns() / 1000000));
}

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

/* The kernel's arrival time, or now. */
static uint64_t
arrival_us(struct msghdr *msg)
{
	uint64_t rx_ns = 0;

	(void)probe_cmsg_read(msg, &rx_ns);
	return (rx_ns != 0 ? rx_ns : probe_wall_ns()) / 1000;
}

/* Read what is waiting on fd (a bounded batch, so sends keep going):
   the packets read. */
static int
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
			break;
		if (trace_pkt_parse(e->cfg.method, e->cfg.dport, pkt,
		    (size_t)len, &mt))
			on_match(e, &mt, arrival_us(&msg));
		else if (fd == e->s.icmp_fd)
			e->st.strays++;
	}
	return n;
}

/*
 * Routers limit their ICMP errors (Linux: a burst of 6, then one a second
 * to each source): thousands of traces walking back at once all meet at
 * the routers near home, which answer a few of them, and the rest wait out
 * silences and lose the links.  Fewer traces at once are answered (on the
 * realistic big lab, 150 or 300 at once found 168-169 of 169 links in
 * about 50 s; 2,400 at once 135-153 in 19 s).  So, as TCP's
 * window: few at first, one more as each trace ends with no router
 * limiting (trace/engine.c), half as many, not below TRACE_SLOW_START,
 * once a wait while silences of limiting routers are noticed.  Without
 * limits the number soon reaches max_active.
 */
static void
admit(struct trace_engine *e, uint64_t now)
{
	uint64_t n;

	if (!e->cfg.slow_start || e->cfg.stop_set == NULL ||
	    (n = trace_stopset_silences(e->cfg.stop_set)) == e->silences ||
	    now < e->cut_ms)
		return;
	e->silences = n;
	e->cut_ms = now + e->cfg.wait_ms;
	e->admit = e->admit / 2 < TRACE_SLOW_START ?
	    (e->cfg.max_active < TRACE_SLOW_START ? e->cfg.max_active :
	    TRACE_SLOW_START) : e->admit / 2;
}

/* Expire waits: every trace is looked at every scan_ms. */
static void
scan(struct trace_engine *e, uint64_t now)
{
	unsigned i;

	if (now < e->next_scan_ms)
		return;
	e->next_scan_ms = now + e->scan_ms;
	admit(e, now);
	for (i = 0; i < e->cfg.max_active; i++)
		if (e->slots[i].active)
			act(e, &e->slots[i], trace_machine_tick(&e->slots[i].m,
			    &e->cfg, now));
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
		if ((r = trace_dgram_read(t->fd, e->cfg.method, t->m.dst, &mt,
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
   every running trace's socket (slot numbers in e->pslot); the count. */
static nfds_t
poll_set(struct trace_engine *e)
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
	return n;
}

/* Read a shared raw socket until it is empty: 64 batches at most, past
   any receive buffer's worth. */
static void
drain_all(struct trace_engine *e, int fd)
{
	int k;

	for (k = 0; k < 64 && drain(e, fd) == 512; k++)
		;
}

/*
 * Read the sockets poll found ready (n of them in e->pfd), all that waits
 * on them: a scan follows, and a hop whose answer is left in a socket
 * would be judged silent, which a late answer cannot undo
 * (trace_machine_fits).
 */
static void
receive(struct trace_engine *e, nfds_t n)
{
	nfds_t i;

	if (!e->cfg.dgram) {
		drain_all(e, e->s.icmp_fd);
		if (e->s.tcp_fd >= 0)
			drain_all(e, e->s.tcp_fd);
		return;
	}
	for (i = 0; i < n; i++) {
		struct trace *t = &e->slots[e->pslot[i]];

		if (e->pfd[i].revents != 0 && t->active &&
		    t->fd == e->pfd[i].fd)
			drain_trace(e, t);
	}
}

/* Before the first scan: every reply that came while the caller was away
   (stalled by a slow reader downstream, say). */
static void
receive_waiting(struct trace_engine *e)
{
	unsigned i;

	if (!e->cfg.dgram) {
		receive(e, 0);
		return;
	}
	for (i = 0; i < e->cfg.max_active; i++)
		if (e->slots[i].active && e->slots[i].fd >= 0)
			drain_trace(e, &e->slots[i]);
}

int
trace_engine_poll(struct trace_engine *e, int extra_fd, int timeout_ms)
{
	return trace_engine_poll_out(e, extra_fd, -1, timeout_ms);
}

int
trace_engine_poll_out(struct trace_engine *e, int extra_fd, int out_fd,
    int timeout_ms)
{
	struct timespec ts;
	uint64_t now = probe_now_ns() / 1000000, wait_us;
	nfds_t n, nsock, extra = 0;
	int ready = 0;

	receive_waiting(e);
	send_ready(e, now);
	scan(e, now);
	wait_us = (uint64_t)timeout_ms * 1000;
	if (e->nresults > 0)
		wait_us = 0;
	if (e->q.n > 0) {
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
	n = nsock = poll_set(e);
	if (extra_fd >= 0) {
		extra = n;
		e->pfd[n].fd = extra_fd;
		e->pfd[n++].events = POLLIN;
	}
	/* Room on the caller's output ends the wait too: its results must
	   not wait on us while we wait on the network. */
	if (out_fd >= 0) {
		e->pfd[n].fd = out_fd;
		e->pfd[n++].events = POLLOUT;
	}
	ts.tv_sec = (time_t)(wait_us / 1000000);
	ts.tv_nsec = (long)(wait_us % 1000000) * 1000;
	if (ppoll(e->pfd, n, &ts, NULL) > 0 && extra_fd >= 0 &&
	    (e->pfd[extra].revents & (POLLIN | POLLHUP | POLLERR)))
		ready = 1;
	receive(e, nsock);
	now = probe_now_ns() / 1000000;
	send_ready(e, now);
	scan(e, now);
	return ready;
}
