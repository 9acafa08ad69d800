/*
 * cgi.c: hopmap-httpd --manager DIR: the manager (manager.cgi) run as a
 * CGI/1.1 program (RFC 3875) for each request under /manager/.  The
 * request's meta-variables and the daemon's own HOPMAP_* settings make
 * its environment, its body is its stdin (a memfd, so a body is never
 * written into a pipe that nobody reads), and its output is read back: the
 * header lines (Status, Location, Set-Cookie, ...) parsed here, the body
 * streamed as it comes.  A CGI that says nothing for --timeout seconds is
 * killed.  No libmicrohttpd here: server.c turns the result into an
 * answer, and the unit test parses output without a daemon.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/core.h"
#include "httpd/server.h"

extern char **environ;

#define HEAD_MAX 16384		/* bytes of the CGI's header lines */

static char cgi_program[PATH_MAX];
static char **base_env;		/* the daemon's part of every CGI's env */
static size_t base_n;

/* Variables the CGI keeps from the daemon's environment. */
static int
passed(const char *kv)
{
	static const char *const keep[] = { "PATH=", "TZ=", "LANG=",
	    "LC_ALL=", "HOPMAP_", "ASAN_OPTIONS=", "UBSAN_OPTIONS=",
	    "LSAN_OPTIONS=", NULL };

	for (int i = 0; keep[i] != NULL; i++)
		if (strncmp(kv, keep[i], strlen(keep[i])) == 0)
			return 1;
	return 0;
}

static int
env_add(char ***env, size_t *n, const char *name, const char *value)
{
	char **e = realloc(*env, (*n + 2) * sizeof *e);

	if (e == NULL)
		return -1;
	*env = e;
	if (asprintf(&e[*n], "%s=%s", name, value) < 0)
		return -1;
	e[++*n] = NULL;
	return 0;
}

static int
env_has(char **env, size_t n, const char *name)
{
	size_t len = strlen(name);

	for (size_t i = 0; i < n; i++)
		if (strncmp(env[i], name, len) == 0 && env[i][len] == '=')
			return 1;
	return 0;
}

int
hs_cgi_setup(const char *manager_dir, const struct hx_ctx *ctx,
    const char *self_url)
{
	const char *p = getenv("HOPMAP_MANAGER_CGI");
	char exe[PATH_MAX];
	ssize_t n;

	if (p != NULL && *p != '\0')
		snprintf(cgi_program, sizeof cgi_program, "%s", p);
	else {
		/* Installed beside hopmap-httpd (make install, bin/). */
		if ((n = readlink("/proc/self/exe", exe, sizeof exe - 1)) < 0) {
			hm_warn("/proc/self/exe");
			return -1;
		}
		exe[n] = '\0';
		*strrchr(exe, '/') = '\0';
		if ((size_t)snprintf(cgi_program, sizeof cgi_program,
		    "%s/manager.cgi", exe) >= sizeof cgi_program) {
			hm_warnx("--manager: %s: path too long", exe);
			return -1;
		}
	}
	if (access(cgi_program, X_OK) != 0) {
		hm_warn("--manager: %s (set HOPMAP_MANAGER_CGI)", cgi_program);
		return -1;
	}
	for (char **e = environ; *e != NULL; e++)
		if (passed(*e) && strncmp(*e, "HOPMAP_MANAGER_DIR=", 19) != 0) {
			char **b = realloc(base_env, (base_n + 2) *
			    sizeof *b);

			if (b == NULL || (b[base_n] = strdup(*e)) == NULL)
				return -1;
			base_env = b;
			b[++base_n] = NULL;
		}
	if (env_add(&base_env, &base_n, "HOPMAP_MANAGER_DIR", manager_dir))
		return -1;
	/* A hub's daemon tells the manager where the hub is, unless the
	   environment says otherwise. */
	if (ctx->hub_dir != NULL) {
		if (!env_has(base_env, base_n, "HOPMAP_MANAGER_HUB_DB") &&
		    env_add(&base_env, &base_n, "HOPMAP_MANAGER_HUB_DB",
		    ctx->db_path))
			return -1;
		if (!env_has(base_env, base_n, "HOPMAP_MANAGER_HUB_DIR") &&
		    env_add(&base_env, &base_n, "HOPMAP_MANAGER_HUB_DIR",
		    ctx->hub_dir))
			return -1;
		if (!env_has(base_env, base_n, "HOPMAP_MANAGER_HUB_URL") &&
		    self_url != NULL && env_add(&base_env, &base_n,
		    "HOPMAP_MANAGER_HUB_URL", self_url))
			return -1;
	}
	return 0;
}

int
hs_cgi_path(const char *path)
{
	return strncmp(path, HS_CGI_PREFIX, sizeof HS_CGI_PREFIX - 1) == 0 &&
	    (path[sizeof HS_CGI_PREFIX - 1] == '\0' ||
	    path[sizeof HS_CGI_PREFIX - 1] == '/');
}

