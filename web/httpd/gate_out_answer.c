/*
 * gate_out_answer.c: the sink's answer to a session, as the answer to
 * POST /results (GATEWAY.md): 200 when every line is stored (or was
 * before); 422 when some were refused, the good ones stored all the same
 * (the shipper quarantines the segment, as for "refused R of N" over
 * socat); 503 when nothing is known (the shipper sends again: records with
 * ids are stored once).  The sink numbers the session's lines; the client
 * is told its own line numbers (or array elements).
 */
#include <stdio.h>
#include <string.h>

#include "httpd/gate_out.h"

int
go_plain(const char *s, size_t max, const char *extra)
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

/* The 422: counts, the reasons with the client's line numbers, and an
   error line that says the first of them as recv says it. */
static void
refused(const struct go_lines *l, json_int_t stored, json_int_t dups,
    json_int_t nref, const json_t *list, struct hx_resp *resp)
{
	json_t *reasons = json_array(), *r;
	char msg[1024];
	size_t i, at;

	at = (size_t)snprintf(msg, sizeof msg, "refused %lld of %lu",
	    (long long)nref, l->n);
	json_array_foreach(list, i, r) {
		json_int_t line = 0;
		const char *why = "?";
		unsigned long ours;

		json_unpack(r, "{s:I,s:s}", "line", &line, "reason", &why);
		ours = line >= 1 && (unsigned long)line <= l->n ?
		    l->lineno[line - 1] : (unsigned long)line;
		json_array_append_new(reasons, json_pack("{s:I,s:s}", "line",
		    (json_int_t)ours, "why", why));
		if (at < sizeof msg)
			at += (size_t)snprintf(msg + at, sizeof msg - at,
			    "%s line %lu: %s", i == 0 ? ":" : ";", ours, why);
	}
	hx_json(resp, 422, json_pack("{s:s,s:I,s:I,s:I,s:I,s:o}", "error", msg,
	    "lines", (json_int_t)l->n, "stored", stored, "duplicate", dups,
	    "refused", nref, "reasons", reasons));
}

void
go_answer(const json_t *a, const struct go_lines *l, struct hx_resp *resp)
{
	json_int_t lines, stored, dups, nref;
	const char *err;
	json_t *list;
	int complete;

	if (json_unpack((json_t *)a, "{s:s}", "error", &err) == 0) {
		hx_error(resp, 500, "the sink refused the session: %s", err);
		return;
	}
	if (json_unpack((json_t *)a, "{s:I,s:I,s:I,s:I,s:b,s:o}", "lines",
	    &lines, "stored", &stored, "duplicate", &dups, "refused", &nref,
	    "complete", &complete, "refusals", &list) != 0 ||
	    !json_is_array(list)) {
		hx_error(resp, 503, "the sink's answer lacks counts");
		return;
	}
	if (!complete || lines != (json_int_t)l->n) {
		hx_error(resp, 503, "the sink %s %lld of %lu lines (%lld "
		    "stored): send again", complete ? "counted" :
		    "stopped after", (long long)lines, l->n,
		    (long long)stored);
		return;
	}
	if (nref > 0) {
		refused(l, stored, dups, nref, list, resp);
		return;
	}
	hx_json(resp, 200, json_pack("{s:I,s:I,s:I,s:i}", "lines",
	    (json_int_t)l->n, "stored", stored, "duplicate", dups,
	    "refused", 0));
}
