/*
 * trace/sock.c: the raw sockets a Paris traceroute needs.
 *
 * Probes go out through one IPPROTO_RAW socket because Paris traceroute
 * must write the IP ID and the whole transport header itself (the kernel's
 * own UDP or ICMP sockets would choose them).  Replies come in on a raw
 * ICMP socket (filtered to the three types that can answer a probe) and,
 * for tcp-paris, a raw TCP socket.  All need CAP_NET_RAW, and only at
 * open: the caller drops the capability right after.  probe_open_raw gives
 * them the big buffers and kernel arrival times icmpprobe's sockets have.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/icmp.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "probe/probe.h"
#include "trace.h"

int
trace_sockets_open(enum trace_method m, struct trace_sockets *s,
    const char **why)
{
	struct icmp_filter filt;
	int saved;

	s->send_fd = s->icmp_fd = s->tcp_fd = -1;
	if ((s->send_fd = probe_open_raw(IPPROTO_RAW)) < 0) {
		*why = "raw socket (IPPROTO_RAW)";
		goto fail;
	}
	if ((s->icmp_fd = probe_open_raw(IPPROTO_ICMP)) < 0) {
		*why = "raw socket (ICMP)";
		goto fail;
	}
	/* The filter names the types to block: all but the three answers. */
	filt.data = ~((1u << ICMP_ECHOREPLY) | (1u << ICMP_DEST_UNREACH) |
	    (1u << ICMP_TIME_EXCEEDED));
	if (setsockopt(s->icmp_fd, SOL_RAW, ICMP_FILTER, &filt,
	    sizeof(filt)) != 0) {
		*why = "ICMP_FILTER";
		goto fail;
	}
	if (m == TRACE_TCP_PARIS &&
	    (s->tcp_fd = probe_open_raw(IPPROTO_TCP)) < 0) {
		*why = "raw socket (TCP)";
		goto fail;
	}
	return 0;
fail:
	saved = errno;
	trace_sockets_close(s);
	errno = saved;
	return -1;
}

void
trace_sockets_close(struct trace_sockets *s)
{
	if (s->send_fd >= 0)
		close(s->send_fd);
	if (s->icmp_fd >= 0)
		close(s->icmp_fd);
	if (s->tcp_fd >= 0)
		close(s->tcp_fd);
	s->send_fd = s->icmp_fd = s->tcp_fd = -1;
}
