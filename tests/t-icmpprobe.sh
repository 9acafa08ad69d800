# icmpprobe in the namespace lab (tests/lab/lab.sh) and on loopback: results,
# counts, matching, methods, privileges, bad input and every option.
# Needs root (namespaces); every probe stays in the lab or on 127/8.
. "$(dirname "$0")/lib.sh"
. "$HOPMAP_TOP/tests/lab/lab.sh"
# Started as root, the probers run as nobody once their sockets are open:
# the files they write (--metrics, --stop-set) must be writable by nobody.
chmod 1777 "$T"

lab=hmi$$
cleanup_hooks+=("lab_down $lab")
if ! lab_up "$lab" >"$T/lab.log" 2>&1; then
	echo "not ok - the lab comes up"
	cat "$T/lab.log"
	exit 1
fi
V() { ip netns exec "$LAB_VANTAGE" "$@"; }
# Run icmpprobe in the vantage namespace; outputs as with run.
vprobe() { run ip netns exec "$LAB_VANTAGE" icmpprobe "$@"; }
jqo() { jq -r "$@" "$T/out"; }
no_asan() { check "$1: no sanitizer report" no_sanitizer_report "$T/err"; }

# ---- every address of the answering /24s, none of the dark ones ----
{ prips 198.19.1.0/24; prips 198.19.3.0/24; prips 198.19.200.0/24; } \
    >"$T/lab-targets"
vprobe -t 300ms --rate 20000 -n lab "$T/lab-targets"
same "lab sweep: exit 0" "$rc" 0
same "lab sweep: nothing on stderr" "$(cat "$T/err")" ""
same "lab sweep: one record per target" "$(jqo .ip | sort | uniq | wc -l)" 768
same "lab sweep: every leaf address answers" \
    "$(jqo 'select(.ip | test("^198[.]19[.][13][.]")) | .ping.ok' | sort | uniq -c | tr -s ' ')" \
    " 512 true"
same "lab sweep: no blackholed address answers" \
    "$(jqo 'select(.ip | startswith("198.19.200.")) | .ping.ok' | sort | uniq -c | tr -s ' ')" \
    " 256 false"
same "lab sweep: RTTs positive and below the timeout" \
    "$(jqo 'select(.ping.ok) | .ping.rtt_ms > 0 and .ping.rtt_ms < 300' | sort -u)" true
same "lab sweep: reply TTL is 64 less the routers on the way back" \
    "$(jqo 'select(.ping.ok) | "\(.ip | split(".")[2]) \(.ping.reply_ttl)"' | sort -u | tr '\n' ' ')" \
    "1 61 3 59 "
same "lab sweep: unanswered records have no times" \
    "$(jqo 'select(.ping.ok | not) | [.ping.rtt_ms, .ping.reply_ttl, .ping.recv, .ping.sent] | tostring' | sort -u)" \
    "[null,null,0,1]"
same "lab sweep: --node names the vantage, ts is a UTC time" \
    "$(jqo '"\(.node) \(.ping.method) \(.ping.ts | test("^20[0-9-]{8}T[0-9:]{8}[.][0-9]{3}Z$"))"' | sort -u)" \
    "lab icmp true"
no_asan "lab sweep"

# ---- --count 3: three probes, three replies, three RTTs ----
printf '198.19.0.7\n198.19.2.9\n198.19.3.200\n198.19.200.1\n' >"$T/four"
vprobe -c 3 -p 20ms -t 300ms "$T/four"
same "--count 3: exit 0" "$rc" 0
same "--count 3: sent, recv and rtts per target" \
    "$(jqo '"\(.ip) \(.ping.sent) \(.ping.recv) \(.ping.rtts | length)"' | sort | tr '\n' ,)" \
    "198.19.0.7 3 3 3,198.19.2.9 3 3 3,198.19.200.1 3 0 0,198.19.3.200 3 3 3,"
same "--count 3: rtt_ms is the smallest of rtts" \
    "$(jqo 'select(.ping.ok) | .ping.rtt_ms == (.ping.rtts | min)' | sort -u)" true
no_asan "--count 3"

# ---- --alive writes only responders, and non-targets pass through ----
printf '198.19.1.1\n{"note":"hello"}\n198.19.200.2\n198.19.201.3\n198.19.2.4\n' \
    >"$T/in"
run ip netns exec "$LAB_VANTAGE" icmpprobe -a -t 200ms <"$T/in"
same "--alive: exit 0" "$rc" 0
same "--alive: only the responders, and the non-target" \
    "$(jq -c 'if .ip then .ip else . end' "$T/out" | sort | tr '\n' ' ')" \
    '"198.19.1.1" "198.19.2.4" {"note":"hello"} '
same "--alive: the non-target is reported" "$(cat "$T/err")" \
    'icmpprobe: (stdin):2: not a target (no "ip"), passed through'

# ---- a reply from another address is not counted ----
# r1 answers a ping to its link's broadcast address from its own address.
ip netns exec "$lab-r1" sysctl -qw net.ipv4.icmp_echo_ignore_broadcasts=0
echo 198.18.0.7 >"$T/in"
vprobe -t 300ms --metrics "$T/metrics" "$T/in"
same "reply from another address: not ok" "$(jqo .ping.ok)" false
same "reply from another address: counted as stray" \
    "$(grep -c '^hopmap_replies_stray_total{program="icmpprobe"} [1-9]' "$T/metrics")" 1

