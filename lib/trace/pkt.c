/*
 * trace/pkt.c: Paris traceroute probes and the replies they provoke.
 *
 * What must stay true (Augustin et al., "Avoiding traceroute anomalies with
 * Paris traceroute"): every field a per-flow load balancer may hash is the
 * same in all probes of one trace.  Those are the addresses, the protocol,
 * and the first four bytes of the transport header (ports, or for ICMP the
 * type, code and checksum).  Each probe is told apart by fields outside that
 * set which an ICMP error quotes back (the IP header and the next 8 bytes):
 *   icmp-paris: id = flow, seq = tag, IP ID = check; the checksum is held
 *               constant by a compensating word in the payload, which also
 *               carries the check for the echo reply (it quotes no header);
 *   udp-paris:  ports fixed, IP ID = tag, UDP checksum = check, held there
 *               by the compensating payload word (the packet stays valid);
 *   tcp-paris:  ports fixed, sequence number = tag << 16 | check, IP ID =
 *               tag; the target's SYN-ACK or RST acknowledges seq + 1.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "trace.h"

#define IP_LEN 20
#define PAYLOAD_LEN 12

static void
put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void
put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

static uint16_t
get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t
get32(const uint8_t *p)
{
	return (uint32_t)get16(p) << 16 | get16(p + 2);
}

/* One's-complement sum of big-endian words, folded, not inverted. */
static uint32_t
sum_words(uint32_t sum, const uint8_t *p, size_t len)
{
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += get16(p + i);
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	return sum;
}

static uint16_t
fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

static uint32_t
pseudo_sum(const struct trace_probe *p, uint8_t proto, size_t len)
{
	return (p->src >> 16) + (p->src & 0xffff) + (p->dst >> 16) +
	    (p->dst & 0xffff) + proto + (uint32_t)len;
}

/*
 * Make the checksum of the segment come out as want by choosing the word at
 * fix (which is 0 and counted in partial).  With S the sum of everything
 * else, S + fix must be ~want in one's-complement arithmetic.
 */
static void
force_checksum(uint8_t *fix, uint8_t *field, uint32_t partial, uint16_t want)
{
	uint16_t s = fold(partial);

	put16(fix, fold((uint32_t)(uint16_t)~want + (uint16_t)~s));
	put16(field, want);
}

static void
ip_header(const struct trace_probe *p, uint8_t *b, size_t total,
    uint8_t proto, uint16_t id)
{
	memset(b, 0, IP_LEN);
	b[0] = 0x45;
	put16(b + 2, (uint16_t)total);
	put16(b + 4, id);	/* nonzero, so the kernel keeps it */
	b[8] = p->ttl;
	b[9] = proto;
	put32(b + 12, p->src);
	put32(b + 16, p->dst);
	put16(b + 10, (uint16_t)~fold(sum_words(0, b, IP_LEN)));
}

size_t
trace_pkt_build(const struct trace_probe *p, uint8_t *buf)
{
	uint8_t *t = buf + IP_LEN;
	size_t len;

	switch (p->method) {
	case TRACE_ICMP_PARIS:
		len = 8 + PAYLOAD_LEN;
		memset(t, 0, len);
		t[0] = 8;		/* echo request */
		put16(t + 4, p->flow);
		put16(t + 6, p->tag);
		put16(t + 8, p->check);
		force_checksum(t + 10, t + 2, sum_words(0, t, len),
		    p->flow_sum);
		ip_header(p, buf, IP_LEN + len, IPPROTO_ICMP, p->check);
		break;
	case TRACE_UDP_PARIS:
		len = 8 + PAYLOAD_LEN;
		memset(t, 0, len);
		put16(t, p->flow);
		put16(t + 2, p->dport);
		put16(t + 4, (uint16_t)len);
		force_checksum(t + 8, t + 6, sum_words(pseudo_sum(p,
		    IPPROTO_UDP, len), t, len), p->check);
		ip_header(p, buf, IP_LEN + len, IPPROTO_UDP, p->tag);
		break;
	default:
		len = 20;
		memset(t, 0, len);
		put16(t, p->flow);
		put16(t + 2, p->dport);
		put32(t + 4, (uint32_t)p->tag << 16 | p->check);
		t[12] = 5 << 4;		/* header length: no options */
		t[13] = 0x02;		/* SYN */
		put16(t + 14, 65535);	/* window */
		put16(t + 16, (uint16_t)~fold(sum_words(pseudo_sum(p,
		    IPPROTO_TCP, len), t, len)));
		ip_header(p, buf, IP_LEN + len, IPPROTO_TCP, p->tag);
		break;
	}
	return IP_LEN + len;
}

