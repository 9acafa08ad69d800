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
 * PRED" (PRED "-" when not known), "join" after it where two paths meet
 * (PRED is then the first seen), or "ADDR"
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
	uint32_t pred2;		/* with dark_below: the router two hops
				   before, past the silent one */
	uint8_t ttl;		/* where it answered, or 0: not known */
	uint8_t multi;		/* two predecessors seen: where two paths
				   join (an ECMP diamond's last hop) */
	uint8_t limited;	/* answered, then silent: rate-limiting */
	uint8_t dark_below;	/* the hop before it was silent */
	uint8_t seen;		/* links into it measured (at most 255) */
	uint32_t gap_ms;	/* ... so probes towards it are this far
				   apart */
	uint64_t next_ms;	/* ... and the next is booked then */
};

/* Traces under way to one /24 (prefix + 1, 0 empty). */
struct prefix {
	uint32_t p1;
	unsigned n;
	uint32_t last;		/* a router seen just before a target */
	unsigned last_ttl;	/* ... at this TTL */
};

struct trace_stopset {
	struct entry *slot;
	size_t mask, count;
	struct prefix *pfx;
	size_t pmask, pcount;
	unsigned settle;	/* links into a router measured before a way
				   home goes through it */
	uint64_t silences;	/* of limiting routers, noticed */
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
	s->settle = TRACE_STOPSET_SETTLE;
	return s;
}

void
trace_stopset_free(struct trace_stopset *s)
{
	if (s != NULL) {
		free(s->slot);
		free(s->pfx);
	}
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
			e->seen = pred != 0;
			s->dirty = 1;
			return;
		}
		if (e->ttl != ttl || pred == 0)
			return;
		if (e->pred == 0)
			e->pred = pred;
		else if (e->pred != pred)
			e->multi = 1;	/* the first stays the way home */
		if (e->seen < 255)
			e->seen++;
		s->dirty = 1;
		return;
	}
	if (2 * (s->count + 1) > s->mask + 1)
		grow(s);
	for (i = hash(ip) & s->mask; s->slot[i].ip1 != 0; i = (i + 1) & s->mask)
		;
	memset(&s->slot[i], 0, sizeof(s->slot[i]));
	s->slot[i].ip1 = ip + 1;
	s->slot[i].ttl = (uint8_t)ttl;
	s->slot[i].pred = ttl > 1 ? pred : 0;
	s->slot[i].seen = s->slot[i].pred != 0;
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
	/* TTLs go down by one at each step: at most ttl - 1 steps.  Only
	   through routers whose way in is settled. */
	while (ttl > 1) {
		/* Past a silent hop: a null hop, then the router before it. */
		unsigned step = e->pred == 0 && e->dark_below && ttl > 2 ? 2 : 1;
		uint32_t p = step == 2 ? e->pred2 : e->pred;

		if (p == 0 || e->seen < s->settle || (e = find(s, p)) == NULL ||
		    e->ttl != ttl - step)
			return 0;
		if (step == 2)
			way[ttl - 1] = 0;
		way[ttl - step] = p;
		ttl -= step;
	}
	return 1;
}

/* The counter of prefix p (dst >> 8), made if need be (NULL: no memory). */
static struct prefix *
prefix_slot(struct trace_stopset *s, uint32_t p)
{
	size_t i;

	if (s->pfx == NULL || 2 * (s->pcount + 1) > s->pmask + 1) {
		size_t n = s->pfx == NULL ? 256 : 2 * (s->pmask + 1), j;
		struct prefix *old = s->pfx, *t = calloc(n, sizeof(*t));

		if (t == NULL)
			hm_err(HM_EXIT_FAIL, "calloc");
		for (j = 0; old != NULL && j <= s->pmask; j++) {
			size_t k;

			if (old[j].p1 == 0)
				continue;
			for (k = hash(old[j].p1) & (n - 1); t[k].p1 != 0;
			    k = (k + 1) & (n - 1))
				;
			t[k] = old[j];
		}
		free(old);
		s->pfx = t;
		s->pmask = n - 1;
	}
	for (i = hash(p + 1) & s->pmask; s->pfx[i].p1 != 0;
	    i = (i + 1) & s->pmask)
		if (s->pfx[i].p1 == p + 1)
			return &s->pfx[i];
	memset(&s->pfx[i], 0, sizeof(s->pfx[i]));
	s->pfx[i].p1 = p + 1;
	s->pcount++;
	return &s->pfx[i];
}

unsigned
trace_stopset_walkers(struct trace_stopset *s, uint32_t dst)
{
	return prefix_slot(s, dst >> 8)->n;
}

void
trace_stopset_walk(struct trace_stopset *s, uint32_t dst, int delta)
{
	struct prefix *p = prefix_slot(s, dst >> 8);

	if (delta > 0)
		p->n++;
	else if (p->n > 0)
		p->n--;
}

uint32_t
trace_stopset_last(struct trace_stopset *s, uint32_t dst, unsigned ttl)
{
	struct prefix *p = prefix_slot(s, dst >> 8);

	return p->last_ttl == ttl ? p->last : 0;
}

