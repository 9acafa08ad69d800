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
 * (its reader and writers are at the end of this file).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
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
	uint16_t below;		/* traces going on down below it now */
	uint32_t gap_ms;	/* ... so probes towards it are this far
				   apart */
	uint64_t next_ms;	/* ... and the next is booked then */
	uint64_t last_s;	/* Unix time it last answered at ttl (a run's
				   start), for the file's aging */
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
	uint64_t now_s;		/* Unix time: this run's start */
	uint64_t max_age_s;	/* the file's lines older than this are
				   forgotten (0: never) */
	size_t forgotten;	/* ... so many */
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
	s->now_s = (uint64_t)time(NULL);
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
	if (ttl <= 1)
		pred = 0;	/* nothing before the first hop */
	if ((e = find(s, ip)) != NULL) {
		/* The first TTL seen stays (a router at two TTLs, on paths
		   of two lengths, stops only the traces that agree); a
		   predecessor is learnt once. */
		if (e->ttl == 0 && ttl != 0) {
			e->ttl = (uint8_t)ttl;
			e->pred = pred;
			e->seen = pred != 0;
			e->last_s = s->now_s;
			s->dirty = 1;
			return;
		}
		if (e->ttl == ttl && e->last_s < s->now_s) {
			e->last_s = s->now_s;	/* still there */
			s->dirty = 1;
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
	s->slot[i].pred = pred;
	s->slot[i].seen = s->slot[i].pred != 0;
	s->slot[i].last_s = s->now_s;
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

/*
 * Traces start together (a whole /24, many /24s at once) and would all walk
 * down the same way home before any of it is settled.  So a trace going on
 * below a known router says so; once enough do to settle it, the next
 * waits for them (state.c's hold, one wait at most) and stops there.
 */
void
trace_stopset_below(struct trace_stopset *s, uint32_t ip, unsigned ttl,
    int delta)
{
	struct entry *e = find(s, ip);

	if (e == NULL || e->ttl != ttl)
		return;
	if (delta > 0 && e->below < 0xffff)
		e->below++;
	else if (delta < 0 && e->below > 0)
		e->below--;
}

int
trace_stopset_settling(const struct trace_stopset *s, uint32_t ip,
    unsigned ttl)
{
	const struct entry *e = find(s, ip);

	return e != NULL && e->ttl == ttl && ttl > 1 && e->below > 0 &&
	    e->seen + e->below >= s->settle;
}

int
trace_stopset_clear_in(const struct trace_stopset *s, uint32_t ip,
    unsigned ttl)
{
	const struct entry *e = find(s, ip);

	return e != NULL && e->ttl == ttl && !e->multi && !e->dark_below;
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

void
trace_stopset_aging(struct trace_stopset *s, uint64_t max_age_s,
    uint64_t now_s)
{
	s->max_age_s = max_age_s;
	if (now_s != 0)
		s->now_s = now_s;
}

size_t
trace_stopset_count(const struct trace_stopset *s)
{
	return s->count;
}

size_t
trace_stopset_forgotten(const struct trace_stopset *s)
{
	return s->forgotten;
}

/*
 * The file.  A line per router, "ADDR TTL PRED" (PRED "-" when not known),
 * "join" after it where two paths meet (PRED is then the first seen), then
 * the Unix time it last answered at TTL; or "ADDR" alone (known at no
 * TTL).  Every line is checked whole: a line cut short (no newline at the
 * end: a run killed while it wrote), too long, or holding a NUL byte is
 * said and skipped, never read in part, so a torn file gives true entries
 * or none, never a false link.
 *
 * Aging: a route may have changed since a line was written, below the hop
 * where traces stop (the hops above it are measured every time, and a
 * link the set does not know there is no stop).  A line older than the
 * maximum age is forgotten as it is read, and a router whose predecessor
 * is not in the set any more loses it: the next traces through it walk
 * home again, measuring, and learn the way as it is now.  A router seen
 * again is young again; one on every trace's way home is seen only when
 * its line is forgotten, so the way home is measured anew once per age.
 */
#define LINE_MAX_BYTES 128

/* Split line into at most max blank-separated words: their number, or
   max + 1 when there are more. */
static int
words(char *line, char **w, int max)
{
	char *save = NULL, *t;
	int k = 0;

	for (t = strtok_r(line, " \t", &save); t != NULL;
	    t = strtok_r(NULL, " \t", &save)) {
		if (k == max)
			return max + 1;
		w[k++] = t;
	}
	return k;
}

/* One line, newline removed: 0 read (or blank, or a comment, or too
   old), -1 bad. */
static int
read_line(struct trace_stopset *s, char *line)
{
	char *w[5];
	uint32_t ip, pred = 0;
	uint64_t ttl, at = s->now_s, was;
	const char *why;
	struct entry *e;
	int k = words(line, w, 5), join;

	if (k == 0 || w[0][0] == '#')
		return 0;
	if (hm_ip_parse(w[0], strlen(w[0]), &ip) != 0 || ip == 0 ||
	    ip == 0xffffffffu)
		return -1;
	if (k == 1) {
		trace_stopset_add(s, ip);
		return 0;
	}
	/* The time is optional: lines of an older tracehop have none, and
	   count as seen now. */
	join = k > 3 && strcmp(w[3], "join") == 0;
	if (k < 3 || k > 4 + join || (k == 4 + join &&
	    hm_strtou64(w[k - 1], 0, UINT64_MAX, &at, &why) != 0) ||
	    hm_strtou64(w[1], 1, TRACE_MAX_TTL, &ttl, &why) != 0 ||
	    (strcmp(w[2], "-") != 0 &&
	    hm_ip_parse(w[2], strlen(w[2]), &pred) != 0))
		return -1;
	if (s->max_age_s > 0 && at < s->now_s &&
	    s->now_s - at > s->max_age_s) {
		s->forgotten++;	/* too old */
		return 0;
	}
	was = (e = find(s, ip)) != NULL ? e->last_s : 0;
	trace_stopset_put(s, ip, (unsigned)ttl, pred);
	/* A router at two TTLs keeps the first: the rest of this line is
	   not about that entry. */
	if ((e = find(s, ip)) == NULL || e->ttl != ttl)
		return 0;
	e->last_s = was > at ? was : at;
	if (join)
		e->multi = 1;
	if (e->pred != 0)	/* settled in an earlier run */
		e->seen = 255;
	return 0;
}

/* A predecessor not in the set (forgotten, or its line lost) is no way
   home: the link into the router is to be measured again, and settle. */
static void
orphans(struct trace_stopset *s)
{
	size_t i;

	for (i = 0; i <= s->mask; i++) {
		struct entry *e = &s->slot[i];

		if (e->ip1 == 0)
			continue;
		if (e->pred != 0 && find(s, e->pred) == NULL) {
			e->pred = 0;
			e->seen = 0;
		}
		if (e->pred2 != 0 && find(s, e->pred2) == NULL) {
			e->pred2 = 0;
			e->seen = 0;
		}
	}
}

int
trace_stopset_read(struct trace_stopset *s, FILE *fp, const char *name)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	unsigned long n = 0;
	int bad = 0;

	while ((len = getline(&line, &cap, fp)) > 0) {
		const char *why = NULL;

		n++;
		if (line[len - 1] != '\n')
			why = "cut short (no newline at the end: written by a "
			    "run that was stopped), skipped";
		else if ((size_t)len > LINE_MAX_BYTES)
			why = "line too long, skipped";
		else if (memchr(line, '\0', (size_t)len) != NULL)
			why = "NUL byte in the line, skipped";
		else {
			line[len - 1] = '\0';
			if (len > 1 && line[len - 2] == '\r')
				line[len - 2] = '\0';
			if (read_line(s, line) != 0)
				why = "not ADDR TTL PRED [join] [TIME], skipped";
		}
		if (why != NULL) {
			if (name != NULL)
				hm_linewarn(name, n, "%s", why);
			bad++;
		}
	}
	free(line);
	if (ferror(fp))
		return -1;
	orphans(s);
	return bad;
}

int
trace_stopset_write(const struct trace_stopset *s, FILE *fp)
{
	char ip[16];
	size_t i;

	fprintf(fp, "# tracehop stop set: address, TTL, the hop before, "
	    "[join,] when last seen\n");
	for (i = 0; i <= s->mask; i++) {
		const struct entry *e = &s->slot[i];

		if (e->ip1 == 0)
			continue;
		hm_ip_format(e->ip1 - 1, ip);
		if (e->ttl == 0) {
			fprintf(fp, "%s\n", ip);
			continue;
		}
		fprintf(fp, "%s %u ", ip, e->ttl);
		hm_ip_format(e->pred, ip);
		fprintf(fp, "%s%s %llu\n", e->pred != 0 ? ip : "-",
		    e->multi ? " join" : "", (unsigned long long)e->last_s);
	}
	return ferror(fp) ? -1 : 0;
}

int
trace_stopset_load(struct trace_stopset *s, const char *path)
{
	FILE *fp = fopen(path, "r");
	int rc;

	if (fp == NULL)
		return errno == ENOENT ? 0 : -1;	/* a first run */
	rc = trace_stopset_read(s, fp, path);
	fclose(fp);
	s->dirty = 0;
	return rc < 0 ? -1 : 0;
}

int
trace_stopset_save(struct trace_stopset *s, const char *path)
{
	struct hm_atomic a;

	if (!s->dirty)
		return 0;
	/* fsync: the next run starts from this file. */
	if (hm_atomic_open(&a, path, 0644, 1) != 0)
		return -1;
	if (trace_stopset_write(s, a.fp) != 0) {
		hm_atomic_abort(&a);
		return -1;
	}
	if (hm_atomic_commit(&a) != 0)
		return -1;
	s->dirty = 0;
	return 0;
}

/*
 * Through a descriptor opened before privilege was dropped (tracehop: the
 * user it runs as may not write in the file's directory, so no new file
 * and rename): read under a shared lock; rewritten in place under an
 * exclusive one, after reading again what another run saved meanwhile (a
 * set only learns, so both runs' routers are kept).  Killed while it
 * writes, the file holds the first lines of the new set and a line cut
 * short, which the reader skips: routers lost, to be found again, and no
 * false one.
 */
int
trace_stopset_load_fd(struct trace_stopset *s, int fd, const char *name)
{
	FILE *fp;
	int rc = -1, dfd, e;

	if (flock(fd, LOCK_SH) != 0)
		return -1;
	if (lseek(fd, 0, SEEK_SET) == 0 && (dfd = dup(fd)) >= 0) {
		if ((fp = fdopen(dfd, "r")) == NULL)
			close(dfd);
		else {
			rc = trace_stopset_read(s, fp, name);
			fclose(fp);
		}
	}
	e = errno;
	(void)flock(fd, LOCK_UN);
	errno = e;
	/* Bad lines (said now) and old ones go at the next save. */
	s->dirty = rc > 0 || s->forgotten > 0;
	return rc < 0 ? -1 : 0;
}

int
trace_stopset_save_fd(struct trace_stopset *s, int fd)
{
	FILE *fp = NULL;
	int rc = -1, dfd, e;

	if (!s->dirty)
		return 0;
	if (flock(fd, LOCK_EX) != 0)
		return -1;
	if (lseek(fd, 0, SEEK_SET) != 0 || (dfd = dup(fd)) < 0)
		goto out;
	if ((fp = fdopen(dfd, "r+")) == NULL) {
		close(dfd);
		goto out;
	}
	if (trace_stopset_read(s, fp, NULL) < 0)	/* said at the load */
		goto out;
	rewind(fp);
	if (ftruncate(dfd, 0) != 0 || trace_stopset_write(s, fp) != 0 ||
	    fflush(fp) != 0 || fsync(dfd) != 0)
		goto out;
	rc = 0;
	s->dirty = 0;
out:
	e = errno;
	if (fp != NULL && fclose(fp) != 0 && rc == 0) {
		rc = -1;
		e = errno;
	}
	(void)flock(fd, LOCK_UN);
	errno = e;
	return rc;
}
