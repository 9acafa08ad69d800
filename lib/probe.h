/*
 * probe.h: what the probing programs (icmpprobe, tracehop) share: privilege
 * handling with libcap, opening raw or datagram ICMP sockets, the internet
 * checksum, a keyed hash for the checks probes carry, a token bucket for
 * --rate, monotonic time, and writing a record with a probe result appended.
 *
 * Only probe_priv.c calls libcap, so programs that never call probe_priv_*
 * link without -lcap (the archive pulls in only the objects used).
 */
#ifndef HOPMAP_PROBE_H
#define HOPMAP_PROBE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

/* ---- probe_priv.c: CAP_NET_RAW and nothing else ---- */
/*
 * Call first, before parsing input.  Lowers the capability sets to
 * CAP_NET_RAW alone (plus CAP_SETUID and CAP_SETGID when switch_user, for
 * probe_priv_drop's --user switch), and makes CAP_NET_RAW effective when it
 * is permitted (started as root, or a file capability cap_net_raw+p).
 * Returns 1 when raw sockets can be opened, 0 when not (the caller may fall
 * back to datagram sockets).  Exits HM_EXIT_FAIL if the sets cannot be
 * changed.
 */
int probe_priv_begin(int switch_user);
/*
 * Call once the sockets are open.  With user (a name or a number), switch
 * to that user and its primary group (checked setgroups, setgid, setuid;
 * needs to have started as root).  Then clear every capability and set
 * no_new_privs, so nothing can be regained by exec either.  Exits
 * HM_EXIT_FAIL when a step fails: running on with more privilege than
 * asked is worse than not running.
 */
void probe_priv_drop(const char *user);

/* ---- probe_sock.c: sockets ---- */
enum probe_icmp_kind { PROBE_ICMP_RAW = 1, PROBE_ICMP_DGRAM = 2 };
/*
 * An ICMP socket to send echo requests and receive echo replies: raw when
 * try_raw (the caller holds CAP_NET_RAW), else the unprivileged ICMP
 * datagram socket ("ping socket") that net.ipv4.ping_group_range allows.
 * Non-blocking, close-on-exec, with a large receive buffer; a raw socket is
 * filtered to echo replies, a datagram one reports the reply TTL (IP_RECVTTL).
 * Returns the descriptor and sets *kind; -1 with a message for the user in
 * *why when neither works.
 */
int probe_open_icmp(int try_raw, enum probe_icmp_kind *kind,
    const char **why);
/* A raw socket for protocol proto (IPPROTO_TCP, ...), set up like the
   above; -1 with errno set. */
int probe_open_raw(int proto);
/* The source address the kernel would use towards dst (host order), by a
   connect() on a UDP socket: no packet is sent.  0 on success. */
int probe_source_addr(uint32_t dst, uint32_t *src);

/* ---- probe_util.c: checksum, keyed hash, pacing, time ---- */
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

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t probe_now_ns(void);

/* ---- probe_json.c: a record with a result appended ---- */
/*
 * Write obj as one line with "key": raw appended as its last member, where
 * raw is JSON text the caller made from numbers and fixed strings (so RTTs
 * print as 0.41, not jansson's 0.40999999999999998).  An existing member
 * named key is replaced.  0, or -1 on a write error.
 */
int probe_json_write_with(FILE *fp, json_t *obj, const char *key,
    const char *raw);
/* Append a number with at most three decimals ("%.3f" without trailing
   zeros) to buf at *pos, within size. */
void probe_json_ms(char *buf, size_t size, size_t *pos, double ms);

#endif
