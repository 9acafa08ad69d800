/*
 * trace/stopset.c: the stop set (Doubletree's, Donnet et al., "Efficient
 * algorithms for large-scale topology discovery", 2005; global to a run as
 * FlashRoute's): the router addresses that earlier traces already found,
 * each with the TTL it answered at and the router one hop before it (its
 * predecessor) on the trace that found it.  A trace probing backwards
 * stops at a router answering at the TTL the set knows it at, when the set
 * holds the whole way home from there (predecessor after predecessor down
 * to TTL 1): those hops are taken from the set, not probed again.  Every
 * predecessor is a link some trace measured, hop after hop, so a hop list
 * spliced from the set has no link that was not seen; behind an ECMP
 * diamond it may show the branch another flow took, never a mix.
 *
 * An open-addressing set of IPv4 addresses, kept in a file between runs
 * (written to a temporary name and renamed): a line per address, "ADDR TTL
 * PRED" (PRED "-" when not known, "*" where two paths join), or "ADDR"
 * alone (a file of an older tracehop, or written by hand: known, but at no
 * TTL, so never a stop).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"
#include "trace.h"

struct entry {
	uint32_t ip1;		/* ip + 1; 0 is empty (0.0.0.0 never hops) */
	uint32_t pred;		/* the router one hop before, or 0 */
	uint8_t ttl;		/* where it answered, or 0: not known */
	uint8_t multi;		/* two predecessors seen: where two paths
				   join (an ECMP diamond's last hop) */
};

struct trace_stopset {
	struct entry *slot;
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

static struct entry *
find(const struct trace_stopset *s, uint32_t ip)
{
	size_t i;

	for (i = hash(ip) & s->mask; s->slot[i].ip1 != 0; i = (i + 1) & s->mask)
		if (s->slot[i].ip1 == ip + 1)
			return &s->slot[i];
	return NULL;
}

int
trace_stopset_has(const struct trace_stopset *s, uint32_t ip)
{
	return find(s, ip) != NULL;
}

static void
grow(struct trace_stopset *s)
{
	struct entry *old = s->slot;
	size_t n = s->mask + 1, i, j;

	if ((s->slot = calloc(2 * n, sizeof(*s->slot))) == NULL)
		hm_err(HM_EXIT_FAIL, "calloc");
	s->mask = 2 * n - 1;
	for (i = 0; i < n; i++) {
		if (old[i].ip1 == 0)
			continue;
		for (j = hash(old[i].ip1 - 1) & s->mask; s->slot[j].ip1 != 0;
		    j = (j + 1) & s->mask)
			;
		s->slot[j] = old[i];
	}
	free(old);
}

void
trace_stopset_put(struct trace_stopset *s, uint32_t ip, unsigned ttl,
    uint32_t pred)
{
	struct entry *e;
	size_t i;

	if (ip == 0xffffffffu || ip == 0 || ttl > TRACE_MAX_TTL)
		return;
	if ((e = find(s, ip)) != NULL) {
		/* The first TTL seen stays (a router at two TTLs, on paths
		   of two lengths, stops only the traces that agree); a
		   predecessor is learnt once. */
		if (e->ttl == 0 && ttl != 0) {
			e->ttl = (uint8_t)ttl;
			e->pred = pred;
			s->dirty = 1;
		} else if (e->ttl == ttl && e->pred == 0 && pred != 0 &&
		    !e->multi) {
			e->pred = pred;
			s->dirty = 1;
		} else if (e->ttl == ttl && pred != 0 && e->pred != pred &&
		    !e->multi) {
			e->multi = 1;
			e->pred = 0;
			s->dirty = 1;
		}
		return;
	}
	if (2 * (s->count + 1) > s->mask + 1)
		grow(s);
	for (i = hash(ip) & s->mask; s->slot[i].ip1 != 0; i = (i + 1) & s->mask)
		;
	s->slot[i].ip1 = ip + 1;
	s->slot[i].ttl = (uint8_t)ttl;
	s->slot[i].pred = ttl > 1 ? pred : 0;
	s->count++;
	s->dirty = 1;
}

void
trace_stopset_add(struct trace_stopset *s, uint32_t ip)
{
	trace_stopset_put(s, ip, 0, 0);
}

int
trace_stopset_chain(const struct trace_stopset *s, uint32_t ip, unsigned ttl,
    uint32_t *way)
{
	const struct entry *e = find(s, ip);

	if (e == NULL || e->ttl == 0 || e->ttl != ttl)
		return 0;
	/* TTLs go down by one at each step: at most ttl - 1 steps.  Never
	   through a join: which way this flow came is not known. */
	for (; ttl > 1; ttl--) {
		uint32_t p = e->pred;

		if (e->multi || p == 0 || (e = find(s, p)) == NULL ||
		    e->ttl != ttl - 1)
			return 0;
		way[ttl - 1] = p;
	}
	return 1;
}

int
trace_stopset_agrees(const struct trace_stopset *s, uint32_t ip,
    unsigned ttl, uint32_t pred)
{
	const struct entry *e = find(s, ip);

	return e != NULL && e->ttl == ttl &&
	    (e->multi || e->pred == 0 || e->pred == pred);
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
	char line[128];
	unsigned long n = 0;

	if (fp == NULL)
		return errno == ENOENT ? 0 : -1;	/* a first run */
	while (fgets(line, sizeof(line), fp) != NULL) {
		char *tok[4], *save = NULL, *end;
		uint32_t ip, pred = 0;
		unsigned long ttl = 0;
		int k = 0;

		n++;
		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] == '\0' || line[0] == '#')
			continue;
		for (tok[k] = strtok_r(line, " \t", &save); tok[k] != NULL &&
		    k < 3; tok[k] = strtok_r(NULL, " \t", &save))
			k++;
		if (k == 0)
			continue;
		if (hm_ip_parse(tok[0], strlen(tok[0]), &ip) != 0) {
			hm_linewarn(path, n, "not an IPv4 address, skipped");
			continue;
		}
		if (k > 1 && (k != 3 || tok[3] != NULL ||
		    (ttl = strtoul(tok[1], &end, 10)) < 1 ||
		    ttl > TRACE_MAX_TTL || *end != '\0' ||
		    (strcmp(tok[2], "-") != 0 && strcmp(tok[2], "*") != 0 &&
		    hm_ip_parse(tok[2], strlen(tok[2]), &pred) != 0))) {
			hm_linewarn(path, n, "not ADDR TTL PRED, skipped");
			continue;
		}
		trace_stopset_put(s, ip, (unsigned)ttl, pred);
		if (k == 3 && strcmp(tok[2], "*") == 0) {
			struct entry *e = find(s, ip);

			e->multi = 1;
			e->pred = 0;
		}
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
	fprintf(a.fp, "# tracehop stop set: address, TTL, the hop before\n");
	for (i = 0; i <= s->mask; i++) {
		const struct entry *e = &s->slot[i];

		if (e->ip1 == 0)
			continue;
		hm_ip_format(e->ip1 - 1, ip);
		if (e->ttl == 0) {
			fprintf(a.fp, "%s\n", ip);
			continue;
		}
		fprintf(a.fp, "%s %u ", ip, e->ttl);
		hm_ip_format(e->pred, ip);
		fprintf(a.fp, "%s\n", e->multi ? "*" : e->pred != 0 ? ip : "-");
	}
	if (hm_atomic_commit(&a) != 0)
		return -1;
	s->dirty = 0;
	return 0;
}
