# hopextract: the right hops (not the destination, no special-purpose ones
# unless -R, silent ones skipped), dedup within a run, across runs with
# --state and across concurrent processes, bad input.
. "$(dirname "$0")/lib.sh"

# ---- command line ----
run hopextract --help
same "--help exits 0" "$rc" 0
check "--help lists every option" has_all "$T/out" -R --allow-reserved -p --passthrough -s --state -m --max-entries --metrics --strict --max-line --help --version
run hopextract -V
same "-V exits 0" "$rc" 0
check "-V names the program" grep -q '^hopextract (hopmap) ' "$T/out"
run hopextract -x
same "unknown option exits 2" "$rc" 2
run hopextract --max-entries 0 </dev/null
same "--max-entries 0 exits 2" "$rc" 2
run hopextract -s "$T/x.db" -m 5 </dev/null
same "--max-entries with --state exits 2" "$rc" 2
run hopextract --state /nonexistent/dir/x.db </dev/null
same "unopenable state file exits 3" "$rc" 3

# ---- which hops ----
cat >"$T/tr" <<'EOF'
{"ip":"203.0.113.7","node":"lon1","src":"aws.txt","trace":{"method":"icmp-paris","hops":[{"ttl":1,"ip":"192.168.1.1"},{"ttl":2,"ip":"100.64.0.1"},{"ttl":3,"ip":"11.0.0.3","rtt_ms":1.2},{"ttl":4,"ip":null},{"ttl":5},{"ttl":6,"ip":"11.0.0.6"},{"ttl":7,"ip":"203.0.113.7"}],"stop":"completed"}}
{"ip":"12.0.0.1","trace":{"hops":[{"ttl":1,"ip":"11.0.0.3"},{"ttl":2,"ip":"11.0.0.9"},{"ttl":3,"ip":"12.0.0.2"}],"stop":"completed"}}
{"ip":"12.0.0.5","node":{"name":"x"},"trace":{"hops":[{"ttl":1,"ip":"11.0.0.10"},{"ttl":2,"ip":"11.0.0.11"}],"stop":"gaplimit"}}
{"ip":"12.0.0.6"}
12.0.0.7
{"ping":{"ok":true}}
{"ip":"12.0.0.8","trace":{"hops":[]}}
{"ip":"12.0.0.9","trace":{"method":"icmp-paris","stop":"error"}}
EOF
run hopextract --metrics "$T/m.prom" "$T/tr"
same "exit 0" "$rc" 0
same "no stderr" "$(cat "$T/err")" ""
same "intermediate public hops, in trace order, each once" "$(jq -r .ip "$T/out")" \
    "$(printf '%s\n' 11.0.0.3 11.0.0.6 11.0.0.9 11.0.0.10 11.0.0.11)"
same "the record shape: the trace's node is found_by, not node" "$(head -n 1 "$T/out")" \
    '{"ip":"11.0.0.3","src":"hop","via":"203.0.113.7","ttl":3,"found_by":"lon1"}'
same "no found_by when the record has no node" "$(sed -n 3p "$T/out")" \
    '{"ip":"11.0.0.9","src":"hop","via":"12.0.0.1","ttl":2}'
same "found_by: the node's text whatever its form" "$(sed -n 4p "$T/out" | jq -c '[.found_by, .node]')" '[{"name":"x"},null]'
same "a trace that did not complete keeps its last hop" "$(tail -n 1 "$T/out" | jq -c '[.via,.ttl]')" '["12.0.0.5",2]'
check "metrics: traces" grep -qx 'hopmap_traces_total{program="hopextract"} 5' "$T/m.prom"
check "metrics: records without a trace are consumed and counted" grep -qx 'hopmap_records_no_trace_total{program="hopextract"} 3' "$T/m.prom"
check "metrics: hops emitted" grep -qx 'hopmap_hops_emitted_total{program="hopextract"} 5' "$T/m.prom"
check "metrics: duplicate hops" grep -qx 'hopmap_hops_duplicate_total{program="hopextract"} 1' "$T/m.prom"
check "metrics: reserved hops" grep -qx 'hopmap_hops_reserved_total{program="hopextract"} 2' "$T/m.prom"

run hopextract -R "$T/tr"
same "-R keeps special-purpose hops, still not the destination" "$(jq -r .ip "$T/out" | tr '\n' ' ')" \
    "192.168.1.1 100.64.0.1 11.0.0.3 11.0.0.6 11.0.0.9 11.0.0.10 11.0.0.11 "
