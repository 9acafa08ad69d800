/*
 * sqlsink: store records in SQLite, the end of every hopmap pipeline.
 *
 * Three kinds of thread.  The main thread reads lines (standard input
 * and, with --listen, any number of Unix-socket connections in one poll()
 * loop) and packs them into chunks; parser threads parse each line with
 * jansson once, classify it and take out its column values; the writer
 * thread owns the database and stores the chunks, in the order they were
 * read, with prepared statements.  Only a few chunks are in flight, so a
 * slow disk slows the readers instead of growing memory.
 *
 * What must stay true:
 * - Rows are written in batches, one transaction a batch, committed when
 *   --batch records are in it or --interval has passed since its first
 *   record.  A batch is reported (-v, metrics) only after COMMIT returned,
 *   so everything reported is in the database even after a SIGKILL.
 * - A line is stored whole or not at all: a connection's last line without
 *   a newline is torn (its writer died mid-line) and is reported, not
 *   stored.
 * - Nothing valid is dropped: JSON that is not a ping, trace or target goes
 *   to the raw table.  Only lines that are not JSON at all are skipped.
 * - A record whose "id" is already in the database is ignored whole, so a
 *   sender may retry a delivery without storing it twice.
 * - A session (a connection that began with a session line) is answered
 *   only after the commit that holds its last line and its delivery row;
 *   its records are all its node's (lib/sink/session.c).
 * - The DB path is a symlink to the current file; rotated files are named
 *   STEM-YYYYMMDDTHHMMSS.mmmZ.EXT so they sort by time.
 *
 * This file is the story: options, set-up, the writer's batches, the end.
 * The parts are in lib/sink/ (see lib/sink/sink.h).
 */
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sink/sink.h"

static const char usage[] =
"usage: sqlsink [-v] [-b N] [-i DURATION] [-l PATH] [--no-stdin]\n"
"               [--socket-mode MODE] [-s SIZE] [-a DURATION] [-k K]\n"
"               [--sync MODE] [--metrics FILE] [--strict] [--max-line N]\n"
"               [DB]\n"
"       sqlsink --send PATH --node NAME [--segment NAME] [--peer ADDR]\n"
"               [-w DURATION] [-v]\n"
"Store hopmap records in SQLite (DB, default map.db, a symlink to the\n"
"current file of a rotated series), or deliver standard input to a\n"
"sink's socket in a session and print its answer (--send).\n"
"  -b, --batch N          commit every N records (default 1000)\n"
"  -i, --interval DUR     or when a batch is this old (default 1s)\n"
"  -l, --listen PATH      also accept writers on a Unix stream socket\n"
"      --no-stdin         do not read standard input (with --listen)\n"
"      --socket-mode MODE the socket's mode, 600 (default) or 660\n"
"  -s, --max-size SIZE    rotate when the file passes SIZE (default 100M,\n"
"                         0: never)\n"
"  -a, --max-age DUR      rotate when the file is older (default 7d, 0: never)\n"
"  -k, --keep K           keep the newest K files, delete older ones\n"
"                         (default 5; 0: keep every file)\n"
"      --sync MODE        normal (default) or full: fsync every commit\n"
"  -v, --verbose          report commits, rotations and connections\n"
"      --send PATH        deliver standard input to the socket PATH as\n"
"                         NAME's records; print ok N, refused R of N: ...\n"
"                         or error ...; exit 0 only when all were stored\n"
"      --node NAME        the node the session binds (with --send)\n"
"      --segment NAME     the delivery's name, for the delivery row\n"
"      --peer ADDR        the sender's address, for the delivery row\n"
"  -w, --wait DUR         wait this long for the answer (default 30s)\n"
HM_STATS_HELP
HM_COMMON_HELP;

enum {
	OPT_NO_STDIN = HM_OPT_FIRST_PRIVATE,
	OPT_SYNC,
	OPT_SOCKET_MODE,
	OPT_SEND,
	OPT_NODE,
	OPT_SEGMENT,
	OPT_PEER
};

