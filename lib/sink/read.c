/*
 * read.c: sqlsink's readers.  One poll() loop in the main thread
 * reads standard input and, with --listen, every connection to a Unix
 * stream socket, and packs their whole lines into chunks for the parsers;
 * a connection's last line without a newline is torn, and is reported.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sink.h"

struct source {
	int fd, is_conn;
	char name[PATH_MAX + 32];
	unsigned long lineno;
	char *buf;
	size_t cap, start, end;
	int skipping;		/* inside an over-long line */
	struct session *sess;	/* from the first line, or NULL */
	int refused;		/* a bad session line: no more reading */
};

static struct chunk *filling;	/* the reader's chunk being filled */

static void
flush_chunk(void)
{
	if (filling != NULL && (filling->nlines > 0 || filling->sess_end)) {
		sink_chunk_submit(filling);
		filling = NULL;
	}
}

/*
 * In the reader: a line of a source into the chunk, or a note about one
 * (over-long, torn), so that diagnostics come out in the input's order.
 */
static void
chunk_add(struct source *s, const char *text, size_t len, int note)
{
	struct chunk *c = filling;

	/* A chunk holds lines of one source, so it can name them; a note
	   keeps room for a NUL after it. */
	if (c != NULL && (c->nlines == CHUNK_LINES ||
	    c->used + len + 1 > c->cap || strcmp(c->name, s->name) != 0)) {
		flush_chunk();
		c = NULL;
	}
	if (c == NULL) {
		c = filling = sink_chunk_get();
		snprintf(c->name, sizeof(c->name), "%s", s->name);
		c->sess = s->sess;
	}
	if (len + 1 > c->cap &&
	    (c->text = realloc(c->text, c->cap = len + 1)) == NULL)
		hm_err(HM_EXIT_FAIL, "realloc");
	memcpy(c->text + c->used, text, len);
	c->off[c->nlines] = c->used;
	c->len[c->nlines] = len;
	c->note[c->nlines] = (unsigned char)note;
	c->lineno[c->nlines++] = s->lineno;
	c->used += len + note;
}

static void
note_line(struct source *s, const char *why)
{
	chunk_add(s, why, strlen(why), 1);
}

/*
 * A connection's first line may open a session (session.c); it is not
 * a record, and the records' lines are numbered from the next one, as in
 * the sender's file.  A bad session line is answered and ends the
 * connection: nothing of it is stored under a name it did not prove.
 */
static int
session_line(struct source *s, const char *line, size_t len)
{
	const char *why;

	if ((s->sess = sink_session_open(line, len, &why)) != NULL) {
		s->lineno = 0;
		if (sink_opt.verbose)
			SAY("%s: session of node %s%s%s", s->name,
			    s->sess->node, s->sess->segment[0] ? ", segment " :
			    "", s->sess->segment);
		return 1;
	}
	if (why == NULL)
		return 0;
	SAY("%s:1: refused: %s", s->name, why);
	__atomic_fetch_add(&sink_n.bad, 1, __ATOMIC_RELAXED);
	hm_stats_reason(why);
	sink_session_refuse(s->fd, why);
	s->refused = 1;
	return 1;
}

static void
handle_line(struct source *s, char *line, size_t len)
{
	s->lineno++;
	__atomic_fetch_add(&sink_n.lines, 1, __ATOMIC_RELAXED);
	if (len > 0 && line[len - 1] == '\r')
		len--;
	if (s->is_conn && s->lineno == 1 && s->sess == NULL &&
	    len <= hm_opt.maxline && session_line(s, line, len))
		return;
	if (len > hm_opt.maxline)
		note_line(s, "line too long, skipped");
	else
		chunk_add(s, line, len, 0);
}

