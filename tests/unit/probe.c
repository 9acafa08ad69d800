/* Unit tests for the probing helpers: SipHash against its reference
   vector, the internet checksum, the token bucket, RTT formatting and the
   record writer that splices a result in. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/core.h"
#include "probe/probe.h"
#include "tap.h"

static void
test_siphash(void)
{
	struct probe_key k;
	uint8_t key[16], in[15];
	size_t i;

	/* The paper's test vector: key 00..0f, message 00..0e. */
	for (i = 0; i < 16; i++)
		key[i] = (uint8_t)i;
	for (i = 0; i < 15; i++)
		in[i] = (uint8_t)i;
	memcpy(&k.k0, key, 8);
	memcpy(&k.k1, key + 8, 8);
	CHECK(probe_siphash(&k, in, 15) == 0xa129ca6149be45e5ull,
	    "siphash-2-4 reference vector");
	CHECK(probe_siphash(&k, in, 0) == 0x726fdb47dd0e0e31ull,
	    "siphash-2-4 of the empty message");
}

static void
test_cksum(void)
{
	/* An echo request header, id 0x1234 seq 1, checksum field zero. */
	uint8_t pkt[8] = { 8, 0, 0, 0, 0x12, 0x34, 0, 1 };
	uint16_t c = probe_cksum(pkt, sizeof(pkt));

	memcpy(pkt + 2, &c, 2);
	CHECK(pkt[2] == 0xe5 && pkt[3] == 0xca, "checksum of an echo header");
	CHECK(probe_cksum(pkt, sizeof(pkt)) == 0,
	    "a packet with its checksum sums to zero");
	CHECK(probe_cksum("\x01", 1) == (uint16_t)~1u,
	    "odd length pads with zero");
}

static void
test_bucket(void)
{
	struct probe_bucket b;
	uint64_t t = 1000000000ull;
	int n = 0, i;

	probe_bucket_init(&b, 1000, 10, t);
	for (i = 0; i < 100; i++)
		n += probe_bucket_take(&b, t);
	CHECK(n == 1, "a new bucket holds one token, not a burst (%d)", n);
	CHECK(probe_bucket_wait(&b, t) > 0 &&
	    probe_bucket_wait(&b, t) <= 1000001, "wait for the next token");
	n = 0;
	for (i = 0; i < 100; i++)
		n += probe_bucket_take(&b, t + 1000000000ull);
	CHECK(n == 10, "a second later the bucket is full at its burst (%d)",
	    n);
	n = 0;
	for (i = 0; i < 1000; i++)
		n += probe_bucket_take(&b, t + 1000000000ull + i * 100000ull);
	CHECK(n >= 99 && n <= 101, "100 tokens in 0.1 s at 1000/s (%d)", n);
}

static void
test_ms(void)
{
	static const struct { double v; const char *s; } cases[] = {
		{ 0.41, "0.41" }, { 0.4104, "0.41" }, { 12.3, "12.3" },
		{ 0.0004, "0" }, { 0.0006, "0.001" }, { 1000, "1000" },
		{ 123.4567, "123.457" }, { -1, "0" },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char buf[32];
		size_t pos = 0;

		probe_json_ms(buf, sizeof(buf), &pos, cases[i].v);
		CHECK(strcmp(buf, cases[i].s) == 0 && pos == strlen(buf),
		    "ms %g prints as %s (%s)", cases[i].v, cases[i].s, buf);
	}
}

/* The atomic writer replaces a planted symlink at the target without
   writing through it, sets the mode whatever the umask, and leaves no
   temporary file behind. */
static void
test_atomic(void)
{
	char dir[] = "/tmp/hopmap-unit.XXXXXX", path[128], victim[128], buf[64];
	struct hm_atomic a;
	struct stat st;
	FILE *fp;
	int r;

	if (mkdtemp(dir) == NULL) {
		CHECK(0, "mkdtemp");
		return;
	}
	snprintf(path, sizeof(path), "%s/out", dir);
	snprintf(victim, sizeof(victim), "%s/victim", dir);
	fp = fopen(victim, "w");
	fputs("precious\n", fp);
	fclose(fp);
	r = symlink(victim, path);
	umask(077);
	r = r == 0 && hm_atomic_open(&a, path, 0644, 1) == 0;
	CHECK(r && lstat(a.tmp, &st) == 0 && S_ISREG(st.st_mode) &&
	    (st.st_mode & 0777) == 0644 && strncmp(a.tmp, path,
	    strlen(path)) == 0, "atomic: a new temporary beside the file, "
	    "mode 0644 under umask 077");
	if (r) {
		fputs("new\n", a.fp);
		r = hm_atomic_commit(&a) == 0;
	}
	CHECK(r && lstat(path, &st) == 0 && S_ISREG(st.st_mode),
	    "atomic: a symlink at the target is replaced, not followed");
	fp = fopen(victim, "r");
	CHECK(fp != NULL && fgets(buf, sizeof(buf), fp) != NULL &&
	    strcmp(buf, "precious\n") == 0, "atomic: the symlink's target "
	    "is untouched");
	if (fp != NULL)
		fclose(fp);
	CHECK(hm_atomic_symlink("victim", path) == 0 &&
	    readlink(path, buf, sizeof(buf)) == 6 && memcmp(buf, "victim",
	    6) == 0, "atomic: a symlink pointed by rename");
	umask(022);
	unlink(path);
	unlink(victim);
	CHECK(rmdir(dir) == 0, "atomic: no temporary file left behind");
}

int
main(void)
{
	test_siphash();
	test_cksum();
	test_bucket();
	test_ms();
	test_atomic();
	return tap_failed ? 1 : 0;
}
