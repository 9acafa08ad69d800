/* Unit tests for the Paris traceroute packets (lib/trace/pkt.c): the flow
   stays constant, checksums stay valid, and replies parse back to the probe
   they answer; strays and truncations do not.  And for one trace's state
   machine (lib/trace/state.c), driven alone by events, without sockets. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "probe/probe.h"
#include "tap.h"
#include "trace/trace.h"
#include "trace/internal.h"

static struct trace_probe
probe(enum trace_method m, uint16_t tag)
{
	struct trace_probe p;

	memset(&p, 0, sizeof(p));
	p.method = m;
	p.src = 0xc6120001;	/* 198.18.0.1 */
	p.dst = 0xc6130309;	/* 198.19.3.9 */
	p.ttl = (uint8_t)(tag >> 8);
	p.flow = 40001;
	p.dport = 33435;
	p.flow_sum = 0x1234;
	p.tag = tag;
	p.check = (uint16_t)(0x7000 + tag);
	return p;
}

/* The transport checksum with its pseudo-header, 0 when valid. */
static uint16_t
l4_sum(const uint8_t *pkt, size_t len)
{
	uint8_t ph[12];

	memcpy(ph, pkt + 12, 8);
	ph[8] = 0;
	ph[9] = pkt[9];
	ph[10] = (uint8_t)((len - 20) >> 8);
	ph[11] = (uint8_t)(len - 20);
	return probe_cksum_fold(probe_cksum_add(probe_cksum_add(0, ph, 12),
	    pkt + 20, len - 20));
}

/* A router's time exceeded quoting the first 28 bytes of pkt. */
static size_t
time_exceeded(const uint8_t *pkt, uint8_t *out)
{
	memset(out, 0, 28);
	out[0] = 0x45;
	out[3] = 56;
	out[8] = 63;
	out[9] = 1;
	out[12] = 198, out[13] = 18, out[14] = 0, out[15] = 2;
	memcpy(out + 16, pkt + 12, 4);
	out[20] = 11;
	memcpy(out + 28, pkt, 28);
	return 56;
}

static void
test_method(enum trace_method m, const char *name)
{
	uint8_t a[TRACE_PKT_MAX], b[TRACE_PKT_MAX], te[128];
	struct trace_probe pa = probe(m, 0x0300), pb = probe(m, 0x0901);
	size_t la = trace_pkt_build(&pa, a), lb = trace_pkt_build(&pb, b);
	struct trace_match mt;

	CHECK(la == lb, "%s: probes of one trace have one length", name);
	CHECK(memcmp(a + 9, b + 9, 1) == 0 && memcmp(a + 12, b + 12, 8) == 0 &&
	    memcmp(a + 20, b + 20, 4) == 0,
	    "%s: protocol, addresses and first 4 transport bytes constant", name);
	CHECK(a[8] == 3 && b[8] == 9, "%s: TTL set", name);
	CHECK(probe_cksum(a, 20) == 0 && probe_cksum(b, 20) == 0,
	    "%s: IP header checksums valid", name);
	if (m == TRACE_ICMP_PARIS) {
		CHECK(probe_cksum(a + 20, la - 20) == 0 &&
		    probe_cksum(b + 20, lb - 20) == 0,
		    "%s: ICMP checksums valid", name);
		CHECK(a[22] == 0x12 && a[23] == 0x34,
		    "%s: the checksum is the trace's constant", name);
	} else {
		CHECK(l4_sum(a, la) == 0 && l4_sum(b, lb) == 0,
		    "%s: transport checksums valid", name);
	}
	if (m == TRACE_UDP_PARIS)
		CHECK(b[26] == 0x79 && b[27] == 0x01,
		    "%s: the UDP checksum carries the check", name);

	time_exceeded(b, te);
	CHECK(trace_pkt_parse(m, 33435, te, 56, &mt) == 1 &&
	    mt.flow == 40001 && mt.tag == 0x0901 && mt.check == 0x7901 &&
	    mt.dst == 0xc6130309 && mt.from == 0xc6120002 &&
	    mt.icmp_type == 11 && mt.reply_ttl == 63 && !mt.from_target,
	    "%s: a time exceeded parses back to its probe", name);
	CHECK(trace_pkt_parse(m, 33435, te, 55, &mt) == 0,
	    "%s: a quote shorter than 8 transport bytes is refused", name);
	CHECK(trace_pkt_parse(m == TRACE_ICMP_PARIS ? TRACE_UDP_PARIS :
	    TRACE_ICMP_PARIS, 33435, te, 56, &mt) == 0,
	    "%s: another method's quote is refused", name);
	te[16] = 198, te[17] = 19, te[18] = 3, te[19] = 9;
	te[12] = 198, te[13] = 19, te[14] = 3, te[15] = 9;
	CHECK(trace_pkt_parse(m, 33435, te, 56, &mt) == 1 && !mt.from_target,
	    "%s: a time exceeded from the target's address is a hop", name);
	te[20] = 3;
	te[21] = 3;
	CHECK(trace_pkt_parse(m, 33435, te, 56, &mt) == 1 && mt.from_target &&
	    mt.icmp_type == 3 && mt.icmp_code == 3,
	    "%s: an unreachable from the target itself is its answer", name);
}

static void
test_replies(void)
{
	uint8_t pkt[TRACE_PKT_MAX], r[TRACE_PKT_MAX];
	struct trace_probe p = probe(TRACE_ICMP_PARIS, 0x0400);
	size_t len = trace_pkt_build(&p, pkt);
	struct trace_match mt;

	/* The echo reply: addresses swapped, type 0, the rest echoed. */
	memcpy(r, pkt, len);
	memcpy(r + 12, pkt + 16, 4);
	memcpy(r + 16, pkt + 12, 4);
	r[20] = 0;
	CHECK(trace_pkt_parse(TRACE_ICMP_PARIS, 0, r, len, &mt) == 1 &&
	    mt.from_target && mt.dst == p.dst && mt.tag == 0x0400 &&
	    mt.check == 0x7400 && mt.flow == 40001,
	    "icmp-paris: the echo reply carries flow, tag and check");
	r[20] = 8;
	CHECK(trace_pkt_parse(TRACE_ICMP_PARIS, 0, r, len, &mt) == 0,
	    "an echo request (our own, on loopback) is not a reply");

	p = probe(TRACE_TCP_PARIS, 0x0600);
	p.dport = 80;
	len = trace_pkt_build(&p, pkt);
	memcpy(r, pkt, len);
	memcpy(r + 12, pkt + 16, 4);
	memcpy(r + 16, pkt + 12, 4);
	r[20] = pkt[22], r[21] = pkt[23];	/* ports swapped */
	r[22] = pkt[20], r[23] = pkt[21];
	r[28] = pkt[24], r[29] = pkt[25], r[30] = pkt[26];
	r[31] = (uint8_t)(pkt[27] + 1);		/* ack = seq + 1 */
	r[33] = 0x14;				/* RST|ACK */
	CHECK(trace_pkt_parse(TRACE_TCP_PARIS, 80, r, len, &mt) == 1 &&
	    mt.is_tcp && mt.tcp_flags == 0x14 && mt.tag == 0x0600 &&
	    mt.check == 0x7600 && mt.flow == 40001 && mt.dst == p.dst,
	    "tcp-paris: a RST acknowledging seq + 1 matches");
	r[33] = 0x02;
	CHECK(trace_pkt_parse(TRACE_TCP_PARIS, 80, r, len, &mt) == 0,
	    "tcp-paris: a bare SYN is not a reply");
	CHECK(trace_pkt_parse(TRACE_TCP_PARIS, 80, r, 19, &mt) == 0,
	    "a packet shorter than an IP header is refused");
}

