#!/usr/bin/env bash
# bench/tracehop.sh: tracehop against scamper on the same namespace lab,
# same run, same 2,000 targets in the answering /24s (one in eight behind
# the silent router, one in eight behind the ECMP diamond), same probe rate,
# one query per hop, one-second wait.  Prints the traces per second of both
# and their ratio, probes per trace for both, and how many hop lists agree.
# Needs root (namespaces); every probe stays inside the lab.
set -u
top=${HOPMAP_TOP:-$(cd "$(dirname "$0")/.." && pwd)}
bin=${HOPMAP_BIN:-$top/bin}
rate=${BENCH_RATE:-10000}
if [ "$(id -u)" != 0 ]; then
	echo "tracehop bench: skipped (needs root for network namespaces)"
	exit 0
fi
for t in scamper sc_warts2json jq bc /usr/bin/time; do
	command -v "$t" >/dev/null || { echo "tracehop bench: $t not installed"; exit 1; }
done
W=$(mktemp -d /tmp/hopmap-bench.XXXXXX)
. "$top/tests/lab/lab.sh"
trap 'lab_down "$LAB_PREFIX"; rm -rf "$W"' EXIT
# Four more leaves under r1's tree; ICMP error limits lifted (lab default).
LAB_EXTRA=4 lab_up "hmbt$$" >/dev/null || { echo "lab failed"; exit 1; }
V() { ip netns exec "$LAB_VANTAGE" "$@"; }

# 250 addresses in each of the 8 answering /24s, interleaved.
awk '$1 == "target" { split($2, a, "."); print a[1] "." a[2] "." a[3] }' \
    "$LAB_TOPO" >"$W/prefixes"
for h in $(seq 1 250); do sed "s/\$/.$h/" "$W/prefixes"; done >"$W/targets"
n=$(wc -l <"$W/targets")

