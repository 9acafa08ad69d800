/* Unit tests for the ping engine without JSON: its state machine alone,
   without sockets; then the whole engine on loopback, with replies
   captured and sent again to play late, duplicate, altered and misaddressed
   replies.  That part needs CAP_NET_RAW (the suite runs as root) and skips
   otherwise. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/core.h"
#include "probe/probe.h"
#include "probe/ping.h"
#include "tap.h"

/* A loopback address of our own (127.77.x.y from the pid), so that other
   pingers of 127.0.0.1 running at the same time do not feed the spy. */
static uint32_t LOOP;

static int spy = -1;		/* a second raw socket: sees every reply */
static int ndone;
static struct ping_result last;
static uint32_t last_rtt[PING_MAX_COUNT];

static void
done(const struct ping_result *r, void *ctx)
{
	(void)ctx;
	last = *r;
	memcpy(last_rtt, r->rtt_us, r->sent * sizeof(*last_rtt));
	last.rtt_us = last_rtt;
	ndone++;
}

/* The ICMP part of the next echo reply the spy sees; its length. */
static size_t
capture(uint8_t *icmp, size_t size)
{
	uint8_t buf[512];
	struct pollfd p = { spy, POLLIN, 0 };
	ssize_t n;
	size_t ihl;

	while (poll(&p, 1, 1000) == 1 && (n = recv(spy, buf, sizeof(buf),
	    0)) > 0) {
		ihl = (size_t)(buf[0] & 15) * 4;
		if ((size_t)n > ihl + 8 && buf[ihl] == 0 &&
		    memcmp(buf + 12, &(uint32_t){ htonl(LOOP) }, 4) == 0 &&
		    (size_t)n - ihl <= size) {
			memcpy(icmp, buf + ihl, (size_t)n - ihl);
			return (size_t)n - ihl;
		}
	}
	return 0;
}

/* Send an echo reply to LOOP from address from: the kernel delivers
   it to every raw ICMP socket, the engine's among them. */
static void
inject(const uint8_t *icmp, size_t len, uint32_t from)
{
	struct sockaddr_in src = { .sin_family = AF_INET };
	struct sockaddr_in dst = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);

	src.sin_addr.s_addr = htonl(from);
	dst.sin_addr.s_addr = htonl(LOOP);
	if (fd < 0 || bind(fd, (struct sockaddr *)&src, sizeof(src)) != 0 ||
	    sendto(fd, icmp, len, 0, (struct sockaddr *)&dst,
	    sizeof(dst)) != (ssize_t)len)
		CHECK(0, "inject a reply");
	if (fd >= 0)
		close(fd);
}

static void
poll_until(struct ping_engine *e, int want_done, uint64_t want_recv)
{
	int i;

	for (i = 0; i < 200 && (ndone < want_done ||
	    ping_stats(e)->recv < want_recv); i++)
		ping_poll(e, -1, done, NULL);
}

/* 65536 targets through one slot later, the slot's generation is 65536:
   a 16-bit sequence would take the first target's reply for the new one's. */
static void
test_no_wrap(int fd)
{
	struct ping_conf c = { .method = PING_ICMP, .count = 1,
	    .timeout_ns = 300000000, .rate = 1e7, .window = 1, .fd = fd,
	    .kind = PROBE_ICMP_RAW };
	struct ping_engine *e = ping_new(&c);
	const struct ping_stats *st = ping_stats(e);
	uint8_t first[256];
	size_t len;
	int i, base;

	while (recv(spy, first, sizeof(first), MSG_DONTWAIT) > 0)
		;	/* the earlier tests' replies */
	ping_add(e, LOOP, NULL);
	base = ndone;
	poll_until(e, base + 1, 1);
	len = capture(first, sizeof(first));
	for (i = 0; i < 65535; i++) {
		ping_add(e, LOOP, NULL);
		poll_until(e, base + 2 + i, (uint64_t)i + 2);
	}
	CHECK(ndone == base + 65536 && st->recv == 65536 && st->late == 0,
	    "65536 targets through one slot (%d done, %lu replies)",
	    ndone - base, (unsigned long)st->recv);
	/* The first target's reply arrives just as the 65537th is probed. */
	ping_add(e, LOOP, NULL);
	inject(first, len, LOOP);
	poll_until(e, base + 65537, 65537);
	CHECK(st->late == 1 && st->recv == 65537 && last.recv == 1,
	    "generation 0's reply is late for generation 65536 (late %lu)",
	    (unsigned long)st->late);
	ping_free(e);
}

/* A bare state machine: count probes a target, a window of targets, 100 ms
   between probes, the timeout given. */
