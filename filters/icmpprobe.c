/*
 * icmpprobe: ping many targets at once and add "ping" to each record.
 *
 * The engine (lib/probe/ping.c) owns the socket, pacing, timers and reply
 * matching; this file reads records, hands the targets to the engine while
 * its window has room, and writes each record back as its target finishes.
 * Privilege: CAP_NET_RAW only, and only until the socket is open, which
 * happens before the first input line is read; started as root, it runs
 * as nobody (or --user) from then on (lib/probe/priv.c).
 */
#include <getopt.h>
#include <math.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "core/core.h"
#include "probe/probe.h"

static const char usage[] =
"usage: icmpprobe [-aqs] [-c COUNT | -r N] [-i MS] [-p MS] [-t MS]\n"
"                 [-w WINDOW]\n"
"                 [-m icmp|tcp[:PORT]|udp[:PORT]] [-n NODE] [-u USER]\n"
"                 [--rate PPS] [--progress] [--metrics FILE] [--strict]\n"
"                 [FILE...]\n"
"Ping target records and add \"ping\" to each.  The letters are fping's:\n"
"a bare number after -i, -p or -t is milliseconds; 2s, 500ms work too.\n"
"  -a, --alive          write only the targets that answered\n"
"  -c, --count N        probes per target, 1..100 (default 1)\n"
"  -r, --retries N      fping's retries: after each -t without an answer\n"
"                       another probe, up to N more (0..99; default: -c)\n"
"  -i MS                between any two probes, all targets (fping's -i;\n"
"                       the same as --rate 1000/MS)\n"
"  -p MS, --interval DUR  between probes to one target (default 1s)\n"
"  -t MS, --timeout DUR   wait for a reply after the last probe (default 1s)\n"
"      --rate PPS       probes per second, all targets (default 1000;\n"
"                       at most 1000, and -p at least 10ms, unless root)\n"
"  -w, --window N       targets in flight at once (default: enough for the\n"
"                       rate over the timeout)\n"
"  -m, --method M       icmp (echo, the default), tcp[:PORT] (a SYN;\n"
"                       SYN-ACK or RST means alive; port 80 by default) or\n"
"                       udp[:PORT] (port unreachable means alive; 33434)\n"
"  -n, --node NAME      vantage point name for \"node\" (default: host name)\n"
"  -u, --user USER      started as root, run as USER (default: nobody)\n"
"                       once the socket is open\n"
"  -q, --quiet          no warnings about the lines passed through\n"
"  -s, --stats          a summary on standard error at exit\n"
"      --progress       a progress line on standard error (the default\n"
"                       when it is a terminal)\n"
"  (after a long option a bare number is seconds)\n"
HM_COMMON_HELP;

enum {
	OPT_INTERVAL = HM_OPT_FIRST_PRIVATE,
	OPT_TIMEOUT,
	OPT_RATE,
	OPT_PROGRESS
};

/* fping's units: a bare number after a letter is milliseconds; after a
   long option, seconds as everywhere in hopmap.  With a unit, the unit. */
static uint64_t
duration_ms(const char *s, int bare_ms, const char *what)
{
	char buf[64];
	size_t n = strlen(s);

	if (bare_ms && n > 0 && n < sizeof(buf) - 2 &&
	    s[n - 1] >= '0' && s[n - 1] <= '9') {
		snprintf(buf, sizeof(buf), "%sms", s);
		return hm_parse_duration(buf, what);
	}
	return hm_parse_duration(s, what);
}

static struct {
	int alive, quiet, stats, progress;
	const char *node, *user;
	enum ping_method method;
	uint16_t port;
} opt = { 0, 0, 0, -1, NULL, NULL, PING_ICMP, 80 };

static uint64_t records_in, records_out, passed, targets, answered;
static uint64_t outpending;

/* A bare address needs no JSON object in flight, nor jansson to write it:
   its record is {"ip":"...","node":...} whatever else happens.  This is
   the user pointer of such targets; other targets' is a copy of their
   record's text (hm_record_keep). */
static char bare_target;
static const char *node_json;	/* "node" as a JSON string */

