/*
 * client.c: the client's side of a session with a sink (sqlsink(1)
 * "Sessions"), for every client: sqlsink --send and hopmap-httpd's POST
 * /results.  Connect, send the session line and the lines, half-close,
 * and read the one answer line the sink writes after the commit that
 * holds the last line.  Nothing here exits or prints: callers say why.
 */
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "sink.h"

int
sink_client_connect(const char *path, uint64_t wait_ms)
{
	struct sockaddr_un sun;
	struct timeval tv;
	int fd, e;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(sun.sun_path, path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	/* A sink that stops reading for this long is as good as gone. */
	tv.tv_sec = (time_t)(wait_ms / 1000);
	tv.tv_usec = (suseconds_t)(wait_ms % 1000) * 1000;
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	return fd;
}

int
sink_client_write(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int
sink_client_begin(int fd, const char *node, const char *segment,
    const char *peer)
{
	char line[1024];
	json_t *o;
	size_t n;

	o = json_pack("{s:i,s:s}", "hopmap-session", 1, "node", node);
	if (o == NULL)
		return -2;
	if (segment != NULL)
		json_object_set_new(o, "segment", json_string(segment));
	if (peer != NULL)
		json_object_set_new(o, "peer", json_string(peer));
	n = json_dumpb(o, line, sizeof(line) - 1, JSON_COMPACT |
	    JSON_PRESERVE_ORDER);
	json_decref(o);
	if (n == 0 || n >= sizeof(line) - 1)
		return -2;
	line[n++] = '\n';
	return sink_client_write(fd, line, n);
}

ssize_t
sink_client_answer(int fd, char *buf, size_t size, uint64_t wait_ms)
{
	uint64_t deadline = hm_mono_ms() + wait_ms, now;
	size_t used = 0;
	struct pollfd p = { .fd = fd, .events = POLLIN };
	ssize_t n;

	while (used < size - 1) {
		if ((now = hm_mono_ms()) >= deadline) {
			errno = ETIMEDOUT;
			return -1;
		}
		if (poll(&p, 1, (int)(deadline - now)) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (p.revents == 0)
			continue;
		n = read(fd, buf + used, size - 1 - used);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			errno = n == 0 ? 0 : errno;
			return -1;
		}
		used += (size_t)n;
		if (memchr(buf, '\n', used) != NULL)
			break;
	}
	buf[used] = '\0';
	return (ssize_t)used;
}
