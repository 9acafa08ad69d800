/*
 * probe/pingwire.c: the ping engine's packets: ICMP echo requests and TCP
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
 *
 * Nothing here knows the engine, a socket or a clock: probes are built
 * from what names them (struct ping_tag) and replies parsed into what they
 * are (struct ping_heard); the loop (probe/pingloop.c) sends and receives,
 * the state machine (probe/ping.c) judges.
 */
#include <netinet/in.h>
#include <string.h>

#include "core/core.h"
#include "ping.h"

#define ECHO_PAYLOAD 32

enum { TCP_FIN = 0x01, TCP_SYN = 0x02, TCP_RST = 0x04, TCP_ACK = 0x10 };

void
ping_wire_init(struct ping_wire *w, const struct ping_conf *conf)
{
	memset(w, 0, sizeof(*w));
	w->method = conf->method;
	w->kind = conf->kind;
	w->port = conf->port;
	w->window = conf->window;
	w->count = conf->count;
	probe_key_init(&w->key);
	w->ident = (uint16_t)probe_siphash(&w->key, "id", 2);
}

static uint64_t
echo_mac(const struct ping_wire *w, uint32_t ip, const uint8_t *pl)
{
	uint8_t m[4 + 24];

	/* slot, generation, probe number, zero, send time: pl[0..23]. */
	memcpy(m, &ip, 4);
	memcpy(m + 4, pl, 24);
	return probe_siphash(&w->key, m, sizeof(m));
}

uint16_t
ping_wire_tcp_port(const struct ping_wire *w, uint32_t ip,
    const struct ping_tag *t)
{
	uint32_t m[5] = { ip, w->port, t->slot, t->gen, t->k };

	return (uint16_t)(0x8000 | (probe_siphash(&w->key, m, sizeof(m)) &
	    0x7fff));
}

/* The 32 bytes a probe carries (ICMP payload, UDP data): slot,
   generation, probe number, send time, and the keyed check over these and
   the destination. */
static void
payload(const struct ping_wire *w, const struct ping_tag *t, uint32_t dst,
    uint64_t now, uint8_t *pl)
{
	uint32_t n[4] = { t->slot, t->gen, t->k, 0 };
	uint64_t mac;

	memcpy(pl, n, 16);
	memcpy(pl + 16, &now, 8);
	mac = echo_mac(w, dst, pl);
	memcpy(pl + 24, &mac, 8);
}

int
ping_wire_check(const struct ping_wire *w, uint32_t from, const uint8_t *pl,
    struct ping_tag *t)
{
	uint32_t n[3];
	uint64_t mac;

	memcpy(&mac, pl + 24, 8);
	memcpy(n, pl, 12);
	t->slot = n[0];
	t->gen = n[1];
	t->k = n[2];
	return mac == echo_mac(w, from, pl) && n[0] < w->window;
}

static size_t
build_echo(struct ping_wire *w, const struct ping_tag *t, uint32_t dst,
    uint64_t now, uint8_t *pkt)
{
	uint16_t id = htons(w->ident), seq = htons(w->seq++), sum;

	memset(pkt, 0, 8);
	pkt[0] = 8;			/* echo request */
	memcpy(pkt + 4, &id, 2);	/* a datagram socket puts its own */
	memcpy(pkt + 6, &seq, 2);
	payload(w, t, dst, now, pkt + 8);
	/* A datagram socket computes the checksum itself; a raw one not. */
	sum = probe_cksum(pkt, 8 + ECHO_PAYLOAD);
	memcpy(pkt + 2, &sum, 2);
	return 8 + ECHO_PAYLOAD;
}

