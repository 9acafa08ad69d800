# manager.cgi under a stock CGI server, Debian's lighttpd (mod_cgi), or
# under hopmap-httpd --manager (t-manager-httpd.sh runs this file with
# MANAGER_SERVER=httpd), on a loopback port, driven by curl.  Login with oathtool's code, the dashboard,
# logout; replayed and wrong codes, an expired session, missing and wrong
# CSRF tokens and too many failures (per user, per address) are each
# refused, each with its line in the log.
. "$(dirname "$0")/lib.sh"
for c in curl oathtool sqlite3; do
	command -v $c >/dev/null || { skip "no $c"; exit 0; }
done
M=$T/m
LOG=$T/auth.log
unset HOPMAP_MANAGER_KEY

# A free port of this test's own (24000-24999 are the manager's).
take_port port 24100 24199

hub=$T/hub.db
. "$(dirname "$0")/manager-server.sh"
manager_up "$port" "$M" HOPMAP_MANAGER_LOG="$LOG" HOPMAP_MANAGER_HUB_DB="$hub"

# A hub database with a few results, as sqlsink writes it.
{
	echo '{"ip":"198.18.1.1","node":"w1","ping":{"method":"icmp","ok":true,"sent":1,"recv":1,"rtt_ms":0.5,"ts":"2026-11-30T10:00:00.000Z"}}'
	echo '{"ip":"198.18.1.2","node":"<i>w2</i>","ping":{"method":"icmp","ok":false,"sent":1,"recv":0,"ts":"2026-11-30T10:00:01.000Z"}}'
	echo '{"ip":"198.18.1.1","node":"w1","trace":{"method":"icmp-paris","stop":"completed","ts":"2026-11-30T10:00:02.000Z","hops":[{"ttl":1,"ip":"198.18.0.1","rtt_ms":0.1},{"ttl":2,"ip":"198.18.0.5","rtt_ms":0.2},{"ttl":3,"ip":"198.18.1.1","rtt_ms":0.3}]}}'
} | sqlsink "$hub" 2>"$T/sink.err"

# req METHOD PATH BODY COOKIE [CURL-ARGS]: headers in $T/h, body in $T/b,
# the status in $code.
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
# form_token: a fresh login form's token (in the cookie and the form).
form_token() { req GET / "" "" "$@"; cookie_of hm_login; }
# login USER CODE [CURL-ARGS]
login() {
	local tok
	tok=$(form_token "${@:3}")
	req POST /login "user=$1&code=$2&csrf=$tok" "hm_login=$tok" "${@:3}"
}
logged() { grep -q -- "$1" "$LOG"; }
add() { hopmap-manager -n -d "$M" add-user "$1" | sed -n 's/.*secret=\([A-Z2-7]*\).*/\1/p'; }
alice=$(add alice); bob=$(add bob); carol=$(add carol); dave=$(add dave)

req GET / "" ""
same "GET /: the login form" "$code" 200
check "... with the form's token in a strict cookie" \
    grep -q "^Set-Cookie: hm_login=[0-9a-f]\{64\}; Path=$SN; Max-Age=3600; HttpOnly; Secure; SameSite=Strict" "$T/h"
check "... and no script, nothing framed" has_all "$T/h" "default-src 'none'" "X-Frame-Options: DENY"
check "... saying that over plain HTTP the Secure cookies are dropped" grep -q 'id="insecure"' "$T/b"

acode=$(oathtool --totp -b "$alice")
login alice "$acode"
same "login with oathtool's code: 303" "$code" 303
sid=$(cookie_of hm_session)
check "... a session cookie, HttpOnly, Secure, SameSite=Strict" \
    grep -q "^Set-Cookie: hm_session=$sid; Path=$SN; Max-Age=3600; HttpOnly; Secure; SameSite=Strict" "$T/h"
check "... to the dashboard" grep -q "^Location: $SN/" "$T/h"
check "... logged as LOGIN" logged "LOGIN user=alice ip=127.0.0.1 reason=ok"
req GET / "" "hm_session=$sid"
same "the dashboard with the session: 200" "$code" 200
check "... no samples yet: no counts, no charts" \
    sh -c "grep -q 'id=\"probed\"><' '$T/b' && [ \$(grep -c 'no samples yet' '$T/b') = 4 ] && ! grep -q '<svg' '$T/b'"
hopmap-manager -d "$M" --hub-db "$hub" poll >"$T/poll" 2>&1
same "hopmap-manager poll: a sample of the hub's counts" "$?:$(cat "$T/poll")" \
    "0:hub $hub probed=2 responders=1 routers=2 links=2"
