/*
 * probe/sock.c: the sockets probes go out on.
 *
 * A raw ICMP socket when we hold CAP_NET_RAW; otherwise the ICMP datagram
 * ("ping") socket that Linux gives to the groups in
 * net.ipv4.ping_group_range.  The datagram socket rewrites the echo
 * identifier to its own and delivers only replies carrying it, which is all
 * an echo prober needs: our sequence numbers and payload pass unchanged.
 */
#include <errno.h>
#include <ifaddrs.h>
#include <linux/icmp.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/core.h"
#include "probe.h"

/* Replies come in bursts from thousands of targets: buffer plenty (the
   kernel caps this at net.core.rmem_max, which is fine).  And ask for the
   kernel's receive time of each packet: a reply may wait in the buffer
   while we send a batch, and that wait is not network time. */
static void
big_buffers(int fd)
{
	int size = 8 << 20, on = 1;

	(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
	(void)setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof(on));
}

int
probe_open_raw(int proto)
{
	int fd = socket(AF_INET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    proto);

	if (fd >= 0)
		big_buffers(fd);
	return fd;
}

static int
open_raw_icmp(void)
{
	struct icmp_filter filt;
	int fd, saved;

	if ((fd = probe_open_raw(IPPROTO_ICMP)) < 0)
		return -1;
	/* A raw ICMP socket sees every ICMP packet of the host; let the
	   kernel drop all but echo replies and destination unreachables
	   (which quote the probe they answer) before they cost us a read. */
	filt.data = ~((1u << ICMP_ECHOREPLY) | (1u << ICMP_DEST_UNREACH));
	if (setsockopt(fd, SOL_RAW, ICMP_FILTER, &filt, sizeof(filt)) != 0) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

int
probe_open_icmp(int try_raw, enum probe_icmp_kind *kind, const char **why)
{
	int fd, on = 1;

	if (try_raw) {
		if ((fd = open_raw_icmp()) >= 0) {
			*kind = PROBE_ICMP_RAW;
			return fd;
		}
		/* EPERM/EACCES: the capability was not effective after all
		   (a user namespace, a security module); try without. */
		if (errno != EPERM && errno != EACCES) {
			*why = "cannot open a raw ICMP socket";
			return -1;
		}
	}
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    IPPROTO_ICMP);
	if (fd < 0) {
		switch (errno) {
		case EACCES:
		case EPERM:
			/* Our group is outside net.ipv4.ping_group_range. */
			*why = "no CAP_NET_RAW for a raw socket, and "
			    "net.ipv4.ping_group_range does not include our "
			    "group for an ICMP datagram socket (run as root, "
			    "grant cap_net_raw+p to the program, or widen "
			    "ping_group_range)";
			break;
		case EPROTONOSUPPORT:
		case EAFNOSUPPORT:
		case ESOCKTNOSUPPORT:
			/* A kernel built without ping sockets. */
			*why = "no CAP_NET_RAW for a raw socket, and this "
			    "kernel has no ICMP datagram sockets";
			break;
		default:
			*why = "cannot open an ICMP datagram socket";
		}
		return -1;
	}
	big_buffers(fd);
	/* The reply's TTL comes as ancillary data: there is no IP header. */
	(void)setsockopt(fd, IPPROTO_IP, IP_RECVTTL, &on, sizeof(on));
	*kind = PROBE_ICMP_DGRAM;
	return fd;
}

int
probe_open_udp(void)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int on = 1;

	if (fd < 0)
		return -1;
	big_buffers(fd);
	/* The TTL of the ICMP error comes with it from the error queue, as
	   tracehop's udp-paris reads it. */
	(void)setsockopt(fd, IPPROTO_IP, IP_RECVTTL, &on, sizeof(on));
	if (setsockopt(fd, IPPROTO_IP, IP_RECVERR, &on, sizeof(on)) != 0) {
		int saved = errno;

		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

int
probe_source_addr(uint32_t dst, uint32_t *src)
{
	static int fd = -1;
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);

	/* One UDP socket, reconnected per question: connect() only asks the
	   routing table, and needs no privilege. */
	if (fd < 0 && (fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(9);
	sin.sin_addr.s_addr = htonl(dst);
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) != 0)
		return -1;
	*src = ntohl(sin.sin_addr.s_addr);
	return 0;
}

/* Both engines (icmpprobe's and tracehop's) read replies this way: the
   kernel's receive time, not ours, because a reply may wait in the buffer
   while we send a batch. */
int
probe_cmsg_read(struct msghdr *mh, uint64_t *rx_ns)
{
	struct cmsghdr *c;
	struct timespec ts;
	int ttl = -1;

	for (c = CMSG_FIRSTHDR(mh); c != NULL; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TTL &&
		    c->cmsg_len >= CMSG_LEN(sizeof(int)))
			memcpy(&ttl, CMSG_DATA(c), sizeof(ttl));
		if (c->cmsg_level == SOL_SOCKET &&
		    c->cmsg_type == SCM_TIMESTAMPNS &&
		    c->cmsg_len >= CMSG_LEN(sizeof(ts))) {
			memcpy(&ts, CMSG_DATA(c), sizeof(ts));
			*rx_ns = (uint64_t)ts.tv_sec * 1000000000u +
			    (uint64_t)ts.tv_nsec;
		}
	}
	return ttl;
}

/* The directed broadcast addresses of our own subnets (prefixes up to
   /30), where the kernel would deliver one probe to every host. */
static uint32_t bcast[64];
static size_t nbcast;

static void
load_broadcasts(void)
{
	struct ifaddrs *ifa, *i;

	if (getifaddrs(&ifa) != 0)
		return;
	for (i = ifa; i != NULL && nbcast < 64; i = i->ifa_next) {
		const struct sockaddr_in *a = (void *)i->ifa_addr;
		const struct sockaddr_in *m = (void *)i->ifa_netmask;
		uint32_t mask;

		if (a == NULL || m == NULL || a->sin_family != AF_INET)
			continue;
		mask = ntohl(m->sin_addr.s_addr);
		if (~mask < 3)		/* /31, /32: no broadcast */
			continue;
		bcast[nbcast++] = ntohl(a->sin_addr.s_addr) | ~mask;
	}
	freeifaddrs(ifa);
}

const char *
probe_target_refused(uint32_t ip)
{
	static int loaded;
	const char *why;
	size_t k;

	if ((why = hm_target_refused(ip)) != NULL)
		return why;
	if (!loaded) {
		load_broadcasts();
		loaded = 1;
	}
	for (k = 0; k < nbcast; k++)
		if (bcast[k] == ip)
			return "the broadcast address of a subnet of ours";
	return NULL;
}
