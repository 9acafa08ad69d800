/*
 * rotate.c: sqlsink's file series.  DB is a symlink to the current
 * file; a new file, named STEM-YYYYMMDDTHHMMSS.mmmZ.EXT so that names sort
 * by time, starts on size, age or SIGHUP, inherits the ids of the one
 * before, and only the newest --keep files are kept (all with --keep 0).
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sink.h"

static const char *db_link;		/* the stable name, a symlink */
static char db_dir[PATH_MAX];		/* its directory, "" or ending in / */
static char db_stem[NAME_MAX + 1], db_ext[NAME_MAX + 1];

#define STAMP_LEN 20			/* 20261125T201500.123Z */

static uint64_t cur_created_ms;	/* from the current file's name */

void
sink_names_init(const char *link)
{
	const char *base = strrchr(link, '/'), *dot;

	db_link = link;
	base = base ? base + 1 : link;
	if (*base == '\0' || strlen(base) > NAME_MAX - STAMP_LEN - 2)
		hm_errx(HM_EXIT_USAGE, "bad database name: %s", link);
	snprintf(db_dir, sizeof(db_dir), "%.*s", (int)(base - link), link);
	dot = strrchr(base, '.');
	if (dot == NULL || dot == base)
		dot = base + strlen(base);
	snprintf(db_stem, sizeof(db_stem), "%.*s", (int)(dot - base), base);
	snprintf(db_ext, sizeof(db_ext), "%s", dot);
}

const char *
sink_db_name(void)
{
	return db_link ? db_link : sink_cur_path;
}

/* The time in a rotated file's base name, or 0 if it is not one of ours. */
static uint64_t
name_time(const char *base)
{
	size_t sl = strlen(db_stem), el = strlen(db_ext), n = strlen(base);
	const char *s = base + sl + 1;
	struct tm tm;
	char *end;

	if (n != sl + 1 + STAMP_LEN + el || strncmp(base, db_stem, sl) != 0 ||
	    base[sl] != '-' || strcmp(base + n - el, db_ext) != 0)
		return 0;
	memset(&tm, 0, sizeof(tm));
	end = strptime(s, "%Y%m%dT%H%M%S", &tm);
	if (end != s + 15 || end[0] != '.' || end[4] != 'Z' ||
	    strspn(end + 1, "0123456789") < 3)
		return 0;
	return (uint64_t)timegm(&tm) * 1000 +
	    (uint64_t)((end[1] - '0') * 100 + (end[2] - '0') * 10 +
	    (end[3] - '0'));
}

