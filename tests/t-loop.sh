# hopmap-loop: options and the man page, the lock and "nothing to do"
# without probing, then the whole loop in the namespace lab
# (tests/lab/lab.sh): hops found in round 1 are probed as targets in later
# rounds, the fair share of hops and seeds, two runs at once, SIGKILL and
# SIGTERM in the middle of a round.  Probes go only into this test's own
# namespaces (icmpprobe and tracehop run inside the vantage namespace).
. "$(dirname "$0")/lib.sh"
top=$HOPMAP_TOP
page=$top/man/hopmap-loop.1

run hopmap-loop --help
same "--help: exit 0, nothing on stderr" "$rc:$(cat "$T/err")" "0:"
check "--help: usage on stdout" grep -q '^usage: hopmap-loop' "$T/out"
run hopmap-loop -h
check "-h: same as --help" grep -q '^usage: hopmap-loop' "$T/out"
run hopmap-loop --version
same "--version" "$rc:$(cat "$T/out")" \
    "0:hopmap-loop (hopmap) $(sed -n 's/^#define HM_VERSION "\(.*\)"/\1/p' "$top/lib/core/core.h")"
mandoc -T lint -W warning "$page" >"$T/lint" 2>&1
check "man page lints clean" test ! -s "$T/lint"
cat "$T/lint"
missing=
for opt in $(hopmap-loop --help | grep -o -- '--[a-z][a-z-]*' | sort -u); do
	grep -q -- "Fl -${opt#--}\b" "$page" || missing="$missing $opt"
done
same "every long option in --help is in the man page" "$missing" ""
for sect in SYNOPSIS DESCRIPTION "EXIT STATUS" ENVIRONMENT FILES EXAMPLES "SEE ALSO"; do
	check "man page has $sect" grep -q "^\.Sh $sect" "$page"
done
check "man page has a cron line" grep -q '^\*/[0-9]* \* \* \* \* .*hopmap-loop' "$page"
check "examples: the systemd unit runs forever with a pause" \
    grep -q '^ExecStart=.*hopmap-loop .*--rounds 0 .*--pause' "$top/examples/hopmap-loop.service"
check "examples: a timer or a cron line" test -f "$top/examples/hopmap-loop.timer" -o \
    -f "$top/examples/hopmap-loop.cron"
check "examples: the cron line (run as root) passes --user to the probers" \
    grep -q '^\*/[0-9]* .* root .*hopmap-loop .*--user ' "$top/examples/hopmap-loop.cron"
