/* chart.c: a small line chart as inline SVG, drawn on the server (the
   pages have no script): one count over time, its axis from 0 to its
   largest value, the newest value and the span written beside it. */
#include <inttypes.h>
#include <stdio.h>

#include "manager/manager.h"

#define W 320		/* the plot's width and height, in SVG units */
#define H 80
#define PAD 4

void
mg_chart(FILE *out, const char *id, const char *label, const int64_t *at,
    const int64_t *v, size_t n)
{
	int64_t max = 0, t0, span;
	size_t i;

	fputs("<figure class=\"chart\"><figcaption>", out);
	mg_html(out, label);
	if (n == 0) {
		fputs(": no samples yet (<code>hopmap-manager poll</code> "
		    "records one each minute)</figcaption></figure>\n", out);
		return;
	}
	for (i = 0; i < n; i++)
		if (v[i] > max)
			max = v[i];
	t0 = at[0];
	span = at[n - 1] - t0;
	fprintf(out, ": <span class=\"n\">%" PRId64 "</span> now, at most "
	    "%" PRId64 " over %" PRId64 " min</figcaption>\n", v[n - 1], max,
	    span / 60);
	fprintf(out, "<svg id=\"chart-%s\" width=\"%d\" height=\"%d\" "
	    "viewBox=\"0 0 %d %d\" role=\"img\" "
	    "xmlns=\"http://www.w3.org/2000/svg\"><title>", id, W, H, W, H);
	mg_html(out, label);
	fprintf(out, "</title><rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" "
	    "fill=\"#f8f8f8\" stroke=\"#ccc\"/><polyline fill=\"none\" "
	    "stroke=\"#2060a0\" stroke-width=\"1.5\" points=\"", W, H);
	for (i = 0; i < n; i++) {
		/* One sample spans the width as a flat line. */
		double x = n == 1 ? (i == 0 ? PAD : W - PAD) : PAD +
		    (double)(W - 2 * PAD) * (double)(at[i] - t0) /
		    (double)(span > 0 ? span : 1);
		double y = H - PAD - (max > 0 ? (double)(H - 2 * PAD) *
		    (double)v[i] / (double)max : 0);

		fprintf(out, "%s%.1f,%.1f", i > 0 ? " " : "", x, y);
		if (n == 1)
			fprintf(out, " %.1f,%.1f", (double)(W - PAD), y);
	}
	fputs("\"/></svg></figure>\n", out);
}
