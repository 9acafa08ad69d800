/* authlog.c: the log that fail2ban reads.  One line per event, written
   with one write(2) in append mode, so lines from concurrent CGI
   processes never interleave; its fields are escaped words, so the filter
   (examples/fail2ban/) can anchor on them. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "manager/manager.h"

#define FIELD_MAX 64	/* input bytes kept of a field; a longer one is cut */

void
mg_log_escape(const char *in, char *out, size_t cap)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i, o = 0;

	if (cap == 0)
		return;
	if (in == NULL || *in == '\0')
		in = "-";
	for (i = 0; in[i] != '\0' && i < FIELD_MAX; i++) {
		unsigned char c = (unsigned char)in[i];
		int plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		    c == ':' || c == '@' || c == '-';

		if (o + (plain ? 1 : 3) + 1 > cap)
			break;
		if (plain)
			out[o++] = (char)c;
		else {
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	/* A cut field says so with a '~', which no escaped byte is. */
	if ((in[i] != '\0') && o + 2 <= cap)
		out[o++] = '~';
	out[o] = '\0';
}

void
mg_authlog(const char *path, const char *event, const char *user,
    const char *ip, const char *reason, time_t now)
{
	char u[3 * FIELD_MAX + 2], a[3 * FIELD_MAX + 2], r[3 * FIELD_MAX + 2];
	char when[40], line[1024];
	struct tm tm;
	int fd, n;

	mg_log_escape(user, u, sizeof u);
	mg_log_escape(ip, a, sizeof a);
	mg_log_escape(reason, r, sizeof r);
	gmtime_r(&now, &tm);
	strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
	n = snprintf(line, sizeof line, "%s hopmap-manager[%ld]: %s user=%s "
	    "ip=%s reason=%s\n", when, (long)getpid(), event, u, a, r);
	if (n < 0 || (size_t)n >= sizeof line)
		return;
	fd = path != NULL && *path != '\0' ? open(path, O_WRONLY | O_APPEND |
	    O_CREAT | O_CLOEXEC, 0640) : STDERR_FILENO;
	if (fd < 0) {
		/* The server's error log, then: a failure is never lost, and
		   the operator whose fail2ban watches the file learns why it
		   stays empty. */
		char why[512];
		int m = snprintf(why, sizeof why, "hopmap-manager: %s: %s (the "
		    "line below goes here instead)\n", path, strerror(errno));

		if (m > 0 && (size_t)m < sizeof why &&
		    write(STDERR_FILENO, why, (size_t)m) != m) {
			/* stderr is all there is */
		}
		fd = STDERR_FILENO;
	}
	if (write(fd, line, (size_t)n) != n) {
		/* Nothing more to do: stderr is the server's log already. */
	}
	if (fd != STDERR_FILENO)
		close(fd);
}
