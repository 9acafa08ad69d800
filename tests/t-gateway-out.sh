#!/usr/bin/env bash
# The gateway's output (hopmap-httpd --hub) with curl against a real hub
# (hopmap-hub serve): POST /results answered after the commit (200, 422
# with the client's line numbers, 400, 401, 415, 503), records stored once
# however often posted, bound to the key's worker; posts at once; GET
# /stats agreeing with hopmap-status and hopmap-hub status over a rotated
# series; GET /recent; GET /dump while posts go on; POST /rotate.  Ports
# 22000-22099.
. "$(dirname "$0")/lib.sh"
p=hopmap-httpd
for c in curl jq sqlite3; do
	command -v $c >/dev/null || { skip "$c is not installed"; exit 0; }
done

H=$T/hub
hopmap-hub serve -d "$H" 2>"$T/hub.log" &
hubpid=$!
cleanup_hooks+=("kill $hubpid 2>/dev/null; wait $hubpid 2>/dev/null")
check "hub: its sink's socket" until_ok 60 test -S "$H/sink.sock"
K1=$($p key add -d "$H" w1 2>/dev/null)
K2=$($p key add -d "$H" w2 2>/dev/null)
KA=$($p key add -d "$H" --admin boss 2>/dev/null)

port=$(free_port 22001 22099) || { echo "not ok - no free port in 22001..22099"; exit 1; }
$p -l "127.0.0.1:$port" --hub "$H" 2>"$T/httpd.log" &
httpd=$!
cleanup_hooks+=("kill $httpd 2>/dev/null; wait $httpd 2>/dev/null")
check "httpd: listening" until_ok 60 grep -qs "listening on 127.0.0.1:$port" "$T/httpd.log"
u=http://127.0.0.1:$port

# post KEY [curl args]: POST /results; the status, the answer in $T/body.
post() {
	local key=$1
	shift
	curl -s -o "$T/body" -D "$T/headers" -w '%{http_code}' --max-time 60 \
	    -H "Authorization: Bearer $key" "$@" "$u/results"
}
get() { # KEY PATH [curl args]
	local key=$1 path=$2
	shift 2
	curl -s -o "$T/body" -D "$T/headers" -w '%{http_code}' --max-time 60 \
	    -H "Authorization: Bearer $key" "$@" "$u$path"
}
json() { jq -c "$1" "$T/body"; }
q() { sqlite3 -cmd '.timeout 5000' "$H/map.db" "$1"; }
nd=(-H 'Content-Type: application/x-ndjson')
rec() { # ID [IP]: a ping record with an id, without "node"
	printf '{"ip":"%s","id":"%s","ping":{"method":"icmp","ok":true,"rtt_ms":0.4,"ts":"2026-11-25T10:00:0%s.000Z"}}\n' \
	    "${2:-192.0.2.1}" "$1" "${3:-0}"
}

# ---- POST /results ----
{ rec a1 192.0.2.1 1; rec a2 192.0.2.2 2; rec a3 192.0.2.3 3; } >"$T/three"
same "results: NDJSON, 200 after the commit" \
    "$(post "$K1" "${nd[@]}" -H 'X-Hopmap-Segment: w1-0001.seg' --data-binary @"$T/three")" 200
same "results: the counts" "$(cat "$T/body")" '{"lines":3,"stored":3,"duplicate":0,"refused":0}'
# Answered after the commit: the rows are there as soon as the answer is.
same "results: committed when answered, bound to the key's worker" \
    "$(q "SELECT group_concat(node || ':' || rid, ' ') FROM pings")" "w1:a1 w1:a2 w1:a3"
same "results: the delivery row names the segment and the peer" \
    "$(q "SELECT json_extract(json, '\$.segment') || ' ' || json_extract(json, '\$.peer') FROM raw WHERE src = 'hopmap-ack'")" \
    "w1-0001.seg 127.0.0.1"
post "$K1" "${nd[@]}" --data-binary @"$T/three" >/dev/null
same "results: posted again, stored once (duplicates counted)" \
    "$(json '[.stored, .duplicate]'):$(q 'SELECT count(*) FROM pings')" "[0,3]:3"
same "results: a segment name made when none is given" \
    "$(q "SELECT json_extract(json, '\$.segment') LIKE 'http-%' FROM raw WHERE src = 'hopmap-ack' ORDER BY id DESC LIMIT 1")" 1

printf '[\n  %s,\n  %s\n]\n' "$(rec b1 192.0.2.4)" "$(rec b2 192.0.2.5)" >"$T/array"
same "results: a JSON array, pretty-printed" \
    "$(post "$K2" -H 'Content-Type: application/json' --data-binary @"$T/array"):$(json .stored)" "200:2"
same "results: array records stored as written" \
    "$(q "SELECT json FROM pings WHERE rid = 'b1'")" \
    '{"node":"w2","ip":"192.0.2.4","id":"b1","ping":{"method":"icmp","ok":true,"rtt_ms":0.4,"ts":"2026-11-25T10:00:00.000Z"}}'

