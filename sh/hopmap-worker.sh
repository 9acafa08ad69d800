#!/bin/sh
# hopmap-worker: one node of many.  It probes its share of the seeds with
# hopmap-loop (or any pipeline given with --cmd), writes the results to a
# spool in its own state directory, and ships the spool to the hub with
# hopmap-ship, which retries until the hub has confirmed every segment.
# The node's state (resume position, cooldown, dedup, spool) stays here;
# the hub only ever sees results.
set -eu

prog=hopmap-worker
synopsis='-H ADDRESS | --gateway URL --key FILE [options] [LOOP-OPTIONS...]'
# The shared library: sh/lib/ beside the script in a checkout, else
# share/hopmap/sh/lib/ beside its bin/ once built or installed.
sh_dir=$(dirname "$(readlink -f "$0")")
[ -f "$sh_dir/lib/hopmap.sh" ] || sh_dir=$(dirname "$sh_dir")/share/hopmap/sh
# shellcheck source=lib/hopmap.sh
. "$sh_dir/lib/hopmap.sh"
# shellcheck source=lib/gateway.sh
. "$sh_dir/lib/gateway.sh"

usage() {
	cat <<EOF
usage: $prog -H ADDRESS [-d DIR] [-N NODE] [-b SECONDS] [-n TRIES] [-u USER]
                     [--hub-hops CMD]
                     [-c COMMAND | [--] LOOP-OPTIONS... RANGEFILE...]
       $prog -G URL -k KEYFILE [--cacert PEM] [--plain-http] [--batch N]
                     [options] [-c COMMAND | [--] LOOP-OPTIONS...]
Probe with hopmap-loop (or COMMAND), spool the results locally and ship
them to a hopmap hub, each stored once.
  -H, --hub ADDRESS      the hub as a socat address (TCP:hub:7411,
                         OPENSSL:hub:7412,cert=...,cafile=...,
                         EXEC:'ssh hub hopmap-hub recv')
  -G, --gateway URL      the hub's gateway instead (hopmap-httpd --hub,
                         https://hub:port): results go to its /results and
                         hopmap-loop takes its targets from its /targets
                         (no RANGEFILE needed), all through curl
  -k, --key FILE         the gateway's API key for this node (-N must be
                         the key's name)
      --cacert PEM       trust the gateway's certificate from the CAs in PEM
      --plain-http       allow an http:// gateway beyond the loopback
      --batch N          targets asked of the gateway at a time, whenever
                         fewer are queued (default 1000, the loop's -n)
  -d, --state-dir DIR    the node's state: DIR/loop for hopmap-loop, DIR/spool
                         for results not yet confirmed (default
                         \$HOPMAP_STATE or ~/.local/state/hopmap)
  -N, --node NAME        vantage point name (default: host name): the
                         probers' "node" and the name sent to the hub
  -u, --user USER        the probers run as USER once their sockets are open
  -b, --backoff-max S    longest wait between shipping retries (default 30)
  -n, --tries N          after probing, give up draining the spool after N
                         failed attempts in a row (default 0: never)
  -c, --cmd COMMAND      run sh -c COMMAND instead of hopmap-loop and spool
                         its standard output; COMMAND finds the node name
                         in \$HOPMAP_NODE (icmpprobe --node "\$HOPMAP_NODE")
  -m, --metrics FILE     the shipper's Prometheus text metrics (segments and
                         records the hub confirmed, failures, the spool)
  -q, --quiet            the shipper reports only errors
      --hub-hops CMD     take hop targets from the hub instead of this node's
                         own traces: CMD prints this node's shard of them
                         (ssh hub hopmap-hub hops --shard K/N); the worker
                         adds --from and remembers how far it has read
  -h, --help             show this help and exit
  -V, --version          show the version and exit
Other arguments go to hopmap-loop, which gets --state-dir DIR/loop, --node,
--user and --sink-cmd from here (for example --shard 2/3 --rounds 0 ranges.txt).
A shipper that dies is started again (after 1 s, doubling up to -b).
EOF
}

