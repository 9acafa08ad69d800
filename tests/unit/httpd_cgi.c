/* httpd_cgi.c: the header lines of a CGI's output (web/httpd/cgi.c,
   hs_cgi_parse) and which paths are the manager's. */
#include <string.h>

#include "httpd/server.h"
#include "tap.h"

static struct hs_cgi c;
static char why[256];

static int
parse(const char *text)
{
	*why = '\0';
	return hs_cgi_parse(text, strlen(text), &c, why, sizeof why);
}

int
main(void)
{
	CHECK(parse("Status: 303 See Other\r\nLocation: /m/\r\n"
	    "Set-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\n") == 0 &&
	    c.status == 303 && c.nheaders == 3 &&
	    strcmp(c.headers[0].name, "Location") == 0 &&
	    strcmp(c.headers[1].value, "a=1") == 0 &&
	    strcmp(c.headers[2].value, "b=2") == 0,
	    "Status taken apart, the other headers kept in order, both cookies");
	CHECK(parse("Content-Type: text/html\n\n") == 0 && c.status == 200 &&
	    c.nheaders == 1, "LF alone ends lines too; no Status is 200");
	CHECK(parse("Location: /x\r\n\r\n") == 0 && c.status == 302,
	    "a Location alone is a redirect (302)");
	CHECK(parse("status:404 Not Found\r\n\r\n") == 0 && c.status == 404,
	    "the Status name in any case, no space needed");
	CHECK(parse("Content-Type:   text/plain  \r\n\r\n") == 0 &&
	    strcmp(c.headers[0].value, "text/plain  ") == 0,
	    "blanks after the colon skipped");
	CHECK(parse("no colon here\r\n\r\n") != 0 && strstr(why, "name"),
	    "a line without a name refused, saying why");
	CHECK(parse(": value\r\n\r\n") != 0, "an empty name refused");
	CHECK(parse("Status: 42\r\n\r\n") != 0 && parse("Status: x\r\n\r\n")
	    != 0, "a status outside 100-599 refused");
	CHECK(hs_cgi_parse("Status:", 7, &c, why, sizeof why) != 0 &&
	    hs_cgi_parse("Status: 2", 9, &c, why, sizeof why) != 0 &&
	    hs_cgi_parse("Status: 200", 11, &c, why, sizeof why) == 0 &&
	    c.status == 200, "a Status at the text's very end read within it "
	    "(found by the fuzzer)");
	CHECK(parse("Status: 2000\r\n\r\n") != 0, "four digits refused");
	CHECK(parse("X-A: a\x01" "b\r\n\r\n") != 0,
	    "a control byte in a header refused (no header splitting)");
	{
		char many[HS_CGI_HEADERS * 16 + 16] = "";

		for (int i = 0; i <= HS_CGI_HEADERS; i++)
			strcat(many, "X-N: 1\r\n");
		strcat(many, "\r\n");
		CHECK(parse(many) != 0, "more than %d headers refused",
		    HS_CGI_HEADERS);
	}
	CHECK(hs_cgi_path("/manager") && hs_cgi_path("/manager/") &&
	    hs_cgi_path("/manager/map.svg") && !hs_cgi_path("/managerx") &&
	    !hs_cgi_path("/manage") && !hs_cgi_path("/health"),
	    "/manager and what is under it, nothing else");
	return tap_failed != 0;
}
