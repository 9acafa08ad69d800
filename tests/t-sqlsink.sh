#!/usr/bin/env bash
# sqlsink: the schema and its rows for every kind of record, links, ids,
# batches, many socket writers, SIGKILL, torn lines, rotation, bad input,
# and every option.
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"
cd "$T" || exit 1
export LC_ALL=C

q() { sqlite3 "$@"; }

# Wait (bounded, not timed: the assertion is what follows) for a line
# matching a pattern to appear in a file.
wait_for() { # file pattern
	local _
	for _ in $(seq 1 600); do
		grep -q -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "    gave up waiting for '$2' in $1"
	return 1
}

wait_sock() { # path
	local _
	for _ in $(seq 1 600); do
		[ -S "$1" ] && return 0
		sleep 0.1
	done
	return 1
}

# Records, built with jq.
ping() { # ip node src [id]
	jq -nc --arg ip "$1" --arg node "$2" --arg src "$3" --arg id "${4:-}" \
	    '{ip: $ip, node: $node, src: $src} + (if $id == "" then {} else {id: $id} end) +
	    {ping: {method: "icmp", ok: true, sent: 2, recv: 1, rtt_ms: 0.41,
	    rtt_all: [0.41, 0.52], reply_ttl: 61, ts: "2026-11-24T21:40:52.123Z"}}'
}
trace() { # ip node ts hops-json
	jq -nc --arg ip "$1" --arg node "$2" --arg ts "$3" --argjson hops "$4" \
	    '{ip: $ip, node: $node, src: "aws.txt", trace: {method: "icmp-paris",
	    hops: $hops, stop: "completed", ts: $ts}}'
}

# ---- options and usage ----
run sqlsink --help
same "--help: exit 0" "$rc" 0
missing=
for o in --batch --interval --listen --no-stdin --max-size --max-age --keep \
    --sync --verbose --metrics --strict --max-line --help --version \
    --socket-mode --send --node --segment --peer --wait; do
	grep -q -- "$o" "$T/out" || missing="$missing $o"
done
same "--help lists every option" "$missing" ""
for bad in "-b 0" "--batch x" "-i 0" "--interval 2d" "-k 100001" "--sync maybe" \
    "--max-size 1Q" "--no-stdin" "a.db b.db" "--socket-mode 644" \
    "--node w1" "--send s.sock" "--send s.sock --node w1 a.db" \
    "--send s.sock --node w1 -w 0"; do
	# shellcheck disable=SC2086
	run sqlsink $bad </dev/null
	same "usage error '$bad': exit 2, nothing stored" "$rc:$(ls ./*.db 2>/dev/null)" "2:"
done
run sqlsink -k 100001 </dev/null
same "usage error: the message names the option" "$(cat "$T/err")" \
    "sqlsink: keep value is too large: 100001 (range 0..100000)"
run sqlsink a.db b.db </dev/null
same "two databases: says what is wrong, not the whole usage" "$rc:$(cat "$T/err")" \
    "2:sqlsink: one database, not 2: a.db b.db"

# ---- one record of each kind ----
{
	ping 198.51.100.7 n1 aws.txt r1
	trace 198.51.100.8 n1 2026-11-24T21:40:53.000Z \
	    '[{"ttl":1,"ip":"10.0.0.1","rtt_ms":0.2,"icmp_type":11,"icmp_code":0,"reply_ttl":64},
	      {"ttl":2,"ip":null},{"ttl":3,"ip":"10.0.0.3","rtt_ms":1.5,"icmp_type":11,"icmp_code":0},
	      {"ttl":4,"ip":"198.51.100.8","rtt_ms":2.5,"icmp_type":0,"icmp_code":0,"reply_ttl":61}]'
	jq -nc '{ip: "10.0.0.3", src: "hop", via: "198.51.100.8", ttl: 3, node: "n1"}'
	echo 192.0.2.44
	jq -nc '{note: "no ip here", node: "n2", src: "x"}'
	jq -nc '[1, 2, 3]'
	jq -nc '{ip: "2001:db8::1", src: "v6"}'
	jq -nc '{ip: "192.0.2.9", ping: "yes"}'
	jq -nc '{ip: "192.0.2.10", id: {"a": 1}}'
} >kinds.ndjson
run sqlsink k.db <kinds.ndjson
same "kinds: exit 0, quiet" "$rc:$(cat "$T/err")" "0:"
check "kinds: DB is a symlink to a time-named file" \
    test -L k.db -a -f "$(readlink k.db)"
check "kinds: file name sorts by time" \
    grep -Eq '^k-[0-9]{8}T[0-9]{6}\.[0-9]{3}Z\.db$' <<<"$(readlink k.db)"
same "schema: tables" "$(q k.db "SELECT group_concat(name, ' ') FROM
    (SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name)")" \
    "hops ids links pings raw targets traces"
cols() { q k.db "SELECT group_concat(name, ',') FROM pragma_table_info('$1')"; }
same "schema: pings columns" "$(cols pings)" \
    "id,rid,ip,node,src,method,ok,sent,recv,rtt_ms,reply_ttl,ts,json"
same "schema: traces columns" "$(cols traces)" \
    "id,rid,ip,node,src,method,stop,hop_count,ts,json"
same "schema: hops columns" "$(cols hops)" \
    "trace_id,ttl,ip,rtt_ms,icmp_type,icmp_code,reply_ttl,node,src,tcp_flags"
same "schema: links columns" "$(cols links)" \
    "a,b,node,src,count,first_seen,last_seen,min_rtt_ms"
