/*
 * libFuzzer target: a record line through the parser, and through the
 * splice that writes results into a record's own text.  What jansson
 * accepts, the splice must take: the members it keeps come out with the
 * values they had, the stage's own are replaced, and with nothing to drop
 * or add the text comes out as it came.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"

static const char *const owned[] = { "node", "ping", NULL };
static const char *const add[] = { "\"node\":\"fuzz\",\"ping\":{\"ok\":true}",
    NULL };

static char *
splice(const char *text, size_t len, const char *const drop[],
    const char *const more[], size_t *outlen)
{
	char *out = NULL;
	FILE *fp = open_memstream(&out, outlen);

	if (hm_json_splice(fp, text, len, drop, more) != 0)
		abort();	/* text jansson accepted is an object's */
	fclose(fp);
	return out;
}

static void
check_splice(const struct hm_record *rec)
{
	json_error_t err;
	const char *key;
	json_t *out, *v;
	size_t n, vb, vlen;
	char *text;
	int has;

	text = splice(rec->text, rec->len, NULL, NULL, &n);
	if (n != rec->len + 1 || memcmp(text, rec->text, rec->len) != 0)
		abort();	/* nothing to do: the text as it came */
	free(text);

	text = splice(rec->text, rec->len, owned, add, &n);
	if ((out = hm_json_loadb(text, n, 0, &err)) == NULL)
		abort();	/* the result is JSON */
	if (!json_is_string(json_object_get(out, "node")) ||
	    strcmp(json_string_value(json_object_get(out, "node")), "fuzz") ||
	    !json_is_true(json_object_get(json_object_get(out, "ping"), "ok")))
		abort();	/* ours replaced */
	json_object_foreach(rec->obj, key, v)
		if (strcmp(key, "node") != 0 && strcmp(key, "ping") != 0 &&
		    !json_equal(v, json_object_get(out, key)))
			abort();	/* the others kept */
	if (json_object_size(out) != json_object_size(rec->obj) + 2 -
	    (json_object_get(rec->obj, "node") != NULL) -
	    (json_object_get(rec->obj, "ping") != NULL))
		abort();	/* and nothing else */
	json_decref(out);
	free(text);

	has = hm_json_member(rec->text, rec->len, "node", &vb, &vlen);
	if (has != (json_object_get(rec->obj, "node") != NULL))
		abort();	/* the scanner and jansson agree */
	if (has == 1) {
		v = hm_json_loadb(rec->text + vb, vlen, JSON_DECODE_ANY, &err);
		if (!json_equal(v, json_object_get(rec->obj, "node")))
			abort();	/* on the value too: the last one */
		json_decref(v);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hm_record rec;
	const char *why = NULL;
	char *line = malloc(size + 1);
	FILE *null = fopen("/dev/null", "w");
	enum hm_rec_kind kind;
	uint32_t ip;

	memcpy(line, data, size);
	line[size] = '\0';
	{
		/* On any text, the scanner stays within it. */
		size_t vb, vlen;

		(void)hm_json_member(line, size, "node", &vb, &vlen);
		(void)hm_json_splice(null, line, size, owned, add);
	}
	kind = hm_record_parse(line, size, &rec, &why);
	if (kind == HM_REC_BAD && why == NULL)
		abort();	/* a bad line must say why */
	if (kind == HM_REC_TARGET || kind == HM_REC_OTHER)
		hm_json_write(null, rec.obj);
	if ((kind == HM_REC_TARGET || kind == HM_REC_OTHER) && !rec.bare)
		check_splice(&rec);
	hm_record_free(&rec);
	if (hm_record_ip(line, size, &ip, &why) != kind)
		abort();	/* the fast path agrees with the full parse */
	fclose(null);
	free(line);
	return 0;
}
