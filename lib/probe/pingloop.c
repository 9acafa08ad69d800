/*
 * probe/pingloop.c: the ping engine's loop: it paces the probes, sends
 * them, reads the replies, waits for the next event, and reports finished
 * targets to the caller.
 *
 * It is the top of the engine's stack (probe/ping.h) and calls down only:
 * the state machine (probe/ping.c) says which slot is due and whether a
 * reply finishes its target; the wire (probe/pingwire.c, probe/pingudp.c)
 * builds probes and parses what comes back.  Only this file touches the
 * socket, the rate and the caller's callbacks.
 */
#include <errno.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "core/core.h"
#include "probe.h"
#include "ping.h"

#define RECV_BATCH 64
#define RECV_SIZE 256

struct ping_engine *
ping_new(const struct ping_conf *conf)
{
	struct ping_engine *e = calloc(1, sizeof(*e));

	if (e == NULL)
		return NULL;
	e->conf = *conf;
	if (ping_machine_init(e) != 0) {
		ping_free(e);
		errno = ENOMEM;
		return NULL;
	}
	ping_wire_init(&e->wire, conf);
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
	ping_machine_free(e);
	free(e);
}

/* Slot i's target is finished: hand its result to the caller. */
static void
finish(struct ping_engine *e, uint32_t i, ping_done_fn *done, void *ctx)
{
	struct ping_result r;

	ping_machine_finish(e, i, &r);
	done(&r, ctx);
}

/* Act on what a packet was. */
static void
take(struct ping_engine *e, struct ping_heard *h, ping_done_fn *done,
    void *ctx)
{
	switch (h->what) {
	case PING_HEARD_NONE:
		return;
	case PING_HEARD_TCP:
		h->tag.gen = ping_machine_gen(e, h->tag.slot);
		if (h->port != ping_wire_tcp_port(&e->wire, h->from, &h->tag))
			break;
		/* FALLTHROUGH */
	case PING_HEARD_REPLY:
		if (ping_machine_reply(e, &h->tag, &h->a))
			finish(e, h->tag.slot, done, ctx);
		return;
	case PING_HEARD_UNREACH:
		ping_machine_unreach(e, &h->tag, h->code, h->from);
		return;
	case PING_HEARD_STRAY:
		break;
	}
	e->stats.strays++;
}

/*
 * Read what waits on the socket, a bounded batch so that a flood cannot
 * starve sending and expiry: echo replies and unreachables on the ICMP
 * socket, SYN-ACKs and RSTs on the raw TCP one, or (flags MSG_ERRQUEUE)
 * the UDP method's answers on the socket's error queue.
 */
static void
recv_batch(struct ping_engine *e, int flags, ping_done_fn *done, void *ctx)
{
	static uint8_t buf[RECV_BATCH][RECV_SIZE];
	static char cbuf[RECV_BATCH][256];
	struct mmsghdr mm[RECV_BATCH];
	struct sockaddr_in from[RECV_BATCH];
	struct iovec iov[RECV_BATCH];
	struct ping_heard h;
	int n, j, rounds;

	for (rounds = 0; rounds < 64; rounds++) {
		uint64_t now;

		for (j = 0; j < RECV_BATCH; j++) {
			iov[j].iov_base = buf[j];
			iov[j].iov_len = RECV_SIZE;
			memset(&mm[j], 0, sizeof(mm[j]));
			mm[j].msg_hdr.msg_iov = &iov[j];
			mm[j].msg_hdr.msg_iovlen = 1;
			mm[j].msg_hdr.msg_name = &from[j];
			mm[j].msg_hdr.msg_namelen = sizeof(from[j]);
			mm[j].msg_hdr.msg_control = cbuf[j];
			mm[j].msg_hdr.msg_controllen = sizeof(cbuf[j]);
		}
		n = recvmmsg(e->conf.fd, mm, RECV_BATCH, flags | MSG_DONTWAIT,
		    NULL);
		if (n <= 0)
			return;
		now = probe_wall_ns();
		for (j = 0; j < n; j++) {
			uint64_t rx = now;
			int ttl;

			if (flags & MSG_ERRQUEUE) {
				ping_udp_parse(&e->wire, &mm[j].msg_hdr, buf[j],
				    mm[j].msg_len, now, &h);
			} else {
				ttl = probe_cmsg_read(&mm[j].msg_hdr, &rx);
				ping_wire_parse(&e->wire, buf[j], mm[j].msg_len,
				    ntohl(from[j].sin_addr.s_addr), ttl, rx, &h);
			}
			take(e, &h, done, ctx);
		}
		if (n < RECV_BATCH)
			return;
	}
}

