/*
 * tls.c: the certificate and key for each TLS handshake.  GnuTLS asks
 * through a retrieve function at every handshake; we look at the two
 * files' identity then (two stat calls) and read them again when either
 * changed.  A pair that cannot be read, or whose key does not match its
 * certificate (certbot replaces the two one after the other), is not
 * taken: the old pair goes on serving, and we try again at the next
 * handshake.
 *
 * A handshake in progress may still use the pair we handed it, so a pair
 * replaced is not freed until the daemon stops (one per renewal).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>

#include "core/core.h"
#include "httpd/tls.h"

#define TLS_CHAIN_MAX 16

struct pair {
	gnutls_pcert_st pcert[TLS_CHAIN_MAX];
	unsigned n;
	gnutls_privkey_t key;
	struct pair *older;	/* replaced pairs, freed at the end */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static const char *cert_path, *key_path;
static struct pair *current;
static struct stat cert_seen, key_seen;
static int warned;

static int
same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino &&
	    a->st_size == b->st_size &&
	    a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	    a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

static void
pair_free(struct pair *p)
{
	unsigned i;

	for (i = 0; i < p->n; i++)
		gnutls_pcert_deinit(&p->pcert[i]);
	if (p->key != NULL)
		gnutls_privkey_deinit(p->key);
	free(p);
}

/* Does KEY belong to the certificate's public key? */
static int
key_matches(gnutls_pcert_st *pc, gnutls_privkey_t key)
{
	gnutls_pubkey_t pub = NULL;
	unsigned char a[64], b[64];
	size_t al = sizeof a, bl = sizeof b;
	int ok = 0;

	if (gnutls_pubkey_init(&pub) == 0 &&
	    gnutls_pubkey_import_privkey(pub, key, 0, 0) == 0 &&
	    gnutls_pubkey_get_key_id(pub, GNUTLS_KEYID_USE_SHA256, a, &al) == 0 &&
	    gnutls_pubkey_get_key_id(pc->pubkey, GNUTLS_KEYID_USE_SHA256, b,
	    &bl) == 0)
		ok = al == bl && memcmp(a, b, al) == 0;
	if (pub != NULL)
		gnutls_pubkey_deinit(pub);
	return ok;
}

/* A new pair from the files, or NULL with *WHY. */
static struct pair *
pair_load(const char **why)
{
	struct pair *p = calloc(1, sizeof *p);
	gnutls_datum_t c = { NULL, 0 }, k = { NULL, 0 };
	int rc;

	if (p == NULL) {
		*why = "out of memory";
		return NULL;
	}
	p->n = TLS_CHAIN_MAX;
	if ((rc = gnutls_load_file(cert_path, &c)) < 0 ||
	    (rc = gnutls_pcert_list_import_x509_raw(p->pcert, &p->n, &c,
	    GNUTLS_X509_FMT_PEM, 0)) < 0) {
		p->n = 0;
		*why = gnutls_strerror(rc);
		goto fail;
	}
	if ((rc = gnutls_load_file(key_path, &k)) < 0 ||
	    (rc = gnutls_privkey_init(&p->key)) < 0 ||
	    (rc = gnutls_privkey_import_x509_raw(p->key, &k,
	    GNUTLS_X509_FMT_PEM, NULL, 0)) < 0) {
		*why = gnutls_strerror(rc);
		goto fail;
	}
	if (p->n == 0 || !key_matches(&p->pcert[0], p->key)) {
		*why = "the key does not match the certificate";
		goto fail;
	}
	gnutls_free(c.data);
	gnutls_free(k.data);
	return p;
fail:
	gnutls_free(c.data);
	gnutls_free(k.data);
	pair_free(p);
	return NULL;
}

/* Under the lock: take the files again if they changed.  0 when a pair
   is there to serve. */
static int
refresh(void)
{
	struct stat cs, ks;
	struct pair *p;
	const char *why = "";

	if (stat(cert_path, &cs) != 0 || stat(key_path, &ks) != 0)
		return current != NULL ? 0 : -1;
	if (current != NULL && same_file(&cs, &cert_seen) &&
	    same_file(&ks, &key_seen))
		return 0;
	if ((p = pair_load(&why)) == NULL) {
		if (!warned || current == NULL)
			hm_warnx("TLS: %s, %s: %s%s", cert_path, key_path, why,
			    current != NULL ? "; serving the previous pair" :
			    "");
		warned = 1;
		return current != NULL ? 0 : -1;
	}
	if (current != NULL)
		hm_warnx("TLS: %s and %s read again", cert_path, key_path);
	p->older = current;
	current = p;
	cert_seen = cs;
	key_seen = ks;
	warned = 0;
	return 0;
}

static int
retrieve(gnutls_session_t s, const gnutls_datum_t *req_ca_dn, int nreqs,
    const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length,
    gnutls_pcert_st **pcert, unsigned int *pcert_length,
    gnutls_privkey_t *privkey)
{
	int rc;

	(void)s;
	(void)req_ca_dn;
	(void)nreqs;
	(void)pk_algos;
	(void)pk_algos_length;
	pthread_mutex_lock(&lock);
	if ((rc = refresh()) == 0) {
		*pcert = current->pcert;
		*pcert_length = current->n;
		*privkey = current->key;
	}
	pthread_mutex_unlock(&lock);
	return rc;
}

int
tls_open(const char *cert, const char *key)
{
	int rc;

	cert_path = cert;
	key_path = key;
	pthread_mutex_lock(&lock);
	rc = refresh();
	pthread_mutex_unlock(&lock);
	return rc;
}

void *
tls_callback(void)
{
	gnutls_certificate_retrieve_function2 *fn = retrieve;

	return (void *)fn;
}

void
tls_close(void)
{
	struct pair *p, *next;

	pthread_mutex_lock(&lock);
	for (p = current; p != NULL; p = next) {
		next = p->older;
		pair_free(p);
	}
	current = NULL;
	pthread_mutex_unlock(&lock);
}
