/*
 * special.c: the IANA IPv4 Special-Purpose Address Registry (RFC 6890 and
 * its updates), as the ranges hopmap keeps out of its targets by default.
 * The table must stay sorted by lo and disjoint: lookups bisect it.
 */
#include "core.h"

#define R(a, b, c, d, len, text, what) { \
	(uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (d), \
	((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (d)) | \
	    (len == 32 ? 0 : 0xffffffffu >> (len)), text, what }

const struct hm_special hm_special_table[] = {
	R(0, 0, 0, 0, 8, "0.0.0.0/8", "This network"),
	R(10, 0, 0, 0, 8, "10.0.0.0/8", "Private-Use"),
	R(100, 64, 0, 0, 10, "100.64.0.0/10", "Shared Address Space"),
	R(127, 0, 0, 0, 8, "127.0.0.0/8", "Loopback"),
	R(169, 254, 0, 0, 16, "169.254.0.0/16", "Link Local"),
	R(172, 16, 0, 0, 12, "172.16.0.0/12", "Private-Use"),
	R(192, 0, 0, 0, 24, "192.0.0.0/24", "IETF Protocol Assignments"),
	R(192, 0, 2, 0, 24, "192.0.2.0/24", "Documentation (TEST-NET-1)"),
	R(192, 88, 99, 0, 24, "192.88.99.0/24", "Deprecated 6to4 Relay Anycast"),
	R(192, 168, 0, 0, 16, "192.168.0.0/16", "Private-Use"),
	R(198, 18, 0, 0, 15, "198.18.0.0/15", "Benchmarking"),
	R(198, 51, 100, 0, 24, "198.51.100.0/24", "Documentation (TEST-NET-2)"),
	R(203, 0, 113, 0, 24, "203.0.113.0/24", "Documentation (TEST-NET-3)"),
	R(224, 0, 0, 0, 4, "224.0.0.0/4", "Multicast"),
	/* 240.0.0.0/4 "Reserved" holds 255.255.255.255/32 "Limited
	   Broadcast"; one entry covers both and keeps the table disjoint. */
	R(240, 0, 0, 0, 4, "240.0.0.0/4", "Reserved"),
};

const size_t hm_special_count =
    sizeof(hm_special_table) / sizeof(hm_special_table[0]);

const struct hm_special *
hm_special_lookup(uint32_t ip)
{
	size_t lo = 0, hi = hm_special_count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (ip < hm_special_table[mid].lo)
			hi = mid;
		else if (ip > hm_special_table[mid].hi)
			lo = mid + 1;
		else
			return &hm_special_table[mid];
	}
	return NULL;
}

const char *
hm_target_refused(uint32_t ip)
{
	/* A probe there reaches many hosts, or none: never a target. */
	if (ip >> 24 == 0)
		return "in 0.0.0.0/8 (this network)";
	if (ip >> 28 == 0xe)
		return "a multicast address";
	if (ip == 0xffffffffu)
		return "the broadcast address";
	return NULL;
}
