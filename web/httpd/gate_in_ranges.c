/*
 * gate_in_ranges.c: the hub's range files (HUB/ranges/NAME.txt) as one set of
 * addresses, each once, walked in a fixed spread order.
 *
 * A line is what cidr-expand reads (a prefix, a range or an address, '#'
 * comments, IPv6 skipped), through the same parser (hm_range_parse) and
 * the same set (lib/addrset: overlaps merged, special-purpose addresses
 * left out unless asked).  Position i of the order is hm_perm_at(i) in the
 * set, as cidr-expand --shuffle does, so consecutive targets fall far
 * apart and no /24 is hammered.
 *
 * The fingerprint is of the resulting set (its segments), not of the file
 * names or their text: renaming a file, reordering lines or adding one
 * already covered keeps every cursor; a set that changed restarts them
 * (gate_in_feed.c says why).
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "httpd/gate_in.h"

/* The order's key: fixed, so two hubs with the same ranges have the same
   order and a consumer's position means the same addresses on both. */
#define GI_ORDER_SEED 0x686f706d61702d69ull

struct spans {
	struct hm_span *v;
	size_t n, cap;
};

static int
spans_add(struct spans *s, uint32_t lo, uint32_t hi)
{
	struct hm_span *v;

	if (s->n == s->cap) {
		v = realloc(s->v, (s->cap ? 2 * s->cap : 256) * sizeof(*v));
		if (v == NULL)
			return -1;
		s->v = v;
		s->cap = s->cap ? 2 * s->cap : 256;
	}
	s->v[s->n].lo = lo;
	s->v[s->n].hi = hi;
	s->n++;
	return 0;
}

/* One line of a range file; NAME and LINENO for the message. */
static void
line_add(struct gi_ranges *r, struct spans *s, const char *line, size_t len,
    const char *name, unsigned long lineno)
{
	const char *hash = memchr(line, '#', len), *why;
	uint32_t lo, hi;

	if (hash != NULL)
		len = (size_t)(hash - line);
	while (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\t' ||
	    line[len - 1] == '\r'))
		len--;
	while (len > 0 && (*line == ' ' || *line == '\t')) {
		line++;
		len--;
	}
	if (len == 0 || hm_looks_ipv6(line, len))
		return;
	if (hm_range_parse(line, len, &lo, &hi, &why) != 0) {
		if (name != NULL)
			hm_linewarn(name, lineno, "%s: %.*s", why,
			    (int)(len > 40 ? 40 : len), line);
		r->bad++;
		return;
	}
	if (spans_add(s, lo, hi) != 0)
		r->bad++;
}

static uint64_t
fnv_u64(uint64_t h, uint64_t v)
{
	int i;

	for (i = 0; i < 8; i++) {
		h ^= (v >> (8 * i)) & 0xff;
		h *= 0x100000001b3ull;
	}
	return h;
}

/* The set from the spans read: exclusions, order, fingerprint. */
static int
finish(struct gi_ranges *r, struct spans *s, int reserved)
{
	struct hm_span *excl = NULL;
	uint64_t h = 0xcbf29ce484222325ull;
	size_t i, j, runs, nexcl = 0;

	if (!reserved) {
		if ((excl = calloc(hm_special_count, sizeof(*excl))) == NULL)
			return -1;
		for (i = 0; i < hm_special_count; i++) {
			excl[i].lo = hm_special_table[i].lo;
			excl[i].hi = hm_special_table[i].hi;
		}
		nexcl = hm_special_count;
	}
	hm_rangeset_build(&r->rs, s->v, s->n, excl, nexcl);
	free(excl);
	r->total = r->rs.total;
	/* Runs of adjacent segments as one: the segments split where their
	   owners (the lines) change, and the set is what counts. */
	for (i = 0, runs = 0; i < r->rs.n; i = j, runs++) {
		for (j = i + 1; j < r->rs.n &&
		    r->rs.seg[j].lo == r->rs.seg[j - 1].hi + 1; j++)
			;
		h = fnv_u64(h, (uint64_t)r->rs.seg[i].lo << 32 |
		    r->rs.seg[j - 1].hi);
	}
	h = fnv_u64(h, runs);
	snprintf(r->fp, sizeof r->fp, "%016llx", (unsigned long long)h);
	hm_perm_init(&r->perm, r->total, GI_ORDER_SEED);
	return 0;
}

static int
by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int
is_txt(const struct dirent *d)
{
	size_t n = strlen(d->d_name);

	return d->d_name[0] != '.' && n > 4 &&
	    strcmp(d->d_name + n - 4, ".txt") == 0;
}

static int
read_file(struct gi_ranges *r, struct spans *s, const char *path)
{
	struct hm_lines lr;
	char *line;
	size_t len;
	int rc;

	if (hm_lines_open(&lr, path, HM_MAXLINE_DEFAULT) != 0)
		return -1;
	while ((rc = hm_lines_next(&lr, &line, &len)) == 1)
		line_add(r, s, line, len, path, lr.lineno);
	r->bad += lr.toolong;
	hm_lines_close(&lr);
	return rc < 0 ? -1 : 0;
}

int
gi_ranges_load(struct gi_ranges *r, const char *dir, int reserved, char *err,
    size_t errlen)
{
	struct dirent **ents = NULL;
	struct spans s = { 0 };
	char path[4096];
	int n, i, rc = 0;

	memset(r, 0, sizeof *r);
	if ((n = scandir(dir, &ents, is_txt, by_name)) < 0) {
		if (errno != ENOENT) {
			snprintf(err, errlen, "%s: %s", dir, strerror(errno));
			return -1;
		}
		n = 0;
	}
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof path, "%s/%s", dir, ents[i]->d_name);
		if (rc == 0 && read_file(r, &s, path) != 0) {
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			rc = -1;
		}
		r->nfiles++;
		free(ents[i]);
	}
	free(ents);
	if (rc == 0 && finish(r, &s, reserved) != 0) {
		snprintf(err, errlen, "out of memory");
		rc = -1;
	}
	free(s.v);
	return rc;
}

int
gi_ranges_from_text(struct gi_ranges *r, const char *text, int reserved)
{
	struct spans s = { 0 };
	const char *nl;
	int rc;

	memset(r, 0, sizeof *r);
	for (; *text != '\0'; text = nl + 1) {
		if ((nl = strchr(text, '\n')) == NULL)
			nl = text + strlen(text) - 1;
		line_add(r, &s, text, (size_t)(nl - text) + (*nl != '\n'),
		    NULL, 0);
	}
	rc = finish(r, &s, reserved);
	free(s.v);
	return rc;
}

uint32_t
gi_ranges_at(const struct gi_ranges *r, uint64_t i)
{
	uint64_t pos = hm_perm_at(&r->perm, i);
	const struct hm_seg *seg = &r->rs.seg[hm_rangeset_seg(&r->rs, pos)];

	return seg->lo + (uint32_t)(pos - seg->base);
}

void
gi_ranges_free(struct gi_ranges *r)
{
	hm_rangeset_free(&r->rs);
	memset(r, 0, sizeof *r);
}
