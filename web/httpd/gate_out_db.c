/*
 * gate_out_db.c: the hub's database as the output reads it: every file
 * of the series sqlsink keeps (the map lasts across rotations, issue 9),
 * found as sh/lib/hopmap.sh db_series_sql finds them, so that /stats
 * counts what hopmap-status and hopmap-map count; and one read-only
 * connection to attach them to.  Nothing here writes.
 */
#include <sys/stat.h>

#include <glob.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "httpd/gate_out.h"

static int
add_file(struct go_series *s, const char *path)
{
	char real[PATH_MAX], **f;
	struct stat st;
	size_t i;

	if (realpath(path, real) == NULL || stat(real, &st) != 0 ||
	    !S_ISREG(st.st_mode))
		return 0;
	for (i = 0; i < s->n; i++)
		if (strcmp(s->file[i], real) == 0)
			return 0;
	if ((f = realloc(s->file, (s->n + 1) * sizeof *f)) == NULL)
		return -1;
	s->file = f;
	if ((s->file[s->n] = strdup(real)) == NULL)
		return -1;
	s->n++;
	return 0;
}

int
go_series_find(const char *db, struct go_series *s)
{
	char pat[PATH_MAX + 64], stem[PATH_MAX];
	const char *base, *dot;
	struct stat st;
	glob_t g;
	size_t i;
	int r = 0, n;

	memset(s, 0, sizeof *s);
	if (lstat(db, &st) != 0 || !S_ISLNK(st.st_mode))
		return add_file(s, db);
	/* DB is the series' link: STEM-YYYYMMDDTHHMMSS.mmmZ.EXT beside it,
	   oldest first (the names sort by time), then the current file
	   should it not be named so. */
	base = strrchr(db, '/');
	base = base != NULL ? base + 1 : db;
	dot = strrchr(base, '.');
	if (dot == NULL || dot == base)
		dot = base + strlen(base);
	snprintf(stem, sizeof stem, "%.*s", (int)(dot - db), db);
	n = snprintf(pat, sizeof pat, "%s-[0-9][0-9][0-9][0-9][0-9][0-9][0-9]"
	    "[0-9]T[0-9][0-9][0-9][0-9][0-9][0-9].[0-9][0-9][0-9]Z%s", stem,
	    dot);
	if (n > 0 && (size_t)n < sizeof pat && glob(pat, 0, NULL, &g) == 0) {
		for (i = 0; i < g.gl_pathc && r == 0; i++)
			r = add_file(s, g.gl_pathv[i]);
		globfree(&g);
	}
	return r != 0 ? r : add_file(s, db);
}

void
go_series_free(struct go_series *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		free(s->file[i]);
	free(s->file);
	memset(s, 0, sizeof *s);
}

sqlite3 *
go_db_reader(char *why, size_t whycap)
{
	sqlite3 *db;

	/* Read-only, so every file attached to it is opened read-only too;
	   its temporary tables are its own.  The sink commits often: wait
	   for it rather than fail. */
	if (sqlite3_open_v2(":memory:", &db, SQLITE_OPEN_READONLY,
	    NULL) != SQLITE_OK) {
		snprintf(why, whycap, "sqlite: %s", sqlite3_errmsg(db));
		sqlite3_close(db);
		return NULL;
	}
	sqlite3_busy_timeout(db, 5000);
	return db;
}

int
go_db_attach(sqlite3 *db, const char *file, char *why, size_t whycap)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(db, "ATTACH ?1 AS s", -1, &st, NULL) !=
	    SQLITE_OK) {
		snprintf(why, whycap, "sqlite: %s", sqlite3_errmsg(db));
		return -1;
	}
	sqlite3_bind_text(st, 1, file, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		snprintf(why, whycap, "%s: %s", file, sqlite3_errmsg(db));
		return -1;
	}
	return 0;
}

void
go_db_detach(sqlite3 *db)
{
	sqlite3_exec(db, "DETACH s", NULL, NULL, NULL);
}
