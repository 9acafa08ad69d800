/*
 * probe_pingudp.c: the UDP method's replies.
 *
 * A datagram to a closed port makes the target answer "port unreachable".
 * With IP_RECVERR the kernel queues that error on our own socket, with the
 * datagram it refers to (our 32-byte payload), the original destination and
 * the address the error came from; no privilege is needed.  The payload's
 * keyed check is verified against the destination as for an echo, and the
 * reply counts only when the error is "port unreachable" from the target
 * itself: a router saying "host unreachable" is not the target being alive,
 * but it is an answer, and the record says so ("unreach", ping_unreach).
 * A service that answers on an open port cannot be told from someone else
 * (its data is not ours), so such answers are read and dropped.
 */
#include <time.h>
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "core/core.h"
#include "ping.h"

#define UDP_BATCH 64
#define ICMP_UNREACH 3
#define ICMP_PORT_UNREACH 3

static void
take_error(struct ping_engine *e, struct msghdr *mh, const uint8_t *pl,
    size_t len, uint64_t now, ping_done_fn *done, void *ctx)
{
	struct ping_answer a = { now, -1, 0 };
	const struct sockaddr_in *dst = mh->msg_name;
	struct sock_extended_err ee;
	struct sockaddr_in off;
	struct cmsghdr *c;
	uint32_t w[3];
	int have = 0;

	(void)probe_cmsg_read(mh, &a.rx_ns);
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
	if (len < 32 || mh->msg_namelen < sizeof(*dst) ||
	    !ping_wire_check(e, ntohl(dst->sin_addr.s_addr), pl, w) ||
	    ee.ee_type != ICMP_UNREACH) {
		e->stats.strays++;
		return;
	}
	if (ee.ee_code != ICMP_PORT_UNREACH ||
	    off.sin_addr.s_addr != dst->sin_addr.s_addr) {
		ping_unreach(e, w[0], w[1], w[2], ee.ee_code,
		    ntohl(off.sin_addr.s_addr));
		return;
	}
	ping_reply(e, w[0], w[1], w[2], &a, done, ctx);
}

void
ping_udp_recv(struct ping_engine *e, ping_done_fn *done, void *ctx)
{
	static uint8_t buf[UDP_BATCH][64];
	static char cbuf[UDP_BATCH][256];
	struct mmsghdr mm[UDP_BATCH];
	struct sockaddr_in from[UDP_BATCH];
	struct iovec iov[UDP_BATCH];
	int n, j, rounds;

	for (rounds = 0; rounds < 64; rounds++) {
		uint64_t now;

		for (j = 0; j < UDP_BATCH; j++) {
			iov[j].iov_base = buf[j];
			iov[j].iov_len = sizeof(buf[j]);
			memset(&mm[j], 0, sizeof(mm[j]));
			mm[j].msg_hdr.msg_iov = &iov[j];
			mm[j].msg_hdr.msg_iovlen = 1;
			mm[j].msg_hdr.msg_name = &from[j];
			mm[j].msg_hdr.msg_namelen = sizeof(from[j]);
			mm[j].msg_hdr.msg_control = cbuf[j];
			mm[j].msg_hdr.msg_controllen = sizeof(cbuf[j]);
		}
		n = recvmmsg(e->conf.fd, mm, UDP_BATCH,
		    MSG_ERRQUEUE | MSG_DONTWAIT, NULL);
		if (n <= 0)
			break;
		now = probe_wall_ns();
		for (j = 0; j < n; j++)
			take_error(e, &mm[j].msg_hdr, buf[j], mm[j].msg_len,
			    now, done, ctx);
		if (n < UDP_BATCH)
			break;
	}
	/* Data from open ports: unverifiable, but it must not fill the
	   buffer.  Bounded like the rest. */
	for (rounds = 0; rounds < 1024; rounds++)
		if (recv(e->conf.fd, buf[0], sizeof(buf[0]), MSG_DONTWAIT) < 0)
			break;
}
