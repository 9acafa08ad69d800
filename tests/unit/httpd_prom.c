/* httpd_prom.c: the programs' metrics files merged (web/httpd/node_prom.c),
   and the bugs the fuzz target found in it. */
#include <stdlib.h>
#include <string.h>

#include "httpd/node_prom.h"
#include "tap.h"

static char *
merge(struct np_set *set, size_t *dropped)
{
	char *out = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&out, &len);

	*dropped = np_merge(set, fp);
	fclose(fp);
	return out;
}

int
main(void)
{
	struct np_file f[2] = {
		{ "a", "# HELP x_total things\n# TYPE x_total counter\n"
		    "x_total 1\ny 2\n", 0 },
		{ "b", "# HELP x_total other words\n# TYPE x_total counter\n"
		    "x_total 3\nbad line\n", 0 },
	};
	struct np_set set = { f, 2 };
	size_t dropped;
	char *out = merge(&set, &dropped);
	json_t *sum;

	CHECK(strcmp(out, "# HELP x_total things\n# TYPE x_total counter\n"
	    "x_total{program=\"a\"} 1\nx_total{program=\"b\"} 3\ny 2\n") == 0 &&
	    dropped == 1, "two files of one family: one HELP and TYPE, each "
	    "sample named by its file, the bad line left out");
	free(out);

	/* Regression (fuzz): a sample without labels in a shared family read
	   a label list at NULL. */
	f[0].text = "x 1\n";
	f[1].text = "x 2\n";
	out = merge(&set, &dropped);
	CHECK(strcmp(out, "x{program=\"a\"} 1\nx{program=\"b\"} 2\n") == 0,
	    "no labels, shared: program labels added");
	free(out);

	/* Regression (fuzz): a label value ending in a backslash at the end
	   of the line was read past it. */
	f[0].text = "x{a=\"b\\";
	set.n = 1;
	out = merge(&set, &dropped);
	CHECK(strcmp(out, "") == 0 && dropped == 1,
	    "a cut escape in a label: the line left out");
	free(out);

	/* Regression (fuzz): a value beyond a json_int_t was cast to one. */
	f[0].text = "x{program=\"p\"} 16666666666666666666\n";
	sum = np_summary(&set);
	CHECK(json_is_real(json_object_get(json_object_get(json_object_get(sum,
	    "a"), "metrics"), "x")), "a huge value is a real in /health");
	CHECK(strcmp(json_string_value(json_object_get(json_object_get(sum,
	    "a"), "program")), "p") == 0, "/health: the file's program");
	json_decref(sum);
	return tap_failed != 0;
}
