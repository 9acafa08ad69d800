# tracehop: options and input handling, then Paris traceroute in the
# namespace lab (tests/lab/lab.sh): exact hop lists, no false links through
# the ECMP diamond, stop reasons, nothing probed past the destination.
# Probes go only to loopback or into this test's own namespaces.
. "$(dirname "$0")/lib.sh"
. "$HOPMAP_TOP/tests/corpus.sh"

run tracehop --first-ttl 300 </dev/null
same "--first-ttl 300: exit 2" "$rc" 2
check "--first-ttl 300: message" grep -q "^tracehop: first-ttl value is too large: 300" "$T/err"
run tracehop -f 9 -m 3 </dev/null
same "first-ttl above max-ttl: exit 2" "$rc:$(cat "$T/err")" \
    "2:tracehop: first-ttl 9 is above max-ttl 3"
run tracehop -P carrier-pigeon </dev/null
same "unknown method: exit 2" "$rc" 2
check "unknown method: named" grep -q "unknown method: carrier-pigeon" "$T/err"
for bad in "-q 17" "-q 0" "-w 0" "-w 2m" "-g 0" "-r 0" "-n 16385" "-p 65536" \
    "--window 0" "--max-ttl 256"; do
	# shellcheck disable=SC2086
	run tracehop $bad </dev/null
	same "tracehop $bad: exit 2, nothing on stdout" "$rc:$(cat "$T/out")" "2:"
done

# Without CAP_NET_RAW: a clear message and exit 3, never a crash.
run setpriv --reuid=65534 --regid=65534 --clear-groups tracehop </dev/null
same "unprivileged: exit 3" "$rc" 3
check "unprivileged: says what is missing" grep -q "^tracehop: icmp-paris: no CAP_NET_RAW.*ping_group_range" "$T/err"
check "unprivileged: no sanitizer report" no_sanitizer_report "$T/err"
same "unprivileged: nothing on stdout" "$(cat "$T/out")" ""

# Loopback (root namespace, 127/8 only): pass-through and the ping rule.
cat >"$T/lo.in" <<'IN'
{ "ip" : "127.0.0.5",  "ping": {"ok": false, "x": [1, 2]}, "src":"a" }
{"note":"not a target"}
127.0.0.1
{"ip":"127.0.0.2","ping":{"ok":true,"rtt_ms":0.1},"node":"elsewhere"}
{"ip":"127.0.0.3","ping":{"sent":1}}
{"ip":"2001:db8::1"}
IN
run tracehop -w 200ms --node lo-node "$T/lo.in"
same "loopback: exit 1 (two bad lines)" "$rc" 1
check "ok:false passes through byte for byte" \
    grep -Fxq '{ "ip" : "127.0.0.5",  "ping": {"ok": false, "x": [1, 2]}, "src":"a" }' "$T/out"
check "non-target passes through" grep -Fxq '{"note":"not a target"}' "$T/out"
same "two records traced" "$(grep -c '"trace"' "$T/out")" 2
same "bare address traced, completed at ttl 1" \
    "$(jq -c 'select(.ip=="127.0.0.1") | [.node, .trace.stop, .trace.probes, [.trace.hops[].ip]]' "$T/out")" \
    '["lo-node","completed",1,["127.0.0.1"]]'
same "ok:true traced; its node is the tracer's" \
    "$(jq -c 'select(.ip=="127.0.0.2") | [.node, .ping.rtt_ms, .trace.method, .trace.hops[0].icmp_type]' "$T/out")" \
    '["lo-node",0.1,"icmp-paris",0]'
same "rtt_ms positive, below the wait" \
    "$(jq -c 'select(.trace) | .trace.hops[0].rtt_ms > 0 and .trace.hops[0].rtt_ms < 200' "$T/out")" "$(printf 'true\ntrue')"
check "ping without ok reported with its line" \
    grep -q 'lo.in:5: "ping" has no boolean "ok"' "$T/err"
check "IPv6 target reported with its line" grep -q 'lo.in:6: .*IPv6' "$T/err"
same "exactly two diagnostics" "$(wc -l <"$T/err")" 2

run tracehop --strict -w 200ms "$T/lo.in"
same "--strict: exit 1 at the first bad line" "$rc" 1
check "--strict: that line reported" grep -q 'lo.in:5:' "$T/err"
check "--strict: nothing after it reported" sh -c "! grep -q 'lo.in:6:' '$T/err'"

# A record longer than --max-line is reported and skipped.
{ printf '{"ip":"127.0.0.7","pad":"'; printf '%0300d' 0; printf '"}\n'; echo 127.0.0.8; } >"$T/long.in"
run tracehop --max-line 100 -w 200ms "$T/long.in"
same "--max-line: exit 1, the short one traced" "$rc:$(jq -r .ip "$T/out")" "1:127.0.0.8"

for m in udp-paris tcp-paris; do
	echo 127.0.0.9 | tracehop -P "$m" -q 3 -w 200ms >"$T/out" 2>"$T/err"
	same "$m -q 3 on loopback: one hop, three RTTs, three probes" \
	    "$(jq -c '[.trace.method, .trace.stop, .trace.probes, (.trace.hops | length), (.trace.hops[0].rtts | length)]' "$T/out")" \
	    "[\"$m\",\"completed\",3,1,3]"
done

# ---- traceroute's letters (-f -m -q -w -p), scamper's -P ----
run tracehop -m udp-paris </dev/null
same "-m is the max TTL: a method after it is refused, -P named" \
    "$rc:$(cat "$T/err")" \
    "2:tracehop: -m is the max TTL, as in traceroute; the method is -P udp-paris"
