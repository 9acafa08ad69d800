# cooldown: drops within the period, passes after it, in memory and with
# --state (across restarts and across concurrent processes), bounded memory,
# bad input.
. "$(dirname "$0")/lib.sh"

# ---- command line ----
run cooldown --help
same "--help exits 0" "$rc" 0
check "--help lists every option" has_all "$T/out" -t --cooldown -s --state -m --max-entries --now --metrics --strict --max-line --help --version
run cooldown --version
same "--version exits 0" "$rc" 0
check "--version names the program" grep -q '^cooldown (hopmap) ' "$T/out"
run cooldown --bogus
same "unknown option exits 2" "$rc" 2
same "unknown option: nothing on stdout" "$(cat "$T/out")" ""
run cooldown -t 0 </dev/null
same "-t 0 exits 2" "$rc" 2
check "-t 0 says why" grep -q 'cooldown value is too small: 0' "$T/err"
run cooldown -t 5x </dev/null
same "-t 5x exits 2" "$rc" 2
run cooldown --now -5 </dev/null
same "--now -5 exits 2" "$rc" 2
run cooldown --state "$T/x.db" -m 5 </dev/null
same "--max-entries with --state exits 2" "$rc" 2
: >"$T/plain"
run cooldown --state "$T/plain/x.db" </dev/null
same "unopenable state file exits 3" "$rc" 3
check "unopenable state file is named" grep -q "cooldown: $T/plain/x.db: open" "$T/err"
echo 198.18.0.1 | (umask 022; cooldown --state "$T/new/sub/cd.db") >"$T/out" 2>"$T/err"
same "--state in a missing directory: made, with its parents" \
    "$(cat "$T/out" "$T/err"):$(stat -c %a "$T/new" "$T/new/sub" | tr '\n' ' ')" "198.18.0.1:755 755 "
check "--state in a missing directory: the state is there" test -s "$T/new/sub/cd.db"

# ---- in memory ----
printf '%s\n' 198.18.0.1 '{"ip":"198.18.0.2","src":"a"}' 198.18.0.1 \
    '{"ip":"198.18.0.1", "src":"b"}' '{"other":1}' '{"ip":"198.18.0.2"}' \
    198.18.0.3 >"$T/in"
run cooldown "$T/in"
same "memory: exit 0" "$rc" 0
same "memory: no stderr" "$(cat "$T/err")" ""
same "memory: repeats dropped, rest byte for byte, non-targets kept" \
    "$(cat "$T/out")" "$(printf '%s\n' 198.18.0.1 '{"ip":"198.18.0.2","src":"a"}' '{"other":1}' 198.18.0.3)"

# The real clock: a repeat after the period passes, one within it does not.
{ echo 198.18.1.1; sleep 1.5; echo 198.18.1.1; } | cooldown -t 1s >"$T/out" 2>"$T/err"
same "memory -t 1s: a repeat 1.5 s later passes" "$(cat "$T/out")" "$(printf '198.18.1.1\n198.18.1.1')"
{ echo 198.18.1.1; sleep 1.5; echo 198.18.1.2; } | cooldown -t 500ms --metrics "$T/m.prom" >/dev/null 2>&1
check "memory: an expired entry is purged as time goes on" grep -qx 'hopmap_cooldown_purged_total{program="cooldown"} 1' "$T/m.prom"
check "memory: the purged entry no longer counts" grep -qx 'hopmap_cooldown_entries{program="cooldown"} 1' "$T/m.prom"
{ echo 198.18.1.1; sleep 1.5; echo 198.18.1.1; } | cooldown --cooldown 1h >"$T/out" 2>"$T/err"
same "memory --cooldown 1h: a repeat 1.5 s later is dropped" "$(cat "$T/out")" 198.18.1.1

# --max-entries: the oldest is evicted, so it passes again (bounded memory).
printf '%s\n' 198.18.2.1 198.18.2.2 198.18.2.3 198.18.2.1 198.18.2.3 >"$T/in"
run cooldown --max-entries 2 --metrics "$T/m.prom" "$T/in"
same "--max-entries 2: the evicted oldest passes again" "$(cat "$T/out")" \
    "$(printf '%s\n' 198.18.2.1 198.18.2.2 198.18.2.3 198.18.2.1)"
check "--max-entries 2: evictions counted" grep -qx 'hopmap_cooldown_evicted_total{program="cooldown"} 2' "$T/m.prom"
check "--max-entries 2: entries gauge" grep -qx 'hopmap_cooldown_entries{program="cooldown"} 2' "$T/m.prom"
check "metrics: records_in" grep -qx 'hopmap_records_in_total{program="cooldown"} 5' "$T/m.prom"
check "metrics: passed" grep -qx 'hopmap_targets_passed_total{program="cooldown"} 4' "$T/m.prom"
check "metrics: dropped" grep -qx 'hopmap_targets_dropped_total{program="cooldown"} 1' "$T/m.prom"

