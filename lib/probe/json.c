/*
 * probe/json.c: numbers for a probe result's JSON text.
 *
 * jansson prints a double with 17 significant digits, so an RTT of 0.41 ms
 * would come out as 0.40999999999999998.  So a result is made as text from
 * numbers and fixed strings, and spliced into the record's own text
 * (hm_json_splice), which passes every other member through unchanged.
 */
#include <math.h>
#include <stdio.h>

#include "core/core.h"
#include "probe.h"

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