/* Records get an "id" here, where the result is made, so that a sink that
   receives one twice (a shipper retrying after a lost acknowledgement)
   can store it once.  node:run:counter, the run part random: unique
   across nodes, runs and restarts without any shared counter.  Only
   [A-Za-z0-9._-] from the node name, so the id needs no JSON escaping. */
static char id_prefix[96];
static uint64_t id_counter;

static void
id_init(void)
{
	const char *n = opt.node;
	char host[64];
	uint64_t run;
	size_t i, k = 0;

	if (n == NULL) {
		if (gethostname(host, sizeof(host) - 1) != 0)
			strcpy(host, "unknown");
		host[sizeof(host) - 1] = '\0';
		n = host;
	}
	if (getrandom(&run, sizeof(run), 0) != (ssize_t)sizeof(run))
		hm_err(HM_EXIT_FAIL, "getrandom");
	for (i = 0; n[i] != '\0' && k < 48; i++)
		id_prefix[k++] = (strchr("._-", n[i]) != NULL ||
		    (n[i] >= '0' && n[i] <= '9') || (n[i] >= 'a' && n[i] <= 'z') ||
		    (n[i] >= 'A' && n[i] <= 'Z')) ? n[i] : '_';
	snprintf(id_prefix + k, sizeof(id_prefix) - k, ":%016llx:",
	    (unsigned long long)run);
}

static const char *const method_name[] = { "icmp", "tcp", "udp" };

static void
parse_method(const char *s)
{
	size_t n = strcspn(s, ":");

	if (n == 3 && strncmp(s, "tcp", 3) == 0) {
		opt.method = PING_TCP;
		opt.port = 80;
	} else if (n == 3 && strncmp(s, "udp", 3) == 0) {
		/* Traceroute's first port: unlikely to be open. */
		opt.method = PING_UDP;
		opt.port = PROBE_UDP_PORT;
	} else if (strcmp(s, "icmp") == 0) {
		opt.method = PING_ICMP;
		return;
	} else {
		hm_errx(HM_EXIT_USAGE, "unknown method: %s (icmp, tcp[:PORT] "
		    "or udp[:PORT])", s);
	}
	if (s[n] == ':')
		opt.port = (uint16_t)hm_parse_uint(s + n + 1, 1, 65535, "port");
}

/* hm_timestamp, formatted once a millisecond: at 100,000 targets a second
   the formatting would otherwise be a good part of the work. */
static void
timestamp(char *ts, size_t size)
{
	static char cache[32];
	static uint64_t cached_ms = UINT64_MAX;
	uint64_t ms = hm_now_ms();

	if (ms != cached_ms) {
		hm_timestamp(cache, sizeof(cache));
		cached_ms = ms;
	}
	snprintf(ts, size, "%s", cache);
}

/* The "ping" member, as JSON text made of numbers and fixed strings. */
static void
format_ping(const struct ping_result *r, char *buf, size_t size)
{
	char ts[32];
	size_t pos, k;
	uint32_t min = PING_NO_RTT;
	int first = 1;

#define PUT(...) do { if (pos < size) pos += (size_t)snprintf(buf + pos, \
	size - pos, __VA_ARGS__); } while (0)
	pos = 0;
	PUT("{\"method\":\"%s\"", method_name[opt.method]);
	if (opt.method != PING_ICMP)
		PUT(",\"port\":%u", opt.port);
	PUT(",\"ok\":%s,\"sent\":%u,\"recv\":%u", r->recv > 0 ? "true" :
	    "false", r->sent, r->recv);
	for (k = 0; k < r->probes; k++)
		if (r->rtt_us[k] < min)
			min = r->rtt_us[k];
	if (r->recv > 0) {
		PUT(",\"rtt_ms\":");
		probe_json_ms(buf, size, &pos, min / 1000.0);
	}
	if (r->recv > 0 && r->probes > 1) {
		PUT(",\"rtts\":[");
		for (k = 0; k < r->probes; k++) {
			if (r->rtt_us[k] == PING_NO_RTT)
				continue;
			PUT("%s", first ? "" : ",");
			probe_json_ms(buf, size, &pos, r->rtt_us[k] / 1000.0);
			first = 0;
		}
		PUT("]");
	}
	if (r->reply_ttl >= 0)
		PUT(",\"reply_ttl\":%d", r->reply_ttl);
	if (opt.method == PING_TCP && r->recv > 0)
		PUT(",\"tcp\":\"%s\"", (r->tcp_flags & 0x04) ? "rst" : "syn-ack");
	/* Who said the target cannot be reached, and why the kernel would
	   not send a probe: both are results, not silence. */
	if (r->unreach_code >= 0) {
		char from[16];

		hm_ip_format(r->unreach_from, from);
		PUT(",\"unreach\":{\"code\":%d,\"from\":\"%s\"}",
		    r->unreach_code, from);
	}
	if (r->error != 0)
		PUT(",\"error\":\"%s\"", strerror(r->error));
	timestamp(ts, sizeof(ts));
	PUT(",\"ts\":\"%s\"}", ts);
