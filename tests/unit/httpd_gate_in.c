/* httpd_gate_in.c: the gateway's input without HTTP: the range order, the
   feed's decisions, the engine over a real SQLite file (web/httpd/gate_in*). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/core.h"
#include "httpd/gate_in.h"
#include "tap.h"

static char dir[] = "/tmp/gate_in.XXXXXX";
static char ranges[256], dbA[256], dbB[256], queue[256];

static void
write_file(const char *path, const char *text, const char *mode)
{
	FILE *f = fopen(path, mode);

	if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0) {
		perror(path);
		exit(2);
	}
}

/* Every address of the range set is seen once in SEEN (by ip & 0xffff). */
static unsigned char seen[65536];

static int
take(struct gi_engine *e, const char *who, size_t n, size_t *dups,
    size_t *hops)
{
	struct gi_batch b;
	size_t i, got;
	uint64_t pos;

	if (gi_engine_next(e, who, n, 1000.0, &b) != 0)
		return -1;
	got = gi_batch_count(&b);
	for (i = 0; i < b.nhops; i++)
		(*hops)++;
	for (pos = b.range_from; pos < b.range_to; pos++)
		if (seen[gi_ranges_at(&e->ranges, pos) & 0xffff]++ > 0)
			(*dups)++;
	gi_batch_free(&b);
	return (int)got;
}

static size_t
count_seen(void)
{
	size_t i, n = 0;

	for (i = 0; i < 65536; i++)
		n += seen[i] > 0;
	return n;
}

static void
test_ranges(void)
{
	struct gi_ranges r, r2;
	unsigned char bit[768] = { 0 };
	uint64_t i;
	uint32_t a, prev = 0;
	int ok = 1, near = 0;
	char fp[17];

	CHECK(gi_ranges_from_text(&r, "1.2.3.0/24\n5.6.0.0/23 # two\n"
	    "1.2.3.7\n\n2001:db8::/32\n", 0) == 0 && r.total == 768,
	    "ranges: a prefix, a comment, an address inside, IPv6 skipped "
	    "(total %llu)", (unsigned long long)r.total);
	for (i = 0; i < r.total; i++) {
		a = gi_ranges_at(&r, i);
		if ((a >> 8) == 0x010203)
			ok &= bit[a & 0xff]++ == 0;
		else if ((a >> 9) == (0x05060000u >> 9))
			ok &= bit[256 + (a & 0x1ff)]++ == 0;
		else
			ok = 0;
		near += i > 0 && (a >> 8) == (prev >> 8);
		prev = a;
	}
	CHECK(ok, "ranges: every address of the set once, nothing else");
	memcpy(fp, r.fp, sizeof fp);
	gi_ranges_free(&r);
	gi_ranges_from_text(&r, "1.0.0.0/16\n", 0);
	for (near = 0, i = 0; i < r.total; i++) {
		a = gi_ranges_at(&r, i);
		near += i > 0 && (a >> 8) == (prev >> 8);
		prev = a;
	}
	CHECK(near < 1000, "ranges: the order is spread (%d of 65535 steps "
	    "stay in one /24 of 256)", near);
	gi_ranges_free(&r);
	gi_ranges_from_text(&r2, "5.6.0.0/24\n5.6.1.0/24\n1.2.3.0/24\n", 0);
	CHECK(strcmp(fp, r2.fp) == 0, "ranges: the same set in other words "
	    "has the same fingerprint");
	gi_ranges_free(&r2);
	gi_ranges_from_text(&r2, "5.6.0.0/23\n1.2.3.0/24\n1.2.4.0\n", 0);
	CHECK(strcmp(fp, r2.fp) != 0, "ranges: one more address, another "
	    "fingerprint");
	gi_ranges_free(&r2);
	gi_ranges_from_text(&r, "10.0.0.0/30\n1.1.1.0/30\n", 0);
	gi_ranges_from_text(&r2, "10.0.0.0/30\n1.1.1.0/30\n", 1);
	CHECK(r.total == 4 && r2.total == 8, "ranges: special-purpose left "
	    "out unless reserved (%llu, %llu)", (unsigned long long)r.total,
	    (unsigned long long)r2.total);
	gi_ranges_free(&r);
	gi_ranges_free(&r2);
	gi_ranges_from_text(&r, "1.2.3.0/33\nnonsense\n1.2.3.0/31\n", 0);
	CHECK(r.total == 2 && r.bad == 2, "ranges: bad lines counted, the "
	    "good one kept");
	gi_ranges_free(&r);
	gi_ranges_from_text(&r, "host:80\n2001:db8::1-2001:db8::9\n"
	    "1.2.3.0/31\n", 0);
	CHECK(r.total == 2 && r.bad == 1, "ranges: text with a colon is bad, "
	    "an IPv6 range skipped (%llu, %lu)", (unsigned long long)r.total,
	    r.bad);
	gi_ranges_free(&r);
}

