/* output.c: stdout buffering, the output queue of the probers, and an
   exit that notices failed writes. */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core.h"

static char outbuf[256 * 1024];

void
hm_output_init(void)
{
	/* Block buffering for throughput; hm_lines_next flushes before it
	   waits for input, so a trickle of input still flows through. */
	setvbuf(stdout, outbuf, _IOFBF, sizeof(outbuf));
}

/*
 * The queue: what stdio wrote that fd 1 has no room for yet.  A prober must
 * keep reading its socket while the reader after it is slow, so with
 * hm_output_queue stdout writes into this queue, and the loop calls
 * hm_output_pump when fd 1 has room.  fd 1 is never made non-blocking:
 * O_NONBLOCK belongs to the open file, shared with whoever else writes to
 * that pipe (stderr after 2>&1 would lose diagnostics with EAGAIN, and a
 * crash would leave the flag behind).  Instead a write follows a poll that
 * says POLLOUT and is at most PIPE_BUF bytes to a pipe or a socket: on
 * Linux a pipe is writable only with a free slot, which takes PIPE_BUF
 * bytes without blocking, and a socket only with ample room.  The queue
 * grows as needed: its caller bounds it, taking no new work past a limit
 * of its own (hm_output_queued).
 */
static struct {
	int on;			/* stdout goes through the queue */
	size_t chunk;		/* bytes per write after one POLLOUT */
	char *buf;
	size_t start, end, cap;
	uint64_t since_ms;	/* when the queue last became non-empty */
} q;

uint64_t hm_output_wait_ms, hm_output_wait_s, hm_output_queued_max;

/* The queue is empty again: count the time results waited in it. */
static void
drained(void)
{
	hm_output_wait_ms += hm_mono_ms() - q.since_ms;
	hm_output_wait_s = hm_output_wait_ms / 1000;
	q.start = q.end = 0;
}

/*
 * Write from the queue while fd 1 has room: 0, or -1 (errno).  wait_ms 0:
 * each write of at most q.chunk follows a poll that says POLLOUT, so none
 * blocks.  wait_ms -1 (at exit, nothing else to do): plain writes, which
 * wait for the reader; poll only if fd 1 says EAGAIN (someone else made it
 * non-blocking).
 */
static int
write_queued(int wait_ms)
{
	struct pollfd pfd = { STDOUT_FILENO, POLLOUT, 0 };
	int must_poll = wait_ms >= 0;
	size_t n;
	ssize_t w;
	int r;

	while (q.start < q.end) {
		if (must_poll) {
			r = poll(&pfd, 1, wait_ms);
			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0)
				return -1;
			if (r == 0)
				break;
		}
		/* POLLERR or POLLHUP too: the write says what went wrong. */
		n = q.end - q.start;
		if (wait_ms >= 0 && n > q.chunk)
			n = q.chunk;
		w = write(STDOUT_FILENO, q.buf + q.start, n);
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			must_poll = 1;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		q.start += (size_t)w;
	}
	if (q.start == q.end && q.end > 0)
		drained();
	return 0;
}

static int
append(const char *p, size_t n)
{
	if (q.start == q.end)
		q.since_ms = hm_mono_ms();
	if (q.start > 0 && q.end + n > q.cap) {
		memmove(q.buf, q.buf + q.start, q.end - q.start);
		q.end -= q.start;
		q.start = 0;
	}
	if (q.end + n > q.cap) {
		size_t cap = q.cap ? q.cap : 256 * 1024;
		char *b;

		while (cap < q.end + n)
			cap *= 2;
		if ((b = realloc(q.buf, cap)) == NULL)
			return -1;
		q.buf = b;
		q.cap = cap;
	}
	memcpy(q.buf + q.end, p, n);
	q.end += n;
	if (q.end - q.start > hm_output_queued_max)
		hm_output_queued_max = q.end - q.start;
	return 0;
}

/* stdio's write: into the queue, then to fd 1 as far as it has room. */
static ssize_t
queue_write(void *cookie, const char *p, size_t n)
{
	(void)cookie;
	if (append(p, n) != 0 || write_queued(0) != 0)
		return -1;
	return (ssize_t)n;
}

void
hm_output_queue(void)
{
	cookie_io_functions_t io = { .write = queue_write };
	struct stat st;
	FILE *f;

	fflush(stdout);
	if ((f = fopencookie(NULL, "w", io)) == NULL)
		hm_err(HM_EXIT_FAIL, "standard output");
	setvbuf(f, outbuf, _IOFBF, sizeof(outbuf));
	/* A file never makes us wait: whole writes.  A terminal may, and
	   a pipe or a socket does: PIPE_BUF at a time. */
	q.chunk = fstat(STDOUT_FILENO, &st) == 0 && S_ISREG(st.st_mode) ?
	    SIZE_MAX : PIPE_BUF;
	stdout = f;
	q.on = 1;
}

size_t
hm_output_queued(void)
{
	return q.end - q.start;
}

int
hm_output_pump(void)
{
	if (fflush(stdout) != 0 || ferror(stdout))
		return -1;
	if (!q.on)
		return 0;
	return write_queued(0);
}

/* At exit nothing is left to read: wait for the reader. */
static int
drain(void)
{
	if (!q.on)
		return 0;
	return write_queued(-1);
}

void
hm_exit(int status)
{
	hm_metrics_write(1);
	if (fflush(stdout) != 0 || ferror(stdout) || drain() != 0) {
		fprintf(stderr, "%s: standard output: %s\n", hm_prog,
		    strerror(errno));
		_Exit(HM_EXIT_FAIL);
	}
	if (fclose(stdout) != 0) {
		fprintf(stderr, "%s: standard output: %s\n", hm_prog,
		    strerror(errno));
		_Exit(HM_EXIT_FAIL);
	}
	exit(status);
}