static void
test_names(void)
{
	enum trace_method m;

	CHECK(trace_method_parse("udp-paris", &m) == 0 &&
	    m == TRACE_UDP_PARIS && trace_method_parse("udp", &m) == -1,
	    "method names parse");
	CHECK(strcmp(trace_stop_name(TRACE_STOP_GAPLIMIT), "gaplimit") == 0 &&
	    strcmp(trace_method_name(TRACE_TCP_PARIS), "tcp-paris") == 0,
	    "stop and method names print");
}

/* ---- the state machine, driven by hand ---- */

#define DST 0xc6130309u			/* 198.19.3.9 */
#define ROUTER(n) (0xc6120000u + (n))	/* 198.18.0.n */
#define OTHER24(k, n) (0xc6130000u + ((k) << 8) + (n))	/* 198.19.k.n */

static struct trace_config
machine_config(void)
{
	struct trace_config c;

	memset(&c, 0, sizeof(c));
	c.method = TRACE_ICMP_PARIS;
	c.first_ttl = 1;
	c.max_ttl = 30;
	c.queries = 1;
	c.gap_limit = 3;
	c.window = 1;
	c.wait_ms = 1000;
	return c;
}

/* One answer to the probe at ttl of the trace to dst: a router's time
   exceeded, or (from == dst) the target's own. */
static struct trace_action
answer(struct trace_machine *m, const struct trace_config *c, uint32_t dst,
    unsigned ttl, uint32_t from, uint64_t now)
{
	struct trace_match mt;

	memset(&mt, 0, sizeof(mt));
	mt.dst = dst;
	mt.tag = (uint16_t)(ttl << 8);
	mt.from = from;
	mt.from_target = from == dst;
	mt.icmp_type = from == dst ? 0 : 11;
	return trace_machine_reply(m, c, &mt, now * 1000 + 500, now);
}

/* The same for the trace to DST. */
static struct trace_action
reply(struct trace_machine *m, const struct trace_config *c, unsigned ttl,
    uint32_t from, uint64_t now)
{
	return answer(m, c, DST, ttl, from, now);
}

static int
is_send(struct trace_action a, unsigned ttl)
{
	return a.what == TRACE_SEND && a.ttl == ttl;
}

static void
test_machine_classic(void)
{
	struct trace_config c = machine_config();
	struct trace_machine m;
	struct trace_action a;
	unsigned ttl;
	int ok = 1;

	CHECK(trace_machine_init(&m, &c) == 0, "machine: init");
	a = trace_machine_start(&m, &c, DST, 0, 0);
	CHECK(is_send(a, 1), "machine: a new trace sends TTL 1 first");
	for (ttl = 1; ttl <= 3 && ok; ttl++) {
		a = trace_machine_sent(&m, &c, ttl, ttl * 1000, ttl);
		ok = a.what == TRACE_WAIT &&
		    trace_machine_fits(&m, &c, (uint16_t)(ttl << 8)) ==
		    TRACE_FIT_NEW;
		a = reply(&m, &c, ttl, ttl < 3 ? ROUTER(ttl) : DST, ttl);
		ok = ok && a.judged == ttl &&
		    (ttl < 3 ? is_send(a, ttl + 1) : a.what == TRACE_OVER);
	}
	CHECK(ok, "machine: each hop waits for its reply, is judged, the "
	    "next TTL follows");
	CHECK(a.what == TRACE_OVER && a.stop == TRACE_STOP_COMPLETED &&
	    m.stop == TRACE_STOP_COMPLETED && m.last_ttl == 3 &&
	    m.probes == 3 && m.nrep == 3 && m.rep[2].from == DST &&
	    m.rep[2].rtt_us == 500,
	    "machine: the target's answer completes the trace at TTL 3");
	CHECK(trace_machine_fits(&m, &c, 0x0300) == TRACE_FIT_STRAY &&
	    trace_machine_fits(&m, &c, 0x0400) == TRACE_FIT_STRAY,
	    "machine: replies to judged or unsent hops are strays");
	trace_machine_free(&m);
}

static void
test_machine_gap(void)
{
	struct trace_config c = machine_config();
	struct trace_machine m;
	struct trace_action a;
	uint64_t now = 0;
	unsigned ttl;
	int ok = 1;

	(void)trace_machine_init(&m, &c);
	(void)trace_machine_start(&m, &c, DST, 0, now);
	(void)trace_machine_sent(&m, &c, 1, 0, now);
	a = reply(&m, &c, 1, ROUTER(1), now);
	(void)trace_machine_sent(&m, &c, 2, 0, now);
	a = reply(&m, &c, 2, ROUTER(2), now);
	CHECK(trace_machine_fits(&m, &c, 0x0200) == TRACE_FIT_STRAY,
	    "machine: a second answer to a judged hop is late");
	(void)trace_machine_sent(&m, &c, 3, 0, now);
	a = trace_machine_tick(&m, &c, now + 999);
	CHECK(a.what == TRACE_WAIT && a.judged == 0,
	    "machine: a silent hop is not judged before its wait is over");
	a = trace_machine_tick(&m, &c, now += 1000);
	CHECK(is_send(a, 4) && a.judged == 3 && m.gap == 1,
	    "machine: a silent hop is judged when its wait is over");
	for (ttl = 4; ttl <= 5 && ok; ttl++) {
		(void)trace_machine_sent(&m, &c, ttl, 0, now);
		a = trace_machine_tick(&m, &c, now += 1000);
		ok = ttl < 5 ? is_send(a, ttl + 1) : a.what == TRACE_OVER;
	}
	CHECK(ok && a.stop == TRACE_STOP_GAPLIMIT && m.last_ttl == 5 &&
	    m.probes == 5 && m.nrep == 2,
	    "machine: gap_limit (3) silent hops in a row end the trace");
	trace_machine_free(&m);

	/* An answer between silent hops starts the count again. */
	(void)trace_machine_init(&m, &c);
	now = 0;
	(void)trace_machine_start(&m, &c, DST, 0, now);
	for (ttl = 1; ttl <= 5; ttl++) {
		(void)trace_machine_sent(&m, &c, ttl, 0, now);
		a = ttl == 3 ? reply(&m, &c, ttl, ROUTER(ttl), now) :
		    trace_machine_tick(&m, &c, now += 1000);
	}
	CHECK(is_send(a, 6) && m.gap == 2,
	    "machine: an answering hop resets the gap count");
	trace_machine_free(&m);
}

