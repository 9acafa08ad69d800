#!/bin/sh
# hopmap-hub: the hub of many hopmap nodes.
#
#   hopmap-hub serve   one sqlsink on a Unix socket, kept running, and socat
#                      listeners (TCP, OPENSSL with client certificates)
#                      whose connections run "hopmap-hub recv"
#   hopmap-hub recv    one segment from a worker's shipper: store it through
#                      the sink, wait for its commit, answer "ok N"
#   hopmap-hub ssh     run a pipeline on a node over ssh, spool its output
#                      on the hub and store it through recv
#   hopmap-hub hops    new hop targets from the hub's database, through the
#                      global dedup, handed out by shard
#   hopmap-hub status  deliveries and last contact per node
#
# The sink itself confirms: recv hands the segment to sqlsink in a session
# (sqlsink --send), which binds every record to the delivering node,
# refuses what it cannot store, writes the delivery row and answers only
# after the commit that holds the last line.
set -eu

prog=hopmap-hub
synopsis='serve|recv|ssh|hops|status ...'
# The shared library: sh/lib/ beside the script in a checkout, else
# share/hopmap/sh/lib/ beside its bin/ once built or installed.
sh_dir=$(dirname "$(readlink -f "$0")")
[ -f "$sh_dir/lib/hopmap.sh" ] || sh_dir=$(dirname "$sh_dir")/share/hopmap/sh
# shellcheck source=lib/hopmap.sh
. "$sh_dir/lib/hopmap.sh"

usage() {
	cat <<EOF
usage: $prog serve [-d DIR] [--db PATH] [--tcp [ADDR:]PORT]
                   [--tls [ADDR:]PORT --cert PEM --key PEM --ca PEM]
                   [--max-children N] [--max-header BYTES] [--max-lines N]
                   [--max-bytes BYTES] [--idle S] [--handshake S]
                   [--max-time S] [--sink-args ARGS]
       $prog recv [-d DIR] [--db PATH] [-w SECONDS]
       $prog ssh [-d DIR] [--db PATH] [--direct] [-N NAME] [--ssh-args ARGS]
                   NODE COMMAND
       $prog hops [-d DIR] [--db PATH] [-R] [-s K/N] [-f LINE]
       $prog status [-d DIR] [--db PATH]
Collect the results of many hopmap nodes into one database.
  -d, --state-dir DIR   the hub's state (default \$HOPMAP_HUB or
                        ~/.local/state/hopmap-hub)
      --db PATH         the database (default DIR/map.db)
  serve                 run the sink and the listeners until SIGTERM
      --tcp [ADDR:]PORT   accept plain TCP (trusted networks only) on ADDR
                          (default 127.0.0.1; 0.0.0.0 for every address)
      --tls [ADDR:]PORT   accept TLS on ADDR (default 127.0.0.1); clients
                          need a certificate signed by --ca; --cert and
                          --key are the hub's own
      --max-children N    connections served at once per listener; more
                          wait in the kernel's queue (default 32)
      --max-header BYTES  longest segment header (default 1024)
      --max-lines N       most records in a segment (default 100000)
      --max-bytes BYTES   largest segment (default 67108864)
      --idle S            drop a connection idle for S seconds (default 120)
      --handshake S       drop a connection that has not started recv
                          (TLS handshake) within S seconds (default 10)
      --max-time S        drop a connection older than S seconds
                          (default 900)
      --sink-args ARGS    more sqlsink options (split on blanks)
  recv                  store one segment read on standard input
    -w, --wait S          wait at most S seconds for the commit (default 30)
  ssh                   run COMMAND on NODE with ssh; store its output
      --direct            straight into the sink socket, without the spool
    -N, --node NAME       the name the records are stored under (default:
                          NODE, other characters than A-Za-z0-9._- as _)
      --ssh-args ARGS     more ssh options (split on blanks)
  hops                  print new hop targets
    -R, --allow-reserved  keep special-purpose hop addresses (labs)
    -s, --shard K/N       only shard K of N of the hops
    -f, --from LINE       skip the first LINE hops of the shard
  status                deliveries per node: segments, records stored,
                        duplicates, refused, last contact
  -h, --help            show this help and exit
  -V, --version         show the version and exit
