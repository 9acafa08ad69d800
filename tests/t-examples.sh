#!/usr/bin/env bash
# Every example in every man page's EXAMPLES section, run as written and
# checked for what the page says it does: an example that stops working
# fails here.
#
# The examples are read from man/*.[1578] (the .Bd -literal and .Dl blocks
# of .Sh EXAMPLES), numbered PAGE:N in order, and each has a runner below
# (x_PAGE_N); an example without a runner, or a runner without its
# example, is a failure, so none is dropped silently.  A runner takes the
# example's text through the substitution table (sub) and runs it with sh
# in a directory of its own holding the files it names, inside the lab:
# the vantage point is a network namespace of tests/lab, a hub namespace
# answers to the names hub.example.net and hub (/etc/netns/NS/hosts, which
# ip netns exec puts in place of /etc/hosts), and nothing leads out.
#
# Examples that cannot run unattended as written, and the closest form run
# instead (each runner says so too):
#   - cron lines: the command without the schedule;
#   - "runs until stopped" (--rounds 0, tail -f, hopmap-ship send, the
#     hub): started, checked once it has done its work, then stopped;
#   - ssh to a named host: to an sshd of this test in the namespace that
#     carries the name (as t-ssh), through an ssh on PATH that adds -F
#     with this test's keys; the remote command runs in that node's
#     directory;
#   - nodes that go by their host name (hopmap-worker(1)'s node1..3): in
#     a UTS namespace of that name;
#   - apt-get (the network): simulated with -s;
#   - dy.fi (hopmap-dyfi(1)): the stand-in of tests/names in the vantage
#     point, on 127.0.0.1:33101 (-u, --cacert; -s its state under $R);
#   - Let's Encrypt (hopmap-cert(1)): pebble in the vantage point, as the
#     page's second example has it (-s, and --certbot-dir, -o under $R);
#   - lighttpd's lines (manager.cgi(8)): in a configuration of this test's
#     serving HTTPS as hub.example.net in the hub's namespace; curl trusts
#     the hub's CA through CURL_CA_BUNDLE; SECRET is alice's, from
#     hopmap-manager(8)'s add-user;
#   - the gateway that hopmap-ship(1) and hopmap-worker(1) reach on 8443:
#     hopmap-httpd(1)'s HTTPS example on that port, with the lab's ranges.
#   - pkill -x sqlsink: in a PID namespace of its own, where the only
#     sqlsink is the example's (never another test's).
. "$(dirname "$0")/lib.sh"
. "$HOPMAP_TOP/tests/lab/lab.sh"
top=$HOPMAP_TOP

if [ "$(id -u)" -ne 0 ]; then
	skip "needs root for network namespaces"
	exit 0
fi

# EXAMPLES_KEEP=DIR: keep each example's directory there, to look into.
[ -z "${EXAMPLES_KEEP:-}" ] || cleanup_hooks+=("cp -r '$T/w' '$T/fixtures' '$EXAMPLES_KEEP/'")

