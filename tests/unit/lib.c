/* Unit tests for lib/: parsers' edge cases, the special-purpose table, the
   line reader's ceiling, number and duration parsing. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"
#include "tap.h"

static void
test_ip_parse(void)
{
	static const struct { const char *s; int ok; uint32_t ip; } cases[] = {
		{ "0.0.0.0", 1, 0 }, { "255.255.255.255", 1, 0xffffffff },
		{ "1.2.3.4", 1, 0x01020304 }, { "10.0.0.1", 1, 0x0a000001 },
		{ "256.1.1.1", 0, 0 }, { "1.2.3", 0, 0 }, { "1.2.3.4.5", 0, 0 },
		{ "01.2.3.4", 0, 0 }, { "1.2.3.04", 0, 0 }, { " 1.2.3.4", 0, 0 },
		{ "1.2.3.4 ", 0, 0 }, { "1..3.4", 0, 0 }, { "1.2.3.", 0, 0 },
		{ ".1.2.3", 0, 0 }, { "1.2.3.4a", 0, 0 }, { "1.2.3.1000", 0, 0 },
		{ "", 0, 0 }, { "a.b.c.d", 0, 0 }, { "::1", 0, 0 },
		{ "1.2.3.-4", 0, 0 }, { "1.2.3.+4", 0, 0 }, { "100.200.250.9", 1,
		    0x64c8fa09 },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint32_t ip = 0;
		int r = hm_ip_parse(cases[i].s, strlen(cases[i].s), &ip);

		CHECK((r == 0) == cases[i].ok && (!cases[i].ok || ip == cases[i].ip),
		    "hm_ip_parse(\"%s\") %s", cases[i].s,
		    cases[i].ok ? "accepts" : "refuses");
	}
}

static void
test_ip_format(void)
{
	char buf[16], again[16];
	uint32_t ip, back;
	int bad = 0;

	/* Round trip over a spread of the whole space, every octet value. */
	for (ip = 0; ip < 0xffffff00u; ip += 0x01010101u / 3 + 7) {
		size_t n = hm_ip_format(ip, buf);

		if (n != strlen(buf) || hm_ip_parse(buf, n, &back) != 0 ||
		    back != ip)
			bad++;
		snprintf(again, sizeof(again), "%u.%u.%u.%u", ip >> 24,
		    ip >> 16 & 255, ip >> 8 & 255, ip & 255);
		if (strcmp(again, buf) != 0)
			bad++;
	}
	CHECK(bad == 0, "hm_ip_format round-trips and matches printf");
	hm_ip_format(0xffffffffu, buf);
	CHECK(strcmp(buf, "255.255.255.255") == 0, "format 255.255.255.255");
	hm_ip_format(0, buf);
	CHECK(strcmp(buf, "0.0.0.0") == 0, "format 0.0.0.0");
}