static void
test_feed(void)
{
	struct gi_ranges r;
	struct gi_cursor c = { .fp = "" };
	struct gi_plan p;

	gi_ranges_from_text(&r, "1.2.3.0/24\n", 0);
	gi_feed_plan(&c, &r, 100, 30, &p);
	CHECK(p.hops == 30 && p.range_from == 0 && p.range_to == 70 &&
	    !p.restarted && c.restarts == 0, "feed: hops first, ranges fill "
	    "the rest; a new cursor is no restart");
	gi_feed_plan(&c, &r, 10, 50, &p);
	CHECK(p.hops == 10 && p.range_to == p.range_from, "feed: more hops "
	    "than asked: only hops");
	gi_feed_plan(&c, &r, 1000, 0, &p);
	CHECK(p.range_from == 70 && p.range_to == 256 && c.range_pos == 256,
	    "feed: the ranges end at their total");
	gi_feed_plan(&c, &r, 10, 0, &p);
	CHECK(p.hops == 0 && p.range_to == p.range_from, "feed: done and no "
	    "hops: nothing");
	memcpy(c.fp, "0123456789abcdef", 17);
	gi_feed_plan(&c, &r, 10, 0, &p);
	CHECK(p.restarted && c.restarts == 1 && p.range_from == 0 &&
	    p.range_to == 10 && strcmp(c.fp, r.fp) == 0, "feed: another range "
	    "set: the cursor starts it again, counted");
	gi_ranges_free(&r);
}

static struct gi_engine *
open_engine(struct gi_engine *e, const char *db, int shard)
{
	char err[256];

	if (gi_engine_open(e, db, ranges, queue, shard, 0, err,
	    sizeof err) != 0) {
		printf("# %s\n", err);
		exit(2);
	}
	return e;
}

/* Consumer "a" resumes across a close; "b" has its own progress. */
static void
test_resume(void)
{
	struct gi_engine e;
	size_t dups = 0, hops = 0, total;
	int got, i;

	memset(seen, 0, sizeof seen);
	open_engine(&e, dbA, 0);
	total = (size_t)e.ranges.total;
	take(&e, "a", 100, &dups, &hops);
	gi_engine_close(&e);
	open_engine(&e, dbA, 0);
	for (i = 0; i < 100 && (got = take(&e, "a", 97, &dups, &hops)) > 0;)
		i++;
	CHECK(got == 0 && dups == 0 && count_seen() == total, "engine: a "
	    "consumer resumes after a restart, each address once (%zu of %zu, "
	    "%zu twice)", count_seen(), total, dups);
	memset(seen, 0, sizeof seen);
	for (i = 0; i < 100 && (got = take(&e, "b", 1000, &dups, &hops)) > 0;)
		i++;
	CHECK(dups == 0 && count_seen() == total, "engine: another consumer "
	    "has its own progress through all of them");
	gi_engine_close(&e);
}

