# The big lab (tests/lab/biglab.sh) at a small size, and its scorer
# (tests/lab/score.sh): the same seed draws the same lab; sealed like
# lab.sh's; classic tracehop (icmpprobe | tracehop, limits lifted) finds
# every link of the truth with no false one, and so does scamper, the peer
# tool; the scorer counts a planted false link.  Every probe stays in this
# test's own namespaces.
. "$(dirname "$0")/lib.sh"
gen() {	# gen DIR SEED: the generator alone, no namespaces
	mkdir -p "$1/ns" &&
	    awk -v prefix=x -v dir="$1" -v seed="$2" -v routers=40 -v prefixes=30 \
	    -v realistic=0 -f "$HOPMAP_TOP/tests/lab/biglab.awk" </dev/null
}
score() { "$HOPMAP_TOP/tests/lab/score.sh" "$@"; }
field() { tr ' ' '\n' | sed -n "s/^$1=//p"; }

# ---- the generator: a seed is a lab ----
gen "$T/a" 7
gen "$T/b" 7
gen "$T/c" 8
check "same seed, same topology" cmp -s "$T/a/topology.txt" "$T/b/topology.txt"
check "same seed, same routes" diff -r "$T/a/ns" "$T/b/ns"
check "another seed, another topology" sh -c "! cmp -s '$T/a/topology.txt' '$T/c/topology.txt'"
topo=$T/a/topology.txt
same "40 routers, 30 answering /24s, dark ones" \
    "$(awk '{ n[$1]++ } END { print n["router"], n["target"], (n["blackhole"] + n["unreachable"] > 0) }' "$topo")" \
    "40 30 1"
same "targets are 8 to 15 hops deep" \
    "$(awk '$1 == "target" { t = substr($4, 5) + 0; if (t < 8 || t > 15) bad++ } END { print bad + 0 }' "$topo")" 0
check "a per-flow split in the core and below it" \
    test "$(grep -c '^router .* ecmp$' "$topo")" -ge 2
check "some prefix has two paths" sh -c "awk '\$1 == \"path\" { print \$2 }' '$topo' | uniq -d | grep -q ."
# Every link of the truth joins consecutive answering hops of some path.
same "every link is on a path" "$(awk '$1 == "path" { for (i = 3; i < NF; i++) if ($i != "*" && $(i + 1) != "*") on[$i " " $(i + 1)] = 1 }
    $1 == "link" && !(($2 " " $3) in on) { print }' "$topo")" ""
run "$HOPMAP_TOP/tests/lab/biglab.sh" up x --routers 5
same "--routers 5: refused" "$rc:$(cat "$T/err")" "2:biglab: --routers is 20 to 900"
run "$HOPMAP_TOP/tests/lab/biglab.sh" up x --seed 1x
same "--seed 1x: refused" "$rc:$(cat "$T/err")" "2:biglab: --routers, --prefixes and --seed are numbers"

# ---- the scorer alone: a planted false link ----
awk '$1 == "link" { print $2, $3 }' "$topo" >"$T/all.links"
run score -f links "$topo" "$T/all.links"
same "scorer: the truth's own links score whole" \
    "$(field links <"$T/out")/$(field truth_links <"$T/out") $(field false_links <"$T/out")" \
    "$(wc -l <"$T/all.links")/$(wc -l <"$T/all.links") 0"
a=$(awk '$1 == "link" { print $2; exit }' "$topo")
b=$(awk -v a="$a" '$1 == "iface" && $2 != a { x = $2 } END { print x }' "$topo")
{ head -n 3 "$T/all.links"; echo "$a $b"; } >"$T/planted"
run score -l -f links "$topo" "$T/planted"
same "scorer: a planted false link counted and named" \
    "$(field links <"$T/out") $(field false_links <"$T/out"):$(cat "$T/err")" "3 1:false $a $b"

if [ "$(id -u)" != 0 ] || ! ip netns list >/dev/null 2>&1; then
	skip "lab tests: they need root and network namespaces"
	exit 0
fi
for t in jq scamper; do
	command -v "$t" >/dev/null || { skip "$t not installed"; exit 0; }
done
. "$HOPMAP_TOP/tests/lab/biglab.sh"
chmod 1777 "$T"
lab=hmb$$
cleanup_hooks+=("biglab_down $lab" "biglab_down ${lab}r")
run biglab_up "$lab" --routers 40 --prefixes 30 --seed 7
same "biglab_up: exit 0, quiet" "$rc:$(cat "$T/out" "$T/err")" "0:"
check "the namespaces' topology is the generator's" \
    diff <(sed 's/ns=hmb[0-9]*-/ns=x-/' "$LAB_TOPO") "$topo"
