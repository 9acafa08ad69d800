# bench/lib.sh: what the benchmarks share.  Sourced by bench/NAME.sh.
#   best_us CMD...        best wall-clock microseconds of $runs runs of CMD
#                         (stdout to /dev/null; bench_before runs before each)
#   per_sec N US [FMT]    N things in US microseconds, per second
#   ratio A_US B_US       how many times faster A is than B (B / A)
#   verdict VALUE TARGET  "target met" or "BELOW TARGET"
#   machine               cores and load, for the heading of a result
runs=${BENCH_RUNS:-3}

bench_before() { :; }

best_us() {
	local best=0 t0 t
	for _ in $(seq "$runs"); do
		bench_before
		t0=$(date +%s%N)
		"$@" >/dev/null
		t=$((($(date +%s%N) - t0) / 1000))
		if [ "$best" -eq 0 ] || [ "$t" -lt "$best" ]; then
			best=$t
		fi
	done
	echo "$best"
}

per_sec() { awk -v n="$1" -v us="$2" -v f="${3:-%.0f}" 'BEGIN { printf f, n / us * 1e6 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b / a }'; }
verdict() {
	awk -v r="$1" -v t="$2" 'BEGIN { print (r >= t ? "target met" : "BELOW TARGET") }'
}
machine() { echo "$(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"; }
