/*
 * metrics.c: counters in the Prometheus text exposition format, written to
 * the --metrics file for node_exporter's textfile collector (or the HTTP
 * face).  The file is replaced atomically (atomicfile.c), so a reader
 * never sees half of it.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

#define MAX_METRICS 48
#define INTERVAL_MS 5000

static struct {
	const char *name, *help;
	enum hm_metric_type type;
	const uint64_t *value;
} metrics[MAX_METRICS];
static size_t nmetrics;
static uint64_t last_write, calls;

void
hm_metric(const char *name, enum hm_metric_type type, const char *help,
    const uint64_t *value)
{
	if (nmetrics == MAX_METRICS)
		hm_errx(HM_EXIT_FAIL, "too many metrics (bug)");
	metrics[nmetrics].name = name;
	metrics[nmetrics].help = help;
	metrics[nmetrics].type = type;
	metrics[nmetrics].value = value;
	nmetrics++;
}

/* A label value in the text format: backslash, double quote and newline
   escaped (the program name comes from argv[0], which may hold any of
   them). */
static void
put_label(FILE *fp, const char *v)
{
	for (; *v != '\0'; v++) {
		if (*v == '\\' || *v == '"')
			fputc('\\', fp);
		if (*v == '\n')
			fputs("\\n", fp);
		else
			fputc(*v, fp);
	}
}

int
hm_metric_at(size_t i, const char **help, uint64_t *value)
{
	if (i >= nmetrics)
		return 0;
	*help = metrics[i].help;
	*value = *metrics[i].value;
	return 1;
}

static int
write_file(const char *path)
{
	struct hm_atomic a;
	size_t i;

	/* 0644: the textfile collector runs as another user. */
	if (hm_atomic_open(&a, path, 0644, 0) != 0)
		return -1;
	for (i = 0; i < nmetrics; i++) {
		const char *suffix = metrics[i].type == HM_COUNTER ?
		    "_total" : "";

		fprintf(a.fp, "# HELP hopmap_%s%s %s\n# TYPE hopmap_%s%s %s\n"
		    "hopmap_%s%s{program=\"", metrics[i].name, suffix,
		    metrics[i].help, metrics[i].name, suffix,
		    metrics[i].type == HM_COUNTER ? "counter" : "gauge",
		    metrics[i].name, suffix);
		put_label(a.fp, hm_prog);
		fprintf(a.fp, "\"} %" PRIu64 "\n", *metrics[i].value);
	}
	return hm_atomic_commit(&a);
}

void
hm_metrics_start(void)
{
	if (hm_opt.metrics == NULL)
		return;
	if (write_file(hm_opt.metrics) != 0)
		hm_err(HM_EXIT_FAIL, "cannot write the metrics file %s",
		    hm_opt.metrics);
	last_write = hm_mono_ms();
}

void
hm_metrics_write(int force)
{
	static int warned;
	uint64_t now;

	if (hm_opt.metrics == NULL)
		return;
	/* Look at the clock only every 1024 calls: this sits in hot loops. */
	if (!force && (++calls & 1023) != 0)
		return;
	now = hm_mono_ms();
	if (!force && now - last_write < INTERVAL_MS)
		return;
	last_write = now;
	if (write_file(hm_opt.metrics) != 0 && !warned) {
		hm_warn("metrics file %s", hm_opt.metrics);
		warned = 1;
	}
}