static size_t
build_syn(const struct ping_wire *w, const struct ping_tag *t, uint32_t ip,
    uint32_t src_ip, uint8_t *pkt)
{
	uint16_t sport = htons(ping_wire_tcp_port(w, ip, t));
	uint16_t dport = htons(w->port), win = htons(65535), sum;
	uint32_t seq = htonl(t->slot << 8 | t->k), src = htonl(src_ip);
	uint32_t dst = htonl(ip);
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

size_t
ping_wire_build(struct ping_wire *w, const struct ping_tag *t, uint32_t dst,
    uint32_t src, uint64_t now, uint8_t *pkt)
{
	if (w->method == PING_TCP)
		return build_syn(w, t, dst, src, pkt);
	if (w->method == PING_UDP) {
		payload(w, t, dst, now, pkt);
		return ECHO_PAYLOAD;
	}
	return build_echo(w, t, dst, now, pkt);
}

/*
 * A destination unreachable on the raw socket: it quotes our echo request
 * (IP header, ICMP header, payload).  Linux routers quote all of it; a
 * router that quotes less than the 32-byte payload cannot be verified, and
 * its answer is dropped as a stray.  b is the ICMP message, from its sender.
 */
static void
parse_unreach(const struct ping_wire *w, const uint8_t *b, size_t len,
    uint32_t from, struct ping_heard *h)
{
	const uint8_t *q = b + 8;
	uint32_t dst;
	size_t ihl;
	uint16_t id;

	h->what = PING_HEARD_STRAY;
	if (len < 8 + 20)
		return;
	ihl = (size_t)(q[0] & 0x0f) * 4;
	if (ihl < 20 || len < 8 + ihl + 8 + ECHO_PAYLOAD || q[9] != IPPROTO_ICMP)
		return;
	memcpy(&dst, q + 16, 4);
	q += ihl;
	memcpy(&id, q + 4, 2);
	if (q[0] != 8 || ntohs(id) != w->ident ||
	    !ping_wire_check(w, ntohl(dst), q + 8, &h->tag))
		return;
	h->what = PING_HEARD_UNREACH;
	h->code = b[1];
	h->from = from;
}

/* An echo reply: from a raw socket with its IP header, or from a datagram
   socket without (the TTL then comes as ancillary data). */
static void
parse_echo(const struct ping_wire *w, const uint8_t *b, size_t len,
    uint32_t from, struct ping_heard *h)
{
	uint16_t id;

	h->what = PING_HEARD_STRAY;
	if (w->kind == PROBE_ICMP_RAW) {
		size_t ihl = (size_t)(b[0] & 0x0f) * 4;

		if (len < 20 || ihl < 20 || len < ihl + 8)
			return;
		h->a.ttl = b[8];
		memcpy(&from, b + 12, 4);
		from = ntohl(from);
		b += ihl;
		len -= ihl;
		if (b[0] == 3) {	/* destination unreachable */
			parse_unreach(w, b, len, from, h);
			return;
		}
		if (len < 8 + ECHO_PAYLOAD)
			return;
		memcpy(&id, b + 4, 2);
		if (ntohs(id) != w->ident)
			return;
	}
	if (len < 8 + ECHO_PAYLOAD || b[0] != 0 || b[1] != 0 ||
	    !ping_wire_check(w, from, b + 8, &h->tag))
		return;
	h->what = PING_HEARD_REPLY;
}

static void
parse_tcp(const struct ping_wire *w, const uint8_t *b, size_t len,
    struct ping_heard *h)
{
	size_t ihl = (size_t)(b[0] & 0x0f) * 4;
	uint16_t sport, dport;
	uint32_t from, ack;
	uint8_t fl;

	h->what = PING_HEARD_NONE;
	if (len < 20 || ihl < 20 || len < ihl + 20)
		return;
	h->a.ttl = b[8];
	memcpy(&from, b + 12, 4);
	from = ntohl(from);
	b += ihl;
	memcpy(&sport, b, 2);
	memcpy(&dport, b + 2, 2);
	memcpy(&ack, b + 8, 4);
	fl = b[13];
	/* The raw TCP socket sees all TCP, our own SYNs on loopback too. */
	if (ntohs(sport) != w->port || !(fl & TCP_ACK) ||
	    !((fl & (TCP_SYN | TCP_RST)) != 0))
		return;
	ack = ntohl(ack) - 1;
	h->tag.slot = ack >> 8;
	h->tag.k = ack & 0xff;
	if (h->tag.slot >= w->window || h->tag.k >= w->count) {
		h->what = PING_HEARD_STRAY;
		return;
	}
	h->what = PING_HEARD_TCP;
	h->from = from;
	h->port = ntohs(dport);
	h->a.tcp_flags = fl;
}

void
ping_wire_parse(const struct ping_wire *w, const uint8_t *b, size_t len,
    uint32_t from, int ttl, uint64_t rx_ns, struct ping_heard *h)
{
	memset(h, 0, sizeof(*h));
	h->a.rx_ns = rx_ns;
	h->a.ttl = ttl;
	if (w->method == PING_TCP) {
		h->a.ttl = 0;
		parse_tcp(w, b, len, h);
	} else {
		parse_echo(w, b, len, from, h);
	}
}
