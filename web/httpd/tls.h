/*
 * tls.h: the certificate and key hopmap-httpd serves over TLS (GnuTLS
 * through libmicrohttpd), read again when their files change, so a
 * renewal (certbot's) needs no restart.
 */
#ifndef HOPMAP_HTTPD_TLS_H
#define HOPMAP_HTTPD_TLS_H

/* Read CERT (a PEM chain) and KEY (a PEM private key) now: 0, or -1 after
   saying why on stderr. */
int tls_open(const char *cert, const char *key);
/* libmicrohttpd's MHD_OPTION_HTTPS_CERT_CALLBACK (a GnuTLS
   gnutls_certificate_retrieve_function2), as a plain pointer. */
void *tls_callback(void);
void tls_close(void);

#endif
