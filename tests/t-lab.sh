# The namespace lab itself (tests/lab/lab.sh): sealed from the outside, hop
# lists as its topology file says (checked with scamper, the peer tool), a
# silent router, the ECMP diamond splitting flows, dark prefixes, teardown.
. "$(dirname "$0")/lib.sh"
. "$HOPMAP_TOP/tests/lab/lab.sh"

lab=hml$$
cleanup_hooks+=("lab_down $lab")
run lab_up "$lab"
same "lab_up: exit 0, quiet" "$rc:$(cat "$T/out" "$T/err")" "0:"
same "lab_up: exports its names" "$LAB_VANTAGE $LAB_VANTAGE_IP $LAB_TOPO" \
    "$lab-v 198.18.0.1 /tmp/hopmap-lab.$lab/topology.txt"
same "lab_up: 16 namespaces" "$(ip netns list | grep -c "^$lab-")" 16
same "lab_up: ICMP error limits lifted on routers" \
    "$(ip netns exec "$lab-r1" sysctl -n net.ipv4.icmp_ratelimit net.ipv4.icmp_msgs_per_sec | tr '\n' ' ')" \
    "0 1000000 "

# ---- sealed: only routes into the lab ----
same "vantage: one route out of its link, into the lab" \
    "$(ip -n "$LAB_VANTAGE" route show | grep -v 'scope link' | tr -s ' ')" \
    "198.18.0.0/15 via 198.18.0.2 dev to-r1 "
defaults=
for ns in $(ip netns list | awk '{ print $1 }' | grep "^$lab-"); do
	defaults+=$(ip -n "$ns" route show default)
	defaults+=$(ip -n "$ns" route show | grep -v '^198\.1[89]\.\|^local\|^blackhole\|^unreachable\|^[[:space:]]*nexthop')
done
same "no namespace routes anywhere but 198.18.0.0/15" "$defaults" ""
same "the silent router is silent, the diamond's head hashes L4" \
    "$(ip netns exec "$lab-r3b" sysctl -n net.ipv4.icmp_msgs_per_sec net.ipv4.icmp_msgs_burst | tr '\n' ' ')$(ip netns exec "$lab-d0" sysctl -n net.ipv4.fib_multipath_hash_policy net.ipv4.fib_multipath_hash_fields | tr '\n' ' ')" \
    "0 0 3 55 "

# ---- the topology file ----
same "topology: targets and their ttl" \
    "$(awk '$1 == "target" { print $2, $4 }' "$LAB_TOPO" | tr '\n' ,)" \
    "198.19.0.0/24 ttl=2,198.19.1.0/24 ttl=4,198.19.2.0/24 ttl=4,198.19.3.0/24 ttl=6,"
same "topology: two paths through the diamond" \
    "$(grep -c '^path 198.19.3.0/24 ' "$LAB_TOPO")" 2
same "topology: dark prefixes" \
    "$(grep -E '^(blackhole|unreachable)' "$LAB_TOPO" | tr '\n' ,)" \
    "blackhole 198.19.200.0/24 node=r2a ttl=2,unreachable 198.19.201.0/24 node=r3a ttl=3,"

