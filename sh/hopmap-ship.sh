#!/bin/sh
# hopmap-ship: a worker's results, from its local spool to the hub, each
# result stored once.
#
#   ... | hopmap-ship spool DIR          results -> complete segment files
#   hopmap-ship send DIR ADDRESS         segments -> hub, with retry
#   hopmap-ship send DIR URL --key FILE  the same through a gateway's
#                                        POST /results, with curl
#   hopmap-ship put FILE                 one segment on a connection, as
#                                        send's shell on it does (PROTOCOL
#                                        in the page)
#
# Nothing lost: results are on the node's disk (a segment is renamed into
# place only when whole, after an fsync) before anything is sent, and a
# segment is deleted only after the hub answered that its sink committed
# it.  Nothing doubled: a segment sent again after a lost answer holds the
# same records with the same ids, which sqlsink stores once.
set -eu

prog=hopmap-ship
synopsis='spool|send|put ...'
# The shared library: sh/lib/ beside the script in a checkout, else
# share/hopmap/sh/lib/ beside its bin/ once built or installed.  (Run by
# its whole path and not a link, as a PATH search runs it, the shell finds
# the directory alone: a shipper a segment pays its start.)
sh_dir=
case $0 in /*) [ -L "$0" ] || sh_dir=${0%/*} ;; esac
[ -n "$sh_dir" ] || sh_dir=$(dirname "$(readlink -f "$0")")
if [ ! -f "$sh_dir/lib/hopmap.sh" ]; then
	sh_dir=${sh_dir%/*}/share/hopmap/sh
fi
# shellcheck source=lib/hopmap.sh
. "$sh_dir/lib/hopmap.sh"
# shellcheck source=lib/gateway.sh
. "$sh_dir/lib/gateway.sh"
# shellcheck source=ship/http.sh
. "$sh_dir/ship/http.sh"

usage() {
	cat <<EOF
usage: $prog spool [-l LINES] DIR
       $prog send [-1q] [-b SECONDS] [-n TRIES] [-N NODE] [-T SECONDS]
                   DIR ADDRESS
       $prog send [-1q] [-b SECONDS] [-n TRIES] [-T SECONDS] -k KEYFILE
                   [--cacert PEM] [--plain-http] DIR URL
       $prog put FILE
Spool records into complete segment files, and ship them to a hopmap hub.
  spool                 read records on standard input into segments in DIR
    -l, --lines N         records per segment (default 1000)
  send                  ship DIR's segments to the socat ADDRESS, or to
                        the gateway at URL (https://hub:port), oldest
                        first, deleting each once the hub confirmed it
    -1, --once            exit when DIR is empty (default: keep watching)
    -b, --backoff-max S   longest wait between retries (default 60)
    -n, --tries N         with --once, give up after N failed attempts in a
                          row (default 0: never)
    -N, --node NAME       name sent to the hub (default: host name)
    -T, --timeout S       give up a connection idle for S seconds (default 60)
    -q, --quiet           report only errors
    -m, --metrics FILE    write Prometheus text metrics to FILE after each
                          attempt (through a temporary file and a rename)
    -k, --key FILE        with a URL: the gateway's API key, read from FILE
                          (it names the node; -N is not sent)
        --cacert PEM      with https://: trust the CA certificates in PEM
                          (default: the system's)
        --plain-http      allow http:// beyond the loopback (the key then
                          travels in clear)
  put                   write FILE to standard output as one segment, read
                        the hub's answer on standard input, delete FILE
                        when it is "ok N", move it to quarantine/ beside
                        it when it is "refused ..."
  -h, --help            show this help and exit
  -V, --version         show the version and exit
ADDRESS is a socat(1) address: TCP:hub:7411, OPENSSL:hub:7412,cert=...,
cafile=..., EXEC:'ssh hub hopmap-hub recv' or SYSTEM:... (see hopmap-ship(1));
URL is https://HUB:PORT (or http:// on the loopback) of the hub's gateway
(hopmap-httpd).
EOF
}

# Progress, unless -q: a line a segment, so without msg's tr when there
# is no control character to replace.
report() {
	[ "$quiet" = 0 ] || return 0
	case $* in
	*[[:cntrl:]]*) msg "$@" ;;
	*) printf '%s: %s\n' "$prog" "$*" >&2 ;;
	esac
}

# A segment left half written by a spooler that died (a .part file): its
# complete lines are results, kept as a segment of their own; a torn last
# line is dropped, as the loop will probe that target again.
salvage() {
	for p in "$1"/*.part; do
		[ -f "$p" ] || continue
		n=$(wc -l <"$p")
		if [ "$n" -gt 0 ]; then
			head -n "$n" "$p" >"$p.keep"
			sync "$p.keep"
			mv "$p.keep" "${p%.part}.seg"
			msg "$p: salvaged $n records"
		fi
		rm -f "$p"
	done
}

cmd_spool() {
	lines=1000
	while [ $# -gt 0 ]; do
		case $1 in
		-l | --lines) need "$1" $#
			posint lines "$2"; lines=$2; shift 2 ;;
		--lines=*) posint lines "${1#*=}"; lines=${1#*=}; shift ;;
		--) shift; break ;;
		-?*) die_usage "unknown option: $1" ;;
		*) break ;;
		esac
	done
	[ $# -eq 1 ] || die_usage "spool needs one DIR"
	[ "$lines" -gt 0 ] || die_usage "lines must be at least 1"
	dir=$1
	mkdir -p "$dir"
	# One spooler a directory: the .part files it finds are then dead ones.
	exec 9>>"$dir/spool.lock"
	flock -n 9 || die "$dir: another spooler is writing here"
	salvage "$dir"
	# Names sort by time, then by process, then by piece.
	stamp=$(date -u +%Y%m%dT%H%M%S)-$$
	# split hands each piece to the filter as it fills; the rename makes
	# it visible to the shipper only when complete and on disk.
	# shellcheck disable=SC2016 # split sets FILE for its filter
	split -l "$lines" -a 6 -d --filter='cat >"$FILE.part" &&
	    sync "$FILE.part" && mv "$FILE.part" "$FILE.seg"' - \
	    "$dir/$stamp-"
}

# One attempt, by the transport ADDRESS names.
ship_one() {
	case $address in
	http://* | https://*) http_ship_one "$1" ;;
	*) socat_ship_one "$1" ;;
	esac
}

# One attempt: connect to ADDRESS; on the connection a shell socat starts
# writes the header and the segment, holds its side open and writes the
# hub's answer to $ans ("=ANSWER"), which settle acts on here.  The
# segment is gone afterwards exactly when the hub confirmed it.  What an
# attempt costs is paid per segment (100 workers' shippers share a core
# with the hub): wc, socat, its shell and cat, and rm once confirmed; no
# script of ours is started again on the connection.  -t: once the hub
# has answered and closed, socat gives the shell time to write the answer
# (its default, half a second, cut it off on a loaded machine, and a
# confirmed segment was sent again).  timeout(1) bounds the whole attempt
# at ten idle timeouts: a socat seen spinning in OpenSSL after a refusal
# made no system call, so -T never fired, and it ignored SIGTERM (-k).
socat_ship_one() {
	name=${1##*/}
	if ! n=$(wc -l 2>/dev/null <"$1"); then
		echo "$name: no longer in the spool" >"$errs"
		return 1
	fi
	echo - >"$ans"
	HOPMAP_SHIP_FILE=$1 HOPMAP_SHIP_ANS=$ans \
	    HOPMAP_SHIP_HEAD="hopmap-segment 1 $node $name $n" \
	    HOPMAP_SHIP_CONN=$on_conn \
	    timeout -k 5 "$((timeout * 10))" \
	    socat -T "$timeout" -t "$timeout" "$address" "$on_conn_address" \
	    2>"$errs" &
	child=$!
	wait "$child" || true
	child=''
	IFS= read -r a <"$ans" || a=''
	# Not "=": the shell on the connection never got an answer to write
	# (no connection: socat said why in $errs).
	case $a in =*) ;; *) return 1 ;; esac
	settle "$1" "$n" "${a#=}" 2>>"$errs"
}