EOF
}

# Options every command takes; sets $shifted to how many words it used.
common_opt() {
	shifted=0
	case $1 in
	-d | --state-dir) need "$1" $#; state=$2; shifted=2 ;;
	--state-dir=*) state=${1#*=}; shifted=1 ;;
	--db) need "$1" $#; db=$2; shifted=2 ;;
	--db=*) db=${1#*=}; shifted=1 ;;
	esac
}

setup_paths() {
	state=${state:-${HOPMAP_HUB:-${HOME:-/root}/.local/state/hopmap-hub}}
	mkdir -p "$state"
	state=$(cd "$state" && pwd)
	db=${db:-$state/map.db}
	sock=$state/sink.sock
}

# ---- serve ----

# The sink is restarted when it dies: a worker's shipper meanwhile gets no
# confirmation and sends again.
supervise_sink() {
	spid=''
	# Exit only once the sink has committed and gone.
	trap 'kill $spid 2>/dev/null; wait $spid; exit 0' TERM
	while :; do
		# shellcheck disable=SC2086 # ARGS are words on purpose
		sqlsink -l "$sock" --no-stdin $sinkargs "$db" &
		spid=$!
		echo "$spid" >"$state/sqlsink.pid"
		wait $! || msg "sqlsink exited with status $?; restarting"
		sleep 1
	done
}

# A listener's socat address: PORT alone listens on the loopback only, so
# a hub is open to the network only when told which address to open.
listen_addr() {
	case $2 in
	*:*) a=${2%:*} p=${2##*:} ;;
	*) a=127.0.0.1 p=$2 ;;
	esac
	posint "${1%%-*} port" "$p"
	printf '%s:%s,bind=%s,reuseaddr,fork,max-children=%s' \
	    "$1" "$p" "$(socat_quote "$a")" "$maxchildren"
}

# Segment files of a recv that was killed (kill -9 leaves its trap
# unrun): the name holds recv's pid, so a file whose process is gone is
# stale, and a live recv's (an ssh transport's, say) is left alone.
clean_recv() {
	for f in "$state"/recv/seg.*; do
		[ -e "$f" ] || continue
		pid_gone "$f" || [ $? = 2 ] || continue
		rm -f -- "$f"
	done
}

# Each listener runs in a session of its own (setsid), with the children
# it forks, one per connection, and their recv: its process group is the
# whole listener, which a stop ends at once.  socat's own timeout (-T) ends
# only an idle transfer, so the hub bounds the rest itself: a connection
# older than --max-time, or one that has started no command (recv) after
# --handshake seconds, is killed: a TLS client that never finishes its
# hello, or a child stuck on its way out (socat's OPENSSL children have
# been seen spinning there after a failed command).
reap() {
	ps -o pid=,etimes= --ppid "$1" 2>/dev/null | while read -r c age; do
		[ "$age" -ge "$handshake" ] || continue
		if [ "$age" -lt "$maxtime" ] && pgrep -P "$c" >/dev/null; then
			continue
		fi
		kill_tree "$c"
		msg "listener $1: connection $c killed after ${age}s"
	done
}

# SIGKILL to a process and all its descendants, the deepest first.
kill_tree() {
	for k in $(pgrep -P "$1"); do kill_tree "$k"; done
	kill -KILL "$1" 2>/dev/null || true
}

# Whether process group $1 has a live member (a zombie is only waiting to
# be reaped).
group_alive() {
	ps -e -o pgid=,stat= | awk -v g="$1" '$1 == g && $2 !~ /^Z/ { f = 1 }
	    END { exit !f }'
}

