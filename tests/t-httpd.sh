#!/usr/bin/env bash
# hopmap-httpd with curl, on the loopback: what every program promises,
# the node face, every error (404, 405, 401 without, with a bad and with a
# revoked key, 413), keys added and revoked while it runs, the access log,
# plain HTTP refused off loopback, a clean stop.  Ports 21000-21099.
. "$(dirname "$0")/lib.sh"
top=$HOPMAP_TOP
p=hopmap-httpd

# ---- what every program promises (t-common's checks, for web/) ----
version=$(sed -n 's/^#define HM_VERSION "\(.*\)"/\1/p' "$top/lib/core/core.h")
run $p --help
same "--help: exit 0, usage on stdout, nothing on stderr" \
    "$rc:$(head -c 19 "$T/out"):$(cat "$T/err")" "0:usage: hopmap-httpd:"
run $p --version
same "--version" "$rc:$(cat "$T/out")" "0:$p (hopmap) $version"
run $p --no-such-option
same "unknown option: exit 2, named, nothing on stdout" \
    "$rc:$(grep -c "^$p: " "$T/err"):$(cat "$T/out")" "2:1:"
page=$top/man/$p.1
mandoc -T lint -W warning "$page" >"$T/lint" 2>&1
check "man page lints clean" test ! -s "$T/lint"
missing=
for opt in $($p --help | grep -o -- '--[a-z][a-z-]*' | sort -u); do
	grep -q -- "Fl -${opt#--}\b" "$page" || missing="$missing $opt"
done
same "every long option in --help is in the man page" "$missing" ""
check "man page: Input and Output under the gateway" \
    grep -q '^\.Ss Output' "$page"

# ---- the systemd unit ----
unit=$top/examples/hopmap-httpd.service
check "examples: the unit serves the hub's directory over TLS" \
    grep -q '^ExecStart=.*hopmap-httpd .*--hub /var/lib/hopmap-hub .*--cert .*--key ' "$unit"
check "examples: the unit runs as hopmap-hub's dynamic user, without capabilities" \
    has_all "$unit" '^User=hopmap-hub$' '^DynamicUser=yes$' '^CapabilityBoundingSet=$' '^NoNewPrivileges=yes$'
if command -v systemd-analyze >/dev/null; then
	sed "s|/usr/local/bin/hopmap-httpd|$(command -v $p)|" "$unit" >"$T/hopmap-httpd.service"
	check "examples: systemd-analyze verify finds nothing wrong with the unit" \
	    sh -c "systemd-analyze verify '$T/hopmap-httpd.service' >'$T/verify' 2>&1 && ! test -s '$T/verify'"
	cat "$T/verify"
else
	skip "no systemd-analyze to verify the unit"
fi

# ---- a server on the loopback ----
# up NAME PORT ARGS...: start it (stderr in $T/NAME.log), wait until it listens.
up() {
	local name=$1 port=$2
	shift 2
	$p -l "127.0.0.1:$port" "$@" 2>"$T/$name.log" &
	eval "pid_$name=$!"
	cleanup_hooks+=("kill $! 2>/dev/null; wait $! 2>/dev/null")
	until_ok 60 grep -qs "listening on 127.0.0.1:$port" "$T/$name.log"
}
# get URL [curl args]: the status, then the body, in $T/body.
get() {
	local url=$1
	shift
	curl -s -o "$T/body" -D "$T/headers" -w '%{http_code}' --max-time 60 \
	    "$@" "$url"
}
json() { jq -r "$1" "$T/body"; }

S=$T/state
K1=$($p key add -d "$S" w1 2>"$T/add.err")
same "key add: a key of 43 characters on stdout" "${#K1}" 43
check "key add: says it is shown once" grep -q 'shown only this once' "$T/add.err"
check "key add: the store keeps no key" sh -c "! grep -q -- '$K1' '$S/keys'"
same "key store: mode 0600" "$(stat -c %a "$S/keys")" 600
run $p key add -d "$S" w1
same "key add: a second key for a name with one is refused (exit 1)" \
    "$rc:$(cat "$T/out")" "1:"
run $p key add -d "$S" 'w 1'
same "key add: a bad name is refused (exit 2)" "$rc:$(grep -c 'bad name' "$T/err")" "2:1"
KA=$($p key add -d "$S" --admin boss 2>/dev/null)
run $p key list -d "$S"
same "key list: names, admin, revoked; no key" \
    "$(awk 'NR > 1 { print $1, $3, $4 }' "$T/out" | tr '\n' ' ')" \
    "w1 no - boss yes - "
