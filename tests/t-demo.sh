# make demo (sh/hopmap-demo.sh) as root: three workers in three vantage
# namespaces feed one hub (hopmap-worker, hopmap-hub); the map it writes
# holds the lab's links; every seed address is probed by exactly one node;
# hops come back as targets; nothing is left behind, also after SIGINT.  Probes go only into the demo's own namespaces.
. "$(dirname "$0")/lib.sh"
top=$HOPMAP_TOP
demo=$top/sh/hopmap-demo.sh

run sh "$demo" --help
same "--help: exit 0, usage on stdout" "$rc:$(head -n 1 "$T/out"):$(cat "$T/err")" \
    "0:usage: hopmap-demo [DIR]:"
run sh "$demo" --version
same "--version" "$rc:$(cat "$T/out")" \
    "0:hopmap-demo (hopmap) $(sed -n 's/^#define HM_VERSION "\(.*\)"/\1/p' "$top/lib/core/core.h")"
run sh "$demo" --bogus
same "unknown option: exit 2, nothing on stdout" "$rc:$(cat "$T/out")" "2:"
run sh "$demo" a b
same "two directories: exit 2" "$rc" 2
HOPMAP_DEMO_SECONDS=soon run sh "$demo" "$T/never"
same "HOPMAP_DEMO_SECONDS not a number: exit 2" "$rc:$(cat "$T/err")" \
    "2:hopmap-demo: HOPMAP_DEMO_SECONDS is a number of seconds"
page=$top/man/hopmap-demo.1
mandoc -T lint -W warning "$page" >"$T/lint" 2>&1
check "man page lints clean" test ! -s "$T/lint"
for sect in SYNOPSIS DESCRIPTION ENVIRONMENT FILES "EXIT STATUS" EXAMPLES "SEE ALSO"; do
	check "man page has $sect" grep -q "^\.Sh $sect" "$page"
done
check "man page: every variable the script reads" \
    grep -q 'Ev HOPMAP_DEMO_SECONDS' "$page"

# Without DIR, a fresh private directory: never a fixed name in a shared
# one, where a planted symlink would lead root's rm and writes elsewhere.
# Run as nobody (only the offline half), with a symlink where the old
# fixed name was.
if [ "$(id -u)" -eq 0 ] && id nobody >/dev/null 2>&1; then
	td=$(mktemp -d /tmp/hopmap-demo-test.XXXXXX)
	cleanup_hooks+=("rm -rf '$td'")
	mkdir -p "$td/victim/hub"
	echo keep >"$td/victim/hub/file"
	ln -s "$td/victim" "$td/hopmap-demo"
	chown -R nobody "$td"
	run setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups \
	    env TMPDIR="$td" sh "$demo"
	made=$(sed -n 's/^== results, map and logs go to //p' "$T/out")
	same "no DIR: exit 0, a new directory named first" \
	    "$rc:$(head -n 1 "$T/out" | grep -c '^== results'):${made%.*}" "0:1:$td/hopmap-demo"
	same "no DIR: the directory is private" "$(stat -c %a "$made" 2>/dev/null)" 700
	same "no DIR: a symlink at the old fixed name is not followed" \
	    "$(cat "$td/victim/hub/file" 2>/dev/null)" keep
	# Through a link elsewhere, the demo still finds its checkout.
	ln -s "$demo" "$td/demo-link"
	run setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups \
	    sh "$td/demo-link" "$td/linked"
	same "through a symlink: the checkout found, the offline half runs" \
	    "$rc:$(grep -c '^== the bundled cloud range lists' "$T/out")" "0:1"
	# Installed as make install lays it out, with no checkout: said so,
	# and not a success.
	mkdir -p "$td/inst/bin" "$td/inst/share/hopmap/sh/lib"
	cp "$demo" "$td/inst/bin/hopmap-demo"
	cp "$top/sh/lib/hopmap.sh" "$td/inst/share/hopmap/sh/lib/"
	chmod -R a+rX "$td/inst"
	run setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups \
	    sh "$td/inst/bin/hopmap-demo" "$td/alone"
	same "no checkout: exit 3, saying what to do" \
	    "$rc:$(grep -c 'needs a checkout of hopmap' "$T/err")" "3:1"