static void
test_in_flight(void)
{
	struct trace_config c = machine_config();

	c.rate = 100;
	CHECK(trace_in_flight(&c) == 100,
	    "in flight: rate 100, wait 1 s: 100 traces");
	c.rate = 100000;
	CHECK(trace_in_flight(&c) == TRACE_MAX_ACTIVE,
	    "in flight: rate 100000 is not throttled to 64 (the most, 16384)");
	c.rate = 10000;
	c.wait_ms = 300;
	CHECK(trace_in_flight(&c) == 3000,
	    "in flight: rate 10000, wait 300 ms: 3000 traces");
	c.window = 4;
	CHECK(trace_in_flight(&c) == 750,
	    "in flight: a window of 4 TTLs needs a quarter of them");
	c.rate = 1;
	c.wait_ms = 10;
	CHECK(trace_in_flight(&c) == 1, "in flight: at least one");
	c.rate = 7;
	c.wait_ms = 1000;
	c.window = 2;
	CHECK(trace_in_flight(&c) == 4, "in flight: rounded up");
}

static void
test_machine_stopset(void)
{
	struct trace_config c = machine_config();
	struct trace_machine m;
	struct trace_action a;

	c.first_ttl = 3;
	c.stop_set = trace_stopset_new();
	trace_stopset_settle(c.stop_set, 1);
	trace_stopset_put(c.stop_set, ROUTER(1), 1, 0);
	trace_stopset_put(c.stop_set, ROUTER(2), 2, ROUTER(1));
	(void)trace_machine_init(&m, &c);
	a = trace_machine_start(&m, &c, DST, 0, 0);
	CHECK(is_send(a, 3), "stop set: the trace starts at first_ttl");
	(void)trace_machine_sent(&m, &c, 3, 0, 0);
	a = reply(&m, &c, 3, ROUTER(3), 0);
	(void)trace_machine_sent(&m, &c, 4, 0, 0);
	a = reply(&m, &c, 4, DST, 0);
	CHECK(is_send(a, 2) && a.judged == 4 && m.back,
	    "stop set: once the forward part ends, TTL first_ttl - 1 is next");
	(void)trace_machine_sent(&m, &c, 2, 0, 0);
	CHECK(trace_machine_fits(&m, &c, 0x0300) == TRACE_FIT_STRAY &&
	    trace_machine_fits(&m, &c, 0x0200) == TRACE_FIT_NEW,
	    "stop set: backwards, only the hop probed fits");
	a = reply(&m, &c, 2, ROUTER(2), 0);
	CHECK(a.what == TRACE_OVER && a.stop == TRACE_STOP_COMPLETED &&
	    m.low_ttl == 2 && m.last_ttl == 4 && m.probes == 3 &&
	    m.home == 1 && m.way[1] == ROUTER(1),
	    "stop set: a known router ends the way back, with the forward "
	    "part's reason, and the way home from the set");
	CHECK(trace_stopset_has(c.stop_set, ROUTER(3)) &&
	    !trace_stopset_has(c.stop_set, DST),
	    "stop set: the routers measured are added, the target is not");

	/* An unknown router: on to TTL 1, which is added. */
	trace_stopset_free(c.stop_set);
	c.stop_set = trace_stopset_new();
	trace_stopset_add(c.stop_set, ROUTER(7));
	a = trace_machine_start(&m, &c, DST, 0, 0);
	(void)trace_machine_sent(&m, &c, 3, 0, 0);
	(void)reply(&m, &c, 3, DST, 0);
	(void)trace_machine_sent(&m, &c, 2, 0, 0);
	a = reply(&m, &c, 2, ROUTER(7), 0);
	CHECK(is_send(a, 1) && trace_stopset_has(c.stop_set, ROUTER(7)),
	    "stop set: a router known at no TTL (an old file's line) is no "
	    "stop: the way back goes on");
	(void)trace_machine_sent(&m, &c, 1, 0, 0);
	a = trace_machine_tick(&m, &c, 1000);
	CHECK(a.what == TRACE_OVER && a.stop == TRACE_STOP_COMPLETED &&
	    m.low_ttl == 1,
	    "stop set: TTL 1 is as far back as it goes");
	CHECK(trace_machine_fail(&m, &c, 101).stop == TRACE_STOP_ERROR &&
	    m.error == 101, "machine: a failed send is over, with its errno");
	trace_machine_free(&m);
	trace_stopset_free(c.stop_set);
}


/* ---- discovery: the machine on a simulated path ---- */

/* A path: path[t] answers at TTL t (0: silent), the target at dist. */
struct net {
	uint32_t path[32];
	unsigned dist;
	unsigned drop_ttl, drop_n;	/* the first drop_n probes at
					   drop_ttl are not answered */
};

/* Drive a trace to dst over net from start until it is over (replies come
   at once, silences after the wait); its probes. */
static unsigned
drive(struct trace_machine *m, const struct trace_config *c,
    struct net *n, uint32_t dst, unsigned start)
{
	struct trace_action a = trace_machine_start(m, c, dst, start, 0);
	uint64_t now = 0;
	unsigned guard = 0;

