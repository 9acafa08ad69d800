/*
 * hopmap-httpd: a node's HTTP face.  On every node the node face (health,
 * readiness, metrics, service info); with --hub, the gateway too (targets
 * in, results out) over the hub's state directory.  The modules are listed
 * in modules.c; this file reads the options, fills the context they share,
 * opens them, serves until SIGTERM or SIGINT, and closes them.
 *
 * `hopmap-httpd key ...` manages the API keys instead (keys_cmd.c).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "core/core.h"
#include "httpd/handler.h"
#include "httpd/keys.h"
#include "httpd/node.h"
#include "httpd/server.h"
#include "httpd/tls.h"

static const char usage[] =
"usage: hopmap-httpd [-l ADDR:PORT] [--hub DIR] [-d DIR] [--metrics-dir DIR]\n"
"                    [--name NAME] [--shard] [--allow-reserved]\n"
"                    [--max-body SIZE]\n"
"                    [--max-header SIZE] [--max-conns N] [--max-per-ip N]\n"
"                    [--timeout DURATION] [--stale DURATION] [--health-key]\n"
"                    [--insecure] [--cert PEM --key PEM] [--manager DIR [--log FILE]]\n"
"       hopmap-httpd key add|list|revoke -d DIR [--admin] [NAME]\n"
"Serve a node's HTTP face: health, metrics, and with --hub the gateway.\n"
"  -l, --listen ADDR:PORT  where to listen (default 127.0.0.1:8080;\n"
"                          [ADDR]:PORT for IPv6)\n"
"      --hub DIR           serve the gateway over the hub's state directory\n"
"  -d, --state-dir DIR     keys and instance id (default the --hub DIR)\n"
"      --metrics-dir DIR   the programs' --metrics files (*.prom)\n"
"      --stale DURATION    not ready when a metrics file is older (default 10m)\n"
"      --name NAME         this node's name (default the host name)\n"
"      --shard             give each address of the ranges to one consumer\n"
"      --allow-reserved    the ranges keep special-purpose addresses (10/8...)\n"
"      --max-body SIZE     largest request body (default 64M)\n"
"      --max-header SIZE   a connection's memory for the request line and\n"
"                          headers (default 32k)\n"
"      --max-conns N       connections at once (default 512)\n"
"      --max-per-ip N      connections at once from one address (default 64,\n"
"                          0 for no limit)\n"
"      --timeout DURATION  close a connection idle this long (default 60s)\n"
"      --health-key        the node face needs a key too\n"
"      --insecure          allow plain HTTP on an address other than loopback\n"
"      --cert PEM          serve HTTPS with this certificate (chain) ...\n"
"      --key PEM           ... and this private key; both are read again\n"
"                          when they change\n"
"      --manager DIR       serve the manager (manager.cgi, its directory DIR)\n"
"                          under /manager/\n"
"      --log FILE          the manager's log of failed logins (AUTH_FAILURE\n"
"                          lines, for fail2ban); else HOPMAP_MANAGER_LOG\n"
"  -h, --help              show this help and exit\n"
"  -V, --version           show the version and exit\n";

enum {
	OPT_HUB = HM_OPT_FIRST_PRIVATE, OPT_METRICS_DIR, OPT_NAME, OPT_SHARD,
	OPT_MAX_BODY, OPT_MAX_HEADER, OPT_MAX_CONNS, OPT_MAX_PER_IP,
	OPT_TIMEOUT, OPT_HEALTH_KEY, OPT_INSECURE, OPT_STALE, OPT_CERT, OPT_KEY,
	OPT_MANAGER, OPT_LOG,
	OPT_ALLOW_RESERVED
};

/* "A.B.C.D:PORT" or "[V6]:PORT" into CONF's address. */
static void
parse_listen(const char *s, struct hs_conf *conf)
{
	char host[128];
	const char *colon, *h = s;
	size_t hlen;
	uint64_t port;
	const char *why;

	if ((colon = strrchr(s, ':')) == NULL)
		hm_errx(HM_EXIT_USAGE, "listen: %s: ADDR:PORT expected", s);
	hlen = (size_t)(colon - s);
	if (s[0] == '[' && hlen >= 2 && s[hlen - 1] == ']') {
		h = s + 1;
		hlen -= 2;
	}
	if (hlen >= sizeof host)
		hm_errx(HM_EXIT_USAGE, "listen: %s: address too long", s);
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	if (hm_strtou64(colon + 1, 1, 65535, &port, &why) != 0)
		hm_errx(HM_EXIT_USAGE, "listen: %s: port %s", s, why);
	memset(&conf->addr, 0, sizeof conf->addr);
	if (h == s) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&conf->addr;

		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
			hm_errx(HM_EXIT_USAGE, "listen: %s: not an IPv4 address "
			    "(an IPv6 one goes in brackets)", s);
		conf->addrlen = sizeof *sin;
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&conf->addr;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1)
			hm_errx(HM_EXIT_USAGE, "listen: %s: not an IPv6 address",
			    s);
		conf->addrlen = sizeof *sin6;
	}
	conf->listen = s;
}

