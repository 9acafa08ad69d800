/*
 * tracehop: Paris traceroute of the targets in a record stream.
 *
 * Records whose "ping" says ok (or that have no "ping") are traced and
 * written back with "trace" added; everything else passes through byte for
 * byte, so `icmpprobe | tracehop | sqlsink` stores every record.  Many
 * traces run at once under one probe rate (the engine in lib/trace_*.c);
 * records come out as their traces end, so the output order is not the
 * input order.
 *
 * Privilege: the raw sockets are opened first, with CAP_NET_RAW alone, and
 * every capability is dropped (and, started as root, nobody or --user
 * switched to) before any input is read.
 */
#include <getopt.h>
#include <stdarg.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "probe/probe.h"
#include "trace/trace.h"

static const char usage[] =
"usage: tracehop [-s] [-f TTL] [-m TTL] [-q N] [-w WAIT] [-p PORT]\n"
"                [-P METHOD] [-g N] [-r PPS] [-n N] [--window N]\n"
"                [--stop-set FILE] [--stop-set-age AGE] [--no-stop-set]\n"
"                [--no-guess] [--retries N]\n"
"                [--no-spread] [--node NAME]\n"
"                [--user USER] [--progress]\n"
"                [--metrics FILE] [--strict] [FILE...]\n"
"Paris traceroute to the target records that answered ping.  The letters\n"
"are traceroute's (-f -m -q -w -p) and scamper's (-P, -g).\n"
"  -P, --method METHOD  icmp-paris (default), udp-paris or tcp-paris\n"
"                       (-M, traceroute's letter, too)\n"
"  -f, --first-ttl TTL  first TTL probed, 1..255 (default 1)\n"
"  -m, --max-ttl TTL    last TTL probed, 1..255 (default 30)\n"
"  -q, --queries N      probes per hop, 1..16 (default 1)\n"
"  -w, --wait WAIT      how long a probe may take: seconds (0.5) or with a\n"
"                       unit (500ms) (default 1s)\n"
"  -g, --gap-limit N    stop after N silent hops in a row (default 5)\n"
"  -r, --rate PPS       probes per second, all traces (default 100; at\n"
"                       most 1000 unless root)\n"
"  -n, --in-flight N    traces probed at once, 1..16384 (default: rate\n"
"                       x wait / window, enough to keep the rate, from\n"
"                       128 up while no router limits its answers)\n"
"  -p, --port PORT      destination port for udp-paris (default 33434)\n"
"                       and tcp-paris (default 80)\n"
"  -s, --stats          a summary on standard error at exit\n"
"      --progress       a progress line on standard error (the default\n"
"                       when it is a terminal)\n"
"      --window N       TTLs of one trace in flight at once (default 1)\n"
"      --stop-set FILE  keep the stop set in FILE across runs; targets\n"
"                       without a guess start at --first-ttl (default 3\n"
"                       here) and probe back until a known hop answers\n"
"      --stop-set-age AGE\n"
"                       forget the file's routers not seen for AGE\n"
"                       (default 1d; 0: never)\n"
"      --no-stop-set    probe every hop (backwards too) instead of\n"
"                       taking the way home from routers already found\n"
"      --no-guess       start at --first-ttl, not at the distance the\n"
"                       record's ping reply_ttl tells\n"
"      --retries N      a silent hop whose router answered before (rate\n"
"                       limiting): probe it again, paced, N times before\n"
"                       it counts toward the gap limit (default 4; 0: off)\n"
"      --no-spread      send for the traces in flight in turn, not drawn\n"
"                       at random (spread: no router sees a burst)\n"
"      --node NAME      vantage point name for \"node\" (default hostname)\n"
"      --user USER      started as root, run as USER (default: nobody)\n"
"                       once the sockets are open\n"
HM_COMMON_HELP;

enum {
	OPT_WINDOW = HM_OPT_FIRST_PRIVATE,
	OPT_NODE,
	OPT_USER,
	OPT_STOP_SET,
	OPT_NO_STOP_SET,
	OPT_STOP_SET_AGE,
	OPT_NO_GUESS,
	OPT_RETRIES,
	OPT_NO_SPREAD,
	OPT_PROGRESS
};

static const char *node_name, *run_user, *stop_set_path;
static int stop_set_fd = -1;
/* --stop-set-age: a day, so a changed route below the hop where traces
   stop is seen within one (trace_stopset_aging says how). */
static uint64_t stop_set_age_s = 86400;
static uint64_t records_in, records_traced, records_passed;
/* The engine's counters, copied out so they outlive it (hm_exit writes the
   metrics file once more). */
