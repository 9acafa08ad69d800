#!/usr/bin/env bash
# bench/targets.sh: GET /targets from 8 consumers at once (8 curl clients,
# each its own key, each request saved before it is answered) against
# hopmap-httpd --hub on the loopback, in targets per second, best of three;
# beside `cidr-expand | interleave` and prips(1) writing the same ranges in
# the same run.  Target: at least 500,000 targets/s.
set -eu
. "$(dirname "$0")/lib.sh"
command -v hopmap-httpd >/dev/null || { echo "hopmap-httpd is not built"; exit 1; }
clients=8
per=${BENCH_PER_REQUEST:-10000}		# targets an answer
reqs=${BENCH_REQUESTS:-25}		# answers a client, a run
prefix=20.0.0.0/11			# 2,097,152 addresses
port=23500
n=$((clients * per * reqs))
dir=$(mktemp -d /tmp/hopmap-bench.XXXXXX)
pid=
trap '[ -z "$pid" ] || kill "$pid" 2>/dev/null; rm -rf "$dir"' EXIT

mkdir -p "$dir/hub/ranges"
echo "$prefix" >"$dir/hub/ranges/bench.txt"
for i in $(seq "$clients"); do
	hopmap-httpd key add -d "$dir/hub" "c$i" >"$dir/key$i" 2>/dev/null
done
hopmap-httpd -l "127.0.0.1:$port" --hub "$dir/hub" 2>"$dir/log" &
pid=$!
for _ in $(seq 600); do
	grep -qs "listening on" "$dir/log" && break
	sleep 0.1
done
grep -qs "listening on" "$dir/log" || { cat "$dir/log"; exit 1; }

# One client: its requests on one connection (curl's URL range), the
# targets counted into $dir/got.N.
client() {
	curl -s -H "Authorization: Bearer $(cat "$dir/key$1")" \
	    "http://127.0.0.1:$port/targets?n=$per&r=[1-$reqs]" |
	    wc -l >"$dir/got.$1"
}
all_clients() {
	local i
	for i in $(seq "$clients"); do client "$i" & done
	wait
}
# Each run goes on where the last stopped: the ranges hold enough for
# every run (2,097,152 a consumer; a run takes per * reqs of them).
gw=$(best_us all_clients)
got=$(cat "$dir"/got.* | awk '{ s += $1 } END { print s }')
[ "$got" -eq "$((clients * per * reqs))" ] ||
    { echo "GET /targets gave $got targets, not $n"; exit 1; }

# The peers write the whole prefix once.
total=2097152
echo "$prefix" >"$dir/ranges.txt"
ci=$(best_us sh -c "cidr-expand '$dir/ranges.txt' | interleave")
pr=$(best_us prips "$prefix")
ours=$(per_sec "$n" "$gw")
echo "targets: $clients consumers x $reqs answers of $per over HTTP" \
    "(best of $runs); the peers write $total; $(machine)"
printf '  %-26s %10s targets/s\n' "cidr-expand | interleave" \
    "$(per_sec "$total" "$ci")"
printf '  %-26s %10s targets/s\n' "prips" "$(per_sec "$total" "$pr")"
printf '  %-26s %10s targets/s  (target 500000/s: %s)\n' \
    "GET /targets, 8 consumers" "$ours" "$(verdict "$ours" 500000)"