/* --manager: this daemon's own gateway as the manager reaches it (a
   wildcard address by its loopback). */
static const char *
self_url(const struct hs_conf *conf)
{
	static char url[160];
	const char *l = conf->listen != NULL ? conf->listen : "127.0.0.1:8080";
	const char *port = strrchr(l, ':');

	if (strncmp(l, "0.0.0.0:", 8) == 0)
		snprintf(url, sizeof url, "%s://127.0.0.1%s",
		    conf->cert != NULL ? "https" : "http", port);
	else if (strncmp(l, "[::]:", 5) == 0)
		snprintf(url, sizeof url, "%s://[::1]%s",
		    conf->cert != NULL ? "https" : "http", port);
	else
		snprintf(url, sizeof url, "%s://%s",
		    conf->cert != NULL ? "https" : "http", l);
	return url;
}

static int
is_loopback(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)ss)->sin_addr.s_addr)
		    >> 24) == 127;
	return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)ss)->
	    sin6_addr);
}

static char *
join(const char *dir, const char *file)
{
	size_t n = strlen(dir) + strlen(file) + 2;
	char *p = malloc(n);

	if (p == NULL)
		hm_errx(HM_EXIT_FAIL, "out of memory");
	snprintf(p, n, "%s/%s", dir, file);
	return p;
}

/* The instance id kept in STATE/instance-id (made on the first start), or
   a new one each run without a state directory. */
static char *
instance_id(const char *state)
{
	unsigned char raw[16];
	char hex[33], *path, line[64];
	FILE *fp;
	struct hm_atomic a;

	if (state != NULL) {
		path = join(state, "instance-id");
		if ((fp = fopen(path, "r")) != NULL) {
			size_t n = fgets(line, sizeof line, fp) ? strlen(line) : 0;

			fclose(fp);
			while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == ' '))
				line[--n] = '\0';
			if (n == 32 && strspn(line, "0123456789abcdef") == 32) {
				free(path);
				return strdup(line);
			}
			hm_warnx("%s: not an instance id; making a new one", path);
		}
	}
	randombytes_buf(raw, sizeof raw);
	sodium_bin2hex(hex, sizeof hex, raw, sizeof raw);
	if (state != NULL) {
		if (hm_mkparents(path) != 0 || hm_atomic_open(&a, path, 0644,
		    1) != 0)
			hm_err(HM_EXIT_FAIL, "%s", path);
		fprintf(a.fp, "%s\n", hex);
		if (hm_atomic_commit(&a) != 0)
			hm_err(HM_EXIT_FAIL, "%s", path);
		free(path);
	}
	return strdup(hex);
}

static char *
node_name(const char *name)
{
	char host[256];

	if (name == NULL) {
		if (gethostname(host, sizeof host - 1) != 0)
			strcpy(host, "unknown");
		host[sizeof host - 1] = '\0';
		name = host;
	}
	if (!hk_name_ok(name))
		hm_errx(HM_EXIT_USAGE, "bad node name: %s (1 to %d of A-Z a-z "
		    "0-9 . _ -)", name, HK_NAME_MAX);
	return strdup(name);
}

static void
open_modules(struct hs_dispatch *d)
{
	int i;

	for (i = 0; hx_modules[i] != NULL; i++) {
		if (i >= 8)
			hm_errx(HM_EXIT_FAIL, "more modules than hx_ctx.mod has");
		if (hx_modules[i]->hub && !d->conf->hub)
			continue;
		if (hx_modules[i]->open != NULL &&
		    hx_modules[i]->open(d->ctx, i) != 0)
			hm_errx(HM_EXIT_FAIL, "module %s cannot start",
			    hx_modules[i]->name);
		d->opened[i] = 1;
	}
}

