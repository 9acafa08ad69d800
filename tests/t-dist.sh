#!/usr/bin/env bash
# Many nodes: three workers in three vantage namespaces of the lab feed one
# hub over TCP; faults (the hub's sink killed, a worker's link cut, a worker
# killed with SIGKILL) lose nothing and double nothing; the OPENSSL
# transport takes only clients with a certificate from the hub's CA.
# Everything probes inside the lab only; the hub runs in its own namespace.
. "$(dirname "$0")/lib.sh"
. "$HOPMAP_TOP/tests/lab/lab.sh"

if [ "$(id -u)" -ne 0 ]; then
	echo "ok - skipped: needs root for network namespaces"
	exit 0
fi
lab=hmd$$
cleanup_hooks+=("lab_down $lab")
export LAB_VANTAGES=3 LAB_HUB=1
lab_up "$lab" >/dev/null || { echo "not ok - lab_up"; exit 1; }
hubns=$lab-hub
nsof() { if [ "$1" = 1 ]; then echo "$lab-v"; else echo "$lab-v$1"; fi; }
q() { sqlite3 -cmd '.timeout 5000' "$@"; }

# ---- usage ----
run hopmap-hub --help
same "hub --help: exit 0, lists every command" \
    "$rc:$(for c in serve recv ssh hops status; do grep -c "^  $c  " "$T/out"; done | tr -d '\n')" "0:11111"
run hopmap-hub frob
same "hub: unknown command: exit 2" "$rc:$(head -n 1 "$T/err")" "2:hopmap-hub: unknown command: frob"
run hopmap-ship send --tries x d a
same "ship: a bad number: exit 2" "$rc:$(head -n 1 "$T/err")" "2:hopmap-ship: tries is not a number: x"
run hopmap-worker -d "$T/x"
same "worker: --hub is needed: exit 2" "$rc:$(head -n 1 "$T/err")" "2:hopmap-worker: --hub is needed"
for p in hopmap-hub hopmap-ship hopmap-worker; do
	run "$p" --version
	same "$p --version" "$rc:$(cut -d' ' -f1 "$T/out")" "0:$p"
done

# ---- spool: complete segments only, a dead spooler's half segment salvaged ----
seq 1 25 | sed 's/.*/{"ip":"198.19.0.&","id":"s&"}/' >"$T/recs"
run hopmap-ship spool -l 10 "$T/sp" <"$T/recs"
same "spool: 25 records in segments of 10" \
    "$rc:$(cat "$T"/sp/*.seg | wc -l):$(find "$T/sp" -name '*.seg' | wc -l)" "0:25:3"
printf '{"ip":"198.19.0.99","id":"s99"}\n{"ip":"198.19.0.' >"$T/sp/dead.part"
run hopmap-ship spool --lines=5 "$T/sp" </dev/null
same "spool: a dead spooler's complete lines are kept, the torn one dropped" \
    "$rc:$(cat "$T"/sp/*.seg | wc -l):$(ls "$T"/sp/*.part 2>/dev/null | wc -l):$(grep -c salvaged "$T/err")" "0:26:0:1"
exec 9>>"$T/sp/spool.lock"
flock 9
run hopmap-ship spool "$T/sp" </dev/null
same "spool: one spooler a directory" "$rc:$(cat "$T/err")" \
    "1:hopmap-ship: $T/sp: another spooler is writing here"
exec 9>&-

# ---- the hub: sqlsink behind TCP, a recv per connection ----
seeds=$T/seeds.txt
printf '%s\n' 198.19.0.0/28 198.19.1.0/28 198.19.2.0/28 198.19.3.0/27 \
    198.19.200.0/30 198.19.201.0/30 >"$seeds"
nseeds=$(cidr-expand -R -c "$seeds")
hub=$T/hub
ip netns exec "$hubns" hopmap-hub serve -d "$hub" --tcp 7411 \
    --sink-args '-i 100ms' 2>"$T/hub.err" &
hubpid=$!
cleanup_hooks+=("kill $hubpid; wait $hubpid")
for _ in $(seq 50); do [ -S "$hub/sink.sock" ] && break; sleep 0.1; done
check "hub: the sink's socket is there" test -S "$hub/sink.sock"
addr=TCP:$LAB_HUB_IP:7411

