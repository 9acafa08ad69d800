/* httpd_keys.c: the key store (web/httpd/keys.c, keys_file.c): a bad line
   costs only itself, a replaced file is read again, a missing one has no
   keys. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "core/core.h"
#include "httpd/keys_int.h"
#include "tap.h"

static const char *k1 = "1111111111111111111111111111111111111111111";
static const char *k2 = "2222222222222222222222222222222222222222222";

static void
put(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	if (fp == NULL || fputs(text, fp) < 0 || fclose(fp) != 0)
		abort();
}

static void
store(const char *path, const char *key, const char *name, int admin)
{
	struct hk_list l = { 0 };
	struct hk_entry *e;

	if (hk_file_read(path, &l) != 0 || (e = hk_list_add(&l)) == NULL)
		abort();
	snprintf(e->name, sizeof e->name, "%s", name);
	hk_hash(key, strlen(key), e->hash);
	e->admin = admin;
	if (hk_file_write(path, &l) != 0)
		abort();
	hk_list_free(&l);
}

int
main(void)
{
	char dir[] = "/tmp/httpd_keys.XXXXXX", path[256], name[HK_NAME_MAX + 1];
	char line[512], hex[2 * HK_HASH_BYTES + 1];
	unsigned char h[HK_HASH_BYTES];
	struct hk_store *st;
	struct hk_list l = { 0 };
	int admin = 0;

	if (sodium_init() < 0 || mkdtemp(dir) == NULL)
		return 1;
	snprintf(path, sizeof path, "%s/keys", dir);
	st = hk_open(path);
	CHECK(hk_check(st, k1, strlen(k1), name, &admin) == HK_UNKNOWN &&
	    hk_count(st) == 0, "no file: no keys");

	store(path, k1, "w1", 0);
	CHECK(hk_check(st, k1, strlen(k1), name, &admin) == HK_VALID &&
	    strcmp(name, "w1") == 0 && admin == 0,
	    "a key written after the first look is seen");
	CHECK(hk_check(st, k1, strlen(k1) - 1, name, &admin) == HK_UNKNOWN,
	    "a key one character short is unknown");
	store(path, k2, "boss", 1);
	CHECK(hk_check(st, k2, strlen(k2), name, &admin) == HK_VALID &&
	    strcmp(name, "boss") == 0 && admin == 1,
	    "a second key, admin, seen without reopening");

	/* A store with bad lines among good ones (as a hand edit leaves it). */
	hk_hash(k1, strlen(k1), h);
	sodium_bin2hex(hex, sizeof hex, h, sizeof h);
	snprintf(line, sizeof line, "not json\n{\"name\":\"a b\",\"hash\":\"%s\"}\n"
	    "{\"name\":\"w1\",\"hash\":\"abc\"}\n\n"
	    "{\"name\":\"w1\",\"hash\":\"%s\",\"revoked\":\"2026-11-30\"}\n",
	    hex, hex);
	put(path, line);
	CHECK(hk_file_read(path, &l) == 0 && l.n == 1 &&
	    strcmp(l.v[0].name, "w1") == 0 && l.v[0].revoked[0] != '\0',
	    "bad lines skipped (reported), the good one kept (got %zu)", l.n);
	hk_list_free(&l);
	CHECK(hk_check(st, k1, strlen(k1), name, &admin) == HK_REVOKED,
	    "a file rewritten in place is read again: the key is revoked");
	CHECK(hk_check(st, k2, strlen(k2), name, &admin) == HK_UNKNOWN,
	    "a key gone from the file is unknown");
	unlink(path);
	CHECK(hk_check(st, k1, strlen(k1), name, &admin) == HK_UNKNOWN,
	    "the file removed: no keys");
	hk_close(st);
	rmdir(dir);
	return tap_failed != 0;
}
