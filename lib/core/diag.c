/* diag.c: diagnostics in the form "prog: reason" and "prog: file:line: reason". */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

const char *hm_prog = "hopmap";

void
hm_setprog(char **argv)
{
	char *slash = strrchr(argv[0], '/');

	if (slash != NULL)
		argv[0] = slash + 1;
	hm_prog = argv[0];
}

static void
vmessage(int with_errno, const char *fmt, va_list ap)
{
	int saved = errno;

	/* Our own output goes first, so the message lands after what led to it. */
	fflush(stdout);
	fprintf(stderr, "%s: ", hm_prog);
	vfprintf(stderr, fmt, ap);
	if (with_errno)
		fprintf(stderr, ": %s", strerror(saved));
	fputc('\n', stderr);
}

void
hm_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmessage(0, fmt, ap);
	va_end(ap);
}

void
hm_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmessage(1, fmt, ap);
	va_end(ap);
}

void
hm_errx(int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmessage(0, fmt, ap);
	va_end(ap);
	exit(status);
}

void
hm_err(int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmessage(1, fmt, ap);
	va_end(ap);
	exit(status);
}

void
hm_linewarn(const char *file, unsigned long line, const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "%s: %s:%lu: ", hm_prog, file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}