/* Read every waiting packet, acting on each. */
static void
receive(struct ping_engine *e, ping_done_fn *done, void *ctx)
{
	char b[64];
	int n;

	if (e->conf.method != PING_UDP) {
		recv_batch(e, 0, done, ctx);
		return;
	}
	recv_batch(e, MSG_ERRQUEUE, done, ctx);
	/* Data from open ports: unverifiable, but it must not fill the
	   buffer.  Bounded like the rest. */
	for (n = 0; n < 1024; n++)
		if (recv(e->conf.fd, b, sizeof(b), MSG_DONTWAIT) < 0)
			break;
}

/* A transient shortage: the probe waits for room, it is not refused. */
static int
socket_full(int err)
{
	return err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS ||
	    err == EINTR;
}

/* Send probe p: 0 when the kernel took it, 1 when it refused it (errno
   set), -1 when the socket is full. */
static int
send_probe(struct ping_engine *e, struct ping_probe *p, uint64_t now,
    ping_done_fn *done, void *ctx)
{
	struct sockaddr_in sin;
	uint8_t pkt[PING_PKT_MAX];
	size_t len;
	uint32_t src;
	int tries;

	/* TCP's checksum covers our address: ask the routing table. */
	if (e->conf.method == PING_TCP && p->src == 0) {
		if (probe_source_addr(p->ip, &src) != 0)
			return 1;
		p->src = src;
	}
	len = ping_wire_build(&e->wire, &p->tag, p->ip, p->src, now, pkt);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(p->ip);
	if (e->conf.method == PING_UDP)
		sin.sin_port = htons(e->conf.port);
	/*
	 * A socket with IP_RECVERR (the UDP method) keeps the last ICMP error
	 * pending, and the next send fails with it whatever its destination:
	 * that error belongs to an earlier probe.  Read the error queue (the
	 * answers waiting there are counted for their own probes; reading the
	 * last one clears the pending error) and try again.  A second
	 * failure is this probe's own: no route, a firewall, a refused
	 * address.  The ICMP and TCP sockets have no IP_RECVERR and are not
	 * connected, so no error is left pending on them; the retry costs
	 * them one call when a probe is refused, and nothing otherwise.
	 */
	for (tries = 0; tries < 3; tries++) {
		if (sendto(e->conf.fd, pkt, len, 0, (struct sockaddr *)&sin,
		    sizeof(sin)) == (ssize_t)len)
			return 0;
		if (socket_full(errno))
			return -1;
		if (tries == 2 || done == NULL)
			break;
		e->stats.send_retries++;
		receive(e, done, ctx);
	}
	return 1;
}

/* Send what is due, as far as the bucket allows; at most a batch, so
   replies get read before the socket buffer overflows. */
static void
send_due(struct ping_engine *e, ping_done_fn *done, void *ctx)
{
	uint64_t now = probe_now_ns();
	int n;

	for (n = 0; n < 512; n++) {
		struct ping_probe p;
		uint64_t stamp;
		int r;

		if (!ping_machine_due(e, now, &p) ||
		    !probe_bucket_take(&e->bucket, now))
			break;
		/* Wall clock, to compare with the kernel's receive stamp. */
		stamp = probe_wall_ns();
		r = send_probe(e, &p, now, done, ctx);
		if (r < 0) {
			/* Buffers full: give the token back, retry soon. */
			e->bucket.tokens += 1;
			e->blocked = 1;
			break;
		}
		ping_machine_sent(e, &p, r, errno, stamp, now);
		if ((n & 63) == 63)
			now = probe_now_ns();
	}
}

