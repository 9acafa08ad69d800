/* httpd_gate_in_routes.c: the input's routes called with requests built in
   memory (web/httpd/gate_in.c): statuses, types, errors as JSON. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/core.h"
#include "httpd/handler.h"
#include "httpd/gate_in.h"
#include "tap.h"

static struct hx_ctx ctx;

static void
call(const char *method, const char *path, const char *query,
    const char *who, int admin, const char *body, struct hx_resp *resp)
{
	const struct hx_route *r;
	struct hx_req req = { .ctx = &ctx, .method = method, .path = path,
	    .query = query, .consumer = who, .admin = admin, .peer = "test",
	    .body = body ? body : "", .body_len = body ? strlen(body) : 0 };

	hx_resp_free(resp);
	for (r = hx_gate_in_module.routes; r->fn != NULL; r++)
		if (strcmp(r->method, method) == 0 && strcmp(r->path, path) == 0)
			break;
	if (r->fn == NULL) {
		printf("# no route %s %s\n", method, path);
		exit(2);
	}
	r->fn(&req, resp);
}

/* The body's "error" is a non-empty string. */
static int
json_error(const struct hx_resp *resp)
{
	json_t *v = resp->body ? json_loads(resp->body, 0, NULL) : NULL;
	int ok = json_is_string(json_object_get(v, "error")) &&
	    json_string_length(json_object_get(v, "error")) > 0;

	json_decref(v);
	return ok;
}

static size_t
lines(const struct hx_resp *resp)
{
	size_t i, n = 0;

	for (i = 0; i < resp->len; i++)
		n += resp->body[i] == '\n';
	return n;
}

int
main(void)
{
	static char dir[] = "/tmp/gate_in_routes.XXXXXX";
	static const char *const bad_n[] = { "n=0", "n=100001", "n=x", "n=",
	    "n=-1", "n=%zz" };
	char path[300], *exported;
	struct hx_resp r;
	size_t i;
	FILE *f;
	int ok;

	hx_resp_init(&r);
	if (mkdtemp(dir) == NULL)
		return 2;
	snprintf(path, sizeof path, "%s/ranges", dir);
	mkdir(path, 0755);
	snprintf(path, sizeof path, "%s/ranges/a.txt", dir);
	if ((f = fopen(path, "w")) == NULL)
		return 2;
	fputs("1.2.3.0/28\n", f);
	fclose(f);
	ctx.hub_dir = dir;
	CHECK(hx_gate_in_module.open(&ctx, 0) == 0 && ctx.mod[0] != NULL,
	    "open: the engine over HUB/ranges and HUB/gateway.db");

	for (ok = 0, i = 0; i < sizeof bad_n / sizeof bad_n[0]; i++) {
		call("GET", "/targets", bad_n[i], "w1", 0, NULL, &r);
		ok += r.status == 400 && json_error(&r);
	}
	CHECK(ok == (int)i, "GET /targets: a bad n is 400 with a JSON error "
	    "(%d of %zu)", ok, i);
	call("GET", "/targets", "n=5", "w1", 0, NULL, &r);
	CHECK(r.status == 200 && lines(&r) == 5 && r.type != NULL &&
	    strcmp(r.type, "application/x-ndjson") == 0 &&
	    strncmp(r.body, "{\"ip\":\"1.2.3.", 13) == 0,
	    "GET /targets?n=5: five target records");
	call("GET", "/", "", "w1", 0, NULL, &r);
	CHECK(r.status == 200 && lines(&r) == 1 && r.type != NULL &&
	    strcmp(r.type, "text/plain") == 0 &&
	    strncmp(r.body, "1.2.3.", 6) == 0, "GET /: one bare address");
	call("GET", "/targets", "", "w1", 0, NULL, &r);
	CHECK(r.status == 200 && lines(&r) == 10, "GET /targets: n defaults "
	    "to 100, the 10 left are given");
	call("GET", "/targets", "n=3", "w1", 0, NULL, &r);
	CHECK(r.status == 204 && r.body == NULL, "GET /targets: 204 without a "
	    "body when nothing is left");
	call("POST", "/hops", "", "w1", 0, "5.5.5.5\nbad line\n"
	    "{\"ip\":\"5.5.5.6\",\"found_by\":\"w2\"}\n", &r);
	CHECK(r.status == 422 && json_error(&r) &&
	    strstr(r.body, "\"added\":2") != NULL &&
	    strstr(r.body, "line 2") != NULL, "POST /hops: a bad line is "
	    "422 naming it, the good ones are kept");
	call("POST", "/hops", "", "w1", 0, "5.5.5.5\n", &r);
	CHECK(r.status == 200 && strcmp(r.body,
	    "{\"lines\":1,\"added\":0,\"known\":1}\n") == 0,
	    "POST /hops: a known hop is counted, not added");
	call("GET", "/targets", "n=3", "w1", 0, NULL, &r);
	CHECK(r.status == 200 && lines(&r) == 2 &&
	    strstr(r.body, "\"found_by\":\"w2\"") != NULL,
	    "GET /targets: the hops, with found_by");
	call("GET", "/status", "", "w1", 0, NULL, &r);
	CHECK(r.status == 200 && strstr(r.body, "\"name\":\"w1\"") != NULL &&
	    strstr(r.body, "\"done\":16") != NULL, "GET /status: w1 done 16");
	call("GET", "/export", "consumer=w2", "w1", 0, NULL, &r);
	CHECK(r.status == 403 && json_error(&r), "GET /export: another "
	    "consumer's state is 403 without an admin key");
	call("GET", "/export", "consumer=w9", "adm", 1, NULL, &r);
	CHECK(r.status == 404 && json_error(&r), "GET /export: an unknown "
	    "consumer is 404");
	call("GET", "/export", "", "w1", 0, NULL, &r);
	CHECK(r.status == 200 && strstr(r.body, "\"done\":16") != NULL,
	    "GET /export: a key's own consumer by default");
	exported = strdup(r.body);
	call("POST", "/import", "", "w1", 0, "{\"consumer\":", &r);
	CHECK(r.status == 400 && json_error(&r), "POST /import: bad JSON is "
	    "400");
	call("POST", "/import", "", "w2", 0, exported, &r);
	CHECK(r.status == 403 && json_error(&r), "POST /import: another "
	    "consumer's state is 403 without an admin key");
	call("POST", "/import", "", "adm", 1, exported, &r);
	CHECK(r.status == 200 && strstr(r.body, "\"ranges_match\":true"),
	    "POST /import: an admin key may");
	free(exported);
	hx_resp_free(&r);
	hx_gate_in_module.close(&ctx, 0);
	if (tap_failed == 0) {
		snprintf(path, sizeof path, "rm -rf %s", dir);
		if (system(path) != 0)
			return 2;
	}
	return tap_failed != 0;
}
