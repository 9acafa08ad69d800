/*
 * probe.h: what the probing programs (icmpprobe, tracehop) share: privilege
 * handling with libcap, opening raw or datagram ICMP sockets, the internet
 * checksum, a keyed hash for the checks probes carry, a token bucket for
 * --rate, monotonic time, and writing a record with a probe result appended.
 *
 * Only probe/priv.c calls libcap, so programs that never call probe_priv_*
 * link without -lcap (the archive pulls in only the objects used).
 */
#ifndef HOPMAP_PROBE_H
#define HOPMAP_PROBE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

/* ---- probe/priv.c: CAP_NET_RAW and nothing else ---- */
/* Who a root start runs as once its sockets are open, without --user. */
#define PROBE_DEFAULT_USER "nobody"
/*
 * Call first, before opening anything.  Lowers the capability sets to
 * CAP_NET_RAW alone (plus CAP_SETUID and CAP_SETGID when started as root,
 * for probe_priv_drop's switch), and makes CAP_NET_RAW effective when it
 * is permitted (started as root, setuid root, or a file capability
 * cap_net_raw+p).  A setuid or setgid start returns to the real user and
 * group here, keeping CAP_NET_RAW alone.  Returns 1 when raw sockets can
 * be opened, 0 when not (the caller may fall back to datagram sockets).
 * Exits HM_EXIT_FAIL if the sets or ids cannot be changed.
 */
int probe_priv_begin(void);
/*
 * Call once the sockets (and the input files, hm_input_preopen) are open.
 * Started as root, switch to user, or to PROBE_DEFAULT_USER when NULL, and
 * its primary group (checked setgroups, setgid, setuid; root is refused);
 * not started as root, a user is an error.  Then clear every capability
 * and set no_new_privs, so nothing can be regained by exec either.  Exits
 * HM_EXIT_FAIL when a step fails: running on with more privilege than
 * asked is worse than not running.
 */
void probe_priv_drop(const char *user);
/* True when not started by root: the limits ping and fping give ordinary
   users apply (PROBE_USER_*). */
int probe_priv_limited(void);
/* fping's floors for non-root users: 1 ms between any two probes (so at
   most 1000 a second), 10 ms between probes to one target. */
#define PROBE_USER_MAX_RATE 1000
#define PROBE_USER_MIN_INTERVAL_MS 10
/* The default UDP destination port of icmpprobe and tracehop alike:
   traceroute's base port, unlikely to be open. */
#define PROBE_UDP_PORT 33434

/* ---- probe/sock.c: sockets ---- */
enum probe_icmp_kind { PROBE_ICMP_RAW = 1, PROBE_ICMP_DGRAM = 2 };
/*
 * An ICMP socket to send echo requests and receive echo replies: raw when
 * try_raw (the caller holds CAP_NET_RAW), else the unprivileged ICMP
 * datagram socket ("ping socket") that net.ipv4.ping_group_range allows.
 * Non-blocking, close-on-exec, with a large receive buffer; a raw socket is
 * filtered to echo replies and destination unreachables, a datagram one
 * reports the reply TTL (IP_RECVTTL).
 * Returns the descriptor and sets *kind; -1 with a message for the user in
 * *why when neither works.
 */
int probe_open_icmp(int try_raw, enum probe_icmp_kind *kind,
    const char **why);
/* A raw socket for protocol proto (IPPROTO_TCP, ...), set up like the
   above (large buffers, kernel receive time stamps); -1 with errno set. */
int probe_open_raw(int proto);
/* A UDP socket that reports ICMP errors to its probes (IP_RECVERR): an
   unprivileged way to hear "port unreachable".  -1 with errno set. */
int probe_open_udp(void);
/* The source address the kernel would use towards dst (host order), by a
   connect() on a UDP socket: no packet is sent.  0 on success. */
int probe_source_addr(uint32_t dst, uint32_t *src);
/* Why ip must not be probed (hm_target_refused, or the broadcast address
   of a subnet of ours, from the interfaces at the first call); NULL if it
   may be. */
const char *probe_target_refused(uint32_t ip);
/* The reply TTL (-1 if absent) and the kernel's receive time (*rx_ns left
   alone when there is none) from a received message's ancillary data. */
struct msghdr;
int probe_cmsg_read(struct msghdr *mh, uint64_t *rx_ns);

/* ---- probe/util.c: checksum, keyed hash, pacing, time ---- */
/* The internet checksum (RFC 1071) of len bytes; the result is in network
   byte order, ready to store. */
uint16_t probe_cksum(const void *buf, size_t len);
/* The same in pieces: add, then fold and complement. */
uint32_t probe_cksum_add(uint32_t sum, const void *buf, size_t len);
uint16_t probe_cksum_fold(uint32_t sum);

/* SipHash-2-4 with a per-run random key (from getrandom). */
struct probe_key {
	uint64_t k0, k1;
};
void probe_key_init(struct probe_key *k);
uint64_t probe_siphash(const struct probe_key *k, const void *buf,
    size_t len);

/* A token bucket: rate tokens a second, at most burst banked. */
struct probe_bucket {
	double rate, burst, tokens;
	uint64_t last_ns;
};
void probe_bucket_init(struct probe_bucket *b, double rate, double burst,
    uint64_t now_ns);