static void
machine_conf(struct ping_engine *e, unsigned count, unsigned retry,
    unsigned window, uint64_t timeout_ns)
{
	memset(e, 0, sizeof(*e));
	e->conf.count = count;
	e->conf.retry = retry;
	e->conf.window = window;
	e->conf.interval_ns = 100 * 1000000ull;
	e->conf.timeout_ns = timeout_ns;
}

/* The state machine (probe/ping.c) driven by hand: which slot is due,
   what a send, a reply, a duplicate, a late reply and a deadline do. */
static void
test_machine(void)
{
	struct ping_engine e;
	struct ping_probe p, q;
	struct ping_answer a = { 0, 60, 0 };
	struct ping_result r;
	const uint64_t ms = 1000000;

	machine_conf(&e, 2, 0, 2, 300 * ms);
	CHECK(ping_machine_init(&e) == 0 && ping_room(&e) &&
	    !ping_machine_due(&e, 0, &p), "machine: empty, nothing due");
	(void)ping_add(&e, 0x0a000001, NULL);
	(void)ping_add(&e, 0x0a000002, &e);
	CHECK(!ping_room(&e) && ping_active(&e) == 2 &&
	    ping_add(&e, 0x0a000003, NULL) == -1, "machine: the window is full");
	CHECK(ping_machine_due(&e, 0, &p) && p.tag.slot == 0 && p.tag.k == 0 &&
	    p.ip == 0x0a000001, "machine: the first target is due first");
	ping_machine_sent(&e, &p, 0, 0, 1000, 0);
	CHECK(ping_machine_due(&e, 0, &q) && q.tag.slot == 1,
	    "machine: then the second, new");
	ping_machine_sent(&e, &q, 1, 113, 1000, 0);
	CHECK(!ping_machine_due(&e, 99 * ms, &q) &&
	    ping_machine_resend_at(&e) == 100 * ms &&
	    ping_machine_due(&e, 100 * ms, &q) && q.tag.slot == 0 &&
	    q.tag.k == 1, "machine: the next probe waits for the interval");
	a.rx_ns = 1000 + 5000;
	CHECK(ping_machine_reply(&e, &p.tag, &a) == 0 &&
	    ping_machine_reply(&e, &p.tag, &a) == 0 && e.stats.recv == 1 &&
	    e.stats.dups == 1, "machine: a reply counts once, a copy is a dup");
	ping_machine_sent(&e, &q, 0, 0, 2000, 100 * ms);
	a.rx_ns = 2000 + 7000;
	CHECK(ping_machine_reply(&e, &q.tag, &a) == 1,
	    "machine: the last answer finishes the target");
	ping_machine_finish(&e, 0, &r);
	CHECK(r.ip == 0x0a000001 && r.sent == 2 && r.recv == 2 &&
	    r.rtt_us[0] == 5 && r.rtt_us[1] == 7 && r.reply_ttl == 60 &&
	    ping_room(&e), "machine: its result, and the slot is free");
	CHECK(ping_machine_reply(&e, &p.tag, &a) == 0 && e.stats.late == 1,
	    "machine: a reply after the target finished is late");
	(void)ping_machine_due(&e, 100 * ms, &q);
	ping_machine_sent(&e, &q, 0, 0, 3000, 100 * ms);
	CHECK(ping_machine_expired(&e, 399 * ms) == PING_NIL &&
	    ping_machine_expire_at(&e) == 400 * ms &&
	    ping_machine_expired(&e, 400 * ms) == 1,
	    "machine: a target with every probe sent waits for its timeout");
	ping_machine_finish(&e, 1, &r);
	CHECK(r.user == &e && r.probes == 2 && r.sent == 1 && r.recv == 0 &&
	    r.error == 113 && r.rtt_us[0] == PING_NO_RTT && r.reply_ttl == -1,
	    "machine: an unanswered target, its refused probe's errno kept");
	ping_machine_free(&e);
}

/* fping's retries: the first reply finishes the target, the retry still
   due is never sent. */
static void
test_retry(void)
{
	struct ping_engine e;
	struct ping_probe p, q;
	struct ping_answer a = { 0, 60, 0 };
	struct ping_result r;
	const uint64_t ms = 1000000;

	machine_conf(&e, 3, 1, 1, 100 * ms);
	CHECK(ping_machine_init(&e) == 0, "retry: init");
	(void)ping_add(&e, 0x0a000001, NULL);
	(void)ping_machine_due(&e, 0, &p);
	ping_machine_sent(&e, &p, 0, 0, 1000, 0);
	(void)ping_machine_due(&e, 100 * ms, &q);
	CHECK(q.tag.k == 1, "retry: unanswered, the retry is due");
	ping_machine_sent(&e, &q, 0, 0, 2000, 100 * ms);
	a.rx_ns = 2000 + 3000;
	CHECK(ping_machine_reply(&e, &q.tag, &a) == 1,
	    "retry: the first reply finishes the target");
	ping_machine_finish(&e, 0, &r);
	CHECK(r.probes == 2 && r.sent == 2 && r.recv == 1 &&
	    r.rtt_us[0] == PING_NO_RTT && r.rtt_us[1] == 3 &&
	    !ping_machine_due(&e, 300 * ms, &q) && ping_active(&e) == 0,
	    "retry: two probes, one answer, nothing more due");
	ping_machine_free(&e);
}

