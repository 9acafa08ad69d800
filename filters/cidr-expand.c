/*
 * cidr-expand: turn lists of IPv4 prefixes, ranges and addresses into one
 * target record per address, each address once.
 *
 * All ranges are read first (deduplication across inputs needs them all),
 * then merged into disjoint segments indexed by position
 * (lib/addrset/rangeset.c).  From there an address is a position: the
 * plain order walks positions upwards, --shuffle sends them through a keyed
 * bijection (lib/addrset/permute.c), --shard K/N takes every Nth, and
 * --resume only has to remember how many positions are done.  So memory
 * follows the number of ranges, never the number of addresses, and a /8
 * costs what a /24 costs.
 *
 * Output is the hot path: records are formatted straight into a large
 * buffer from a table of octet strings and written with write(2), which
 * also lets a checkpoint know exactly which addresses are out.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/core.h"
#include "addrset/addrset.h"

static const char usage[] =
"usage: cidr-expand [-cpR] [-x FILE]... [-s K/N] [--shuffle[=SEED]]\n"
"                   [-r STATEFILE] [--checkpoint N] [-n N] [--metrics FILE]\n"
"                   [--strict] [FILE...]\n"
"Write one target record per address of the prefixes, ranges and addresses\n"
"listed in FILEs (standard input when none), each address once.\n"
"  -p, --plain              bare addresses, one a line, instead of JSON\n"
"  -R, --allow-reserved     keep IANA special-purpose addresses (10/8, ...)\n"
"  -x, --exclude FILE       leave out the addresses listed in FILE (repeatable)\n"
"  -s, --shard K/N          only node K's share of N (1 <= K <= N)\n"
"      --shuffle[=SEED]     pseudo-random order; a random SEED is printed\n"
"  -r, --resume STATEFILE   continue where the last run stopped; save progress\n"
"      --checkpoint N       save progress at least every N addresses\n"
"                           (default 1000000) and every second\n"
"  -n, --limit N            write at most N addresses in this run\n"
"  -c, --count              print only how many addresses would be written\n"
HM_STATS_HELP
HM_COMMON_HELP;

enum { OPT_SHUFFLE = HM_OPT_FIRST_PRIVATE, OPT_CHECKPOINT };

static struct {
	int plain, reserved, count, shuffle, seed_given;
	uint64_t seed, shard, nshards, limit, checkpoint;
	const char *resume;
	char **exclude;
	int nexclude;
} opt = { .nshards = 1, .limit = UINT64_MAX, .checkpoint = 1000000 };

/* ---- what the inputs said ---- */

/* Per input range, its text for "cidr" and its file for "src", both
   already JSON-encoded (with their quotes). */
struct label {
	size_t off;		/* of the encoded range text in labels_text */
	uint32_t len;
	uint32_t src;		/* index in srcs */
};

static struct hm_span *spans, *excl;
static struct label *labels;
static size_t nspans, nexcl, capspans, capexcl;
static char *labels_text;
static size_t labels_len, labels_cap;
static char **srcs;
static size_t *srclens, nsrcs, longest_label, longest_src;

static uint64_t ranges_read, ipv6_lines, bad_lines, addrs_out, shard_total,
    position;

static void *
xrealloc(void *p, size_t n, size_t size)
{
	if ((p = reallocarray(p, n, size)) == NULL)
		hm_err(HM_EXIT_FAIL, "out of memory");
	return p;
}

/* JSON-encode s with jansson's encoder, quotes included.  JSON holds only
   UTF-8; in a name that is not (a file name can hold any bytes), every
   non-ASCII byte becomes '?'. */
static char *
json_quote(const char *s, size_t len, size_t *outlen)
{
	json_t *j = json_stringn(s, len);
	char *enc, *copy = NULL;
	size_t i;

	if (j == NULL) {
		copy = xrealloc(NULL, len + 1, 1);
		for (i = 0; i < len; i++)
			copy[i] = (unsigned char)s[i] < 0x80 ? s[i] : '?';
		j = json_stringn(copy, len);
	}
	if (j == NULL || (enc = hm_json_text(j, JSON_ENCODE_ANY, NULL)) == NULL)
		hm_errx(HM_EXIT_FAIL, "cannot encode a JSON string");
	json_decref(j);
	free(copy);
	*outlen = strlen(enc);
	return enc;
}

