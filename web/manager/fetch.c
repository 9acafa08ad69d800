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

/* The curl config for one request: its URL (base without its trailing
   slash, then path), method and key. */
static void
config(char *conf, size_t cap, const char *method, const char *base,
    const char *path, const char *key)
{
	size_t blen = strlen(base), len;

	while (blen > 0 && base[blen - 1] == '/')
		blen--;
	len = (size_t)snprintf(conf, cap, "url = \"%.*s%s\"\nrequest = \"%s\"\n",
	    (int)blen, base, path, method);
	if (key != NULL && *key != '\0' && len < cap)
		snprintf(conf + len, cap - len, "header = \"Authorization: "
		    "Bearer %s\"\n", key);
}

static char *
curl_cmd(void)
{
	const char *cmd = getenv("HOPMAP_MANAGER_CURL");

	return (char *)(cmd != NULL && *cmd != '\0' ? cmd : "curl");
}

int
mg_http_json(const char *method, const char *base, const char *path,
    const char *key, int timeout, int *status, json_t **out, char *err,
    size_t errlen)
{
	char to[16], conf[MG_URL_MAX + 256 + 64], *body = NULL, *nl;
	char *argv[] = { curl_cmd(), "-sS", "--proto", "=http,https",
	    "--max-time", to, "--max-filesize", "1048576", "-w",
	    "\\n%{http_code}", "-K", "-", NULL };
	json_error_t je;
	size_t len;
	int rc;

	*out = NULL;
	*status = 0;
	snprintf(to, sizeof to, "%d", timeout);
	config(conf, sizeof conf, method, base, path, key);
	rc = mg_run(argv, conf, &body, &len, FETCH_MAX + 16, err, errlen);
	sodium_memzero(conf, sizeof conf);
	if (rc != 0) {
		/* curl said why on stderr; the exit code names it here. */
		if (rc > 0)
			snprintf(err, errlen, "curl failed (exit %d%s)", rc,
			    rc == 7 ? ": cannot connect" : rc == 28 ?
			    ": timed out" : rc == 6 ? ": unknown host" : "");
		free(body);
		return -1;
	}
	if ((nl = strrchr(body, '\n')) == NULL) {
		snprintf(err, errlen, "no answer");
		free(body);
		return -1;
	}
	*nl = '\0';
	*status = atoi(nl + 1);
	if ((*out = json_loads(body, JSON_REJECT_DUPLICATES, &je)) != NULL &&
	    !json_is_object(*out)) {
		json_decref(*out);
		*out = NULL;
	}
	if (*out == NULL)
		snprintf(err, errlen, "HTTP %d, not a JSON object", *status);
	free(body);
	return 0;
}

int
mg_fetch_json(const char *base, const char *path, const char *key,
    int timeout, json_t **out, char *err, size_t errlen)
{
	int status;

	if (mg_http_json("GET", base, path, key, timeout, &status, out, err,
	    errlen) != 0)
		return -1;
	if (status != 200) {
		snprintf(err, errlen, "HTTP %d", status);
		json_decref(*out);
		*out = NULL;
		return -1;
	}
	if (*out == NULL)
		return -1;
	return 0;
}

int
mg_stream(const char *base, const char *path, const char *key,
    int timeout, pid_t *pid, int *fd, char *err, size_t errlen)
{
	char to[16], conf[MG_URL_MAX + 256 + 64];
	/* -i: the answer's status line and headers come first on the
	   pipe, so the caller knows the status before any byte of the
	   body is passed on. */
	char *argv[] = { curl_cmd(), "-sS", "-i", "--proto", "=http,https",
	    "--max-time", to, "-K", "-", NULL };
	int rc;

	snprintf(to, sizeof to, "%d", timeout);
	config(conf, sizeof conf, "GET", base, path, key);
	rc = mg_spawn(argv, conf, pid, fd, err, errlen);
	sodium_memzero(conf, sizeof conf);
	return rc;
}