fi

if [ "$(id -u)" -ne 0 ]; then
	skip "needs root for network namespaces"
	exit 0
fi

# descendants PID: every process below PID, by parent id.
descendants() {
	local c
	for c in $(pgrep -P "$1"); do
		echo "$c"
		descendants "$c"
	done
}
# alive PID...: the ones still running (zombies count as gone).
alive() {
	local p
	for p in "$@"; do
		ps -o stat= -p "$p" 2>/dev/null | grep -qv Z && echo "$p"
	done
}

# ---- the lab's extra vantage points and hub (LAB_VANTAGES, LAB_HUB) ----
lab=hmv$$
cleanup_hooks+=("bash $top/tests/lab/lab.sh down $lab")
run env LAB_VANTAGES=3 LAB_HUB=1 bash "$top/tests/lab/lab.sh" up "$lab"
same "lab: up with three vantages and a hub, quiet" "$rc:$(cat "$T/err")" "0:"
topo=$(cat "$T/out")
same "lab: 19 namespaces" "$(ip netns list | grep -c "^$lab-")" 19
same "lab: the vantage and hub lines" \
    "$(awk '$1 == "vantage" || $1 == "hub" { print $2, $3 }' "$topo" | tr '\n' ,)" \
    "v 198.18.0.1,v2 198.18.0.65,v3 198.18.0.69,hub 198.18.0.73,"
same "lab: the default lab's addresses do not move" \
    "$(grep -c -E '^router (r1 addr=198.18.0.2|d3 addr=198.18.0.54) ' "$topo")" 2
routes=
for n in v2 v3 hub; do
	routes+="$n: $(ip -n "$lab-$n" route show | grep -v 'scope link' | tr -s ' ')."
done
same "lab: each new namespace routes only into the lab, via r1" "$routes" \
    "v2: 198.18.0.0/15 via 198.18.0.66 dev to-r1 .v3: 198.18.0.0/15 via 198.18.0.70 dev to-r1 .hub: 198.18.0.0/15 via 198.18.0.74 dev to-r1 ."
for n in v v2 v3; do
	ip netns exec "$lab-$n" tracehop --node "$n" --wait 500ms -m 8 \
	    <<<'{"ip":"198.19.1.7","ping":{"ok":true}}' 2>/dev/null |
	    jq -r '[.trace.hops[].ip] | join(" ")'
done >"$T/paths"
same "lab: the same hops from every vantage, r1 answering from its address" \
    "$(sort -u "$T/paths")" "$(grep '^path 198.19.1.0/24 ' "$topo" | cut -d' ' -f3-) 198.19.1.7"
same "lab: the hub answers the vantages through the lab" \
    "$(ip netns exec "$lab-v3" icmpprobe --node v3 --timeout 500ms -a \
        <<<'{"ip":"198.18.0.73"}' 2>/dev/null | jq -r .ip)" 198.18.0.73
same "lab: down leaves nothing" \
    "$(bash "$top/tests/lab/lab.sh" down "$lab"; ip netns list | grep -c "^$lab-")" 0

# ---- the whole demo, shortened ----
out=$T/demo
HOPMAP_DEMO_SECONDS=120 LAB_EXTRA=12 sh "$demo" "$out" >"$T/out" 2>"$T/err" &
pid=$!
cleanup_hooks+=("bash $top/tests/lab/lab.sh down hmdemo$pid")
wait "$pid"
rc=$?
same "demo: exit 0, nothing on stderr" "$rc:$(cat "$T/err")" "0:"
[ "$rc" = 0 ] || awk '{ print "# demo: " $0 }' "$T/err"
check "demo: the offline half ran" grep -q '^== the bundled cloud range lists' "$T/out"
check "demo: three vantage points" \
    grep -q '^  vantage points: v (198.18.0.1), v2 (.*), v3 (.*)$' "$T/out"
