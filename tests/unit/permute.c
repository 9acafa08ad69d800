/* Unit tests for lib/addrset/permute.c and rangeset.c: the shuffle is a
   bijection for many sizes and seeds, shards partition the positions
   exactly, and range sets cover, deduplicate and exclude as documented. */
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "addrset/addrset.h"
#include "tap.h"

static const uint64_t sizes[] = {
	1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 31, 100, 255, 256, 257, 1000, 1023,
	1024, 1025, 4097, 65535, 65536, 65537, 100003, 1u << 20, (1u << 20) + 1
};
static const uint64_t seeds[] = { 0, 1, 2, 42, 0xdeadbeef, ~0ull };

#define NSIZES (sizeof(sizes) / sizeof(sizes[0]))
#define NSEEDS (sizeof(seeds) / sizeof(seeds[0]))

/* Every i < n maps into [0, n) and no image repeats. */
static int
is_bijection(uint64_t n, uint64_t seed)
{
	unsigned char *hit = calloc(n, 1);
	struct hm_perm p;
	uint64_t i, v;
	int ok = 1;

	if (hit == NULL)
		abort();
	hm_perm_init(&p, n, seed);
	for (i = 0; i < n && ok; i++) {
		v = hm_perm_at(&p, i);
		if (v >= n || hit[v])
			ok = 0;
		else
			hit[v] = 1;
	}
	free(hit);
	return ok;
}

static void
test_bijection(void)
{
	size_t a, b;

	for (a = 0; a < NSIZES; a++) {
		int ok = 1;

		for (b = 0; b < NSEEDS; b++)
			ok &= is_bijection(sizes[a], seeds[b]);
		CHECK(ok, "permutation of %llu is a bijection for %zu seeds",
		    (unsigned long long)sizes[a], NSEEDS);
	}
}

/* The order must actually change, differ by seed, and repeat by seed. */
static void
test_shuffles(void)
{
	struct hm_perm p, q, r;
	uint64_t i, fixed = 0, differ = 0, same = 1, n = 100000, seed;

	hm_perm_init(&p, n, 1);
	hm_perm_init(&q, n, 2);
	hm_perm_init(&r, n, 1);
	for (i = 0; i < n; i++) {
		fixed += hm_perm_at(&p, i) == i;
		differ += hm_perm_at(&p, i) != hm_perm_at(&q, i);
		same &= hm_perm_at(&p, i) == hm_perm_at(&r, i);
	}
	CHECK(fixed < 100, "few fixed points (%llu of %llu)",
	    (unsigned long long)fixed, (unsigned long long)n);
	CHECK(differ > n - 100, "two seeds give different orders");
	CHECK(same, "the same seed gives the same order");
	/* Neighbours in the output are far apart in the input: the first
	   outputs of a /16-sized list do not come from one /24.
	   By chance about one of the 255 after the first shares its /24. */
	for (seed = 0, fixed = 0; seed < 64; seed++) {
		hm_perm_init(&p, 65536, seed);
		for (i = 1; i < 256; i++)
			fixed += hm_perm_at(&p, i) >> 8 == hm_perm_at(&p, 0) >> 8;
	}
	CHECK(fixed < 2 * 64, "the first 256 outputs spread over the /16 "
	    "(%llu share the first's /24 in 64 seeds)",
	    (unsigned long long)fixed);
}

/* The biggest case cidr-expand meets: all of IPv4, spot-checked. */
static void
test_big(void)
{
	struct hm_perm p;
	uint64_t n = 1ull << 32, i, bad = 0;

	hm_perm_init(&p, n, 3);
	for (i = 0; i < n; i += 65521)
		bad += hm_perm_at(&p, i) >= n;
	CHECK(bad == 0, "2^32 positions map into range");
	hm_perm_init(&p, n + 1, 3);
	CHECK(hm_perm_at(&p, n) <= n, "2^32+1 positions map into range");
}

/* Shard K of N takes positions K-1, K-1+N, ...: counts add up to the total
   and every position has exactly one shard. */
static void
test_shards(void)
{
	static const uint64_t ns[] = { 1, 2, 3, 4, 7, 10, 64, 1000 };
	static const uint64_t totals[] = { 0, 1, 2, 5, 999, 1000, 1001, 65537 };
	size_t a, b;

	for (a = 0; a < sizeof(ns) / sizeof(ns[0]); a++) {
		int ok = 1;

		for (b = 0; b < sizeof(totals) / sizeof(totals[0]); b++) {
			uint64_t n = ns[a], total = totals[b], k, j, sum = 0;
			unsigned char *hit = calloc(total + 1, 1);

			for (k = 0; k < n; k++) {
				uint64_t size = hm_shard_size(total, k, n);

				sum += size;
				for (j = 0; j < size; j++) {
					uint64_t pos = k + j * n;

					if (pos >= total || hit[pos]++)
						ok = 0;
				}
			}
			ok &= sum == total;
			for (j = 0; j < total; j++)
				ok &= hit[j] == 1;
			free(hit);
		}
		CHECK(ok, "%llu shards partition positions exactly",
		    (unsigned long long)ns[a]);
	}
}