/*
 * The packets the kernel dropped for a full receive buffer (the socket's
 * drop count, which SO_RXQ_OVFL would tell with the next packet): the
 * symptom of a loop that read too late (a slow reader downstream, once).
 * Asked when targets time out, which is when such a loss shows.
 */
static void
count_drops(struct ping_engine *e)
{
	uint32_t mem[SK_MEMINFO_VARS];
	socklen_t len = sizeof(mem);

	if (getsockopt(e->conf.fd, SOL_SOCKET, SO_MEMINFO, mem, &len) == 0 &&
	    len > SK_MEMINFO_DROPS * sizeof(uint32_t))
		e->stats.dropped = mem[SK_MEMINFO_DROPS];
}

static void
expire(struct ping_engine *e, ping_done_fn *done, void *ctx)
{
	uint64_t now = probe_now_ns();
	uint32_t i;
	int any = 0;

	while ((i = ping_machine_expired(e, now)) != PING_NIL) {
		if (!any++)
			count_drops(e);
		finish(e, i, done, ctx);
	}
}

/* Nanoseconds from now until at, 0 if past. */
static int64_t
until(uint64_t at, uint64_t now)
{
	return at > now ? (int64_t)(at - now) : 0;
}

/* Nanoseconds until the engine next has something to do (-1: nothing). */
static int64_t
next_event(struct ping_engine *e, uint64_t now)
{
	struct ping_probe p;
	int64_t t = -1;
	uint64_t at;

	if (!e->blocked && ping_machine_due(e, now, &p))
		t = (int64_t)probe_bucket_wait(&e->bucket, now);
	else if ((at = ping_machine_resend_at(e)) != UINT64_MAX)
		t = until(at, now);
	if (e->blocked)
		t = t < 0 || t > 1000000 ? 1000000 : t;
	if ((at = ping_machine_expire_at(e)) != UINT64_MAX) {
		int64_t x = until(at, now);

		if (t < 0 || x < t)
			t = x;
	}
	return t;
}

int
ping_poll(struct ping_engine *e, int extra_fd, ping_done_fn *done, void *ctx)
{
	struct pollfd pfd[3];
	struct timespec ts, *tsp = NULL;
	int64_t t;
	int n, out, x = -1;
	nfds_t nfd = 1;
	size_t before = e->active;

	e->blocked = 0;
	send_due(e, done, ctx);
	receive(e, done, ctx);
	expire(e, done, ctx);
	t = next_event(e, probe_now_ns());
	out = e->conf.out_fd != NULL ? e->conf.out_fd(ctx) : -1;
	/* Do not wait when there is nothing to wait for (output waiting for
	   room is something), nor when the caller could not offer more
	   targets (no extra_fd) and now can. */
	if (t == 0 || (extra_fd < 0 && (e->active < before ||
	    (t < 0 && out < 0))))
		return 0;
	if ((t < 0 || t >= 1000000) && e->conf.idle != NULL) {
		e->conf.idle(ctx);
		out = e->conf.out_fd != NULL ? e->conf.out_fd(ctx) : -1;
		if (t < 0 && out < 0 && extra_fd < 0)
			return 0;
	}
	if (t > 0) {
		ts.tv_sec = t / 1000000000;
		ts.tv_nsec = t % 1000000000;
		tsp = &ts;
	}
	pfd[0].fd = e->conf.fd;
	pfd[0].events = POLLIN;
	if (extra_fd >= 0) {
		x = (int)nfd;
		pfd[nfd].fd = extra_fd;
		pfd[nfd++].events = POLLIN;
	}
	if (out >= 0) {
		pfd[nfd].fd = out;
		pfd[nfd++].events = POLLOUT;
	}
	n = ppoll(pfd, nfd, tsp, NULL);
	/* POLLERR too: the UDP method's answers are on the error queue. */
	if (n > 0 && pfd[0].revents != 0)
		receive(e, done, ctx);
	/* Room downstream (or an error, which the caller's write reports). */
	if (n > 0 && out >= 0 && pfd[nfd - 1].revents != 0 &&
	    e->conf.idle != NULL)
		e->conf.idle(ctx);
	return n > 0 && x >= 0 && pfd[x].revents != 0;
}