/* The client's options (--send). */
static struct {
	const char *path, *node, *segment, *peer;
	uint64_t wait_ms;
} send_opt = { .wait_ms = 30000 };

/* Copies of the counters the readers and parsers keep atomically, made
   by the thread that writes the metrics file, before it does. */
static uint64_t x_lines, x_bad, x_torn, x_conns, x_conns_open, x_refused;

static int nparsers;
static pthread_t parser[MAXPARSERS], writer;

/* ---- the writer thread ---- */

static struct {
	int open;
	unsigned n, dups;
	uint64_t deadline;
	struct session *waiting;	/* ended; answered after the commit */
} batch;

/* Sessions are answered only now that COMMIT returned: everything they
   were told is stored is in the database, whatever happens next. */
static void
answer_waiting(void)
{
	struct session *s;

	while ((s = batch.waiting) != NULL) {
		batch.waiting = s->next;
		sink_session_answer(s);
	}
}

static void
batch_commit(void)
{
	if (!batch.open)
		return;
	sink_commit();
	answer_waiting();
	batch.open = 0;
	sink_n.batches++;
	sink_n.records += batch.n;
	sink_n.dups += batch.dups;
	/* Said only now that COMMIT returned: a test may hold us to it. */
	if (sink_opt.verbose)
		SAY("%s: committed batch %" PRIu64 ": %u records, %u duplicates"
		    " ignored (%" PRIu64 " records in total)", sink_cur_path,
		    sink_n.batches, batch.n, batch.dups, sink_n.records);
}

/* Commit, then start a new file if this one is big or old enough. */
static void
batch_end(void)
{
	const char *why;

	batch_commit();
	if ((why = sink_rotation_due()) != NULL)
		sink_rotate(why);
}

static void
batch_begin(void)
{
	if (!batch.open) {
		sink_begin();
		batch.open = 1;
		batch.n = batch.dups = 0;
		batch.deadline = hm_mono_ms() + sink_opt.interval_ms;
	}
}

static void
batch_add(const struct item *it, struct session *s)
{
	batch_begin();
	if (sink_store(it)) {
		batch.n++;
		if (s != NULL)
			s->stored++;
	} else {
		batch.dups++;
		if (s != NULL)
			s->dups++;
	}
	if (batch.n + batch.dups >= sink_opt.batch_max)
		batch_end();
}

/*
 * A chunk of a session: its refusals, and at the session's end the
 * delivery row, in the batch that holds the last line; the session then
 * waits for that batch's commit.
 */
static void
chunk_session(const struct chunk *c)
{
	struct session *s = c->sess;

	sink_session_note(s, c->refused, c->nrefused < SESSION_REASONS ?
	    c->nrefused : SESSION_REASONS, c->nrefused);
	if (!c->sess_end)
		return;
	batch_begin();
	sink_store_delivery(s);
	s->next = batch.waiting;
	batch.waiting = s;
}

static void
metrics_snapshot(void)
{
	x_lines = __atomic_load_n(&sink_n.lines, __ATOMIC_RELAXED);
	x_bad = __atomic_load_n(&sink_n.bad, __ATOMIC_RELAXED);
	x_torn = __atomic_load_n(&sink_n.torn, __ATOMIC_RELAXED);
	x_conns = __atomic_load_n(&sink_n.conns, __ATOMIC_RELAXED);
	x_conns_open = __atomic_load_n(&sink_n.conns_open, __ATOMIC_RELAXED);
	x_refused = __atomic_load_n(&sink_n.refused, __ATOMIC_RELAXED);
}

/* hm_metrics_write(0) looks at the clock only every 1024 calls; the
   writer may be idle, so it keeps its own time. */
static void
metrics_tick(void)
{
	static uint64_t last;
	uint64_t now = hm_mono_ms();

	if (hm_opt.metrics != NULL && now - last >= 5000) {
		last = now;
		metrics_snapshot();
		hm_metrics_write(1);
	}
}