same "schema: targets columns" "$(cols targets)" \
    "id,rid,ip,node,src,via,ttl,json"
same "schema: raw columns" "$(cols raw)" "id,rid,node,src,reason,json"
same "schema: version 2" "$(q k.db 'PRAGMA user_version')" 2
same "schema: WAL" "$(q k.db 'PRAGMA journal_mode')" wal
same "ping row" "$(q k.db "SELECT rid, ip, node, src, method, ok, sent, recv,
    rtt_ms, reply_ttl, ts FROM pings")" \
    "r1|198.51.100.7|n1|aws.txt|icmp|1|2|1|0.41|61|2026-11-24T21:40:52.123Z"
same "ping row keeps the whole record" \
    "$(q k.db "SELECT json FROM pings" | jq -c .ping.rtt_all)" "[0.41,0.52]"
same "trace row" "$(q k.db "SELECT ip, node, src, method, stop, hop_count, ts
    FROM traces")" \
    "198.51.100.8|n1|aws.txt|icmp-paris|completed|4|2026-11-24T21:40:53.000Z"
same "trace json is the line" "$(q k.db "SELECT json FROM traces" | jq -c .trace.hops[1])" \
    '{"ttl":2,"ip":null}'
same "hop rows, silent hop NULL" "$(q k.db "SELECT ttl, coalesce(ip, 'NULL'),
    rtt_ms, icmp_type, icmp_code, reply_ttl, node, src FROM hops
    WHERE trace_id = (SELECT id FROM traces) ORDER BY ttl" | tr '\n' ' ')" \
    "1|10.0.0.1|0.2|11|0|64|n1|aws.txt 2|NULL|||||n1|aws.txt 3|10.0.0.3|1.5|11|0||n1|aws.txt 4|198.51.100.8|2.5|0|0|61|n1|aws.txt "
same "links: only consecutive responsive hops (silent ttl 2 breaks 1-3)" \
    "$(q k.db "SELECT a, b, node, src, count, first_seen, last_seen, min_rtt_ms FROM links")" \
    "10.0.0.3|198.51.100.8|n1|aws.txt|1|2026-11-24T21:40:53.000Z|2026-11-24T21:40:53.000Z|2.5"
same "target rows: hop feedback and a bare address" \
    "$(q k.db "SELECT ip, coalesce(node, '-'), coalesce(src, '-'),
    coalesce(via, '-'), coalesce(ttl, '-'), json FROM targets ORDER BY id" | tr '\n' ' ')" \
    '10.0.0.3|n1|hop|198.51.100.8|3|{"ip":"10.0.0.3","src":"hop","via":"198.51.100.8","ttl":3,"node":"n1"} 192.0.2.44|-|-|-|-|{"ip":"192.0.2.44"} '
same "raw rows: everything valid kept, with the reason" \
    "$(q k.db "SELECT coalesce(node, '-'), coalesce(src, '-'), reason, json FROM raw ORDER BY id" | tr '\n' ' ')" \
    'n2|x|no "ip"|{"note":"no ip here","node":"n2","src":"x"} -|-|not an object|[1,2,3] -|v6|"ip" is not an IPv4 address|{"ip":"2001:db8::1","src":"v6"} -|-|"ping" or "trace" is not an object|{"ip":"192.0.2.9","ping":"yes"} -|-|"id" is neither a string nor an integer|{"ip":"192.0.2.10","id":{"a":1}} '
same "no row without its record" "$(q k.db "SELECT (SELECT count(*) FROM pings) +
    (SELECT count(*) FROM traces) + (SELECT count(*) FROM targets) +
    (SELECT count(*) FROM raw)")" 9

# ---- links: counts, min RTT, seen times, per node ----
{
	trace 9.9.9.9 n1 2026-11-25T10:00:00.000Z \
	    '[{"ttl":1,"ip":"5.5.5.1","rtt_ms":3},{"ttl":2,"ip":"5.5.5.2","rtt_ms":7},{"ttl":3,"ip":"9.9.9.9","rtt_ms":9}]'
	trace 9.9.9.9 n1 2026-11-25T09:00:00.000Z \
	    '[{"ttl":1,"ip":"5.5.5.1","rtt_ms":1},{"ttl":2,"ip":"5.5.5.2","rtt_ms":4},{"ttl":3,"ip":"9.9.9.9"}]'
	trace 9.9.9.9 n1 2026-11-25T11:00:00.000Z \
	    '[{"ttl":1,"ip":"5.5.5.1"},{"ttl":2,"ip":"5.5.5.2","rtt_ms":6},{"ttl":3,"ip":null},{"ttl":4,"ip":"9.9.9.9","rtt_ms":8}]'
	trace 8.8.8.8 n2 2026-11-25T12:00:00.000Z \
	    '[{"ttl":1,"ip":"5.5.5.1"},{"ttl":2,"ip":"5.5.5.2","rtt_ms":5},{"ttl":3,"ip":"5.5.5.1"},{"ttl":4,"ip":"5.5.5.2","rtt_ms":5}]'
	jq -nc '{ip: "7.7.7.7", trace: {hops: [{ttl: 2, ip: "6.6.6.2"}, {ttl: 1, ip: "6.6.6.1"}]}}'
} >links.ndjson
run sqlsink l.db <links.ndjson
same "links: exit 0" "$rc:$(cat "$T/err")" "0:"
same "links: count per trace, min RTT of the far hop, first and last seen" \
    "$(q l.db "SELECT a, b, node, count, min_rtt_ms, first_seen, last_seen FROM links
    WHERE node = 'n1' ORDER BY a, b" | tr '\n' ' ')" \
    "5.5.5.1|5.5.5.2|n1|3|4.0|2026-11-25T09:00:00.000Z|2026-11-25T11:00:00.000Z 5.5.5.2|9.9.9.9|n1|2|9.0|2026-11-25T09:00:00.000Z|2026-11-25T10:00:00.000Z "