req GET / "" "hm_session=$sid"
check "... the hub's counts: 2 probed, 1 responder, 2 routers, 2 links" \
    has_all "$T/b" 'id="probed">2<' 'id="responders">1<' 'id="routers">2<' 'id="links">2<'
check "... each a chart drawn on the server (inline SVG, no script)" \
    sh -c "has() { grep -q \"\$1\" '$T/b'; }; has '<svg id=\"chart-probed\"' && has '<svg id=\"chart-responders\"' && has '<svg id=\"chart-routers\"' && has '<svg id=\"chart-links\"' && ! grep -qi '<script' '$T/b'"
echo '{"ip":"198.18.1.3","node":"w1","ping":{"method":"icmp","ok":true,"sent":1,"recv":1,"rtt_ms":0.7,"ts":"2026-11-30T10:00:03.000Z"}}' |
    sqlsink "$hub" 2>>"$T/sink.err"
req GET / "" "hm_session=$sid"
check "... a page load counts nothing over the hub's database: 2 probed until the next poll" \
    grep -q 'id="probed">2<' "$T/b"
# Samples are kept by the second: poll again until a second one is kept.
check "a second poll, a second sample" until_ok 10 sh -c \
    "hopmap-manager -d '$M' --hub-db '$hub' poll >/dev/null && [ \$(sqlite3 '$M/manager.db' 'SELECT count(*) FROM samples') = 2 ]"
req GET / "" "hm_session=$sid"
check "... 3 probed now" has_all "$T/b" 'id="probed">3<' 'id="responders">2<'
pts=$(sed -n 's/.*<svg id="chart-probed".*points="\([^"]*\)".*/\1/p' "$T/b")
same "... the chart of targets probed rises from its first point to its last" \
    "$(echo "$pts" | awk '{ split($1, a, ","); split($NF, b, ","); print NF, (a[2] + 0 > b[2] + 0) }')" "2 1"
req GET /?span=7d "" "hm_session=$sid"
check "... another span (7d) by a plain link" has_all "$T/b" '<strong>7d</strong>' "href=\"$SN/?span=24h\"" '<svg id="chart-links"'
check "... and the most recent results" has_all "$T/b" '198.18.1.2' 'no reply' '3 hops, completed'
check "... a node's name from the hub's records escaped" \
    sh -c "grep -q '&lt;i&gt;w2&lt;/i&gt;' '$T/b' && ! grep -q '<i>w2' '$T/b'"
# A vantage named as markup draws into the map's SVG as text.
if command -v dot >/dev/null; then
	echo '{"ip":"198.18.1.4","node":"<script>w3</script>","trace":{"method":"icmp-paris","stop":"completed","ts":"2026-11-30T10:00:04.000Z","hops":[{"ttl":1,"ip":"198.18.0.1","rtt_ms":0.1},{"ttl":2,"ip":"198.18.1.4","rtt_ms":0.2}]}}' |
	    sqlsink "$hub" 2>>"$T/sink.err"
	req GET /map.svg "" "hm_session=$sid"
	check "the map's SVG: a vantage named <script>w3</script> is text in it" \
	    sh -c "[ '$code' = 200 ] && grep -q '&lt;script&gt;w3' '$T/b' && ! grep -qi '<script' '$T/b'"
else
	skip "no Graphviz dot: the map's SVG not drawn"
fi