	while (a.what != TRACE_OVER && guard++ < 200) {
		struct trace_match mt;
		unsigned ttl = a.ttl;

		if (a.what == TRACE_WAIT) {
			a = trace_machine_tick(m, c, now += c->wait_ms);
			continue;
		}
		(void)trace_machine_sent(m, c, ttl, now * 1000, now);
		memset(&mt, 0, sizeof(mt));
		mt.dst = dst;
		mt.tag = (uint16_t)(ttl << 8);
		if (ttl >= n->dist) {
			mt.from = dst;
			mt.from_target = 1;
		} else if ((mt.from = n->path[ttl]) != 0 &&
		    !(ttl == n->drop_ttl && n->drop_n > 0 && n->drop_n--)) {
			mt.icmp_type = 11;
		} else {
			a = trace_machine_tick(m, c, now += c->wait_ms);
			continue;
		}
		a = trace_machine_reply(m, c, &mt, now * 1000 + 100, now);
	}
	return m->probes;
}

/* The hop list the result would carry: "a b * dst", spliced hops
   upper-case S before them. */
static const char *
hoplist(const struct trace_machine *m)
{
	static char buf[512];
	size_t len = 0;
	unsigned t, lo = m->home > 0 ? 1 : m->low_ttl;

	buf[0] = '\0';
	for (t = lo; t <= m->last_ttl; t++) {
		uint32_t a = 0;
		size_t i;
		int sp = t <= m->home;

		if (sp)
			a = m->way[t];
		for (i = 0; i < m->nrep && !sp; i++)
			if (m->rep[i].ttl == t)
				a = m->rep[i].from;
		if (a == 0)
			len += (size_t)snprintf(buf + len, sizeof(buf) - len,
			    "%s%s*", t > lo ? " " : "", sp ? "S" : "");
		else
			len += (size_t)snprintf(buf + len, sizeof(buf) - len,
			    "%s%s%u", t > lo ? " " : "", sp ? "S" : "",
			    a & 0xff);
	}
	return buf;
}

static void
test_guess(void)
{
	CHECK(trace_guess_ttl(61, 30) == 4 && trace_guess_ttl(64, 30) == 1 &&
	    trace_guess_ttl(33, 64) == 32,
	    "guess: initial TTL 64 (61 on arrival: 4 hops out)");
	CHECK(trace_guess_ttl(120, 30) == 9 && trace_guess_ttl(65, 64) == 64,
	    "guess: initial TTL 128");
	CHECK(trace_guess_ttl(250, 30) == 6 && trace_guess_ttl(129, 255) == 127,
	    "guess: initial TTL 255");
	CHECK(trace_guess_ttl(32, 30) == 0 && trace_guess_ttl(20, 30) == 0 &&
	    trace_guess_ttl(0, 30) == 0,
	    "guess: 32 and below tell nothing (32 or 64 initial)");
	CHECK(trace_guess_ttl(40, 20) == 0,
	    "guess: past max_ttl, none");
}

static void
test_machine_guessed(void)
{
	struct trace_config c = machine_config();
	struct trace_machine m;
	struct net n = { { 0, ROUTER(1), ROUTER(2), 0, ROUTER(4) }, 6, 0, 0 };
	char classic[512];
	unsigned p, start;
	int ok = 1;

	(void)trace_machine_init(&m, &c);
	p = drive(&m, &c, &n, ROUTER(201), 0);
	snprintf(classic, sizeof(classic), "%s", hoplist(&m));
	/* 6 probes: a classic trace, TTL 1 to 6. */
	CHECK(strcmp(classic, "1 2 * 4 * 201") == 0 && p == 6 &&
	    m.stop == TRACE_STOP_COMPLETED,
	    "guess: the classic hop list (%s), %u probes", classic, p);
	for (start = 1; start <= 9 && ok; start++) {
		p = drive(&m, &c, &n, ROUTER(201), start);
		ok = strcmp(hoplist(&m), classic) == 0 &&
		    m.stop == TRACE_STOP_COMPLETED &&
		    p == (start > 6 ? start : 6);
		if (!ok)
			printf("# start %u: %s, %u probes, stop %d\n", start,
			    hoplist(&m), p, m.stop);
	}
	CHECK(ok, "guess: too short, exact or too long, the same hop list; "
	    "too long costs one probe a TTL past the target, nothing else");
	trace_machine_free(&m);
}

