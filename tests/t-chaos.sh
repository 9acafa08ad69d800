#!/usr/bin/env bash
# The chaos property: three workers and a hub in the namespace lab, faults
# chosen at random (the seed is printed; HOPMAP_CHAOS_SEED repeats a run)
# while they work: SIGKILL to the sink, to a listener, to the whole hub, to
# a worker's process group, to a shipper alone; a worker's link cut.  When
# the faults stop and everything is back, every result a worker produced is
# stored exactly once (by id), the database is intact, the spools are
# empty.  Bounded: at most 14 faults in at most 40 s, then at most 240 s
# for the workers to finish (about 30 s of probing without faults).  Probes go only into the lab.
. "$(dirname "$0")/lib.sh"
. "$HOPMAP_TOP/tests/lab/lab.sh"

lab=hmc$$
lab_fleet_up "$lab"
nsof() { lab_vantage_ns "$1"; }
q() { sqlite3 -cmd '.timeout 5000' "$@"; }
seed=${HOPMAP_CHAOS_SEED:-$((($$ + $(date +%s)) % 32768))}
RANDOM=$seed
echo "# chaos seed $seed (HOPMAP_CHAOS_SEED=$seed repeats the choices)"

alive() { kill -0 "$1" 2>/dev/null; }
# ns_pids NS STRING: the processes of namespace NS (all this test's) whose
# command line holds STRING.
ns_pids() {
	local p
	for p in $(ip netns pids "$1"); do
		{ tr '\0' ' ' <"/proc/$p/cmdline"; } 2>/dev/null | grep -qF -- "$2" &&
		    echo "$p"
	done
	return 0
}

hub=$T/hub
db=$hub/map.db
hubpid=
hub_up() {
	setsid ip netns exec "$hubns" hopmap-hub serve -d "$hub" \
	    --tcp "$LAB_HUB_IP:7411" --sink-args '-i 100ms' 2>>"$T/hub.err" &
	hubpid=$!
	disown "$hubpid"
	until_ok 30 listening
}
listening() { ip netns exec "$hubns" ss -Htln "sport = :7411" | grep -q .; }
# Every process of the hub's namespace is the hub's.
hub_kill() { ip netns pids "$hubns" | xargs -r kill -KILL 2>/dev/null; }
cleanup_hooks=(hub_kill "${cleanup_hooks[@]}")

seeds=$T/seeds.txt
printf '%s\n' 198.19.0.0/24 198.19.1.0/24 198.19.2.0/26 198.19.3.0/24 \
    198.19.200.0/30 >"$seeds"
probeopts=(-R --timeout 300ms --trace-rate 2000 --wait 300ms --max-ttl 8)
declare -A wpid wdone
# Each worker's loop sink also appends what it sends to a tap file: the
# results the worker produced, resends included.
worker_up() { # K
	local k=$1
	# shellcheck disable=SC2016 # expanded by the sink's sh -c
	TAP=$T/tap$k setsid ip netns exec "$(nsof "$k")" hopmap-worker \
	    -H "TCP:$LAB_HUB_IP:7411" -d "$T/w$k" -N "c$k" -b 1 -q -- \
	    --shard "$k/3" --rounds 999 -n 10 -q "${probeopts[@]}" \
	    --sink-cmd 'tee -a "$TAP" | exec hopmap-ship spool "$HOPMAP_WORKER_SPOOL"' \
	    "$seeds" >>"$T/w$k.out" 2>>"$T/w$k.err" &
	wpid[$k]=$!
}
# A worker that has exited: done when it said so with exit 0.
reap() {
	local k rc
	for k in 1 2 3; do
		[ -z "${wdone[$k]:-}" ] || continue
		alive "${wpid[$k]}" && continue
		rc=0
		wait "${wpid[$k]}" || rc=$?
		if [ "$rc" = 0 ]; then wdone[$k]=1; else worker_up "$k"; fi
	done
}
all_done() { reap; [ -n "${wdone[1]:-}" ] && [ -n "${wdone[2]:-}" ] && [ -n "${wdone[3]:-}" ]; }
# shellcheck disable=SC2016 # expanded when the hook runs
cleanup_hooks=('for k in 1 2 3; do kill -KILL -- -"${wpid[$k]}" 2>/dev/null; done' "${cleanup_hooks[@]}")

