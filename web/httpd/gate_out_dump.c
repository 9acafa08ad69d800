/*
 * gate_out_dump.c: GET /dump and POST /rotate.
 *
 * /dump copies the current file with SQLite's online backup API in one
 * step: one read transaction for the whole copy, so the copy is the
 * database as one commit left it, and in WAL mode (the sink's) a reader
 * does not stop the sink's commits meanwhile.  The copy is a temporary
 * file in the hub's directory (its disk, not a tmpfs), made self-contained
 * (journal_mode DELETE), streamed by the server and unlinked once sent.
 *
 * /rotate asks the hub's sink for a new file (SIGHUP, as sqlsink(1)
 * says; the pid is the one hopmap-hub serve writes) and answers once the
 * series' link names the new file.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "httpd/gate_out.h"

/* Copy the database at SRC into DST (an empty file); 0 or -1 with WHY. */
static int
backup(const char *src, const char *dst, char *why, size_t whycap)
{
	sqlite3 *from = NULL, *to = NULL;
	sqlite3_backup *b;
	int rc = -1;

	if (sqlite3_open_v2(src, &from, SQLITE_OPEN_READONLY, NULL) !=
	    SQLITE_OK || sqlite3_open_v2(dst, &to, SQLITE_OPEN_READWRITE,
	    NULL) != SQLITE_OK) {
		snprintf(why, whycap, "sqlite: %s", sqlite3_errmsg(from != NULL
		    && sqlite3_errcode(from) != SQLITE_OK ? from : to));
		goto out;
	}
	sqlite3_busy_timeout(from, 5000);
	sqlite3_busy_timeout(to, 5000);
	if ((b = sqlite3_backup_init(to, "main", from, "main")) == NULL) {
		snprintf(why, whycap, "sqlite: %s", sqlite3_errmsg(to));
		goto out;
	}
	/* All pages in one step: one snapshot, however long it takes. */
	while ((rc = sqlite3_backup_step(b, -1)) == SQLITE_BUSY ||
	    rc == SQLITE_LOCKED)
		sqlite3_sleep(50);
	sqlite3_backup_finish(b);
	if (rc != SQLITE_DONE) {
		snprintf(why, whycap, "backup: %s", sqlite3_errstr(rc));
		rc = -1;
		goto out;
	}
	/* The copy stands alone: no -wal beside it to lose. */
	if (sqlite3_exec(to, "PRAGMA journal_mode = DELETE", NULL, NULL,
	    NULL) != SQLITE_OK) {
		snprintf(why, whycap, "sqlite: %s", sqlite3_errmsg(to));
		rc = -1;
		goto out;
	}
	rc = 0;
out:
	sqlite3_close(from);
	sqlite3_close(to);
	return rc;
}

void
go_dump(struct hx_req *req, struct hx_resp *resp)
{
	char src[PATH_MAX], tmp[PATH_MAX], why[PATH_MAX + 64], name[64];
	const char *dir = req->ctx->hub_dir != NULL ? req->ctx->hub_dir : ".";
	struct tm tm;
	time_t now = time(NULL);
	int fd;

	why[0] = '\0';
	if (realpath(req->ctx->db_path, src) == NULL) {
		hx_error(resp, 503, "%s: no database yet", req->ctx->db_path);
		return;
	}
	if ((size_t)snprintf(tmp, sizeof tmp, "%s/.dump.XXXXXX", dir) >=
	    sizeof tmp || (fd = mkstemp(tmp)) < 0) {
		hx_error(resp, 503, "a temporary file in %s: %s", dir,
		    strerror(errno));
		return;
	}
	close(fd);
	if (backup(src, tmp, why, sizeof why) != 0 ||
	    (fd = open(tmp, O_RDONLY | O_CLOEXEC)) < 0) {
		if (why[0] == '\0')
			snprintf(why, sizeof why, "%s", strerror(errno));
		unlink(tmp);
		hx_error(resp, 503, "%s", why);
		return;
	}
	gmtime_r(&now, &tm);
	strftime(name, sizeof name, "hopmap-%Y%m%dT%H%M%SZ.db", &tm);
	resp->status = 200;
	resp->type = "application/vnd.sqlite3";
	resp->fd = fd;
	resp->unlink_path = strdup(tmp);
	resp->header_name = (char *)"Content-Disposition";
	if (asprintf(&resp->header_value, "attachment; filename=\"%s\"",
	    name) < 0) {
		resp->header_name = NULL;
		resp->header_value = NULL;
	}
	if (resp->unlink_path == NULL)
		unlink(tmp);
}

/* The sink's pid, from the file hopmap-hub serve keeps, if it is a live
   sqlsink (not a pid used again since). */
static pid_t
sink_pid(const char *hub)
{
	char path[PATH_MAX], comm[32];
	long pid = 0;
	FILE *f;

	snprintf(path, sizeof path, "%s/sqlsink.pid", hub);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	if (fscanf(f, "%ld", &pid) != 1 || pid <= 1)
		pid = -1;
	fclose(f);
	snprintf(path, sizeof path, "/proc/%ld/comm", pid);
	if (pid <= 1 || (f = fopen(path, "r")) == NULL)
		return -1;
	if (fgets(comm, sizeof comm, f) == NULL ||
	    strncmp(comm, "sqlsink", 7) != 0)
		pid = -1;
	fclose(f);
	return (pid_t)pid;
}

static int
current(const char *link, char *buf, size_t cap)
{
	ssize_t n = readlink(link, buf, cap - 1);

	if (n < 0)
		return -1;
	buf[n] = '\0';
	return 0;
}

void
go_rotate(struct hx_req *req, struct hx_resp *resp)
{
	char before[PATH_MAX], after[PATH_MAX];
	const char *hub = req->ctx->hub_dir;
	pid_t pid;
	int i;

	if (!req->admin) {
		hx_error(resp, 403, "POST /rotate needs an admin key");
		return;
	}
	if (hub == NULL || (pid = sink_pid(hub)) < 0) {
		hx_error(resp, 503, "the hub's sink is not running");
		return;
	}
	if (current(req->ctx->db_path, before, sizeof before) != 0) {
		hx_error(resp, 503, "%s is not the series' link",
		    req->ctx->db_path);
		return;
	}
	if (kill(pid, SIGHUP) != 0) {
		hx_error(resp, 503, "the hub's sink: %s", strerror(errno));
		return;
	}
	/* The writer starts the new file between two batches. */
	for (i = 0; i < 200; i++) {
		if (current(req->ctx->db_path, after, sizeof after) == 0 &&
		    strcmp(after, before) != 0) {
			hx_json(resp, 200, json_pack("{s:s,s:s}", "file",
			    after, "previous", before));
			return;
		}
		usleep(50000);
	}
	hx_error(resp, 503, "the sink started no new file in 10 s");
}
