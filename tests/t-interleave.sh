# interleave: the adjacency property, every record exactly once, order within
# a subnet kept, and the buffer bound.
. "$(dirname "$0")/lib.sh"

# 60 /24s x 150 addresses, sorted, as NDJSON with a provenance field.
awk 'BEGIN { for (s = 0; s < 60; s++) for (h = 1; h <= 150; h++)
	printf "{\"ip\":\"10.%d.%d.%d\",\"src\":\"t\"}\n", int(s / 7), s, h }' >"$T/in"

# Same subnet twice in a row is allowed only once the window is down to one
# subnet, i.e. everything after that point is from that subnet.
adjacent_ok() { # $1 prefix length in octets (3 = /24)
	jq -r .ip | awk -F. -v k="$1" '
		{ key = $1; for (i = 2; i <= k; i++) key = key "." $i; ip[NR] = key }
		END {
			for (i = 2; i <= NR; i++) if (ip[i] == ip[i - 1])
				for (j = i; j <= NR; j++) if (ip[j] != ip[i]) { print "bad at " i; exit 1 }
		}'
}

# Each subnet's records in input order: the per-subnet subsequences match.
per_subnet() { jq -r .ip | awk -F. '{ print $1 "." $2 "." $3, NR, $0 }' | sort -k1,1 -k2,2n | awk '{ print $1, $3 }'; }

run interleave "$T/in"
same "exit status 0" "$rc" 0
same "no stderr" "$(cat "$T/err")" ""
check "every record exactly once" cmp -s <(sort "$T/in") <(sort "$T/out")
check "no two consecutive outputs share a /24 while two are open" adjacent_ok 3 <"$T/out"
check "order within each subnet is kept" cmp -s <(per_subnet <"$T/in") <(per_subnet <"$T/out")
check "fields pass through unchanged" test "$(jq -r .src "$T/out" | sort -u)" = t

for w in 2 3 17 100; do
	interleave -w "$w" "$T/in" >"$T/w$w" 2>"$T/err"
	check "window $w: every record once" cmp -s <(sort "$T/in") <(sort "$T/w$w")
	check "window $w: adjacency property" adjacent_ok 3 <"$T/w$w"
done

# A buffer far smaller than the input (64k holds about 7 of the 60 subnets):
# still exactly once, still interleaved.
interleave -b 64k -w 10 "$T/in" >"$T/small" 2>"$T/err"
check "64k buffer: every record once" cmp -s <(sort "$T/in") <(sort "$T/small")
check "64k buffer: adjacency property" adjacent_ok 3 <"$T/small"
# Smaller than one subnet: consecutive repeats are unavoidable, loss is not.
interleave -b 8k -w 10 "$T/in" >"$T/tiny" 2>"$T/err"
check "8k buffer: every record once" cmp -s <(sort "$T/in") <(sort "$T/tiny")

# /16 grouping on the same input: 9 /16s.
interleave -l 16 "$T/in" >"$T/l16"
check "-l 16: every record once" cmp -s <(sort "$T/in") <(sort "$T/l16")
check "-l 16: adjacency property by /16" adjacent_ok 2 <"$T/l16"

# Shuffled input with repeats: still exactly once each.
awk 'BEGIN { srand(7); for (i = 0; i < 20000; i++) printf "10.%d.%d.%d\n", int(rand()*3), int(rand()*40), int(rand()*256) }' >"$T/rand"
interleave -w 5 "$T/rand" >"$T/rand.out"
check "random input with duplicates: multiset kept" cmp -s <(sort "$T/rand") <(sort "$T/rand.out")

# Metrics file: written at exit, Prometheus text format.
interleave --metrics "$T/m.prom" "$T/in" >/dev/null
check "metrics: records_in counted" grep -qx 'hopmap_records_in_total{program="interleave"} 9000' "$T/m.prom"
check "metrics: records_out counted" grep -qx 'hopmap_records_out_total{program="interleave"} 9000' "$T/m.prom"
check "metrics: no temp file left" test -z "$(ls "$T" | grep 'm.prom.tmp')"

# --max-line: a line over the ceiling is refused whole, neighbours kept.
{ echo 1.1.1.1; printf '{"ip":"2.2.2.2","pad":"%0200d"}\n' 0; echo 3.3.3.3; } >"$T/long"
run interleave --max-line 100 "$T/long"
same "--max-line: exit 1" "$rc" 1
same "--max-line: neighbours kept" "$(sort "$T/out" | tr '\n' ' ')" "1.1.1.1 3.3.3.3 "
check "--max-line: reported with line number" grep -q "long:2: line too long" "$T/err"

# A slow producer: records flow before input ends (flush before waiting).
mkfifo "$T/fifo"
( interleave -w 1 <"$T/fifo" >"$T/slow" & echo $! >"$T/pid"; wait ) &
exec 3>"$T/fifo"
echo 1.1.1.1 >&3; echo 2.2.2.2 >&3
for _ in $(seq 600); do [ -s "$T/slow" ] && break; sleep 0.1; done
check "slow producer: output before end of input" test -s "$T/slow"
exec 3>&-
wait

# SIGTERM: exits cleanly, draining what it holds.
mkfifo "$T/fifo2"
interleave <"$T/fifo2" >"$T/term" 2>"$T/term.err" & pid=$!
exec 4>"$T/fifo2"
printf '10.0.0.1\n10.0.0.2\n10.0.1.1\n' >&4
sleep 0.5
kill -TERM $pid
wait $pid; trc=$?
exec 4>&-
same "SIGTERM: exit status 0" "$trc" 0
same "SIGTERM: held records written" "$(sort "$T/term" | tr '\n' ' ')" "10.0.0.1 10.0.0.2 10.0.1.1 "