# The loop's --hops-cmd: this node's share of the hub's new hops, from
# where the last fetch stopped.  The offset is the node's own state; it
# moves on only after the hops were printed whole, so a failed fetch is
# asked again.
fetch_hops() {
	off=$(cat "$HOPMAP_WORKER_STATE/hops.offset" 2>/dev/null || echo 0)
	case $off in '' | *[!0-9]*) off=0 ;; esac
	tmp=$HOPMAP_WORKER_STATE/hops.fetch
	sh -c "$HOPMAP_WORKER_HOPS_CMD --from $off" >"$tmp"
	n=$(wc -l <"$tmp")
	cat "$tmp"
	echo $((off + n)) >"$HOPMAP_WORKER_STATE/hops.offset.tmp"
	mv "$HOPMAP_WORKER_STATE/hops.offset.tmp" "$HOPMAP_WORKER_STATE/hops.offset"
	rm -f "$tmp"
}
if [ "${1:-}" = --fetch-hops ]; then
	fetch_hops
	exit 0
fi

# The loop's --hops-cmd with --gateway: the gateway's next targets, as many
# as the loop's queue lacks of a batch, each line as it came (the loop
# admits or refuses it).  The gateway saves this node's progress before it
# answers; 204 (nothing to do now) prints nothing, and the loop then stops
# (--rounds N) or waits and asks again (--rounds 0).  A gateway that cannot
# be reached counts as nothing to do this round (the loop says so).
fetch_targets() {
	q=$HOPMAP_WORKER_STATE/loop/hops.ndjson
	queued=0
	[ ! -f "$q" ] || queued=$(wc -l <"$q")
	want=$((HOPMAP_WORKER_BATCH - queued))
	[ "$want" -gt 0 ] || return 0
	gw_check "$HOPMAP_WORKER_GATEWAY" "$HOPMAP_WORKER_KEYFILE" \
	    "$HOPMAP_WORKER_CACERT" 1
	body=$(pid_tmp "${TMPDIR:-/tmp}" "$prog")
	trap 'rm -f "$body" "$body.err"' EXIT
	rc=0
	code=$(gw_curl 60 "$HOPMAP_WORKER_CACERT" -o "$body" \
	    -w '%{http_code}' "$gw_url/targets?n=$want" 2>"$body.err") || rc=$?
	if [ "$rc" != 0 ]; then
		gw_why "$rc" "$body.err"
		msg "GET /targets: $(cat "$body.err")"
		exit 1
	fi
	case $code in
	200)
		# A discovered hop (it carries "found_by") is a hop target,
		# "src":"hop", as the hops of the loop and of --hub-hops are.
		jq -R -r '(fromjson? // null) as $r |
		    if ($r | type) == "object" and ($r | has("found_by")) and
		        ($r | has("src") | not)
		    then $r + {src: "hop"} | tojson else . end' "$body" ;;
	204) ;;
	*) die "GET /targets: HTTP $code: $(gw_error "$body")" ;;
	esac
}
if [ "${1:-}" = --fetch-targets ]; then
	fetch_targets
	exit 0
fi

hub='' state='' node='' backoff=30 tries=0 cmd='' hubhops='' user=''
metrics='' quiet='' gateway='' keyfile='' cacert='' plainhttp='' batch=1000
while [ $# -gt 0 ]; do
	case $1 in
	-h | --help) usage; exit 0 ;;
	-V | --version) echo "$prog (hopmap) $version"; exit 0 ;;
	-q | --quiet) quiet=-q; shift; continue ;;
	--plain-http) plainhttp=--plain-http; shift; continue ;;
	-H | --hub | -d | --state-dir | -N | --node | -b | --backoff-max | \
	    -n | --tries | -c | --cmd | --hub-hops | -u | --user | -m | --metrics | \
	    -G | --gateway | -k | --key | --cacert | --batch)
		need "$1" $#
		o=$1 v=$2; shift 2 ;;
	--hub=* | --state-dir=* | --node=* | --backoff-max=* | --tries=* | \
	    --cmd=* | --hub-hops=* | --user=* | --metrics=* | --gateway=* | \
	    --key=* | --cacert=* | --batch=*)
		o=${1%%=*} v=${1#*=}; shift ;;
	--) shift; break ;;
	*) break ;;
	esac
	case $o in
	-H | --hub) hub=$v ;;
	-d | --state-dir) state=$v ;;
	-N | --node) node=$v ;;
	-b | --backoff-max) backoff=$v ;;
	-n | --tries) tries=$v ;;
	-c | --cmd) cmd=$v ;;
	--hub-hops) hubhops=$v ;;
	-u | --user) user=$v ;;
	-m | --metrics) metrics=$v ;;
	-G | --gateway) gateway=$v ;;
	-k | --key) keyfile=$v ;;
	--cacert) cacert=$v ;;
	--batch) batch=$v ;;
	esac