#undef PUT
}

/* A record's own text with its result written in: its members pass
   through as they came (hm_json_splice); "node" is always ours. */
static void
write_record(char *text, const char *raw)
{
	static const char *const owned[] = { "node", "ping", NULL };
	size_t n = strlen(text), vb, vlen;
	char id[160] = "";
	const char *add[] = { id, "\"node\":", node_json, ",\"ping\":", raw,
	    NULL };

	if (hm_json_member(text, n, "id", &vb, &vlen) == 0)
		snprintf(id, sizeof(id), "\"id\":\"%s%llu\",", id_prefix,
		    (unsigned long long)++id_counter);
	if (hm_json_splice(stdout, text, n, owned, add) != 0 &&
	    !ferror(stdout))
		hm_warnx("a record's text is not an object (bug)");
}

/* What -s and the progress line tell: why the silent targets were silent,
   and the round trip times of every reply. */
static struct {
	uint64_t start_ms, last_ms;
	uint64_t timeout, unreach[16], unreach_other, error[134];
	uint64_t rtts, rtt_sum_us;
	uint32_t rtt_min_us, rtt_max_us;
} sum = { .rtt_min_us = PING_NO_RTT };

static void
tally(const struct ping_result *r)
{
	size_t k;

	for (k = 0; k < r->probes; k++) {
		if (r->rtt_us[k] == PING_NO_RTT)
			continue;
		sum.rtts++;
		sum.rtt_sum_us += r->rtt_us[k];
		if (r->rtt_us[k] < sum.rtt_min_us)
			sum.rtt_min_us = r->rtt_us[k];
		if (r->rtt_us[k] > sum.rtt_max_us)
			sum.rtt_max_us = r->rtt_us[k];
	}
	if (r->recv > 0)
		return;
	if (r->unreach_code >= 0 && r->unreach_code < 16)
		sum.unreach[r->unreach_code]++;
	else if (r->unreach_code >= 0)
		sum.unreach_other++;
	else if (r->error > 0 && r->error < 134)
		sum.error[r->error]++;
	else
		sum.timeout++;
}

static const char *const unreach_name[16] = {
	"network unreachable", "host unreachable", "protocol unreachable",
	"port unreachable", "fragmentation needed", "source route failed",
	"network unknown", "host unknown", "source host isolated",
	"network prohibited", "host prohibited", "network unreachable for TOS",
	"host unreachable for TOS", "administratively prohibited",
	"host precedence violation", "precedence cutoff"
};

static void
progress(const struct ping_engine *e, int last)
{
	const struct ping_stats *st = ping_stats(e);
	uint64_t now = hm_mono_ms();
	double secs;

	if (opt.progress <= 0 || (!last && now - sum.last_ms < 500))
		return;
	sum.last_ms = now;
	secs = (double)(now - sum.start_ms) / 1000;
	fprintf(stderr, "%s: %llu targets, %llu done, %llu alive, %llu in "
	    "flight, %llu probes, %.1f s%s", hm_prog,
	    (unsigned long long)targets,
	    (unsigned long long)(targets - ping_active(e)),
	    (unsigned long long)answered, (unsigned long long)ping_active(e),
	    (unsigned long long)st->sent, secs,
	    isatty(2) ? (last ? "\033[K\n" : "\033[K\r") : "\n");
}

