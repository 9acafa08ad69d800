# The manager's workers against real nodes: hopmap-httpd as a worker's
# face, as one that wants a key for its node face, and as the hub's, all
# on loopback; manager.cgi under lighttpd
# (or hopmap-httpd --manager: t-*-httpd.sh), with curl.  Registration takes
# name and type from /service-info (ping vs the hub's output, a manual
# type overriding), hopmap-manager poll records up and down, the hub's
# API key for a worker is made (shown once, working) and revoked (refused
# from then on), and the poll key is kept sealed in the store.
. "$(dirname "$0")/lib.sh"
for c in curl oathtool sqlite3 jq; do
	command -v $c >/dev/null || { skip "no $c"; exit 0; }
done
M=$T/m H=$T/hub W1=$T/w1 W2=$T/w2
LOG=$T/auth.log
unset HOPMAP_MANAGER_KEY HOPMAP_MANAGER_HUB_DB
httpd=$HOPMAP_BIN/hopmap-httpd
[ -x "$httpd" ] || { skip "no hopmap-httpd"; exit 0; }

# Free ports of this test's own (24200-24299), each taken as its daemon
# starts (taken together, a port another took since would fail the test).

up() {
	local name=$1 p=$2
	shift 2
	"$httpd" -l "127.0.0.1:$p" "$@" 2>>"$T/$name.log" &
	eval "pid_$name=$!"
	cleanup_hooks+=("kill $! 2>/dev/null; wait $! 2>/dev/null")
	until_ok 60 grep -qs "listening on 127.0.0.1:$p" "$T/$name.log"
}
mkdir -p "$H" "$W1" "$W2"
take_port pw1 24200 24299
check "up: a worker's face (w1)" up w1 "$pw1" -d "$W1" --name w1
W2KEY=$("$httpd" key add -d "$W2" manager 2>/dev/null)
take_port pw2 24200 24299
check "up: a worker whose node face needs a key (w2)" up w2 "$pw2" -d "$W2" --name w2 --health-key
take_port phub 24200 24299
check "up: the hub's face (hub1)" up hub "$phub" --hub "$H" --name hub1

. "$(dirname "$0")/manager-server.sh"
take_port port 24200 24299
manager_up "$port" "$M" HOPMAP_MANAGER_LOG="$LOG" HOPMAP_MANAGER_HUB_DIR="$H" HOPMAP_MANAGER_HTTPD="$httpd"

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
logged() { grep -q -- "$1" "$LOG"; }
secret=$(hopmap-manager -n -d "$M" add-user alice | sed -n 's/.*secret=\([A-Z2-7]*\).*/\1/p')
req GET / "" ""
tok=$(cookie_of hm_login)
req POST /login "user=alice&code=$(oathtool --totp -b "$secret")&csrf=$tok" "hm_login=$tok"
same "login: 303" "$code" 303
S="hm_session=$(cookie_of hm_session)"
req GET /workers "" "$S"
same "GET /workers: 200" "$code" 200
csrf=$(sed -n 's/.*name="csrf" value="\([0-9a-f]*\)".*/\1/p' "$T/b" | head -1)
check "... a register form with the session's CSRF token" has_all "$T/b" "action=\"$SN/workers/add\"" "value=\"$csrf\"" 'name="url"'
# id_of NAME: a worker's id from the page's forms.
id_of() { grep -o "name=\"id\" value=\"[0-9]*\"><button type=\"submit\" id=\"remove-$1\"" "$T/b" | sed 's/.*value="\([0-9]*\)".*/\1/'; }
row_of() { grep "<td class=\"name\">$1</td>" "$T/b"; }

req POST /workers/add "csrf=$csrf&url=http://127.0.0.1:$pw1" "$S"
same "register w1 by URL: 303 to the workers" "$code:$(sed -n 's/^Location: //p' "$T/h" | tr -d '\r')" "303:$SN/workers"
req POST /workers/add "csrf=$csrf&url=http://127.0.0.1:$phub/" "$S"
same "register the hub by URL: 303" "$code" 303
req POST /workers/add "csrf=$csrf&url=http://127.0.0.1:$pw2" "$S"
same "register w2 without its key: 400" "$code" 400
check "... the page says its /service-info wanted one (HTTP 401)" grep -q 'Not registered: HTTP 401' "$T/b"
req POST /workers/add "csrf=$csrf&url=http://127.0.0.1:$pw2&type=tracer&key=$W2KEY" "$S"
same "register w2 with its key and a manual type: 303" "$code" 303
req POST /workers/add "csrf=$csrf&url=http://127.0.0.1:$pw1" "$S"
same "register w1 again: 400" "$code" 400
req POST /workers/add "csrf=$csrf&url=file:///etc/passwd" "$S"
same "a file: URL: 400" "$code" 400
req POST /workers/add "url=http://127.0.0.1:$pw1" "$S"
same "register without the CSRF token: 403" "$code" 403
check "... logged missing_csrf" logged "AUTH_FAILURE user=alice ip=127.0.0.1 reason=missing_csrf"
req POST /workers/add "csrf=$(printf '%064d' 7)&url=http://127.0.0.1:$pw1" "$S"
same "register with a wrong CSRF token: 403" "$code" 403
check "... logged bad_csrf" logged "AUTH_FAILURE user=alice ip=127.0.0.1 reason=bad_csrf"
req POST /workers/add "csrf=$csrf&url=http://127.0.0.1:$pw1" ""
same "register without a session: 403" "$code" 403

