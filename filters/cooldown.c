/*
 * cooldown: drop targets that were passed within the cooldown period, pass
 * the rest and remember when.  It keeps a fleet from probing the same
 * address again and again when the same ranges, and the hops fed back from
 * traces, keep coming round.
 *
 * The memory is lib/seen/store.c: in this process, bounded, with expiry; or,
 * with --state, an SQLite file that survives restarts and that several
 * cooldown processes on a host share, so that a target passes once per
 * period across all of them.
 */
#include <getopt.h>
#include <stdlib.h>
#include <time.h>

#include "core/core.h"
#include "seen/seen.h"

static const char usage[] =
"usage: cooldown [-t DURATION] [--state FILE] [--max-entries N] [--now SECONDS]\n"
"                [--metrics FILE] [--strict] [FILE...]\n"
"Drop targets passed within the cooldown period; pass and remember the rest.\n"
"  -t, --cooldown DURATION  period, e.g. 90s, 60m, 12h, 7d (default 1h)\n"
"  -s, --state FILE         keep the memory in SQLite FILE, shared by processes\n"
"  -m, --max-entries N      addresses held in memory, oldest evicted first\n"
"                           (default 2000000; not with --state)\n"
"      --now SECONDS        take SECONDS since the epoch as the time throughout\n"
"                           (for tests and replays)\n"
HM_STATS_HELP
HM_COMMON_HELP;

enum { OPT_NOW = HM_OPT_FIRST_PRIVATE };

static struct hm_seen_stats seen_stats;
static uint64_t records_in, others;
static uint64_t fixed_now;	/* --now in ms, or 0 for the clock */

/* The coarse clock costs a fraction of the precise one, and a cooldown
   does not care about its few milliseconds of granularity. */
static uint64_t
now_ms(void)
{
	struct timespec ts;

	if (fixed_now != 0)
		return fixed_now;
	clock_gettime(CLOCK_REALTIME_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
metrics_init(const struct hm_seen_stats *st, int state)
{
	hm_metric("records_in", HM_COUNTER, "records read", &records_in);
	hm_metric("targets_passed", HM_COUNTER,
	    "targets passed (not seen within the period)", &st->claimed);
	hm_metric("targets_dropped", HM_COUNTER,
	    "targets dropped (seen within the period)", &st->refused);
	hm_metric("records_passed", HM_COUNTER,
	    "non-target records passed through", &others);
	hm_metric("cooldown_purged", HM_COUNTER, "expired entries removed",
	    &st->purged);
	if (state) {
		hm_metric("cooldown_commits", HM_COUNTER,
		    "state transactions committed", &st->commits);
	} else {
		hm_metric("cooldown_entries", HM_GAUGE,
		    "addresses held in memory", &st->entries);
		hm_metric("cooldown_evicted", HM_COUNTER,
		    "addresses evicted at the entry bound", &st->evicted);
	}
}

/* One input line: pass, drop, or report. */
static void
cool_line(struct hm_seen *seen, struct hm_input *in, const char *line,
    size_t len)
{
	const char *why;
	uint32_t ip;

	switch (hm_record_ip(line, len, &ip, &why)) {
	case HM_REC_TARGET:
		hm_seen_offer(seen, ip, line, len, now_ms());
		break;
	case HM_REC_OTHER:
		hm_seen_emit(seen, line, len);
		others++;
		break;
	case HM_REC_EMPTY:
		break;
	case HM_REC_BAD:
		hm_input_bad(in, "%s", why);
		break;
	}
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "cooldown", required_argument, NULL, 't' },
		{ "state", required_argument, NULL, 's' },
		{ "max-entries", required_argument, NULL, 'm' },
		{ "now", required_argument, NULL, OPT_NOW },
		HM_STATS_LONGOPT,
		HM_COMMON_LONGOPTS,
		{ NULL, 0, NULL, 0 }
	};
	struct hm_input in;
	struct hm_seen *seen;
	const char *state = NULL;
	uint64_t period = 3600 * 1000;
	size_t max_entries = 2000000, len;
	int c, max_given = 0;
	char *line;

	hm_setprog(argv);
	while ((c = getopt_long(argc, argv, "t:s:m:" HM_COMMON_SHORTOPTS,
	    longopts, NULL)) != -1) {
		if (hm_common_option(c, optarg, usage))
			continue;
		switch (c) {
		case 't':
			period = hm_parse_duration(optarg, "cooldown");
			if (period == 0)
				hm_errx(HM_EXIT_USAGE,
				    "cooldown value is too small: %s", optarg);
			break;
		case 's':
			state = optarg;
			break;
		case 'm':
			max_entries = hm_parse_uint(optarg, 1, 1u << 30,
			    "max-entries");
			max_given = 1;
			break;
		case OPT_NOW:
			/* Up to the year 9999. */
			fixed_now = 1000 * hm_parse_uint(optarg, 1, 253402300799,
			    "now");
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
	/* A state in a directory not made yet (/var/lib/hopmap/cd.db on a
	   new host) is made, as a service's first run expects. */
	if (state != NULL && hm_mkparents(state) != 0)
		hm_err(HM_EXIT_FAIL, "%s: cannot create its directory", state);
	seen = hm_seen_open(state, "cooldown", period, max_entries,
	    &seen_stats);
	metrics_init(&seen_stats, state != NULL);
	hm_input_init(&in, argv + optind, argc - optind);

	for (;;) {
		/* A batch's records leave at its commit: commit before
		   waiting on a quiet input, not after. */
		hm_seen_sync(seen, hm_seen_pending(seen) &&
		    !hm_input_ready(&in), now_ms());
		if (!hm_input_next(&in, &line, &len))
			break;
		records_in++;
		cool_line(seen, &in, line, len);
		hm_metrics_write(0);
	}
	hm_seen_close(seen, now_ms());
	hm_stats_print("records read", records_in, hm_input_badcount(&in));
	hm_exit(hm_input_badcount(&in) > 0 ? HM_EXIT_BADINPUT : HM_EXIT_OK);
}