/* fping -s: the run in numbers, on standard error. */
static void
summary(const struct ping_engine *e)
{
	const struct ping_stats *st = ping_stats(e);
	double secs = (double)(hm_mono_ms() - sum.start_ms) / 1000;
	size_t k;

	fprintf(stderr, "%s: %llu targets\n", hm_prog,
	    (unsigned long long)targets);
	fprintf(stderr, "%s: %llu alive\n", hm_prog,
	    (unsigned long long)answered);
	fprintf(stderr, "%s: %llu unreachable\n", hm_prog,
	    (unsigned long long)(targets - answered));
	if (sum.timeout > 0)
		fprintf(stderr, "%s:   %llu no reply\n", hm_prog,
		    (unsigned long long)sum.timeout);
	for (k = 0; k < 16; k++)
		if (sum.unreach[k] > 0)
			fprintf(stderr, "%s:   %llu %s (ICMP code %zu)\n",
			    hm_prog, (unsigned long long)sum.unreach[k],
			    unreach_name[k], k);
	if (sum.unreach_other > 0)
		fprintf(stderr, "%s:   %llu unreachable (other ICMP code)\n",
		    hm_prog, (unsigned long long)sum.unreach_other);
	for (k = 0; k < 134; k++)
		if (sum.error[k] > 0)
			fprintf(stderr, "%s:   %llu not sent: %s\n", hm_prog,
			    (unsigned long long)sum.error[k], strerror((int)k));
	fprintf(stderr, "%s: %llu probes sent\n", hm_prog,
	    (unsigned long long)st->sent);
	fprintf(stderr, "%s: %llu replies\n", hm_prog,
	    (unsigned long long)st->recv);
	if (sum.rtts > 0)
		fprintf(stderr, "%s: %.3f / %.3f / %.3f ms (min / avg / max "
		    "round trip)\n", hm_prog, sum.rtt_min_us / 1000.0,
		    (double)sum.rtt_sum_us / (double)sum.rtts / 1000.0,
		    sum.rtt_max_us / 1000.0);
	else
		fprintf(stderr, "%s: - / - / - ms (min / avg / max round "
		    "trip)\n", hm_prog);
	fprintf(stderr, "%s: %.3f s elapsed\n", hm_prog, secs);
	if (secs > 0)
		fprintf(stderr, "%s: %.1f probes per second\n", hm_prog,
		    (double)st->sent / secs);
}

static void
target_done(const struct ping_result *r, void *ctx)
{
	char raw[2048];

	(void)ctx;
	tally(r);
	if (r->recv > 0)
		answered++;
	if (r->recv > 0 || !opt.alive) {
		format_ping(r, raw, sizeof(raw));
		if (r->user == (void *)&bare_target) {
			char ip[16];

			hm_ip_format(r->ip, ip);
			printf("{\"ip\":\"%s\",\"id\":\"%s%llu\",\"node\":%s,"
			    "\"ping\":%s}\n", ip, id_prefix,
			    (unsigned long long)++id_counter, node_json, raw);
		} else {
			write_record(r->user, raw);
		}
		records_out++;
		outpending++;
		/* Output is gone (a full disk, a closed pipe with SIGPIPE
		   ignored): probing on would be for nothing. */
		if (ferror(stdout))
			hm_exit(HM_EXIT_FAIL);
	}
	if (r->user != (void *)&bare_target)
		free(r->user);
}

/*
 * Results that standard output cannot take yet wait in memory
 * (hm_output_queue), and the engine goes on reading replies: a reply left
 * in the kernel while the reader is slow would overflow the socket's
 * buffer and its target would be reported dead.  Past OUT_HOLD bytes
 * waiting, no new target is taken, so no new probe is sent; the targets
 * in flight still finish, their results queued too (at most a window of
 * records more).
 */
#define OUT_HOLD (4u << 20)

/* Before the engine waits, and when standard output has room: let
   downstream have what is finished, as much as it takes now. */
