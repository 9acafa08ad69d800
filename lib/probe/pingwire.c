/*
 * probe_pingwire.c: the ping engine's packets: ICMP echo requests and TCP
 * SYNs out, echo replies and SYN-ACKs or RSTs in.
 *
 * ICMP: the 32-byte payload carries slot, generation, probe number, send
 * time and a SipHash over those and the destination; the reply echoes it,
 * so the check is verified against the address the reply came from.
 *
 * TCP: nothing is echoed but the sequence number (as ack - 1) and the
 * ports.  The sequence number carries slot << 8 | probe number, and the
 * source port 15 bits of a SipHash over destination, port, slot,
 * generation and probe number; a SYN-ACK or RST is counted only when its
 * acknowledgment and ports verify for the address it came from.  The kernel
 * answers a SYN-ACK to our raw SYN with a RST of its own (it knows no such
 * connection), so no half-open connection is left behind.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "core/core.h"
#include "ping.h"

#define ECHO_PAYLOAD 32
#define RECV_BATCH 64
#define RECV_SIZE 256

enum { TCP_FIN = 0x01, TCP_SYN = 0x02, TCP_RST = 0x04, TCP_ACK = 0x10 };

static uint64_t
echo_mac(const struct ping_engine *e, uint32_t ip, const uint8_t *pl)
{
	uint8_t m[4 + 24];

	/* slot, generation, probe number, zero, send time: pl[0..23]. */
	memcpy(m, &ip, 4);
	memcpy(m + 4, pl, 24);
	return probe_siphash(&e->key, m, sizeof(m));
}

static uint16_t
tcp_port_mac(const struct ping_engine *e, uint32_t ip, uint32_t slot,
    uint32_t gen, uint32_t k)
{
	uint32_t m[5] = { ip, e->conf.port, slot, gen, k };

	return (uint16_t)(0x8000 | (probe_siphash(&e->key, m, sizeof(m)) &
	    0x7fff));
}

void
ping_wire_payload(const struct ping_engine *e, uint32_t i, uint64_t now,
    uint8_t *pl)
{
	const struct ping_slot *s = &e->slot[i];
	uint32_t w[4] = { i, s->gen, s->probes, 0 };
	uint64_t mac;

	memcpy(pl, w, 16);
	memcpy(pl + 16, &now, 8);
	mac = echo_mac(e, s->ip, pl);
	memcpy(pl + 24, &mac, 8);
}

int
ping_wire_check(const struct ping_engine *e, uint32_t from,
    const uint8_t *pl, uint32_t w[3])
{
	uint64_t mac;

	memcpy(&mac, pl + 24, 8);
	memcpy(w, pl, 12);
	return mac == echo_mac(e, from, pl) && w[0] < e->conf.window;
}

static size_t
build_echo(struct ping_engine *e, uint32_t i, uint64_t now, uint8_t *pkt)
{
	uint16_t id = htons(e->ident), seq = htons(e->seq++), sum;

	memset(pkt, 0, 8);
	pkt[0] = 8;			/* echo request */
	memcpy(pkt + 4, &id, 2);	/* a datagram socket puts its own */
	memcpy(pkt + 6, &seq, 2);
	ping_wire_payload(e, i, now, pkt + 8);
	/* A datagram socket computes the checksum itself; a raw one not. */
	sum = probe_cksum(pkt, 8 + ECHO_PAYLOAD);
	memcpy(pkt + 2, &sum, 2);
	return 8 + ECHO_PAYLOAD;
}

