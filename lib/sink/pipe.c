/*
 * pipe.c: sqlsink's pipeline, the chunks of lines between the reader,
 * the parser threads and the writer, and the state all three share.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sink.h"

struct sink_opt sink_opt = {
	.batch_max = 1000,
	.interval_ms = 1000,
	.max_size = 100ull << 20,
	.max_age_ms = 7ull * 86400000,
	.keep = 5,
	.socket_mode = 0600,
};
struct sink_counts sink_n;
volatile sig_atomic_t sink_strict_stopped;

static struct {
	pthread_mutex_t mu;
	pthread_cond_t work, ready, space;
	struct chunk *head, *tail;	/* waiting to be parsed */
	struct chunk *slot[MAXFLIGHT];	/* parsed, by seq % MAXFLIGHT */
	struct chunk *spent[MAXPARSERS];/* stored, for their parser */
	struct chunk *free;		/* for the reader to reuse */
	uint64_t next_seq;		/* the reader's next chunk */
	uint64_t stored_seq;		/* the writer's next chunk */
	int input_done, rotate;
} pl = { .mu = PTHREAD_MUTEX_INITIALIZER };

void
sink_pipe_init(void)
{
	pthread_condattr_t ca;

	/* Deadlines are monotonic: a clock step must not stall a batch. */
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&pl.work, &ca);
	pthread_cond_init(&pl.ready, &ca);
	pthread_cond_init(&pl.space, &ca);
	pthread_condattr_destroy(&ca);
}

/* Flags for the writer: set under the lock, then wake it. */
static void
pipeline_flag(int *flag)
{
	pthread_mutex_lock(&pl.mu);
	*flag = 1;
	pthread_cond_broadcast(&pl.ready);
	pthread_cond_broadcast(&pl.work);
	pthread_mutex_unlock(&pl.mu);
}

void
sink_pipe_rotate(void)
{
	pipeline_flag(&pl.rotate);
}

void
sink_pipe_input_done(void)
{
	pipeline_flag(&pl.input_done);
}

struct chunk *
sink_chunk_get(void)
{
	struct chunk *c;

	pthread_mutex_lock(&pl.mu);
	if ((c = pl.free) != NULL)
		pl.free = c->next;
	pthread_mutex_unlock(&pl.mu);
	if (c == NULL) {
		if ((c = malloc(sizeof(*c))) == NULL ||
		    (c->text = malloc(CHUNK_BYTES)) == NULL)
			hm_err(HM_EXIT_FAIL, "malloc");
		c->cap = CHUNK_BYTES;
	}
	c->nlines = c->used = c->nitems = c->nrefused = 0;
	c->sess = NULL;
	c->sess_end = 0;
	return c;
}

/* The reader hands a chunk on, waiting while too many are in flight. */
void
sink_chunk_submit(struct chunk *c)
{
	pthread_mutex_lock(&pl.mu);
	while (pl.next_seq - pl.stored_seq >= MAXFLIGHT)
		pthread_cond_wait(&pl.space, &pl.mu);
	c->seq = pl.next_seq++;
	c->next = NULL;
	if (pl.tail != NULL)
		pl.tail->next = c;
	else
		pl.head = c;
	pl.tail = c;
	pthread_cond_signal(&pl.work);
	pthread_mutex_unlock(&pl.mu);
}

static void
abstime(uint64_t mono_ms, struct timespec *ts)
{
	ts->tv_sec = (time_t)(mono_ms / 1000);
	ts->tv_nsec = (long)(mono_ms % 1000) * 1000000;
}

/* Free the items of chunks this parser made, and recycle the chunks. */
static void
free_spent(struct chunk *c)
{
	struct chunk *next;
	size_t i;

	for (; c != NULL; c = next) {
		next = c->next;
		for (i = 0; i < c->nitems; i++)
			sink_item_free(c->items[i]);
		pthread_mutex_lock(&pl.mu);
		c->next = pl.free;
		pl.free = c;
		pthread_mutex_unlock(&pl.mu);
	}
}

static void
bad_line(const char *name, unsigned long lineno, const char *why)
{
	flockfile(stderr);
	hm_linewarn(name, lineno, "%s", why);
	funlockfile(stderr);
	hm_stats_reason(why);
	__atomic_fetch_add(&sink_n.bad, 1, __ATOMIC_RELAXED);
	if (hm_opt.strict) {
		sink_strict_stopped = 1;
		hm_stop = 1;
	}
}

/*
 * A bad line of a session is refused: the writer tells the sender which,
 * so the reason is kept, in plain printable ASCII (it may quote the line).
 */
