#!/usr/bin/env bash
# A worker behind NAT (issue 10): the lab's worker namespace sits behind a
# NAT router namespace (nftables masquerade), the hub has no route to it,
# and the worker's results reach the hub only through the gateway, over
# HTTP with curl (hopmap-ship send URL --key, hopmap-worker --gateway).
# Every result is stored once, through a restart of the hub's daemon and a
# cut link.  Everything stays inside the lab's namespaces.
. "$(dirname "$0")/lib.sh"
. "$HOPMAP_TOP/tests/lab/lab.sh"

lab=hmn$$
lab_nat_up "$lab"

# ---- the NAT lab: the worker reaches out, nobody reaches in ----
same "lab: the worker's one route leads into the lab through the NAT router" \
    "$(ip -n "$workerns" route show | grep -v 'scope link' | tr -s ' ')" \
    "198.18.0.0/15 via 100.64.0.1 dev to-nat "
same "lab: the worker reaches the hub and a target" \
    "$(ip netns exec "$workerns" fping -t 500 -r 3 "$LAB_HUB_IP" 198.19.1.5 2>&1)" \
    "$LAB_HUB_IP is alive
198.19.1.5 is alive"
for n in hub r1; do
	check "lab: $n has no way to the worker's address" \
	    bash -c "! ip netns exec $lab-$n fping -t 300 -r 0 $LAB_NAT_WORKER_IP >/dev/null 2>&1"
done
check "lab: no namespace has a route to the worker's network" \
    bash -c "! for ns in \$(ip netns list | awk '{ print \$1 }' | grep '^$lab-' | grep -v -e '-w\$' -e '-nat\$'); do ip -n \$ns route get $LAB_NAT_WORKER_IP 2>/dev/null; done | grep -q ."
# A connection from the worker arrives from the NAT router's outside address.
ip netns exec "$hubns" timeout 10 socat TCP-LISTEN:25001,bind="$LAB_HUB_IP" \
    SYSTEM:'echo $SOCAT_PEERADDR' 2>/dev/null &
lpid=$!
until_ok 10 ip netns exec "$hubns" sh -c "ss -Hltn 'sport = :25001' | grep -q ."
same "lab: the hub sees the worker as the NAT router's address" \
    "$(ip netns exec "$workerns" socat -T 5 - "TCP:$LAB_HUB_IP:25001" </dev/null)" "$LAB_NAT_IP"
wait "$lpid"
lab_nat_cut
check "lab: a cut link carries nothing" \
    bash -c "! ip netns exec $workerns fping -t 300 -r 0 $LAB_HUB_IP >/dev/null 2>&1"
lab_nat_restore
check "lab: a restored link carries again" \
    ip netns exec "$workerns" fping -t 500 -r 3 -q "$LAB_HUB_IP"

# ---- the hub: its sink (hopmap-hub serve, no listener) and its gateway ----
q() { sqlite3 -cmd '.timeout 5000' "$@"; }
hub=$T/hub
db=$hub/map.db
port=25443
url=http://$LAB_HUB_IP:$port
mkdir -p "$hub"
# --hops-every 0: the worker's targets are exactly the ones posted below,
# not also the hops of its own traces (t-gateway-ops tests those).
start_sink() {
	ip netns exec "$hubns" hopmap-hub serve -d "$hub" --sink-args '-i 100ms' \
	    --hops-every 0 2>>"$T/serve.err" &
	sinkpid=$!
	until_ok 60 test -S "$hub/sink.sock"
}
stop_sink() { kill "$sinkpid"; wait "$sinkpid"; }
# The gateway listens on the hub's lab address: plain HTTP beyond the
# loopback (--insecure; https:// is tested at the end), with the lab's
# special-purpose ranges kept (--allow-reserved): HUB/ranges/lab.txt.
mkdir -p "$hub/ranges"
echo 198.19.2.16/29 >"$hub/ranges/lab.txt"
start_httpd() {
	ip netns exec "$hubns" hopmap-httpd -l "$LAB_HUB_IP:$port" --hub "$hub" \
	    --insecure --allow-reserved 2>>"$T/httpd.err" &
	httpdpid=$!
	until_ok 60 ip netns exec "$hubns" sh -c "ss -Hltn 'sport = :$port' | grep -q ."
}
stop_httpd() { kill "$httpdpid"; wait "$httpdpid"; }
start_sink
cleanup_hooks+=('kill $sinkpid 2>/dev/null; wait $sinkpid 2>/dev/null')
hopmap-httpd key add -d "$hub" w >"$T/w.key" 2>>"$T/keys.err"
hopmap-httpd key add -d "$hub" ops >"$T/ops.key" 2>>"$T/keys.err"
key=$(cat "$T/w.key")
check "keys: one made for the worker behind NAT" test -n "$key"
start_httpd
cleanup_hooks+=('kill $httpdpid 2>/dev/null; wait $httpdpid 2>/dev/null')
inw() { ip netns exec "$workerns" "$@"; }

