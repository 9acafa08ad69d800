/*
 * manager.cgi: hopmap's manager as a CGI/1.1 program, for hopmap-httpd
 * --manager DIR or any web server that runs CGI (lighttpd's mod_cgi, ...).
 * A CGI gets no options: the server's configuration sets its environment
 * (HOPMAP_MANAGER_DIR, _KEY or _KEY_FILE, _LOG, _HUB_DB; manager.cgi(8)).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "manager/manager.h"

static const char usage[] =
"usage: manager.cgi   (run by a web server, as CGI/1.1)\n"
"hopmap's manager: TOTP login, sessions, the dashboard.  Configured by the\n"
"server's environment:\n"
"  HOPMAP_MANAGER_DIR       the manager's directory (its store, manager.db)\n"
"  HOPMAP_MANAGER_KEY_FILE  the server key (default DIR/server.key)\n"
"  HOPMAP_MANAGER_KEY       or the key itself, 64 hex digits\n"
"  HOPMAP_MANAGER_LOG       the log fail2ban reads (default: stderr)\n"
"  HOPMAP_MANAGER_HUB_DB    the hub's database, for the dashboard\n"
"  HOPMAP_MANAGER_HUB_DIR   the hub's state directory: workers' API keys\n"
"  HOPMAP_MANAGER_HUB_URL   the hub's gateway (rotate, dump; default the\n"
"                           registered node of type output)\n"
"  HOPMAP_MANAGER_MAP       the hopmap-map that draws the map (default PATH's)\n"
"  HOPMAP_MANAGER_HTTPD     the hopmap-httpd that makes them (default PATH's)\n"
"  HOPMAP_MANAGER_CURL      the curl that asks the workers (default PATH's)\n"
"  -h, --help     show this help and exit\n"
"  -V, --version  show the version and exit\n";

static const char *
env(const char *name)
{
	const char *v = getenv(name);

	return v != NULL && *v != '\0' ? v : NULL;
}

int
main(int argc, char **argv)
{
	struct mg_config cf;
	struct mg_req req;
	char *body;
	int status;

	hm_setprog(argv);
	/* Outside a server (no GATEWAY_INTERFACE) only --help and --version
	   mean anything; a CGI's own argv is ignored (RFC 3875 4.4). */
	if (getenv("GATEWAY_INTERFACE") == NULL) {
		if (argc > 1 && (strcmp(argv[1], "-V") == 0 ||
		    strcmp(argv[1], "--version") == 0)) {
			printf("manager.cgi (hopmap) %s\n", HM_VERSION);
			return HM_EXIT_OK;
		}
		if (argc > 1 && (strcmp(argv[1], "-h") == 0 ||
		    strcmp(argv[1], "--help") == 0)) {
			fputs(usage, stdout);
			return HM_EXIT_OK;
		}
		fputs(usage, stderr);
		return HM_EXIT_USAGE;
	}
	cf.dir = env("HOPMAP_MANAGER_DIR");
	cf.key_file = env("HOPMAP_MANAGER_KEY_FILE");
	cf.log = env("HOPMAP_MANAGER_LOG");
	cf.hub_db = env("HOPMAP_MANAGER_HUB_DB");
	cf.hub_dir = env("HOPMAP_MANAGER_HUB_DIR");
	cf.hub_url = env("HOPMAP_MANAGER_HUB_URL");
	status = mg_req_from_env(&req, 0, &body);
	if (status != 0) {
		const char *why = status == 411 ? "Length Required" :
		    status == 413 ? "Content Too Large" : status == 500 ?
		    "Internal Server Error" : "Bad Request";

		printf("Status: %d %s\r\nContent-Type: text/plain\r\n\r\n"
		    "%s\n", status, why, why);
		return fflush(stdout) == 0 ? HM_EXIT_OK : HM_EXIT_FAIL;
	}
	mg_cgi_handle(&cf, &req, time(NULL), stdout);
	free(body);
	if (fflush(stdout) != 0 || ferror(stdout))
		return HM_EXIT_FAIL;
	return HM_EXIT_OK;
}