req GET /workers "" "$S"
check "w1: type ping detected" sh -c "grep '<td class=\"name\">w1</td>' '$T/b' | grep -q '<td class=\"type\">ping</td>'"
check "hub1: the hub's type (output) detected" sh -c "grep '<td class=\"name\">hub1</td>' '$T/b' | grep -q '<td class=\"type\">output</td>'"
check "w2: the manual type, the detected one beside it" sh -c "grep '<td class=\"name\">w2</td>' '$T/b' | grep -q '<td class=\"type\">tracer (manual; detected ping)</td>'"
check "none polled yet" sh -c "[ \$(grep -c 'not polled yet' '$T/b') = 3 ]"
check "w2's poll key is not in the store in clear" sh -c "! grep -qa '$W2KEY' '$M/manager.db' '$M/manager.db-wal' 2>/dev/null"
same "... but a sealed one is there" "$(sqlite3 "$M/manager.db" "SELECT name, length(key) > 40 FROM workers WHERE key IS NOT NULL")" "w2|1"

# ---- poll ----
{
	echo '{"ip":"198.18.1.1","node":"w1","ping":{"method":"icmp","ok":true,"sent":1,"recv":1,"rtt_ms":0.5,"ts":"2026-11-30T10:00:00.000Z"}}'
} | sqlsink "$T/hub.db" 2>"$T/sink.err"
hopmap-manager -d "$M" --hub-db "$T/hub.db" poll >"$T/poll1" 2>"$T/poll1.err"
same "poll: exit 0" "$?" 0
check "... w1, w2 (with its key) and hub1 up" has_all "$T/poll1" "w1 http://127.0.0.1:$pw1 up" "w2 http://127.0.0.1:$pw2 up" "hub1 http://127.0.0.1:$phub/ up"
check "... and a sample of the hub's counts" grep -q "probed=1 responders=1 routers=0 links=0" "$T/poll1"
req GET /workers "" "$S"
check "the page: w1 up, its version and last seen" sh -c "grep '<td class=\"name\">w1</td>' '$T/b' | grep -q '<td class=\"state\">up</td><td class=\"seen\">[0-9-]* [0-9:]*Z ([0-9]* s ago)</td><td class=\"version\">[0-9]'"
check "... its counters (uptime)" sh -c "grep '<td class=\"name\">w1</td>' '$T/b' | grep -q '<td class=\"counters\">uptime'"
kill "$pid_w1" && wait "$pid_w1"
hopmap-manager -d "$M" poll >"$T/poll2" 2>"$T/poll2.err"
same "w1 stopped: poll still exits 0" "$?" 0
check "... w1 down (cannot connect), the others up" has_all "$T/poll2" "w1 http://127.0.0.1:$pw1 down: curl failed (exit 7: cannot connect)" "w2 http://127.0.0.1:$pw2 up"
req GET /workers "" "$S"
check "the page: w1 down, why, and when it was last seen" sh -c "grep '<td class=\"name\">w1</td>' '$T/b' | grep -q '<td class=\"state\">down</td><td class=\"seen\">[0-9-]* [0-9:]*Z ([0-9]* s ago)<br><span class=\"msg\">curl failed'"
check "poll with another server key: refused, nothing read" sh -c "! HOPMAP_MANAGER_KEY=$(printf '%064d' 0) hopmap-manager -d '$M' poll >/dev/null 2>'$T/poll3.err' && grep -q 'wrong server key' '$T/poll3.err'"

# ---- the hub's API key for a worker ----
id1=$(id_of w1)
req POST /workers/key-add "csrf=$csrf&id=$id1" "$S"
same "a new API key for w1: 200" "$code" 200
K1=$(sed -n 's/.*<code id="newkey">\([A-Za-z0-9_-]*\)<.*/\1/p' "$T/b")
check "... shown once on the page" test -n "$K1"
check "... the hub knows w1's key" sh -c "'$httpd' key list -d '$H' | grep -qw w1"
same "... and the hub takes it (GET /targets: 204, nothing to do)" "$(curl -s -o /dev/null -w "%{http_code}" -H "Authorization: Bearer $K1" "http://127.0.0.1:$phub/targets?n=1")" 204
check "... logged KEY_ADD" logged "KEY_ADD user=alice ip=127.0.0.1 reason=w1"
check "... no copy in the manager's store" sh -c "! grep -qa '$K1' '$M/manager.db' '$M/manager.db-wal' 2>/dev/null"
req POST /workers/key-revoke "csrf=$csrf&id=$id1" "$S"
same "revoke w1's key: 303" "$code" 303
same "... the hub refuses it now (401)" "$(curl -s -o /dev/null -w "%{http_code}" -H "Authorization: Bearer $K1" "http://127.0.0.1:$phub/targets?n=1")" 401
check "... logged KEY_REVOKE" logged "KEY_REVOKE user=alice ip=127.0.0.1 reason=w1"
req POST /workers/key-revoke "csrf=$csrf&id=$id1" "$S"
same "revoke it again: 404, no such key" "$code" 404
req POST /workers/key-add "id=$id1" "$S"
same "a key without the CSRF token: 403" "$code" 403
req POST /workers/remove "csrf=$csrf&id=$id1" "$S"
same "remove w1: 303" "$code" 303
req GET /workers "" "$S"
check "... gone from the page, the others stay" sh -c "! grep -q '<td class=\"name\">w1</td>' '$T/b' && grep -q '<td class=\"name\">w2</td>' '$T/b'"
req POST /workers/remove "csrf=$csrf&id=999" "$S"
same "remove an unknown worker: 404" "$code" 404
check "no sanitizer report from the CGI" no_sanitizer_report $ERRLOGS
check "examples/hopmap-manager.cron: poll each minute" \
    grep -q '^\* \* \* \* \* [a-z-]* [^ ]*hopmap-manager poll' "$HOPMAP_TOP/examples/hopmap-manager.cron"
