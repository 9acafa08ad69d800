/* libFuzzer target: a record line through the parser and back out. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hopmap.h"

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
	kind = hm_record_parse(line, size, &rec, &why);
	if (kind == HM_REC_BAD && why == NULL)
		abort();	/* a bad line must say why */
	if (kind == HM_REC_TARGET || kind == HM_REC_OTHER)
		hm_json_write(null, rec.obj);
	if (kind == HM_REC_TARGET)
		hm_record_set_node(rec.obj, "fuzz");
	hm_record_free(&rec);
	if (hm_record_ip(line, size, &ip, &why) != kind)
		abort();	/* the fast path agrees with the full parse */
	fclose(null);
	free(line);
	return 0;
}
