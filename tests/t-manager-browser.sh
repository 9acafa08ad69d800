# hopmap's manager in a real browser: headless Chromium (Debian's chromium,
# chromium-driver, python3-selenium; tests/browser/manager_login.py) logs
# in under lighttpd with oathtool's code, sees the dashboard, logs out.
# Browser and server run in a network namespace of their own with only
# its loopback, so nothing the browser might send leaves it.  Screenshots
# go to tests/out/manager-browser/.
. "$(dirname "$0")/lib.sh"
py=/usr/bin/python3
for c in lighttpd oathtool chromium chromedriver unshare ip; do
	command -v $c >/dev/null || { skip "no $c"; exit 0; }
done
$py -c 'import selenium' 2>/dev/null || { skip "no python3-selenium"; exit 0; }
shots=$HOPMAP_TOP/tests/out/manager-browser
rm -rf "$shots"
mkdir -p "$shots" "$T/www/manager"
M=$T/m
unset HOPMAP_MANAGER_KEY
port=24201	# inside the test's own namespace: no one else's port there
cp "$HOPMAP_BIN/manager.cgi" "$T/www/manager/manager.cgi"
{
	echo '{"ip":"198.18.1.1","node":"w1","ping":{"method":"icmp","ok":true,"sent":1,"recv":1,"rtt_ms":0.5,"ts":"2026-11-30T10:00:00.000Z"}}'
	echo '{"ip":"198.18.1.2","node":"w1","ping":{"method":"icmp","ok":false,"sent":1,"recv":0,"ts":"2026-11-30T10:00:01.000Z"}}'
} | sqlsink "$T/hub.db" 2>"$T/sink.err"
# The dashboard's counts are poll's samples.
hopmap-manager -d "$M" --hub-db "$T/hub.db" poll >"$T/poll" 2>&1 || { cat "$T/poll"; echo "not ok - poll"; exit 1; }
secret=$(hopmap-manager -n -d "$M" add-user alice | sed -n 's/.*secret=\([A-Z2-7]*\).*/\1/p')
cat >"$T/lighttpd.conf" <<CONF
server.document-root = "$T/www"
server.bind = "127.0.0.1"
server.port = $port
server.errorlog = "$T/lighttpd.err"
server.breakagelog = "$T/cgi.err"
server.modules = ("mod_cgi", "mod_setenv")
\$HTTP["url"] =~ "^/manager/" {
	cgi.assign = ("manager.cgi" => "")
	setenv.add-environment = (
		"HOPMAP_MANAGER_DIR" => "$M",
		"HOPMAP_MANAGER_LOG" => "$T/auth.log",
		"HOPMAP_MANAGER_HUB_DB" => "$T/hub.db",
	)
}
CONF
# The part inside the namespace: loopback up, lighttpd, the browser.
cat >"$T/inner.sh" <<INNER
ip link set lo up
lighttpd -D -f "$T/lighttpd.conf" >"$T/lighttpd.out" 2>&1 &
l=\$!
trap 'kill \$l; wait \$l' EXIT
for _ in \$(seq 200); do
	curl -s -o /dev/null "http://127.0.0.1:$port/manager/manager.cgi/" && break
	sleep 0.1
done
HOME=$T timeout 300 $py "$HOPMAP_TOP/tests/browser/manager_login.py" \
    "http://localhost:$port/manager/manager.cgi/" alice "$secret" "$shots"
INNER
timeout 400 unshare --net sh "$T/inner.sh" 2>"$T/browser.err"
brc=$?
[ "$brc" -eq 0 ] || { echo "# the browser's run, status $brc:"; sed 's/^/# /' "$T/browser.err" | tail -n 20; }
check "screenshots saved (login, dashboard, logged out)" \
    test -s "$shots/1-login.png" -a -s "$shots/2-dashboard.png" -a -s "$shots/3-logged-out.png"
check "the browser's login and logout are in the log" \
    has_all "$T/auth.log" 'LOGIN user=alice ip=127.0.0.1' 'LOGOUT user=alice ip=127.0.0.1'
check "no sanitizer report in the CGI's stderr" no_sanitizer_report "$T/cgi.err"
