#!/usr/bin/env bash
# bench/cooldown.sh: cooldown on 1,000,000 target records (random addresses,
# NDJSON as cidr-expand writes it) to /dev/null, in records per second: with
# a fresh --state file (target: at least 200,000/s) and in memory; beside
# the sqlite3 CLI recording the same addresses the plain way, INSERT OR
# IGNORE from a staging table loaded with .import, in one transaction, in
# the same run.  Best of three each.
set -eu
. "$(dirname "$0")/lib.sh"
command -v cooldown >/dev/null || { echo "cooldown is not built"; exit 1; }
command -v sqlite3 >/dev/null || { echo "sqlite3 is not installed (make deps)"; exit 1; }
n=${BENCH_RECORDS:-1000000}
dir=$(mktemp -d /tmp/hopmap-bench.XXXXXX)
trap 'rm -rf "$dir"' EXIT

# The same addresses twice: as records for cooldown, as numbers for the CLI.
awk -v n="$n" -v rec="$dir/in" -v num="$dir/num" 'BEGIN { srand(42)
	for (i = 0; i < n; i++) {
		a = 1 + int(rand() * 222); b = int(rand() * 256)
		c = int(rand() * 256); d = int(rand() * 256)
		printf "{\"ip\":\"%d.%d.%d.%d\",\"cidr\":\"%d.%d.%d.0/24\",\"src\":\"aws.txt\"}\n",
		    a, b, c, d, a, b, c >rec
		printf "%.0f\n", ((a * 256 + b) * 256 + c) * 256 + d >num
	} }'

# Each run starts on a fresh state.
bench_before() { rm -f "$dir"/st.db*; }
rate() { per_sec "$n" "$1"; }

peer() {
	sqlite3 "$dir/st.db" <<SQL
PRAGMA journal_mode=WAL;
PRAGMA synchronous=NORMAL;
CREATE TABLE seen (ip INTEGER PRIMARY KEY, t INTEGER NOT NULL);
CREATE TEMP TABLE staging (ip INTEGER);
.import $dir/num staging
BEGIN;
INSERT OR IGNORE INTO seen SELECT ip, 0 FROM staging;
COMMIT;
SQL
}

# Both keep the same set of addresses.
rm -f "$dir"/st.db*
cooldown --state "$dir/st.db" "$dir/in" >/dev/null
ours_rows=$(sqlite3 "$dir/st.db" 'SELECT count(*) FROM cooldown')
rm -f "$dir"/st.db*
peer >/dev/null
peer_rows=$(sqlite3 "$dir/st.db" 'SELECT count(*) FROM seen')
[ "$ours_rows" = "$peer_rows" ] ||
    { echo "cooldown kept $ours_rows addresses, the CLI $peer_rows"; exit 1; }

st=$(best_us cooldown --state "$dir/st.db" "$dir/in")
mem=$(best_us cooldown "$dir/in")
cli=$(best_us peer)
ours=$(rate "$st")
echo "cooldown: $n records ($ours_rows distinct), best of $runs; $(machine)"
printf '  %-34s %9s rows/s\n' "sqlite3 CLI .import + INSERT OR IGNORE" "$(rate "$cli")"
printf '  %-34s %9s records/s  %sx the CLI  (target 200000/s: %s)\n' \
    "cooldown --state" "$ours" "$(ratio "$st" "$cli")" \
    "$(verdict "$ours" 200000)"
printf '  %-34s %9s records/s  %sx the CLI  (target 1000000/s: %s)\n' \
    "cooldown (in memory)" "$(rate "$mem")" "$(ratio "$mem" "$cli")" \
    "$(verdict "$(rate "$mem")" 1000000)"