echo 127.0.0.9 | tracehop -P udp-paris -f 1 -m 2 -q 2 -w 0.5 >"$T/out" 2>"$T/err"
same "-P method, -m max TTL, -q queries, -w 0.5 (seconds, a fraction)" \
    "$(jq -c '[.trace.method, .trace.max_ttl, .trace.queries, .trace.stop]' "$T/out")" \
    '["udp-paris",2,2,"completed"]'
echo 127.0.0.9 | tracehop -M tcp-paris -m 4 -w 1 >"$T/out" 2>"$T/err"
same "-M (traceroute's letter) is the method too" \
    "$(jq -c '[.trace.method, .trace.max_ttl]' "$T/out")" '["tcp-paris",4]'
run tracehop -w 60.5 </dev/null
same "-w 60.5: above 60 s, exit 2" "$rc" 2

# ---- one default UDP port with icmpprobe: 33434, traceroute's base ----
# A UDP socket bound to 33434 on 127.0.0.9: no port unreachable from
# there, so a trace to that port never completes; one to 33435 does.
socat -u UDP4-RECV:33434,bind=127.0.0.9 /dev/null &
udp_pid=$!
cleanup_hooks+=("kill $udp_pid 2>/dev/null")
if until_ok 60 sh -c "ss -Hunl | grep -q '127.0.0.9:33434 '"; then
	echo 127.0.0.9 | tracehop -P udp-paris -m 2 -w 200ms >"$T/out" 2>"$T/err"
	same "udp-paris probes port 33434 by default (open there: no end)" \
	    "$(jq -r .trace.stop "$T/out")" maxhops
	echo 127.0.0.9 | tracehop -P udp-paris -p 33435 -m 2 -w 200ms >"$T/out" 2>"$T/err"
	same "udp-paris -p 33435: the closed port ends the trace" \
	    "$(jq -r .trace.stop "$T/out")" completed
	echo 127.0.0.9 | icmpprobe -m udp -t 200ms >"$T/out" 2>"$T/err"
	same "icmpprobe -m udp: the same default port (open there: silent)" \
	    "$(jq -c '[.ping.port, .ping.ok]' "$T/out")" '[33434,false]'
else
	echo "not ok - a UDP socket bound to 127.0.0.9:33434"
fi
kill "$udp_pid" 2>/dev/null

# ---- -s: a summary at exit; --progress: a progress line ----
printf '127.0.0.9\n127.0.0.10\n{"ip":"127.0.0.11","ping":{"ok":false}}\n' >"$T/three.in"
run tracehop -s -w 200ms "$T/three.in"
same "-s: exit 0, the records on stdout" "$rc:$(jq -r .ip "$T/out" | sort | tr '\n' ' ')" \
    "0:127.0.0.10 127.0.0.11 127.0.0.9 "
check "-s: traces, stop reasons, passed, hops, probes, replies, elapsed, rate" \
    has_all "$T/err" '^tracehop: 2 traces$' '^tracehop:   2 completed$' \
    '^tracehop:   0 gaplimit$' '^tracehop: 1 records passed untraced$' \
    '^tracehop: 2 hops answered$' '^tracehop: 2 probes sent$' \
    '^tracehop: 2 replies$' '^tracehop: [0-9.]* s elapsed$'
check "-s: no progress line when standard error is not a terminal" \
    sh -c "! grep -q 'under way' '$T/err'"
run tracehop -w 200ms "$T/three.in"
same "without -s or --progress, not a terminal: nothing on stderr" "$(cat "$T/err")" ""
run tracehop --progress -w 200ms "$T/three.in"
check "--progress into a file: lines of progress, the last one final" \
    grep -q '^tracehop: 2 traces, 2 done, 0 under way, 2 probes, [0-9.]* s$' "$T/err"
check "--progress: no terminal escapes into a file" sh -c "! grep -q \"\$(printf '\\033')\" '$T/err'"

if [ "$(id -u)" != 0 ] || ! ip netns list >/dev/null 2>&1; then
	skip "lab tests: they need root and network namespaces"
	exit 0
fi
. "$HOPMAP_TOP/tests/lab/lab.sh"
# Started as root, the probers run as nobody once their sockets are open:
# the files they write (--metrics, --stop-set) must be writable by nobody.
chmod 1777 "$T"
# shellcheck disable=SC2016
cleanup_hooks+=('lab_down "$LAB_PREFIX"')
if ! lab_up "hmth$$"; then
	echo "not ok - the lab could not be built"
	exit 1
fi
V() { ip netns exec "$LAB_VANTAGE" "$@"; }
addr() { awk -v n="$1" '$1 == "router" && $2 == n { sub("addr=", "", $3); print $3 }' "$LAB_TOPO"; }
# The hop lists the topology allows for target $2 in prefix $1.
paths() {
	awk -v p="$1" -v t="$2" '$1 == "path" && $2 == p {
		s = ""; for (i = 3; i <= NF; i++) s = s ($i == "*" ? "null" : $i) " "
		print s t }' "$LAB_TOPO"
}
hoplist() { jq -r --arg ip "$1" 'select(.ip == $ip) | [.trace.hops[] | .ip // "null"] | join(" ")' "$2"; }

