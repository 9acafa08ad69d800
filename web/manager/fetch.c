/* fetch.c: GET a node's JSON (/service-info, /health) by curl, which
   speaks HTTPS and follows no redirect here.  The URL and the key go to
   curl on its stdin as a config (-K -), never on its command line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "manager/manager.h"

#define FETCH_MAX (1 << 20)	/* a node's answer is a few kB */

int
mg_url_ok(const char *url)
{
	size_t n = strlen(url);

	if (n > MG_URL_MAX || (strncmp(url, "http://", 7) != 0 &&
	    strncmp(url, "https://", 8) != 0))
		return 0;
	/* Printable ASCII without what a curl config would need escaped,
	   and without a space, so the URL is one word everywhere. */
	for (size_t i = 0; i < n; i++)
		if (url[i] <= 0x20 || url[i] >= 0x7f || url[i] == '"' ||
		    url[i] == '\\')
			return 0;
	return url[n - 1] != '/' || n > 8;
}

int
mg_key_text_ok(const char *key)
{
	size_t n = strlen(key);

	if (n == 0 || n > 128)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((key[i] >= 'a' && key[i] <= 'z') ||
		    (key[i] >= 'A' && key[i] <= 'Z') ||
		    (key[i] >= '0' && key[i] <= '9') || key[i] == '-' ||
		    key[i] == '_'))
			return 0;
	return 1;
}

int
mg_fetch_json(const char *base, const char *path, const char *key,
    int timeout, json_t **out, char *err, size_t errlen)
{
	char to[16], conf[MG_URL_MAX + 256 + 64], *body = NULL, *nl;
	char *argv[] = { "curl", "-sS", "--proto", "=http,https", "--max-time",
	    to, "--max-filesize", "1048576", "-w", "\\n%{http_code}", "-K",
	    "-", NULL };
	const char *cmd = getenv("HOPMAP_MANAGER_CURL");
	size_t len, blen;
	json_error_t je;
	int rc, status;

	*out = NULL;
	if (cmd != NULL && *cmd != '\0')
		argv[0] = (char *)cmd;
	snprintf(to, sizeof to, "%d", timeout);
	/* base without its trailing slash, then the path. */
	blen = strlen(base);
	while (blen > 0 && base[blen - 1] == '/')
		blen--;
	if (key != NULL && *key != '\0')
		snprintf(conf, sizeof conf, "url = \"%.*s%s\"\nheader = "
		    "\"Authorization: Bearer %s\"\n", (int)blen, base, path, key);
	else
		snprintf(conf, sizeof conf, "url = \"%.*s%s\"\n", (int)blen,
		    base, path);
	rc = mg_run(argv, conf, &body, &len, FETCH_MAX + 16, err, errlen);
	sodium_memzero(conf, sizeof conf);
	if (rc < 0)
		goto fail;
	if (rc != 0) {
		/* curl said why on stderr; the exit code names it here. */
		snprintf(err, errlen, "curl failed (exit %d%s)", rc,
		    rc == 7 ? ": cannot connect" : rc == 28 ? ": timed out" :
		    rc == 6 ? ": unknown host" : "");
		goto fail;
	}
	if ((nl = strrchr(body, '\n')) == NULL) {
		snprintf(err, errlen, "no answer");
		goto fail;
	}
	*nl = '\0';
	status = atoi(nl + 1);
	if (status != 200) {
		snprintf(err, errlen, "HTTP %d", status);
		goto fail;
	}
	if ((*out = json_loads(body, JSON_REJECT_DUPLICATES, &je)) == NULL ||
	    !json_is_object(*out)) {
		snprintf(err, errlen, "not a JSON object: %s", je.text);
		json_decref(*out);
		*out = NULL;
		goto fail;
	}
	free(body);
	return 0;
fail:
	free(body);
	return -1;
}
