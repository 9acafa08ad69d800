/* libFuzzer target: the stop set's file (tracehop --stop-set), through the
   descriptor path tracehop takes (flock, read, merge, rewrite in place).
   Whatever the bytes: no crash, and what is written is what is read back
   (every line good, the same lines), so a file tracehop wrote never loses
   or changes a router at the next run. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"
#include "trace/trace.h"

#define NOW 1000000u
#define AGE 86400u

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The entries as text, its lines sorted (the order is the hash table's). */
static char *
sorted_text(const struct trace_stopset *s, size_t *nlines)
{
	char *text = NULL, **line, *out, *p;
	size_t len = 0, n = 0, i;
	FILE *fp = open_memstream(&text, &len);

	if (fp == NULL || trace_stopset_write(s, fp) != 0 || fclose(fp) != 0)
		abort();
	for (p = text; *p != '\0'; p++)
		n += *p == '\n';
	if ((line = calloc(n + 1, sizeof(*line))) == NULL ||
	    (out = malloc(len + 1)) == NULL)
		abort();
	n = 0;
	for (p = strtok(text, "\n"); p != NULL; p = strtok(NULL, "\n"))
		line[n++] = p;
	qsort(line, n, sizeof(*line), cmp_str);
	out[0] = '\0';
	for (i = 0, p = out; i < n; i++)
		p = stpcpy(stpcpy(p, line[i]), "\n");
	free(line);
	free(text);
	*nlines = n;
	return out;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[] = "/tmp/hopmap-fuzz-stopset.XXXXXX", *ta, *tb, *file;
	struct trace_stopset *a = trace_stopset_new(), *b = trace_stopset_new();
	int fd = mkstemp(path);
	size_t na, nb;
	ssize_t got;
	FILE *fp;

	if (a == NULL || b == NULL || fd < 0 ||
	    write(fd, data, size) != (ssize_t)size)
		abort();
	trace_stopset_aging(a, AGE, NOW);
	trace_stopset_aging(b, AGE, NOW);
	if (trace_stopset_load_fd(a, fd, NULL) != 0)
		abort();
	/* A router learnt in the run: the set changed, so it is written. */
	trace_stopset_put(a, 0xc6120001u, 1, 0);
	if (trace_stopset_save_fd(a, fd) != 0)
		abort();
	/* The file now: every line good, the same set. */
	if ((file = malloc(1 << 20)) == NULL)
		abort();
	got = pread(fd, file, (1 << 20) - 1, 0);
	if (got <= 0 || file[got - 1] != '\n')
		abort();
	if ((fp = fmemopen(file, (size_t)got, "r")) == NULL)
		abort();
	if (trace_stopset_read(b, fp, NULL) != 0)
		abort();
	fclose(fp);
	ta = sorted_text(a, &na);
	tb = sorted_text(b, &nb);
	if (na != nb || strcmp(ta, tb) != 0 ||
	    trace_stopset_count(a) != trace_stopset_count(b))
		abort();
	free(ta);
	free(tb);
	free(file);
	trace_stopset_free(a);
	trace_stopset_free(b);
	close(fd);
	unlink(path);
	return 0;
}