run $p key revoke -d "$S" nobody
same "key revoke: a name without a key, exit 1" "$rc:$(grep -c 'no valid key' "$T/err")" "1:1"
# Ten adds at once: the lock keeps every one.
for i in 0 1 2 3 4 5 6 7 8 9; do $p key add -d "$T/par" "p$i" >"$T/par$i.key" 2>/dev/null & done
wait
same "key add: ten at once, ten keys stored" "$(wc -l <"$T/par/keys"):$(cat "$T"/par?.key | sort -u | wc -l)" "10:10"
check "key list: no key shown" sh -c "! grep -q -- '$K1\|$KA' '$T/out'"

take_port pa 21001 21099
check "up: a worker's face" up a "$pa" -d "$S" --name n1
u=http://127.0.0.1:$pa
same "GET /health: 200" "$(get $u/health)" 200
same "GET /health: status, version, name" "$(json '[.status, .version, .name] | join(" ")')" \
    "ok $version n1"
same "GET /service-info: a worker pings" "$(get $u/service-info)$(json '[.service_type, .name, (.capabilities | join(","))] | join(" ")')" \
    "200ping n1 ping"
id1=$(json .instance_id)
check "GET /service-info: the instance id is kept in the state directory" \
    grep -qx "$id1" "$S/instance-id"
same "GET /nowhere: 404 with a JSON error" "$(get $u/nowhere)$(json .error)" \
    "404no such path: /nowhere"
same "POST /health: 405 with a JSON error" "$(get $u/health -X POST -d x)$(json .error | cut -c1-20)" \
    "405POST is not allowed "
check "POST /health: Allow: GET, HEAD" grep -qi '^Allow: GET, HEAD' "$T/headers"

take_port pb 21001 21099
check "up: --health-key --max-body 64k" up b "$pb" -d "$S" --health-key --max-body 64k
u=http://127.0.0.1:$pb
same "--health-key: no key, 401 with a JSON error" "$(get $u/health)$(json .error)" \
    "401an API key is needed: Authorization: Bearer KEY"
check "401: WWW-Authenticate: Bearer" grep -qi '^WWW-Authenticate: Bearer' "$T/headers"
same "a bad key: 401" "$(get $u/health -H "Authorization: Bearer x${K1:1}")$(json .error)" \
    "401unknown API key"
same "w1's key: 200" "$(get $u/health -H "Authorization: Bearer $K1")" 200
head -c 70000 /dev/zero | tr '\0' x >"$T/big"
same "--max-body 64k: a body of 70000 bytes, 413 with a JSON error" \
    "$(get $u/health -H "Authorization: Bearer $K1" --data-binary @"$T/big")$(json .error)" \
    "413the body is larger than 65536 bytes (--max-body)"
K2=$($p key add -d "$S" w2 2>/dev/null)
same "a key added while it runs: 200 at once" \
    "$(get $u/health -H "Authorization: Bearer $K2")" 200
$p key revoke -d "$S" w1 2>/dev/null
same "a key revoked while it runs: 401 at once" \
    "$(get $u/health -H "Authorization: Bearer $K1")$(json .error)" "401this API key is revoked"
same "the other key still works" "$(get $u/health -H "Authorization: Bearer $K2")" 200
check "key list: w1 revoked" sh -c "$p key list -d '$S' | awk '\$1 == \"w1\" && \$4 != \"-\"' | grep -q ."

# ---- the access log ----
get "$u/health?x=%22%0a" -H "Authorization: Bearer $K2" >/dev/null
check "access log: peer, request, status, bytes, consumer; escaped" \
    grep -q '^hopmap-httpd: 127.0.0.1 "GET /health?x=%22%0a" 200 [0-9]* w2$' "$T/b.log"
check "access log: a 401 has no consumer" \
    grep -q '^hopmap-httpd: 127.0.0.1 "GET /health" 401 [0-9]* -$' "$T/b.log"
printf 'GET /he"al\001th HTTP/1.0\r\n\r\n' >"$T/raw"
curl -s --max-time 10 telnet://127.0.0.1:$pb <"$T/raw" >/dev/null 2>&1 || true
check "access log: what the client sent cannot make a line or a quote" \
    until_ok 30 grep -q 'GET /he\\x22al\\x01th"' "$T/b.log"

