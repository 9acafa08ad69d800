/* httpd_gate_out.c: POST /results without sockets: bodies to session
   lines (web/httpd/gate_out_body.c), the sink's answer to the HTTP one
   (gate_out_answer.c). */
#include <stdlib.h>
#include <string.h>

#include "httpd/gate_out.h"
#include "tap.h"

/* BODY split as FORM: the session text, or "!" and the reason. */
static char out[4096];
static const char *
split(enum go_form form, const char *body, unsigned long *lineno)
{
	struct go_lines l;
	char why[200];

	if (go_split(form, body, strlen(body), &l, why, sizeof why) != 0) {
		snprintf(out, sizeof out, "!%s", why);
		return out;
	}
	snprintf(out, sizeof out, "%.*s", (int)l.len, l.text);
	if (lineno != NULL)
		memcpy(lineno, l.lineno, l.n * sizeof *lineno);
	go_lines_free(&l);
	return out;
}

static int
is(const char *got, const char *want, const char *what)
{
	int ok = strcmp(got, want) == 0;

	CHECK(ok, "%s", what);
	if (!ok)
		printf("#   got  [%s]\n#   want [%s]\n", got, want);
	return ok;
}

/* The HTTP answer to sink answer SINK for a body of N lines numbered
   as LINENO says. */
static struct hx_resp
answer(const char *sink, unsigned long n, unsigned long *lineno)
{
	struct go_lines l = { .n = n, .lineno = lineno };
	struct hx_resp r;
	json_t *a = json_loads(sink, 0, NULL);

	hx_resp_init(&r);
	go_answer(a, &l, &r);
	json_decref(a);
	return r;
}

static void
forms(void)
{
	CHECK(go_form(NULL) == GO_NDJSON, "no Content-Type is NDJSON");
	CHECK(go_form("application/x-ndjson") == GO_NDJSON, "x-ndjson");
	CHECK(go_form("Application/JSON; charset=utf-8") == GO_JSON,
	    "application/json, any case, with a parameter");
	CHECK(go_form("application/jsonx") == GO_BADTYPE,
	    "a type is matched whole");
	CHECK(go_form("multipart/form-data") == GO_BADTYPE, "a form is refused");
}

static void
ndjson(void)
{
	unsigned long ln[8];

	is(split(GO_NDJSON, "{\"a\":1}\n{\"b\":2}\n", NULL),
	    "{\"a\":1}\n{\"b\":2}\n", "NDJSON goes as it came");
	is(split(GO_NDJSON, "{\"a\":1}\n\n  \r\n{\"b\":2}", ln),
	    "{\"a\":1}\n{\"b\":2}\n",
	    "blank lines dropped, the last line given its newline");
	CHECK(ln[0] == 1 && ln[1] == 4, "the client's line numbers kept "
	    "(%lu %lu)", ln[0], ln[1]);
	is(split(GO_NDJSON, "", NULL), "", "an empty body is no line");
	is(split(GO_NDJSON, "not json\n{\"a\":1}\n", NULL),
	    "not json\n{\"a\":1}\n", "a bad line is the sink's to refuse");
}

