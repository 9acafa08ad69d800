/*
 * permute.c: a keyed pseudo-random bijection on [0, n), for shuffling a
 * target list that is far too big to hold, in memory that does not grow
 * with n.
 *
 * A Feistel network is a bijection whatever its round function, so it
 * permutes [0, 2^b) for the smallest 2^b >= n.  Cycle-walking (apply it
 * again while the result is >= n) restricts it to a bijection on [0, n):
 * the walk from i stays on i's cycle, and since 2^b < 2n it takes fewer
 * than two steps on average.  When b is odd the halves differ by one bit;
 * each round swaps them, which keeps every round invertible.
 *
 * This shuffles probe order; it is not cryptography.
 */
#include "core/core.h"
#include "addrset.h"

/* A 64-bit finalizer (the splitmix64 constants): every input bit moves
   about half of the output bits, which is all a round function needs. */
static inline uint64_t
mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 31;
	return x;
}

static inline uint64_t
low_mask(unsigned int bits)
{
	return bits >= 64 ? ~0ull : (1ull << bits) - 1;
}

void
hm_perm_init(struct hm_perm *p, uint64_t n, uint64_t seed)
{
	unsigned int bits = 0, i;
	uint64_t state = seed;

	while (bits < 63 && (1ull << bits) < n)
		bits++;
	p->n = n;
	p->lbits = bits / 2;
	p->rbits = bits - p->lbits;
	/* Round keys from the seed by splitmix64, so nearby seeds give
	   unrelated keys. */
	for (i = 0; i < HM_PERM_ROUNDS; i++) {
		state += 0x9e3779b97f4a7c15ull;
		p->key[i] = mix64(state);
	}
}

/* One pass of the network over [0, 2^(lbits+rbits)). */
static uint64_t
feistel(const struct hm_perm *p, uint64_t x)
{
	unsigned int lb = p->lbits, rb = p->rbits, i, t;
	uint64_t l = x >> rb, r = x & low_mask(rb), nl;

	for (i = 0; i < HM_PERM_ROUNDS; i++) {
		nl = r;
		r = (l ^ mix64(r ^ p->key[i])) & low_mask(lb);
		l = nl;
		/* l now has rb bits and r has lb: the halves swap widths. */
		t = lb;
		lb = rb;
		rb = t;
	}
	return l << rb | r;
}

uint64_t
hm_perm_at(const struct hm_perm *p, uint64_t i)
{
	do
		i = feistel(p, i);
	while (i >= p->n);
	return i;
}

uint64_t
hm_shard_size(uint64_t total, uint64_t shard, uint64_t nshards)
{
	return total / nshards + (total % nshards > shard ? 1 : 0);
}