static uint64_t probes_sent, replies_matched, replies_stray;
/* What -s and the progress line tell. */
static int opt_stats, opt_progress = -1;
/* Discovery: the stop set (in memory unless --stop-set) and the guess. */
static int opt_no_stop_set, opt_no_guess;
static uint64_t hops_spliced, traces_guessed, hops_limited;
static uint64_t by_stop[TRACE_STOP_ERROR + 1], hops_answered, start_ms,
    shown_ms;

/* A growing buffer for the "trace" member's text. */
struct text {
	char *buf;
	size_t len, cap;
};

static void
text_add(struct text *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
text_add(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
		va_end(ap);
		if (n < 0)
			hm_errx(HM_EXIT_FAIL, "vsnprintf failed");
		if ((size_t)n < t->cap - t->len) {
			t->len += (size_t)n;
			return;
		}
		t->cap = 2 * t->cap + (size_t)n + 1;
		if ((t->buf = realloc(t->buf, t->cap)) == NULL)
			hm_err(HM_EXIT_FAIL, "realloc");
	}
}

static void
text_ms(struct text *t, uint32_t us)
{
	char num[32];
	size_t pos = 0;

	probe_json_ms(num, sizeof(num), &pos, us / 1000.0);
	text_add(t, "%s", num);
}

/* One hop entry, but its closing brace: the replies of TTL ttl that came
   from r[k].from. */
static void
hop_entry(struct text *t, const struct trace_reply *r, size_t n, size_t k,
    unsigned queries)
{
	const struct trace_reply *a = &r[k];
	uint32_t best = a->rtt_us;
	char ip[16];
	size_t i;

	for (i = k; i < n; i++)
		if (r[i].from == a->from && r[i].rtt_us < best)
			best = r[i].rtt_us;
	hm_ip_format(a->from, ip);
	text_add(t, "{\"ttl\":%u,\"ip\":\"%s\",\"rtt_ms\":", a->ttl, ip);
	text_ms(t, best);
	if (a->is_tcp)
		text_add(t, ",\"tcp_flags\":\"%s\"",
		    (a->tcp_flags & 0x04) ? "RA" : "SA");
	else
		text_add(t, ",\"icmp_type\":%u,\"icmp_code\":%u",
		    a->icmp_type, a->icmp_code);
	if (a->reply_ttl != 0)		/* 0: not known (datagram sockets) */
		text_add(t, ",\"reply_ttl\":%u", a->reply_ttl);
	if (queries > 1) {
		const char *sep = "";

		text_add(t, ",\"rtts\":[");
		for (i = k; i < n; i++)
			if (r[i].from == a->from) {
				text_add(t, "%s", sep);
				text_ms(t, r[i].rtt_us);
				sep = ",";
			}
		text_add(t, "]");
	}
}

/* A hop probed again because its router rate-limits: how many times. */
static void
retried_text(struct text *t, const struct trace_result *res, unsigned ttl)
{
	if (res->retried != NULL && res->retried[ttl] > 0)
		text_add(t, ",\"retries\":%u", res->retried[ttl]);
}

/* The hop list: every TTL from first to last, null where nothing came. */
static void
hops_text(struct text *t, const struct trace_result *res, unsigned queries)
{
	const struct trace_reply *r = res->replies;
	size_t i = 0, j, k, m;
	unsigned ttl;
	const char *sep = "";

	text_add(t, "\"hops\":[");
	for (ttl = res->first_ttl; res->last_ttl != 0 &&
	    ttl < res->measured_ttl; ttl++) {
		uint32_t a = res->spliced[ttl - res->first_ttl];
		char ip[16];

		/* Taken from the stop set: no time, not probed. */
		hm_ip_format(a, ip);
		if (a == 0)
			text_add(t, "%s{\"ttl\":%u,\"ip\":null,"
			    "\"stop_set\":true}", sep, ttl);
		else
			text_add(t, "%s{\"ttl\":%u,\"ip\":\"%s\","
			    "\"stop_set\":true}", sep, ttl, ip);
		sep = ",";
		hops_spliced++;
	}
	for (; res->last_ttl != 0 && ttl <= res->last_ttl; ttl++) {
		while (i < res->nreplies && r[i].ttl < ttl)
			i++;
		for (j = i; j < res->nreplies && r[j].ttl == ttl; j++)
			;
		if (j == i) {
			text_add(t, "%s{\"ttl\":%u,\"ip\":null", sep, ttl);
			retried_text(t, res, ttl);
			text_add(t, "}");
		} else {
			hops_answered++;
		}
		/* One entry per address, in the order they first answered. */
		for (k = i; k < j; k++) {
			for (m = i; m < k && r[m].from != r[k].from; m++)
				;
			if (m < k)
				continue;
			text_add(t, "%s", sep);
			hop_entry(t, r + i, j - i, k - i, queries);
			retried_text(t, res, ttl);
			text_add(t, "}");
			sep = ",";
		}
		sep = ",";
		i = j;
	}
	text_add(t, "]");
}