/* Shuffle then shard, as cidr-expand does: the union of the shards'
   addresses is every index exactly once. */
static void
test_shuffled_shards(void)
{
	uint64_t total = 70001, n = 7, k, j;
	unsigned char *hit = calloc(total, 1);
	struct hm_perm p;
	int ok = 1;

	hm_perm_init(&p, total, 99);
	for (k = 0; k < n; k++)
		for (j = 0; j < hm_shard_size(total, k, n); j++)
			if (hit[hm_perm_at(&p, k + j * n)]++)
				ok = 0;
	for (j = 0; j < total; j++)
		ok &= hit[j] == 1;
	free(hit);
	CHECK(ok, "7 shuffled shards of 70001 cover each index once");
}

#define S(a, b) { (a), (b) }

static void
test_rangeset(void)
{
	/* 1: 10.0.0.0/24; 2 overlaps its end; 3 inside 1; 4 a duplicate of
	   1; 5 far away and adjacent to 6. */
	static const struct hm_span in[] = {
		S(0x0a000000, 0x0a0000ff), S(0x0a000080, 0x0a00017f),
		S(0x0a000010, 0x0a00001f), S(0x0a000000, 0x0a0000ff),
		S(0xfffffff0, 0xffffffff), S(0xffffffe0, 0xffffffef),
	};
	static const struct hm_span ex[] = {
		S(0x0a000000, 0x0a000000), S(0x0a000100, 0x0a000100),
		S(0xfffffffe, 0xffffffff),
	};
	struct hm_rangeset rs;
	uint64_t pos;
	size_t i;
	int ok = 1;

	hm_rangeset_build(&rs, in, 6, NULL, 0);
	CHECK(rs.total == 384 + 32, "overlaps and duplicates count once "
	    "(%llu)", (unsigned long long)rs.total);
	CHECK(rs.n == 4 && rs.seg[0].owner == 0 && rs.seg[1].owner == 1 &&
	    rs.seg[2].owner == 5 && rs.seg[3].owner == 4,
	    "the first range given owns shared addresses");
	for (i = 1; i < rs.n; i++)
		ok &= rs.seg[i].lo > rs.seg[i - 1].hi &&
		    rs.seg[i].base == rs.seg[i - 1].base + rs.seg[i - 1].hi -
		    rs.seg[i - 1].lo + 1;
	CHECK(ok, "segments sorted, disjoint, bases are running sums");
	for (pos = 0, ok = 1; pos < rs.total; pos++) {
		i = hm_rangeset_seg(&rs, pos);
		ok &= pos >= rs.seg[i].base && pos - rs.seg[i].base <=
		    (uint64_t)rs.seg[i].hi - rs.seg[i].lo;
	}
	CHECK(ok, "every position finds its segment");
	hm_rangeset_free(&rs);

	hm_rangeset_build(&rs, in, 6, ex, 3);
	CHECK(rs.total == 384 + 32 - 4, "exclusions removed (%llu)",
	    (unsigned long long)rs.total);
	CHECK(rs.n > 0 && rs.seg[0].lo == 0x0a000001 &&
	    rs.seg[rs.n - 1].hi == 0xfffffffd, "exclusions cut the ends");
	hm_rangeset_free(&rs);

	static const struct hm_span all[] = { S(0, 0xffffffff) };
	hm_rangeset_build(&rs, all, 1, all, 1);
	CHECK(rs.total == 0 && rs.n == 0, "everything minus everything");
	hm_rangeset_free(&rs);
	hm_rangeset_build(&rs, all, 1, NULL, 0);
	CHECK(rs.total == 1ull << 32 && rs.n == 1, "0.0.0.0/0 is 2^32");
	hm_rangeset_free(&rs);
}

/* Many segments, so lookups go through the top index: addresses
   0, 2, 4, ... given in reverse, position p must be address 2p. */
static void
test_many_segments(void)
{
	size_t n = 10007, i;
	struct hm_span *sp = calloc(n, sizeof(*sp));
	struct hm_rangeset rs;
	uint64_t pos;
	int ok = 1;

	for (i = 0; i < n; i++)
		sp[i].lo = sp[i].hi = (uint32_t)(2 * (n - 1 - i));
	hm_rangeset_build(&rs, sp, n, NULL, 0);
	CHECK(rs.n == n && rs.total == n, "%zu one-address segments", n);
	for (pos = 0; pos < rs.total; pos++) {
		const struct hm_seg *s = &rs.seg[hm_rangeset_seg(&rs, pos)];

		ok &= s->lo + (pos - s->base) == 2 * pos &&
		    s->owner == n - 1 - pos;
	}
	CHECK(ok, "each position finds its address among %zu segments", n);
	hm_rangeset_free(&rs);
	free(sp);
}

int
main(void)
{
	test_bijection();
	test_shuffles();
	test_big();
	test_shards();
	test_shuffled_shards();
	test_rangeset();
	test_many_segments();
	return tap_failed ? 1 : 0;
}
