/* tap.h: the smallest test harness: ok/not ok lines that tests/run counts. */
#ifndef TAP_H
#define TAP_H
#include <stdio.h>

static int tap_failed;

#define CHECK(cond, ...) do { \
	int tap_ok_ = (cond); \
	printf("%s - ", tap_ok_ ? "ok" : "not ok"); \
	printf(__VA_ARGS__); \
	if (!tap_ok_) { \
		printf("  (%s:%d: %s)", __FILE__, __LINE__, #cond); \
		tap_failed++; \
	} \
	putchar('\n'); \
} while (0)

#endif