same "links: another node has its own rows; a loop counts a link once a trace" \
    "$(q l.db "SELECT a, b, count FROM links WHERE node = 'n2' ORDER BY a, b" | tr '\n' ' ')" \
    "5.5.5.1|5.5.5.2|1 5.5.5.2|5.5.5.1|1 "
same "links: hops out of order are sorted; no node is ''; no ts is storage time" \
    "$(q l.db "SELECT a, b, node = '', count, min_rtt_ms IS NULL, first_seen > '2026' FROM links WHERE a LIKE '6.%'")" \
    "6.6.6.1|6.6.6.2|1|1|1|1"
run sqlsink l.db <links.ndjson
same "links: a second run adds to the counts (same file)" \
    "$(q l.db "SELECT count FROM links WHERE a = '5.5.5.1' AND node = 'n1'")" 6

# ---- ids: a record whose id is stored is ignored whole ----
{
	ping 192.0.2.1 n1 s a1
	ping 192.0.2.2 n1 s a2
	ping 192.0.2.1 n1 s a1
	jq -nc '{ip: "192.0.2.3", id: 17, src: "hop"}'
	jq -nc '{ip: "192.0.2.3", id: 17, src: "hop"}'
	jq -nc '{ip: "192.0.2.4", id: "17", src: "hop"}'
	jq -nc '{ip: "192.0.2.5", id: "t9", trace: {hops: [{ttl: 1, ip: "1.1.1.1"}, {ttl: 2, ip: "2.2.2.2"}]}}'
	jq -nc '{ip: "192.0.2.5", id: "t9", trace: {hops: [{ttl: 1, ip: "1.1.1.1"}, {ttl: 2, ip: "2.2.2.2"}]}}'
	jq -nc '{note: "raw", id: "w1"}'
	jq -nc '{note: "raw", id: "w1"}'
} >ids.ndjson
run sqlsink -v --metrics ids.prom i.db <ids.ndjson
same "ids: exit 0" "$rc" 0
same "ids: each id once in its table" "$(q i.db "SELECT
    (SELECT group_concat(rid) FROM pings), (SELECT group_concat(rid) FROM targets),
    (SELECT count(*) FROM traces), (SELECT count(*) FROM hops),
    (SELECT count FROM links), (SELECT count(*) FROM raw)")" "a1,a2|17,17|1|2|1|1"
same "ids: 17 and \"17\" are different ids" \
    "$(q i.db "SELECT group_concat(typeof(rid)) FROM targets")" "integer,text"
check "ids: duplicates reported with the batch" grep -q "6 records, 4 duplicates ignored" "$T/err"
check "ids: duplicates in the metrics" \
    grep -qx 'hopmap_records_duplicate_total{program="sqlsink"} 4' ids.prom
run sqlsink i.db <ids.ndjson
same "ids: a second delivery stores nothing" "$(q i.db "SELECT
    (SELECT count(*) FROM pings) + (SELECT count(*) FROM targets) +
    (SELECT count(*) FROM traces) + (SELECT count(*) FROM raw)")" 6

# ---- batches by count, the report, the metrics ----
seq 1 35 | sed 's/^/192.0.2./' >35.txt
run sqlsink -v -b 10 --metrics b.prom b.db <35.txt
same "batches: exit 0" "$rc" 0
same "batches: 10 10 10 5, each reported after its commit" \
    "$(grep -o 'committed batch [0-9]*: [0-9]* records' "$T/err" | tr '\n' ' ')" \
    "committed batch 1: 10 records committed batch 2: 10 records committed batch 3: 10 records committed batch 4: 5 records "
same "batches: metrics" "$(grep -E '^hopmap_(batches|records)_committed_total' b.prom | tr '\n' ' ')" \
    'hopmap_records_committed_total{program="sqlsink"} 35 hopmap_batches_committed_total{program="sqlsink"} 4 '
same "batches: rows" "$(q b.db 'SELECT count(*) FROM targets')" 35

# ---- batches by time: a record committed while the input stays open ----
mkfifo slow.fifo
sqlsink -v -i 200ms --batch 1000 s.db <slow.fifo 2>slow.err &
sp=$!
exec 7>slow.fifo
echo 192.0.2.77 >&7
check "--interval: the first batch commits by time" wait_for slow.err "committed batch 1: 1 records"
same "--interval: its row is in the database before end of input" \
    "$(q s.db 'SELECT ip FROM targets')" 192.0.2.77
echo 192.0.2.78 >&7
exec 7>&-
wait "$sp"
same "--interval: exit 0 at end of input, both stored" \
    "$?:$(q s.db 'SELECT count(*) FROM targets')" "0:2"

# A stop in the middle of a line of standard input: the half line is torn.
mkfifo half.fifo
sqlsink -v -i 100ms half.db <half.fifo 2>half.err &
sp=$!
exec 7>half.fifo
printf '192.0.2.1\n{"ip":"192.0.2.2"' >&7
check "stop mid-line: the whole line committed" wait_for half.err "committed batch 1: 1 records"
kill -TERM "$sp"
wait "$sp"
rc=$?
exec 7>&-
same "stop mid-line: exit 1, the half line reported as torn, not stored" \
    "$rc:$(grep -c '(stdin):2: torn last line (17 bytes without a newline) at shutdown, not stored' half.err):$(q half.db 'SELECT count(*) FROM targets')" \
    "1:1:1"

