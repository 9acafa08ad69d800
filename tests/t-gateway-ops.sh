#!/usr/bin/env bash
# The gateway tried as an operator would, from the man pages: a hub
# (hopmap-hub serve) with hopmap-httpd --hub over TLS with a CA of its own,
# keys, hopmap-ship to /results; what surprised, held: a certificate not
# trusted says --cacert, a segment larger than the gateway takes is split
# (a record alone larger quarantined), the hub's traces become every
# consumer's targets without a manual step.  Ports 29100-29199.
. "$(dirname "$0")/lib.sh"
q() { sqlite3 -cmd '.timeout 5000' "$@"; }
hub=$T/hub
mkdir -p "$hub/ranges"
echo 198.18.7.0/30 >"$hub/ranges/lab.txt"

# ---- a CA of the operator's own, and the gateway's certificate ----
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$T/ca.key" -out "$T/ca.pem" -days 2 -subj /CN=ops-ca 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$T/srv.key" -out "$T/srv.csr" -subj /CN=localhost 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >"$T/ext"
openssl x509 -req -in "$T/srv.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" \
    -CAcreateserial -out "$T/srv.pem" -days 2 -extfile "$T/ext" 2>/dev/null
check "setup: a certificate signed by the operator's CA" \
    openssl verify -CAfile "$T/ca.pem" "$T/srv.pem"

# ---- the hub: hopmap-hub serve's sink, hopmap-httpd's gateway ----
hopmap-hub serve -d "$hub" --sink-args '-i 100ms' 2>"$T/serve.err" &
sinkpid=$!
cleanup_hooks+=("kill $sinkpid 2>/dev/null; wait $sinkpid 2>/dev/null")
until_ok 60 test -S "$hub/sink.sock"
hopmap-httpd key add -d "$hub" w1 >"$T/w1.key" 2>/dev/null
hopmap-httpd key add -d "$hub" w2 >"$T/w2.key" 2>/dev/null
# up NAME PORT ARGS...: a gateway over $hub, up once it listens.
up() {
	local name=$1 port=$2
	shift 2
	hopmap-httpd -l "127.0.0.1:$port" --hub "$hub" --allow-reserved "$@" \
	    2>"$T/$name.log" &
	cleanup_hooks+=("kill $! 2>/dev/null; wait $! 2>/dev/null")
	until_ok 60 grep -qs "listening on 127.0.0.1:$port" "$T/$name.log"
}
# Ports: the first free in 29101..29199 when taken (a fixed one may be
# held by something else); the one taken before listens by then.
take_port ptls 29101 29199
tls=https://localhost:$ptls
up tls "$ptls" --cert "$T/srv.pem" --key "$T/srv.key"
take_port psmall 29101 29199
small=http://127.0.0.1:$psmall
up small "$psmall" --max-body 2k

# ---- starting it wrong: said, not made up ----
take_port pmgu 29101 29199
run hopmap-httpd -l "127.0.0.1:$pmgu" --hub "$T/hbu"
same "--hub mistyped: exit 3, the directory named, not made" \
    "$rc:$(grep -c -- "--hub $T/hbu: No such file" "$T/err"):$(test -e "$T/hbu" && echo made)" "3:1:"
# A manager's directory may come after the daemon: said at the start.
hopmap-httpd -l "127.0.0.1:$pmgu" --manager "$T/mgu" 2>"$T/mgu.err" &
mgu=$!
cleanup_hooks+=("kill $mgu 2>/dev/null")
until_ok 60 grep -qs "listening on 127.0.0.1:$pmgu" "$T/mgu.err"
check "--manager not there yet: said at the start, what makes it" \
    grep -q -- "--manager $T/mgu: No such file.*hopmap-manager add-user -d $T/mgu NAME makes it" "$T/mgu.err"
kill "$mgu"
wait "$mgu" 2>/dev/null
run hopmap-httpd -l "127.0.0.1:$psmall" --hub "$hub"
same "port taken: exit 3, the port named" \
    "$rc:$(grep -c "port $psmall: Address already in use" "$T/err")" "3:1"
# records N NAME FROM: N ping records of node NAME, ids from FROM.
records() {
	local i
	for ((i = $3; i < $3 + $1; i++)); do
		printf '{"ip":"198.18.9.%d","node":"%s","id":"%s-%d","ping":{"method":"icmp","ok":true,"sent":1,"recv":1,"rtt_ms":1.25},"pad":"%s"}\n' \
		    $((i % 250)) "$2" "$2" "$i" "................................"
	done
}
stored() { q "$hub/map.db" "SELECT count(*) FROM ids WHERE rid LIKE '$1-%';"; }