static void
flush_output(void *ctx)
{
	(void)ctx;
	if (outpending > 0 || hm_output_queued() > 0) {
		if (hm_output_pump() != 0)
			hm_err(HM_EXIT_FAIL, "standard output");
		outpending = 0;
	}
}

/* The engine waits for room on standard output while results wait. */
static int
output_fd(void *ctx)
{
	(void)ctx;
	return hm_output_queued() > 0 ? STDOUT_FILENO : -1;
}

static int
output_held(void)
{
	return hm_output_queued() >= OUT_HOLD;
}

/* Multicast, broadcast and 0/8 are never probed: a bad line. */
static int
refused(struct hm_input *in, uint32_t ip)
{
	const char *why = probe_target_refused(ip);
	char text[16];

	if (why == NULL)
		return 0;
	hm_ip_format(ip, text);
	hm_input_bad(in, "%s is %s: not probed", text, why);
	return 1;
}

/* One input line: a target goes to the engine, anything else through. */
static void
take_line(struct hm_input *in, struct ping_engine *e, const char *line,
    size_t len)
{
	struct hm_record rec;
	const char *why;
	char *text;
	uint32_t ip;
	size_t n;

	records_in++;
	if (len > 0 && line[0] != '{' && hm_ip_parse(line, len, &ip) == 0) {
		if (refused(in, ip))
			return;
		targets++;
		(void)ping_add(e, ip, &bare_target);
		return;
	}
	switch (hm_record_scan(line, len, &rec, &why)) {
	case HM_REC_TARGET:
		if (refused(in, rec.ip))
			break;
		targets++;
		if ((text = hm_record_keep(&rec, &n)) == NULL)
			hm_err(HM_EXIT_FAIL, "malloc");
		/* ping_add cannot fail: the caller checked ping_room. */
		(void)ping_add(e, rec.ip, text);
		break;
	case HM_REC_OTHER:
		if (!opt.quiet)
			hm_linewarn(in->lr.name, in->lr.lineno,
			    "not a target (no \"ip\"), passed through");
		hm_line_write(stdout, line, len);
		passed++;
		break;
	case HM_REC_EMPTY:
		break;
	case HM_REC_BAD:
		hm_input_bad(in, "%s", why);
		break;
	}
	hm_record_done(&rec);
}

static int
open_socket(enum probe_icmp_kind *kind)
{
	int raw = probe_priv_begin(), fd;
	const char *why = NULL;

	if (opt.method == PING_TCP) {
		if (!raw)
			hm_errx(HM_EXIT_FAIL, "--method tcp needs CAP_NET_RAW "
			    "(run as root or grant cap_net_raw+p)");
		if ((fd = probe_open_raw(IPPROTO_TCP)) < 0)
			hm_err(HM_EXIT_FAIL, "raw TCP socket");
		*kind = PROBE_ICMP_RAW;
	} else if (opt.method == PING_UDP) {
		/* Needs no privilege at all. */
		if ((fd = probe_open_udp()) < 0)
			hm_err(HM_EXIT_FAIL, "UDP socket");
		*kind = PROBE_ICMP_DGRAM;
	} else if ((fd = probe_open_icmp(raw, kind, &why)) < 0) {
		hm_err(HM_EXIT_FAIL, "%s", why);
	}
	return fd;
}

/* An ordinary user gets the limits fping gives one: at most a probe a
   millisecond, and 10 ms between probes to one target. */
static void
user_limits(const struct ping_conf *conf)
{
	if (!probe_priv_limited())
		return;
	if (conf->rate > PROBE_USER_MAX_RATE)
		hm_errx(HM_EXIT_USAGE, "rate value is too large for an "
		    "ordinary user: %g (at most %d; root may go faster)",
		    conf->rate, PROBE_USER_MAX_RATE);
	if (conf->count > 1 && conf->interval_ns <
	    PROBE_USER_MIN_INTERVAL_MS * 1000000ull)
		hm_errx(HM_EXIT_USAGE, "interval value is too small for an "
		    "ordinary user: %llums (at least %dms; root may go "
		    "faster)", (unsigned long long)(conf->interval_ns /
		    1000000), PROBE_USER_MIN_INTERVAL_MS);
}