static void
test_machine_splice(void)
{
	struct trace_config c = machine_config();
	struct trace_machine m;
	struct net a = { { 0, ROUTER(1), ROUTER(2), ROUTER(3) }, 4, 0, 0 };
	struct net b = { { 0, ROUTER(1), ROUTER(12), ROUTER(3) }, 4, 0, 0 };
	struct net longer = { { 0, ROUTER(1), ROUTER(12), ROUTER(13),
	    ROUTER(3) }, 5, 0, 0 };
	struct net gap = { { 0, ROUTER(1), 0, ROUTER(23), ROUTER(24) }, 5, 0,
	    0 };
	unsigned p;

	c.stop_set = trace_stopset_new();
	trace_stopset_settle(c.stop_set, 1);
	(void)trace_machine_init(&m, &c);
	p = drive(&m, &c, &a, ROUTER(101), 4);
	CHECK(p == 4 && strcmp(hoplist(&m), "1 2 3 101") == 0 &&
	    m.home == 0, "splice: the first trace probes all the way home");
	p = drive(&m, &c, &a, ROUTER(102), 4);
	CHECK(p == 2 && strcmp(hoplist(&m), "S1 S2 3 102") == 0 &&
	    m.low_ttl == 3 && m.home == 2,
	    "splice: the next one to that prefix, 2 probes: the target and "
	    "the hop below it, the router its /24 was reached through at "
	    "that TTL; the way home from the set (%s, %u)", hoplist(&m), p);
	/* Not caught: a route that changed below an unchanged last router
	   (here to the other branch of a diamond): the way home is the
	   set's, real links, another flow's. */
	p = drive(&m, &c, &b, ROUTER(116), 4);
	CHECK(p == 2 && strcmp(hoplist(&m), "S1 S2 3 116") == 0,
	    "splice: a change below the last router is not caught: the way "
	    "home from the set, real links (%s, %u)", hoplist(&m), p);
	p = drive(&m, &c, &a, ROUTER(103), 0);
	CHECK(p == 4 && strcmp(hoplist(&m), "1 2 3 103") == 0,
	    "splice: no guess, no way back: classic");
	/* Behind a diamond: the other branch joins the first at r3.  The
	   link r12-r3 is news (r3 came from r2 before): no stop there, the
	   trace follows its own branch, and r3 is a join from now on (its
	   way home still the first branch's, settled: real links). */
	p = drive(&m, &c, &b, OTHER24(1, 104), 4);
	CHECK(p == 4 && strcmp(hoplist(&m), "1 12 3 104") == 0,
	    "splice: behind a diamond, a new link below a known router: no "
	    "stop, the trace's own branch (%s, %u)", hoplist(&m), p);
	p = drive(&m, &c, &b, OTHER24(2, 105), 4);
	CHECK(p == 3 && strcmp(hoplist(&m), "S1 12 3 105") == 0,
	    "splice: below the join, each branch stops on its own (%s, %u)",
	    hoplist(&m), p);
	p = drive(&m, &c, &a, OTHER24(3, 106), 4);
	CHECK(p == 3 && strcmp(hoplist(&m), "S1 2 3 106") == 0,
	    "splice: ... the first branch too: every hop list one flow's, "
	    "every link one some trace measured (%s, %u)", hoplist(&m), p);
	/* r3 at TTL 4 on a longer branch: the set knows it at 3, no stop. */
	p = drive(&m, &c, &longer, ROUTER(107), 5);
	CHECK(p == 4 && strcmp(hoplist(&m), "S1 12 13 3 107") == 0,
	    "splice: a router known at another TTL is no stop (%s, %u)",
	    hoplist(&m), p);
	/* The route to a known prefix changes: the last hops are measured
	   (the target, the hop below), the new router's link is news, and
	   the trace stops only below it. */
	{
		struct net moved = { { 0, ROUTER(1), ROUTER(2), ROUTER(33) },
		    4, 0, 0 };

		p = drive(&m, &c, &moved, ROUTER(108), 4);
		CHECK(p == 3 && strcmp(hoplist(&m), "S1 2 33 108") == 0,
		    "splice: a changed route is caught: its new hops measured "
		    "(%s, %u)", hoplist(&m), p);
	}
	/* The /24 reached through its last router at another TTL: no stop
	   there either. */
	p = drive(&m, &c, &longer, ROUTER(115), 5);
	CHECK(p == 4 && strcmp(hoplist(&m), "S1 12 13 3 115") == 0,
	    "splice: the last router at another TTL is caught (%s, %u)",
	    hoplist(&m), p);
	/* The last router is a join now (two branches into it): no stop
	   there, each trace measures its own branch below it. */
	p = drive(&m, &c, &b, ROUTER(117), 4);
	CHECK(p == 3 && strcmp(hoplist(&m), "S1 12 3 117") == 0,
	    "splice: the last router a join: the trace's own branch below it "
	    "(%s, %u)", hoplist(&m), p);
	/* Settling: a way home goes through a router only once that many
	   traces measured the link into it (a second branch shows up). */
	trace_stopset_free(c.stop_set);
	c.stop_set = trace_stopset_new();
	trace_stopset_settle(c.stop_set, 3);
	{
		unsigned k, probes[5];

		for (k = 0; k < 5; k++)
			probes[k] = drive(&m, &c, &a, ROUTER(110 + k), 4);
		CHECK(probes[0] == 4 && probes[1] == 4 && probes[2] == 4 &&
		    probes[3] == 2 && probes[4] == 2 &&
		    strcmp(hoplist(&m), "S1 S2 3 114") == 0,
		    "splice: settle 3: three traces measure the way in, then "
		    "the way home is taken (%u %u %u %u %u)", probes[0],
		    probes[1], probes[2], probes[3], probes[4]);
	}
	trace_stopset_settle(c.stop_set, 1);
	/* A silent hop below a router: no way home through it. */
	p = drive(&m, &c, &gap, ROUTER(108), 5);
	CHECK(p == 5 && strcmp(hoplist(&m), "1 * 23 24 108") == 0,
	    "splice: the first trace past a silent hop");
	p = drive(&m, &c, &gap, ROUTER(109), 5);
	CHECK(p == 3 && strcmp(hoplist(&m), "S1 S* 23 24 109") == 0 &&
	    m.home == 2,
	    "splice: a silent hop on the way home: the way goes past it, the "
	    "hop null, and the router before it (%s, %u)", hoplist(&m), p);
	/* A silent hop just below a /24's last router (rate limiting, then
	   answers): its way in settled across a silence is no stop there;
	   the hop below is probed, in case it hides a second way in. */
	{
		struct net dark = { { 0, ROUTER(1), ROUTER(2), 0, ROUTER(44) },
		    5, 0, 0 };
		struct net lit = { { 0, ROUTER(1), ROUTER(2), ROUTER(33),
		    ROUTER(44) }, 5, 0, 0 };

		(void)drive(&m, &c, &dark, OTHER24(4, 1), 5);
		(void)drive(&m, &c, &lit, OTHER24(4, 2), 5);
		p = drive(&m, &c, &lit, OTHER24(4, 3), 5);
		CHECK(p == 3 && strcmp(hoplist(&m), "S1 S2 33 44 3") == 0,
		    "splice: a last router settled across a silent hop: the "
		    "hop below it probed (%s, %u)", hoplist(&m), p);
	}
	trace_machine_free(&m);
	trace_stopset_free(c.stop_set);
}

/*
 * Traces that start together: two /24s behind r3, whose way in is known
 * but not settled (settle 2, one link measured).  The first trace goes on
 * below r3 and says so; the second, there while it does, waits for it
 * rather than probe r2 again, and stops at r3 once the first has settled
 * it.  The wait is one wait at most.
 */