# ---- https:// with a CA of one's own: the error says what to do ----
mkdir -p "$T/s1"
records 3 w1 0 | hopmap-ship spool "$T/s1"
run timeout 60 hopmap-ship send -1 -n 1 -b 1 -k "$T/w1.key" "$T/s1" "$tls"
check "no --cacert: the failure names --cacert" grep -q -- '--cacert PEM' "$T/err"
same "no --cacert: one line a failure, not curl's five" \
    "$rc:$(grep -c . "$T/err")" "1:2"
run timeout 60 hopmap-ship send -1 -n 1 -k "$T/w1.key" --cacert "$T/ca.pem" "$T/s1" "$tls"
same "--cacert: the segment confirmed, the spool empty" \
    "$rc:$(find "$T/s1" -name '*.seg' | wc -l)" "0:0"

# ---- a segment larger than the gateway's --max-body: split, not retried ----
mkdir -p "$T/s2"
records 40 w1 100 | hopmap-ship spool -l 40 "$T/s2"
same "413: setup, one segment of 40 records beyond 2k" \
    "$(cat "$T"/s2/*.seg | wc -l):$(($(cat "$T"/s2/*.seg | wc -c) > 2048))" "40:1"
run timeout 120 hopmap-ship send -1 -n 3 -b 1 -k "$T/w1.key" "$T/s2" "$small"
same "413: shipped in pieces, every record stored once" "$rc:$(stored w1)" "0:43"
check "413: the log says it split and why" grep -q 'split in two.*HTTP 413' "$T/err"
same "413: the spool is empty, nothing quarantined" \
    "$(find "$T/s2" -name '*.seg' -o -name '*.part' | wc -l):$(ls "$T/s2/quarantine" 2>/dev/null | wc -l)" "0:0"
mkdir -p "$T/s3"
{
	records 1 w1 200
	printf '{"ip":"198.18.9.1","node":"w1","id":"w1-201","pad":"%s"}\n' \
	    "$(head -c 3000 /dev/zero | tr '\0' x)"
	records 1 w1 202
} | hopmap-ship spool -l 3 "$T/s3"
run timeout 120 hopmap-ship send -1 -n 3 -b 1 -k "$T/w1.key" "$T/s3" "$small"
same "413: the records around one too large are stored" "$rc:$(stored w1)" "0:45"
check "413: a record alone too large is quarantined, said" \
    grep -q 'moved to .*quarantine: one record larger than the gateway takes' "$T/err"
same "413: the quarantined piece holds that record" \
    "$(cat "$T"/s3/quarantine/*.seg | jq -r .id)" "w1-201"

# ---- a worker's traces through /results become other consumers' targets ----
# No "hopmap-hub hops" anywhere: serve's timer (--hops-every) feeds the
# queue that the gateway reads.
trace='{"ip":"198.18.7.1","node":"w1","id":"w1-t1","trace":{"method":"icmp-paris","hops":[{"ttl":1,"ip":"198.18.44.1","rtt_ms":0.2,"icmp_type":11,"icmp_code":0},{"ttl":2,"ip":"198.18.44.2","rtt_ms":0.3,"icmp_type":11,"icmp_code":0},{"ttl":3,"ip":"198.18.7.1","rtt_ms":0.4,"icmp_type":0,"icmp_code":0}],"stop":"completed"}}'
code=$(printf '%s\n' "$trace" | curl -s -o "$T/res" -w '%{http_code}' \
    -H "Authorization: Bearer $(cat "$T/w1.key")" \
    -H 'Content-Type: application/x-ndjson' --data-binary @- "$small/results")
same "hops: the trace is stored through /results" "$code:$(jq -r .stored "$T/res")" "200:1"
# targets KEY: the consumer's next targets' addresses, one a line.
targets() {
	curl -s -H "Authorization: Bearer $(cat "$T/$1.key")" "$small/targets?n=100" |
	    jq -r .ip
}
hop_for_w2() {
	targets w2 >>"$T/w2.targets"
	grep -qx 198.18.44.2 "$T/w2.targets"
}
check "hops: a hop of w1's trace reaches w2's /targets, no manual step" \
    until_ok 60 hop_for_w2
check "hops: the first hop too" grep -qx 198.18.44.1 "$T/w2.targets"
check "hops: found_by says who found it" sh -c \
    "curl -s -H 'Authorization: Bearer $(cat "$T/w1.key")' '$small/targets?n=100' | grep -q '\"found_by\"'"
check "no sanitizer report from the gateways" no_sanitizer_report "$T"/*.log
