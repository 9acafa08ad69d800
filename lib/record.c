/*
 * record.c: one NDJSON line as a record, through jansson.
 *
 * The contract (hopmap(5)): a target is an object with "ip", a dotted-quad
 * string; a bare address on a line is a target too.  Fields we do not own
 * pass through untouched, so records are parsed, enriched and re-encoded,
 * never rebuilt from a few known fields.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hopmap.h"

static int
is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* Trim blanks at both ends. */
static void
trim(const char **s, size_t *len)
{
	while (*len > 0 && is_blank(**s)) {
		(*s)++;
		(*len)--;
	}
	while (*len > 0 && is_blank((*s)[*len - 1]))
		(*len)--;
}

/* The "ip" member of an object, checked. */
static enum hm_rec_kind
object_ip(json_t *obj, uint32_t *ip, const char **why)
{
	json_t *v = json_object_get(obj, "ip");
	const char *s;

	if (v == NULL)
		return HM_REC_OTHER;
	if (!json_is_string(v)) {
		*why = "\"ip\" is not a string";
		return HM_REC_BAD;
	}
	s = json_string_value(v);
	if (hm_ip_parse(s, json_string_length(v), ip) == 0)
		return HM_REC_TARGET;
	*why = hm_looks_ipv6(s, json_string_length(v)) ?
	    "\"ip\" is IPv6 (IPv4 only)" : "\"ip\" is not an IPv4 address";
	return HM_REC_BAD;
}

enum hm_rec_kind
hm_record_parse(const char *line, size_t len, struct hm_record *rec,
    const char **why)
{
	json_error_t jerr;
	enum hm_rec_kind kind;

	memset(rec, 0, sizeof(*rec));
	trim(&line, &len);
	if (len == 0)
		return HM_REC_EMPTY;
	if (memchr(line, '\0', len) != NULL) {
		*why = "NUL byte in line";
		return HM_REC_BAD;
	}
	if (line[0] != '{') {
		char text[16];

		if (hm_ip_parse(line, len, &rec->ip) != 0) {
			*why = hm_looks_ipv6(line, len) ?
			    "IPv6 address (IPv4 only)" :
			    "neither a JSON object nor an IPv4 address";
			return HM_REC_BAD;
		}
		hm_ip_format(rec->ip, text);
		rec->obj = json_pack("{s:s}", "ip", text);
		rec->bare = 1;
		return HM_REC_TARGET;
	}
	rec->obj = json_loadb(line, len, 0, &jerr);
	if (rec->obj == NULL) {
		static char msg[200];

		snprintf(msg, sizeof(msg), "bad JSON at column %d: %s",
		    jerr.column, jerr.text);
		*why = msg;
		return HM_REC_BAD;
	}
	kind = object_ip(rec->obj, &rec->ip, why);
	if (kind == HM_REC_BAD)
		hm_record_free(rec);
	return kind;
}

void
hm_record_free(struct hm_record *rec)
{
	json_decref(rec->obj);
	rec->obj = NULL;
}

enum hm_rec_kind
hm_record_ip(const char *line, size_t len, uint32_t *ip, const char **why)
{
	/* The object only lives for this call, so jansson builds it in an
	   arena: no malloc or free per member (half the time otherwise). */
	static __thread max_align_t space[16384 / sizeof(max_align_t)];
	struct hm_jarena arena;
	struct hm_record rec;
	enum hm_rec_kind kind;

	hm_jarena_begin(&arena, space, sizeof(space));
	kind = hm_record_parse(line, len, &rec, why);
	*ip = rec.ip;
	if (arena.spilled)
		hm_record_free(&rec);
	hm_jarena_end();
	return kind;
}

int
hm_json_write(FILE *fp, const json_t *obj)
{
	char small[4096];
	size_t n = json_dumpb(obj, small, sizeof(small),
	    JSON_COMPACT | JSON_PRESERVE_ORDER);

	if (n == 0)
		return -1;
	if (n <= sizeof(small)) {
		fwrite(small, 1, n, fp);
	} else {
		char *big = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);

		if (big == NULL)
			return -1;
		fputs(big, fp);
		free(big);
	}
	return putc('\n', fp) == EOF ? -1 : 0;
}

int
hm_line_write(FILE *fp, const char *line, size_t len)
{
	fwrite(line, 1, len, fp);
	return putc('\n', fp) == EOF ? -1 : 0;
}

void
hm_record_set_node(json_t *obj, const char *name)
{
	static char host[256];

	if (json_object_get(obj, "node") != NULL)
		return;
	if (name == NULL) {
		if (host[0] == '\0' && gethostname(host, sizeof(host) - 1) != 0)
			strcpy(host, "unknown");
		name = host;
	}
	json_object_set_new(obj, "node", json_string(name));
}

void
hm_timestamp(char *buf, size_t size)
{
	struct timespec ts;
	struct tm tm;
	char sec[24];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(sec, sizeof(sec), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, size, "%s.%03ldZ", sec, ts.tv_nsec / 1000000);
}
