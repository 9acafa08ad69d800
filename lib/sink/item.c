/*
 * item.c: sqlsink's parser side: a line to an item, parsed once with
 * jansson into the item's own arena, classified, its columns taken out.
 */
#include <stdlib.h>
#include <string.h>

#include "sink.h"

static __thread struct sink_pool *pool;

void
sink_pool_use(struct sink_pool *p)
{
	p->n = 0;
	pool = p;
}

void
sink_pool_drop(void)
{
	while (pool->n > 0)
		free(pool->block[--pool->n]);
	pool = NULL;
}

/* A new item for a line; jansson allocates from it until hm_jarena_end. */
static struct item *
item_new(const char *text, size_t len)
{
	/* Room for the parse of a typical record; more falls back to the
	   heap.  The arena starts 16-aligned after the item. */
	size_t off = (sizeof(struct item) + 15) & ~(size_t)15;
	size_t acap = 8 * len + 1024;
	struct item *it;

	if (off + acap <= POOL_BLOCK) {
		acap = POOL_BLOCK - off;
		it = pool != NULL && pool->n > 0 ? pool->block[--pool->n] :
		    malloc(POOL_BLOCK);
	} else {
		it = malloc(off + acap);
	}
	if (it == NULL)
		hm_err(HM_EXIT_FAIL, "malloc");
	memset(it, 0, sizeof(*it));
	it->text = text;
	it->len = len;
	hm_jarena_begin(&it->arena, (char *)it + off, acap);
	return it;
}

void
sink_item_free(struct item *it)
{
	free(it->heap);
	/* All in the arena: walking the tree to free nothing is skipped. */
	if (it->arena.spilled)
		json_decref(it->obj);
	if (it->arena.base + it->arena.cap == (char *)it + POOL_BLOCK &&
	    pool != NULL && pool->n < POOL_MAX)
		pool->block[pool->n++] = it;
	else
		free(it);
}

/*
 * Several members of an object in one walk over it: cheaper than a hash
 * lookup each, for the small objects records are.  Out of order or
 * absent keys are fine; out[i] is NULL for an absent one.
 */
void
sink_members(const json_t *obj, const char *const names[], size_t n,
    json_t *out[])
{
	const char *key;
	json_t *v;
	size_t i;

	memset(out, 0, n * sizeof(*out));
	json_object_foreach((json_t *)obj, key, v)
		for (i = 0; i < n; i++)
			if (key[0] == names[i][0] &&
			    strcmp(key, names[i]) == 0) {
				if (out[i] == NULL)
					out[i] = v;
				break;
			}
}

static void
col_set(struct col *c, const json_t *v)
{
	c->type = v != NULL ? (int)json_typeof(v) : JSON_NULL;
	switch (c->type) {
	case JSON_STRING:
		c->v.s = json_string_value(v);
		c->len = (int)json_string_length(v);
		break;
	case JSON_INTEGER:
		c->v.i = json_integer_value(v);
		break;
	case JSON_REAL:
		c->v.d = json_real_value(v);
		break;
	case JSON_TRUE:
	case JSON_FALSE:
		c->v.i = c->type == JSON_TRUE;
		c->type = JSON_INTEGER;
		break;
	default:
		c->v.j = v;
	}
}

/* Fill in kind and the borrowed fields of an item whose obj is set. */
static void
classify(struct item *it)
{
	static const char *const names[] = { "id", "ip", "node", "src", "via",
	    "ttl", "ping", "trace" };
	static const char *const ping_names[] = { "method", "ok", "sent",
	    "recv", "rtt_ms", "reply_ttl", "ts" };
	json_t *m[8], *pm[7];
	uint32_t addr;
	int i;

	it->kind = K_RAW;
	if (!json_is_object(it->obj)) {
		it->reason = "not an object";
		for (i = 0; i < NCOL; i++)
			col_set(&it->col[i], NULL);
		return;
	}
	sink_members(it->obj, names, 8, m);
	for (i = C_RID; i <= C_TTL; i++)
		col_set(&it->col[i], m[i]);
	for (i = C_PING; i < NCOL; i++)
		col_set(&it->col[i], NULL);
	if (m[0] != NULL && !json_is_string(m[0]) && !json_is_integer(m[0])) {
		it->reason = "\"id\" is neither a string nor an integer";
		col_set(&it->col[C_RID], NULL);
		return;
	}
	if (m[1] == NULL) {
		it->reason = "no \"ip\"";
		return;
	}
	if (!json_is_string(m[1]) || hm_ip_parse(json_string_value(m[1]),
	    json_string_length(m[1]), &addr) != 0) {
		it->reason = "\"ip\" is not an IPv4 address";
		return;
	}
	if ((m[6] != NULL && !json_is_object(m[6])) ||
	    (m[7] != NULL && !json_is_object(m[7]))) {
		it->reason = "\"ping\" or \"trace\" is not an object";
		return;
	}
	it->ping = m[6];
	it->trace = m[7];
	it->kind = it->ping != NULL || it->trace != NULL ? K_PROBED : K_TARGET;
	if (it->ping != NULL) {
		sink_members(it->ping, ping_names, 7, pm);
		for (i = 0; i < 7; i++)
			col_set(&it->col[C_PING + i], pm[i]);
	}
}

static int
is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/*
 * Parse one line.  Returns the item, or NULL: blank (*why NULL) or bad
 * (*why says why).  A bare address is a target, as for every filter.
 * strict_keys refuses an object with a key twice (a session's records: the
 * row and the text must not say different things).
 */
struct item *
sink_parse_line(const char *line, size_t len, int strict_keys,
    const char **why)
{
	static __thread char msg[200];
	json_error_t jerr;
	struct item *it;
	size_t b = 0, e = len;
	uint32_t addr;
	json_t *obj;

	*why = NULL;
	while (b < e && is_blank(line[b]))
		b++;
	while (e > b && is_blank(line[e - 1]))
		e--;
	if (b == e)
		return NULL;
	if (line[b] != '{' && hm_ip_parse(line + b, e - b, &addr) == 0) {
		char ipbuf[16];

		hm_ip_format(addr, ipbuf);
		it = item_new(NULL, 0);
		it->len = (size_t)snprintf(it->own, sizeof(it->own),
		    "{\"ip\":\"%s\"}", ipbuf);
		it->text = it->own;
		it->obj = json_pack("{s:s}", "ip", ipbuf);
		hm_jarena_end();
		classify(it);
		return it;
	}
	it = item_new(line + b, e - b);
	obj = hm_json_loadb(line + b, e - b, JSON_DECODE_ANY |
	    (strict_keys ? JSON_REJECT_DUPLICATES : 0), &jerr);
	hm_jarena_end();
	if (obj == NULL) {
		/* jansson refuses a NUL byte too; the reason says it plainly.
		   Looked for only now: good lines are the common case. */
		snprintf(msg, sizeof(msg), "bad JSON at column %d: %s",
		    jerr.column, jerr.text);
		*why = memchr(line, '\0', len) != NULL ? "NUL byte in line" :
		    msg;
		sink_item_free(it);
		return NULL;
	}
	it->obj = obj;
	classify(it);
	return it;
}
