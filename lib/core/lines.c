/*
 * lines.c: a line reader with a ceiling on line length.
 *
 * An over-long line is reported once and skipped up to its newline: never
 * split into pieces, which could each parse as a bogus record.  Memory is
 * bounded by the ceiling, whatever the input.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core.h"

#define READ_CHUNK (256 * 1024)

int
hm_lines_open(struct hm_lines *lr, const char *name, size_t maxline)
{
	int fd = 0;

	if (strcmp(name, "-") != 0 &&
	    (fd = open(name, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	hm_lines_open_fd(lr, fd, name, maxline);
	return 0;
}

void
hm_lines_open_fd(struct hm_lines *lr, int fd, const char *name,
    size_t maxline)
{
	memset(lr, 0, sizeof(*lr));
	lr->fd = fd;
	lr->name = strcmp(name, "-") == 0 ? "(stdin)" : name;
	lr->maxline = maxline;
	/* Room for one whole line plus its newline, and a read's worth. */
	lr->cap = maxline + 2 + READ_CHUNK;
	if ((lr->buf = malloc(lr->cap)) == NULL)
		hm_err(HM_EXIT_FAIL, "malloc");
}

void
hm_lines_close(struct hm_lines *lr)
{
	if (lr->fd > 0)
		close(lr->fd);
	free(lr->buf);
	lr->buf = NULL;
}

/* Read more into the buffer; 1 if something came, 0 at EOF, -1 error. */
static int
fill(struct hm_lines *lr)
{
	ssize_t n;

	if (lr->start > 0) {
		memmove(lr->buf, lr->buf + lr->start, lr->end - lr->start);
		lr->end -= lr->start;
		lr->start = 0;
	}
	/* We may block now: let downstream have what we have made so far. */
	fflush(stdout);
	for (;;) {
		if (hm_stop)
			return 0;
		n = read(lr->fd, lr->buf + lr->end, lr->cap - lr->end - 1);
		if (n > 0) {
			lr->end += (size_t)n;
			return 1;
		}
		if (n == 0)
			return 0;
		if (errno != EINTR) {
			hm_warn("%s", lr->name);
			return -1;
		}
	}
}

int
hm_lines_next(struct hm_lines *lr, char **line, size_t *len)
{
	for (;;) {
		char *nl = memchr(lr->buf + lr->start, '\n', lr->end - lr->start);
		size_t n;

		if (nl == NULL && !lr->eof) {
			size_t have = lr->end - lr->start;
			int r;

			if (have > lr->maxline + 1) {
				/* No newline within the ceiling: drop what we
				   have and skip until the next newline. */
				if (!lr->skipping) {
					lr->lineno++;
					lr->toolong++;
					hm_linewarn(lr->name, lr->lineno,
					    "line too long (more than %zu bytes), "
					    "skipped", lr->maxline);
				}
				lr->skipping = 1;
				lr->start = lr->end = 0;
			}
			if ((r = fill(lr)) < 0)
				return -1;
			if (r == 0)
				lr->eof = 1;
			continue;
		}
		if (nl == NULL) {
			/* End of input: a last line without a newline counts. */
			if (lr->start == lr->end || lr->skipping)
				return 0;
			nl = lr->buf + lr->end;
		}
		n = (size_t)(nl - (lr->buf + lr->start));
		*line = lr->buf + lr->start;
		lr->start += n + (nl < lr->buf + lr->end);
		if (lr->skipping) {
			lr->skipping = 0;
			continue;
		}
		lr->lineno++;
		if (n > 0 && (*line)[n - 1] == '\r')
			n--;
		if (n > lr->maxline) {
			lr->toolong++;
			hm_linewarn(lr->name, lr->lineno,
			    "line too long (more than %zu bytes), skipped",
			    lr->maxline);
			continue;
		}
		(*line)[n] = '\0';
		*len = n;
		return 1;
	}
}