# ---- bad input: reported with line numbers, counted, skipped ----
{
	echo 192.0.2.1
	echo 'not json'
	printf '{"ip":"192.0.2.2"}\r\n'
	printf '{"ip":"192.0.2.3",\0"x":1}\n'
	printf '{"ip":"192.0.2.4","pad":"%0200d"}\n' 0
	echo '{"ip":"192.0.2.5"'
	echo
	echo '{"ip":"192.0.2.6"}'
	printf '{"ip":"192.0.2.7"}'
} >bad.ndjson
run sqlsink --max-line 100 --metrics bad.prom bad.db <bad.ndjson
same "bad input: exit 1" "$rc" 1
same "bad input: every bad line named" "$(cut -d: -f1-3 "$T/err" | tr '\n' ' ')" \
    "sqlsink: (stdin):2 sqlsink: (stdin):4 sqlsink: (stdin):5 sqlsink: (stdin):6 "
check "bad input: NUL byte said" grep -q "(stdin):4: NUL byte" "$T/err"
check "bad input: over-long line said" grep -q "(stdin):5: line too long" "$T/err"
same "bad input: good lines kept (CRLF, last line without newline)" \
    "$(q bad.db "SELECT group_concat(ip, ' ') FROM targets")" \
    "192.0.2.1 192.0.2.2 192.0.2.6 192.0.2.7"
check "bad input: counted in the metrics" \
    grep -qx 'hopmap_lines_bad_total{program="sqlsink"} 4' bad.prom
run sqlsink --strict st.db <bad.ndjson
same "--strict: exit 1 at the first bad line, the line before it stored" \
    "$rc:$(q st.db "SELECT group_concat(ip, ' ') FROM targets"):$(wc -l <"$T/err")" \
    "1:192.0.2.1:1"

# ---- the stable name must be ours ----
echo hello >plain.db
run sqlsink plain.db </dev/null
same "a regular file at DB: exit 3, left alone" "$rc:$(cat plain.db)" "3:hello"
check "a regular file at DB: said why" grep -q "plain.db: not a symlink" "$T/err"
# An old database, a plain file: refused, with how to adopt it; done as
# said, its rows stay and new ones go on it.
echo 192.0.2.1 | sqlsink made.db 2>/dev/null
cp "$(readlink made.db)" old.db
run sqlsink old.db </dev/null
same "an old plain database: exit 3" "$rc" 3
adopt=$(sed -n 's/.*to adopt it (sqlsink(1)): \(.*\); or name another DB$/\1/p' "$T/err")
check "an old plain database: the message says how to adopt it" \
    expr "$adopt" : 'mv old.db old-.*Z.db && ln -s old-.*Z.db old.db$'
sh -c "$adopt"
echo 192.0.2.2 | sqlsink old.db 2>"$T/err"
same "adopted as said: the old rows kept, the new one added" \
    "$?:$(cat "$T/err"):$(q old.db "SELECT group_concat(ip, ' ') FROM targets")" \
    "0::192.0.2.1 192.0.2.2"
# The command pastes as it is, also for a path with a space and a quote.
odd="$T/my maps/it's"
mkdir -p "$odd"
cp "$(readlink made.db)" "$odd/old map.db"
run sqlsink "$odd/old map.db" </dev/null
adopt=$(sed -n 's/.*to adopt it (sqlsink(1)): \(.*\); or name another DB$/\1/p' "$T/err")
sh -c "$adopt"
echo 192.0.2.3 | sqlsink "$odd/old map.db" 2>"$T/err"
same "an odd path: the command said adopts it as pasted" \
    "$?:$(cat "$T/err"):$(q "$odd/old map.db" "SELECT group_concat(ip, ' ') FROM targets")" \
    "0::192.0.2.1 192.0.2.3"
# Errors name DB as given, not only the file of the series.
mv plain.db plain-20260101T000000.000Z.db
ln -s plain-20260101T000000.000Z.db plain.db
run sqlsink plain.db </dev/null
check "not a database: the error names DB as given" \
    grep -q "^sqlsink: plain.db: file is not a database (plain-20260101T000000.000Z.db" "$T/err"

# ---- hops.tcp_flags, and the migration of a file made before it ----
echo '{"ip":"192.0.2.9","node":"n1","trace":{"method":"tcp-paris","hops":[{"ttl":1,"ip":"10.0.0.1","icmp_type":11,"icmp_code":0},{"ttl":2,"ip":"192.0.2.9","tcp_flags":"SA"}],"stop":"completed"}}' >tcp.ndjson
run sqlsink tf.db <tcp.ndjson
same "tcp_flags: stored on the TCP hop, NULL on the ICMP one; schema 2" \
    "$rc:$(q tf.db "SELECT group_concat(ttl || '=' || coalesce(tcp_flags, '-'), ' ') FROM hops"):$(q tf.db 'PRAGMA user_version')" \
    "0:1=- 2=SA:2"