static size_t
build_syn(struct ping_engine *e, uint32_t i, uint8_t *pkt)
{
	const struct ping_slot *s = &e->slot[i];
	uint16_t sport = htons(tcp_port_mac(e, s->ip, i, s->gen, s->probes));
	uint16_t dport = htons(e->conf.port), win = htons(65535), sum;
	uint32_t seq = htonl(i << 8 | s->probes), src = htonl(s->src);
	uint32_t dst = htonl(s->ip);
	uint8_t pseudo[4] = { 0, IPPROTO_TCP, 0, 24 };
	uint32_t acc;

	memset(pkt, 0, 24);
	memcpy(pkt, &sport, 2);
	memcpy(pkt + 2, &dport, 2);
	memcpy(pkt + 4, &seq, 4);
	pkt[12] = 6 << 4;		/* header length: 24 bytes */
	pkt[13] = TCP_SYN;
	memcpy(pkt + 14, &win, 2);
	/* An MSS option, as every real SYN has: bare SYNs are dropped by
	   some filters. */
	pkt[20] = 2;
	pkt[21] = 4;
	pkt[22] = 1460 >> 8;
	pkt[23] = 1460 & 0xff;
	acc = probe_cksum_add(0, &src, 4);
	acc = probe_cksum_add(acc, &dst, 4);
	acc = probe_cksum_add(acc, pseudo, 4);
	sum = probe_cksum_fold(probe_cksum_add(acc, pkt, 24));
	memcpy(pkt + 16, &sum, 2);
	return 24;
}

/* A transient shortage: the probe waits for room, it is not refused. */
static int
socket_full(int err)
{
	return err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS ||
	    err == EINTR;
}

int
ping_wire_send(struct ping_engine *e, uint32_t i, uint64_t now)
{
	struct ping_slot *s = &e->slot[i];
	struct sockaddr_in sin;
	uint8_t pkt[64];
	size_t len;
	int tries;

	if (e->conf.method == PING_TCP) {
		/* The checksum covers our address: ask the routing table. */
		if (s->src == 0 && probe_source_addr(s->ip, &s->src) != 0)
			return 1;
		len = build_syn(e, i, pkt);
	} else if (e->conf.method == PING_UDP) {
		ping_wire_payload(e, i, now, pkt);
		len = ECHO_PAYLOAD;
	} else {
		len = build_echo(e, i, now, pkt);
	}
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(s->ip);
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
		if (tries == 2 || e->done == NULL)
			break;
		e->stats.send_retries++;
		ping_wire_recv(e, e->done, e->ctx);
	}
	return 1;
}

/*
 * A destination unreachable on the raw socket: it quotes our echo request
 * (IP header, ICMP header, payload).  Linux routers quote all of it; a
 * router that quotes less than the 32-byte payload cannot be verified, and
 * its answer is dropped as a stray.  b is the ICMP message, from its sender.
 */
static void
take_unreach(struct ping_engine *e, const uint8_t *b, size_t len,
    uint32_t from)
{
	const uint8_t *q = b + 8;
	uint32_t dst, w[3];
	size_t ihl;
	uint16_t id;

	if (len < 8 + 20)
		goto stray;
	ihl = (size_t)(q[0] & 0x0f) * 4;
	if (ihl < 20 || len < 8 + ihl + 8 + ECHO_PAYLOAD || q[9] != IPPROTO_ICMP)
		goto stray;
	memcpy(&dst, q + 16, 4);
	q += ihl;
	memcpy(&id, q + 4, 2);
	if (q[0] != 8 || ntohs(id) != e->ident ||
	    !ping_wire_check(e, ntohl(dst), q + 8, w))
		goto stray;
	ping_unreach(e, w[0], w[1], w[2], b[1], from);
	return;
stray:
	e->stats.strays++;
}

/* An echo reply: from a raw socket with its IP header, or from a datagram
   socket without (the TTL then comes as ancillary data). */
