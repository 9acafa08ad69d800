/*
 * send.c: sqlsink --send, the client side of a session: a session
 * line, standard input, a half-close, and the sink's answer, which comes
 * only after the commit that holds the last line.  The answer is printed
 * as one line that hopmap-hub recv passes on as it is:
 *
 *   ok N                         all N lines stored, or stored before
 *   refused R of N: line L: why; line L: why
 *   error REASON                 nothing known: the sink is down, stopped,
 *                                did not answer in time
 *
 * and the exit status says the same: 0, 1, 3.
 */
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sink.h"

/* What the sink says is printed, never obeyed: printable ASCII only. */
static void
print_plain(const char *s)
{
	for (; *s != '\0'; s++)
		putchar(*s >= 0x20 && *s < 0x7f ? *s : '?');
}

static int
fail(const char *what, const char *detail)
{
	printf("error %s", what);
	if (detail != NULL) {
		fputs(": ", stdout);
		print_plain(detail);
	}
	putchar('\n');
	return HM_EXIT_FAIL;
}

/* Standard input to the sink; the number of lines sent (a last line
   without a newline counts: the sink reports it torn), -1 on a write
   error (errno set), -2 on a read error. */
static long
copy_input(int fd)
{
	static char buf[65536];
	long lines = 0;
	char last = '\n';
	ssize_t n, i;

	for (;;) {
		n = read(0, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -2;
		if (n == 0)
			break;
		for (i = 0; i < n; i++)
			lines += buf[i] == '\n';
		last = buf[n - 1];
		if (sink_client_write(fd, buf, (size_t)n) != 0)
			return -1;
	}
	return lines + (last != '\n');
}

/* The answer, judged against what was sent. */
static int
judge(const char *text, long sent)
{
	json_t *a, *list, *r;
	json_int_t lines, stored, dups, refused;
	int complete;
	size_t i;
	const char *err;

	if ((a = json_loads(text, 0, NULL)) == NULL)
		return fail("the sink's answer is not JSON", NULL);
	if (json_unpack(a, "{s:s}", "error", &err) == 0) {
		fail("the sink refused the session", err);
		json_decref(a);
		return HM_EXIT_FAIL;
	}
	if (json_unpack(a, "{s:I,s:I,s:I,s:I,s:b,s:o}", "lines", &lines,
	    "stored", &stored, "duplicate", &dups, "refused", &refused,
	    "complete", &complete, "refusals", &list) != 0) {
		json_decref(a);
		return fail("the sink's answer lacks counts", NULL);
	}
	if (sink_opt.verbose)
		SAY("%ld lines: %lld stored, %lld duplicates, %lld refused",
		    sent, (long long)stored, (long long)dups,
		    (long long)refused);
	if (!complete || lines != sent) {
		printf("error the sink %s %lld of %ld lines (%lld stored)\n",
		    complete ? "counted" : "stopped after", (long long)lines,
		    sent, (long long)stored);
		json_decref(a);
		return HM_EXIT_FAIL;
	}
	if (refused > 0) {
		printf("refused %lld of %ld", (long long)refused, sent);
		json_array_foreach(list, i, r) {
			json_int_t l = 0;
			const char *why = "?";

			json_unpack(r, "{s:I,s:s}", "line", &l, "reason", &why);
			printf("%s line %lld: ", i == 0 ? ":" : ";",
			    (long long)l);
			print_plain(why);
		}
		putchar('\n');
		json_decref(a);
		return HM_EXIT_BADINPUT;
	}
	json_decref(a);
	printf("ok %ld\n", sent);
	return HM_EXIT_OK;
}

int
sink_send(const char *path, const char *node, const char *segment,
    const char *peer, uint64_t wait_ms)
{
	char answer[16384];
	long sent = 0;
	int fd, werr = 0, begun;

	signal(SIGPIPE, SIG_IGN);
	if ((fd = sink_client_connect(path, wait_ms)) < 0)
		return fail("the sink is not there", strerror(errno));
	/* A write that fails may be the sink refusing the session: its
	   answer, if any, says why. */
	if ((begun = sink_client_begin(fd, node, segment, peer)) == -2)
		hm_errx(HM_EXIT_USAGE, "the node name is not UTF-8, or the "
		    "session line is too long");
	if (begun != 0 || (sent = copy_input(fd)) == -1)
		werr = errno;
	else if (sent == -2)
		return fail("standard input", strerror(errno));
	shutdown(fd, SHUT_WR);
	if (sink_client_answer(fd, answer, sizeof(answer), wait_ms) < 0) {
		int e = errno;

		close(fd);
		if (werr != 0)
			return fail("the sink stopped reading",
			    strerror(werr));
		if (e == ETIMEDOUT)
			return fail("no answer from the sink in time", NULL);
		return fail("the sink closed the connection without an answer",
		    e != 0 ? strerror(e) : NULL);
	}
	close(fd);
	return judge(answer, sent);
}