leaves="198.19.0.9 198.19.1.9 198.19.2.9 198.19.3.9"
for m in icmp-paris udp-paris tcp-paris; do
	# shellcheck disable=SC2086
	printf '%s\n' $leaves 198.19.200.9 >"$T/lab.in"
	V tracehop -P "$m" -w 300ms -r 2000 -n 8 "$T/lab.in" >"$T/$m.out" 2>"$T/$m.err"
	same "$m: exit 0, no stderr" "$?:$(cat "$T/$m.err")" "0:"
	same "$m: every record once" "$(jq -r .ip "$T/$m.out" | sort | tr '\n' ' ')" \
	    "198.19.0.9 198.19.1.9 198.19.2.9 198.19.200.9 198.19.3.9 "
	for ip in $leaves; do
		got=$(hoplist "$ip" "$T/$m.out")
		check "$m $ip: exact hop list ($got)" grep -Fxq "$got" <(paths "${ip%.*}.0/24" "$ip")
		same "$m $ip: completed, one probe per hop, none past the target" \
		    "$(jq -r --arg ip "$ip" 'select(.ip == $ip) | [.trace.stop, .trace.probes == (.trace.hops | length), .trace.hops[-1].ip == $ip, .trace.src] | join(" ")' "$T/$m.out")" \
		    "completed true true $LAB_VANTAGE_IP"
	done
	same "$m: the silent router is a null hop" \
	    "$(jq -c 'select(.ip == "198.19.2.9") | .trace.hops[2]' "$T/$m.out")" '{"ttl":3,"ip":null}'
	same "$m: the blackholed prefix ends by the gap limit" \
	    "$(jq -c 'select(.ip == "198.19.200.9") | [.trace.stop, .trace.probes, [.trace.hops[].ip]]' "$T/$m.out")" \
	    "[\"gaplimit\",6,[\"$(addr r1)\",null,null,null,null,null]]"
	# Linux sends a route error (host unreachable) only with a second of
	# credit in its per-source bucket, and every other ICMP error to the
	# same source (time exceeded) empties that bucket when
	# icmp_ratelimit=0: trace the unreachable prefix alone, after a pause.
	sleep 1.3
	echo 198.19.201.9 | V tracehop -P "$m" -w 300ms >"$T/out" 2>&1
	same "$m: the unreachable prefix ends unreach at r3a" \
	    "$(jq -c '[.trace.stop, [.trace.hops[].ip], .trace.hops[-1].icmp_type, .trace.hops[-1].icmp_code]' "$T/out")" \
	    "[\"unreach\",[\"$(addr r1)\",\"$(addr r2a)\",\"$(addr r3a)\"],3,1]"
done
same "tcp-paris: RST from a closed port" \
    "$(jq -r 'select(.ip == "198.19.0.9") | .trace.hops[-1].tcp_flags' "$T/tcp-paris.out")" RA

# Nothing past the destination, seen from the target's side: a probe sent
# with TTL t reaches l1 (4 hops out) with TTL t - 3, so every arrival must
# have TTL 1.  A small raw-socket listener (built here) prints the TTL of
# each packet from the vantage point for a bounded time.
cat >"$T/arrivals.c" <<'C'
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
int main(int argc, char **argv) {
	struct timeval tv = { 0, 100000 };
	unsigned char b[2048];
	in_addr_t from = inet_addr(argv[3]);
	time_t end = time(NULL) + atoi(argv[2]);
	int fd = socket(AF_INET, SOCK_RAW, atoi(argv[1]));
	if (fd < 0) return 1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	fprintf(stderr, "ready\n");
	while (time(NULL) < end) {
		ssize_t n = recv(fd, b, sizeof(b), 0);
		if (n >= 20 && !memcmp(b + 12, &from, 4)) printf("%u\n", b[8]);
	}
	return 0;
}
C
if cc -include string.h -o "$T/arrivals" "$T/arrivals.c" 2>"$T/cc.err"; then
	seq 1 30 | sed 's/^/198.19.1./' >"$T/l1.in"
	for m in icmp-paris:1 udp-paris:17 tcp-paris:6; do
		lab_exec l1 "$T/arrivals" "${m#*:}" 4 "$LAB_VANTAGE_IP" >"$T/arr" 2>"$T/arr.err" &
		sniff=$!
		for _ in 1 2 3 4 5 6 7 8 9 10; do grep -q ready "$T/arr.err" && break; sleep 0.1; done
		V tracehop -P "${m%:*}" -w 300ms -r 2000 -n 10 "$T/l1.in" >/dev/null 2>&1
		wait $sniff
		same "${m%:*}: 30 probes reached the targets, all with TTL 1 left" \
		    "$(sort "$T/arr" | uniq -c | tr -s ' ')" " 30 1"
	done
else
	echo "not ok - could not build the arrivals listener"; cat "$T/cc.err"
fi

# Paris: 200 targets behind the per-flow ECMP diamond.  Every pair of
# consecutive router hops must be a real link, and both branches used.
awk '$1 == "link" { print $2, $3 }' "$LAB_TOPO" | sort >"$T/links"
seq 1 200 | sed 's/^/198.19.3./' >"$T/diamond.in"
for m in udp-paris tcp-paris; do
	V tracehop -P "$m" -w 500ms -r 5000 -n 100 --metrics "$T/$m.prom" \
	    "$T/diamond.in" >"$T/d.out" 2>"$T/d.err"
	same "$m diamond: exit 0" "$?:$(cat "$T/d.err")" "0:"
	same "$m diamond: 200 traces, all completed at ttl 6" \
	    "$(jq -r '[.trace.stop, (.trace.hops | length)] | join(" ")' "$T/d.out" | sort | uniq -c | tr -s ' ')" \
	    " 200 completed 6"
	jq -r '[.trace.hops[:-1][].ip] | . as $h | range(0; length - 1) | "\($h[.]) \($h[. + 1])"' \
	    "$T/d.out" | sort -u >"$T/pairs"
	same "$m diamond: zero false links" "$(comm -23 "$T/pairs" "$T/links")" ""
	[ "$m" = udp-paris ] && cp "$T/pairs" "$T/pairs.diamond"
	same "$m diamond: both branches seen" \
	    "$(jq -r '.trace.hops[2].ip' "$T/d.out" | sort -u | tr '\n' ' ')" \
	    "$(addr dA1) $(addr dB1) "
	check "$m: --metrics counts 1200 probes" \
	    grep -q 'hopmap_probes_sent_total{program="tracehop"} 1200' "$T/$m.prom"