# TERM to each listener's group, then KILL to what is left of it after
# a few seconds; the sink's supervisor waits for the sink's last commit.
stop_serve() {
	for l in $listeners; do kill -TERM "-$l" 2>/dev/null || true; done
	[ -z "$supervisor" ] || kill "$supervisor" 2>/dev/null || true
	i=0
	for l in $listeners; do
		while group_alive "$l" && [ "$i" -lt 50 ]; do
			sleep 0.1
			i=$((i + 1))
		done
		kill -KILL "-$l" 2>/dev/null || true
	done
	wait || true
}

# A listener for ADDRESS whose connections run recv.  The command socat
# runs exits 0 whatever recv's status: recv has answered the client
# ("ok N" or "error ...") and logged why, and socat's OPENSSL children
# have been seen not to exit after a command that failed.
listen() {
	# shellcheck disable=SC2016 # expanded by the shell socat starts
	cmd='"$HOPMAP_HUB_SELF" recv -d "$HOPMAP_HUB_STATE" --db "$HOPMAP_HUB_DB" || :'
	# Not a process group leader here (no job control), so setsid execs
	# socat itself: $! is the listener and its group.
	setsid socat -T "$idle" "$1" "SYSTEM:$(socat_quote "$cmd")" &
	listeners="$listeners $!"
}

serve_opt() { # OPTION VALUE
	case $1 in
	--tcp) tcp=$2 ;;
	--tls) tls=$2 ;;
	--cert) cert=$2 ;;
	--key) key=$2 ;;
	--ca) ca=$2 ;;
	--sink-args) sinkargs=$2 ;;
	--max-children) posint max-children "$2"; maxchildren=$2 ;;
	--max-header) posint max-header "$2"; maxheader=$2 ;;
	--max-lines) posint max-lines "$2"; maxlines=$2 ;;
	--max-bytes) posint max-bytes "$2"; maxbytes=$2 ;;
	--idle) posint idle "$2"; idle=$2 ;;
	--handshake) posint handshake "$2"; handshake=$2 ;;
	--max-time) posint max-time "$2"; maxtime=$2 ;;
	*) die_usage "unknown option: $1" ;;
	esac
}

cmd_serve() {
	tcp='' tls='' cert='' key='' ca='' sinkargs=''
	maxchildren=32 maxheader=1024 maxlines=100000 maxbytes=67108864
	idle=120 handshake=10 maxtime=900
	while [ $# -gt 0 ]; do
		common_opt "$@"
		if [ "$shifted" -gt 0 ]; then shift "$shifted"; continue; fi
		case $1 in
		--*=*) serve_opt "${1%%=*}" "${1#*=}"; shift ;;
		--*) need "$1" $#; serve_opt "$1" "$2"; shift 2 ;;
		*) die_usage "unknown option: $1" ;;
		esac
	done
	if [ -n "$tls" ] && { [ -z "$cert" ] || [ -z "$key" ] || [ -z "$ca" ]; }; then
		die_usage "--tls needs --cert, --key and --ca"
	fi
	for v in maxchildren maxheader maxlines maxbytes idle handshake maxtime; do
		eval "[ \"\$$v\" -ge 1 ]" || die_usage "${v#max}: must be at least 1"
	done
	setup_paths
	clean_recv
	HOPMAP_HUB_SELF=$(self_path) HOPMAP_HUB_STATE=$state HOPMAP_HUB_DB=$db
	HOPMAP_HUB_MAX_HEADER=$maxheader HOPMAP_HUB_MAX_LINES=$maxlines
	HOPMAP_HUB_MAX_BYTES=$maxbytes
	export HOPMAP_HUB_SELF HOPMAP_HUB_STATE HOPMAP_HUB_DB \
	    HOPMAP_HUB_MAX_HEADER HOPMAP_HUB_MAX_LINES HOPMAP_HUB_MAX_BYTES
	listeners='' supervisor=''
	trap 'stop_serve; exit 0' TERM INT
	supervise_sink &
	supervisor=$!
	[ -z "$tcp" ] || listen "$(listen_addr TCP-LISTEN "$tcp")"
	if [ -n "$tls" ]; then
		# verify=1: a client without a certificate signed by the CA is
		# refused in the handshake, before recv runs.
		listen "$(listen_addr OPENSSL-LISTEN "$tls"),cert=$(socat_quote "$cert"),key=$(socat_quote "$key"),cafile=$(socat_quote "$ca"),verify=1"
	fi
	msg "serving $db on $sock${tcp:+, tcp $tcp}${tls:+, tls $tls}"
	# A listener that dies (its port taken) ends the hub: better loud.
	while :; do
		for p in $supervisor $listeners; do
			if ! kill -0 "$p" 2>/dev/null; then
				stop_serve
				die "a listener exited"
			fi
		done
		for p in $listeners; do reap "$p"; done
		sleep 1 &
		wait $! || true
	done
}