/* Hand over every whole line in the buffer; skip over-long ones. */
static void
split_lines(struct source *s, size_t scan)
{
	char *nl;

	while ((nl = memchr(s->buf + scan, '\n', s->end - scan)) != NULL) {
		size_t len = (size_t)(nl - (s->buf + s->start));

		if (sink_strict_stopped || s->refused)
			break;
		if (s->skipping)
			s->skipping = 0;	/* the tail of a long line */
		else
			handle_line(s, s->buf + s->start, len);
		s->start = scan = (size_t)(nl - s->buf) + 1;
	}
	if (!s->skipping && s->end - s->start > hm_opt.maxline + 1) {
		/* No newline within the limit: report it now, then drop
		   bytes until its end, so memory stays bounded. */
		s->lineno++;
		__atomic_fetch_add(&sink_n.lines, 1, __ATOMIC_RELAXED);
		note_line(s, "line too long, skipped");
		s->skipping = 1;
	}
	if (s->skipping)
		s->start = s->end;
	if (s->start == s->end)
		s->start = s->end = 0;
}

/*
 * At the end of a source, what is left has no newline.  At the end of
 * standard input that is a last line, as for every filter; anywhere else
 * (a connection, or a stop before the end) the line is torn.
 */
static void
finish_source(struct source *s, const char *how, int at_eof)
{
	size_t left = s->end - s->start;
	char why[96];

	if (left == 0 || s->skipping || s->refused)
		return;
	if (!s->is_conn && at_eof) {
		handle_line(s, s->buf + s->start, left);
		return;
	}
	__atomic_fetch_add(&sink_n.torn, 1, __ATOMIC_RELAXED);
	s->lineno++;
	snprintf(why, sizeof(why), "torn last line (%zu bytes without a "
	    "newline) %s, not stored", left, how);
	note_line(s, why);
}

/* What a read gave: the end (the source is finished), lines, nothing yet. */
enum { RS_END = 0, RS_DATA, RS_NOTHING };

static int
read_source(struct source *s)
{
	size_t limit = hm_opt.maxline + 2 + 65536;
	ssize_t n;

	if (s->start > 0 && s->end == s->cap) {
		memmove(s->buf, s->buf + s->start, s->end - s->start);
		s->end -= s->start;
		s->start = 0;
	}
	if (s->end == s->cap && s->cap < limit) {
		s->cap = s->cap * 2 < limit ? s->cap * 2 : limit;
		if ((s->buf = realloc(s->buf, s->cap)) == NULL)
			hm_err(HM_EXIT_FAIL, "realloc");
	}
	n = read(s->fd, s->buf + s->end, s->cap - s->end);
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return RS_NOTHING;
		SAY("%s: %s", s->name, strerror(errno));
		finish_source(s, "after a read error", 0);
		return RS_END;
	}
	if (n == 0) {
		finish_source(s, "at disconnect", 1);
		return RS_END;
	}
	s->end += (size_t)n;
	split_lines(s, s->end - (size_t)n);
	return s->refused ? RS_END : RS_DATA;
}

static struct source *
source_new(int fd, int is_conn, size_t cap)
{
	struct source *s = calloc(1, sizeof(*s));

	if (s == NULL || (s->buf = malloc(cap)) == NULL)
		hm_err(HM_EXIT_FAIL, "malloc");
	s->fd = fd;
	s->is_conn = is_conn;
	s->cap = cap;
	return s;
}

static void
source_free(struct source *s)
{
	if (s->fd > 0)
		close(s->fd);
	free(s->buf);
	free(s);
}

/* ---- the listening socket ---- */

/* The address of the socket at path, for the listener and --send alike. */
void
sink_unix_addr(struct sockaddr_un *sun, const char *path)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun->sun_path))
		hm_errx(HM_EXIT_USAGE, "socket path is too long: %s", path);
	strcpy(sun->sun_path, path);
}

