#!/bin/sh
# hopmap-demo [DIR]: hopmap on its built-in default, start to finish, without
# a packet leaving this machine.
#
# 1. The bundled cloud range lists are expanded, sharded for three nodes and
#    interleaved (offline: those addresses are on the Internet, so they are
#    counted, never probed).
# 2. As root, a small Internet is built in network namespaces (tests/lab),
#    and the whole loop runs from its vantage namespace: expand the lab's
#    prefixes, interleave, cooldown, icmpprobe, tracehop, sqlsink; then the
#    routers found in the traces come back through hopextract and cooldown
#    as new targets for a second round.  The namespaces are deleted at the
#    end, also on Ctrl-C.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
PATH=$top/bin:$PATH
export PATH
out=${1:-${TMPDIR:-/tmp}/hopmap-demo}
ranges=$top/examples/ranges
lab=$top/tests/lab/lab.sh
prefix=hmdemo$$

mkdir -p "$out"
rm -f "$out"/map.db* "$out"/cooldown.db* "$out"/seen.db* "$out"/*.ndjson

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

cleanup() {
	bash "$lab" down "$prefix" 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== building the namespace lab"
topo=$(LAB_EXTRA=${LAB_EXTRA:-24} bash "$lab" up "$prefix")
vantage=$prefix-v
awk '$1 == "target" || $1 == "blackhole" || $1 == "unreachable" { print $2 }' \
    "$topo" >"$out/seeds.txt"
printf '  %s routers, seed prefixes: %s\n' \
    "$(grep -c '^router' "$topo")" "$(tr '\n' ' ' <"$out/seeds.txt")"

# One round: targets on stdin, results into the database and into a file
# that the next round's hopextract reads.
probe_round() {
	cooldown --state "$out/cooldown.db" -t 1h |
	    ip netns exec "$vantage" icmpprobe --node lab-vp1 --rate 5000 \
	        --timeout 500ms |
	    ip netns exec "$vantage" tracehop --node lab-vp1 --rate 2000 \
	        --in-flight 256 --wait 300ms |
	    tee "$out/round$1.ndjson" |
	    sqlsink "$out/map.db"
}

echo "== round 1: the seed prefixes"
cidr-expand -R "$out/seeds.txt" | interleave | probe_round 1
echo "== round 2: routers found in round 1, fed back as targets"
hopextract -R --state "$out/seen.db" "$out/round1.ndjson" | probe_round 2

db=$out/map.db
q() { sqlite3 "$db" "$1"; }
echo "== summary ($db)"
printf '  targets probed        %s\n' "$(q 'SELECT count(*) FROM pings')"
printf '  responders            %s\n' "$(q 'SELECT count(*) FROM pings WHERE ok')"
printf '  traces                %s\n' "$(q 'SELECT count(*) FROM traces')"
printf '  hop targets (round 2) %s\n' "$(q "SELECT count(*) FROM pings WHERE src = 'hop'")"
printf '  router addresses      %s\n' "$(q 'SELECT count(DISTINCT h.ip) FROM hops h
    JOIN traces t ON t.id = h.trace_id WHERE h.ip IS NOT NULL AND h.ip != t.ip')"
printf '  links                 %s\n' "$(q 'SELECT count(*) FROM links')"
printf '  rows per table       '
for t in pings traces hops links targets raw; do
	printf ' %s=%s' "$t" "$(q "SELECT count(*) FROM $t")"
done
echo
echo "  busiest links:"
q "SELECT a || ' -> ' || b || '  x' || count FROM links ORDER BY count DESC, a, b LIMIT 5" |
    sed 's/^/    /'
echo "== the map is $db (try: sqlite3 $db 'SELECT * FROM links')"