# Many distinct addresses, with every one repeated: each passes once.
awk 'BEGIN { for (i = 0; i < 30000; i++) printf "198.%d.%d.%d\n", 18 + i % 2, int(i / 256) % 256, i % 256 }' >"$T/many"
cat "$T/many" "$T/many" | cooldown >"$T/out" 2>"$T/err"
check "memory: 60000 lines with repeats: 30000 pass, in order" cmp -s "$T/many" "$T/out"

# ---- --state: a restart, with --now standing for the clock ----
st=$T/state.db
printf '%s\n' 198.18.3.1 198.18.3.2 | cooldown --state "$st" --now 1000 -t 60s >"$T/out" 2>"$T/err"
same "state: first run passes both" "$(cat "$T/out")" "$(printf '198.18.3.1\n198.18.3.2')"
printf '%s\n' 198.18.3.1 198.18.3.3 | cooldown --state "$st" --now 1030 -t 60s >"$T/out" 2>"$T/err"
same "state: restart within the period drops the old, passes the new" "$(cat "$T/out")" 198.18.3.3
printf '%s\n' 198.18.3.1 198.18.3.2 198.18.3.3 | cooldown -s "$st" --now 1061 -t 60s --metrics "$T/m.prom" >"$T/out" 2>"$T/err"
same "state: after the period they pass again (3.3 is still cooling)" "$(cat "$T/out")" "$(printf '198.18.3.1\n198.18.3.2')"
check "state: stale rows purged at start" grep -qx 'hopmap_cooldown_purged_total{program="cooldown"} 2' "$T/m.prom"
same "state: the table holds each address with the time it passed" \
    "$(sqlite3 "$st" 'select ip, t from cooldown order by ip')" \
    "$(printf '%s\n' "$((198 << 24 | 18 << 16 | 3 << 8 | 1))|1061000" "$((198 << 24 | 18 << 16 | 3 << 8 | 2))|1061000" "$((198 << 24 | 18 << 16 | 3 << 8 | 3))|1030000")"
same "state: the file is in WAL mode" "$(sqlite3 "$st" 'pragma journal_mode')" wal

# Repeats inside one batch: the first line of an address wins.
printf '%s\n' '{"ip":"198.18.3.9","n":1}' 198.18.3.8 '{"ip":"198.18.3.9","n":2}' 198.18.3.8 |
    cooldown --state "$T/dup.db" --metrics "$T/m.prom" >"$T/out" 2>"$T/err"
same "state: repeats in one batch: the first passes" "$(cat "$T/out")" "$(printf '%s\n' '{"ip":"198.18.3.9","n":1}' 198.18.3.8)"
check "state: commits counted" grep -q '^hopmap_cooldown_commits_total{program="cooldown"} [1-9]' "$T/m.prom"
check "state: dropped counted" grep -qx 'hopmap_targets_dropped_total{program="cooldown"} 2' "$T/m.prom"

# The real clock across a restart.
cooldown --state "$T/real.db" "$T/many" >"$T/out1" 2>"$T/err"
cooldown --state "$T/real.db" "$T/many" >"$T/out2" 2>"$T/err"
check "state, real clock: the first run passes all 30000" cmp -s "$T/many" "$T/out1"
same "state, real clock: the second run passes none" "$(wc -c <"$T/out2")" 0

# Two concurrent processes, one new state file, the same 20,000 addresses
# (one reads them backwards, so they meet in the middle): each passes once.
head -n 20000 "$T/many" >"$T/20k"
tac "$T/20k" >"$T/20k.rev"
cooldown --state "$T/conc.db" "$T/20k" >"$T/c1" 2>"$T/e1" & p1=$!
cooldown --state "$T/conc.db" "$T/20k.rev" >"$T/c2" 2>"$T/e2" & p2=$!
wait $p1; r1=$?
wait $p2; r2=$?
same "concurrent: both exit 0" "$r1 $r2" "0 0"
same "concurrent: no stderr" "$(cat "$T/e1" "$T/e2")" ""
same "concurrent: 20000 lines in total" "$(cat "$T/c1" "$T/c2" | wc -l)" 20000
check "concurrent: every address exactly once" cmp -s <(sort "$T/20k") <(sort "$T/c1" "$T/c2")
echo "# concurrent split: $(wc -l <"$T/c1") + $(wc -l <"$T/c2")"

