#!/usr/bin/env bash
# cidr-expand: the bundled real lists, dedup, exclusions, shards, shuffle,
# resume across SIGTERM and SIGKILL, errors, every option.
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

lines() { wc -l <"$1" | tr -d ' '; }

# ---- the bundled lists expand to the counts their SOURCE.md gives ----
# Columns: file, lines, v4, v6, comments, blank, sum, unique, unique-excluded.
table=$(grep '^| [a-z].*\.txt |' "$RANGES/SOURCE.md")
same "SOURCE.md lists four files" "$(echo "$table" | wc -l | tr -d ' ')" 4
while IFS='|' read -r _ file _ _ v6 _ _ _ uniq excl _; do
	read -r file <<<"$file"
	read -r v6 <<<"$v6"
	read -r uniq <<<"$uniq"
	read -r excl <<<"$excl"
	run cidr-expand -p "$RANGES/$file"
	same "$file: exit status" "$rc" 0
	same "$file: $excl unique addresses, special-purpose excluded" \
	    "$(sort -u "$T/out" | wc -l | tr -d ' ')" "$excl"
	same "$file: no address twice" "$(lines "$T/out")" "$excl"
	if [ "$v6" -gt 0 ]; then
		same "$file: IPv6 lines counted on stderr" "$(cat "$T/err")" \
		    "cidr-expand: $v6 IPv6 lines skipped (IPv4 only)"
	else
		same "$file: nothing on stderr" "$(cat "$T/err")" ""
	fi
	run cidr-expand -R -c "$RANGES/$file"
	same "$file: -R keeps special-purpose: $uniq" "$(cat "$T/out")" "$uniq"
done <<<"$table"