# A file of schema 1, as sqlsink made it before: hops without tcp_flags.
cp "$(readlink tf.db)" v1-20260101T000000.000Z.db
sqlite3 v1-20260101T000000.000Z.db 'ALTER TABLE hops DROP COLUMN tcp_flags; PRAGMA user_version = 1'
ln -s v1-20260101T000000.000Z.db v1.db
run sqlsink -v --max-age 0 v1.db <tcp.ndjson
same "schema 1: migrated on open, said with -v" \
    "$rc:$(grep -c 'schema brought to version 2' "$T/err"):$(q v1.db 'PRAGMA user_version'):$(q v1.db 'PRAGMA integrity_check')" \
    "0:1:2:ok"
same "schema 1: the old rows kept, the new one with its flags" \
    "$(q v1.db "SELECT group_concat(ttl || '=' || coalesce(tcp_flags, '-'), ' ') FROM hops")" \
    "1=- 2=- 1=- 2=SA"
run sqlsink -v --max-age 0 v1.db </dev/null
same "schema 2: opened again, no migration" "$rc:$(grep -c 'schema brought' "$T/err")" "0:0"

# ---- --sync full ----
run sqlsink --sync full f.db <35.txt
same "--sync full: stores" "$rc:$(q f.db 'SELECT count(*) FROM targets')" "0:35"

# ---- many writers on the socket ----
# 8 writers x 50,000 records = exactly 400,000 rows, every line whole.
for w in 1 2 3 4 5 6 7 8; do
	awk -v w="$w" 'BEGIN { for (i = 0; i < 50000; i++)
	    printf "{\"ip\":\"198.18.%d.%d\",\"src\":\"w%d\",\"node\":\"n%d\",\"seq\":%d,\"ping\":{\"method\":\"icmp\",\"ok\":true,\"sent\":1,\"recv\":1,\"rtt_ms\":0.5,\"reply_ttl\":64,\"ts\":\"2026-11-25T20:00:00.000Z\"}}\n",
	    w, i % 256, w, w, i }' >"w$w.ndjson"
done
sqlsink -v --no-stdin -l m.sock --metrics m.prom m.db 2>m.err &
sp=$!
cleanup_hooks+=("kill $sp 2>/dev/null")
wait_sock m.sock
check "--listen: the socket exists" test -S m.sock
pids=
for w in 1 2 3 4 5 6 7 8; do
	socat -u - UNIX-CONNECT:m.sock <"w$w.ndjson" &
	pids="$pids $!"
done
# shellcheck disable=SC2086
wait $pids
for _ in $(seq 1 600); do
	[ "$(grep -c 'closed after 50000 lines' m.err)" = 8 ] && break
	sleep 0.1
done
same "8 writers: every connection read whole" "$(grep -c 'closed after 50000 lines' m.err)" 8
kill -TERM "$sp"
wait "$sp"
same "8 writers: SIGTERM exits 0" "$?" 0
same "8 writers x 50,000 = 400,000 rows" "$(q m.db 'SELECT count(*) FROM pings')" 400000
same "8 writers: each writer's 50,000 records, each once" \
    "$(q m.db "SELECT src, count(*), count(DISTINCT json_extract(json, '\$.seq')),
    max(json_extract(json, '\$.seq')) FROM pings GROUP BY src ORDER BY src" | tr '\n' ' ')" \
    "w1|50000|50000|49999 w2|50000|50000|49999 w3|50000|50000|49999 w4|50000|50000|49999 w5|50000|50000|49999 w6|50000|50000|49999 w7|50000|50000|49999 w8|50000|50000|49999 "
same "8 writers: metrics" "$(grep -E '^hopmap_(connections|records_committed)_total' m.prom | tr '\n' ' ')" \
    'hopmap_records_committed_total{program="sqlsink"} 400000 hopmap_connections_total{program="sqlsink"} 8 '
check "--listen: the socket is removed at exit" test ! -e m.sock
# The socket's directory is made when it is missing (/run/hopmap/ after a
# reboot), with its parents.
(umask 022; exec sqlsink --no-stdin -l run/hopmap/s.sock l.db) 2>l.err &
lp=$!
cleanup_hooks+=("kill $lp 2>/dev/null")
wait_sock run/hopmap/s.sock
same "--listen in a missing directory: made, 0755, the socket in it" \
    "$(stat -c %a run run/hopmap | tr '\n' ' '):$(test -S run/hopmap/s.sock && echo sock)" "755 755 :sock"
kill -TERM "$lp"
rc=0
wait "$lp" || rc=$?
same "--listen in a missing directory: SIGTERM exits 0, nothing said" "$rc:$(cat l.err)" "0:"
# So is the database's (/var/lib/hopmap/ on a new machine).
echo '{"ip":"192.0.2.7","ping":{"ok":true}}' | sqlsink var/lib/hopmap/map.db 2>v.err
same "a database in a missing directory: made, the record stored" \
    "$(sqlite3 var/lib/hopmap/map.db 'SELECT ip FROM pings'):$(cat v.err)" "192.0.2.7:"
: >v.file
echo '{"ip":"192.0.2.7"}' | sqlsink v.file/map.db 2>v.err && rc=0 || rc=$?
same "a database under a file: exit 3, naming the path typed" \
    "$rc:$(cat v.err)" "3:sqlsink: v.file/map.db: Not a directory"
check "8 writers: no sanitizer report" no_sanitizer_report m.err

# ---- a torn last line is reported, not stored; stdin read too ----
rm -f t.sock
echo 192.0.2.200 >stdin.txt
sqlsink -l t.sock t.db <stdin.txt 2>t.err &
sp=$!
wait_sock t.sock
printf '{"ip":"192.0.2.201"}\nnot json\n{"ip":"192.0.2.202","src":"to' |
    socat -u - UNIX-CONNECT:t.sock