/* The trace into the record's own text: its members pass through as they
   came (hm_json_splice); "node" is always ours. */
static void
write_record(const char *record, const char *trace)
{
	static const char *const owned[] = { "node", "trace", NULL };
	const char *add[] = { "\"node\":", hm_node_json(node_name),
	    ",\"trace\":", trace, NULL };

	if (hm_json_splice(stdout, record, strlen(record), owned, add) != 0) {
		if (ferror(stdout))
			hm_err(HM_EXIT_FAIL, "standard output");
		hm_warnx("a record's text is not an object (bug)");
	}
}

static void
write_result(const struct trace_result *res, const struct trace_config *cfg)
{
	struct text t = { NULL, 0, 0 };
	char *record = res->user, ts[32], src[16];

	hm_timestamp(ts, sizeof(ts));
	hm_ip_format(res->src, src);
	text_add(&t, "{\"method\":\"%s\",\"src\":\"%s\",\"first_ttl\":%u,",
	    trace_method_name(cfg->method), src, res->first_ttl);
	if (res->start_ttl != 1)
		text_add(&t, "\"start_ttl\":%u,", res->start_ttl);
	text_add(&t, "\"max_ttl\":%u,\"queries\":%u,\"probes\":%u,",
	    cfg->max_ttl, cfg->queries, res->probes);
	hops_text(&t, res, cfg->queries);
	if (res->limited > 0)
		text_add(&t, ",\"rate_limited\":%u", res->limited);
	hops_limited += res->limited;
	text_add(&t, ",\"stop\":\"%s\"", trace_stop_name(res->stop));
	if (res->stop <= TRACE_STOP_ERROR)
		by_stop[res->stop]++;
	if (res->stop == TRACE_STOP_ERROR)
		text_add(&t, ",\"error\":\"%s\"", strerror(res->error));
	text_add(&t, ",\"ts\":\"%s\"}", ts);
	write_record(record, t.buf);
	free(t.buf);
	free(record);
	records_traced++;
}

/* Where to start: the target's distance from its ping's reply TTL, or 0
   (the configured first TTL). */
static unsigned
start_ttl(json_t *obj, const struct trace_config *cfg)
{
	json_t *ping = json_object_get(obj, "ping");
	json_t *rt = json_object_get(ping, "reply_ttl");
	unsigned d;

	if (opt_no_guess || !json_is_integer(rt) ||
	    json_integer_value(rt) < 1 || json_integer_value(rt) > 255)
		return 0;
	d = trace_guess_ttl((unsigned)json_integer_value(rt), cfg->max_ttl);
	if (d != 0)
		traces_guessed++;
	return d;
}

/* 1 to trace the record (no "ping", or "ok": true), 0 to pass it on
   ("ok": false), -1 when "ping" is malformed (*why says how). */
static int
wants_trace(json_t *obj, const char **why)
{
	json_t *ping = json_object_get(obj, "ping"), *ok;

	if (ping == NULL)
		return 1;
	if (!json_is_object(ping)) {
		*why = "\"ping\" is not an object";
		return -1;
	}
	if (!json_is_boolean(ok = json_object_get(ping, "ok"))) {
		*why = "\"ping\" has no boolean \"ok\"";
		return -1;
	}
	return json_is_true(ok);
}

static void
take_line(struct hm_input *in, struct trace_engine *eng,
    const struct trace_config *cfg, const char *line, size_t len)
{
	struct hm_record rec;
	const char *why;
	char *text;
	size_t n;

	records_in++;
	switch (hm_record_scan(line, len, &rec, &why)) {
	case HM_REC_EMPTY:
		break;
	case HM_REC_BAD:
		hm_input_bad(in, "%s", why);
		break;
	case HM_REC_OTHER:
		hm_line_write(stdout, line, len);
		records_passed++;
		break;
	case HM_REC_TARGET:
		if ((why = probe_target_refused(rec.ip)) != NULL) {
			char addr[16];

			hm_ip_format(rec.ip, addr);
			hm_input_bad(in, "%s is %s: not traced", addr, why);
			break;
		}
		switch (wants_trace(rec.obj, &why)) {
		case -1:
			hm_input_bad(in, "%s", why);
			break;
		case 0:
			hm_line_write(stdout, line, len);
			records_passed++;
			break;
		default:
			/* The engine holds the record's text until its
			   trace ends. */
			if ((text = hm_record_keep(&rec, &n)) == NULL)
				hm_err(HM_EXIT_FAIL, "malloc");
			if (trace_engine_add(eng, rec.ip,
			    start_ttl(rec.obj, cfg), text) != 0)
				hm_errx(HM_EXIT_FAIL, "engine full (bug)");
		}
		break;
	}
	hm_record_done(&rec);
}

