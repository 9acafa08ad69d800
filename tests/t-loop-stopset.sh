# hopmap-loop's stop set (issue 12: kept across runs): tracehop gets
# --stop-set DIR/stopset each round (--no-stop-set turns it off); a second
# round on the same targets sends fewer probes and finds the same links,
# none false; the file refused when others could write it; a round killed
# under way, or a file cut short as a killed write leaves it, never makes
# a later round fail.  Probes go only into this test's namespaces.
. "$(dirname "$0")/lib.sh"
top=$HOPMAP_TOP
page=$top/man/hopmap-loop.1

check "--help: --no-stop-set" sh -c "hopmap-loop --help | grep -q -- '--no-stop-set'"
check "man page: --no-stop-set" grep -q '^\.It Fl -no-stop-set' "$page"
check "man page: the stop set's file" grep -q '^\.It Pa stopset' "$page"
check "tracehop(1): --stop-set-age" grep -q '^\.It Fl -stop-set-age' "$top/man/tracehop.1"

if [ "$(id -u)" != 0 ] || ! ip netns list >/dev/null 2>&1; then
	skip "lab tests: they need root and network namespaces"
	exit 0
fi
. "$HOPMAP_TOP/tests/lab/lab.sh"
# shellcheck disable=SC2016
cleanup_hooks+=('lab_down "$LAB_PREFIX"')
if ! lab_up "hmls$$"; then
	echo "not ok - the lab could not be built"
	exit 1
fi
LA=(-R --netns "$LAB_VANTAGE" --rate 2000 --timeout 2s --trace-rate 2000
    --wait 1s --no-extract -n 200 --once)
loop() { hopmap-loop "${LA[@]}" "$@"; }
V() { ip netns exec "$LAB_VANTAGE" "$@"; }
# The same targets again: the seeds start over and nothing is cooling.
again() { rm -f "$1/resume" "$1/cooldown.db"; }
probes() { jq -s 'map(.trace.probes // 0) | add' "$1"; }
# Links between consecutive router hops (spliced ones too), and the
# lab's own links: a found link not among them is false.
links() {
	jq -r 'select(.trace) | [.trace.hops[].ip] | . as $h |
	    range(0; length - 1) | "\($h[.]) \($h[. + 1])"' "$1" |
	    grep -v 'null\| 198\.19\.' | sort -u
}
awk '$1 == "link" { print $2, $3 }' "$LAB_TOPO" | sort -u >"$T/truth"

# Waits long enough for a loaded machine (a late reply is a lost hop).
# Targets behind r2a (TTL 4), behind the silent r3b, and behind the diamond.
printf '%s\n' 198.19.1.0/27 198.19.2.0/28 198.19.3.0/27 >"$T/seeds"
S=$T/s
run loop -d "$S" "$T/seeds"
same "round 1: exit 0, nothing on stdout" "$rc:$(cat "$T/out")" "0:"
check "round 1: no sanitizer report" no_sanitizer_report "$T/err"
cp "$S/round.ndjson" "$T/r1.ndjson"
check "round 1: the stop set kept in the state directory" test -s "$S/stopset"
same "round 1: the file is root's, 0644 (tracehop ran as nobody)" \
    "$(stat -c %U:%a "$S/stopset")" "root:644"
check "round 1: the file names the routers near home" \
    grep -q "^$(awk '$2 == "r1" { sub("addr=", "", $3); print $3 }' "$LAB_TOPO") 1 - [0-9]*\$" "$S/stopset"
links "$T/r1.ndjson" >"$T/l1"
check "round 1: links found ($(wc -l <"$T/l1"))" test "$(wc -l <"$T/l1")" -ge 5
same "round 1: no false link" "$(comm -23 "$T/l1" "$T/truth")" ""

again "$S"
run loop -d "$S" "$T/seeds"
same "round 2: exit 0" "$rc:$(cat "$T/out")" "0:"
cp "$S/round.ndjson" "$T/r2.ndjson"
p1=$(probes "$T/r1.ndjson") p2=$(probes "$T/r2.ndjson")
check "round 2 on the same targets: fewer probes ($p2 < $p1)" test "$p2" -lt "$p1"
same "round 2: as many traces" "$(grep -c '"trace":{' "$T/r2.ndjson")" \
    "$(grep -c '"trace":{' "$T/r1.ndjson")"
check "round 2: hops taken from the stop set" \
    jq -e 'select(.trace.hops[]?.stop_set)' "$T/r2.ndjson" >/dev/null
links "$T/r2.ndjson" >"$T/l2"
same "round 2: the same links" "$(comm -3 "$T/l1" "$T/l2")" ""
same "round 2: no false link" "$(comm -23 "$T/l2" "$T/truth")" ""

# --no-stop-set: passed through; every hop probed, no file.
N=$T/nss
run loop -d "$N" --no-stop-set "$T/seeds"
same "--no-stop-set: exit 0" "$rc" 0
check "--no-stop-set: no stop set file" test ! -e "$N/stopset"
same "--no-stop-set: no hop taken from a stop set" \
    "$(jq -s '[.[].trace.hops[]? | select(.stop_set)] | length' "$N/round.ndjson")" 0
again "$N"
run loop -d "$N" --no-stop-set "$T/seeds"
check "--no-stop-set: a second round probes as much as round 1 did with one ($(probes "$N/round.ndjson") >= $p1)" \
    test "$(probes "$N/round.ndjson")" -ge "$p1"