# A shipped spool arrives once, even sent twice.
run ip netns exec "$(nsof 1)" hopmap-ship send --once -N pre "$T/sp" "$addr"
same "ship: every segment confirmed and deleted" \
    "$rc:$(ls "$T"/sp/*.seg 2>/dev/null | wc -l):$(grep -c confirmed "$T/err")" "0:0:4"
same "hub: the 26 records stored" "$(q "$hub/map.db" 'SELECT count(*) FROM targets')" 26
cp "$T/recs" "$T/sp/again.seg"
run ip netns exec "$(nsof 1)" hopmap-ship send --once -q -N pre "$T/sp" "$addr"
same "ship: a segment sent again is confirmed, stored once" \
    "$rc:$(q "$hub/map.db" 'SELECT count(*), count(DISTINCT rid) FROM targets')" "0:26|26"
same "hub status: a segment sent again counts once (records stored, duplicates)" \
    "$(hopmap-hub status -d "$hub" | awk 'NR > 2 { print $1, $2, $3, $4, $5 }')" "pre 5 26 25 0"

# A segment the hub can never store whole (bad JSON, an over-long line, a
# record of another node, a forged delivery marker): its good record is
# stored, the segment is not confirmed but quarantined, visibly, and the
# next segment is delivered.
mkdir -p "$T/sq"
{
	echo '{"ip":"198.19.5.1","id":"q1"}'
	echo 'not json'
	printf '{"ip":"198.19.5.2","id":"q2","pad":"%070000d"}\n' 0
	echo '{"ip":"198.19.5.3","id":"q3","node":"w2"}'
	echo '{"src":"hopmap-ack","node":"pre","lines":1000,"ts":"2030-01-01T00:00:00Z"}'
} >"$T/sq/20261201T000000-1-000000.seg"
echo '{"ip":"198.19.5.9","id":"q9"}' >"$T/sq/20261201T000000-1-000001.seg"
run ip netns exec "$(nsof 1)" hopmap-ship send --once -q -n 2 -N pre "$T/sq" "$addr"
same "refused: exit 0, the segment quarantined, the next one delivered" \
    "$rc:$(cd "$T/sq" && find . -type f | sort | tr '\n' ' ')" \
    "0:./quarantine/20261201T000000-1-000000.seg "
check "refused: said even with -q, each line and why" grep -q \
    "000000.seg: moved to $T/sq/quarantine: the hub answered: refused 4 of 5: line 2: bad JSON at column 3: invalid token near 'not'; line 3: line too long, skipped; line 4: \"node\" is not the session's node; line 5: a delivery marker" \
    "$T/err"
same "refused: only the good records stored, under the sender's name" \
    "$(q "$hub/map.db" "SELECT group_concat(ip || ' ' || node, ', ') FROM (SELECT ip, node FROM targets WHERE ip LIKE '198.19.5.%' ORDER BY ip)")" \
    "198.19.5.1 pre, 198.19.5.9 pre"
same "refused: the forged marker changed no one's deliveries or last contact" \
    "$(q "$hub/map.db" "SELECT count(*), max(json_extract(json, '\$.ts')) < '2030' FROM raw WHERE src = 'hopmap-ack'")" "7|1"

# ---- three workers, one shard each ----
probeopts=(-R --timeout 300ms --trace-rate 2000 --wait 300ms --max-ttl 8)
for k in 1 2 3; do
	ip netns exec "$(nsof $k)" hopmap-worker -H "$addr" -d "$T/w$k" -N "w$k" \
	    -- --shard "$k/3" --rounds 2 -q "${probeopts[@]}" "$seeds" \
	    >"$T/w$k.out" 2>"$T/w$k.err" &
	eval "wpid$k=$!"
done
for k in 1 2 3; do
	eval "wait \$wpid$k"
	same "worker w$k: exit 0, spool empty" \
	    "$?:$(ls "$T/w$k/spool/"*.seg 2>/dev/null | wc -l)" "0:0"
done
db=$hub/map.db
same "every seed address probed once, by one worker" \
    "$(q "$db" "SELECT count(*), sum(c), max(c), max(n) FROM (SELECT ip, count(*) AS c, count(DISTINCT node) AS n FROM pings WHERE src IS NOT 'hop' GROUP BY ip)")" \
    "$nseeds|$nseeds|1|1"