/* traceroute's -w: seconds, a fraction too (0.5); or with a unit. */
static uint64_t
wait_ms(const char *s)
{
	char *end;
	double v;

	if (s[0] >= '0' && s[0] <= '9' && strchr(s, '.') != NULL) {
		v = strtod(s, &end);
		if (*end == '\0' && v >= 0 && v <= 60)
			return (uint64_t)(v * 1000 + 0.5);
	}
	return hm_parse_duration(s, "wait");
}

static void
parse_options(int argc, char *argv[], struct trace_config *cfg)
{
	static const struct option longopts[] = {
		{ "method", required_argument, NULL, 'P' },
		{ "first-ttl", required_argument, NULL, 'f' },
		{ "max-ttl", required_argument, NULL, 'm' },
		{ "queries", required_argument, NULL, 'q' },
		{ "wait", required_argument, NULL, 'w' },
		{ "gap-limit", required_argument, NULL, 'g' },
		{ "rate", required_argument, NULL, 'r' },
		{ "in-flight", required_argument, NULL, 'n' },
		{ "port", required_argument, NULL, 'p' },
		{ "window", required_argument, NULL, OPT_WINDOW },
		{ "node", required_argument, NULL, OPT_NODE },
		{ "user", required_argument, NULL, OPT_USER },
		{ "stop-set", required_argument, NULL, OPT_STOP_SET },
		{ "no-stop-set", no_argument, NULL, OPT_NO_STOP_SET },
		{ "stop-set-age", required_argument, NULL, OPT_STOP_SET_AGE },
		{ "no-guess", no_argument, NULL, OPT_NO_GUESS },
		{ "retries", required_argument, NULL, OPT_RETRIES },
		{ "no-spread", no_argument, NULL, OPT_NO_SPREAD },
		{ "stats", no_argument, NULL, 's' },
		{ "progress", no_argument, NULL, OPT_PROGRESS },
		HM_COMMON_LONGOPTS,
		{ NULL, 0, NULL, 0 }
	};
	uint64_t ms;
	int c, port = 0, first_given = 0;

	while ((c = getopt_long(argc, argv, "P:M:f:m:q:w:g:r:n:p:s"
	    HM_COMMON_SHORTOPTS, longopts, NULL)) != -1) {
		if (hm_common_option(c, optarg, usage))
			continue;
		switch (c) {
		case 'P':
		case 'M':
			if (trace_method_parse(optarg, &cfg->method) != 0)
				hm_errx(HM_EXIT_USAGE, "unknown method: %s "
				    "(icmp-paris, udp-paris, tcp-paris)", optarg);
			break;
		case 'f':
			cfg->first_ttl = (unsigned)hm_parse_uint(optarg, 1,
			    TRACE_MAX_TTL, "first-ttl");
			first_given = 1;
			break;
		case 'm':
			if (trace_method_parse(optarg, &cfg->method) == 0)
				hm_errx(HM_EXIT_USAGE, "-m is the max TTL, as in "
				    "traceroute; the method is -P %s", optarg);
			cfg->max_ttl = (unsigned)hm_parse_uint(optarg, 1,
			    TRACE_MAX_TTL, "max-ttl");
			break;
		case 'q':
			cfg->queries = (unsigned)hm_parse_uint(optarg, 1,
			    TRACE_MAX_QUERIES, "queries");
			break;
		case 'w':
			ms = wait_ms(optarg);
			if (ms < 1 || ms > 60000)
				hm_errx(HM_EXIT_USAGE, "wait value is out of "
				    "range (1ms..60s): %s", optarg);
			cfg->wait_ms = (unsigned)ms;
			break;
		case 'g':
			cfg->gap_limit = (unsigned)hm_parse_uint(optarg, 1,
			    TRACE_MAX_TTL, "gap-limit");
			break;
		case 'r':
			cfg->rate = hm_parse_double(optarg, 1, 10000000, "rate");
			break;
		case 'n':
			cfg->max_active = (unsigned)hm_parse_uint(optarg, 1,
			    TRACE_MAX_ACTIVE, "in-flight");
			break;
		case 'p':
			port = (int)hm_parse_uint(optarg, 1, 65535, "port");
			break;
		case OPT_WINDOW:
			cfg->window = (unsigned)hm_parse_uint(optarg, 1,
			    TRACE_MAX_TTL, "window");
			break;
		case OPT_NODE:
			node_name = optarg;
			break;
		case OPT_USER:
			run_user = optarg;
			break;
		case OPT_STOP_SET:
			stop_set_path = optarg;
			break;
		case OPT_NO_STOP_SET:
			opt_no_stop_set = 1;
			break;
		case OPT_STOP_SET_AGE:
			stop_set_age_s = hm_parse_duration(optarg,
			    "stop-set-age") / 1000;
			break;
		case OPT_NO_GUESS:
			opt_no_guess = 1;
			break;
		case OPT_RETRIES:
			cfg->retries = (unsigned)hm_parse_uint(optarg, 0, 15,
			    "retries");
			break;
		case OPT_NO_SPREAD:
			cfg->no_spread = 1;
			break;
		case 's':
			opt_stats = 1;
			break;
		case OPT_PROGRESS:
			opt_progress = 1;
			break;
		default:
			hm_usage_error(usage);
		}
	}
	/* A hop takes at most 16 probes, retries included. */
	while (cfg->retries > 0 &&
	    cfg->queries * (1 + cfg->retries) > TRACE_MAX_QUERIES)
		cfg->retries--;
	if (stop_set_path != NULL && opt_no_stop_set)
		hm_errx(HM_EXIT_USAGE, "--stop-set and --no-stop-set: one or "
		    "the other");
	/* Doubletree's h: a few hops out, past the vantage point's own
	   network, where traces to different targets start to diverge. */
	if (stop_set_path != NULL && !first_given)
		cfg->first_ttl = cfg->max_ttl < 3 ? cfg->max_ttl : 3;
	/* traceroute's -f: nothing below it.  Doubletree and the guess go
	   back from their start to TTL 1. */
	cfg->low_ttl = first_given && stop_set_path == NULL ? cfg->first_ttl :
	    1;
	if (cfg->first_ttl > cfg->max_ttl)
		hm_errx(HM_EXIT_USAGE, "first-ttl %u is above max-ttl %u",
		    cfg->first_ttl, cfg->max_ttl);
	cfg->dport = (uint16_t)(port != 0 ? port :
	    cfg->method == TRACE_TCP_PARIS ? 80 : PROBE_UDP_PORT);
	if (opt_progress < 0)
		opt_progress = isatty(2);
}

