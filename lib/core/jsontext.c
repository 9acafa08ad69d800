/*
 * jsontext.c: a record's JSON text, where jansson's tree would change it.
 *
 * hopmap(5) promises that members a program does not own pass through
 * unchanged.  A parsed and re-encoded record keeps their values but not
 * their text (0.073 comes back as 0.072999999999999995, 1e3 as 1000.0,
 * "\u00e9" as "é"), and jansson refuses numbers it cannot hold (an integer
 * above 2^63) outright.  So the programs read a record through jansson but
 * write it from its own text: a stage's members are cut out of the text
 * and its new ones appended before the closing brace (hm_json_splice).
 *
 * The scanner below walks text that jansson has accepted (directly or via
 * hm_json_loadb), so it only has to find where members begin and end; it
 * still checks every bound, and gives up (-1) on anything it does not
 * expect rather than read past the text.
 *
 * Text that jansson makes (json_dumps) comes from jansson's allocator,
 * which jarena.c replaces: it must never reach free().  hm_json_text is
 * the one way the library turns a value into text on the heap; its result
 * is plain malloc'd memory.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

#define BAD SIZE_MAX

char *
hm_json_text(const json_t *v, size_t flags, size_t *len)
{
	size_t n = json_dumpb(v, NULL, 0, flags);
	char *text;

	if (n == 0 || (text = malloc(n + 1)) == NULL)
		return NULL;
	if (json_dumpb(v, text, n, flags) != n) {
		free(text);
		return NULL;
	}
	text[n] = '\0';
	if (len != NULL)
		*len = n;
	return text;
}

static size_t
skip_ws(const char *s, size_t i, size_t n)
{
	while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' ||
	    s[i] == '\r'))
		i++;
	return i;
}

/* s[i] is '"': the index just after the closing quote, or BAD. */
static size_t
string_end(const char *s, size_t i, size_t n)
{
	for (i++; i < n; i++) {
		if (s[i] == '\\')
			i++;
		else if (s[i] == '"')
			return i + 1;
	}
	return BAD;
}

static int
scalar_char(char c)
{
	return c != ',' && c != '}' && c != ']' && c != ' ' && c != '\t' &&
	    c != '\n' && c != '\r';
}

/* The index just after the value that starts at s[i], or BAD.  Nesting is
   counted, not recursed into, so depth costs no stack. */
static size_t
value_end(const char *s, size_t i, size_t n)
{
	size_t depth = 0;

	do {
		if (i >= n)
			return BAD;
		switch (s[i]) {
		case '"':
			if ((i = string_end(s, i, n)) == BAD)
				return BAD;
			break;
		case '{':
		case '[':
			depth++;
			i++;
			break;
		case '}':
		case ']':
			if (depth == 0)
				return BAD;
			depth--;
			i++;
			break;
		default:
			if (depth > 0) {
				i++;
				break;
			}
			if (!scalar_char(s[i]))
				return BAD;
			while (i < n && scalar_char(s[i]))
				i++;
		}
	} while (depth > 0);
	return i;
}

static int
hexval(const char *s, size_t i, size_t e, unsigned int *v)
{
	size_t k;

	*v = 0;
	if (i + 4 > e)
		return -1;
	for (k = i; k < i + 4; k++) {
		char c = s[k];

		*v <<= 4;
		if (c >= '0' && c <= '9')
			*v |= (unsigned int)(c - '0');
		else if (c >= 'a' && c <= 'f')
			*v |= (unsigned int)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			*v |= (unsigned int)(c - 'A' + 10);
		else
			return -1;
	}
	return 0;
}

/* One character of the JSON string body s[*i..e) as UTF-8 into out;
   returns its length, or 0 when the text is not what jansson accepts. */