same "each worker probed its shard" \
    "$(q "$db" "SELECT node, count(*) FROM pings WHERE src IS NOT 'hop' GROUP BY node ORDER BY node" | tr '\n' ' ')" \
    "$(for k in 1 2 3; do printf 'w%s|%s ' "$k" "$(cidr-expand -R -c --shard "$k/3" "$seeds")"; done)"
same "hop targets were probed in the second round" \
    "$(q "$db" "SELECT count(DISTINCT node) FROM pings WHERE src = 'hop'")" 3
# The lab's links, but those into a leaf's own link address: traces end at
# the leaf's prefix, so only a trace to that address itself would show it,
# and the leaf addresses are never hops.
want=$(awk '$1 == "router" { sub("addr=", "", $3); addr[$2] = $3 }
    $1 == "target" { sub("node=", "", $3); leaf[addr[$3]] = 1 }
    $1 == "link" && !($3 in leaf) { print $2 "|" $3 }' "$LAB_TOPO" | sort)
got=$(q "$db" "SELECT DISTINCT a || '|' || b FROM links WHERE a LIKE '198.18.%' AND b LIKE '198.18.%'" | sort)
same "the hub's links between routers are the topology's links" \
    "$(comm -13 <(echo "$want") <(echo "$got"))" ""
same "the hub holds every topology link" "$(comm -23 <(echo "$want") <(echo "$got"))" ""
same "each result stored once (ids)" \
    "$(q "$db" "SELECT count(*) - count(DISTINCT rid) FROM pings")" 0
run hopmap-hub status -d "$hub"
same "hub status: the three workers" "$(awk 'NR > 2 { print $1 }' "$T/out" | tr '\n' ' ')" "pre w1 w2 w3 "

# ---- hops handed out by shard, each once ----
run hopmap-hub hops -d "$hub" -R
all=$(sort "$T/out")
same "hops: every router found, once" \
    "$(jq -r .ip <<<"$all" | sort | uniq -d):$(jq -r .ip <<<"$all" | sort -u | wc -l)" \
    ":$(q "$db" "SELECT count(DISTINCT ip) FROM hops WHERE ip LIKE '198.18.%'")"
shards=$(for k in 1 2 3; do hopmap-hub hops -d "$hub" -R --shard "$k/3"; done | sort)
same "hops: the shards split them" "$shards" "$all"
n1=$(hopmap-hub hops -d "$hub" -s 1/3 | wc -l)
same "hops: --from skips what a worker has" \
    "$(hopmap-hub hops -d "$hub" -s 1/3 -f 1 | wc -l)" "$((n1 > 0 ? n1 - 1 : 0))"

echo "# three workers: $(q "$db" 'SELECT count(*) FROM pings') pings, $(q "$db" 'SELECT count(*) FROM links') links"

# ---- hops across the sink's rotations ----
tr1='{"ip":"198.19.1.5","id":"r1","trace":{"method":"icmp-paris","stop":"completed","hops":[{"ttl":1,"ip":"198.18.0.2"},{"ttl":2,"ip":"198.18.0.10"},{"ttl":3,"ip":"198.19.1.5"}]}}'
tr2='{"ip":"198.19.2.5","id":"r2","trace":{"method":"icmp-paris","stop":"completed","hops":[{"ttl":1,"ip":"198.18.0.2"},{"ttl":2,"ip":"198.18.0.22"},{"ttl":3,"ip":"198.19.2.5"}]}}'
tr3='{"ip":"198.19.3.5","id":"r3","trace":{"method":"icmp-paris","stop":"completed","hops":[{"ttl":1,"ip":"198.18.0.2"},{"ttl":2,"ip":"198.18.0.34"},{"ttl":3,"ip":"198.19.3.5"}]}}'
mkdir -p "$T/rot"
# -s 1: a new file after every commit, so each trace lands in its own file.
printf '%s\n' "$tr1" | sqlsink -s 1 -k 10 "$T/rot/map.db"
run hopmap-hub hops -d "$T/rot" -R
same "hops after a rotation: the rotated-away file is read" \
    "$rc:$(jq -r .ip "$T/out" | tr '\n' ' ')" "0:198.18.0.2 198.18.0.10 "
printf '%s\n' "$tr2" | sqlsink -s 1 -k 10 "$T/rot/map.db"
printf '%s\n' "$tr3" | sqlsink -s 1 -k 10 "$T/rot/map.db"
run hopmap-hub hops -d "$T/rot" -R -f 2
same "hops after two more rotations: both files read, nothing twice" \
    "$rc:$(jq -r .ip "$T/out" | tr '\n' ' ')" "0:198.18.0.22 198.18.0.34 "

# ---- hops from the hub: global dedup, one worker per router ----
ip netns exec "$hubns" hopmap-hub serve -d "$T/hub2" --tcp 7413 \
    --sink-args '-i 100ms' 2>"$T/hub2.err" &
hub2pid=$!
cleanup_hooks+=("kill $hub2pid; wait $hub2pid")
for _ in $(seq 50); do [ -S "$T/hub2/sink.sock" ] && break; sleep 0.1; done
for k in 1 2; do
	ip netns exec "$(nsof $((2 * k - 1)))" hopmap-worker -H "TCP:$LAB_HUB_IP:7413" \
	    -d "$T/g$k" -N "g$k" --hub-hops "hopmap-hub hops -d $T/hub2 -R -s $k/2" \
	    -- --shard "$k/2" --rounds 5 -p 1s -q "${probeopts[@]}" "$seeds" \
	    >"$T/g$k.out" 2>"$T/g$k.err" &
	eval "gpid$k=$!"
done
for k in 1 2; do
	eval "wait \$gpid$k"
	same "hub hops: worker g$k exit 0" "$?:$(cat "$T/g$k.err")" "0:"
done
db2=$T/hub2/map.db
same "hub hops: each router probed as a hop by one worker only" \
    "$(q "$db2" "SELECT count(*) FROM (SELECT ip FROM pings WHERE src = 'hop' GROUP BY ip HAVING count(*) > 1)")" 0
same "hub hops: every router the traces showed was handed out and probed" \
    "$(q "$db2" "SELECT count(DISTINCT ip) FROM pings WHERE src = 'hop'")" \
    "$(q "$db2" "SELECT count(DISTINCT h.ip) FROM hops h JOIN traces t ON t.id = h.trace_id WHERE t.src IS NOT 'hop' AND h.ip LIKE '198.18.%'")"
same "hub hops: each worker took its shard" \
    "$(for k in 1 2; do cat "$T/g$k/hops.offset"; done | tr '\n' ' ')" \
    "$(for k in 1 2; do hopmap-hub hops -d "$T/hub2" -R -s "$k/2" | wc -l; done | tr '\n' ' ')"

# ---- faults: the sink killed, the link cut, the worker killed ----
fseeds=$T/fseeds.txt
printf '%s\n' 198.19.0.0/26 198.19.1.0/26 198.19.3.0/26 198.19.2.0/27 >"$fseeds"
nf=$(cidr-expand -R -c "$fseeds")
fns=$(nsof 2)
deliveries() {
	q "$db" "SELECT count(*) FROM raw WHERE src = 'hopmap-ack' AND node = 'f'"
}
# Wait until the hub has had more than $1 deliveries from f (at most 30s).
await() {
	local i
	for ((i = 0; i < 300; i++)); do
		[ "$(deliveries)" -gt "$1" ] && return 0
		sleep 0.1
	done
	return 1
}
start_f() {
	setsid ip netns exec "$fns" hopmap-worker -H "$addr" -d "$T/f" -N f \
	    -b 2 -- --rounds 0 -n 16 -p 1s "${probeopts[@]}" "$fseeds" \
	    >>"$T/f.out" 2>"$T/f.err$1" &
	fpid=$!
}
start_f 1
check "faults: the worker delivers" await 0
kill -KILL -- -"$fpid"
wait "$fpid" 2>/dev/null
cut=$(grep -o 'round [0-9]*' "$T/f.err1" | tail -n 1)
start_f 2
first=$(for _ in $(seq 100); do grep -o 'round [0-9]*' "$T/f.err2" && break; sleep 0.1; done | head -n 1)
check "faults: the worker resumes at the round it was in ($cut, then $first)" \
    test "${first#round }" -ge "${cut#round }" -a "${first#round }" -ge 2
kill -KILL "$(cat "$hub/sqlsink.pid")"
n=$(deliveries)
check "faults: after the sink was killed and restarted, deliveries go on" await "$n"
ip -n "$fns" link set to-r1 down
sleep 3
ip -n "$fns" link set to-r1 up
vaddr=$(awk '$1 == "vantage" && $2 == "v2" { print $3 }' "$LAB_TOPO")
ip -n "$fns" route replace 198.18.0.0/15 via "${vaddr%.*}.$((${vaddr##*.} + 1))"
n=$(deliveries)
check "faults: after the link came back, deliveries go on" await "$n"
wait "$fpid"
same "faults: the restarted worker finishes, spool empty" \
    "$?:$(ls "$T/f/spool/"*.seg 2>/dev/null | wc -l)" "0:0"
same "faults: every seed probed, each once" \
    "$(q "$db" "SELECT count(*), count(DISTINCT ip) FROM pings WHERE node = 'f' AND src IS NOT 'hop'")" \
    "$nf|$nf"
same "faults: every result stored once (per id, per address)" \
    "$(q "$db" "SELECT count(*) - count(DISTINCT rid), count(*) - count(DISTINCT ip) FROM pings WHERE node = 'f'")" \
    "0|0"
check "faults: the sink restarted" grep -q 'sqlsink exited with status 137; restarting' "$T/hub.err"
echo "# faults: $(deliveries) deliveries, $(q "$db" "SELECT count(*) FROM pings WHERE node = 'f'") pings from f"

# ---- OPENSSL: a client certificate from the hub's CA, or nothing ----
pki=$T/pki
mkdir -p "$pki"
ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
mkcert() { # NAME CA SUBJECT-ALT-NAME...: a key and a certificate signed by CA
	openssl req "${ec[@]}" -subj "/CN=$1" -keyout "$pki/$1.key" \
	    -out "$pki/$1.csr" 2>/dev/null
	openssl x509 -req -in "$pki/$1.csr" -CA "$pki/$2.pem" -CAkey "$pki/$2.key" \
	    -CAcreateserial -days 2 -out "$pki/$1.pem" ${3:+-extfile <(echo "subjectAltName=$3")} 2>/dev/null
}
for ca in ca rogue-ca; do
	openssl req -x509 "${ec[@]}" -days 2 -subj "/CN=hopmap $ca" \
	    -keyout "$pki/$ca.key" -out "$pki/$ca.pem" 2>/dev/null
done
mkcert hub ca "IP:$LAB_HUB_IP"
mkcert good ca
mkcert rogue rogue-ca
check "pki: the test's CA signed the client's certificate" \
    openssl verify -CAfile "$pki/ca.pem" "$pki/good.pem"
ip netns exec "$hubns" hopmap-hub serve -d "$T/hubt" --tls "$LAB_HUB_IP:7412" \
    --cert "$pki/hub.pem" --key "$pki/hub.key" --ca "$pki/ca.pem" \
    --sink-args '-i 100ms' 2>"$T/hubt.err" &
hubtpid=$!
cleanup_hooks+=("kill $hubtpid; wait $hubtpid")
for _ in $(seq 50); do [ -S "$T/hubt/sink.sock" ] && break; sleep 0.1; done
tls=OPENSSL:$LAB_HUB_IP:7412,cafile=$pki/ca.pem
shipt() { # NODE ADDRESS: ship the test records as NODE over ADDRESS
	rm -rf "$T/spt"
	sed "s/\"id\":\"/\"id\":\"$1/" "$T/recs" | hopmap-ship spool "$T/spt"
	run ip netns exec "$(nsof 3)" hopmap-ship send --once -q -n 1 -b 1 \
	    -T 10 -N "$1" "$T/spt" "$2"
}
shipt good "$tls,cert=$pki/good.pem,key=$pki/good.key"
same "tls: a client with a certificate from the CA delivers" \
    "$rc:$(q "$T/hubt/map.db" "SELECT count(*) FROM targets")" "0:25"
shipt other "$tls,cert=$pki/good.pem,key=$pki/good.key"
same "tls: a certificate delivers only under its own name" \
    "$rc:$(ls "$T"/spt/*.seg | wc -l):$(grep -c "the hub answered: error node other is not the certificate's good" "$T/err")" "1:1:1"
same "tls: the delivery log has the client's address" \
    "$(q "$T/hubt/map.db" "SELECT DISTINCT json_extract(json, '\$.peer') FROM raw")" \
    "$(awk '$1 == "vantage" && $2 == "v3" { print $3 }' "$LAB_TOPO")"
# A record naming another node inside a segment: the certificate's name
# is the only one, so it is refused (and the segment quarantined).
rm -rf "$T/spt"
mkdir -p "$T/spt"
echo '{"ip":"198.19.6.1","id":"goodx1","node":"w2"}' >"$T/spt/x.seg"
run ip netns exec "$(nsof 3)" hopmap-ship send --once -q -n 1 -b 1 -T 10 -N good \
    "$T/spt" "$tls,cert=$pki/good.pem,key=$pki/good.key"
same "tls: a record of another node is refused, the segment quarantined" \
    "$rc:$(ls "$T/spt/quarantine"):$(grep -c 'x.seg: moved to .*refused 1 of 1: line 1: "node" is not the session' "$T/err")" \
    "0:x.seg:1"
# A certificate from the CA, but without a common name: no name, no delivery.
openssl req "${ec[@]}" -subj "/O=hopmap workers" -keyout "$pki/nocn.key" \
    -out "$pki/nocn.csr" 2>/dev/null
openssl x509 -req -in "$pki/nocn.csr" -CA "$pki/ca.pem" -CAkey "$pki/ca.key" \
    -CAcreateserial -days 2 -out "$pki/nocn.pem" 2>/dev/null
shipt good "$tls,cert=$pki/nocn.pem,key=$pki/nocn.key"
same "tls: a certificate without a CN is refused, the spool kept" \
    "$rc:$(ls "$T"/spt/*.seg | wc -l):$(grep -c 'the hub answered: error the certificate has no usable name (CN)' "$T/err")" "1:1:1"
shipt nocert "$tls"
same "tls: a client without a certificate is refused, keeps its spool" \
    "$rc:$(ls "$T"/spt/*.seg | wc -l):$(grep -c 'giving up' "$T/err")" "1:1:1"
shipt rogue "$tls,cert=$pki/rogue.pem,key=$pki/rogue.key"
same "tls: a client with another CA's certificate is refused" \
    "$rc:$(ls "$T"/spt/*.seg | wc -l)" "1:1"
same "tls: nothing from the refused clients was stored" \
    "$(q "$T/hubt/map.db" "SELECT count(*) FROM targets WHERE rid NOT LIKE 'goods%'")" 0
check "tls: the hub's listener says why it refused" \
    grep -q 'certificate' "$T/hubt.err"

# ---- the rest of the options ----
run ip netns exec "$(nsof 3)" hopmap-worker -H "$addr" -d "$T/c" -N c3 -b 1 -n 2 \
    --cmd "echo 198.19.1.0/29 | cidr-expand -R | icmpprobe -n c3 --timeout 300ms"
same "worker --cmd: a pipeline's output shipped" \
    "$rc:$(q "$db" "SELECT count(*) FROM pings WHERE node = 'c3'")" "0:8"
run ip netns exec "$(nsof 3)" hopmap-worker -H "TCP:$LAB_HUB_IP:7499" -d "$T/c" \
    -N c3 -b 1 -n 2 --cmd "echo 198.19.1.8/30 | cidr-expand -R | icmpprobe -n c3 --timeout 300ms"
same "worker --tries: no hub, the results stay in the spool, exit 1" \
    "$rc:$(cat "$T"/c/spool/*.seg | wc -l):$(grep -c 'giving up after 2 attempts' "$T/err")" "1:4:1"
run hopmap-hub status --db "$db"
same "hub status --db: the same database" "$(awk 'NR > 2 { print $1 }' "$T/out" | tr '\n' ' ')" \
    "c3 f pre w1 w2 w3 "
run hopmap-hub recv -d "$hub" -w 1 <<<hello
same "recv: a bad header is refused (the answer is the status: exit 0)" "$rc:$(cat "$T/out")" "0:error bad header"
printf 'hopmap-segment 1 n s 2\n{"id":"x1"}\n' >"$T/short"
run hopmap-hub recv -d "$hub" <"$T/short"
same "recv: a short segment is refused" "$rc:$(cat "$T/out")" "0:error short segment: 1 of 2 lines"
printf 'hopmap-segment 1 n s 1\n{"id":"x1"}\n' >"$T/one"
run hopmap-hub recv -d "$T/nohub" --wait=1 <"$T/one"
same "recv: no sink, no confirmation" "$rc:$(cut -d: -f1 "$T/out")" "0:error the sink is not there"
printf 'hopmap-segment 1 n\033]0;x s 1\n{"id":"x1"}\n' >"$T/esc"
run hopmap-hub recv -d "$hub" <"$T/esc"
same "recv: a node name that is not plain is refused" "$rc:$(cat "$T/out")" "0:error bad node or segment name"