check "torn: reported with the connection's name" \
    wait_for t.err "t.sock#1:3: torn last line (29 bytes without a newline) at disconnect, not stored"
check "socket: a bad line names the connection and line" \
    grep -q "^sqlsink: t.sock#1:2: bad JSON" t.err
kill -TERM "$sp"
wait "$sp"
same "torn: exit 1 (bad input seen)" "$?" 1
same "torn: only whole lines stored, stdin read as well" \
    "$(q t.db "SELECT group_concat(ip, ' ') FROM (SELECT ip FROM targets ORDER BY ip)")" \
    "192.0.2.200 192.0.2.201"

# ---- a live socket is not stolen; a stale one is replaced ----
sqlsink --no-stdin -l live.sock live.db 2>live.err &
sp=$!
wait_sock live.sock
run sqlsink --no-stdin -l live.sock other.db
same "a live socket: exit 3" "$rc" 3
check "a live socket: said so" grep -q "live.sock: another process is listening" "$T/err"
kill -KILL "$sp"
wait "$sp" 2>/dev/null
check "a dead sink leaves its socket file" test -S live.sock
echo 192.0.2.9 >one.txt
sqlsink -l live.sock live.db <one.txt 2>live.err &
sp=$!
for _ in $(seq 1 600); do
	q live.db 'SELECT count(*) FROM targets' 2>/dev/null | grep -qx 1 && break
	sleep 0.1
done
echo 192.0.2.10 | socat -u - UNIX-CONNECT:live.sock
for _ in $(seq 1 600); do
	q live.db 'SELECT count(*) FROM targets' 2>/dev/null | grep -qx 2 && break
	sleep 0.1
done
kill -TERM "$sp"
wait "$sp"
same "a stale socket is replaced" "$?:$(q live.db 'SELECT count(*) FROM targets')" "0:2"

# ---- SIGKILL mid-stream: intact, and every reported batch is there ----
mkfifo kill.fifo
sqlsink -v -b 500 -i 1d k9.db <kill.fifo 2>k9.err &
sp=$!
awk 'BEGIN { for (i = 0; i < 5000000; i++)
    printf "{\"ip\":\"198.18.%d.%d\",\"seq\":%d}\n", int(i / 256) % 256, i % 256, i }' \
    >kill.fifo 2>/dev/null &
gp=$!
check "SIGKILL: batches being committed" wait_for k9.err "committed batch 20:"
kill -KILL "$sp"
wait "$sp" 2>/dev/null
kill "$gp" 2>/dev/null
wait "$gp" 2>/dev/null
reported=$(grep -o '([0-9]* records in total)' k9.err | tail -1 | tr -dc 0-9)
same "SIGKILL: integrity_check ok" "$(q k9.db 'PRAGMA integrity_check')" ok
rows=$(q k9.db 'SELECT count(*) FROM targets')
check "SIGKILL: every reported batch is there ($rows rows >= $reported reported)" \
    test "$rows" -ge "$reported" -a "$reported" -ge 10000
same "SIGKILL: what is there is whole batches of the input's start" \
    "$(q k9.db "SELECT count(DISTINCT json_extract(json, '\$.seq')) = count(*),
    max(json_extract(json, '\$.seq')) = count(*) - 1, count(*) % 500 FROM targets")" "1|1|0"

# ---- rotation by size, keep K ----
mkdir rot
awk 'BEGIN { for (i = 0; i < 8000; i++)
    printf "{\"ip\":\"198.18.%d.%d\",\"seq\":%d,\"pad\":\"%0100d\"}\n", int(i / 256), i % 256, i, 0 }' >rot.ndjson
run sqlsink -v -b 100 --max-size 256k --keep 3 --metrics rot.prom rot/r.db <rot.ndjson
same "rotation: exit 0" "$rc" 0
files=$(cd rot && printf '%s\n' r-*.db)
same "rotation: --keep 3 files kept" "$(echo "$files" | wc -l | tr -d ' ')" 3
same "rotation: the stable name points at the newest" \
    "$(readlink rot/r.db)" "$(echo "$files" | sort | tail -1)"
check "rotation: names are times" \
    test -z "$(echo "$files" | grep -Ev '^r-[0-9]{8}T[0-9]{6}\.[0-9]{3}Z\.db$')"
same "rotation: names sort in the order the files were made" \
    "$(grep -o 'rot/r-[^:]*\.db: new database' "$T/err" | sed 's,rot/,,; s,: .*,,' | tail -3 | tr '\n' ' ')" \
    "$(echo "$files" | sort | tr '\n' ' ')"