static void
test_hops(void)
{
	struct gi_engine e;
	struct gi_hops_result r;
	struct gi_batch b;
	size_t len;
	char *text;
	const char body[] = "{\"ip\":\"9.9.9.1\",\"src\":\"hop\",\"found_by\":"
	    "\"w\\\"1\"}\n9.9.9.2\n{\"ip\":\"300.1.1.1\"}\n\n9.9.9.1\n";

	open_engine(&e, dbA, 0);
	gi_engine_add_hops(&e, body, strlen(body), &r);
	CHECK(r.lines == 4 && r.added == 2 && r.known == 1 && r.bad == 1 &&
	    r.bad_line == 3, "hops: 4 lines, 2 added, 1 known, line 3 bad "
	    "(%zu %zu %zu %zu %zu: %s)", r.lines, r.added, r.known, r.bad,
	    r.bad_line, r.why);
	gi_engine_next(&e, "a", 5, 2000.0, &b);
	text = gi_batch_text(&e, &b, 0, &len);
	CHECK(b.nhops == 2 && strcmp(text, "{\"ip\":\"9.9.9.1\",\"found_by\":"
	    "\"w\\\"1\"}\n{\"ip\":\"9.9.9.2\"}\n") == 0, "hops: a consumer "
	    "whose ranges are done gets the new hops, found_by encoded");
	free(text);
	gi_batch_free(&b);
	gi_engine_next(&e, "b", 5, 2000.0, &b);
	CHECK(b.nhops == 2, "hops: every consumer gets them");
	gi_batch_free(&b);
	gi_engine_next(&e, "b", 5, 2000.0, &b);
	CHECK(gi_batch_count(&b) == 0, "hops: given once to each");
	gi_batch_free(&b);
	write_file(queue, "{\"ip\":\"9.9.9.3\",\"found_by\":\"hub\"}\n"
	    "{\"ip\":\"9.9.9.2\"}\n{\"ip\":\"9.9.9.4\"", "w");
	gi_engine_next(&e, "b", 5, 2000.0, &b);
	text = gi_batch_text(&e, &b, 1, &len);
	CHECK(b.nhops == 1 && strcmp(text, "9.9.9.3\n") == 0, "hops: the hub's "
	    "queue is read, whole lines only, through the dedup (%zu)", b.nhops);
	free(text);
	gi_batch_free(&b);
	write_file(queue, "}\n", "a");
	gi_engine_next(&e, "b", 5, 2000.0, &b);
	CHECK(b.nhops == 1 && b.hops[0].ip == 0x09090904, "hops: the queue's "
	    "line, once complete");
	gi_batch_free(&b);
	gi_engine_close(&e);
}

static void
test_shard(void)
{
	struct gi_engine e;
	const char *who[3] = { "x", "y", "z" };
	size_t dups = 0, hops = 0, each[3] = { 0 };
	int got, i, busy = 1, rounds;

	memset(seen, 0, sizeof seen);
	unlink(dbB);
	open_engine(&e, dbB, 1);
	for (rounds = 0; busy && rounds < 100; rounds++)
		for (busy = 0, i = 0; i < 3; i++)
			if ((got = take(&e, who[i], 50, &dups, &hops)) > 0) {
				each[i] += (size_t)got;
				busy = 1;
			}
	CHECK(dups == 0 && count_seen() == e.ranges.total && each[0] > 0 &&
	    each[1] > 0 && each[2] > 0, "shard: each address to exactly one "
	    "of three consumers (%zu %zu %zu)", each[0], each[1], each[2]);
	gi_engine_close(&e);
	unlink(dbB);
}

/* A consumer's state moved from hub A to hub B continues there. */
static void
test_move(void)
{
	struct gi_engine a, b;
	struct gi_state st;
	json_t *x, *res;
	char *text, why[128];
	size_t dups = 0, hops = 0;
	int known, got, i;

	memset(seen, 0, sizeof seen);
	unlink(dbA);
	unlink(dbB);
	unlink(queue);
	open_engine(&a, dbA, 0);
	open_engine(&b, dbB, 0);
	take(&a, "m", 300, &dups, &hops);
	CHECK(gi_engine_export(&a, "nobody", &known) == NULL && !known,
	    "export: an unknown consumer is said to be unknown");
	gi_engine_add_hops(&a, "7.7.7.7\n", 8, &(struct gi_hops_result){ 0 });
	x = gi_engine_export(&a, "m", &known);
	text = hm_json_text(x, 0, &(size_t){ 0 });
	json_decref(x);
	CHECK(gi_parse_state(text, strlen(text), &st, why, sizeof why) == 0 &&
	    st.cur.range_pos == 300 && st.nhops == 1, "export: the cursor and "
	    "the pending hop, read back (%s)", text);
	res = gi_engine_import(&b, &st, 3000.0);
	CHECK(res != NULL && json_is_true(json_object_get(res, "ranges_match")),
	    "import: taken, the ranges match");
	json_decref(res);
	gi_state_free(&st);
	free(text);
	hops = 0;
	for (i = 0; i < 100 && (got = take(&b, "m", 128, &dups, &hops)) > 0;)
		i++;
	CHECK(dups == 0 && count_seen() == b.ranges.total && hops == 1,
	    "import: hub B goes on where A stopped, none skipped or repeated, "
	    "the pending hop too (%zu of %llu, %zu twice, %zu hops)",
	    count_seen(), (unsigned long long)b.ranges.total, dups, hops);
	gi_engine_close(&a);
	gi_engine_close(&b);
}

