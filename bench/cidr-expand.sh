#!/usr/bin/env bash
# bench/cidr-expand.sh: expanding a /8 (16,777,216 addresses) to /dev/null,
# cidr-expand beside prips(1) from the same run, best of three runs each.
# Targets: plain output at least 5x prips' addresses per second; NDJSON at
# least as fast as prips' plain output.  --shuffle is shown for reference.
set -eu
. "$(dirname "$0")/lib.sh"
command -v prips >/dev/null || { echo "prips is not installed (make deps)"; exit 1; }
command -v cidr-expand >/dev/null || { echo "cidr-expand is not built"; exit 1; }

prefix=1.0.0.0/8
n=16777216
dir=$(mktemp -d /tmp/hopmap-bench.XXXXXX)
trap 'rm -rf "$dir"' EXIT
echo "$prefix" >"$dir/list"

# Same addresses, same order, same bytes: the comparison is fair.
if ! cmp -s <(prips 1.2.0.0/16) <(echo 1.2.0.0/16 | cidr-expand -p -R); then
	echo "cidr-expand -p and prips disagree on 1.2.0.0/16"
	exit 1
fi

# Millions of addresses per second.
rate() { per_sec "$n" "$1" | awk '{ printf "%.1f", $1 / 1e6 }'; }

prips_us=$(best_us prips "$prefix")
plain_us=$(best_us cidr-expand -p -R "$dir/list")
json_us=$(best_us cidr-expand -R "$dir/list")
shuf_us=$(best_us cidr-expand -p -R --shuffle=1 "$dir/list")
shufjson_us=$(best_us cidr-expand -R --shuffle=1 "$dir/list")

echo "expanding $prefix ($n addresses) to /dev/null, best of $runs; $(machine)"
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
