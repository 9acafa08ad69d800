/*
 * rawping: the machine's ceiling for icmpprobe's benchmark.  The least a
 * pinger can do: one raw ICMP socket, echo requests to N consecutive
 * addresses as fast as the socket takes them, replies drained in batches
 * and counted by identifier.  No input parsing, pacing, matching or
 * output.  Compiled by bench/icmpprobe.sh.
 *
 *   rawping FIRST-ADDRESS COUNT     prints "sent N recv N seconds S"
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/icmp.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint16_t
cksum(const uint16_t *p, size_t n)
{
	uint32_t s = 0;

	for (; n > 1; n -= 2)
		s += *p++;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static unsigned long
drain(int fd, uint16_t id)
{
	static uint8_t buf[64][128];
	struct mmsghdr mm[64];
	struct iovec iov[64];
	unsigned long got = 0;
	int n, i;

	for (;;) {
		for (i = 0; i < 64; i++) {
			iov[i].iov_base = buf[i];
			iov[i].iov_len = sizeof(buf[i]);
			memset(&mm[i], 0, sizeof(mm[i]));
			mm[i].msg_hdr.msg_iov = &iov[i];
			mm[i].msg_hdr.msg_iovlen = 1;
		}
		if ((n = recvmmsg(fd, mm, 64, MSG_DONTWAIT, NULL)) <= 0)
			return got;
		for (i = 0; i < n; i++) {
			uint8_t *b = buf[i] + (buf[i][0] & 15) * 4;
			uint16_t rid;

			memcpy(&rid, b + 4, 2);
			if (b[0] == 0 && rid == id)
				got++;
		}
	}
}

int
main(int argc, char *argv[])
{
	struct icmp_filter filt = { ~(1u << ICMP_ECHOREPLY) };
	struct sockaddr_in sin = { .sin_family = AF_INET };
	unsigned long count, sent = 0, recv = 0;
	uint16_t id = htons((uint16_t)getpid());
	uint8_t pkt[40] = { 8 };
	struct in_addr first;
	int fd, size = 8 << 20;
	double t0, last;

	if (argc != 3 || inet_pton(AF_INET, argv[1], &first) != 1 ||
	    (count = strtoul(argv[2], NULL, 10)) == 0) {
		fprintf(stderr, "usage: rawping FIRST-ADDRESS COUNT\n");
		return 2;
	}
	if ((fd = socket(AF_INET, SOCK_RAW | SOCK_NONBLOCK, IPPROTO_ICMP)) < 0) {
		perror("rawping: socket");
		return 3;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	setsockopt(fd, SOL_RAW, ICMP_FILTER, &filt, sizeof(filt));
	memcpy(pkt + 4, &id, 2);
	t0 = last = now();
	while (recv < count && now() - last < 0.5) {
		while (sent < count) {
			uint16_t seq = htons((uint16_t)sent), c;

			memcpy(pkt + 6, &seq, 2);
			pkt[2] = pkt[3] = 0;
			c = cksum((uint16_t *)pkt, sizeof(pkt));
			memcpy(pkt + 2, &c, 2);
			sin.sin_addr.s_addr = htonl(ntohl(first.s_addr) +
			    (uint32_t)sent);
			if (sendto(fd, pkt, sizeof(pkt), 0,
			    (struct sockaddr *)&sin, sizeof(sin)) < 0)
				break;
			sent++;
			last = now();
			if ((sent & 63) == 0)
				break;
		}
		recv += drain(fd, id);
		if (sent == count)
			poll(&(struct pollfd){ fd, POLLIN, 0 }, 1, 10);
	}
	printf("sent %lu recv %lu seconds %.3f\n", sent, recv, now() - t0);
	return 0;
}
