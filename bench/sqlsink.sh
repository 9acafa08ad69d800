#!/usr/bin/env bash
# bench/sqlsink.sh: storing 1,000,000 ping records, sqlsink beside the
# sqlite3 CLI from the same run, best of three runs each.
#
# sqlsink commits in batches of 1000 (its default) and also keeps its ids
# table; the CLI loads the file into a staging table and fills an
# equivalent pings table (same columns, a UNIQUE record id) with
# INSERT ... SELECT json_extract(...) in one transaction.  Both use WAL and
# synchronous=NORMAL on the same file system.  Target: sqlsink at least
# 1.5x the CLI's rows per second.
set -eu
command -v sqlite3 >/dev/null || { echo "sqlite3 is not installed (make deps)"; exit 1; }
command -v sqlsink >/dev/null || { echo "sqlsink is not built"; exit 1; }

n=1000000
runs=${BENCH_RUNS:-3}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$here/out"
input=$here/out/sqlsink-pings.ndjson
dir=$(mktemp -d "$here/out/sqlsink.XXXXXX")
trap 'rm -rf "$dir"' EXIT

# The input, made once: a million ping records as icmpprobe writes them,
# each with a record id.
if [ ! -f "$input" ] || [ "$(wc -l <"$input")" -ne "$n" ]; then
	awk -v n="$n" 'BEGIN {
	    srand(7)
	    for (i = 0; i < n; i++) {
		ok = i % 7 != 0
		printf "{\"ip\":\"198.%d.%d.%d\",\"cidr\":\"198.%d.%d.0/24\",\"src\":\"bench.txt\",\"node\":\"bench1\",\"id\":\"bench1-%d\",\"ping\":{\"method\":\"icmp\",\"ok\":%s,\"sent\":1,\"recv\":%d,\"rtt_ms\":%.3f,\"reply_ttl\":%d,\"ts\":\"2026-11-25T20:%02d:%02d.%03dZ\"}}\n",
		    18 + int(i / 65536) % 2, int(i / 256) % 256, i % 256,
		    18 + int(i / 65536) % 2, int(i / 256) % 256, i,
		    ok ? "true" : "false", ok, rand() * 100, 40 + i % 20,
		    int(i / 60000) % 60, int(i / 1000) % 60, i % 1000
	    } }' >"$input"
fi

us=$(printf '\037')
cat >"$dir/cli.sql" <<EOF
PRAGMA journal_mode = WAL;
PRAGMA synchronous = NORMAL;
CREATE TABLE staging (j TEXT);
CREATE TABLE pings (id INTEGER PRIMARY KEY, rid UNIQUE, ip TEXT NOT NULL,
    node TEXT, src TEXT, method TEXT, ok INTEGER, sent INTEGER, recv INTEGER,
    rtt_ms REAL, reply_ttl INTEGER, ts TEXT, json TEXT NOT NULL);
.mode ascii
.separator "$us" "\n"
.import $input staging
BEGIN;
INSERT OR IGNORE INTO pings (rid, ip, node, src, method, ok, sent, recv,
    rtt_ms, reply_ttl, ts, json)
SELECT json_extract(j, '\$.id'), json_extract(j, '\$.ip'),
    json_extract(j, '\$.node'), json_extract(j, '\$.src'),
    json_extract(j, '\$.ping.method'), json_extract(j, '\$.ping.ok'),
    json_extract(j, '\$.ping.sent'), json_extract(j, '\$.ping.recv'),
    json_extract(j, '\$.ping.rtt_ms'), json_extract(j, '\$.ping.reply_ttl'),
    json_extract(j, '\$.ping.ts'), j
FROM staging;
COMMIT;
EOF

ours() {
	rm -f "$dir"/s*.db*
	sqlsink --max-size 0 --metrics "$dir/s.prom" "$dir/s.db" <"$input"
}
cli() {
	rm -f "$dir"/c.db*
	sqlite3 "$dir/c.db" <"$dir/cli.sql" >/dev/null
}
# Best wall-clock microseconds of $runs runs; the two alternate, so load
# from elsewhere falls on both alike.
ours_us=0 cli_us=0
for _ in $(seq "$runs"); do
	for which in ours cli; do
		sync
		t0=$(date +%s%N)
		"$which"
		t=$((($(date +%s%N) - t0) / 1000))
		if [ "$which" = ours ]; then
			[ "$ours_us" -ne 0 ] && [ "$t" -ge "$ours_us" ] || ours_us=$t
		else
			[ "$cli_us" -ne 0 ] && [ "$t" -ge "$cli_us" ] || cli_us=$t
		fi
	done
done

# The same rows in both, and sqlsink really committed in batches.
rows_ours=$(sqlite3 "$dir/s.db" 'SELECT count(*) FROM pings')
rows_cli=$(sqlite3 "$dir/c.db" 'SELECT count(*) FROM pings')
cols="rid, ip, node, src, method, ok, sent, recv, rtt_ms, reply_ttl, ts, json"
sum_ours=$(sqlite3 "$dir/s.db" "SELECT $cols FROM pings ORDER BY id" | md5sum)
sum_cli=$(sqlite3 "$dir/c.db" "SELECT $cols FROM pings ORDER BY id" | md5sum)
batches=$(sed -n 's/^hopmap_batches_committed_total{[^}]*} //p' "$dir/s.prom")
if [ "$rows_ours" != "$n" ] || [ "$rows_cli" != "$n" ] || [ "$sum_ours" != "$sum_cli" ]; then
	echo "the two databases differ: $rows_ours and $rows_cli rows"
	exit 1
fi

rate() { awk -v n="$n" -v us="$1" 'BEGIN { printf "%.0f", n / us * 1e6 }'; }
r=$(awk -v a="$ours_us" -v b="$cli_us" 'BEGIN { printf "%.2f", b / a }')
echo "storing $n ping records ($(du -m "$input" | cut -f1) MB), best of $runs; $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
printf '  %-44s %9s rows/s\n' "sqlite3 CLI: staging + INSERT ... SELECT" "$(rate "$cli_us")"
printf '  %-44s %9s rows/s  %5sx the CLI  (target 1.5x: %s)\n' \
    "sqlsink ($batches batches)" "$(rate "$ours_us")" "$r" \
    "$(awk -v r="$r" 'BEGIN { print (r >= 1.5 ? "target met" : "BELOW TARGET") }')"
echo "  same rows in both: $n, identical columns"