/* -n, or as many as the rate and the wait need, started slowly while
   routers limit their answers (trace/loop.c). */
static void
in_flight(struct trace_config *cfg)
{
	if (cfg->max_active == 0) {
		cfg->max_active = trace_in_flight(cfg);
		cfg->slow_start = 1;
	}
}

/*
 * Raw sockets when we hold CAP_NET_RAW; else the datagram fallback, one
 * socket per trace (bounded by the descriptor limit): udp-paris always,
 * icmp-paris where ping_group_range lets us open an ICMP datagram socket.
 */
static void
open_sockets(struct trace_config *cfg, struct trace_sockets *socks, int raw)
{
	enum probe_icmp_kind kind;
	struct rlimit rl;
	const char *why;
	int fd;

	if (raw && trace_sockets_open(cfg->method, socks, &why) == 0)
		return;
	if (raw && errno != EPERM && errno != EACCES)
		hm_err(HM_EXIT_FAIL, "%s", why);
	socks->send_fd = socks->icmp_fd = socks->tcp_fd = -1;
	if (cfg->method == TRACE_TCP_PARIS)
		hm_errx(HM_EXIT_FAIL, "tcp-paris needs CAP_NET_RAW: run as "
		    "root, or grant the file capability (setcap "
		    "cap_net_raw+p %s), or use udp-paris", hm_prog);
	if (cfg->method == TRACE_ICMP_PARIS) {
		if ((fd = probe_open_icmp(0, &kind, &why)) < 0)
			hm_errx(HM_EXIT_FAIL, "icmp-paris: %s; or use udp-paris",
			    why);
		close(fd);
	}
	cfg->dgram = 1;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    rl.rlim_cur < (rlim_t)cfg->max_active + 32) {
		if (rl.rlim_cur < 64)
			hm_errx(HM_EXIT_FAIL, "too few file descriptors");
		cfg->max_active = (unsigned)rl.rlim_cur - 32;
	}
}