static void
test_machine_settling(void)
{
	struct trace_config c = machine_config();
	struct trace_machine ma, mb;
	struct trace_action a;
	uint32_t da = OTHER24(1, 9), db = OTHER24(2, 9);
	int k;

	for (k = 0; k < 2; k++) {
		c.stop_set = trace_stopset_new();
		trace_stopset_settle(c.stop_set, 2);
		trace_stopset_put(c.stop_set, ROUTER(1), 1, 0);
		trace_stopset_put(c.stop_set, ROUTER(2), 2, ROUTER(1));
		trace_stopset_put(c.stop_set, ROUTER(3), 3, ROUTER(2));
		/* r2 settled, r3 not: one link into it measured. */
		trace_stopset_put(c.stop_set, ROUTER(2), 2, ROUTER(1));
		(void)trace_machine_init(&ma, &c);
		(void)trace_machine_init(&mb, &c);
		/* a: the target at 5, r41 at 4, r3 at 3: not settled, on. */
		(void)trace_machine_start(&ma, &c, da, 5, 0);
		(void)trace_machine_sent(&ma, &c, 5, 0, 0);
		(void)answer(&ma, &c, da, 5, da, 0);
		(void)trace_machine_sent(&ma, &c, 4, 0, 0);
		(void)answer(&ma, &c, da, 4, ROUTER(41), 0);
		(void)trace_machine_sent(&ma, &c, 3, 0, 0);
		a = answer(&ma, &c, da, 3, ROUTER(3), 0);
		CHECK(is_send(a, 2) && trace_stopset_settling(c.stop_set,
		    ROUTER(3), 3), "settling: the first trace goes on below an "
		    "unsettled router, and says so");
		(void)trace_machine_sent(&ma, &c, 2, 0, 0);
		/* b meets r3 while a is below it. */
		(void)trace_machine_start(&mb, &c, db, 5, 10);
		(void)trace_machine_sent(&mb, &c, 5, 0, 10);
		(void)answer(&mb, &c, db, 5, db, 10);
		(void)trace_machine_sent(&mb, &c, 4, 0, 10);
		(void)answer(&mb, &c, db, 4, ROUTER(42), 10);
		(void)trace_machine_sent(&mb, &c, 3, 0, 10);
		a = answer(&mb, &c, db, 3, ROUTER(3), 10);
		CHECK(a.what == TRACE_WAIT && mb.probes == 3,
		    "settling: the next trace there waits for it");
		if (k == 0) {
			/* a measures r2: r3 settled; a stops at r2, b at r3. */
			a = answer(&ma, &c, da, 2, ROUTER(2), 20);
			CHECK(a.what == TRACE_OVER && ma.probes == 4 &&
			    !trace_stopset_settling(c.stop_set, ROUTER(3), 3),
			    "settling: the first trace ends, no longer below");
			a = trace_machine_tick(&mb, &c, 100);
			CHECK(a.what == TRACE_OVER && mb.probes == 3 &&
			    mb.home == 2 && mb.way[2] == ROUTER(2),
			    "settling: ... and the one waiting stops at r3 "
			    "with the way home, 3 probes, not 4");
		} else {
			/* a's probe is lost: b waits one wait, then on. */
			a = trace_machine_tick(&mb, &c, 10 + c.wait_ms / 2);
			CHECK(a.what == TRACE_WAIT, "settling: still waiting "
			    "within the wait");
			a = trace_machine_tick(&mb, &c, 10 + c.wait_ms);
			CHECK(is_send(a, 2), "settling: one wait at most, "
			    "then the trace goes on itself");
		}
		trace_machine_free(&ma);
		trace_machine_free(&mb);
		trace_stopset_free(c.stop_set);
	}
}

/* The stop set's file: lines of three, of one, and bad ones skipped. */
static void
test_stopset_file(void)
{
	char path[] = "/tmp/hopmap-stopset.XXXXXX";
	struct trace_stopset *s = trace_stopset_new();
	uint32_t way[8];
	FILE *fp;
	int fd = mkstemp(path);

	if (fd < 0 || (fp = fdopen(fd, "w")) == NULL) {
		CHECK(0, "stop set file: a temporary file");
		return;
	}
	fputs("# comment\n198.18.0.2 1 -\n198.18.0.3 2 198.18.0.2\n"
	    "198.18.0.4 3 198.18.0.3\n198.18.0.9 4 198.18.0.33 join\n198.18.0.7\n"
	    "198.18.0.8 0 -\n198.18.0.5 2 nonsense\n198.18.0.6 2 1.2.3.4 x\n"
	    "not-an-address\n\n", fp);
	fclose(fp);
	CHECK(trace_stopset_load(s, path) == 0 &&
	    trace_stopset_count(s) == 5,
	    "stop set file: good lines read, bad ones skipped (with a warning)");
	CHECK(trace_stopset_chain(s, ROUTER(4), 3, way) && way[1] == ROUTER(2) &&
	    way[2] == ROUTER(3) && !trace_stopset_chain(s, ROUTER(7), 1, way),
	    "stop set file: the way home read back; an address alone is known "
	    "at no TTL");
	CHECK(trace_stopset_agrees(s, ROUTER(9), 4, ROUTER(33)) &&
	    !trace_stopset_chain(s, ROUTER(9), 4, way),
	    "stop set file: a join agrees with any link");
	trace_stopset_put(s, ROUTER(10), 4, ROUTER(4));
	CHECK(trace_stopset_save(s, path) == 0, "stop set file: saved");
	trace_stopset_free(s);
	s = trace_stopset_new();
	CHECK(trace_stopset_load(s, path) == 0 && trace_stopset_count(s) == 6 &&
	    trace_stopset_chain(s, ROUTER(10), 4, way) && way[3] == ROUTER(4) &&
	    trace_stopset_agrees(s, ROUTER(9), 4, ROUTER(1)),
	    "stop set file: what is saved reads back the same");
	trace_stopset_free(s);
	unlink(path);
}

/* Stale knowledge and torn files: a line older than the age is forgotten
   and the link into it with it; a line cut short, or naming no router, is
   skipped (0.0.0.0 with a join crashed the reader once). */
static void
test_stopset_file_aging(void)
{
	static char text[] =
	    "198.18.0.1 1 - 1000\n"
	    "198.18.0.2 2 198.18.0.1 100000\n"
	    "198.18.0.3 3 198.18.0.2 100000\n"
	    "198.18.0.9 3 198.18.0.2 join\n"
	    "0.0.0.0 2 1.2.3.4 join\n"
	    "255.255.255.255 2 - 5\n"
	    "198.18.0.5 4 198.18.0.3 1000";
	struct trace_stopset *s = trace_stopset_new();
	FILE *fp = fmemopen(text, strlen(text), "r");
	char *out = NULL;
	size_t len = 0;
	int bad;

	trace_stopset_aging(s, 86400, 100010);
	bad = trace_stopset_read(s, fp, NULL);
	fclose(fp);
	CHECK(bad == 3 && trace_stopset_count(s) == 3 &&
	    trace_stopset_forgotten(s) == 1 && !trace_stopset_has(s, ROUTER(1)),
	    "stop set aging: the old line forgotten, the bad and the cut "
	    "one skipped (%d bad, %zu read)", bad, trace_stopset_count(s));
	CHECK(trace_stopset_pred(s, ROUTER(2), 2) == 0 &&
	    trace_stopset_pred(s, ROUTER(3), 3) == ROUTER(2),
	    "stop set aging: a router whose predecessor was forgotten has no "
	    "way home; the others keep theirs");
	/* Seen again at its TTL: young again; at another TTL: not. */
	trace_stopset_put(s, ROUTER(2), 2, ROUTER(7));
	trace_stopset_put(s, ROUTER(3), 4, ROUTER(2));
	fp = open_memstream(&out, &len);
	CHECK(trace_stopset_write(s, fp) == 0 && fclose(fp) == 0 &&
	    strstr(out, "198.18.0.2 2 198.18.0.7 100010\n") != NULL &&
	    strstr(out, "198.18.0.3 3 198.18.0.2 100000\n") != NULL &&
	    strstr(out, "198.18.0.9 3 198.18.0.2 join 100010\n") != NULL,
	    "stop set aging: a router seen again is stamped, one seen at "
	    "another TTL keeps its time (and ages out)");
	free(out);
	/* Fuzzing found it: a TTL 1 line with a predecessor, read twice (the
	   load, then the merge at the save), gained one, and was written so. */
	trace_stopset_put(s, ROUTER(1), 1, ROUTER(5));
	trace_stopset_put(s, ROUTER(1), 1, ROUTER(5));
	CHECK(trace_stopset_pred(s, ROUTER(1), 1) == 0,
	    "stop set file: nothing before the first hop, however often read");
	trace_stopset_free(s);
}