# ---- the node face: the programs' metrics, readiness, the hub ----
M=$T/metrics
mkdir -p "$M"
printf '10.0.0.1\n10.0.0.2\n' | cooldown --metrics "$M/cool-a.prom" >/dev/null
printf '10.0.0.1\n' | cooldown --metrics "$M/cool-b.prom" >/dev/null
printf '10.0.0.1\n10.0.0.3\n' | interleave --metrics "$M/inter.prom" >/dev/null
printf 'not a metric line\n' >"$M/junk.prom"
take_port pc 21001 21099
check "up: --metrics-dir" up c "$pc" -d "$S" --metrics-dir "$M" --stale 1h
u=http://127.0.0.1:$pc
same "GET /health: each file's counters" \
    "$(get $u/health)$(json '[.programs["cool-a"].program, .programs["cool-a"].metrics.records_in_total, .programs["cool-b"].metrics.records_in_total, .programs.inter.metrics.records_in_total] | join(" ")')" \
    "200cooldown 2 1 2"
same "GET /ready: fresh files, 200" "$(get $u/ready)$(json .ready)" "200true"
get $u/health >/dev/null
same "GET /metrics: 200, text/plain" "$(get $u/metrics)$(grep -ci '^Content-Type: text/plain' "$T/headers")" "2001"
cp "$T/body" "$T/metrics.txt"
check "GET /metrics: promtool check metrics passes" promtool check metrics <"$T/metrics.txt"
promtool check metrics <"$T/metrics.txt" 2>&1 | head -n 5
same "GET /metrics: one TYPE line for a family three files share" \
    "$(grep -c '^# TYPE hopmap_records_in_total ' "$T/metrics.txt")" 1
same "GET /metrics: each file's sample, told apart" \
    "$(grep '^hopmap_records_in_total' "$T/metrics.txt" | sort | tr '\n' ' ')" \
    'hopmap_records_in_total{program="cooldown",file="cool-b"} 1 hopmap_records_in_total{program="cooldown"} 2 hopmap_records_in_total{program="interleave"} 2 '
check "GET /metrics: the daemon's requests by route and status" \
    grep -q '^hopmap_httpd_requests_total{route="/health",status="200"} [1-9]' "$T/metrics.txt"
check "GET /metrics: open connections" grep -q '^hopmap_httpd_connections_open [0-9]' "$T/metrics.txt"
check "GET /metrics: a line that is no metric is left out" sh -c "! grep -q 'not a metric' '$T/metrics.txt'"
touch -d '2 hours ago' "$M/inter.prom"
same "GET /ready: a file older than --stale, 503 naming it" \
    "$(get $u/ready)$(json .error)" "503inter.prom was written 7200 s ago (--stale 3600s)"
rm "$M"/*.prom
same "GET /ready: no metrics file, 503" "$(get $u/ready)$(json .error | cut -c1-15)" "503no metrics file"

H=$T/hub
mkdir -p "$H"
take_port ph 21001 21099
check "up: --hub, no sink yet" up h "$ph" --hub "$H"
u=http://127.0.0.1:$ph
same "GET /ready: no database, 503" "$(get $u/ready)$(json '.reasons | length')$(json '.error' | cut -c1-8)" "5032database"
sqlsink -l "$H/sink.sock" --no-stdin "$H/map.db" 2>"$T/sink.log" &
sinkpid=$!
cleanup_hooks+=("kill $sinkpid 2>/dev/null")
until_ok 60 test -S "$H/sink.sock"
same "GET /ready: the sink up, the database answers: 200" "$(get $u/ready)" 200
same "GET /service-info: the hub is output, with input and output" \
    "$(get $u/service-info)$(json '[.service_type, (.capabilities | join(","))] | join(" ")')" \
    "200output input,output"
check "the hub's instance id is kept in its directory" grep -qx "$(json .instance_id)" "$H/instance-id"
kill -TERM "$pid_h"
wait "$pid_h"
check "up again: the same hub directory" up h2 "$ph" --hub "$H"
same "GET /service-info: the instance id is the same after a restart" \
    "$(get $u/service-info)$(json .instance_id)" "200$(cat "$H/instance-id")"

# ---- TLS: a certificate renewed while it runs is served at once ----
# cert NAME: a self-signed certificate for 127.0.0.1 in $T/NAME.crt, .key
cert() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
	    -nodes -keyout "$T/$1.key" -out "$T/$1.crt" -days 2 -subj "/CN=$1" \
	    -addext subjectAltName=IP:127.0.0.1 2>/dev/null
}
# served PORT: the subject of the certificate the server shows
served() {
	openssl s_client -connect "127.0.0.1:$1" </dev/null 2>/dev/null |
	    openssl x509 -noout -subject 2>/dev/null | sed 's/.*CN *= *//'
}
if command -v openssl >/dev/null; then
	cert hopmap-one && cert hopmap-two
	cp "$T/hopmap-one.crt" "$T/tls.crt" && cp "$T/hopmap-one.key" "$T/tls.key"
	take_port pt 21001 21099
	check "up: --cert --key" up t "$pt" --cert "$T/tls.crt" --key "$T/tls.key"
	same "TLS: GET /health with the CA, 200" \
	    "$(get https://127.0.0.1:$pt/health --cacert "$T/hopmap-one.crt")" 200
	same "TLS: the first certificate" "$(served "$pt")" hopmap-one
	same "TLS: plain HTTP to it gets no answer" "$(get http://127.0.0.1:$pt/health)" 000
	# certbot replaces the certificate, then the key: between the two the
	# pair does not match, and the old one goes on.
	cp "$T/hopmap-two.crt" "$T/new" && mv "$T/new" "$T/tls.crt"
	same "TLS: a new certificate without its key: the old pair still served" \
	    "$(served "$pt")" hopmap-one
	check "TLS: the mismatch said" grep -q 'does not match' "$T/t.log"
	cp "$T/hopmap-two.key" "$T/new" && mv "$T/new" "$T/tls.key"
	same "TLS: renewed without a restart, the new certificate served" \
	    "$(served "$pt")" hopmap-two
	same "TLS: GET /health with the new CA, 200" \
	    "$(get https://127.0.0.1:$pt/health --cacert "$T/hopmap-two.crt")" 200
	run $p -l 192.0.2.1:21007 --cert "$T/hopmap-one.crt" --key "$T/hopmap-two.key"
	same "TLS: a key that does not match, refused at the start (exit 3)" \
	    "$rc:$(grep -c 'does not match' "$T/err")" "3:1"
	run $p --cert "$T/tls.crt"
	same "--cert without --key: exit 2" "$rc" 2
