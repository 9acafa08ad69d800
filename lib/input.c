/*
 * input.c: the loop over a filter's input files (standard input when none),
 * and the policy for bad lines: report with file and line, count, skip; or,
 * with --strict, stop.
 */
#include <stdarg.h>
#include <stdlib.h>

#include "hopmap.h"

static char *stdin_only[] = { "-" };

void
hm_input_init(struct hm_input *in, char **files, int nfiles)
{
	in->files = nfiles > 0 ? files : stdin_only;
	in->nfiles = nfiles > 0 ? nfiles : 1;
	in->next = 0;
	in->open = 0;
	in->bad = 0;
}

int
hm_input_next(struct hm_input *in, char **line, size_t *len)
{
	for (;;) {
		/* --strict: no more input after the first bad line; the caller
		   still drains what it holds, so good records are not lost. */
		if (hm_opt.strict && hm_input_badcount(in) > 0)
			return 0;
		if (!in->open) {
			if (in->next >= in->nfiles || hm_stop)
				return 0;
			if (hm_lines_open(&in->lr, in->files[in->next++],
			    hm_opt.maxline) != 0) {
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
}

unsigned long
hm_input_badcount(const struct hm_input *in)
{
	return in->bad + (in->open ? in->lr.toolong : 0);
}