int
main(void)
{
	struct ping_conf c = { .method = PING_ICMP, .count = 2,
	    .interval_ns = 100000000, .timeout_ns = 300000000, .rate = 1000,
	    .window = 4 };
	const struct ping_stats *st;
	struct ping_engine *e;
	uint8_t icmp[256];
	size_t len;
	const char *why;

	test_machine();
	test_retry();
	LOOP = 0x7f4d0000u | ((uint32_t)getpid() & 0xfffe) | 2;
	c.fd = probe_open_icmp(1, &c.kind, &why);
	spy = socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
	if (c.fd < 0 || c.kind != PROBE_ICMP_RAW || spy < 0) {
		printf("# skip - no raw sockets here\n");
		return tap_failed ? 1 : 0;
	}
	e = ping_new(&c);
	st = ping_stats(e);
	CHECK(ping_room(e) && ping_active(e) == 0, "a new engine is empty");
	CHECK(ping_add(e, LOOP, &c) == 0 && ping_active(e) == 1, "add");

	/* First probe answered; a copy of its reply is a duplicate.  The
	   spy is the extra descriptor, so the engine returns as soon as the
	   reply is there rather than sleeping until the second probe. */
	ping_poll(e, spy, done, NULL);
	CHECK(st->recv == 1 && st->sent == 1 && ndone == 0,
	    "first of two probes answered, target still in flight");
	len = capture(icmp, sizeof(icmp));
	CHECK(len == 40, "the spy saw the 40-byte reply (%zu)", len);
	inject(icmp, len, LOOP);
	ping_poll(e, spy, done, NULL);
	CHECK(st->dups == 1 && st->recv == 1,
	    "a second copy is a duplicate (dups %lu recv %lu)",
	    (unsigned long)st->dups, (unsigned long)st->recv);

	/* The second probe after the interval; then the target is done. */
	poll_until(e, 1, 2);
	CHECK(ndone == 1 && last.sent == 2 && last.recv == 2 &&
	    last.user == &c && last.ip == LOOP, "both probes answered, done");
	CHECK(last.rtt_us[0] < 300000 && last.rtt_us[1] < 300000 &&
	    last.reply_ttl == 64, "RTTs and reply TTL recorded");
	CHECK(ping_active(e) == 0, "nothing in flight afterwards");

	/* The old reply again, now its target is gone: late, not counted. */
	inject(icmp, len, LOOP);
	ping_poll(e, -1, done, NULL);
	CHECK(st->late == 1 && st->recv == 2 && ndone == 1,
	    "a reply after the target finished is late");

	/* The same reply from another address fails the keyed check. */
	inject(icmp, len, LOOP + 1);
	ping_poll(e, -1, done, NULL);
	CHECK(st->strays == 1, "a reply from another address is a stray");

	/* An altered payload fails it too. */
	icmp[20] ^= 1;
	inject(icmp, len, LOOP);
	ping_poll(e, -1, done, NULL);
	CHECK(st->strays == 2 && st->late == 1, "an altered reply is a stray");

	/* A slot reused by the next target does not take the old replies. */
	icmp[20] ^= 1;
	CHECK(ping_add(e, LOOP, NULL) == 0, "add again");
	inject(icmp, len, LOOP);
	ping_poll(e, -1, done, NULL);
	CHECK(st->late == 2, "the old target's reply is late for the new");
	poll_until(e, 2, 4);
	CHECK(ndone == 2 && last.recv == 2 && last.user == NULL,
	    "the new target gets its own replies");

	/* The window bounds what is in flight. */
	CHECK(ping_add(e, LOOP, NULL) == 0 && ping_add(e, LOOP, NULL) == 0 &&
	    ping_add(e, LOOP, NULL) == 0 && ping_add(e, LOOP, NULL) == 0,
	    "fill the window");
	CHECK(!ping_room(e) && ping_add(e, LOOP, NULL) == -1,
	    "a full window refuses more");
	poll_until(e, 6, 12);
	CHECK(ndone == 6 && ping_active(e) == 0, "the window drains");
	ping_free(e);
	test_no_wrap(c.fd);
	close(c.fd);
	close(spy);
	return tap_failed ? 1 : 0;
}