done
if [ -n "$gateway" ]; then
	[ -z "$hub" ] || die_usage "--hub and --gateway exclude each other"
	[ -z "$hubhops" ] || die_usage "--hub-hops and --gateway exclude each other"
	[ -n "$keyfile" ] || die_usage "--gateway needs --key FILE"
	gw_check "$gateway" "$keyfile" "$cacert" "${plainhttp:+1}"
	hub=$gateway
else
	[ -z "$keyfile$cacert$plainhttp" ] ||
	    die_usage "--key, --cacert and --plain-http go with --gateway"
fi
[ -n "$hub" ] || die_usage "--hub is needed"
for v in "$backoff" "$tries" "$batch"; do
	case $v in '' | *[!0-9]*) die_usage "not a number: $v" ;; esac
done
if [ "${#batch}" -gt 6 ] || [ "$batch" -lt 1 ] || [ "$batch" -gt 100000 ]; then
	die_usage "--batch is 1 to 100000: $batch"
fi
[ -n "$node" ] || node=$(hostname)
case $node in '' | *[!A-Za-z0-9._-]*) die_usage "bad node name: $node" ;; esac
state=${state:-${HOPMAP_STATE:-${HOME:-/root}/.local/state/hopmap}}
mkdir -p "$state/spool" "$state/loop"
# Paths reach children through the environment only, never pasted into a
# command string: a state directory may hold blanks and quotes.
HOPMAP_WORKER_STATE=$(cd "$state" && pwd)
HOPMAP_WORKER_SPOOL=$HOPMAP_WORKER_STATE/spool
HOPMAP_NODE=$node
export HOPMAP_WORKER_STATE HOPMAP_WORKER_SPOOL HOPMAP_NODE
# The key's and the CA's files, absolute: the loop runs its --hops-cmd
# from the caller's directory, the shipper from ours.
abspath() { case $1 in /* | '') echo "$1" ;; *) echo "$PWD/$1" ;; esac; }
keyfile=$(abspath "$keyfile") cacert=$(abspath "$cacert")

# One worker a state directory; a second one leaves, as a second
# hopmap-loop does (exit 0: from cron, the run before is still at work).
# The lock stays with this shell (fd 8 is closed for every child), so a
# worker killed alone frees it at once.
if ! lock 8 "$HOPMAP_WORKER_STATE/worker.lock" -n; then
	msg "another worker holds $HOPMAP_WORKER_STATE/worker.lock"
	exit 0
fi
# The children's scratch files (the shipper's, COMMAND's) are kept in
# DIR/tmp, so that what a killed run left there is removed now.
rm -rf "$HOPMAP_WORKER_STATE/tmp"
mkdir "$HOPMAP_WORKER_STATE/tmp"
TMPDIR=$HOPMAP_WORKER_STATE/tmp
export TMPDIR
# The node's name, for hopmap-status (a state directory's own name is not).
printf '%s\n' "$node" >"$HOPMAP_WORKER_STATE/node.tmp"
mv "$HOPMAP_WORKER_STATE/node.tmp" "$HOPMAP_WORKER_STATE/node"

# The shipper, kept running: a shipper that dies (killed, out of memory)
# is started again, after 1 s, then twice as long each time it dies again
# without having run for the longest wait (-b), which bounds both the wait
# and the restarts a minute.  A TERM stops the shipper and the supervisor.
supervise_shipper() {
	child='' delay=1 worker=$$
	# The shipper is waited for, so nothing of it outlives the worker.
	trap 'if [ -n "$child" ]; then kill "$child" 2>/dev/null
	    wait "$child" 2>/dev/null; fi; exit 0' TERM INT
	while :; do
		t0=$(date +%s)
		ship_send $quiet ${metrics:+-m "$metrics"} \
		    -b "$backoff" -N "$node" "$HOPMAP_WORKER_SPOOL" "$hub" 8>&- &
		child=$!
		rc=0
		wait "$child" || rc=$?
		child=''
		# A worker killed alone leaves no supervisor behind for ever.
		kill -0 "$worker" 2>/dev/null || exit 0
		if [ $(($(date +%s) - t0)) -ge "$backoff" ]; then delay=1; fi
		msg "the shipper exited with status $rc; restarting in ${delay}s"
		sleep "$delay" 8>&- &
		child=$!
		wait "$child" || true
		child=''
		delay=$((delay * 2))
		[ "$delay" -le "$backoff" ] || delay=$backoff
		[ "$delay" -ge 1 ] || delay=1
	done
}

# hopmap-ship send, with the gateway's key and CA when there is one.
# Started with &: it becomes the shipper (exec), so that the pid the
# supervisor and the drain wait for and stop is the shipper's own.
ship_send() {
	exec hopmap-ship send "$@" ${keyfile:+--key "$keyfile"} \
	    ${cacert:+--cacert "$cacert"} $plainhttp
}

shipper=''
probe=''
# shellcheck disable=SC2317 # called from the traps
stop() {
	# shellcheck disable=SC2086 # a list of pids
	[ -z "$probe$shipper" ] || kill $probe $shipper 2>/dev/null || true
	wait || true
}
trap 'stop; exit 143' TERM
trap 'stop; exit 130' INT

# Ship while probing, so the hub sees results as rounds end.
supervise_shipper 8>&- &
shipper=$!

rc=0
if [ -n "$cmd" ]; then
	# shellcheck disable=SC2016 # expanded by the sh that runs it
	sh -c "$cmd" 8>&- | hopmap-ship spool "$HOPMAP_WORKER_SPOOL" 8>&- &
else
	if [ -n "$hubhops" ]; then
		# The hub's global dedup replaces this node's own.
		HOPMAP_WORKER_HOPS_CMD=$hubhops
		HOPMAP_WORKER_SELF=$(self_path)
		export HOPMAP_WORKER_HOPS_CMD HOPMAP_WORKER_SELF
		# shellcheck disable=SC2016 # expanded by the loop's sh -c
		set -- --no-extract \
		    --hops-cmd 'exec "$HOPMAP_WORKER_SELF" --fetch-hops' "$@"
	fi
	if [ -n "$gateway" ]; then
		# The gateway hands out the targets, seeds and hops alike, with
		# its global dedup: the loop gets them as queued hops, and an
		# empty range file as its seeds.
		HOPMAP_WORKER_GATEWAY=$gateway HOPMAP_WORKER_KEYFILE=$keyfile
		HOPMAP_WORKER_CACERT=$cacert HOPMAP_WORKER_BATCH=$batch
		HOPMAP_WORKER_SELF=$(self_path)
		export HOPMAP_WORKER_GATEWAY HOPMAP_WORKER_KEYFILE
		export HOPMAP_WORKER_CACERT HOPMAP_WORKER_BATCH HOPMAP_WORKER_SELF
		: >"$HOPMAP_WORKER_STATE/gateway.ranges"
		# shellcheck disable=SC2016 # expanded by the loop's sh -c
		set -- --no-extract \
		    --hops-cmd 'exec "$HOPMAP_WORKER_SELF" --fetch-targets' \
		    "$@" "$HOPMAP_WORKER_STATE/gateway.ranges"
	fi
	if [ -n "$user" ]; then set -- --user "$user" "$@"; fi
	# shellcheck disable=SC2016 # expanded by the sink's shell
	hopmap-loop --state-dir "$HOPMAP_WORKER_STATE/loop" --node "$node" \
	    --sink-cmd 'exec hopmap-ship spool "$HOPMAP_WORKER_SPOOL"' "$@" 8>&- &
fi
probe=$!
wait "$probe" || rc=$?
probe=''
kill "$shipper" 2>/dev/null || true
wait "$shipper" || true
shipper=''
# What is still in the spool goes now; the spool keeps it if the hub stays
# away, for the next run.  A drain that dies of a signal (status above 128)
# is started again, at most 10 times: only a drain that gave up (-n) or
# could not start fails the worker.
drain=0 delay=1
while :; do
	drc=0
	ship_send --once $quiet ${metrics:+-m "$metrics"} \
	    -b "$backoff" -n "$tries" -N "$node" "$HOPMAP_WORKER_SPOOL" "$hub" 8>&- &
	shipper=$!
	wait "$shipper" || drc=$?
	shipper=''
	if [ "$drc" -le 128 ] || [ "$drain" -ge 10 ]; then break; fi
	drain=$((drain + 1))
	msg "the final shipper exited with status $drc; restarting in ${delay}s"
	sleep "$delay"
	delay=$((delay * 2))
	[ "$delay" -le "$backoff" ] || delay=$backoff
	[ "$delay" -ge 1 ] || delay=1
done
[ "$drc" -eq 0 ] || rc=1
[ "$rc" -eq 0 ] || rc=1
exit "$rc"
