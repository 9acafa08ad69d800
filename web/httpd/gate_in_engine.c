/*
 * gate_in_engine.c: the input's parts together, behind one lock: the range
 * set (read once, at open, then only read), the store (one connection) and
 * the feed's decisions.  What the routes call, and what the unit test
 * drives without HTTP.
 *
 * The lock covers deciding and saving, not formatting: a batch is a list
 * of hops and a span of positions, turned into text by the caller after
 * the commit, so eight consumers format their answers at once.
 *
 * With --shard every consumer takes from one shared cursor (named "", a
 * name no key has), so each address and each hop goes to one consumer.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/core.h"
#include "httpd/gate_in.h"

#define SHARED_CURSOR ""

int
gi_engine_open(struct gi_engine *e, const char *db, const char *ranges_dir,
    const char *queue, int shard, int reserved, char *err, size_t errlen)
{
	memset(e, 0, sizeof *e);
	e->shard = shard;
	if (queue != NULL && (e->queue = strdup(queue)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (gi_ranges_load(&e->ranges, ranges_dir, reserved, err, errlen) != 0) {
		free(e->queue);
		return -1;
	}
	if (gi_store_open(&e->store, db, err, errlen) != 0) {
		gi_ranges_free(&e->ranges);
		free(e->queue);
		return -1;
	}
	pthread_mutex_init(&e->lock, NULL);
	return 0;
}

void
gi_engine_close(struct gi_engine *e)
{
	gi_store_close(&e->store);
	gi_ranges_free(&e->ranges);
	pthread_mutex_destroy(&e->lock);
	free(e->queue);
	e->queue = NULL;
}

/* Good lines of TEXT into the pool; counts in R.  Under the lock, in a
   transaction. */
static int
add_lines(struct gi_engine *e, const char *text, size_t len,
    struct gi_hops_result *r)
{
	const char *p = text, *end = text + len, *nl, *why;
	char found_by[65];
	uint32_t ip;
	int rc;

	for (; p < end; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		r->lines++;
		rc = gi_parse_hop(p, (size_t)(nl - p), &ip, found_by, &why);
		if (rc == 0) {
			r->lines--;	/* a blank line is no line */
			continue;
		}
		if (rc < 0) {
			if (r->bad++ == 0) {
				r->bad_line = r->lines;
				snprintf(r->why, sizeof r->why, "%s", why);
			}
			continue;
		}
		if ((rc = gi_store_hop_add(&e->store, ip, found_by)) < 0)
			return -1;
		if (rc)
			r->added++;
		else
			r->known++;
	}
	return 0;
}

/* The hub's own hops: what `hopmap-hub hops` appended to its queue since
   the offset kept in the store, whole lines only.  Under the lock, in a
   transaction.  A queue that shrank was replaced: read from its start. */
static int
pull_queue(struct gi_engine *e)
{
	struct gi_hops_result r = { 0 };
	struct stat sb;
	int64_t off;
	char *buf, *last;
	size_t n;
	FILE *f;

	if (e->queue == NULL || stat(e->queue, &sb) != 0)
		return 0;
	if (gi_store_meta_get(&e->store, "queue_offset", &off) != 0)
		return -1;
	if (off > sb.st_size)
		off = 0;
	if (off == sb.st_size || (f = fopen(e->queue, "r")) == NULL)
		return 0;
	n = (size_t)(sb.st_size - off);
	if (n > 64u << 20)
		n = 64u << 20;	/* the rest at the next answer */
	if ((buf = malloc(n)) == NULL || fseeko(f, off, SEEK_SET) != 0 ||
	    (n = fread(buf, 1, n, f)) == 0 ||
	    (last = memrchr(buf, '\n', n)) == NULL) {
		free(buf);
		fclose(f);
		return 0;
	}
	fclose(f);
	n = (size_t)(last - buf) + 1;
	if (add_lines(e, buf, n, &r) != 0 ||
	    gi_store_meta_set(&e->store, "queue_offset", off + (int64_t)n)) {
		free(buf);
		return -1;
	}
	free(buf);
	e->hops_added += r.added;
	return 0;
}

static int
next_locked(struct gi_engine *e, const char *consumer, size_t n, double now,
    struct gi_batch *b)
{
	const char *cname = e->shard ? SHARED_CURSOR : consumer;
	struct gi_cursor c;
	struct gi_plan p;
	uint64_t pending;