static void
close_modules(struct hs_dispatch *d)
{
	int i;

	for (i = 0; hx_modules[i] != NULL; i++)
		if (d->opened[i] && hx_modules[i]->close != NULL)
			hx_modules[i]->close(d->ctx, i);
}

/* Block the stop signals in every thread (libmicrohttpd's inherit the
   mask); the main thread takes them with sigwait. */
static void
wait_for_stop(void)
{
	sigset_t set;
	int sig;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	while (sigwait(&set, &sig) != 0)
		;
	fprintf(stderr, "%s: %s: stopping\n", hm_prog, strsignal(sig));
}

static void
block_stop_signals(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
}

/* OPT's directory DIR must be there already (HINT says what makes it). */
static void
need_dir(const char *opt, const char *dir, const char *hint)
{
	struct stat sb;

	if (stat(dir, &sb) != 0)
		hm_errx(HM_EXIT_FAIL, "%s %s: %s (%s)", opt, dir,
		    strerror(errno), hint);
	if (!S_ISDIR(sb.st_mode))
		hm_errx(HM_EXIT_FAIL, "%s %s: not a directory", opt, dir);
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "hub", required_argument, NULL, OPT_HUB },
		{ "state-dir", required_argument, NULL, 'd' },
		{ "metrics-dir", required_argument, NULL, OPT_METRICS_DIR },
		{ "name", required_argument, NULL, OPT_NAME },
		{ "shard", no_argument, NULL, OPT_SHARD },
		{ "allow-reserved", no_argument, NULL, OPT_ALLOW_RESERVED },
		{ "max-body", required_argument, NULL, OPT_MAX_BODY },
		{ "max-header", required_argument, NULL, OPT_MAX_HEADER },
		{ "max-conns", required_argument, NULL, OPT_MAX_CONNS },
		{ "max-per-ip", required_argument, NULL, OPT_MAX_PER_IP },
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ "health-key", no_argument, NULL, OPT_HEALTH_KEY },
		{ "insecure", no_argument, NULL, OPT_INSECURE },
		{ "stale", required_argument, NULL, OPT_STALE },
		{ "cert", required_argument, NULL, OPT_CERT },
		{ "key", required_argument, NULL, OPT_KEY },
		{ "manager", required_argument, NULL, OPT_MANAGER },
		{ "log", required_argument, NULL, OPT_LOG },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	static struct hx_ctx ctx;
	static struct hs_conf conf;
	static struct hs_dispatch d;
	struct hs_server *srv;
	struct stat sb;
	const char *state = NULL, *name = NULL;
	int c, insecure = 0, log_given = 0;

	hm_setprog(argv);
	if (argc > 1 && strcmp(argv[1], "key") == 0)
		hm_exit(hk_command(argc - 1, argv + 1));
	conf.max_body = 64u << 20;
	conf.max_header = 32u << 10;
	conf.max_conns = 512;
	conf.max_per_ip = 64;
	conf.timeout = 60;
	parse_listen("127.0.0.1:8080", &conf);
	while ((c = getopt_long(argc, argv, "l:d:hV", longopts, NULL)) != -1) {
		switch (c) {
		case 'l':
			parse_listen(optarg, &conf);
			break;
		case OPT_HUB:
			ctx.hub_dir = optarg;
			conf.hub = 1;
			break;
		case 'd':
			state = optarg;
			break;
		case OPT_METRICS_DIR:
			ctx.metrics_dir = optarg;
			break;
		case OPT_NAME:
			name = optarg;
			break;
		case OPT_SHARD:
			ctx.shard = 1;
			break;
		case OPT_ALLOW_RESERVED:
			ctx.reserved = 1;
			break;
		case OPT_MAX_BODY:
			conf.max_body = hm_parse_size(optarg, "max-body");
			break;
		case OPT_MAX_HEADER:
			conf.max_header = hm_parse_size(optarg, "max-header");
			if (conf.max_header < 1024)
				hm_errx(HM_EXIT_USAGE, "max-header value is too "
				    "small: %s (1k at least)", optarg);
			break;
		case OPT_MAX_CONNS:
			conf.max_conns = (unsigned)hm_parse_uint(optarg, 1,
			    100000, "max-conns");
			break;
		case OPT_MAX_PER_IP:
			conf.max_per_ip = (unsigned)hm_parse_uint(optarg, 0,
			    100000, "max-per-ip");
			break;
		case OPT_TIMEOUT:
			conf.timeout = (unsigned)((hm_parse_duration(optarg,
			    "timeout") + 999) / 1000);
			if (conf.timeout == 0)
				hm_errx(HM_EXIT_USAGE, "timeout value is too "
				    "small: %s", optarg);
			break;
		case OPT_HEALTH_KEY:
			conf.health_key = 1;
			break;
		case OPT_INSECURE:
			insecure = 1;
			break;
		case OPT_CERT:
			conf.cert = optarg;
			break;
		case OPT_KEY:
			conf.key = optarg;
			break;
		case OPT_MANAGER:
			conf.manager = optarg;
			break;
		case OPT_LOG:
			/* The CGI finds it in its environment, as under
			   any other CGI server. */
			if (setenv("HOPMAP_MANAGER_LOG", optarg, 1) != 0)
				hm_err(HM_EXIT_FAIL, "--log");
			log_given = 1;
			break;
		case OPT_STALE:
			hx_node_stale = (double)hm_parse_duration(optarg,
			    "stale") / 1000;
			break;
		default:
			hm_common_option(c, optarg, usage);
			hm_usage_error(usage);
		}
	}
	if (optind < argc) {
		hm_warnx("unexpected argument: %s", argv[optind]);
		hm_usage_error(usage);
	}
	if ((conf.cert == NULL) != (conf.key == NULL))
		hm_errx(HM_EXIT_USAGE, "--cert and --key go together");
	if (!is_loopback(&conf.addr) && !insecure && conf.cert == NULL)
		hm_errx(HM_EXIT_USAGE, "listen: %s is not a loopback address: "
		    "plain HTTP there needs --insecure (or --cert and --key)",
		    conf.listen);
	if (conf.cert != NULL && tls_open(conf.cert, conf.key) != 0)
		hm_exit(HM_EXIT_FAIL);
	if (sodium_init() < 0)
		hm_errx(HM_EXIT_FAIL, "libsodium cannot start");
	/* A mistyped --hub would otherwise be made, an empty hub with no
	   ranges and no keys, and every worker told its key is unknown. */
	if (ctx.hub_dir != NULL)
		need_dir("--hub", ctx.hub_dir, "the directory of hopmap-hub serve -d");
	if (log_given && conf.manager == NULL)
		hm_errx(HM_EXIT_USAGE, "--log goes with --manager");
	/* The manager's directory may come after the daemon (a unit started
	   before the first add-user): said, not refused. */
	if (conf.manager != NULL && stat(conf.manager, &sb) != 0)
		hm_warnx("--manager %s: %s; its pages fail until "
		    "hopmap-manager add-user -d %s NAME makes it",
		    conf.manager, strerror(errno), conf.manager);
	if (state == NULL)
		state = ctx.hub_dir;
	ctx.name = node_name(name);
	ctx.instance_id = instance_id(state);
	if (ctx.hub_dir != NULL) {
		ctx.db_path = join(ctx.hub_dir, "map.db");
		ctx.sink_socket = join(ctx.hub_dir, "sink.sock");
		ctx.ranges_dir = join(ctx.hub_dir, "ranges");
	}
	if (state != NULL) {
		ctx.keys_path = join(state, "keys");
		d.keys = hk_open(ctx.keys_path);
	}
	if (conf.manager != NULL && hs_cgi_setup(conf.manager, &ctx,
	    self_url(&conf)) != 0)
		hm_exit(HM_EXIT_FAIL);
	ctx.started = (double)hm_now_ms() / 1000.0;
	d.ctx = &ctx;
	d.conf = &conf;
	hs_stats_modules(&d);
	block_stop_signals();
	open_modules(&d);
	if ((srv = hs_start(&d)) == NULL)
		hm_exit(HM_EXIT_FAIL);
	fprintf(stderr, "%s: listening on %s%s%s%s\n", hm_prog, conf.listen,
	    conf.cert != NULL ? " (TLS)" : "",
	    ctx.hub_dir != NULL ? ", hub " : "",
	    ctx.hub_dir != NULL ? ctx.hub_dir : "");
	wait_for_stop();
	hs_stop(srv, conf.timeout * 1000);
	close_modules(&d);
	hk_close(d.keys);
	if (conf.cert != NULL)
		tls_close();
	hm_exit(HM_EXIT_OK);
}
