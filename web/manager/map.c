/* map.c: the hub's map as SVG, drawn by hopmap-map (Graphviz) and kept in
   DIR/cache/, one file a node filter.  A file is drawn again only when
   the hub's database changed after the change the file was drawn from:
   the file's mtime is set to the database's newest mtime (its file or
   its WAL) as seen before drawing, so a commit during the drawing makes
   the next request draw again. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "manager/manager.h"

/* The newest mtime of the database's file and its WAL (the link the hub
   keeps is followed: a rotation is a newer file). */
static int
data_time(const char *db, struct timespec *t, char *err, size_t errlen)
{
	char real[PATH_MAX], wal[PATH_MAX + 8];
	struct stat sb;

	if (realpath(db, real) == NULL || stat(real, &sb) != 0) {
		snprintf(err, errlen, "%s: %s", db, strerror(errno));
		return -1;
	}
	*t = sb.st_mtim;
	snprintf(wal, sizeof wal, "%s-wal", real);
	if (stat(wal, &sb) == 0 && (sb.st_mtim.tv_sec > t->tv_sec ||
	    (sb.st_mtim.tv_sec == t->tv_sec &&
	    sb.st_mtim.tv_nsec > t->tv_nsec)))
		*t = sb.st_mtim;
	return 0;
}

int
mg_map_svg(const struct mg_config *cf, const char *node, char *path,
    size_t cap, char *err, size_t errlen)
{
	const char *prog = getenv("HOPMAP_MANAGER_MAP");
	char dir[PATH_MAX], *out = NULL;
	char *argv[] = { (char *)(prog != NULL && *prog != '\0' ? prog :
	    "hopmap-map"), "-f", "svg", "-o", path, (char *)cf->hub_db, NULL,
	    NULL, NULL };
	struct timespec t, times[2];
	struct stat sb;
	size_t len;
	int rc;

	if (cf->hub_db == NULL || *cf->hub_db == '\0') {
		snprintf(err, errlen, "no hub database is configured "
		    "(HOPMAP_MANAGER_HUB_DB)");
		return -1;
	}
	if (node != NULL && !mg_wname_ok(node)) {
		snprintf(err, errlen, "bad node name");
		return -1;
	}
	snprintf(dir, sizeof dir, "%s/cache", cf->dir);
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return -1;
	}
	if ((size_t)snprintf(path, cap, "%s/map-%s%s.svg", dir, node != NULL ?
	    "node-" : "all", node != NULL ? node : "") >= cap) {
		snprintf(err, errlen, "path too long");
		return -1;
	}
	if (data_time(cf->hub_db, &t, err, errlen) != 0)
		return -1;
	if (stat(path, &sb) == 0 && sb.st_mtim.tv_sec == t.tv_sec &&
	    sb.st_mtim.tv_nsec == t.tv_nsec)
		return 0;
	if (node != NULL) {
		argv[5] = "-n";
		argv[6] = (char *)node;
		argv[7] = (char *)cf->hub_db;
	}
	/* hopmap-map writes through a temporary file and a rename: two
	   requests drawing at once leave one whole file. */
	rc = mg_run(argv, NULL, &out, &len, 4096, err, errlen);
	free(out);
	if (rc != 0) {
		if (rc > 0)
			snprintf(err, errlen, "%s failed (exit %d; see the "
			    "server's error log)", argv[0], rc);
		return -1;
	}
	times[0] = t;
	times[1] = t;
	if (utimensat(AT_FDCWD, path, times, 0) != 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}
