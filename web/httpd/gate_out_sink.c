/*
 * gate_out_sink.c: one POST /results as one session with the hub's sink
 * (sqlsink(1) "Sessions"), the same exchange sqlsink --send makes: the
 * session line binds every record to the key's worker, the lines follow,
 * a half-close ends them, and the sink answers one line after the commit
 * that holds the last one.  Each request has its own connection, so
 * requests at once are sessions at once, and one commit answers all of
 * them that ended before it.  Thread-safe: nothing is shared.
 */
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "httpd/gate_out.h"

static long long
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
send_all(int fd, const char *p, size_t n)
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

static int
connect_sink(const char *path, unsigned wait_ms)
{
	struct sockaddr_un sun;
	struct timeval tv;
	int fd;

	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof sun.sun_path) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(sun.sun_path, path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sun, sizeof sun) != 0) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	/* A sink that stops reading this long is as good as gone. */
	tv.tv_sec = (time_t)(wait_ms / 1000);
	tv.tv_usec = (suseconds_t)(wait_ms % 1000) * 1000;
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	return fd;
}

/* The answer line, within the deadline; its length, or -1 (errno
   ETIMEDOUT, or 0: closed without an answer). */
static ssize_t
read_line(int fd, char *buf, size_t cap, long long deadline)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	size_t used = 0;
	long long now;
	ssize_t n;

	while (used < cap - 1) {
		if ((now = mono_ms()) >= deadline) {
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
		n = read(fd, buf + used, cap - 1 - used);
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

static int
session_line(int fd, const char *node, const char *segment,
    const char *peer)
{
	json_t *o = json_pack("{s:i,s:s}", "hopmap-session", 1, "node", node);
	char line[1024];
	size_t n;

	if (o == NULL)
		return -1;
	if (segment != NULL)
		json_object_set_new(o, "segment", json_string(segment));
	if (peer != NULL)
		json_object_set_new(o, "peer", json_string(peer));
	n = json_dumpb(o, line, sizeof line - 1, JSON_COMPACT |
	    JSON_PRESERVE_ORDER);
	json_decref(o);
	if (n == 0 || n >= sizeof line - 1)
		return -1;
	line[n++] = '\n';
	return send_all(fd, line, n);
}

json_t *
go_sink_session(const char *sock, const char *node, const char *segment,
    const char *peer, const struct go_lines *lines, unsigned wait_ms,
    char *why, size_t whycap)
{
	long long deadline = mono_ms() + wait_ms;
	char buf[16384];
	json_t *a;
	int fd, werr = 0;

	if ((fd = connect_sink(sock, wait_ms)) < 0) {
		snprintf(why, whycap, "the sink is not there: %s",
		    strerror(errno));
		return NULL;
	}
	/* A write that fails may be the sink refusing the session: its
	   answer, if any, says why. */
	if (session_line(fd, node, segment, peer) != 0 ||
	    send_all(fd, lines->text, lines->len) != 0)
		werr = errno != 0 ? errno : EIO;
	shutdown(fd, SHUT_WR);
	if (read_line(fd, buf, sizeof buf, deadline) < 0) {
		int e = errno;

		close(fd);
		if (werr != 0)
			snprintf(why, whycap, "the sink stopped reading: %s",
			    strerror(werr));
		else if (e == ETIMEDOUT)
			snprintf(why, whycap, "no answer from the sink in "
			    "%u ms", wait_ms);
		else
			snprintf(why, whycap, "the sink closed the "
			    "connection without an answer%s%s", e ? ": " : "",
			    e ? strerror(e) : "");
		return NULL;
	}
	close(fd);
	if ((a = json_loads(buf, 0, NULL)) == NULL || !json_is_object(a)) {
		json_decref(a);
		snprintf(why, whycap, "the sink's answer is not JSON");
		return NULL;
	}
	return a;
}