# ---- the examples, extracted ----
ex=$T/ex
mkdir -p "$ex"
for page in "$top"/man/*.[1578]; do
	awk -v out="$ex/$(basename "$page")" '
	function unesc(s) { gsub(/\\&/, "", s); gsub(/\\-/, "-", s)
		gsub(/\\e/, "\\", s); return s }
	/^\.Sh / { inex = ($0 == ".Sh EXAMPLES"); next }
	!inex { next }
	/^\.Bd -literal/ { n++; f = out ":" n; inb = 1; printf "" >f; next }
	/^\.Ed/ { if (inb) close(f); inb = 0; next }
	inb { print unesc($0) >f; next }
	/^\.Dl / { n++; f = out ":" n; print unesc(substr($0, 5)) >f; close(f) }
	' "$page"
done
examples=$(cd "$ex" && printf "%s\n" * | sort -t: -k1,1 -k2,2n)
check "the man pages have examples" test -n "$examples"

# ---- the lab, the names and the system paths ----
lab=hmex$$
cleanup_hooks+=("lab_down $lab")
LAB_VANTAGES=3 LAB_HUB=1 lab_up "$lab" >/dev/null || { echo "not ok - lab_up"; exit 1; }
hubip=$LAB_HUB_IP
vip() { awk -v v="$1" '$1 == "vantage" && $2 == v { print $3 }' "$LAB_TOPO"; }
for ns in v v2 v3 hub; do
	d=/etc/netns/$lab-$ns
	mkdir -p "$d"
	cleanup_hooks+=("rm -rf '$d'")
	{
		echo "127.0.0.1 localhost"
		echo "$hubip hub.example.net hub"
		echo "$(vip v) node1"
		echo "$(vip v2) node2"
		echo "$(vip v3) node3"
	} >"$d/hosts"
done
# $R stands for / where the examples name system paths; probers that drop
# to nobody write there too (metrics).
chmod 755 "$T"
R=$T/root
mkdir -p "$R/var/lib/hopmap" "$R/run/hopmap" "$R/etc/hopmap" "$R/tmp"
chown nobody "$R/var/lib/hopmap"
user=hopmap
id hopmap >/dev/null 2>&1 || user=nobody

# The substitution table.  Every example gets it whole; a runner may add
# to it (sub ID SED-ARGS...).
sub() {
	local id=$1
	shift
	local at="\\(^\\|[] =,:'\"]\\)"
	sed -e 's/^sudo //; s/&& sudo /\&\& /' \
	    -e "s#$at/\\(tmp\\|var/lib\\|run/hopmap\\|etc/hopmap\\)/#\\1$R/\\2/#g" \
	    -e "s|10\.0\.0\.1:|$hubip:|g" \
	    -e "s/-u hopmap /-u $user /; s/--user hopmap/--user $user/" \
	    "$@" "$ex/$id"
}
# The lab's addresses are special-purpose (198.18.0.0/15): the programs
# that leave those out by default get -R; bundled Internet ranges that an
# example would probe become the lab's.
LAB=(-e 's/cidr-expand /cidr-expand -R /g; s/hopextract /hopextract -R /g'
    -e 's/hopmap-loop /hopmap-loop -R /g; s/-- --shard/-- -R --shard/g'
    -e 's/hopmap-hub hops /hopmap-hub hops -R /g'
    -e 's|examples/ranges/\*\.txt|ranges/*.txt|g')
# cron: the command of a crontab line, without its schedule.
uncron() { sed -e '1s/^[^ ]* [^ ]* [^ ]* [^ ]* [^ ]* //'; }

# ---- ssh: an sshd per named node, an ssh on PATH that knows them ----
k=$T/ssh
wrap=$T/wrap
mkdir -p "$k" "$wrap" /run/sshd
ssh-keygen -q -t ed25519 -N '' -f "$k/host" -C host
ssh-keygen -q -t ed25519 -N '' -f "$k/id" -C test
cp "$k/id.pub" "$k/authorized_keys"
for h in hub.example.net hub node1 node2 node3; do
	echo "[$h]:2222 $(cat "$k/host.pub")"
done >"$k/known_hosts"
cat >"$k/config" <<EOF
Host *
	Port 2222
	User root
	IdentityFile $k/id
	UserKnownHostsFile $k/known_hosts
	StrictHostKeyChecking yes
	BatchMode yes
EOF
printf '#!/bin/sh\nexec %s -F %s "$@"\n' "$(command -v ssh)" "$k/config" >"$wrap/ssh"
chmod 755 "$wrap/ssh"
# node DIR: where a node's remote commands run, with the programs on PATH.
node_dir() { echo "$T/node-$1"; }
sshd_in() { # NS NAME
	local d
	d=$(node_dir "$2")
	mkdir -p "$d"
	cat >"$k/sshd-$2" <<EOF
Port 2222
ListenAddress 0.0.0.0
HostKey $k/host
AuthorizedKeysFile $k/authorized_keys
PidFile $k/sshd-$2.pid
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
ForceCommand cd $d && PATH=$wrap:$HOPMAP_BIN:\$PATH HOME=$d exec sh -c "\$SSH_ORIGINAL_COMMAND"
EOF
	ip netns exec "$lab-$1" "$(command -v sshd || echo /usr/sbin/sshd)" \
	    -D -e -f "$k/sshd-$2" 2>"$T/sshd-$2.err" &
	cleanup_hooks+=("kill $!")
	until_ok 60 ip netns exec "$lab-$1" sh -c 'ss -Htln | grep -q ":2222 "'
}
sshd_in hub hub
sshd_in v node1
sshd_in v2 node2
sshd_in v3 node3

# ---- running an example ----
# ex_sh NS DIR TEXT: sh -c TEXT in DIR inside namespace NS (root: none),
# output in DIR/out and DIR/err, status in $rc, at most 5 minutes.  With
# UTS=NAME set, in a UTS namespace whose host name is NAME: an example
# whose node goes by its host name.
ex_pre() {
	[ "$1" = root ] || pre=(ip netns exec "$lab-$1")
	[ -z "${UTS:-}" ] || { pre+=(unshare --uts); text="hostname $UTS; $text"; }
}
ex_sh() {
	local ns=$1 dir=$2 text=$3 pre=()
	ex_pre "$ns"
	(cd "$dir" && timeout 300 "${pre[@]}" \
	    env PATH="$wrap:$HOPMAP_BIN:$PATH" HOME="$dir" sh -c "$text") \
	    >"$dir/out" 2>"$dir/err"
	rc=$?
}
# ex_bg NS DIR TEXT: the same in the background in a session of its own
# (for what runs until stopped); ex_stop DIR stops it and all it started.
ex_bg() {
	local ns=$1 dir=$2 text=$3 pre=()
	ex_pre "$ns"
	(cd "$dir" && exec setsid "${pre[@]}" \
	    env PATH="$wrap:$HOPMAP_BIN:$PATH" HOME="$dir" sh -c "$text") \
	    >"$dir/out" 2>"$dir/err" &
	echo $! >"$dir/pgid"
	cleanup_hooks+=("kill -- -$! 2>/dev/null")
}
ex_stop() {
	local g
	g=$(cat "$1/pgid")
	kill -- -"$g" 2>/dev/null
	until_ok 30 sh -c "! kill -0 -- -$g 2>/dev/null"
}
# wd ID: a fresh directory for the example, with the lab's range files.
wd() {
	local d=$T/w/$1
	mkdir -p "$d/ranges"
	printf '%s\n' 198.19.0.0/29 198.19.200.0/30 >"$d/ranges/aws.txt"
	printf '%s\n' 198.19.1.0/29 198.19.3.0/29 >"$d/ranges/gcp.txt"
	printf '%s\n' 198.19.0.0/29 198.19.1.0/29 198.19.3.0/30 >"$d/ranges.txt"
	echo "$d"
}
q() { sqlite3 -cmd '.timeout 5000' "$@"; }
# qtest DB SQL OP VALUE: test's OP on the query's answer (0 without DB), for
# until_ok, which must run the query anew each time.  (sqlite3 would create
# a missing DB, empty, where sqlsink is about to make its symlink.)
qtest() {
	local v=
	[ -e "$1" ] && v=$(q "$1" "$2" 2>/dev/null)
	test "${v:-0}" "$3" "$4"
}
# The lab's answering addresses in the range files, how many.
alive_in() { grep -hv '^198\.19\.200\.' "$@" | cidr-expand -R -c; }
fail() { echo "    $*"; }

# ---- the runners, one per example ----

# hopmap-dyfi(1): against the dy.fi stand-in of tests/names, over HTTPS
# from a test CA, inside the vantage point (-u and --cacert added: dy.fi
# itself is the Internet; -s: its default state file, under $R).  The cron line (/etc/crontab's, with the user):
# its command, its lines joined.
. "$top/tests/names/lib.sh"
dyfi_sub=()
dyfi_up() {
	[ ${#dyfi_sub[@]} = 0 ] || return 0
	test_ca || { echo "not ok - a test CA from openssl"; return 1; }
	mkdir -p "$T/dyfi"
	ip netns exec "$lab-v" python3 "$names/dyfi-standin.py" "$T/dyfi" 127.0.0.1 33101 \
	    "$T/srv.pem" "$T/srv.key" 'me@example.org:s3cret' 2>"$T/standin.err" &
	cleanup_hooks+=("kill $!")
	until_ok 20 test -f "$T/dyfi/ready"
	echo 'me@example.org:s3cret' >"$R/etc/hopmap/dyfi.cred"
	chmod 600 "$R/etc/hopmap/dyfi.cred"
	dyfi_sub=(-e "s|hopmap-dyfi |hopmap-dyfi -u https://127.0.0.1:33101/nic/update --cacert $T/ca.pem -s $R/var/lib/hopmap/dyfi-hopmap.dy.fi |"
	    -e "s|/var/log/|$R/var/log/|")
}
x_hopmap_dyfi_1_1() { # cron: the command, as root
	local d
	d=$(wd "$1")
	dyfi_up
	mkdir -p "$R/var/log/hopmap"
	ex_sh v "$d" "$(sub "$1" "${dyfi_sub[@]}" | tr '\n' ' ' | sed 's/^[^ ]* [^ ]* [^ ]* [^ ]* [^ ]* root //')"
	same "$1: exit 0, quiet; dy.fi asked for hopmap.dy.fi" \
	    "$rc:$(cat "$d/out" "$d/err"):$(grep -c 'hostname=hopmap.dy.fi ' "$T/dyfi/requests")" "0::1"
	check "$1: the update remembered, the answer logged" \
	    sh -c "grep -qx 'addr=127.0.0.1' '$R/var/lib/hopmap/dyfi-hopmap.dy.fi' &&
	        grep -q 'host=hopmap.dy.fi answer=good' '$R/var/log/hopmap/dyfi.log'"
}
x_hopmap_dyfi_1_2() { # after the example before: none due
	local d
	d=$(wd "$1")
	dyfi_up
	ex_sh v "$d" "$(sub "$1" "${dyfi_sub[@]}")"
	same "$1: exit 0; no update due, none sent" \
	    "$rc:$(cat "$d/out" "$d/err" | grep -c 'no update due'):$(wc -l <"$T/dyfi/requests")" "0:1:1"
}

# hopmap-cert(1): certbot against pebble, the ACME test server (challenges
# always valid), in the vantage point: on its own loopback, port 28201 as
# the page says is no other test's.  Let's Encrypt is the Internet: the
# cron line's command gets pebble (-s), certbot's directory and the
# destination under $R (--certbot-dir, -o: their defaults, moved).
pebble_up() {
	[ -z "${pebble_pid:-}" ] || return 0
	[ -s "$T/ca.pem" ] || test_ca || { echo "not ok - a test CA from openssl"; return 1; }
	cat >"$T/pebble.json" <<JSON
{"pebble": {"listenAddress": "127.0.0.1:28201", "managementListenAddress": "127.0.0.1:28202",
 "certificate": "$T/srv.pem", "privateKey": "$T/srv.key", "httpPort": 28203, "tlsPort": 28204,
 "ocspResponderURL": "", "externalAccountBindingRequired": false}}
JSON
	PEBBLE_VA_ALWAYS_VALID=1 PEBBLE_VA_NOSLEEP=1 PEBBLE_WFE_NONCEREJECT=0 \
	    ip netns exec "$lab-v" pebble -config "$T/pebble.json" >"$T/pebble.log" 2>&1 &
	pebble_pid=$!
	cleanup_hooks+=("kill $pebble_pid")
	until_ok 30 ip netns exec "$lab-v" curl -sf -o /dev/null --cacert "$T/ca.pem" https://127.0.0.1:28201/dir
}
# cert_ok RC DIR NAME: RC is 0, DIR/cert.pem is pebble's, for NAME, with its key
cert_ok() {
	[ "$1" = 0 ] || return 1
	shift
	openssl x509 -noout -ext subjectAltName -in "$1/cert.pem" | grep -q "DNS:$2" &&
	    openssl x509 -noout -issuer -in "$1/cert.pem" | grep -qi pebble &&
	    [ "$(openssl x509 -noout -pubkey -in "$1/cert.pem")" = "$(openssl pkey -pubout -in "$1/key.pem")" ]
}
x_hopmap_cert_1_1() { # cron: the command, as root
	local d
	d=$(wd "$1")
	pebble_up
	mkdir -p "$R/var/www/html"
	ex_sh v "$d" "REQUESTS_CA_BUNDLE=$T/ca.pem $(sub "$1" -e "s|/var/www/|$R/var/www/|" \
	    -e "s|hopmap-cert |hopmap-cert -s https://127.0.0.1:28201/dir --certbot-dir $R/etc/letsencrypt -o $R/etc/hopmap/tls |" |
	    sed 's/^[^ ]* [^ ]* [^ ]* [^ ]* [^ ]* root //')"
	check "$1: exit 0; a certificate for manager.example.org in /etc/hopmap/tls" \
	    cert_ok "$rc" "$R/etc/hopmap/tls" manager.example.org
}
x_hopmap_cert_1_2() { # as the page shows it
	local d
	d=$(wd "$1")
	pebble_up
	cp "$T/ca.pem" "$d/"
	mkdir -p "$R/tmp/www"
	ex_sh v "$d" "$(sub "$1")"
	check "$1: exit 0; pebble's certificate for manager.hopmap.test in /tmp/tls" \
	    cert_ok "$rc" "$R/tmp/tls" manager.hopmap.test
}

# hopmap-hub(1) first: the hub that later examples ship to.
x_hopmap_hub_1_2() { # the CA and certificates (w2's, and ams1's the same way)
	hubdir=$(wd "$1")
	ex_sh hub "$hubdir" "$(sub "$1")"
	same "$1: the certificates verify against the CA" \
	    "$rc:$(cd "$hubdir" && openssl verify -CAfile ca.pem hub.pem w2.pem 2>&1 | tr '\n' ' ')" \
	    "0:hub.pem: OK w2.pem: OK "
	check "$1: the hub's certificate names hub.example.net" \
	    sh -c "openssl x509 -in '$hubdir/hub.pem' -noout -ext subjectAltName | grep -q 'DNS:hub.example.net'"
	# ams1's (hopmap-worker(1)) by the example's last two commands
	ex_sh hub "$hubdir" "$(sub "$1" -e 's/w2/ams1/g' | tail -n 4)"
	same "$1: the same for ams1" "$rc" 0
	cp "$hubdir"/ams1.pem "$hubdir"/ams1.key "$hubdir"/ca.pem "$R/etc/hopmap/"
}
x_hopmap_hub_1_1() { # serve, TCP on the LAN address and TLS on all
	ex_bg hub "$hubdir" "$(sub "$1")"
	hubdb=$R/var/lib/hopmap-hub/map.db
	check "$1: listening on $hubip:7411 and on 7412" until_ok 60 \
	    ip netns exec "$lab-hub" sh -c "ss -Htln | grep -q '$hubip:7411 ' && ss -Htln | grep -q ':7412 '"
}
x_hopmap_hub_1_3() { # a worker over TLS (--rounds 0: until stopped)
	local d
	d=$(wd "$1")
	cp "$hubdir"/w2.pem "$hubdir"/w2.key "$hubdir"/ca.pem "$d"
	ex_bg v2 "$d" "$(sub "$1" "${LAB[@]}")"
	local n
	n=$(cidr-expand -R -c -s 2/3 "$d/ranges.txt")
	check "$1: the hub stores w2's shard, under the certificate's name" until_ok 120 \
	    qtest "$hubdb" "SELECT count(DISTINCT ip) FROM pings WHERE node = 'w2' AND src != 'hop'" = "$n"
	ex_stop "$d"
}
x_hopmap_hub_1_4() { # the ssh transport, one pipeline per node
	local d i
	d=$(wd "$1")
	for i in 1 2 3; do cp "$d/ranges.txt" "$(node_dir "node$i")/"; done
	ex_sh hub "$d" "$(sub "$1" "${LAB[@]}")"
	same "$1: exit 0, quiet" "$rc:$(cat "$d/out" "$d/err")" "0:"
	for i in 1 2 3; do
		same "$1: node$i's shard stored under its name" \
		    "$(q "$hubdb" "SELECT count(DISTINCT ip) FROM pings WHERE node = 'node$i'")" \
		    "$(cidr-expand -R -c -s "$i/3" "$d/ranges.txt")"
	done
	check "$1: traces came back too" \
	    qtest "$hubdb" "SELECT count(*) FROM traces WHERE node LIKE 'node_'" -gt 0
	check "$1: each node keeps its progress" \
	    test -s "$(node_dir node2)/seeds.state"
}
x_hopmap_hub_1_5() { # a worker shipping over ssh (hopmap-hub recv)
	local d n before
	d=$(wd "$1")
	before=$(q "$hubdb" "SELECT count(*) FROM pings")
	ex_sh v "$d" "$(sub "$1" "${LAB[@]}")"
	n=$(cidr-expand -R -c -s 1/3 "$d/ranges.txt")
	same "$1: exit 0; the shard's pings reach the hub" \
	    "$rc:$(q "$hubdb" "SELECT count(*) FROM pings") - $before" "0:$((before + n)) - $before"
}
x_hopmap_hub_1_6() { # status and hops
	local d all
	d=$(wd "$1")
	ex_sh hub "$d" "$(sub "$1" "${LAB[@]}")"
	check "$1: exit 0; status names the nodes that delivered" \
	    sh -c "[ $rc = 0 ] && grep -q w2 '$d/out' && grep -q node3 '$d/out'"
	all=$(ip netns exec "$lab-hub" hopmap-hub hops -R -d "$R/var/lib/hopmap-hub" --shard 2/3 | wc -l)
	check "$1: the shard has hops" test "$all" -gt 0
	same "$1: hops prints those beyond the first 120 of the shard" \
	    "$(grep '^{' "$d/out" | jq -c 'select(.src == "hop")' | wc -l)" "$((all > 120 ? all - 120 : 0))"
}

# hopmap-httpd(1)
x_hopmap_httpd_1_1() { # until stopped: started, asked, stopped (the curl line)
	local d
	d=$(wd "$1")
	mkdir -p "$R/var/lib/hopmap/metrics"
	chown nobody "$R/var/lib/hopmap/metrics"	# icmpprobe drops to nobody
	ip netns exec "$lab-v" sh -c "cidr-expand -R '$d/ranges.txt' |
	    icmpprobe --metrics '$R/var/lib/hopmap/metrics/icmpprobe.prom'" >/dev/null
	ex_bg v "$d" "$(sub "$1" | sed -n 1p)"
	until_ok 60 ip netns exec "$lab-v" sh -c 'ss -Htln | grep -q "127.0.0.1:8080 "'
	mkdir -p "$d/curl"
	ex_sh v "$d/curl" "$(sub "$1" | sed 1d)"
	same "$1: the node is ok, its programs' metrics read" \
	    "$rc:$(jq -c '[.status, .role, (.programs | keys)]' "$d/curl/out")" '0:["ok","worker",["icmpprobe"]]'
	ex_stop "$d"
}
x_hopmap_httpd_1_2() { # the key, then the gateway until stopped; w1 posts through it
	local d
	d=$(wd "$1")
	ex_bg hub "$d" "$(sub "$1")"
	check "$1: a key for w1, the gateway listening" until_ok 60 \
	    ip netns exec "$lab-hub" sh -c "test -s '$d/w1.key' && ss -Htln | grep -q '127.0.0.1:8080 '"
	mkdir -p "$d/spool"
	printf '{"ip":"198.19.0.1","id":"w1:t:1","node":"w1","ping":{"ok":true}}\n' >"$d/spool/20261201T000000-1-000000.seg"
	ip netns exec "$lab-hub" hopmap-ship send --once -q -n 3 -b 1 -k "$d/w1.key" "$d/spool" http://127.0.0.1:8080
	same "$1: w1's results confirmed by the gateway" "$?:$(ls "$d/spool")" "0:"
	check "$1: and stored at the hub" until_ok 60 \
	    qtest "$hubdb" "SELECT count(*) FROM pings WHERE node = 'w1' AND ip = '198.19.0.1'" = 1
	ex_stop "$d"
}
x_hopmap_httpd_1_3() { # HTTPS on 443 with the manager, until stopped
	local d
	d=$(wd "$1")
	cat "$hubdir/hub.pem" "$hubdir/ca.pem" >"$d/fullchain.pem"
	cp "$hubdir/hub.key" "$d/privkey.pem"
	# (the manager's directory is made by hopmap-manager(8)'s add-user,
	# whose example runs later: made here as it would be by then)
	mkdir -p "$R/var/lib/hopmap/manager"
	ex_bg hub "$d" "$(sub "$1")"
	until_ok 60 ip netns exec "$lab-hub" sh -c 'ss -Htln | grep -q ":443 "'
	same "$1: HTTPS as hub.example.net, the certificate checked" \
	    "$(ip netns exec "$lab-v" curl -sS --cacert "$hubdir/ca.pem" https://hub.example.net/health | jq -r .role)" "hub"
	check "$1: the manager's login page under /manager/" \
	    sh -c "ip netns exec '$lab-v' curl -sS -i --cacert '$hubdir/ca.pem' https://hub.example.net/manager/ | grep -qi '^Set-Cookie: hm_login='"
	ex_stop "$d"
}
# The hub's gateway over HTTPS on 8443, for the workers behind NAT of
# hopmap-ship(1) and hopmap-worker(1): hopmap-httpd(1)'s third example on
# that port, with the lab's ranges to hand out (--allow-reserved).
gateway_8443() {
	[ -z "${gw8443:-}" ] || return 0
	mkdir -p "$R/var/lib/hopmap-hub/ranges" "$T/w/gateway"
	echo 198.19.1.0/29 >"$R/var/lib/hopmap-hub/ranges/lab.txt"
	cp "$hubdir/ca.pem" "$R/etc/hopmap/hub-ca.pem"
	ex_bg hub "$T/w/gateway" "hopmap-httpd -l 0.0.0.0:8443 --cert $hubdir/hub.pem --key $hubdir/hub.key --hub $R/var/lib/hopmap-hub --allow-reserved"
	until_ok 60 ip netns exec "$lab-hub" sh -c 'ss -Htln | grep -q ":8443 "'
	gw8443=1
}

# cidr-expand(1)
x_cidr_expand_1_1() {
	local d
	d=$(wd "$1")
	ex_sh v "$d" "$(sub "$1" "${LAB[@]}")"
	same "$1: a ping record per lab address, the answering ones ok" \
	    "$rc:$(jq -s 'length' "$d/out"):$(jq -s 'map(select(.ping.ok)) | length' "$d/out")" \
	    "0:$(cidr-expand -R -c "$d"/ranges/*.txt):$(alive_in "$d"/ranges/*.txt)"
}
x_cidr_expand_1_2() { # node 2 of 3, twice: the second run resumes, finds nothing left
	local d n
	d=$(wd "$1")
	n=$(cidr-expand -R -c -s 2/3 "$d"/ranges/*.txt)
	ex_sh v "$d" "$(sub "$1" "${LAB[@]}")"
	same "$1: node 2's share is stored" \
	    "$rc:$(q "$d/map.db" "SELECT count(DISTINCT ip) FROM pings")" "0:$n"
	ex_sh v "$d" "$(sub "$1" "${LAB[@]}")"
	same "$1: run again, it resumes: nothing more" \
	    "$(q "$d/map.db" "SELECT count(*) FROM pings")" "$n"
}
x_cidr_expand_1_3() { # from cron: the command, run twice
	local d n
	d=$(wd "$1")
	echo 198.19.1.0/29 >"$d/blocklist.txt"
	n=$(cidr-expand -R -c -x "$d/blocklist.txt" "$d"/ranges/*.txt)
	ex_sh v "$d" "$(sub "$1" "${LAB[@]}")"
	same "$1: the addresses, the blocklist left out" \
	    "$rc:$(q "$d/map.db" "SELECT count(DISTINCT ip), count(*) FILTER (WHERE ip LIKE '198.19.1.%') FROM pings")" "0:$n|0"
	ex_sh v "$d" "$(sub "$1" "${LAB[@]}")"
	same "$1: the next run goes on where this one stopped: nothing twice" \
	    "$(q "$d/map.db" "SELECT count(*) FROM pings")" "$n"
}
x_cidr_expand_1_4() { # the output shown on the page
	local d
	d=$(wd "$1")
	ln -s "$top/examples" "$d/examples"
	ex_sh v "$d" "$(sub "$1" | sed -n 's/^\$ //p')"
	same "$1: prints what the page shows" "$rc:$(cat "$d/out")" "0:$(sed '/^\$ /d' "$ex/$1")"
}
x_cidr_expand_1_5() {
	local d
	d=$(wd "$1")
	ex_sh v "$d" "$(sub "$1")"
	same "$1: as prips prints them" "$rc:$(cat "$d/out")" "0:$(prips 198.18.0.0/24)"
}

# cooldown(1)
x_cooldown_1_1() { # twice: the second run within the day passes nothing
	local d
	d=$(wd "$1")
	ex_sh v "$d" "$(sub "$1" "${LAB[@]}")"
	same "$1: every address probed" "$rc:$(jq -s length "$d/out")" "0:$(cidr-expand -R -c "$d"/ranges/*.txt)"
	ex_sh v "$d" "$(sub "$1" "${LAB[@]}")"
	same "$1: again within the day: nothing passes" "$rc:$(jq -s length "$d/out")" "0:0"
}
x_cooldown_1_2() { # two pipelines, one cooldown; traces.json has a target of aws.txt too
	local d
	d=$(wd "$1")
	cooldir=$d
	cp "$traces" "$d/traces.json"
	# a hop that is also a seed: only one of the pipelines may pass it
	jq -c '.trace.hops[0].ip = "198.19.0.1"' "$traces" | head -n 1 >>"$d/traces.json"
	ex_sh v "$d" "$(sub "$1" "${LAB[@]}"; echo wait)"
	same "$1: exit 0; each address probed once across both" \
	    "$rc:$(jq -r .ip "$d/out" | sort | uniq -d)" "0:"
	jq -r .ip "$d/out" | sort >"$d/passed"
	same "$1: the cooldown holds both pipelines' addresses" \
	    "$(q "$d/cd.db" "SELECT count(*) FROM cooldown")" "$(jq -s length "$d/out")"
	check "$1: the seed and the hops both got through" \
	    sh -c "jq -r .src '$d/out' | sort -u | grep -q hop && jq -r .src '$d/out' | grep -q aws"
}
x_cooldown_1_3() { # on the state of the example before
	ex_sh v "$cooldir" "$(sub "$1")"
	same "$1: the addresses passed, as dotted quads" \
	    "$rc:$(sort "$cooldir/out" | tr '\n' ' ')" "0:$(tr '\n' ' ' <"$cooldir/passed")"
}

# hopextract(1)
x_hopextract_1_1() { # tail -f: until stopped, once a hop has gone round
	local d
	d=$(wd "$1")
	cidr-expand -R -n 3 "$d/ranges.txt" >"$d/targets.json"
	ex_bg v "$d" "$(sub "$1" "${LAB[@]}")"
	check "$1: a hop fed back is probed and traced in turn" until_ok 120 \
	    sh -c "jq -c 'select(.src == \"hop\" and .ping.ok and .trace)' '$d/traces.json' 2>/dev/null | grep -q ."
	ex_stop "$d"
	same "$1: targets.json: the seeds, then only hops, each once" \
	    "$(jq -r 'select(.src == "hop") | .ip' "$d/targets.json" | sort | uniq -d):$(sed -n '4,$p' "$d/targets.json" | jq -r .src | sort -u)" ":hop"
}
x_hopextract_1_2() {
	local d
	d=$(wd "$1")
	cp "$traces" "$d/traces-2026-11-24.json"
	ex_sh v "$d" "$(sub "$1" "${LAB[@]}")"
	same "$1: one line per distinct answering intermediate hop" "$rc:$(tr -d ' ' <"$d/out")" \
	    "0:$(jq -r '.ip as $t | .trace.hops[]? | select(.ip != null and .ip != $t) | .ip' "$traces" 2>/dev/null | sort -u | wc -l)"
}

# hopmap-demo(1)
x_hopmap_demo_1_1() { # apt-get would reach the network: simulated
	local d
	d=$(wd "$1")
	ex_sh root "$d" "$(sub "$1" -e "s/apt-get install/apt-get -s install/; s|make demo|make -n -C $top demo|")"
	check "$1: make is installed, make demo runs the demo script" \
	    sh -c "[ $rc = 0 ] && grep -q 'make is already the newest' '$d/out' && grep -q 'sh/hopmap-demo.sh' '$d/out'"
}
x_hopmap_demo_1_2() { # the demo builds its own lab
	local d
	d=$(wd "$1")
	ln -s "$top/sh" "$top/examples" "$top/tests" "$d/"	# a checkout
	ex_sh root "$d" "$(sub "$1")"
	grep -E '^198\.1[89]\.[0-9.]+ 198\.1[89]\.[0-9.]+ [0-9]+$' "$d/out" >"$d/links"
	check "$1: exit 0; the five busiest links, busiest first" \
	    sh -c "[ $rc = 0 ] && [ \$(wc -l <'$d/links') = 5 ] && cut -d' ' -f3 '$d/links' | sort -nrc"
}

# hopmap-loop(1)
x_hopmap_loop_1_1() { # into ~/.local/state/hopmap (HOME is the example's directory)
	local d
	d=$(wd "$1")
	ex_sh v "$d" "$(sub "$1" "${LAB[@]}")"
	same "$1: every lab address pinged, into ~/.local/state/hopmap/map.db" \
	    "$rc:$(q "$d/.local/state/hopmap/map.db" "SELECT count(DISTINCT ip) FROM pings WHERE src != 'hop'")" \
	    "0:$(cidr-expand -R -c "$d"/ranges/*.txt)"
}
x_hopmap_loop_1_2() { # cron: the command; a second one while it runs exits at once
	local d
	d=$(wd "$1")
	cp -r "$d/ranges" "$R/etc/hopmap/"
	ex_bg v "$d" "$(sub "$1" "${LAB[@]}" | uncron)"
	check "$1: it runs, quietly, into ~/.local/state/hopmap/map.db" until_ok 120 \
	    qtest "$d/.local/state/hopmap/map.db" "SELECT count(*) FROM pings" -gt 0
	ex_sh v "$d" "$(sub "$1" "${LAB[@]}" | uncron)"
	same "$1: the next one, due while it runs, exits at once" "$rc" 0
	ex_stop "$d"
	same "$1: quiet" "$(cat "$d/out")" ""
}
x_hopmap_loop_1_3() { # as a service: until stopped; a /var/lib of its own
	local d R
	d=$(wd "$1")
	R=$d/root	# (cooldown(1)'s example left its cooldown.db in the shared one)
	mkdir -p "$R/var/lib/hopmap"
	ex_bg v "$d" "$(sub "$1" "${LAB[@]}")"
	check "$1: the seeds are stored in /var/lib/hopmap/map.db" until_ok 120 \
	    qtest "$R/var/lib/hopmap/map.db" "SELECT count(DISTINCT ip) FROM pings WHERE src != 'hop'" = "$(cidr-expand -R -c "$d"/ranges/*.txt)"
	check "$1: a line for the round" until_ok 60 grep -q 'round 1' "$d/err"
	ex_stop "$d"
}
x_hopmap_loop_1_4() { # into a sink's socket (the sink of sqlsink(1))
	local d s
	d=$(wd "$1")
	s=$(wd "$1-sink")
	ex_bg v "$s" "sqlsink --no-stdin -l $R/run/hopmap/sink.sock $s/map.db"
	until_ok 60 test -S "$R/run/hopmap/sink.sock"
	ex_bg v "$d" "$(sub "$1" "${LAB[@]}")"
	check "$1: node 2's share reaches the sink under node2" until_ok 120 \
	    qtest "$s/map.db" "SELECT count(DISTINCT ip) FROM pings WHERE node = 'node2' AND src != 'hop'" = "$(cidr-expand -R -c -s 2/3 "$d"/ranges/*.txt)"
	ex_stop "$d"
	ex_stop "$s"
}
x_hopmap_loop_1_5() { # from the root namespace into the lab's vantage point
	local d
	d=$(wd "$1")
	printf '%s\n' 198.19.1.0/30 198.19.3.0/30 >"$d/seeds.txt"
	ex_sh root "$d" "$(sub "$1" -e "s/lab-v /$lab-v /")"
	check "$1: exit 0; the routers found, probed as hops" \
	    sh -c "[ $rc = 0 ] && [ -s '$d/out' ] && ! grep -v '^198\.18\.' '$d/out'"
}

# hopmap-map(1), on a map of two nodes of the lab ($mapdb)
x_hopmap_map_1_1() {
	local d
	d=$(wd "$1")
	mkdir "$d/hub"
	cp "$mapdb" "$d/hub/map.db"
	ex_sh v "$d" "$(sub "$1")"
	check "$1: exit 0; an SVG with the lab's routers" \
	    sh -c "[ $rc = 0 ] && grep -q '<svg' '$d/map.svg' && grep -q '198\.18\.0\.2' '$d/map.svg'"
}
x_hopmap_map_1_2() {
	local d
	d=$(wd "$1")
	cp "$mapdb" "$d/map.db"
	ex_sh v "$d" "$(sub "$1")"
	check "$1: exit 0; at most ten links of vp2, seen ten times or more, busiest first" \
	    sh -c "[ $rc = 0 ] && [ -s '$d/out' ] && [ \$(wc -l <'$d/out') -le 10 ] &&
	        ! awk '\$3 < 10' '$d/out' | grep -q . && cut -d' ' -f3 '$d/out' | sort -nrc"
	same "$1: the same links as the database's for vp2" \
	    "$(awk '{ print $1, $2 }' "$d/out" | sort)" \
	    "$(q -separator ' ' "$d/map.db" "SELECT a, b FROM links WHERE node = 'vp2' AND count >= 10 ORDER BY count DESC LIMIT 10" | sort)"
}
x_hopmap_map_1_3() {
	local d
	d=$(wd "$1")
	cp "$mapdb" "$d/map.db"
	ex_sh v "$d" "$(sub "$1")"
	check "$1: exit 0; a PNG" sh -c "[ $rc = 0 ] && file '$d/map.png' | grep -q 'PNG image'"
}

# hopmap-ship(1), to the hub of hopmap-hub(1)
x_hopmap_ship_1_1() { # the spool, then send until stopped
	local d n before
	d=$(wd "$1")
	before=$(q "$hubdb" "SELECT count(*) FROM pings")
	n=$(cidr-expand -R -c -s 2/3 "$d/ranges.txt")
	ex_bg v "$d" "$(sub "$1" "${LAB[@]}")"
	check "$1: the spooled records reach the hub" until_ok 120 \
	    qtest "$hubdb" "SELECT count(*) FROM pings" = $((before + n))
	check "$1: and leave the spool" until_ok 60 \
	    sh -c "! find '$R/var/lib/hopmap/spool' -name '*.seg' | grep -q ."
	ex_stop "$d"
}
spool_some() { # DIR NODE: fills the spool for the next example: shard 1/3
	ip netns exec "$lab-v" sh -c "cidr-expand -R -s 1/3 '$1/ranges.txt' | icmpprobe -n $2 |
	    hopmap-ship spool $R/var/lib/hopmap/spool"
}
x_hopmap_ship_1_2() { # over TLS, until stopped
	local d n before
	d=$(wd "$1")
	cp "$hubdir"/w2.pem "$hubdir"/w2.key "$hubdir"/ca.pem "$d"
	before=$(q "$hubdb" "SELECT count(*) FROM pings WHERE node = 'w2'")
	spool_some "$d" w2
	n=$(cidr-expand -R -c -s 1/3 "$d/ranges.txt")
	ex_bg v "$d" "$(sub "$1")"
	check "$1: the hub stores them under the certificate's name" until_ok 120 \
	    qtest "$hubdb" "SELECT count(*) FROM pings WHERE node = 'w2'" = $((before + n))
	ex_stop "$d"
}
x_hopmap_ship_1_3() { # over ssh, once
	local d n before
	d=$(wd "$1")
	before=$(q "$hubdb" "SELECT count(*) FROM pings")
	spool_some "$d" "$(hostname)"
	n=$(cidr-expand -R -c -s 1/3 "$d/ranges.txt")
	ex_sh v "$d" "$(sub "$1")"
	same "$1: exit 0; all stored; the spool empty" \
	    "$rc:$(q "$hubdb" "SELECT count(*) FROM pings"):$(find "$R/var/lib/hopmap/spool" -name '*.seg')" \
	    "0:$((before + n)):"
}
x_hopmap_ship_1_4() { # through the gateway over HTTPS, until stopped
	local d n
	d=$(wd "$1")
	gateway_8443
	ip netns exec "$lab-hub" hopmap-httpd key add -d "$R/var/lib/hopmap-hub" w7 >"$R/etc/hopmap/w7.key"
	spool_some "$d" w7
	n=$(cidr-expand -R -c -s 1/3 "$d/ranges.txt")
	ex_bg v "$d" "$(sub "$1")"
	check "$1: the hub stores w7's records" until_ok 120 \
	    qtest "$hubdb" "SELECT count(*) FROM pings WHERE node = 'w7'" = "$n"
	check "$1: and they leave the spool" until_ok 60 \
	    sh -c "! find '$R/var/lib/hopmap/spool' -name '*.seg' | grep -q ."
	ex_stop "$d"
}

# hopmap-status(1), on the map of two nodes, one of them silent for a day
x_hopmap_status_1_1() {
	local d
	d=$(wd "$1")
	mkdir "$d/hub"
	cp "$mapdb" "$d/hub/map.db"
	ex_sh v "$d" "$(sub "$1")"
	check "$1: the table names both nodes" \
	    sh -c "[ $rc = 0 ] && grep -q '^vp1 ' '$d/out' && grep -q '^vp2 ' '$d/out'"
	same "$1: then the node silent for more than ten minutes, only" "$(awk 'NF == 1' "$d/out")" "vp1"
}
x_hopmap_status_1_2() {
	local d
	d=$(wd "$1")
	cp "$statusdb" "$d/map.db"
	ex_sh v "$d" "$(sub "$1")"
	check "$1: exit 0; lon1, with what its state directory says" \
	    sh -c "[ $rc = 0 ] && grep -q '^lon1 .* state .* rounds 1  resume 4/4' '$d/out'"
}

# hopmap-worker(1), to the hub of hopmap-hub(1)
x_hopmap_worker_1_1() { # three nodes, until stopped: each line in its vantage point, named node1..3
	local d i ns before=()
	for i in 1 2 3; do
		before[i]=$(q "$hubdb" "SELECT count(*) FROM pings WHERE src != 'hop' AND node = 'node$i'")
		d=$(wd "$1-node$i")
		ns=v$i
		[ $i = 1 ] && ns=v
		UTS=node$i ex_bg "$ns" "$d" "$(sub "$1" "${LAB[@]}" | sed -n "s/^node$i\\$ //p")"
	done
	for i in 1 2 3; do
		check "$1: node$i's shard at the hub, under its host name" until_ok 180 \
		    qtest "$hubdb" "SELECT count(*) FROM pings WHERE src != 'hop' AND node = 'node$i'" = $((before[i] + $(cidr-expand -R -c -s $i/3 "$d/ranges.txt")))
	done
	for i in 1 2 3; do ex_stop "$T/w/$1-node$i"; done
}
x_hopmap_worker_1_2() { # cron: the command
	local d
	d=$(wd "$1")
	cp "$d/ranges.txt" "$R/etc/hopmap/"
	ex_bg v2 "$d" "$(sub "$1" "${LAB[@]}" | uncron)"
	check "$1: the hub stores ams1's shard under its certificate's name" until_ok 120 \
	    qtest "$hubdb" "SELECT count(DISTINCT ip) FROM pings WHERE node = 'ams1' AND src != 'hop'" = "$(cidr-expand -R -c -s 1/3 "$d/ranges.txt")"
	ex_stop "$d"
}
x_hopmap_worker_1_3() { # the hub's hops over ssh, until stopped
	local d before
	d=$(wd "$1")
	before=$(q "$hubdb" "SELECT count(*) FROM pings WHERE node = 'w2' AND src = 'hop'")
	ex_bg v2 "$d" "$(sub "$1" "${LAB[@]}")"
	check "$1: w2 probes hops the hub handed out" until_ok 180 \
	    qtest "$hubdb" "SELECT count(*) FROM pings WHERE node = 'w2' AND src = 'hop'" -gt "$before"
	check "$1: it took them from the hub over ssh, and remembers how far it read" \
	    sh -c "grep -q 'hop targets from --hops-cmd' '$d/err' && test -s '$d/.local/state/hopmap/hops.offset'"
	ex_stop "$d"
}
x_hopmap_worker_1_4() { # through the gateway, until stopped: targets from it, results to it
	local d
	d=$(wd "$1")
	gateway_8443
	ip netns exec "$lab-hub" hopmap-httpd key add -d "$R/var/lib/hopmap-hub" ams2 >"$R/etc/hopmap/ams2.key"
	ex_bg v2 "$d" "$(sub "$1" -e 's/-- --rounds 0/-- -R --rounds 0/')"
	check "$1: ams2 probes the gateway's range, its results at the hub" until_ok 180 \
	    qtest "$hubdb" "SELECT count(DISTINCT ip) FROM pings WHERE node = 'ams2' AND ip LIKE '198.19.1.%'" -ge 8
	ex_stop "$d"
}
x_hopmap_worker_1_5() { # a pipeline instead of the loop
	local d
	d=$(wd "$1")
	ex_sh v3 "$d" "$(sub "$1" "${LAB[@]}")"
	same "$1: exit 0; lab1's share stored under lab1" \
	    "$rc:$(q "$hubdb" "SELECT count(DISTINCT ip) FROM pings WHERE node = 'lab1'")" \
	    "0:$(cidr-expand -R -c -s 1/2 "$d/ranges.txt")"
}

# hopmap-manager(8), in the hub's namespace
x_hopmap_manager_8_1() { # the secret (alice's, for manager.cgi(8)'s login)
	local d
	d=$(wd "$1")
	ex_sh hub "$d" "$(sub "$1")"
	secret=$(sed -n 's/.*secret=\([A-Z2-7]*\).*/\1/p' "$d/out")
	check "$1: exit 0; the otpauth URI, then the code to scan" \
	    sh -c "[ $rc = 0 ] && grep -qE '^otpauth://totp/hopmap:alice\?secret=[A-Z2-7]{32}' '$d/out' && [ \$(wc -l <'$d/out') -gt 5 ]"
}
x_hopmap_manager_8_2() { # the key moved apart
	local d
	d=$(wd "$1")
	ex_sh hub "$d" "$(sub "$1")"
	same "$1: exit 0; alice listed, with the key moved out of the store" \
	    "$rc:$(cut -f1 "$d/out"):$(ls "$R/var/lib/hopmap/manager" | grep -c key)" "0:alice:0"
	# back: manager.cgi(8)'s lines give the CGI no HOPMAP_MANAGER_KEY_FILE
	mv "$R/etc/hopmap/manager.key" "$R/var/lib/hopmap/manager/server.key"
}
x_hopmap_manager_8_3() { # cron: the command; the hub's counts sampled
	local d
	d=$(wd "$1")
	ex_sh hub "$d" "$(sub "$1" | uncron)"
	same "$1: exit 0, quiet" "$rc:$(cat "$d/out" "$d/err")" "0:"
	check "$1: a sample of the hub's counts kept" \
	    sh -c "find '$R/var/lib/hopmap/manager' -newer '$d/ranges.txt' -type f | grep -q ."
}