# ---- recv ----

# Answer the client and log why, then exit 0: the answer is the client's
# status.  socat ends as soon as the command it runs fails, before it has
# passed that command's last output on (over TLS about one answer in five
# was lost so), so recv fails only when it could not answer at all.
answer() {
	printf '%s\n' "$1"
	msg "$2"
	exit 0
}

# Names that reach the sink's session, rows and logs: plain ones only.
plain_name() {
	case $1 in
	'' | *[!A-Za-z0-9._-]*) return 1 ;;
	esac
	[ "${#1}" -le 64 ]
}

# Over TLS the certificate names the node, and nothing else does: a
# certificate without a usable common name (one plain name) delivers
# nothing.  socat sets its SOCAT_OPENSSL_* variables for every TLS
# connection, with a CN or without.  Over plain TCP (trusted networks) and
# ssh, the header's node is taken as it is.  Called once the segment is
# read (cmd_recv says why).
bind_node() {
	if [ -z "${SOCAT_OPENSSL_X509_SUBJECT:-}${SOCAT_OPENSSL_PROTO_VERSION:-}" ]; then
		return 0
	fi
	cn=${SOCAT_OPENSSL_X509_COMMONNAME:-}
	if ! plain_name "$cn"; then
		answer "error the certificate has no usable name (CN)" \
		    "$node: $name: refused, the certificate has no usable CN"
	fi
	if [ "$cn" != "$node" ]; then
		answer "error node $node is not the certificate's $cn" \
		    "$node: $name: refused, the certificate is $cn's"
	fi
}

# Store the segment in $tmp through a session with the sink (sqlsink
# --send): the sink binds every record to $node, refuses what it cannot
# store, and answers only after the commit that holds the last line.  The
# answer is recv's: "ok N", "refused R of N: ..." (the segment can never be
# stored whole: the shipper quarantines it) or "error ..." (try again).
deliver() {
	# The sqlsink installed with this script, also where a remote command
	# (ssh hub hopmap-hub recv) runs with a bare PATH.
	sink=$(dirname "$(self_path)")/sqlsink
	[ -x "$sink" ] || sink=sqlsink
	rc=0
	reply=$("$sink" --send "$sock" --node "$node" --segment "$name" \
	    ${SOCAT_PEERADDR:+--peer "$SOCAT_PEERADDR"} --wait "${waitmax}s" \
	    <"$tmp") || rc=$?
	[ -n "$reply" ] || reply="error no answer from the sink (status $rc)"
	[ "$rc" = 0 ] || answer "$reply" "$node: $name: $reply"
	printf '%s\n' "$reply"
}