/* Items were made on another core: ask for the next one's lines while
   this one is stored. */
static void
prefetch_item(const struct item *it)
{
	size_t off;

	for (off = 0; off < sizeof(*it); off += 64)
		__builtin_prefetch((const char *)it + off);
	for (off = 0; off < it->len; off += 64)
		__builtin_prefetch(it->text + off);
}

static void *
writer_main(void *arg)
{
	struct chunk *c;
	int done = 0, hup;
	size_t i;

	(void)arg;
	pthread_setname_np(pthread_self(), "sqlsink-writer");
	while (!done) {
		/* A session waiting for its answer: commit as soon as no chunk
		   is ready, so one commit serves every session ended by then. */
		c = sink_chunk_next(batch.waiting != NULL ? hm_mono_ms() :
		    batch.open ? batch.deadline : 0, &done, &hup);
		if (c != NULL) {
			for (i = 0; i < c->nitems; i++) {
				if (i + 1 < c->nitems)
					prefetch_item(c->items[i + 1]);
				batch_add(c->items[i], c->sess);
			}
			if (c->sess != NULL)
				chunk_session(c);
			sink_chunk_stored(c);
		}
		if (batch.open && (done || hm_mono_ms() >= batch.deadline ||
		    (c == NULL && batch.waiting != NULL)))
			batch_end();
		if (hup) {
			batch_commit();
			sink_rotate("signal");
		}
		metrics_tick();
	}
	return NULL;
}

static void
metrics_init(void)
{
	static const struct {
		const char *name;
		enum hm_metric_type type;
		const char *help;
		const uint64_t *v;
	} m[] = {
		{ "lines_in", HM_COUNTER, "lines read", &x_lines },
		{ "lines_bad", HM_COUNTER, "lines reported and skipped",
		    &x_bad },
		{ "lines_torn", HM_COUNTER, "torn last lines of connections",
		    &x_torn },
		{ "records_committed", HM_COUNTER,
		    "records in committed batches",
		    &sink_n.records },
		{ "records_duplicate", HM_COUNTER,
		    "records ignored: their id was stored before",
		    &sink_n.dups },
		{ "batches_committed", HM_COUNTER, "transactions committed",
		    &sink_n.batches },
		{ "rows_pings", HM_COUNTER, "ping rows inserted",
		    &sink_n.pings },
		{ "rows_traces", HM_COUNTER, "trace rows inserted",
		    &sink_n.traces },
		{ "rows_hops", HM_COUNTER, "hop rows inserted", &sink_n.hops },
		{ "links_seen", HM_COUNTER, "link observations upserted",
		    &sink_n.links },
		{ "rows_targets", HM_COUNTER, "target rows inserted",
		    &sink_n.targets },
		{ "rows_raw", HM_COUNTER, "raw rows inserted", &sink_n.raw },
		{ "rotations", HM_COUNTER, "database files rotated",
		    &sink_n.rotations },
		{ "connections", HM_COUNTER, "socket connections accepted",
		    &x_conns },
		{ "connections_open", HM_GAUGE, "socket connections open",
		    &x_conns_open },
		{ "records_refused", HM_COUNTER,
		    "lines of sessions refused", &x_refused },
		{ "sessions_answered", HM_COUNTER,
		    "sessions answered after their commit", &sink_n.sessions },
	};
	size_t i;

	for (i = 0; i < sizeof(m) / sizeof(m[0]); i++)
		hm_metric(m[i].name, m[i].type, m[i].help, m[i].v);
}

