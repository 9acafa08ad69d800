/*
 * probe/ping.h: the ping engine's insides, a stack of files, each calling
 * only the ones below it:
 *
 *   probe/pingloop.c  the loop: paces, sends, receives, waits, and acts on
 *                     what the state machine says (reports finished
 *                     targets to the caller)
 *   probe/ping.c      the state machine: slots, their lists and timing;
 *                     given events (a probe sent, a verified reply, an
 *                     unreachable, time passing) it decides which slot to
 *                     probe next and which targets are finished
 *   probe/pingudp.c   the UDP method's answers, read from the error queue
 *   probe/pingwire.c  packets: probes built, replies parsed and verified
 *                     with the run's key; knows nothing of the engine
 *
 * Nothing outside the engine includes this.
 */
#ifndef HOPMAP_PROBE_PING_H
#define HOPMAP_PROBE_PING_H

#include <sys/socket.h>

#include "probe.h"

#define PING_NIL UINT32_MAX

/* ---- probe/pingwire.c, probe/pingudp.c: packets ---- */
/* What a probe names: its slot, the slot's generation, its number. */
struct ping_tag {
	uint32_t slot, gen, k;
};

/* What the wire knows: the run's key and identifiers, and the bounds a
   probe's names must keep. */
struct ping_wire {
	struct probe_key key;
	enum ping_method method;
	enum probe_icmp_kind kind;
	uint16_t port;			/* TCP or UDP destination port */
	uint16_t ident, seq;		/* ICMP identifier; cosmetic sequence */
	size_t window;			/* slots */
	unsigned count;			/* probes per target */
};

/* What a verified reply says besides which probe it answers. */
struct ping_answer {
	uint64_t rx_ns;			/* kernel receive time, CLOCK_REALTIME */
	int ttl;
	uint8_t tcp_flags;
};

/* What a received packet is. */
enum ping_heard_what {
	PING_HEARD_NONE,		/* nothing to count (not a reply) */
	PING_HEARD_STRAY,		/* not ours: id, check or address */
	PING_HEARD_REPLY,		/* a verified reply to probe tag */
	PING_HEARD_UNREACH,		/* a verified unreachable for tag */
	PING_HEARD_TCP			/* a SYN-ACK or RST for tag, whose
					   port is still to verify against
					   the slot's generation */
};
struct ping_heard {
	enum ping_heard_what what;
	struct ping_tag tag;
	struct ping_answer a;		/* REPLY, TCP */
	int code;			/* UNREACH: the ICMP code */
	uint32_t from;			/* UNREACH: the router; TCP: the
					   target; host order */
	uint16_t port;			/* TCP: our port it was sent to */
};

#define PING_PKT_MAX 64
void ping_wire_init(struct ping_wire *w, const struct ping_conf *conf);
/* Build probe t to dst (src: our address, for TCP's checksum) sent at
   now into pkt (PING_PKT_MAX bytes); its length. */
size_t ping_wire_build(struct ping_wire *w, const struct ping_tag *t,
    uint32_t dst, uint32_t src, uint64_t now, uint8_t *pkt);
/* 1 when pl is a 32-byte payload of ours sent to from; t gets its names. */
int ping_wire_check(const struct ping_wire *w, uint32_t from,
    const uint8_t *pl, struct ping_tag *t);
/* The source port a TCP probe t to ip was sent from. */
uint16_t ping_wire_tcp_port(const struct ping_wire *w, uint32_t ip,
    const struct ping_tag *t);
/* What a packet read from the ICMP or TCP socket is (from: the sender's
   address, ttl: the TTL, both as a datagram socket tells them). */
void ping_wire_parse(const struct ping_wire *w, const uint8_t *b,
    size_t len, uint32_t from, int ttl, uint64_t rx_ns,
    struct ping_heard *h);
/* What a message from the UDP socket's error queue is. */
void ping_udp_parse(const struct ping_wire *w, struct msghdr *mh,
    const uint8_t *pl, size_t len, uint64_t now, struct ping_heard *h);

/* ---- probe/ping.c: the state machine ---- */
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

/* A probe the machine says is due. */
struct ping_probe {
	struct ping_tag tag;
	uint32_t ip, src;		/* src 0: not known yet */
};

struct ping_engine {
	struct ping_conf conf;
	struct ping_slot *slot;		/* [window] */
	uint32_t *rtt_us;		/* [window][count] */
	uint64_t *sent_ns;		/* [window][count], CLOCK_REALTIME */
	uint32_t head[4], tail[4];
	size_t active;
	struct ping_wire wire;
	struct probe_bucket bucket;
	int blocked;			/* the socket would not take more */
	struct ping_stats stats;
};

/* Slots and lists for e->conf; 0, or -1 when out of memory. */
int ping_machine_init(struct ping_engine *e);
void ping_machine_free(struct ping_engine *e);
/* The slot to probe next at now (a due resend first, else a new target),
   in *p; 0 when none is due. */
int ping_machine_due(const struct ping_engine *e, uint64_t now,
    struct ping_probe *p);
/* Probe p, stamped at wall time stamp_ns, was handed to the kernel:
   r 0 it took it, 1 it refused it (errno err). */
void ping_machine_sent(struct ping_engine *e, const struct ping_probe *p,
    int r, int err, uint64_t stamp_ns, uint64_t now);
/* A verified reply: 1 when its target has every answer and is finished
   (ping_machine_finish), else 0. */
int ping_machine_reply(struct ping_engine *e, const struct ping_tag *t,
    const struct ping_answer *a);
/* A verified destination unreachable (ICMP code) from router (host order)
   for probe t: the target is not counted alive, but the record says who
   answered and how. */
void ping_machine_unreach(struct ping_engine *e, const struct ping_tag *t,
    int code, uint32_t router);
/* The slot whose deadline has passed at now, or PING_NIL. */
uint32_t ping_machine_expired(const struct ping_engine *e, uint64_t now);
/* When the first resend, the first deadline is due (UINT64_MAX: none). */
uint64_t ping_machine_resend_at(const struct ping_engine *e);
uint64_t ping_machine_expire_at(const struct ping_engine *e);
/* The generation slot i holds now. */
uint32_t ping_machine_gen(const struct ping_engine *e, uint32_t i);
/* Slot i's target is finished: its result in *r (valid until the slot is
   used again), the slot free. */
void ping_machine_finish(struct ping_engine *e, uint32_t i,
    struct ping_result *r);

#endif
