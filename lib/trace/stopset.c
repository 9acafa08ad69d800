/*
 * trace/stopset.c: Doubletree's local stop set (Donnet et al., "Efficient
 * algorithms for large-scale topology discovery", 2005): the router
 * addresses near the vantage point that earlier traces already found.  A
 * trace that starts at TTL h probes backwards from h - 1 only until it meets
 * one of them: the rest of the way home is known, and no link is lost
 * because the meeting hop itself is still reported.
 *
 * An open-addressing set of IPv4 addresses, kept in a file of dotted quads
 * between runs (written to a temporary name and renamed).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"
#include "trace.h"

struct trace_stopset {
	uint32_t *slot;		/* ip + 1; 0 is empty (0.0.0.0 never hops) */
	size_t mask, count;
	int dirty;
};

static size_t
hash(uint32_t ip)
{
	return (size_t)((ip * 2654435761u) ^ (ip >> 16));
}

struct trace_stopset *
trace_stopset_new(void)
{
	struct trace_stopset *s = calloc(1, sizeof(*s));

	if (s == NULL || (s->slot = calloc(1024, sizeof(*s->slot))) == NULL) {
		free(s);
		return NULL;
	}
	s->mask = 1023;
	return s;
}

void
trace_stopset_free(struct trace_stopset *s)
{
	if (s != NULL)
		free(s->slot);
	free(s);
}

int
trace_stopset_has(const struct trace_stopset *s, uint32_t ip)
{
	size_t i;

	for (i = hash(ip) & s->mask; s->slot[i] != 0; i = (i + 1) & s->mask)
		if (s->slot[i] == ip + 1)
			return 1;
	return 0;
}

static void
grow(struct trace_stopset *s)
{
	uint32_t *old = s->slot;
	size_t n = s->mask + 1, i, j;

	if ((s->slot = calloc(2 * n, sizeof(*s->slot))) == NULL)
		hm_err(HM_EXIT_FAIL, "calloc");
	s->mask = 2 * n - 1;
	for (i = 0; i < n; i++) {
		if (old[i] == 0)
			continue;
		for (j = hash(old[i] - 1) & s->mask; s->slot[j] != 0;
		    j = (j + 1) & s->mask)
			;
		s->slot[j] = old[i];
	}
	free(old);
}

void
trace_stopset_add(struct trace_stopset *s, uint32_t ip)
{
	size_t i;

	if (ip == 0xffffffffu || trace_stopset_has(s, ip))
		return;
	if (2 * (s->count + 1) > s->mask + 1)
		grow(s);
	for (i = hash(ip) & s->mask; s->slot[i] != 0; i = (i + 1) & s->mask)
		;
	s->slot[i] = ip + 1;
	s->count++;
	s->dirty = 1;
}

size_t
trace_stopset_count(const struct trace_stopset *s)
{
	return s->count;
}

int
trace_stopset_load(struct trace_stopset *s, const char *path)
{
	FILE *fp = fopen(path, "r");
	char line[64];
	unsigned long n = 0;

	if (fp == NULL)
		return errno == ENOENT ? 0 : -1;	/* a first run */
	while (fgets(line, sizeof(line), fp) != NULL) {
		size_t len = strcspn(line, "\r\n");
		uint32_t ip;

		n++;
		if (len == 0 || line[0] == '#')
			continue;
		if (hm_ip_parse(line, len, &ip) != 0) {
			hm_linewarn(path, n, "not an IPv4 address, skipped");
			continue;
		}
		trace_stopset_add(s, ip);
	}
	fclose(fp);
	s->dirty = 0;
	return 0;
}

int
trace_stopset_save(struct trace_stopset *s, const char *path)
{
	struct hm_atomic a;
	char ip[16];
	size_t i;

	if (!s->dirty)
		return 0;
	/* fsync: the next run starts from this file. */
	if (hm_atomic_open(&a, path, 0644, 1) != 0)
		return -1;
	fprintf(a.fp, "# tracehop stop set: hops near the vantage point\n");
	for (i = 0; i <= s->mask; i++)
		if (s->slot[i] != 0) {
			hm_ip_format(s->slot[i] - 1, ip);
			fprintf(a.fp, "%s\n", ip);
		}
	if (hm_atomic_commit(&a) != 0)
		return -1;
	s->dirty = 0;
	return 0;
}