	if (pull_queue(e) != 0 ||
	    gi_store_cursor(&e->store, cname, NULL, &c) != 0 ||
	    gi_store_pool_count(&e->store, c.hop_pos, &pending) != 0)
		return -1;
	gi_feed_plan(&c, &e->ranges, n, pending, &p);
	if (p.hops > 0) {
		if ((b->hops = calloc(p.hops, sizeof(*b->hops))) == NULL ||
		    gi_store_pool(&e->store, c.hop_pos, b->hops, p.hops,
		    &b->nhops) != 0)
			return -1;
		if (b->nhops > 0)
			c.hop_pos = b->hops[b->nhops - 1].id;
	}
	b->range_from = p.range_from;
	b->range_to = p.range_to;
	if (gi_store_cursor_save(&e->store, cname, &c) != 0 ||
	    gi_store_seen(&e->store, consumer, now, p.range_to - p.range_from,
	    b->nhops) != 0)
		return -1;
	return 0;
}

int
gi_engine_next(struct gi_engine *e, const char *consumer, size_t n,
    double now, struct gi_batch *b)
{
	int rc = -1;

	memset(b, 0, sizeof *b);
	pthread_mutex_lock(&e->lock);
	if (gi_store_begin(&e->store) == 0) {
		if ((rc = next_locked(e, consumer, n, now, b)) == 0)
			rc = gi_store_commit(&e->store);
		if (rc != 0)
			gi_store_rollback(&e->store);
	}
	if (rc == 0) {
		e->targets += gi_batch_count(b);
		e->hops_served += b->nhops;
	}
	pthread_mutex_unlock(&e->lock);
	if (rc != 0)
		gi_batch_free(b);
	return rc;
}

size_t
gi_batch_count(const struct gi_batch *b)
{
	return b->nhops + (size_t)(b->range_to - b->range_from);
}

void
gi_batch_free(struct gi_batch *b)
{
	free(b->hops);
	memset(b, 0, sizeof *b);
}

static char *
put(char *p, const char *s, size_t n)
{
	memcpy(p, s, n);
	return p + n;
}

static size_t
left(const char *text, size_t cap, const char *p)
{
	return cap - (size_t)(p - text) - 8;	/* room for the line's end */
}

/* The dotted quad at P; returns its end.  The hot path of GET /targets. */
static char *
put_ip(char *p, uint32_t ip)
{
	int i;
	unsigned o;

	for (i = 3; i >= 0; i--) {
		o = ip >> (8 * i) & 0xff;
		if (o >= 100)
			*p++ = (char)('0' + o / 100);
		if (o >= 10)
			*p++ = (char)('0' + o / 10 % 10);
		*p++ = (char)('0' + o % 10);
		if (i > 0)
			*p++ = '.';
	}
	return p;
}

char *
gi_batch_text(const struct gi_engine *e, const struct gi_batch *b, int plain,
    size_t *len)
{
	size_t i, cap = 1 + gi_batch_count(b) * 32, n;
	uint64_t pos;
	json_t *fb;
	char *text, *p;

	for (i = 0; i < b->nhops; i++)
		cap += 32 + strlen(b->hops[i].found_by) * 6;
	if ((p = text = malloc(cap)) == NULL)
		return NULL;
	for (i = 0; i < b->nhops; i++) {
		p = plain ? p : put(p, "{\"ip\":\"", 7);
		p = put_ip(p, b->hops[i].ip);
		if (!plain && b->hops[i].found_by[0] != '\0') {
			/* A name from a client: through the encoder. */
			fb = json_string(b->hops[i].found_by);
			p = put(p, "\",\"found_by\":", 13);
			n = fb ? json_dumpb(fb, p, left(text, cap, p),
			    JSON_ENCODE_ANY) : 0;
			json_decref(fb);
			if (n == 0 || n > left(text, cap, p))
				p = put(p, "null", 4);
			else
				p += n;
			p = put(p, "}", 1);
		} else if (!plain)
			p = put(p, "\"}", 2);
		*p++ = '\n';
	}
	for (pos = b->range_from; pos < b->range_to; pos++) {
		p = plain ? p : put(p, "{\"ip\":\"", 7);
		p = put_ip(p, gi_ranges_at(&e->ranges, pos));
		if (!plain)
			p = put(p, "\"}", 2);
		*p++ = '\n';
	}
	*p = '\0';
	*len = (size_t)(p - text);
	return text;
}

int
gi_engine_add_hops(struct gi_engine *e, const char *body, size_t len,
    struct gi_hops_result *r)
{
	int rc = -1;

	memset(r, 0, sizeof *r);
	pthread_mutex_lock(&e->lock);
	if (gi_store_begin(&e->store) == 0) {
		if ((rc = add_lines(e, body, len, r)) == 0)
			rc = gi_store_commit(&e->store);
		if (rc != 0)
			gi_store_rollback(&e->store);
	}
	if (rc == 0) {
		e->hops_added += r->added;
		e->hops_known += r->known;
	}
	pthread_mutex_unlock(&e->lock);
	return rc;
}
