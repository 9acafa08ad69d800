/* ipv4.c: a strict, fast dotted-quad parser and formatter, ranges, and
   whether text is IPv6 (to say so rather than "not an address"). */
#include <ctype.h>
#include <string.h>

#include "core.h"

int
hm_ip_parse(const char *s, size_t len, uint32_t *ip)
{
	uint32_t addr = 0;
	unsigned int octet, digits, dots = 0;
	size_t i = 0;

	if (len < 7 || len > 15)
		return -1;
	for (;;) {
		octet = 0;
		digits = 0;
		while (i < len && s[i] >= '0' && s[i] <= '9') {
			/* "010" would be octal to inet_aton: refuse, not guess. */
			if (digits == 1 && octet == 0)
				return -1;
			octet = octet * 10 + (unsigned int)(s[i] - '0');
			digits++;
			i++;
		}
		if (digits == 0 || digits > 3 || octet > 255)
			return -1;
		addr = addr << 8 | octet;
		if (dots == 3)
			break;
		if (i >= len || s[i] != '.')
			return -1;
		dots++;
		i++;
	}
	if (i != len)
		return -1;
	*ip = addr;
	return 0;
}

/* "0".."255" with their lengths, so formatting is four table copies. */
static char octet_text[256][4];
static unsigned char octet_len[256];

static void
octet_table_init(void)
{
	int v;

	for (v = 0; v < 256; v++) {
		char *p = octet_text[v];

		if (v >= 100)
			*p++ = (char)('0' + v / 100);
		if (v >= 10)
			*p++ = (char)('0' + v / 10 % 10);
		*p++ = (char)('0' + v % 10);
		octet_len[v] = (unsigned char)(p - octet_text[v]);
	}
}

size_t
hm_ip_format(uint32_t ip, char *buf)
{
	char *p = buf;
	int shift;

	if (octet_len[0] == 0)
		octet_table_init();
	for (shift = 24; shift >= 0; shift -= 8) {
		unsigned int o = ip >> shift & 0xff;

		memcpy(p, octet_text[o], 4);
		p += octet_len[o];
		*p++ = '.';
	}
	p[-1] = '\0';
	return (size_t)(p - 1 - buf);
}

/* One IPv6 address as written (RFC 4291, 2.2): groups of 1 to 4 hex digits
   joined by ':', at most one "::" for a run of zero groups, a dotted quad
   for the last two; eight groups, or fewer with the "::". */
static int
ipv6_address(const char *s, size_t len)
{
	size_t i = 0, start, digits;
	int groups = 0, gap = 0;
	uint32_t quad;

	if (len >= 2 && s[0] == ':' && s[1] == ':') {
		gap = 1;
		i = 2;
	} else if (len > 0 && s[0] == ':') {
		return 0;
	}
	while (i < len) {
		start = i;
		for (digits = 0; i < len && isxdigit((unsigned char)s[i]); i++)
			digits++;
		if (i < len && s[i] == '.') {
			if (hm_ip_parse(s + start, len - start, &quad) != 0)
				return 0;
			groups += 2;
			break;
		}
		if (digits == 0 || digits > 4)
			return 0;
		groups++;
		if (i == len)
			break;
		if (s[i] != ':' || ++i == len)
			return 0;
		if (s[i] == ':') {
			if (gap)
				return 0;
			gap = 1;
			i++;
		}
	}
	return gap ? groups <= 7 : groups == 8;
}

/* An address, a prefix (ADDRESS/0 to /128) or a range (ADDRESS-ADDRESS,
   which cidr-expand counts as IPv6 too); anything else with a ':' in it is
   just not an address, and is told so. */
int
hm_looks_ipv6(const char *s, size_t len)
{
	const char *p;
	size_t i, n;
	unsigned int bits = 0;

	if ((p = memchr(s, '/', len)) != NULL) {
		n = len - (size_t)(p - s) - 1;
		if (n == 0 || n > 3)
			return 0;
		for (i = 1; i <= n; i++) {
			if (p[i] < '0' || p[i] > '9')
				return 0;
			bits = bits * 10 + (unsigned int)(p[i] - '0');
		}
		return bits <= 128 && ipv6_address(s, (size_t)(p - s));
	}
	if ((p = memchr(s, '-', len)) != NULL)
		return ipv6_address(s, (size_t)(p - s)) &&
		    ipv6_address(p + 1, len - (size_t)(p - s) - 1);
	return ipv6_address(s, len);
}

int
hm_range_parse(const char *s, size_t len, uint32_t *lo, uint32_t *hi,
    const char **why)
{
	const char *sep;
	uint32_t a, b;

	if ((sep = memchr(s, '/', len)) != NULL) {
		size_t plen = len - (size_t)(sep - s) - 1;
		unsigned int bits = 0;
		size_t i;

		if (hm_ip_parse(s, (size_t)(sep - s), &a) != 0) {
			*why = "bad address";
			return -1;
		}
		if (plen == 0 || plen > 2 || (plen == 2 && sep[1] == '0')) {
			*why = "bad prefix length";
			return -1;
		}
		for (i = 1; i <= plen; i++) {
			if (sep[i] < '0' || sep[i] > '9') {
				*why = "bad prefix length";
				return -1;
			}
			bits = bits * 10 + (unsigned int)(sep[i] - '0');
		}
		if (bits > 32) {
			*why = "prefix length is too large";
			return -1;
		}
		*lo = a & hm_prefix_mask(bits);
		*hi = *lo | ~hm_prefix_mask(bits);
		return 0;
	}
	if ((sep = memchr(s, '-', len)) != NULL) {
		if (hm_ip_parse(s, (size_t)(sep - s), &a) != 0 ||
		    hm_ip_parse(sep + 1, len - (size_t)(sep - s) - 1, &b) != 0) {
			*why = "bad address in range";
			return -1;
		}
		if (b < a) {
			*why = "range ends before it starts";
			return -1;
		}
		*lo = a;
		*hi = b;
		return 0;
	}
	if (hm_ip_parse(s, len, &a) != 0) {
		*why = "not an address, prefix or range";
		return -1;
	}
	*lo = *hi = a;
	return 0;
}
