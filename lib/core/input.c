/*
 * input.c: the loop over a filter's input files (standard input when none),
 * and the policy for bad lines: report with file and line, count, skip; or,
 * with --strict, stop.
 */
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core.h"

static char *stdin_only[] = { "-" };

void
hm_input_init(struct hm_input *in, char **files, int nfiles)
{
	in->files = nfiles > 0 ? files : stdin_only;
	in->nfiles = nfiles > 0 ? nfiles : 1;
	in->next = 0;
	in->open = 0;
	in->bad = 0;
	in->fds = NULL;
}

void
hm_input_preopen(struct hm_input *in)
{
	int i, fd;
	struct stat st;

	if ((in->fds = calloc((size_t)in->nfiles, sizeof(int))) == NULL)
		hm_err(HM_EXIT_FAIL, "calloc");
	for (i = 0; i < in->nfiles; i++) {
		in->fds[i] = -1;
		if (strcmp(in->files[i], "-") == 0)
			continue;
		/* Regular files only: even a non-blocking open of a named
		   pipe lets a writer waiting in its open go on, to write
		   into a pipe we would close again (the line lost, and our
		   later open waiting for a writer that has gone). */
		if (stat(in->files[i], &st) != 0 || !S_ISREG(st.st_mode))
			continue;
		/* O_NONBLOCK: one swapped for a pipe since must not stop us. */
		fd = open(in->files[i], O_RDONLY | O_CLOEXEC | O_NONBLOCK |
		    O_NOCTTY);
		if (fd < 0)
			continue;
		if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
		    fcntl(fd, F_SETFL, 0) == 0)
			in->fds[i] = fd;
		else
			close(fd);
	}
}

/* Descriptors opened ahead and never reached (a stop) are closed. */
static void
input_end(struct hm_input *in)
{
	int i;

	if (in->fds == NULL)
		return;
	for (i = 0; i < in->nfiles; i++)
		if (in->fds[i] >= 0)
			close(in->fds[i]);
	free(in->fds);
	in->fds = NULL;
}

int
hm_input_next(struct hm_input *in, char **line, size_t *len)
{
	for (;;) {
		/* --strict: no more input after the first bad line; the caller
		   still drains what it holds, so good records are not lost. */
		if (hm_opt.strict && hm_input_badcount(in) > 0) {
			input_end(in);
			return 0;
		}
		if (!in->open) {
			if (in->next >= in->nfiles || hm_stop) {
				input_end(in);
				return 0;
			}
			if (in->fds != NULL && in->fds[in->next] >= 0) {
				hm_lines_open_fd(&in->lr, in->fds[in->next],
				    in->files[in->next], hm_opt.maxline);
				in->fds[in->next++] = -1;
			} else if (hm_lines_open(&in->lr,
			    in->files[in->next++], hm_opt.maxline) != 0) {
				hm_warn("%s", in->files[in->next - 1]);
				in->bad++;
				continue;
			}
			in->open = 1;
		}
		switch (hm_lines_next(&in->lr, line, len)) {
		case 1:
			return 1;
		case -1:
			in->bad++;
			break;
		}
		in->bad += in->lr.toolong;
		hm_lines_close(&in->lr);
		in->open = 0;
	}
}

void
hm_input_bad(struct hm_input *in, const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "%s: %s:%lu: ", hm_prog, in->lr.name, in->lr.lineno);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	in->bad++;
	if (hm_stats_on) {
		/* The reason: the "why" of "%s..." formats, else the format's
		   words before its first conversion. */
		char why[96];

		if (strncmp(fmt, "%s", 2) == 0) {
			va_start(ap, fmt);
			snprintf(why, sizeof(why), "%s", va_arg(ap, char *));
			va_end(ap);
		} else {
			snprintf(why, sizeof(why), "%.*s",
			    (int)strcspn(fmt, "%"), fmt);
			why[strcspn(why, ":")] = '\0';
		}
		for (size_t l = strlen(why); l > 0 && why[l - 1] == ' '; l--)
			why[l - 1] = '\0';
		hm_stats_reason(why);
	}
}

unsigned long
hm_input_badcount(const struct hm_input *in)
{
	return in->bad + (in->open ? in->lr.toolong : 0);
}