static size_t
unescape_one(const char *s, size_t *i, size_t e, char out[4])
{
	unsigned int u, lo;

	if (s[*i] != '\\') {
		out[0] = s[(*i)++];
		return 1;
	}
	if (*i + 1 >= e)
		return 0;
	switch (s[*i + 1]) {
	case '"': case '\\': case '/':
		out[0] = s[*i + 1];
		break;
	case 'b': out[0] = '\b'; break;
	case 'f': out[0] = '\f'; break;
	case 'n': out[0] = '\n'; break;
	case 'r': out[0] = '\r'; break;
	case 't': out[0] = '\t'; break;
	case 'u':
		if (hexval(s, *i + 2, e, &u) != 0)
			return 0;
		*i += 6;
		if (u >= 0xd800 && u < 0xdc00) {
			if (*i + 6 > e || s[*i] != '\\' || s[*i + 1] != 'u' ||
			    hexval(s, *i + 2, e, &lo) != 0 || lo < 0xdc00 ||
			    lo > 0xdfff)
				return 0;
			*i += 6;
			u = 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00);
		}
		if (u < 0x80) {
			out[0] = (char)u;
			return 1;
		} else if (u < 0x800) {
			out[0] = (char)(0xc0 | u >> 6);
			out[1] = (char)(0x80 | (u & 0x3f));
			return 2;
		} else if (u < 0x10000) {
			out[0] = (char)(0xe0 | u >> 12);
			out[1] = (char)(0x80 | (u >> 6 & 0x3f));
			out[2] = (char)(0x80 | (u & 0x3f));
			return 3;
		}
		out[0] = (char)(0xf0 | u >> 18);
		out[1] = (char)(0x80 | (u >> 12 & 0x3f));
		out[2] = (char)(0x80 | (u >> 6 & 0x3f));
		out[3] = (char)(0x80 | (u & 0x3f));
		return 4;
	default:
		return 0;
	}
	*i += 2;
	return 1;
}

/* Does the string s[b..e) (quotes included) say key, once unescaped?
   "node", "no\u0064e" and "\u006eode" are the same key to jansson. */
static int
key_is(const char *s, size_t b, size_t e, const char *key)
{
	size_t i = b + 1, k = 0, klen = strlen(key), m;
	char c[4];

	e--;
	while (i < e) {
		if ((m = unescape_one(s, &i, e, c)) == 0 || k + m > klen ||
		    memcmp(key + k, c, m) != 0)
			return 0;
		k += m;
	}
	return k == klen;
}

static int
dropped(const char *s, size_t b, size_t e, const char *const drop[])
{
	for (; drop != NULL && *drop != NULL; drop++)
		if (key_is(s, b, e, *drop))
			return 1;
	return 0;
}

/* One member of the object text: key s[kb..ke), value s[vb..ve); next is
   the index of the ',' or '}' after it. */
struct member {
	size_t kb, ke, vb, ve, next;
};

static int
member_at(const char *s, size_t i, size_t n, struct member *m)
{
	m->kb = i;
	if (i >= n || s[i] != '"' || (m->ke = string_end(s, i, n)) == BAD)
		return -1;
	i = skip_ws(s, m->ke, n);
	if (i >= n || s[i] != ':')
		return -1;
	m->vb = skip_ws(s, i + 1, n);
	if ((m->ve = value_end(s, m->vb, n)) == BAD)
		return -1;
	m->next = skip_ws(s, m->ve, n);
	if (m->next >= n || (s[m->next] != ',' && s[m->next] != '}'))
		return -1;
	return 0;
}

/*
 * Walk the members of the object text s[0..n).  With fp, write the text
 * without the members named in drop and with add appended; without, only
 * check that the walk will succeed.  With key, find its last member.
 */
static int
walk(const char *s, size_t n, const char *const drop[],
    const char *const add[], FILE *fp, const char *key, size_t *vb,
    size_t *vlen)
{
	struct member m;
	size_t i = skip_ws(s, 0, n), open, prev_end;
	int any = 0, opened = 0, prev_kept = 0, found = 0, adding = 0;

	if (i >= n || s[i] != '{')
		return -1;
	open = i++;
	prev_end = i;
	i = skip_ws(s, i, n);
	if (i < n && s[i] == '}') {
		/* No members: "{" and its blanks as they came. */
		m.next = i;
		if (fp != NULL)
			fwrite(s + open, 1, i - open, fp);
		opened = 1;
	} else {
		for (;;) {
			if (member_at(s, i, n, &m) != 0)
				return -1;
			if (key != NULL && key_is(s, m.kb, m.ke, key)) {
				*vb = m.vb;
				*vlen = m.ve - m.vb;
				found = 1;
			}
			if (fp != NULL && !dropped(s, m.kb, m.ke, drop)) {
				/* The text between two kept members (comma,
				   blanks) is theirs; after a cut, a comma. */
				if (!any)
					fwrite(s + open, 1,
					    (prev_end == open + 1 ? m.kb :
					    open + 1) - open, fp);
				else if (prev_kept)
					fwrite(s + prev_end, 1, m.kb - prev_end,
					    fp);
				else
					putc(',', fp);
				fwrite(s + m.kb, 1, m.ve - m.kb, fp);
				any = 1;
				prev_kept = 1;
			} else {
				prev_kept = 0;
			}
			prev_end = m.ve;
			if (s[m.next] == '}')
				break;
			i = skip_ws(s, m.next + 1, n);
		}
	}
	if (skip_ws(s, m.next + 1, n) != n)
		return -1;
	if (fp != NULL) {
		if (!any && !opened)
			putc('{', fp);
		else if (prev_kept)
			fwrite(s + prev_end, 1, m.next - prev_end, fp);
		/* The pieces of add make members: a comma before them
		   when kept members precede. */
		for (; add != NULL && *add != NULL; add++) {
			if (**add != '\0' && !adding && any)
				putc(',', fp);
			adding |= **add != '\0';
			fputs(*add, fp);
		}
		putc('}', fp);
	}
	return found;
}