static uint32_t
src_add(const char *name)
{
	srcs = xrealloc(srcs, nsrcs + 1, sizeof(*srcs));
	srclens = xrealloc(srclens, nsrcs + 1, sizeof(*srclens));
	srcs[nsrcs] = json_quote(name, strlen(name), &srclens[nsrcs]);
	if (srclens[nsrcs] > longest_src)
		longest_src = srclens[nsrcs];
	return (uint32_t)nsrcs++;
}

static void
span_add(uint32_t lo, uint32_t hi, const char *text, size_t len,
    uint32_t src)
{
	size_t elen;
	char *enc;

	if (nspans == capspans) {
		capspans = capspans ? 2 * capspans : 1024;
		spans = xrealloc(spans, capspans, sizeof(*spans));
		labels = xrealloc(labels, capspans, sizeof(*labels));
	}
	/* The text is digits, dots, '/' and '-' once parsed, so encoding
	   cannot fail; it still goes through the encoder, once per range. */
	enc = json_quote(text, len, &elen);
	if (labels_len + elen > labels_cap) {
		labels_cap = labels_cap ? 2 * labels_cap : 65536;
		while (labels_cap < labels_len + elen)
			labels_cap *= 2;
		labels_text = xrealloc(labels_text, labels_cap, 1);
	}
	memcpy(labels_text + labels_len, enc, elen);
	free(enc);
	spans[nspans].lo = lo;
	spans[nspans].hi = hi;
	labels[nspans].off = labels_len;
	labels[nspans].len = (uint32_t)elen;
	labels[nspans].src = src;
	labels_len += elen;
	if (elen > longest_label)
		longest_label = elen;
	nspans++;
}

static void
excl_add(uint32_t lo, uint32_t hi)
{
	if (nexcl == capexcl) {
		capexcl = capexcl ? 2 * capexcl : 64;
		excl = xrealloc(excl, capexcl, sizeof(*excl));
	}
	excl[nexcl].lo = lo;
	excl[nexcl].hi = hi;
	nexcl++;
}

/* The range part of a line: before any '#', without surrounding blanks. */
static char *
range_text(char *line, size_t *len)
{
	char *hash = memchr(line, '#', *len);
	size_t n = hash ? (size_t)(hash - line) : *len;

	while (n > 0 && (line[n - 1] == ' ' || line[n - 1] == '\t'))
		n--;
	while (n > 0 && (*line == ' ' || *line == '\t')) {
		line++;
		n--;
	}
	*len = n;
	return line;
}

/* text made printable for a message, cut to fit size with "..." */
static const char *
shown(const char *text, size_t len, char *buf, size_t size)
{
	size_t i, n = len < size - 4 ? len : size - 4;

	for (i = 0; i < n; i++)
		buf[i] = text[i] >= ' ' && text[i] < 127 ? text[i] : '?';
	strcpy(buf + n, len > n ? "..." : "");
	return buf;
}

/* "bad prefix length 33", or the reason and the text. */
static void
report_bad(struct hm_input *in, const char *text, size_t len, const char *why)
{
	const char *slash = memchr(text, '/', len);
	char buf[48];

	if (slash != NULL && slash + 1 == text + len)
		hm_input_bad(in, "missing prefix length");
	else if (slash != NULL && strstr(why, "prefix length") != NULL)
		hm_input_bad(in, "bad prefix length %s", shown(slash + 1,
		    len - (size_t)(slash + 1 - text), buf, 16));
	else
		hm_input_bad(in, "%s: %s", why, shown(text, len, buf,
		    sizeof(buf)));
}

/* An IPv6 address, prefix or range: skipped and counted, not bad.  Other
   text with a colon is just bad. */
static int
looks_ipv6(const char *s, size_t len)
{
	size_t i;

	if (!hm_looks_ipv6(s, len))
		return 0;
	for (i = 0; i < len; i++)
		if (strchr("0123456789abcdefABCDEF:./-", s[i]) == NULL ||
		    s[i] == '\0')
			return 0;
	return 1;
}

