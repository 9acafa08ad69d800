/*
 * gate_in_parse.c: what a client sends the input: hop lines (POST /hops)
 * and a consumer's exported state (POST /import).  Everything here is
 * client text: bounded, checked field by field, never trusted
 * (tests/fuzz/gate_in.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "httpd/gate_in.h"

/* SRC in 64 bytes at most into DST, cut between two characters (SRC is
   valid UTF-8: jansson checked it) and at a NUL byte. */
static void
utf8_cut(char dst[65], const char *src)
{
	size_t n = strlen(src);

	if (n > 64) {
		n = 64;
		while (n > 0 && ((unsigned char)src[n] & 0xc0) == 0x80)
			n--;
	}
	memcpy(dst, src, n);
	dst[n] = '\0';
}

int
gi_parse_hop(const char *line, size_t len, uint32_t *ip, char found_by[65],
    const char **why)
{
	struct hm_record rec;
	json_t *fb;
	int rc = 1;

	found_by[0] = '\0';
	switch (hm_record_parse(line, len, &rec, why)) {
	case HM_REC_EMPTY:
		return 0;
	case HM_REC_BAD:
		return -1;
	case HM_REC_OTHER:
		*why = "no \"ip\"";
		rc = -1;
		break;
	case HM_REC_TARGET:
		*ip = rec.ip;
		fb = json_object_get(rec.obj, "found_by");
		if (fb != NULL && !json_is_string(fb)) {
			*why = "\"found_by\" is not a string";
			rc = -1;
		} else if (fb != NULL) {
			utf8_cut(found_by, json_string_value(fb));
		}
		break;
	}
	hm_record_free(&rec);
	return rc;
}

static int
bad(char *why, size_t whylen, const char *text)
{
	snprintf(why, whylen, "%s", text);
	return -1;
}

/* A non-negative integer member NAME of O into *v. */
static int
member_uint(json_t *o, const char *name, uint64_t *v)
{
	json_t *m = json_object_get(o, name);

	if (!json_is_integer(m) || json_integer_value(m) < 0)
		return -1;
	*v = (uint64_t)json_integer_value(m);
	return 0;
}

static int
state_hops(json_t *a, struct gi_state *st, char *why, size_t whylen)
{
	const char *w;
	json_t *h, *ipv, *fb;
	size_t i;

	if (a == NULL)
		return 0;
	if (!json_is_array(a))
		return bad(why, whylen, "\"hops\" is not an array");
	if (json_array_size(a) > 0 &&
	    (st->hops = calloc(json_array_size(a), sizeof(*st->hops))) == NULL)
		return bad(why, whylen, "out of memory");
	json_array_foreach(a, i, h) {
		ipv = json_object_get(h, "ip");
		fb = json_object_get(h, "found_by");
		if (!json_is_string(ipv) || hm_ip_parse(json_string_value(ipv),
		    json_string_length(ipv), &st->hops[i].ip) != 0) {
			snprintf(why, whylen, "hops[%zu]: no IPv4 \"ip\"", i);
			return -1;
		}
		if (fb != NULL && !json_is_string(fb)) {
			snprintf(why, whylen, "hops[%zu]: \"found_by\" is not "
			    "a string", i);
			return -1;
		}
		w = fb != NULL ? json_string_value(fb) : "";
		utf8_cut(st->hops[i].found_by, w);
		st->nhops++;
	}
	return 0;
}

int
gi_parse_state(const char *text, size_t len, struct gi_state *st, char *why,
    size_t whylen)
{
	json_error_t jerr;
	json_t *o, *c, *r, *fp;
	const char *s;
	size_t i;
	int rc = -1;

	memset(st, 0, sizeof *st);
	if ((o = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr)) == NULL) {
		snprintf(why, whylen, "not JSON: line %d: %s", jerr.line,
		    jerr.text);
		return -1;
	}
	c = json_object_get(o, "consumer");
	r = json_object_get(o, "ranges");
	fp = json_object_get(r, "fingerprint");
	if (!json_is_object(o))
		bad(why, whylen, "not a JSON object");
	else if (!json_is_string(c) || json_string_length(c) == 0 ||
	    json_string_length(c) > 64)
		bad(why, whylen, "\"consumer\": want a name of 1 to 64 bytes");
	else if (!json_is_object(r))
		bad(why, whylen, "no \"ranges\" object");
	else if (!json_is_string(fp) || json_string_length(fp) != 16 ||
	    strspn(json_string_value(fp), "0123456789abcdef") != 16)
		bad(why, whylen, "\"ranges\".\"fingerprint\": want 16 hex digits");
	else if (member_uint(r, "done", &st->cur.range_pos) != 0 ||
	    member_uint(r, "total", &st->total) != 0 ||
	    st->cur.range_pos > st->total)
		bad(why, whylen, "\"ranges\": want \"done\" <= \"total\", "
		    "integers >= 0");
	else if (json_object_get(o, "restarts") != NULL &&
	    member_uint(o, "restarts", &st->cur.restarts) != 0)
		bad(why, whylen, "\"restarts\": want an integer >= 0");
	else if (state_hops(json_object_get(o, "hops"), st, why, whylen) == 0)
		rc = 0;
	if (rc == 0) {
		s = json_string_value(c);
		for (i = 0; s[i] != '\0'; i++)
			if ((unsigned char)s[i] < ' ' || s[i] == 127)
				break;
		if (s[i] != '\0' || strlen(s) != json_string_length(c))
			rc = bad(why, whylen, "\"consumer\": a control byte");
		else {
			memcpy(st->consumer, s, strlen(s) + 1);
			memcpy(st->cur.fp, json_string_value(fp), 17);
		}
	}
	json_decref(o);
	if (rc != 0)
		gi_state_free(st);
	return rc;
}

void
gi_state_free(struct gi_state *st)
{
	free(st->hops);
	st->hops = NULL;
	st->nhops = 0;
}
