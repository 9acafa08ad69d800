/*
 * core.h: the bottom of hopmap's library, what every filter uses: lines,
 * records and their JSON text, IPv4 addresses, the special-purpose table,
 * diagnostics, options, numbers, metrics, atomic files, signals, output,
 * clock and the input loop.  It includes no other folder of lib/; the
 * folders above it (addrset, seen, probe, trace, sink) each have a header
 * of their own.  Each section below is implemented in the .c file it names.
 */
#ifndef HOPMAP_CORE_H
#define HOPMAP_CORE_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include <jansson.h>

#define HM_VERSION "0.1.0"

/*
 * Exit statuses, the same for every program (hopmap(7)).
 */
enum {
	HM_EXIT_OK = 0,		/* all input was good, all output written */
	HM_EXIT_BADINPUT = 1,	/* some input lines were reported and skipped,
				   or --strict stopped at the first one */
	HM_EXIT_USAGE = 2,	/* bad command line */
	HM_EXIT_FAIL = 3	/* system error: I/O, database, sockets */
};

/* Records longer than this (bytes, without the newline) are refused. */
#define HM_MAXLINE_DEFAULT 65536

/* ---- diag.c: messages that begin with the program's name ---- */
extern const char *hm_prog;
/* Name the program after argv[0]'s last part (and make argv[0] that, so
   getopt's own messages match ours). */