/* Read one list: input ranges into spans (exclude = 0) or excl. */
static void
read_list(struct hm_input *in, int exclude)
{
	int file = -1;
	uint32_t src = 0, lo, hi;
	const char *why;
	size_t len;
	char *line, *text;

	while (hm_input_next(in, &line, &len)) {
		if (!exclude && in->next != file) {
			file = in->next;
			src = src_add(in->files[file - 1]);
		}
		text = range_text(line, &len);
		if (len == 0)
			continue;
		if (looks_ipv6(text, len)) {
			ipv6_lines++;
			continue;
		}
		if (hm_range_parse(text, len, &lo, &hi, &why) != 0) {
			report_bad(in, text, len, why);
			continue;
		}
		ranges_read++;
		if (exclude)
			excl_add(lo, hi);
		else
			span_add(lo, hi, text, len, src);
	}
	bad_lines += hm_input_badcount(in);
	/* --strict makes hm_input_next stop with the file still open. */
	if (in->open) {
		hm_lines_close(&in->lr);
		in->open = 0;
	}
}

static void
read_inputs(char **files, int nfiles)
{
	struct hm_input in;
	int i, fd;
	size_t k;

	for (i = 0; i < opt.nexclude; i++) {
		/* A blocklist that cannot be read must not quietly let its
		   addresses through: that is fatal, unlike a missing input. */
		if (strcmp(opt.exclude[i], "-") != 0) {
			if ((fd = open(opt.exclude[i], O_RDONLY)) < 0)
				hm_err(HM_EXIT_USAGE, "%s", opt.exclude[i]);
			close(fd);
		}
		hm_input_init(&in, &opt.exclude[i], 1);
		read_list(&in, 1);
	}
	hm_input_init(&in, files, nfiles);
	read_list(&in, 0);
	if (!opt.reserved)
		for (k = 0; k < hm_special_count; k++)
			excl_add(hm_special_table[k].lo, hm_special_table[k].hi);
}

/* ---- the output buffer ---- */

static struct {
	char *buf;
	size_t len, cap;
	size_t batch;		/* positions a batch: about one write's worth */
	int pipe;		/* standard output is a pipe */
} ob;

static char octet[256][4];
static unsigned char octet_len[256];

static void
output_init(void)
{
	size_t rec = 7 + 16 + 9 + longest_label + 7 + longest_src + 2, want;
	unsigned int v;
	struct stat sb;

	for (v = 0; v < 256; v++)
		octet_len[v] = (unsigned char)snprintf(octet[v],
		    sizeof(octet[v]), "%u", v);
	/* A batch is about one write: 1 MB, or on a pipe 64 kB (its usual
	   capacity), so that behind a slow reader batches, and with them
	   looks at signals, clock and checkpoints, still come often. */
	ob.pipe = fstat(STDOUT_FILENO, &sb) == 0 && S_ISFIFO(sb.st_mode);
	want = ob.pipe ? (size_t)64 << 10 : (size_t)1 << 20;
	ob.batch = want / rec > 0 ? want / rec : 1;
	/* Room for a block of 256 records beyond that. */
	ob.cap = want + 256 * rec;
	ob.buf = xrealloc(NULL, ob.cap, 1);
}

/* Where a write of the buffer may end: all of it, or, on a pipe, at most
   PIPE_BUF bytes ending with a newline.  A pipe takes such a write whole
   or not at all, so even SIGKILL never leaves half a record in it. */
static size_t
write_size(const char *p, size_t len)
{
	const char *nl;

	if (!ob.pipe || len <= PIPE_BUF)
		return len;
	if ((nl = memrchr(p, '\n', PIPE_BUF)) != NULL)
		return (size_t)(nl - p) + 1;
	/* A record longer than PIPE_BUF cannot be atomic. */
	nl = memchr(p + PIPE_BUF, '\n', len - PIPE_BUF);
	return nl != NULL ? (size_t)(nl - p) + 1 : len;
}

/* All of the buffer to standard output.  A signal does not cut a record
   in half: an interrupted write is resumed. */
