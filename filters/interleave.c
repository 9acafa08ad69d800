/*
 * interleave: reorder targets so that consecutive ones fall in different
 * subnets, which spreads the probe load over many networks (and their rate
 * limiters) instead of sweeping one /24 at a time.
 *
 * Up to W subnets are open at once and emit round-robin, one record each
 * turn; a subnet that empties closes and the oldest waiting one opens.  Input
 * is read until W+1 subnets are buffered or the buffer is full, so memory is
 * bounded by --buffer whatever the input.  Order within a subnet is kept and
 * every record comes out exactly once.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"

static const char usage[] =
"usage: interleave [-s] [-l LEN] [-w WINDOW] [-b SIZE] [--metrics FILE] [--strict]\n"
"                  [FILE...]\n"
"Reorder target records so consecutive ones are in different /LEN subnets.\n"
"  -l, --prefix-len LEN  subnet size as a prefix length, 1..32 (default 24)\n"
"  -w, --window W        subnets emitting round-robin at once (default 10)\n"
"  -b, --buffer SIZE     most bytes of records held (default 64M)\n"
"  -s, --stats           a summary on standard error at exit\n"
HM_COMMON_HELP;

struct rec {
	struct rec *next;
	size_t len;
	char line[];
};

struct subnet {
	uint32_t key;
	struct rec *head, *tail;
	struct subnet *next;	/* in the open ring, or the waiting list */
	struct subnet *hnext;	/* in its hash bucket */
};

/* Chained hash of the subnets that hold records. */
static struct subnet **bucket;
static size_t bucket_mask;

static struct subnet *ring;		/* the open subnets; ring = next to emit */
static struct subnet *ring_prev;	/* the one before ring (its tail) */
static size_t nopen;
static struct subnet *wait_head, *wait_tail;
static size_t nbuffered;		/* subnets holding records */

static uint64_t bytes_held, records_in, records_out, records_held, passed;

static size_t window = 10, buffer_limit = 64u << 20;
static uint32_t mask;

static struct subnet **
subnet_slot(uint32_t key)
{
	struct subnet **sp = &bucket[(key * 2654435761u >> 7) & bucket_mask];

	while (*sp != NULL && (*sp)->key != key)
		sp = &(*sp)->hnext;
	return sp;
}

static void
ring_insert(struct subnet *s)
{
	/* Insert before ring, so a newly opened subnet emits last. */
	if (nopen == 0) {
		s->next = s;
		ring = ring_prev = s;
	} else {
		s->next = ring;
		ring_prev->next = s;
		ring_prev = s;
	}
	nopen++;
}

static void
hold(uint32_t ip, const char *line, size_t len)
{
	struct subnet **sp = subnet_slot(ip & mask), *s = *sp;
	struct rec *r = malloc(sizeof(*r) + len);

	if (r == NULL)
		hm_err(HM_EXIT_FAIL, "malloc");
	r->next = NULL;
	r->len = len;
	memcpy(r->line, line, len);
	if (s == NULL) {
		if ((s = calloc(1, sizeof(*s))) == NULL)
			hm_err(HM_EXIT_FAIL, "calloc");
		s->key = ip & mask;
		s->head = s->tail = r;
		*sp = s;
		nbuffered++;
		if (nopen < window) {
			ring_insert(s);
		} else {
			s->next = NULL;
			if (wait_tail)
				wait_tail->next = s;
			else
				wait_head = s;
			wait_tail = s;
		}
	} else {
		s->tail->next = r;
		s->tail = r;
	}
	bytes_held += len;
	records_held++;
}