# manager.cgi(8): lighttpd with the page's lines, serving HTTPS as
# hub.example.net (the hub's certificate) in the hub's namespace; the
# login with curl trusting the hub's CA (CURL_CA_BUNDLE)
x_manager_cgi_8_1() {
	local d
	d=$(wd "$1")
	mkdir -p "$d/www/manager" "$R/var/log/hopmap"
	cp "$HOPMAP_BIN/manager.cgi" "$d/www/manager/"
	cat "$hubdir/hub.pem" "$hubdir/hub.key" >"$d/hub-both.pem"
	{
		cat <<CONF
server.document-root = "$d/www"
server.port = 443
server.pid-file = "$d/lighttpd.pid"
server.errorlog = "$d/lighttpd.err"
server.breakagelog = "$d/cgi.err"
server.modules = ("mod_openssl")
ssl.engine = "enable"
ssl.pemfile = "$d/hub-both.pem"
CONF
		sub "$1" -e "s|/var/log/|$R/var/log/|"
	} >"$d/lighttpd.conf"
	ex_sh hub "$d" "lighttpd -tt -f lighttpd.conf"
	same "$1: lighttpd takes the lines" "$rc:$(cat "$d/out" "$d/err")" "0:"
	ex_bg hub "$d" "exec lighttpd -D -f lighttpd.conf"
	check "$1: lighttpd serves the manager" until_ok 30 \
	    ip netns exec "$lab-v" curl -sf -o /dev/null --cacert "$hubdir/ca.pem" https://hub.example.net/manager/manager.cgi/
	mgrdir=$d
}
x_manager_cgi_8_2() { # alice's code, from the secret of hopmap-manager(8)'s add-user
	local d
	d=$(wd "$1")
	ex_sh v "$d" "CURL_CA_BUNDLE=$hubdir/ca.pem; export CURL_CA_BUNDLE
$(sub "$1" -e "s/-b SECRET/-b $secret/")"
	check "$1: exit 0; logged in: 303 and a session cookie" \
	    sh -c "[ $rc = 0 ] && grep -q '^HTTP/[0-9.]* 303' '$d/out' && grep -qi '^Set-Cookie: hm_session=' '$d/out'"
	check "$1: the login logged" grep -q alice "$R/var/log/hopmap/manager-auth.log"
	ex_stop "$mgrdir"
}