else
	skip "no openssl to make certificates"
fi

# ---- limits: connections in total, per address, idle time, headers ----
take_port pl 21001 21099
check "up: --max-conns 2 --timeout 2s --max-header 4k" \
    up l "$pl" --max-conns 2 --timeout 2s --max-header 4k
u=http://127.0.0.1:$pl
same "--max-header 4k: an 8000-byte header, 431" \
    "$(get $u/health -H "X-Big: $(head -c 8000 /dev/zero | tr '\0' a)")" 431
exec 5<>/dev/tcp/127.0.0.1/$pl
exec 6<>/dev/tcp/127.0.0.1/$pl
# Two idle connections are open once a third is closed at once.
check "--max-conns 2: a third connection is closed without an answer" \
    until_ok 30 test "$(get $u/health)" = 000
check "--max-conns: said on stderr" grep -q 'connections open (--max-conns)' "$T/l.log"
check "--timeout 2s: an idle connection is closed by the server" \
    timeout 60 cat <&5
exec 5<&- 6<&-
check "--max-conns: once they are gone, answered again" \
    until_ok 30 test "$(get $u/health)" = 200
take_port pi 21001 21099
check "up: --max-per-ip 1" up i "$pi" --max-per-ip 1
exec 5<>/dev/tcp/127.0.0.1/$pi
check "--max-per-ip 1: a second connection from 127.0.0.1 is closed" \
    until_ok 30 test "$(get http://127.0.0.1:$pi/health)" = 000
exec 5<&-
check "--max-per-ip: answered once the first is closed" \
    until_ok 30 test "$(get http://127.0.0.1:$pi/health)" = 200

# ---- plain HTTP off loopback, a clean stop ----
run $p -l 192.0.2.1:21003
same "plain HTTP on an address other than loopback: refused, exit 2" \
    "$rc:$(grep -c 'needs --insecure' "$T/err")" "2:1"
# A request in progress when SIGTERM comes is finished: its body is still
# coming when the signal arrives, and it is answered after.
mkfifo "$T/slow"
curl -s -o /dev/null -w '%{http_code}' --max-time 60 -T - -X POST \
    http://127.0.0.1:$pa/health <"$T/slow" >"$T/slow.code" &
slowcurl=$!
exec 7>"$T/slow"
printf 'part one\n' >&7
conns() { get http://127.0.0.1:$pa/metrics >/dev/null; awk '$1 == "hopmap_httpd_connections_open" { print $2 }' "$T/body"; }
check "SIGTERM: a POST is in progress (two connections open)" until_ok 60 test "$(conns)" -ge 2
kill -TERM "$pid_a"
check "SIGTERM: said" until_ok 60 grep -q 'stopping' "$T/a.log"
printf 'part two\n' >&7
exec 7>&-
wait "$slowcurl"
same "SIGTERM: the request in progress is answered (405: POST on /health)" "$(cat "$T/slow.code")" 405
wait "$pid_a"
same "SIGTERM: exit 0" "$?" 0
check "no sanitizer report" no_sanitizer_report "$T"/*.log