static void
refuse_line(struct chunk *c, size_t i, const char *why)
{
	struct refusal *r;
	size_t k;

	bad_line(c->name, c->lineno[i], why);
	if (c->sess == NULL)
		return;
	if (c->nrefused < SESSION_REASONS) {
		r = &c->refused[c->nrefused];
		r->line = c->lineno[i];
		for (k = 0; why[k] != '\0' && k < sizeof(r->why) - 1; k++)
			r->why[k] = why[k] >= 0x20 && why[k] < 0x7f ? why[k] :
			    '?';
		r->why[k] = '\0';
	}
	c->nrefused++;
	__atomic_fetch_add(&sink_n.refused, 1, __ATOMIC_RELAXED);
}

/*
 * In a parser thread: the chunk's lines to items.  With --strict there is
 * one parser, so chunks come in order and the first bad line ends all.
 * A session's records are bound to its node here.
 */
static void
parse_chunk(struct chunk *c)
{
	struct item *it;
	const char *why;
	size_t i;

	for (i = 0; i < c->nlines && !sink_strict_stopped; i++) {
		if (c->note[i]) {
			c->text[c->off[i] + c->len[i]] = '\0';
			refuse_line(c, i, c->text + c->off[i]);
			continue;
		}
		it = sink_parse_line(c->text + c->off[i], c->len[i],
		    c->sess != NULL, &why);
		if (it != NULL && c->sess != NULL &&
		    sink_session_bind(it, c->sess, &why) != 0) {
			sink_item_free(it);
			it = NULL;
		}
		if (it != NULL)
			c->items[c->nitems++] = it;
		else if (why != NULL)
			refuse_line(c, i, why);
	}
}

void *
sink_parser_main(void *arg)
{
	int me = (int)(intptr_t)arg;
	struct chunk *c, *spent;
	struct sink_pool mine;

	sink_pool_use(&mine);
	pthread_setname_np(pthread_self(), "sqlsink-parse");
	for (;;) {
		pthread_mutex_lock(&pl.mu);
		while (pl.head == NULL && !pl.input_done)
			pthread_cond_wait(&pl.work, &pl.mu);
		spent = pl.spent[me];
		pl.spent[me] = NULL;
		if ((c = pl.head) != NULL && (pl.head = c->next) == NULL)
			pl.tail = NULL;
		pthread_mutex_unlock(&pl.mu);
		free_spent(spent);
		if (c == NULL && spent == NULL)
			break;		/* input done, nothing queued */
		if (c == NULL)
			continue;
		c->owner = me;
		parse_chunk(c);
		pthread_mutex_lock(&pl.mu);
		pl.slot[c->seq % MAXFLIGHT] = c;
		pthread_cond_signal(&pl.ready);
		pthread_mutex_unlock(&pl.mu);
	}
	sink_pool_drop();
	return NULL;
}

/*
 * The writer's next chunk, in order; NULL when the deadline (monotonic ms,
 * 0 for none) passed, a rotation is asked for (*rotate), or everything is
 * stored (*done).
 */
struct chunk *
sink_chunk_next(uint64_t deadline, int *done, int *rotate)
{
	struct timespec ts;
	struct chunk *c;

	/* An idle writer still wakes now and then, for the metrics file. */
	if (deadline == 0)
		deadline = hm_mono_ms() + 5000;
	abstime(deadline, &ts);
	pthread_mutex_lock(&pl.mu);
	while ((c = pl.slot[pl.stored_seq % MAXFLIGHT]) == NULL &&
	    !(pl.input_done && pl.stored_seq == pl.next_seq) && !pl.rotate)
		if (pthread_cond_timedwait(&pl.ready, &pl.mu, &ts) ==
		    ETIMEDOUT)
			break;
	*done = c == NULL && pl.input_done && pl.stored_seq == pl.next_seq;
	*rotate = pl.rotate;
	pl.rotate = 0;
	pthread_mutex_unlock(&pl.mu);
	return c;
}

/* The writer is done with a chunk: back to its parser, room for more. */
void
sink_chunk_stored(struct chunk *c)
{
	pthread_mutex_lock(&pl.mu);
	pl.slot[c->seq % MAXFLIGHT] = NULL;
	pl.stored_seq++;
	/* Its parser frees the items when it next wakes for work. */
	c->next = pl.spent[c->owner];
	pl.spent[c->owner] = c;
	pthread_cond_signal(&pl.space);
	pthread_mutex_unlock(&pl.mu);
}

/* At the end, with every thread gone: what the parsers left. */
void
sink_pipe_free(void)
{
	struct chunk *c;
	int i;

	for (i = 0; i < MAXPARSERS; i++) {
		free_spent(pl.spent[i]);
		pl.spent[i] = NULL;
	}
	while ((c = pl.free) != NULL) {
		pl.free = c->next;
		free(c->text);
		free(c);
	}
}