# The segment's header, read with a bound (--max-header): dd takes what one
# read returns, at most what is left of the bound, until a newline is in,
# so a client's endless first line costs the hub that many bytes at most.
# What came after the header in the same reads stays in FILE, for
# read_body.  Sets magic ver node name n rest and hlen (the header's
# bytes), or why.
read_header() { # FILE
	hmax=${HOPMAP_HUB_MAX_HEADER:-1024}
	: >"$1"
	got=0
	while [ "$(wc -l <"$1")" -eq 0 ]; do
		if [ "$got" -ge "$hmax" ]; then
			why="header too long (over $hmax bytes)"
			return 1
		fi
		dd bs="$((hmax - got))" count=1 2>/dev/null >>"$1"
		new=$(wc -c <"$1")
		if [ "$new" -eq "$got" ]; then why="bad header"; return 1; fi
		got=$new
	done
	hlen=$(head -n 1 "$1" | wc -c)
	IFS=' ' read -r magic ver node name n rest <"$1" || true
	lmax=${HOPMAP_HUB_MAX_LINES:-100000}
	case ${n:-} in
	'' | *[!0-9]*) ;;
	*)
		if [ "${#n}" -gt 9 ] || [ "$n" -gt "$lmax" ]; then
			why="segment too long: $n lines (at most $lmax)"
			return 1
		fi ;;
	esac
}

# The segment's N lines into OUT: what read_header read past the header,
# then the rest from standard input, at most --max-bytes: past the bound
# nothing more is read, the client is answered and the connection closed.
read_body() { # N FILE OUT
	bmax=${HOPMAP_HUB_MAX_BYTES:-67108864}
	have=$(tail -c "+$((hlen + 1))" "$2" | wc -l)
	{
		if [ "$have" -ge "$1" ]; then
			tail -c "+$((hlen + 1))" "$2" | head -n "$1"
		else
			tail -c "+$((hlen + 1))" "$2"
			head -n "$(($1 - have))"
		fi
	} | head -c "$((bmax + 1))" >"$3"
	if [ "$(wc -c <"$3")" -gt "$bmax" ]; then
		why="segment too large (over $bmax bytes)"
		return 1
	fi
}

cmd_recv() {
	waitmax=30
	while [ $# -gt 0 ]; do
		common_opt "$@"
		if [ "$shifted" -gt 0 ]; then shift "$shifted"; continue; fi
		case $1 in
		-w | --wait) need "$1" $#; posint wait "$2"; waitmax=$2; shift 2 ;;
		--wait=*) posint wait "${1#*=}"; waitmax=${1#*=}; shift ;;
		*) die_usage "unknown option: $1" ;;
		esac
	done
	[ "$waitmax" -ge 1 ] || die_usage "wait must be at least 1"
	setup_paths
	# The pid in the name lets serve tell a killed recv's file (clean_recv).
	mkdir -p "$state/recv"
	tmp=$(pid_tmp "$state/recv" seg)
	trap 'rm -f "$tmp" "$tmp.head"' EXIT
	trap 'exit 1' HUP INT TERM
	read_header "$tmp.head" || answer "error $why" "a client's segment: $why"
	if [ "${magic:-}" != hopmap-segment ] || [ "${ver:-}" != 1 ] ||
	    [ -n "${rest:-}" ]; then
		answer "error bad header" "bad segment header from a client"
	fi
	case $n in '' | *[!0-9]*) answer "error bad count" "bad count" ;; esac
	# Refusals come once the segment is read: a connection closed with
	# data unread is reset, and a reset can discard the answer before the
	# client reads it.
	read_body "$n" "$tmp.head" "$tmp" || answer "error $why" "$node: $name: $why"
	got=$(wc -l <"$tmp")
	if [ "$got" -ne "$n" ]; then
		answer "error short segment: $got of $n lines" \
		    "$node: $name: short segment: $got of $n lines"
	fi
	if ! plain_name "$node" || ! plain_name "$name"; then
		answer "error bad node or segment name" \
		    "bad node or segment name from a client"
	fi
	bind_node
	deliver
}

# ---- ssh ----

