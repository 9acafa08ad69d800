# Records through every program: large ones (about 4 KB, about 60 KB, a
# 1000-byte "node"), and numbers, escapes and unicode that a re-encoder
# would change.  Members a program does not own pass through byte for byte
# (hopmap(5)); "node" is the prober's own name, "found_by" the finder's.
# Probes go to 127/8 on loopback only.  (A loopback answer takes
# microseconds: the long timeouts below cost nothing unless one is lost, and
# keep a loaded machine from failing the test.)
. "$(dirname "$0")/lib.sh"

# A target record: ip, a pad of n bytes, then what a re-encoder changes.
record() { # ip n [more members]
	MORE=${3:-} awk -v ip="$1" -v n="$2" 'BEGIN {
		printf "{\"ip\":\"%s\",\"src\":\"big\",\"pad\":\"", ip
		for (i = 0; i < n; i++) printf "%c", 97 + i % 26
		printf "\",\"a\":0.073,\"b\":1e3,\"c\":18446744073709551617,\"d\":-0.0"
		printf ",\"g\":[-18446744073709551617,1E+2,1e999],\"e\":\"\\u00e9\\/\\\"\\\\\""
		printf ",\"u\":\"\303\251\342\202\254\360\237\230\200\",\"h\":{\"k\":1.10}%s}\n", ENVIRON["MORE"] }'
}
node1000=$(awk 'BEGIN { for (i = 0; i < 1000; i++) printf "%c", 65 + i % 26 }')
{
	record 127.0.0.1 10
	record 127.0.0.2 4000
	record 127.0.0.3 60000
	record 127.0.0.4 100 ",\"node\":\"$node1000\",\"id\":\"keep:1\""
} >"$T/in"
check "the records: about 4 KB and 60 KB among them, all within the line limit" \
    test "$(awk '{ print (length($0) > 4000 && length($0) < 65536) }' "$T/in" | tr -d '\n')" = 0110
check "the records are JSON (jq reads them)" jq -e . "$T/in" >/dev/null

# ---- regressions: free() of jansson's memory (jarena.c) aborted these ----
# Plain records, no exotic numbers: only their size matters here.
awk 'BEGIN { printf "{\"ip\":\"127.0.0.1\",\"pad\":\""
	for (i = 0; i < 5000; i++) printf "x"; printf "\"}\n" }' >"$T/plain5k"
run icmpprobe --timeout 10s "$T/plain5k"
same "regression: a 5 KB record does not abort icmpprobe" "$rc:$(jq -r .ping.ok "$T/out")" 0:true
run tracehop --wait 10s "$T/plain5k"
same "regression: a 5 KB record does not abort tracehop" "$rc:$(jq -r .trace.stop "$T/out")" 0:completed
printf '{"ip":"12.0.0.1","node":"%s","trace":{"hops":[{"ttl":1,"ip":"11.0.0.1"}]}}\n' "$node1000" >"$T/node1000"
run hopextract "$T/node1000"
same "regression: a trace with a 1000-byte node does not abort hopextract" "$rc:$(jq -r .ip "$T/out")" 0:11.0.0.1

# Each output line of a prober is its input line with the prober's own
# members in place of any it had: cut those, and the rest is the input.
# without OUT KEY...: the output lines with those top-level members cut
# from the text (this test's records hold them last or as plain strings).
without() {
	local f=$1
	shift
	local k
	cp "$f" "$T/cut"
	for k; do
		# "node" values are plain strings; "ping"/"trace" objects run to
		# the end of the line.
		case $k in
		node|id) sed -i -E "s/,\"$k\":\"[^\"]*\"//" "$T/cut" ;;
		*) sed -i -E "s/,\"$k\":\\{.*\\}\$/}/" "$T/cut" ;;
		esac
	done
	cat "$T/cut"
}

# ---- interleave, cooldown: byte for byte ----
for prog in interleave cooldown "cooldown --state $T/cd.db"; do
	# shellcheck disable=SC2086
	run $prog "$T/in"
	same "$prog: exit 0, no message" "$rc:$(cat "$T/err")" "0:"
	same "$prog: every record byte for byte" "$(sort "$T/out" | md5sum)" "$(sort "$T/in" | md5sum)"
done

# ---- icmpprobe on 127.0.0.1..4 ----
run icmpprobe --node vp1 --timeout 10s "$T/in"
same "icmpprobe: exit 0, no message" "$rc:$(cat "$T/err")" "0:"
check "icmpprobe: no sanitizer report" no_sanitizer_report "$T/err"
same "icmpprobe: every record answered" "$(jq -r '.ping.ok' "$T/out" | sort | uniq -c | tr -s ' ')" " 4 true"
same "icmpprobe: \"node\" is the prober's, whatever the record said" \
    "$(jq -r '.node' "$T/out" | sort | uniq -c | tr -s ' ')" " 4 vp1"
same "icmpprobe: an \"id\" the record had is kept" "$(jq -r 'select(.ip == "127.0.0.4") | .id' "$T/out")" keep:1
sort "$T/out" >"$T/ping.out"
same "icmpprobe: the rest of each record byte for byte" \
    "$(without "$T/ping.out" ping node id | sort | md5sum)" \
    "$(without "$T/in" node id | sort | md5sum)"
same "icmpprobe: numbers, escapes, unicode as they came" \
    "$(grep -c ',"a":0.073,"b":1e3,"c":18446744073709551617,"d":-0.0,"g":\[-18446744073709551617,1E+2,1e999\],"e":"\\u00e9\\/\\"\\\\","u":"é€😀","h":{"k":1.10}' "$T/out")" 4

