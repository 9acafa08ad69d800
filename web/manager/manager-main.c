/*
 * hopmap-manager: the manager's users, from the terminal: add-user (a new
 * TOTP secret, shown once as an otpauth:// URI and a QR code), del-user,
 * list-users.  The web side is manager.cgi; both share DIR/manager.db.
 */
#include <getopt.h>
#include <grp.h>
#include <inttypes.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "core/core.h"
#include "manager/manager.h"

extern char **environ;

static const char usage[] =
"usage: hopmap-manager [-d DIR] [-k FILE] [--no-qr] add-user NAME\n"
"       hopmap-manager [-d DIR] [-k FILE] del-user NAME\n"
"       hopmap-manager [-d DIR] [-k FILE] list-users\n"
"       hopmap-manager [-d DIR] [-k FILE] [-H FILE] poll\n"
"Manage the users of hopmap's manager (manager.cgi); poll (cron, each\n"
"minute) records each worker's /health and a sample of the hub's counts.\n"
"  -d, --dir DIR       the manager's directory (default $HOPMAP_MANAGER_DIR)\n"
"  -k, --key-file FILE the server key (default $HOPMAP_MANAGER_KEY, else\n"
"                      DIR/server.key, made 0600 on first use)\n"
"  -n, --no-qr         add-user prints the URI only, no QR code\n"
"  -H, --hub-db FILE   poll counts this hub database (default\n"
"                      $HOPMAP_MANAGER_HUB_DB; none: workers only)\n"
"  -h, --help          show this help and exit\n"
"  -V, --version       show the version and exit\n";

static int no_qr;

/* The QR code in the terminal, by qrencode; its absence is not fatal:
   the URI is printed already. */
static void
show_qr(const char *uri)
{
	char *args[] = { "qrencode", "-t", "UTF8", "-o", "-", (char *)uri,
	    NULL };
	pid_t pid;
	int st;

	fflush(stdout);
	if (posix_spawnp(&pid, "qrencode", NULL, NULL, args, environ) != 0) {
		hm_warnx("qrencode not found: no QR code (the URI above "
		    "is the same secret)");
		return;
	}
	if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) ||
	    WEXITSTATUS(st) != 0)
		hm_warnx("qrencode failed: no QR code");
}

/* poll: every worker, then the hub's counts; a worker down is news for
   the page, not a failure of poll's. */
static int
poll(struct mg_store *st, const char *hub_db)
{
	int64_t v[MG_NCOUNTS];
	char err[MG_ERRLEN];
	time_t now = time(NULL);

	if (mg_poll_workers(st, now, stdout) < 0) {
		hm_warnx("poll: %s", sqlite3_errmsg(st->db));
		return HM_EXIT_FAIL;
	}
	if (hub_db == NULL || *hub_db == '\0')
		return HM_EXIT_OK;
	if (mg_hub_counts(hub_db, v, err, sizeof err) != 0) {
		hm_warnx("poll: the hub's counts: %s", err);
		return HM_EXIT_FAIL;
	}
	if (mg_sample_add(st, now, v) != 0) {
		hm_warnx("poll: %s", sqlite3_errmsg(st->db));
		return HM_EXIT_FAIL;
	}
	printf("hub %s probed=%" PRId64 " responders=%" PRId64 " routers=%"
	    PRId64 " links=%" PRId64 "\n", hub_db, v[0], v[1], v[2], v[3]);
	return HM_EXIT_OK;
}

static int
add_user(struct mg_store *st, const char *name)
{
	char b32[128], uri[512];
	int rc;

	if (!mg_name_ok(name))
		hm_errx(HM_EXIT_USAGE, "bad user name \"%s\" (1 to %d of "
		    "A-Z a-z 0-9 . _ -, not starting with . or -)", name,
		    MG_NAME_MAX);
	rc = mg_user_add(st, name, b32, sizeof b32);
	if (rc == 1)
		hm_errx(HM_EXIT_BADINPUT, "user %s exists already", name);
	if (rc != 0 || mg_otpauth_uri(name, b32, uri, sizeof uri) != 0)
		hm_errx(HM_EXIT_FAIL, "add-user %s: %s", name,
		    sqlite3_errmsg(st->db));
	printf("%s\n", uri);
	sodium_memzero(b32, sizeof b32);
	if (!no_qr)
		show_qr(uri);
	sodium_memzero(uri, sizeof uri);
	return HM_EXIT_OK;
}

