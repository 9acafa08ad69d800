/*
 * node.c: the node face, on every node: GET /health, /ready, /metrics,
 * /service-info.  Open by default (monitoring needs no key);
 * hopmap-httpd --health-key makes them need one.  The programs' metrics
 * files are read afresh on each request (node_prom.c): they are small,
 * and a cache would only show older numbers.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sqlite3.h>

#include "core/core.h"
#include "httpd/handler.h"
#include "httpd/node.h"
#include "httpd/node_prom.h"
#include "httpd/server.h"

double hx_node_stale = 600;

/* Whole seconds: a double's text would be 0.50700000000000001. */
static json_int_t
uptime(const struct hx_ctx *ctx)
{
	return (json_int_t)((double)hm_now_ms() / 1000 - ctx->started);
}

static void
health(struct hx_req *req, struct hx_resp *resp)
{
	const struct hx_ctx *ctx = req->ctx;
	struct np_set set = { 0 };
	json_t *v;

	if (ctx->metrics_dir != NULL)
		np_load(ctx->metrics_dir, &set);
	v = json_pack("{s:s,s:I,s:s,s:s,s:s,s:o}", "status", "ok",
	    "uptime", uptime(ctx), "version", HM_VERSION, "name", ctx->name,
	    "role", ctx->hub_dir != NULL ? "hub" : "worker",
	    "programs", np_summary(&set));
	np_free(&set);
	hx_json(resp, 200, v);
}

/* Why the hub's database cannot answer, or NULL when it does. */
static const char *
db_problem(const char *path, char *why, size_t cap)
{
	sqlite3 *db = NULL;
	int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL);

	if (rc == SQLITE_OK) {
		sqlite3_busy_timeout(db, 2000);
		rc = sqlite3_exec(db, "SELECT count(*) FROM sqlite_master",
		    NULL, NULL, NULL);
	}
	if (rc != SQLITE_OK)
		snprintf(why, cap, "database %s: %s", path, db != NULL ?
		    sqlite3_errmsg(db) : sqlite3_errstr(rc));
	sqlite3_close(db);
	return rc == SQLITE_OK ? NULL : why;
}

static void
ready(struct hx_req *req, struct hx_resp *resp)
{
	const struct hx_ctx *ctx = req->ctx;
	json_t *reasons = json_array();
	struct np_set set = { 0 };
	struct stat sb;
	char why[512];
	size_t i;

	if (ctx->db_path != NULL &&
	    db_problem(ctx->db_path, why, sizeof why) != NULL)
		json_array_append_new(reasons, json_string(why));
	if (ctx->sink_socket != NULL && (stat(ctx->sink_socket, &sb) != 0 ||
	    !S_ISSOCK(sb.st_mode))) {
		snprintf(why, sizeof why, "no sink at %s (is hopmap-hub serve "
		    "running?)", ctx->sink_socket);
		json_array_append_new(reasons, json_string(why));
	}
	if (ctx->metrics_dir != NULL) {
		if (np_load(ctx->metrics_dir, &set) != 0 || set.n == 0) {
			snprintf(why, sizeof why, "no metrics file (*.prom) in "
			    "%s yet", ctx->metrics_dir);
			json_array_append_new(reasons, json_string(why));
		}
		for (i = 0; i < set.n; i++)
			if (set.v[i].age > hx_node_stale) {
				snprintf(why, sizeof why, "%s.prom was written "
				    "%.0f s ago (--stale %.0fs)", set.v[i].stem,
				    set.v[i].age, hx_node_stale);
				json_array_append_new(reasons, json_string(why));
			}
		np_free(&set);
	}
	if (json_array_size(reasons) == 0) {
		json_decref(reasons);
		hx_json(resp, 200, json_pack("{s:b}", "ready", 1));
		return;
	}
	hx_json(resp, 503, json_pack("{s:s,s:b,s:o}", "error",
	    json_string_value(json_array_get(reasons, 0)), "ready", 0,
	    "reasons", reasons));
}

static void
metrics(struct hx_req *req, struct hx_resp *resp)
{
	const struct hx_ctx *ctx = req->ctx;
	struct np_set set = { 0 };
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);

	if (out == NULL) {
		hx_error(resp, 500, "out of memory");
		return;
	}
	if (ctx->metrics_dir != NULL && np_load(ctx->metrics_dir, &set) == 0)
		np_merge(&set, out);
	np_free(&set);
	hs_metrics_write(out);
	if (fclose(out) != 0) {
		free(text);
		hx_error(resp, 500, "out of memory");
		return;
	}
	hx_text(resp, 200, "text/plain; version=0.0.4; charset=utf-8", text,
	    len);
	free(text);
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
	{ "GET", "/ready", 1, 0, ready },
	{ "GET", "/metrics", 1, 0, metrics },
	{ "GET", "/service-info", 1, 0, service_info },
	{ NULL, NULL, 0, 0, NULL }
};

const struct hx_module hx_node_module = {
	"node", routes, 0, NULL, NULL, NULL
};