run hopextract --allow-reserved -p "$T/tr"
same "--passthrough: every input record, then its hops" \
    "$(sed 's/^{"ip":"\([^"]*\)","src":"hop".*/hop \1/' "$T/out")" "$(
	head -n 1 "$T/tr"; printf 'hop %s\n' 192.168.1.1 100.64.0.1 11.0.0.3 11.0.0.6
	sed -n 2p "$T/tr"; echo 'hop 11.0.0.9'
	sed -n 3p "$T/tr"; printf 'hop %s\n' 11.0.0.10 11.0.0.11
	sed -n '4,$p' "$T/tr")"
same "--passthrough: input records byte for byte" "$(hopextract --passthrough "$T/tr" | grep -v '"src":"hop"')" "$(cat "$T/tr")"

# --max-entries: the oldest hop is forgotten, so it comes out again.
for h in 11.1.0.1 11.1.0.2 11.1.0.3 11.1.0.1; do
	printf '{"ip":"12.1.0.1","trace":{"hops":[{"ttl":1,"ip":"%s"}]}}\n' "$h"
done >"$T/evict"
same "--max-entries 2: the forgotten oldest hop is emitted again" "$(hopextract --max-entries 2 "$T/evict" | jq -r .ip | tr '\n' ' ')" \
    "11.1.0.1 11.1.0.2 11.1.0.3 11.1.0.1 "
same "default: a hop is emitted once" "$(hopextract "$T/evict" | jq -r .ip | tr '\n' ' ')" \
    "11.1.0.1 11.1.0.2 11.1.0.3 "

# ---- dedup across runs and processes ----
run hopextract --state "$T/s.db" "$T/tr"
same "state: first run emits the hops" "$(jq -r .ip "$T/out" | tr '\n' ' ')" "11.0.0.3 11.0.0.6 11.0.0.9 11.0.0.10 11.0.0.11 "
run hopextract -s "$T/s.db" "$T/tr"
same "state: second run emits nothing" "$(cat "$T/out")" ""
same "state: second run exits 0" "$rc" 0
echo '{"ip":"12.0.0.20","trace":{"hops":[{"ttl":1,"ip":"11.0.0.3"},{"ttl":2,"ip":"11.0.0.21"},{"ttl":3,"ip":"12.0.0.20"}]}}' |
    hopextract --state "$T/s.db" >"$T/out" 2>"$T/err"
same "state: a later run emits only the new hop" "$(jq -r .ip "$T/out")" 11.0.0.21
same "state: the table holds each emitted hop" "$(sqlite3 "$T/s.db" 'select count(*) from hopextract')" 6

# 5000 traces of 10 hops drawn from 20000 public and some private addresses
# (enough that two processes overlap).
awk 'BEGIN { srand(11)
	for (i = 0; i < 5000; i++) {
		printf "{\"ip\":\"12.2.%d.%d\",\"trace\":{\"hops\":[", int(i / 200), i % 200
		for (t = 1; t <= 10; t++) {
			r = int(rand() * 21000)
			if (t > 1) printf ","
			if (r >= 20500) printf "{\"ttl\":%d,\"ip\":null}", t
			else if (r >= 20000) printf "{\"ttl\":%d,\"ip\":\"10.0.%d.%d\"}", t, int((r - 20000) / 250), r % 250
			else printf "{\"ttl\":%d,\"ip\":\"11.2.%d.%d\"}", t, int(r / 250), r % 250
		}
		printf "],\"stop\":\"gaplimit\"}}\n"
	} }' >"$T/many"
jq -r '.trace.hops[].ip // empty' "$T/many" | grep -v '^10\.' | sort -u >"$T/want"
hopextract "$T/many" >"$T/one" 2>"$T/err"
check "memory: each distinct public hop of 5000 traces exactly once" cmp -s "$T/want" <(jq -r .ip "$T/one" | sort)
same "memory: no repeats" "$(jq -r .ip "$T/one" | sort | uniq -d)" ""

tac "$T/many" >"$T/many.rev"
hopextract --state "$T/conc.db" "$T/many" >"$T/c1" 2>"$T/e1" & p1=$!
hopextract --state "$T/conc.db" "$T/many.rev" >"$T/c2" 2>"$T/e2" & p2=$!
wait $p1; r1=$?
wait $p2; r2=$?
same "concurrent: both exit 0" "$r1 $r2" "0 0"
same "concurrent: no stderr" "$(cat "$T/e1" "$T/e2")" ""
check "concurrent: each hop exactly once over both outputs" cmp -s "$T/want" <(jq -r .ip "$T/c1" "$T/c2" | sort)
echo "# concurrent split: $(wc -l <"$T/c1") + $(wc -l <"$T/c2")"
run hopextract --state "$T/conc.db" "$T/many"
same "concurrent: a third run after them emits nothing" "$(cat "$T/out")" ""

# The hops of a trace come out while the input is open and quiet.
mkfifo "$T/fifo"
hopextract --state "$T/trickle.db" <"$T/fifo" >"$T/trickle" 2>"$T/err" & hp=$!
exec 7>"$T/fifo"
echo '{"ip":"12.4.0.1","trace":{"hops":[{"ttl":1,"ip":"11.4.0.1"}]}}' >&7
for _ in $(seq 600); do [ -s "$T/trickle" ] && break; sleep 0.1; done
same "state: a hop comes out while the input is open and quiet" "$(jq -r .ip "$T/trickle")" 11.4.0.1
exec 7>&-
wait $hp
same "state: trickle run exits 0" "$?" 0

