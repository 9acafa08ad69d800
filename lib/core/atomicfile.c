/*
 * atomicfile.c: write a file so that a reader sees the old version or the
 * new one, never half of one, and so that nobody else's file is written.
 *
 * The new version goes to a temporary name beside the target (the rename
 * must stay within one file system), created with O_CREAT|O_EXCL|O_NOFOLLOW:
 * whatever is planted at that name (a symlink to /etc/passwd, a file of
 * someone else's), the open fails rather than follows or truncates it.  The
 * name ends in random letters, so it cannot be planted ahead of time either
 * (PATH.tmp.PID could), and the open is retried under another name if one
 * happens to exist.  The mode is set with fchmod, so the umask does not
 * decide who may read the file.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core.h"

#define TMP_TRIES 16

int
hm_atomic_tmpname(const char *path, char *buf, size_t size)
{
	static const char letters[] =
	    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
	uint8_t rnd[10];
	size_t n, i;

	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		return -1;
	n = (size_t)snprintf(buf, size, "%s.tmp.", path);
	if (n + sizeof(rnd) + 1 > size) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (i = 0; i < sizeof(rnd); i++)
		buf[n + i] = letters[rnd[i] % (sizeof(letters) - 1)];
	buf[n + i] = '\0';
	return 0;
}

int
hm_atomic_open(struct hm_atomic *a, const char *path, mode_t mode, int sync)
{
	int fd = -1, tries, saved;

	a->path = path;
	a->sync = sync;
	a->fp = NULL;
	for (tries = 0; tries < TMP_TRIES; tries++) {
		if (hm_atomic_tmpname(path, a->tmp, sizeof(a->tmp)) != 0)
			return -1;
		fd = open(a->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
		    O_CLOEXEC, mode & 0777);
		if (fd >= 0 || errno != EEXIST)
			break;
	}
	if (fd < 0)
		return -1;
	if (fchmod(fd, mode & 0777) != 0 ||
	    (a->fp = fdopen(fd, "w")) == NULL) {
		saved = errno;
		close(fd);
		unlink(a->tmp);
		errno = saved;
		return -1;
	}
	return 0;
}

int
hm_atomic_commit(struct hm_atomic *a)
{
	int bad, saved;

	bad = fflush(a->fp) != 0 || ferror(a->fp) ||
	    (a->sync && fsync(fileno(a->fp)) != 0);
	saved = errno;
	if (fclose(a->fp) != 0 && !bad) {
		bad = 1;
		saved = errno;
	}
	a->fp = NULL;
	if (!bad && rename(a->tmp, a->path) == 0)
		return 0;
	if (!bad)
		saved = errno;
	unlink(a->tmp);
	errno = saved;
	return -1;
}

void
hm_atomic_abort(struct hm_atomic *a)
{
	int saved = errno;

	if (a->fp != NULL)
		fclose(a->fp);
	a->fp = NULL;
	unlink(a->tmp);
	errno = saved;
}

int
hm_atomic_symlink(const char *target, const char *path)
{
	char tmp[4096];
	int tries, saved;

	/* symlink() never follows what is at its new name: it fails with
	   EEXIST, and another name is tried. */
	for (tries = 0; tries < TMP_TRIES; tries++) {
		if (hm_atomic_tmpname(path, tmp, sizeof(tmp)) != 0)
			return -1;
		if (symlink(target, tmp) == 0)
			break;
		if (errno != EEXIST)
			return -1;
	}
	if (tries == TMP_TRIES)
		return -1;
	if (rename(tmp, path) != 0) {
		saved = errno;
		unlink(tmp);
		errno = saved;
		return -1;
	}
	return 0;
}

int
hm_mkparents(const char *path)
{
	char dir[4096];
	size_t len = strlen(path), i;

	if (len >= sizeof(dir)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(dir, path, len + 1);
	/* Up to the last slash: the directory part, as given. */
	while (len > 0 && dir[len - 1] != '/')
		len--;
	dir[len] = '\0';
	for (i = 1; i <= len; i++) {
		if (dir[i] != '/' && dir[i] != '\0')
			continue;
		dir[i] = '\0';
		if (mkdir(dir, 0755) != 0 && errno != EEXIST)
			return -1;
		if (i < len)
			dir[i] = '/';
	}
	return 0;
}
