/*
 * stats.c: --stats, the run in numbers on standard error at exit, in the
 * probers' style ("prog: N what", fping -s): every counter the program
 * registered for --metrics, the bad lines by reason, the time taken and
 * the rate achieved.  One printer, so that every filter says it alike.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "core.h"

#define MAX_REASONS 16

static struct {
	char why[96];
	uint64_t n;
} reasons[MAX_REASONS];
static size_t nreasons;
static uint64_t other;		/* reasons past the table */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static uint64_t start_ms;
int hm_stats_on;

void
hm_stats_start(void)
{
	hm_stats_on = 1;
	start_ms = hm_mono_ms();
}

/* Count a bad line under its reason (any thread: sqlsink reads in many). */
void
hm_stats_reason(const char *why)
{
	size_t i;

	pthread_mutex_lock(&mu);
	for (i = 0; i < nreasons; i++)
		if (strncmp(reasons[i].why, why, sizeof(reasons[i].why) - 1)
		    == 0)
			break;
	if (i == nreasons && nreasons < MAX_REASONS)
		snprintf(reasons[nreasons++].why, sizeof(reasons[0].why),
		    "%s", why);
	if (i < nreasons)
		reasons[i].n++;
	else
		other++;
	pthread_mutex_unlock(&mu);
}

void
hm_stats_print(const char *what, uint64_t n, uint64_t bad)
{
	double secs = (double)(hm_mono_ms() - start_ms) / 1000;
	const char *help;
	uint64_t v, told = 0;
	size_t i;

	if (!hm_stats_on)
		return;
	fflush(stdout);
	for (i = 0; hm_metric_at(i, &help, &v); i++)
		fprintf(stderr, "%s: %" PRIu64 " %s\n", hm_prog, v, help);
	fprintf(stderr, "%s: %" PRIu64 " bad line%s\n", hm_prog, bad,
	    bad == 1 ? "" : "s");
	pthread_mutex_lock(&mu);
	for (i = 0; i < nreasons; i++) {
		fprintf(stderr, "%s:   %" PRIu64 " %s\n", hm_prog,
		    reasons[i].n, reasons[i].why);
		told += reasons[i].n;
	}
	told += other;
	pthread_mutex_unlock(&mu);
	if (other > 0)
		fprintf(stderr, "%s:   %" PRIu64 " for other reasons\n",
		    hm_prog, other);
	if (bad > told)	/* never parsed: unreadable, too long, NUL */
		fprintf(stderr, "%s:   %" PRIu64 " unreadable or too long\n",
		    hm_prog, bad - told);
	fprintf(stderr, "%s: %.3f s elapsed\n", hm_prog, secs);
	if (secs > 0)
		fprintf(stderr, "%s: %.0f %s a second\n", hm_prog,
		    (double)n / secs, what);
}