static void
parse_options(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "batch", required_argument, NULL, 'b' },
		{ "interval", required_argument, NULL, 'i' },
		{ "listen", required_argument, NULL, 'l' },
		{ "no-stdin", no_argument, NULL, OPT_NO_STDIN },
		{ "max-size", required_argument, NULL, 's' },
		{ "max-age", required_argument, NULL, 'a' },
		{ "keep", required_argument, NULL, 'k' },
		{ "sync", required_argument, NULL, OPT_SYNC },
		{ "verbose", no_argument, NULL, 'v' },
		{ "socket-mode", required_argument, NULL, OPT_SOCKET_MODE },
		{ "send", required_argument, NULL, OPT_SEND },
		{ "node", required_argument, NULL, OPT_NODE },
		{ "segment", required_argument, NULL, OPT_SEGMENT },
		{ "peer", required_argument, NULL, OPT_PEER },
		{ "wait", required_argument, NULL, 'w' },
		HM_STATS_LONGOPT,
		HM_COMMON_LONGOPTS,
		{ NULL, 0, NULL, 0 }
	};
	int c;

	while ((c = getopt_long(argc, argv, "b:i:l:s:a:k:vw:"
	    HM_COMMON_SHORTOPTS, longopts, NULL)) != -1) {
		if (hm_common_option(c, optarg, usage))
			continue;
		switch (c) {
		case 'b':
			sink_opt.batch_max = (unsigned)hm_parse_uint(optarg, 1,
			    1000000, "batch");
			break;
		case 'i':
			sink_opt.interval_ms = hm_parse_duration(optarg,
			    "interval");
			if (sink_opt.interval_ms == 0 ||
			    sink_opt.interval_ms > 86400000)
				hm_errx(HM_EXIT_USAGE, "interval value is out "
				    "of range (1ms..1d): %s", optarg);
			break;
		case 'l':
			sink_opt.listen_path = optarg;
			break;
		case OPT_NO_STDIN:
			sink_opt.no_stdin = 1;
			break;
		case 's':
			sink_opt.max_size = hm_parse_size(optarg, "max-size");
			break;
		case 'a':
			sink_opt.max_age_ms = hm_parse_duration(optarg,
			    "max-age");
			break;
		case 'k':
			sink_opt.keep = (unsigned)hm_parse_uint(optarg, 0,
			    100000, "keep");
			break;
		case OPT_SYNC:
			if (strcmp(optarg, "full") != 0 &&
			    strcmp(optarg, "normal") != 0)
				hm_errx(HM_EXIT_USAGE, "sync value is invalid "
				    "(normal, full): %s", optarg);
			sink_opt.sync_full = strcmp(optarg, "full") == 0;
			break;
		case 'v':
			sink_opt.verbose = 1;
			break;
		case OPT_SOCKET_MODE:
			if (strcmp(optarg, "600") != 0 &&
			    strcmp(optarg, "0600") != 0 &&
			    strcmp(optarg, "660") != 0 &&
			    strcmp(optarg, "0660") != 0)
				hm_errx(HM_EXIT_USAGE, "socket-mode value is "
				    "invalid (600, 660): %s", optarg);
			sink_opt.socket_mode = strstr(optarg, "66") ? 0660 :
			    0600;
			break;
		case OPT_SEND:
			send_opt.path = optarg;
			break;
		case OPT_NODE:
			send_opt.node = optarg;
			break;
		case OPT_SEGMENT:
			send_opt.segment = optarg;
			break;
		case OPT_PEER:
			send_opt.peer = optarg;
			break;
		case 'w':
			send_opt.wait_ms = hm_parse_duration(optarg, "wait");
			if (send_opt.wait_ms == 0 ||
			    send_opt.wait_ms > 86400000)
				hm_errx(HM_EXIT_USAGE, "wait value is out "
				    "of range (1ms..1d): %s", optarg);
			break;
		default:
			hm_usage_error(usage);
		}
	}
	if (send_opt.path != NULL) {
		if (send_opt.node == NULL)
			hm_errx(HM_EXIT_USAGE, "--send needs --node");
		if (argc - optind > 0 || sink_opt.listen_path != NULL)
			hm_usage_error(usage);
		return;
	}
	if (send_opt.node != NULL || send_opt.segment != NULL ||
	    send_opt.peer != NULL)
		hm_errx(HM_EXIT_USAGE, "--node, --segment and --peer need --send");
	if (argc - optind > 1)
		hm_errx(HM_EXIT_USAGE, "one database, not %d: %s %s%s",
		    argc - optind, argv[optind], argv[optind + 1],
		    argc - optind > 2 ? " ..." : "");
	if (sink_opt.no_stdin && sink_opt.listen_path == NULL)
		hm_errx(HM_EXIT_USAGE, "--no-stdin needs --listen");
	/* The socket's directory (/run/hopmap/ on a new boot) is made. */
	if (sink_opt.listen_path != NULL &&
	    hm_mkparents(sink_opt.listen_path) != 0)
		hm_err(HM_EXIT_FAIL, "%s: cannot create its directory",
		    sink_opt.listen_path);
}