# hopmap(5): records, not commands; a lab record has every member shown
x_keys() { # the member paths of the example's record (... dropped)
	sed -e 's/,\.\.\.//g; s/\[\.\.\.\]/[]/g' "$ex/$1" | tr -d '\n' |
	    jq -r '[paths | map(tostring) | join(".")] | .[]'
}
x_hopmap_5_1() {
	local r
	r=$(jq -c 'select(.trace.stop == "completed")' "$traces" | head -n 1)
	for k in $(x_keys "$1"); do
		check "$1: a traced lab record has $k" sh -c "printf '%s' '$r' | jq -e --arg k '$k' 'getpath(\$k | split(\".\")) != null' >/dev/null"
	done
}
x_hopmap_5_2() {
	local r
	r=$(jq -c '.node = "vp1"' "$traces" | hopextract -R | head -n 1)
	for k in $(x_keys "$1"); do
		check "$1: a hop target has $k" sh -c "printf '%s' '$r' | jq -e --arg k '$k' 'getpath(\$k | split(\".\")) != null' >/dev/null"
	done
}
x_hopmap_7_1() { # the bundled Internet ranges, offline
	local d
	d=$(wd "$1")
	ln -s "$top/examples" "$d/examples"
	ex_sh v "$d" "$(sub "$1")"
	same "$1: ten addresses, no two running ones in one /24" \
	    "$rc:$(grep -cE '^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$' "$d/out"):$(cut -d. -f1-3 "$d/out" | uniq -d)" "0:10:"
}

