/*
 * node.c: the node face, on every node: GET /health, /service-info (and
 * /ready, /metrics).  Open by default (monitoring needs no key);
 * hopmap-httpd --health-key makes them need one.
 */
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "httpd/handler.h"
#include "httpd/node.h"

static double
uptime(const struct hx_ctx *ctx)
{
	return (double)hm_now_ms() / 1000.0 - ctx->started;
}

static void
health(struct hx_req *req, struct hx_resp *resp)
{
	const struct hx_ctx *ctx = req->ctx;

	hx_json(resp, 200, json_pack("{s:s,s:f,s:s,s:s,s:s}", "status", "ok",
	    "uptime", uptime(ctx), "version", HM_VERSION, "name", ctx->name,
	    "role", ctx->hub_dir != NULL ? "hub" : "worker"));
}

/* The manager detects a node's type from service_type and capabilities:
   a worker pings ("ping"); the hub takes results and hands out targets,
   and the manager's detection looks at service_type "output" first, so
   the hub names that and lists both in its capabilities. */
static void
service_info(struct hx_req *req, struct hx_resp *resp)
{
	const struct hx_ctx *ctx = req->ctx;
	int hub = ctx->hub_dir != NULL;

	hx_json(resp, 200, json_pack("{s:s,s:s,s:s,s:s,s:o}",
	    "service_type", hub ? "output" : "ping", "version", HM_VERSION,
	    "name", ctx->name, "instance_id", ctx->instance_id,
	    "capabilities", hub ? json_pack("[s,s]", "input", "output") :
	    json_pack("[s]", "ping")));
}

static const struct hx_route routes[] = {
	{ "GET", "/health", 1, 0, health },
	{ "GET", "/service-info", 1, 0, service_info },
	{ NULL, NULL, 0, 0, NULL }
};

const struct hx_module hx_node_module = {
	"node", routes, 0, NULL, NULL, NULL
};
