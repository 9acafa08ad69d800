#!/bin/sh
# hopmap-worker: one node of many.  It probes its share of the seeds with
# hopmap-loop (or any pipeline given with --cmd), writes the results to a
# spool in its own state directory, and ships the spool to the hub with
# hopmap-ship, which retries until the hub has confirmed every segment.
# The node's state (resume position, cooldown, dedup, spool) stays here;
# the hub only ever sees results.
set -eu

prog=hopmap-worker
version=0.1.0 # keep in step with HM_VERSION in lib/hopmap.h

usage() {
	cat <<EOF
usage: $prog -H ADDRESS [-d DIR] [-N NODE] [-b SECONDS] [-n TRIES] [--hub-hops CMD]
                     [-c COMMAND | [--] LOOP-OPTIONS... RANGEFILE...]
Probe with hopmap-loop (or COMMAND), spool the results locally and ship
them to a hopmap hub, each stored once.
  -H, --hub ADDRESS      the hub as a socat address (TCP:hub:7411,
                         OPENSSL:hub:7412,cert=...,cafile=...,
                         EXEC:'ssh hub hopmap-hub recv')
  -d, --state-dir DIR    the node's state: DIR/loop for hopmap-loop, DIR/spool
                         for results not yet confirmed (default
                         \$HOPMAP_STATE or ~/.local/state/hopmap)
  -N, --node NAME        vantage point name (default: host name)
  -b, --backoff-max S    longest wait between shipping retries (default 30)
  -n, --tries N          after probing, give up draining the spool after N
                         failed attempts in a row (default 0: never)
  -c, --cmd COMMAND      run sh -c COMMAND instead of hopmap-loop and spool
                         its standard output
      --hub-hops CMD     take hop targets from the hub instead of this node's
                         own traces: CMD prints this node's shard of them
                         (ssh hub hopmap-hub hops --shard K/N); the worker
                         adds --from and remembers how far it has read
  -h, --help             show this help and exit
  -V, --version          show the version and exit
Other arguments go to hopmap-loop, which gets --state-dir DIR/loop, --node
and --sink-cmd from here (for example --shard 2/3 --rounds 0 ranges.txt).
EOF
}

# The loop's --hops-cmd: this node's share of the hub's new hops, from
# where the last fetch stopped.  The offset is the node's own state; it
# moves on only after the hops were printed whole, so a failed fetch is
# asked again.
fetch_hops() {
	off=$(cat "$HOPMAP_WORKER_STATE/hops.offset" 2>/dev/null || echo 0)
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

die_usage() {
	echo "$prog: $*" >&2
	echo "usage: $prog -H ADDRESS [options] [LOOP-OPTIONS...] (see --help)" >&2
	exit 2
}

hub='' state='' node='' backoff=30 tries=0 cmd='' hubhops=''
while [ $# -gt 0 ]; do
	case $1 in
	-h | --help) usage; exit 0 ;;
	-V | --version) echo "$prog (hopmap) $version"; exit 0 ;;
	-H | --hub | -d | --state-dir | -N | --node | -b | --backoff-max | \
	    -n | --tries | -c | --cmd | --hub-hops)
		[ $# -ge 2 ] || die_usage "$1 needs a value"
		o=$1 v=$2; shift 2 ;;
	--hub=* | --state-dir=* | --node=* | --backoff-max=* | --tries=* | \
	    --cmd=* | --hub-hops=*)
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
	esac
done
[ -n "$hub" ] || die_usage "--hub is needed"
for v in "$backoff" "$tries"; do
	case $v in '' | *[!0-9]*) die_usage "not a number: $v" ;; esac
done
[ -n "$node" ] || node=$(hostname)
case $node in *[!A-Za-z0-9._-]*) die_usage "bad node name: $node" ;; esac
state=${state:-${HOPMAP_STATE:-${HOME:-/root}/.local/state/hopmap}}
mkdir -p "$state/spool" "$state/loop"
HOPMAP_WORKER_SPOOL=$(cd "$state/spool" && pwd)
export HOPMAP_WORKER_SPOOL

self_path() {
	case $0 in
	*/*) echo "$(cd "$(dirname "$0")" && pwd)/$(basename "$0")" ;;
	*) command -v "$0" ;;
	esac
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
hopmap-ship send -q -b "$backoff" -N "$node" "$HOPMAP_WORKER_SPOOL" "$hub" &
shipper=$!

rc=0
if [ -n "$cmd" ]; then
	sh -c "$cmd" | hopmap-ship spool "$HOPMAP_WORKER_SPOOL" &
else
	if [ -n "$hubhops" ]; then
		# The hub's global dedup replaces this node's own.
		HOPMAP_WORKER_STATE=$(cd "$state" && pwd)
		HOPMAP_WORKER_HOPS_CMD=$hubhops
		export HOPMAP_WORKER_STATE HOPMAP_WORKER_HOPS_CMD
		set -- --no-extract --hops-cmd "exec '$(self_path)' --fetch-hops" "$@"
	fi
	# shellcheck disable=SC2016 # expanded by the sink's shell
	hopmap-loop --state-dir "$state/loop" --node "$node" \
	    --sink-cmd 'exec hopmap-ship spool "$HOPMAP_WORKER_SPOOL"' "$@" &
fi
probe=$!
wait "$probe" || rc=$?
probe=''
kill "$shipper" 2>/dev/null || true
wait "$shipper" || true
shipper=''
# What is still in the spool goes now; the spool keeps it if the hub stays
# away, for the next run.
hopmap-ship send --once -q -b "$backoff" -n "$tries" -N "$node" \
    "$HOPMAP_WORKER_SPOOL" "$hub" || rc=1
[ "$rc" -eq 0 ] || rc=1
exit "$rc"