# The shell on the connection, and the socat address that runs it: the
# text as socat_quote makes it, written out here to spare a sed a shipper.
# shellcheck disable=SC2016 # expanded by that shell
on_conn='printf "%s\n" "$HOPMAP_SHIP_HEAD" && cat -- "$HOPMAP_SHIP_FILE" &&
    { IFS= read -r r || r=; printf "=%s\n" "$r" >"$HOPMAP_SHIP_ANS"; }'
# shellcheck disable=SC2016
on_conn_address='SYSTEM:eval\ \"\$HOPMAP_SHIP_CONN\"'

# What a segment FILE of N lines becomes by the hub's ANSWER: deleted on
# "ok N", moved to quarantine/ beside it on "refused ..." (said on
# standard error, and quarantined=1), kept otherwise (status 1, said on
# standard error).
settle() { # FILE N ANSWER
	quarantined=0
	if [ "$3" = "ok $2" ]; then
		rm -f "$1"
		return 0
	fi
	# The answer comes from the network: printable characters only.
	reply=$(printf '%s' "$3" | tr -c '[:print:]' '?')
	case $reply in
	"refused "*)
		# The hub stored what it could, and can never store the rest:
		# the segment goes out of the way, kept for a person to see.
		q=$(dirname "$1")/quarantine
		mkdir -p "$q"
		mv -f "$1" "$q/"
		quarantined=1
		printf '%s: %s: moved to %s: the hub answered: %s\n' "$prog" \
		    "${1##*/}" "$q" "$reply" >&2
		return 0 ;;
	esac
	msg "$1: the hub answered: ${reply:-nothing}"
	return 1
}