static void
array(void)
{
	unsigned long ln[8];

	is(split(GO_JSON, "[{\"a\":1},{\"b\":[1,2]}]", ln),
	    "{\"a\":1}\n{\"b\":[1,2]}\n", "an array's elements, one a line");
	CHECK(ln[0] == 1 && ln[1] == 2, "numbered by element");
	is(split(GO_JSON, "[\n  {\n    \"a\": 0.4,\n    \"b\": \"x\"\n  },\n"
	    "  {\"c\": 1e3}\n]\n", NULL),
	    "{     \"a\": 0.4,     \"b\": \"x\"   }\n{\"c\": 1e3}\n",
	    "pretty-printed: newlines made spaces, numbers kept as written");
	is(split(GO_JSON, "[{\"s\":\"],[{\\\"\"},{\"t\":\"}\"}]", NULL),
	    "{\"s\":\"],[{\\\"\"}\n{\"t\":\"}\"}\n",
	    "brackets, commas and escaped quotes in strings count for nothing");
	is(split(GO_JSON, " [ ] ", NULL), "", "an empty array is no line");
	is(split(GO_JSON, "{\"a\":1}\n", NULL), "{\"a\":1}\n",
	    "one record, not in an array");
	is(split(GO_JSON, "[{\"a\":tru},5]", NULL), "{\"a\":tru}\n5\n",
	    "a bad element is the sink's to refuse");
	is(split(GO_JSON, "[{\"a\":1}", NULL), "!the array is not closed",
	    "an array not closed is refused whole");
	is(split(GO_JSON, "[{\"a\":1},]", NULL), "!array element 2 is empty",
	    "a trailing comma is refused");
	is(split(GO_JSON, "[1]}", NULL), "!text after the array",
	    "text after the array is refused");
	is(split(GO_JSON, "[1}", NULL), "!the array has an unmatched '}'",
	    "an unmatched brace is refused");
	is(split(GO_JSON, "\"x\"", NULL),
	    "!a JSON body is an array of records (or one record)",
	    "a string is not a body");
	is(split(GO_JSON, "[\"a\\", NULL), "!the array is not closed",
	    "a body cut in an escape");
}

static void
answers(void)
{
	unsigned long ln[3] = { 1, 4, 5 };
	struct hx_resp r;

	r = answer("{\"hopmap-session\":1,\"lines\":3,\"stored\":2,"
	    "\"duplicate\":1,\"refused\":0,\"complete\":true,\"refusals\":[]}",
	    3, ln);
	CHECK(r.status == 200, "all stored: 200");
	is(r.body, "{\"lines\":3,\"stored\":2,\"duplicate\":1,\"refused\":0}\n",
	    "the counts");
	hx_resp_free(&r);
	r = answer("{\"hopmap-session\":1,\"lines\":3,\"stored\":2,"
	    "\"duplicate\":0,\"refused\":1,\"complete\":true,\"refusals\":"
	    "[{\"line\":2,\"reason\":\"bad JSON\"}]}", 3, ln);
	CHECK(r.status == 422, "a refusal: 422");
	is(r.body, "{\"error\":\"refused 1 of 3: line 4: bad JSON\",\"lines\":3,"
	    "\"stored\":2,\"duplicate\":0,\"refused\":1,\"reasons\":"
	    "[{\"line\":4,\"why\":\"bad JSON\"}]}\n",
	    "the reasons name the client's line");
	hx_resp_free(&r);
	r = answer("{\"hopmap-session\":1,\"lines\":2,\"stored\":2,"
	    "\"duplicate\":0,\"refused\":0,\"complete\":false,\"refusals\":[]}",
	    3, ln);
	CHECK(r.status == 503, "a sink that stopped: 503 (send again)");
	hx_resp_free(&r);
	r = answer("{\"hopmap-session\":1,\"lines\":2,\"stored\":2,"
	    "\"duplicate\":0,\"refused\":0,\"complete\":true,\"refusals\":[]}",
	    3, ln);
	CHECK(r.status == 503, "a sink that counted other lines: 503");
	hx_resp_free(&r);
	r = answer("{\"hopmap-session\":1,\"error\":\"bad node\"}", 3, ln);
	CHECK(r.status == 500 && strstr(r.body, "bad node") != NULL,
	    "a session refused: 500 with the sink's reason");
	hx_resp_free(&r);
	r = answer("{\"x\":1}", 3, ln);
	CHECK(r.status == 503, "an answer without counts: 503");
	hx_resp_free(&r);
}

int
main(void)
{
	forms();
	ndjson();
	array();
	answers();
	CHECK(go_plain("w1.example-2", 64, "._-") && !go_plain("a b", 64,
	    "._-") && !go_plain("", 64, "._-"), "plain names");
	return tap_failed != 0;
}
