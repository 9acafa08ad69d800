/*
 * trace.h: the Paris traceroute engine behind tracehop.
 *
 * The engine owns sockets, timers, pacing and reply matching; it never
 * formats output.  A caller adds destinations, polls, and collects results
 * (the replies hop by hop and why the trace stopped), then renders them as
 * it likes.  Split as scamper splits a measurement: packets (trace/pkt.c),
 * sockets (trace/sock.c), the engine, a stack calling down only
 * (trace/loop.c: pacing, poll, send, receive and matching, above
 * trace/engine.c: slots and results, above trace/state.c: the per-trace
 * state machine; see trace/internal.h).
 */
#ifndef HOPMAP_TRACE_H
#define HOPMAP_TRACE_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

enum trace_method { TRACE_ICMP_PARIS, TRACE_UDP_PARIS, TRACE_TCP_PARIS };

enum trace_stop {
	TRACE_STOP_NONE,
	TRACE_STOP_COMPLETED,	/* the destination answered */
	TRACE_STOP_UNREACH,	/* a router said destination unreachable */
	TRACE_STOP_GAPLIMIT,	/* gap_limit silent hops in a row */
	TRACE_STOP_MAXHOPS,	/* max_ttl probed without an end */
	TRACE_STOP_LOOP,	/* a router appeared at two TTLs */
	TRACE_STOP_ERROR	/* could not send (no route in the vantage) */
};

const char *trace_method_name(enum trace_method m);
/* 0 and *m set, or -1 for an unknown name. */
int trace_method_parse(const char *s, enum trace_method *m);
const char *trace_stop_name(enum trace_stop s);

/* Limits the engine relies on. */
#define TRACE_MAX_TTL 255
#define TRACE_MAX_QUERIES 16
#define TRACE_MAX_ACTIVE 16384
#define TRACE_SLOW_START 128

struct trace_config {
	enum trace_method method;
	unsigned first_ttl, max_ttl;	/* 1 <= first <= max <= 255 */
	unsigned low_ttl;		/* the way back stops here (0: 1) */
	unsigned retries;		/* a silent hop whose router is known
					   to answer (a rate-limiter): probed
					   again this many times, paced,
					   before it counts as silent */
	unsigned queries;		/* probes per hop, 1..16 */
	unsigned gap_limit;		/* silent hops in a row that end it */
	unsigned window;		/* TTLs of one trace in flight at once */
	unsigned wait_ms;		/* how long a probe may take to answer */
	uint16_t dport;			/* UDP and TCP destination port */
	unsigned max_active;		/* traces probed at once (0: as
					   trace_in_flight says) */
	double rate;			/* probes per second, all traces */
	int dgram;			/* no CAP_NET_RAW: datagram sockets */
	int no_spread;			/* send the traces with work in turn,
					   not drawn at random (trace/sendq.c) */
	int slow_start;			/* with a stop set: start
					   TRACE_SLOW_START traces at once, one
					   more as each ends with no router
					   limiting, half as many (not below
					   that) each wait routers limit */
	/* After the forward part, probe back from the start TTL - 1 until a
	   router the set knows at that TTL, with the way home, answers; the
	   hops below are taken from the set (NULL: back to TTL 1).  Every
	   router a trace measures is put in it. */
	struct trace_stopset *stop_set;
};

/* One reply to one probe. */
struct trace_reply {
	uint32_t from;			/* host order */
	uint32_t rtt_us;
	uint8_t ttl, attempt;
	uint8_t icmp_type, icmp_code;	/* for ICMP replies */
	uint8_t reply_ttl;		/* the reply's IP TTL on arrival */
	uint8_t tcp_flags;		/* for a TCP reply from the target */
	uint8_t is_tcp;
};