done

# Discovery: icmpprobe | tracehop starts each trace at the distance the
# ping's reply TTL tells and takes the way home from the stop set; the hop
# lists are classic's (--no-guess --no-stop-set), behind the diamond each a
# path of the topology, the same links and none false, for fewer probes.
for p in 0 1 2 3; do seq 1 40 | sed "s/^/198.19.$p./"; done >"$T/disc.in"
V icmpprobe -t 300ms "$T/disc.in" >"$T/disc.ping" 2>"$T/disc.perr"
same "discovery: 160 pings answered, each with its reply_ttl" \
    "$(jq -r '.ping.reply_ttl > 32' "$T/disc.ping" | sort | uniq -c | tr -s ' ')" " 160 true"
hopsof() { jq -r '"\(.ip) \([.trace.hops[] | .ip // "*"] | join(" ")) \(.trace.stop)"' "$1" | sort; }
for m in icmp-paris udp-paris tcp-paris; do
	V tracehop -P "$m" -w 300ms -r 5000 -n 4 --metrics "$T/disc.prom" "$T/disc.ping" >"$T/disc.out" 2>"$T/disc.err"
	same "$m discovery: exit 0, no stderr" "$?:$(cat "$T/disc.err")" "0:"
	V tracehop -P "$m" -w 300ms -r 5000 -n 4 --no-guess --no-stop-set "$T/disc.ping" >"$T/disc.classic" 2>&1
	hopsof "$T/disc.out" | grep -v '^198\.19\.3\.' >"$T/dh"
	hopsof "$T/disc.classic" | grep -v '^198\.19\.3\.' >"$T/ch"
	same "$m discovery: the same hop lists as classic (120 off the diamond)" \
	    "$(diff "$T/ch" "$T/dh" >/dev/null && wc -l <"$T/dh")" 120
	bad=0
	while read -r ip list; do
		grep -Fxq "$list" <(paths "${ip%.*}.0/24" "$ip") || bad=$((bad + 1))
	done < <(jq -r 'select(.ip | startswith("198.19.3.")) | "\(.ip) \([.trace.hops[] | .ip // "null"] | join(" "))"' "$T/disc.out")
	same "$m discovery: behind the diamond, every hop list a path of the topology" "$bad" 0
	for f in disc.out disc.classic; do
		jq -r 'select(.trace.stop == "completed") | [.trace.hops[:-1][] | .ip // "*"] | . as $h | range(0; length - 1) | "\($h[.]) \($h[. + 1])"' \
		    "$T/$f" | grep -v '\*' | sort -u >"$T/$f.links"
	done
	same "$m discovery: zero false links" "$(comm -23 "$T/disc.out.links" "$T/links")" ""
	same "$m discovery: every link classic found" "$(comm -13 "$T/disc.out.links" "$T/disc.classic.links")" ""
	dp=$(jq -s 'map(.trace.probes) | add' "$T/disc.out")
	cp=$(jq -s 'map(.trace.probes) | add' "$T/disc.classic")
	check "$m discovery: fewer probes than classic ($dp of $cp)" test "$dp" -lt "$cp"
	# The first traces to a prefix (6 to settle the way in, at most 4 at
	# once) go home; the rest probe the target and the hop below it, the
	# /24's last router r3a.
	same "$m discovery: past its first traces, 2 probes a trace to 198.19.1/24" \
	    "$(jq -r 'select(.ip | test("^198\\.19\\.1\\.")) | select(.trace.probes == 2) | .ip' "$T/disc.out" | wc -l | awk '{ print ($1 >= 30) }')" 1
	same "$m discovery: the metrics say how many hops came from the stop set" \
	    "$(sed -n 's/^hopmap_hops_spliced_total{program="tracehop"} //p' "$T/disc.prom")" \
	    "$(jq -s 'map(.trace.hops[] | select(.stop_set)) | length' "$T/disc.out")"
done
same "discovery: every trace started at its target's distance" \
    "$(jq -r 'select(.trace.start_ttl != (65 - .ping.reply_ttl)) | .ip' "$T/disc.out" | wc -l)" 0

# Options at work.
echo 198.19.3.5 | V tracehop -f 3 -m 4 -w 300ms >"$T/out" 2>&1
same "--first-ttl 3 --max-ttl 4: hops 3 and 4, stop maxhops" \
    "$(jq -c '[.trace.stop, [.trace.hops[].ttl], .trace.first_ttl, .trace.max_ttl]' "$T/out")" \
    '["maxhops",[3,4],3,4]'
echo 198.19.200.5 | V tracehop -g 2 -w 200ms >"$T/out" 2>&1
same "--gap-limit 2: two silent hops end it" \
    "$(jq -c '[.trace.stop, .trace.probes]' "$T/out")" '["gaplimit",3]'
