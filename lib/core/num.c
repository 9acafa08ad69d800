/*
 * num.c: numbers from the command line and from records, parsed with bounds.
 * Messages follow OpenBSD's strtonum: "ttl value is too large: 300".
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

int
hm_strtou64(const char *s, uint64_t min, uint64_t max, uint64_t *out,
    const char **why)
{
	char *end;
	unsigned long long v;

	/* strtoull would accept "-1" as a huge number and leading spaces. */
	if (s == NULL || *s < '0' || *s > '9') {
		*why = "invalid";
		return -1;
	}
	errno = 0;
	v = strtoull(s, &end, 10);
	if (*end != '\0') {
		*why = "invalid";
		return -1;
	}
	if (errno == ERANGE || v > max) {
		*why = "too large";
		return -1;
	}
	if (v < min) {
		*why = "too small";
		return -1;
	}
	*out = v;
	return 0;
}

uint64_t
hm_parse_uint(const char *s, uint64_t min, uint64_t max, const char *what)
{
	uint64_t v;
	const char *why;

	if (hm_strtou64(s, min, max, &v, &why) != 0) {
		if (strcmp(why, "invalid") == 0)
			hm_errx(HM_EXIT_USAGE, "%s value is invalid: %s", what, s);
		hm_errx(HM_EXIT_USAGE, "%s value is %s: %s (range %" PRIu64
		    "..%" PRIu64 ")", what, why, s, min, max);
	}
	return v;
}

/* Split "15m" into a number and a unit; the number part is bounded. */
static int
number_unit(const char *s, uint64_t *n, const char **unit, const char **why)
{
	char digits[24];
	size_t i = 0;

	while (s[i] >= '0' && s[i] <= '9' && i < sizeof(digits) - 1) {
		digits[i] = s[i];
		i++;
	}
	digits[i] = '\0';
	if (i == 0) {
		*why = "invalid";
		return -1;
	}
	if (s[i] >= '0' && s[i] <= '9') {
		*why = "too large";
		return -1;
	}
	*unit = s + i;
	return hm_strtou64(digits, 0, UINT64_MAX / (1024ULL * 1024 * 1024 * 1024),
	    n, why);
}

int
hm_strtoms(const char *s, uint64_t *ms, const char **why)
{
	static const struct { const char *unit; uint64_t ms; } units[] = {
		{ "", 1000 }, { "s", 1000 }, { "ms", 1 }, { "m", 60000 },
		{ "h", 3600000 }, { "d", 86400000 }, { "w", 604800000 },
	};
	uint64_t n;
	const char *unit;
	size_t i;

	if (number_unit(s, &n, &unit, why) != 0)
		return -1;
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(unit, units[i].unit) == 0) {
			if (n > UINT64_MAX / units[i].ms / 1000) {
				*why = "too large";
				return -1;
			}
			*ms = n * units[i].ms;
			return 0;
		}
	}
	*why = "invalid (units: ms, s, m, h, d, w)";
	return -1;
}

uint64_t
hm_parse_duration(const char *s, const char *what)
{
	uint64_t ms;
	const char *why;

	if (hm_strtoms(s, &ms, &why) != 0)
		hm_errx(HM_EXIT_USAGE, "%s value is %s: %s", what, why, s);
	return ms;
}

uint64_t
hm_parse_size(const char *s, const char *what)
{
	static const struct { const char *unit; uint64_t mult; } units[] = {
		{ "", 1 }, { "k", 1ULL << 10 }, { "K", 1ULL << 10 },
		{ "M", 1ULL << 20 }, { "G", 1ULL << 30 }, { "T", 1ULL << 40 },
	};
	uint64_t n;
	const char *unit, *why;
	size_t i;

	if (number_unit(s, &n, &unit, &why) != 0)
		hm_errx(HM_EXIT_USAGE, "%s value is %s: %s", what, why, s);
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (strcmp(unit, units[i].unit) == 0)
			return n * units[i].mult;
	hm_errx(HM_EXIT_USAGE, "%s value is invalid (units: k, M, G, T): %s",
	    what, s);
}

double
hm_parse_double(const char *s, double min, double max, const char *what)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (end == s || *end != '\0' || isnan(v))
		hm_errx(HM_EXIT_USAGE, "%s value is invalid: %s", what, s);
	if (errno == ERANGE || v > max)
		hm_errx(HM_EXIT_USAGE, "%s value is too large: %s", what, s);
	if (v < min)
		hm_errx(HM_EXIT_USAGE, "%s value is too small: %s", what, s);
	return v;
}
