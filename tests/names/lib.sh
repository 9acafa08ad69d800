# tests/names/lib.sh: what t-dyfi, t-cert and t-failover share (sourced
# after tests/lib.sh).
#   free_port_of PORT... the first of these ports nobody listens on (on
#                       127.0.0.1; 28000-28999 are these tests')
#   test_ca             a CA of the test's own in $T/ca.pem, and under it a
#                       server certificate for 127.0.0.1 and localhost in
#                       $T/srv.pem, $T/srv.key
#   dyfi_standin PORT   the dy.fi stand-in on 127.0.0.1:PORT over $T/dyfi,
#                       the account me@example.org in $T/creds; its URL in $URL
names=$HOPMAP_TOP/tests/names

free_port_of() {
	local p
	for p; do
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
	done
	return 1
}

test_ca() {
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=hopmap-test-ca \
	    -keyout "$T/ca.key" -out "$T/ca.pem" 2>/dev/null &&
	openssl req -newkey rsa:2048 -nodes -subj /CN=localhost \
	    -keyout "$T/srv.key" -out "$T/srv.csr" 2>/dev/null &&
	printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >"$T/srv.ext" &&
	openssl x509 -req -in "$T/srv.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" \
	    -CAcreateserial -days 2 -extfile "$T/srv.ext" -out "$T/srv.pem" 2>/dev/null
}

dyfi_standin() {
	local pid
	mkdir -p "$T/dyfi"
	printf '%s\n' 'me@example.org:s3 "cret' >"$T/creds"
	chmod 600 "$T/creds"
	python3 "$names/dyfi-standin.py" "$T/dyfi" 127.0.0.1 "$1" "$T/srv.pem" \
	    "$T/srv.key" 'me@example.org:s3 "cret' 2>"$T/standin.err" &
	pid=$!
	cleanup_hooks+=("kill $pid; wait $pid")
	URL=https://127.0.0.1:$1/nic/update
	until_ok 20 test -f "$T/dyfi/ready"
}
