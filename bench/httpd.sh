#!/usr/bin/env bash
# bench/httpd.sh: hopmap-httpd's GET /health under wrk (2 threads, 64
# connections, 10 s), in requests per second (target: at least 20,000),
# beside lighttpd serving the same JSON as a static file on the same
# machine in the same run; and each server's resident memory (VmHWM, the
# peak) after its run.  Both on the loopback, ports 21900 and 21901.
set -eu
. "$(dirname "$0")/lib.sh"
command -v hopmap-httpd >/dev/null || { echo "hopmap-httpd is not built"; exit 1; }
for t in wrk lighttpd curl; do
	command -v $t >/dev/null || { echo "$t is not installed (make deps)"; exit 1; }
done
secs=${BENCH_SECONDS:-10}
conns=${BENCH_CONNS:-64}
dir=$(mktemp -d /tmp/hopmap-bench.XXXXXX)
pids=
trap 'for p in $pids; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; rm -rf "$dir"' EXIT

# A node face with the programs' metrics, as on a worker.
mkdir -p "$dir/metrics"
printf '10.0.0.1\n' | cooldown --metrics "$dir/metrics/cooldown.prom" >/dev/null
hopmap-httpd -l 127.0.0.1:21900 --metrics-dir "$dir/metrics" \
    --max-conns 1024 --max-per-ip 0 2>"$dir/httpd.log" &
ours=$!
pids="$pids $ours"

# lighttpd with the same body as a file.
mkdir -p "$dir/www"
cat >"$dir/lighttpd.conf" <<CONF
server.document-root = "$dir/www"
server.bind = "127.0.0.1"
server.port = 21901
server.max-connections = 1024
server.errorlog = "$dir/lighttpd.err"
mimetype.assign = ( ".json" => "application/json" )
CONF
wait_up() { # URL
	for _ in $(seq 600); do
		curl -sf -o /dev/null "$1" && return 0
		sleep 0.1
	done
	echo "$1 did not come up"; exit 1
}
wait_up http://127.0.0.1:21900/health
curl -s http://127.0.0.1:21900/health >"$dir/www/health.json"
lighttpd -D -f "$dir/lighttpd.conf" &
peer=$!
pids="$pids $peer"
wait_up http://127.0.0.1:21901/health.json

rps() { # URL: wrk's requests per second, non-2xx answers an error
	wrk -t2 -c"$conns" -d"${secs}s" "$1" >"$dir/wrk.out" 2>&1
	if grep -q 'Non-2xx\|Socket errors' "$dir/wrk.out"; then
		cat "$dir/wrk.out" >&2
		echo "wrk saw errors on $1" >&2
		exit 1
	fi
	awk '/^Requests\/sec:/ { printf "%.0f", $2 }' "$dir/wrk.out"
}
hwm() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"; }
peer_rps=$(rps http://127.0.0.1:21901/health.json)
peer_kb=$(hwm "$peer")
ours_rps=$(rps http://127.0.0.1:21900/health)
ours_kb=$(hwm "$ours")
bytes=$(wc -c <"$dir/www/health.json")
echo "httpd: GET /health ($bytes bytes), wrk -t2 -c$conns -d${secs}s; $(machine)"
printf '  %-38s %8s req/s  peak RSS %6s kB\n' "lighttpd, the same JSON as a file" \
    "$peer_rps" "$peer_kb"
printf '  %-38s %8s req/s  peak RSS %6s kB  %sx lighttpd  (target 20000/s: %s)\n' \
    "hopmap-httpd /health (reads *.prom)" "$ours_rps" "$ours_kb" \
    "$(awk -v a="$ours_rps" -v b="$peer_rps" 'BEGIN { printf "%.2f", a / b }')" \
    "$(verdict "$ours_rps" 20000)"
