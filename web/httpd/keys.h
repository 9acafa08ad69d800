/*
 * keys.h: hopmap-httpd's API keys.  A key is 32 random bytes, shown once
 * as 43 characters of URL-safe base64; the store keeps only its BLAKE2b
 * hash (crypto_generichash).  A key is not a password: it has 256 bits of
 * entropy, so a slow password hash would buy nothing and cost every
 * request; a fast hash still keeps a stolen store from being a list of
 * keys.  Hashes are compared in constant time.
 *
 * The store is a file of NDJSON lines, one a key:
 *   {"name":"w1","hash":"<64 hex>","created":"2026-...Z","admin":false,
 *    "revoked":null}
 * rewritten atomically (under a lock file beside it) by `key add` and
 * `key revoke`; the daemon looks at the file's identity on each keyed
 * request and reads it again when it changed, so neither needs a restart.
 */
#ifndef HOPMAP_HTTPD_KEYS_H
#define HOPMAP_HTTPD_KEYS_H

#include <stddef.h>
#include <stdio.h>

#define HK_NAME_MAX 64		/* as the sink's node names (session.c) */
#define HK_KEY_CHARS 43		/* 32 bytes in unpadded base64url */

enum hk_result { HK_UNKNOWN = 0, HK_VALID = 1, HK_REVOKED = 2 };

struct hk_store;
/* A store over PATH (read when first needed; a missing file has no keys). */
struct hk_store *hk_open(const char *path);
void hk_close(struct hk_store *st);
/* Check KEY[0..LEN): HK_VALID with its name in NAME (HK_NAME_MAX + 1
   bytes) and *ADMIN set, HK_REVOKED, or HK_UNKNOWN.  Thread-safe. */
enum hk_result hk_check(struct hk_store *st, const char *key, size_t len,
    char *name, int *admin);
/* The number of keys read at the last (re)load, revoked ones included. */
size_t hk_count(struct hk_store *st);

/* A worker name: 1..64 of [A-Za-z0-9._-], as the sink accepts as a node. */
int hk_name_ok(const char *name);

/* ---- keys_cmd.c: hopmap-httpd key add|list|revoke ---- */
int hk_command(int argc, char **argv);

#endif
