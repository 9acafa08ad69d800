#!/usr/bin/env bash
# bench/ship.sh: 100,000 ping records from a worker's spool into a hub's
# database over TCP on loopback, each segment confirmed after its commit
# (hopmap-ship send -> hopmap-hub recv -> sqlsink), beside the same records
# written straight into the sink's socket with socat, unconfirmed (what an
# ssh pipeline with --direct does), timed until the rows are committed.
# Both must end with every record stored once.  The price of "nothing lost"
# is a commit wait per segment: larger segments pay it less often.  Shipped
# twice, in segments of 10,000 and of 1,000 (the shipper's default).  Then
# the hub's confirmation path under many workers at once (issue 10): 100
# shippers, each with one 1,000-record segment, all started together over
# TCP; the time until the last is confirmed (target: 20,000 records/s);
# the same with the shipper as it was before its cut (BENCH_SHIP_OLD);
# and the same through 100 plain socat clients.
set -eu
for c in socat sqlite3 sqlsink hopmap-hub hopmap-ship; do
	command -v "$c" >/dev/null || { echo "$c is missing (make deps all)"; exit 1; }
done
n=100000
port=${BENCH_PORT:-17419}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$here/out"
dir=$(mktemp -d "$here/out/ship.XXXXXX")
pids=
trap 'kill $pids 2>/dev/null; wait; rm -rf "$dir"' EXIT

recs() { # NODE: n ping records of NODE, with ids of their own
	awk -v n="$n" -v node="$1" 'BEGIN { for (i = 1; i <= n; i++)
	    printf "{\"ip\":\"198.19.%d.%d\",\"id\":\"%s:%d\",\"node\":\"%s\",\"ping\":{\"method\":\"icmp\",\"ok\":true,\"sent\":1,\"recv\":1,\"rtt_ms\":0.4,\"reply_ttl\":61,\"ts\":\"2026-11-25T21:00:00.000Z\"}}\n", int(i / 256) % 256, i % 256, node, i, node }'
}
recs b >"$dir/recs"
recs b10000 >"$dir/recs10000"
recs b1000 >"$dir/recs1000"

now() { date +%s.%N; }
rows() { sqlite3 -cmd '.timeout 5000' "$1" 'SELECT count(*) FROM pings' 2>/dev/null || echo 0; }

hopmap-hub serve -d "$dir/hub" --tcp "127.0.0.1:$port" --sink-args '-i 100ms' 2>"$dir/hub.err" &
pids="$pids $!"
for _ in $(seq 50); do [ -S "$dir/hub/sink.sock" ] && break; sleep 0.1; done

ours() { # LINES: seconds to spool and ship every record, confirmed
	local t0
	t0=$(now)
	hopmap-ship spool -l "$1" "$dir/sp$1" <"$dir/recs$1"
	hopmap-ship send --once -q -n 3 -N "b$1" "$dir/sp$1" "TCP:127.0.0.1:$port"
	echo "$(now) - $t0" | bc
}
s10k=$(ours 10000)
s1k=$(ours 1000)
got=$(rows "$dir/hub/map.db")