# icmpprobe(1)
x_icmpprobe_1_1() {
	local d
	d=$(wd "$1")
	ex_sh v "$d" "$(sub "$1" "${LAB[@]}")"
	same "$1: the responders only" \
	    "$rc:$(jq -r 'select(.ping.ok) | .ip' "$d/alive.ndjson" | sort -u | wc -l):$(jq -s length "$d/alive.ndjson")" \
	    "0:$(alive_in "$d/ranges/aws.txt"):$(alive_in "$d/ranges/aws.txt")"
}
x_icmpprobe_1_2() {
	local d
	d=$(wd "$1")
	ex_sh v "$d" "$(sub "$1")"
	same "$1: three probes each, three answers" \
	    "$rc:$(jq -r '[.ip, .ping.sent, .ping.recv] | @tsv' "$d/out" | sort | tr '\t\n' ', ')" \
	    "0:127.0.0.1,3,3 127.0.0.2,3,3 "
}
x_icmpprobe_1_3() { # an HTTPS server on 198.19.0.0/29, none on 198.19.1.0/29
	local d
	d=$(wd "$1")
	cidr-expand -R "$d/ranges/gcp.txt" | head -n 8 >"$d/targets.ndjson"
	cidr-expand -R "$d/ranges/aws.txt" | head -n 2 >>"$d/targets.ndjson"
	ip netns exec "$lab-l0" socat TCP-LISTEN:443,fork,reuseaddr /dev/null &
	cleanup_hooks+=("kill $!")
	until_ok 30 ip netns exec "$lab-l0" sh -c 'ss -Htln | grep -q ":443 "'
	ex_sh v "$d" "$(sub "$1")"
	same "$1: syn-ack from the server's hosts, rst from the others" \
	    "$rc:$(jq -r '[.ip, .ping.ok, .ping.tcp] | @tsv' "$d/out" | sort -V | awk '{ print $3 }' | tr '\n' ' ')" \
	    "0:syn-ack syn-ack rst rst rst rst rst rst rst rst "
}
x_icmpprobe_1_4() {
	local d
	d=$(wd "$1")
	cidr-expand -R "$d/ranges.txt" >"$d/targets.ndjson"
	ex_sh v "$d" "$(sub "$1")"
	same "$1: every lab host answers UDP" \
	    "$rc:$(jq -s 'map(select(.ping.ok and .ping.method == "udp")) | length' "$d/out")" \
	    "0:$(cidr-expand -R -c "$d/ranges.txt")"
}
x_icmpprobe_1_5() { # the user: hopmap where there is one, else nobody
	local d n
	d=$(wd "$1")
	cidr-expand -R "$d/ranges.txt" >"$d/targets.ndjson"
	n=$(cidr-expand -R -c "$d/ranges.txt")
	ex_sh v "$d" "$(sub "$1")"
	same "$1: exit 0; pinged and traced as ams1" \
	    "$rc:$(q "$d/map.db" "SELECT count(DISTINCT ip), min(node) FROM pings"):$(q "$d/map.db" "SELECT count(*) FROM traces")" \
	    "0:$n|ams1:$n"
	check "$1: the counters, in the user's directory" \
	    grep -q "^hopmap_.* $n\$" "$R/var/lib/hopmap/icmpprobe.prom"
}

