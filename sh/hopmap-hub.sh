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
# The commit is confirmed without changing sqlsink: recv appends one
# marker record with a fresh id to the segment and waits until that id is
# in the database's ids table.  sqlsink stores a connection's lines in
# order, so when the marker is committed, so is every line before it.
set -eu

prog=hopmap-hub
version=0.1.0 # keep in step with HM_VERSION in lib/hopmap.h

usage() {
	cat <<EOF
usage: $prog serve [-d DIR] [--db PATH] [--tcp [ADDR:]PORT]
                   [--tls [ADDR:]PORT --cert PEM --key PEM --ca PEM]
                   [--sink-args ARGS]
       $prog recv [-d DIR] [--db PATH] [-w SECONDS]
       $prog ssh [-d DIR] [--db PATH] [--direct] [--ssh-args ARGS]
                   NODE COMMAND
       $prog hops [-d DIR] [--db PATH] [-R] [-s K/N] [-f LINE]
       $prog status [-d DIR] [--db PATH]
Collect the results of many hopmap nodes into one database.
  -d, --state-dir DIR   the hub's state (default \$HOPMAP_HUB or
                        ~/.local/state/hopmap-hub)
      --db PATH         the database (default DIR/map.db)
  serve                 run the sink and the listeners until SIGTERM
      --tcp [ADDR:]PORT   accept plain TCP (trusted networks only)
      --tls [ADDR:]PORT   accept TLS; clients need a certificate signed by
                          --ca; --cert and --key are the hub's own
      --sink-args ARGS    more sqlsink options (split on blanks)
  recv                  store one segment read on standard input
    -w, --wait S          wait at most S seconds for the commit (default 30)
  ssh                   run COMMAND on NODE with ssh; store its output
      --direct            straight into the sink socket, without the spool
      --ssh-args ARGS     more ssh options (split on blanks)
  hops                  print new hop targets
    -R, --allow-reserved  keep special-purpose hop addresses (labs)
    -s, --shard K/N       only shard K of N of the hops
    -f, --from LINE       skip the first LINE hops of the shard
  status                deliveries per node: segments, records, last contact
  -h, --help            show this help and exit
  -V, --version         show the version and exit
EOF
}

die_usage() {
	echo "$prog: $*" >&2
	echo "usage: $prog serve|recv|ssh|hops|status ... (see --help)" >&2
	exit 2
}
die() {
	echo "$prog: $*" >&2
	exit 1
}

need() { [ "$2" -ge 2 ] || die_usage "$1 needs a value"; }
posint() {
	case $2 in
	'' | *[!0-9]*) die_usage "$1 is not a number: $2" ;;
	esac
	[ "${#2}" -le 9 ] || die_usage "$1 is too large: $2"
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