struct trace_result {
	uint32_t dst, src;		/* host order */
	void *user;			/* what trace_engine_add was given */
	enum trace_stop stop;
	int error;			/* errno when stop is TRACE_STOP_ERROR */
	unsigned probes;		/* probes sent */
	unsigned first_ttl;		/* lowest hop in the list (backwards
					   too, and spliced from the stop set) */
	unsigned start_ttl;		/* where probing began */
	unsigned measured_ttl;		/* lowest hop probed */
	unsigned last_ttl;		/* last hop judged (0: none) */
	unsigned limited;		/* hops probed again (rate limiting) */
	uint8_t *retried;		/* [t]: how many times hop t was, for
					   t <= last_ttl (NULL: none) */
	uint32_t *spliced;		/* [t - first_ttl]: the hop at TTL t
					   taken from the stop set, for
					   first_ttl <= t < measured_ttl */
	size_t nreplies;
	struct trace_reply *replies;	/* by TTL, then by arrival */
};

void trace_result_free(struct trace_result *r);

/* Raw sockets: open them while privileged, then drop privilege. */
struct trace_sockets {
	int send_fd;	/* IPPROTO_RAW: we write whole IP headers */
	int icmp_fd;	/* raw ICMP: time exceeded, unreachable, echo reply */
	int tcp_fd;	/* raw TCP, for tcp-paris's SYN-ACK/RST; else -1 */
};
/* 0, or -1 with errno set and *why saying what failed. */
int trace_sockets_open(enum trace_method m, struct trace_sockets *s,
    const char **why);
void trace_sockets_close(struct trace_sockets *s);

struct trace_stats {
	uint64_t probes;	/* probes sent */
	uint64_t replies;	/* replies matched to a probe */
	uint64_t strays;	/* ICMP/TCP packets that matched nothing */
	uint64_t dups;		/* second replies to one probe */
	uint64_t started, done;	/* traces */
	uint64_t send_errors;
};

struct trace_engine;

/* How many traces to run at once when the caller did not say: enough that
   traces waiting out silent hops never hold the rate back (trace/state.c
   decides). */
unsigned trace_in_flight(const struct trace_config *cfg);

/* The sockets stay the caller's.  NULL with errno set on failure. */
struct trace_engine *trace_engine_new(const struct trace_config *cfg,
    const struct trace_sockets *s);
void trace_engine_free(struct trace_engine *e);
/* True when max_active traces are running (or finished, uncollected). */
int trace_engine_full(const struct trace_engine *e);
/* Traces running plus finished ones not yet collected. */
unsigned trace_engine_pending(const struct trace_engine *e);
/* Start tracing dst (host order) at TTL start (0: cfg's first_ttl); -1
   when full. */
int trace_engine_add(struct trace_engine *e, uint32_t dst, unsigned start,
    void *user);

/* The target's distance in hops from the TTL its reply arrived with
   (initial TTLs 64, 128 or 255), or 0 when it cannot be told (32 and 64
   overlap below 33) or is past max_ttl. */
unsigned trace_guess_ttl(unsigned reply_ttl, unsigned max_ttl);
/*
 * Send what the rate allows, read replies, expire waits.  Waits at most
 * timeout_ms (0: do not wait) and returns early when there are results or
 * extra_fd (if >= 0) is readable; returns 1 in that last case.
 */
int trace_engine_poll(struct trace_engine *e, int extra_fd, int timeout_ms);
/* The same, and returns early too when out_fd (if >= 0) has room to
   write: for a caller whose output waits in memory (hm_output_queue). */
int trace_engine_poll_out(struct trace_engine *e, int extra_fd, int out_fd,
    int timeout_ms);
/* A finished trace, or NULL; the caller frees it with trace_result_free. */
struct trace_result *trace_engine_result(struct trace_engine *e);
const struct trace_stats *trace_engine_stats(const struct trace_engine *e);

/* ---- trace/pkt.c: probes and the replies they provoke ---- */
/* What a probe carries: the flow (constant through a trace) and the tag
   and keyed check (different for each probe). */
