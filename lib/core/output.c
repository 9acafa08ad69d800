/* output.c: stdout buffering, the output queue of the probers, and an
   exit that notices failed writes. */
#include <errno.h>
#include <fcntl.h>
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
 * The queue: what stdio wrote that fd 1 would not take yet.  A prober must
 * keep reading its socket while the reader after it is slow, so with
 * hm_output_queue fd 1 (a pipe or a socket) is made non-blocking, stdout
 * writes into this queue, and the loop calls hm_output_pump when fd 1 has
 * room.  The queue grows as needed: its caller bounds it, taking no new
 * work past a limit of its own (hm_output_queued).
 */
static struct {
	int on;			/* stdout goes through the queue */
	int nonblock;		/* we set O_NONBLOCK on fd 1 */
	int oflags;		/* fd 1's flags before */
	char *buf;
	size_t start, end, cap;
	uint64_t since_ms;	/* when the queue last became non-empty */
} q;

uint64_t hm_output_wait_ms, hm_output_wait_s, hm_output_queued_max;

/* Write what fd 1 takes now, from p: the bytes written, or -1 (errno). */
static ssize_t
write_some(const char *p, size_t n)
{
	size_t done = 0;
	ssize_t w;

	while (done < n) {
		w = write(STDOUT_FILENO, p + done, n - done);
		if (w > 0) {
			done += (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		return -1;
	}
	return (ssize_t)done;
}

/* The queue is empty again: count the time results waited in it. */
static void
drained(void)
{
	hm_output_wait_ms += hm_mono_ms() - q.since_ms;
	hm_output_wait_s = hm_output_wait_ms / 1000;
	q.start = q.end = 0;
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

/* stdio's write: straight to fd 1 when nothing waits, the rest queued. */
static ssize_t
queue_write(void *cookie, const char *p, size_t n)
{
	ssize_t w = 0;

	(void)cookie;
	if (q.start == q.end && (w = write_some(p, n)) < 0)
		return -1;
	if ((size_t)w < n && append(p + w, n - (size_t)w) != 0)
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
	/* Only a pipe or a socket: a file never makes us wait, and a
	   terminal's flags are the shell's too. */
	q.oflags = fcntl(STDOUT_FILENO, F_GETFL);
	if (q.oflags >= 0 && !(q.oflags & O_NONBLOCK) &&
	    fstat(STDOUT_FILENO, &st) == 0 &&
	    (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode)) &&
	    fcntl(STDOUT_FILENO, F_SETFL, q.oflags | O_NONBLOCK) == 0)
		q.nonblock = 1;
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
	ssize_t w;

	if (fflush(stdout) != 0 || ferror(stdout))
		return -1;
	if (!q.on || q.start == q.end)
		return 0;
	if ((w = write_some(q.buf + q.start, q.end - q.start)) < 0)
		return -1;
	q.start += (size_t)w;
	if (q.start == q.end)
		drained();
	return 0;
}

/* At exit nothing is left to read: wait for the reader, blocking. */
static int
drain(void)
{
	if (!q.on)
		return 0;
	if (q.nonblock) {
		(void)fcntl(STDOUT_FILENO, F_SETFL, q.oflags);
		q.nonblock = 0;
	}
	if (q.start == q.end)
		return 0;
	if (write_some(q.buf + q.start, q.end - q.start) < 0)
		return -1;
	drained();
	return 0;
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
