# shellcheck shell=sh
# hopmap-hub serve: one sqlsink on a Unix socket, supervised, and socat
# listeners whose connections each run "hopmap-hub recv"; the connections
# are bounded (time, handshake, children) and a stop ends every listener's
# whole process group.  Sourced by hopmap-hub.

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
# a hub is open to the network only when told which address to open.  The
# backlog holds the connections waiting for a child (socat's own is 5: a
# hundred workers at once overflowed it, and each dropped SYN cost its
# worker a second's retransmission).
listen_addr() {
	case $2 in
	*:*) a=${2%:*} p=${2##*:} ;;
	*) a=127.0.0.1 p=$2 ;;
	esac
	posint "${1%%-*} port" "$p"
	printf '%s:%s,bind=%s,reuseaddr,fork,backlog=256,max-children=%s' \
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
		# A child forked as ps looked can show an elapsed time below
		# zero, wrapped (4123168608 s was seen, under load): just born.
		[ "${#age}" -lt 10 ] || continue
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
	# An extraction is let finish (bounded, --hops-every): killed, it
	# could leave half a line in the queue.
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
	--hops-every) posint hops-every "$2"; hopsevery=$2 ;;
	*) die_usage "unknown option: $1" ;;
	esac
}

# Every --hops-every seconds, the traces stored since the last time
# become hop targets in HUB/hops.ndjson (as "hopmap-hub hops" does), for
# the gateway's consumers (hopmap-httpd --hub reads that queue at each
# answer): a hub whose workers all come through the gateway needs no
# timer of its own.  One extraction at a time, in the background, at most
# 100000 traces each: the loop goes on reaping meanwhile.
hops_tick() {
	[ "$hopsevery" -gt 0 ] && [ -e "$db" ] || return 0
	[ -z "$hopsjob" ] || ! kill -0 "$hopsjob" 2>/dev/null || return 0
	now=$(date +%s)
	[ "$now" -ge "$hopsnext" ] || return 0
	hopsnext=$((now + hopsevery))
	(maxrows=100000; extract_new) &
	hopsjob=$!
}

cmd_serve() {
	tcp='' tls='' cert='' key='' ca='' sinkargs=''
	maxchildren=32 maxheader=1024 maxlines=100000 maxbytes=67108864
	idle=120 handshake=10 maxtime=900 hopsevery=10
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
	listeners='' supervisor='' hopsjob='' hopsnext=0
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
		hops_tick
		sleep 1 &
		wait $! || true
	done
}