check "hub: up" hub_up
for k in 1 2 3; do worker_up "$k"; done
check "chaos: the first deliveries arrive" \
    until_ok 60 sh -c "[ \"\$(sqlite3 -cmd '.timeout 5000' '$db' 'SELECT count(*) FROM pings' 2>/dev/null || echo 0)\" -gt 0 ]"

# The first six faults are the six kinds in a random order, so each
# happens at least once; the rest are drawn at random.
kinds=(0 1 2 3 4 5)
for ((i = 5; i > 0; i--)); do
	j=$((RANDOM % (i + 1)))
	t=${kinds[i]} kinds[i]=${kinds[j]} kinds[j]=$t
done
faults=0 start=$(date +%s) log=
while [ "$faults" -lt 14 ] && [ $(($(date +%s) - start)) -lt 40 ] &&
    { [ "$faults" -lt 6 ] || ! all_done; }; do
	k=$((RANDOM % 3 + 1))
	kind=${kinds[faults]:-$((RANDOM % 6))}
	case $kind in
	0) f="the sink"
	   kill -KILL "$(cat "$hub/sqlsink.pid" 2>/dev/null)" 2>/dev/null ;;
	1) f="the listener"
	   ns_pids "$hubns" TCP-LISTEN: | xargs -r kill -KILL 2>/dev/null ;;
	2) f="the whole hub"
	   hub_kill ;;
	3) f="worker c$k's group"
	   if [ -z "${wdone[$k]:-}" ]; then
		kill -KILL -- -"${wpid[$k]}" 2>/dev/null
		wait "${wpid[$k]}" 2>/dev/null
		worker_up "$k"
	   fi ;;
	4) f="worker c$k's shipper"
	   ns_pids "$(nsof "$k")" "hopmap-ship send -q " | xargs -r kill -KILL 2>/dev/null ;;
	5) f="worker c$k's link"
	   ip -n "$(nsof "$k")" link set to-r1 down ;;
	esac
	faults=$((faults + 1))
	log="$log; $f"
	# A fault lasts a random 0.5 to 2.5 s, then what it broke is mended
	# (the hub has to be started again; the sink and a shipper are
	# restarted by their supervisors).
	sleep "$((RANDOM % 3)).$((RANDOM % 10))"
	if [ "$(ip -n "$(nsof "$k")" -br link show to-r1 | awk '{ print $2 }')" = DOWN ]; then
		ip -n "$(nsof "$k")" link set to-r1 up
		vaddr=$(awk -v v="$( [ "$k" = 1 ] && echo v || echo "v$k")" \
		    '$1 == "vantage" && $2 == v { print $3 }' "$LAB_TOPO")
		ip -n "$(nsof "$k")" route replace 198.18.0.0/15 \
		    via "${vaddr%.*}.$((${vaddr##*.} + 1))"
	fi
	if ! alive "$hubpid"; then
		hub_kill
		hub_up || echo "# the hub did not come back"
	fi
done
echo "# $faults faults in $(($(date +%s) - start)) s:${log#;}"
check "chaos: every kind of fault happened" test "$faults" -ge 6
check "chaos: after the faults, every worker finishes (exit 0)" until_ok 240 all_done
for k in 1 2 3; do
	same "worker c$k: spool empty" "$(ls "$T/w$k/spool/"*.seg 2>/dev/null | wc -l)" 0
done
awk 'match($0, /"id":"[^"]*"/) { print substr($0, RSTART + 6, RLENGTH - 7) }' \
    "$T"/tap[123] | sort -u >"$T/produced"
q "$db" 'SELECT rid FROM pings' | sort >"$T/stored"
check "chaos: results were produced ($(wc -l <"$T/produced"))" test -s "$T/produced"
same "chaos: every result produced is stored" "$(comm -23 "$T/produced" "$T/stored" | head -n 5)" ""
same "chaos: nothing stored that no worker produced" "$(comm -13 "$T/produced" "$T/stored" | sort -u | head -n 5)" ""
same "chaos: each result stored once" "$(uniq -d "$T/stored" | head -n 5)" ""
same "chaos: every seed probed" \
    "$(q "$db" "SELECT count(DISTINCT ip) FROM pings WHERE src IS NOT 'hop'")" \
    "$(cidr-expand -R -c "$seeds")"
hub_kill
same "chaos: the database is intact" "$(q "$db" 'PRAGMA integrity_check')" ok
