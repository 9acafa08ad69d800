/*
 * probe_json.c: a record written with a probe result as its last member.
 *
 * jansson prints a double with 17 significant digits, so an RTT of 0.41 ms
 * would come out as 0.40999999999999998.  Lowering the precision for the
 * whole record would alter other stages' numbers, which must pass through
 * unchanged; so the result is made as text from numbers and fixed strings,
 * and spliced in before the record's closing brace.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hopmap.h"
#include "probe.h"

int
probe_json_write_with(FILE *fp, json_t *obj, const char *key,
    const char *raw)
{
	char small[4096], *text = small;
	size_t n;
	int rc;

	json_object_del(obj, key);
	n = json_dumpb(obj, small, sizeof(small),
	    JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (n == 0)
		return -1;
	if (n > sizeof(small)) {
		if ((text = json_dumps(obj, JSON_COMPACT |
		    JSON_PRESERVE_ORDER)) == NULL)
			return -1;
		n = strlen(text);
	}
	/* text ends with '}'; "{}" takes no comma. */
	fwrite(text, 1, n - 1, fp);
	fprintf(fp, "%s\"%s\":%s}\n", n > 2 ? "," : "", key, raw);
	if (text != small)
		free(text);
	rc = ferror(fp) ? -1 : 0;
	return rc;
}

void
probe_json_ms(char *buf, size_t size, size_t *pos, double ms)
{
	char num[64];
	size_t n;

	if (!isfinite(ms) || ms < 0)
		ms = 0;
	n = (size_t)snprintf(num, sizeof(num), "%.3f", ms);
	while (n > 1 && num[n - 1] == '0')
		n--;
	if (num[n - 1] == '.')
		n--;
	num[n] = '\0';
	if (*pos < size)
		*pos += (size_t)snprintf(buf + *pos, size - *pos, "%s", num);
	if (*pos > size)
		*pos = size;
}