# A sender's temporary files hold its pid in their names: one whose
# process is gone was left by a sender killed with SIGKILL, and goes; a
# live sender's, and other users', stay.  kill -0, not ps: 100 shippers
# started at once each see the others' files.
clean_tmp() {
	for t in "${TMPDIR:-/tmp}/$prog".*.*; do
		if [ ! -e "$t" ] || [ ! -O "$t" ]; then continue; fi
		pid=${t##*/}
		pid=${pid#"$prog".}
		pid=${pid%%.*}
		case $pid in '' | *[!0-9]*) continue ;; esac
		kill -0 "$pid" 2>/dev/null || rm -rf -- "$t"
	done
}

cmd_send() {
	once=0 backoff_max=60 tries=0 timeout=60 quiet=0 node='' metrics=''
	keyfile='' cacert='' plain=0 dir='' address='' extra=0
	# Options may come after the operands too, as getopt_long allows.
	while [ $# -gt 0 ]; do
		case $1 in
		-1 | --once) once=1; shift ;;
		-q | --quiet) quiet=1; shift ;;
		--plain-http) plain=1; shift ;;
		-b | --backoff-max | -n | --tries | -T | --timeout | -N | --node | \
		    -m | --metrics | -k | --key | --cacert)
			need "$1" $#
			opt=$1 val=$2; shift 2 ;;
		--*=*) opt=${1%%=*} val=${1#*=}; shift ;;
		--) shift
			for a; do
				if [ -z "$dir" ]; then dir=$a
				elif [ -z "$address" ]; then address=$a
				else extra=1; fi
			done
			break ;;
		-?*) die_usage "unknown option: $1" ;;
		*)
			if [ -z "$dir" ]; then dir=$1
			elif [ -z "$address" ]; then address=$1
			else extra=1; fi
			shift ;;
		esac
		case ${opt:-} in
		-b | --backoff-max) posint backoff-max "$val"; backoff_max=$val ;;
		-n | --tries) posint tries "$val"; tries=$val ;;
		-T | --timeout) posint timeout "$val"; timeout=$val ;;
		-N | --node) node=$val ;;
		-m | --metrics) metrics=$val ;;
		-k | --key) keyfile=$val ;;
		--cacert) cacert=$val ;;
		'') ;;
		*) die_usage "unknown option: $opt" ;;
		esac
		opt=''
	done
	if [ -z "$address" ] || [ "$extra" = 1 ]; then
		die_usage "send needs DIR and ADDRESS"
	fi
	[ -n "$node" ] || node=$(hostname)
	case $node in *[!A-Za-z0-9._-]*) die_usage "bad node name: $node" ;; esac
	[ -d "$dir" ] || die "$dir: no such directory"
	[ "$backoff_max" -ge 1 ] || backoff_max=1
	[ "$timeout" -ge 1 ] || die_usage "timeout must be at least 1"
	clean_tmp
	# A private directory for an attempt's messages ($errs) and the
	# hub's answer ($ans): one mktemp for both.
	scratch=$(mktemp -d "${TMPDIR:-/tmp}/$prog.$$.XXXXXX")
	errs=$scratch/errs ans=$scratch/answer
	http_body='' http_code=''
	trap 'rm -rf "$scratch" ${http_body:+"$http_body"} ${http_code:+"$http_code"}' EXIT
	case $address in
	http://* | https://*) http_setup ;;
	*) [ -z "$keyfile$cacert" ] || die_usage "--key and --cacert go with" \
	    "a gateway URL (http:// or https://), not a socat address" ;;
	esac
	child=''
	trap 'kill $child 2>/dev/null; exit 143' TERM
	trap 'kill $child 2>/dev/null; exit 130' INT
	wait=1 failed=0 sent=0 segs=0 fails=0
	while :; do
		progress=0 ok=1
		for f in "$dir"/*.seg; do
			[ -f "$f" ] || continue
			quarantined=0 http_split_done=0
			if ship_one "$f"; then
				progress=1
				if [ "$http_split_done" = 1 ]; then
					# Said even with -q: --lines is too
					# large for this gateway.
					msg "$(cat "$errs")"
					continue
				fi
				if [ "$quarantined" = 1 ] ||
				    [ -e "$dir/quarantine/${f##*/}" ]; then
					# Said even with -q: a person must look.
					grep 'moved to' "$errs" >&2 || true
					continue
				fi
				sent=$((sent + n)) segs=$((segs + 1))
				report "${f##*/}: $n records confirmed"
				ship_metrics
			else
				ok=0
				break
			fi
		done
		if [ "$ok" = 1 ]; then
			wait=1 failed=0
			if [ "$progress" = 0 ]; then
				[ "$once" = 0 ] || break
				sleep 1
			fi
			continue
		fi
		failed=$((failed + 1)) fails=$((fails + 1))
		ship_metrics
		why=$(tr '\n' ' ' <"$errs")
		msg "${f##*/}: not confirmed (${why:-no answer}); retry in ${wait}s"
		if [ "$once" = 1 ] && [ "$tries" -gt 0 ] && [ "$failed" -ge "$tries" ]; then
			die "giving up after $failed attempts; the segments stay in $dir"
		fi
		sleep "$wait"
		wait=$((wait * 2))
		[ "$wait" -le "$backoff_max" ] || wait=$backoff_max
	done
	report "$sent records shipped"
}