# interleave(1)
x_interleave_1_1() {
	local d
	d=$(wd "$1")
	ex_sh v "$d" "$(sub "$1" "${LAB[@]}")"
	same "$1: every address probed" "$rc:$(jq -s length "$d/out")" "0:$(cidr-expand -R -c "$d"/ranges/*.txt)"
	# icmpprobe writes as answers come: the order is seen before it
	ex_sh v "$d" "$(sub "$1" "${LAB[@]}" | sed 's/ | icmpprobe$//')"
	same "$1: what icmpprobe reads: no two running ones in one /24" \
	    "$rc:$(jq -r .ip "$d/out" | cut -d. -f1-3 | uniq -d)" "0:"
}
x_interleave_1_2() {
	local d
	d=$(wd "$1")
	ex_sh v "$d" "$(sub "$1")"
	same "$1: prips' addresses, reordered, no two running ones in one /16" \
	    "$rc:$(sort "$d/out" | md5sum):$(cut -d. -f1-2 "$d/out" | uniq -d | head -n 3)" \
	    "0:$(prips 10.0.0.0/14 | sort | md5sum):"
}

# sqlsink(1)
x_sqlsink_1_1() {
	local d
	d=$(wd "$1")
	cidr-expand -R -p "$d/ranges.txt" >"$d/targets"
	ex_sh v "$d" "$(sub "$1")"
	same "$1: every ping and trace stored" \
	    "$rc:$(q "$d/map.db" "SELECT count(*) FROM pings"):$(q "$d/map.db" "SELECT count(*) FROM traces")" \
	    "0:$(wc -l <"$d/targets"):$(wc -l <"$d/targets")"
}
x_sqlsink_1_2() { # the sink stays: until the next example is done
	local d text
	d=$(wd "$1")
	sinkdir=$d
	cidr-expand -R -p "$d/ranges.txt" >"$d/targets"
	text=$(sub "$1")
	# The sink's line, then (when the socket is there, as when typed) the writer's.
	ex_bg v "$d" "$(echo "$text" | sed -n 1p | sed 's/ &$//')"
	check "$1: the sink listens" until_ok 60 test -S "$R/run/hopmap/sink.sock"
	mkdir -p "$d/writer"
	cp "$d/targets" "$d/writer/"
	ex_sh v "$d/writer" "$(echo "$text" | sed 1d)"
	check "$1: the writer's records are stored" until_ok 60 \
	    qtest "$d/map.db" "SELECT count(*) FROM pings" = "$(wc -l <"$d/targets")"
}
x_sqlsink_1_3() { # to the sink of the example before
	local d n
	d=$(wd "$1")
	jq -c '.node = "w1"' "$pinged" >"$d/results.ndjson"	# probed elsewhere
	n=$(wc -l <"$d/results.ndjson")
	ex_sh v "$d" "$(sub "$1")"
	same "$1: exit 0 once stored, under the session's node" \
	    "$rc:$(cat "$d/out"):$(q "$sinkdir/map.db" "SELECT count(*) FROM pings WHERE node = 'w1'")" "0:ok $n:$n"
	ex_stop "$sinkdir"
}
x_sqlsink_1_4() {
	local d
	d=$(wd "$1")
	cp "$mapdb" "$d/map.db"
	ex_sh v "$d" "$(sub "$1")"
	same "$1: twenty links, busiest first" \
	    "$rc:$(wc -l <"$d/out"):$(cut -d'|' -f4 "$d/out" | sort -nrc && echo sorted)" "0:20:sorted"
}
x_sqlsink_1_5() { # in a PID namespace: the only sqlsink pkill can see is ours
	local d
	d=$(wd "$1")
	cat >"$d/run.sh" <<EOS
sqlsink -i 100ms map.db <fifo &
exec 3>fifo
until [ -L map.db ]; do sleep 0.1; done
first=\$(readlink map.db)
$(sub "$1")
n=0
while [ "\$(readlink map.db)" = "\$first" ] && [ \$n -lt 300 ]; do sleep 0.1; n=\$((n + 1)); done
echo "\$first \$(readlink map.db)"
exec 3>&-
wait
EOS
	mkfifo "$d/fifo"
	ex_sh v "$d" "unshare --pid --fork --mount-proc sh run.sh"
	check "$1: SIGHUP starts a new file" \
	    sh -c "[ $rc = 0 ] && read -r a b <'$d/out' && [ -n \"\$b\" ] && [ \"\$a\" != \"\$b\" ]"
}

