/* Unit tests for lib/core/jsontext.c: records written from their own text
   (the splice), members found in it, numbers jansson cannot hold, and text
   from jansson that free() may take. */
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "tap.h"

static char *
spliced(const char *in, const char *const drop[], const char *const add[],
    int *rc)
{
	char *text = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&text, &len);

	*rc = hm_json_splice(fp, in, strlen(in), drop, add);
	fclose(fp);
	/* One line: its newline, then nothing. */
	if (*rc == 0 && (len == 0 || text[len - 1] != '\n' ||
	    strchr(text, '\n') != text + len - 1))
		*rc = -2;
	else if (*rc == 0)
		text[len - 1] = '\0';
	return text;
}

static void
test_splice(void)
{
	static const char *const ping[] = { "node", "ping", NULL };
	static const char *const add[] = { "\"node\":", "\"n\"", ",\"ping\":",
	    "{\"ok\":true}", NULL };
	static const struct { const char *in, *want; } cases[] = {
		/* Numbers, escapes and unicode a re-encoder would change. */
		{ "{\"ip\":\"1.2.3.4\",\"a\":0.073,\"b\":1e3,"
		  "\"c\":18446744073709551617,\"d\":-0.0,\"e\":\"\\u00e9\\/\\\"\","
		  "\"f\":\"\xc3\xa9\"}",
		  "{\"ip\":\"1.2.3.4\",\"a\":0.073,\"b\":1e3,"
		  "\"c\":18446744073709551617,\"d\":-0.0,\"e\":\"\\u00e9\\/\\\"\","
		  "\"f\":\"\xc3\xa9\",\"node\":\"n\",\"ping\":{\"ok\":true}}" },
		/* Every member the stage owns goes, whatever its escapes,
		   duplicates too; blanks between kept members stay. */
		{ "{ \"node\":\"a\", \"x\" : [1, {\"node\":2}] ,\"no\\u0064e\":\"b\","
		  "\"\\u0070ing\":{\"}\":\"{\"},\"y\":null , \"ping\":1 }",
		  "{\"x\" : [1, {\"node\":2}],\"y\":null,\"node\":\"n\","
		  "\"ping\":{\"ok\":true}}" },
		{ "{}", "{\"node\":\"n\",\"ping\":{\"ok\":true}}" },
		{ "{ }", "{ \"node\":\"n\",\"ping\":{\"ok\":true}}" },
		{ "{\"ping\":1 }", "{\"node\":\"n\",\"ping\":{\"ok\":true}}" },
		{ "{\"ping\":[]}", "{\"node\":\"n\",\"ping\":{\"ok\":true}}" },
		/* Keys that only look like ours stay. */
		{ "{\"pings\":1,\"Node\":2,\"node\\u0000\":3,\"nod\":4}",
		  "{\"pings\":1,\"Node\":2,\"node\\u0000\":3,\"nod\":4,"
		  "\"node\":\"n\",\"ping\":{\"ok\":true}}" },
		/* A surrogate pair in a key. */
		{ "{\"\\ud83d\\ude00\":\"\\ud83d\\ude00\",\"ip\":\"1.1.1.1\"}",
		  "{\"\\ud83d\\ude00\":\"\\ud83d\\ude00\",\"ip\":\"1.1.1.1\","
		  "\"node\":\"n\",\"ping\":{\"ok\":true}}" },
	};
	static const char *const bad[] = { "", "[1]", "{", "{\"a\":1",
	    "{\"a\":1}x", "{\"a\"}", "{\"a\":}", "{a:1}", "{\"a\":\"1}",
	    "{\"a\":[1,2}" };
	size_t i;
	char *out;
	int rc;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		out = spliced(cases[i].in, ping, add, &rc);
		CHECK(rc == 0 && strcmp(out, cases[i].want) == 0,
		    "splice %s -> %s (got %s)", cases[i].in, cases[i].want, out);
		free(out);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		out = spliced(bad[i], ping, add, &rc);
		CHECK(rc == -1 && *out == '\0',
		    "splice refuses '%s' and writes nothing", bad[i]);
		free(out);
	}
	out = spliced("{\"a\":1,\"b\":2}", NULL, NULL, &rc);
	CHECK(rc == 0 && strcmp(out, "{\"a\":1,\"b\":2}") == 0,
	    "nothing dropped, nothing added: the text as it came");
	free(out);
	{
		static const char *const empty[] = { "", NULL };

		out = spliced("{\"a\":1}", NULL, empty, &rc);
		CHECK(rc == 0 && strcmp(out, "{\"a\":1}") == 0,
		    "empty pieces add no comma");
		free(out);
	}
}