# ---- tracehop on loopback ----
run tracehop --node vp2 --wait 10s "$T/ping.out"
same "tracehop: exit 0, no message" "$rc:$(cat "$T/err")" "0:"
check "tracehop: no sanitizer report" no_sanitizer_report "$T/err"
same "tracehop: every record traced to its end" \
    "$(jq -r '.trace.stop' "$T/out" | sort | uniq -c | tr -s ' ')" " 4 completed"
same "tracehop: \"node\" is the tracer's" "$(jq -r '.node' "$T/out" | sort -u)" vp2
sort "$T/out" >"$T/trace.out"
same "tracehop: the rest of each record byte for byte (its \"ping\" too)" \
    "$(without "$T/trace.out" trace node | sort | md5sum)" \
    "$(without "$T/ping.out" node | sort | md5sum)"

# ---- hopextract: a trace whose node is 1000 bytes, in a 60 KB record ----
hops='"hops":[{"ttl":1,"ip":"11.0.0.1"},{"ttl":2,"ip":"11.0.0.2"},{"ttl":3,"ip":"12.0.0.1"}],"stop":"completed"'
{
	record 12.0.0.1 60000 ",\"node\":\"$node1000\",\"trace\":{$hops}"
	record 12.0.0.2 4000 ",\"node\":\"w\\u0032\",\"trace\":{${hops//11.0.0/11.0.1}}"
	record 12.0.0.3 10 ",\"trace\":{${hops//11.0.0/11.0.2}}"
} >"$T/tr"
run hopextract --passthrough "$T/tr"
same "hopextract: exit 0, no message" "$rc:$(cat "$T/err")" "0:"
check "hopextract: no sanitizer report" no_sanitizer_report "$T/err"
same "hopextract --passthrough: the traces byte for byte" "$(grep -v '"src":"hop"' "$T/out")" "$(cat "$T/tr")"
same "hopextract: who found the hop is \"found_by\", the trace's node as written; no \"node\"" \
    "$(grep '"src":"hop"' "$T/out" | sed "s/$node1000/NODE1000/")" \
    "$(printf '%s\n' \
	'{"ip":"11.0.0.1","src":"hop","via":"12.0.0.1","ttl":1,"found_by":"NODE1000"}' \
	'{"ip":"11.0.0.2","src":"hop","via":"12.0.0.1","ttl":2,"found_by":"NODE1000"}' \
	'{"ip":"11.0.1.1","src":"hop","via":"12.0.0.2","ttl":1,"found_by":"w\u0032"}' \
	'{"ip":"11.0.1.2","src":"hop","via":"12.0.0.2","ttl":2,"found_by":"w\u0032"}' \
	'{"ip":"11.0.2.1","src":"hop","via":"12.0.0.3","ttl":1}' \
	'{"ip":"11.0.2.2","src":"hop","via":"12.0.0.3","ttl":2}')"
run hopextract --state "$T/hx.db" "$T/tr"
same "hopextract --state: the same six hops" "$rc:$(grep -c '"src":"hop"' "$T/out")" 0:6

# ---- sqlsink: the line is stored as it came ----
# One database each: the stages' records share their "id", stored once.
sink() { # db file...
	local db=$1
	shift
	cat "$@" | sqlsink "$db" 2>"$T/err"
	same "sqlsink $(basename "$db"): exit 0, no message" "$?:$(cat "$T/err")" "0:"
}
sink "$T/s1.db" "$T/in"
sink "$T/s2.db" "$T/ping.out"
sink "$T/s3.db" "$T/trace.out" "$T/tr"
same "sqlsink: targets stored byte for byte" \
    "$(sqlite3 "$T/s1.db" 'SELECT json FROM targets' | sort | md5sum)" "$(sort "$T/in" | md5sum)"
same "sqlsink: pinged records stored byte for byte" \
    "$(sqlite3 "$T/s2.db" 'SELECT json FROM pings' | sort | md5sum)" "$(sort "$T/ping.out" | md5sum)"
same "sqlsink: traced records stored byte for byte" \
    "$(sqlite3 "$T/s3.db" 'SELECT json FROM traces' | sort | md5sum)" "$(sort "$T/trace.out" "$T/tr" | md5sum)"
same "sqlsink: traces stored under the tracer's node" \
    "$(sqlite3 "$T/s3.db" "SELECT node, count(*) FROM traces GROUP BY node ORDER BY node" | sed "s/$node1000/NODE1000/")" \
    "$(printf '%s\n' '|1' 'NODE1000|1' 'vp2|4' 'w2|1')"

# ---- cidr-expand: a range line near the limit (a long comment) ----
awk 'BEGIN { printf "10.0.0.0/31 # "; for (i = 0; i < 65000; i++) printf "c"; printf "\n10.0.0.4\n" }' >"$T/ranges.txt"
run cidr-expand -R -p "$T/ranges.txt"
same "cidr-expand: a 65 KB line's range expanded" "$rc:$(tr '\n' ' ' <"$T/out")" "0:10.0.0.0 10.0.0.1 10.0.0.4 "

# ---- a node name that is not UTF-8 is refused at the start ----
for prog in icmpprobe tracehop; do
	run "$prog" --node "$(printf 'a\377')" </dev/null
	same "$prog: --node not UTF-8: exit 2, named" "$rc:$(grep -c 'node name is not UTF-8' "$T/err")" 2:1
done