same "41 namespaces" "$(ip netns list | grep -c "^$lab-")" 41
same "vantage: one route out of its link, into the lab" \
    "$(ip -n "$LAB_VANTAGE" route show | grep -v 'scope link' | tr -s ' ')" \
    "198.18.0.0/15 via 198.18.0.2 dev to-r1 "
stray=
for ns in $(ip netns list | awk '{ print $1 }' | grep "^$lab-"); do
	stray+=$(ip -n "$ns" route show | grep -v '^198\.1[89]\.\|^local\|^blackhole\|^unreachable\|^[[:space:]]*nexthop')
done
same "no route anywhere but into 198.18.0.0/15" "$stray" ""
silent=$(awk '$1 == "router" && $NF == "silent" { print $2; exit }' "$LAB_TOPO")
same "limits lifted on r1, none on a silent router, L4 hash at a split" \
    "$(ip netns exec "$lab-r1" sysctl -n net.ipv4.icmp_ratelimit net.ipv4.icmp_msgs_per_sec | tr '\n' ' ')$(ip netns exec "$lab-$silent" sysctl -n net.ipv4.icmp_msgs_per_sec | tr '\n' ' ')$(ip netns exec "$lab-r2" sysctl -n net.ipv4.fib_multipath_hash_policy net.ipv4.fib_multipath_hash_fields | tr '\n' ' ')" \
    "0 1000000 0 3 55 "

# 32 addresses in each answering /24: enough flows for every branch.
awk '$1 == "target" { split($2, a, "."); for (h = 1; h <= 32; h++) print a[1] "." a[2] "." a[3] "." (h * 7) }' \
    "$LAB_TOPO" >"$T/targets"
V() { ip netns exec "$LAB_VANTAGE" "$@"; }
# shellcheck disable=SC2016 # $1 is the inner shell's
V sh -c 'icmpprobe --rate 2000 -t 1 "$1" | tracehop -r 2000 -w 1 -n 256' sh \
    "$T/targets" >"$T/th.out" 2>"$T/th.err"
same "icmpprobe | tracehop: exit 0, no stderr" "$?:$(cat "$T/th.err")" "0:"
run score -l "$LAB_TOPO" "$T/th.out"
same "tracehop: every link and interface of the truth, none false" \
    "$(field links <"$T/out")/$(field truth_links <"$T/out") $(field ifaces <"$T/out")/$(field truth_ifaces <"$T/out") $(field false_links <"$T/out") $(field false_dest <"$T/out") $(field stray_ifaces <"$T/out"):$(cat "$T/err")" \
    "$(grep -c '^link ' "$LAB_TOPO")/$(grep -c '^link ' "$LAB_TOPO") $(grep -c '^iface ' "$LAB_TOPO")/$(grep -c '^iface ' "$LAB_TOPO") 0 0 0:"
same "tracehop: one trace per target, pings and traces counted as probes" \
    "$(field traces <"$T/out") $(field probes <"$T/out")" \
    "$(wc -l <"$T/targets") $(jq -s 'map(.ping.sent + .trace.probes) | add' "$T/th.out")"
# The same file with one hop moved to another router: a false link.
jq -c --arg a "$a" --arg b "$b" 'if input_line_number == 1 then
    .trace.hops[1].ip = $a | .trace.hops[2].ip = $b else . end' "$T/th.out" >"$T/bad.out"
run score -l "$LAB_TOPO" "$T/bad.out"
check "the scorer counts a false link planted in tracehop's records" \
    grep -qx "false $a $b" "$T/err"

V scamper -O json -p 2000 -c "trace -P icmp-paris -q 1 -w 1" -f "$T/targets" >"$T/sc.json" 2>/dev/null
run score -f scamper "$LAB_TOPO" "$T/sc.json"
same "scamper agrees: no false link, no address outside the truth" \
    "$(field traces <"$T/out") $(field false_links <"$T/out") $(field false_dest <"$T/out") $(field stray_ifaces <"$T/out")" \
    "$(wc -l <"$T/targets") 0 0 0"

# ---- --realistic keeps the kernel's limits; down leaves nothing ----
biglab_down "$lab"
same "down: no namespace left" "$(ip netns list | grep -c "^$lab-")" 0
run biglab_up "${lab}r" --routers 20 --prefixes 5 --realistic
same "--realistic: the kernel's ICMP limits on a router" \
    "$rc:$(ip netns exec "${lab}r-r1" sysctl -n net.ipv4.icmp_ratelimit net.ipv4.icmp_msgs_per_sec | tr '\n' ' ')" \
    "0:1000 1000 "
biglab_down "${lab}r"
same "down: no namespace left, no files" \
    "$(ip netns list | grep -c "^${lab}r-") $(ls -d /tmp/hopmap-lab."${lab}r" 2>/dev/null)" "0 "
