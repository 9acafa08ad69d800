#!/bin/sh
# hopmap-demo [DIR]: hopmap on its built-in default, start to finish, without
# a packet leaving this machine.
#
# 1. The bundled cloud range lists are expanded, sharded for three nodes and
#    interleaved (offline: those addresses are on the Internet, so they are
#    counted, never probed).
# 2. As root, a small Internet is built in network namespaces (tests/lab:
#    40+ routers, answering /24s, an ECMP diamond, a silent router) with
#    three vantage namespaces, and the whole loop runs from each into one
#    hub: each node takes its shard of the lab's prefixes through
#    interleave, its own cooldown, icmpprobe and tracehop, and ships the
#    results into the hub's sqlsink socket; the hub extracts the new routers
#    (hopextract, one global dedup) and deals them out to the nodes as
#    targets of the next round, until nothing new turns up or time is up.
#    Then a summary, each node's status (hopmap-status) and the map
#    (hopmap-map: DOT and JSON, SVG with Graphviz).  The namespaces are
#    deleted at the end, also on Ctrl-C.
#
# HOPMAP_DEMO_SECONDS (default 60) bounds the probing; LAB_EXTRA (default
# 28) is the number of extra routers; HOPMAP_BIN, when set, is searched for
# the programs first.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
PATH=${HOPMAP_BIN:+$HOPMAP_BIN:}$top/bin:$PATH
export PATH
out=${1:-${TMPDIR:-/tmp}/hopmap-demo}
ranges=$top/examples/ranges
lab=$top/tests/lab/lab.sh
prefix=hmdemo$$

mkdir -p "$out"
rm -rf "$out"/hub "$out"/vp[0-9]* "$out"/map.* "$out"/seeds.txt \
    "$out"/topology.txt
seconds=${HOPMAP_DEMO_SECONDS:-60}
extra=${LAB_EXTRA:-28}
nv=3
case $seconds in '' | *[!0-9]*)
	echo "hopmap-demo: HOPMAP_DEMO_SECONDS is a number of seconds" >&2
	exit 2 ;;
esac

echo "== the bundled cloud range lists (expanded, never probed)"
for f in "$ranges"/*.txt; do
	printf '  %-22s %9s addresses\n' "$(basename "$f")" \
	    "$(cidr-expand -c "$f" 2>/dev/null)"
done
printf '  %-22s %9s addresses (overlaps merged, special-purpose excluded)\n' \
    "all together" "$(cidr-expand -c "$ranges"/*.txt 2>/dev/null)"
for k in 1 2 3; do
	printf '  shard %s/3 %21s addresses\n' "$k" \
	    "$(cidr-expand -c --shard "$k/3" "$ranges"/*.txt 2>/dev/null)"
done
echo "  first targets of shard 1/3, shuffled and interleaved:"
cidr-expand --shard 1/3 --shuffle=1 "$ranges"/*.txt 2>/dev/null |
    interleave | head -n 3 | sed 's/^/    /'

if [ "$(id -u)" -ne 0 ] || [ ! -f "$lab" ]; then
	echo "== the probing half needs root (network namespaces) and a checkout"
	echo "   (tests/lab); run: sudo make demo"
	exit 0
fi

# Everything started in the background is a child of this shell.  At exit
# every process of those trees gets SIGTERM (probers stop with what is in
# flight, sqlsink commits), then, after a grace period, SIGKILL: the ones
# that are left are ours and must not outlive the lab.  Only the process
# ids collected here are ever signalled.
pids=
tree() {
	for c in $(pgrep -P "$1" 2>/dev/null); do tree "$c"; done
	echo "$1"
}
living() {
	for p in "$@"; do
		ps -o stat= -p "$p" 2>/dev/null | grep -qv Z && echo "$p"
	done
	return 0
}
cleanup() {
	trap - EXIT INT TERM
	# The newest first: the nodes stop before the hub they write to.
	all=$(for p in $(echo "$pids" | tr ' ' '\n' | sed '1!G;h;$!d'); do
		tree "$p"
	done)
	if [ -n "$all" ]; then
		# shellcheck disable=SC2086
		kill $all 2>/dev/null || true
		i=0
		# shellcheck disable=SC2086
		while [ -n "$(living $all)" ] && [ $i -lt 50 ]; do
			i=$((i + 1))
			sleep 0.1
		done
		# shellcheck disable=SC2086
		left=$(living $all)
		# shellcheck disable=SC2086
		[ -z "$left" ] || kill -KILL $left 2>/dev/null || true
	fi
	wait 2>/dev/null || true
	bash "$lab" down "$prefix" 2>/dev/null || true
}
trap cleanup EXIT
trap 'echo "hopmap-demo: interrupted, cleaning up" >&2; exit 130' INT TERM

echo "== building the namespace lab: $nv vantage points, one hub"
topo=$(LAB_EXTRA=$extra LAB_VANTAGES=$nv bash "$lab" up "$prefix")
cp "$topo" "$out/topology.txt"
awk '$1 == "target" || $1 == "blackhole" || $1 == "unreachable" { print $2 }' \
    "$topo" >"$out/seeds.txt"
printf '  %s routers (one silent, an ECMP diamond), %s answering /24s, %s dark\n' \
    "$(grep -c '^router' "$topo")" "$(grep -c '^target' "$topo")" \
    "$(grep -c -E '^(blackhole|unreachable)' "$topo")"
printf '  vantage points: %s\n' \
    "$(awk '$1 == "vantage" { printf "%s%s (%s)", s, $2, $3; s = ", " }' "$topo")"

# The hub: one sqlsink that every node writes to through its Unix socket,
# and the global hop dedup (hopextract --state) that hands new routers out.
hub=$out/hub
sock=$hub/sink.sock
db=$hub/map.db
mkdir -p "$hub"
sqlsink --listen "$sock" --no-stdin -i 200ms "$db" 2>"$hub/sqlsink.log" &
pids="$pids $!"
i=0
while [ ! -S "$sock" ]; do
	i=$((i + 1))
	[ $i -le 100 ] || { echo "hopmap-demo: the hub did not start" >&2; exit 3; }
	sleep 0.1
done

# One node's round: its targets on stdin; its own cooldown and spool (a
# copy of what it shipped) in its state directory; results to the hub.
# Probers stop on SIGTERM with what is in flight, so the deadline holds.
node_round() {
	k=$1 r=$2 left=$3
	vns=$prefix-$(awk -v k="$k" '$1 == "vantage" && ++n == k { print $2 }' "$topo")
	st=$out/vp$k
	mkdir -p "$st"
	cooldown --state "$st/cooldown.db" -t 1h |
	    ip netns exec "$vns" timeout "$left" icmpprobe --node "vp$k" \
	        --rate 1000 --timeout 500ms 2>>"$st/log" |
	    ip netns exec "$vns" timeout "$left" tracehop --node "vp$k" \
	        --rate 1000 --in-flight 256 --wait 300ms 2>>"$st/log" |
	    tee "$st/spool.$r.ndjson" |
	    socat -u - "UNIX-CONNECT:$sock" 2>>"$st/log"
}

# Wait until the hub holds every record the nodes shipped (its batches
# commit every 200ms), so the hop feedback reads a complete round.
hub_settle() {
	want=$(cat "$out"/vp*/spool.*.ndjson | wc -l)
	i=0
	while [ "$(sqlite3 "$db" 'SELECT count(*) FROM pings' 2>/dev/null ||
	    echo 0)" -lt "$want" ] && [ $i -lt 50 ]; do
		i=$((i + 1))
		sleep 0.2
	done
}