static void
env_free(char **env, size_t from, size_t n)
{
	for (size_t i = from; i < n; i++)
		free(env[i]);
	free(env);
}

/* The request's meta-variables after the daemon's part. */
static char **
request_env(const struct hs_cgi_req *r, size_t *n)
{
	char **env = malloc((base_n + 1) * sizeof *env), len[32];
	const char *info = r->path + sizeof HS_CGI_PREFIX - 1;
	int bad = 0;

	if (env == NULL)
		return NULL;
	memcpy(env, base_env, (base_n + 1) * sizeof *env);
	*n = base_n;
	snprintf(len, sizeof len, "%zu", r->body_len);
	bad |= env_add(&env, n, "GATEWAY_INTERFACE", "CGI/1.1");
	bad |= env_add(&env, n, "SERVER_PROTOCOL", "HTTP/1.1");
	bad |= env_add(&env, n, "SERVER_SOFTWARE", "hopmap-httpd/" HM_VERSION);
	bad |= env_add(&env, n, "SERVER_NAME", r->host != NULL ? r->host :
	    "localhost");
	bad |= env_add(&env, n, "REQUEST_METHOD", r->method);
	bad |= env_add(&env, n, "SCRIPT_NAME", HS_CGI_PREFIX);
	bad |= env_add(&env, n, "PATH_INFO", *info != '\0' ? info : "/");
	bad |= env_add(&env, n, "QUERY_STRING", r->query);
	bad |= env_add(&env, n, "REMOTE_ADDR", r->peer);
	if (r->body_len > 0 || strcmp(r->method, "POST") == 0)
		bad |= env_add(&env, n, "CONTENT_LENGTH", len);
	if (r->content_type != NULL)
		bad |= env_add(&env, n, "CONTENT_TYPE", r->content_type);
	if (r->cookie != NULL)
		bad |= env_add(&env, n, "HTTP_COOKIE", r->cookie);
	if (r->https)
		bad |= env_add(&env, n, "HTTPS", "on");
	if (bad) {
		env_free(env, base_n, *n);
		return NULL;
	}
	return env;
}

int
hs_cgi_parse(const char *head, size_t len, struct hs_cgi *c, char *why,
    size_t cap)
{
	const char *p = head, *end = head + len;

	c->status = 0;
	c->nheaders = 0;
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *colon, *v;
		size_t n = eol != NULL ? (size_t)(eol - p) : (size_t)(end - p);

		if (n > 0 && p[n - 1] == '\r')
			n--;
		if (n == 0)
			break;
		colon = memchr(p, ':', n);
		if (colon == NULL || colon == p) {
			snprintf(why, cap, "a header line without a name");
			return -1;
		}
		for (const char *q = p; q < p + n; q++)
			if ((unsigned char)*q < 0x20 && *q != '\t') {
				snprintf(why, cap, "a control byte in a header");
				return -1;
			}
		for (v = colon + 1; v < p + n && (*v == ' ' || *v == '\t'); v++)
			;
		if ((size_t)(colon - p) == 6 && strncasecmp(p, "Status", 6) == 0) {
			/* Three digits, within the line (the text is not
			   NUL-terminated). */
			int s = 0, k;

			for (k = 0; k < 3 && v + k < p + n && v[k] >= '0' &&
			    v[k] <= '9'; k++)
				s = s * 10 + (v[k] - '0');
			if (k != 3 || (v + k < p + n && v[k] != ' '))
				s = 0;
			if (s < 100 || s > 599) {
				snprintf(why, cap, "a bad Status");
				return -1;
			}
			c->status = s;
		} else if (c->nheaders < HS_CGI_HEADERS) {
			struct hs_cgi_header *h = &c->headers[c->nheaders++];

			snprintf(h->name, sizeof h->name, "%.*s",
			    (int)(colon - p), p);
			snprintf(h->value, sizeof h->value, "%.*s",
			    (int)(p + n - v), v);
		} else {
			snprintf(why, cap, "more than %d headers",
			    HS_CGI_HEADERS);
			return -1;
		}
		p = eol != NULL ? eol + 1 : end;
	}
	if (c->status == 0) {
		/* RFC 3875 6.3.3: a Location alone redirects. */
		c->status = 200;
		for (size_t i = 0; i < c->nheaders; i++)
			if (strcasecmp(c->headers[i].name, "Location") == 0)
				c->status = 302;
	}
	return 0;
}

/* The length of the header lines with the blank line that ends them
   (CRLF or LF alike, the first blank line), or 0 when none yet. */
static size_t
head_end(const char *head)
{
	for (const char *p = head; (p = strchr(p, '\n')) != NULL; p++) {
		if (p[1] == '\n')
			return (size_t)(p - head) + 2;
		if (p[1] == '\r' && p[2] == '\n')
			return (size_t)(p - head) + 3;
	}
	return 0;
}

