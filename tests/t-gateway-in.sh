#!/usr/bin/env bash
# The gateway's input with curl against hopmap-httpd --hub on the loopback:
# a consumer's progress through the ranges survives a restart of the daemon
# and a move to another hub (export, import: no address skipped or
# repeated), hops reach every consumer once, --shard gives each address to
# exactly one of three consumers, and bad requests get 4xx JSON.
# Ports: the first free ones in 23000-23099, taken as each daemon starts.
. "$(dirname "$0")/lib.sh"
p=hopmap-httpd

# up NAME PORT ARGS...: start it (stderr in $T/NAME.log), wait until it listens.
up() {
	local name=$1 port=$2
	shift 2
	$p -l "127.0.0.1:$port" "$@" 2>>"$T/$name.log" &
	eval "pid_$name=$!"
	cleanup_hooks+=("kill $! 2>/dev/null; wait $! 2>/dev/null")
	until_ok 60 grep -qs "listening on 127.0.0.1:$port" "$T/$name.log"
}
down() {
	local pid
	eval "pid=\$pid_$1"
	kill -TERM "$pid" && wait "$pid"
	: >"$T/$1.log"
}
# get URL KEY [curl args]: the status, then the body in $T/body.
get() {
	local url=$1 key=$2
	shift 2
	curl -s -o "$T/body" -D "$T/headers" -w '%{http_code}' --max-time 60 \
	    ${key:+-H "Authorization: Bearer $key"} "$@" "$url"
}
post() {
	local url=$1 key=$2 file=$3
	get "$url" "$key" -H 'Content-Type: application/x-ndjson' \
	    --data-binary "@$file"
}
json() { jq -r "$1" "$T/body"; }
# drain URL KEY N OUT: GET /targets?n=N until 204, the addresses onto OUT;
# at most 1000 requests.
drain() {
	local i code
	for i in $(seq 1000); do
		code=$(get "$1/targets?n=$3" "$2")
		[ "$code" = 200 ] || break
		jq -r .ip "$T/body" >>"$4"
	done
	echo "$code"
}
key() { $p key add -d "$1" "${@:2}" 2>/dev/null; }

# Two hubs with the same ranges (320 addresses, with a special-purpose
# block left out), in other words on each.
A=$T/a B=$T/b
mkdir -p "$A/ranges" "$B/ranges"
printf '1.2.3.0/24  # one\n10.0.0.0/8\n5.6.7.0/26\n' >"$A/ranges/one.txt"
printf '5.6.7.0/27\n5.6.7.32/27\n' >"$B/ranges/x.txt"
printf '1.2.3.0/24\n' >"$B/ranges/y.txt"
cidr-expand --plain "$A/ranges/one.txt" 2>/dev/null | sort >"$T/all"
same "the ranges: 320 addresses" "$(wc -l <"$T/all")" 320
W1=$(key "$A" w1) W2=$(key "$A" w2) W3=$(key "$A" w3) ADM=$(key "$A" --admin boss)
W3B=$(key "$B" w3)

take_port pa 23000 23099
check "up: hub A on the loopback" up a "$pa" --hub "$A"
u=http://127.0.0.1:$pa
same "GET /targets without a key: 401 JSON" \
    "$(get $u/targets '')$(json '.error | length > 0')" "401true"
bad=
for n in 0 100001 abc -1 ''; do
	code=$(get "$u/targets?n=$n" "$W1")
	[ "$code:$(json '.error | test("^n: ")')" = 400:true ] || bad="$bad n=$n:$code"
done
same "GET /targets: bad n is 400 with a JSON error" "$bad" ""
same "GET /targets?n=100: 200, 100 target records" \
    "$(get "$u/targets?n=100" "$W1"):$(jq -r .ip "$T/body" | wc -l)" "200:100"
check "GET /targets: application/x-ndjson" \
    grep -qi '^content-type: application/x-ndjson' "$T/headers"
jq -r .ip "$T/body" >"$T/w1"

# ---- resumable across a restart ----
down a
# The port may have gone to another in the meantime: the URL follows.
take_port pa 23000 23099
check "up: hub A again" up a "$pa" --hub "$A"
u=http://127.0.0.1:$pa
same "w1 after the restart: on until 204" "$(drain $u "$W1" 37 "$T/w1")" 204
same "w1: every address once, across the restart" \
    "$(sort "$T/w1" | uniq -d | wc -l):$(sort -u "$T/w1" | diff - "$T/all" >/dev/null && echo all)" \
    "0:all"
same "GET /targets when done: 204, no body" \
    "$(get "$u/targets" "$W1"):$(wc -c <"$T/body")" "204:0"
code=$(get "$u/" "$W2")
same "GET /: one address as text/plain" \
    "$code:$(grep -c . "$T/body"):$(grep -ci '^content-type: text/plain' "$T/headers")" "200:1:1"
check "GET /: an address of the ranges" grep -qxF "$(cat "$T/body")" "$T/all"

# ---- hops: to every consumer once, posted or from the hub's queue ----
printf '%s\n' '{"ip":"9.9.9.1","src":"hop","via":"1.2.3.4","ttl":3,"found_by":"w2"}' \
    'not a hop' '9.9.9.2' >"$T/hops"
same "POST /hops: a bad line is 422, the good ones added" \
    "$(post $u/hops "$W2" "$T/hops")$(json '[.lines, .added, .refused] | join(" ")')" \
    "4223 2 1"
check "POST /hops: the error names line 2" sh -c "jq -r .error '$T/body' | grep -q 'line 2'"
printf '9.9.9.2\n' >"$T/hops2"
same "POST /hops: a known hop is counted, not added" \
    "$(post $u/hops "$W2" "$T/hops2")$(json '[.lines, .added, .known] | join(" ")')" "2001 0 1"