# ---- hop lists, traced by scamper from the vantage point ----
# hops PROTO ADDR...: "addr hop1 hop2 ... stop" per trace, "*" for silence.
hops() {
	local method=$1
	shift
	ip netns exec "$LAB_VANTAGE" scamper -O json -p 1000 \
	    -c "trace -P $method -q 1 -w 1 -g 3" -i "$@" 2>/dev/null |
	    jq -r 'select(.type == "trace") |
	        [.dst] + ([range(1; (.hop_count // 0) + 1)] as $t |
	        [.hops // [] | group_by(.probe_ttl)[] | {(.[0].probe_ttl | tostring): .[0].addr}] |
	        add // {} | . as $h | $t | map($h[tostring] // "*")) + [.stop_reason] |
	        join(" ")' | sort
}
want_hops() {	# the path lines of the prefix of $1, then $1 itself
	local pfx=${1%.*}.0/24
	grep "^path $pfx" "$LAB_TOPO" | cut -d' ' -f3- | sed "s|\$| $1 COMPLETED|;s|^|$1 |"
}
hops icmp-paris 198.19.0.5 198.19.1.5 198.19.2.5 198.19.3.5 >"$T/traces"
for a in 198.19.0.5 198.19.1.5 198.19.2.5 198.19.3.5; do
	got=$(grep "^$a " "$T/traces")
	check "hop list to $a is a path of the topology ($got)" \
	    grep -qxF "$got" <(want_hops "$a")
done
same "the silent router leaves a gap at ttl 3" \
    "$(grep '^198.19.2.5 ' "$T/traces" | cut -d' ' -f4)" "*"
hops icmp-paris 198.19.201.9 >"$T/unreach"
same "the unreachable prefix: !H from r3a at ttl 3" \
    "$(cut -d' ' -f2- "$T/unreach")" "198.18.0.2 198.18.0.10 198.18.0.14 UNREACH"
hops icmp-paris 198.19.200.9 >"$T/dark"
same "the blackholed prefix: r1, then silence" \
    "$(cut -d' ' -f2- "$T/dark" | cut -d' ' -f1-2)" "198.18.0.2 *"

# ---- the diamond splits flows, each trace on one branch ----
hops udp-paris $(seq -f '198.19.3.%g' 10 29) >"$T/ecmp"
same "diamond: 20 traces complete" "$(grep -c ' COMPLETED$' "$T/ecmp")" 20
same "diamond: both branches used" \
    "$(cut -d' ' -f4 "$T/ecmp" | sort -u | tr '\n' ' ')" \
    "198.18.0.38 198.18.0.46 "
bad=0
while read -r a h1 h2 h3 h4 h5 rest; do
	grep -qxF "$a $h1 $h2 $h3 $h4 $h5 $rest" <(want_hops "$a") || bad=$((bad + 1))
done <"$T/ecmp"
same "diamond: every trace follows one branch (no mixed hops)" "$bad" 0

# ---- teardown ----
lab_down "$lab"
same "lab_down: no namespace left" "$(ip netns list | grep -c "^$lab-")" 0
check "lab_down: state directory removed" test ! -e "/tmp/hopmap-lab.$lab"

# ---- size, and standalone use ----
big=hmlx$$
cleanup_hooks+=("lab_down $big")
LAB_EXTRA=5 LAB_REALISTIC=1 "$HOPMAP_TOP/tests/lab/lab.sh" up "$big" \
    >"$T/out" 2>"$T/err"
same "standalone up with LAB_EXTRA=5: prints the topology file" \
    "$?:$(cat "$T/out")" "0:/tmp/hopmap-lab.$big/topology.txt"
same "LAB_REALISTIC=1 keeps the kernel's ICMP limits" \
    "$(ip netns exec "$big-r1" sysctl -n net.ipv4.icmp_ratelimit net.ipv4.icmp_msgs_per_sec | tr '\n' ' ')" \
    "1000 1000 "
same "LAB_EXTRA=5: 21 namespaces" "$(ip netns list | grep -c "^$big-")" 21
grep '^target 198.19.1[1-5]\.' "/tmp/hopmap-lab.$big/topology.txt" |
    sed 's/^target \([0-9.]*\)\.0\/24 node=[^ ]* ttl=\(.*\)/\1.1 \2/' >"$T/x"
ip netns exec "$big-v" icmpprobe -t 300ms < <(cut -d' ' -f1 "$T/x") >"$T/xo"
same "LAB_EXTRA=5: each extra router's /24 answers from its depth" \
    "$(jq -r '"\(.ip) \(65 - .ping.reply_ttl)"' "$T/xo" | sort)" "$(sort "$T/x")"
# ---- discovery under the kernel's ICMP limits (tracehop, issue 12) ----
# Each router answers a burst of about six errors, then one a second, to
# the vantage point.  Classic tracehop (in turn, --no-spread, as
# traceroute and scamper send), then icmpprobe | tracehop (guess, stop set,
# rate-limit retries), each on full buckets (the lab made again between
# them, as bench/discovery.sh does): discovery finds at least as many
# links, none false, says which hops it probed again, and the silent
# router's hop costs what it did.  (Classic spread finds 9 or 10 here:
# r1 - r2b when r1, every trace's first hop, has a credit left for a
# 198.19.2 trace; discovery does not probe a first hop again.)
BV() { ip netns exec "$big-v" "$@"; }
chmod 1777 "$T"	# tracehop writes --metrics as nobody
{ seq -f '198.19.1.%g' 1 30; seq -f '198.19.3.%g' 1 30; seq -f '198.19.2.%g' 1 10; } >"$T/rl.in"
BV icmpprobe -t 300ms "$T/rl.in" >"$T/rl.ping" 2>/dev/null
same "rate limits: every target answers ping (echo replies are not limited)" \
    "$(jq -r 'select(.ping.ok) | .ip' "$T/rl.ping" | wc -l)" 70
BV tracehop -r 5000 -w 300ms --no-guess --no-stop-set --no-spread "$T/rl.ping" >"$T/rl.classic" 2>&1
"$HOPMAP_TOP/tests/lab/lab.sh" down "$big"
LAB_EXTRA=5 LAB_REALISTIC=1 "$HOPMAP_TOP/tests/lab/lab.sh" up "$big" >/dev/null
BV tracehop -r 5000 -w 300ms -s --metrics "$T/rl.prom" "$T/rl.ping" >"$T/rl.out" 2>"$T/rl.err"
same "rate limits: exit 0" "$?" 0
rlinks() {
	jq -r 'select(.trace.stop == "completed") | [.trace.hops[:-1][] | .ip // "*"] | . as $h | range(0; length - 1) | "\($h[.]) \($h[. + 1])"' "$1" |
	    grep -v '\*' | sort -u
}
awk '$1 == "link" { print $2, $3 }' "/tmp/hopmap-lab.$big/topology.txt" | sort >"$T/rl.truth"
rlinks "$T/rl.classic" >"$T/rl.cl.links"
rlinks "$T/rl.out" >"$T/rl.disc.links"
same "rate limits: zero false links, classic and discovery" \
    "$(cat "$T/rl.cl.links" "$T/rl.disc.links" | sort -u | comm -23 - "$T/rl.truth")" ""
check "rate limits: discovery finds at least the links classic does ($(wc -l <"$T/rl.disc.links") vs $(wc -l <"$T/rl.cl.links"))" \
    test "$(wc -l <"$T/rl.disc.links")" -ge "$(wc -l <"$T/rl.cl.links")"
same "rate limits: the records say which hops were probed again, the metrics and -s how many" \
    "$(jq -s 'map(.trace.rate_limited // 0) | add | . > 0' "$T/rl.out"):$(jq -s 'map(.trace.hops[] | select(.retries) | .retries) | length' "$T/rl.out" | xargs -I{} grep -c 'hopmap_hops_rate_limited_total{program="tracehop"} {}$' "$T/rl.prom"):$(jq -s 'map(.trace.rate_limited // 0) | add' "$T/rl.out" | xargs -I{} grep -c 'tracehop: {} hops probed again' "$T/rl.err")" \
    "true:1:1"
same "rate limits: the silent router (r3b, ttl 3) is never probed again" \
    "$(jq -c 'select(.ip | startswith("198.19.2.")) | .trace.hops[] | select(.ttl == 3)' "$T/rl.out" | sort -u)" \
    '{"ttl":3,"ip":null}'
"$HOPMAP_TOP/tests/lab/lab.sh" down "$big"
same "standalone down" "$?:$(ip netns list | grep -c "^$big-")" "0:0"
"$HOPMAP_TOP/tests/lab/lab.sh" >/dev/null 2>&1
same "standalone without arguments: exit 2" "$?" 2