# A file others may write could feed false links: refused, said, and the
# round fails (redone once it is fixed); one owned by nobody too.
chmod 666 "$S/stopset"
again "$S"
run loop -d "$S" "$T/seeds"
same "stop set writable by others: the round fails (exit 3)" "$rc" 3
check "stop set writable by others: said" grep -q \
    "tracehop: --stop-set $S/stopset: group or others may write it (mode 0666): refused" "$T/err"
chmod 644 "$S/stopset"
chown nobody "$S/stopset"
run loop -d "$S" "$T/seeds"
check "stop set owned by nobody: refused, said" grep -q \
    "tracehop: --stop-set $S/stopset: owned by uid $(id -u nobody), neither root nor uid 0" "$T/err"
chown root "$S/stopset"
run loop -d "$S" "$T/seeds"
same "fixed: the round is redone, exit 0" "$rc:$(grep -c 'redoing the interrupted round' "$T/err")" "0:1"

# A write killed half-way leaves the new set's first lines and one cut
# short: the next round says so, skips it, keeps the rest, finds the same
# links (none false), and leaves a whole file.
grep -v '^#' "$S/stopset" >"$T/whole"
n=$(wc -l <"$S/stopset")
{ head -n $((n / 2)) "$T/whole"; sed -n "$((n / 2 + 1))p" "$T/whole" | cut -c 1-9 | tr -d '\n'; } \
    >"$S/stopset"
again "$S"
run loop -d "$S" "$T/seeds"
same "file cut short: the round succeeds" "$rc" 0
check "file cut short: said, with the file and line" grep -q \
    "tracehop: $S/stopset:[0-9]*: cut short (no newline at the end: written by a run that was stopped), skipped" "$T/err"
links "$S/round.ndjson" >"$T/l3"
same "file cut short: the same links, none false" "$(comm -3 "$T/l1" "$T/l3")" ""
same "file cut short: the file is whole again (every router back)" \
    "$(grep -v '^#' "$S/stopset" | cut -d ' ' -f 1-2 | sort)" "$(cut -d ' ' -f 1-2 "$T/whole" | sort)"
run V tracehop --stop-set "$S/stopset" </dev/null
same "file cut short: rewritten whole, tracehop reads it without a word" "$rc:$(cat "$T/err")" "0:"

# A second name for the file could be any file of its owner's: refused.
: >"$T/one"
ln "$T/one" "$T/two"
run V tracehop --stop-set "$T/two" </dev/null
same "a stop set with two hard links: refused, exit 3" "$rc:$(cat "$T/err")" \
    "3:tracehop: --stop-set $T/two: 2 hard links: refused"

# --stop-set-age: a line not seen for longer is forgotten, and the link
# into the router after it; 0 keeps everything.
printf '198.18.0.2 1 - 1000\n198.18.0.3 2 198.18.0.2 %s\n' "$(date +%s)" >"$T/aged"
run V tracehop --stop-set "$T/aged" --stop-set-age 0 </dev/null
same "--stop-set-age 0: nothing forgotten, nothing rewritten" "$rc:$(cat "$T/err"):$(wc -l <"$T/aged")" "0::2"
run V tracehop --stop-set "$T/aged" --stop-set-age 1d </dev/null
same "--stop-set-age 1d: the old router forgotten, the link into the next one with it" \
    "$rc:$(grep -v '^#' "$T/aged" | cut -d ' ' -f 1-3)" "0:198.18.0.3 2 -"
run V tracehop --stop-set "$T/aged" --stop-set-age soon </dev/null
same "--stop-set-age soon: exit 2, says why" "$rc:$(cat "$T/err")" \
    "2:tracehop: stop-set-age value is invalid: soon"

# A round killed while tracehop runs (a dark target keeps icmpprobe, so
# tracehop's input, open): tracehop never wrote, the file is as it was.
cp "$S/stopset" "$T/before"
printf '%s\n' 198.19.1.0/28 198.19.200.1 >"$T/seeds.dark"
again "$S"
hopmap-loop -R --netns "$LAB_VANTAGE" --rate 2000 --timeout 20s --trace-rate 2000 \
    --wait 300ms --no-extract -n 200 --once -d "$S" "$T/seeds.dark" >"$T/k.out" 2>"$T/k.err" &
lp=$!
tp=
# tracehop is the process whose command line names this state's stop set.
find_tracehop() { tp=$(pgrep -f -- "--stop-set $S/stopset" | head -n 1); [ -n "$tp" ]; }
traced() { [ "$(grep -c '"trace":{' "$S/round.partial" 2>/dev/null)" -ge 16 ]; }
under_way() { find_tracehop && traced; }
check "killed round: tracehop under way, the live targets traced" until_ok 60 under_way
find_tracehop && kill -9 "$tp"
wait "$lp"
same "killed round: the loop says the stage failed (exit 3)" "$?" 3
same "killed round: the stop set as it was" "$(cmp "$T/before" "$S/stopset" && echo same)" same
run loop -d "$S" "$T/seeds.dark"
same "after the killed round: redone, exit 0" "$rc:$(grep -c 'redoing the interrupted round' "$T/err")" "0:1"
check "after the killed round: no sanitizer report" no_sanitizer_report "$T/err" "$T/k.err"