/* Take one token if there is one: 1 if taken, 0 if not. */
int probe_bucket_take(struct probe_bucket *b, uint64_t now_ns);
/* Nanoseconds until a token will be there (0 if one is). */
uint64_t probe_bucket_wait(const struct probe_bucket *b, uint64_t now_ns);

/* CLOCK_MONOTONIC in nanoseconds: for timers. */
uint64_t probe_now_ns(void);
/* CLOCK_REALTIME in nanoseconds: the clock of the kernel's receive time
   stamps (SO_TIMESTAMPNS), so RTTs are measured against it. */
uint64_t probe_wall_ns(void);

/* ---- probe/json.c: a result's numbers as text (hm_json_splice writes
   the result into the record) ---- */
/* Append a number with at most three decimals ("%.3f" without trailing
   zeros) to buf at *pos, within size. */
void probe_json_ms(char *buf, size_t size, size_t *pos, double ms);

/* ---- probe/ping*.c: the icmpprobe engine (sockets, timers, matching) ---- */
/*
 * Many targets on one socket.  A target takes a slot of a fixed window for
 * as long as it is in flight; each probe names its slot, the slot's
 * generation and the probe's number, with a keyed check over these, the
 * destination and the send time.  A reply is counted only when the check
 * holds for the address it came from and the slot still holds the same
 * generation, so replies from elsewhere, forged ones, duplicates and late
 * ones (the slot has moved on) are told apart, however many millions of
 * targets go through: nothing wraps at 65536 as a 16-bit sequence would.
 */
enum ping_method { PING_ICMP, PING_TCP, PING_UDP };
struct ping_result;
typedef void ping_done_fn(const struct ping_result *r, void *ctx);
/* Called before the engine waits a millisecond or more (to flush output),
   and when out_fd has room. */
typedef void ping_idle_fn(void *ctx);
/* The descriptor the caller's output waits to write to, -1 if none: the
   engine waits for it too (POLLOUT), so that it keeps reading replies
   while the reader after it is slow. */
typedef int ping_out_fd_fn(void *ctx);
#define PING_MAX_COUNT 100
#define PING_MAX_WINDOW (1u << 20)
#define PING_NO_RTT UINT32_MAX

struct ping_conf {
	enum ping_method method;
	uint16_t port;			/* TCP or UDP destination port */
	unsigned count;			/* probes per target, 1..PING_MAX_COUNT */
	int retry;			/* the probes after the first are retries
					   (fping -r): a reply finishes the
					   target; else it gets all count */
	uint64_t interval_ns;		/* between probes to one target */
	uint64_t timeout_ns;		/* wait after a target's last probe */
	double rate;			/* probes per second, all targets */
	size_t window;			/* targets in flight, 1..PING_MAX_WINDOW */
	int fd;				/* ICMP socket, raw TCP for PING_TCP,
					   UDP with IP_RECVERR for PING_UDP */
	enum probe_icmp_kind kind;	/* of the ICMP socket */
	ping_idle_fn *idle;		/* or NULL */
	ping_out_fd_fn *out_fd;		/* or NULL */
};

struct ping_result {
	uint32_t ip;			/* host order */
	void *user;			/* as given to ping_add */
	unsigned probes;		/* tried (count, unless stopped) */
	unsigned sent, recv;		/* accepted by the kernel; answered */
	const uint32_t *rtt_us;		/* [probes]; PING_NO_RTT if unanswered */
	int reply_ttl;			/* of the last reply, -1 if none */
	uint8_t tcp_flags;		/* of the last TCP reply */
	int error;			/* errno of the last probe the kernel
					   refused, 0 if none */
	int unreach_code;		/* a destination unreachable's ICMP code
					   from unreach_from, -1 if none */
	uint32_t unreach_from;		/* host order */
};

struct ping_stats {
	uint64_t sent, recv;		/* probes, and replies matched to one */
	uint64_t strays;		/* not ours: wrong id, check or address */
	uint64_t late;			/* ours, but the target had finished */
	uint64_t dups;			/* a second reply to one probe */
	uint64_t send_errors;		/* sendto refused (no route, ...) */
	uint64_t send_retries;		/* sends retried after an earlier
					   probe's pending error */
	uint64_t unreach;		/* destination unreachable answers */
	uint64_t dropped;		/* packets the kernel dropped, the
					   socket's buffer full (SO_MEMINFO) */
};

struct ping_engine;
/* NULL with errno set. The descriptor stays the caller's. */
struct ping_engine *ping_new(const struct ping_conf *conf);
void ping_free(struct ping_engine *e);
/* True when a target can be added. */
int ping_room(const struct ping_engine *e);
/* Targets in flight. */
size_t ping_active(const struct ping_engine *e);
/* Queue a target; -1 when the window is full. */
int ping_add(struct ping_engine *e, uint32_t ip, void *user);
/*
 * Send what is due and the rate allows, read replies, finish targets
 * (calling done for each, in completion order).  Waits for the next event,
 * and returns 1 early when extra_fd (if >= 0) is readable, else 0.  A
 * signal ends the wait too.
 */
int ping_poll(struct ping_engine *e, int extra_fd, ping_done_fn *done,
    void *ctx);
const struct ping_stats *ping_stats(const struct ping_engine *e);

#endif