void
trace_stopset_set_last(struct trace_stopset *s, uint32_t dst, uint32_t ip,
    unsigned ttl)
{
	struct prefix *p = prefix_slot(s, dst >> 8);

	if (p->last == 0) {
		p->last = ip;
		p->last_ttl = ttl;
	}
}

unsigned
trace_stopset_settle_count(const struct trace_stopset *s)
{
	return s->settle;
}

void
trace_stopset_settle(struct trace_stopset *s, unsigned n)
{
	s->settle = n < 1 ? 1 : n;
}

int
trace_stopset_pending(const struct trace_stopset *s, uint32_t ip,
    unsigned ttl)
{
	const struct entry *e = find(s, ip);

	return e != NULL && e->ttl == ttl && ttl > 1 && e->pred == 0 &&
	    !e->multi && !e->dark_below;
}

void
trace_stopset_dark_below(struct trace_stopset *s, uint32_t ip, unsigned ttl,
    uint32_t pred2)
{
	struct entry *e = find(s, ip);

	if (e == NULL || e->ttl != ttl || e->pred != 0)
		return;
	e->dark_below = 1;
	if (pred2 == 0)
		return;
	if (e->pred2 == 0)
		e->pred2 = pred2;
	if (e->pred2 == pred2 && e->seen < 255)
		e->seen++;
	else if (e->pred2 != pred2)
		e->multi = 1;
	s->dirty = 1;
}

uint32_t
trace_stopset_pred(const struct trace_stopset *s, uint32_t ip, unsigned ttl)
{
	const struct entry *e = find(s, ip);

	return e != NULL && e->ttl == ttl && !e->multi ? e->pred : 0;
}

/*
 * Pacing towards a router that rate-limits its ICMP errors (Linux: a burst
 * of 6, then one a second to each source, by default).  Each limiting
 * router has a schedule: next_ms, the time its next answer may be had.
 * A probe sent again (a retry) is booked a time on it, at next_ms or now,
 * whichever is later, and next_ms moves a gap past it; a retry that would
 * wait more than the caller's bound is refused, so that no trace waits
 * behind a long queue (others will find the links).  A first probe
 * towards it takes its place on the schedule too: it spends the router's
 * allowance as much as a retry does.  The gap doubles at each silence
 * (from 100 ms to 1 s at most, Linux's rate) and shrinks by an eighth at
 * each answer, so it settles near the rate the router answers at.
 */
uint64_t
trace_stopset_due(const struct trace_stopset *s, uint32_t ip)
{
	const struct entry *e = find(s, ip);

	return e != NULL && e->limited ? e->next_ms : 0;
}

void
trace_stopset_sent(struct trace_stopset *s, uint32_t ip, uint64_t now_ms)
{
	struct entry *e = find(s, ip);

	if (e != NULL && e->limited)
		e->next_ms = (e->next_ms > now_ms ? e->next_ms : now_ms) +
		    e->gap_ms;
}

int
trace_stopset_book(struct trace_stopset *s, uint32_t ip, uint64_t now_ms,
    uint64_t bound_ms, unsigned probes, uint64_t *at)
{
	struct entry *e = find(s, ip);
	uint64_t t;

	if (e == NULL)
		return -1;
	s->silences++;
	e->limited = 1;
	e->gap_ms = e->gap_ms < 100 ? 100 : e->gap_ms >= 500 ? 1000 :
	    2 * e->gap_ms;
	t = e->next_ms > now_ms ? e->next_ms : now_ms;
	if (t > now_ms + bound_ms)
		return -1;
	e->next_ms = t + (uint64_t)e->gap_ms * (probes ? probes : 1);
	*at = t;
	return 0;
}

uint64_t
trace_stopset_silences(const struct trace_stopset *s)
{
	return s->silences;
}

void
trace_stopset_answered(struct trace_stopset *s, uint32_t ip)
{
	struct entry *e = find(s, ip);

	if (e != NULL && e->limited && e->gap_ms > 8)
		e->gap_ms -= e->gap_ms / 8;
}

int
trace_stopset_limited(const struct trace_stopset *s, uint32_t ip)
{
	const struct entry *e = find(s, ip);

	return e != NULL && e->limited;
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
		if (k > 1 && (k != 3 ||
		    (tok[3] != NULL && strcmp(tok[3], "join") != 0) ||
		    (ttl = strtoul(tok[1], &end, 10)) < 1 ||
		    ttl > TRACE_MAX_TTL || *end != '\0' ||
		    (strcmp(tok[2], "-") != 0 &&
		    hm_ip_parse(tok[2], strlen(tok[2]), &pred) != 0) ||
		    strtok_r(NULL, " \t", &save) != NULL)) {
			hm_linewarn(path, n, "not ADDR TTL PRED [join], skipped");
			continue;
		}
		trace_stopset_put(s, ip, (unsigned)ttl, pred);
		if (k == 3 && tok[3] != NULL)
			find(s, ip)->multi = 1;
		if (pred != 0)	/* settled in an earlier run */
			find(s, ip)->seen = 255;
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
		fprintf(a.fp, "%s%s\n", e->pred != 0 ? ip : "-",
		    e->multi ? " join" : "");
	}
	if (hm_atomic_commit(&a) != 0)
		return -1;
	s->dirty = 0;
	return 0;
}
