# Fuzz the parsers (libFuzzer, with ASan+UBSan) within a time budget, with
# inputs up to the line limit (65536 bytes): a crash, a sanitizer report or
# a failed invariant fails the test.  Seeds near the limit start it there.
. "$(dirname "$0")/lib.sh"
top=$HOPMAP_TOP
flags="-std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -I$top/lib"
secs=${HOPMAP_FUZZ_SECONDS:-16}
# The parsers and what they call; clang builds them afresh with the fuzzer.
core="diag ipv4 lines record jsontext jarena signals opts output metrics atomicfile num clock special"
srcs=$(for f in $core; do printf '%s ' "$top/lib/core/$f.c"; done)
# Large records: a long member, a 1000-byte node, escapes and big numbers.
big_seeds() {
	awk -v n="$2" 'BEGIN { printf "{\"ip\":\"1.2.3.4\",\"node\":\""
		for (i = 0; i < 1000; i++) printf "n"
		printf "\",\"a\":0.073,\"b\":1e3,\"c\":18446744073709551617,\"e\":\"\\u00e9\\/\",\"pad\":\""
		for (i = 0; i < n; i++) printf "x"
		printf "\",\"ping\":{\"ok\":true}}" }' >"$1"
}
# A target of web/ compiles the file it fuzzes too.
web_gate_in="-I$top/web $top/web/httpd/gate_in_parse.c"
for target in record range lines gate_in; do
	bin=$T/fuzz-$target
	eval "web=\${web_$target:-}"
	if ! clang $flags -o "$bin" "$top/tests/fuzz/$target.c" $web $srcs -ljansson -lm 2>"$T/cc.err"; then
		echo "not ok - fuzz $target: build failed"; cat "$T/cc.err"; continue
	fi
	mkdir -p "$T/corpus-$target"
	cp "$top"/tests/fuzz/seeds/* "$T/corpus-$target/"
	big_seeds "$T/corpus-$target/big4k" 3000
	big_seeds "$T/corpus-$target/big64k" 64000
	(cd "$T" && "$bin" -max_len=65536 -max_total_time="$secs" -timeout=20 \
	    "$T/corpus-$target" >"$T/$target.log" 2>&1)
	frc=$?
	check "fuzz $target: inputs up to 65536 bytes for ${secs}s without a crash" test "$frc" -eq 0
	[ "$frc" -eq 0 ] || tail -n 30 "$T/$target.log"
	# The run did fuzz: libFuzzer reports its executions at the end.
	check "fuzz $target: it ran ($(grep -o 'Done [0-9]* runs' "$T/$target.log"))" \
	    grep -q 'Done [0-9]* runs' "$T/$target.log"
done