static void
print_user(void *arg, const char *name, int64_t created, int64_t last)
{
	char c[32], l[32];
	time_t t;
	struct tm tm;

	(void)arg;
	t = (time_t)created;
	strftime(c, sizeof c, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
	t = (time_t)last;
	if (last > 0)
		strftime(l, sizeof l, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
	else
		strcpy(l, "never");
	printf("%s\tcreated %s\tlast login %s\n", name, c, l);
}

/* Run by root on a directory that is another user's (the web server's):
   become that user, so that the store and the key made here are theirs
   and what this sees is what the CGI sees.  A store made by root would
   be 0600 root's, and every page would answer 500. */
static void
as_owner(const char *dir)
{
	struct stat sb;

	if (geteuid() != 0 || stat(dir, &sb) != 0 || sb.st_uid == 0)
		return;
	if (setgroups(1, &sb.st_gid) != 0 || setgid(sb.st_gid) != 0 ||
	    setuid(sb.st_uid) != 0)
		hm_err(HM_EXIT_FAIL, "%s: cannot become its owner (uid %ld)",
		    dir, (long)sb.st_uid);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "key-file", required_argument, NULL, 'k' },
		{ "no-qr", no_argument, NULL, 'n' },
		{ "hub-db", required_argument, NULL, 'H' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	const char *dir = getenv("HOPMAP_MANAGER_DIR"), *key_file = NULL;
	const char *hub_db = getenv("HOPMAP_MANAGER_HUB_DB");
	const char *cmd;
	char err[MG_ERRLEN];
	struct mg_store st;
	int c, rc = HM_EXIT_OK, want;

	hm_setprog(argv);
	/* The store holds sealed secrets and session hashes, the key file
	   the key: nothing made here is for others to read. */
	umask(077);
	while ((c = getopt_long(argc, argv, "d:k:nH:hV", longopts, NULL)) != -1) {
		switch (c) {
		case 'd': dir = optarg; break;
		case 'k': key_file = optarg; break;
		case 'n': no_qr = 1; break;
		case 'H': hub_db = optarg; break;
		case 'h': fputs(usage, stdout); return HM_EXIT_OK;
		case 'V': printf("hopmap-manager (hopmap) %s\n", HM_VERSION);
			return HM_EXIT_OK;
		default: hm_usage_error(usage);
		}
	}
	if (optind >= argc)
		hm_usage_error(usage);
	cmd = argv[optind++];
	want = strcmp(cmd, "list-users") == 0 || strcmp(cmd, "poll") == 0 ?
	    0 : 1;
	if (strcmp(cmd, "add-user") != 0 && strcmp(cmd, "del-user") != 0 &&
	    want != 0) {
		hm_warnx("unknown command \"%s\"", cmd);
		hm_usage_error(usage);
	}
	if (argc - optind != want) {
		hm_warnx("%s takes %s", cmd, want ? "one NAME" : "no argument");
		hm_usage_error(usage);
	}
	if (dir == NULL || *dir == '\0') {
		hm_warnx("no manager directory (-d DIR)");
		hm_usage_error(usage);
	}
	/* The store's directory holds the key: others may not look in. */
	if (mkdir(dir, 0700) != 0 && access(dir, W_OK) != 0)
		hm_err(HM_EXIT_FAIL, "%s", dir);
	as_owner(dir);
	if (mg_store_open(&st, dir, key_file, err, sizeof err) != 0)
		hm_errx(HM_EXIT_FAIL, "%s", err);
	if (strcmp(cmd, "add-user") == 0)
		rc = add_user(&st, argv[optind]);
	else if (strcmp(cmd, "del-user") == 0) {
		switch (mg_user_del(&st, argv[optind])) {
		case 0: break;
		case 1: hm_warnx("no user %s", argv[optind]);
			rc = HM_EXIT_BADINPUT; break;
		default: hm_warnx("del-user: %s", sqlite3_errmsg(st.db));
			rc = HM_EXIT_FAIL;
		}
	} else if (strcmp(cmd, "poll") == 0)
		rc = poll(&st, hub_db);
	else if (mg_user_list(&st, print_user, NULL) != 0) {
		hm_warnx("list-users: %s", sqlite3_errmsg(st.db));
		rc = HM_EXIT_FAIL;
	}
	mg_store_close(&st);
	if (fflush(stdout) != 0 || ferror(stdout))
		hm_errx(HM_EXIT_FAIL, "standard output: write error");
	return rc;
}