static void
test_member(void)
{
	const char *t = "{\"node\":\"a\",\"x\":{\"node\":1},\"n\\u006fde\":"
	    "{\"name\": \"b\"} }";
	size_t vb = 0, vlen = 0;

	CHECK(hm_json_member(t, strlen(t), "node", &vb, &vlen) == 1 &&
	    vlen == 13 && strncmp(t + vb, "{\"name\": \"b\"}", vlen) == 0,
	    "member: the last top-level one, its text as written");
	CHECK(hm_json_member(t, strlen(t), "name", &vb, &vlen) == 0,
	    "member: nested keys are not top-level");
	CHECK(hm_json_member("[]", 2, "node", &vb, &vlen) == -1,
	    "member: not an object");
}

static void
test_loadb(void)
{
	static const char *const good[] = {
		"{\"c\":18446744073709551617}", "{\"c\":-9223372036854775809}",
		"[1e999,-1e999,123456789012345678901234567890]",
		"{\"s\":\"18446744073709551617\",\"n\":99999999999999999999}",
	};
	const char *t;
	json_error_t err;
	json_t *v;
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		v = hm_json_loadb(good[i], strlen(good[i]), 0, &err);
		CHECK(v != NULL, "loadb accepts %s (%s)", good[i],
		    v ? "" : err.text);
		json_decref(v);
	}
	t = "{\"c\":18446744073709551617,\"s\":\"99999999999999999999\","
	    "\"i\":9223372036854775807,\"r\":1e999}";
	v = hm_json_loadb(t, strlen(t), 0, &err);
	CHECK(v != NULL &&
	    json_is_real(json_object_get(v, "c")) &&
	    json_real_value(json_object_get(v, "c")) == 18446744073709551617.0 &&
	    json_is_string(json_object_get(v, "s")) &&
	    json_integer_value(json_object_get(v, "i")) == INT64_MAX &&
	    json_is_null(json_object_get(v, "r")),
	    "loadb: too big an integer reads as a real, beyond a double as "
	    "null; strings and integers that fit untouched");
	json_decref(v);
	t = "{\"c\":18446744073709551617,\"x\":}";
	v = hm_json_loadb(t, strlen(t), 0, &err);
	CHECK(v == NULL, "loadb: still refuses bad JSON beside a big number");
}

static void
test_text(void)
{
	/* jarena.c's hooks are installed (this links record.o and so
	   jarena.o): jansson's own json_dumps text would abort in free(). */
	char space[4096], big[10000];
	struct hm_jarena a;
	json_t *o;
	char *t;
	size_t n = 0;

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	o = json_pack("{s:s,s:s}", "ip", "1.2.3.4", "pad", big);
	t = hm_json_text(o, JSON_COMPACT | JSON_PRESERVE_ORDER, &n);
	CHECK(t != NULL && n == strlen(t) && n == sizeof(big) + 24,
	    "hm_json_text: the whole text, its length");
	free(t);
	json_decref(o);
	hm_jarena_begin(&a, space, sizeof(space));
	o = json_pack("{s:s}", "pad", big);
	t = hm_json_text(o, JSON_COMPACT, NULL);
	hm_jarena_end();
	CHECK(t != NULL && strncmp(t, "{\"pad\":\"xxx", 11) == 0,
	    "hm_json_text inside an arena: malloc'd, free() takes it");
	free(t);
	if (a.spilled)
		json_decref(o);
}

int
main(void)
{
	test_splice();
	test_member();
	test_loadb();
	test_text();
	return tap_failed ? 1 : 0;
}