{ rec c1; echo '{"ip":"192.0.2.9",'; echo; rec c2 | sed 's/{/{"node":"w2",/'; rec c3; } >"$T/mixed"
same "results: bad lines refused, 422" "$(post "$K1" "${nd[@]}" --data-binary @"$T/mixed")" 422
same "results: the good lines stored all the same" \
    "$(json '[.lines, .stored, .refused]'):$(q "SELECT group_concat(rid) FROM pings WHERE rid LIKE 'c%'")" "[4,2,2]:c1,c3"
same "results: the reasons name the body's lines (a blank one counted)" \
    "$(json '[.reasons[].line]')" "[2,4]"
check "results: the error says what the shipper quarantines on" \
    grep -q '"error":"refused 2 of 4: line 2: bad JSON.*; line 4: \\"node\\" is not the session' "$T/body"
same "results: another worker's record is refused (the key names the node)" \
    "$(q "SELECT count(*) FROM pings WHERE node = 'w2' AND rid LIKE 'c%'")" 0

same "results: no key, 401" "$(post nokey "${nd[@]}" --data-binary @"$T/three")" 401
same "results: a form, 415" "$(post "$K1" -H 'Content-Type: multipart/form-data' --data-binary @"$T/three"):$(json 'has("error")')" "415:true"
same "results: an array not closed, 400, nothing stored" \
    "$(post "$K1" -H 'Content-Type: application/json' --data-binary '[{"ip":"192.0.2.8","id":"d1"}'):$(q "SELECT count(*) FROM pings WHERE rid = 'd1'")" "400:0"
same "results: a segment name that is not plain, 400" \
    "$(post "$K1" "${nd[@]}" -H 'X-Hopmap-Segment: a b' --data-binary @"$T/three")" 400
same "results: GET, 405" "$(get "$K1" /results)" 405

# Eight posts at once, 1000 records each: every one answered after the
# commit that holds it (the sink answers every session waiting at a
# commit), every record once.
for w in 1 2 3 4 5 6 7 8; do
	awk -v w="$w" 'BEGIN { for (i = 0; i < 1000; i++)
	    printf "{\"ip\":\"198.18.%d.%d\",\"id\":\"e%d-%d\",\"ping\":{\"ok\":true,\"ts\":\"2026-11-25T11:00:00.000Z\"}}\n", w, i % 250, w, i }' >"$T/e$w"
done
posters=()
for w in 1 2 3 4 5 6 7 8; do
	curl -s -o "$T/e$w.out" -w '%{http_code}\n' --max-time 60 -H "Authorization: Bearer $K1" \
	    "${nd[@]}" --data-binary @"$T/e$w" "$u/results" >"$T/e$w.code" &
	posters+=($!)
done
wait "${posters[@]}"
same "results: eight posts at once, all 200, 1000 stored each" \
    "$(cat "$T"/e?.code | sort | uniq -c | awk '{ print $1 "x" $2 }'):$(cat "$T"/e?.out | jq -s 'map(.stored) | add')" "8x200:8000"
same "results: every record once" \
    "$(q "SELECT count(*), count(DISTINCT rid) FROM pings WHERE rid LIKE 'e%'")" "8000|8000"

# ---- GET /stats and /recent ----
# A trace or two, through routers, and a rotation between them: /stats
# reads the whole series, as hopmap-status and hopmap-hub status do.
trace() { # ID IP HOP...
	local id=$1 ip=$2 h="" t=1
	shift 2
	for r; do h="$h{\"ttl\":$t,\"ip\":\"$r\",\"rtt_ms\":1.$t},"; t=$((t + 1)); done
	printf '{"ip":"%s","id":"%s","trace":{"method":"icmp-paris","ts":"2026-11-25T12:00:0%s.000Z","hops":[%s{"ttl":%s,"ip":"%s"}],"stop":"completed"}}\n' \
	    "$ip" "$id" "$t" "$h" "$t" "$ip"
}
trace t1 192.0.2.1 10.0.0.1 10.0.0.2 >"$T/t1"
post "$K1" "${nd[@]}" --data-binary @"$T/t1" >/dev/null
# hopmap-hub status as JSON: [[node, deliveries, records], ...].
hub_status() {
	hopmap-hub status -d "$H" | awk 'NR > 2 { printf "%s[\"%s\",%s,%s]", (n++ ? "," : "["), $1, $2, $3 } END { print "]" }'
}
same "stats: the deliveries hopmap-hub status counts" \
    "$(get "$K1" /stats >/dev/null; json '[.nodes[] | [.node, .deliveries]]')" \
    "$(hub_status | jq -c 'map(.[0:2])')"
before_status=$(hub_status)
same "rotate: a worker's key, 403" "$(get "$K1" /rotate -X POST)" 403
before=$(readlink "$H/map.db")
same "rotate: an admin key, 200" "$(get "$KA" /rotate -X POST)" 200
same "rotate: answered with the new file, which the link names" \
    "$(json .previous):$(json .file)" "\"$before\":\"$(readlink "$H/map.db")\""