login alice "$acode"
same "the same code again: 403" "$code" 403
check "... logged replayed_code" logged "AUTH_FAILURE user=alice ip=127.0.0.1 reason=replayed_code"
bad=$(printf '%06d' $(( (10#$(oathtool --totp -b "$bob") + 1) % 1000000 )))
login bob "$bad"
same "a wrong code: 403" "$code" 403
check "... logged bad_code" logged "AUTH_FAILURE user=bob ip=127.0.0.1 reason=bad_code"
tok=$(form_token)
req POST /login "user=bob&code=$(oathtool --totp -b "$bob")" "hm_login=$tok"
same "login without the CSRF token: 403" "$code" 403
check "... logged missing_csrf" logged "AUTH_FAILURE user=bob ip=127.0.0.1 reason=missing_csrf"
other=$(form_token)
req POST /login "user=bob&code=$(oathtool --totp -b "$bob")&csrf=$other" "hm_login=$tok"
same "login with another form's token: 403" "$code" 403
forged=$(printf '%064d' 1)
req POST /login "user=bob&code=$(oathtool --totp -b "$bob")&csrf=$forged" "hm_login=$forged"
same "login with a token not made here (cookie and form alike): 403" "$code" 403
same "... both logged bad_csrf" "$(grep -c 'user=bob ip=127.0.0.1 reason=bad_csrf' "$LOG")" 2

# Logout under the session's own token.
req GET / "" "hm_session=$sid"
csrf=$(sed -n 's/.*logout"><input type="hidden" name="csrf" value="\([0-9a-f]*\)".*/\1/p' "$T/b")
req POST /logout "" "hm_session=$sid"
same "logout without the CSRF token: 403" "$code" 403
check "... logged missing_csrf for alice" logged "AUTH_FAILURE user=alice ip=127.0.0.1 reason=missing_csrf"
req POST /logout "csrf=$forged" "hm_session=$sid"
same "logout with a wrong CSRF token: 403" "$code" 403
check "... logged bad_csrf for alice" logged "AUTH_FAILURE user=alice ip=127.0.0.1 reason=bad_csrf"
req POST /logout "csrf=$csrf" "hm_session=$sid"
same "logout: 303" "$code" 303
check "... the cookie deleted" grep -q "^Set-Cookie: hm_session=; Path=$SN; Max-Age=0" "$T/h"
check "... logged as LOGOUT" logged "LOGOUT user=alice ip=127.0.0.1"
req GET / "" "hm_session=$sid"
check "the old cookie after logout: the login form" grep -q 'name="code"' "$T/b"
check "... logged bad_session" logged "AUTH_FAILURE user=- ip=127.0.0.1 reason=bad_session"

# An expired session: its lifetime run out (moved, not waited for).
login carol "$(oathtool --totp -b "$carol")"
csid=$(cookie_of hm_session)
req GET / "" "hm_session=$csid"
same "carol's session works" "$code/$(grep -c 'id="logout"' "$T/b")" "200/1"
sqlite3 "$M/manager.db" "UPDATE sessions SET expires = strftime('%s','now') - 1 WHERE user = 'carol'"
req GET / "" "hm_session=$csid"
check "an expired session: the login form, saying so" has_all "$T/b" 'session expired' 'name="code"'
check "... logged SESSION_EXPIRED" logged "SESSION_EXPIRED user=carol ip=127.0.0.1 reason=lifetime"
req GET / "" "hm_session=$csid"
check "... and it is gone" logged "AUTH_FAILURE user=- ip=127.0.0.1 reason=bad_session"

# Too many failures: dave's 5 wrong codes lock dave, even his right code.
for i in 1 2 3 4 5; do login dave 000000; done
dcode=$(oathtool --totp -b "$dave")
[ "$dcode" != 000000 ] || dcode=$(oathtool --totp -b "$dave" --now "$(date -u -d '+31 sec' '+%F %T')")
login dave "$dcode"
same "dave after 5 failures, with the right code: 429" "$code" 429
check "... logged locked_user" logged "AUTH_FAILURE user=dave ip=127.0.0.1 reason=locked_user"
# From 127.0.0.9: 20 failures for 20 names lock the address for anyone.
for i in $(seq 20); do login "u$i" 123456 --interface 127.0.0.9; done
same "20 failures from 127.0.0.9 logged" "$(grep -c 'ip=127.0.0.9 reason=unknown_user' "$LOG")" 20
login bob "$(oathtool --totp -b "$bob")" --interface 127.0.0.9
same "bob's right code from 127.0.0.9 then: 429" "$code" 429
check "... logged locked_ip" logged "AUTH_FAILURE user=bob ip=127.0.0.9 reason=locked_ip"
login bob "$(oathtool --totp -b "$bob")"
same "bob's right code from 127.0.0.1: 303" "$code" 303

# A lock as a weapon: anyone can fail erin's name from elsewhere, but not
# keep her out of the address she logged in from (the policy in
# manager.cgi(8)).
erin=$(add erin)
login erin "$(oathtool --totp -b "$erin")"
same "erin logs in from 127.0.0.1" "$code" 303
for i in 1 2 3 4 5; do login erin 000000 --interface 127.0.0.10; done
same "5 failures for erin from 127.0.0.10 logged" "$(grep -c 'user=erin ip=127.0.0.10 reason=' "$LOG")" 5
# The next step's code: the first login took this one.
ecode=$(oathtool --totp -b "$erin" --now "$(date -u -d '+30 sec' '+%F %T')")
login erin "$ecode" --interface 127.0.0.10
same "erin's right code from 127.0.0.10 then: 429" "$code" 429
login erin "$ecode"
same "... from 127.0.0.1, where she logged in before: 303" "$code" 303

check "no sanitizer report in the CGI's stderr" no_sanitizer_report $ERRLOGS