static void
test_machine_rate_limit(void)
{
	struct trace_config c = machine_config();
	struct trace_machine m;
	struct net a = { { 0, ROUTER(1), ROUTER(2), ROUTER(3), ROUTER(4) }, 5,
	    0, 0 };
	struct net silent = { { 0, ROUTER(1), 0, ROUTER(3) }, 4, 0, 0 };
	unsigned p, p0;

	c.retries = 3;
	c.stop_set = trace_stopset_new();
	trace_stopset_settle(c.stop_set, 1);
	(void)trace_machine_init(&m, &c);
	p = drive(&m, &c, &a, ROUTER(201), 5);
	CHECK(p == 5 && strcmp(hoplist(&m), "1 2 3 4 201") == 0,
	    "rate limit: a first trace learns the /24's last router");
	/* r3 answered before: its silence now is rate limiting (a trace to
	   another /24 behind r4, which probes r3). */
	a.drop_ttl = 3;
	a.drop_n = 1;
	p = drive(&m, &c, &a, OTHER24(1, 202), 5);
	CHECK(strcmp(hoplist(&m), "S1 S2 3 4 202") == 0 && m.hops[3].retries == 1 &&
	    trace_stopset_limited(c.stop_set, ROUTER(3)) && p == 4,
	    "rate limit: a known router silent is probed again, not a gap "
	    "(%s, %u probes, %u retries)", hoplist(&m), p, m.hops[3].retries);
	/* Limiting, and its link to r4 settled: not waited for again (a
	   third /24 behind r4, which probes r3). */
	a.drop_ttl = 3;
	a.drop_n = 5;
	p = drive(&m, &c, &a, OTHER24(2, 205), 5);
	CHECK(strcmp(hoplist(&m), "S1 S2 S3 4 205") == 0 && p == 3 &&
	    m.hops[3].retries == 0,
	    "rate limit: a limiting router whose link is settled: silent, not "
	    "probed again, the way home from the stop set (%s, %u probes)",
	    hoplist(&m), p);
	a.drop_n = 0;
	/* The /24's last router silent: probed again, then it is limiting;
	   the next trace takes the route from the stop set at once. */
	a.drop_ttl = 4;
	a.drop_n = 1;
	p = drive(&m, &c, &a, ROUTER(203), 5);
	CHECK(strcmp(hoplist(&m), "S1 S2 S3 4 203") == 0 &&
	    m.hops[4].retries == 1,
	    "rate limit: below the target too, by the /24's last router (%s)",
	    hoplist(&m));
	p = drive(&m, &c, &a, ROUTER(204), 5);
	CHECK(p == 1 && strcmp(hoplist(&m), "S1 S2 S3 S4 204") == 0,
	    "rate limit: then the /24's route from the stop set, one probe "
	    "(%s, %u)", hoplist(&m), p);
	/* A router that never answered is no rate-limiter: no retry. */
	c.retries = 0;
	p0 = drive(&m, &c, &silent, ROUTER(210), 0);
	c.retries = 3;
	p = drive(&m, &c, &silent, ROUTER(211), 0);
	CHECK(p == p0 && m.hops[2].retries == 0,
	    "rate limit: a silent router costs what it did (%u, %u probes)",
	    p, p0);
	trace_machine_free(&m);
	trace_stopset_free(c.stop_set);
}

/*
 * Several traces retry at one rate-limiting router.  The net: r1, a silent
 * router at TTL 2, r3 that answers one probe a second (a token bucket of
 * one, as Linux's after its burst), r4, the target at 5.  A first trace
 * learns the way; then K traces to K /24s, in step (10 ms ticks), all
 * back from the target and all silent at r3 at once: each retry is booked
 * its own time on r3's schedule, none more than two waits ahead, those
 * that would be are refused (the trace goes on); the silent hop at TTL 2
 * is never retried; every trace ends within a bound.
 */