# tracehop(1)
x_tracehop_1_1() {
	local d
	d=$(wd "$1")
	ex_sh v "$d" "$(sub "$1" "${LAB[@]}")"
	same "$1: every responder traced, links stored" \
	    "$rc:$(q "$d/map.db" "SELECT count(*) FROM traces"):$(q "$d/map.db" "SELECT count(*) > 0 FROM links")" \
	    "0:$(alive_in "$d"/ranges/*.txt):1"
}
x_tracehop_1_2() { # the diamond: udp-paris keeps each flow on one branch
	local d
	d=$(wd "$1")
	cp "$traces" "$d/targets.ndjson"
	ex_sh v "$d" "$(sub "$1")"
	same "$1: completed udp-paris traces, one path each through the diamond" \
	    "$rc:$(jq -r 'select(.trace and (.ip | startswith("198.19.3."))) | [.trace.method, .trace.stop, ([.trace.hops[] | select(.ttl == 3)] | length)] | @tsv' "$d/out" | sort -u | tr '\t\n' ', ')" \
	    "0:udp-paris,completed,1 "
}
x_tracehop_1_3() { # the pinged records, a dark one among them
	local d
	d=$(wd "$1")
	cp "$pinged" "$d/targets.ndjson"
	ex_sh v "$d" "$(sub "$1")"
	same "$1: one line per responder, ending at the target" \
	    "$rc:$(jq -r 'select(.[1][-1] == .[0]) | .[0]' "$d/out" | sort | tr '\n' ' ')" \
	    "0:$(jq -r 'select(.ping.ok) | .ip' "$pinged" | sort | tr '\n' ' ')"
}
x_tracehop_1_4() { # twice: the second run starts past the hops it knows
	local d
	d=$(wd "$1")
	cp "$traces" "$d/targets.ndjson"
	# tracehop opens its stop set as root before it drops to nobody, but
	# without CAP_DAC_OVERRIDE: it cannot create one in this directory,
	# nobody's (for the metrics), as it would in a root-owned one.
	install -m 644 /dev/null "$R/var/lib/hopmap/stopset"
	ex_sh v "$d" "$(sub "$1")"
	check "$1: exit 0; the stop set holds the routers near home" \
	    sh -c "[ $rc = 0 ] && grep -q '^198\.18\.0\.2' '$R/var/lib/hopmap/stopset'"
	ex_sh v "$d" "$(sub "$1")"
	check "$1: the next run starts past them" \
	    sh -c "[ $rc = 0 ] && jq -e 'select(.trace.start_ttl > 1)' '$d/out' >/dev/null"
}