check "demo: 27 routers, one silent" grep -q '^  27 routers (one silent' "$T/out"
check "demo: the hub and its address" grep -q '^  hub: 198\.18\.' "$T/out"
check "demo: progress while the workers run" grep -q -E '^ +[0-9]+s: +[0-9]+ records' "$T/out"
check "demo: several rounds per worker" \
    grep -q -E 'rounds per worker: (([2-9]|[1-9][0-9]+) ){3}$' "$T/out"
check "demo: a summary" grep -q '^  rows per table  *pings=[1-9][0-9]* traces=[1-9]' "$T/out"
same "demo: a status line per node, with its state" \
    "$(grep -c -E '^  vp[123] +[1-9][0-9]* .* resume ([0-9]+)/\1$' "$T/out")" 3
same "demo: the map's paths are printed" \
    "$(grep -c -E "^  $out/map\.(dot|json|svg) " "$T/out")" \
    "$(if command -v dot >/dev/null; then echo 3; else echo 2; fi)"
same "demo: its namespaces are gone" "$(ip netns list | grep -c "^hmdemo$pid-")" 0
check "demo: no sanitizer report from the nodes and the hub" \
    no_sanitizer_report "$out"/vp*.log "$out"/vp*/loop/log "$out"/hub/serve.log \
    "$out"/nat1.log "$out"/hub/httpd.log

db=$out/hub/map.db
q() { sqlite3 -readonly "$db" "$1"; }
seeds=$(cidr-expand -R -c "$out/seeds.txt")
same "every seed address probed once, by one node" \
    "$(q "SELECT count(*), count(DISTINCT ip) FROM pings WHERE src IS NOT 'hop'")" \
    "$seeds|$seeds"
same "each node probed its own shard" \
    "$(q "SELECT count(*) FROM (SELECT ip FROM pings WHERE src IS NOT 'hop'
        GROUP BY ip HAVING count(DISTINCT node) > 1)")" 0
same "three nodes wrote, and the one behind NAT" \
    "$(q "SELECT group_concat(node, ' ') FROM (SELECT DISTINCT node FROM pings ORDER BY node)")" \
    "nat1 vp1 vp2 vp3"
natip=$(awk '$1 == "nat" { print $3 }' "$out/topology.txt")
same "the node behind NAT: every request to the gateway from the NAT's address" \
    "$(awk '$NF == "nat1" { print $2 }' "$out/hub/httpd.log" | sort -u)" "$natip"
same "the node behind NAT: its targets were the hub's routers (hops)" \
    "$(q "SELECT count(*) > 0, count(*) FILTER (WHERE src IS NOT 'hop' OR ip NOT LIKE '198.18.%') FROM pings WHERE node = 'nat1'")" \
    "1|0"
check "demo: the node behind NAT is shown" \
    grep -q -E '^  behind NAT \(nat1\) +[1-9][0-9]* records in [0-9]+ requests to the gateway, all from 198\.18\.' "$T/out"
check "hop targets were probed" test "$(q "SELECT count(*) FROM pings WHERE src = 'hop'")" -gt 0
same "hop targets are router addresses of the lab" \
    "$(q "SELECT ip FROM pings WHERE src = 'hop'" | grep -c -v '^198\.18\.')" 0

# The map against the lab's own topology file.
topo=$out/topology.txt
check "demo: the topology is kept" test -s "$topo"
same "lab: three vantages and a hub in the topology" \
    "$(awk '$1 == "vantage" || $1 == "hub" { print $1, $2 }' "$topo" | tr '\n' ,)" \
    "vantage v,vantage v2,vantage v3,hub hub,"