echo 198.19.1.5 | V tracehop -q 2 -w 300ms >"$T/out" 2>&1
same "--queries 2: two probes a hop, none past the target" \
    "$(jq -c '[.trace.stop, .trace.probes, (.trace.hops | length), ([.trace.hops[].rtts | length] | unique)]' "$T/out")" \
    '["completed",8,4,[2]]'
echo 198.19.2.5 | V tracehop --window 3 -w 300ms >"$T/out" 2>&1
same "--window 3: same hop list as window 1" "$(hoplist 198.19.2.5 "$T/out")" \
    "$(paths 198.19.2.0/24 198.19.2.5)"
same "--window 3: at most 2 probes past the target" \
    "$(jq '.trace.probes <= (.trace.hops | length) + 2' "$T/out")" true
# Not through lab_exec: a backgrounded function is a subshell, and killing
# it would leave socat running after the lab is gone.  timeout bounds it
# and passes our kill on.
timeout 120 ip netns exec "$(lab_ns l0)" \
    socat TCP-LISTEN:8080,fork,reuseaddr /dev/null 2>/dev/null &
listener=$!
cleanup_hooks=("kill $listener 2>/dev/null" "${cleanup_hooks[@]}")
for _ in $(seq 600); do
	ip netns exec "$(lab_ns l0)" ss -Hltn 'sport = :8080' | grep -q . && break
	sleep 0.05
done
echo 198.19.0.5 | V tracehop -P tcp-paris -p 8080 -w 300ms >"$T/out" 2>&1
same "--port 8080: SYN-ACK from the listener" "$(jq -r '.trace.hops[-1].tcp_flags' "$T/out")" SA
echo 198.19.0.5 | V tracehop -P udp-paris -p 53 -w 300ms >"$T/out" 2>&1
same "udp-paris --port 53: port unreachable from the target" \
    "$(jq -c '.trace.hops[-1] | [.ip, .icmp_type, .icmp_code]' "$T/out")" '["198.19.0.5",3,3]'
echo 198.19.1.5 | V tracehop --user nobody -w 300ms >"$T/out" 2>"$T/err"
same "--user nobody: traces after the switch" "$?:$(jq -r .trace.stop "$T/out")" "0:completed"
run V tracehop --user no-such-user-here </dev/null
same "--user unknown: exit 3" "$rc" 3

