/*
 * trace/dgram.c: Paris traceroute without CAP_NET_RAW, on datagram sockets.
 *
 * Each trace gets its own socket, connected to the target, so the flow is
 * fixed by the kernel: a UDP socket's two ports, or an ICMP datagram
 * ("ping") socket's echo identifier (net.ipv4.ping_group_range must
 * include our group).  The TTL is set per probe with IP_TTL, and the
 * routers' ICMP errors come back through the socket's error queue
 * (IP_RECVERR) with the offender's address and the quoted probe.  The kernel
 * picks the IP ID, so the tag and check travel in the payload (UDP) or in
 * the sequence number and payload (ICMP, whose checksum we still hold
 * constant: we know the identifier the kernel writes).  The reply TTL of an
 * ICMP error is not reported this way; it is left 0 (unknown).
 */
#include <errno.h>
#include <time.h>
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "probe/probe.h"
#include "trace.h"

int
trace_dgram_open(enum trace_method m, uint32_t dst, uint16_t dport,
    uint32_t *src, uint16_t *flow)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int fd, on = 1, saved;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    m == TRACE_ICMP_PARIS ? IPPROTO_ICMP : 0);
	if (fd < 0)
		return -1;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(m == TRACE_ICMP_PARIS ? 0 : dport);
	sin.sin_addr.s_addr = htonl(dst);
	if (setsockopt(fd, IPPROTO_IP, IP_RECVERR, &on, sizeof(on)) != 0 ||
	    setsockopt(fd, IPPROTO_IP, IP_RECVTTL, &on, sizeof(on)) != 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof(on)) != 0 ||
	    connect(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) != 0) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	*src = ntohl(sin.sin_addr.s_addr);
	*flow = ntohs(sin.sin_port);
	return fd;
}

/* Our payload after the UDP header: tag, check, padding. */
#define UDP_PAYLOAD 12

int
trace_dgram_send(int fd, const struct trace_probe *p)
{
	uint8_t buf[TRACE_PKT_MAX], *data = buf;
	int ttl = p->ttl, tries;
	size_t len;

	if (setsockopt(fd, IPPROTO_IP, IP_TTL, &ttl, sizeof(ttl)) != 0)
		return -1;
	if (p->method == TRACE_ICMP_PARIS) {
		/* The same echo request as the raw path: the kernel keeps our
		   bytes and rewrites id and checksum to what we wrote. */
		len = trace_pkt_build(p, buf) - 20;
		data = buf + 20;
	} else {
		memset(buf, 0, UDP_PAYLOAD);
		buf[0] = (uint8_t)(p->tag >> 8);
		buf[1] = (uint8_t)p->tag;
		buf[2] = (uint8_t)(p->check >> 8);
		buf[3] = (uint8_t)p->check;
		len = UDP_PAYLOAD;
	}
	/* With IP_RECVERR the last ICMP error stays pending on the socket,
	   and the next send fails with it once: an earlier probe's answer,
	   already in the error queue, so send again.  Whatever the ICMP type
	   and code (icmp_err_convert gives ENOPROTOOPT, EHOSTDOWN, ENONET,
	   EOPNOTSUPP... besides the usual ones), so any error but a full
	   buffer is retried; the kernel's own refusal repeats and is returned
	   at the third try. */
	for (tries = 0; tries < 3; tries++) {
		if (send(fd, data, len, 0) >= 0)
			return 0;
		if (errno == EAGAIN || errno == ENOBUFS || errno == EINTR)
			return -1;
	}
	return -1;
}

static uint16_t
get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* The tag and check in what a reply or an error quotes of our probe. */
static int
parse_quote(enum trace_method m, const uint8_t *d, size_t len,
    struct trace_match *mt)
{
	if (m == TRACE_ICMP_PARIS) {
		if (len < 10 || (d[0] != 8 && d[0] != 0))
			return 0;
		mt->tag = get16(d + 6);
		mt->check = get16(d + 8);
		return 1;
	}
	if (len < 4)
		return 0;
	mt->tag = get16(d);
	mt->check = get16(d + 2);
	return 1;
}

int
trace_dgram_read(int fd, enum trace_method m, uint32_t dst,
    struct trace_match *mt, uint64_t *rx_us)
{
	uint8_t data[1500];
	char cbuf[512];
	struct iovec iov = { data, sizeof(data) };
	struct msghdr msg;
	struct cmsghdr *c;
	uint64_t rx_ns;
	ssize_t n;
	int err = 1, have_ee = 0, ttl;

	memset(mt, 0, sizeof(*mt));
	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cbuf;
	msg.msg_controllen = sizeof(cbuf);
	if ((n = recvmsg(fd, &msg, MSG_ERRQUEUE | MSG_DONTWAIT)) < 0) {
		err = 0;
		msg.msg_controllen = sizeof(cbuf);
		if ((n = recvmsg(fd, &msg, MSG_DONTWAIT)) < 0)
			return -1;
	}
	rx_ns = 0;
	if ((ttl = probe_cmsg_read(&msg, &rx_ns)) >= 0)
		mt->reply_ttl = (uint8_t)ttl;
	*rx_us = rx_ns / 1000;
	mt->dst = dst;
	for (c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level == IPPROTO_IP &&
		    c->cmsg_type == IP_RECVERR) {
			struct sock_extended_err ee;
			struct sockaddr_in off;

			memcpy(&ee, CMSG_DATA(c), sizeof(ee));
			if (ee.ee_origin != SO_EE_ORIGIN_ICMP)
				continue;
			memcpy(&off, CMSG_DATA(c) + sizeof(ee), sizeof(off));
			mt->from = ntohl(off.sin_addr.s_addr);
			mt->icmp_type = ee.ee_type;
			mt->icmp_code = ee.ee_code;
			have_ee = 1;
		}
	}
	if (err) {
		if (!have_ee)
			return 0;
		mt->from_target = mt->from == dst && mt->icmp_type == 3;
		return parse_quote(m, data, (size_t)n, mt);
	}
	/* A datagram: only an echo reply (from the target) means anything. */
	if (m != TRACE_ICMP_PARIS || n < 10 || data[0] != 0)
		return 0;
	mt->from = dst;
	mt->from_target = 1;
	return parse_quote(m, data, (size_t)n, mt);
}