static void
test_range_parse(void)
{
	static const struct {
		const char *s; int ok; uint32_t lo, hi;
	} cases[] = {
		{ "10.0.0.0/8", 1, 0x0a000000, 0x0affffff },
		{ "10.1.2.3/8", 1, 0x0a000000, 0x0affffff },
		{ "0.0.0.0/0", 1, 0, 0xffffffff },
		{ "1.2.3.4/32", 1, 0x01020304, 0x01020304 },
		{ "1.2.3.4", 1, 0x01020304, 0x01020304 },
		{ "1.2.3.4-1.2.3.10", 1, 0x01020304, 0x0102030a },
		{ "1.2.3.4-1.2.3.4", 1, 0x01020304, 0x01020304 },
		{ "1.2.3.10-1.2.3.4", 0, 0, 0 }, { "1.2.3.0/33", 0, 0, 0 },
		{ "1.2.3.0/", 0, 0, 0 }, { "1.2.3.0/08", 0, 0, 0 },
		{ "1.2.3.0/-1", 0, 0, 0 }, { "1.2.3.0/2x", 0, 0, 0 },
		{ "1.2.3.0/100", 0, 0, 0 }, { "/24", 0, 0, 0 },
		{ "1.2.3.4-", 0, 0, 0 }, { "-1.2.3.4", 0, 0, 0 },
		{ "2001:db8::/32", 0, 0, 0 },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint32_t lo = 0, hi = 0;
		const char *why = NULL;
		int r = hm_range_parse(cases[i].s, strlen(cases[i].s), &lo,
		    &hi, &why);

		CHECK(cases[i].ok ? r == 0 && lo == cases[i].lo &&
		    hi == cases[i].hi : r == -1 && why != NULL,
		    "hm_range_parse(\"%s\") %s", cases[i].s,
		    cases[i].ok ? "accepts" : "refuses with a reason");
	}
	{
		/* IPv6 when it is one, as written; other text with a ':' is
		   not an address, and is told so (not "IPv6"). */
		static const struct { const char *s; int v6; } v6[] = {
			{ "2001:db8::1", 1 }, { "::", 1 }, { "::1", 1 },
			{ "1::", 1 }, { "2a01:4f8::/31", 1 }, { "::/0", 1 },
			{ "1:2:3:4:5:6:7:8", 1 }, { "::ffff:192.0.2.1", 1 },
			{ "64:ff9b::192.0.2.1/96", 1 }, { "FE80::A", 1 },
			{ "2001:db8::1-2001:db8::ff", 1 },
			{ "1.2.3.4", 0 }, { "", 0 }, { ":", 0 }, { ":::", 0 },
			{ "1:2", 0 }, { ":1", 0 }, { "1:", 0 }, { "1::2::3", 0 },
			{ "1:2:3:4:5:6:7:8:9", 0 }, { "1:2:3:4:5:6:7::8", 0 },
			{ "12345::", 0 }, { "foo:bar", 0 }, { "g::1", 0 },
			{ "::1/129", 0 }, { "::1/", 0 }, { "::1/6x", 0 },
			{ "::1.2.3", 0 }, { "::1.2.3.4:5", 0 }, { "::1-", 0 },
			{ "1.2.3.4-::1", 0 }, { " ::1", 0 }, { "http://x", 0 },
			{ "\xff\xfe:\x80", 0 }, { "a:b:c:d:e:f:0:1.2.3.4", 0 },
		};

		for (i = 0; i < sizeof(v6) / sizeof(v6[0]); i++)
			CHECK(hm_looks_ipv6(v6[i].s, strlen(v6[i].s)) ==
			    v6[i].v6, "hm_looks_ipv6(\"%s\") is %d", v6[i].s,
			    v6[i].v6);
	}
}

static void
test_special(void)
{
	static const struct { const char *ip; const char *prefix; } cases[] = {
		{ "0.1.2.3", "0.0.0.0/8" }, { "10.255.255.255", "10.0.0.0/8" },
		{ "100.64.0.0", "100.64.0.0/10" }, { "100.127.255.255", "100.64.0.0/10" },
		{ "100.128.0.0", NULL }, { "127.0.0.1", "127.0.0.0/8" },
		{ "169.254.1.1", "169.254.0.0/16" }, { "172.15.255.255", NULL },
		{ "172.16.0.0", "172.16.0.0/12" }, { "172.31.255.255", "172.16.0.0/12" },
		{ "172.32.0.0", NULL }, { "192.0.0.8", "192.0.0.0/24" },
		{ "192.0.1.0", NULL }, { "192.0.2.200", "192.0.2.0/24" },
		{ "192.88.99.1", "192.88.99.0/24" }, { "192.168.1.1", "192.168.0.0/16" },
		{ "198.17.255.255", NULL }, { "198.18.0.0", "198.18.0.0/15" },
		{ "198.19.255.255", "198.18.0.0/15" }, { "198.20.0.0", NULL },
		{ "198.51.100.7", "198.51.100.0/24" }, { "203.0.113.9", "203.0.113.0/24" },
		{ "223.255.255.255", NULL }, { "224.0.0.1", "224.0.0.0/4" },
		{ "239.255.255.255", "224.0.0.0/4" }, { "240.0.0.0", "240.0.0.0/4" },
		{ "255.255.255.255", "240.0.0.0/4" }, { "8.8.8.8", NULL },
		{ "1.1.1.1", NULL },
	};
	size_t i;
	int sorted = 1;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint32_t ip;
		const struct hm_special *sp;

		hm_ip_parse(cases[i].ip, strlen(cases[i].ip), &ip);
		sp = hm_special_lookup(ip);
		CHECK(cases[i].prefix == NULL ? sp == NULL :
		    sp != NULL && strcmp(sp->prefix, cases[i].prefix) == 0,
		    "special %s -> %s", cases[i].ip,
		    cases[i].prefix ? cases[i].prefix : "none");
	}
	for (i = 0; i < hm_special_count; i++) {
		uint32_t lo, hi;
		const char *why;

		if (i > 0 && hm_special_table[i].lo <= hm_special_table[i - 1].hi)
			sorted = 0;
		if (hm_range_parse(hm_special_table[i].prefix,
		    strlen(hm_special_table[i].prefix), &lo, &hi, &why) != 0 ||
		    lo != hm_special_table[i].lo || hi != hm_special_table[i].hi)
			sorted = 0;
	}
	CHECK(sorted, "special table sorted, disjoint, bounds match prefixes");
}