cmd_ssh() {
	direct=0 sshargs='' nodename=''
	while [ $# -gt 0 ]; do
		common_opt "$@"
		if [ "$shifted" -gt 0 ]; then shift "$shifted"; continue; fi
		case $1 in
		--direct) direct=1; shift ;;
		-N | --node) need "$1" $#; nodename=$2; shift 2 ;;
		--node=*) nodename=${1#*=}; shift ;;
		--ssh-args) need "$1" $#; sshargs=$2; shift 2 ;;
		--ssh-args=*) sshargs=${1#*=}; shift ;;
		--) shift; break ;;
		-?*) die_usage "unknown option: $1" ;;
		*) break ;;
		esac
	done
	[ $# -eq 2 ] || die_usage "ssh needs NODE and COMMAND"
	node=$1 command=$2
	# The records are the node's: the sink binds them to this name and
	# refuses those that name another.
	[ -n "$nodename" ] || nodename=$(printf '%s' "$node" | tr -c 'A-Za-z0-9._-' _)
	plain_name "$nodename" || die_usage "bad node name: $nodename"
	setup_paths
	st=$(mktemp "$state/ssh.XXXXXX")
	trap 'rm -f "$st"' EXIT
	if [ "$direct" = 1 ]; then
		# No spool: the session confirms the whole stream, but a stream
		# cut short is not sent again.
		# shellcheck disable=SC2086 # ARGS are words on purpose
		answer=$({ r=0; ssh -o BatchMode=yes $sshargs -- "$node" "$command" \
		    </dev/null || r=$?; echo "$r" >"$st"; } |
		    sqlsink --send "$sock" --node "$nodename" --segment ssh) || true
		rc=$(cat "$st")
		[ "$rc" = 0 ] || die "$node: the command exited with status $rc"
		case $answer in
		"ok "*) return 0 ;;
		*) die "$node: ${answer:-no answer from the sink}" ;;
		esac
	fi
	spool=$state/spool/$nodename
	# shellcheck disable=SC2086 # ARGS are words on purpose
	{ r=0; ssh -o BatchMode=yes $sshargs -- "$node" "$command" </dev/null ||
	    r=$?; echo "$r" >"$st"; } | hopmap-ship spool "$spool"
	rc=$(cat "$st")
	HOPMAP_HUB_SELF=$(self_path) HOPMAP_HUB_STATE=$state HOPMAP_HUB_DB=$db
	export HOPMAP_HUB_SELF HOPMAP_HUB_STATE HOPMAP_HUB_DB
	# shellcheck disable=SC2016 # expanded by the shell socat starts
	cmd='exec "$HOPMAP_HUB_SELF" recv -d "$HOPMAP_HUB_STATE" --db "$HOPMAP_HUB_DB"'
	hopmap-ship send --once --quiet --tries 5 --node "$nodename" "$spool" \
	    "SYSTEM:$(socat_quote "$cmd")"
	[ "$rc" = 0 ] || die "$node: the command exited with status $rc"
}

# ---- hops ----

# The hops of FILE's traces after row $2, into the queue; sets $top.
extract_hops() {
	top=$(sqlite3 -cmd '.timeout 5000' "$1" 'SELECT coalesce(max(id), 0) FROM traces;')
	[ "$top" -gt "$2" ] || { top=$2; return 0; }
	sqlite3 -cmd '.timeout 5000' "$1" \
	    "SELECT json FROM traces WHERE id > $2 AND id <= $top ORDER BY id;" |
	    hopextract $reserved --state "$state/seen.db" >>"$state/hops.ndjson"
}

