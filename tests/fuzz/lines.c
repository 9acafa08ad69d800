/* libFuzzer target: the bounded line reader over arbitrary bytes.  Every
   line it returns is within the ceiling and free of newlines. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[] = "/tmp/hopmap-fuzz.XXXXXX";
	int fd = mkstemp(path);
	struct hm_lines lr;
	char *line;
	/* Small ceilings to meet often, and the default one. */
	size_t len, maxline = size && (data[0] & 0x80) ? HM_MAXLINE_DEFAULT :
	    1 + (size ? data[0] % 64 : 0);

	if (fd < 0 || write(fd, data, size) != (ssize_t)size)
		abort();
	close(fd);
	if (hm_lines_open(&lr, path, maxline) != 0)
		abort();
	while (hm_lines_next(&lr, &line, &len) == 1)
		if (len > maxline || memchr(line, '\n', len) || line[len] != '\0')
			abort();
	hm_lines_close(&lr);
	unlink(path);
	return 0;
}