static void
test_numbers(void)
{
	uint64_t v, ms;
	const char *why;

	CHECK(hm_strtou64("300", 0, 255, &v, &why) == -1 &&
	    strcmp(why, "too large") == 0, "300 > 255 is too large");
	CHECK(hm_strtou64("-1", 0, 255, &v, &why) == -1, "-1 refused");
	CHECK(hm_strtou64(" 5", 0, 255, &v, &why) == -1, "leading space refused");
	CHECK(hm_strtou64("5x", 0, 255, &v, &why) == -1, "trailing junk refused");
	CHECK(hm_strtou64("99999999999999999999999", 0, UINT64_MAX, &v, &why)
	    == -1, "overflow refused");
	CHECK(hm_strtou64("0", 1, 9, &v, &why) == -1 &&
	    strcmp(why, "too small") == 0, "0 < 1 is too small");
	CHECK(hm_strtou64("42", 0, 255, &v, &why) == 0 && v == 42, "42 parses");
	CHECK(hm_strtoms("15m", &ms, &why) == 0 && ms == 900000, "15m");
	CHECK(hm_strtoms("90", &ms, &why) == 0 && ms == 90000, "90 is seconds");
	CHECK(hm_strtoms("500ms", &ms, &why) == 0 && ms == 500, "500ms");
	CHECK(hm_strtoms("2h", &ms, &why) == 0 && ms == 7200000, "2h");
	CHECK(hm_strtoms("7d", &ms, &why) == 0 && ms == 604800000, "7d");
	CHECK(hm_strtoms("5y", &ms, &why) == -1, "unknown unit refused");
	CHECK(hm_strtoms("m", &ms, &why) == -1, "unit without number refused");
	CHECK(hm_strtoms("99999999999999999999d", &ms, &why) == -1,
	    "huge duration refused");
}

/* Write text to a temp file and read it back through the line reader. */
static int
read_lines(const char *text, size_t textlen, size_t maxline, char out[][64],
    int max, unsigned long *toolong)
{
	char path[] = "/tmp/hopmap-unit.XXXXXX";
	int fd = mkstemp(path), n = 0;
	struct hm_lines lr;
	char *line;
	size_t len;

	if (write(fd, text, textlen) != (ssize_t)textlen)
		return -1;
	close(fd);
	hm_lines_open(&lr, path, maxline);
	while (n < max && hm_lines_next(&lr, &line, &len) == 1)
		snprintf(out[n++], 64, "%.*s", (int)len, line);
	*toolong = lr.toolong;
	hm_lines_close(&lr);
	unlink(path);
	return n;
}

static void
test_lines(void)
{
	char out[16][64];
	unsigned long toolong;
	char *big;
	size_t i;
	int n;

	n = read_lines("a\nbb\r\n\nlast", 11, 100, out, 16, &toolong);
	CHECK(n == 4 && strcmp(out[0], "a") == 0 && strcmp(out[1], "bb") == 0 &&
	    out[2][0] == '\0' && strcmp(out[3], "last") == 0,
	    "lines: LF, CRLF, blank and an unterminated last line");
	n = read_lines("ok1\n0123456789ABC\nok2\n", 22, 8, out, 16, &toolong);
	CHECK(n == 2 && strcmp(out[0], "ok1") == 0 && strcmp(out[1], "ok2") == 0
	    && toolong == 1, "lines: an over-long line is skipped whole");
	n = read_lines("12345678\r\nx\n", 12, 8, out, 16, &toolong);
	CHECK(n == 2 && strcmp(out[0], "12345678") == 0 && toolong == 0,
	    "lines: exactly the ceiling with CRLF is accepted");
	/* A line far longer than the buffer: skipped, the next line kept. */
	big = malloc(3 << 20);
	for (i = 0; i < (3u << 20) - 4; i++)
		big[i] = 'x';
	memcpy(big + (3 << 20) - 4, "\nz\n", 3);
	n = read_lines(big, (3 << 20) - 1, 1000, out, 16, &toolong);
	CHECK(n == 1 && strcmp(out[0], "z") == 0 && toolong == 1,
	    "lines: a 3 MB line is skipped without splitting it");
	free(big);
	n = read_lines("abc\0def\nx\n", 10, 100, out, 16, &toolong);
	CHECK(n == 2 && strcmp(out[1], "x") == 0, "lines: NUL byte kept in line");
}