# --metrics FILE: what this shipper had confirmed, and what waits.
ship_metrics() {
	[ -n "$metrics" ] || return 0
	waiting=0
	for g in "$dir"/*.seg; do
		[ ! -f "$g" ] || waiting=$((waiting + 1))
	done
	write_metrics "$metrics" \
	    "segments_confirmed_total:counter:$segs:segments the hub confirmed" \
	    "records_confirmed_total:counter:$sent:records the hub confirmed" \
	    "attempts_failed_total:counter:$fails:segments not confirmed" \
	    "spool_segments:gauge:$waiting:segments waiting in the spool"
}

# On the connection: standard output goes to the hub, standard input comes
# from it.
cmd_put() {
	[ $# -eq 1 ] || die_usage "put needs one FILE"
	f=$1
	[ -f "$f" ] || die "$f: no such segment"
	n=$(wc -l <"$f")
	printf 'hopmap-segment 1 %s %s %s\n' "${HOPMAP_SHIP_NODE:-$(hostname)}" \
	    "$(basename "$f")" "$n"
	cat "$f"
	IFS= read -r reply || reply=''
	settle "$f" "$n" "$reply" || exit 1
}

case ${1:-} in
-h | --help) usage; exit 0 ;;
-V | --version) echo "$prog (hopmap) $version"; exit 0 ;;
spool) shift; cmd_spool "$@" ;;
send)
	shift
	cmd_send "$@" ;;
put) shift; cmd_put "$@" ;;
'') die_usage "a command is needed: spool, send or put" ;;
*) die_usage "unknown command: $1" ;;
esac