static void
output_flush(void)
{
	size_t done = 0;
	ssize_t n;

	while (done < ob.len) {
		n = write(STDOUT_FILENO, ob.buf + done,
		    write_size(ob.buf + done, ob.len - done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			hm_err(HM_EXIT_FAIL, "standard output");
		done += (size_t)n;
	}
	ob.len = 0;
}

static inline char *
put_ip(char *p, uint32_t ip)
{
	memcpy(p, octet[ip >> 24], 4);
	p += octet_len[ip >> 24];
	*p++ = '.';
	memcpy(p, octet[ip >> 16 & 255], 4);
	p += octet_len[ip >> 16 & 255];
	*p++ = '.';
	memcpy(p, octet[ip >> 8 & 255], 4);
	p += octet_len[ip >> 8 & 255];
	*p++ = '.';
	memcpy(p, octet[ip & 255], 4);
	return p + octet_len[ip & 255];
}

/* "x.y.z." of a, for the block of a's /24. */
static size_t
put_prefix(char *p, uint32_t a)
{
	char *q = p;
	int shift;

	for (shift = 24; shift >= 8; shift -= 8) {
		memcpy(q, octet[a >> shift & 255], 4);
		q += octet_len[a >> shift & 255];
		*q++ = '.';
	}
	return (size_t)(q - p);
}

/* What follows the address in a JSON record of the range owner. */
static const char *
record_tail(uint32_t owner, size_t *len)
{
	static char *tail;
	static size_t tlen;
	static uint32_t cached = UINT32_MAX;
	const struct label *l = &labels[owner];
	char *p;

	if (owner == cached) {
		*len = tlen;
		return tail;
	}
	if (tail == NULL)
		tail = xrealloc(NULL, 9 + longest_label + 7 + longest_src + 2, 1);
	p = tail;
	memcpy(p, "\",\"cidr\":", 9);
	p += 9;
	memcpy(p, labels_text + l->off, l->len);
	p += l->len;
	memcpy(p, ",\"src\":", 7);
	p += 7;
	memcpy(p, srcs[l->src], srclens[l->src]);
	p += srclens[l->src];
	*p++ = '}';
	*p++ = '\n';
	cached = owner;
	*len = tlen = (size_t)(p - tail);
	return tail;
}

/*
 * count consecutive addresses from a, all in segment s: the plain order's
 * case, formatted a /24 at a time so the first three octets are done once
 * per 256 addresses.  A record may scribble up to 16 bytes past its address
 * (fixed-size copies); the buffer's slack and the next record cover that.
 */
static void
emit_run(const struct hm_seg *s, uint32_t a, uint64_t count)
{
	size_t tlen = 0, plen, rec;
	const char *tail = opt.plain ? NULL : record_tail(s->owner, &tlen);
	char pre[16] = { 0 }, *p;
	unsigned int o, last;

	rec = 7 + 16 + tlen;
	while (count > 0) {
		o = a & 255;
		last = count < 256 - o ? o + (unsigned int)count : 256;
		plen = put_prefix(pre, a);
		if (ob.len + (last - o) * rec > ob.cap)
			output_flush();
		p = ob.buf + ob.len;
		if (opt.plain) {
			for (; o < last; o++) {
				memcpy(p, pre, 12);
				p += plen;
				memcpy(p, octet[o], 4);
				p += octet_len[o];
				*p++ = '\n';
			}
		} else {
			for (; o < last; o++) {
				memcpy(p, "{\"ip\":\"", 7);
				memcpy(p + 7, pre, 12);
				p += 7 + plen;
				memcpy(p, octet[o], 4);
				p += octet_len[o];
				memcpy(p, tail, tlen);
				p += tlen;
			}
		}
		ob.len = (size_t)(p - ob.buf);
		count -= last - (a & 255);
		a += last - (a & 255);
	}
}

static void
emit_one(const struct hm_seg *s, uint32_t ip)
{
	size_t tlen = 0;
	const char *tail = opt.plain ? NULL : record_tail(s->owner, &tlen);
	char *p;

	if (ob.len + 7 + 16 + tlen > ob.cap)
		output_flush();
	p = ob.buf + ob.len;
	if (opt.plain) {
		p = put_ip(p, ip);
		*p++ = '\n';
	} else {
		memcpy(p, "{\"ip\":\"", 7);
		p = put_ip(p + 7, ip);
		memcpy(p, tail, tlen);
		p += tlen;
	}
	ob.len = (size_t)(p - ob.buf);
}

/* ---- positions to addresses ---- */

static struct hm_rangeset rs;
static struct hm_perm perm;

/* Positions [from, to) of the plain, unsharded order: whole runs. */
static void
emit_contiguous(uint64_t from, uint64_t to)
{
	size_t si = hm_rangeset_seg(&rs, from);

	while (from < to) {
		const struct hm_seg *s = &rs.seg[si++];
		uint64_t off = from - s->base;
		uint64_t n = (uint64_t)s->hi - s->lo + 1 - off;

		if (n > to - from)
			n = to - from;
		emit_run(s, s->lo + (uint32_t)off, n);
		from += n;
	}
}

/* The shard's j-th positions for j in [from, to), shuffled or not. */
static void
emit_spread(uint64_t from, uint64_t to)
{
	size_t si = 0;
	uint64_t j, pos;

	for (j = from; j < to; j++) {
		pos = opt.shard + j * opt.nshards;
		if (opt.shuffle) {
			pos = hm_perm_at(&perm, pos);
			si = hm_rangeset_seg(&rs, pos);
		} else if (j == from) {
			si = hm_rangeset_seg(&rs, pos);
		} else {
			while (pos - rs.seg[si].base >
			    (uint64_t)rs.seg[si].hi - rs.seg[si].lo)
				si++;
		}
		emit_one(&rs.seg[si], rs.seg[si].lo +
		    (uint32_t)(pos - rs.seg[si].base));
	}
}

/* ---- --resume: the state file ---- */

/*
 * The state names what it is for: a hash of the inputs and options that
 * decide the output sequence (every range with its text and file, every
 * exclusion, the shard, the shuffle and its seed).  Resuming with anything
 * else could skip or repeat addresses, so it is refused.
 */
struct state {
	uint64_t fingerprint, done, seed;
	int shuffle;
};

static uint64_t
fnv(uint64_t h, const void *data, size_t n)
{
	const unsigned char *c = data;

	while (n-- > 0) {
		h ^= *c++;
		h *= 0x100000001b3ull;
	}
	return h;
}

static uint64_t
fnv_u64(uint64_t h, uint64_t v)
{
	unsigned char b[8];
	int i;

	for (i = 0; i < 8; i++)
		b[i] = (unsigned char)(v >> (8 * i));
	return fnv(h, b, 8);
}

static uint64_t
fingerprint(void)
{
	uint64_t h = 0xcbf29ce484222325ull;
	size_t i;

	for (i = 0; i < nspans; i++) {
		h = fnv_u64(h, (uint64_t)spans[i].lo << 32 | spans[i].hi);
		h = fnv(h, labels_text + labels[i].off, labels[i].len);
		h = fnv(h, srcs[labels[i].src], srclens[labels[i].src]);
	}
	h = fnv_u64(h, nspans);
	/* Exclusions as given (special-purpose ones unless -R), even those
	   that change nothing today: the options differ, so does the run. */
	for (i = 0; i < nexcl; i++)
		h = fnv_u64(h, (uint64_t)excl[i].lo << 32 | excl[i].hi);
	h = fnv_u64(h, nexcl);
	h = fnv_u64(h, opt.shard);
	h = fnv_u64(h, opt.nshards);
	h = fnv_u64(h, (uint64_t)opt.shuffle);
	return fnv_u64(h, opt.shuffle ? opt.seed : 0);
}

static _Noreturn void
state_bad(const char *path, unsigned long line, const char *why)
{
	hm_linewarn(path, line, "%s", why);
	exit(HM_EXIT_USAGE);
}

/* 1 and *st when the file exists, 0 when it does not. */
static int
state_read(const char *path, struct state *st)
{
	char buf[256], key[32], val[64];
	unsigned long line = 0;
	int seen = 0;
	FILE *fp;

	if ((fp = fopen(path, "r")) == NULL) {
		if (errno == ENOENT)
			return 0;
		hm_err(HM_EXIT_FAIL, "%s", path);
	}
	memset(st, 0, sizeof(*st));
	while (fgets(buf, sizeof(buf), fp) != NULL) {
		const char *why;

		line++;
		if (buf[0] == '#' || sscanf(buf, "%31s %63s", key, val) != 2)
			continue;
		if (strcmp(key, "fingerprint") == 0) {
			char *end;

			errno = 0;
			st->fingerprint = strtoull(val, &end, 16);
			if (*end != '\0' || errno != 0 || strlen(val) != 16)
				state_bad(path, line, "bad fingerprint");
			seen |= 1;
		} else if (strcmp(key, "shuffle") == 0) {
			st->shuffle = strcmp(val, "off") != 0;
			if (st->shuffle && hm_strtou64(val, 0, UINT64_MAX,
			    &st->seed, &why) != 0)
				state_bad(path, line, "bad shuffle seed");
			seen |= 2;
		} else if (strcmp(key, "done") == 0) {
			if (hm_strtou64(val, 0, UINT64_MAX, &st->done,
			    &why) != 0)
				state_bad(path, line, "bad done count");
			seen |= 4;
		}
	}
	if (ferror(fp))
		hm_err(HM_EXIT_FAIL, "%s", path);
	fclose(fp);
	if (seen != 7)
		state_bad(path, line, "not a cidr-expand state file");
	return 1;
}

/* Through a temporary file and a rename, so a kill at any moment leaves
   the old state or the new, never half of one. */
static void
state_write(const char *path, uint64_t fp_hash, uint64_t done)
{
	struct hm_atomic a;

	/* fsync: a resume starts from this file. */
	if (hm_atomic_open(&a, path, 0644, 1) != 0)
		hm_err(HM_EXIT_FAIL, "%s", path);
	fprintf(a.fp, "# cidr-expand resume state; do not edit\n"
	    "version 1\nfingerprint %016" PRIx64 "\n", fp_hash);
	if (opt.shuffle)
		fprintf(a.fp, "shuffle %" PRIu64 "\n", opt.seed);
	else
		fprintf(a.fp, "shuffle off\n");
	fprintf(a.fp, "shard %" PRIu64 "/%" PRIu64 "\ndone %" PRIu64 "\n"
	    "total %" PRIu64 "\nfinished %s\n", opt.shard + 1, opt.nshards,
	    done, shard_total, done == shard_total ? "yes" : "no");
	if (hm_atomic_commit(&a) != 0)
		hm_err(HM_EXIT_FAIL, "%s", path);
}

/* ---- the run ---- */

static uint64_t fp_hash;

/*
 * Write positions [start, end) of the shard, a batch at a time.  Each batch
 * is written out before the state may name it, so the state never counts
 * an address that is not out: after a kill nothing is lost, and a rerun
 * repeats at most what was written since the last save.
 */
static uint64_t
run(uint64_t start, uint64_t end)
{
	uint64_t j = start, stop, now, saved_ms, metrics_ms;
	uint64_t next_save = start + opt.checkpoint;
	int contiguous = !opt.shuffle && opt.nshards == 1;

	/* A state that cannot be saved should stop us before any output. */
	if (opt.resume != NULL)
		state_write(opt.resume, fp_hash, j);
	saved_ms = metrics_ms = hm_mono_ms();
	while (j < end && !hm_stop) {
		stop = end - j > ob.batch ? j + ob.batch : end;
		if (opt.resume != NULL && stop > next_save)
			stop = next_save;
		if (contiguous)
			emit_contiguous(j, stop);
		else
			emit_spread(j, stop);
		output_flush();
		addrs_out += stop - j;
		position = j = stop;
		now = hm_mono_ms();
		if (opt.resume != NULL && (j >= next_save ||
		    now - saved_ms >= 1000)) {
			state_write(opt.resume, fp_hash, j);
			next_save = j + opt.checkpoint;
			saved_ms = now;
		}
		if (now - metrics_ms >= 5000) {
			hm_metrics_write(1);
			metrics_ms = now;
		}
	}
	if (opt.resume != NULL)
		state_write(opt.resume, fp_hash, j);
	return j;
}

static void
parse_shard(const char *arg)
{
	const char *slash = strchr(arg, '/');
	char k[32];

	if (slash == NULL || (size_t)(slash - arg) >= sizeof(k))
		hm_errx(HM_EXIT_USAGE, "shard value is invalid: %s (want K/N)",
		    arg);
	memcpy(k, arg, (size_t)(slash - arg));
	k[slash - arg] = '\0';
	opt.nshards = hm_parse_uint(slash + 1, 1, 1ull << 32, "shard count");
	opt.shard = hm_parse_uint(k, 1, opt.nshards, "shard number") - 1;
}

static void
parse_options(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "plain", no_argument, NULL, 'p' },
		{ "allow-reserved", no_argument, NULL, 'R' },
		{ "exclude", required_argument, NULL, 'x' },
		{ "shard", required_argument, NULL, 's' },
		{ "shuffle", optional_argument, NULL, OPT_SHUFFLE },
		{ "resume", required_argument, NULL, 'r' },
		{ "checkpoint", required_argument, NULL, OPT_CHECKPOINT },
		{ "limit", required_argument, NULL, 'n' },
		{ "count", no_argument, NULL, 'c' },
		HM_STATS_LONGOPT,
		HM_COMMON_LONGOPTS,
		{ NULL, 0, NULL, 0 }
	};
	int c;

	while ((c = getopt_long(argc, argv, "cpRx:s:r:n:" HM_COMMON_SHORTOPTS,
	    longopts, NULL)) != -1) {
		if (hm_common_option(c, optarg, usage))
			continue;
		switch (c) {
		case 'p':
			opt.plain = 1;
			break;
		case 'R':
			opt.reserved = 1;
			break;
		case 'x':
			opt.exclude = xrealloc(opt.exclude, opt.nexclude + 1,
			    sizeof(*opt.exclude));
			opt.exclude[opt.nexclude++] = optarg;
			break;
		case 's':
			parse_shard(optarg);
			break;
		case OPT_SHUFFLE:
			opt.shuffle = 1;
			if (optarg != NULL) {
				opt.seed = hm_parse_uint(optarg, 0, UINT64_MAX,
				    "shuffle seed");
				opt.seed_given = 1;
			}
			break;
		case 'r':
			opt.resume = optarg;
			break;
		case OPT_CHECKPOINT:
			opt.checkpoint = hm_parse_uint(optarg, 1, 1ull << 40,
			    "checkpoint");
			break;
		case 'n':
			opt.limit = hm_parse_uint(optarg, 0, UINT64_MAX,
			    "limit");
			break;
		case 'c':
			opt.count = 1;
			break;
		default:
			hm_usage_error(usage);
		}
	}
}