# Links into routers on some path: a leaf router's link address is never a
# hop (its /24 answers instead), so that link cannot be seen.
awk '$1 == "path" { for (i = 3; i <= NF; i++) on[$i] = 1 }
    $1 == "link" && on[$3] { print $2 ">" $3 }' "$topo" | sort >"$T/want.links"
jq -r '.edges[] | select(.a | test("^198\\.18\\.")) | select(.b | test("^198\\.18\\."))
    | .a + ">" + .b' "$out/map.json" | sort >"$T/got.links"
same "map: the links between routers are the lab's" \
    "$(comm -3 "$T/got.links" "$T/want.links" | tr '\n' ' ')" ""
check "map: at least 15 router links" test "$(wc -l <"$T/got.links")" -ge 15
same "map: each router link seen from all three nodes" \
    "$(jq '[.edges[] | select(.b | test("^198\\.18\\.")) | select(.a | test("^100\\.64\\.") | not) | select(.nodes - ["nat1"] != ["vp1", "vp2", "vp3"])] | length' "$out/map.json")" 0
# A prefix's last router is the last hop of one of its paths.
awk '$1 == "path" && NF > 2 { print $NF ">" $2 }' "$topo" | sort -u >"$T/want.last"
jq -r '.edges[] | select(.b | test("/24$")) | .a + ">" + .b' "$out/map.json" |
    sort >"$T/got.last"
same "map: every prefix hangs off its last router" \
    "$(comm -23 "$T/got.last" "$T/want.last" | tr '\n' ' ')" ""
check "map: the diamond's two branches are both there" \
    test "$(grep -c '^path 198.19.3.0/24 ' "$topo")" -eq 2 -a \
    "$(awk '$1 == "path" && $2 == "198.19.3.0/24" { print $(NF - 1) ">" $NF }' "$topo" |
        grep -c -F -x -f - "$T/got.links")" -eq 2
check "map: nothing through the silent router's prefix" \
    test -z "$(jq -r '.nodes[] | select(.id == "198.19.2.0/24")' "$out/map.json")"
check "map: the DOT names the routers" grep -q '"198.18.0.2" \[shape=ellipse' "$out/map.dot"
if command -v dot >/dev/null; then
	check "map: the SVG is there" grep -q '<svg' "$out/map.svg"
fi

# ---- SIGINT in the middle of round 1 ----
out2=$T/demo2
env --default-signal=INT HOPMAP_DEMO_SECONDS=60 LAB_EXTRA=12 \
    sh "$demo" "$out2" >"$T/out2" 2>"$T/err2" &
pid=$!
cleanup_hooks+=("bash $top/tests/lab/lab.sh down hmdemo$pid")
i=0
# Read-only: sqlite3 would otherwise make an empty file where sqlsink is
# about to make its link.
stored() { sqlite3 -readonly "$out2/hub/map.db" 'SELECT count(*) FROM pings' 2>/dev/null || echo 0; }
until [ "$(stored)" -gt 0 ] || [ $i -ge 300 ]; do
	i=$((i + 1))
	sleep 0.1
done
check "sigint: results were arriving at the hub" test "$(stored)" -gt 0
kids=$(descendants "$pid")
check "sigint: probers and the hub were running" test "$(echo "$kids" | wc -w)" -ge 10
same "sigint: the lab was up" "$(ip netns list | grep -c "^hmdemo$pid-v")" 3
kill -INT "$pid"
wait "$pid"
same "sigint: exit 130" "$?" 130
check "sigint: says it is cleaning up" grep -q 'interrupted, cleaning up' "$T/err2"
same "sigint: no namespace left" "$(ip netns list | grep -c "^hmdemo$pid-")" 0
# shellcheck disable=SC2086
same "sigint: no process left" "$(alive $kids | tr '\n' ' ')" ""
awk '{ print "# demo: " $0 }' "$T/err2"
check "sigint: no summary" test -z "$(grep '^== summary' "$T/out2")"