void hm_setprog(char **argv);
void hm_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void hm_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
_Noreturn void hm_errx(int status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
_Noreturn void hm_err(int status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* "prog: file:line: reason" */
void hm_linewarn(const char *file, unsigned long line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- opts.c: options every program shares ---- */
enum {
	HM_OPT_METRICS = 0x1000,
	HM_OPT_STRICT,
	HM_OPT_MAXLINE,
	HM_OPT_STATS,
	HM_OPT_FIRST_PRIVATE = 0x1100	/* programs number their own from here */
};
#define HM_COMMON_LONGOPTS \
	{ "help", no_argument, NULL, 'h' }, \
	{ "version", no_argument, NULL, 'V' }, \
	{ "metrics", required_argument, NULL, HM_OPT_METRICS }, \
	{ "strict", no_argument, NULL, HM_OPT_STRICT }, \
	{ "max-line", required_argument, NULL, HM_OPT_MAXLINE }
#define HM_COMMON_SHORTOPTS "hV"
/* --stats, for the programs that have no -s of their own (stats.c). */
#define HM_STATS_LONGOPT { "stats", no_argument, NULL, HM_OPT_STATS }
#define HM_STATS_HELP \
	"      --stats         a summary on standard error at exit\n"
/* Text for the common options, for each program's --help. */
#define HM_COMMON_HELP \
	"      --metrics FILE  write Prometheus counters to FILE (atomically)\n" \
	"      --strict        stop at the first bad input line\n" \
	"      --max-line N    longest accepted line in bytes (default 65536)\n" \
	"  -h, --help          show this help and exit\n" \
	"  -V, --version       show the version and exit\n"

struct hm_common {
	const char *metrics;	/* --metrics FILE or NULL */
	int strict;		/* --strict */
	size_t maxline;		/* --max-line */
};
extern struct hm_common hm_opt;

/*
 * Handle an option that every program shares.  Returns 1 when c was one of
 * them; prints usage and exits for -h, -V and unknown options ('?').
 */
int hm_common_option(int c, const char *arg, const char *usage);
/* Print usage to stderr and exit HM_EXIT_USAGE. */
_Noreturn void hm_usage_error(const char *usage);

/* ---- num.c: bounded number parsing, never atoi ---- */
/* Parse a decimal integer in [min, max]; on failure prints
   "prog: WHAT value is too large: 300" (or small/invalid) and exits 2. */
uint64_t hm_parse_uint(const char *s, uint64_t min, uint64_t max,
    const char *what);
/* The same without exiting: 0 on success, else sets *why. */
int hm_strtou64(const char *s, uint64_t min, uint64_t max, uint64_t *out,
    const char **why);
/* Durations: "90", "90s", "500ms", "15m", "2h", "7d" -> milliseconds. */
int hm_strtoms(const char *s, uint64_t *ms, const char **why);
uint64_t hm_parse_duration(const char *s, const char *what);
/* Sizes: "4096", "64k", "100M", "2G" (powers of 1024) -> bytes. */
uint64_t hm_parse_size(const char *s, const char *what);
/* A floating point number in [min, max]. */
double hm_parse_double(const char *s, double min, double max,
    const char *what);

/* ---- ipv4.c: addresses as host-order uint32_t ---- */
/* Strict dotted quad: four decimal octets, no leading zeros, no spaces.
   Returns 0 and sets *ip, or -1. */
int hm_ip_parse(const char *s, size_t len, uint32_t *ip);
/* Writes the dotted quad and a NUL into buf (16 bytes); returns its length. */
size_t hm_ip_format(uint32_t ip, char *buf);
/* "a.b.c.d/len", "a.b.c.d" or "a.b.c.d-e.f.g.h" -> inclusive [lo, hi].
   Host bits set under a prefix are ignored (the prefix's network is used).
   Returns 0, or -1 with *why set to a reason for the diagnostic. */
int hm_range_parse(const char *s, size_t len, uint32_t *lo, uint32_t *hi,
    const char **why);
/* True when s is an IPv6 address, prefix or range as written (hex groups,
   at most one "::", a dotted quad tail, /len), not any text with a ':'. */
int hm_looks_ipv6(const char *s, size_t len);
static inline uint32_t
hm_prefix_mask(unsigned int len)
{
	return len == 0 ? 0 : 0xffffffffu << (32 - len);
}

/* ---- special.c: the IANA IPv4 special-purpose address registry ---- */
struct hm_special {
	uint32_t lo, hi;
	const char *prefix;	/* "10.0.0.0/8" */
	const char *name;	/* "Private-Use" */
};
extern const struct hm_special hm_special_table[];
extern const size_t hm_special_count;	/* sorted by lo, disjoint */
/* The entry holding ip, or NULL. */
const struct hm_special *hm_special_lookup(uint32_t ip);
/* Why ip is never a probe's destination, whatever --allow-reserved says
   upstream: "a multicast address" (224/4), "the broadcast address"
   (255.255.255.255), "in 0.0.0.0/8" ("this network"); NULL if it may be. */
const char *hm_target_refused(uint32_t ip);

/* ---- lines.c: bounded line reader ---- */
struct hm_lines {
	int fd;
	const char *name;	/* for diagnostics: file name or "-" */
	unsigned long lineno;	/* number of the line last returned */
	size_t maxline;
	char *buf;
	size_t cap, start, end;
	int eof, skipping;
	unsigned long toolong;	/* lines refused for length */
};
/* name "-" means standard input.  Returns 0, or -1 with errno set. */
int hm_lines_open(struct hm_lines *lr, const char *name, size_t maxline);
/*
 * Next line without its "\n" (and without a "\r" before it), NUL-terminated
 * in place; *len is its length.  Over-long lines are reported and skipped.
 * Before it waits for input it flushes stdout, so a slow producer's records
 * are not held back in our buffer.  Returns 1, 0 at end of input (or when
 * hm_stop is set), -1 on a read error (reported).
 */
int hm_lines_next(struct hm_lines *lr, char **line, size_t *len);
void hm_lines_close(struct hm_lines *lr);
/* The same on a descriptor already open (it becomes the reader's). */
void hm_lines_open_fd(struct hm_lines *lr, int fd, const char *name,
    size_t maxline);

/* ---- record.c: one NDJSON line as a target ---- */
enum hm_rec_kind {
	HM_REC_BAD = -1,	/* not a JSON object, nor an address: *why says */
	HM_REC_EMPTY = 0,	/* blank line: skipped without a word */
	HM_REC_OTHER = 1,	/* a JSON object without "ip" */
	HM_REC_TARGET = 2	/* has an IPv4 "ip" (or was a bare address) */
};
struct hm_record {
	json_t *obj;		/* owned; NULL for HM_REC_BAD */
	uint32_t ip;		/* for HM_REC_TARGET */
	int bare;		/* the line was a bare address */
	const char *text;	/* the object's text: the line, trimmed */
	size_t len;		/* (borrowed; unset for a bare address) */
};
/*
 * Parse a line.  A bare address becomes {"ip": "..."}.  An "ip" that is not
 * a dotted-quad string (IPv6, a number, a bad address) makes it HM_REC_BAD
 * with a reason: such a line is a broken target, not something else.
 */
enum hm_rec_kind hm_record_parse(const char *line, size_t len,
    struct hm_record *rec, const char **why);
void hm_record_free(struct hm_record *rec);
/* Parse into a per-thread arena, for a record that is read and dropped at
   once: no malloc per member.  One at a time per thread; the object lives
   until hm_record_done, which must follow. */
enum hm_rec_kind hm_record_scan(const char *line, size_t len,
    struct hm_record *rec, const char **why);
void hm_record_done(struct hm_record *rec);
/* Only the address (through hm_record_scan): a fast path for filters
   that pass lines through byte for byte.  Same kinds and reasons. */
enum hm_rec_kind hm_record_ip(const char *line, size_t len, uint32_t *ip,
    const char **why);
/* A malloc'd copy of the record's text, NUL-terminated, to keep until its
   result is written with hm_json_splice; a bare address gives the object
   it stands for.  NULL when out of memory. */
char *hm_record_keep(const struct hm_record *rec, size_t *len);
/* Write obj as one compact line, keys in their original order. */
int hm_json_write(FILE *fp, const json_t *obj);
/* Write a line as it came (plus "\n"). */
int hm_line_write(FILE *fp, const char *line, size_t len);
/* The vantage point's name as a JSON string's text: name, or the host name
   when NULL; made on the first call, the same ever after.  A name that is
   not UTF-8 exits 2. */
const char *hm_node_json(const char *name);
/* An ISO 8601 UTC time stamp with milliseconds, into buf (32 bytes). */
void hm_timestamp(char *buf, size_t size);

/* ---- jsontext.c: records written from their text, not re-encoded ---- */
/* json_dumpb into malloc'd memory, NUL-terminated: free() it.  (jansson's
   own json_dumps text belongs to jansson's allocator, which jarena.c
   replaces: never hand it to free().)  NULL on error. */
char *hm_json_text(const json_t *v, size_t flags, size_t *len);
/* json_loadb, except that numbers jansson cannot hold (integers beyond 64
   bits, reals beyond a double) do not make the text bad: in the value, an
   integer too big reads as a real, a number beyond a double as null. */
json_t *hm_json_loadb(const char *text, size_t len, size_t flags,
    json_error_t *err);
/*
 * Write the JSON object text obj[0..len) as one line to fp: without its
 * top-level members whose key (unescaped) is in drop (NULL-terminated; every
 * one of them, duplicates too), and with the members add makes appended
 * last: add is NULL or NULL-terminated pieces of text that, joined, are
 * members, "\"k\":v,...".  Everything else comes out byte for byte.  0;
 * -1 when obj is not an object's text (nothing written) or on a write error.
 */
int hm_json_splice(FILE *fp, const char *obj, size_t len,
    const char *const drop[], const char *const add[]);
/* Where the value of the last top-level member named key is in the object
   text: obj[*vb..*vb+*vlen).  1 found, 0 not there, -1 not an object. */
int hm_json_member(const char *obj, size_t len, const char *key, size_t *vb,
    size_t *vlen);

/* ---- jarena.c: jansson allocating from a bump arena ---- */
struct hm_jarena {
	char *base;
	size_t pos, cap;
	int spilled;		/* some blocks went to the heap */
};
/* Linking this installs jansson allocation hooks before main; outside an
   arena they are plain malloc. */
/* This thread's jansson allocations come from base[0..cap) until
   hm_jarena_end.  Values made then must be dropped before base is reused:
   with json_decref when spilled is set, or simply forgotten when not. */
void hm_jarena_begin(struct hm_jarena *a, void *base, size_t cap);
void hm_jarena_end(void);

/* ---- input.c: the loop over the input files, with bad-line policy ---- */
struct hm_input {
	char **files;		/* argv-style list; none means stdin */
	int nfiles, next;
	struct hm_lines lr;
	int open;
	unsigned long bad;	/* lines reported as bad */
	int *fds;		/* [nfiles] opened ahead, or -1; or NULL */
};
void hm_input_init(struct hm_input *in, char **files, int nfiles);
/* Open the regular files among them now (the probers do, before they
   switch from root to an ordinary user: root named them).  Others (named
   pipes, files that cannot be opened now) are opened when reached. */
void hm_input_preopen(struct hm_input *in);
/* Next line across all files; 0 at the end.  Files that cannot be opened are
   reported (and counted in bad). */
int hm_input_next(struct hm_input *in, char **line, size_t *len);
/* Report a bad line of the current file and count it.  With --strict,
   hm_input_next then returns 0 (end of input): the caller drains what it
   holds and exits with HM_EXIT_BADINPUT, as it does for any bad line. */
void hm_input_bad(struct hm_input *in, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Total of bad and over-long lines. */
unsigned long hm_input_badcount(const struct hm_input *in);

/* ---- inready.c: would the next hm_input_next wait? ---- */
/* 1 when a whole line is already buffered, or the input is readable, at
   its end, or a regular file; 0 when reading now would block. */
int hm_input_ready(const struct hm_input *in);

/* ---- metrics.c: Prometheus text-format counters in a file ---- */
enum hm_metric_type { HM_COUNTER, HM_GAUGE };
/* Register a value to export as hopmap_NAME{program="prog"}.  The value is
   read when the file is written; keep it alive until hm_metrics_write(1). */
void hm_metric(const char *name, enum hm_metric_type type, const char *help,
    const uint64_t *value);
/* Write the file if --metrics was given and (force or) a few seconds passed
   since the last write.  Cheap to call per record. */
void hm_metrics_write(int force);
/* Write the file now, and exit HM_EXIT_FAIL with a message if it cannot be
   written (the probers call it once they run as an ordinary user, so the
   user finds out at the start, not in a warning later). */
void hm_metrics_start(void);
/* The I-th registered counter's help text and value; 0 past the last. */
int hm_metric_at(size_t i, const char **help, uint64_t *value);

/* ---- shquote.c: a word for sh ---- */
/* S as one sh word in BUF (SIZE bytes; cut short if it does not fit): as it
   is when plain, else in single quotes.  Returns BUF. */
const char *hm_shquote(const char *s, char *buf, size_t size);

/* ---- formenc.c: application/x-www-form-urlencoded ---- */
#define HM_FORM_NO_CTRL 1	/* refuse a control byte, not only a NUL */
/* The value of field NAME in TEXT (LEN bytes: a query string or a form
   body), %-escapes and '+' decoded, into BUF (CAP bytes); the first field
   of that name counts, a bare name is empty.  NULL when absent, or when
   its value has a cut escape, does not fit, or holds a NUL (or, with
   HM_FORM_NO_CTRL in FLAGS, a control byte). */
const char *hm_form_get(const char *text, size_t len, const char *name,
    char *buf, size_t cap, int flags);

/* ---- stats.c: --stats, a summary on standard error at exit ---- */
extern int hm_stats_on;		/* set by hm_stats_start */
/* --stats was given: start the clock. */
void hm_stats_start(void);
/* Count a bad line under WHY (hm_input_bad does; thread-safe). */
void hm_stats_reason(const char *why);
/* With --stats: every registered counter, the BAD lines by reason, the
   time taken and N WHAT a second (N records read, addresses written...). */
void hm_stats_print(const char *what, uint64_t n, uint64_t bad);

/* ---- atomicfile.c: replace a file atomically, following no symlink ---- */
struct hm_atomic {
	FILE *fp;		/* write the new contents here */
	const char *path;
	char tmp[4096];
	int sync;
};
/* A new temporary file beside path (PATH.tmp.RANDOM, created with O_EXCL
   and O_NOFOLLOW, mode set whatever the umask).  With sync, commit fsyncs
   it before the rename.  0, or -1 with errno set. */
int hm_atomic_open(struct hm_atomic *a, const char *path, mode_t mode,
    int sync);
/* Flush (and fsync), close and rename over path: 0, or -1 with errno set
   and the temporary file removed. */
int hm_atomic_commit(struct hm_atomic *a);
/* Close and remove the temporary file. */
void hm_atomic_abort(struct hm_atomic *a);
/* Point the symlink path at target, atomically (a new link, renamed). */
int hm_atomic_symlink(const char *target, const char *path);
/* PATH.tmp. and ten random letters, into buf. */
int hm_atomic_tmpname(const char *path, char *buf, size_t size);
/* Create the missing directories above path (mode 0755 less the umask),
   as mkdir -p does for its dirname: 0, or -1 with errno set. */
int hm_mkparents(const char *path);

/* ---- signals.c: handlers only set flags; loops act on them ---- */
extern volatile sig_atomic_t hm_stop;	/* SIGINT, SIGTERM */
extern volatile sig_atomic_t hm_hup;	/* SIGHUP */
/* Install the handlers (without SA_RESTART, so a blocked read returns). */
void hm_signals_init(int want_hup);

/* ---- output.c: buffering and the exit path ---- */
/* Block-buffer stdout (flushes happen before waiting for input). */
void hm_output_init(void);
/* Flush stdout and exit with status, or HM_EXIT_FAIL if output failed. */
_Noreturn void hm_exit(int status);
/*
 * For a loop that must not block on output (a prober reading replies):
 * stdout becomes a queue in memory in front of fd 1, written only when
 * poll says fd 1 has room, PIPE_BUF at a time (fd 1's flags are left alone:
 * stderr may share its pipe); hm_exit waits to write what is left.  The queue grows as needed; the caller bounds it by
 * taking no new work while hm_output_queued is past its limit, and calls
 * hm_output_pump when fd 1 is writable (poll POLLOUT while anything is
 * queued).  hm_output_pump: 0, or -1 with errno when output failed.
 */
void hm_output_queue(void);
size_t hm_output_queued(void);
int hm_output_pump(void);
/* Time results waited in the queue (ms, and whole seconds for metrics);
   its largest size in bytes. */
extern uint64_t hm_output_wait_ms, hm_output_wait_s, hm_output_queued_max;

/* ---- clock.c ---- */
uint64_t hm_now_ms(void);		/* CLOCK_REALTIME in ms */
uint64_t hm_mono_ms(void);		/* CLOCK_MONOTONIC in ms */

#endif
