#!/usr/bin/env bash
# bench/gateway.sh: results into a hub through hopmap-httpd's POST /results,
# 8 clients at once, 1,000-record bodies, each answered only after the
# commit that holds it, beside today's confirmed shipping over socat
# (hopmap-ship, 1,000-record segments, as bench/run ship) and socat
# straight into sqlsink, unconfirmed, all from the same run on the same
# records.  Each must end with every record stored once.  Target: the
# gateway at least 3x the confirmed shipping.  The sink's commits and the
# sessions they answered are counted: posts at once share commits.
set -eu
for c in curl socat sqlite3 sqlsink hopmap-hub hopmap-ship hopmap-httpd; do
	command -v "$c" >/dev/null || { echo "$c is missing (make deps all)"; exit 1; }
done
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
clients=8 posts=13 per=1000
n=$((clients * posts * per))
port=${BENCH_PORT:-22519}
mkdir -p "$here/out"
dir=$(mktemp -d "$here/out/gateway.XXXXXX")
pids=
trap 'kill $pids 2>/dev/null; wait; rm -rf "$dir"' EXIT

now() { date +%s.%N; }
rows() { sqlite3 -cmd '.timeout 5000' "$1" 'SELECT count(*) || " " || count(DISTINCT rid) FROM pings' 2>/dev/null || echo 0; }
recs() { # PREFIX: n ping records without "node", ids PREFIX:i
	awk -v n="$n" -v p="$1" 'BEGIN { for (i = 0; i < n; i++)
	    printf "{\"ip\":\"198.19.%d.%d\",\"id\":\"%s:%d\",\"ping\":{\"method\":\"icmp\",\"ok\":true,\"sent\":1,\"recv\":1,\"rtt_ms\":0.4,\"reply_ttl\":61,\"ts\":\"2026-11-25T21:00:00.000Z\"}}\n", int(i / 256) % 256, i % 256, p, i }'
}
# A hub of its own for each way in, its sink counting its commits.
hub() { # NAME [serve args]
	local name=$1 h=$dir/$1
	shift
	hopmap-hub serve -d "$h" --sink-args "-i 100ms --metrics $h.prom" "$@" \
	    2>"$h.err" &
	hubpid=$!
	pids="$pids $!"
	for _ in $(seq 100); do [ -S "$h/sink.sock" ] && return 0; sleep 0.1; done
	echo "hub $name did not start"; cat "$h.err"; exit 1
}
metric() { # HUB NAME: a counter its sink wrote when it stopped
	awk -v m="hopmap_$2_total{program=\"sqlsink\"}" '$1 == m { print $2 }' "$dir/$1.prom"
}

# ---- the gateway: 8 clients, each one curl posting its bodies in turn ----
recs g >"$dir/g.ndjson"
split -l "$per" -a 4 -d "$dir/g.ndjson" "$dir/body."
hub h
hpid=$hubpid
key=$(hopmap-httpd key add -d "$dir/h" bench 2>/dev/null)
hopmap-httpd -l "127.0.0.1:$port" --hub "$dir/h" 2>"$dir/httpd.err" &
pids="$pids $!"
for _ in $(seq 100); do grep -qs listening "$dir/httpd.err" && break; sleep 0.1; done
b=0
for c in $(seq "$clients"); do
	for i in $(seq "$posts"); do
		printf 'url = "http://127.0.0.1:%s/results"\ndata-binary = "@%s"\n' \
		    "$port" "$dir/body.$(printf %04d "$b")"
		printf 'header = "Authorization: Bearer %s"\n' "$key"
		printf 'header = "Content-Type: application/x-ndjson"\n'
		printf 'output = "%s/ans.%s.%s"\nwrite-out = "%%{http_code}\\n"\n' "$dir" "$c" "$i"
		[ "$i" = "$posts" ] || echo next
		b=$((b + 1))
	done >"$dir/client$c.cfg"
done
t0=$(now)
cpids=
for c in $(seq "$clients"); do
	curl -s --max-time 120 -K "$dir/client$c.cfg" >"$dir/codes$c" &
	cpids="$cpids $!"
done
for p in $cpids; do wait "$p" || true; done
shttp=$(echo "$(now) - $t0" | bc)
codes=$(cat "$dir"/codes* | sort | uniq -c | awk '{ printf "%s%sx%s", s, $1, $2; s = " " }')
stored=$(cat "$dir"/ans.* | jq -s 'map(.stored) | add')
ghttp=$(rows "$dir/h/map.db")
kill "$hpid"	# its sink writes its counters as it stops
wait "$hpid" || true
sessions=$(metric h sessions_answered) commits=$(metric h batches_committed)

