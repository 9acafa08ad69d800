#!/usr/bin/env bash
# hopmap-worker under faults, without probing: a hub on the loopback of a
# namespace made here, a worker whose --cmd writes records.  The shipper
# killed with SIGKILL while the worker runs is started again; the final
# drain killed likewise is retried; a worker killed leaves nothing behind
# that the next start does not clean; the node's name is in its state
# directory, where hopmap-status finds it; a state directory with a blank
# and a quote works.  No packet is sent anywhere.
. "$(dirname "$0")/lib.sh"

if [ "$(id -u)" -ne 0 ]; then
	skip "needs root for a network namespace"
	exit 0
fi
ns=hmwk$$
ip netns add "$ns" || { echo "not ok - ip netns add"; exit 1; }
# Every process in the namespace is this test's: stopped before it goes.
cleanup_hooks+=("ip netns pids $ns | xargs -r kill -KILL" "ip netns del $ns")
ip -n "$ns" link set lo up
q() { sqlite3 -cmd '.timeout 5000' "$@"; }
inns() { ip netns exec "$ns" "$@"; }

stored() { [ "$(q "$1" "SELECT count(*) FROM targets" 2>/dev/null)" = "$2" ]; }
# pid of the one process whose command line matches a fixed string.
pidof_cmd() { pgrep -f -- "$1" | head -n 1; }
records() { # FROM TO PREFIX: target records with ids
	seq "$1" "$2" | sed "s/.*/{\"ip\":\"198.19.0.1\",\"id\":\"$3&\"}/"
}
hub_up() { # DIR PORT
	inns hopmap-hub serve -d "$1" --tcp "127.0.0.1:$2" \
	    --sink-args '-i 100ms' 2>>"$1.err" &
	hubpid=$!
	cleanup_hooks+=("kill $hubpid 2>/dev/null; wait $hubpid")
	until_ok 30 test -S "$1/sink.sock"
}

# ---- the shipper killed while the worker runs ----
hub=$T/hub
check "hub: up on the namespace's loopback" hub_up "$hub" 7411
W=$T/w1
mkfifo "$T/feed"
exec 7<>"$T/feed"
export FEED=$T/feed
# shellcheck disable=SC2016 # expanded by the worker's sh -c
inns hopmap-worker -H TCP:127.0.0.1:7411 -d "$W" -N wk1 -b 2 -m "$T/w1.prom" \
    -c 'exec cat "$FEED"' >"$T/w1.out" 2>"$T/w1.err" 7>&- &
w1=$!
# A segment is complete when the next record arrives (split(1)).
records 1 1001 a >&7
check "shipper: the first segment arrives" until_ok 60 stored "$hub/map.db" 1000
sp=$(pidof_cmd "send -m $T/w1.prom -b 2 -N wk1 ")
check "shipper: running ($sp)" test -n "$sp"
check "shipper: the worker shows what the hub confirmed" \
    until_ok 30 grep -q '^hopmap-ship: .*\.seg: 1000 records confirmed$' "$T/w1.err"
check "--metrics: the shipper's counts, written whole" \
    until_ok 30 grep -qx 'hopmap_records_confirmed_total{program="hopmap-ship"} 1000' "$T/w1.prom"
check "--metrics: the spool gauge and its help" \
    grep -q '^# TYPE hopmap_spool_segments gauge' "$T/w1.prom"
kill -KILL "$sp"
check "shipper killed: the worker says it starts it again" \
    until_ok 30 grep -q 'the shipper exited with status 137; restarting in 1s' "$T/w1.err"
records 1002 2001 a >&7
check "shipper killed: what comes next is shipped while the worker runs" \
    until_ok 60 stored "$hub/map.db" 2000
check "shipper killed: a new shipper runs" test -n "$(pidof_cmd "send -m $T/w1.prom -b 2 -N wk1 ")"
exec 7>&-
wait "$w1"
same "shipper killed: the worker ends with exit 0, spool empty" \
    "$?:$(ls "$W/spool/"*.seg 2>/dev/null | wc -l)" "0:0"
check "--metrics: no temporary file left" \
    test "$(find "$T" -maxdepth 1 -name '.w1.prom.*' | wc -l)" = 0
same "shipper killed: each record stored once" \
    "$(q "$hub/map.db" "SELECT count(*), count(DISTINCT rid) FROM targets")" "2001|2001"

# ---- the final drain killed: retried, nothing left in the spool ----
W=$T/w2
records 1 300 b >"$T/recs2"
inns hopmap-worker -H TCP:127.0.0.1:7412 -d "$W" -N wk2 -b 1 \
    -c "cat '$T/recs2'" >"$T/w2.out" 2>"$T/w2.err" &
w2=$!
# No hub on 7412 yet: the drain retries until the test kills it.
check "final drain: retrying while the hub is away" \
    until_ok 60 grep -q 'not confirmed' "$T/w2.err"