int
hm_json_splice(FILE *fp, const char *obj, size_t len,
    const char *const drop[], const char *const add[])
{
	if (walk(obj, len, NULL, NULL, NULL, NULL, NULL, NULL) < 0)
		return -1;
	walk(obj, len, drop, add, fp, NULL, NULL, NULL);
	return putc('\n', fp) == EOF || ferror(fp) ? -1 : 0;
}

int
hm_json_member(const char *obj, size_t len, const char *key, size_t *vb,
    size_t *vlen)
{
	return walk(obj, len, NULL, NULL, NULL, key, vb, vlen);
}

/*
 * A copy of text in which every number jansson cannot hold reads as one it
 * can: an integer beyond 64 bits as a real (digits, then "e0"), a number
 * beyond a double's range as null.  Only for parsing: the text itself is
 * what the programs pass on.  Outside strings, '-' and digits only begin
 * numbers.
 */
static char *
numbers_tamed(const char *s, size_t n, size_t *outlen)
{
	char *out = malloc(n + n / 8 + 16), buf[64], *tok;
	size_t i = 0, o = 0, b, e;
	double d;

	if (out == NULL)
		return NULL;
	while (i < n) {
		if (s[i] == '"') {
			e = string_end(s, i, n);
			e = e == BAD ? n : e;
			memcpy(out + o, s + i, e - i);
			o += e - i;
			i = e;
			continue;
		}
		if (s[i] != '-' && (s[i] < '0' || s[i] > '9')) {
			out[o++] = s[i++];
			continue;
		}
		for (b = i; i < n && s[i] != '\0' &&
		    strchr("+-.0123456789eE", s[i]) != NULL; i++)
			;
		tok = i - b < sizeof(buf) ? buf : malloc(i - b + 1);
		if (tok == NULL) {
			free(out);
			return NULL;
		}
		memcpy(tok, s + b, i - b);
		tok[i - b] = '\0';
		memcpy(out + o, tok, i - b);
		o += i - b;
		/* An overflowing integer has 19 digits or more, an infinite
		   number 5 characters or more: out has room for both. */
		errno = 0;
		if (strcspn(tok, ".eE") == i - b)
			(void)strtoll(tok, NULL, 10);
		else
			(void)strtod(tok, NULL);
		if (errno == ERANGE) {
			errno = 0;
			d = strtod(tok, NULL);
			if (isinf(d)) {
				o -= i - b;
				memcpy(out + o, "null", 4);
				o += 4;
			} else if (strcspn(tok, ".eE") == i - b) {
				memcpy(out + o, "e0", 2);
				o += 2;
			}
		}
		if (tok != buf)
			free(tok);
	}
	*outlen = o;
	return out;
}

json_t *
hm_json_loadb(const char *text, size_t len, size_t flags, json_error_t *err)
{
	json_t *v = json_loadb(text, len, flags, err);
	char *tame;
	size_t n;

	if (v != NULL || json_error_code(err) != json_error_numeric_overflow)
		return v;
	if ((tame = numbers_tamed(text, len, &n)) == NULL)
		return NULL;
	v = json_loadb(tame, n, flags, err);
	free(tame);
	return v;
}