/* The seed: given, kept in the state file, or new (and said, so the same
   order can be had again). */
static void
choose_seed(const struct state *st, int have_state)
{
	if (!opt.shuffle || opt.seed_given)
		return;
	if (have_state && st->shuffle) {
		opt.seed = st->seed;
		return;
	}
	if (getrandom(&opt.seed, sizeof(opt.seed), 0) != sizeof(opt.seed))
		opt.seed = (uint64_t)time(NULL) << 20 ^ (uint64_t)getpid();
	if (!opt.count)
		hm_warnx("shuffle seed %" PRIu64 " (repeat this order with "
		    "--shuffle=%" PRIu64 ")", opt.seed, opt.seed);
}

/* Nothing left, and the special-purpose table took some of the input:
   say which blocks took how much, and how to keep them, rather than a
   quiet empty run that looks like a finished one. */
static int
report_special(void)
{
	struct hm_rangeset mine;
	uint64_t n, total = 0;
	uint32_t lo, hi;
	size_t i, k;

	if (opt.reserved || rs.total > 0)
		return 0;
	/* The special-purpose table is the last of the exclusions: without
	   it, would anything be left?  If not, -R would not help either. */
	hm_rangeset_build(&mine, spans, nspans, excl, nexcl - hm_special_count);
	n = mine.total;
	hm_rangeset_free(&mine);
	if (n == 0)
		return 0;
	for (k = 0; k < hm_special_count; k++) {
		n = 0;
		for (i = 0; i < nspans; i++) {
			lo = spans[i].lo > hm_special_table[k].lo ?
			    spans[i].lo : hm_special_table[k].lo;
			hi = spans[i].hi < hm_special_table[k].hi ?
			    spans[i].hi : hm_special_table[k].hi;
			if (lo <= hi)
				n += (uint64_t)hi - lo + 1;
		}
		if (n == 0)
			continue;
		hm_warnx("%" PRIu64 " address%s in %s (%s) left out: "
		    "special-purpose", n, n == 1 ? "" : "es",
		    hm_special_table[k].prefix, hm_special_table[k].name);
		total += n;
	}
	if (total == 0)
		return 0;
	hm_warnx("no address left to write: -R (--allow-reserved) keeps "
	    "the special-purpose ones");
	return 1;
}