#define BOOK_K 6
static void
test_machine_booking(void)
{
	struct trace_config c = machine_config();
	struct trace_machine m[BOOK_K];
	struct trace_action a[BOOK_K];
	struct net n = { { 0, ROUTER(1), 0, ROUTER(3), ROUTER(4) }, 5, 0, 0 };
	uint64_t booked[BOOK_K * 8], r3_next = 0, now, end = 0;
	unsigned nb = 0, i, j, k, retries[BOOK_K], refused = 0, answered = 0;
	int distinct = 1, bounded = 1, retried2 = 0;

	c.retries = 3;
	c.stop_set = trace_stopset_new();
	trace_stopset_settle(c.stop_set, 255);	/* never a way home */
	(void)trace_machine_init(&m[0], &c);
	(void)drive(&m[0], &c, &n, ROUTER(200), 5);
	trace_machine_free(&m[0]);
	r3_next = 1000;		/* that trace had r3's answer at 0 */
	for (k = 0; k < BOOK_K; k++) {
		(void)trace_machine_init(&m[k], &c);
		a[k] = trace_machine_start(&m[k], &c,
		    DST + ((k + 1) << 8), 5, 0);
		retries[k] = 0;
	}
	for (now = 0; now < 30000; now += 10) {
		int live = 0;

		for (k = 0; k < BOOK_K; k++) {
			struct trace_match mt;
			unsigned ttl = a[k].ttl;

			if (a[k].what == TRACE_OVER)
				continue;
			live = 1;
			if (a[k].what == TRACE_WAIT) {
				a[k] = trace_machine_tick(&m[k], &c, now);
				goto seen;
			}
			a[k] = trace_machine_sent(&m[k], &c, ttl, now * 1000,
			    now);
			memset(&mt, 0, sizeof(mt));
			mt.dst = m[k].dst;
			mt.tag = (uint16_t)(ttl << 8 | (m[k].hops[ttl].sent - 1));
			mt.from = ttl >= n.dist ? mt.dst : n.path[ttl];
			mt.from_target = ttl >= n.dist;
			mt.icmp_type = ttl >= n.dist ? 0 : 11;
			if (mt.from == 0)
				continue;
			if (mt.from == ROUTER(3)) {
				if (now < r3_next)
					continue;
				r3_next = now + 1000;
				answered++;
			}
			a[k] = trace_machine_reply(&m[k], &c, &mt,
			    now * 1000 + 100, now);
seen:
			if (m[k].back && m[k].bttl == 3 &&
			    m[k].hops[3].retries > retries[k]) {
				retries[k] = m[k].hops[3].retries;
				if (m[k].hops[3].ready_ms > now + 2 * c.wait_ms)
					bounded = 0;
				if (nb < BOOK_K * 8)
					booked[nb++] = m[k].hops[3].ready_ms;
			}
			if (m[k].back && m[k].bttl == 2 &&
			    m[k].hops[2].retries > 0)
				retried2 = 1;
		}
		if (!live)
			break;
		end = now;
	}
	for (i = 0; i < nb; i++)
		for (j = i + 1; j < nb; j++)
			if (booked[i] == booked[j])
				distinct = 0;
	for (k = 0; k < BOOK_K; k++)
		if (retries[k] < c.retries && m[k].hops[3].answered == 0)
			refused++;
	CHECK(nb >= BOOK_K && distinct && bounded,
	    "booking: traces retrying at one router get distinct booked "
	    "times, none more than two waits ahead (%u bookings)", nb);
	CHECK(refused > 0 && answered >= 2,
	    "booking: past that a retry is refused, the hop given up (%u "
	    "refused, %u answered by r3)", refused, answered);
	CHECK(!retried2, "booking: the silent router's hop is never retried");
	CHECK(end < 10000, "booking: every trace over within 10 s (%llu ms)",
	    (unsigned long long)end);
	for (k = 0; k < BOOK_K; k++)
		trace_machine_free(&m[k]);
	trace_stopset_free(c.stop_set);
}

/* Slow start: with a stop set and no -n, TRACE_SLOW_START traces at
   first, not the thousands the rate allows; -n (slow_start 0) gets all.
   No probe leaves: the traces (to 127/8, whose route is always there)
   are added, never polled (sockets -1). */
static void
test_slow_start(void)
{
	struct trace_config c = machine_config();
	struct trace_sockets none = { -1, -1, -1 };
	struct trace_engine *e;
	unsigned n[2], k;

	c.rate = 10000;
	c.stop_set = trace_stopset_new();
	for (k = 0; k < 2; k++) {
		c.slow_start = k == 0;
		c.max_active = 0;
		if ((e = trace_engine_new(&c, &none)) == NULL) {
			CHECK(0, "slow start: an engine");
			break;
		}
		for (n[k] = 0; n[k] < 1000 && !trace_engine_full(e); n[k]++)
			(void)trace_engine_add(e, 0x7f000001u + n[k], 0, NULL);
		trace_engine_free(e);
	}
	CHECK(n[0] == TRACE_SLOW_START && n[1] == 1000,
	    "slow start: %u traces at first (%u without it)", n[0], n[1]);
	trace_stopset_free(c.stop_set);
}

/* The longest run of draws of one /24 (slots 0..63: A, 64..127: B), over
   rounds rounds, every trace queued again once drawn. */
static unsigned
sendq_run(int spread, unsigned rounds, unsigned *fair)
{
	static struct trace tr[128];
	struct trace_sendq q;
	unsigned i, run = 0, longest = 0, got[128];
	int last = -1;

	memset(got, 0, sizeof(got));
	(void)trace_sendq_init(&q, 128, spread, 42);
	for (i = 0; i < 128; i++)
		(void)trace_sendq_push(&q, &tr[i]);
	for (i = 0; i < 128 * rounds; i++) {
		struct trace *t = trace_sendq_pop(&q);
		int which = t - tr >= 64;

		got[t - tr]++;
		run = which == last ? run + 1 : 1;
		last = which;
		if (run > longest)
			longest = run;
		(void)trace_sendq_push(&q, t);
	}
	*fair = 1;
	for (i = 0; i < 128; i++)
		if (got[i] != rounds)
			*fair = 0;
	trace_sendq_free(&q);
	return longest;
}

static void
test_sendq(void)
{
	struct trace tr[3];
	struct trace_sendq q;
	unsigned fifo, spread, fair_fifo, fair_spread;

	(void)trace_sendq_init(&q, 3, 0, 0);
	(void)trace_sendq_push(&q, &tr[0]);
	(void)trace_sendq_push(&q, &tr[1]);
	(void)trace_sendq_push_front(&q, &tr[2]);
	CHECK(trace_sendq_push(&q, &tr[0]) == -1 &&
	    trace_sendq_pop(&q) == &tr[2] && trace_sendq_pop(&q) == &tr[0] &&
	    trace_sendq_pop(&q) == &tr[1] && trace_sendq_pop(&q) == NULL,
	    "send queue: --no-spread is in turn, a trace put back first");
	trace_sendq_free(&q);
	fifo = sendq_run(0, 4, &fair_fifo);
	spread = sendq_run(1, 4, &fair_spread);
	/* 64 in a row in turn: a /24's traces one after the other.  Drawn,
	   a coin's runs: 64 in a row is 2^-63 a try; 16 is 1 in a few
	   hundred runs of 512. */
	CHECK(fifo == 64 && spread < 16,
	    "send queue: spread, no /24's traces in a burst (longest run "
	    "%u, in turn %u)", spread, fifo);
	CHECK(fair_fifo && fair_spread,
	    "send queue: spread, every trace once a round, as in turn");
}

int
main(void)
{
	test_method(TRACE_ICMP_PARIS, "icmp-paris");
	test_method(TRACE_UDP_PARIS, "udp-paris");
	test_method(TRACE_TCP_PARIS, "tcp-paris");
	test_replies();
	test_names();
	test_machine_classic();
	test_machine_gap();
	test_machine_stopset();
	test_in_flight();
	test_guess();
	test_machine_guessed();
	test_machine_splice();
	test_machine_settling();
	test_stopset_file();
	test_stopset_file_aging();
	test_machine_rate_limit();
	test_machine_booking();
	test_slow_start();
	test_sendq();
	return tap_failed != 0;
}
