/* libFuzzer target: range and address parsers; results must be consistent. */
#include <stdlib.h>
#include <string.h>

#include "core/core.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data, *why = NULL;
	uint32_t lo, hi, ip;
	char text[16];

	if (hm_range_parse(s, size, &lo, &hi, &why) == 0) {
		if (lo > hi)
			abort();
	} else if (why == NULL) {
		abort();
	}
	if (hm_ip_parse(s, size, &ip) == 0) {
		/* Accepted addresses are canonical: formatting gives them back. */
		size_t n = hm_ip_format(ip, text);

		if (n != size || memcmp(text, s, n) != 0)
			abort();
		if (hm_range_parse(s, size, &lo, &hi, &why) != 0 || lo != ip ||
		    hi != ip)
			abort();
	}
	/* IPv6 always has a ':', so never an IPv4 address or range too. */
	if (hm_looks_ipv6(s, size) && (memchr(s, ':', size) == NULL ||
	    hm_range_parse(s, size, &lo, &hi, &why) == 0))
		abort();
	return 0;
}
