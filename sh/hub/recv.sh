# shellcheck shell=sh
# hopmap-hub recv: one segment read on standard input, with bounds, bound
# to its node (a TLS client's certificate), stored through a session with
# the sink, and answered.  Sourced by hopmap-hub.

# Log why and answer the client, then exit 0: the answer is the client's
# status.  socat ends as soon as the command it runs fails, before it has
# passed that command's last output on (over TLS about one answer in five
# was lost so), so recv fails only when it could not answer at all.  The
# log line comes first: whoever acts on the answer finds it written
# (t-dist's "refused and kept" read the log before it, under load).
answer() {
	msg "$2" || :
	printf '%s\n' "$1"
	exit 0
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
	# (ssh hub hopmap-hub recv) runs with a bare PATH.  $0 is the path
	# the script was run by (a PATH search gives the whole path).
	case $0 in
	*/*) sink=${0%/*}/sqlsink ;;
	*) sink=$(command -v "$0") && sink=${sink%/*}/sqlsink ;;
	esac
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
# read_body.  Sets magic ver node name n rest, or why.  Each process is
# paid per delivery (the hub's confirmed rate is in processes per
# segment): the shell's read finds the newline, wc runs only for a header
# that came in pieces.
read_header() { # FILE
	hmax=${HOPMAP_HUB_MAX_HEADER:-1024}
	: >"$1"
	got=0
	while :; do
		if [ "$got" -ge "$hmax" ]; then
			why="header too long (over $hmax bytes)"
			return 1
		fi
		dd bs="$((hmax - got))" count=1 2>/dev/null >>"$1"
		# read succeeds only on a line that ends with a newline
		IFS= read -r _ <"$1" && break
		new=$(wc -c <"$1")
		if [ "$new" -eq "$got" ]; then why="bad header"; return 1; fi
		got=$new
	done
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

# The segment's N lines into OUT: what read_header read past the header
# (FILE less its first line), then the rest from standard input, at most
# --max-bytes: past the bound nothing more is read, the client is
# answered and the connection closed.  Sets got, the lines in OUT.
read_body() { # N FILE OUT
	bmax=${HOPMAP_HUB_MAX_BYTES:-67108864}
	sed 1d "$2" >"$3"
	have=$(wc -l <"$3")
	if [ "$have" -ge "$1" ]; then
		# (FILE is read: it takes the cut, then becomes OUT)
		head -n "$1" "$3" >"$2" && mv -f "$2" "$3"
	else
		# head -n stops reading at the segment's last line: the
		# client sends nothing more and waits for the answer.
		head -n "$(($1 - have))" | head -c "$((bmax + 1))" >>"$3"
	fi
	# lines and bytes: one wc
	read -r got size <<-EOF
	$(wc -lc <"$3")
	EOF
	if [ "$size" -gt "$bmax" ]; then
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
	# The pid in the name lets serve tell a killed recv's file (clean_recv);
	# no live process has this pid, so no other recv has this name (a
	# dead one's file is taken over), and no mktemp is paid for it.
	[ -d "$state/recv" ] || mkdir -p "$state/recv"
	tmp=$state/recv/seg.$$.0
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
