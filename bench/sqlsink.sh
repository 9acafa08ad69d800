#!/usr/bin/env bash
# bench/sqlsink.sh: storing 1,000,000 ping records, sqlsink beside the
# sqlite3 CLI from the same run, best of three runs each.
#
# sqlsink commits in batches of 1000 (its default); the CLI loads the file
# into a staging table and fills an equivalent pings table (same columns)
# with INSERT ... SELECT json_extract(...) in one transaction.  Both use
# WAL and synchronous=NORMAL on the same file system, and must end with the
# same rows.  Target: sqlsink at least 1.5x the CLI's rows per second on
# records as icmpprobe writes them.  A second round gives the records ids:
# sqlsink keeps them in its ids table, the CLI gets a UNIQUE column.
set -eu
command -v sqlite3 >/dev/null || { echo "sqlite3 is not installed (make deps)"; exit 1; }
command -v sqlsink >/dev/null || { echo "sqlsink is not built"; exit 1; }

n=1000000
runs=${BENCH_RUNS:-3}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$here/out"
dir=$(mktemp -d "$here/out/sqlsink.XXXXXX")
trap 'rm -rf "$dir"' EXIT

# The inputs, made once: a million ping records as icmpprobe writes them,
# and the same with a record "id" (monotonic per node, as a prober would
# number its records) so that both sides also pay for uniqueness.
gen() { # file with-ids
	awk -v n="$n" -v ids="$2" 'BEGIN {
	    srand(7)
	    for (i = 0; i < n; i++) {
		ok = i % 7 != 0
		id = ids ? sprintf("\"id\":\"bench1-%09d\",", i) : ""
		printf "{\"ip\":\"198.%d.%d.%d\",\"cidr\":\"198.%d.%d.0/24\",\"src\":\"bench.txt\",\"node\":\"bench1\",%s\"ping\":{\"method\":\"icmp\",\"ok\":%s,\"sent\":1,\"recv\":%d,\"rtt_ms\":%.3f,\"reply_ttl\":%d,\"ts\":\"2026-11-25T20:%02d:%02d.%03dZ\"}}\n",
		    18 + int(i / 65536) % 2, int(i / 256) % 256, i % 256,
		    18 + int(i / 65536) % 2, int(i / 256) % 256, id,
		    ok ? "true" : "false", ok, rand() * 100, 40 + i % 20,
		    int(i / 60000) % 60, int(i / 1000) % 60, i % 1000
	    } }' >"$1"
}
for f in pings:0 pings-id:1; do
	file=$here/out/sqlsink-${f%:*}.ndjson
	if [ ! -f "$file" ] || [ "$(wc -l <"$file")" -ne "$n" ]; then
		gen "$file" "${f#*:}"
	fi
done

# The CLI's script for an input; the second argument is "UNIQUE" or "".
cli_sql() { # input unique
	cat <<EOF
PRAGMA journal_mode = WAL;
PRAGMA synchronous = NORMAL;
CREATE TABLE staging (j TEXT);
CREATE TABLE pings (id INTEGER PRIMARY KEY, rid $2, ip TEXT NOT NULL,
    node TEXT, src TEXT, method TEXT, ok INTEGER, sent INTEGER, recv INTEGER,
    rtt_ms REAL, reply_ttl INTEGER, ts TEXT, json TEXT NOT NULL);
.mode ascii
.separator "$(printf '\037')" "\n"
.import $1 staging
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
}

rate() { awk -v n="$n" -v us="$1" 'BEGIN { printf "%.0f", n / us * 1e6 }'; }

# One comparison: the best wall-clock time of $runs runs each, the two
# alternating so that load from elsewhere falls on both alike; then a check
# that both tables hold the same rows.
compare() { # label input unique target
	local input=$2 ours_us=0 cli_us=0 t t0 which r batches cols
	cli_sql "$input" "$3" >"$dir/cli.sql"
	for _ in $(seq "$runs"); do
		for which in ours cli; do
			if [ "$which" = ours ]; then
				rm -f "$dir"/s*.db*
			else
				rm -f "$dir"/c.db*
			fi
			sync
			t0=$(date +%s%N)
			if [ "$which" = ours ]; then
				sqlsink --max-size 0 --metrics "$dir/s.prom" \
				    "$dir/s.db" <"$input"
			else
				sqlite3 "$dir/c.db" <"$dir/cli.sql" >/dev/null
			fi
			t=$((($(date +%s%N) - t0) / 1000))
			if [ "$which" = ours ]; then
				[ "$ours_us" -ne 0 ] && [ "$t" -ge "$ours_us" ] || ours_us=$t
			else
				[ "$cli_us" -ne 0 ] && [ "$t" -ge "$cli_us" ] || cli_us=$t
			fi
		done
	done
	cols="rid, ip, node, src, method, ok, sent, recv, rtt_ms, reply_ttl, ts, json"
	if [ "$(sqlite3 "$dir/s.db" "SELECT count(*) FROM pings")" != "$n" ] ||
	    [ "$(sqlite3 "$dir/s.db" "SELECT $cols FROM pings ORDER BY id" | md5sum)" != \
	    "$(sqlite3 "$dir/c.db" "SELECT $cols FROM pings ORDER BY id" | md5sum)" ]; then
		echo "$1: the two databases differ"
		return 1
	fi
	batches=$(sed -n 's/^hopmap_batches_committed_total{[^}]*} //p' "$dir/s.prom")
	r=$(awk -v a="$ours_us" -v b="$cli_us" 'BEGIN { printf "%.2f", b / a }')
	echo "$1: $n records ($(du -m "$input" | cut -f1) MB), best of $runs, same rows in both"
	printf '  %-46s %9s rows/s\n' "sqlite3 CLI: staging + INSERT ... SELECT" "$(rate "$cli_us")"
	if [ -n "$4" ]; then
		printf '  %-46s %9s rows/s  %5sx the CLI  (target %sx: %s)\n' \
		    "sqlsink, $batches batches" "$(rate "$ours_us")" "$r" "$4" \
		    "$(awk -v r="$r" -v t="$4" 'BEGIN { print (r >= t ? "target met" : "BELOW TARGET") }')"
	else
		printf '  %-46s %9s rows/s  %5sx the CLI\n' \
		    "sqlsink, $batches batches" "$(rate "$ours_us")" "$r"
	fi
}

echo "sqlsink vs sqlite3 $(sqlite3 --version | cut -d' ' -f1); $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
status=0
compare "ping records as icmpprobe writes them" \
    "$here/out/sqlsink-pings.ndjson" "" 1.5 || status=1
compare "the same with record ids (UNIQUE in both)" \
    "$here/out/sqlsink-pings-id.ndjson" UNIQUE "" || status=1
exit $status
