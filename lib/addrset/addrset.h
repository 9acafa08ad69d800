/*
 * addrset.h: cidr-expand's address sets: disjoint indexed ranges
 * (rangeset.c) walked in a keyed pseudo-random order (permute.c).
 */
#ifndef HOPMAP_ADDRSET_H
#define HOPMAP_ADDRSET_H

#include <stddef.h>
#include <stdint.h>

/* ---- permute.c: a keyed pseudo-random bijection on [0, n) ---- */
#define HM_PERM_ROUNDS 6
struct hm_perm {
	uint64_t n;
	unsigned int lbits, rbits;	/* Feistel halves: 2^(l+r) >= n */
	uint64_t key[HM_PERM_ROUNDS];
};
/* n may be 0 .. 2^63; the same (n, seed) always gives the same order. */
void hm_perm_init(struct hm_perm *p, uint64_t n, uint64_t seed);
/* The image of i < n: each of [0, n) exactly once as i runs over [0, n). */
uint64_t hm_perm_at(const struct hm_perm *p, uint64_t i);
/* How many positions p in [0, total) have p % nshards == shard (0-based):
   the share of one of nshards nodes, which together cover [0, total). */
uint64_t hm_shard_size(uint64_t total, uint64_t shard, uint64_t nshards);

/* ---- rangeset.c: disjoint, sorted, indexed IPv4 segments ---- */
struct hm_span {
	uint32_t lo, hi;	/* inclusive */
};
struct hm_seg {
	uint32_t lo, hi;	/* inclusive */
	uint32_t owner;		/* index of the first span holding it */
	uint64_t base;		/* position of lo in the address order */
};
struct hm_rangeset {
	struct hm_seg *seg;	/* sorted by address, disjoint */
	size_t n;
	uint64_t total;		/* addresses in all segments */
	uint64_t *top;		/* base of every HM_RS_STRIDE-th segment: a */
	size_t ntop;		/* small index that stays in cache */
};
#define HM_RS_STRIDE 64
/* The union of spans[0..n) minus the union of excl[0..nexcl); where spans
   overlap the lowest index owns the addresses.  Adjacent pieces of one
   owner are joined. */
void hm_rangeset_build(struct hm_rangeset *rs, const struct hm_span *spans,
    size_t n, const struct hm_span *excl, size_t nexcl);
/* The segment holding position pos < rs->total. */
size_t hm_rangeset_seg(const struct hm_rangeset *rs, uint64_t pos);
void hm_rangeset_free(struct hm_rangeset *rs);
/* Sort and coalesce spans in place; returns how many remain. */
size_t hm_spans_merge(struct hm_span *s, size_t n);

#endif
