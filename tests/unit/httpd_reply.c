/* httpd_reply.c: hopmap-httpd's answers and query arguments (web/httpd/reply.c). */
#include <string.h>

#include "httpd/handler.h"
#include "tap.h"

static const char *
arg(const char *query, const char *name, char *buf, size_t cap)
{
	struct hx_req req = { .query = query };

	return hx_arg(&req, name, buf, cap);
}

int
main(void)
{
	char buf[16];
	const char *v;
	struct hx_resp r;

	v = arg("n=10&ip=10.0.0.1", "ip", buf, sizeof buf);
	CHECK(v != NULL && strcmp(v, "10.0.0.1") == 0, "hx_arg: the second argument");
	v = arg("nn=1&n=2", "n", buf, sizeof buf);
	CHECK(v != NULL && strcmp(v, "2") == 0, "hx_arg: a name is matched whole");
	v = arg("a=%41+b%2f", "a", buf, sizeof buf);
	CHECK(v != NULL && strcmp(v, "A b/") == 0, "hx_arg: %%-escapes and + decoded");
	CHECK(arg("a=%4", "a", buf, sizeof buf) == NULL, "hx_arg: a cut escape is refused");
	CHECK(arg("a=%00", "a", buf, sizeof buf) == NULL, "hx_arg: a NUL byte is refused");
	CHECK(arg("a=0123456789abcdef", "a", buf, sizeof buf) == NULL,
	    "hx_arg: a value longer than the buffer is refused");
	v = arg("flag&x=1", "flag", buf, sizeof buf);
	CHECK(v != NULL && *v == '\0', "hx_arg: a bare name is an empty value");
	CHECK(arg("", "a", buf, sizeof buf) == NULL, "hx_arg: an empty query has nothing");

	hx_resp_init(&r);
	hx_error(&r, 404, "no route %s", "/x\"y");
	CHECK(r.status == 404 && r.body != NULL &&
	    strcmp(r.body, "{\"error\":\"no route /x\\\"y\"}\n") == 0,
	    "hx_error: a JSON error line (got %s)", r.body ? r.body : "NULL");
	hx_resp_free(&r);
	CHECK(r.body == NULL && r.fd == -1, "hx_resp_free: the answer is empty again");
	return tap_failed != 0;
}
