/* keys_file.c: the key store's file, NDJSON lines (keys.h), read and
   rewritten whole. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "core/core.h"
#include "httpd/keys_int.h"

/* A store larger than this is not ours (a key is a line of ~150 bytes). */
#define HK_FILE_MAX (16u << 20)

void
hk_hash(const char *key, size_t len, unsigned char out[HK_HASH_BYTES])
{
	crypto_generichash(out, HK_HASH_BYTES, (const unsigned char *)key,
	    len, NULL, 0);
}

struct hk_entry *
hk_list_add(struct hk_list *l)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		struct hk_entry *v = realloc(l->v, cap * sizeof *v);

		if (v == NULL)
			return NULL;
		l->v = v;
		l->cap = cap;
	}
	memset(&l->v[l->n], 0, sizeof l->v[0]);
	return &l->v[l->n++];
}

void
hk_list_free(struct hk_list *l)
{
	free(l->v);
	memset(l, 0, sizeof *l);
}

static int
copy_str(json_t *obj, const char *k, char *buf, size_t cap, int need)
{
	json_t *v = json_object_get(obj, k);

	buf[0] = '\0';
	if (v == NULL || json_is_null(v))
		return need ? -1 : 0;
	if (!json_is_string(v) || json_string_length(v) >= cap)
		return -1;
	memcpy(buf, json_string_value(v), json_string_length(v) + 1);
	return 0;
}

/* One line into E: 0, or -1 with *why. */
static int
parse_line(const char *line, size_t len, struct hk_entry *e, const char **why)
{
	json_error_t jerr;
	json_t *obj = json_loadb(line, len, 0, &jerr), *v;
	const char *hex;
	size_t bin_len;
	int rc = -1;

	if (!json_is_object(obj)) {
		*why = "not a JSON object";
		goto out;
	}
	if (copy_str(obj, "name", e->name, sizeof e->name, 1) != 0 ||
	    !hk_name_ok(e->name)) {
		*why = "bad \"name\"";
		goto out;
	}
	v = json_object_get(obj, "hash");
	if (!json_is_string(v) || json_string_length(v) != 2 * HK_HASH_BYTES ||
	    sodium_hex2bin(e->hash, sizeof e->hash, hex = json_string_value(v),
	    2 * HK_HASH_BYTES, NULL, &bin_len, NULL) != 0 ||
	    bin_len != HK_HASH_BYTES) {
		*why = "bad \"hash\" (64 hex digits)";
		goto out;
	}
	if (copy_str(obj, "created", e->created, sizeof e->created, 0) != 0 ||
	    copy_str(obj, "revoked", e->revoked, sizeof e->revoked, 0) != 0) {
		*why = "bad \"created\" or \"revoked\"";
		goto out;
	}
	e->admin = json_is_true(json_object_get(obj, "admin"));
	rc = 0;
out:
	json_decref(obj);
	return rc;
}

static char *
slurp(const char *path, size_t *len)
{
	struct stat sb;
	char *buf;
	ssize_t r;
	size_t n = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return NULL;
	if (fstat(fd, &sb) != 0 || sb.st_size > HK_FILE_MAX) {
		if (errno == 0)
			errno = EFBIG;
		close(fd);
		return NULL;
	}
	if ((buf = malloc((size_t)sb.st_size + 1)) == NULL) {
		close(fd);
		return NULL;
	}
	while (n < (size_t)sb.st_size &&
	    (r = read(fd, buf + n, (size_t)sb.st_size - n)) != 0) {
		if (r < 0) {
			if (errno == EINTR)
				continue;
			free(buf);
			close(fd);
			return NULL;
		}
		n += (size_t)r;
	}
	close(fd);
	buf[n] = '\0';
	*len = n;
	return buf;
}

int
hk_file_read(const char *path, struct hk_list *l)
{
	size_t len, lineno = 0;
	char *buf, *p, *nl;

	l->n = 0;
	errno = 0;
	if ((buf = slurp(path, &len)) == NULL)
		return errno == ENOENT ? 0 : -1;
	for (p = buf; p < buf + len; p = nl + 1) {
		struct hk_entry e;
		const char *why;

		if ((nl = memchr(p, '\n', (size_t)(buf + len - p))) == NULL)
			nl = buf + len;
		lineno++;
		if (nl == p)
			continue;
		if (parse_line(p, (size_t)(nl - p), &e, &why) != 0) {
			hm_linewarn(path, lineno, "%s", why);
			continue;
		}
		struct hk_entry *slot = hk_list_add(l);
		if (slot == NULL) {
			free(buf);
			errno = ENOMEM;
			return -1;
		}
		*slot = e;
	}
	free(buf);
	return 0;
}

int
hk_file_write(const char *path, const struct hk_list *l)
{
	struct hm_atomic a;
	size_t i;

	if (hm_atomic_open(&a, path, 0600, 1) != 0)
		return -1;
	for (i = 0; i < l->n; i++) {
		const struct hk_entry *e = &l->v[i];
		char hex[2 * HK_HASH_BYTES + 1];
		json_t *obj;

		sodium_bin2hex(hex, sizeof hex, e->hash, HK_HASH_BYTES);
		obj = json_pack("{s:s,s:s,s:s,s:b,s:o}", "name", e->name,
		    "hash", hex, "created", e->created, "admin", e->admin,
		    "revoked", e->revoked[0] ? json_string(e->revoked) :
		    json_null());
		if (obj == NULL || hm_json_write(a.fp, obj) != 0) {
			json_decref(obj);
			hm_atomic_abort(&a);
			errno = EIO;
			return -1;
		}
		json_decref(obj);
	}
	return hm_atomic_commit(&a);
}
