/* manager_chart.c: the dashboard's SVG charts (web/manager/chart.c):
   every point inside the picture, the axis from 0 to the largest value,
   one sample a flat line, none a note instead of a picture, the label
   escaped. */
#include <stdlib.h>
#include <string.h>

#include "manager/manager.h"
#include "tap.h"

static char text[65536];

static const char *
draw(const char *label, const int64_t *at, const int64_t *v, size_t n)
{
	FILE *f = fmemopen(text, sizeof text - 1, "w");

	memset(text, 0, sizeof text);
	mg_chart(f, "x", label, at, v, n);
	fclose(f);
	return text;
}

/* The polyline's points into xs, ys; their number. */
static size_t
points(double *xs, double *ys, size_t cap)
{
	const char *p = strstr(text, "points=\"");
	size_t n = 0;
	int used;

	if (p == NULL)
		return 0;
	p += 8;
	while (n < cap && sscanf(p, "%lf,%lf%n", &xs[n], &ys[n], &used) == 2) {
		n++;
		p += used;
		if (*p == ' ')
			p++;
	}
	return n;
}

int
main(void)
{
	int64_t at[5] = { 1000, 1060, 1120, 1180, 1240 };
	int64_t v[5] = { 0, 5, 10, 10, 20 };
	double xs[16], ys[16];
	size_t n, i;
	int inside = 1;

	draw("Targets probed", at, v, 0);
	CHECK(strstr(text, "no samples yet") != NULL &&
	    strstr(text, "<svg") == NULL, "no samples: a note, no picture");

	draw("Targets probed", at, v, 5);
	n = points(xs, ys, 16);
	CHECK(n == 5, "five samples, five points (%zu)", n);
	for (i = 0; i < n; i++)
		inside &= xs[i] >= 0 && xs[i] <= 320 && ys[i] >= 0 &&
		    ys[i] <= 80;
	CHECK(inside, "every point inside the 320x80 picture");
	CHECK(n == 5 && xs[0] < xs[1] && xs[1] < xs[4] && ys[0] > ys[1] &&
	    ys[1] > ys[2] && ys[2] == ys[3] && ys[3] > ys[4],
	    "time to the right, counts up (SVG's y grows down)");
	CHECK(n == 5 && ys[0] == 76.0 && ys[4] == 4.0,
	    "the axis from 0 (bottom) to the largest value (top)");
	CHECK(strstr(text, "<span class=\"n\">20</span> now, at most 20 over 4 "
	    "min") != NULL, "the newest value, the largest, the span");

	draw("Links", at + 2, v + 2, 1);
	n = points(xs, ys, 16);
	CHECK(n == 2 && ys[0] == ys[1] && xs[0] < xs[1],
	    "one sample: a flat line across");

	int64_t zero[2] = { 0, 0 };
	draw("Links", at, zero, 2);
	n = points(xs, ys, 16);
	CHECK(n == 2 && ys[0] == 76.0 && ys[1] == 76.0,
	    "all zero: a line at the bottom, no division by zero");

	draw("<b>x</b>", at, v, 2);
	CHECK(strstr(text, "<b>") == NULL && strstr(text, "&lt;b&gt;x") !=
	    NULL, "the label escaped");
	return tap_failed != 0;
}
