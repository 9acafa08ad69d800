/*
 * hopextract: turn traces into new targets.  Each responsive intermediate
 * hop of a record's "trace" becomes a target record, so the routers that
 * traces find are fed back to be pinged and traced in turn, and the map
 * grows by itself.
 *
 * It is a generator, not a filter of its input: the input records are
 * consumed (unless --passthrough) and only hops come out.  Each hop address
 * comes out once overall: the seen set of lib/seen/store.c, in memory or in
 * an SQLite file that runs and concurrent processes share.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "seen/seen.h"

static const char usage[] =
"usage: hopextract [-Rp] [--state FILE] [--max-entries N] [--metrics FILE]\n"
"                  [--strict] [FILE...]\n"
"Write a target record for each new responsive intermediate hop of each trace.\n"
"  -R, --allow-reserved  keep special-purpose hop addresses (10/8, 127/8, ...)\n"
"  -p, --passthrough     also write every input record, before its hops\n"
"  -s, --state FILE      remember emitted hops in SQLite FILE, across runs and\n"
"                        processes\n"
"  -m, --max-entries N   hops remembered in memory, oldest forgotten first\n"
"                        (default 2000000; not with --state)\n"
HM_STATS_HELP
HM_COMMON_HELP;

struct hop {
	uint32_t ip;
	unsigned int ttl;
};

/* The hops of the record at hand: grows to the longest trace seen. */
static struct hop *hops;
static size_t nhops, hops_cap;

static int allow_reserved, passthrough;
static struct hm_seen_stats seen_stats;
static uint64_t records_in, traces, no_trace, reserved;

static void
hop_add(uint32_t ip, unsigned int ttl)
{
	if (nhops == hops_cap) {
		hops_cap = hops_cap ? 2 * hops_cap : 64;
		if ((hops = realloc(hops, hops_cap * sizeof(*hops))) == NULL)
			hm_err(HM_EXIT_FAIL, "realloc");
	}
	hops[nhops].ip = ip;
	hops[nhops].ttl = ttl;
	nhops++;
}

/* One element of "hops": NULL when good (a silent hop is good), else why. */
static const char *
hop_check(json_t *h, size_t i, uint32_t *ip, unsigned int *ttl, int *silent)
{
	static char why[128];
	json_t *ipv = json_object_get(h, "ip"), *ttlv = json_object_get(h, "ttl");
	json_int_t t;

	*silent = ipv == NULL || json_is_null(ipv);
	if (ttlv != NULL && !json_is_null(ttlv)) {
		t = json_is_integer(ttlv) ? json_integer_value(ttlv) : 0;
		if (t < 1 || t > 255) {
			snprintf(why, sizeof(why), "trace.hops[%zu]: \"ttl\" is "
			    "not an integer from 1 to 255", i);
			return why;
		}
		*ttl = (unsigned int)t;
	} else if (!*silent) {
		snprintf(why, sizeof(why), "trace.hops[%zu]: no \"ttl\"", i);
		return why;
	}
	if (*silent)
		return NULL;
	if (!json_is_string(ipv) ||
	    hm_ip_parse(json_string_value(ipv), json_string_length(ipv), ip)) {
		snprintf(why, sizeof(why), "trace.hops[%zu]: \"ip\" is not an "
		    "IPv4 address", i);
		return why;
	}
	return NULL;
}

/*
 * Collect the intermediate hops of a trace toward dest: responsive, and
 * neither dest itself nor, when the trace completed, its last hop (the
 * destination answering, perhaps from another address).  The whole trace
 * is checked first, so a bad one yields nothing.  NULL, or why it is bad.
 */
static const char *
trace_hops(json_t *trace, uint32_t dest)
{
	json_t *stop, *list, *h;
	size_t i, n;
	int completed, silent;

	nhops = 0;
	if (!json_is_object(trace))
		return "\"trace\" is not an object";
	stop = json_object_get(trace, "stop");
	if (stop != NULL && !json_is_string(stop) && !json_is_null(stop))
		return "\"trace.stop\" is not a string";
	completed = json_is_string(stop) &&
	    strcmp(json_string_value(stop), "completed") == 0;
	list = json_object_get(trace, "hops");
	if (list == NULL || json_is_null(list))
		return NULL;
	if (!json_is_array(list))
		return "\"trace.hops\" is not an array";
	n = json_array_size(list);
	json_array_foreach(list, i, h) {
		uint32_t ip = 0;
		unsigned int ttl = 0;
		const char *why;

		if (!json_is_object(h))
			return "a member of \"trace.hops\" is not an object";
		if ((why = hop_check(h, i, &ip, &ttl, &silent)) != NULL)
			return why;
		if (!silent && ip != dest && !(completed && i == n - 1))
			hop_add(ip, ttl);
	}
	return NULL;
}

/*
 * The new targets of one record: allowed hops, in trace order, each offered
 * to the seen set, which writes the new ones.  "node" of a hop target is
 * for the node that will probe it (its prober sets it); who found the hop
 * goes in "found_by": the trace's "node", its text as it came.  The rest
 * is addresses and a number, so the record is written as text, not through
 * an encoder.
 */
