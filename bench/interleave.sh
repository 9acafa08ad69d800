#!/usr/bin/env bash
# bench/interleave.sh: interleave on 2,000,000 target records (NDJSON as
# cidr-expand writes it, sorted, so every window is full), to /dev/null, in
# records per second, best of three; beside cat(1) and sort -t. -k3,3n on
# the same file in the same run.  Target: at least 1,000,000 records/s.
set -eu
. "$(dirname "$0")/lib.sh"
command -v interleave >/dev/null || { echo "interleave is not built"; exit 1; }
n=${BENCH_RECORDS:-2000000}
dir=$(mktemp -d /tmp/hopmap-bench.XXXXXX)
trap 'rm -rf "$dir"' EXIT

# 2,000,000 addresses in /24s of 250 (8,000 subnets), in address order.
awk -v n="$n" 'BEGIN { for (i = 0; i < n; i++) {
	s = int(i / 250)
	printf "{\"ip\":\"20.%d.%d.%d\",\"cidr\":\"20.%d.0.0/16\",\"src\":\"aws.txt\"}\n",
	    int(s / 256), s % 256, i % 250 + 1, int(s / 256) }}' >"$dir/in"

rate() { per_sec "$n" "$1"; }

# The output is the input, reordered.
interleave <"$dir/in" | sort | cmp -s - <(sort "$dir/in") ||
    { echo "interleave lost or changed records"; exit 1; }

il=$(best_us interleave "$dir/in")
ct=$(best_us cat "$dir/in")
so=$(best_us sort -t. -k3,3n "$dir/in")
ours=$(rate "$il")
echo "interleave: $n records, best of $runs; $(machine)"
printf '  %-22s %10s records/s\n' "cat" "$(rate "$ct")"
printf '  %-22s %10s records/s\n' "sort -t. -k3,3n" "$(rate "$so")"
printf '  %-22s %10s records/s  %sx cat, %sx sort  (target 1000000/s: %s)\n' \
    "interleave" "$ours" "$(ratio "$il" "$ct")" "$(ratio "$il" "$so")" \
    "$(verdict "$ours" 1000000)"
