# Two managers taking turns on one name: manager.cgi under two lighttpd on
# two loopback addresses (127.0.0.2, 127.0.0.3), sharing the manager's
# directory (its SQLite store); a session made on one is good on the other.
# Each runs hopmap-dyfi with the other's health check as --peer and the
# updater's state in the shared directory: the standby takes the name over
# (the dy.fi stand-in sees it move) when the holder stops answering, and
# does not give it back when the holder returns.
. "$(dirname "$0")/lib.sh"
for c in lighttpd curl oathtool openssl python3; do
	command -v $c >/dev/null || { skip "no $c"; exit 0; }
done
. "$HOPMAP_TOP/tests/names/lib.sh"
test_ca || { echo "not ok - a test CA from openssl"; exit 1; }
dport=$(free_port_of 28301 28311 28321) || { skip "no free port in 28301..28321"; exit 0; }
check "the dy.fi stand-in is up" dyfi_standin "$dport"
port=
for p in 28331 28341 28351; do
	if ! (exec 3<>"/dev/tcp/127.0.0.2/$p") 2>/dev/null &&
	    ! (exec 3<>"/dev/tcp/127.0.0.3/$p") 2>/dev/null; then port=$p; break; fi
done
[ -n "$port" ] || { skip "no free port in 28331..28351"; exit 0; }
M=$T/shared
unset HOPMAP_MANAGER_KEY
mkdir -p "$T/www/manager"
cp "$HOPMAP_BIN/manager.cgi" "$T/www/manager/manager.cgi"

# manager X ADDR: lighttpd for manager X on ADDR:$port, the shared store.
manager() {
	cat >"$T/$1.conf" <<CONF
server.document-root = "$T/www"
server.bind = "$2"
server.port = $port
server.pid-file = "$T/$1.pid"
server.errorlog = "$T/$1.err"
server.breakagelog = "$T/$1.cgi.err"
server.modules = ("mod_cgi", "mod_setenv")
\$HTTP["url"] =~ "^/manager/" {
	cgi.assign = ("manager.cgi" => "")
	setenv.add-environment = (
		"HOPMAP_MANAGER_DIR" => "$M",
		"HOPMAP_MANAGER_LOG" => "$M/auth.log",
		"ASAN_OPTIONS" => "${ASAN_OPTIONS:-}",
		"UBSAN_OPTIONS" => "${UBSAN_OPTIONS:-}",
	)
}
CONF
	lighttpd -D -f "$T/$1.conf" >"$T/$1.out" 2>&1 &
	eval "pid_$1=$!"
	cleanup_hooks+=("kill $! 2>/dev/null; wait $! 2>/dev/null")
	until_ok 20 curl -s -o /dev/null "http://$2:$port/manager/manager.cgi/"
}
A=http://127.0.0.2:$port/manager/manager.cgi
B=http://127.0.0.3:$port/manager/manager.cgi
check "manager a up on 127.0.0.2" manager a 127.0.0.2
check "manager b up on 127.0.0.3" manager b 127.0.0.3

# ---- the session store is shared ----
secret=$(hopmap-manager -n -d "$M" add-user alice | sed -n 's/.*secret=\([A-Z2-7]*\).*/\1/p')
curl -s -o /dev/null -D "$T/h" "$A/"
tok=$(sed -n 's/^Set-Cookie: hm_login=\([0-9a-f]*\);.*/\1/p' "$T/h")
code=$(curl -s -o /dev/null -D "$T/h" -w '%{http_code}' -H "Cookie: hm_login=$tok" \
    --data-raw "user=alice&code=$(oathtool --totp -b "$secret")&csrf=$tok" "$A/login")
same "login on a: 303" "$code" 303
sid=$(sed -n 's/^Set-Cookie: hm_session=\([0-9a-f]*\);.*/\1/p' "$T/h")
dash() { curl -s -o "$T/b" -w '%{http_code}' -H "Cookie: hm_session=$sid" "$1/"; }
same "a's session on b: the dashboard" "$(dash "$B"):$(grep -c 'id="logout"' "$T/b")" "200:1"
csrf=$(sed -n 's/.*logout"><input type="hidden" name="csrf" value="\([0-9a-f]*\)".*/\1/p' "$T/b")
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Cookie: hm_session=$sid" --data-raw "csrf=$csrf" "$B/logout")
same "logout on b: 303" "$code" 303
same "... and the session is gone on a too" "$(dash "$A"):$(grep -c 'name="code"' "$T/b")" "200:1"

# ---- the name ----
# dyfi X ADDR PEER: manager X's updater, from ADDR, watching the manager
# at PEER through the name's URL (no lookup: --peer-addr).
dyfi() {
	run hopmap-dyfi -c "$T/creds" -s "$M/dyfi-home.dy.fi" -u "$URL" \
	    --cacert "$T/ca.pem" -l "$T/dyfi-$1.log" -i "$2" -a "echo $2" \
	    --id "$1" --peer "http://home.dy.fi:$port/manager/manager.cgi/" \
	    --peer-addr "$3" --peer-tries 1 home.dy.fi
}
asked() { wc -l <"$T/dyfi/requests"; }
name_at() { sed -n 's/^home\.dy\.fi //p' "$T/dyfi/names"; }
dyfi a 127.0.0.2 127.0.0.3
same "a's updater first: good, the name at a" "$rc:$(name_at)" "0:127.0.0.2"
n=$(asked)
dyfi b 127.0.0.3 127.0.0.2
same "b's updater, a answering: nothing sent" "$rc:$(asked)" "0:$n"
dyfi a 127.0.0.2 127.0.0.3
same "a's again, not due: nothing sent" "$rc:$(asked)" "0:$n"

kill "$pid_a"; wait "$pid_a" 2>/dev/null
dyfi b 127.0.0.3 127.0.0.2
same "a stopped: b's updater takes the name over" "$rc:$(name_at)" "0:127.0.0.3"
check "... the stand-in saw the request from b" sh -c "tail -n 1 '$T/dyfi/requests' | grep -q '^src=127.0.0.3 .*answer=good_127.0.0.3'"
check "... logged as a takeover from a" grep -q 'answer=good addr=127.0.0.3 reason=takeover from=a' "$T/dyfi-b.log"
n=$(asked)
dyfi b 127.0.0.3 127.0.0.2
same "... b's again: b holds it, not due, nothing sent" "$rc:$(asked)" "0:$n"
same "... the dashboard on b with a new login" "$(curl -s -o /dev/null -w '%{http_code}' "$B/")" 200

check "a back" manager a 127.0.0.2
dyfi a 127.0.0.2 127.0.0.3
same "a's updater, b answering: no give-back, nothing sent" "$rc:$(asked):$(name_at)" "0:$n:127.0.0.3"
sed -i "s/^time=.*/time=$(( $(date +%s) - 6 * 86400 ))/" "$M/dyfi-home.dy.fi"
dyfi a 127.0.0.2 127.0.0.3
same "six days on, a's: still b's to refresh, nothing sent" "$rc:$(asked)" "0:$n"
dyfi b 127.0.0.3 127.0.0.2
same "... b's refreshes it (nochg): exit 0" "$rc:$(asked):$(name_at)" "0:$((n + 1)):127.0.0.3"

kill "$pid_b"; wait "$pid_b" 2>/dev/null
dyfi a 127.0.0.2 127.0.0.3
same "b stopped in turn: a takes the name back" "$rc:$(name_at)" "0:127.0.0.2"
check "no sanitizer report in the CGI's stderr" no_sanitizer_report "$T"/*.err