# ---- two probers at once: each counts only its own replies ----
prips 198.19.0.0/24 >"$T/l0"
V icmpprobe -c 2 -p 10ms --rate 5000 --metrics "$T/m1" "$T/l0" >"$T/o1" 2>"$T/e1" &
p1=$!
V icmpprobe -c 2 -p 10ms --rate 5000 --metrics "$T/m2" "$T/l0" >"$T/o2" 2>"$T/e2"
wait $p1
same "concurrent probers: each sees its own replies exactly" \
    "$(cat "$T/o1" "$T/o2" | jq -r '"\(.ping.sent)/\(.ping.recv)"' | sort | uniq -c | tr -s ' ')" \
    " 512 2/2"
same "concurrent probers: no duplicates counted" \
    "$(cat "$T/m1" "$T/m2" | grep -c '^hopmap_replies_dup_total.* 0$')" 2
check "concurrent probers: the other's replies were seen and refused" \
    grep -q '^hopmap_replies_stray_total.* [1-9]' "$T/m1" "$T/m2"

# ---- metrics ----
check "--metrics: counters written" grep -q \
    '^hopmap_probes_sent_total{program="icmpprobe"} 512$' "$T/m1"
check "--metrics: replies counted" grep -q \
    '^hopmap_replies_total{program="icmpprobe"} 512$' "$T/m1"

# ---- TCP: an open port answers SYN-ACK, a closed one RST ----
timeout 120 ip netns exec "$lab-l1" socat TCP-LISTEN:8080,fork,reuseaddr \
    /dev/null 2>/dev/null &
socat_pid=$!
cleanup_hooks+=("kill $socat_pid 2>/dev/null")
for _ in $(seq 600); do
	ip netns exec "$lab-l1" ss -Hltn 'sport = :8080' | grep -q . && break
	sleep 0.1
done
printf '198.19.1.10\n198.19.1.11\n198.19.200.5\n' >"$T/tcp"
vprobe -m tcp:8080 -t 300ms "$T/tcp"
same "tcp open port: exit 0" "$rc" 0
same "tcp open port: syn-ack from the listener, nothing from the dark" \
    "$(jqo '"\(.ip) \(.ping.method) \(.ping.port) \(.ping.ok) \(.ping.tcp)"' | sort | tr '\n' ,)" \
    "198.19.1.10 tcp 8080 true syn-ack,198.19.1.11 tcp 8080 true syn-ack,198.19.200.5 tcp 8080 false null,"
same "tcp open port: reply TTL" "$(jqo 'select(.ping.ok) | .ping.reply_ttl' | sort -u)" 61
# The kernel's reset is on its way: wait (bounded) for the queue to drain.
for _ in $(seq 600); do
	[ "$(ip netns exec "$lab-l1" ss -Htn state syn-recv | wc -l)" = 0 ] && break
	sleep 0.05
done
same "tcp open port: no half-open connection left" \
    "$(ip netns exec "$lab-l1" ss -Htn state syn-recv | wc -l)" 0
vprobe -m tcp:8081 -c 2 -p 10ms -t 300ms "$T/tcp"
same "tcp closed port: RST means alive" \
    "$(jqo '"\(.ip) \(.ping.ok) \(.ping.tcp) \(.ping.recv)"' | sort | tr '\n' ,)" \
    "198.19.1.10 true rst 2,198.19.1.11 true rst 2,198.19.200.5 false null 0,"
vprobe -m tcp -t 200ms "$T/tcp"
same "tcp default port is 80" "$(jqo '.ping.port' | sort -u)" 80
no_asan "tcp"
kill "$socat_pid" 2>/dev/null

# ---- UDP: port unreachable from the target means alive ----
printf '198.19.1.30\n198.19.3.31\n198.19.200.32\n198.19.201.33\n' >"$T/udp"
vprobe -m udp -c 2 -p 10ms -t 300ms --metrics "$T/mu" "$T/udp"
same "udp: exit 0" "$rc" 0
same "udp: leaves answer, dark and unreachable prefixes do not" \
    "$(jqo '"\(.ip) \(.ping.method) \(.ping.port) \(.ping.ok) \(.ping.recv)"' | sort | tr '\n' ,)" \
    "198.19.1.30 udp 33434 true 2,198.19.200.32 udp 33434 false 0,198.19.201.33 udp 33434 false 0,198.19.3.31 udp 33434 true 2,"
same "udp: the reply TTL of the port unreachable, as for ICMP (64 less the routers)" \
    "$(jqo 'select(.ping.ok) | "\(.ip) \(.ping.reply_ttl)"' | sort | tr '\n' ,)" "198.19.1.30 61,198.19.3.31 59,"
r3a=$(awk '$1 == "router" && $2 == "r3a" { sub("addr=", "", $3); print $3 }' "$LAB_TOPO")
same "udp: a router's host unreachable is reported as such, not as alive" \
    "$(jqo 'select(.ping.unreach) | "\(.ip) \(.ping.ok) \(.ping.unreach.code) \(.ping.unreach.from)"')" \
    "198.19.201.33 false 1 $r3a"
check "udp: the unreachables are counted, none as stray" \
    has_all "$T/mu" '^hopmap_replies_unreach_total{program="icmpprobe"} 2$' \
    '^hopmap_replies_stray_total{program="icmpprobe"} 0$'