struct trace_probe {
	enum trace_method method;
	uint32_t src, dst;		/* host order */
	uint8_t ttl;
	uint16_t flow;			/* ICMP id, or UDP/TCP source port */
	uint16_t dport;			/* UDP/TCP */
	uint16_t flow_sum;		/* ICMP: the constant checksum */
	uint16_t tag;			/* which probe: ttl << 8 | attempt */
	uint16_t check;			/* keyed check of tag, never 0/0xffff */
};
#define TRACE_PKT_MAX 64
/* Build the whole IP packet into buf (TRACE_PKT_MAX bytes); its length. */
size_t trace_pkt_build(const struct trace_probe *p, uint8_t *buf);

/* What a received packet says about the probe it answers. */
struct trace_match {
	uint32_t dst;		/* the probe's destination */
	uint16_t flow, tag, check;
	uint32_t from;		/* the reply's source */
	uint8_t reply_ttl, icmp_type, icmp_code, tcp_flags, is_tcp;
	uint8_t from_target;	/* a direct answer from the destination */
};
/* Parse an IP packet from the raw ICMP or TCP socket.  1 when it answers
   a probe of method m (fields in *mt), 0 when it is someone else's. */
int trace_pkt_parse(enum trace_method m, uint16_t dport, const uint8_t *pkt,
    size_t len, struct trace_match *mt);


/* ---- trace/stopset.c: the stop set: routers known, and the way to them ---- */
struct trace_stopset;
/* A way home goes through a router once this many traces measured the link
   into it: a per-flow load balancer's other branch shows up in one of them
   (two ways: missed 1 time in 32; the MDA's first step). */
#define TRACE_STOPSET_SETTLE 6
struct trace_stopset *trace_stopset_new(void);
void trace_stopset_free(struct trace_stopset *s);
int trace_stopset_has(const struct trace_stopset *s, uint32_t ip);
/* Known, at no TTL: never a stop. */
void trace_stopset_add(struct trace_stopset *s, uint32_t ip);
/* ip answered at ttl, pred (0: not known) one hop before it, on one trace.
   What is known already stays; a missing TTL or predecessor is filled. */
void trace_stopset_put(struct trace_stopset *s, uint32_t ip, unsigned ttl,
    uint32_t pred);
/* 1 when ip is known at ttl with the whole way home: way[t] is then the
   hop at TTL t (0: a silent one), for t = 1 .. ttl - 1.  0 otherwise (way
   partly written). */
int trace_stopset_chain(const struct trace_stopset *s, uint32_t ip,
    unsigned ttl, uint32_t *way);
/* The settle count (TRACE_STOPSET_SETTLE unless set). */
void trace_stopset_settle(struct trace_stopset *s, unsigned n);
unsigned trace_stopset_settle_count(const struct trace_stopset *s);
/* The router seen at ttl just before a target in dst's /24 (the first
   one seen), or 0. */
uint32_t trace_stopset_last(struct trace_stopset *s, uint32_t dst,
    unsigned ttl);
void trace_stopset_set_last(struct trace_stopset *s, uint32_t dst,
    uint32_t ip, unsigned ttl);
/* Traces to dst's /24 under way, one more (delta 1) or one fewer (-1). */
unsigned trace_stopset_walkers(struct trace_stopset *s, uint32_t dst);
void trace_stopset_walk(struct trace_stopset *s, uint32_t dst, int delta);
/* Traces going on down below ip at ttl, the way home not settled there
   yet: one more (delta 1) or one fewer (-1). */
void trace_stopset_below(struct trace_stopset *s, uint32_t ip, unsigned ttl,
    int delta);
/* 1 when ip is known at ttl and enough traces are going on below it to
   settle its way in (those already measured, plus those under way, reach
   the settle count): another trace may wait for them. */
int trace_stopset_settling(const struct trace_stopset *s, uint32_t ip,
    unsigned ttl);
/* 1 when ip is known at ttl, not a join, and no link into it was
   inferred across a silent hop. */
int trace_stopset_clear_in(const struct trace_stopset *s, uint32_t ip,
    unsigned ttl);
/* 1 when ip is known at ttl, the router before it not yet (another trace
   may be finding it out now); dark_below: it never will, that hop was
   silent. */
int trace_stopset_pending(const struct trace_stopset *s, uint32_t ip,
    unsigned ttl);