self_path() {
	case $0 in
	*/*) echo "$(cd "$(dirname "$0")" && pwd)/$(basename "$0")" ;;
	*) command -v "$0" ;;
	esac
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
		wait $! || echo "$prog: sqlsink exited with status $?; restarting" >&2
		sleep 1
	done
}

listen_addr() {
	case $2 in
	*:*) echo "$1:${2##*:},bind=${2%:*},reuseaddr,fork" ;;
	*) echo "$1:$2,reuseaddr,fork" ;;
	esac
}

cmd_serve() {
	tcp='' tls='' cert='' key='' ca='' sinkargs=''
	while [ $# -gt 0 ]; do
		common_opt "$@"
		if [ "$shifted" -gt 0 ]; then shift "$shifted"; continue; fi
		case $1 in
		--tcp | --tls | --cert | --key | --ca | --sink-args)
			need "$1" $#; o=$1 v=$2; shift 2 ;;
		--*=*) o=${1%%=*} v=${1#*=}; shift ;;
		*) die_usage "unknown option: $1" ;;
		esac
		case $o in
		--tcp) tcp=$v ;;
		--tls) tls=$v ;;
		--cert) cert=$v ;;
		--key) key=$v ;;
		--ca) ca=$v ;;
		--sink-args) sinkargs=$v ;;
		*) die_usage "unknown option: $o" ;;
		esac
	done
	if [ -n "$tls" ] && { [ -z "$cert" ] || [ -z "$key" ] || [ -z "$ca" ]; }; then
		die_usage "--tls needs --cert, --key and --ca"
	fi
	setup_paths
	HOPMAP_HUB_SELF=$(self_path) HOPMAP_HUB_STATE=$state HOPMAP_HUB_DB=$db
	export HOPMAP_HUB_SELF HOPMAP_HUB_STATE HOPMAP_HUB_DB
	pids=''
	trap 'kill $pids 2>/dev/null; wait; exit 0' TERM INT
	supervise_sink &
	pids="$pids $!"
	# shellcheck disable=SC2016 # expanded by the shell socat starts
	recv='SYSTEM:exec "$HOPMAP_HUB_SELF" recv -d "$HOPMAP_HUB_STATE" --db "$HOPMAP_HUB_DB"'
	if [ -n "$tcp" ]; then
		socat -T 300 "$(listen_addr TCP-LISTEN "$tcp")" "$recv" &
		pids="$pids $!"
	fi
	if [ -n "$tls" ]; then
		# verify=1: a client without a certificate signed by the CA is
		# refused in the handshake, before recv runs.
		socat -T 300 "$(listen_addr OPENSSL-LISTEN "$tls"),cert=$cert,key=$key,cafile=$ca,verify=1" \
		    "$recv" &
		pids="$pids $!"
	fi
	echo "$prog: serving $db on $sock${tcp:+, tcp $tcp}${tls:+, tls $tls}" >&2
	# A listener that dies (its port taken) ends the hub: better loud.
	while :; do
		for p in $pids; do
			# shellcheck disable=SC2086 # a list of pids
			kill -0 "$p" 2>/dev/null || { kill $pids 2>/dev/null; die "a listener exited"; }
		done
		sleep 1 &
		wait $! || true
	done
}

# ---- recv ----

sql_quote() { printf "'%s'" "$(printf '%s' "$1" | sed "s/'/''/g")"; }

# The marker record that closes a delivery: a fresh id to wait for, and
# the hub's log of who delivered what and when.  Sets $mid.
marker() {
	mid="hopmap-ack:$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
	jq -nc --arg id "$mid" --arg node "$1" --arg seg "$2" \
	    --argjson n "$3" --arg ts "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
	    --arg peer "${SOCAT_PEERADDR:-}" \
	    '{id: $id, src: "hopmap-ack", node: $node, segment: $seg,
	      lines: $n, ts: $ts} + if $peer == "" then {} else {peer: $peer} end'
}

# Wait until the marker $mid is committed; say why not otherwise.
await_commit() {
	q="SELECT count(*) FROM ids WHERE rid = $(sql_quote "$mid");"
	i=0
	while [ "$i" -lt $((waitmax * 10)) ]; do
		if [ "$(sqlite3 -cmd '.timeout 2000' "$db" "$q" 2>/dev/null)" = 1 ]; then
			return 0
		fi
		# A sink that died lost its batch in progress: no use waiting.
		if [ "$(cat "$state/sqlsink.pid" 2>/dev/null || echo none)" != "$sinkpid" ] ||
		    { [ "$sinkpid" != none ] && ! kill -0 "$sinkpid" 2>/dev/null; }; then
			echo "sink restarted"
			return 1
		fi
		sleep 0.1
		i=$((i + 1))
	done
	echo "not committed within ${waitmax}s"
	return 1
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
	setup_paths
	IFS=' ' read -r magic ver node name n rest || true
	if [ "${magic:-}" != hopmap-segment ] || [ "${ver:-}" != 1 ] ||
	    [ -n "${rest:-}" ]; then
		echo "error bad header"
		die "bad segment header from a client"
	fi
	case $n in '' | *[!0-9]*) echo "error bad count"; die "bad count" ;; esac
	# Over TLS the certificate names the node: one worker's key cannot
	# deliver under another's name.
	cn=${SOCAT_OPENSSL_X509_COMMONNAME:-}
	if [ -n "$cn" ] && [ "$cn" != "$node" ]; then
		echo "error node $node is not the certificate's $cn"
		die "$node: $name: refused, the certificate is $cn's"
	fi
	mkdir -p "$state/recv"
	tmp=$(mktemp "$state/recv/seg.XXXXXX")
	trap 'rm -f "$tmp"' EXIT
	head -n "$n" >"$tmp"
	got=$(wc -l <"$tmp")
	if [ "$got" -ne "$n" ]; then
		echo "error short segment: $got of $n lines"
		die "$node: $name: short segment: $got of $n lines"
	fi
	marker "$node" "$name" "$n" >>"$tmp"
	sinkpid=$(cat "$state/sqlsink.pid" 2>/dev/null || echo none)
	if ! socat -u "OPEN:$tmp" "UNIX-CONNECT:$sock" 2>/dev/null; then
		echo "error sink down"
		die "$node: $name: the sink is not there"
	fi
	if why=$(await_commit); then
		echo "ok $n"
	else
		echo "error $why"
		die "$node: $name: $why"
	fi
}

# ---- ssh ----

cmd_ssh() {
	direct=0 sshargs=''
	while [ $# -gt 0 ]; do
		common_opt "$@"
		if [ "$shifted" -gt 0 ]; then shift "$shifted"; continue; fi
		case $1 in
		--direct) direct=1; shift ;;
		--ssh-args) need "$1" $#; sshargs=$2; shift 2 ;;
		--ssh-args=*) sshargs=${1#*=}; shift ;;
		--) shift; break ;;
		-?*) die_usage "unknown option: $1" ;;
		*) break ;;
		esac
	done
	[ $# -eq 2 ] || die_usage "ssh needs NODE and COMMAND"
	node=$1 command=$2
	nodename=$(printf '%s' "$node" | tr -c 'A-Za-z0-9._-' _)
	setup_paths
	st=$(mktemp "$state/ssh.XXXXXX")
	# shellcheck disable=SC2064 # the path is fixed now
	trap "rm -f '$st'" EXIT
	if [ "$direct" = 1 ]; then
		# No spool: the marker after the output confirms the whole
		# stream, but a stream cut short is not sent again.
		waitmax=30
		marker "$nodename" ssh 0 >"$st.m"
		sinkpid=$(cat "$state/sqlsink.pid" 2>/dev/null || echo none)
		# shellcheck disable=SC2086 # ARGS are words on purpose
		{ r=0; ssh -o BatchMode=yes $sshargs -- "$node" "$command" \
		    </dev/null || r=$?; echo "$r" >"$st"; cat "$st.m"; } |
		    socat -u - "UNIX-CONNECT:$sock"
		rm -f "$st.m"
		rc=$(cat "$st")
		[ "$rc" = 0 ] || die "$node: the command exited with status $rc"
		why=$(await_commit) || die "$node: $why"
		return 0
	fi
	spool=$state/spool/$nodename
	# shellcheck disable=SC2086 # ARGS are words on purpose
	{ r=0; ssh -o BatchMode=yes $sshargs -- "$node" "$command" </dev/null ||
	    r=$?; echo "$r" >"$st"; } | hopmap-ship spool "$spool"
	rc=$(cat "$st")
	HOPMAP_HUB_SELF=$(self_path) HOPMAP_HUB_STATE=$state HOPMAP_HUB_DB=$db
	export HOPMAP_HUB_SELF HOPMAP_HUB_STATE HOPMAP_HUB_DB
	# shellcheck disable=SC2016 # expanded by the shell socat starts
	hopmap-ship send --once --quiet --tries 5 --node "$nodename" "$spool" \
	    'SYSTEM:exec "$HOPMAP_HUB_SELF" recv -d "$HOPMAP_HUB_STATE" --db "$HOPMAP_HUB_DB"'
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
	sqlite3 -cmd '.timeout 5000' -header -column "$db" "
SELECT node, count(*) AS segments,
       sum(json_extract(json, '\$.lines')) AS records,
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
