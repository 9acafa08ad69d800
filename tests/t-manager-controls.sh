# The manager's map and controls against a real hub (hopmap-hub serve and
# hopmap-httpd --hub on loopback), manager.cgi under lighttpd
# (or hopmap-httpd --manager: t-*-httpd.sh), with curl:
# the map drawn by hopmap-map, cached until the hub's data changes, the
# per-node filter; the admin key made on the hub and kept sealed; rotate
# (the hub's series moves to a new file) and a dump streamed through.
. "$(dirname "$0")/lib.sh"
for c in curl oathtool sqlite3 jq dot; do
	command -v $c >/dev/null || { skip "no $c"; exit 0; }
done
M=$T/m H=$T/hub
LOG=$T/auth.log
unset HOPMAP_MANAGER_KEY HOPMAP_MANAGER_HUB_DB
httpd=$HOPMAP_BIN/hopmap-httpd
[ -x "$httpd" ] || { skip "no hopmap-httpd"; exit 0; }

# Free ports of this test's own (24300-24399), each taken as its daemon
# starts (taken together, a port another took since would fail the test).

hopmap-hub serve -d "$H" 2>"$T/hub.log" &
hubpid=$!
cleanup_hooks+=("kill $hubpid 2>/dev/null; wait $hubpid 2>/dev/null")
check "hub: its sink's socket" until_ok 60 test -S "$H/sink.sock"
K1=$("$httpd" key add -d "$H" w1 2>/dev/null)
K2=$("$httpd" key add -d "$H" w2 2>/dev/null)
take_port phub 24300 24399
"$httpd" -l "127.0.0.1:$phub" --hub "$H" --name hub1 2>"$T/httpd.log" &
hpid=$!
cleanup_hooks+=("kill $hpid 2>/dev/null; wait $hpid 2>/dev/null")
check "the hub's gateway listens" until_ok 60 grep -qs "listening on 127.0.0.1:$phub" "$T/httpd.log"
G=http://127.0.0.1:$phub
# trace KEY NODE TARGET HOP...: one traced record posted to the hub.
trace() {
	local key=$1 node=$2 ip=$3 hops= ttl=0 h
	shift 3
	for h in "$@" "$ip"; do
		ttl=$((ttl + 1))
		hops="$hops${hops:+,}{\"ttl\":$ttl,\"ip\":\"$h\",\"rtt_ms\":0.$ttl}"
	done
	curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $key" \
	    -H 'Content-Type: application/x-ndjson' --data-binary @- "$G/results" <<REC
{"ip":"$ip","node":"$node","trace":{"method":"icmp-paris","stop":"completed","ts":"2026-11-30T10:00:0$ttl.000Z","hops":[$hops]}}
REC
}
same "w1 posts a trace to the hub" "$(trace "$K1" w1 198.18.1.1 198.18.0.1 198.18.0.5)" 200
same "w2 posts one by another path" "$(trace "$K2" w2 198.18.2.2 198.18.0.9)" 200

. "$(dirname "$0")/manager-server.sh"
take_port port 24300 24399
manager_up "$port" "$M" HOPMAP_MANAGER_LOG="$LOG" HOPMAP_MANAGER_HUB_DB="$H/map.db" HOPMAP_MANAGER_HUB_DIR="$H" HOPMAP_MANAGER_HUB_URL="$G" HOPMAP_MANAGER_HTTPD="$httpd"

req() {
	local m=$1 path=$2 body=$3 ck=$4
	shift 4
	if [ "$m" = POST ]; then
		code=$(curl -s -o "$T/b" -D "$T/h" -w '%{http_code}' -H "Cookie: $ck" \
		    --data-raw "$body" "$@" "$U$path")
	else
		code=$(curl -s -o "$T/b" -D "$T/h" -w '%{http_code}' -H "Cookie: $ck" "$@" "$U$path")
	fi
}
cookie_of() { sed -n "s/^Set-Cookie: $1=\\([0-9a-f]*\\);.*/\\1/p" "$T/h"; }
location() { sed -n 's/^Location: //p' "$T/h" | tr -d '\r'; }
logged() { grep -q -- "$1" "$LOG"; }
secret=$(hopmap-manager -n -d "$M" add-user alice | sed -n 's/.*secret=\([A-Z2-7]*\).*/\1/p')
req GET / "" ""
tok=$(cookie_of hm_login)
req POST /login "user=alice&code=$(oathtool --totp -b "$secret")&csrf=$tok" "hm_login=$tok"
same "login: 303" "$code" 303
S="hm_session=$(cookie_of hm_session)"

# ---- the map ----
req GET /map "" "$S"
same "GET /map: 200" "$code" 200
csrf=$(sed -n 's/.*name="csrf" value="\([0-9a-f]*\)".*/\1/p' "$T/b" | head -1)
check "... the map as an image, the node filter a form with the token" \
    has_all "$T/b" '<img id="map"' "src=\"$SN/map.svg\"" "action=\"$SN/map/filter\"" "value=\"$csrf\""