# Without CAP_NET_RAW: datagram sockets and IP_RECVERR.  Input and output
# are opened by root here (the test directory is private).
U() { V setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
U tracehop -P udp-paris -w 300ms -r 1000 <"$T/lab.in" >"$T/out" 2>"$T/err"
same "unprivileged udp-paris: exit 0" "$?:$(cat "$T/err")" "0:"
for ip in $leaves; do
	got=$(hoplist "$ip" "$T/out")
	check "unprivileged udp-paris $ip: exact hop list ($got)" grep -Fxq "$got" <(paths "${ip%.*}.0/24" "$ip")
done
same "unprivileged udp-paris: blackhole, probes, reply TTLs" \
    "$(jq -c 'select(.ip == "198.19.200.9") | [.trace.stop, .trace.probes, .trace.hops[0].reply_ttl]' "$T/out")" \
    '["gaplimit",6,64]'
U tracehop -P udp-paris -w 500ms -r 1000 -n 100 <"$T/diamond.in" >"$T/d.out" 2>"$T/d.err"
jq -r '[.trace.hops[:-1][].ip] | . as $h | range(0; length - 1) | "\($h[.]) \($h[. + 1])"' \
    "$T/d.out" | sort -u >"$T/pairs"
same "unprivileged udp-paris diamond: 200 completed, zero false links, both branches" \
    "$(jq -r .trace.stop "$T/d.out" | sort | uniq -c | tr -s ' '):$(comm -23 "$T/pairs" "$T/links"):$(jq -r '.trace.hops[2].ip' "$T/d.out" | sort -u | wc -l)" \
    " 200 completed::2"
run U tracehop -P tcp-paris </dev/null
same "unprivileged tcp-paris: exit 3, says why" "$rc:$(grep -c 'tcp-paris needs CAP_NET_RAW' "$T/err")" "3:1"
run U tracehop </dev/null
check "unprivileged icmp-paris, ping_group_range closed: says so" grep -q "ping_group_range" "$T/err"
V sysctl -qw net.ipv4.ping_group_range="0 2147483647"
U tracehop -w 300ms -r 1000 <"$T/lab.in" >"$T/out" 2>"$T/err"
same "unprivileged icmp-paris (ping socket): exit 0" "$?:$(cat "$T/err")" "0:"
for ip in $leaves; do
	got=$(hoplist "$ip" "$T/out")
	check "unprivileged icmp-paris $ip: exact hop list ($got)" grep -Fxq "$got" <(paths "${ip%.*}.0/24" "$ip")
done
same "unprivileged icmp-paris: echo reply from the target" \
    "$(jq -c 'select(.ip == "198.19.1.9") | .trace.hops[-1] | [.icmp_type, .reply_ttl]' "$T/out")" '[0,61]'

# Doubletree: --stop-set.  One trace at a time, so each sees the last's hops.
seq 1 20 | sed 's/^/198.19.1./' >"$T/ss.in"
V tracehop --stop-set "$T/ss" -n 1 -w 300ms "$T/ss.in" >"$T/out" 2>"$T/err"
same "--stop-set: exit 0" "$?:$(cat "$T/err")" "0:"
same "--stop-set: the first 6 go home (the way in settles), the others stop at r2a" \
    "$(jq -r '[.trace.start_ttl, .trace.first_ttl, .trace.probes] | join(" ")' "$T/out" | sort | uniq -c | tr -s ' ')" \
    "$(printf ' 14 3 1 3\n 6 3 1 4')"
same "--stop-set: what was not probed is marked, the rest measured" \
    "$(jq -c '[.trace.hops[] | [.ttl, .stop_set, (.rtt_ms != null)]]' "$T/out" | sort | uniq -c | tr -s ' ')" \
    "$(printf ' 6 [[1,null,true],[2,null,true],[3,null,true],[4,null,true]]\n 14 [[1,true,false],[2,null,true],[3,null,true],[4,null,true]]')"
same "--stop-set: the file holds every router measured: its TTL, the one before" \
    "$(grep -v '^#' "$T/ss" | cut -d ' ' -f 1-3 | sort | tr '\n' ,)" \
    "$(printf '%s\n' "$(addr r1) 1 -" "$(addr r2a) 2 $(addr r1)" "$(addr r3a) 3 $(addr r2a)" | sort | tr '\n' ,)"
jq -r '[.trace.hops[].ip] | . as $h | range(0; length - 1) | "\($h[.]) \($h[. + 1])"' "$T/out" |
    grep -v ' 198\.19\.' | sort -u >"$T/pairs"
same "--stop-set: no link lost" "$(cat "$T/pairs")" \
    "$(printf '%s\n' "$(addr r1) $(addr r2a)" "$(addr r2a) $(addr r3a)" | sort)"
V tracehop --stop-set "$T/ss" -w 300ms "$T/ss.in" >"$T/out" 2>"$T/err"
same "--stop-set, second run: every trace stops at the known hop" \
    "$(jq -r '[.trace.first_ttl, .trace.probes, .trace.stop, ([.trace.hops[] | select(.stop_set)] | length)] | join(" ")' "$T/out" | sort -u)" "1 3 completed 1"
echo 198.19.0.4 | V tracehop --stop-set "$T/ss" -w 300ms >"$T/out" 2>"$T/err"
same "--stop-set: a target nearer than the start ends where it is" \
    "$(jq -c '[.trace.probes, [.trace.hops[].ip]]' "$T/out")" "[3,[\"$(addr r1)\",\"198.19.0.4\"]]"
rm -f "$T/ss"
V tracehop -P udp-paris --stop-set "$T/ss" -w 500ms -r 5000 -n 20 "$T/diamond.in" >"$T/out" 2>"$T/err"
jq -r '[.trace.hops[:-1][].ip] | . as $h | range(0; length - 1) | "\($h[.]) \($h[. + 1])"' "$T/out" |
    sort -u >"$T/pairs.ss"
same "--stop-set diamond: the same links as without, none false" \
    "$(comm -3 "$T/pairs.ss" "$T/pairs.diamond")" ""
check "--stop-set diamond: fewer probes than 6 a trace" \
    test "$(jq -s 'map(.trace.probes) | add' "$T/out")" -lt 1200

# A routing loop, added to this test's lab: r1 and r2b pass 198.19.250/24
# back and forth.
lab_exec r1 ip route add 198.19.250.0/24 via "$(addr r2b)"
lab_exec r2b ip route add 198.19.250.0/24 via \
    "$(lab_exec r2b ip -o route get "$LAB_VANTAGE_IP" | awk '{ print $3 }')"
echo 198.19.250.1 | V tracehop -w 300ms >"$T/out" 2>"$T/err"
same "a routing loop ends with stop loop at the first repeat" \
    "$(jq -c '[.trace.stop, [.trace.hops[].ip]]' "$T/out")" \
    "[\"loop\",[\"$(addr r1)\",\"$(addr r2b)\",\"$(addr r1)\"]]"

# An ordinary user with the file capability (as make install grants it):
# raw sockets, so tcp-paris works.
capdir=$(mktemp -d /tmp/hopmap-cap.XXXXXX)
cleanup_hooks+=("rm -rf $capdir")
chmod 755 "$capdir"
cp "$(command -v tracehop)" "$capdir/tracehop"
if setcap cap_net_raw+p "$capdir/tracehop" 2>/dev/null; then
	echo 198.19.1.3 | U "$capdir/tracehop" -P tcp-paris -w 300ms >"$T/out" 2>"$T/err"
	same "file capability, as nobody: tcp-paris over raw sockets" \
	    "$?:$(jq -c '[.trace.stop, .trace.hops[-1].tcp_flags]' "$T/out"):$(cat "$T/err")" \
	    '0:["completed","RA"]:'
else
	skip "file capability test: setcap failed here"
fi

# Multicast, broadcast and 0/8 are never traced: each line says why.
printf '%s\n' '{"ip":"224.0.0.5"}' 255.255.255.255 0.0.0.0 198.18.0.3 198.19.1.3 >"$T/refuse"
V tracehop -w 300ms "$T/refuse" >"$T/out" 2>"$T/err"
same "refused targets: exit 1, the good one traced" \
    "$?:$(jq -r '"\(.ip) \(.trace.stop)"' "$T/out")" "1:198.19.1.3 completed"
same "refused targets: one message a line" "$(sed "s|$T/||" "$T/err")" \
    "tracehop: refuse:1: 224.0.0.5 is a multicast address: not traced
tracehop: refuse:2: 255.255.255.255 is the broadcast address: not traced
tracehop: refuse:3: 0.0.0.0 is in 0.0.0.0/8 (this network): not traced
tracehop: refuse:4: 198.18.0.3 is the broadcast address of a subnet of ours: not traced"

# Root runs as nobody once the sockets are open; an ordinary user gets a
# probe a millisecond at most.
mkfifo "$T/tf"
ip netns exec "$LAB_VANTAGE" tracehop <"$T/tf" >/dev/null 2>&1 &
tp=$!
exec 9>"$T/tf"
for _ in $(seq 300); do
	grep -q '^NoNewPrivs:.*1' "/proc/$tp/status" 2>/dev/null && break
	sleep 0.05
done
same "root without --user: runs as nobody, nothing kept" \
    "$(grep -E '^(Uid|CapPrm|NoNewPrivs):' "/proc/$tp/status" | tr -s '\t ' ' ' | tr '\n' ';')" \
    "Uid: 65534 65534 65534 65534;CapPrm: 0000000000000000;NoNewPrivs: 1;"
exec 9>&-
wait "$tp"
mkdir -m 755 "$T/ro"
run V tracehop --stop-set "$T/ro/stop" </dev/null
same "root: a stop set where nobody may not write: opened before the switch, root's" \
    "$rc:$(cat "$T/err"):$(stat -c %U:%a "$T/ro/stop")" "0::root:644"
run U tracehop -P udp-paris -r 1001 </dev/null
same "ordinary user: --rate above 1000 refused" "$rc:$(cat "$T/err")" \
    "2:tracehop: rate value is too large for an ordinary user: 1001 (at most 1000; root may go faster)"

# Two runs at once see each other's replies: each keeps only its own.
seq 1 60 | sed 's/^/198.19.1./' >"$T/two.in"
V tracehop -w 300ms -r 600 -n 30 --metrics "$T/a.prom" "$T/two.in" >"$T/a.out" 2>"$T/a.err" &
pa=$!
V tracehop -w 300ms -r 600 -n 30 --metrics "$T/b.prom" "$T/two.in" >"$T/b.out" 2>"$T/b.err"
wait $pa
same "concurrent runs: exit 0, no stderr" "$?:$(cat "$T/a.err" "$T/b.err")" "0:"
for x in a b; do
	same "concurrent run $x: 60 exact traces" \
	    "$(jq -r '[.trace.hops[].ip] | .[:-1] | join(" ")' "$T/$x.out" | sort | uniq -c | tr -s ' ')" \
	    " 60 $(addr r1) $(addr r2a) $(addr r3a)"
done
check "concurrent runs: the other's replies counted as strays" \
    grep -q 'hopmap_replies_stray_total{program="tracehop"} [1-9]' "$T/a.prom"

# SIGTERM: stop reading, finish the trace under way, exit 0.
# (ip netns exec execs tracehop: $! is tracehop itself.)  The signal comes
# once the first line is read (after the drop, only input is read).
mkfifo "$T/sig"
ip netns exec "$LAB_VANTAGE" tracehop -w 300ms -g 3 <"$T/sig" >"$T/out" \
    2>"$T/err" &
pt=$!
exec 8>"$T/sig"
for _ in $(seq 300); do
	grep -q '^NoNewPrivs:.*1' "/proc/$pt/status" 2>/dev/null && break
	sleep 0.05
done
base=$(rchar_of "$pt")
echo 198.19.200.7 >&8
check "SIGTERM: the first line was read" wait_read "$pt" "$base" 13
kill -TERM "$pt"
echo 198.19.1.7 >&8
exec 8>&-
wait "$pt"
same "SIGTERM: exit 0, the running trace finished, nothing read after" \
    "$?:$(jq -c '[.ip, .trace.stop]' "$T/out")" '0:["198.19.200.7","gaplimit"]'

# The pipeline: icmpprobe | tracehop | sqlsink stores everything, traced
# or not (the blackholed targets fail their ping and pass through).
{ seq 1 5 | sed 's/^/198.19.1./'; seq 1 3 | sed 's/^/198.19.200./'; } >"$T/pipe.in"
V sh -c 'icmpprobe -t 300ms "$1" | tracehop -w 300ms | sqlsink "$2"' - \
    "$T/pipe.in" "$T/map.db" >"$T/out" 2>"$T/err"
same "pipeline: exit 0, no stderr" "$?:$(cat "$T/err")" "0:"
same "pipeline: 8 pings stored, 3 failed" \
    "$(sqlite3 "$T/map.db" "SELECT count(*), sum(ok = 0) FROM pings")" "8|3"
same "pipeline: the 5 answering targets traced to completion" \
    "$(sqlite3 "$T/map.db" "SELECT count(*), min(stop), max(stop), min(hop_count) FROM traces")" \
    "5|completed|completed|4"
same "pipeline: the failed pings stored untraced" \
    "$(sqlite3 "$T/map.db" "SELECT count(*) FROM pings WHERE ok = 0 AND json NOT LIKE '%\"trace\"%'")" 3

# The malformed-input corpus, inside the vantage point (its 1.2.3.x
# targets have no route there: they end "error" and nothing is sent).
corpus_bad "$T/c"
echo 198.19.0.3 >"$T/good"
corpus_mix "$T/good" "$T/c" >"$T/corpus.in"
V tracehop -w 300ms "$T/corpus.in" >"$T/out" 2>"$T/err"
same "corpus: exit 1" "$?" 1
check "corpus: no sanitizer report" no_sanitizer_report "$T/err"
check "corpus: every output line is JSON" jq . "$T/out" >/dev/null
same "corpus: the good target traced" "$(hoplist 198.19.0.3 "$T/out")" "$(paths 198.19.0.0/24 198.19.0.3)"
same "corpus: unroutable targets end in error, unsent" \
    "$(jq -r 'select(.ip | startswith("1.2.3.")) | [.trace.stop, .trace.probes, .trace.error] | join(" ")' "$T/out" | sort -u)" \
    "error 0 Network is unreachable"
check "corpus: diagnostics name file and line" grep -q "corpus.in:[0-9]*: " "$T/err"

# ---- a slow reader loses no hop (replies are read while output waits) ----
# 3000 one-hop traces to 127.1.x in a namespace of our own (the kernel
# answers each echo before sendto returns) into a FIFO nobody reads until
# tracehop is stuck in write(2) on standard output (/proc/PID/syscall
# "1 0x1 ...": before the fix mid-run, after it only at exit, every record
# written to memory) and that stall has outlasted the probes' wait.  Then
# we drain: every hop answered, none judged silent while its reply sat in
# the socket.
tb=hmtb$$
tbpid=''
tb_down() { kill $tbpid 2>/dev/null; ip netns del "$tb" 2>/dev/null; }
cleanup_hooks+=("tb_down")
ip netns add "$tb" && ip -n "$tb" link set lo up
tbn=3000
prips 127.1.0.0/16 | head -n "$tbn" >"$T/tb-targets"
rm -f "$T/tb-fifo" "$T/tb-metrics"
mkfifo "$T/tb-fifo"
ip netns exec "$tb" tracehop -w 100ms -r 50000 -n 1000 --metrics "$T/tb-metrics" \
    "$T/tb-targets" >"$T/tb-fifo" 2>"$T/tb-err" &
tbpid=$!
exec 3<"$T/tb-fifo"
tb_writing() { case $(cat "/proc/$tbpid/syscall" 2>/dev/null) in "1 0x1 "*) return 0;; esac; return 1; }
check "slow reader: tracehop ends up waiting in write(2) on its output" until_ok 60 tb_writing
# Still there 3 waits (100 ms each) later: any hop under way is past its
# deadline.  /proc/uptime ticks in hundredths of a second.
uptime_cs() { tr -d . </proc/uptime | cut -d' ' -f1; }
tb_since=$(uptime_cs)
tb_stalled() { [ "$(uptime_cs)" -ge $((tb_since + 30)) ]; }
until_ok 10 tb_stalled
check "slow reader: still waiting in write(2) past the probes' wait" tb_writing
cat <&3 >"$T/tb-out"
exec 3<&-
wait "$tbpid"
same "slow reader: exit 0" "$?" 0
same "slow reader: every target traced once" "$(jq -r .ip "$T/tb-out" | sort -u | wc -l)" "$tbn"
same "slow reader: every trace one hop, answered, none judged silent" \
    "$(jq -r '[.trace.stop, (.trace.hops | length), .trace.hops[0].ip == .ip] | join(" ")' "$T/tb-out" | sort | uniq -c | tr -s ' ')" \
    " $tbn completed 1 true"
