/*
 * session.c: a connection's session, the sink's side of a delivery.
 *
 * A connection to the socket whose first line is a session line,
 *
 *   {"hopmap-session":1,"node":"w1","segment":"x.seg","peer":"192.0.2.7"}
 *
 * delivers records for that node, and only for it: a record without
 * "node" gets the session's, a record with another "node" is refused, and
 * so is a delivery marker ("src":"hopmap-ack": only the sink writes those)
 * and anything that is not an object.  When the writer half-closes, the
 * sink answers on the same connection, once the commit that holds the
 * last line returned, with one line:
 *
 *   {"hopmap-session":1,"lines":3,"stored":2,"duplicate":0,"refused":1,
 *    "complete":true,"refusals":[{"line":2,"reason":"bad JSON ..."}]}
 *
 * and writes the delivery row with what was stored, in the same commit.
 * The node name is the trust boundary: whoever connects to the socket
 * (the hub's recv, which takes it from the TLS certificate) vouches for it.
 */
#include <sys/socket.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sink.h"

/* Names that go into rows, logs and answers: plain, short, no escapes. */
static int
plain_name(const char *s, size_t max, const char *extra)
{
	size_t i, n = strlen(s);

	if (n == 0 || n > max)
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' &&
		    s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
		    strchr(extra, s[i]) != NULL))
			return 0;
	return 1;
}

/* An optional string member into buf; 0 when absent, -1 when bad. */
static int
member(json_t *obj, const char *key, char *buf, size_t size,
    const char *extra)
{
	json_t *v = json_object_get(obj, key);

	buf[0] = '\0';
	if (v == NULL)
		return 0;
	if (!json_is_string(v) || !plain_name(json_string_value(v), size - 1,
	    extra))
		return -1;
	snprintf(buf, size, "%s", json_string_value(v));
	return 1;
}

struct session *
sink_session_open(const char *line, size_t len, const char **why)
{
	struct session *s;
	json_t *obj, *v;

	*why = NULL;
	/* Cheap before the parse: most connections are plain ones. */
	if (len < 20 || memmem(line, len, "\"hopmap-session\"", 16) == NULL ||
	    (obj = json_loadb(line, len, JSON_REJECT_DUPLICATES, NULL)) ==
	    NULL)
		return NULL;
	if (!json_is_object(obj) ||
	    (v = json_object_get(obj, "hopmap-session")) == NULL) {
		json_decref(obj);
		return NULL;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL)
		hm_err(HM_EXIT_FAIL, "calloc");
	s->fd = -1;
	if (!json_is_integer(v) || json_integer_value(v) != 1)
		*why = "session version is not 1";
	else if (member(obj, "node", s->node, sizeof(s->node), "._-") != 1)
		*why = "session node is missing or not a plain name "
		    "(letters, digits, '.', '_', '-'; at most 64)";
	else if (member(obj, "segment", s->segment, sizeof(s->segment),
	    "._:+-") < 0)
		*why = "session segment is not a plain name";
	else if (member(obj, "peer", s->peer, sizeof(s->peer), ".:[]") < 0)
		*why = "session peer is not an address";
	json_decref(obj);
	if (*why != NULL) {
		free(s);
		return NULL;
	}
	return s;
}

/* One line, sent without waiting: the peer reads, and a full buffer
   means a peer that does not, which loses its answer. */
static void
send_line(int fd, const char *text, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, text, len, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		text += n;
		len -= (size_t)n;
	}
}

static void
send_json(int fd, json_t *answer)
{
	char buf[4096];
	size_t n;

	n = json_dumpb(answer, buf, sizeof(buf) - 1, JSON_COMPACT |
	    JSON_PRESERVE_ORDER);
	json_decref(answer);
	if (n == 0 || n >= sizeof(buf) - 1)
		return;
	buf[n++] = '\n';
	send_line(fd, buf, n);
}

void
sink_session_refuse(int fd, const char *why)
{
	send_json(fd, json_pack("{s:i,s:s}", "hopmap-session", 1, "error",
	    why));
}

int
sink_session_bind(struct item *it, const struct session *s, const char **why)
{
	const json_t *node;
	size_t nl, rest, skip;
	char *t;

	if (!json_is_object(it->obj)) {
		*why = "not an object: a delivery's records are objects";
		return -1;
	}
	if (it->col[C_SRC].type == JSON_STRING && it->col[C_SRC].len == 10 &&
	    memcmp(it->col[C_SRC].v.s, "hopmap-ack", 10) == 0) {
		*why = "a delivery marker (\"src\":\"hopmap-ack\"): only the sink"
		    " writes those";
		return -1;
	}
	if ((node = json_object_get(it->obj, "node")) != NULL) {
		if (!json_is_string(node) ||
		    strcmp(json_string_value(node), s->node) != 0) {
			*why = "\"node\" is not the session's node";
			return -1;
		}
		return 0;
	}
	/* No "node": the session's goes first in the text as in the row.
	   The text starts with '{' (an object, trimmed of blanks). */
	nl = strlen(s->node);
	skip = 1;
	while (skip < it->len && (it->text[skip] == ' ' ||
	    it->text[skip] == '\t'))
		skip++;
	rest = it->len - skip;
	if ((t = malloc(nl + rest + 12)) == NULL)
		hm_err(HM_EXIT_FAIL, "malloc");
	it->len = (size_t)sprintf(t, "{\"node\":\"%s\"%s", s->node,
	    it->text[skip] == '}' ? "" : ",");
	memcpy(t + it->len, it->text + skip, rest);
	it->len += rest;
	it->heap = t;
	it->text = t;
	it->col[C_NODE].type = JSON_STRING;
	it->col[C_NODE].v.s = t + 9;
	it->col[C_NODE].len = (int)nl;
	return 0;
}

void
sink_session_note(struct session *s, const struct refusal *r, size_t n,
    uint64_t total)
{
	size_t i;

	for (i = 0; i < n && s->nreasons < SESSION_REASONS; i++)
		s->reason[s->nreasons++] = r[i];
	s->refused += total;
}

void
sink_session_answer(struct session *s)
{
	json_t *a, *list;
	unsigned i;

	list = json_array();
	for (i = 0; i < s->nreasons; i++)
		json_array_append_new(list, json_pack("{s:I,s:s}", "line",
		    (json_int_t)s->reason[i].line, "reason",
		    s->reason[i].why));
	a = json_pack("{s:i,s:I,s:I,s:I,s:I,s:b,s:o}", "hopmap-session", 1,
	    "lines", (json_int_t)s->lines, "stored", (json_int_t)s->stored,
	    "duplicate", (json_int_t)s->dups, "refused",
	    (json_int_t)s->refused, "complete", s->complete, "refusals",
	    list);
	if (s->fd >= 0) {
		send_json(s->fd, a);
		close(s->fd);
	} else {
		json_decref(a);
	}
	sink_n.sessions++;
	free(s);
}