no_asan "udp"
vprobe -t 300ms "$T/udp"
same "icmp: a router's host unreachable is reported, the dark prefix is silent" \
    "$(jqo '"\(.ip) \(.ping.ok) \(.ping.unreach.code) \(.ping.unreach.from)"' | sort | tr '\n' ,)" \
    "198.19.1.30 true null null,198.19.200.32 false null null,198.19.201.33 false 1 $r3a,198.19.3.31 true null null,"

# ---- loopback from the root namespace ----
printf '127.0.0.1\n{"ip":"127.5.6.7","src":"test","x":0.1}\n' >"$T/in"
run icmpprobe -c 2 -p 1ms --rate 100 <"$T/in"
same "loopback: exit 0" "$rc" 0
same "loopback: both answer" "$(jqo .ping.ok | sort -u)" true
same "loopback: other members pass unchanged (0.1 stays 0.1), ping last" \
    "$(grep -o '^{"ip":"127.5.6.7","src":"test","x":0.1,"id":"[^"]*","node":"[^"]*","ping":{' "$T/out" | wc -l)" 1
same "ids: made per record, unique, node:run:counter" \
    "$(jqo '.id' | sed 's/:[0-9a-f]\{16\}:/:R:/' | sort | tr '\n' ,)" \
    "$(hostname | tr -c 'A-Za-z0-9._\n-' _):R:1,$(hostname | tr -c 'A-Za-z0-9._\n-' _):R:2,"
echo '{"ip":"127.0.0.1","node":"mine","ping":{"old":1}}' >"$T/in"
run icmpprobe <"$T/in"
same "an existing node and ping are replaced: node is the prober's" \
    "$(jqo '"\(.node) \(.ping.old) \(.ping.ok)"')" "$(hostname) null true"

# ---- privileges ----
# The optimised binary (file capabilities and ASan do not mix) in a
# directory nobody can reach.
capdir=$(mktemp -d /tmp/hopmap-cap.XXXXXX)
cleanup_hooks+=("rm -rf $capdir")
chmod 755 "$capdir"
cp "$HOPMAP_OPT_BIN/icmpprobe" "$capdir/icmpprobe"
mkdir "$capdir/nocap"
cp "$HOPMAP_OPT_BIN/icmpprobe" "$capdir/nocap/icmpprobe"
chmod 755 "$capdir/nocap" "$capdir/icmpprobe" "$capdir/nocap/icmpprobe"
setcap cap_net_raw+p "$capdir/icmpprobe"
# Run in the vantage namespace as nobody, with no groups.
VN() {
	ip netns exec "$LAB_VANTAGE" setpriv --reuid=nobody --regid=nogroup \
	    --clear-groups "$@"
}
V sysctl -qw net.ipv4.ping_group_range="1 0"

printf '198.19.1.20\n198.19.3.21\n' >"$T/two"
run VN "$capdir/icmpprobe" -t 300ms <"$T/two"
same "file capability as nobody: exit 0" "$rc" 0
same "file capability as nobody: both answer" "$(jqo .ping.ok | sort -u)" true
run VN "$capdir/icmpprobe" -m tcp:8081 -t 300ms <"$T/two"
same "file capability as nobody: raw TCP works too" "$(jqo .ping.tcp | sort -u)" rst

# Capabilities of a running prober: none once the socket is open.  Waits
# (bounded) for no_new_privs, the drop's last step, not for a fixed time.
status_of() {	# status_of FIFO CMD...: /proc status of CMD reading FIFO
	local fifo=$1 pid
	shift
	mkfifo "$fifo"
	"$@" <"$fifo" >/dev/null 2>&1 &
	pid=$!
	exec 9>"$fifo"
	for _ in $(seq 300); do
		grep -q '^NoNewPrivs:.*1' "/proc/$pid/status" 2>/dev/null && break
		sleep 0.05
	done
	grep -E '^(Uid|Gid|Groups|CapPrm|CapEff|NoNewPrivs):' "/proc/$pid/status" |
	    tr -s '\t ' ' ' | sed 's/ $//' | tr '\n' ';'
	exec 9>&-
	wait "$pid"
}
nobody="Uid: 65534 65534 65534 65534;Gid: 65534 65534 65534 65534;Groups: 65534;CapPrm: 0000000000000000;CapEff: 0000000000000000;NoNewPrivs: 1;"
same "file capability: nothing kept once the socket is open" \
    "$(status_of "$T/f1" ip netns exec "$LAB_VANTAGE" setpriv --reuid=nobody \
    --regid=nogroup --clear-groups "$capdir/icmpprobe")" \
    "${nobody/Groups: 65534/Groups:}"
same "root without --user: runs as nobody, groups too, nothing kept" \
    "$(status_of "$T/f2" icmpprobe)" "$nobody"
same "--user nobody: switched and nothing kept" \
    "$(status_of "$T/f3" icmpprobe --user nobody)" "$nobody"
run icmpprobe --user root </dev/null
same "--user root: refused, exit 3" "$rc:$(cat "$T/err")" \
    "3:icmpprobe: --user: refusing to run as root"