check "... images from this server only, still no script" grep -q "img-src 'self'" "$T/h"
svg=$M/cache/map-all.svg
req GET /map.svg "" "$S"
same "GET /map.svg: 200, image/svg+xml" "$code:$(grep -ci '^Content-Type: image/svg+xml' "$T/h")" "200:1"
check "... hopmap-map's SVG: both workers' routers" has_all "$T/b" '<svg' '198.18.0.5' '198.18.0.9'
check "... cached in the manager's directory" test -s "$svg"
ino=$(stat -c %i "$svg")
req GET /map.svg "" "$S"
same "the data unchanged: the same file served, not drawn again" "$(stat -c %i "$svg")" "$ino"
same "new data: w1 posts another trace" "$(trace "$K1" w1 198.18.3.3 198.18.0.77)" 200
req GET /map.svg "" "$S"
check "... the map drawn again, with it" sh -c "[ \$(stat -c %i '$svg') != $ino ] && grep -q '198.18.0.77' '$T/b'"
req POST /map/filter "csrf=$csrf&node=w2" "$S"
same "filter by node w2: 303 to /map?node=w2" "$code:$(location)" "303:$SN/map?node=w2"
req GET "/map?node=w2" "" "$S"
check "... the page's image asks for w2's map" grep -q "src=\"$SN/map.svg?node=w2\"" "$T/b"
req GET "/map.svg?node=w2" "" "$S"
check "... w2's links only" sh -c "grep -q '198.18.0.9' '$T/b' && ! grep -q '198.18.0.5' '$T/b'"
req POST /map/filter "node=w2" "$S"
same "the filter without the CSRF token: 403" "$code" 403
req GET "/map.svg?node=..%2Fx" "" "$S"
same "a node that is no name: 400" "$code" 400
req GET /map.svg "" ""
check "the image without a session: the login form, no map" sh -c "[ $code = 200 ] && grep -q 'action=\"$SN/login\"' '$T/b' && ! grep -q '<svg' '$T/b'"

# ---- controls ----
req GET /controls "" "$S"
same "GET /controls: 200" "$code" 200
check "... the hub's gateway, no admin key yet" has_all "$T/b" "<code id=\"hub-url\">$G</code>" '<span id="admin-key">none</span>'
req POST /controls/rotate "csrf=$csrf" "$S"
same "rotate without an admin key: 400, says so" "$code:$(grep -c 'keeps no admin key' "$T/b")" "400:1"
req POST /controls/admin-key "csrf=$csrf" "$S"
same "make the manager's admin key on the hub: 303" "$code:$(location)" "303:$SN/controls"
# live NAME: the hub's keys of NAME not revoked, "admin" or "worker" each.
live() { "$httpd" key list -d "$H" | awk -v n="$1" '$1 == n && $4 == "-" { print $3 == "yes" ? "admin" : "worker" }' | tr '\n' ' '; }
same "... the hub has it, as an admin key" "$(live hopmap-manager)" "admin "
req GET /controls "" "$S"
check "... the page says it is kept" grep -q '<span id="admin-key">kept</span>' "$T/b"
check "... sealed: no key-like text in the store" sh -c "! sqlite3 '$M/manager.db' \"SELECT v FROM meta WHERE k = 'hub_admin_key'\" | grep -qa '[A-Za-z0-9_-]\\{40\\}'"
req POST /controls/admin-key "csrf=$csrf" "$S"
same "made again: 303, the older one revoked, one live" "$code:$(live hopmap-manager)" "303:admin "
req POST /controls/rotate "" "$S"
same "rotate without the CSRF token: 403" "$code" 403
check "... logged" logged "AUTH_FAILURE user=alice ip=127.0.0.1 reason=missing_csrf"
before=$(readlink "$H/map.db")
req POST /controls/rotate "csrf=$csrf" "$S"
same "rotate: 200" "$code" 200
after=$(readlink "$H/map.db")
check "... the hub writes a new file now" test "$before" != "$after"
check "... the page names it" grep -q "<p id=\"rotated\">Rotated: the hub writes to <code>.*$(basename "$after")" "$T/b"
check "... logged ROTATE" logged "ROTATE user=alice ip=127.0.0.1 reason=ok"
same "a trace after the rotation" "$(trace "$K2" w2 198.18.4.4 198.18.0.99)" 200
req POST /controls/dump "csrf=$csrf" "$S"
same "dump: 200, application/vnd.sqlite3, an attachment" \
    "$code:$(grep -ci '^Content-Type: application/vnd.sqlite3' "$T/h"):$(grep -ci '^Content-Disposition: attachment; filename="[A-Za-z0-9._-]*"' "$T/h")" "200:1:1"
same "... a whole SQLite file (integrity_check)" "$(sqlite3 "$T/b" 'PRAGMA integrity_check' 2>&1)" ok
same "... the current file's trace" "$(sqlite3 "$T/b" 'SELECT ip FROM traces' 2>&1)" 198.18.4.4
check "... logged DUMP" logged "DUMP user=alice ip=127.0.0.1 reason=ok"
req GET /map.svg "" "$S"
check "the map after the rotation: the whole series, old and new" has_all "$T/b" '198.18.0.5' '198.18.0.99'
"$httpd" key revoke -d "$H" hopmap-manager >/dev/null 2>&1
req POST /controls/dump "csrf=$csrf" "$S"
same "dump with a revoked admin key: 502, the hub's 401 told" "$code:$(grep -c 'HTTP 401' "$T/b")" "502:1"
check "no sanitizer report from the CGI" no_sanitizer_report $ERRLOGS
