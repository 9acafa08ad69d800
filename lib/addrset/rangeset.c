/*
 * rangeset.c: a list of possibly overlapping IPv4 ranges turned into
 * disjoint, sorted segments, minus exclusions, with each segment's first
 * position in the address order, so position -> address is one bisection.
 *
 * Memory is proportional to the number of ranges, never to the number of
 * addresses: a /0 costs what a /32 costs.
 *
 * Where ranges overlap, the first one given (lowest index) owns the shared
 * addresses, as a streaming "keep the first occurrence" dedup would.
 */
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "addrset.h"

static void *
xreallocarray(void *p, size_t n, size_t size)
{
	if ((p = reallocarray(p, n == 0 ? 1 : n, size)) == NULL)
		hm_err(HM_EXIT_FAIL, "out of memory");
	return p;
}

/* ---- a min-heap of span indices: the open spans, lowest index first ---- */
struct heap {
	uint32_t *v;
	size_t n;
};

static void
heap_push(struct heap *h, uint32_t x)
{
	size_t i = h->n++;

	while (i > 0 && h->v[(i - 1) / 2] > x) {
		h->v[i] = h->v[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	h->v[i] = x;
}

static void
heap_pop(struct heap *h)
{
	uint32_t x = h->v[--h->n];
	size_t i = 0, c;

	while ((c = 2 * i + 1) < h->n) {
		if (c + 1 < h->n && h->v[c + 1] < h->v[c])
			c++;
		if (h->v[c] >= x)
			break;
		h->v[i] = h->v[c];
		i = c;
	}
	h->v[i] = x;
}

static const struct hm_span *sort_spans;

static int
by_lo(const void *a, const void *b)
{
	const struct hm_span *x = &sort_spans[*(const uint32_t *)a];
	const struct hm_span *y = &sort_spans[*(const uint32_t *)b];

	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	return *(const uint32_t *)a < *(const uint32_t *)b ? -1 : 1;
}

static void
seg_append(struct hm_rangeset *rs, size_t *cap, uint32_t lo, uint32_t hi,
    uint32_t owner)
{
	struct hm_seg *last = rs->n > 0 ? &rs->seg[rs->n - 1] : NULL;

	if (last != NULL && last->owner == owner && last->hi + 1 == lo &&
	    last->hi != 0xffffffffu) {
		last->hi = hi;
		return;
	}
	if (rs->n == *cap) {
		*cap = *cap ? 2 * *cap : 64;
		rs->seg = xreallocarray(rs->seg, *cap, sizeof(*rs->seg));
	}
	rs->seg[rs->n].lo = lo;
	rs->seg[rs->n].hi = hi;
	rs->seg[rs->n].owner = owner;
	rs->n++;
}

/*
 * Sweep the spans in address order, keeping the open ones in a heap keyed
 * by index.  Between two boundaries (a span's start or the owner's end) the
 * owner cannot change, so each boundary adds at most one segment: at most
 * 2n segments.  Spans that ended but are not on top stay in the heap until
 * they surface; they never own anything again.
 */
static void
cover(struct hm_rangeset *rs, const struct hm_span *spans, size_t n,
    size_t *cap)
{
	uint32_t *order = xreallocarray(NULL, n, sizeof(*order));
	struct heap h = { xreallocarray(NULL, n, sizeof(uint32_t)), 0 };
	uint64_t cur = 0, end, next;
	size_t i, k = 0;

	for (i = 0; i < n; i++)
		order[i] = (uint32_t)i;
	sort_spans = spans;
	qsort(order, n, sizeof(*order), by_lo);
	for (;;) {
		if (h.n == 0) {
			if (k == n)
				break;
			cur = spans[order[k]].lo;
		}
		while (k < n && spans[order[k]].lo <= cur)
			heap_push(&h, order[k++]);
		while (h.n > 0 && (uint64_t)spans[h.v[0]].hi + 1 <= cur)
			heap_pop(&h);
		if (h.n == 0)
			continue;
		end = (uint64_t)spans[h.v[0]].hi + 1;
		next = k < n ? spans[order[k]].lo : end;
		if (next < end)
			end = next;
		seg_append(rs, cap, (uint32_t)cur, (uint32_t)(end - 1), h.v[0]);
		cur = end;
	}
	free(h.v);
	free(order);
}

static int
span_cmp(const void *a, const void *b)
{
	const struct hm_span *x = a, *y = b;

	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	return x->hi < y->hi ? -1 : x->hi > y->hi;
}

/* Sort and coalesce in place; returns the new count. */
size_t
hm_spans_merge(struct hm_span *s, size_t n)
{
	size_t i, m = 0;

	if (n == 0)
		return 0;
	qsort(s, n, sizeof(*s), span_cmp);
	for (i = 1; i < n; i++) {
		if ((uint64_t)s[m].hi + 1 >= s[i].lo) {
			if (s[i].hi > s[m].hi)
				s[m].hi = s[i].hi;
		} else {
			s[++m] = s[i];
		}
	}
	return m + 1;
}

/* Remove the (merged, sorted) exclusions from the segments. */
static void
subtract(struct hm_rangeset *rs, const struct hm_span *ex, size_t nex)
{
	struct hm_seg *old = rs->seg;
	size_t nold = rs->n, cap = 0, i, j = 0;

	rs->seg = NULL;
	rs->n = 0;
	for (i = 0; i < nold; i++) {
		uint64_t lo = old[i].lo, hi = old[i].hi;

		while (j < nex && ex[j].hi < lo)
			j++;
		/* Each exclusion overlapping [lo, hi] cuts off its front. */
		for (size_t e = j; e < nex && ex[e].lo <= hi && lo <= hi; e++) {
			if (ex[e].lo > lo)
				seg_append(rs, &cap, (uint32_t)lo,
				    ex[e].lo - 1, old[i].owner);
			lo = (uint64_t)ex[e].hi + 1;
		}
		if (lo <= hi)
			seg_append(rs, &cap, (uint32_t)lo, (uint32_t)hi,
			    old[i].owner);
	}
	free(old);
}

void
hm_rangeset_build(struct hm_rangeset *rs, const struct hm_span *spans,
    size_t n, const struct hm_span *excl, size_t nexcl)
{
	struct hm_span *ex = xreallocarray(NULL, nexcl, sizeof(*ex));
	uint64_t base = 0;
	size_t cap = 0, i;

	if (n > UINT32_MAX)
		hm_errx(HM_EXIT_FAIL, "too many ranges: %zu", n);
	memset(rs, 0, sizeof(*rs));
	cover(rs, spans, n, &cap);
	if (nexcl > 0)
		memcpy(ex, excl, nexcl * sizeof(*ex));
	nexcl = hm_spans_merge(ex, nexcl);
	subtract(rs, ex, nexcl);
	free(ex);
	for (i = 0; i < rs->n; i++) {
		rs->seg[i].base = base;
		base += (uint64_t)rs->seg[i].hi - rs->seg[i].lo + 1;
	}
	rs->total = base;
	rs->ntop = (rs->n + HM_RS_STRIDE - 1) / HM_RS_STRIDE;
	rs->top = xreallocarray(NULL, rs->ntop, sizeof(*rs->top));
	for (i = 0; i < rs->ntop; i++)
		rs->top[i] = rs->seg[i * HM_RS_STRIDE].base;
}

/* Bisections for the last entry <= pos, given that the first one is. */
static size_t
last_top(const uint64_t *v, size_t n, uint64_t pos)
{
	size_t lo = 0, half;

	for (; n > 1; n -= half) {
		half = n / 2;
		if (v[lo + half] <= pos)
			lo += half;
	}
	return lo;
}

static size_t
last_seg(const struct hm_seg *v, size_t n, uint64_t pos)
{
	size_t lo = 0, half;

	for (; n > 1; n -= half) {
		half = n / 2;
		if (v[lo + half].base <= pos)
			lo += half;
	}
	return lo;
}

/*
 * Shuffled output looks up a random position per address, and with a
 * million segments a plain bisection misses the cache at nearly every
 * step.  Bisecting the small top index first leaves one stride of
 * neighbouring segments, a few cache lines, for the second bisection.
 */
size_t
hm_rangeset_seg(const struct hm_rangeset *rs, uint64_t pos)
{
	size_t t = last_top(rs->top, rs->ntop, pos) * HM_RS_STRIDE;
	size_t n = rs->n - t;

	return t + last_seg(rs->seg + t, n < HM_RS_STRIDE ? n : HM_RS_STRIDE,
	    pos);
}

void
hm_rangeset_free(struct hm_rangeset *rs)
{
	free(rs->seg);
	free(rs->top);
	memset(rs, 0, sizeof(*rs));
}
