# Fuzz the parsers (libFuzzer, with ASan+UBSan) for a bounded number of runs.
# A crash, a sanitizer report or a failed invariant fails the test.
. "$(dirname "$0")/lib.sh"
top=$HOPMAP_TOP
flags="-std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -I$top/lib"
runs=${HOPMAP_FUZZ_RUNS:-300000}
# The parsers and what they call; clang builds them afresh with the fuzzer.
core="diag ipv4 lines record jarena signals opts output metrics atomicfile num clock special"
srcs=$(for f in $core; do printf '%s ' "$top/lib/$f.c"; done)
for target in record range lines; do
	bin=$T/fuzz-$target
	if ! clang $flags -o "$bin" "$top/tests/fuzz/$target.c" $srcs -ljansson -lm 2>"$T/cc.err"; then
		echo "not ok - fuzz $target: build failed"; cat "$T/cc.err"; continue
	fi
	mkdir -p "$T/corpus-$target"
	cp "$top"/tests/fuzz/seeds/* "$T/corpus-$target/"
	(cd "$T" && "$bin" -runs="$runs" -max_len=512 -max_total_time=60 \
	    "$T/corpus-$target" >"$T/$target.log" 2>&1)
	frc=$?
	check "fuzz $target: $runs runs without a crash" test "$frc" -eq 0
	[ "$frc" -eq 0 ] || tail -n 30 "$T/$target.log"
done
