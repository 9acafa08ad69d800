/*
 * libFuzzer target: what hopmap-httpd reads from a client outside
 * libmicrohttpd.  The input is a request in memory, its fields one a line
 * (method, path, query, Authorization, Content-Type), the rest its body;
 * it goes through the dispatch (route, key check, the node face's
 * handlers), the query arguments (hx_arg), the Bearer parsing and the
 * access log's escaping.  The body is also read as a metrics file
 * (node_prom.c), as two files sharing its families.  Invariants: an
 * answer always has a status, an error always a JSON body.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "core/core.h"
#include "httpd/keys.h"
#include "httpd/node.h"
#include "httpd/node_prom.h"
#include "httpd/server.h"

/* The node face only: the gateway's modules fuzz their own handlers. */
const struct hx_module *const hx_modules[] = { &hx_node_module, NULL };

static struct hx_ctx ctx = { .name = "fuzz", .instance_id = "0" };
static struct hs_conf conf;
static struct hs_dispatch d = { .ctx = &ctx, .conf = &conf };
static FILE *devnull;

static void
init(void)
{
	char path[] = "/tmp/fuzz-keys.XXXXXX";
	int fd;

	if (sodium_init() < 0 || (fd = mkstemp(path)) < 0)
		abort();
	/* The key "k" * 43 for w1 (any store will do: the input guesses). */
	dprintf(fd, "{\"name\":\"w1\",\"hash\":\"%s\",\"admin\":false}\n",
	    "0000000000000000000000000000000000000000000000000000000000000000");
	close(fd);
	d.keys = hk_open(path);
	unlink(path);	/* a store gone: no keys, and nothing left behind */
	d.opened[0] = 1;
	devnull = fopen("/dev/null", "w");
}

/* The next line of [*P, E) as a NUL-terminated copy (into BUF). */
static const char *
field(const char **p, const char *e, char *buf, size_t cap)
{
	const char *nl = memchr(*p, '\n', (size_t)(e - *p));
	size_t n = (size_t)((nl != NULL ? nl : e) - *p);

	if (n >= cap)
		n = cap - 1;
	memcpy(buf, *p, n);
	buf[n] = '\0';
	*p = nl != NULL ? nl + 1 : e;
	return buf;
}

static void
prom(const char *text)
{
	struct np_file f[2] = { { "a", (char *)text, 0 },
	    { "b\"\\\n", (char *)text, 1e9 } };
	struct np_set set = { f, 2 };
	json_t *sum;

	np_merge(&set, devnull);
	set.n = 1;
	np_merge(&set, devnull);
	sum = np_summary(&set);
	json_decref(sum);
}

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	static int ready;
	char method[64], path[4096], query[4096], auth[4096], type[256];
	char arg[256], esc[512], name[HK_NAME_MAX + 1];
	const char *p = (const char *)data, *e = p + size, *route, *tok;
	char *body;
	struct hx_req req;
	struct hx_resp resp;
	size_t len;

	if (!ready) {
		init();
		ready = 1;
	}
	memset(&req, 0, sizeof req);
	req.ctx = &ctx;
	req.method = field(&p, e, method, sizeof method);
	req.path = field(&p, e, path, sizeof path);
	req.query = field(&p, e, query, sizeof query);
	field(&p, e, auth, sizeof auth);
	req.content_type = field(&p, e, type, sizeof type);
	req.peer = "192.0.2.1";
	if ((body = malloc((size_t)(e - p) + 1)) == NULL)
		return 0;
	memcpy(body, p, (size_t)(e - p));
	body[e - p] = '\0';
	req.body = body;
	req.body_len = (size_t)(e - p);
	conf.health_key = size > 0 && (data[0] & 1);

	hx_resp_init(&resp);
	hs_dispatch(&d, &req, auth[0] != '\0' ? auth : NULL, &resp, &route,
	    name);
	if (resp.status < 200 || resp.status > 599)
		abort();
	if (resp.status >= 400 && (resp.body == NULL || resp.body[0] != '{'))
		abort();
	hx_resp_free(&resp);

	hx_arg(&req, "n", arg, sizeof arg);
	hx_arg(&req, "ip", arg, sizeof arg);
	hx_arg(&req, query, arg, sizeof arg);
	if ((tok = hs_bearer(auth, &len)) != NULL &&
	    (tok < auth || tok + len > auth + strlen(auth)))
		abort();
	hs_escape(path, esc, sizeof esc);
	if (strlen(esc) >= sizeof esc || strpbrk(esc, "\"\n ") != NULL)
		abort();
	prom(body);
	free(body);
	return 0;
}
