/* httpd_dispatch.c: a request in memory to its route, through the key
   check (web/httpd/server_dispatch.c, keys.c), and the access log's
   escaping (server_log.c). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "core/core.h"
#include "httpd/keys_int.h"
#include "httpd/server.h"
#include "tap.h"

static struct hx_ctx ctx = { .name = "n1", .instance_id = "x" };
static struct hs_conf conf;
static struct hs_dispatch d = { .ctx = &ctx, .conf = &conf };

/* Dispatch METHOD PATH with AUTH; the status, and the body in *BODY. */
static int
ask(const char *method, const char *path, const char *auth, char **body,
    char **hval, char *consumer)
{
	struct hx_req req = { .ctx = &ctx, .method = method, .path = path,
	    .query = "", .peer = "127.0.0.1", .body = "" };
	struct hx_resp resp;
	const char *route;
	char name[HK_NAME_MAX + 1] = "";
	int status;

	hx_resp_init(&resp);
	hs_dispatch(&d, &req, auth, &resp, &route, name);
	status = resp.status;
	*body = resp.body != NULL ? strdup(resp.body) : strdup("");
	if (**body != '\0' && (*body)[strlen(*body) - 1] == '\n')
		(*body)[strlen(*body) - 1] = '\0';	/* one TAP line */
	if (hval != NULL)
		*hval = resp.header_value != NULL ? strdup(resp.header_value) :
		    NULL;
	if (consumer != NULL)
		strcpy(consumer, req.consumer != NULL ? req.consumer : "");
	hx_resp_free(&resp);
	return status;
}

/* A store in a temporary file with KEY for w1 and REVOKED revoked. */
static char *
make_store(const char *key, const char *revoked)
{
	static char path[] = "/tmp/httpd_dispatch.XXXXXX";
	struct hk_list l = { 0 };
	struct hk_entry *e;
	int fd = mkstemp(path);

	close(fd);
	e = hk_list_add(&l);
	strcpy(e->name, "w1");
	hk_hash(key, strlen(key), e->hash);
	e = hk_list_add(&l);
	strcpy(e->name, "w0");
	hk_hash(revoked, strlen(revoked), e->hash);
	strcpy(e->revoked, "2026-01-01T00:00:00.000Z");
	if (hk_file_write(path, &l) != 0)
		abort();
	hk_list_free(&l);
	return path;
}

int
main(void)
{
	const char *key = "0123456789abcdefghijABCDEFGHIJ0123456789abc";
	const char *old = "zzzz456789abcdefghijABCDEFGHIJ0123456789abc";
	char auth[128], consumer[HK_NAME_MAX + 1], *body, *hval, esc[32];
	const char *b;
	char *path;
	size_t len;
	int st;

	if (sodium_init() < 0)
		return 1;
	d.opened[0] = 1;	/* the node face */
	st = ask("GET", "/health", NULL, &body, NULL, NULL);
	CHECK(st == 200 && strstr(body, "\"status\":\"ok\"") != NULL,
	    "GET /health: 200 without a key (got %d %s)", st, body);
	free(body);
	st = ask("HEAD", "/health", NULL, &body, NULL, NULL);
	CHECK(st == 200, "HEAD /health: as GET (got %d)", st);
	free(body);
	st = ask("GET", "/nowhere", NULL, &body, NULL, NULL);
	CHECK(st == 404 && strcmp(body, "{\"error\":\"no such path: "
	    "/nowhere\"}") == 0, "GET /nowhere: 404 (got %d %s)", st, body);
	free(body);
	st = ask("DELETE", "/health", NULL, &body, &hval, NULL);
	CHECK(st == 405 && hval != NULL && strcmp(hval, "GET, HEAD") == 0 &&
	    strstr(body, "\"error\"") != NULL,
	    "DELETE /health: 405 with Allow: GET, HEAD (got %d %s)", st,
	    hval ? hval : "no Allow");
	free(body);
	free(hval);

	/* --health-key: the same routes need a key. */
	conf.health_key = 1;
	st = ask("GET", "/health", NULL, &body, &hval, NULL);
	CHECK(st == 401 && hval != NULL && strstr(body, "API key") != NULL,
	    "--health-key, no key: 401 with WWW-Authenticate (got %d %s)", st,
	    body);
	free(body);
	free(hval);
	path = make_store(key, old);
	d.keys = hk_open(path);
	snprintf(auth, sizeof auth, "Bearer %s", key);
	st = ask("GET", "/health", auth, &body, NULL, consumer);
	CHECK(st == 200 && strcmp(consumer, "w1") == 0,
	    "a valid key: 200, consumer w1 (got %d %s)", st, consumer);
	free(body);
	snprintf(auth, sizeof auth, "bearer   %s  ", key);
	st = ask("GET", "/health", auth, &body, NULL, NULL);
	CHECK(st == 200, "the scheme in any case, blanks around (got %d)", st);
	free(body);
	snprintf(auth, sizeof auth, "Bearer %.42sX", key);
	st = ask("GET", "/health", auth, &body, NULL, NULL);
	CHECK(st == 401 && strstr(body, "unknown") != NULL,
	    "a wrong key: 401 unknown (got %d %s)", st, body);
	free(body);
	snprintf(auth, sizeof auth, "Bearer %s", old);
	st = ask("GET", "/health", auth, &body, NULL, NULL);
	CHECK(st == 401 && strstr(body, "revoked") != NULL,
	    "a revoked key: 401 revoked (got %d %s)", st, body);
	free(body);
	st = ask("GET", "/health", "Basic dzE6eA==", &body, NULL, NULL);
	CHECK(st == 401 && strstr(body, "Bearer") != NULL,
	    "another scheme: 401 (got %d %s)", st, body);
	free(body);
	hk_close(d.keys);
	unlink(path);

	b = hs_bearer("Bearer abc", &len);
	CHECK(b != NULL && len == 3 && memcmp(b, "abc", 3) == 0,
	    "hs_bearer: the token");
	CHECK(hs_bearer("Bearer", &len) == NULL, "hs_bearer: no token");
	CHECK(hs_bearer("Bearerabc", &len) == NULL, "hs_bearer: no blank");
	CHECK(hs_bearer("Bearer a b", &len) == NULL, "hs_bearer: two tokens");

	hs_escape("GET /a\"b\n\\", esc, sizeof esc);
	CHECK(strcmp(esc, "GET\\x20/a\\x22b\\x0a\\x5c") == 0,
	    "hs_escape: blanks, quotes, newlines escaped (got %s)", esc);
	hs_escape("0123456789012345678901234567890123456789", esc, 16);
	CHECK(strlen(esc) < 16 && strstr(esc, "...") != NULL,
	    "hs_escape: cut with ... (got %s)", esc);
	CHECK(hk_name_ok("w-1.a_b") && !hk_name_ok("") && !hk_name_ok("a b") &&
	    !hk_name_ok("\xc3\xa9"), "hk_name_ok: the node names' rules");
	return tap_failed != 0;
}
