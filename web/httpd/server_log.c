/* server_log.c: the access log, one line a request on stderr:
     hopmap-httpd: PEER "METHOD PATH[?QUERY]" STATUS BYTES CONSUMER
   What the client sent is escaped (\xHH), so a line is one line and a
   request cannot forge another. */
#include <stdio.h>
#include <string.h>

#include "core/core.h"
#include "httpd/server.h"

void
hs_escape(const char *s, char *buf, size_t cap)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = 0;

	if (cap == 0)
		return;
	for (; s != NULL && *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		int plain = c > 0x20 && c < 0x7f && c != '"' && c != '\\';

		if (n + (plain ? 1 : 4) + 4 > cap) {
			if (n + 4 <= cap) {
				memcpy(buf + n, "...", 3);
				n += 3;
			}
			break;
		}
		if (plain) {
			buf[n++] = (char)c;
		} else {
			buf[n++] = '\\';
			buf[n++] = 'x';
			buf[n++] = hex[c >> 4];
			buf[n++] = hex[c & 15];
		}
	}
	buf[n] = '\0';
}

void
hs_log_request(const char *peer, const char *method, const char *path,
    const char *query, int status, uint64_t bytes, const char *consumer)
{
	char m[32], p[1024], q[1024], c[80];

	hs_escape(method, m, sizeof m);
	hs_escape(path, p, sizeof p);
	hs_escape(query, q, sizeof q);
	hs_escape(consumer, c, sizeof c);
	fprintf(stderr, "%s: %s \"%s %s%s%s\" %d %llu %s\n", hm_prog,
	    peer != NULL ? peer : "-", m, p, q[0] ? "?" : "", q, status,
	    (unsigned long long)bytes, c[0] ? c : "-");
}