# Files named on the command line are opened before the switch (root named
# them); what it writes afterwards is written as nobody.
mkdir -m 700 "$T/private"
echo 127.0.0.1 >"$T/private/t"
run icmpprobe "$T/private/t"
same "root: an input file only root can read is opened before the switch" \
    "$rc:$(jqo .ping.ok)" "0:true"
run icmpprobe --metrics "$T/private/m.prom" "$T/private/t"
same "root: a metrics file nobody may not write: exit 3 at the start, says so" \
    "$rc:$(cat "$T/out"):$(cat "$T/err")" \
    "3::icmpprobe: cannot write the metrics file $T/private/m.prom: Permission denied"
run icmpprobe --metrics "$T/m-root.prom" "$T/private/t"
same "root: the metrics file is nobody's" "$rc:$(stat -c %U "$T/m-root.prom")" "0:nobody"

# Installed setuid root: back to the real user once the socket is open, so
# no file is read or written as root.
mkdir "$capdir/suid"
cp "$HOPMAP_OPT_BIN/icmpprobe" "$capdir/suid/icmpprobe"
chmod 4755 "$capdir/suid/icmpprobe"
chmod 755 "$capdir/suid"
run VN "$capdir/suid/icmpprobe" --metrics "$T/m-suid.prom" -t 300ms <"$T/two"
same "setuid root, run by nobody: probes over the raw socket" \
    "$rc:$(jqo .ping.ok | sort -u)" "0:true"
same "setuid root, run by nobody: the metrics file is nobody's, not root's" \
    "$(stat -c %U "$T/m-suid.prom")" nobody
echo 198.19.1.20 >"$T/private/t2"
run VN "$capdir/suid/icmpprobe" "$T/private/t2"
same "setuid root, run by nobody: a root-only file cannot be read as input" \
    "$rc:$(cat "$T/out"):$(cat "$T/err")" \
    "1::icmpprobe: $T/private/t2: Permission denied"
same "setuid root, run by nobody: nobody's ids and nothing kept while running" \
    "$(status_of "$T/f4" ip netns exec "$LAB_VANTAGE" setpriv --reuid=nobody \
    --regid=nogroup --clear-groups "$capdir/suid/icmpprobe")" \
    "${nobody/Groups: 65534/Groups:}"

# An ordinary user gets fping's limits; root does not.
run VN "$capdir/icmpprobe" --rate 1001 </dev/null
same "ordinary user: --rate above 1000 refused" "$rc:$(cat "$T/err")" \
    "2:icmpprobe: rate value is too large for an ordinary user: 1001 (at most 1000; root may go faster)"
run VN "$capdir/icmpprobe" -c 2 -p 9ms </dev/null
same "ordinary user: --interval under 10ms refused" "$rc:$(cat "$T/err")" \
    "2:icmpprobe: interval value is too small for an ordinary user: 9ms (at least 10ms; root may go faster)"
run VN "$capdir/icmpprobe" -c 2 -p 10ms --rate 1000 -t 300ms <"$T/two"
same "ordinary user: at the limits, probes" "$rc:$(jqo .ping.recv | sort -u)" "0:2"
run VN "$capdir/nocap/icmpprobe" -m udp --rate 5000 </dev/null
same "ordinary user: the limits hold for udp (no privilege) too" "$rc" 2
echo 127.0.0.1 >"$T/in"
run icmpprobe -u nobody <"$T/in"
same "--user nobody: probes" "$rc:$(jqo .ping.ok)" "0:true"
run icmpprobe -u no-such-user-here <"$T/in"
same "--user unknown: exit 3" "$rc" 3
same "--user unknown: says so" "$(cat "$T/err")" \
    "icmpprobe: --user: no such user: no-such-user-here"
run VN "$capdir/icmpprobe" -u nobody </dev/null
same "--user without root: exit 3" "$rc:$(cat "$T/err")" \
    "3:icmpprobe: --user needs to be started as root"

# Without the capability: the datagram socket where ping_group_range allows.
V sysctl -qw net.ipv4.ping_group_range="0 2147483647"
run VN "$capdir/nocap/icmpprobe" -c 2 -p 10ms -t 300ms <"$T/two"
same "no capability, ping_group_range allows: exit 0" "$rc" 0
same "no capability, ping_group_range allows: datagram socket answers" \
    "$(jqo '"\(.ping.ok) \(.ping.recv) \(.ping.reply_ttl > 50)"' | sort -u)" "true 2 true"
run VN "$capdir/nocap/icmpprobe" -m udp:33435 -t 300ms <"$T/two"
same "no capability: udp needs none" "$rc:$(jqo .ping.ok | sort -u)" "0:true"
run VN "$capdir/nocap/icmpprobe" -m tcp <"$T/two"
same "no capability, tcp: exit 3" "$rc" 3
same "no capability, tcp: says what is missing" "$(cat "$T/err")" \
    "icmpprobe: --method tcp needs CAP_NET_RAW (run as root or grant cap_net_raw+p)"
V sysctl -qw net.ipv4.ping_group_range="1 0"
run VN "$capdir/nocap/icmpprobe" <"$T/two"
same "no capability, no ping_group_range: exit 3, nothing written" \
    "$rc:$(cat "$T/out")" "3:"
check "no capability, no ping_group_range: says what is missing" grep -q \
    '^icmpprobe: no CAP_NET_RAW for a raw socket, and net.ipv4.ping_group_range does not include our group' "$T/err"