static void
summary(void)
{
	if (ipv6_lines > 0)
		hm_warnx("%" PRIu64 " IPv6 line%s skipped (IPv4 only)",
		    ipv6_lines, ipv6_lines == 1 ? "" : "s");
}

int
main(int argc, char *argv[])
{
	struct state st;
	int have_state = 0;
	uint64_t start = 0, left;

	hm_setprog(argv);
	parse_options(argc, argv);
	if (opt.resume != NULL)
		have_state = state_read(opt.resume, &st);
	choose_seed(&st, have_state);
	hm_output_init();
	hm_metric("ranges_read", HM_COUNTER, "ranges read, exclusions included",
	    &ranges_read);
	hm_metric("ipv6_lines", HM_COUNTER, "IPv6 lines skipped", &ipv6_lines);
	hm_metric("bad_lines", HM_COUNTER, "bad lines skipped", &bad_lines);
	hm_metric("addresses_out", HM_COUNTER, "addresses written", &addrs_out);
	hm_metric("addresses_total", HM_GAUGE, "addresses in this shard",
	    &shard_total);
	hm_metric("position", HM_GAUGE, "addresses of the shard done",
	    &position);

	read_inputs(argv + optind, argc - optind);
	/* Half a list is not the list: with --strict a bad line (in an
	   exclusion list above all) means no output at all. */
	if (hm_opt.strict && bad_lines > 0)
		hm_exit(HM_EXIT_BADINPUT);
	hm_rangeset_build(&rs, spans, nspans, excl, nexcl);
	shard_total = hm_shard_size(rs.total, opt.shard, opt.nshards);
	hm_perm_init(&perm, rs.total, opt.seed);
	fp_hash = fingerprint();
	/* A state that counted nothing (done 0) holds back nothing: other
	   inputs or options simply start over. */
	if (have_state && st.done == 0 && st.fingerprint != fp_hash)
		have_state = 0;
	if (have_state) {
		if (st.fingerprint != fp_hash || st.done > shard_total)
			hm_errx(HM_EXIT_USAGE, "%s: saved for other inputs or "
			    "options (fingerprint %016" PRIx64 ", now %016"
			    PRIx64 "); remove it to start over", opt.resume,
			    st.fingerprint, fp_hash);
		start = st.done;
	}
	position = start;
	left = shard_total - start < opt.limit ? shard_total - start :
	    opt.limit;
	if (opt.count) {
		printf("%" PRIu64 "\n", left);
	} else if (report_special()) {
		/* No state is saved: a run that wrote nothing is not done. */
		summary();
		hm_exit(HM_EXIT_BADINPUT);
	} else if (have_state && start == shard_total) {
		hm_warnx("%s: finished, all %" PRIu64 " addresses were "
		    "written; nothing to do", opt.resume, shard_total);
	} else {
		hm_signals_init(0);
		output_init();
		if (run(start, start + left) < start + left)
			hm_warnx("stopped by a signal after %" PRIu64
			    " addresses%s%s", addrs_out, opt.resume ?
			    "; progress saved in " : "",
			    opt.resume ? opt.resume : "");
	}
	summary();
	hm_stats_print("addresses written", addrs_out, bad_lines);
	hm_exit(bad_lines > 0 ? HM_EXIT_BADINPUT : HM_EXIT_OK);
}
