/*
 * inready.c: whether reading the next line would wait.  A filter that holds
 * output back (cooldown's batch waiting for its commit) must let it go
 * before it blocks on a quiet input, or a trickle of records would sit in
 * the batch until more input happens to arrive.
 */
#include <poll.h>
#include <string.h>
#include <sys/stat.h>

#include "core.h"

int
hm_input_ready(const struct hm_input *in)
{
	struct pollfd pfd;

	if (!in->open) {
		struct stat sb;

		if (in->next >= in->nfiles)
			return 1;
		/* A named FIFO may wait at open; a regular file never does. */
		if (strcmp(in->files[in->next], "-") != 0)
			return stat(in->files[in->next], &sb) != 0 ||
			    S_ISREG(sb.st_mode);
		pfd.fd = 0;
	} else {
		const struct hm_lines *lr = &in->lr;

		if (lr->eof || memchr(lr->buf + lr->start, '\n',
		    lr->end - lr->start) != NULL)
			return 1;
		pfd.fd = lr->fd;
	}
	pfd.events = POLLIN;
	/* Readable, hung up or in error: read() returns at once. */
	return poll(&pfd, 1, 0) != 0;
}