# Regression: two processes creating one state file at once raced for the
# switch to WAL, and one failed with "database is locked".
race_ok=1
for i in $(seq 10); do
	echo 198.18.6.1 | cooldown --state "$T/race$i.db" >"$T/r1" 2>"$T/re1" & p1=$!
	echo 198.18.6.1 | cooldown --state "$T/race$i.db" >"$T/r2" 2>"$T/re2" & p2=$!
	wait $p1 && wait $p2 || race_ok=0
	[ "$(cat "$T/r1" "$T/r2")" = 198.18.6.1 ] && [ ! -s "$T/re1" ] && [ ! -s "$T/re2" ] || race_ok=0
done
same "regression: new state file created by two processes at once, 10 times" "$race_ok" 1

# A batch's records leave when the input goes quiet, not when more arrives:
# the first record must come out while the writer still holds the pipe open.
mkfifo "$T/fifo"
cooldown --state "$T/trickle.db" <"$T/fifo" >"$T/trickle" 2>"$T/err" & cp=$!
exec 7>"$T/fifo"
echo 198.18.4.1 >&7
for _ in $(seq 600); do [ -s "$T/trickle" ] && break; sleep 0.1; done
same "state: a record comes out while the input is open and quiet" "$(cat "$T/trickle")" 198.18.4.1
exec 7>&-
wait $cp
same "state: trickle run exits 0" "$?" 0

# SIGTERM: stop reading, commit and write the batch, exit 0.
cooldown --state "$T/term.db" <"$T/fifo" >"$T/term" 2>"$T/err" & cp=$!
exec 7>"$T/fifo"
printf '%s\n' 198.18.4.2 198.18.4.3 >&7
for _ in $(seq 600); do [ "$(wc -l <"$T/term")" = 2 ] && break; sleep 0.1; done
kill -TERM $cp
wait $cp
same "SIGTERM: exit 0" "$?" 0
exec 7>&-
same "SIGTERM: the records are out" "$(cat "$T/term")" "$(printf '198.18.4.2\n198.18.4.3')"
same "SIGTERM: and recorded" "$(sqlite3 "$T/term.db" 'select count(*) from cooldown')" 2

# ---- bad input ----
{
	echo 198.18.5.1
	printf '\001\002\377\376junk\n'
	echo '{"ip":"198.18.5.2",'
	echo '{"ip":42}'
	echo '{"ip":"198.18.5.300"}'
	echo '{"ip":"2001:db8::1"}'
	printf '{"ip":"198.18.5.3"}\000x\n'
	printf '198.18.5.4\r\n'
	head -c 70000 /dev/zero | tr '\0' 'a'; echo
	echo '[1,2]'
	echo '{"ip":"198.18.5.5"}'
} >"$T/bad"
for mode in memory state; do
	if [ $mode = memory ]; then set --; else set -- --state "$T/bad.db"; fi
	run cooldown "$@" "$T/bad"
	same "$mode: bad input exits 1" "$rc" 1
	same "$mode: good lines kept" "$(cat "$T/out")" "$(printf '198.18.5.1\n198.18.5.4\n{"ip":"198.18.5.5"}')"
	same "$mode: bad lines reported with their numbers" "$(cut -d: -f1-3 "$T/err")" "$(printf "cooldown: $T/bad:%s\n" 2 3 4 5 6 7 9 10)"
	check "$mode: NUL byte named" grep -q "bad:7: NUL byte" "$T/err"
	check "$mode: no sanitizer report" no_sanitizer_report "$T/err"
done

run cooldown --strict "$T/bad"
same "--strict exits 1" "$rc" 1
same "--strict stops at the first bad line, keeps what came before" "$(cat "$T/out")" 198.18.5.1
same "--strict reports only the first" "$(wc -l <"$T/err")" 1
run cooldown --strict --state "$T/strict.db" "$T/bad"
same "--strict --state exits 1" "$rc" 1
same "--strict --state: the batch before the bad line is written" "$(cat "$T/out")" 198.18.5.1
same "--strict --state: and recorded" "$(sqlite3 "$T/strict.db" 'select count(*) from cooldown')" 1

run cooldown --max-line 100 "$T/bad"
check "--max-line 100 refuses the long line" grep -q 'bad:9: line too long (more than 100 bytes)' "$T/err"

run cooldown "$T/missing" "$T/in"
same "missing input file exits 1" "$rc" 1
check "missing input file reported" grep -q "cooldown: $T/missing" "$T/err"
same "missing input file: the others are read" "$(wc -l <"$T/out")" 3