static void
register_metrics(struct ping_engine *e)
{
	const struct ping_stats *st = ping_stats(e);

	hm_metric("records_in", HM_COUNTER, "records read", &records_in);
	hm_metric("records_out", HM_COUNTER, "records written", &records_out);
	hm_metric("records_passed", HM_COUNTER,
	    "non-target records passed through", &passed);
	hm_metric("targets", HM_COUNTER, "targets probed", &targets);
	hm_metric("targets_alive", HM_COUNTER, "targets that answered",
	    &answered);
	hm_metric("probes_sent", HM_COUNTER, "probes sent", &st->sent);
	hm_metric("replies", HM_COUNTER, "replies matched to a probe",
	    &st->recv);
	hm_metric("replies_stray", HM_COUNTER,
	    "packets that failed the check", &st->strays);
	hm_metric("replies_late", HM_COUNTER,
	    "replies after their target finished", &st->late);
	hm_metric("replies_dup", HM_COUNTER, "duplicate replies", &st->dups);
	hm_metric("send_errors", HM_COUNTER, "probes the kernel refused",
	    &st->send_errors);
	hm_metric("send_retries", HM_COUNTER, "sends retried after an "
	    "earlier probe's pending socket error", &st->send_retries);
	hm_metric("replies_unreach", HM_COUNTER,
	    "destination unreachables for a probe", &st->unreach);
	hm_metric("replies_dropped", HM_COUNTER, "packets the kernel "
	    "dropped, the socket's receive buffer full", &st->dropped);
	hm_metric("output_wait_seconds", HM_COUNTER, "seconds results "
	    "waited in memory for standard output to take them",
	    &hm_output_wait_s);
	hm_metric("output_queued_max_bytes", HM_GAUGE, "most bytes of "
	    "results waiting in memory at once", &hm_output_queued_max);
}