run cidr-expand -p "$RANGES"/*.txt
sort -t. -k1,1n -k2,2n -k3,3n -k4,4n "$T/out" >"$T/all.sorted"
same "all four lists together: each address once" \
    "$(sort -u "$T/all.sorted" | wc -l | tr -d ' ')" "$(lines "$T/out")"
same "the plain order is numeric address order" "$(cmp "$T/out" "$T/all.sorted" && echo same)" same

# vultr's quirks: three documentation /24s, and a /24 listed inside a /19.
run cidr-expand "$RANGES/vultr.txt"
check "JSON records are valid, with ip, cidr and src" \
    jq -e -s 'all(.[]; (.ip|type)=="string" and (.cidr|type)=="string"
        and .src=="'"$RANGES/vultr.txt"'") and length == 1022976' "$T/out"
same "documentation prefixes excluded by default" \
    "$(grep -c '"ip":"\(192\.0\.2\|198\.51\.100\|203\.0\.113\)\.' "$T/out")" 0
same "the overlapping /24 comes once, labelled by the line that listed it first" \
    "$(jq -r 'select(.ip|startswith("208.167.225.")) | .cidr' "$T/out" | sort | uniq -c | tr -s ' ')" \
    " 256 208.167.225.0/24"
same "the rest of the /19 keeps its own label" \
    "$(jq -r 'select(.cidr=="208.167.224.0/19") | .ip' "$T/out" | wc -l | tr -d ' ')" \
    $((8192 - 256))
run cidr-expand -R -p "$RANGES/vultr.txt"
same "-R keeps the documentation prefixes" \
    "$(grep -c '^\(192\.0\.2\|198\.51\.100\|203\.0\.113\)\.' "$T/out")" 768

# CRLF and comments: nothing of them leaks into records.
run cidr-expand "$RANGES/cloudflare-crlf.txt"
same "CRLF list: exit 0, quiet" "$rc:$(cat "$T/err")" "0:"
same "CRLF list: no carriage return in the records" \
    "$(grep -c $'\r' "$T/out")" 0
same "CRLF list: labels are the 15 CIDRs" \
    "$(jq -r .cidr "$T/out" | sort -u | wc -l | tr -d ' ')" 15

# ---- src: stdin is "-"; odd file names are escaped by the encoder ----
echo 192.88.100.0/31 | cidr-expand >"$T/out"
same "stdin's src is -" "$(jq -c . "$T/out" | head -n 1)" \
    '{"ip":"192.88.100.0","cidr":"192.88.100.0/31","src":"-"}'
name=$T/'we"ird\name'$'\t'.txt
printf '8.8.8.8 # google\n' >"$name"
run cidr-expand "$name"
same "a quote, backslash and tab in the file name survive as JSON" \
    "$(jq -r .src "$T/out")" "$name"
printf '9.9.9.9\n' >"$T/bad-utf8-"$'\xff'.txt
run cidr-expand "$T/bad-utf8-"$'\xff'.txt
same "a file name that is not UTF-8 still gives valid JSON" \
    "$(jq -r .src "$T/out")" "$T/bad-utf8-?.txt"

# ---- --exclude ----
printf '1.0.0.0/22\n' >"$T/in.txt"
printf '# block\n1.0.1.0/24\n1.0.2.7\n::/0\n' >"$T/ex1.txt"
printf '1.0.3.0-1.0.3.127\n' >"$T/ex2.txt"
run cidr-expand -p -x "$T/ex1.txt" --exclude "$T/ex2.txt" "$T/in.txt"
same "--exclude (twice) removes listed addresses" \
    "$(lines "$T/out"):$(grep -c '^1\.0\.1\.' "$T/out"):$(grep -c '^1\.0\.2\.7$' "$T/out"):$(grep -c '^1\.0\.3\.\([0-9]\|[0-9][0-9]\|1[01][0-9]\|12[0-7]\)$' "$T/out")" \
    "$((1024 - 256 - 1 - 128)):0:0:0"
same "--exclude: exit 0" "$rc" 0
run cidr-expand -p -x "$T/nonexistent" "$T/in.txt"
same "--exclude of a missing file: exit 2, nothing written" "$rc:$(lines "$T/out")" "2:0"
same "--exclude of a missing file: says which" "$(cat "$T/err")" \
    "cidr-expand: $T/nonexistent: No such file or directory"

# ---- bad lines: file:line, skipped, counted, exit 1 ----
printf '1.2.3.0/30\n1.2.3.0/33\n\n  # fine\n5.6.7.8/2x\n1.2.3.9-1.2.3.8\nfoo bar\n300.1.1.1\n4.4.4.4/32 # ok\n' >"$T/bad.txt"
run cidr-expand -p "$T/bad.txt"
same "bad lines: exit 1" "$rc" 1
same "bad lines: good ones kept" "$(tr '\n' ' ' <"$T/out")" \
    "1.2.3.0 1.2.3.1 1.2.3.2 1.2.3.3 4.4.4.4 "
same "bad lines: each reported with file:line" "$(cat "$T/err")" \
"cidr-expand: $T/bad.txt:2: bad prefix length 33
cidr-expand: $T/bad.txt:5: bad prefix length 2x
cidr-expand: $T/bad.txt:6: range ends before it starts: 1.2.3.9-1.2.3.8
cidr-expand: $T/bad.txt:7: not an address, prefix or range: foo bar
cidr-expand: $T/bad.txt:8: not an address, prefix or range: 300.1.1.1"
run cidr-expand -p --strict "$T/bad.txt"
same "--strict: stops at the first bad line, writes nothing, exit 1" \
    "$rc:$(lines "$T/out"):$(cat "$T/err")" \
    "1:0:cidr-expand: $T/bad.txt:2: bad prefix length 33"
run cidr-expand -p "$T/missing.txt" "$T/in.txt"
same "a missing input is reported, the rest expanded, exit 1" \
    "$rc:$(lines "$T/out"):$(cat "$T/err")" \
    "1:1024:cidr-expand: $T/missing.txt: No such file or directory"
{ printf '7.7.7.7\n'; head -c 200 /dev/zero | tr '\0' 1; printf '\n8.8.8.8\n'; } >"$T/long.txt"
run cidr-expand -p --max-line 100 "$T/long.txt"
same "--max-line: an over-long line is reported and skipped" \
    "$rc:$(tr '\n' ' ' <"$T/out"):$(cat "$T/err")" \
    "1:7.7.7.7 8.8.8.8 :cidr-expand: $T/long.txt:2: line too long (more than 100 bytes), skipped"
head -c 100000 /dev/urandom >"$T/junk.bin"
printf '\n1.1.1.1\n' >>"$T/junk.bin"
run cidr-expand -p "$T/junk.bin"
check "binary junk: no crash, last good line kept" \
    test "$rc" = 1 -a "$(tail -n 1 "$T/out")" = 1.1.1.1
check "no sanitizer report on junk" no_sanitizer_report "$T/err"

# ---- --count, --limit ----
run cidr-expand -c "$RANGES/vultr.txt"
same "--count prints the number only" "$rc:$(cat "$T/out")" "0:1022976"
run cidr-expand -p -n 1000 "$RANGES/vultr.txt"
same "--limit 1000 writes 1000" "$rc:$(lines "$T/out")" "0:1000"
same "--limit keeps the order's start" "$(head -n 1 "$T/out")" 43.224.32.0
run cidr-expand -c --limit 7 -s 2/3 "$RANGES/vultr.txt"
same "--count honours --limit" "$(cat "$T/out")" 7
run cidr-expand -c -s 3/4 "$RANGES/vultr.txt"
same "--count of a shard" "$(cat "$T/out")" $((1022976 / 4))

# ---- shard and shuffle: every address exactly once across N nodes ----
# A few hundred thousand addresses with overlaps and odd sizes.
printf '20.0.0.0/14\n20.1.0.0/16\n21.0.0.7-21.0.200.3\n22.0.0.1\n20.3.255.255\n' >"$T/mix.txt"
cidr-expand -p "$T/mix.txt" >"$T/mix.plain"
sort "$T/mix.plain" >"$T/mix.sorted"
total=$(lines "$T/mix.plain")
same "mixed list size" "$total" $((262144 + 51197 + 1))
for n in 3 7; do
	for seed in 1 987654321; do
		: >"$T/union"
		for k in $(seq 1 $n); do
			cidr-expand -p --shuffle="$seed" -s "$k/$n" "$T/mix.txt" >>"$T/union"
		done
		sort "$T/union" >"$T/union.sorted"
		same "shuffle seed $seed, $n shards: union is every address once" \
		    "$(cmp "$T/union.sorted" "$T/mix.sorted" && echo same)" same
	done
	: >"$T/union"
	for k in $(seq 1 $n); do
		cidr-expand -p --shard "$k/$n" "$T/mix.txt" >>"$T/union"
	done
	same "$n plain shards: union is every address once" \
	    "$(sort "$T/union" | cmp - "$T/mix.sorted" && echo same)" same
done
cidr-expand -p --shuffle=5 "$T/mix.txt" >"$T/shuf"
same "--shuffle changes the order" "$(cmp -s "$T/shuf" "$T/mix.plain" || echo differs)" differs
same "--shuffle keeps the set" "$(sort "$T/shuf" | cmp - "$T/mix.sorted" && echo same)" same
same "--shuffle: the first 1000 are spread over all the big /16s" \
    "$(( $(head -n 1000 "$T/shuf" | cut -d. -f1-2 | sort -u | wc -l) >= 5 ))" 1
same "--shuffle: the first 256 are not from one /24" \
    "$(( $(head -n 256 "$T/shuf" | cut -d. -f1-3 | sort -u | wc -l) > 200 ))" 1
run cidr-expand -p --shuffle "$T/mix.txt"
seed=$(sed -n 's/^cidr-expand: shuffle seed \([0-9]*\) (repeat this order with --shuffle=\1)$/\1/p' "$T/err")
check "--shuffle without a seed prints the seed it chose" test -n "$seed"
cidr-expand -p --shuffle="$seed" "$T/mix.txt" >"$T/again"
same "that seed repeats the order" "$(cmp "$T/out" "$T/again" && echo same)" same
run cidr-expand -p --shuffle=1 -s 1/1000000 "$T/mix.txt"
same "more shards than a shard's worth: still fine" "$rc:$(lines "$T/out")" "0:1"

# Memory follows ranges, not addresses: all of IPv4 in 64 MB of address
# space (the optimized build; ASan's shadow memory needs more).
same "0.0.0.0/0 shuffled within a 64 MB memory limit" \
    "$( (ulimit -v 65536; echo 0.0.0.0/0 | "$HOPMAP_OPT_BIN/cidr-expand" -p -R --shuffle=1 -n 100000) | sort -u | wc -l | tr -d ' ')" 100000

# ---- --resume ----
resume_args=(-p --checkpoint 5000 -r "$T/st" "$T/mix.txt")
# Kill a run mid-way, deterministically: the reader takes 400000 bytes and
# pauses, so the writer fills the pipe and blocks; then the signal; then the
# reader drains what the writer had written.  kill_midway SIGNAL OUTFILE
kill_midway() {
	rm -f "$T/fifo"
	mkfifo "$T/fifo"
	cidr-expand "${resume_args[@]}" >"$T/fifo" 2>"$T/kerr" &
	local pid=$!
	exec 3<"$T/fifo"
	head -c 400000 <&3 >"$2"
	sleep 0.3
	kill -"$1" "$pid"
	cat <&3 >>"$2"
	exec 3<&-
	wait "$pid"
	krc=$?
	# Writes to a pipe are whole records of at most PIPE_BUF bytes, so
	# not even SIGKILL leaves half a line behind.
	torn=$(tail -c 1 "$2" | od -An -c | tr -d ' ')
}

rm -f "$T/st"
kill_midway TERM "$T/part1"
same "SIGTERM: exits 0" "$krc" 0
check "SIGTERM: says it stopped and where the progress is" \
    grep -q "^cidr-expand: stopped by a signal after [0-9]* addresses; progress saved in $T/st\$" "$T/kerr"
check "SIGTERM: stopped mid-run" test "$(lines "$T/part1")" -lt "$total"
same "SIGTERM: the state counts exactly what was written" \
    "$(sed -n 's/^done //p' "$T/st")" "$(lines "$T/part1")"
run cidr-expand "${resume_args[@]}"
same "after SIGTERM, the rerun continues: exit 0" "$rc" 0
same "after SIGTERM: both runs together are the full output, in order" \
    "$(cat "$T/part1" "$T/out" | cmp - "$T/mix.plain" && echo same)" same
same "the state says finished" "$(sed -n 's/^finished //p' "$T/st")" yes
run cidr-expand "${resume_args[@]}"
same "a finished state: the rerun writes nothing, exit 0" "$rc:$(lines "$T/out")" 0:0
same "a finished state: says so" "$(cat "$T/err")" \
    "cidr-expand: $T/st: finished, all $total addresses were written; nothing to do"

rm -f "$T/st"
resume_args=(-p --shuffle=77 -s 2/3 --checkpoint 5000 -r "$T/st" "$T/mix.txt")
cidr-expand -p --shuffle=77 -s 2/3 "$T/mix.txt" >"$T/want"
kill_midway KILL "$T/part1"
same "SIGKILL: killed" "$krc" 137
same "SIGKILL: the pipe holds whole records only" "$torn" '\n'
check "SIGKILL: killed mid-run" test "$(lines "$T/part1")" -lt "$(lines "$T/want")"
run cidr-expand "${resume_args[@]}"
same "after SIGKILL, the rerun finishes: exit 0" "$rc" 0
cat "$T/part1" "$T/out" >"$T/both"
same "after SIGKILL: no address missing" \
    "$(sort -u "$T/both" | cmp - <(sort "$T/want") && echo same)" same
repeated=$(( $(lines "$T/both") - $(lines "$T/want") ))
check "after SIGKILL: at most one checkpoint interval repeated ($repeated)" \
    test "$repeated" -ge 0 -a "$repeated" -le 5000
same "after SIGKILL: the rerun's output is the order's tail" \
    "$(tail -n "$(lines "$T/out")" "$T/want" | cmp - "$T/out" && echo same)" same

# Batches with --limit: a cron job doing 100000 a run covers everything once.
rm -f "$T/st"
: >"$T/batches"
for i in 1 2 3 4; do
	cidr-expand -p --shuffle -n 100000 -r "$T/st" "$T/mix.txt" >>"$T/batches" 2>"$T/err$i"
done
same "--limit batches with --resume: all, once" \
    "$(sort "$T/batches" | cmp - "$T/mix.sorted" && echo same)" same
check "the random seed is said once, then kept in the state" \
    test "$(cat "$T/err1" "$T/err2" "$T/err3" | grep -c 'shuffle seed')" -eq 1
same "the last batch is short; later runs write nothing" \
    "$(cidr-expand -p --shuffle -n 100000 -r "$T/st" "$T/mix.txt" 2>/dev/null | wc -l | tr -d ' ')" 0

# A state for other inputs or options is refused.
rm -f "$T/st"
cidr-expand -p -n 10 -s 1/2 --shuffle=3 -r "$T/st" "$T/mix.txt" >/dev/null
for args in "-s 2/2 --shuffle=3" "-s 1/2 --shuffle=4" "-s 1/2" "-s 1/2 --shuffle=3 -R" \
    "-s 1/2 --shuffle=3 -x $T/ex1.txt"; do
	# shellcheck disable=SC2086
	run cidr-expand -p $args -r "$T/st" "$T/mix.txt"
	same "resume refused with changed options ($args): exit 2, nothing written" \
	    "$rc:$(lines "$T/out")" 2:0
	check "resume refused ($args): says why" grep -q "saved for other inputs or options" "$T/err"
done
{ cat "$T/mix.txt"; printf '1.0.0.0/8\n'; } >"$T/mix2.txt"
run cidr-expand -p -s 1/2 --shuffle=3 -r "$T/st" "$T/mix2.txt"
same "resume refused with other ranges: exit 2" "$rc" 2
run cidr-expand -p -s 1/2 --shuffle=3 -r "$T/st" "$T/mix.txt"
same "the same options resume: 10 fewer" "$rc:$(lines "$T/out")" \
    "0:$(( $(cidr-expand -c -s 1/2 "$T/mix.txt") - 10 ))"
run cidr-expand -p -r "$T/no/such/dir/st" "$T/mix.txt"
same "a state that cannot be saved: exit 3 before any output" "$rc:$(lines "$T/out")" 3:0
printf 'garbage\n' >"$T/st"
run cidr-expand -p -r "$T/st" "$T/mix.txt"
same "a file that is not a state: exit 2" "$rc:$(lines "$T/out")" 2:0

# ---- other options ----
run cidr-expand -p -R "$T/in.txt"
check "-p writes bare addresses" grep -qx 1.0.0.0 "$T/out"
echo 10.0.0.0/30 >"$T/priv.txt"
run cidr-expand -p -r "$T/priv.st" "$T/priv.txt"
same "special-purpose excluded by default: nothing left, exit 1" "$rc:$(lines "$T/out")" 1:0
same "special-purpose: which block took how many, why, and what keeps them" "$(cat "$T/err")" \
    "cidr-expand: 4 addresses in 10.0.0.0/8 (Private-Use) left out: special-purpose
cidr-expand: no address left to write: -R (--allow-reserved) keeps the special-purpose ones"
check "special-purpose, nothing left: no state saved" test ! -e "$T/priv.st"
printf '10.0.0.0/31\n192.0.2.0/31\n' >"$T/priv2.txt"
run cidr-expand -p -x "$T/priv2.txt" "$T/priv2.txt"
same "excluded with -x as well: no word of the table" "$rc:$(cat "$T/out" "$T/err")" "0:"
run cidr-expand -p -r "$T/priv.st" -x "$T/priv.txt" "$T/priv.txt"
same "a state with nothing done (all excluded)" "$rc:$(sed -n 's/^done //p' "$T/priv.st")" 0:0
run cidr-expand -p -R -r "$T/priv.st" "$T/priv.txt"
same "a state with nothing done is replaced by other options, not refused" \
    "$rc:$(lines "$T/out")" 0:4
run cidr-expand -p --allow-reserved "$T/priv.txt"
same "--allow-reserved keeps them" "$(tr '\n' ' ' <"$T/out")" "10.0.0.0 10.0.0.1 10.0.0.2 10.0.0.3 "
run cidr-expand -p --metrics "$T/m.prom" "$T/in.txt"
check "--metrics writes addresses_out" \
    grep -qx 'hopmap_addresses_out_total{program="cidr-expand"} 1024' "$T/m.prom"
run cidr-expand --help
lists_all() {
	local o
	for o in -p --plain -R --allow-reserved -x --exclude -s --shard --shuffle \
	    -r --resume --checkpoint -n --limit -c --count --metrics --strict \
	    --max-line --help --version; do
		grep -q -- "$o" "$1" || { echo "    missing $o"; return 1; }
	done
}
check "--help lists every option" lists_all "$T/out"
same "--help: exit 0, stderr empty" "$rc:$(cat "$T/err")" 0:
run cidr-expand --version
same "--version" "$rc:$(cat "$T/out")" "0:cidr-expand (hopmap) $(sed -n 's/.*HM_VERSION "\(.*\)"/\1/p' "$HOPMAP_TOP/lib/core/core.h")"
for bad in "-s 0/3" "-s 4/3" "-s 3" "--shuffle=x" "-n -1" "--checkpoint 0" "--bogus"; do
	# shellcheck disable=SC2086
	run cidr-expand $bad "$T/in.txt"
	same "bad command line ($bad): exit 2, no output" "$rc:$(lines "$T/out")" 2:0
done
run cidr-expand -s 4/3 "$T/in.txt"
same "bad shard says why" "$(head -n 1 "$T/err")" \
    "cidr-expand: shard number value is too large: 4 (range 1..3)"
run sh -c 'cidr-expand -p "$1" >/dev/full' sh "$T/in.txt"
same "a failed write: exit 3 with a message" "$rc:$(cat "$T/err")" \
    "3:cidr-expand: standard output: No space left on device"
run sh -c 'cidr-expand -pR "$1" | head -n 1' sh "$T/mix.txt"
same "a closed pipe ends it quietly" "$(cat "$T/out"):$(cat "$T/err")" "20.0.0.0:"
check "no sanitizer reports" no_sanitizer_report "$T/err" "$T/kerr"

# The man page's examples.
if command -v prips >/dev/null; then
	same "man page: -p -R prints what prips prints" \
	    "$(echo 198.18.0.0/24 | cidr-expand -p -R | cmp - <(prips 198.18.0.0/24) && echo same)" same
fi
same "man page: the count of vultr.txt" "$(cidr-expand -c "$RANGES/vultr.txt")" 1022976
