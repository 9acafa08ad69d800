# hopmap's manager in a real browser: headless Chromium (Debian's chromium,
# chromium-driver, python3-selenium; tests/browser/manager_login.py), the
# manager served by the hub's own hopmap-httpd --manager: logs in with
# oathtool's code, sees the dashboard and its charts, registers a worker
# (hopmap-httpd's node face; type detected), makes and revokes its API
# key, sees the map and filters it by node, logs out.
# Browser and server run in a network namespace of their own with only
# its loopback, so nothing the browser might send leaves it.  Screenshots
# go to tests/out/manager-browser/.
. "$(dirname "$0")/lib.sh"
py=/usr/bin/python3
for c in dot oathtool chromium chromedriver unshare ip; do
	command -v $c >/dev/null || { skip "no $c"; exit 0; }
done
$py -c 'import selenium' 2>/dev/null || { skip "no python3-selenium"; exit 0; }
shots=$HOPMAP_TOP/tests/out/manager-browser
rm -rf "$shots"
mkdir -p "$shots" "$T/hub" "$T/w1"
M=$T/m H=$T/hub
unset HOPMAP_MANAGER_KEY HOPMAP_MANAGER_HUB_DB
port=24201 wport=24202	# inside the test's own namespace: no one else's ports there
# The hub's database, as its sink writes it: pings and w1's traces.
{
	echo '{"ip":"198.18.1.1","node":"w1","ping":{"method":"icmp","ok":true,"sent":1,"recv":1,"rtt_ms":0.5,"ts":"2026-11-30T10:00:00.000Z"}}'
	echo '{"ip":"198.18.1.2","node":"w1","ping":{"method":"icmp","ok":false,"sent":1,"recv":0,"ts":"2026-11-30T10:00:01.000Z"}}'
	echo '{"ip":"198.18.1.1","node":"w1","trace":{"method":"icmp-paris","stop":"completed","ts":"2026-11-30T10:00:02.000Z","hops":[{"ttl":1,"ip":"198.18.0.1","rtt_ms":0.1},{"ttl":2,"ip":"198.18.0.5","rtt_ms":0.2},{"ttl":3,"ip":"198.18.1.1","rtt_ms":0.3}]}}'
} | sqlsink "$H/map.db" 2>"$T/sink.err"
# The dashboard's counts are poll's samples.
hopmap-manager -d "$M" --hub-db "$H/map.db" poll >"$T/poll" 2>&1 || { cat "$T/poll"; echo "not ok - poll"; exit 1; }
secret=$(hopmap-manager -n -d "$M" add-user alice | sed -n 's/.*secret=\([A-Z2-7]*\).*/\1/p')
# The part inside the namespace: loopback up, the worker and the hub
# (with the manager), the browser.
cat >"$T/inner.sh" <<INNER
ip link set lo up
hopmap-httpd -l 127.0.0.1:$wport -d "$T/w1" --name w1 2>"$T/w1.err" &
w=\$!
HOPMAP_MANAGER_LOG="$T/auth.log" hopmap-httpd -l 127.0.0.1:$port --hub "$H" \\
    --name hub1 --manager "$M" 2>"$T/hub.err" &
h=\$!
trap 'kill \$w \$h; wait \$w \$h' EXIT
for _ in \$(seq 200); do
	curl -s -o /dev/null "http://127.0.0.1:$port/manager/" &&
	    curl -s -o /dev/null "http://127.0.0.1:$wport/health" && break
	sleep 0.1
done
HOME=$T timeout 300 $py "$HOPMAP_TOP/tests/browser/manager_login.py" \\
    "http://localhost:$port/manager/" alice "$secret" "$shots" \\
    "http://127.0.0.1:$wport"
INNER
timeout 400 unshare --net sh "$T/inner.sh" 2>"$T/browser.err"
brc=$?
[ "$brc" -eq 0 ] || { echo "# the browser's run, status $brc:"; sed 's/^/# /' "$T/browser.err" | tail -n 20; }
check "screenshots saved (login, dashboard, worker, key, map, logged out)" sh -c \
    "for s in 1-login 2-dashboard 3-worker-registered 4-new-key 5-key-revoked 6-map 7-map-w1 8-logged-out; do test -s \"$shots/\$s.png\" || exit 1; done"
check "the browser's login, key and logout are in the log" \
    has_all "$T/auth.log" 'LOGIN user=alice ip=127.0.0.1' 'KEY_ADD user=alice ip=127.0.0.1 reason=w1' \
    'KEY_REVOKE user=alice ip=127.0.0.1 reason=w1' 'LOGOUT user=alice ip=127.0.0.1'
same "the hub has w1's key, revoked" "$(hopmap-httpd key list -d "$H" | awk '$1 == "w1" { print ($4 != "-") }')" 1
check "no sanitizer report from the daemons or the CGI" no_sanitizer_report "$T/hub.err" "$T/w1.err"