same "w1 (ranges done) gets the hops, found_by kept" \
    "$(get "$u/targets?n=10" "$W1")$(jq -c . "$T/body" | tr '\n' ' ')" \
    '200{"ip":"9.9.9.1","found_by":"w2"} {"ip":"9.9.9.2"} '
printf '{"ip":"9.9.9.3","found_by":"hub"}\n' >>"$A/hops.ndjson"
same "the hub's own hop queue (hopmap-hub hops) is read" \
    "$(get "$u/targets?n=10" "$W1")$(json .ip)" "2009.9.9.3"
same "... once" "$(get "$u/targets?n=10" "$W1")" 204
get $u/metrics '' >/dev/null
check "GET /metrics: the input's counters, valid for promtool" sh -c \
    "grep -q '^hopmap_gateway_targets_total [1-9]' '$T/body' && promtool check metrics <'$T/body' >/dev/null 2>&1"
same "GET /status: w1 done, no hop pending" \
    "$(get $u/status "$W2")$(json '.consumers[] | select(.name == "w1") | [.done, .total, .finished, .hops_pending] | join(" ")')" \
    "200320 320 true 0"

# ---- a consumer moved to another hub ----
# Its first 120: the 3 hops first, then 117 of the ranges.
get "$u/targets?n=120" "$W3" >/dev/null
jq -r .ip "$T/body" >"$T/w3"
printf '9.9.9.4\n' >"$T/hops3"
post $u/hops "$W1" "$T/hops3" >/dev/null
same "GET /export: another consumer's state, without admin: 403" \
    "$(get "$u/export?consumer=w1" "$W3")$(json '.error | length > 0')" 403true
same "GET /export: an unknown consumer: 404" \
    "$(get "$u/export?consumer=nobody" "$ADM")$(json '.error | length > 0')" 404true
same "GET /export: w3's own state" \
    "$(get "$u/export" "$W3")$(json '[.consumer, .ranges.done, (.hops | map(.ip) | join(","))] | join(" ")')" \
    "200w3 117 9.9.9.4"
cp "$T/body" "$T/w3.state"
take_port pb 23000 23099
check "up: hub B on the loopback" up b "$pb" --hub "$B"
ub=http://127.0.0.1:$pb
printf '{"consumer":"w3","ranges":{}}' >"$T/bad.state"
same "POST /import: a bad state is 400 JSON" \
    "$(post $ub/import "$W3B" "$T/bad.state")$(json '.error | length > 0')" 400true
same "POST /import: w3's state into hub B" \
    "$(post $ub/import "$W3B" "$T/w3.state")$(json '[.done, .ranges_match] | join(" ")')" \
    "200117 true"
same "w3 on hub B: on until 204" "$(drain $ub "$W3B" 50 "$T/w3")" 204
grep -v '^9\.9\.9\.' "$T/w3" >"$T/w3.ranges"
same "w3 across the move: no address skipped or repeated" \
    "$(sort "$T/w3.ranges" | uniq -d | wc -l):$(sort -u "$T/w3.ranges" | diff - "$T/all" >/dev/null && echo all)" \
    "0:all"
same "w3: each hop once, across the move, the pending one on hub B" \
    "$(grep '^9\.9\.9\.' "$T/w3" | sort | tr '\n' ' ')" "9.9.9.1 9.9.9.2 9.9.9.3 9.9.9.4 "
down b

# ---- --shard: each address to exactly one of three consumers ----
C=$T/c
mkdir -p "$C/ranges"
cp "$A/ranges/one.txt" "$C/ranges/"
X=$(key "$C" x) Y=$(key "$C" y) Z=$(key "$C" z)
take_port pc 23000 23099
check "up: hub C --shard on the loopback" up c "$pc" --hub "$C" --shard
uc=http://127.0.0.1:$pc
: >"$T/shard"
for i in $(seq 100); do
	busy=0
	for k in "$X" "$Y" "$Z"; do
		if [ "$(get "$uc/targets?n=13" "$k")" = 200 ]; then
			busy=1
			jq -r .ip "$T/body" | sed "s/^/$i /" >>"$T/shard.$k"
			jq -r .ip "$T/body" >>"$T/shard"
		fi
	done
	[ "$busy" = 1 ] || break
done
same "--shard: every address to exactly one of three consumers" \
    "$(sort "$T/shard" | uniq -d | wc -l):$(sort -u "$T/shard" | diff - "$T/all" >/dev/null && echo all)" \
    "0:all"
same "--shard: each of the three had a share" \
    "$(for k in "$X" "$Y" "$Z"; do [ -s "$T/shard.$k" ] && echo y; done | wc -l)" 3

# ---- special-purpose ranges: left out unless --allow-reserved ----
D=$T/d
mkdir -p "$D/ranges"
printf '10.1.0.0/30\n' >"$D/ranges/lab.txt"
R=$(key "$D" r)
take_port pd 23000 23099
check "up: hub D on the loopback" up d "$pd" --hub "$D"
same "special-purpose ranges are left out" \
    "$(get "http://127.0.0.1:$pd/targets" "$R")" 204
down d
take_port pd 23000 23099
check "up: hub D --allow-reserved" up d "$pd" --hub "$D" --allow-reserved
same "--allow-reserved keeps them" \
    "$(get "http://127.0.0.1:$pd/targets" "$R")$(jq -r .ip "$T/body" | sort | tr '\n' ' ')" \
    "20010.1.0.0 10.1.0.1 10.1.0.2 10.1.0.3 "
check "no sanitizer report" sh -c "! grep -q 'runtime error\|Sanitizer' '$T'/*.log"
