/*
 * gate_out_sink.c: one POST /results as one session with the hub's sink
 * (sqlsink(1) "Sessions"), the exchange sqlsink --send makes too, both
 * through lib/sink/client.c: the session line binds every record to the
 * key's worker, the lines follow, a half-close ends them, and the sink
 * answers one line after the commit that holds the last one.  Each request has its own connection, so
 * requests at once are sessions at once, and one commit answers all of
 * them that ended before it.  Thread-safe: nothing is shared.
 */
#include <sys/socket.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "httpd/gate_out.h"
#include "sink/sink.h"

json_t *
go_sink_session(const char *sock, const char *node, const char *segment,
    const char *peer, const struct go_lines *lines, unsigned wait_ms,
    char *why, size_t whycap)
{
	char buf[16384];
	json_t *a;
	int fd, werr = 0;

	if ((fd = sink_client_connect(sock, wait_ms)) < 0) {
		snprintf(why, whycap, "the sink is not there: %s",
		    strerror(errno));
		return NULL;
	}
	/* A write that fails may be the sink refusing the session: its
	   answer, if any, says why. */
	if (sink_client_begin(fd, node, segment, peer) != 0 ||
	    sink_client_write(fd, lines->text, lines->len) != 0)
		werr = errno != 0 ? errno : EIO;
	shutdown(fd, SHUT_WR);
	if (sink_client_answer(fd, buf, sizeof buf, wait_ms) < 0) {
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
