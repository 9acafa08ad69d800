/*
 * http_results.c: POST /results bodies (web/httpd/gate_out_body.c) under
 * libFuzzer, as NDJSON and as JSON.  Invariants: a body is refused with a
 * reason or cut into lines that each end with the one newline they hold,
 * numbered upwards from 1, never more lines than the body has (lines, or
 * bytes for an array).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "httpd/gate_out.h"

static void
one(enum go_form form, const char *body, size_t len)
{
	struct go_lines l;
	char why[256];
	unsigned long k, prev = 0;
	size_t at = 0;

	if (go_split(form, body, len, &l, why, sizeof why) != 0) {
		if (why[0] == '\0')
			abort();
		return;
	}
	for (k = 0; k < l.n; k++) {
		const char *nl = memchr(l.text + at, '\n', l.len - at);

		if (nl == NULL || nl == l.text + at || l.lineno[k] <= prev ||
		    l.lineno[k] > len + 1)
			abort();
		prev = l.lineno[k];
		at = (size_t)(nl - l.text) + 1;
	}
	if (at != l.len)
		abort();
	go_lines_free(&l);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *body = malloc(size + 1);

	if (body == NULL)
		return 0;
	memcpy(body, data, size);
	body[size] = '\0';
	one(GO_NDJSON, body, size);
	one(GO_JSON, body, size);
	free(body);
	return 0;
}
