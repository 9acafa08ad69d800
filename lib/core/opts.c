/* opts.c: the options every program shares (--help, --version, --metrics,
   --strict, --max-line; --stats for those that ask for it). */
#include <stdio.h>
#include <stdlib.h>

#include "core.h"

struct hm_common hm_opt = { NULL, 0, HM_MAXLINE_DEFAULT };

void
hm_usage_error(const char *usage)
{
	fputs(usage, stderr);
	fprintf(stderr, "Try '%s --help' for more information.\n", hm_prog);
	exit(HM_EXIT_USAGE);
}

int
hm_common_option(int c, const char *arg, const char *usage)
{
	switch (c) {
	case 'h':
		fputs(usage, stdout);
		hm_exit(HM_EXIT_OK);
	case 'V':
		printf("%s (hopmap) %s\n", hm_prog, HM_VERSION);
		hm_exit(HM_EXIT_OK);
	case HM_OPT_METRICS:
		hm_opt.metrics = arg;
		return 1;
	case HM_OPT_STRICT:
		hm_opt.strict = 1;
		return 1;
	case HM_OPT_STATS:
		hm_stats_start();
		return 1;
	case HM_OPT_MAXLINE:
		hm_opt.maxline = hm_parse_uint(arg, 64, 64 << 20, "max-line");
		return 1;
	case '?':
	case ':':
		/* getopt_long already said what was wrong. */
		hm_usage_error("");
	}
	return 0;
}