static void
test_changed(void)
{
	struct gi_engine e;
	struct gi_batch b;
	char path[300];
	json_t *s, *c;

	snprintf(path, sizeof path, "%s/more.txt", ranges);
	write_file(path, "8.8.4.0/30\n", "w");
	open_engine(&e, dbA, 0);
	s = gi_engine_status(&e, 4000.0);
	c = json_array_get(json_object_get(s, "consumers"), 0);
	CHECK(json_is_true(json_object_get(c, "ranges_changed")) &&
	    json_integer_value(json_object_get(c, "done")) == 0,
	    "changed ranges: status says so before the next answer");
	json_decref(s);
	gi_engine_next(&e, "m", 1000, 4000.0, &b);
	CHECK(b.range_from == 0 && b.range_to == e.ranges.total, "changed "
	    "ranges: the consumer starts the new set again (%llu of %llu)",
	    (unsigned long long)b.range_to, (unsigned long long)e.ranges.total);
	gi_batch_free(&b);
	s = gi_engine_status(&e, 4000.0);
	c = json_array_get(json_object_get(s, "consumers"), 0);
	CHECK(json_integer_value(json_object_get(c, "restarts")) == 1 &&
	    json_is_true(json_object_get(c, "finished")), "changed ranges: "
	    "one restart counted, finished");
	json_decref(s);
	gi_engine_close(&e);
	unlink(path);
}

static void
test_parse(void)
{
	static const char *const bad[] = {
		"", "[]", "{\"consumer\":\"a\"}",
		"{\"consumer\":\"a\",\"ranges\":{\"fingerprint\":\"xyz\"}}",
		"{\"consumer\":\"a\",\"ranges\":{\"fingerprint\":"
		    "\"0123456789abcdef\",\"done\":5,\"total\":4}}",
		"{\"consumer\":\"a\",\"ranges\":{\"fingerprint\":"
		    "\"0123456789abcdef\",\"done\":-1,\"total\":4}}",
		"{\"consumer\":\"a\\u0000b\",\"ranges\":{\"fingerprint\":"
		    "\"0123456789abcdef\",\"done\":1,\"total\":4}}",
		"{\"consumer\":\"a\",\"ranges\":{\"fingerprint\":"
		    "\"0123456789abcdef\",\"done\":1,\"total\":4},\"hops\":[1]}",
	};
	struct gi_state st;
	char why[128], fb[65];
	const char *w;
	uint32_t ip;
	size_t i;
	int refused = 0;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
		refused += gi_parse_state(bad[i], strlen(bad[i]), &st, why,
		    sizeof why) == -1 && why[0] != '\0';
	CHECK(refused == (int)(sizeof bad / sizeof bad[0]), "parse: bad "
	    "states refused with a reason (%d)", refused);
	CHECK(gi_parse_hop("{\"found_by\":\"x\"}", 16, &ip, fb, &w) == -1 &&
	    gi_parse_hop("{\"ip\":\"1.1.1.1\",\"found_by\":3}", 29, &ip, fb,
	    &w) == -1 && gi_parse_hop("  ", 2, &ip, fb, &w) == 0,
	    "parse: a hop without ip, a found_by not a string, a blank line");
}

int
main(void)
{
	char path[300];

	if (mkdtemp(dir) == NULL)
		return 2;
	snprintf(ranges, sizeof ranges, "%s/ranges", dir);
	snprintf(dbA, sizeof dbA, "%s/a.db", dir);
	snprintf(dbB, sizeof dbB, "%s/b.db", dir);
	snprintf(queue, sizeof queue, "%s/hops.ndjson", dir);
	if (mkdir(ranges, 0755) != 0)
		return 2;
	snprintf(path, sizeof path, "%s/one.txt", ranges);
	write_file(path, "# test ranges\n1.2.3.0/24\n10.0.0.0/8\n", "w");
	snprintf(path, sizeof path, "%s/two.txt", ranges);
	write_file(path, "5.6.0.0/23\n1.2.3.128/25\n", "w");
	test_ranges();
	test_feed();
	test_resume();
	test_hops();
	test_shard();
	test_move();
	test_changed();
	test_parse();
	if (tap_failed == 0) {
		char cmd[300];

		snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
		if (system(cmd) != 0)
			return 2;
	}
	return tap_failed != 0;
}
