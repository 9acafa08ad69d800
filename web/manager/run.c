/* run.c: run a helper program (curl, hopmap-httpd, hopmap-map) without a
   shell: its arguments as given, what it should read written to its stdin
   (so a key never shows in ps), its stdout read back (bounded) or handed
   over as a pipe to stream, and its exit code. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "manager/manager.h"

extern char **environ;

int
mg_spawn(char *const argv[], const char *in, pid_t *pid, int *outfd,
    char *err, size_t errlen)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	int ip[2] = { -1, -1 }, op[2] = { -1, -1 }, rc;
	size_t inlen = in != NULL ? strlen(in) : 0;
	sigset_t def;

	if (pipe2(ip, O_CLOEXEC) != 0 || pipe2(op, O_CLOEXEC) != 0) {
		snprintf(err, errlen, "%s: %s", argv[0], strerror(errno));
		goto fail;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, ip[0], 0);
	posix_spawn_file_actions_adddup2(&fa, op[1], 1);
	/* SIGPIPE ignored here is the default there. */
	posix_spawnattr_init(&at);
	sigemptyset(&def);
	sigaddset(&def, SIGPIPE);
	posix_spawnattr_setsigdefault(&at, &def);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGDEF);
	rc = posix_spawnp(pid, argv[0], &fa, &at, argv, environ);
	posix_spawnattr_destroy(&at);
	posix_spawn_file_actions_destroy(&fa);
	close(ip[0]);
	close(op[1]);
	ip[0] = op[1] = -1;
	if (rc != 0) {
		snprintf(err, errlen, "%s: %s", argv[0], strerror(rc));
		goto fail;
	}
	/* The input is a few lines, far below a pipe's buffer: written whole
	   before reading, it cannot deadlock.  A helper that left already
	   makes this EPIPE, which its exit code then tells about. */
	signal(SIGPIPE, SIG_IGN);
	if (inlen > 0 && write(ip[1], in, inlen) < 0 && errno != EPIPE)
		snprintf(err, errlen, "%s: %s", argv[0], strerror(errno));
	close(ip[1]);
	*outfd = op[0];
	return 0;
fail:
	for (int i = 0; i < 2; i++) {
		if (ip[i] >= 0)
			close(ip[i]);
		if (op[i] >= 0)
			close(op[i]);
	}
	return -1;
}

int
mg_wait(pid_t pid, const char *name, char *err, size_t errlen)
{
	int st = 0;

	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR) {
			snprintf(err, errlen, "%s: %s", name, strerror(errno));
			return -1;
		}
	if (!WIFEXITED(st)) {
		snprintf(err, errlen, "%s: killed by signal %d", name,
		    WIFSIGNALED(st) ? WTERMSIG(st) : 0);
		return -1;
	}
	return WEXITSTATUS(st);
}

int
mg_run(char *const argv[], const char *in, char **out, size_t *outlen,
    size_t cap, char *err, size_t errlen)
{
	char *buf = malloc(cap + 1);
	size_t len = 0;
	ssize_t n;
	pid_t pid;
	int fd;

	*out = NULL;
	*outlen = 0;
	if (buf == NULL) {
		snprintf(err, errlen, "%s: out of memory", argv[0]);
		return -1;
	}
	if (mg_spawn(argv, in, &pid, &fd, err, errlen) != 0) {
		free(buf);
		return -1;
	}
	while ((n = read(fd, buf + len, cap - len)) > 0 ||
	    (n < 0 && errno == EINTR))
		if (n > 0 && (len += (size_t)n) == cap)
			break;
	/* Past cap the helper is not read further: it gets EPIPE. */
	close(fd);
	buf[len] = '\0';
	*out = buf;
	*outlen = len;
	return mg_wait(pid, argv[0], err, errlen);
}
