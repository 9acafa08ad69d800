#!/bin/sh
# hopmap-demo [DIR]: hopmap on its built-in default, start to finish, without
# a packet leaving this machine.
#
# 1. The bundled cloud range lists are expanded, sharded for three nodes and
#    interleaved (offline: those addresses are on the Internet, so they are
#    counted, never probed).
# 2. As root, a small Internet is built in network namespaces (tests/lab:
#    75 routers, 64 answering /24s, an ECMP diamond, a silent router) with
#    three vantage namespaces and a hub namespace.  The hub runs
#    hopmap-hub serve (sqlsink behind a TCP listener); each vantage runs
#    hopmap-worker: hopmap-loop rounds over its shard of the lab's prefixes
#    (interleave, cooldown, icmpprobe, tracehop), the hub's new routers
#    (hopmap-hub hops: one global dedup, dealt out by shard) fed back as
#    targets, results spooled on the node and shipped to the hub, until
#    nothing is left or time is up.  A fourth worker sits behind a NAT
#    router namespace that nobody can reach through: it reaches the hub
#    only through the gateway (hopmap-httpd --hub, plain HTTP in the lab),
#    taking the hub's discovered routers from GET /targets and shipping
#    through POST /results with curl.  Then a summary, each node's status
#    (hopmap-status) and the map (hopmap-map: DOT and JSON, SVG with
#    Graphviz).  The namespaces are deleted at the end, also on Ctrl-C.
#
# HOPMAP_DEMO_SECONDS (default 60) bounds the probing; LAB_EXTRA (default
# 60) is the number of extra routers; HOPMAP_BIN, when set, is searched for
# the programs first.
set -eu

prog=hopmap-demo
synopsis='[DIR]'
# The shared library: sh/lib/ beside the script in a checkout, else
# share/hopmap/sh/lib/ beside its bin/ once built or installed.
sh_dir=$(dirname "$(readlink -f "$0")")
[ -f "$sh_dir/lib/hopmap.sh" ] || sh_dir=$(dirname "$sh_dir")/share/hopmap/sh
# shellcheck source=lib/hopmap.sh
. "$sh_dir/lib/hopmap.sh"

case ${1:-} in
-h | --help)
	cat <<EOF
usage: hopmap-demo [DIR]
Run hopmap start to finish without a packet leaving this machine: the
bundled range lists offline, then (as root, from a checkout) three nodes
mapping a namespace lab into one hub, and a fourth behind NAT reaching it
only through its HTTP gateway.  Results, map and logs go to DIR
(default: a new private directory \${TMPDIR:-/tmp}/hopmap-demo.XXXXXX,
printed at the start).
  -h, --help     show this help and exit
  -V, --version  show the version and exit
Environment: HOPMAP_DEMO_SECONDS (default 60), LAB_EXTRA (default 60).
EOF
	exit 0 ;;
-V | --version) echo "$prog (hopmap) $version"; exit 0 ;;
-?*) die_usage "unrecognized option '$1'" ;;
esac
[ $# -le 1 ] || { echo "usage: hopmap-demo [DIR] (see --help)" >&2; exit 2; }

# The checkout is found from the script's own path, links followed (a link
# to sh/hopmap-demo.sh, or bin/hopmap-demo as make copies it).
here=$(dirname "$(readlink -f "$0")")
top=$(dirname "$here")
PATH=${HOPMAP_BIN:+$HOPMAP_BIN:}$top/bin:$PATH
export PATH
out=${1:-}
ranges=$top/examples/ranges
lab=$top/tests/lab/lab.sh
prefix=hmdemo$$

seconds=${HOPMAP_DEMO_SECONDS:-60}
extra=${LAB_EXTRA:-60}
nv=3
case $seconds in '' | *[!0-9]*)
	msg "HOPMAP_DEMO_SECONDS is a number of seconds"
	exit 2 ;;
esac
# A fixed name in a shared directory would let anyone plant a symlink there
# for root to follow: without DIR, a fresh directory only we can enter.
if [ -z "$out" ]; then
	out=$(mktemp -d "${TMPDIR:-/tmp}/hopmap-demo.XXXXXX") || exit 3
	echo "== results, map and logs go to $out"