check "slow reader: no sanitizer report" no_sanitizer_report "$T/tb-err"
# The symptom in the metrics: no late reply, none dropped, records waited
# in memory.
same "slow reader: metrics: no stray, no drop, records waited in memory" \
    "$(awk '/^hopmap_replies_stray_total/ { s = $2 }
        /^hopmap_replies_dropped_total/ { d = $2 }
        /^hopmap_output_queued_max_bytes/ { q = ($2 > 65536) }
        END { print s "," d "," q }' "$T/tb-metrics")" "0,0,1"

# ---- past 4 MiB of records waiting, no new record is taken ----
# 30000 targets (about 8 MB of records) into a FIFO nobody reads: once
# 4 MiB wait, tracehop takes no more, finishes the traces under way (1000
# at most, well under 1 MiB of records) and waits.  Its metrics file
# (written every 5 s, also while it waits) shows it there.
tbn=30000
prips 127.1.0.0/16 | head -n "$tbn" >"$T/tb2-targets"
rm -f "$T/tb2-fifo" "$T/tb2-metrics"
mkfifo "$T/tb2-fifo"
ip netns exec "$tb" tracehop -w 100ms -r 50000 -n 1000 --metrics "$T/tb2-metrics" \
    "$T/tb2-targets" >"$T/tb2-fifo" 2>"$T/tb2-err" &
