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

check "up: a worker's face on 127.0.0.1:21001" up a 21001 -d "$S" --name n1
u=http://127.0.0.1:21001
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

check "up: --health-key --max-body 64k on :21002" up b 21002 -d "$S" --health-key --max-body 64k
u=http://127.0.0.1:21002
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
curl -s --max-time 10 telnet://127.0.0.1:21002 <"$T/raw" >/dev/null 2>&1 || true
check "access log: what the client sent cannot make a line or a quote" \
    until_ok 30 grep -q 'GET /he\\x22al\\x01th"' "$T/b.log"

# ---- plain HTTP off loopback, a clean stop ----
run $p -l 192.0.2.1:21003
same "plain HTTP on an address other than loopback: refused, exit 2" \
    "$rc:$(grep -c 'needs --insecure' "$T/err")" "2:1"
kill -TERM "$pid_a"
wait "$pid_a"
same "SIGTERM: exit 0" "$?" 0
check "SIGTERM: said" grep -q 'stopping' "$T/a.log"
check "no sanitizer report" no_sanitizer_report "$T"/*.log
