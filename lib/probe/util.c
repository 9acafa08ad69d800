/*
 * probe/util.c: small pieces every prober needs: the internet checksum,
 * SipHash-2-4 for the keyed checks that let us reject stray and forged
 * replies, a token bucket for pacing, and monotonic time.
 */
#include <errno.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "core/core.h"
#include "probe.h"

uint32_t
probe_cksum_add(uint32_t sum, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint16_t w;

	/* Sum 16-bit words as they lie in memory; the folded result then
	   lies in memory the same way, so no byte swapping is needed. */
	for (; len >= 2; p += 2, len -= 2) {
		memcpy(&w, p, 2);
		sum += w;
		if (sum & 0x80000000u)
			sum = (sum & 0xffff) + (sum >> 16);
	}
	if (len == 1) {
		w = 0;
		memcpy(&w, p, 1);
		sum += w;
	}
	return sum;
}

uint16_t
probe_cksum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

uint16_t
probe_cksum(const void *buf, size_t len)
{
	return probe_cksum_fold(probe_cksum_add(0, buf, len));
}

void
probe_key_init(struct probe_key *k)
{
	uint64_t key[2];
	ssize_t n;

	while ((n = getrandom(key, sizeof(key), 0)) != (ssize_t)sizeof(key))
		if (n >= 0 || errno != EINTR)
			hm_err(HM_EXIT_FAIL, "getrandom");
	k->k0 = key[0];
	k->k1 = key[1];
}

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND do { \
	v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32); \
	v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2; \
	v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0; \
	v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32); \
} while (0)

/* SipHash-2-4 (Aumasson and Bernstein), little-endian words. */
uint64_t
probe_siphash(const struct probe_key *k, const void *buf, size_t len)
{
	uint64_t v0 = 0x736f6d6570736575ull ^ k->k0;
	uint64_t v1 = 0x646f72616e646f6dull ^ k->k1;
	uint64_t v2 = 0x6c7967656e657261ull ^ k->k0;
	uint64_t v3 = 0x7465646279746573ull ^ k->k1;
	const uint8_t *p = buf;
	uint64_t m, b = (uint64_t)len << 56;
	size_t i, left = len & 7;

	for (; len >= 8; p += 8, len -= 8) {
		m = 0;
		for (i = 0; i < 8; i++)
			m |= (uint64_t)p[i] << (8 * i);
		v3 ^= m;
		SIPROUND;
		SIPROUND;
		v0 ^= m;
	}
	for (i = 0; i < left; i++)
		b |= (uint64_t)p[i] << (8 * i);
	v3 ^= b;
	SIPROUND;
	SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

void
probe_bucket_init(struct probe_bucket *b, double rate, double burst,
    uint64_t now_ns)
{
	b->rate = rate;
	b->burst = burst < 1 ? 1 : burst;
	/* Start with one token, not a full bucket: the first second must not
	   be a burst above the asked rate. */
	b->tokens = 1;
	b->last_ns = now_ns;
}

static void
refill(struct probe_bucket *b, uint64_t now_ns)
{
	if (now_ns > b->last_ns) {
		b->tokens += (double)(now_ns - b->last_ns) * b->rate / 1e9;
		if (b->tokens > b->burst)
			b->tokens = b->burst;
		b->last_ns = now_ns;
	}
}

int
probe_bucket_take(struct probe_bucket *b, uint64_t now_ns)
{
	refill(b, now_ns);
	if (b->tokens < 1)
		return 0;
	b->tokens -= 1;
	return 1;
}

uint64_t
probe_bucket_wait(const struct probe_bucket *b, uint64_t now_ns)
{
	double have = b->tokens;

	if (now_ns > b->last_ns)
		have += (double)(now_ns - b->last_ns) * b->rate / 1e9;
	if (have >= 1)
		return 0;
	return (uint64_t)((1 - have) * 1e9 / b->rate) + 1;
}

uint64_t
probe_wall_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t
probe_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