static void
emit_hops(struct hm_seen *seen, const struct hm_record *rec)
{
	char via[16], ip[16], *buf;
	size_t i, vb = 0, vlen = 0, n, cap;
	int found_by = hm_json_member(rec->text, rec->len, "node", &vb,
	    &vlen) == 1;

	cap = 128 + (found_by ? vlen : 0);
	if ((buf = malloc(cap)) == NULL)
		hm_err(HM_EXIT_FAIL, "malloc");
	hm_ip_format(rec->ip, via);
	for (i = 0; i < nhops; i++) {
		if (!allow_reserved && hm_special_lookup(hops[i].ip) != NULL) {
			reserved++;
			continue;
		}
		hm_ip_format(hops[i].ip, ip);
		n = (size_t)snprintf(buf, cap, "{\"ip\":\"%s\",\"src\":\"hop\","
		    "\"via\":\"%s\",\"ttl\":%u%s", ip, via, hops[i].ttl,
		    found_by ? ",\"found_by\":" : "");
		if (found_by) {
			memcpy(buf + n, rec->text + vb, vlen);
			n += vlen;
		}
		buf[n++] = '}';
		hm_seen_offer(seen, hops[i].ip, buf, n, hm_now_ms());
	}
	free(buf);
}

static void
extract_line(struct hm_seen *seen, struct hm_input *in, const char *line,
    size_t len)
{
	struct hm_record rec;
	const char *why;
	json_t *trace;

	switch (hm_record_parse(line, len, &rec, &why)) {
	case HM_REC_EMPTY:
		return;
	case HM_REC_BAD:
		hm_input_bad(in, "%s", why);
		return;
	case HM_REC_OTHER:
	case HM_REC_TARGET:
		break;
	}
	if ((trace = json_object_get(rec.obj, "trace")) == NULL) {
		no_trace++;
	} else if (json_object_get(rec.obj, "ip") == NULL) {
		hm_input_bad(in, "a trace record without \"ip\"");
		goto done;
	} else if ((why = trace_hops(trace, rec.ip)) != NULL) {
		hm_input_bad(in, "%s", why);
		goto done;
	} else {
		traces++;
	}
	if (passthrough)
		hm_seen_emit(seen, line, len);
	if (trace != NULL)
		emit_hops(seen, &rec);
done:
	hm_record_free(&rec);
}

static void
metrics_init(const struct hm_seen_stats *st, int state)
{
	hm_metric("records_in", HM_COUNTER, "records read", &records_in);
	hm_metric("traces", HM_COUNTER, "records with a good trace", &traces);
	hm_metric("records_no_trace", HM_COUNTER,
	    "records without a trace (consumed)", &no_trace);
	hm_metric("hops_emitted", HM_COUNTER, "new hop targets written",
	    &st->claimed);
	hm_metric("hops_duplicate", HM_COUNTER, "hops emitted before, dropped",
	    &st->refused);
	hm_metric("hops_reserved", HM_COUNTER,
	    "special-purpose hop addresses dropped", &reserved);
	if (state) {
		hm_metric("hopextract_commits", HM_COUNTER,
		    "state transactions committed", &st->commits);
	} else {
		hm_metric("hopextract_entries", HM_GAUGE,
		    "hops remembered in memory", &st->entries);
		hm_metric("hopextract_evicted", HM_COUNTER,
		    "hops forgotten at the entry bound", &st->evicted);
	}
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "allow-reserved", no_argument, NULL, 'R' },
		{ "passthrough", no_argument, NULL, 'p' },
		{ "state", required_argument, NULL, 's' },
		{ "max-entries", required_argument, NULL, 'm' },
		HM_STATS_LONGOPT,
		HM_COMMON_LONGOPTS,
		{ NULL, 0, NULL, 0 }
	};
	struct hm_input in;
	struct hm_seen *seen;
	const char *state = NULL;
	size_t max_entries = 2000000, len;
	int c, max_given = 0;
	char *line;

	hm_setprog(argv);
	while ((c = getopt_long(argc, argv, "Rps:m:" HM_COMMON_SHORTOPTS,
	    longopts, NULL)) != -1) {
		if (hm_common_option(c, optarg, usage))
			continue;
		switch (c) {
		case 'R':
			allow_reserved = 1;
			break;
		case 'p':
			passthrough = 1;
			break;
		case 's':
			state = optarg;
			break;
		case 'm':
			max_entries = hm_parse_uint(optarg, 1, 1u << 30,
			    "max-entries");
			max_given = 1;
			break;
		default:
			hm_usage_error(usage);
		}
	}
	if (state != NULL && max_given)
		hm_errx(HM_EXIT_USAGE, "--max-entries is for the memory, not "
		    "--state");

	hm_signals_init(0);
	hm_output_init();
	/* Hops never expire: a router found once is fed back once. */
	seen = hm_seen_open(state, "hopextract", 0, max_entries,
	    &seen_stats);
	metrics_init(&seen_stats, state != NULL);
	hm_input_init(&in, argv + optind, argc - optind);

	for (;;) {
		hm_seen_sync(seen, hm_seen_pending(seen) &&
		    !hm_input_ready(&in), 0);
		if (!hm_input_next(&in, &line, &len))
			break;
		records_in++;
		extract_line(seen, &in, line, len);
		hm_metrics_write(0);
	}
	hm_seen_close(seen, 0);
	free(hops);
	hm_stats_print("records read", records_in, hm_input_badcount(&in));
	hm_exit(hm_input_badcount(&in) > 0 ? HM_EXIT_BADINPUT : HM_EXIT_OK);
}