check "rotate: a new file" test "$before" != "$(readlink "$H/map.db")"
trace t2 192.0.2.2 10.0.0.1 10.0.0.3 >"$T/t2"
post "$K2" "${nd[@]}" --data-binary @"$T/t2" >/dev/null
same "stats: 200" "$(get "$K1" /stats)" 200
same "stats: both files read" "$(json .files)" 2
hopmap-status -j "$H/map.db" >"$T/status.json"
same "stats: per node, what hopmap-status counts" \
    "$(json '[.nodes[] | [.node, .records, .pings, .traces, .targets, .routers, .links, .deliveries]]')" \
    "$(jq -c '[.[] | [.node, .records, .pings, .traces, .targets, .routers, .links, .deliveries]]' "$T/status.json")"
# hopmap-hub status reads the series too (regression: the current file
# alone, so the deliveries before the rotation were lost to it).
same "hub status after a rotation: the deliveries before it, and w2's one after" \
    "$(hub_status | jq -c 'map(.[0:2])')" \
    "$(jq -c 'map(if .[0] == "w2" then [.[0], .[1] + 1] else .[0:2] end)' <<<"$before_status")"
same "hub status after a rotation: per node, the deliveries /stats counts" \
    "$(hub_status | jq -c 'map(.[0:2])')" \
    "$(json '[.nodes[] | select(.deliveries > 0) | [.node, .deliveries]]')"
same "hub status after a rotation: per node, the deliveries and records hopmap-status counts" \
    "$(hub_status)" \
    "$(jq -c '[.[] | select(.deliveries > 0) | [.node, .deliveries, .records]]' "$T/status.json")"
same "stats: totals (routers and responders once across nodes)" \
    "$(json '[.records, .pings, .responders, .traces, .routers, .links]')" "[8009,8007,2005,2,3,4]"

same "recent: 200, NDJSON" "$(get "$K1" '/recent?limit=2'):$(grep -ci '^content-type: application/x-ndjson' "$T/headers")" "200:1"
same "recent: the newest first, at most the limit" "$(jq -r .id "$T/body" | tr '\n' ' ')" "t2 t1 "
get "$K1" '/recent?ip=192.0.2.2&limit=10' >/dev/null
same "recent: by address, across the series' files" "$(jq -r .id "$T/body" | tr '\n' ' ')" "t2 a2 "
same "recent: a limit out of bounds, 400" "$(get "$K1" '/recent?limit=100000')" 400
same "recent: not an address, 400" "$(get "$K1" '/recent?ip=1.2.3')" 400

# ---- GET /dump while posts go on ----
# Posts of 500 records each, one after the other, each confirmed before
# the next: a consistent copy holds whole posts, the first ones, none
# after a missing one.
for b in $(seq 0 39); do
	awk -v b="$b" 'BEGIN { for (i = 0; i < 500; i++)
	    printf "{\"ip\":\"198.17.%d.%d\",\"id\":\"f%05d\",\"ping\":{\"ok\":true,\"ts\":\"2026-11-25T13:00:00.000Z\"}}\n", b, i % 250, b * 500 + i }' >"$T/f$b"
done
(for b in $(seq 0 39); do
	curl -s -o /dev/null --max-time 60 -H "Authorization: Bearer $K1" "${nd[@]}" \
	    --data-binary @"$T/f$b" "$u/results"
done) &
poster=$!
until_ok 60 test "$(q "SELECT count(*) FROM pings WHERE rid LIKE 'f%'")" -ge 2000
same "dump: 200 while posts go on" "$(get "$K1" /dump)" 200
mv "$T/body" "$T/dump.db"
wait $poster
check "dump: a file name in Content-Disposition" \
    grep -qi '^content-disposition: attachment; filename="hopmap-[0-9T]*Z.db"' "$T/headers"
same "dump: application/vnd.sqlite3" "$(grep -ci '^content-type: application/vnd.sqlite3' "$T/headers")" 1
same "dump: it opens and passes integrity_check" "$(sqlite3 "$T/dump.db" 'PRAGMA integrity_check')" ok
n=$(sqlite3 "$T/dump.db" "SELECT count(*) FROM pings WHERE rid LIKE 'f%'")
same "dump: a prefix of what was committed (the first records, no gap)" \
    "$(sqlite3 "$T/dump.db" "SELECT max(rid) FROM pings WHERE rid LIKE 'f%'")" \
    "$(printf 'f%05d' $((n - 1)))"
check "dump: it holds what was committed before it began" test "$n" -ge 2000
check "dump: its temporary file gone once sent" until_ok 10 sh -c "! ls -A '$H' | grep -q dump"

# ---- the sink away ----
kill $hubpid
wait $hubpid 2>/dev/null
same "results: the sink away, 503 (the shipper sends again)" \
    "$(post "$K1" "${nd[@]}" --data-binary @"$T/three"):$(json 'has("error")')" "503:true"
check "httpd: no sanitizer report" no_sanitizer_report "$T/httpd.log"