void trace_stopset_dark_below(struct trace_stopset *s, uint32_t ip,
    unsigned ttl, uint32_t pred2);
/* The router known before ip at ttl (not at a join), or 0. */
uint32_t trace_stopset_pred(const struct trace_stopset *s, uint32_t ip,
    unsigned ttl);
/* Rate limiting: ip answered before and kept silent now to a probe meant
   for it: book probes (1 or more) sent again towards it, at *at, its next
   free time or now_ms; 0, or -1 (nothing booked) when ip is not known or
   that is more than bound_ms away.  due: its next free time (0: it is not
   limiting); sent: a probe not booked left towards it (it takes its
   place); answered: it answered one. */
int trace_stopset_book(struct trace_stopset *s, uint32_t ip, uint64_t now_ms,
    uint64_t bound_ms, unsigned probes, uint64_t *at);
uint64_t trace_stopset_due(const struct trace_stopset *s, uint32_t ip);
/* How many silences of limiting routers were noticed (book calls). */
uint64_t trace_stopset_silences(const struct trace_stopset *s);
void trace_stopset_sent(struct trace_stopset *s, uint32_t ip,
    uint64_t now_ms);
void trace_stopset_answered(struct trace_stopset *s, uint32_t ip);
int trace_stopset_limited(const struct trace_stopset *s, uint32_t ip);
/* 1 when ip is known at ttl and a link from pred to it is no news: pred is
   its predecessor, or that is not known yet, or ip is where paths join. */
int trace_stopset_agrees(const struct trace_stopset *s, uint32_t ip,
    unsigned ttl, uint32_t pred);
size_t trace_stopset_count(const struct trace_stopset *s);
/* The file's lines last seen more than max_age_s before now_s (0: the
   run's start) are forgotten as they are read; max_age_s 0: none. */
void trace_stopset_aging(struct trace_stopset *s, uint64_t max_age_s,
    uint64_t now_s);
/* How many lines were forgotten so (at the load and the merge). */
size_t trace_stopset_forgotten(const struct trace_stopset *s);
/* Read a file of addresses (a missing file is an empty set); 0 or -1. */
int trace_stopset_load(struct trace_stopset *s, const char *path);
/* Write it back if it changed, atomically; 0 or -1 with errno. */
int trace_stopset_save(struct trace_stopset *s, const char *path);
/* The file's lines from fp, name in the messages (NULL: none): bad lines
   are said (name:line: why) and skipped; their number, or -1 on a read
   error. */
int trace_stopset_read(struct trace_stopset *s, FILE *fp, const char *name);
/* Every entry as a line of the file; 0 or -1. */
int trace_stopset_write(const struct trace_stopset *s, FILE *fp);
/* The same through a descriptor open for reading and writing (opened
   before privilege was dropped): read under flock(LOCK_SH); if it changed
   (or had bad lines), merged with the file's lines and rewritten in place
   under LOCK_EX and synced.  0, or -1 with errno. */
int trace_stopset_load_fd(struct trace_stopset *s, int fd, const char *name);
int trace_stopset_save_fd(struct trace_stopset *s, int fd);

/* ---- trace/dgram.c: the unprivileged path, one socket per trace ---- */
/* A datagram socket (UDP, or ICMP where ping_group_range allows) connected
   to dst, reporting errors (IP_RECVERR); sets our address and the flow the
   kernel chose.  -1 with errno set. */
int trace_dgram_open(enum trace_method m, uint32_t dst, uint16_t dport,
    uint32_t *src, uint16_t *flow);
/* Send probe p (its ttl, tag and check) on fd.  0, or -1 with errno. */
int trace_dgram_send(int fd, const struct trace_probe *p);
/* Read one message (error queue first): 1 when it answers a probe of the
   trace to dst (fields in *mt, *rx_us the arrival time or 0), 0 when it is
   nothing of ours, -1 when nothing is left to read. */
int trace_dgram_read(int fd, enum trace_method m, uint32_t dst,
    struct trace_match *mt, uint64_t *rx_us);

#endif