/* An ICMP error quoting one of our probes: inner is the quoted IP header. */
static int
parse_quote(enum trace_method m, uint16_t dport, const uint8_t *in,
    size_t len, struct trace_match *mt)
{
	size_t ihl;
	const uint8_t *q;

	if (len < IP_LEN || (in[0] >> 4) != 4)
		return 0;
	ihl = (size_t)(in[0] & 0x0f) * 4;
	if (ihl < IP_LEN || len < ihl + 8)
		return 0;
	q = in + ihl;
	mt->dst = get32(in + 16);
	switch (m) {
	case TRACE_ICMP_PARIS:
		if (in[9] != IPPROTO_ICMP || q[0] != 8 || q[1] != 0)
			return 0;
		mt->flow = get16(q + 4);
		mt->tag = get16(q + 6);
		mt->check = get16(in + 4);
		return 1;
	case TRACE_UDP_PARIS:
		if (in[9] != IPPROTO_UDP || get16(q + 2) != dport)
			return 0;
		mt->flow = get16(q);
		mt->tag = get16(in + 4);
		mt->check = get16(q + 6);
		return 1;
	default:
		if (in[9] != IPPROTO_TCP || get16(q + 2) != dport)
			return 0;
		mt->flow = get16(q);
		mt->tag = get16(q + 4);
		mt->check = get16(q + 6);
		return 1;
	}
}

static int
parse_icmp(enum trace_method m, uint16_t dport, const uint8_t *t,
    size_t len, struct trace_match *mt)
{
	if (len < 8)
		return 0;
	mt->icmp_type = t[0];
	mt->icmp_code = t[1];
	switch (t[0]) {
	case 0:		/* echo reply: the target itself */
		if (m != TRACE_ICMP_PARIS || len < 8 + 4)
			return 0;
		mt->dst = mt->from;
		mt->flow = get16(t + 4);
		mt->tag = get16(t + 6);
		mt->check = get16(t + 8);
		mt->from_target = 1;
		return 1;
	case 3:		/* destination unreachable */
	case 11:	/* time exceeded */
		if (!parse_quote(m, dport, t + 8, len - 8, mt))
			return 0;
		/* The target's own unreachable (UDP: port unreachable) is its
		   answer; a time exceeded from its address is only a router
		   that sources errors from it, on the way. */
		mt->from_target = mt->from == mt->dst && t[0] == 3;
		return 1;
	}
	return 0;
}

static int
parse_tcp(uint16_t dport, const uint8_t *t, size_t len,
    struct trace_match *mt)
{
	uint32_t seq;

	/* SYN-ACK or RST, acknowledging our SYN's sequence number + 1. */
	if (len < 20 || get16(t) != dport || !(t[13] & 0x10) ||
	    !(t[13] & 0x06))
		return 0;
	seq = get32(t + 8) - 1;
	mt->dst = mt->from;
	mt->flow = get16(t + 2);
	mt->tag = (uint16_t)(seq >> 16);
	mt->check = (uint16_t)seq;
	mt->tcp_flags = t[13];
	mt->is_tcp = 1;
	mt->from_target = 1;
	return 1;
}

int
trace_pkt_parse(enum trace_method m, uint16_t dport, const uint8_t *pkt,
    size_t len, struct trace_match *mt)
{
	size_t ihl, tot;

	memset(mt, 0, sizeof(*mt));
	if (len < IP_LEN || (pkt[0] >> 4) != 4)
		return 0;
	ihl = (size_t)(pkt[0] & 0x0f) * 4;
	tot = get16(pkt + 2);
	if (ihl < IP_LEN || len < ihl)
		return 0;
	if (tot >= ihl && tot < len)
		len = tot;	/* ignore link padding */
	mt->from = get32(pkt + 12);
	mt->reply_ttl = pkt[8];
	if (pkt[9] == IPPROTO_ICMP)
		return parse_icmp(m, dport, pkt + ihl, len - ihl, mt);
	if (pkt[9] == IPPROTO_TCP && m == TRACE_TCP_PARIS)
		return parse_tcp(dport, pkt + ihl, len - ihl, mt);
	return 0;
}

static const char *const method_names[] = {
	"icmp-paris", "udp-paris", "tcp-paris"
};

const char *
trace_method_name(enum trace_method m)
{
	return method_names[m];
}

int
trace_method_parse(const char *s, enum trace_method *m)
{
	size_t i;

	for (i = 0; i < sizeof(method_names) / sizeof(method_names[0]); i++)
		if (strcmp(s, method_names[i]) == 0) {
			*m = (enum trace_method)i;
			return 0;
		}
	return -1;
}

const char *
trace_stop_name(enum trace_stop s)
{
	static const char *const names[] = {
		"none", "completed", "unreach", "gaplimit", "maxhops", "loop",
		"error"
	};

	return names[s];
}
