/* hubkey.c: a worker's API key on the hub, made or revoked by the hub's
   own tool (hopmap-httpd key add|revoke -d HUBDIR NAME), so the manager
   never writes the hub's key store itself. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "manager/manager.h"

static char *
httpd(void)
{
	const char *p = getenv("HOPMAP_MANAGER_HTTPD");

	return (char *)(p != NULL && *p != '\0' ? p : "hopmap-httpd");
}

static int
precheck(const char *hub_dir, const char *name, char *err, size_t errlen)
{
	if (hub_dir == NULL || *hub_dir == '\0') {
		snprintf(err, errlen, "no hub directory is configured "
		    "(HOPMAP_MANAGER_HUB_DIR)");
		return -1;
	}
	if (!mg_wname_ok(name)) {
		snprintf(err, errlen, "bad worker name");
		return -1;
	}
	return 0;
}

int
mg_hubkey_add(const char *hub_dir, const char *name, int admin, char *key,
    size_t cap, char *err, size_t errlen)
{
	char *argv[] = { httpd(), "key", "add", "-d", (char *)hub_dir,
	    (char *)name, NULL, NULL };
	char *out = NULL;
	size_t len;
	int rc;

	if (precheck(hub_dir, name, err, errlen) != 0)
		return -1;
	if (admin) {
		argv[5] = "--admin";
		argv[6] = (char *)name;
	}
	rc = mg_run(argv, NULL, &out, &len, 512, err, errlen);
	if (rc == 0) {
		out[strcspn(out, "\n")] = '\0';
		if (!mg_key_text_ok(out) || strlen(out) >= cap) {
			snprintf(err, errlen, "%s key add: no key in its "
			    "answer", argv[0]);
			rc = -1;
		} else
			memcpy(key, out, strlen(out) + 1);
	} else if (rc == 1) {
		snprintf(err, errlen, "the hub has a key for %s already: "
		    "revoke it first", name);
		rc = -1;
	} else if (rc > 0) {
		snprintf(err, errlen, "%s key add failed (exit %d)", argv[0],
		    rc);
		rc = -1;
	}
	if (out != NULL) {
		sodium_memzero(out, len);
		free(out);
	}
	return rc;
}

int
mg_hubkey_revoke(const char *hub_dir, const char *name, char *err,
    size_t errlen)
{
	char *argv[] = { httpd(), "key", "revoke", "-d", (char *)hub_dir,
	    (char *)name, NULL };
	char *out = NULL;
	size_t len;
	int rc;

	if (precheck(hub_dir, name, err, errlen) != 0)
		return -1;
	rc = mg_run(argv, NULL, &out, &len, 512, err, errlen);
	free(out);
	if (rc == 1)
		return 1;
	if (rc > 1) {
		snprintf(err, errlen, "%s key revoke failed (exit %d)",
		    argv[0], rc);
		rc = -1;
	}
	return rc;
}