fi
mkdir -p "$out"
rm -rf "$out"/hub "$out"/vp[0-9]* "$out"/nat1* "$out"/map.* "$out"/seeds.txt \
    "$out"/exclude.txt "$out"/topology.txt

if [ ! -d "$ranges" ]; then
	msg "the demo needs a checkout of hopmap (examples/, tests/lab/);" \
	    "in one, run: sudo make demo"
	exit 3
fi
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
trap 'msg "interrupted, cleaning up"; exit 130' INT TERM

echo "== building the namespace lab: $nv vantage points, one hub, one node behind NAT"
topo=$(LAB_EXTRA=$extra LAB_VANTAGES=$nv LAB_HUB=1 LAB_NAT=1 bash "$lab" up "$prefix")
cp "$topo" "$out/topology.txt"
awk '$1 == "target" || $1 == "blackhole" || $1 == "unreachable" { print $2 }' \
    "$topo" >"$out/seeds.txt"
# -R keeps the lab's special-purpose addresses; the NAT's inside network
# (100.64.0.0/10, carrier-grade NAT) is one too, and a hop there is
# reachable only from behind that NAT: no worker takes it as a target.
echo 100.64.0.0/10 >"$out/exclude.txt"
printf '  %s routers (one silent, an ECMP diamond), %s answering /24s, %s dark\n' \
    "$(grep -c '^router' "$topo")" "$(grep -c '^target' "$topo")" \
    "$(grep -c -E '^(blackhole|unreachable)' "$topo")"
printf '  vantage points: %s\n' \
    "$(awk '$1 == "vantage" { printf "%s%s (%s)", s, $2, $3; s = ", " }' "$topo")"
hubip=$(awk '$1 == "hub" { print $3 }' "$topo")
printf '  hub: %s\n' "$hubip"
printf '  behind NAT: %s, seen by the lab as %s; nothing routes to it\n' \
    "$(awk '$1 == "natted" { print $3 }' "$topo")" \
    "$(awk '$1 == "nat" { print $3 }' "$topo")"

# The hub, in its own namespace: one sqlsink behind a TCP listener; each
# connection is a worker's segment, confirmed once committed.
hub=$out/hub
db=$hub/map.db
mkdir -p "$hub"
ip netns exec "$prefix-hub" hopmap-hub serve -d "$hub" --tcp "$hubip:7411" \
    --sink-args '-i 200ms' 2>"$hub/serve.log" &
pids="$pids $!"
i=0
while [ ! -S "$hub/sink.sock" ]; do
	i=$((i + 1))
	if [ $i -gt 100 ]; then
		msg "the hub did not start:"
		sed 's/^/  /' "$hub/serve.log" >&2
		exit 3
	fi
	sleep 0.1
done

# The gateway beside it: hopmap-httpd over the same hub, a key for the
# node behind NAT.  Plain HTTP on the lab's address (--insecure): there
# is no certificate in the lab, and no packet leaves the machine.
port=8080
hopmap-httpd key add -d "$hub" nat1 >"$out/nat1.key" 2>/dev/null
ip netns exec "$prefix-hub" hopmap-httpd -l "$hubip:$port" --hub "$hub" \
    --insecure 2>"$hub/httpd.log" &
pids="$pids $!"
i=0
until ip netns exec "$prefix-hub" ss -Hltn "sport = :$port" | grep -q .; do
	i=$((i + 1))
	if [ $i -gt 100 ]; then
		msg "the gateway did not start:"
		sed 's/^/  /' "$hub/httpd.log" >&2
		exit 3
	fi
	sleep 0.1
done

# Three workers, one in each vantage namespace: hopmap-loop rounds of 1000
# targets over the node's shard of the seeds, half of each round for the
# hub's new routers (its global dedup, dealt out by shard), the results
# spooled on the node and shipped to the hub with retry.
echo "== $nv workers: hopmap-worker -H TCP:$hubip:7411 -- --shard K/$nv --rounds 0 -T ${seconds}s"
start=$(date +%s)
wpids=
k=1
# shellcheck disable=SC2013
for v in $(awk '$1 == "vantage" { printf "%s ", $2 }' "$topo"); do
	ip netns exec "$prefix-$v" hopmap-worker -H "TCP:$hubip:7411" \
	    -d "$out/vp$k" -N "vp$k" -b 2 \
	    --hub-hops "hopmap-hub hops -d $hub -R -s $k/$nv" \
	    -- --shard "$k/$nv" --rounds 0 -T "${seconds}s" -n 1000 -R \
	    -x "$out/exclude.txt" \
	    --rate 1000 --timeout 500ms --trace-rate 1000 --wait 300ms \
	    --max-ttl 16 "$out/seeds.txt" >"$out/vp$k.log" 2>&1 &
	wpids="$wpids $!"
	k=$((k + 1))