/* Wait until fd may be read, at most ms; 1 ready, 0 timed out. */
static int
ready(int fd, unsigned ms)
{
	struct pollfd pf = { .fd = fd, .events = POLLIN };
	int rc;

	while ((rc = poll(&pf, 1, (int)ms)) < 0 && errno == EINTR)
		;
	return rc > 0;
}

int
hs_cgi_start(const struct hs_cgi_req *r, unsigned timeout_s, struct hs_cgi *c,
    char *why, size_t cap)
{
	char *argv[] = { cgi_program, NULL }, head[HEAD_MAX];
	posix_spawn_file_actions_t fa;
	int in = -1, out[2] = { -1, -1 }, rc;
	size_t envn = 0, got = 0, hlen;
	char **env;
	ssize_t k;

	memset(c, 0, sizeof *c);
	c->fd = -1;
	c->pid = -1;
	c->timeout_ms = timeout_s * 1000;
	if ((in = memfd_create("cgi-body", MFD_CLOEXEC)) < 0 ||
	    (r->body_len > 0 && write(in, r->body, r->body_len) !=
	    (ssize_t)r->body_len) || lseek(in, 0, SEEK_SET) != 0 ||
	    pipe2(out, O_CLOEXEC) != 0) {
		snprintf(why, cap, "%s", strerror(errno));
		goto fail;
	}
	if ((env = request_env(r, &envn)) == NULL) {
		snprintf(why, cap, "out of memory");
		goto fail;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in, 0);
	posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	rc = posix_spawn(&c->pid, cgi_program, &fa, NULL, argv, env);
	posix_spawn_file_actions_destroy(&fa);
	env_free(env, base_n, envn);
	close(in);
	in = -1;
	close(out[1]);
	out[1] = -1;
	if (rc != 0) {
		c->pid = -1;
		snprintf(why, cap, "%s: %s", cgi_program, strerror(rc));
		goto fail;
	}
	c->fd = out[0];
	/* The header lines, up to the blank line. */
	for (;;) {
		if (!ready(c->fd, c->timeout_ms)) {
			snprintf(why, cap, "no answer in %u s", timeout_s);
			kill(c->pid, SIGKILL);
			hs_cgi_end(c);
			return 504;
		}
		k = read(c->fd, head + got, sizeof head - 1 - got);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		got += (size_t)k;
		head[got] = '\0';
		if (head_end(head) > 0)
			break;
		if (got == sizeof head - 1)
			break;
	}
	head[got] = '\0';
	if ((hlen = head_end(head)) == 0) {
		snprintf(why, cap, "its header lines end nowhere");
		hs_cgi_end(c);
		return 502;
	}
	if (hs_cgi_parse(head, hlen, c, why, cap) != 0) {
		hs_cgi_end(c);
		return 502;
	}
	/* What came with the headers is the body's start. */
	if (got > hlen) {
		if ((c->pending = malloc(got - hlen)) == NULL) {
			snprintf(why, cap, "out of memory");
			hs_cgi_end(c);
			return 500;
		}
		memcpy(c->pending, head + hlen, got - hlen);
		c->pending_len = got - hlen;
	}
	return 0;
fail:
	if (in >= 0)
		close(in);
	for (int i = 0; i < 2; i++)
		if (out[i] >= 0)
			close(out[i]);
	return 500;
}

ssize_t
hs_cgi_read(struct hs_cgi *c, char *buf, size_t max)
{
	ssize_t k;

	if (c->pending_sent < c->pending_len) {
		size_t n = c->pending_len - c->pending_sent;

		if (n > max)
			n = max;
		memcpy(buf, c->pending + c->pending_sent, n);
		c->pending_sent += n;
		return (ssize_t)n;
	}
	for (;;) {
		if (!ready(c->fd, c->timeout_ms)) {
			/* Silent for --timeout: the answer is cut. */
			kill(c->pid, SIGKILL);
			return -1;
		}
		k = read(c->fd, buf, max);
		if (k < 0 && errno == EINTR)
			continue;
		return k;
	}
}

void
hs_cgi_end(struct hs_cgi *c)
{
	int st;

	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	if (c->pid > 0) {
		/* Its output is closed: a CGI still writing gets EPIPE; one
		   that hangs otherwise is killed after the limit. */
		for (unsigned waited = 0; waitpid(c->pid, &st, WNOHANG) == 0;
		    waited += 10) {
			if (waited >= c->timeout_ms) {
				kill(c->pid, SIGKILL);
				waitpid(c->pid, &st, 0);
				break;
			}
			usleep(10000);
		}
	}
	c->pid = -1;
	free(c->pending);
	c->pending = NULL;
}