static void
name_for(uint64_t ms, char *buf, size_t size)
{
	time_t sec = (time_t)(ms / 1000);
	char stamp[32];
	struct tm tm;

	gmtime_r(&sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%S", &tm);
	snprintf(buf, size, "%s-%s.%03uZ%s", db_stem, stamp,
	    (unsigned)(ms % 1000), db_ext);
}

/* Point the stable name at base, atomically (rename over it). */
static void
point_link(const char *base)
{
	if (hm_atomic_symlink(base, db_link) != 0)
		hm_err(HM_EXIT_FAIL, "%s", db_link);
}

static int
cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
remove_db_file(const char *base)
{
	static const char *const suffix[] = { "", "-wal", "-shm" };
	char path[PATH_MAX * 2];
	size_t i;

	for (i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s%s%s", db_dir, base, suffix[i]);
		if (unlink(path) != 0 && errno != ENOENT)
			SAY("%s: %s", path, strerror(errno));
	}
	if (sink_opt.verbose)
		SAY("removed %s%s", db_dir, base);
}

/* Keep the newest `keep` files of the series, never removing the current
   one; keep 0 keeps every file. */
static void
prune(void)
{
	const char *cur = strrchr(sink_cur_path, '/');
	char **names = NULL;
	size_t n = 0, cap = 0, i;
	struct dirent *de;
	DIR *d;

	if (sink_opt.keep == 0)
		return;
	if ((d = opendir(*db_dir ? db_dir : ".")) == NULL) {
		SAY("%s: %s", *db_dir ? db_dir : ".", strerror(errno));
		return;
	}
	cur = cur ? cur + 1 : sink_cur_path;
	while ((de = readdir(d)) != NULL) {
		if (name_time(de->d_name) == 0)
			continue;
		if (n == cap && (names = realloc(names,
		    (cap = cap ? 2 * cap : 16) * sizeof(*names))) == NULL)
			hm_err(HM_EXIT_FAIL, "realloc");
		if ((names[n++] = strdup(de->d_name)) == NULL)
			hm_err(HM_EXIT_FAIL, "strdup");
	}
	closedir(d);
	qsort(names, n, sizeof(*names), cmp_names);
	for (i = 0; i < n; i++) {
		if (i + sink_opt.keep < n && strcmp(names[i], cur) != 0)
			remove_db_file(names[i]);
		free(names[i]);
	}
	free(names);
}

/*
 * Start a new file, named after now (later than the current one even if
 * the clock stepped back), carry over the ids the old file learnt itself,
 * and point the stable name at it.
 */
void
sink_rotate(const char *why)
{
	char base[2 * NAME_MAX + 64], path[PATH_MAX * 2], prev[PATH_MAX];
	uint64_t ms = hm_now_ms();
	struct stat sb;

	if (ms <= cur_created_ms)
		ms = cur_created_ms + 1;
	for (;; ms++) {
		name_for(ms, base, sizeof(base));
		snprintf(path, sizeof(path), "%s%s", db_dir, base);
		if (lstat(path, &sb) != 0)
			break;
	}
	prev[0] = '\0';
	if (sink_db_is_open()) {
		snprintf(prev, sizeof(prev), "%s", sink_cur_path);
		sink_db_close();
	}
	sink_db_open(path);
	cur_created_ms = ms;
	if (prev[0] != '\0') {
		/* Ids the old file inherited itself are not passed on again,
		   so the set stays bounded: a retry is caught within about
		   two files' time. */
		char *sql = sqlite3_mprintf("ATTACH %Q AS prev;"
		    "INSERT OR IGNORE INTO ids (rid, inherited) SELECT rid, 1"
		    " FROM prev.ids WHERE inherited = 0; DETACH prev", prev);

		sink_db_exec(sql);
		sqlite3_free(sql);
	}
	point_link(base);
	sink_n.rotations += prev[0] != '\0';
	if (sink_opt.verbose)
		SAY("%s: new database%s%s", path, why ? ", rotated by " : "",
		    why ? why : "");
	prune();
}

/* Open the current file behind the stable name, or start one. */
void
sink_open_current(void)
{
	char target[PATH_MAX], path[PATH_MAX * 2];
	struct stat sb;
	ssize_t n;

	if (lstat(db_link, &sb) != 0) {
		if (errno != ENOENT)
			hm_err(HM_EXIT_FAIL, "%s", db_link);
		sink_rotate(NULL);
		return;
	}
	if (!S_ISLNK(sb.st_mode)) {
		/* The command is pasted into a shell: each path one word. */
		char base[2 * NAME_MAX + 64], file[PATH_MAX * 2];
		char qlink[PATH_MAX * 4 + 3], qfile[PATH_MAX * 8 + 3];
		char qbase[sizeof(base) * 4 + 3];

		name_for(hm_now_ms() / 1000 * 1000, base, sizeof(base));
		snprintf(file, sizeof(file), "%s%s", db_dir, base);
		hm_errx(HM_EXIT_FAIL, "%s: not a symlink: sqlsink keeps DB as "
		    "a link to the current file of a series, and leaves this "
		    "file alone; to adopt it (sqlsink(1)): mv %s %s && "
		    "ln -s %s %s; or name another DB", db_link,
		    hm_shquote(db_link, qlink, sizeof(qlink)),
		    hm_shquote(file, qfile, sizeof(qfile)),
		    hm_shquote(base, qbase, sizeof(qbase)),
		    hm_shquote(db_link, qlink, sizeof(qlink)));
	}
	n = readlink(db_link, target, sizeof(target) - 1);
	if (n < 0)
		hm_err(HM_EXIT_FAIL, "%s", db_link);
	target[n] = '\0';
	if (target[0] == '/')
		snprintf(path, sizeof(path), "%s", target);
	else
		snprintf(path, sizeof(path), "%s%s", db_dir, target);
	if (stat(path, &sb) != 0) {
		sink_rotate(NULL);	/* dangling: start afresh */
		return;
	}
	sink_db_open(path);
	cur_created_ms = name_time(strrchr(path, '/') ?
	    strrchr(path, '/') + 1 : path);
	if (cur_created_ms == 0)
		cur_created_ms = hm_now_ms();
	prune();
}

/* Size and age checks, after a commit. */
const char *
sink_rotation_due(void)
{
	if (sink_opt.max_size > 0 &&
	    (uint64_t)(sink_db_int("PRAGMA page_count") *
	    sink_db_int("PRAGMA page_size")) >= sink_opt.max_size)
		return "size";
	if (sink_opt.max_age_ms > 0 &&
	    hm_now_ms() - cur_created_ms >= sink_opt.max_age_ms)
		return "age";
	return NULL;
}