# All new hops are extracted at once, through one dedup state, into one
# queue per shard count; a shard is a slice of that queue, chosen by the
# address (the sum of its octets modulo N), and a worker remembers how far
# it has read (--from), so fetching twice hands nothing out twice.
cmd_hops() {
	shard='' from=0 reserved=''
	while [ $# -gt 0 ]; do
		common_opt "$@"
		if [ "$shifted" -gt 0 ]; then shift "$shifted"; continue; fi
		case $1 in
		-R | --allow-reserved) reserved=-R; shift ;;
		-s | --shard) need "$1" $#; shard=$2; shift 2 ;;
		--shard=*) shard=${1#*=}; shift ;;
		-f | --from) need "$1" $#; posint from "$2"; from=$2; shift 2 ;;
		--from=*) posint from "${1#*=}"; from=${1#*=}; shift ;;
		*) die_usage "unknown option: $1" ;;
		esac
	done
	k=1 nsh=1
	if [ -n "$shard" ]; then
		k=${shard%/*} nsh=${shard#*/}
		posint shard "$k"
		posint shard "$nsh"
		if [ "$k" -lt 1 ] || [ "$k" -gt "$nsh" ]; then
			die_usage "bad shard: $shard"
		fi
	fi
	setup_paths
	[ -e "$db" ] || die "$db: no database"
	exec 8>>"$state/hops.lock"
	flock 8
	# Where reading stopped: a file of sqlsink's series and its last trace
	# row.  Row ids start again in each file the sink rotates to, so the
	# files are read in their order (their names sort by time): the rest
	# of that file, then every later one from its start.
	pfile='' last=0
	if [ -s "$state/hops.pos" ]; then
		read -r pfile last <"$state/hops.pos"
		posint hops.pos "$last"
	fi
	base=$(basename "$db")
	set -- "$(dirname "$db")/${base%.*}"-*."${base##*.}"
	[ -e "$1" ] || set -- "$(readlink -f "$db")"
	for f in "$@"; do
		from_row=0
		if [ "$f" = "$pfile" ]; then
			from_row=$last
		elif [ -n "$pfile" ] && [ "$(printf '%s\n' "$f" "$pfile" |
		    LC_ALL=C sort | head -n 1)" = "$f" ]; then
			continue	# read before
		fi
		extract_hops "$f" "$from_row"
		echo "$f $top" >"$state/hops.pos.tmp"
		mv "$state/hops.pos.tmp" "$state/hops.pos"
	done
	touch "$state/hops.ndjson"
	jq -c --argjson k "$k" --argjson n "$nsh" \
	    'select((.ip | split(".") | map(tonumber) | add) % $n == $k - 1)' \
	    "$state/hops.ndjson" | tail -n "+$((from + 1))"
}

# ---- status ----

cmd_status() {
	while [ $# -gt 0 ]; do
		common_opt "$@"
		if [ "$shifted" -gt 0 ]; then shift "$shifted"; continue; fi
		die_usage "unknown option: $1"
	done
	setup_paths
	[ -e "$db" ] || die "$db: no database"
	# The delivery rows the sink wrote at each session's commit: records
	# are those it stored, so a segment sent again adds none.
	sqlite3 -cmd '.timeout 5000' -header -column "$db" "
SELECT node, count(*) AS segments,
       coalesce(sum(json_extract(json, '\$.stored')), 0) AS records,
       coalesce(sum(json_extract(json, '\$.duplicate')), 0) AS duplicates,
       coalesce(sum(json_extract(json, '\$.refused')), 0) AS refused,
       max(json_extract(json, '\$.ts')) AS last_contact
FROM raw WHERE src = 'hopmap-ack' GROUP BY node ORDER BY node;"
}

case ${1:-} in
-h | --help) usage; exit 0 ;;
-V | --version) echo "$prog (hopmap) $version"; exit 0 ;;
serve) shift; cmd_serve "$@" ;;
recv) shift; cmd_recv "$@" ;;
ssh) shift; cmd_ssh "$@" ;;
hops) shift; cmd_hops "$@" ;;
status) shift; cmd_status "$@" ;;
'') die_usage "a command is needed: serve, recv, ssh, hops or status" ;;
*) die_usage "unknown command: $1" ;;
esac