# ---- files the examples read, made in the lab ----
fx=$T/fixtures
mkdir -p "$fx"
printf '%s\n' 198.19.0.0/29 198.19.200.0/30 198.19.1.0/29 198.19.3.0/29 >"$fx/ranges"
pinged=$fx/pinged.ndjson traces=$fx/traces.ndjson
ip netns exec "$lab-v" sh -c "cidr-expand -R '$fx/ranges' | icmpprobe" >"$pinged"
ip netns exec "$lab-v" tracehop "$pinged" >"$traces"
same "fixtures: pinged and traced" \
    "$(jq -s 'map(select(.trace.stop == "completed")) | length' "$traces")" 24
# A map of two nodes: vp2 now, vp1 a day ago (silent since).
mapdb=$fx/map.db
printf '%s\n' 198.19.0.0/27 198.19.1.0/27 198.19.3.0/27 >"$fx/map-ranges"
ip netns exec "$lab-v" sh -c "cidr-expand -R '$fx/map-ranges' | icmpprobe -n vp2 |
    tracehop --node vp2" >"$fx/vp2.ndjson"
old=$(date -u -d '1 day ago' +%Y-%m-%dT%H:%M:%S.000Z)
jq -c --arg t "$old" '.node = "vp1" | .id = "vp1" + .id | .ping.ts = $t | if .trace then .trace.ts = $t else . end' \
    "$fx/vp2.ndjson" | cat "$fx/vp2.ndjson" - | sqlsink "$mapdb"
# lon1: a node with its state directory.
statusdb=$fx/status.db
echo 198.19.1.0/30 >"$fx/lon1-seeds"
ip netns exec "$lab-v" hopmap-loop -R -q --node lon1 -d "$R/var/lib/hopmap/lon1" \
    --timeout 300ms --wait 300ms "$fx/lon1-seeds"
cp "$R/var/lib/hopmap/lon1/map.db" "$statusdb" 2>/dev/null ||
    sqlite3 "$R/var/lib/hopmap/lon1/map.db" ".backup '$statusdb'"

# ---- run them: the hub's first, then page by page ----
runners=$(declare -F | awk '$3 ~ /^x_/ && $3 != "x_keys" { print $3 }')
order="hopmap-hub.1:2 hopmap-hub.1:1
$(echo "$examples" | grep -v '^hopmap-hub\.1:[12]$')"
for id in $order; do
	# (EXAMPLES_ONLY=REGEX: only those, and the hub's, when debugging)
	case $id in hopmap-hub.1:[12]) ;; *)
		echo "$id" | grep -Eq "${EXAMPLES_ONLY:-.}" || continue ;;
	esac
	fn=x_$(echo "$id" | tr -- '-.:' '___')
	if declare -F "$fn" >/dev/null; then
		"$fn" "$id"
	else
		echo "not ok - $id: no runner in t-examples.sh (x_PAGE_N): $(head -n 1 "$ex/$id")"
	fi
done
for fn in $runners; do
	echo "$examples" | tr -- '-.:' '___' | grep -qx "${fn#x_}" ||
	    echo "not ok - $fn runs an example the man pages no longer have"
done
for f in "$T"/w/*/err; do
	no_sanitizer_report "$f" || { echo "not ok - sanitizer report in $f"; sed 's/^/    /' "$f" | head -n 20; }
done
