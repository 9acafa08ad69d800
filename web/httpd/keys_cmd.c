/* keys_cmd.c: hopmap-httpd key add|list|revoke, the key store's command
   line.  Writers take a lock file beside the store, read it, and replace
   it atomically, so two at once lose nothing and the daemon never reads
   half a file. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include <sodium.h>

#include "core/core.h"
#include "httpd/keys_int.h"

static const char key_usage[] =
"usage: hopmap-httpd key add -d DIR [--admin] NAME\n"
"       hopmap-httpd key list -d DIR\n"
"       hopmap-httpd key revoke -d DIR NAME\n"
"Manage the API keys in DIR/keys (the daemon sees changes at once).\n"
"  -d, --dir DIR   the state directory (hopmap-httpd --state-dir, or --hub)\n"
"  -a, --admin     the new key may act for every consumer\n"
"  -h, --help      show this help and exit\n";

static int
lock_store(const char *path)
{
	char lock[4096];
	int fd;

	if (snprintf(lock, sizeof lock, "%s.lock", path) >= (int)sizeof lock)
		hm_errx(HM_EXIT_USAGE, "%s: path too long", path);
	if ((fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0)
		hm_err(HM_EXIT_FAIL, "%s", lock);
	while (flock(fd, LOCK_EX) != 0)
		if (errno != EINTR)
			hm_err(HM_EXIT_FAIL, "%s", lock);
	return fd;
}

static void
read_store(const char *path, struct hk_list *l)
{
	if (hk_file_read(path, l) != 0)
		hm_err(HM_EXIT_FAIL, "%s", path);
}

static int
key_add(const char *path, const char *name, int admin)
{
	unsigned char raw[32];
	char key[HK_KEY_CHARS + 1];
	struct hk_list l = { 0 };
	struct hk_entry *e;
	size_t i;
	int fd = lock_store(path);

	read_store(path, &l);
	for (i = 0; i < l.n; i++)
		if (strcmp(l.v[i].name, name) == 0 && l.v[i].revoked[0] == '\0')
			hm_errx(HM_EXIT_BADINPUT, "%s already has a key in %s "
			    "(key revoke %s first)", name, path, name);
	randombytes_buf(raw, sizeof raw);
	sodium_bin2base64(key, sizeof key, raw, sizeof raw,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_memzero(raw, sizeof raw);
	if ((e = hk_list_add(&l)) == NULL)
		hm_errx(HM_EXIT_FAIL, "out of memory");
	snprintf(e->name, sizeof e->name, "%s", name);
	hk_hash(key, strlen(key), e->hash);
	hm_timestamp(e->created, sizeof e->created);
	e->admin = admin;
	if (hk_file_write(path, &l) != 0)
		hm_err(HM_EXIT_FAIL, "%s", path);
	close(fd);
	hk_list_free(&l);
	printf("%s\n", key);
	sodium_memzero(key, sizeof key);
	fprintf(stderr, "%s: a key for %s%s is in %s; it is shown only this "
	    "once\n", hm_prog, name, admin ? " (admin)" : "", path);
	return HM_EXIT_OK;
}

static int
key_revoke(const char *path, const char *name)
{
	struct hk_list l = { 0 };
	size_t i, n = 0;
	int fd = lock_store(path);

	read_store(path, &l);
	for (i = 0; i < l.n; i++)
		if (strcmp(l.v[i].name, name) == 0 && l.v[i].revoked[0] == '\0') {
			hm_timestamp(l.v[i].revoked, sizeof l.v[i].revoked);
			n++;
		}
	if (n == 0)
		hm_errx(HM_EXIT_BADINPUT, "no valid key for %s in %s", name,
		    path);
	if (hk_file_write(path, &l) != 0)
		hm_err(HM_EXIT_FAIL, "%s", path);
	close(fd);
	hk_list_free(&l);
	fprintf(stderr, "%s: the key for %s is revoked\n", hm_prog, name);
	return HM_EXIT_OK;
}

static int
key_list(const char *path)
{
	struct hk_list l = { 0 };
	size_t i;

	read_store(path, &l);
	printf("%-20s %-24s %-5s %s\n", "NAME", "CREATED", "ADMIN", "REVOKED");
	for (i = 0; i < l.n; i++)
		printf("%-20s %-24s %-5s %s\n", l.v[i].name,
		    l.v[i].created[0] ? l.v[i].created : "-",
		    l.v[i].admin ? "yes" : "no",
		    l.v[i].revoked[0] ? l.v[i].revoked : "-");
	hk_list_free(&l);
	return HM_EXIT_OK;
}

/* ARGV[0] is "key". */
int
hk_command(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "admin", no_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *dir = NULL, *verb;
	char path[4096];
	int c, admin = 0;

	if (argc < 2)
		hm_usage_error(key_usage);
	verb = argv[1];
	if (strcmp(verb, "-h") == 0 || strcmp(verb, "--help") == 0) {
		fputs(key_usage, stdout);
		hm_exit(HM_EXIT_OK);
	}
	optind = 1;
	while ((c = getopt_long(argc - 1, argv + 1, "d:ah", longopts,
	    NULL)) != -1) {
		switch (c) {
		case 'd':
			dir = optarg;
			break;
		case 'a':
			admin = 1;
			break;
		case 'h':
			fputs(key_usage, stdout);
			hm_exit(HM_EXIT_OK);
		default:
			hm_usage_error(key_usage);
		}
	}
	argc -= optind + 1;
	argv += optind + 1;
	if (dir == NULL) {
		hm_warnx("key %s: -d DIR is needed", verb);
		hm_usage_error(key_usage);
	}
	if (snprintf(path, sizeof path, "%s/keys", dir) >= (int)sizeof path)
		hm_errx(HM_EXIT_USAGE, "%s: path too long", dir);
	if (sodium_init() < 0)
		hm_errx(HM_EXIT_FAIL, "libsodium cannot start");
	if (strcmp(verb, "list") == 0 && argc == 0 && !admin)
		return key_list(path);
	if ((strcmp(verb, "add") == 0 || strcmp(verb, "revoke") == 0) &&
	    argc == 1 && !(admin && verb[0] == 'r')) {
		if (!hk_name_ok(argv[0]))
			hm_errx(HM_EXIT_USAGE, "bad name: %s (1 to %d of "
			    "A-Z a-z 0-9 . _ -)", argv[0], HK_NAME_MAX);
		if (verb[0] == 'r')
			return key_revoke(path, argv[0]);
		if (hm_mkparents(path) != 0)
			hm_err(HM_EXIT_FAIL, "%s", dir);
		return key_add(path, argv[0], admin);
	}
	hm_warnx("key: %s: unknown command or wrong arguments", verb);
	hm_usage_error(key_usage);
}