# ---- hopmap-ship send URL: usage ----
mkdir -p "$T/sp"
run hopmap-ship send "$T/sp" "$url" --plain-http
same "ship: a URL needs --key: exit 2" "$rc:$(head -n 1 "$T/err")" \
    "2:hopmap-ship: a gateway URL needs --key FILE"
run hopmap-ship send "$T/sp" "$url" --key "$T/w.key"
same "ship: plain http:// beyond the loopback only when asked: exit 2" \
    "$rc:$(head -n 1 "$T/err")" \
    "2:hopmap-ship: http:// to $LAB_HUB_IP would send the key in clear: use https://, or --plain-http if the path is safe"
printf 'not a key\n' >"$T/bad.key"
run hopmap-ship send "$T/sp" "$url" --plain-http -k "$T/bad.key"
same "ship: a key file that holds no key: exit 1" "$rc:$(head -n 1 "$T/err")" \
    "1:hopmap-ship: $T/bad.key: not a key (one line of letters, digits and ._~+/=-)"
run hopmap-ship send "$T/sp" TCP:127.0.0.1:9 --key "$T/w.key"
same "ship: --key with a socat address: exit 2" "$rc" 2
run hopmap-worker -G "$url" -d "$T/x"
same "worker: --gateway needs --key: exit 2" "$rc:$(head -n 1 "$T/err")" \
    "2:hopmap-worker: --gateway needs --key FILE"
run hopmap-worker -G "$url" -H TCP:127.0.0.1:9 -k "$T/w.key" -d "$T/x"
same "worker: --hub and --gateway exclude each other: exit 2" "$rc" 2

# ---- through the NAT, only the gateway: confirmed, deleted, stored once ----
rec() { printf '{"ip":"%s","id":"w:t:%s","node":"w","ping":{"ok":true}}\n' "$1" "$2"; }
for i in 1 2 3; do rec "198.19.0.$i" "$i"; done >"$T/sp/20261201T000000-1-000000.seg"
for i in 4 5; do rec "198.19.0.$i" "$i"; done >"$T/sp/20261201T000000-1-000001.seg"
cp "$T/sp/20261201T000000-1-000000.seg" "$T/again.seg"
ship() { inw hopmap-ship send --once -n 2 -b 1 --plain-http -k "$T/w.key" "$@"; }
run ship -m "$T/ship.prom" "$T/sp" "$url"
same "ship: both segments confirmed through the gateway and deleted" \
    "$rc:$(ls "$T/sp" | wc -l):$(grep -c 'records confirmed' "$T/err")" "0:0:2"
same "hub: the 5 records stored, under the key's name" \
    "$(q "$db" "SELECT count(*), group_concat(DISTINCT node) FROM pings")" "5|w"
same "ship: metrics as over socat" \
    "$(grep -E '^hopmap_(segments|records)_confirmed_total' "$T/ship.prom" | awk '{ print $2 }' | tr '\n' ' ')" "2 5 "
same "hub: the worker came from the NAT router's address" \
    "$(awk '/"POST \/results"/ { print $2 }' "$T/httpd.err" | sort -u)" "$LAB_NAT_IP"