done
# The fourth, behind NAT: no seeds of its own and no socat address; its
# targets are the routers the hub has found (GET /targets), probed again
# from its side, and its results go through POST /results.
echo "== 1 worker behind NAT: hopmap-worker --gateway http://$hubip:$port --key nat1.key -- --rounds 0 -T ${seconds}s"
ip netns exec "$prefix-w" hopmap-worker -G "http://$hubip:$port" \
    -k "$out/nat1.key" --plain-http --batch 500 -d "$out/nat1" -N nat1 -b 2 \
    -- --rounds 0 -T "${seconds}s" -n 500 -p 2s -R -x "$out/exclude.txt" \
    --rate 1000 --timeout 500ms --trace-rate 1000 --wait 300ms --max-ttl 16 \
    >"$out/nat1.log" 2>&1 &
natpid=$!
wpids="$wpids $natpid"
pids="$pids $wpids"
# Read-only: a plain open would make an empty file where sqlsink makes
# its link.
q() { sqlite3 -readonly "$db" "$1" 2>/dev/null || echo '?'; }
shown=$start
# shellcheck disable=SC2086
while [ -n "$(living $wpids)" ]; do
	sleep 1
	[ $(($(date +%s) - shown)) -ge 5 ] || continue
	shown=$(date +%s)
	printf '  %3ss: %6s records, %3s router addresses, %s hop targets, %s behind NAT\n' \
	    "$(($(date +%s) - start))" "$(q 'SELECT count(*) FROM pings')" \
	    "$(q 'SELECT count(DISTINCT ip) FROM hops WHERE ip LIKE '"'198.18.%'"'')" \
	    "$(q "SELECT count(*) FROM pings WHERE src = 'hop'")" \
	    "$(q "SELECT count(*) FROM pings WHERE node = 'nat1'")"
done
failed=0
for p in $wpids; do wait "$p" || failed=$((failed + 1)); done
[ "$failed" -eq 0 ] || msg "$failed workers failed (see $out/vp*.log, $out/nat1.log)"
echo "   $(($(date +%s) - start)) s of probing; rounds per worker: $(
    for k in $(seq "$nv"); do
	printf '%s ' "$(cat "$out/vp$k/loop/round" 2>/dev/null || echo '?')"
    done)"

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
        GROUP BY a, b HAVING count(DISTINCT node) FILTER (WHERE node LIKE 'vp%') = $nv)")" "$nv"
printf '  rows per table       '
for t in pings traces hops links targets raw; do
	printf ' %s=%s' "$t" "$(q "SELECT count(*) FROM $t")"
done
echo
printf '  behind NAT (nat1)     %s records in %s requests to the gateway, all from %s\n' \
    "$(q "SELECT count(*) FROM pings WHERE node = 'nat1'")" \
    "$(grep -c ' nat1$' "$hub/httpd.log")" \
    "$(awk '$NF == "nat1" { print $2 }' "$hub/httpd.log" | sort -u | tr '\n' ' ' | sed 's/ $//')"
echo "== per node"
# shellcheck disable=SC2046
hopmap-status "$db" $(for k in $(seq "$nv"); do echo "$out/vp$k"; done) "$out/nat1" | sed 's/^/  /'

echo "== the map"
hopmap-map -f dot -o "$out/map.dot" "$db"
hopmap-map -f json -o "$out/map.json" "$db"
echo "  $out/map.dot  (Graphviz DOT)"
echo "  $out/map.json (nodes and edges)"
if command -v dot >/dev/null 2>&1; then
	hopmap-map -f svg -o "$out/map.svg" "$db"
	echo "  $out/map.svg  (open it in a browser)"
fi
