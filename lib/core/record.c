/*
 * record.c: one NDJSON line as a record, through jansson.
 *
 * The contract (hopmap(5)): a target is an object with "ip", a dotted-quad
 * string; a bare address on a line is a target too.  Fields we do not own
 * pass through untouched: records are parsed to be read, but written from
 * their own text (jsontext.c), never re-encoded from the parsed tree.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core.h"

static int
is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' ||
	    c == '\f';
}

/* Trim blanks at both ends (a newline too: not in a line from hm_lines,
   but a record's text, kept by hm_record_keep, is what lies between). */
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
	rec->text = line;
	rec->len = len;
	rec->obj = hm_json_loadb(line, len, 0, &jerr);
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

/* The arena of hm_record_scan: the object only lives until
   hm_record_done, so jansson builds it without a malloc per member. */
static __thread max_align_t scan_space[16384 / sizeof(max_align_t)];
static __thread struct hm_jarena scan_arena;

enum hm_rec_kind
hm_record_scan(const char *line, size_t len, struct hm_record *rec,
    const char **why)
{
	enum hm_rec_kind kind;

	hm_jarena_begin(&scan_arena, scan_space, sizeof(scan_space));
	kind = hm_record_parse(line, len, rec, why);
	hm_jarena_end();
	return kind;
}

void
hm_record_done(struct hm_record *rec)
{
	/* Blocks in the arena are dropped with it; spilled ones are not. */
	if (scan_arena.spilled)
		hm_record_free(rec);
	rec->obj = NULL;
}

char *
hm_record_keep(const struct hm_record *rec, size_t *len)
{
	char *copy;

	if (rec->bare) {
		char ip[16];

		hm_ip_format(rec->ip, ip);
		if ((copy = malloc(32)) == NULL)
			return NULL;
		*len = (size_t)snprintf(copy, 32, "{\"ip\":\"%s\"}", ip);
		return copy;
	}
	if ((copy = malloc(rec->len + 1)) == NULL)
		return NULL;
	memcpy(copy, rec->text, rec->len);
	copy[rec->len] = '\0';
	*len = rec->len;
	return copy;
}

enum hm_rec_kind
hm_record_ip(const char *line, size_t len, uint32_t *ip, const char **why)
{
	struct hm_record rec;
	enum hm_rec_kind kind;

	kind = hm_record_scan(line, len, &rec, why);
	*ip = rec.ip;
	hm_record_done(&rec);
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
		char *big = hm_json_text(obj, JSON_COMPACT |
		    JSON_PRESERVE_ORDER, NULL);

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

const char *
hm_node_json(const char *name)
{
	static char *text;
	char host[256];
	json_t *j;

	if (text != NULL)
		return text;
	if (name == NULL) {
		if (gethostname(host, sizeof(host) - 1) != 0)
			strcpy(host, "unknown");
		host[sizeof(host) - 1] = '\0';
		name = host;
	}
	if ((j = json_string(name)) == NULL)
		hm_errx(HM_EXIT_USAGE, "node name is not UTF-8: %s", name);
	text = hm_json_text(j, JSON_ENCODE_ANY, NULL);
	json_decref(j);
	if (text == NULL)
		hm_errx(HM_EXIT_FAIL, "cannot encode the node name");
	return text;
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