# ---- bad input ----
printf '%s\n' '127.0.0.1' 'not an address' '::1' '{"ip":"2001:db8::1"}' \
    '{"ip":"127.0.0.300"}' '{"ip":42}' '{broken' '' '127.0.0.2' >"$T/bad"
run icmpprobe "$T/bad"
same "bad lines: exit 1" "$rc" 1
same "bad lines: the good ones are probed" "$(jqo .ip | sort | tr '\n' ' ')" \
    "127.0.0.1 127.0.0.2 "
same "bad lines: each reported with file and line" \
    "$(sed "s|$T/||" "$T/err" | cut -d: -f1-3 | tr '\n' ,)" \
    "icmpprobe: bad:2,icmpprobe: bad:3,icmpprobe: bad:4,icmpprobe: bad:5,icmpprobe: bad:6,icmpprobe: bad:7,"
check "bad lines: IPv6 is named" grep -q 'bad:3: IPv6' "$T/err"
no_asan "bad lines"
run icmpprobe --strict "$T/bad"
same "--strict: exit 1 at the first bad line" "$rc:$(jqo .ip)" "1:127.0.0.1"
printf '{"ip":"127.0.0.1","pad":"%s"}\n127.0.0.3\n' \
    "$(head -c 300 /dev/zero | tr '\0' x)" >"$T/in"
run icmpprobe --max-line 100 <"$T/in"
same "--max-line: the long line skipped" "$rc:$(jqo .ip)" "1:127.0.0.3"
check "--max-line: reported" grep -q 'line too long' "$T/err"

# ---- 2>&1 into a full pipe: a diagnostic waits, it is not lost ----
# stderr shares stdout's pipe (one open file).  The pipe is filled first,
# the reader reads only once icmpprobe is in write(2) on fd 2 or gone: with
# O_NONBLOCK on fd 1 (so on fd 2 too) the message failed with EAGAIN.
printf '%s\n' 127.0.0.1 'not an address' >"$T/nb-in"
rm -f "$T/nb-pid"
nb_stuck() {
	nbpid=$(cat "$T/nb-pid" 2>/dev/null) && test -n "$nbpid" &&
	    case $(cat "/proc/$nbpid/syscall" 2>/dev/null) in
	    "1 0x2 "*|'') true;; *) false;; esac
}
{ head -c 65536 /dev/zero | tr '\0' x
  sh -c 'echo $$ >"$1"; exec icmpprobe -t 300ms "$2"' sh "$T/nb-pid" "$T/nb-in"
  echo "rc=$?"; } 2>&1 |
    { until_ok 20 nb_stuck; cat; } >"$T/nb-out"
same "2>&1, full pipe: the diagnostic is written, the result too, exit 1" \
    "$(tr -d x <"$T/nb-out" | grep -c -e '^icmpprobe: .*nb-in:2: ' \
        -e '"ip":"127.0.0.1"' -e '^rc=1$')" 3

# ---- targets never probed: multicast, broadcast, 0/8 ----
# 198.18.0.3: the broadcast address of the vantage's own /30.
printf '%s\n' 198.19.1.40 224.0.0.1 '{"ip":"239.1.2.3"}' 255.255.255.255 \
    0.0.0.0 0.1.2.3 198.18.0.3 198.19.1.41 >"$T/refuse"
vprobe -t 300ms "$T/refuse"
same "refused targets: exit 1, the good ones around them probed" \
    "$rc:$(jqo '"\(.ip) \(.ping.ok)"' | sort | tr '\n' ,)" \
    "1:198.19.1.40 true,198.19.1.41 true,"
same "refused targets: one message a line, saying why" \
    "$(sed "s|$T/||" "$T/err")" \
    "icmpprobe: refuse:2: 224.0.0.1 is a multicast address: not probed
icmpprobe: refuse:3: 239.1.2.3 is a multicast address: not probed
icmpprobe: refuse:4: 255.255.255.255 is the broadcast address: not probed
icmpprobe: refuse:5: 0.0.0.0 is in 0.0.0.0/8 (this network): not probed
icmpprobe: refuse:6: 0.1.2.3 is in 0.0.0.0/8 (this network): not probed
icmpprobe: refuse:7: 198.18.0.3 is the broadcast address of a subnet of ours: not probed"
vprobe -m udp -t 300ms "$T/refuse"
same "refused targets: whatever the method" "$rc:$(jqo .ip | wc -l)" "1:2"

# ---- the other options ----
prips 127.2.0.0/26 >"$T/lo64"
run icmpprobe -w 1 --rate 5000 -t 100ms "$T/lo64"
same "--window 1: every target still probed" \
    "$(jqo '.ping.ok' | sort | uniq -c | tr -s ' ')" " 64 true"
run icmpprobe --rate 2000 --timeout 50ms --interval 5ms --count 2 --method icmp \
    --window 10 --alive --node n1 "$T/lo64"
same "long options" "$rc:$(jqo '"\(.node) \(.ping.recv)"' | sort | uniq -c | tr -s ' ')" \
    "0: 64 n1 2"
for bad in "-c 0" "-c 101" "--rate 0" "-r 100" "-r 1 -c 2" "-i 0" "-i 2s" "-p 2h" "-t 0" "-w 0" "-m sctp" "-m tcp:0" \
    "-m tcp:65536" "-m udp:x" "-m icmp:1" "-i 2h" "-t xyz"; do
	# shellcheck disable=SC2086
	run icmpprobe $bad </dev/null
	same "usage error $bad: exit 2, message" \
	    "$rc:$(grep -c '^icmpprobe: ' "$T/err")" "2:1"
