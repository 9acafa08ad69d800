/* server_stats.c: the daemon's own counters (requests by route and
   status, bytes, open connections), written into GET /metrics. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "httpd/server.h"

/* Routes are static strings and statuses few: a small table suffices. */
#define STATS_MAX 128

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	const char *route;
	int status;
	uint64_t n;
} reqs[STATS_MAX];
static size_t nreqs;
static const struct hs_dispatch *modules;	/* whose metrics() to call */
static uint64_t bytes_in, bytes_out, conns_open, conns_total, conns_refused;

void
hs_stats_request(const char *route, int status, uint64_t in, uint64_t out)
{
	size_t i;

	if (route == NULL)
		route = "other";
	pthread_mutex_lock(&lock);
	bytes_in += in;
	bytes_out += out;
	for (i = 0; i < nreqs; i++)
		if (reqs[i].status == status && strcmp(reqs[i].route, route) == 0)
			break;
	if (i == nreqs && nreqs < STATS_MAX) {
		reqs[i].route = route;
		reqs[i].status = status;
		nreqs++;
	}
	if (i < nreqs)
		reqs[i].n++;
	pthread_mutex_unlock(&lock);
}

void
hs_stats_conn(int delta)
{
	pthread_mutex_lock(&lock);
	if (delta > 0)
		conns_total++;
	conns_open += (uint64_t)(int64_t)delta;
	pthread_mutex_unlock(&lock);
}

void
hs_stats_refused(void)
{
	pthread_mutex_lock(&lock);
	conns_refused++;
	pthread_mutex_unlock(&lock);
}

void
hs_stats_write(FILE *out)
{
	size_t i;

	pthread_mutex_lock(&lock);
	fputs("# HELP hopmap_httpd_requests_total requests answered, by route "
	    "and status\n# TYPE hopmap_httpd_requests_total counter\n", out);
	for (i = 0; i < nreqs; i++)
		fprintf(out, "hopmap_httpd_requests_total{route=\"%s\","
		    "status=\"%d\"} %llu\n", reqs[i].route, reqs[i].status,
		    (unsigned long long)reqs[i].n);
	fprintf(out, "# HELP hopmap_httpd_request_bytes_total bytes of "
	    "request bodies received\n# TYPE hopmap_httpd_request_bytes_total "
	    "counter\nhopmap_httpd_request_bytes_total %llu\n"
	    "# HELP hopmap_httpd_response_bytes_total bytes of answers sent\n"
	    "# TYPE hopmap_httpd_response_bytes_total counter\n"
	    "hopmap_httpd_response_bytes_total %llu\n"
	    "# HELP hopmap_httpd_connections_open connections open now\n"
	    "# TYPE hopmap_httpd_connections_open gauge\n"
	    "hopmap_httpd_connections_open %llu\n"
	    "# HELP hopmap_httpd_connections_total connections accepted\n"
	    "# TYPE hopmap_httpd_connections_total counter\n"
	    "hopmap_httpd_connections_total %llu\n"
	    "# HELP hopmap_httpd_connections_refused_total connections closed "
	    "at once (--max-conns)\n"
	    "# TYPE hopmap_httpd_connections_refused_total counter\n"
	    "hopmap_httpd_connections_refused_total %llu\n",
	    (unsigned long long)bytes_in, (unsigned long long)bytes_out,
	    (unsigned long long)conns_open, (unsigned long long)conns_total,
	    (unsigned long long)conns_refused);
	pthread_mutex_unlock(&lock);
}

void
hs_stats_modules(const struct hs_dispatch *d)
{
	modules = d;
}

void
hs_metrics_write(FILE *out)
{
	int i;

	hs_stats_write(out);
	for (i = 0; modules != NULL && hx_modules[i] != NULL && i < 8; i++)
		if (modules->opened[i] && hx_modules[i]->metrics != NULL)
			hx_modules[i]->metrics(modules->ctx, i, out);
}
