/* httpd_cgi.c: the header lines of a CGI's output as hopmap-httpd
   --manager parses them (web/httpd/cgi.c, hs_cgi_parse) under libFuzzer.
   What is accepted holds together: a status in 100-599, at most
   HS_CGI_HEADERS headers, each with a name without a colon and no control
   byte (no header splitting into the answer); what is refused says why. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "httpd/server.h"

static void
no_control(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 && *s != '\t')
			abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct hs_cgi c;
	char why[256] = "";

	if (hs_cgi_parse((const char *)data, size, &c, why, sizeof why) != 0) {
		if (why[0] == '\0')
			abort();
		return 0;
	}
	if (c.status < 100 || c.status > 599 || c.nheaders > HS_CGI_HEADERS)
		abort();
	for (size_t i = 0; i < c.nheaders; i++) {
		if (c.headers[i].name[0] == '\0' ||
		    strchr(c.headers[i].name, ':') != NULL)
			abort();
		no_control(c.headers[i].name);
		no_control(c.headers[i].value);
	}
	return 0;
}