start=$(date +%s)
last=0 r=1
while :; do
	left=$((start + seconds - $(date +%s)))
	[ "$left" -gt 0 ] || { echo "== time is up ($seconds s)"; break; }
	k=1 rpids=
	while [ $k -le "$nv" ]; do
		if [ $r -eq 1 ]; then
			cidr-expand -R --shard "$k/$nv" "$out/seeds.txt" | interleave
		else
			cat "$hub/hops.$r.$k.ndjson"
		fi | node_round "$k" "$r" "$left" &
		rpids="$rpids $!"
		k=$((k + 1))
	done
	pids="$pids $rpids"
	for p in $rpids; do wait "$p" || true; done
	hub_settle
	printf '== round %s: %s records from %s nodes\n' "$r" \
	    "$(cat "$out"/vp*/spool."$r".ndjson | wc -l)" "$nv"
	# New routers of this round, once across all rounds and nodes, dealt
	# out to the nodes in turn.
	sqlite3 "$db" "SELECT json FROM traces WHERE id > $last" |
	    hopextract -R --state "$hub/seen.db" >"$hub/hops.ndjson"
	last=$(sqlite3 "$db" 'SELECT coalesce(max(id), 0) FROM traces')
	n=$(wc -l <"$hub/hops.ndjson")
	r=$((r + 1))
	[ "$n" -gt 0 ] || { echo "== no new routers: the map is complete"; break; }
	echo "   $n new router addresses, fed back as targets for round $r"
	k=1
	while [ $k -le "$nv" ]; do
		awk -v n="$nv" -v k="$k" 'NR % n == k % n' "$hub/hops.ndjson" \
		    >"$hub/hops.$r.$k.ndjson"
		k=$((k + 1))
	done
done
echo "   $(($(date +%s) - start)) s of probing"

q() { sqlite3 "$db" "$1"; }
echo "== summary ($db)"
printf '  targets probed        %s\n' "$(q 'SELECT count(*) FROM pings')"
printf '  responders            %s\n' "$(q 'SELECT count(*) FROM pings WHERE ok')"
printf '  traces                %s\n' "$(q 'SELECT count(*) FROM traces')"
printf '  hop targets           %s\n' "$(q "SELECT count(*) FROM pings WHERE src = 'hop'")"
printf '  router addresses      %s\n' "$(q 'SELECT count(DISTINCT h.ip) FROM hops h
    JOIN traces t ON t.id = h.trace_id WHERE h.ip IS NOT NULL AND h.ip != t.ip')"
routers="SELECT h.ip FROM hops h JOIN traces t ON t.id = h.trace_id
    WHERE h.ip != t.ip"
printf '  links                 %s, %s of them between routers (%s seen by all %s nodes)\n' \
    "$(q 'SELECT count(*) FROM (SELECT DISTINCT a, b FROM links)')" \
    "$(q "SELECT count(*) FROM (SELECT DISTINCT a, b FROM links
        WHERE b IN ($routers))")" \
    "$(q "SELECT count(*) FROM (SELECT a, b FROM links WHERE b IN ($routers)
        GROUP BY a, b HAVING count(DISTINCT node) = $nv)")" "$nv"
printf '  rows per table       '
for t in pings traces hops links targets raw; do
	printf ' %s=%s' "$t" "$(q "SELECT count(*) FROM $t")"
done
echo
echo "== per node"
hopmap-status "$db" "$out"/vp[0-9]* | sed 's/^/  /'

echo "== the map"
hopmap-map -f dot -o "$out/map.dot" "$db"
hopmap-map -f json -o "$out/map.json" "$db"
echo "  $out/map.dot  (Graphviz DOT)"
echo "  $out/map.json (nodes and edges)"
if command -v dot >/dev/null 2>&1; then
	hopmap-map -f svg -o "$out/map.svg" "$db"
	echo "  $out/map.svg  (open it in a browser)"
fi