done

# ---- fping's letters and units: a bare number after -i, -p, -t is ms ----
printf '198.19.1.9\n198.19.200.9\n' >"$T/retry"
vprobe -r 2 -t 100 "$T/retry"
same "-r 2 (fping's retries): one probe for the live one, three for the dark" \
    "$rc:$(jqo '"\(.ip) \(.ping.ok) \(.ping.sent)"' | sort | tr '\n' ,)" \
    "0:198.19.1.9 true 1,198.19.200.9 false 3,"
echo 127.0.0.1 >"$T/one"
run icmpprobe -t 3601 "$T/one"
same "-t 3601 is 3.601 s (fping's ms), not above the 1 h limit" \
    "$rc:$(jqo .ping.ok)" "0:true"
run icmpprobe -t 3600001 </dev/null
same "-t 3600001 (ms) is above 1 h: exit 2" "$rc" 2
run icmpprobe --timeout 3601 </dev/null
same "--timeout 3601: a long option's bare number is still seconds" "$rc" 2
# Silent for 200 (ms): over in well under the minute's bound, where 200
# seconds would be cut off (124).
printf '198.19.200.9\n' >"$T/dark1"
run timeout 60 ip netns exec "$LAB_VANTAGE" icmpprobe -t 200 "$T/dark1"
same "-t 200: 200 ms for a silent target" "$rc:$(jqo .ping.ok)" "0:false"
run icmpprobe -c 2 -p 1 -i 1 "$T/lo64"
same "-c 2 -p 1 -i 1: every target probed twice" \
    "$rc:$(jqo .ping.sent | sort | uniq -c | tr -s ' ')" "0: 64 2"
printf '{"x":1}\n127.0.0.1\n' >"$T/other"
run icmpprobe -t 300 "$T/other"
check "without -q: a record passed through is warned about" grep -q 'not a target' "$T/err"
run icmpprobe -q -t 300 "$T/other"
same "-q: passed through without a word" "$rc:$(cat "$T/err"):$(wc -l <"$T/out")" "0::2"

# ---- -s: fping's summary at exit; --progress: one line, not into files ----
vprobe -s -t 300 "$T/udp"
same "-s: exit 0, records on stdout" "$rc:$(wc -l <"$T/out")" "0:4"
check "-s: targets, alive, unreachable and why, probes, replies, RTTs, time, rate" \
    has_all "$T/err" '^icmpprobe: 4 targets$' '^icmpprobe: 2 alive$' \
    '^icmpprobe: 2 unreachable$' '^icmpprobe:   1 no reply$' \
    '^icmpprobe:   1 host unreachable (ICMP code 1)$' \
    '^icmpprobe: 4 probes sent$' '^icmpprobe: 2 replies$' \
    '^icmpprobe: [0-9.]* / [0-9.]* / [0-9.]* ms (min / avg / max round trip)$' \
    '^icmpprobe: [0-9.]* s elapsed$'
check "-s: no progress line when standard error is not a terminal" \
    sh -c "! grep -q 'in flight' '$T/err'"
vprobe -t 300 "$T/udp"
same "without -s or --progress, not a terminal: nothing on stderr" "$(cat "$T/err")" ""
vprobe --progress -t 300 "$T/udp"
check "--progress into a file: progress lines, the last one final" \
    grep -q '^icmpprobe: 4 targets, 4 done, 2 alive, 0 in flight, 4 probes, [0-9.]* s$' "$T/err"
check "--progress: no terminal escapes into a file" sh -c "! grep -q \"\$(printf '\\033')\" '$T/err'"
no_asan "-s and --progress"

# ---- records stream out as targets finish, before the input ends ----
mkfifo "$T/slow"
ip netns exec "$LAB_VANTAGE" icmpprobe -t 1s <"$T/slow" >"$T/stream" \
    2>"$T/stream.err" &
sp=$!
exec 8>"$T/slow"
echo 198.19.1.77 >&8
for _ in $(seq 600); do [ -s "$T/stream" ] && break; sleep 0.1; done
same "streaming: the first record is out while the input is open" \
    "$(jq -r '"\(.ip) \(.ping.ok)"' "$T/stream")" "198.19.1.77 true"
# SIGTERM: read no more, let the target in flight finish, exit 0.
base=$(rchar_of "$sp")
echo 198.19.200.77 >&8
check "SIGTERM: the second target was read" wait_read "$sp" "$base" 14
kill -TERM "$sp"
echo 198.19.1.78 >&8
exec 8>&-
wait "$sp"
same "SIGTERM: exit 0" "$?" 0
same "SIGTERM: the target in flight finished, nothing more read" \
    "$(jq -r '"\(.ip) \(.ping.ok)"' "$T/stream" | tr '\n' ,)" \
    "198.19.1.77 true,198.19.200.77 false,"
check "SIGTERM: no sanitizer report" no_sanitizer_report "$T/stream.err"

