/* key.c: the server key (a file or the environment) and sealing under it.
   Secrets are sealed with libsodium's XChaCha20-Poly1305 AEAD; the random
   24-byte nonce makes a fresh nonce per seal safe without a counter. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "manager/manager.h"

#define NONCE crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define TAG crypto_aead_xchacha20poly1305_ietf_ABYTES

int
mg_key_from_hex(const char *hex, unsigned char key[MG_KEYBYTES])
{
	size_t n = 0;
	const char *end;

	if (sodium_hex2bin(key, MG_KEYBYTES, hex, strlen(hex), "\n", &n,
	    &end) != 0 || n != MG_KEYBYTES || *end != '\0')
		return -1;
	return 0;
}

int
mg_key_read(const char *path, unsigned char key[MG_KEYBYTES], char *err,
    size_t errlen)
{
	char text[2 * MG_KEYBYTES + 8];
	struct stat sb;
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		snprintf(err, errlen, "no server key: %s: %s (or set "
		    "HOPMAP_MANAGER_KEY)", path, strerror(errno));
		return -1;
	}
	/* A key others may read is as good as published: refuse it, as ssh
	   refuses a private key that is not private. */
	if (fstat(fd, &sb) == 0 && (sb.st_mode & 077) != 0) {
		snprintf(err, errlen, "%s: permissions %04o are too open "
		    "(chmod 600)", path, (unsigned)(sb.st_mode & 07777));
		close(fd);
		return -1;
	}
	n = read(fd, text, sizeof text - 1);
	close(fd);
	if (n < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	text[n] = '\0';
	if (mg_key_from_hex(text, key) != 0) {
		snprintf(err, errlen, "%s: not a server key (64 hex digits)",
		    path);
		return -1;
	}
	sodium_memzero(text, sizeof text);
	return 0;
}

int
mg_key_make(const char *path, unsigned char key[MG_KEYBYTES], char *err,
    size_t errlen)
{
	char hex[2 * MG_KEYBYTES + 2];
	size_t len;
	int fd;

	randombytes_buf(key, MG_KEYBYTES);
	sodium_bin2hex(hex, sizeof hex - 1, key, MG_KEYBYTES);
	len = strlen(hex);
	hex[len++] = '\n';
	/* O_EXCL: two first runs at once must not both write a key. */
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		if (errno == EEXIST)
			return mg_key_read(path, key, err, errlen);
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (write(fd, hex, len) != (ssize_t)len || fsync(fd) != 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		close(fd);
		unlink(path);
		return -1;
	}
	sodium_memzero(hex, sizeof hex);
	return close(fd);
}

unsigned char *
mg_seal(const struct mg_store *st, const void *plain, size_t len,
    const char *ad, size_t *outlen)
{
	unsigned char *box = malloc(NONCE + TAG + len);
	unsigned long long clen;

	if (box == NULL)
		return NULL;
	randombytes_buf(box, NONCE);
	crypto_aead_xchacha20poly1305_ietf_encrypt(box + NONCE, &clen, plain,
	    len, (const unsigned char *)ad, strlen(ad), NULL, box, st->box_key);
	*outlen = NONCE + (size_t)clen;
	return box;
}

unsigned char *
mg_open(const struct mg_store *st, const unsigned char *box, size_t len,
    const char *ad, size_t *outlen)
{
	unsigned char *plain;
	unsigned long long plen;

	if (len < NONCE + TAG)
		return NULL;
	/* One byte more, so a sealed text comes back NUL-terminated. */
	if ((plain = sodium_malloc(len - NONCE - TAG + 1)) == NULL)
		return NULL;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(plain, &plen, NULL,
	    box + NONCE, len - NONCE, (const unsigned char *)ad, strlen(ad),
	    box, st->box_key) != 0) {
		sodium_free(plain);
		return NULL;
	}
	plain[plen] = '\0';
	*outlen = (size_t)plen;
	return plain;
}