dp=$(pidof_cmd "send --once -b 1 -n 0 -N wk2 ")
check "final drain: the drain shipper runs ($dp)" test -n "$dp"
kill -KILL "$dp"
check "final drain killed: the worker starts it again" \
    until_ok 30 grep -q 'the final shipper exited with status 137; restarting' "$T/w2.err"
check "final drain: a hub comes up" hub_up "$T/hub2" 7412
until_ok 90 sh -c "! kill -0 $w2 2>/dev/null"
wait "$w2"
same "final drain killed: exit 0, spool empty, every record stored" \
    "$?:$(ls "$W/spool/"*.seg 2>/dev/null | wc -l):$(q "$T/hub2/map.db" "SELECT count(*) FROM targets")" \
    "0:0:300"

# ---- leftovers of a killed worker are cleaned at the next start ----
W=$T/w3
mkdir -p "$T/tmpd"
: >"$T/recs3"
# Results from before, waiting in the spool (spooled here, before the
# worker's own spooler takes the directory's lock).
records 1 10 c | hopmap-ship spool "$W/spool"
TMPDIR=$T/tmpd setsid ip netns exec "$ns" hopmap-worker -H TCP:127.0.0.1:7413 \
    -d "$W" -N wk3 -b 1 -c "cat '$T/recs3'" >"$T/w3.out" 2>"$T/w3.err" &
w3=$!
check "leftovers: the drain retries (no hub)" until_ok 60 grep -q 'not confirmed' "$T/w3.err"
left=$(find "$W/tmp" -name 'hopmap-ship.*' | wc -l)
check "leftovers: the shipper's scratch file is in DIR/tmp ($left)" test "$left" -ge 1
kill -KILL -- -"$w3"
wait "$w3" 2>/dev/null
find "$W/tmp" "$T/tmpd" -mindepth 1 >"$T/left"
run inns hopmap-worker -H TCP:127.0.0.1:7411 -d "$W" -N wk3 -b 1 -c "cat '$T/recs3'"
same "leftovers: the next run ships what was spooled" \
    "$rc:$(q "$hub/map.db" "SELECT count(*) FROM targets WHERE rid LIKE 'c%'")" "0:10"
same "leftovers: nothing of the killed run is left" \
    "$(while IFS= read -r f; do [ ! -e "$f" ] || echo "$f"; done <"$T/left")" ""

# ---- one worker a state directory ----
exec 8>>"$W/worker.lock"
flock 8
run inns hopmap-worker -H TCP:127.0.0.1:7411 -d "$W" -N wk3 -c true
same "lock: a second worker on the same state directory leaves (exit 0), says so" \
    "$rc:$(cat "$T/err")" "0:hopmap-worker: another worker holds $W/worker.lock"
exec 8>&-

# ---- the node's name, for hopmap-status; names from the network escaped ----
same "node: the worker writes its name into its state directory" \
    "$(cat "$T/w1/node")" wk1
run hopmap-status -n wk1 -n wk2 "$hub/map.db" "$T/w1" "$T/w2"
same "status: the state directories under the nodes' names" \
    "$rc:$(awk 'NR > 1 { print $1 }' "$T/out" | tr '\n' ' ')" "0:wk1 wk2 "
printf '%s\n' '{"ip":"198.19.0.1","id":"esc1","node":"ev\u001b[2Jil\nnode"}' |
    sqlsink "$T/esc.db"
run hopmap-status "$T/esc.db"
same "status: a node name with ESC and a newline is escaped" \
    "$rc:$(awk 'NR > 1 { print $1 }' "$T/out")" '0:ev\x1b[2Jil\x0anode'
check "status: no control character reaches the terminal" \
    sh -c "! LC_ALL=C grep -q '[[:cntrl:]]' '$T/out'"

# ---- --cmd: the node's name in HOPMAP_NODE ----
# shellcheck disable=SC2016 # expanded by the worker's sh -c
run inns hopmap-worker -H TCP:127.0.0.1:7411 -d "$T/w4" -N wk4 \
    -c 'printf "{\"ip\":\"198.19.0.1\",\"id\":\"n1\",\"by\":\"%s\"}\n" "$HOPMAP_NODE"'
same "--cmd: HOPMAP_NODE is the worker's --node" \
    "$rc:$(q "$hub/map.db" "SELECT json_extract(json, '\$.by') FROM targets WHERE rid = 'n1'")" "0:wk4"

# ---- a state directory with a blank and a quote ----
W="$T/state a'b"
run inns hopmap-worker -H TCP:127.0.0.1:7411 -d "$W" -N wk5 -b 1 -n 3 \
    -c "cat '$T/recs2' | sed 's/\"b/\"q/'"
same "paths: a state directory with a blank and a quote: exit 0, spool empty" \
    "$rc:$(ls "$W/spool/"*.seg 2>/dev/null | wc -l):$(q "$hub/map.db" "SELECT count(*) FROM targets WHERE rid LIKE 'q%'")" \
    "0:0:300"
