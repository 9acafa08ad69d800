/*
 * gate_out_body.c: a POST /results body to the lines of a sink session.
 *
 * NDJSON goes as it came, line by line (blank lines dropped, a last line
 * without a newline given one).  A JSON array is cut into its elements
 * by a scanner that knows only strings and brackets: each element goes
 * as its own text, never re-encoded (a float keeps its digits), with the
 * newlines of pretty-printed JSON made spaces, and the sink judges each
 * one; only a body whose brackets do not make one array is refused whole.
 * Either way a line of the session is one record, whole: the sink sees
 * nothing torn.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "httpd/gate_out.h"

enum go_form
go_form(const char *type)
{
	static const char *const nd[] = { "application/x-ndjson",
	    "application/ndjson", "application/jsonl",
	    "application/x-jsonlines", "text/plain" };
	size_t i, n;

	if (type == NULL || *type == '\0')
		return GO_NDJSON;
	n = strcspn(type, "; \t");
	for (i = 0; i < sizeof nd / sizeof nd[0]; i++)
		if (strlen(nd[i]) == n && strncasecmp(type, nd[i], n) == 0)
			return GO_NDJSON;
	if (n == 16 && strncasecmp(type, "application/json", n) == 0)
		return GO_JSON;
	return GO_BADTYPE;
}

static int
blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Room for LEN more bytes and one more line. */
static int
grow(struct go_lines *o, size_t *cap, size_t len, size_t *ncap)
{
	if (o->len + len + 1 > *cap) {
		size_t c = (*cap + len + 1) * 2;
		char *t = realloc(o->text, c);

		if (t == NULL)
			return -1;
		o->text = t;
		*cap = c;
	}
	if (o->n == *ncap) {
		size_t c = *ncap ? *ncap * 2 : 64;
		unsigned long *l = realloc(o->lineno, c * sizeof *l);

		if (l == NULL)
			return -1;
		o->lineno = l;
		*ncap = c;
	}
	return 0;
}

/* One line (no newline in it except where made a space) into O. */
static int
add(struct go_lines *o, size_t *cap, size_t *ncap, const char *s,
    size_t len, unsigned long lineno, int spaces)
{
	size_t i;

	if (grow(o, cap, len, ncap) != 0)
		return -1;
	memcpy(o->text + o->len, s, len);
	if (spaces)
		for (i = 0; i < len; i++)
			if (o->text[o->len + i] == '\n' ||
			    o->text[o->len + i] == '\r')
				o->text[o->len + i] = ' ';
	o->len += len;
	o->text[o->len++] = '\n';
	o->lineno[o->n++] = lineno;
	return 0;
}

static int
split_ndjson(const char *b, size_t len, struct go_lines *o, size_t *cap,
    size_t *ncap)
{
	unsigned long lineno = 0;
	size_t at = 0, e, k;

	while (at < len) {
		const char *nl = memchr(b + at, '\n', len - at);

		e = nl != NULL ? (size_t)(nl - b) : len;
		lineno++;
		for (k = at; k < e && blank(b[k]); k++)
			;
		if (k < e && add(o, cap, ncap, b + at, e - at, lineno, 0) != 0)
			return -1;
		at = e + 1;
	}
	return 0;
}

/* The elements of one JSON array; -1 with WHY when the brackets do not
   make one.  Strings are skipped whole, so a bracket or comma in one
   counts for nothing. */
static int
split_array(const char *b, size_t len, struct go_lines *o, size_t *cap,
    size_t *ncap, char *why, size_t whycap)
{
	size_t i = 0, start;
	unsigned long elem = 0;
	int depth = 0, instr = 0, esc = 0;
	char c;

	while (i < len && blank(b[i]))
		i++;
	if (i < len && b[i] == '{') {	/* one record, not in an array */
		size_t e = len;

		while (e > i && blank(b[e - 1]))
			e--;
		return add(o, cap, ncap, b + i, e - i, 1, 1);
	}
	if (i == len || b[i] != '[') {
		snprintf(why, whycap, "a JSON body is an array of records "
		    "(or one record)");
		return -1;
	}
	start = ++i;
	for (; i < len; i++) {
		c = b[i];
		if (instr) {
			if (esc)
				esc = 0;
			else if (c == '\\')
				esc = 1;
			else if (c == '"')
				instr = 0;
			continue;
		}
		if (c == '"')
			instr = 1;
		else if (c == '[' || c == '{')
			depth++;
		else if ((c == ']' || c == '}') && depth > 0)
			depth--;
		else if (depth == 0 && (c == ',' || c == ']' || c == '}')) {
			size_t s = start, e = i;

			if (c == '}')
				break;
			while (s < e && blank(b[s]))
				s++;
			while (e > s && blank(b[e - 1]))
				e--;
			if (s == e && (c == ',' || elem > 0)) {
				snprintf(why, whycap, "array element %lu is "
				    "empty", elem + 1);
				return -1;
			}
			if (s < e && add(o, cap, ncap, b + s, e - s, ++elem,
			    1) != 0)
				return -1;
			start = i + 1;
			if (c == ']')
				break;
		}
	}
	if (i >= len || b[i] != ']') {
		snprintf(why, whycap, "the array %s", i >= len ?
		    "is not closed" : "has an unmatched '}'");
		return -1;
	}
	for (i++; i < len && blank(b[i]); i++)
		;
	if (i < len) {
		snprintf(why, whycap, "text after the array");
		return -1;
	}
	return 0;
}

int
go_split(enum go_form form, const char *body, size_t len,
    struct go_lines *out, char *why, size_t whycap)
{
	size_t cap = 0, ncap = 0;
	int r;

	memset(out, 0, sizeof *out);
	why[0] = '\0';
	if (form == GO_JSON)
		r = split_array(body, len, out, &cap, &ncap, why, whycap);
	else
		r = split_ndjson(body, len, out, &cap, &ncap);
	if (r != 0 && why[0] == '\0')
		snprintf(why, whycap, "out of memory");
	if (r != 0)
		go_lines_free(out);
	return r;
}

void
go_lines_free(struct go_lines *o)
{
	free(o->text);
	free(o->lineno);
	memset(o, 0, sizeof *o);
}