/* Parsers, one a processor (one with --strict, for the order), and the
   writer. */
static void
threads_start(void)
{
	int i;

	nparsers = hm_opt.strict ? 1 : (int)sysconf(_SC_NPROCESSORS_ONLN);
	nparsers = nparsers < 1 ? 1 : nparsers > MAXPARSERS ? MAXPARSERS :
	    nparsers;
	for (i = 0; i < nparsers; i++)
		if (pthread_create(&parser[i], NULL, sink_parser_main,
		    (void *)(intptr_t)i) != 0)
			hm_errx(HM_EXIT_FAIL, "cannot start a parser thread");
	if (pthread_create(&writer, NULL, writer_main, NULL) != 0)
		hm_errx(HM_EXIT_FAIL, "cannot start the writer thread");
}

/* The input is all read: the threads finish what is in flight. */
static void
threads_join(void)
{
	int i;

	sink_pipe_input_done();
	for (i = 0; i < nparsers; i++)
		pthread_join(parser[i], NULL);
	pthread_join(writer, NULL);
}

int
main(int argc, char *argv[])
{
	sigset_t block, old;

	hm_setprog(argv);
	/* SQLite's memory statistics take a global mutex per allocation. */
	sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
	parse_options(argc, argv);
	if (send_opt.path != NULL)
		hm_exit(sink_send(send_opt.path, send_opt.node,
		    send_opt.segment, send_opt.peer, send_opt.wait_ms));
	{
		const char *db = optind < argc ? argv[optind] : "map.db";

		/* Its directory (/var/lib/hopmap/ on a new machine) is made,
		   as cooldown's and the socket's are. */
		if (hm_mkparents(db) != 0)
			hm_err(HM_EXIT_FAIL, "%s: cannot create its directory", db);
		sink_names_init(db);
	}
	hm_signals_init(1);
	signal(SIGPIPE, SIG_IGN);
	metrics_init();
	sink_pipe_init();
	/* With fd 0 closed, a socket could take it and pose as stdin. */
	if (fcntl(0, F_GETFD) < 0 && open("/dev/null", O_RDONLY) != 0)
		hm_err(HM_EXIT_FAIL, "/dev/null");
	sink_open_current();
	sink_readers_open();

	/* Signals reach the main thread only, inside ppoll(), so a stop or
	   a HUP is never lost between a flag check and the wait. */
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	threads_start();
	sink_reader_loop(&old);
	sink_readers_close();
	threads_join();
	sink_pipe_free();
	sink_db_close();
	if (sink_opt.verbose)
		SAY("%" PRIu64 " records stored in %" PRIu64 " batches, %"
		    PRIu64 " duplicates ignored, %" PRIu64 " bad lines",
		    sink_n.records, sink_n.batches, sink_n.dups, sink_n.bad);
	metrics_snapshot();	/* for the last write, in hm_exit */
	hm_stats_print("records stored", sink_n.records, sink_n.bad);
	hm_exit(sink_n.bad > 0 || sink_strict_stopped ? HM_EXIT_BADINPUT :
	    HM_EXIT_OK);
}