check "rotation: by size, said with -v" grep -q "new database, rotated by size" "$T/err"
left=
for f in rot/*; do
	case $f in *-wal | *-shm) ;; *) left="$left${f#rot/} " ;; esac
done
same "rotation: nothing else left behind" "$left" "$(echo "$files" | tr '\n' ' ')r.db "
rotations=$(sed -n 's/^hopmap_rotations_total{program="sqlsink"} //p' rot.prom)
same "rotation: removed = rotations + 1 - kept" \
    "$(grep -c '^sqlsink: removed rot/r-' "$T/err")" "$((rotations + 1 - 3))"
total=0
for f in $files; do
	total=$((total + $(q "rot/$f" 'SELECT count(*) FROM targets')))
	same "rotation: $f intact" "$(q "rot/$f" 'PRAGMA integrity_check')" ok
done
same "rotation: the newest files hold the input's tail" \
    "$(for f in $files; do q "rot/$f" "SELECT max(json_extract(json, '\$.seq')) FROM targets"; done | sort -n | tail -1)" 7999
check "rotation: each file near the size limit (the rest were rotated)" \
    test "$total" -lt 8000
# An id stored in the previous file is still a duplicate after rotation.
jq -nc '{ip: "192.0.2.1", id: "keepme"}' >id1.ndjson
run sqlsink --max-size 4k r2.db <id1.ndjson
run sqlsink -v --max-size 4k r2.db <id1.ndjson
check "rotation: ids carried into the next file" grep -q "0 records, 1 duplicates ignored" "$T/err"

# ---- rotation on SIGHUP, and by age ----
sqlsink -v --no-stdin -l h.sock h.db 2>h.err &
sp=$!
wait_sock h.sock
echo 192.0.2.1 | socat -u - UNIX-CONNECT:h.sock
check "SIGHUP: first record committed" wait_for h.err "committed batch 1:"
first=$(readlink h.db)
kill -HUP "$sp"
check "SIGHUP: rotated" wait_for h.err "rotated by signal"
echo 192.0.2.2 | socat -u - UNIX-CONNECT:h.sock
check "SIGHUP: second record committed" wait_for h.err "committed batch 2:"
kill -TERM "$sp"
wait "$sp"
same "SIGHUP: exit 0, new file current, one record in each" \
    "$?:$(test "$(readlink h.db)" != "$first" && echo new):$(q "$first" 'SELECT ip FROM targets'):$(q h.db 'SELECT ip FROM targets')" \
    "0:new:192.0.2.1:192.0.2.2"
run sqlsink -v -b 1 --max-age 1ms --keep 2 a.db <35.txt
same "--max-age: exit 0, rotated after batches, --keep 2" \
    "$rc:$(grep -c 'rotated by age' "$T/err"):$(set -- a-*.db; echo $#)" "0:35:2"
run sqlsink -v -b 1 --max-size 4k --keep 0 k0.db <35.txt
same "--keep 0: every file kept, none removed" \
    "$rc:$(grep -c 'rotated by size' "$T/err"):$(grep -c 'removed' "$T/err"):$(set -- k0-*.db; echo $#)" "0:35:0:36"
run sqlsink -v --keep 0 k0.db </dev/null
same "--keep 0: a start removes none either" "$rc:$(grep -c 'removed' "$T/err"):$(set -- k0-*.db; echo $#)" "0:0:36"


# ---- the socket's mode does not come from the umask ----
(umask 000; exec sqlsink --no-stdin -l um.sock um.db 2>um.err) &
sp=$!
wait_sock um.sock
same "umask 000: the socket is made 0600 all the same" "$(stat -c %a um.sock)" 600
kill -TERM "$sp"
wait "$sp"
(umask 000; exec sqlsink --no-stdin --socket-mode 660 -l um.sock um.db 2>um.err) &
sp=$!
wait_sock um.sock
same "--socket-mode 660: group may write, others not" "$(stat -c %a um.sock)" 660
kill -TERM "$sp"
wait "$sp"

# ---- sessions: the node bound, bad records refused, answered after commit ----
# Read while the sink writes: a reader may meet a checkpoint, so it waits.
qt() { sqlite3 -cmd '.timeout 10000' "$@"; }
# -i 1d and a batch larger than any input: only a session's end commits,
# so an answer that came before its commit would find the rows missing.
sqlsink -v --no-stdin -l ss.sock -i 1d -b 1000000 --max-line 300 \
    --metrics ss.prom ss.db 2>ss.err &
ssp=$!
cleanup_hooks+=("kill $ssp 2>/dev/null")
wait_sock ss.sock
{
	echo '{"ip":"192.0.2.1","id":"e1"}'
	echo '{"ip":"192.0.2.2","id":"e2","node":"w1"}'
	echo 'not json'
	printf '{"ip":"192.0.2.3","pad":"%0400d"}\n' 0
	echo '{"ip":"192.0.2.4","id":"e4","node":"w2"}'
	echo '{"src":"hopmap-ack","node":"w1","lines":100}'
	echo '[1,2]'
	echo '192.0.2.6'
	echo '{"ip":"192.0.2.7","node":"w1","node":"w2"}'
	echo '{"ip":"192.0.2.8","node":7}'
} >sess.ndjson
run sqlsink --send ss.sock --node w1 --segment a.seg --peer 192.0.2.200 <sess.ndjson
same "session: refused lines: exit 1, each named with its line" "$rc:$(cat "$T/out")" \
    "1:refused 7 of 10: line 3: bad JSON at column 3: invalid token near 'not'; line 4: line too long, skipped; line 5: \"node\" is not the session's node; line 6: a delivery marker (\"src\":\"hopmap-ack\"): only the sink writes those; line 7: not an object: a delivery's records are objects"
same "session: only the good records stored, all under the session's node" \
    "$(qt ss.db "SELECT ip, node, json FROM targets ORDER BY ip" | tr '\n' ' ')" \
    '192.0.2.1|w1|{"node":"w1","ip":"192.0.2.1","id":"e1"} 192.0.2.2|w1|{"ip":"192.0.2.2","id":"e2","node":"w1"} 192.0.2.6|w1|{"node":"w1","ip":"192.0.2.6"} '
same "session: nothing of w2, no marker from the records" \
    "$(qt ss.db "SELECT count(*) FROM raw WHERE src IS NOT 'hopmap-ack' OR json_extract(json, '\$.lines') = 100")" 0
same "session: the sink's own delivery row says what was stored" \
    "$(qt ss.db "SELECT node, reason, json_extract(json, '\$.segment'), json_extract(json, '\$.peer'),
    json_extract(json, '\$.lines'), json_extract(json, '\$.stored'), json_extract(json, '\$.duplicate'),
    json_extract(json, '\$.refused') FROM raw WHERE src = 'hopmap-ack'")" \
    "w1|delivery|a.seg|192.0.2.200|10|3|0|7"
check "session: refusals are on the sink's stderr too" \
    grep -q '^sqlsink: ss.sock#1:5: "node" is not the session' ss.err

seq 1 40 | sed 's/.*/{"ip":"198.51.100.&","id":"g&"}/' >good.ndjson
run sqlsink --send ss.sock --node w1 --segment b.seg <good.ndjson
same "session: all stored: ok N, exit 0" "$rc:$(cat "$T/out")" "0:ok 40"
run sqlsink -v --send ss.sock --node w1 --segment b.seg <good.ndjson
same "session: sent again: ok N, nothing stored twice" \
    "$rc:$(cat "$T/out"):$(qt ss.db "SELECT count(*) FROM targets WHERE rid LIKE 'g%'")" "0:ok 40:40"