static int
listen_open(const char *path)
{
	struct sockaddr_un sun;
	mode_t old;
	int fd;

	sink_unix_addr(&sun, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		hm_err(HM_EXIT_FAIL, "socket");
	/* A socket file left by a dead sink is replaced; a live one is not. */
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0)
		hm_errx(HM_EXIT_FAIL, "%s: another process is listening", path);
	if (errno == ECONNREFUSED) {
		struct stat sb;

		if (lstat(path, &sb) == 0 && S_ISSOCK(sb.st_mode))
			unlink(path);
	}
	close(fd);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		hm_err(HM_EXIT_FAIL, "socket");
	/* Whoever may connect may store rows under any name: the socket is
	   made with --socket-mode whatever the umask (no thread runs yet, so
	   the process-wide umask is ours for the bind), and set to it
	   exactly after. */
	old = umask(0777 & ~(mode_t)sink_opt.socket_mode);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0)
		hm_err(HM_EXIT_FAIL, "%s", path);
	umask(old);
	if (chmod(path, (mode_t)sink_opt.socket_mode) != 0 ||
	    listen(fd, 128) != 0)
		hm_err(HM_EXIT_FAIL, "%s", path);
	return fd;
}

/* Accept all waiting connections; -1 when out of descriptors. */
static int
accept_all(int lfd, struct source ***conns, size_t *nconns, size_t *cap)
{
	static unsigned long serial;
	struct ucred cred;
	socklen_t cl = sizeof(cred);
	struct source *s;
	int fd;

	while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC))
	    >= 0) {
		if (*nconns == *cap && (*conns = realloc(*conns,
		    (*cap = *cap ? *cap * 2 : 16) * sizeof(**conns))) == NULL)
			hm_err(HM_EXIT_FAIL, "realloc");
		s = source_new(fd, 1, 16384);
		snprintf(s->name, sizeof(s->name), "%s#%lu",
		    sink_opt.listen_path, ++serial);
		(*conns)[(*nconns)++] = s;
		__atomic_fetch_add(&sink_n.conns, 1, __ATOMIC_RELAXED);
		__atomic_fetch_add(&sink_n.conns_open, 1, __ATOMIC_RELAXED);
		if (sink_opt.verbose) {
			memset(&cred, 0, sizeof(cred));
			getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl);
			SAY("%s: connected (pid %ld, uid %ld)", s->name,
			    (long)cred.pid, (long)cred.uid);
		}
	}
	if (errno == EMFILE || errno == ENFILE) {
		SAY("%s: accept: %s", sink_opt.listen_path, strerror(errno));
		return -1;
	}
	return 0;
}

/* ---- the reader loop ---- */

static struct source *in_stdin;
static struct source **conns;
static size_t nconns, conncap;
static int lfd = -1;

/* Standard input unless --no-stdin, and the socket with --listen. */
void
sink_readers_open(void)
{
	if (sink_opt.listen_path != NULL)
		lfd = listen_open(sink_opt.listen_path);
	if (!sink_opt.no_stdin)
		in_stdin = source_new(0, 0, 256 * 1024);
	if (in_stdin != NULL)
		snprintf(in_stdin->name, sizeof(in_stdin->name), "(stdin)");
}

/*
 * A session's end: its last chunk says so, and takes the connection to the
 * writer, which answers on it after the commit and closes it.  complete is
 * 0 when the sink stops before the sender half-closed.
 */
static void
session_end(struct source *s, int complete)
{
	struct session *ss = s->sess;

	if (filling == NULL || strcmp(filling->name, s->name) != 0) {
		flush_chunk();
		filling = sink_chunk_get();
		snprintf(filling->name, sizeof(filling->name), "%s", s->name);
		filling->sess = ss;
	}
	ss->fd = s->fd;
	ss->lines = s->lineno;
	ss->complete = complete;
	s->fd = -1;
	s->sess = NULL;
	filling->sess_end = 1;
	flush_chunk();
}

