/* output.c: stdout buffering and an exit that notices failed writes. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

static char outbuf[256 * 1024];

void
hm_output_init(void)
{
	/* Block buffering for throughput; hm_lines_next flushes before it
	   waits for input, so a trickle of input still flows through. */
	setvbuf(stdout, outbuf, _IOFBF, sizeof(outbuf));
}

void
hm_exit(int status)
{
	hm_metrics_write(1);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "%s: standard output: %s\n", hm_prog,
		    strerror(errno));
		_Exit(HM_EXIT_FAIL);
	}
	if (fclose(stdout) != 0) {
		fprintf(stderr, "%s: standard output: %s\n", hm_prog,
		    strerror(errno));
		_Exit(HM_EXIT_FAIL);
	}
	exit(status);
}