cp "$T/again.seg" "$T/sp/20261201T000000-1-000002.seg"
run ship -q "$T/sp" "$url"
same "ship: a segment sent again is confirmed, stored once" \
    "$rc:$(ls "$T/sp" | wc -l):$(q "$db" "SELECT count(*), count(DISTINCT rid) FROM pings")" "0:0:5|5"

# 422: the good lines stored, the segment quarantined and said, even -q.
{
	rec 198.19.0.6 6
	echo 'not json'
	printf '{"ip":"198.19.0.7","id":"w:t:7","node":"w2","ping":{"ok":true}}\n'
} >"$T/sp/20261201T000000-1-000003.seg"
rec 198.19.0.8 8 >"$T/sp/20261201T000000-1-000004.seg"
run ship -q "$T/sp" "$url"
same "refused: exit 0, the segment quarantined, the next one delivered" \
    "$rc:$(cd "$T/sp" && find . -type f | sort | tr '\n' ' ')" \
    "0:./quarantine/20261201T000000-1-000003.seg "
check "refused: said with -q, with the hub's reasons" grep -q \
    "000003.seg: moved to $T/sp/quarantine: the hub answered: refused 2 of 3: line 2: " "$T/err"
same "refused: only the good records stored" \
    "$(q "$db" "SELECT group_concat(ip, ' ') FROM (SELECT ip FROM pings WHERE ip IN ('198.19.0.6', '198.19.0.7', '198.19.0.8') ORDER BY ip)")" \
    "198.19.0.6 198.19.0.8"

# A key the hub does not know (401), the sink away (503), the gateway
# away, a cut link: the segment stays, and goes once they are back.
rec 198.19.0.9 9 >"$T/sp/20261201T000000-1-000005.seg"
printf 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n' >"$T/unknown.key"
run inw hopmap-ship send --once -n 2 -b 1 --plain-http -k "$T/unknown.key" "$T/sp" "$url"
same "401: kept, retried, exit 1 after -n" \
    "$rc:$(ls "$T/sp"/*.seg | wc -l):$(grep -c 'not confirmed (HTTP 401' "$T/err")" "1:1:2"
stop_sink
run ship -q -m "$T/ship.prom" "$T/sp" "$url"
same "503 without the sink: kept, retried" \
    "$rc:$(ls "$T/sp"/*.seg | wc -l):$(grep -c 'not confirmed (HTTP 503' "$T/err")" "1:1:2"
same "503: the failures counted in the metrics" \
    "$(awk '$1 ~ /attempts_failed_total/ { print $2 }' "$T/ship.prom")" 2
