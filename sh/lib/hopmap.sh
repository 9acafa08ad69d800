# shellcheck shell=sh
# hopmap's shell library: what every script of sh/ does the same way.
#
# A script sets prog (its name) and, for usage errors, synopsis (what
# follows "usage: $prog" in the one-line reminder; unset, the whole usage
# goes to standard error), then sources this file, which only defines:
#
#   version               the release, printed by --version
#   msg TEXT...           "prog: TEXT" on standard error
#   die TEXT...           msg, then exit $exit_failure (default 1)
#   die_usage TEXT...     msg and the usage on standard error, exit 2
#   need OPTION NARGS     die_usage unless OPTION has a value after it
#   posint NAME VALUE     die_usage unless VALUE is a number (9 digits)
#   lock FD FILE [-n]     FILE open on FD and locked; -n: fail if held
#   pid_tmp DIR NAME      a new private file DIR/NAME.PID.XXXXXX
#   pid_gone FILE         FILE's pid is gone (status 1: alive, 2: no pid)
#   socat_quote TEXT      TEXT made safe inside a socat address
#   self_path             the running script's absolute path

# shellcheck disable=SC2034 # for the scripts
version=0.1.0 # keep in step with HM_VERSION in lib/core/core.h

# Messages name the program.  The names in them come from the network
# (nodes, segments, certificates, peers, a hub's answers) or from anyone
# (paths), and a control character in one must not forge a line or drive
# a terminal, so each becomes "?" (as ls -q shows them).
esc_ctl() { LC_ALL=C tr '\000-\037\177' '?'; }
# shellcheck disable=SC2154 # prog is the script's
msg() { printf '%s: %s\n' "$prog" "$(printf '%s' "$*" | esc_ctl)" >&2; }
die() {
	msg "$@"
	exit "${exit_failure:-1}"
}
die_usage() {
	msg "$@"
	if [ -n "${synopsis:-}" ]; then
		echo "usage: $prog $synopsis (see --help)" >&2
	else
		usage >&2
	fi
	exit 2
}

# Option values: a long option takes its value as --opt=VALUE or as the
# next word; need checks that a next word is there (NARGS is the caller's
# $#), posint that a count is a plain number the shell can compare.
need() { [ "$2" -ge 2 ] || die_usage "$1 needs a value"; }
posint() {
	case $2 in
	'' | *[!0-9]*) die_usage "$1 is not a number: $2" ;;
	esac
	[ "${#2}" -le 9 ] || die_usage "$1 is too large: $2"
}

# A lock belongs to the open file: children inherit FD, and with it the
# lock, unless a command closes it (N>&-); flock(1) frees it when the last
# holder exits.
lock() { # FD FILE [-n]
	eval "exec $1>>\"\$2\""
	flock ${3:+"$3"} "$1"
}

# Temporary files hold their creator's pid in their name, so that one left
# by a process killed before its trap ran (SIGKILL) can be told from a live
# one's and removed at the next start (pid_gone).  The caller sets the trap
# that removes its own.
pid_tmp() { mktemp "$1/$2.$$.XXXXXX"; }
pid_gone() { # FILE: DIR/NAME.PID.XXXXXX
	hm_pid=${1##*/}
	hm_pid=${hm_pid#*.}
	hm_pid=${hm_pid%%.*}
	case $hm_pid in '' | *[!0-9]*) return 2 ;; esac
	! ps -p "$hm_pid" >/dev/null 2>&1 || return 1
}

# Standard input into FILE whole or not at all: a temporary file beside it
# (the rename stays in one file system), then mv.  1, quietly, when it
# cannot be written; the caller says so.
atomic_write() { # FILE
	hm_dir=$(dirname "$1")
	[ -d "$hm_dir" ] || return 1
	hm_tmp=$(mktemp "$hm_dir/.$(basename "$1").XXXXXX" 2>/dev/null) ||
	    return 1
	if cat >"$hm_tmp" 2>/dev/null && chmod 644 "$hm_tmp" &&
	    mv "$hm_tmp" "$1" 2>/dev/null; then
		return 0
	fi
	rm -f "$hm_tmp"
	return 1
}

# Prometheus text metrics for --metrics FILE, as the programs write them
# (hopmap_NAME{program="PROG"} VALUE), atomically: each argument
# NAME:TYPE:VALUE:HELP (a counter or a gauge).
write_metrics() { # FILE NAME:TYPE:VALUE:HELP...
	hm_file=$1
	shift
	for hm_m; do
		hm_name=${hm_m%%:*} hm_rest=${hm_m#*:}
		hm_type=${hm_rest%%:*} hm_rest=${hm_rest#*:}
		printf '# HELP hopmap_%s %s\n# TYPE hopmap_%s %s\n' \
		    "$hm_name" "${hm_rest#*:}" "$hm_name" "$hm_type"
		printf 'hopmap_%s{program="%s"} %s\n' "$hm_name" "$prog" \
		    "${hm_rest%%:*}"
	done | atomic_write "$hm_file" ||
	    msg "$hm_file: cannot write the metrics"
}

# socat reads its addresses itself: it drops quotes and splits at commas,
# colons and brackets, so what goes into an address (a path, a command)
# goes through here, each character but the plainest escaped with a
# backslash.  Paths reach a command run by socat only through the
# environment, never pasted into its text.
socat_quote() { printf '%s' "$1" | sed 's/[^A-Za-z0-9/._+=@%^-]/\\&/g'; }

# The script as a command another process can run (socat, a loop's
# --hops-cmd), wherever it was started from.
self_path() {
	case $0 in
	*/*) echo "$(cd "$(dirname "$0")" && pwd)/$(basename "$0")" ;;
	*) command -v "$0" ;;
	esac
}

# The files of a sqlsink database, oldest first, one a line, each as SQL
# text ('...'): DB is a symlink to the current file of a series named
# STEM-YYYYMMDDTHHMMSS.mmmZ.EXT beside it (sqlsink(1), FILES), and every
# retained file of the series is read; a plain file is read alone.
db_series_sql() {
	hm_db=$1
	if [ -L "$hm_db" ]; then
		hm_dir=$(dirname "$hm_db") hm_base=$(basename "$hm_db")
		case $hm_base in
		?*.*) hm_stem=${hm_base%.*} hm_ext=.${hm_base##*.} ;;
		*) hm_stem=$hm_base hm_ext= ;;
		esac
		for hm_f in "$hm_dir/$hm_stem"-[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]T[0-9][0-9][0-9][0-9][0-9][0-9].[0-9][0-9][0-9]Z"$hm_ext"; do
			[ ! -f "$hm_f" ] || readlink -f "$hm_f"
		done
		# The current file, should it not be named as the series'.
		hm_f=$(readlink -f "$hm_db") || hm_f=
		[ -z "$hm_f" ] || [ ! -f "$hm_f" ] || printf '%s\n' "$hm_f"
	else
		printf '%s\n' "$hm_db"
	fi | awk '!seen[$0]++' | sed "s/'/''/g; s/.*/'&'/"
}

# The first error sqlite3 wrote to FILE, without its "near line N" prefix.
sql_error() {
	head -n 1 "$1" | sed 's/^[A-Za-z]* error near line [0-9]*: //; s/^Error: //'
}