static void
test_records(void)
{
	struct hm_record rec;
	const char *why = NULL;
	const char *line;

	line = "{\"ip\":\"1.2.3.4\",\"src\":\"x\",\"n\":[1,{\"a\":null}]}";
	CHECK(hm_record_parse(line, strlen(line), &rec, &why) == HM_REC_TARGET &&
	    rec.ip == 0x01020304 && !rec.bare, "record: object target");
	hm_record_free(&rec);
	CHECK(hm_record_parse("  9.8.7.6 \r", 11, &rec, &why) == HM_REC_TARGET &&
	    rec.bare && rec.ip == 0x09080706 &&
	    strcmp(json_string_value(json_object_get(rec.obj, "ip")),
	    "9.8.7.6") == 0, "record: bare address becomes {\"ip\":...}");
	hm_record_free(&rec);
	CHECK(hm_record_parse("", 0, &rec, &why) == HM_REC_EMPTY &&
	    hm_record_parse(" \t", 2, &rec, &why) == HM_REC_EMPTY,
	    "record: blank lines are empty");
	line = "{\"other\":1}";
	CHECK(hm_record_parse(line, strlen(line), &rec, &why) == HM_REC_OTHER,
	    "record: object without ip is other");
	hm_record_free(&rec);
	line = "{\"ip\":5}";
	CHECK(hm_record_parse(line, strlen(line), &rec, &why) == HM_REC_BAD &&
	    strstr(why, "not a string"), "record: numeric ip is bad");
	line = "{\"ip\":\"2001:db8::1\"}";
	CHECK(hm_record_parse(line, strlen(line), &rec, &why) == HM_REC_BAD &&
	    strstr(why, "IPv6"), "record: IPv6 ip is bad, says IPv6");
	line = "{\"ip\":\"foo:bar\"}";
	CHECK(hm_record_parse(line, strlen(line), &rec, &why) == HM_REC_BAD &&
	    strcmp(why, "\"ip\" is not an IPv4 address") == 0,
	    "record: an ip of text with a colon is not an IPv4 address, not IPv6");
	line = "2001:db8::1";
	CHECK(hm_record_parse(line, strlen(line), &rec, &why) == HM_REC_BAD &&
	    strcmp(why, "IPv6 address (IPv4 only)") == 0,
	    "record: a bare IPv6 line says IPv6");
	line = "\xc3(:garbage";
	CHECK(hm_record_parse(line, strlen(line), &rec, &why) == HM_REC_BAD &&
	    strcmp(why, "neither a JSON object nor an IPv4 address") == 0,
	    "record: a bare line of bytes with a colon is not called IPv6");
	line = "{\"ip\":\"1.2.3.4\"";
	CHECK(hm_record_parse(line, strlen(line), &rec, &why) == HM_REC_BAD &&
	    strstr(why, "bad JSON"), "record: truncated JSON is bad");
	CHECK(hm_record_parse("{\"ip\":\"1.2.3.4\"}\0", 17, &rec, &why) ==
	    HM_REC_BAD && strstr(why, "NUL"), "record: NUL byte is bad");
	CHECK(hm_record_parse("[1,2]", 5, &rec, &why) == HM_REC_BAD,
	    "record: an array is bad");
	CHECK(hm_record_parse("1.2.3", 5, &rec, &why) == HM_REC_BAD,
	    "record: a broken bare address is bad");
}

int
main(void)
{
	test_ip_parse();
	test_ip_format();
	test_range_parse();
	test_special();
	test_numbers();
	test_lines();
	test_records();
	return tap_failed ? 1 : 0;
}