start_sink
stop_httpd
run ship -q "$T/sp" "$url"
same "no gateway: kept, curl's reason said" \
    "$rc:$(ls "$T/sp"/*.seg | wc -l):$(grep -c "not confirmed (curl: (7) Failed to connect" "$T/err")" "1:1:2"
start_httpd
lab_nat_cut
# While the attempt stalls, its curl is there to look at: the key is on
# its standard input, not on its command line (-H @-).
ip netns exec "$workerns" hopmap-ship send --once -q -T 2 -n 1 --plain-http \
    -k "$T/w.key" "$T/sp" "$url" 2>"$T/err" &
spid=$!
curl_of() { curlpid=$(pgrep -x -P "$spid" curl); }
check "cut link: an attempt's curl is running" until_ok 30 curl_of
cmdline=$(tr '\0' ' ' <"/proc/$curlpid/cmdline" 2>/dev/null)
check "the key is not on curl's command line, its header is read from stdin" \
    bash -c "[[ '$cmdline' == *' -H @- '* && '$cmdline' != *'$key'* ]]"
wait "$spid"
same "cut link: the attempt gives up after -T, the segment kept" \
    "$?:$(ls "$T/sp"/*.seg | wc -l):$(grep -c "not confirmed (curl: (28)" "$T/err")" "1:1:1"
lab_nat_restore
run ship -q "$T/sp" "$url"
same "back: the segment delivered once" \
    "$rc:$(ls "$T/sp" | grep -c seg):$(q "$db" "SELECT count(*) FROM pings WHERE ip = '198.19.0.9'")" "0:0:1"
check "the key is in no log" bash -c "! grep -F -q -e '$key' $T/*.err $T/err"

# ---- hopmap-worker --gateway: targets from /targets, results to /results ----
# The gateway's targets: its range file (8 addresses), and 24 hops posted
# by another key than the worker's, half of them with the "found_by" of a
# trace.
hops=$(for i in $(seq 20 31); do echo "198.19.1.$i"; done
    for i in $(seq 20 31); do echo "198.19.3.$i"; done)
targets=$(echo "$hops"; for i in $(seq 16 23); do echo "198.19.2.$i"; done)
ntargets=$(wc -l <<<"$targets")
run ip netns exec "$hubns" curl -sS -H @- -H 'Content-Type: application/x-ndjson' \
    --data-binary @<(sed '/^198\.19\.3\./s/.*/{"ip":"&","found_by":"v9"}/;s/^[0-9].*/{"ip":"&"}/' <<<"$hops") "$url/hops" \
    <<<"Authorization: Bearer $(cat "$T/ops.key")"
same "gateway: the hops pooled" "$(jq -c '[.lines, .added]' "$T/out")" "[24,24]"
# Rounds of 2 from a queue kept at 6, so that results are being made while
# the gateway is away or the link cut; --rounds 0: a gateway with nothing
# now (or away) is asked again after the pause.  ip netns exec execs the
# worker, so $wpid is the worker's own pid (not a subshell's).
w=$T/w
ip netns exec "$workerns" hopmap-worker -G "$url" -k "$T/w.key" --plain-http --batch 6 -N w -d "$w" -b 2 \
    -- --rounds 0 --pause 1s -n 2 -R --timeout 300ms --trace-rate 2000 \
    --wait 300ms --max-ttl 8 >"$T/worker.out" 2>"$T/worker.err" &
wpid=$!
cleanup_hooks+=('kill $wpid 2>/dev/null; wait $wpid 2>/dev/null')
stored() { q "$db" "SELECT count(DISTINCT ip) FROM pings WHERE node = 'w' AND ip LIKE '198.19.%' AND ip NOT LIKE '198.19.0.%'"; }
at_least() { [ "$(stored)" -ge "$1" ]; }
failures() { grep -c 'not confirmed' "$T/worker.err"; }
more_failures() { [ "$(failures)" -gt "$1" ]; }
check "worker: the first results arrive through the gateway" until_ok 120 at_least 2
# The hub's daemon restarted while the worker works: what it probes in the
# meantime waits in its spool.
stop_httpd
f0=$(failures)
check "worker: with the gateway away, a delivery fails and is kept" until_ok 120 more_failures "$f0"
n0=$(stored)
start_httpd
check "worker: the gateway back, the results go on arriving" until_ok 120 at_least $((n0 + 1))
# The link cut and restored (a stall: nothing refused, nothing answers).
lab_nat_cut
n1=$(stored)
check "worker: with the link cut, a round's results wait in the spool" \
    until_ok 120 bash -c "ls '$w'/spool/*.seg >/dev/null 2>&1"
lab_nat_restore
check "worker: the link back, every target's result arrives" until_ok 240 at_least "$ntargets"
spool_empty() { ! ls "$w"/spool/*.seg >/dev/null 2>&1; }
check "worker: its spool empties" until_ok 120 spool_empty
check "worker: the gateway says there is nothing more to do (204)" \
    until_ok 120 grep -q '"GET /targets?n=[0-9]*" 204 .* w$' "$T/httpd.err"
kill "$wpid"
wait "$wpid"
same "worker: stopped by TERM, nothing left running from its spool" \
    "$?:$(pgrep -f "hopmap-ship send .*$w/spool" | wc -l)" "143:0"
same "every target probed by the worker behind NAT, once each result" \
    "$(q "$db" "SELECT count(DISTINCT ip), count(*) - count(DISTINCT rid) FROM pings WHERE node = 'w' AND ip NOT LIKE '198.19.0.%'")" \
    "$ntargets|0"
same "a target the gateway says a trace found is a hop target (src hop), the others not" \
    "$(q "$db" "SELECT substr(ip, 1, 9), count(DISTINCT ip) FROM pings WHERE node = 'w' AND src IS 'hop' GROUP BY 1")" \
    "198.19.3.|12"
same "exactly the gateway's targets" \
    "$(q "$db" "SELECT DISTINCT ip FROM pings WHERE node = 'w' AND ip NOT LIKE '198.19.0.%' ORDER BY ip")" \
    "$(sort <<<"$targets")"
same "the hub never reached the worker: every request of w from the NAT's address" \
    "$(awk '$NF == "w" { print $2 }' "$T/httpd.err" | sort -u)" "$LAB_NAT_IP"
check "the key is in no log, nor in the worker's state" \
    bash -c "! grep -r -F -q -e '$key' $T/*.err $T/*.out $w"
echo "# worker behind NAT: $(failures) failed deliveries retried; $(grep -c '"GET /targets' "$T/httpd.err") target requests"

# A loop of N rounds stops when the gateway has nothing to do.
run inw hopmap-worker -G "$url" -k "$T/w.key" --plain-http -N w -d "$w" -b 1 -n 2 \
    -- --rounds 3 -R
same "worker --rounds 3: the gateway's 204 ends it, exit 0" \
    "$rc:$(grep -c 'nothing to do' "$T/err")" "0:1"

# ---- https:// with --cacert: hopmap-httpd --cert --key ----
# A second gateway over the same hub, serving TLS with a certificate from
# the hub's own CA: curl checks it against --cacert; a certificate from
# another CA is refused, and the segment kept.
pki=$T/pki
mkdir -p "$pki"
ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
for ca in ca rogue-ca; do
	openssl req -x509 "${ec[@]}" -days 2 -subj "/CN=hopmap $ca" \
	    -keyout "$pki/$ca.key" -out "$pki/$ca.pem" 2>/dev/null
done
openssl req "${ec[@]}" -subj "/CN=hub" -keyout "$pki/hub.key" \
    -out "$pki/hub.csr" 2>/dev/null
openssl x509 -req -in "$pki/hub.csr" -CA "$pki/ca.pem" -CAkey "$pki/ca.key" \
    -CAcreateserial -days 2 -out "$pki/hub.pem" \
    -extfile <(echo "subjectAltName=IP:$LAB_HUB_IP") 2>/dev/null
tport=25444
ip netns exec "$hubns" hopmap-httpd -l "$LAB_HUB_IP:$tport" --hub "$hub" \
    --cert "$pki/hub.pem" --key "$pki/hub.key" 2>"$T/https.err" &
tlspid=$!
cleanup_hooks+=('kill $tlspid 2>/dev/null; wait $tlspid 2>/dev/null')
until_ok 60 ip netns exec "$hubns" sh -c "ss -Hltn 'sport = :$tport' | grep -q ."
rec 198.19.0.10 10 >"$T/sp/20261201T000000-1-000006.seg"
run inw hopmap-ship send --once -n 1 -k "$T/w.key" --cacert "$pki/rogue-ca.pem" \
    "$T/sp" "https://$LAB_HUB_IP:$tport"
same "https: a certificate from another CA is refused, the segment kept" \
    "$rc:$(ls "$T/sp"/*.seg | wc -l):$(grep -c 'not confirmed (curl: (60)' "$T/err")" "1:1:1"
run inw hopmap-ship send --once -n 1 -k "$T/w.key" --cacert "$pki/ca.pem" \
    "$T/sp" "https://$LAB_HUB_IP:$tport"
same "https: the hub's certificate checked against --cacert, the segment delivered" \
    "$rc:$(ls "$T/sp" | grep -c seg):$(q "$db" "SELECT count(*) FROM pings WHERE ip = '198.19.0.10'")" "0:0:1"
same "https: from the NAT's address" \
    "$(awk '/"POST \/results"/ { print $2 }' "$T/https.err" | sort -u)" "$LAB_NAT_IP"
stop_httpd
kill "$tlspid"
wait "$tlspid"
check "no sanitizer report from the gateways, the sink and the worker" \
    no_sanitizer_report "$T"/*.err