for u in "$top"/examples/*.service; do
	check "examples: $(basename "$u") grants no ambient capability (children would inherit it)" \
	    sh -c "! grep -q '^AmbientCapabilities' '$u'"
done

echo 198.19.0.1 >"$T/one.txt"
usage_case() {
	local name=$1 want=$2
	shift 2
	run hopmap-loop -d "$T/never" "$@"
	same "$name: exit 2, nothing on stdout" "$rc:$(cat "$T/out")" "2:"
	check "$name: message" grep -q "^hopmap-loop: $want" "$T/err"
}
usage_case "no range files" "no range files"
usage_case "unknown option" "unrecognized option '--frobnicate'" --frobnicate "$T/one.txt"
usage_case "bad --limit" "--limit: not a number: 1x" --limit 1x "$T/one.txt"
usage_case "--limit 0" "--limit: must be at least 1" -n 0 "$T/one.txt"
usage_case "bad --rounds" "--rounds: not a number: -1" --rounds=-1 "$T/one.txt"
usage_case "bad --time" "--time: bad duration: soon" --time soon "$T/one.txt"
usage_case "bad --pause" "-p: bad duration: 5x" -p 5x "$T/one.txt"
usage_case "bad --cooldown" "--cooldown: bad duration: h" --cooldown h "$T/one.txt"
usage_case "bad --shuffle" "--shuffle: not a number: x" --shuffle x "$T/one.txt"
usage_case "missing value" "option requires an argument: --db" --db
usage_case "--db with --sink-cmd" "--db and --sink-cmd exclude each other" \
    --db "$T/x.db" --sink-cmd cat "$T/one.txt"
usage_case "unreadable range file" "$T/nope.txt: cannot read" "$T/nope.txt"
check "usage errors create no state directory" test ! -e "$T/never"

# Nothing to do, without a packet: every seed excluded, no hops queued.
export HOPMAP_STATE=$T/envstate
run hopmap-loop -x "$T/one.txt" "$T/one.txt"
same "nothing to do: exit 0, nothing on stdout" "$rc:$(cat "$T/out")" "0:"
check "nothing to do: says so" grep -q '^hopmap-loop: nothing to do: the seeds are exhausted and no hops are queued' "$T/err"
check "HOPMAP_STATE: the state directory" test -s "$T/envstate/log" -a -f "$T/envstate/lock"
check "nothing to do: in the log" grep -q 'nothing to do' "$T/envstate/log"
check "nothing to do: no round is left pending" test ! -e "$T/envstate/round.targets"
run hopmap-loop --quiet -x "$T/one.txt" "$T/one.txt"
same "--quiet: exit 0, silent" "$rc:$(cat "$T/out" "$T/err")" "0:"
echo 198.19.0.2 >"$T/two.txt"
# A state that counted something, for other options than the run's.
cidr-expand -R -n 1 -r "$T/envstate/resume" "$T/two.txt" >/dev/null
cp "$T/envstate/resume" "$T/resume.env"
run hopmap-loop -x "$T/one.txt" "$T/two.txt"
same "other range files: exit 2, nothing on stdout" "$rc:$(cat "$T/out")" "2:"
check "other range files: cidr-expand says why" grep -q '^cidr-expand: ' "$T/err"
check "other range files: the loop says the state is kept" \
    grep -q '^hopmap-loop: cidr-expand failed (status 2); state kept' "$T/err"
check "other range files: the resume state is untouched" cmp -s "$T/envstate/resume" "$T/resume.env"
check "other range files: no scratch left" test ! -e "$T/envstate/resume.new"
check "other range files: the message names the state, not its scratch copy" \
    grep -q "^cidr-expand: $T/envstate/resume: saved for other" "$T/err"
unset HOPMAP_STATE

# Every seed special-purpose (regression: "nothing to do: the seeds are
# exhausted", a finished state saved, and -R then refused): the loop says
# which ranges and how to keep them, records nothing, and -R then works.
echo 127.0.0.1 >"$T/lo.txt"
run hopmap-loop -d "$T/special" "$T/lo.txt"
same "all special-purpose: exit 1, nothing on stdout" "$rc:$(cat "$T/out")" "1:"
check "all special-purpose: cidr-expand names the block and why" \
    grep -q '^cidr-expand: 1 address in 127.0.0.0/8 (Loopback) left out: special-purpose' "$T/err"
check "all special-purpose: and says how to keep them" grep -q -- '-R (--allow-reserved)' "$T/err"
check "all special-purpose: not called exhausted" sh -c "! grep -q exhausted '$T/err'"
check "all special-purpose: no state recorded" test ! -e "$T/special/resume"
run hopmap-loop -R -d "$T/special" --timeout 300ms --wait 300ms --max-ttl 1 \
    --metrics "$T/special.prom" --sink-cmd "cat >'$T/special.out'" "$T/lo.txt"
same "all special-purpose, then -R: exit 0, the seed probed" \
    "$rc:$(jq -r .ip "$T/special.out")" "0:127.0.0.1"
check "a line per round: seeds, hops, probed, alive, traced, new routers, stored" \
    grep -q '^hopmap-loop: round 1 end: 1 seeds, 0 hops, 1 probed, 1 alive, [0-9]* traced, [0-9]* new routers, 1 stored' "$T/err"
check "--metrics: the loop's counts after the round" \
    grep -qx 'hopmap_targets_probed_total{program="hopmap-loop"} 1' "$T/special.prom"
check "--metrics: rounds, a counter with its help" \
    grep -q '^# TYPE hopmap_rounds_total counter' "$T/special.prom"

# --rounds 0 runs until stopped (regression: it exited once the seeds were
# done and no hops were queued): it waits for hops, and starts the seeds
# over once their cooldown has passed; SIGTERM ends it.
: >"$T/forever.out"
hopmap-loop -R -d "$T/forever" --rounds 0 --cooldown 2s --pause 1s \
    --timeout 300ms --wait 300ms --max-ttl 1 \
    --hops-cmd "cat '$T/forever.hops' 2>/dev/null; rm -f '$T/forever.hops'" \
    --sink-cmd "cat >>'$T/forever.out'" "$T/lo.txt" 2>"$T/forever.err" &
fpid=$!
cleanup_hooks+=("kill $fpid 2>/dev/null")
check "--rounds 0: waits when there is nothing to do" \
    until_ok 60 grep -q 'waiting: the seeds are done and no hops are queued' "$T/forever/log"
echo 127.0.0.2 >"$T/forever.hops"
check "--rounds 0: a hop queued later is probed" \
    until_ok 60 grep -q '"ip":"127.0.0.2"' "$T/forever.out"
check "--rounds 0: the seeds start over after their cooldown" \
    until_ok 60 grep -q 'the seeds start over' "$T/forever/log"
check "--rounds 0: and are probed again" \
    until_ok 60 sh -c "[ \$(grep -c '\"ip\":\"127.0.0.1\"' '$T/forever.out') -ge 2 ]"
check "--rounds 0: still running" kill -0 "$fpid"
kill -TERM "$fpid"
rc=0
wait "$fpid" || rc=$?
same "--rounds 0: SIGTERM ends it (143)" "$rc" 143
echo 127.0.0.1/32 >"$T/lo.ex"
run cidr-expand -x "$T/lo.ex" "$T/lo.txt"
same "cidr-expand: excluded by the user, not by the table: no word of -R" \
    "$rc:$(cat "$T/out" "$T/err")" "0:"

# The lock, held here by flock(1) itself.
mkdir -p "$T/locked"
flock "$T/locked/lock" sleep 30 &
holder=$!
cleanup_hooks+=("kill $holder 2>/dev/null")
for _ in $(seq 600); do
	flock -n "$T/locked/lock" true || break
	sleep 0.1
done
run hopmap-loop -d "$T/locked" -x "$T/one.txt" "$T/one.txt"
same "lock held: exit 0, nothing on stdout" "$rc:$(cat "$T/out")" "0:"
same "lock held: the message" "$(cat "$T/err")" \
    "hopmap-loop: another run holds $T/locked/lock"
check "lock held: no log written" test ! -e "$T/locked/log"
hopmap-loop -d "$T/locked" --wait-lock -x "$T/one.txt" "$T/one.txt" \
    >"$T/wl.out" 2>"$T/wl.err" &
waiter=$!
sleep 0.5
check "--wait-lock: still waiting while the lock is held" kill -0 "$waiter"
kill "$holder"
wait "$waiter"
same "--wait-lock: runs once the lock is free" \
    "$?:$(grep -c 'nothing to do' "$T/wl.err")" "0:1"
flock "$T/locked/lock" sleep 30 &
holder=$!
cleanup_hooks+=("kill $holder 2>/dev/null")
for _ in $(seq 600); do
	flock -n "$T/locked/lock" true || break
	sleep 0.1
done
hopmap-loop -d "$T/locked" --wait-lock -x "$T/one.txt" "$T/one.txt" \
    >"$T/wl.out" 2>"$T/wl.err" &
waiter=$!
sleep 0.3
kill -TERM "$waiter"
for _ in $(seq 600); do
	kill -0 "$waiter" 2>/dev/null || break
	sleep 0.1
done
check "--wait-lock: SIGTERM ends the wait while the lock is held" \
    sh -c "! kill -0 $waiter 2>/dev/null"
wait "$waiter"
same "--wait-lock: SIGTERM: exit 143, silent" "$?:$(cat "$T/wl.err")" "143:"
check "--wait-lock: SIGTERM: the lock stays with its holder" \
    sh -c "! flock -n '$T/locked/lock' true"
kill "$holder"

if [ "$(id -u)" != 0 ] || ! ip netns list >/dev/null 2>&1; then
	skip "lab tests: they need root and network namespaces"
	exit 0
fi
. "$HOPMAP_TOP/tests/lab/lab.sh"
# shellcheck disable=SC2016
cleanup_hooks+=('lab_down "$LAB_PREFIX"')
if ! lab_up "hmlp$$"; then
	echo "not ok - the lab could not be built"
	exit 1
fi
addr() { awk -v n="$1" '$1 == "router" && $2 == n { sub("addr=", "", $3); print $3 }' "$LAB_TOPO"; }
q() { sqlite3 "$1" "$2"; }
resume_done() { sed -n 's/^done //p' "$1/resume"; }
LA=(-R --netns "$LAB_VANTAGE" --rate 2000 --timeout 300ms --trace-rate 2000 --wait 300ms)
loop() { hopmap-loop "${LA[@]}" "$@"; }

# 1. Discovery: one address per leaf plus r1's own address as seeds.  The
# routers on the way are not in the seeds; they come back as hop targets.
S=$T/disc
r1=$(addr r1)
printf '198.19.0.1\n198.19.1.1\n198.19.2.1\n198.19.3.1\n%s\n' "$r1" >"$T/seeds1.txt"
run loop -d "$S" --node vp-test --rounds 5 "$T/seeds1.txt"
same "discovery: exit 0, nothing on stdout" "$rc:$(cat "$T/out")" "0:"
check "discovery: no sanitizer report" no_sanitizer_report "$T/err"
db=$S/map.db
same "discovery: round 1 has the 5 seeds and no hops" \
    "$(grep -c 'round 1 start: 5 seeds, 0 hops' "$S/log")" 1
check "discovery: round 2 probes hops" grep -q 'round 2 start: 0 seeds, [1-9][0-9]* hops' "$S/log"
nhop=$(q "$db" "SELECT count(*) FROM pings WHERE src = 'hop'")
check "discovery: routers probed as targets, src \"hop\" ($nhop)" test "$nhop" -ge 5
same "discovery: hop targets are not in the seeds" \
    "$(q "$db" "SELECT count(*) FROM pings WHERE src = 'hop' AND (ip LIKE '198.19.%' OR ip = '$r1')")" 0
same "discovery: every hop target is a lab router" \
    "$(q "$db" "SELECT ip FROM pings WHERE src = 'hop'" | grep -cvxFf <(awk '$1 == "router" { sub("addr=", "", $3); print $3 }' "$LAB_TOPO"))" 0
same "discovery: hop targets answered and were traced" \
    "$(q "$db" "SELECT count(*) FROM pings WHERE src = 'hop' AND ok"):$(q "$db" "SELECT count(*) FROM traces WHERE src = 'hop'")" \
    "$nhop:$nhop"
same "discovery: every router address seen in a trace was probed as a target" \
    "$(q "$db" "SELECT count(DISTINCT h.ip) FROM hops h JOIN traces t ON t.id = h.trace_id
        WHERE h.ip IS NOT NULL AND h.ip != t.ip AND h.ip NOT IN (SELECT ip FROM pings)")" 0
same "discovery: each address probed once (cooldown shared by seeds and hops)" \
    "$(q "$db" "SELECT count(*) FROM (SELECT ip FROM pings GROUP BY ip HAVING count(*) > 1)")" 0
same "discovery: r1, a seed, was not probed again as a hop" \
    "$(q "$db" "SELECT src FROM pings WHERE ip = '$r1'")" "$T/seeds1.txt"
same "discovery: every result has its own record id" \
    "$(q "$db" "SELECT count(DISTINCT rid) = count(*) AND count(*) > 0 FROM pings")" 1
same "discovery: --node names the vantage point" \
    "$(q "$db" "SELECT DISTINCT node FROM pings")" vp-test
check "discovery: the last round's results are kept" test -s "$S/round.ndjson"
check "discovery: the hop dedup is kept" test -s "$S/seen.db"
run loop -d "$S" --rounds 5 "$T/seeds1.txt"
same "discovery finished: next run has nothing to do" \
    "$rc:$(grep -c '^hopmap-loop: nothing to do' "$T/err")" "0:1"
same "discovery finished: nothing new in the database" \
    "$(q "$db" "SELECT count(*) FROM pings")" "$(($(wc -l <"$T/seeds1.txt") + nhop))"

# 2. Fairness: 64 seeds behind the diamond, 8 targets a round.  Round 1
# finds at least 5 routers; round 2 gives them half and the seeds half.
S=$T/fair
echo 198.19.3.0/26 >"$T/seeds2.txt"
run loop -d "$S" --once -n 8 "$T/seeds2.txt"
same "fairness round 1: exit 0, 8 seeds taken" "$rc:$(resume_done "$S")" "0:8"
queued=$(wc -l <"$S/hops.ndjson")
check "fairness round 1: more hops queued than half a round ($queued)" test "$queued" -ge 5
run loop -d "$S" --limit=8 --once "$T/seeds2.txt"
same "fairness round 2: exit 0" "$rc" 0
check "fairness round 2: 4 seeds and 4 hops" grep -q "round 2 start: 4 seeds, 4 hops (of $queued queued)" "$S/log"
same "fairness round 2: the seeds advanced" "$(resume_done "$S")" 12
same "fairness round 2: hop targets probed" \
    "$(q "$S/map.db" "SELECT count(*) FROM pings WHERE src = 'hop'")" 4
check "fairness round 2: the other hops wait in the queue" \
    test "$(wc -l <"$S/hops.ndjson")" -ge $((queued - 4))
run loop -d "$S" -n 8 --rounds 0 --time 1s --pause 2s "$T/seeds2.txt"
same "--rounds 0 --time 1s --pause 2s: one round, then time is up" \
    "$rc:$(grep -c 'round 3 start' "$S/log"):$(grep -c 'round 4 start' "$S/log"):$(grep -c 'time is up after 1 rounds' "$S/log")" \
    "0:1:0:1"

# 3. Two runs at once: B finds the lock held; C waits for it.  Dark
# targets keep each round of A busy for its timeout.
S=$T/lock
echo 198.19.200.0/30 >"$T/dark.txt"
hopmap-loop "${LA[@]}" -d "$S" -n 2 --rounds 2 --probe-args "--timeout 2s" "$T/dark.txt" \
    >"$T/a.out" 2>"$T/a.err" &
a=$!
for _ in $(seq 200); do
	grep -q 'round 1 start' "$S/log" 2>/dev/null && break
	sleep 0.1
done
run loop -d "$S" --rounds 2 "$T/dark.txt"
same "second run: exit 0 at once, nothing on stdout" "$rc:$(cat "$T/out")" "0:"
same "second run: the lock is held" "$(cat "$T/err")" "hopmap-loop: another run holds $S/lock"
loop -d "$S" --wait-lock --rounds 2 "$T/dark.txt" >"$T/c.out" 2>"$T/c.err"
same "waiting run: exit 0, nothing to do after A" \
    "$?:$(grep -c 'nothing to do' "$T/c.err")" "0:1"
wait "$a"
same "first run: exit 0, two rounds" "$?:$(grep -c 'round [12] end' "$T/a.err")" "0:2"
same "the log: the runs never interleave (pid changes once)" \
    "$(awk '{ print $2 }' "$S/log" | uniq | wc -l)" 2
same "the log: A's rounds come before C's" \
    "$(awk '{ print $2 }' "$S/log" | uniq | head -n 1)" \
    "$(awk '/round 1 start/ { print $2 }' "$S/log")"
check "the log: C ran last and found nothing to do" \
    sh -c "tail -n 1 '$S/log' | grep -q 'nothing to do'"

# 4. SIGKILL in the middle of a round: the whole process group dies, sqlsink
# included.  The next run redoes the round and stores each result once.
S=$T/kill
printf '198.19.0.0/28\n198.19.200.0/28\n' >"$T/seeds4.txt"
# A subshell starts it, so that this shell reports no "Killed" job.
(setsid hopmap-loop -R --netns "$LAB_VANTAGE" --timeout 20s --wait 300ms \
    -d "$S" -n 24 --once "$T/seeds4.txt" >"$T/k.out" 2>"$T/k.err" &
echo $! >"$T/k.pid")
kp=$(cat "$T/k.pid")
for _ in $(seq 300); do
	[ -s "$S/round.partial" ] && break
	sleep 0.1
done
kpg=$(ps -o pgid= -p "$kp" | tr -d ' ')
check "kill: the round was under way" test -s "$S/round.partial"
same "kill: the loop leads its own process group" "$kpg" "$kp"
kill -9 -- "-$kpg"
for _ in $(seq 600); do
	pgrep -g "$kpg" >/dev/null || break
	sleep 0.1
done
check "kill: the round is left pending" test -f "$S/round.targets"
same "kill: the resume position was kept" "$(resume_done "$S")" 24
run loop -d "$S" -n 24 --once "$T/seeds4.txt"
same "restart: exit 0" "$rc" 0
check "restart: redoes the interrupted round" grep -q 'round 1: redoing the interrupted round' "$T/err"
same "restart: no seeds taken twice" "$(resume_done "$S")" 24
same "restart: database intact" "$(q "$S/map.db" 'PRAGMA integrity_check')" ok
same "restart: each of the 24 targets stored once" \
    "$(q "$S/map.db" "SELECT count(*), count(DISTINCT ip), count(DISTINCT rid) FROM pings")" "24|24|24"
same "restart: the 16 live ones answered" "$(q "$S/map.db" "SELECT sum(ok) FROM pings")" 16
run loop -d "$S" -n 24 --once "$T/seeds4.txt"
same "after restart: the seeds go on" "$rc:$(resume_done "$S")" "0:32"

# SIGTERM: the loop stops its stages and exits 143; the next run redoes.
S=$T/term
hopmap-loop "${LA[@]}" -d "$S" -n 4 --once --timeout 20s "$T/dark.txt" >"$T/t.out" 2>"$T/t.err" &
tp=$!
for _ in $(seq 300); do
	[ -f "$S/round.admitted" ] && break
	sleep 0.1
done
sleep 0.3
kill -TERM "$tp"
wait "$tp"
same "SIGTERM: exit 143" "$?" 143
check "SIGTERM: logged" grep -q 'stopped by a signal' "$S/log"
check "SIGTERM: no prober left behind" \
    sh -c "! ps -eo args | grep -F -- '$S' | grep -v grep | grep -q ."
check "SIGTERM: no prober left in the vantage namespace" \
    test -z "$(ip netns pids "$LAB_VANTAGE")"
run loop -d "$S" -n 4 --once --timeout 300ms "$T/dark.txt"
same "after SIGTERM: the round is redone" \
    "$rc:$(grep -c 'redoing' "$T/err"):$(q "$S/map.db" 'SELECT count(*) FROM pings')" "0:1:4"

# 5. The remaining options: another sink, exclusions, shards, shuffle,
# methods, a database elsewhere.
S=$T/opts
printf '198.19.0.0/29\n' >"$T/seeds5.txt"
echo 198.19.0.3 >"$T/ex.txt"
run loop -d "$S" --sink-cmd "cat >'$T/sunk'" --exclude "$T/ex.txt" \
    --shard 1/2 --shuffle 7 --cooldown 90s --method icmp --trace-method icmp-paris \
    --max-ttl 8 --trace-args "-q 1" --probe-args "-c 1" "$T/seeds5.txt"
same "--sink-cmd: exit 0" "$rc" 0
same "--sink-cmd: the results on its stdin, no database" \
    "$(jq -s 'length' "$T/sunk"):$(test -e "$S/map.db" && echo db)" \
    "$(cidr-expand -R -c --shard 1/2 -x "$T/ex.txt" "$T/seeds5.txt"):"
same "--shard 1/2 --exclude: half of 7, never the excluded one" \
    "$(jq -r .ip "$T/sunk" | grep -c -x 198.19.0.3):$(grep -c '^shard 1/2' "$S/resume")" "0:1"
check "--shuffle: the seed is in the resume state" grep -q '^shuffle 7' "$S/resume"
same "--method, --trace-method, --max-ttl" \
    "$(jq -r '[.ping.method, .trace.method] | join(" ")' "$T/sunk" | sort -u)" "icmp icmp-paris"
run loop -d "$T/opts2" --db "$T/else.db" -x "$T/ex.txt" "$T/seeds5.txt"
same "--db: the database elsewhere" \
    "$rc:$(q "$T/else.db" 'SELECT count(*) FROM pings'):$(test -e "$T/opts2/map.db" && echo db)" "0:7:"

# Relative names: the range files, the database and the state directory
# are the caller's, and "src" is the file as named.
(cd "$T" && hopmap-loop "${LA[@]}" -d rel --db rel.db -x ex.txt seeds5.txt) \
    >"$T/out" 2>"$T/err"
same "relative names: exit 0" "$?" 0
same "relative names: src as named, database where named" \
    "$(q "$T/rel.db" 'SELECT DISTINCT src FROM pings'):$(test -f "$T/rel/resume" && echo resume)" \
    "seeds5.txt:resume"

# Hops from elsewhere (a hub) instead of this node's own traces.
d0=$(addr d0)
run loop -d "$T/noex" --no-extract --rounds 3 "$T/seeds1.txt"
same "--no-extract: the seeds only, then nothing to do" \
    "$rc:$(q "$T/noex/map.db" 'SELECT count(*) FROM pings'):$(grep -c 'nothing to do' "$T/err"):$(test -e "$T/noex/seen.db" && echo seen)" \
    "0:5:1:"
run loop -d "$T/hcmd" --no-extract --rounds 1 \
    --hops-cmd "echo \"\$HOPMAP_LOOP_STATE\" >'$T/hcmd.env'; echo $d0" "$T/seeds5.txt"
same "--hops-cmd: exit 0" "$rc" 0
same "--hops-cmd: its hop probed in the round, as src \"hop\"" \
    "$(q "$T/hcmd/map.db" "SELECT src FROM pings WHERE ip = '$d0'")" hop
same "--hops-cmd: HOPMAP_LOOP_STATE is the state directory" "$(cat "$T/hcmd.env")" "$T/hcmd"
# Hop targets from elsewhere (a hub, a forged trace) pass the seeds'
# filters: without -R no special-purpose address is probed; with -R the
# exclusions still hold, and no multicast, broadcast or 0/8 address is
# ever a target.  (The probers run in the lab's vantage namespace all the
# same, so a failure here sends nothing out.)
printf '%s\n' '{"ip":"10.0.0.1","src":"hop"}' '{"ip":"224.0.0.1","src":"hop"}' \
    127.0.0.1 "{\"ip\":\"$d0\",\"src\":\"hop\"}" >"$T/hops.special"
run hopmap-loop --netns "$LAB_VANTAGE" --timeout 300ms -d "$T/hsp" --no-extract \
    --rounds 1 --hops-cmd "cat '$T/hops.special'" -x "$T/one.txt" "$T/one.txt"
same "hops from elsewhere, no -R: none probed, nothing to do" \
    "$rc:$(grep -c 'nothing to do' "$T/err"):$(test -e "$T/hsp/map.db" && q "$T/hsp/map.db" 'SELECT count(*) FROM pings')" "0:1:"
check "hops from elsewhere, no -R: the loop says how many it left out" \
    grep -q '4 hop targets left out' "$T/hsp/log"
echo 198.19.1.0/24 >"$T/ex1.txt"
printf '%s\n' '{"ip":"224.0.0.1","src":"hop"}' '{"ip":"255.255.255.255"}' \
    0.0.0.0 '{"ip":"198.19.1.7","src":"hop"}' "{\"ip\":\"$d0\",\"src\":\"hop\"}" \
    '{"src":"hop","ip":"198.19.0.9"}' '{"ip":"198.19.0.300"}' \
    '{"via":{"ip":"198.19.0.10"},"ip":"198.19.1.8"}' \
    '{"ip":"198.19.0.11","\u0069p":"198.19.1.9"}' >"$T/hops.mixed"
run loop -d "$T/hmx" --no-extract --rounds 1 --hops-cmd "cat '$T/hops.mixed'" \
    -x "$T/ex1.txt" -x "$T/one.txt" "$T/one.txt"
same "hops from elsewhere, -R: excluded (also behind a nested or escaped duplicate \"ip\"), multicast, broadcast, 0/8 and bad ones left out, lab hops probed" \
    "$rc:$(q "$T/hmx/map.db" 'SELECT ip FROM pings' | sort | tr '\n' ' ')" \
    "0:$(printf '%s\n' 198.19.0.9 "$d0" | sort | tr '\n' ' ')"
run loop -d "$T/hfail" --rounds 1 --hops-cmd "exit 4" "$T/seeds5.txt"
same "--hops-cmd failing: the round goes on" \
    "$rc:$(grep -c -- '--hops-cmd failed (status 4)' "$T/err"):$(grep -c 'round 1 end' "$T/hfail/log")" "0:1:1"

# --user reaches both probers (a user that does not exist stops each).
run loop -d "$T/usr" --user no-such-user-hm --sink-cmd "cat >/dev/null" "$T/seeds5.txt"
# (The two write to one stderr at once, so their lines may interleave.)
same "--user: passed to icmpprobe and tracehop" \
    "$rc:$(grep -o -- '--user: no such user: no-such-user-hm' "$T/err" | wc -l):$(grep -o 'icmpprobe: \|tracehop: ' "$T/err" | sort -u | tr -d '\n')" \
    "3:2:icmpprobe: tracehop: "

# 6. Crash points, set up by hand.  A round prepared but not committed
# (killed before round.targets was renamed) is dropped whole.
S=$T/disc
cp "$S/resume" "$T/resume.before"
echo junk >"$S/resume.new"
echo junk >"$S/hops.new"
echo 99 >"$S/round.new"
run loop -d "$S" --rounds 1 "$T/seeds1.txt"
same "uncommitted round: dropped, nothing to do" \
    "$rc:$(grep -c 'nothing to do' "$T/err"):$(cat "$S/round")" "0:1:$(grep -c 'round [0-9]* end' "$S/log")"
check "uncommitted round: the resume position is the old one" cmp -s "$S/resume" "$T/resume.before"
check "uncommitted round: the scratch files are gone" \
    test ! -e "$S/resume.new" -a ! -e "$S/hops.new" -a ! -e "$S/round.new"
# Killed after the results and the hops were saved, before the queue took
# them: the next run queues them and ends the round without probing.
r=$(cat "$S/round")
cp "$S/round.ndjson" "$S/round.partial"
cp "$S/round.ndjson" "$S/round.targets"
echo '{"ip":"198.19.0.77","src":"hop"}' >"$S/hops.add"
run loop -d "$S" --rounds 1 --cooldown 1d "$T/seeds1.txt"
same "hops saved, round open: exit 0" "$rc" 0
same "hops saved, round open: closed without a redo" "$(grep -c redoing "$T/err")" 0
same "hops saved, round open: the hop was queued and probed next" \
    "$(q "$S/map.db" "SELECT src FROM pings WHERE ip = '198.19.0.77'"):$(cat "$S/round")" "hop:$((r + 1))"
# A sink that fails leaves the round open; a working one redoes it.
S=$T/sinkfail
run loop -d "$S" --sink-cmd "cat >/dev/null; exit 5" "$T/seeds5.txt"
same "failing sink: exit 3, the round left open" \
    "$rc:$(test -f "$S/round.targets" && echo open)" "3:open"
check "failing sink: says so" grep -q 'a stage failed (status 5); the next run redoes the round' "$T/err"
run loop -d "$S" --sink-cmd "cat >'$T/sunk2'" "$T/seeds5.txt"
same "working sink: the round redone, every result delivered" \
    "$rc:$(grep -c redoing "$T/err"):$(jq -s 'length' "$T/sunk2"):$(test -f "$S/round.targets" && echo open)" "0:1:8:"

# SIGKILL to the loop's shell alone: its stages finish the round and hold
# the lock meanwhile, so no second run starts under them.
S=$T/orphan
mkdir -p "$T/ltmp" "$T/hold"
# The stages are held by an event, not by a long --timeout a loaded machine
# may outlast: the sink (first on PATH, a stage that inherits the lock) says
# it started, then waits for the test's word before it stores.
cat >"$T/hold/sqlsink" <<EOF
#!/bin/sh
: >'$T/hold.started'
for _ in \$(seq 3000); do
	[ -e '$T/hold.release' ] || [ ! -d '$T/hold' ] && break
	sleep 0.1
done
exec '$(command -v sqlsink)' "\$@"
EOF
chmod +x "$T/hold/sqlsink"
cleanup_hooks+=(": >'$T/hold.release'")
TMPDIR=$T/ltmp PATH=$T/hold:$PATH hopmap-loop "${LA[@]}" -d "$S" -n 4 --once "$T/dark.txt" \
    >"$T/o.out" 2>"$T/o.err" &
op=$!
until_ok 60 test -e "$T/hold.started"
kill -9 "$op"
wait "$op" 2>/dev/null
run loop -d "$S" -n 4 --once "$T/dark.txt"
same "shell killed alone: its stages still hold the lock" \
    "$rc:$(cat "$T/err")" "0:hopmap-loop: another run holds $S/lock"
: >"$T/hold.release"
# The orphaned sink stores the round and ends: a bound, not a measure.
until_ok 180 flock -n "$S/lock" true
run loop -d "$S" -n 4 --once "$T/dark.txt"
same "shell killed alone: the next run closes the round, each result once" \
    "$rc:$(grep -c redoing "$T/err"):$(q "$S/map.db" 'SELECT count(*), count(DISTINCT rid) FROM pings')" "0:1:4|4"
same "killed: the next run leaves no scratch of the killed one (pipes, lists)" \
    "$(find "$S" "$T/ltmp" -mindepth 1 -maxdepth 1 -name 'tmp.*' -o -name 'hopmap-loop.*' | wc -l)" 0
# Killed while cooldown worked: it had recorded the round's targets, none
# was written.  The redo probes them all instead of losing them.
S=$T/cool
run loop -d "$S" --sink-cmd "cat >/dev/null; exit 5" "$T/seeds5.txt"
rm "$S/round.admitted" "$S/round.partial"
touch "$S/round.cooling"
run loop -d "$S" --sink-cmd "cat >'$T/sunk3'" "$T/seeds5.txt"
same "killed in cooldown: every target of the round probed" \
    "$rc:$(jq -s 'length' "$T/sunk3"):$(ls "$S" | grep -c 'cooling\|round.targets')" "0:8:0"
# Killed while hopextract worked: the dedup has the hops, the queue not.
S=$T/hx
run loop -d "$S" --sink-cmd "cat >/dev/null; exit 5" "$T/seeds1.txt"
hopextract -R --state "$S/seen.db" "$S/round.partial" >"$T/hx.hops"
touch "$S/hops.extracting"
run loop -d "$S" --sink-cmd "cat >/dev/null" "$T/seeds1.txt"
same "killed in hopextract: the round's hops are queued all the same" \
    "$rc:$(jq -r .ip "$S/hops.ndjson" | sort | tr '\n' ' ')" \
    "0:$(jq -r .ip "$T/hx.hops" | sort | tr '\n' ' ')"
check "killed in hopextract: some hops at stake" test -s "$T/hx.hops"
check "killed in hopextract: the marker is gone" test ! -e "$S/hops.extracting"

# The man page's fleet example: results into a shared sqlsink's socket.
sqlsink --listen "$T/sink.sock" --no-stdin "$T/shared.db" 2>"$T/sink.err" &
sp=$!
cleanup_hooks+=("kill $sp 2>/dev/null")
for _ in $(seq 600); do
	[ -S "$T/sink.sock" ] && break
	sleep 0.1
done
run loop -d "$T/fleet" -s 2/3 --node node2 \
    --sink-cmd "socat -u - UNIX-CONNECT:'$T/sink.sock'" "$T/seeds5.txt"
kill -TERM "$sp"
wait "$sp"
same "--sink-cmd socat into a shared sqlsink: every result stored" \
    "$rc:$(q "$T/shared.db" "SELECT count(*), count(DISTINCT node) FROM pings WHERE node = 'node2'")" \
    "0:$(cidr-expand -R -c -s 2/3 "$T/seeds5.txt")|1"