# 100 workers at once: one spool each, spooled before the clock starts,
# into a hub of their own, so that its CPU time (all its processes', once
# it is stopped) is theirs alone: on one machine the shippers' CPU and the
# hub's are one budget, while a real hub pays only its own.  Run with
# SHIP, the shipper of this tree, and again with the shipper as it was
# before issue 10's cut (BENCH_SHIP_OLD, a git revision: its script and
# libraries from git, when this is a checkout).
k=100
cpu() { tail -n 1 "$1" | tr 'ms' '  ' | awk '{ print $1 * 60 + $2 + $3 * 60 + $4 }'; }
overflows() { nstat -az TcpExtListenOverflows 2>/dev/null | awk 'NR > 1 { print $2 }'; }
many() { # SHIP PORT TAG: sets smany mfail many ship_ms hub_ms over retries
	local w p mhub o0 o1 t0 mpids
	for w in $(seq "$k"); do
		head -n 1000 "$dir/recs" | sed "s/\"b\"/\"$3$w\"/g; s/\"b:/\"$3$w:/" |
		    hopmap-ship spool -l 1000 "$dir/$3$w"
	done
	hopmap-hub serve -d "$dir/hub$3" --tcp "127.0.0.1:$2" \
	    --sink-args '-i 100ms' 2>"$dir/hub$3.err" &
	mhub=$!
	for _ in $(seq 50); do [ -S "$dir/hub$3/sink.sock" ] && break; sleep 0.1; done
	o0=$(overflows)
	times >"$dir/t0"
	t0=$(now)
	mpids=
	for w in $(seq "$k"); do
		"$1" send --once -q -n 5 -N "$3$w" "$dir/$3$w" "TCP:127.0.0.1:$2" \
		    2>>"$dir/$3.err" &
		mpids="$mpids $!"
	done
	mfail=0
	for p in $mpids; do wait "$p" || mfail=$((mfail + 1)); done
	smany=$(echo "$(now) - $t0" | bc)
	times >"$dir/t1"
	o1=$(overflows)
	kill "$mhub"
	wait "$mhub" || true
	times >"$dir/t2"
	many=$(sqlite3 "$dir/hub$3/map.db" "SELECT count(*) || ' ' ||
	    count(DISTINCT rid) FROM pings")
	ship_ms=$(echo "($(cpu "$dir/t1") - $(cpu "$dir/t0")) * 1000 / $k" | bc)
	hub_ms=$(echo "($(cpu "$dir/t2") - $(cpu "$dir/t1")) * 1000 / $k" | bc)
	over=$((${o1:-0} - ${o0:-0}))
	retries=$(grep -c 'not confirmed' "$dir/$3.err" || true)
}
old=${BENCH_SHIP_OLD:-a4daf7f}
oldship=
if git -C "$here" rev-parse -q --verify "$old^{commit}" >/dev/null 2>&1; then
	mkdir -p "$dir/old/lib" "$dir/old/ship"
	for f in hopmap-ship.sh lib/hopmap.sh lib/gateway.sh ship/http.sh; do
		git -C "$here" show "$old:sh/$f" >"$dir/old/$f"
	done
	oldship=$dir/old/hopmap-ship.sh
	chmod +x "$oldship"
fi
many hopmap-ship "$((port + 1))" m
[ "$mfail:$many" = "0:$((k * 1000)) $((k * 1000))" ] ||
    { echo "100 shippers: $mfail failed; stored, distinct: $many"; exit 1; }
smany_new=$smany ship_ms_new=$ship_ms hub_ms_new=$hub_ms over_new=$over retries_new=$retries
if [ -n "$oldship" ]; then
	many "$oldship" "$((port + 3))" o
	[ "$mfail:$many" = "0:$((k * 1000)) $((k * 1000))" ] ||
	    { echo "100 shippers as at $old: $mfail failed; stored, distinct: $many"; exit 1; }
fi
smany_old=${oldship:+$smany} ship_ms_old=${oldship:+$ship_ms} hub_ms_old=${oldship:+$hub_ms}
retries_old=${oldship:+$retries}

# The same hub path without the shipper's own cost (its shell, its socat,
# put: most of the CPU above on one machine): 100 socat clients at once,
# each a segment as put sends it, the write side held open (ignoreeof)
# until the hub's answer, as put holds it.
for w in $(seq "$k"); do
	{ echo "hopmap-segment 1 c$w c$w.seg 1000"
	  head -n 1000 "$dir/recs" | sed "s/\"b\"/\"c$w\"/g; s/\"b:/\"c$w:/"; } >"$dir/c$w.seg"
done
hopmap-hub serve -d "$dir/hubc" --tcp "127.0.0.1:$((port + 2))" \
    --sink-args '-i 100ms' 2>"$dir/hubc.err" &
chub=$!
for _ in $(seq 50); do [ -S "$dir/hubc/sink.sock" ] && break; sleep 0.1; done
times >"$dir/t3"
t0=$(now)
cpids=
for w in $(seq "$k"); do
	socat -T 60 "OPEN:$dir/c$w.seg,rdonly,ignoreeof!!CREATE:$dir/c$w.ans" \
	    "TCP:127.0.0.1:$((port + 2))" 2>/dev/null &
	cpids="$cpids $!"
done
for p in $cpids; do wait "$p" || true; done
ssocat=$(echo "$(now) - $t0" | bc)
times >"$dir/t4"
kill "$chub"
wait "$chub" || true
times >"$dir/t5"
cok=$(cat "$dir"/c*.ans | grep -c '^ok 1000$' || true)
crows=$(sqlite3 "$dir/hubc/map.db" "SELECT count(*) || ' ' || count(DISTINCT rid) FROM pings")
chub_ms=$(echo "($(cpu "$dir/t5") - $(cpu "$dir/t4")) * 1000 / $k" | bc)

sqlsink -l "$dir/peer.sock" --no-stdin -i 100ms "$dir/peer.db" 2>/dev/null &
pids="$pids $!"
for _ in $(seq 50); do [ -S "$dir/peer.sock" ] && break; sleep 0.1; done
t0=$(now)
socat -u "FILE:$dir/recs" "UNIX-CONNECT:$dir/peer.sock"
while [ "$(rows "$dir/peer.db")" -lt "$n" ]; do sleep 0.05; done
speer=$(echo "$(now) - $t0" | bc)

[ "$got" = "$((2 * n))" ] || { echo "hub stored $got of $((2 * n))"; exit 1; }
[ "$cok:$crows" = "$k:$((k * 1000)) $((k * 1000))" ] ||
    { echo "100 socat clients: $cok confirmed; stored, distinct: $crows"; exit 1; }
rate() { echo "$n / $1" | bc; }
printf '%-46s %8s records/s (%.2f s)\n' \
    "hopmap-ship, 10000-record segments, confirmed" "$(rate "$s10k")" "$s10k" \
    "hopmap-ship, 1000-record segments, confirmed" "$(rate "$s1k")" "$s1k" \
    "100 hopmap-ship at once, 1000 each, confirmed" "$(rate "$smany_new")" "$smany_new" \
    "100 socat clients at once, 1000 each, confirmed" "$(rate "$ssocat")" "$ssocat" \
    "socat into sqlsink, unconfirmed" "$(rate "$speer")" "$speer"
printf 'ratio ours/peer: %.2f (figures taken under load from other work)\n' \
    "$(echo "$speer / $s10k" | bc -l)"
[ -z "$oldship" ] || printf '%-46s %8s records/s (%.2f s)\n' \
    "100 hopmap-ship as at $old, 1000 each" "$(rate "$smany_old")" "$smany_old"
printf '100 at once: CPU per 1000-record delivery: hub %s ms, shipper %s ms, %s retries (as at %s: hub %s ms, shipper %s ms, %s retries); listen queue overflows %s (%s)\n' \
    "$hub_ms_new" "$ship_ms_new" "$retries_new" "$old" "${hub_ms_old:-?}" "${ship_ms_old:-?}" "${retries_old:-?}" "$over_new" "$(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
printf '100 socat clients: CPU per delivery: hub %s ms (target for both: 20000 records/s)\n' "$chub_ms"
