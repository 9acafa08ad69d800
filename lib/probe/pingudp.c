/*
 * probe/pingudp.c: the UDP method's replies.
 *
 * A datagram to a closed port makes the target answer "port unreachable".
 * With IP_RECVERR the kernel queues that error on our own socket, with the
 * datagram it refers to (our 32-byte payload), the original destination and
 * the address the error came from; no privilege is needed.  The payload's
 * keyed check is verified against the destination as for an echo, and the
 * reply counts only when the error is "port unreachable" from the target
 * itself: a router saying "host unreachable" is not the target being alive,
 * but it is an answer, and the record says so ("unreach",
 * ping_machine_unreach).  A service that answers on an open port cannot be
 * told from someone else (its data is not ours), so such answers are read
 * and dropped.
 *
 * This file only parses: the loop (probe/pingloop.c) reads the queue.
 */
#include <time.h>
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "core/core.h"
#include "ping.h"

#define ICMP_UNREACH 3
#define ICMP_PORT_UNREACH 3

void
ping_udp_parse(const struct ping_wire *w, struct msghdr *mh,
    const uint8_t *pl, size_t len, uint64_t now, struct ping_heard *h)
{
	const struct sockaddr_in *dst = mh->msg_name;
	struct sock_extended_err ee;
	struct sockaddr_in off;
	struct cmsghdr *c;
	int have = 0;

	memset(h, 0, sizeof(*h));
	h->a.rx_ns = now;
	h->a.ttl = probe_cmsg_read(mh, &h->a.rx_ns);
	for (c = CMSG_FIRSTHDR(mh); c != NULL; c = CMSG_NXTHDR(mh, c))
		if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_RECVERR &&
		    c->cmsg_len >= CMSG_LEN(sizeof(ee) + sizeof(off))) {
			memcpy(&ee, CMSG_DATA(c), sizeof(ee));
			/* SO_EE_OFFENDER: the address right after it. */
			memcpy(&off, CMSG_DATA(c) + sizeof(ee), sizeof(off));
			have = 1;
		}
	if (!have || ee.ee_origin != SO_EE_ORIGIN_ICMP)
		return;		/* a local error (no route...): no answer */
	h->what = PING_HEARD_STRAY;
	if (len < 32 || mh->msg_namelen < sizeof(*dst) ||
	    !ping_wire_check(w, ntohl(dst->sin_addr.s_addr), pl, &h->tag) ||
	    ee.ee_type != ICMP_UNREACH)
		return;
	if (ee.ee_code != ICMP_PORT_UNREACH ||
	    off.sin_addr.s_addr != dst->sin_addr.s_addr) {
		h->what = PING_HEARD_UNREACH;
		h->code = ee.ee_code;
		h->from = ntohl(off.sin_addr.s_addr);
		return;
	}
	h->what = PING_HEARD_REPLY;
}
