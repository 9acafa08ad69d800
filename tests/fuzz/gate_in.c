/* libFuzzer target: what clients send the gateway's input: each line as a
   hop (POST /hops), the whole as an exported state (POST /import).  What
   is accepted must hold together; what is refused must say why. */
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "httpd/gate_in.h"

/* A found_by kept: NUL-terminated within 64 bytes, valid UTF-8. */
static void
check_name(const char *s)
{
	size_t n = strnlen(s, 65);
	json_t *v;

	if (n > 64)
		abort();
	if ((v = json_stringn(s, n)) == NULL)
		abort();
	json_decref(v);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data, *p, *nl, *why;
	char found_by[65], whybuf[160];
	struct gi_state st;
	uint32_t ip;
	size_t i;
	int rc;

	for (p = s; p < s + size; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(s + size - p))) == NULL)
			nl = s + size;
		why = NULL;
		rc = gi_parse_hop(p, (size_t)(nl - p), &ip, found_by, &why);
		if (rc == 1)
			check_name(found_by);
		else if (rc == -1 && (why == NULL || *why == '\0'))
			abort();
		else if (rc != 0 && rc != 1 && rc != -1)
			abort();
	}
	whybuf[0] = '\0';
	if (gi_parse_state(s, size, &st, whybuf, sizeof whybuf) == 0) {
		if (st.cur.range_pos > st.total || st.consumer[0] == '\0' ||
		    strlen(st.cur.fp) != 16 || (st.nhops > 0 && st.hops == NULL))
			abort();
		check_name(st.consumer);
		for (i = 0; i < st.nhops; i++)
			check_name(st.hops[i].found_by);
		gi_state_free(&st);
	} else if (whybuf[0] == '\0' || st.hops != NULL) {
		abort();
	}
	return 0;
}
