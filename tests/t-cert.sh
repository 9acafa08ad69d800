# hopmap-cert: certbot (Debian's) against Debian's pebble, the ACME test
# server, on loopback (challenges always valid: nothing is fetched), its
# deploy hook installing the pair where hopmap-httpd reads it; the running
# hopmap-httpd then serves the renewed certificate without a restart.
. "$(dirname "$0")/lib.sh"
for c in pebble certbot curl openssl; do
	command -v $c >/dev/null || { skip "no $c"; exit 0; }
done
[ -x "$HOPMAP_BIN/hopmap-httpd" ] || { skip "no hopmap-httpd built"; exit 0; }
. "$HOPMAP_TOP/tests/names/lib.sh"
test_ca || { echo "not ok - a test CA from openssl"; exit 1; }

# Pebble: its own TLS under the test's CA, its ACME directory and
# management API on loopback ports of this test's.
for base in 28200 28220 28240; do
	pa=$((base + 1)) pm=$((base + 2)) ph=$((base + 3)) pt=$((base + 4)) hp=$((base + 5))
	free_port_of $pa >/dev/null && free_port_of $pm >/dev/null && free_port_of $hp >/dev/null && break
	pa=
done
[ -n "$pa" ] || { skip "no free ports in 28201..28245"; exit 0; }
cat >"$T/pebble.json" <<JSON
{"pebble": {"listenAddress": "127.0.0.1:$pa", "managementListenAddress": "127.0.0.1:$pm",
 "certificate": "$T/srv.pem", "privateKey": "$T/srv.key", "httpPort": $ph, "tlsPort": $pt,
 "ocspResponderURL": "", "externalAccountBindingRequired": false}}
JSON
PEBBLE_VA_ALWAYS_VALID=1 PEBBLE_VA_NOSLEEP=1 PEBBLE_WFE_NONCEREJECT=0 \
    pebble -config "$T/pebble.json" >"$T/pebble.log" 2>&1 &
ppid_=$!
cleanup_hooks+=("kill $ppid_; wait $ppid_")
check "pebble answers on 127.0.0.1:$pa" until_ok 30 curl -sf -o /dev/null --cacert "$T/ca.pem" "https://127.0.0.1:$pa/dir"
# certbot (python's requests) trusts the test's CA for pebble's own TLS.
export REQUESTS_CA_BUNDLE=$T/ca.pem

NAME=manager.hopmap.test
TLS="$T/tls dir" # a space in it: the hook's command line quotes it
cert() {
	run hopmap-cert -s "https://127.0.0.1:$pa/dir" --certbot-dir "$T/certbot" \
	    -w "$T/www" -o "$TLS" -d "$NAME" "$@"
}
serial_of() { openssl x509 -noout -serial -in "$1" 2>/dev/null | sed 's/.*=//' | grep . || echo none; }
# served: the serial of the certificate hopmap-httpd shows for $NAME
served() {
	openssl s_client -connect "127.0.0.1:$hp" -servername "$NAME" </dev/null 2>/dev/null |
	    openssl x509 -noout -serial 2>/dev/null | sed 's/.*=//' | grep . || echo unserved
}

mkdir -p "$T/www"
cert
same "hopmap-cert: a certificate from pebble, exit 0" "$rc" 0
cat "$T/err" "$T/out"
check "... installed as cert.pem and key.pem" test -s "$TLS/cert.pem" -a -s "$TLS/key.pem"
check "... said, with its serial" grep -q "hopmap-cert: installed serial=" "$T/err"
same "... the key readable by root only" "$(stat -c %a "$TLS/key.pem")" 600
check "... for the name, issued by pebble" \
    sh -c "openssl x509 -noout -ext subjectAltName -issuer -in '$TLS/cert.pem' | grep -q 'DNS:$NAME' &&
           openssl x509 -noout -issuer -in '$TLS/cert.pem' | grep -qi pebble"
check "... the deploy hook kept in certbot's renewal configuration" \
    grep -q "^renew_hook = \"\\?[^ ]*/hopmap-cert --deploy -o '$TLS'\"\\?\$" "$T/certbot/config/renewal/hopmap.conf"
s1=$(serial_of "$TLS/cert.pem")

# pebble's root (made at its start) is what a client trusts.
curl -sf --cacert "$T/ca.pem" -o "$T/pebble-root.pem" "https://127.0.0.1:$pm/roots/0"
hopmap-httpd -l "127.0.0.1:$hp" --cert "$TLS/cert.pem" --key "$TLS/key.pem" 2>"$T/httpd.log" &
hpid=$!
cleanup_hooks+=("kill $hpid 2>/dev/null; wait $hpid 2>/dev/null")
check "hopmap-httpd up with the pair" until_ok 60 grep -qs "listening on 127.0.0.1:$hp" "$T/httpd.log"
health() {
	curl -s -o /dev/null -w '%{http_code}' --max-time 30 --cacert "$T/pebble-root.pem" \
	    --resolve "$NAME:$hp:127.0.0.1" "https://$NAME:$hp/health"
}
same "GET /health trusting pebble's root: 200" "$(health)" 200
same "... the certificate served is pebble's" "$(served)" "$s1"

m1=$(stat -c %Y.%i "$TLS/cert.pem")
cert
same "hopmap-cert again, not due: exit 0" "$rc" 0
same "... nothing installed" "$(stat -c %Y.%i "$TLS/cert.pem"):$(grep -c installed "$T/err")" "$m1:0"

cert --force
same "hopmap-cert --force: renewed, exit 0" "$rc" 0
s2=$(serial_of "$TLS/cert.pem")
check "... a new serial installed ($s1 -> $s2)" test -n "$s2" -a "$s2" != "$s1"
check "... hopmap-httpd serves it without a restart" until_ok 30 test "$(served)" = "$s2"
check "... the same process" kill -0 "$hpid"
same "... GET /health trusting pebble's root: 200" "$(health)" 200

# Debian's timer runs "certbot renew" alone, in its own environment: the
# hook kept in the renewal configuration installs into --dest all the same
# (without its random wait of up to 8 minutes, which is for the timer).
env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin REQUESTS_CA_BUNDLE="$T/ca.pem" \
    certbot renew --quiet --no-random-sleep-on-renew --force-renewal --config-dir "$T/certbot/config" \
    --work-dir "$T/certbot/work" --logs-dir "$T/certbot/logs" >"$T/renew.out" 2>&1
same "certbot renew by itself: exit 0" "$?" 0
s3=$(serial_of "$TLS/cert.pem")
check "... its hook installed a new serial into --dest ($s2 -> $s3)" test "$s3" != none -a "$s3" != "$s2"
check "... served without a restart" until_ok 30 test "$(served)" = "$s3"
s2=$s3

# The pair removed from --dest (a new machine, a new --dest): the next
# run installs the lineage certbot kept, without asking for another.
rm "$TLS/cert.pem" "$TLS/key.pem"
cert
same "pair removed: hopmap-cert installs certbot's, exit 0" "$rc:$(serial_of "$TLS/cert.pem")" "0:$s2"

kill "$ppid_"; wait "$ppid_" 2>/dev/null
m2=$(stat -c %Y.%i "$TLS/cert.pem")
cert --force
check "pebble gone: hopmap-cert fails, saying so" sh -c "[ $rc != 0 ] && grep -q 'certbot failed' '$T/err'"
same "... the installed pair untouched" "$(stat -c %Y.%i "$TLS/cert.pem")" "$m2"
same "... still served" "$(served)" "$s2"
check "no sanitizer report from hopmap-httpd" no_sanitizer_report "$T/httpd.log"