/* Emit one record from the next open subnet. */
static void
emit_one(void)
{
	struct subnet *s = ring, **sp;
	struct rec *r = s->head;

	hm_line_write(stdout, r->line, r->len);
	bytes_held -= r->len;
	records_held--;
	records_out++;
	s->head = r->next;
	free(r);
	if (s->head != NULL) {
		ring_prev = s;
		ring = s->next;
		return;
	}
	/* The subnet is empty: close it and open the oldest waiting one. */
	nopen--;
	nbuffered--;
	if (nopen == 0) {
		ring = ring_prev = NULL;
	} else {
		ring_prev->next = s->next;
		ring = s->next;
	}
	if (wait_head != NULL) {
		struct subnet *w = wait_head;

		wait_head = w->next;
		if (wait_head == NULL)
			wait_tail = NULL;
		ring_insert(w);
	}
	sp = subnet_slot(s->key);
	*sp = s->hnext;
	free(s);
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "prefix-len", required_argument, NULL, 'l' },
		{ "window", required_argument, NULL, 'w' },
		{ "buffer", required_argument, NULL, 'b' },
		HM_STATS_LONGOPT,
		HM_COMMON_LONGOPTS,
		{ NULL, 0, NULL, 0 }
	};
	struct hm_input in;
	size_t len, slots;
	char *line;
	int c, more = 1;

	hm_setprog(argv);
	while ((c = getopt_long(argc, argv, "l:w:b:s" HM_COMMON_SHORTOPTS,
	    longopts, NULL)) != -1) {
		if (hm_common_option(c, optarg, usage))
			continue;
		switch (c) {
		case 's':
			hm_stats_start();
			break;
		case 'l':
			mask = hm_prefix_mask((unsigned int)hm_parse_uint(optarg,
			    1, 32, "prefix-len"));
			break;
		case 'w':
			window = hm_parse_uint(optarg, 1, 1000000, "window");
			break;
		case 'b':
			buffer_limit = hm_parse_size(optarg, "buffer");
			if (buffer_limit < 4096)
				hm_errx(HM_EXIT_USAGE,
				    "buffer value is too small: %s", optarg);
			break;
		default:
			hm_usage_error(usage);
		}
	}
	if (mask == 0)
		mask = hm_prefix_mask(24);
	/* Buckets for about one subnet each when the window is full. */
	for (slots = 1024; slots < 4 * window && slots < ((size_t)1 << 24);
	    slots <<= 1)
		;
	if ((bucket = calloc(slots, sizeof(*bucket))) == NULL)
		hm_err(HM_EXIT_FAIL, "calloc");
	bucket_mask = slots - 1;

	hm_signals_init(0);
	hm_output_init();
	hm_metric("records_in", HM_COUNTER, "records read", &records_in);
	hm_metric("records_out", HM_COUNTER, "target records written",
	    &records_out);
	hm_metric("records_passed", HM_COUNTER,
	    "non-target records passed through", &passed);
	hm_metric("records_held", HM_GAUGE, "records in the buffer",
	    &records_held);
	hm_input_init(&in, argv + optind, argc - optind);

	for (;;) {
		/* Fill until one more subnet than the window is held (so a
		   closing subnet has a successor) or the buffer is full. */
		while (more && nbuffered <= window &&
		    bytes_held + 32 * records_held < buffer_limit) {
			const char *why;
			uint32_t ip;

			if (!hm_input_next(&in, &line, &len)) {
				more = 0;
				break;
			}
			records_in++;
			switch (hm_record_ip(line, len, &ip, &why)) {
			case HM_REC_TARGET:
				hold(ip, line, len);
				break;
			case HM_REC_OTHER:
				hm_line_write(stdout, line, len);
				passed++;
				break;
			case HM_REC_EMPTY:
				break;
			case HM_REC_BAD:
				hm_input_bad(&in, "%s", why);
				break;
			}
			hm_metrics_write(0);
		}
		if (nopen == 0)
			break;
		emit_one();
	}
	hm_stats_print("records read", records_in, hm_input_badcount(&in));
	hm_exit(hm_input_badcount(&in) > 0 ? HM_EXIT_BADINPUT : HM_EXIT_OK);
}