tbpid=$!
exec 3<"$T/tb2-fifo"
tb_metric() { awk -v m="hopmap_$1" 'index($1, m "{") == 1 { print $2 }' "$T/tb2-metrics" 2>/dev/null; }
tb_held() { [ "$(tb_metric output_queued_max_bytes)" -ge 4194304 ] 2>/dev/null; }
check "4 MiB waiting: reached while nobody reads" until_ok 60 tb_held
# From then on nothing is read: the count is final.
same "4 MiB waiting: no more records taken (fewer than all read)" \
    "$(tb_metric records_in_total | awk -v n="$tbn" '{ print ($1 < n) }')" 1
cat <&3 >"$T/tb2-out"
exec 3<&-
wait "$tbpid"
same "4 MiB waiting: exit 0 once read" "$?" 0
same "4 MiB waiting: every target then traced, its hop answered" \
    "$(jq -r '[.trace.stop, (.trace.hops | length), .trace.hops[0].ip == .ip] | join(" ")' "$T/tb2-out" | sort | uniq -c | tr -s ' ')" \
    " $tbn completed 1 true"
same "4 MiB waiting: at most the traces under way past 4 MiB" \
    "$(tb_metric output_queued_max_bytes | awk '{ print ($1 < 4194304 + 1048576) }')" 1
check "4 MiB waiting: no sanitizer report" no_sanitizer_report "$T/tb2-err"
