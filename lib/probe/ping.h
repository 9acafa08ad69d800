/*
 * probe_ping.h: the ping engine's insides, shared by its two files
 * (probe_ping.c: slots, lists and timing; probe_pingwire.c: packets).
 * Nothing outside the engine includes this.
 */
#ifndef HOPMAP_PROBE_PING_H
#define HOPMAP_PROBE_PING_H

#include "probe.h"

#define PING_NIL UINT32_MAX

struct ping_slot {
	uint32_t ip, src;		/* host order; src found at first send */
	uint32_t gen;			/* changes when the target finishes */
	uint32_t prev, next;		/* on the list named by list */
	void *user;
	uint64_t due_ns;		/* next probe, or the deadline */
	uint32_t unreach_from;		/* of the last unreachable, host order */
	uint16_t probes;		/* tried: the next probe's number */
	uint16_t sent, recv;		/* accepted by the kernel; answered */
	int16_t reply_ttl;
	int16_t unreach_code;		/* -1: no unreachable came */
	int error;			/* errno of the last refused send */
	uint8_t tcp_flags, list;
};

struct ping_engine {
	struct ping_conf conf;
	struct ping_slot *slot;		/* [window] */
	uint32_t *rtt_us;		/* [window][count] */
	uint64_t *sent_ns;		/* [window][count], CLOCK_REALTIME */
	uint32_t head[4], tail[4];
	size_t active;
	struct probe_key key;
	uint16_t ident, seq;		/* ICMP identifier; cosmetic sequence */
	struct probe_bucket bucket;
	int blocked;			/* the socket would not take more */
	struct ping_stats stats;
	ping_done_fn *done;		/* ping_poll's, while it runs: a send */
	void *ctx;			/* that reads the error queue needs them */
};

/* What a verified reply says besides which probe it answers. */
struct ping_answer {
	uint64_t rx_ns;			/* kernel receive time, CLOCK_REALTIME */
	int ttl;
	uint8_t tcp_flags;
};

/* Send probe number slot->probes of slot i: 0 when the kernel took it, 1
   when it refused it (errno set), -1 when the socket is full. */
int ping_wire_send(struct ping_engine *e, uint32_t i, uint64_t now);
/* The 32 bytes a probe carries (ICMP payload, UDP data): slot,
   generation, probe number, send time, and the keyed check over these and
   the destination. */
void ping_wire_payload(const struct ping_engine *e, uint32_t i, uint64_t now,
    uint8_t *pl);
/* 1 when pl is a payload of ours sent to from; w gets slot, generation,
   probe number. */
int ping_wire_check(const struct ping_engine *e, uint32_t from,
    const uint8_t *pl, uint32_t w[3]);
/* probe_pingudp.c: read the UDP socket's error queue. */
void ping_udp_recv(struct ping_engine *e, ping_done_fn *done, void *ctx);
/* Read every waiting packet, passing verified replies to ping_reply. */
void ping_wire_recv(struct ping_engine *e, ping_done_fn *done, void *ctx);
void ping_reply(struct ping_engine *e, uint32_t i, uint32_t gen, unsigned k,
    const struct ping_answer *a, ping_done_fn *done, void *ctx);
/* A verified destination unreachable (ICMP code) from router (host order)
   for probe k of slot i: the target is not counted alive, but the record
   says who answered and how. */
void ping_unreach(struct ping_engine *e, uint32_t i, uint32_t gen,
    unsigned k, int code, uint32_t router);

#endif