/*
 * The stop set's file is opened here, before privilege is dropped, as the
 * user who started us (root, in hopmap-loop), then read and rewritten in
 * place through that descriptor (trace_stopset_load_fd/save_fd): the user
 * we then run as (nobody) needs no right to the file or its directory, so
 * the file can be root's, out of reach of every other process running as
 * nobody.  Whoever may write the file can feed us false links, so one
 * that neither root nor the user who started us owns, or that group or
 * others may write, is refused.  Created here, it is 0644 whatever the
 * umask.  Never through a symbolic link (O_NOFOLLOW).
 */
static void
stopset_owner(const char *path, const struct stat *st)
{
	if (st->st_uid != 0 && st->st_uid != getuid())
		hm_errx(HM_EXIT_FAIL, "--stop-set %s: owned by uid %lu, neither "
		    "root nor uid %lu who runs tracehop: refused (whoever "
		    "writes it can feed false links)", path,
		    (unsigned long)st->st_uid, (unsigned long)getuid());
}

static int
stopset_open(const char *path)
{
	struct stat st;
	int fd;

	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    0644);
	if (fd >= 0 && fchmod(fd, 0644) != 0)
		hm_err(HM_EXIT_FAIL, "--stop-set %s", path);
	if (fd < 0 && errno == EEXIST)
		fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	/* Without CAP_DAC_OVERRIDE (dropped already) root is refused
	   another user's file: say why it would be refused anyway. */
	if (fd < 0 && errno == EACCES) {
		if (lstat(path, &st) == 0)
			stopset_owner(path, &st);
		else if (getuid() == 0)
			hm_errx(HM_EXIT_FAIL, "--stop-set %s: cannot create it: "
			    "Permission denied (root keeps no CAP_DAC_OVERRIDE: "
			    "its directory must be root's)", path);
		errno = EACCES;
	}
	if (fd < 0 && errno == ELOOP)
		hm_errx(HM_EXIT_FAIL, "--stop-set %s: a symbolic link: refused",
		    path);
	if (fd < 0)
		hm_err(HM_EXIT_FAIL, "--stop-set %s", path);
	if (fstat(fd, &st) != 0)
		hm_err(HM_EXIT_FAIL, "--stop-set %s", path);
	if (!S_ISREG(st.st_mode))
		hm_errx(HM_EXIT_FAIL, "--stop-set %s: not a regular file", path);
	stopset_owner(path, &st);
	if (st.st_nlink != 1)	/* another name for it could be anything */
		hm_errx(HM_EXIT_FAIL, "--stop-set %s: %lu hard links: refused",
		    path, (unsigned long)st.st_nlink);
	if (st.st_mode & (S_IWGRP | S_IWOTH))
		hm_errx(HM_EXIT_FAIL, "--stop-set %s: group or others may write "
		    "it (mode %04o): refused (whoever writes it can feed false "
		    "links); chmod go-w", path, (unsigned)(st.st_mode & 07777));
	return fd;
}

/* The receiving sockets, for their drop counts. */
static const struct trace_sockets *rx_socks;

static void
progress(const struct trace_engine *eng, int last)
{
	const struct trace_stats *st = trace_engine_stats(eng);
	uint64_t now = hm_mono_ms();

	if (opt_progress <= 0 || (!last && now - shown_ms < 500))
		return;
	shown_ms = now;
	fprintf(stderr, "%s: %llu traces, %llu done, %llu under way, %llu "
	    "probes, %.1f s%s", hm_prog, (unsigned long long)st->started,
	    (unsigned long long)st->done,
	    (unsigned long long)(st->started - st->done),
	    (unsigned long long)st->probes, (double)(now - start_ms) / 1000,
	    isatty(2) ? (last ? "\033[K\n" : "\033[K\r") : "\n");
}

/* The run in numbers, on standard error. */
static void
summary(const struct trace_engine *eng)
{
	const struct trace_stats *st = trace_engine_stats(eng);
	double secs = (double)(hm_mono_ms() - start_ms) / 1000;
	int k;

	fprintf(stderr, "%s: %llu traces\n", hm_prog,
	    (unsigned long long)st->done);
	for (k = TRACE_STOP_COMPLETED; k <= TRACE_STOP_ERROR; k++)
		fprintf(stderr, "%s:   %llu %s\n", hm_prog,
		    (unsigned long long)by_stop[k],
		    trace_stop_name((enum trace_stop)k));
	fprintf(stderr, "%s: %llu records passed untraced\n", hm_prog,
	    (unsigned long long)records_passed);
	fprintf(stderr, "%s: %llu hops answered\n", hm_prog,
	    (unsigned long long)hops_answered);
	fprintf(stderr, "%s: %llu hops from the stop set\n", hm_prog,
	    (unsigned long long)hops_spliced);
	fprintf(stderr, "%s: %llu hops probed again (rate limiting)\n",
	    hm_prog, (unsigned long long)hops_limited);
	fprintf(stderr, "%s: %llu probes sent\n", hm_prog,
	    (unsigned long long)st->probes);
	fprintf(stderr, "%s: %llu replies\n", hm_prog,
	    (unsigned long long)st->replies);
	fprintf(stderr, "%s: %.3f s elapsed\n", hm_prog, secs);
	if (secs > 0)
		fprintf(stderr, "%s: %.1f probes per second\n", hm_prog,
		    (double)st->probes / secs);
}