now() { date +%s.%N; }
# Hop lists "dst probes stop ip,ip,null,..." over TTLs 1..last, sorted.
th_hops() {
	jq -r '"\(.ip) \(.trace.probes) \(.trace.stop) " +
	    ([.trace.hops[] | .ip // "null"] | join(","))' "$1" | sort
}
sc_hops() {
	sc_warts2json "$1" | jq -r 'select(.type == "trace") | . as $t |
	    ([.hops[]? | {(.probe_ttl | tostring): .addr}] | add // {}) as $m |
	    "\($t.dst) \($t.probe_count) \($t.stop_reason) " +
	    ([range(1; ($t.hop_count // 0) + 1) | $m[tostring] // "null"] |
	    join(","))' | sort
}
# run NAME CMD...: time CMD inside the vantage point.
# Also the CPU seconds (user + system) it used, from /usr/bin/time.
run() {
	local name=$1 a b
	shift
	a=$(now)
	V /usr/bin/time -f '%U %S' -o "$W/$name.cpu" "$@" 2>"$W/$name.err"
	b=$(now)
	echo "$b - $a" | bc -l >"$W/$name.time"
}
run th "$bin/tracehop" -r "$rate" -n 2000 -q 1 --node bench "$W/targets" \
    >"$W/th.out"
run th1 "$bin/tracehop" -r "$rate" -n 2000 -q 1 -w 1s --node bench \
    "$W/targets" >"$W/th1.out"
# Above scamper's ceiling (its -p stops at 10000).
run th5 "$bin/tracehop" -r $((5 * rate)) -n 2000 -q 1 -w 1s --node bench \
    "$W/targets" >"$W/th5.out"
# The issue's command (scamper's own default wait, 5 s), then equal waits.
run sc scamper -O warts -o "$W/sc.warts" -p "$rate" \
    -c "trace -P icmp-paris -q 1" -f "$W/targets"
run sc1 scamper -O warts -o "$W/sc1.warts" -p "$rate" \
    -c "trace -P icmp-paris -q 1 -w 1" -f "$W/targets"
th_hops "$W/th.out" >"$W/th.hops"
th_hops "$W/th1.out" >"$W/th1.hops"
th_hops "$W/th5.out" >"$W/th5.hops"
sc_hops "$W/sc.warts" >"$W/sc.hops"
sc_hops "$W/sc1.warts" >"$W/sc1.hops"

# The hop lists the topology allows (either side of the diamond).
awk '$1 == "path" { s = ""; for (i = 3; i <= NF; i++) s = s ($i == "*" ? "null" : $i) ","
    print $2, s }' "$LAB_TOPO" >"$W/paths"
valid() { # file -> count of hop lists the topology allows
	awk 'NR == FNR { ok[$1 " " $2] = 1; next }
	    { split($1, a, "."); key = a[1] "." a[2] "." a[3]
	      hops = $4; sub("[^,]*$", "", hops)
	      if ((key ".0/24 " hops) in ok && $3 ~ /^(completed|COMPLETED)$/) v++ }
	    END { print v + 0 }' "$W/paths" "$1"
}
same_hops() {
	join -j 1 <(awk '{ print $1, $4 }' "$1") <(awk '{ print $1, $4 }' "$2") |
	    awk '$2 == $3' | wc -l
}
row() { # label hops-file time-file
	local n t
	n=$(wc -l <"$2")
	t=$(cat "$3")
	printf '%-34s %6d %8.2f %10.1f %12s %8s\n' "$1" "$n" "$t" \
	    "$(echo "$n / $t" | bc -l)" \
	    "$(awk '{ s += $2 } END { printf "%.2f", s / NR }' "$2")" \
	    "$(awk '{ printf "%.2f", $1 + $2 }' "${3%.time}.cpu")"
}
tps() { echo "$(wc -l <"$1") / $(cat "$2")" | bc -l; }
printf '%d targets in 8 /24s, rate %s pps, 1 query per hop, %s cores (taken under load)\n' \
    "$n" "$rate" "$(nproc)"
printf '%-34s %6s %8s %10s %12s %8s\n' run traces seconds traces/s probes/trace cpu_s
row "tracehop (default wait 1s)" "$W/th.hops" "$W/th.time"
row "scamper (default wait 5s)" "$W/sc.hops" "$W/sc.time"
row "tracehop -w 1s" "$W/th1.hops" "$W/th1.time"
row "scamper -w 1" "$W/sc1.hops" "$W/sc1.time"
row "tracehop -w 1s -r $((5 * rate))" "$W/th5.hops" "$W/th5.time"
printf 'ratio, defaults (the issue'"'"'s commands): %.2fx\n' \
    "$(echo "$(tps "$W/th.hops" "$W/th.time") / $(tps "$W/sc.hops" "$W/sc.time")" | bc -l)"
printf 'ratio, equal 1 s waits: %.2fx\n' \
    "$(echo "$(tps "$W/th1.hops" "$W/th1.time") / $(tps "$W/sc1.hops" "$W/sc1.time")" | bc -l)"
printf 'ratio, 1 s waits, tracehop at 5x the rate scamper allows: %.2fx\n' \
    "$(echo "$(tps "$W/th5.hops" "$W/th5.time") / $(tps "$W/sc1.hops" "$W/sc1.time")" | bc -l)"
printf 'hop lists identical to scamper'"'"'s: %d of %d (defaults), %d of %d (1 s)\n' \
    "$(same_hops "$W/th.hops" "$W/sc.hops")" "$n" \
    "$(same_hops "$W/th1.hops" "$W/sc1.hops")" "$n"
printf 'hop lists identical, tracehop at %s pps vs scamper: %d of %d\n' \
    $((5 * rate)) "$(same_hops "$W/th5.hops" "$W/sc1.hops")" "$n"
printf 'completed along a path of the topology: tracehop %d, scamper %d (of %d)\n' \
    "$(valid "$W/th.hops")" "$(valid "$W/sc.hops")" "$n"
