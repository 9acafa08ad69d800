#!/usr/bin/env bash
# bench/interleave.sh: interleave on 2,000,000 target records (NDJSON as
# cidr-expand writes it, sorted, so every window is full), to /dev/null, in
# records per second, best of three; beside cat(1) and sort -t. -k3,3n on
# the same file in the same run.  Target: at least 1,000,000 records/s.
set -eu
command -v interleave >/dev/null || { echo "interleave is not built"; exit 1; }
n=${BENCH_RECORDS:-2000000}
runs=${BENCH_RUNS:-3}
dir=$(mktemp -d /tmp/hopmap-bench.XXXXXX)
trap 'rm -rf "$dir"' EXIT

# 2,000,000 addresses in /24s of 250 (8,000 subnets), in address order.
awk -v n="$n" 'BEGIN { for (i = 0; i < n; i++) {
	s = int(i / 250)
	printf "{\"ip\":\"20.%d.%d.%d\",\"cidr\":\"20.%d.0.0/16\",\"src\":\"aws.txt\"}\n",
	    int(s / 256), s % 256, i % 250 + 1, int(s / 256) }}' >"$dir/in"

best_us() {
	local best=0 t0 t1
	for _ in $(seq "$runs"); do
		t0=$(date +%s%N)
		"$@" <"$dir/in" >/dev/null
		t1=$(date +%s%N)
		if [ "$best" -eq 0 ] || [ $(((t1 - t0) / 1000)) -lt "$best" ]; then
			best=$(((t1 - t0) / 1000))
		fi
	done
	echo "$best"
}
rate() { awk -v n="$n" -v us="$1" 'BEGIN { printf "%.0f", n / us * 1e6 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b / a }'; }

# The output is the input, reordered.
interleave <"$dir/in" | sort | cmp -s - <(sort "$dir/in") ||
    { echo "interleave lost or changed records"; exit 1; }

il=$(best_us interleave)
ct=$(best_us cat)
so=$(best_us sort -t. -k3,3n)
ours=$(rate "$il")
echo "interleave: $n records, best of $runs; $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
printf '  %-22s %10s records/s\n' "cat" "$(rate "$ct")"
printf '  %-22s %10s records/s\n' "sort -t. -k3,3n" "$(rate "$so")"
printf '  %-22s %10s records/s  %sx cat, %sx sort  (target 1000000/s: %s)\n' \
    "interleave" "$ours" "$(ratio "$il" "$ct")" "$(ratio "$il" "$so")" \
    "$( [ "$ours" -ge 1000000 ] && echo "target met" || echo "BELOW TARGET")"
