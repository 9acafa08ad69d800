/* keys.c: the daemon's view of the key store: a lookup per keyed request,
   the file read again whenever its identity changed (key add and key
   revoke replace it by rename, so a new inode says so even within one
   tick of the clock). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>

#include "core/core.h"
#include "httpd/keys_int.h"

struct hk_store {
	pthread_mutex_t lock;
	char *path;
	struct hk_list list;
	/* The identity of the file the list was read from; ino 0: none. */
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
	int loaded;
};

int
hk_name_ok(const char *name)
{
	size_t i, n = strlen(name);

	if (n == 0 || n > HK_NAME_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if (!((name[i] >= 'a' && name[i] <= 'z') ||
		    (name[i] >= 'A' && name[i] <= 'Z') ||
		    (name[i] >= '0' && name[i] <= '9') ||
		    name[i] == '.' || name[i] == '_' || name[i] == '-'))
			return 0;
	return 1;
}

struct hk_store *
hk_open(const char *path)
{
	struct hk_store *st = calloc(1, sizeof *st);

	if (st == NULL || (st->path = strdup(path)) == NULL) {
		free(st);
		return NULL;
	}
	pthread_mutex_init(&st->lock, NULL);
	return st;
}

void
hk_close(struct hk_store *st)
{
	if (st == NULL)
		return;
	hk_list_free(&st->list);
	pthread_mutex_destroy(&st->lock);
	free(st->path);
	free(st);
}

/* Under the lock: read the file again if it is not the one we read. */
static void
refresh(struct hk_store *st)
{
	struct stat sb;
	int gone = stat(st->path, &sb) != 0;

	if (st->loaded && (gone ? st->ino == 0 : (sb.st_dev == st->dev &&
	    sb.st_ino == st->ino && sb.st_size == st->size &&
	    sb.st_mtim.tv_sec == st->mtime.tv_sec &&
	    sb.st_mtim.tv_nsec == st->mtime.tv_nsec)))
		return;
	if (hk_file_read(st->path, &st->list) != 0) {
		/* Keep what we had: a store we cannot read now revokes
		   nothing and grants nothing new. */
		hm_warn("%s", st->path);
		return;
	}
	st->loaded = 1;
	st->ino = gone ? 0 : sb.st_ino;
	if (!gone) {
		st->dev = sb.st_dev;
		st->size = sb.st_size;
		st->mtime = sb.st_mtim;
	}
}

enum hk_result
hk_check(struct hk_store *st, const char *key, size_t len, char *name,
    int *admin)
{
	unsigned char h[HK_HASH_BYTES];
	enum hk_result r = HK_UNKNOWN;
	size_t i;

	if (len != HK_KEY_CHARS)
		return HK_UNKNOWN;
	hk_hash(key, len, h);
	pthread_mutex_lock(&st->lock);
	refresh(st);
	for (i = 0; i < st->list.n; i++) {
		const struct hk_entry *e = &st->list.v[i];

		if (sodium_memcmp(e->hash, h, HK_HASH_BYTES) != 0)
			continue;
		if (e->revoked[0] != '\0') {
			r = HK_REVOKED;
			continue;
		}
		r = HK_VALID;
		memcpy(name, e->name, sizeof e->name);
		*admin = e->admin;
		break;
	}
	pthread_mutex_unlock(&st->lock);
	return r;
}

size_t
hk_count(struct hk_store *st)
{
	size_t n;

	pthread_mutex_lock(&st->lock);
	refresh(st);
	n = st->list.n;
	pthread_mutex_unlock(&st->lock);
	return n;
}