static void
run(struct ping_engine *e, struct hm_input *in)
{
	int eof = 0;
	size_t len;
	char *line;

	for (;;) {
		/* Between files, open the next one even if it may wait (a
		   named pipe): there is no descriptor to watch until then. */
		while (!eof && ping_room(e) && !output_held() && (!in->open ||
		    hm_input_ready(in))) {
			if (!hm_input_next(in, &line, &len)) {
				eof = 1;
				break;
			}
			take_line(in, e, line, len);
		}
		if (hm_stop)
			eof = 1;	/* finish what is in flight, read no more */
		if (eof && ping_active(e) == 0)
			break;
		hm_metrics_write(0);
		progress(e, 0);
		ping_poll(e, eof || !ping_room(e) || output_held() ? -1 :
		    in->lr.fd, target_done, NULL);
	}
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "alive", no_argument, NULL, 'a' },
		{ "count", required_argument, NULL, 'c' },
		{ "retries", required_argument, NULL, 'r' },
		{ "interval", required_argument, NULL, OPT_INTERVAL },
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ "rate", required_argument, NULL, OPT_RATE },
		{ "window", required_argument, NULL, 'w' },
		{ "method", required_argument, NULL, 'm' },
		{ "node", required_argument, NULL, 'n' },
		{ "user", required_argument, NULL, 'u' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "stats", no_argument, NULL, 's' },
		{ "progress", no_argument, NULL, OPT_PROGRESS },
		HM_COMMON_LONGOPTS,
		{ NULL, 0, NULL, 0 }
	};
	struct ping_conf conf = { .count = 1, .interval_ns = 1000000000,
	    .timeout_ns = 1000000000, .rate = 1000, .idle = flush_output,
	    .out_fd = output_fd };
	static struct ping_engine *e;
	struct hm_input in;
	uint64_t ms;
	double span;
	int c, count_given = 0, retries = -1;

	hm_setprog(argv);
	while ((c = getopt_long(argc, argv, "ac:i:p:t:r:w:m:n:u:qs"
	    HM_COMMON_SHORTOPTS, longopts, NULL)) != -1) {
		if (hm_common_option(c, optarg, usage))
			continue;
		switch (c) {
		case 'a':
			opt.alive = 1;
			break;
		case 'c':
			conf.count = (unsigned)hm_parse_uint(optarg, 1,
			    PING_MAX_COUNT, "count");
			count_given = 1;
			break;
		case 'i':
			/* fping's -i: the pace of all the probes. */
			ms = duration_ms(optarg, 1, "interval (-i)");
			if (ms == 0 || ms > 1000)
				hm_errx(HM_EXIT_USAGE, "interval (-i) must be "
				    "between 1ms and 1s: %s", optarg);
			conf.rate = 1000.0 / (double)ms;
			break;
		case 'p':
		case OPT_INTERVAL:
			conf.interval_ns = duration_ms(optarg, c == 'p',
			    "interval") * 1000000;
			break;
		case 't':
		case OPT_TIMEOUT:
			conf.timeout_ns = duration_ms(optarg, c == 't',
			    "timeout") * 1000000;
			if (conf.timeout_ns == 0 ||
			    conf.timeout_ns > 3600000000000ull)
				hm_errx(HM_EXIT_USAGE, "timeout must be between "
				    "1ms and 1h: %s", optarg);
			break;
		case 'r':
			retries = (int)hm_parse_uint(optarg, 0, PING_MAX_COUNT -
			    1, "retries");
			break;
		case OPT_RATE:
			conf.rate = hm_parse_double(optarg, 1, 10000000, "rate");
			break;
		case 'w':
			conf.window = hm_parse_uint(optarg, 1, PING_MAX_WINDOW,
			    "window");
			break;
		case 'm':
			parse_method(optarg);
			break;
		case 'n':
			opt.node = optarg;
			break;
		case 'u':
			opt.user = optarg;
			break;
		case 'q':
			opt.quiet = 1;
			break;
		case 's':
			opt.stats = 1;
			break;
		case OPT_PROGRESS:
			opt.progress = 1;
			break;
		default:
			hm_usage_error(usage);
		}
	}
	if (opt.progress < 0)
		opt.progress = isatty(2);
	/* fping's retries: a probe, and after each timeout without an
	   answer another, up to -r more; the first reply ends it. */
	if (retries >= 0 && count_given)
		hm_errx(HM_EXIT_USAGE, "-r (retries until an answer) and -c "
		    "(probes to every target) do not go together");
	if (retries >= 0) {
		conf.count = (unsigned)retries + 1;
		conf.retry = 1;
		conf.interval_ns = conf.timeout_ns;
	}
	if (conf.interval_ns > 3600000000000ull)
		hm_errx(HM_EXIT_USAGE, "interval must be at most 1h");
	user_limits(&conf);
	conf.method = opt.method;
	conf.port = opt.port;
	conf.fd = open_socket(&conf.kind);
	/* Started as root, the files named here are opened now: root named
	   them.  Then no more privilege, and not root, before the first line
	   is read. */
	memset(&in, 0, sizeof(in));
	hm_input_init(&in, argv + optind, argc - optind);
	if (!probe_priv_limited())
		hm_input_preopen(&in);
	probe_priv_drop(opt.user);

	/* Enough slots to keep the rate up while replies are awaited, with
	   room for the targets queued behind the pacing. */
	if (conf.window == 0) {
		span = (double)(conf.timeout_ns + (conf.count - 1) *
		    conf.interval_ns) / 1e9;
		span = ceil(conf.rate * span * 1.25 / conf.count) + 1024;
		conf.window = span > PING_MAX_WINDOW ? PING_MAX_WINDOW :
		    (size_t)span;
	}
	if ((e = ping_new(&conf)) == NULL)
		hm_err(HM_EXIT_FAIL, "ping engine");

	node_json = hm_node_json(opt.node);
	id_init();
	hm_signals_init(0);
	hm_output_queue();
	register_metrics(e);
	hm_metrics_start();
	sum.start_ms = sum.last_ms = hm_mono_ms();
	run(e, &in);
	progress(e, 1);
	if (opt.stats)
		summary(e);
	/* The engine stays: the final metrics read its counters. */
	hm_exit(hm_input_badcount(&in) > 0 ? HM_EXIT_BADINPUT : HM_EXIT_OK);
}