static void
take_echo(struct ping_engine *e, const uint8_t *b, size_t len,
    uint32_t from, int ttl, uint64_t now, ping_done_fn *done, void *ctx)
{
	struct ping_answer a = { now, ttl, 0 };
	uint32_t w[3];
	uint16_t id;

	if (e->conf.kind == PROBE_ICMP_RAW) {
		size_t ihl = (size_t)(b[0] & 0x0f) * 4;

		if (len < 20 || ihl < 20 || len < ihl + 8)
			goto stray;
		a.ttl = b[8];
		memcpy(&from, b + 12, 4);
		from = ntohl(from);
		b += ihl;
		len -= ihl;
		if (b[0] == 3) {	/* destination unreachable */
			take_unreach(e, b, len, from);
			return;
		}
		if (len < 8 + ECHO_PAYLOAD)
			goto stray;
		memcpy(&id, b + 4, 2);
		if (ntohs(id) != e->ident)
			goto stray;
	}
	if (len < 8 + ECHO_PAYLOAD || b[0] != 0 || b[1] != 0 ||
	    !ping_wire_check(e, from, b + 8, w))
		goto stray;
	ping_reply(e, w[0], w[1], w[2], &a, done, ctx);
	return;
stray:
	e->stats.strays++;
}

static void
take_tcp(struct ping_engine *e, const uint8_t *b, size_t len, uint64_t now,
    ping_done_fn *done, void *ctx)
{
	struct ping_answer a = { now, 0, 0 };
	size_t ihl = (size_t)(b[0] & 0x0f) * 4;
	uint16_t sport, dport;
	uint32_t from, ack, slot, k;
	uint8_t fl;

	if (len < 20 || ihl < 20 || len < ihl + 20)
		return;
	a.ttl = b[8];
	memcpy(&from, b + 12, 4);
	from = ntohl(from);
	b += ihl;
	memcpy(&sport, b, 2);
	memcpy(&dport, b + 2, 2);
	memcpy(&ack, b + 8, 4);
	fl = b[13];
	/* The raw TCP socket sees all TCP, our own SYNs on loopback too. */
	if (ntohs(sport) != e->conf.port || !(fl & TCP_ACK) ||
	    !((fl & (TCP_SYN | TCP_RST)) != 0))
		return;
	ack = ntohl(ack) - 1;
	slot = ack >> 8;
	k = ack & 0xff;
	if (slot >= e->conf.window || k >= e->conf.count ||
	    ntohs(dport) != tcp_port_mac(e, from, slot, e->slot[slot].gen, k)) {
		e->stats.strays++;
		return;
	}
	a.tcp_flags = fl;
	ping_reply(e, slot, e->slot[slot].gen, k, &a, done, ctx);
}

static void ping_wire_recv_batch(struct ping_engine *e, ping_done_fn *done,
    void *ctx);

void
ping_wire_recv(struct ping_engine *e, ping_done_fn *done, void *ctx)
{
	if (e->conf.method == PING_UDP) {
		ping_udp_recv(e, done, ctx);
		return;
	}
	ping_wire_recv_batch(e, done, ctx);
}

static void
ping_wire_recv_batch(struct ping_engine *e, ping_done_fn *done, void *ctx)
{
	static uint8_t buf[RECV_BATCH][RECV_SIZE];
	static char cbuf[RECV_BATCH][128];
	struct mmsghdr mm[RECV_BATCH];
	struct sockaddr_in from[RECV_BATCH];
	struct iovec iov[RECV_BATCH];
	int n, j, rounds;

	/* Bounded, so a flood cannot starve sending and expiry. */
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
		n = recvmmsg(e->conf.fd, mm, RECV_BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0)
			return;
		now = probe_wall_ns();
		for (j = 0; j < n; j++) {
			size_t len = mm[j].msg_len;
			uint64_t rx = now;
			int ttl = probe_cmsg_read(&mm[j].msg_hdr, &rx);

			if (e->conf.method == PING_TCP)
				take_tcp(e, buf[j], len, rx, done, ctx);
			else
				take_echo(e, buf[j], len,
				    ntohl(from[j].sin_addr.s_addr), ttl, rx,
				    done, ctx);
		}
		if (n < RECV_BATCH)
			return;
	}
}