check "session: -v says what the sink did" grep -q 'sqlsink: 40 lines: 0 stored, 40 duplicates, 0 refused' "$T/err"
same "session: a resent delivery stored nothing" \
    "$(qt ss.db "SELECT group_concat(json_extract(json, '\$.stored') || '/' || json_extract(json, '\$.duplicate'), ' ')
    FROM raw WHERE src = 'hopmap-ack' AND json_extract(json, '\$.segment') = 'b.seg'")" "40/0 0/40"

# Four senders at once, 20,000 records each: when a sender has its answer,
# its records are all in the database (read by another process then).
for w in 1 2 3 4; do
	awk -v w="$w" 'BEGIN { for (i = 0; i < 20000; i++)
	    printf "{\"ip\":\"198.18.%d.%d\",\"id\":\"c%d-%d\"}\n", w, i % 256, w, i }' >"c$w.ndjson"
done
for w in 1 2 3 4; do
	{ sqlsink --send ss.sock --node "c$w" <"c$w.ndjson" >"c$w.out"
	  echo "$?:$(cat "c$w.out"):$(qt ss.db "SELECT count(*) FROM targets WHERE node = 'c$w'")" >"c$w.res"; } &
	eval "cp$w=$!"
done
for w in 1 2 3 4; do
	eval "wait \$cp$w"
	same "session: sender $w answered only once its records were committed" \
	    "$(cat "c$w.res")" "0:ok 20000:20000"
done

run sqlsink --send ss.sock --node 'w 1' <good.ndjson
same "session: a node that is not a plain name is refused, nothing stored" \
    "$rc:$(cat "$T/out"):$(qt ss.db "SELECT count(*) FROM targets WHERE node = 'w 1'")" \
    "3:error the sink refused the session: session node is missing or not a plain name (letters, digits, '.', '_', '-'; at most 64):0"
printf '{"hopmap-session":2,"node":"w1"}\n192.0.2.99\n' | socat -t 30 - UNIX-CONNECT:ss.sock >v2.out
same "session: another version is refused, its records not stored" \
    "$(cat v2.out):$(qt ss.db "SELECT count(*) FROM targets WHERE ip = '192.0.2.99'")" \
    '{"hopmap-session":1,"error":"session version is not 1"}:0'
printf '{"hopmap-session":1,"node":"s1"}\n192.0.2.98\n' | socat -t 30 - UNIX-CONNECT:ss.sock >s1.out
same "session: socat speaks it too, the answer is one JSON line" \
    "$(jq -c . s1.out)" \
    '{"hopmap-session":1,"lines":1,"stored":1,"duplicate":0,"refused":0,"complete":true,"refusals":[]}'
echo 192.0.2.97 | socat -u - UNIX-CONNECT:ss.sock

# A stop during a session: what came is stored, and the answer says the
# delivery was cut short.
mkfifo cut.fifo
sqlsink --send ss.sock --node cut <cut.fifo >cut.out &
cutp=$!
exec 7>cut.fifo
echo 192.0.2.50 >&7
for _ in $(seq 1 600); do grep -q 'closed after' ss.err && [ "$(grep -c 'session of node cut' ss.err)" = 1 ] && break; sleep 0.1; done
kill -TERM "$ssp"
wait "$ssp"
exec 7>&-
wait "$cutp"
same "session: cut short by a stop: exit 3, said" "$?:$(cut -c1-29 cut.out)" \
    "3:error the sink stopped after "
same "session: a plain connection is stored without a session, as before" \
    "$(qt ss.db "SELECT coalesce(node, '-') FROM targets WHERE ip = '192.0.2.97'")" -
same "session: metrics" "$(grep -E '^hopmap_(records_refused|sessions_answered)_total' ss.prom | tr '\n' ' ')" \
    'hopmap_records_refused_total{program="sqlsink"} 7 hopmap_sessions_answered_total{program="sqlsink"} 9 '
run sqlsink --send ss.sock --node w1 <good.ndjson
same "session: no sink: exit 3, said" "$rc:$(cut -d: -f1 "$T/out")" "3:error the sink is not there"

check "no sanitizer report anywhere" no_sanitizer_report "$T"/*.err "$T/err"