/*
 * Records that standard output cannot take yet wait in memory
 * (hm_output_queue) while the engine goes on reading replies: blocked in
 * write(2) behind a slow reader, the hops whose replies sat in the socket
 * would be judged silent once we were back, and replies past the socket's
 * buffer dropped.  Past OUT_HOLD bytes waiting no new record is taken, so
 * no new trace starts; the traces under way finish, queued too.
 */
#define OUT_HOLD (4u << 20)

static int
output_held(void)
{
	return hm_output_queued() >= OUT_HOLD;
}

/* The packets the kernel dropped for a full receive buffer on the shared
   raw sockets (SO_MEMINFO's drop count): the symptom of a loop that read
   too late.  Datagram mode's per-trace sockets are not counted. */
static uint64_t replies_dropped;

static void
count_drops(const struct trace_sockets *socks)
{
	uint32_t mem[SK_MEMINFO_VARS];
	uint64_t d = 0;
	int fds[2] = { socks->icmp_fd, socks->tcp_fd }, i;

	for (i = 0; i < 2; i++) {
		socklen_t len = sizeof(mem);

		if (fds[i] >= 0 && getsockopt(fds[i], SOL_SOCKET, SO_MEMINFO,
		    mem, &len) == 0 &&
		    len > SK_MEMINFO_DROPS * sizeof(uint32_t))
			d += mem[SK_MEMINFO_DROPS];
	}
	replies_dropped = d;
}

static void
flush_results(struct trace_engine *eng, const struct trace_config *cfg)
{
	const struct trace_stats *st = trace_engine_stats(eng);
	struct trace_result *r;
	int any = 0;

	probes_sent = st->probes;
	replies_matched = st->replies;
	replies_stray = st->strays;
	while ((r = trace_engine_result(eng)) != NULL) {
		write_result(r, cfg);
		trace_result_free(r);
		any = 1;
	}
	if (any)
		count_drops(rx_socks);
	/* Before any wait: records (traced or passed) must not sit in our
	   buffer while a slow pipeline waits for them.  Traces end in bursts,
	   so this is one write a burst, and none when nothing is new; what
	   fd 1 does not take now waits in the queue, never blocking us. */
	if (hm_output_pump() != 0)
		hm_err(HM_EXIT_FAIL, "standard output");
}

/* No trace under way, records waiting in memory: wait for room on
   standard output, or for input while we may take it (a second at most:
   the metrics file is still written while the reader stalls). */
static void
wait_output(int in_fd)
{
	struct pollfd pfd[2] = { { STDOUT_FILENO, POLLOUT, 0 },
	    { in_fd, POLLIN, 0 } };

	/* hm_metrics_write(0) looks at the clock every 1024 calls only. */
	if (poll(pfd, in_fd >= 0 ? 2 : 1, 1000) == 0)
		hm_metrics_write(1);
	if (hm_output_pump() != 0)
		hm_err(HM_EXIT_FAIL, "standard output");
}

