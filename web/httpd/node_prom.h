/*
 * node_prom.h: the programs' --metrics files (Prometheus text, *.prom in
 * --metrics-dir) read, merged into one valid exposition for GET /metrics,
 * and summed up for GET /health.  No sockets: tested and fuzzed on text.
 */
#ifndef HOPMAP_HTTPD_NODE_PROM_H
#define HOPMAP_HTTPD_NODE_PROM_H

#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

struct np_file {
	char *stem;		/* the file's name without .prom */
	char *text;		/* its contents, NUL-terminated */
	double age;		/* seconds since it was written */
};

struct np_set {
	struct np_file *v;
	size_t n;
};

/* Read DIR's *.prom files (at most 256, each at most 4 MB), by name.
   0, or -1 with errno set when DIR cannot be read. */
int np_load(const char *dir, struct np_set *set);
void np_free(struct np_set *set);
/*
 * Write the files as one exposition: one HELP and TYPE per family (the
 * first file's), its samples from every file after it.  When two files
 * have a family in common, a sample without a "program" label gets one
 * naming its file; a sample that would still repeat another's name and
 * labels gets file="stem".  Lines that are neither comments nor samples
 * are left out.  Returns the number of lines left out.
 */
size_t np_merge(const struct np_set *set, FILE *out);
/* {"STEM": {"program": P, "age": S, "metrics": {"NAME": value, ...}}}:
   each file by its stem, the program its samples name, its age in
   seconds, and each sample by its name without "hopmap_" (its labels but
   "program" in braces). */
json_t *np_summary(const struct np_set *set);

#endif