# ---- commits shared: 8 clients posting 10-record bodies, 25 each ----
# Bodies this small fill no batch: a commit is a wait's end, and posts
# waiting at once end theirs in one.
hub t
tpid=$hubpid
tkey=$(hopmap-httpd key add -d "$dir/t" bench 2>/dev/null)
hopmap-httpd -l "127.0.0.1:$((port + 2))" --hub "$dir/t" 2>"$dir/httpd.t.err" &
pids="$pids $!"
for _ in $(seq 100); do grep -qs listening "$dir/httpd.t.err" && break; sleep 0.1; done
head -n 10 "$dir/body.0000" >"$dir/tiny"
for c in $(seq "$clients"); do
	for i in $(seq 25); do
		printf 'url = "http://127.0.0.1:%s/results"\ndata-binary = "@%s/tiny"\n' \
		    "$((port + 2))" "$dir"
		printf 'header = "Authorization: Bearer %s"\nwrite-out = "%%{http_code}\\n"\n' "$tkey"
		printf 'header = "Content-Type: application/x-ndjson"\noutput = "/dev/null"\n'
		[ "$i" = 25 ] || echo next
	done >"$dir/tiny$c.cfg"
done
cpids=
for c in $(seq "$clients"); do
	curl -s --max-time 120 -K "$dir/tiny$c.cfg" >"$dir/tcodes$c" &
	cpids="$cpids $!"
done
for p in $cpids; do wait "$p" || true; done
kill "$tpid"
wait "$tpid" || true
tcodes=$(cat "$dir"/tcodes* | sort | uniq -c | awk '{ printf "%s%sx%s", s, $1, $2; s = " " }')
tsessions=$(metric t sessions_answered) tcommits=$(metric t batches_committed)

# ---- today's confirmed shipping: hopmap-ship over TCP, hopmap-hub recv ----
recs s >"$dir/s.ndjson"
hub s --tcp "127.0.0.1:$((port + 1))"
t0=$(now)
hopmap-ship spool -l "$per" "$dir/sp" <"$dir/s.ndjson"
hopmap-ship send --once -q -n 3 -N s "$dir/sp" "TCP:127.0.0.1:$((port + 1))"
sship=$(echo "$(now) - $t0" | bc)
gship=$(rows "$dir/s/map.db")

# ---- socat straight into sqlsink, unconfirmed ----
recs p | sed 's/{/{"node":"p",/' >"$dir/p.ndjson"
sqlsink -l "$dir/peer.sock" --no-stdin -i 100ms "$dir/peer.db" 2>/dev/null &
pids="$pids $!"
for _ in $(seq 100); do [ -S "$dir/peer.sock" ] && break; sleep 0.1; done
t0=$(now)
socat -u "FILE:$dir/p.ndjson" "UNIX-CONNECT:$dir/peer.sock"
until [ "$(rows "$dir/peer.db")" = "$n $n" ]; do sleep 0.05; done
speer=$(echo "$(now) - $t0" | bc)

ok=1
[ "$codes:$stored:$ghttp" = "$((clients * posts))x200:$n:$n $n" ] ||
    { echo "gateway: answers $codes, stored $stored, rows $ghttp (of $n)"; ok=0; }
[ "$gship" = "$n $n" ] || { echo "shipping: rows $gship (of $n)"; ok=0; }
[ "$ok" = 1 ] || exit 1
rate() { echo "$n / $1" | bc; }
echo "$n records, $(machine)"
printf '%-56s %8s records/s (%.2f s)\n' \
    "POST /results, $clients clients, $per-record bodies, confirmed" "$(rate "$shttp")" "$shttp" \
    "hopmap-ship over TCP, $per-record segments, confirmed" "$(rate "$sship")" "$sship" \
    "socat into sqlsink, unconfirmed" "$(rate "$speer")" "$speer"
r=$(echo "$sship / $shttp" | bc -l)
printf 'ratio gateway/shipping: %.2f (target 3: %s)\n' "$r" "$(verdict "$r" 3)"
printf 'commits: %s posts of %s records answered by %s commits; %s posts of 10 records (%s) by %s\n' \
    "$sessions" "$per" "$commits" "$tsessions" "$tcodes" "$tcommits"