# ---- a named pipe as the input file (regression: it waited on stdin) ----
# Both orders, each made by an event (the other side blocked in its open,
# /proc/PID/wchan), not by a sleep: the reader first, and the writer first
# (the files opened ahead while root let a waiting writer go on into a pipe
# closed again: the line lost, and icmpprobe waiting for another writer).
in_fifo_open() { # PID: a child of PID (under timeout) waits in its open
	local c
	for c in $(pgrep -P "$1"); do
		case $(cat "/proc/$c/wchan" 2>/dev/null) in
		wait_for_partner | fifo_open) return 0 ;;
		esac
	done
	return 1
}
mkfifo "$T/named"
timeout 20 icmpprobe "$T/named" </dev/null >"$T/out" 2>"$T/err" &
tp=$!
until_ok 30 in_fifo_open "$tp" ||
    skip "named pipe input: icmpprobe not seen in its open (no wchan here)"
timeout 30 sh -c 'echo 127.0.0.1 >"$1"' sh "$T/named"
wait "$tp"
rc=$?
same "named pipe input, the reader first: probed" "$rc:$(jqo .ping.ok)" "0:true"
timeout 30 sh -c 'echo 127.0.0.1 >"$1"' sh "$T/named" &
wp=$!
until_ok 30 in_fifo_open "$wp" ||
    skip "named pipe input: the writer not seen in its open (no wchan here)"
run timeout 20 icmpprobe "$T/named" </dev/null
same "named pipe input, the writer first: probed" "$rc:$(jqo .ping.ok)" "0:true"
kill "$wp" 2>/dev/null
wait "$wp" 2>/dev/null

# ---- output that fails ----
icmpprobe --rate 100000 "$T/lo64" >/dev/full 2>"$T/err"
rc=$?
same "output to a full disk: exit 3" "$rc" 3
check "output to a full disk: says so" grep -q '^icmpprobe: standard output: No space left on device$' "$T/err"

# ---- the metrics file: atomic, safe in a shared directory, well formed ----
# A world-writable sticky directory, as /tmp is: anyone may plant names.
mkdir -m 1777 "$T/pub"
echo precious >"$T/victim"
mkfifo "$T/mfifo"
icmpprobe --metrics "$T/pub/m.prom" <"$T/mfifo" >"$T/mout" 2>"$T/merr" &
mp=$!
# The old temporary name was PATH.tmp.PID: plant a symlink there.
ln -s "$T/victim" "$T/pub/m.prom.tmp.$mp"
echo 127.0.0.1 >"$T/mfifo"
wait "$mp"
same "metrics: a symlink planted at the temporary name is not followed" \
    "$(cat "$T/victim")" precious
check "metrics: the file is a new regular file with the counters" \
    test -f "$T/pub/m.prom" -a ! -L "$T/pub/m.prom" -a \
    "$(grep -c '^hopmap_replies_total{program="icmpprobe"} 1$' "$T/pub/m.prom")" = 1
same "metrics: only the planted name is left beside it" \
    "$(cd "$T/pub" && ls)" "$(printf 'm.prom\nm.prom.tmp.%s' "$mp")"
for u in 077 000; do
	(umask "$u"; icmpprobe --metrics "$T/pub/u$u.prom" <"$T/mout" >/dev/null 2>&1)
	same "metrics: mode 644 whatever the umask ($u)" \
	    "$(stat -c %a "$T/pub/u$u.prom")" 644
done
# Label values escaped (\\, \", \n): a program name with all three.
odd=$(printf 'ic"mp\\ro\nbe')
ln -s "$(command -v icmpprobe)" "$T/$odd"
echo 127.0.0.1 | "$T/$odd" --metrics "$T/pub/odd.prom" >/dev/null 2>&1
# The text format, strictly: comments, and samples whose one label value
# holds only escaped backslashes, quotes and newlines.
prom_ok() {
	awk '
	/^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* / { next }
	/^[a-zA-Z_:][a-zA-Z0-9_:]*\{program="([^"\\]|\\[\\"n])*"\} [0-9]+$/ { n++; next }
	{ bad = 1 }
	END { exit bad || n == 0 }' "$1"
}
check "metrics: a name with a quote, a backslash and a newline is escaped" \
    prom_ok "$T/pub/odd.prom"
same "metrics: the escaped name" \
    "$(grep -c '^hopmap_replies_total{program="ic\\"mp\\\\ro\\nbe"} 1$' "$T/pub/odd.prom")" 1
check "metrics: a plain file passes the same check" prom_ok "$T/pub/m.prom"
if command -v promtool >/dev/null; then
	check "metrics: promtool accepts the escaped file" \
	    promtool check metrics <"$T/pub/odd.prom"
else
	skip "promtool not installed (make deps installs prometheus)"
fi

# ---- regressions, one per bug found ----
# udp lost targets: an ICMP error from one target stayed pending on the
# socket (IP_RECVERR) and the next sendto(), to another target, failed with
# it; that probe was lost while "sent" counted it.  On loopback the port
# unreachable is queued before sendto() returns, so with the rate lifted
# every batch of sends meets a pending error, on any machine.  A namespace
# of our own: only loopback, and an unreachable route the kernel refuses.
pns=hmprb$$
ip netns add "$pns"
cleanup_hooks+=("ip netns del $pns")
ip -n "$pns" link set lo up
ip -n "$pns" route add unreachable 10.9.0.0/16
{ prips 127.0.0.0/27 | sed 1d; echo 10.9.0.1; } >"$T/lo31"
run ip netns exec "$pns" icmpprobe -m udp -c 2 -p 1ms --rate 10000000 -t 300ms \
    --metrics "$T/m-pend" "$T/lo31"
