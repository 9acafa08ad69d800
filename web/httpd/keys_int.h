/* keys_int.h: the key store's file, shared by keys.c (the daemon's
   lookups) and keys_cmd.c (the command line); not for the modules. */
#ifndef HOPMAP_HTTPD_KEYS_INT_H
#define HOPMAP_HTTPD_KEYS_INT_H

#include <stddef.h>

#include "httpd/keys.h"

#define HK_HASH_BYTES 32

struct hk_entry {
	char name[HK_NAME_MAX + 1];
	unsigned char hash[HK_HASH_BYTES];
	char created[32];	/* ISO 8601 UTC */
	char revoked[32];	/* "" while valid */
	int admin;
};

struct hk_list {
	struct hk_entry *v;
	size_t n, cap;
};

/* Read PATH into L (emptied first).  A missing file is an empty list.
   Bad lines are reported (file:line: why) and skipped.  0, or -1 with
   errno set when the file cannot be read. */
int hk_file_read(const char *path, struct hk_list *l);
/* Write L to PATH atomically (mode 0600, fsync'd).  0 or -1 with errno. */
int hk_file_write(const char *path, const struct hk_list *l);
struct hk_entry *hk_list_add(struct hk_list *l);
void hk_list_free(struct hk_list *l);
/* The hash of a key's text. */
void hk_hash(const char *key, size_t len, unsigned char out[HK_HASH_BYTES]);

#endif
