#!/usr/bin/env bash
# bench/cidr-expand.sh: expanding a /8 (16,777,216 addresses) to /dev/null,
# cidr-expand beside prips(1) from the same run, best of three runs each.
# Targets: plain output at least 5x prips' addresses per second; NDJSON at
# least as fast as prips' plain output.  --shuffle is shown for reference.
set -eu
command -v prips >/dev/null || { echo "prips is not installed (make deps)"; exit 1; }
command -v cidr-expand >/dev/null || { echo "cidr-expand is not built"; exit 1; }

prefix=1.0.0.0/8
n=16777216
runs=${BENCH_RUNS:-3}
dir=$(mktemp -d /tmp/hopmap-bench.XXXXXX)
trap 'rm -rf "$dir"' EXIT
echo "$prefix" >"$dir/list"

# Same addresses, same order, same bytes: the comparison is fair.
if ! cmp -s <(prips 1.2.0.0/16) <(echo 1.2.0.0/16 | cidr-expand -p -R); then
	echo "cidr-expand -p and prips disagree on 1.2.0.0/16"
	exit 1
fi

# Best wall-clock microseconds of $runs runs of the command.
best_us() {
	local best=0 t0 t1
	for _ in $(seq "$runs"); do
		t0=$(date +%s%N)
		"$@" >/dev/null
		t1=$(date +%s%N)
		if [ "$best" -eq 0 ] || [ $(((t1 - t0) / 1000)) -lt "$best" ]; then
			best=$(((t1 - t0) / 1000))
		fi
	done
	echo "$best"
}

rate() { awk -v n="$n" -v us="$1" 'BEGIN { printf "%.1f", n / us }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b / a }'; }
verdict() {
	awk -v r="$1" -v t="$2" 'BEGIN { print (r >= t ? "target met" : "BELOW TARGET") }'
}

prips_us=$(best_us prips "$prefix")
plain_us=$(best_us cidr-expand -p -R "$dir/list")
json_us=$(best_us cidr-expand -R "$dir/list")
shuf_us=$(best_us cidr-expand -p -R --shuffle=1 "$dir/list")
shufjson_us=$(best_us cidr-expand -R --shuffle=1 "$dir/list")

echo "expanding $prefix ($n addresses) to /dev/null, best of $runs; $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
printf '  %-36s %9s Maddr/s\n' "prips (plain)" "$(rate "$prips_us")"
r=$(ratio "$plain_us" "$prips_us")
printf '  %-36s %9s Maddr/s  %6sx prips  (target 5x: %s)\n' \
    "cidr-expand -p" "$(rate "$plain_us")" "$r" "$(verdict "$r" 5)"
r=$(ratio "$json_us" "$prips_us")
printf '  %-36s %9s Maddr/s  %6sx prips  (target 1x: %s)\n' \
    "cidr-expand (NDJSON)" "$(rate "$json_us")" "$r" "$(verdict "$r" 1)"
printf '  %-36s %9s Maddr/s  %6sx prips\n' \
    "cidr-expand -p --shuffle" "$(rate "$shuf_us")" "$(ratio "$shuf_us" "$prips_us")"
printf '  %-36s %9s Maddr/s  %6sx prips\n' \
    "cidr-expand --shuffle (NDJSON)" "$(rate "$shufjson_us")" "$(ratio "$shufjson_us" "$prips_us")"