same "regression: udp: a pending error from another target loses no probe" \
    "$(jqo 'select(.ip | startswith("127.")) | "\(.ping.ok) \(.ping.sent) \(.ping.recv)"' | sort | uniq -c | tr -s ' ')" \
    " 31 true 2 2"
same "regression: udp: a probe the kernel refused says so, and is not sent" \
    "$(jqo 'select(.ip == "10.9.0.1") | "\(.ping.ok) \(.ping.sent) \(.ping.error)"')" \
    "false 0 No route to host"
check "regression: udp: only the refused probes are send errors" \
    grep -q '^hopmap_send_errors_total{program="icmpprobe"} 2$' "$T/m-pend"
no_asan "regression: udp pending error"
run ip netns exec "$pns" icmpprobe -c 2 -p 1ms --rate 10000000 -t 300ms "$T/lo31"
same "icmp: a refused probe says so, the others answer" \
    "$(jqo '"\(.ping.ok) \(.ping.sent) \(.ping.recv) \(.ping.error)"' | sort | uniq -c | tr -s ' ' | tr '\n' ,)" \
    " 1 false 0 0 No route to host, 31 true 2 2 null,"
# It waited forever once the last target had finished.
echo 127.0.0.1 >"$T/in"
run timeout 20 icmpprobe <"$T/in"
same "regression: exits when the last target finishes" "$rc:$(jqo .ping.ok)" "0:true"
# The final metrics read the engine's counters after it was freed.
run icmpprobe --metrics "$T/m-uaf" <"$T/in"
same "regression: final metrics after the engine (no use after free)" \
    "$rc:$(grep -c '^hopmap_replies_total{program="icmpprobe"} 1$' "$T/m-uaf")" "0:1"
no_asan "regression: final metrics"

# ---- a slow reader loses no result (the socket is read while output waits) ----
# The kernel's echo is off in a namespace of our own; tests/lab/echo-hold.py
# answers every target at once, only when all were probed.  Our reader opens
# the FIFO but reads nothing until the burst is over and icmpprobe has
# either written every result or is stuck in write(2) on standard output.
if ! command -v python3 >/dev/null; then
	skip "slow reader: no python3 for the echo responder"
else
	bp=hmbp$$
	bppid='' bppy=''
	bp_down() { kill $bppid $bppy 2>/dev/null; ip netns del "$bp" 2>/dev/null; }
	cleanup_hooks+=("bp_down")
	ip netns add "$bp" && ip -n "$bp" link set lo up &&
	    ip netns exec "$bp" sysctl -qw net.ipv4.icmp_echo_ignore_all=1
	bpn=30000
	prips 127.1.0.0/16 | head -n "$bpn" >"$T/bp-targets"
	rm -f "$T/bp-done" "$T/bp-done.ready" "$T/bp-fifo"
	mkfifo "$T/bp-fifo"
	ip netns exec "$bp" timeout 90 python3 "$HOPMAP_TOP/tests/lab/echo-hold.py" \
	    "$bpn" "$T/bp-done" 2>"$T/bp-py.err" &
	bppy=$!
	until_ok 20 test -e "$T/bp-done.ready"
	ip netns exec "$bp" icmpprobe -t 10s --rate 50000 --metrics "$T/bp-metrics" \
	    "$T/bp-targets" >"$T/bp-fifo" 2>"$T/bp-err" &
	bppid=$!
	exec 3<"$T/bp-fifo"
	# In write(2) on fd 1 (/proc/PID/syscall: "1 0x1 ..."), or all answered.
	bp_writing() { case $(cat "/proc/$bppid/syscall" 2>/dev/null) in "1 0x1 "*) return 0;; esac; return 1; }
	bp_answered() { grep -q "^hopmap_replies_total{program=\"icmpprobe\"} $bpn\$" "$T/bp-metrics" 2>/dev/null; }
	bp_settled() { test -e "$T/bp-done" && { bp_writing || bp_answered; }; }
	check "slow reader: the burst is answered and icmpprobe settles" until_ok 60 bp_settled
	# Replies the kernel dropped for a full receive buffer: /proc/net/raw's drops.
	bpdrops=$(ip netns exec "$bp" awk 'NR > 1 { d += $NF } END { print d + 0 }' /proc/net/raw)
	cat <&3 >"$T/bp-out"
	exec 3<&-
	wait "$bppid"
	same "slow reader: exit 0" "$?" 0
	wait "$bppy"
	same "slow reader: no reply dropped by the kernel" "$bpdrops" 0
	same "slow reader: every target alive" \
	    "$(jq -r .ping.ok "$T/bp-out" | sort | uniq -c | tr -s ' ')" " $bpn true"
	check "slow reader: no sanitizer report" no_sanitizer_report "$T/bp-err"
	# The symptom in the metrics: results waited in memory, none dropped.
	same "slow reader: metrics: no drop, results waited in memory" \
	    "$(awk '/^hopmap_replies_dropped_total/ { d = $2 }
	        /^hopmap_output_queued_max_bytes/ { q = ($2 > 65536) }
	        END { print d "," q }' "$T/bp-metrics")" "0,1"
fi