static void
close_conn(size_t i, int complete)
{
	if (sink_opt.verbose)
		SAY("%s: closed after %lu lines", conns[i]->name,
		    conns[i]->lineno);
	if (conns[i]->sess != NULL)
		session_end(conns[i], complete);
	source_free(conns[i]);
	conns[i] = conns[--nconns];
	__atomic_fetch_sub(&sink_n.conns_open, 1, __ATOMIC_RELAXED);
}

void
sink_reader_loop(const sigset_t *unblocked)
{
	struct pollfd *pfd = NULL;
	size_t npfd = 0, n, i, base;
	uint64_t paused_until = 0;

	while (!hm_stop) {
		int timeout = -1;
		struct timespec ts, *tsp = NULL;

		if (hm_hup) {
			hm_hup = 0;
			sink_pipe_rotate();
		}
		n = 0;
		if (npfd < nconns + 2 &&
		    (pfd = realloc(pfd, (npfd = nconns + 16) *
		    sizeof(*pfd))) == NULL)
			hm_err(HM_EXIT_FAIL, "realloc");
		if (in_stdin != NULL)
			pfd[n++] = (struct pollfd){ .fd = 0, .events = POLLIN };
		if (lfd >= 0 && hm_mono_ms() >= paused_until)
			pfd[n++] = (struct pollfd){ .fd = lfd, .events = POLLIN };
		else if (lfd >= 0)
			timeout = 1000;
		base = n;
		for (i = 0; i < nconns; i++)
			pfd[n++] = (struct pollfd){ .fd = conns[i]->fd,
			    .events = POLLIN };
		if (n == 0)
			break;		/* stdin done, not listening */
		/* About to wait: the writer gets what we have. */
		flush_chunk();
		if (timeout >= 0) {
			ts = (struct timespec){ timeout / 1000, 0 };
			tsp = &ts;
		}
		if (ppoll(pfd, n, tsp, unblocked) < 0) {
			if (errno == EINTR)
				continue;
			hm_err(HM_EXIT_FAIL, "poll");
		}
		for (i = 0; i < n; i++) {
			if (pfd[i].revents == 0)
				continue;
			if (pfd[i].fd == lfd && i < base) {
				if (accept_all(lfd, &conns, &nconns,
				    &conncap) < 0)
					paused_until = hm_mono_ms() + 1000;
			} else if (i < base) {
				if (!read_source(in_stdin)) {
					source_free(in_stdin);
					in_stdin = NULL;
				}
			}
		}
		/* Connections last: close_conn reorders the array. */
		for (i = n; i-- > base;)
			if (pfd[i].revents != 0 && !read_source(conns[i - base]))
				close_conn(i - base, 1);
	}
	flush_chunk();
	free(pfd);
}

/*
 * Stopping: what writers sent before the signal is stored, as far as it
 * is already here (waiting connections included); reading stops at the
 * first moment a connection has nothing more, so a writer that keeps on
 * writing cannot hold the stop up for long.
 */
static void
readers_drain(void)
{
	size_t i;
	int n, r = RS_DATA;

	if (lfd >= 0)
		accept_all(lfd, &conns, &nconns, &conncap);
	for (i = nconns; i-- > 0;) {
		for (n = 0; n < 64 && (r = read_source(conns[i])) == RS_DATA;
		    n++)
			;
		if (r == RS_END)
			close_conn(i, 1);
	}
}

/* Stop: lines already read are stored, half lines are reported. */
void
sink_readers_close(void)
{
	if (!sink_strict_stopped)
		readers_drain();
	while (nconns > 0) {
		finish_source(conns[nconns - 1], "at shutdown", 0);
		close_conn(nconns - 1, 0);
	}
	if (in_stdin != NULL) {
		finish_source(in_stdin, "at shutdown", 0);
		source_free(in_stdin);
		in_stdin = NULL;
	}
	flush_chunk();
	if (lfd >= 0) {
		close(lfd);
		unlink(sink_opt.listen_path);
	}
	free(conns);
}

