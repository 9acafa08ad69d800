# Fuzz the parsers (libFuzzer, with ASan+UBSan) within a time budget, with
# inputs up to the line limit (65536 bytes): a crash, a sanitizer report or
# a failed invariant fails the test.  Seeds near the limit start it there.
. "$(dirname "$0")/lib.sh"
top=$HOPMAP_TOP
flags="-std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -I$top/lib"
secs=${HOPMAP_FUZZ_SECONDS:-16}
# The parsers and what they call; clang builds them afresh with the fuzzer.
core="diag ipv4 lines record jsontext jarena signals opts output metrics atomicfile num clock special stats formenc"
srcs=$(for f in $core; do printf '%s ' "$top/lib/core/$f.c"; done)
# Large records: a long member, a 1000-byte node, escapes and big numbers.
big_seeds() {
	awk -v n="$2" 'BEGIN { printf "{\"ip\":\"1.2.3.4\",\"node\":\""
		for (i = 0; i < 1000; i++) printf "n"
		printf "\",\"a\":0.073,\"b\":1e3,\"c\":18446744073709551617,\"e\":\"\\u00e9\\/\",\"pad\":\""
		for (i = 0; i < n; i++) printf "x"
		printf "\",\"ping\":{\"ok\":true}}" }' >"$1"
}
# Run target NAME on its corpus for the time budget: no crash, and it ran
# (libFuzzer reports its executions at the end).  WHAT names the inputs.
fuzz_run() {
	(cd "$T" && "$T/fuzz-$1" -max_len=65536 -max_total_time="$secs" -timeout=20 \
	    "$T/corpus-$1" >"$T/$1.log" 2>&1)
	frc=$?
	check "fuzz $1: $2 up to 65536 bytes for ${secs}s without a crash" test "$frc" -eq 0
	[ "$frc" -eq 0 ] || tail -n 30 "$T/$1.log"
	check "fuzz $1: it ran ($(grep -o 'Done [0-9]* runs' "$T/$1.log"))" \
	    grep -q 'Done [0-9]* runs' "$T/$1.log"
}
# A target of web/ (http_*) compiles the file it fuzzes too.
web_http_gate_in="-I$top/web $top/web/httpd/gate_in_parse.c"
for target in record range lines http_gate_in; do
	bin=$T/fuzz-$target
	eval "web=\${web_$target:-}"
	if ! clang $flags -o "$bin" "$top/tests/fuzz/$target.c" $web $srcs -ljansson -lm 2>"$T/cc.err"; then
		echo "not ok - fuzz $target: build failed"; cat "$T/cc.err"; continue
	fi
	mkdir -p "$T/corpus-$target"
	cp "$top"/tests/fuzz/seeds/* "$T/corpus-$target/"
	big_seeds "$T/corpus-$target/big4k" 3000
	big_seeds "$T/corpus-$target/big64k" 64000
	fuzz_run "$target" inputs
done

# hopmap-httpd's reading of a request outside libmicrohttpd (the dispatch,
# query arguments, keys, the log's escaping) and of the metrics files.
web="reply server_dispatch server_log server_stats keys keys_file node node_prom"
wsrcs=$(for f in $web; do printf '%s ' "$top/web/httpd/$f.c"; done)
bin=$T/fuzz-http_request
if ! clang $flags -I"$top/web" -o "$bin" "$top/tests/fuzz/http_request.c" \
    $wsrcs $srcs -lsodium -lsqlite3 -lpthread -ljansson -lm 2>"$T/cc.err"; then
	echo "not ok - fuzz http_request: build failed"; cat "$T/cc.err"
else
	mkdir -p "$T/corpus-http_request"
	printf 'GET\n/health\nn=1&ip=%%41\nBearer kkk\n\n' >"$T/corpus-http_request/get"
	printf 'POST\n/metrics\n\nbearer  x\napplication/json\n# TYPE a_total counter\na_total{program="x",l="\\\\"} 1\nb_bucket{le="+Inf"} 2\n' \
	    >"$T/corpus-http_request/prom"
	fuzz_run http_request inputs
fi

# POST /results bodies (web/httpd/gate_out_body.c): NDJSON and JSON arrays.
bin=$T/fuzz-http_results
if clang $flags -I"$top/web" -o "$bin" "$top/tests/fuzz/http_results.c" \
    "$top/web/httpd/gate_out_body.c" -ljansson 2>"$T/cc.err"; then
	mkdir -p "$T/corpus-http_results"
	cp "$top"/tests/fuzz/seeds/* "$T/corpus-http_results/"
	printf '[{"a":"],["},\n {"b":[1,{"c":"\\""}]}]' >"$T/corpus-http_results/array"
	fuzz_run http_results bodies
else
	echo "not ok - fuzz http_results: build failed"; cat "$T/cc.err"
fi

# tracehop's --stop-set file (lib/trace/stopset.c), through the descriptor
# path: read, merge and rewrite in place; what is written reads back the
# same.  Seeds: good lines, a join, an address alone, one cut short.
bin=$T/fuzz-stopset
if clang $flags -o "$bin" "$top/tests/fuzz/stopset.c" "$top/lib/trace/stopset.c" \
    $srcs -ljansson -lm 2>"$T/cc.err"; then
	mkdir -p "$T/corpus-stopset"
	cp "$top"/tests/fuzz/seeds/* "$T/corpus-stopset/"
	printf '198.18.0.2 1 -\n198.18.0.3 2 198.18.0.2 999999\n198.18.0.9 4 198.18.0.33 join\n198.18.0.7\n198.18.0.4 3 198.1' \
	    >"$T/corpus-stopset/lines"
	fuzz_run stopset files
else
	echo "not ok - fuzz stopset: build failed"; cat "$T/cc.err"
fi