# ---- bad input ----
{
	echo '{"ip":"12.3.0.1","trace":{"hops":[{"ttl":1,"ip":"11.3.0.1"}]}}'
	printf '\001\002\377\376junk\n'
	echo '{"ip":"12.3.0.2","trace":{"hops":[{"ttl":1,'
	echo '{"ip":"12.3.0.3","trace":"done"}'
	echo '{"ip":"12.3.0.4","trace":{"hops":{"ttl":1}}}'
	echo '{"ip":"12.3.0.5","trace":{"hops":[7]}}'
	echo '{"ip":"12.3.0.6","trace":{"hops":[{"ttl":"1","ip":"11.3.0.6"}]}}'
	echo '{"ip":"12.3.0.7","trace":{"hops":[{"ttl":300,"ip":"11.3.0.7"}]}}'
	echo '{"ip":"12.3.0.8","trace":{"hops":[{"ttl":1,"ip":185273099}]}}'
	echo '{"ip":"12.3.0.9","trace":{"hops":[{"ttl":1,"ip":"11.3.0.999"}]}}'
	echo '{"ip":"12.3.0.10","trace":{"hops":[{"ip":"11.3.0.10"}]}}'
	echo '{"ip":"12.3.0.11","trace":{"stop":5,"hops":[]}}'
	echo '{"trace":{"hops":[{"ttl":1,"ip":"11.3.0.12"}]}}'
	echo '{"ip":12,"trace":{"hops":[{"ttl":1,"ip":"11.3.0.13"}]}}'
	printf '{"ip":"12.3.0.14","trace":{"hops":[{"ttl":1,"ip":"11.3.0.14"}]}}\000\n'
	echo '{"ip":"12.3.0.15","trace":{"hops":[{"ttl":1,"ip":"11.3.0.2"},{"ttl":2,"ip":"11.3.0.99"}]}}'
	printf '{"ip":"12.3.0.16","trace":{"hops":[{"ttl":1,"ip":"11.3.0.16"}]}}\r\n'
	echo '{"ip":"12.3.0.17","trace":{"hops":[{"ttl":1,"ip":"11.3.0.17"},{"ttl":2,"ip":"11.3.0.98"}]}}'
	printf '{"ip":"12.3.0.18","trace":{"hops":['
	for i in $(seq 3000); do printf '{"ttl":1,"ip":"11.3.0.18"},'; done
	echo '{"ttl":2,"ip":"11.3.0.19"}]}}'
} >"$T/bad"
for mode in memory state; do
	if [ $mode = memory ]; then set --; else set -- --state "$T/bad.db"; fi
	run hopextract "$@" "$T/bad"
	same "$mode: bad input exits 1" "$rc" 1
	same "$mode: hops of the good lines kept" "$(jq -r .ip "$T/out" | tr '\n' ' ')" \
	    "11.3.0.1 11.3.0.2 11.3.0.99 11.3.0.16 11.3.0.17 11.3.0.98 "
	same "$mode: bad lines reported with their numbers" "$(cut -d: -f1-3 "$T/err")" \
	    "$(printf "hopextract: $T/bad:%s\n" 2 3 4 5 6 7 8 9 10 11 12 13 14 15 19)"
	check "$mode: a huge line is refused" grep -q 'bad:19: line too long' "$T/err"
	check "$mode: wrong ttl type named" grep -q 'bad:7: trace.hops\[0\]: "ttl" is not an integer' "$T/err"
	check "$mode: hop ip of the wrong type named" grep -q 'bad:9: trace.hops\[0\]: "ip" is not an IPv4 address' "$T/err"
	check "$mode: a trace without a target named" grep -q 'bad:13: a trace record without "ip"' "$T/err"
	check "$mode: NUL byte named" grep -q 'bad:15: NUL byte' "$T/err"
	check "$mode: no sanitizer report" no_sanitizer_report "$T/err"
done
run hopextract --strict "$T/bad"
same "--strict exits 1" "$rc" 1
same "--strict keeps what came before the first bad line" "$(jq -r .ip "$T/out")" 11.3.0.1
same "--strict reports one line" "$(wc -l <"$T/err")" 1
run hopextract --strict -s "$T/strict.db" "$T/bad"
same "--strict --state: the hops before the bad line are written" "$(jq -r .ip "$T/out")" 11.3.0.1
same "--strict --state: and recorded" "$(sqlite3 "$T/strict.db" 'select count(*) from hopextract')" 1
run hopextract --max-line 70 "$T/bad"
check "--max-line 70 refuses a longer line" grep -q 'bad:18: line too long (more than 70 bytes)' "$T/err"
same "--max-line 70: the shorter good lines are kept" "$(jq -r .ip "$T/out" | tr '\n' ' ')" "11.3.0.1 11.3.0.16 "