int
main(int argc, char *argv[])
{
	struct trace_config cfg = {
		.method = TRACE_ICMP_PARIS, .first_ttl = 1, .max_ttl = 30,
		.queries = 1, .gap_limit = 5, .window = 1, .wait_ms = 1000,
		.max_active = 0, .rate = 100, .retries = 4
	};
	struct trace_sockets socks;
	struct trace_engine *eng;
	struct hm_input in;
	char *line;
	size_t len;
	int more = 1;

	hm_setprog(argv);
	parse_options(argc, argv, &cfg);
	/* An ordinary user gets fping's limit: a probe a millisecond. */
	if (probe_priv_limited() && cfg.rate > PROBE_USER_MAX_RATE)
		hm_errx(HM_EXIT_USAGE, "rate value is too large for an "
		    "ordinary user: %g (at most %d; root may go faster)",
		    cfg.rate, PROBE_USER_MAX_RATE);
	(void)hm_node_json(node_name);	/* a bad --node stops us here */
	in_flight(&cfg);
	open_sockets(&cfg, &socks, probe_priv_begin());
	rx_socks = &socks;
	/* Started as root, the files named here are opened now: root named
	   them.  Then no more privilege, and not root, before the first line
	   is read. */
	hm_input_init(&in, argv + optind, argc - optind);
	if (!probe_priv_limited())
		hm_input_preopen(&in);
	if (stop_set_path != NULL)
		stop_set_fd = stopset_open(stop_set_path);
	probe_priv_drop(run_user);

	if (!opt_no_stop_set &&
	    (cfg.stop_set = trace_stopset_new()) == NULL)
		hm_err(HM_EXIT_FAIL, "malloc");
	/* Read as the user we now are: a parser never runs privileged. */
	if (cfg.stop_set != NULL)
		trace_stopset_aging(cfg.stop_set, stop_set_age_s, 0);
	if (stop_set_fd >= 0 &&
	    trace_stopset_load_fd(cfg.stop_set, stop_set_fd, stop_set_path) != 0)
		hm_err(HM_EXIT_FAIL, "%s", stop_set_path);
	if ((eng = trace_engine_new(&cfg, &socks)) == NULL)
		hm_err(HM_EXIT_FAIL, "cannot start the trace engine");
	hm_signals_init(0);
	hm_output_init();
	hm_output_queue();
	hm_metric("records_in", HM_COUNTER, "records read", &records_in);
	hm_metric("records_traced", HM_COUNTER, "records written with a "
	    "trace", &records_traced);
	hm_metric("records_passed", HM_COUNTER, "records passed through "
	    "untraced", &records_passed);
	hm_metric("probes_sent", HM_COUNTER, "probes sent", &probes_sent);
	hm_metric("replies_matched", HM_COUNTER, "replies matched to a probe",
	    &replies_matched);
	hm_metric("replies_stray", HM_COUNTER, "packets matching no probe",
	    &replies_stray);
	hm_metric("traces_guessed", HM_COUNTER, "traces started at the "
	    "distance their ping's reply TTL told", &traces_guessed);
	hm_metric("hops_spliced", HM_COUNTER, "hops taken from the stop set, "
	    "not probed", &hops_spliced);
	hm_metric("hops_rate_limited", HM_COUNTER, "hops probed again: their "
	    "router answered before, then not (rate limiting)", &hops_limited);
	hm_metric("replies_dropped", HM_COUNTER, "packets the kernel "
	    "dropped, the socket's receive buffer full", &replies_dropped);
	hm_metric("output_wait_seconds", HM_COUNTER, "seconds records "
	    "waited in memory for standard output to take them",
	    &hm_output_wait_s);
	hm_metric("output_queued_max_bytes", HM_GAUGE, "most bytes of "
	    "records waiting in memory at once", &hm_output_queued_max);
	hm_metrics_start();
	start_ms = shown_ms = hm_mono_ms();

	while (more || trace_engine_pending(eng) > 0) {
		/* Take input while there is room, waiting for it only when
		   no trace is running (else the waits would stall) and no
		   record waits for room (wait_output waits for either). */
		while (more && !hm_stop && !trace_engine_full(eng) &&
		    !output_held() && ((trace_engine_pending(eng) == 0 &&
		    hm_output_queued() == 0) || hm_input_ready(&in))) {
			if (!hm_input_next(&in, &line, &len)) {
				more = 0;
				break;
			}
			take_line(&in, eng, &cfg, line, len);
		}
		if (hm_stop)
			more = 0;	/* finish the traces under way */
		flush_results(eng, &cfg);
		hm_metrics_write(0);
		progress(eng, 0);
		if (trace_engine_pending(eng) == 0) {
			if (hm_output_queued() > 0)
				wait_output(more && !hm_stop &&
				    !output_held() && in.open ? in.lr.fd : -1);
			continue;
		}
		(void)trace_engine_poll_out(eng, more &&
		    !trace_engine_full(eng) && !output_held() ?
		    (in.open ? in.lr.fd : 0) : -1,
		    hm_output_queued() > 0 ? STDOUT_FILENO : -1, 100);
		flush_results(eng, &cfg);
	}
	hm_metrics_write(1);
	progress(eng, 1);
	if (opt_stats)
		summary(eng);
	if (stop_set_fd >= 0 &&
	    trace_stopset_save_fd(cfg.stop_set, stop_set_fd) != 0)
		hm_err(HM_EXIT_FAIL, "%s", stop_set_path);
	trace_stopset_free(cfg.stop_set);
	trace_engine_free(eng);
	trace_sockets_close(&socks);
	hm_exit(hm_input_badcount(&in) > 0 ? HM_EXIT_BADINPUT : HM_EXIT_OK);
}
