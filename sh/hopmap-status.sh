#!/bin/sh
# hopmap-status: each vantage node's progress and last contact, from a hub's
# (or one node's) sqlsink database and optionally the nodes' state
# directories.  Read-only: it may run while sqlsink writes.
set -eu

prog=hopmap-status
exit_failure=3 # runtime failures; usage errors are 2
# The shared library: sh/lib/ beside the script in a checkout, else
# share/hopmap/sh/lib/ beside its bin/ once built or installed.
sh_dir=$(dirname "$(readlink -f "$0")")
[ -f "$sh_dir/lib/hopmap.sh" ] || sh_dir=$(dirname "$sh_dir")/share/hopmap/sh
# shellcheck source=lib/hopmap.sh
. "$sh_dir/lib/hopmap.sh"
usage() {
	cat <<EOF
usage: $prog [options] DB [STATEDIR...]
Show each node's progress and last contact in a sqlsink database.
  -j, --json            one JSON object per node, in an array
  -n, --node NAME       only node NAME (repeatable)
  -h, --help            show this help and exit
  -V, --version         show the version and exit
EOF
}

json=0 nodes=''
need_arg() { [ "$2" -ge 2 ] || die_usage "option $1 needs an argument"; }
while [ $# -gt 0 ]; do
	case $1 in
	-j | --json) json=1 ;;
	-n | --node) need_arg "$1" $#; nodes="$nodes$2
"; shift ;;
	--node=*) nodes="$nodes${1#*=}
" ;;
	-h | --help) usage; exit 0 ;;
	-V | --version) echo "$prog (hopmap) $version"; exit 0 ;;
	--) shift; break ;;
	-?*) die_usage "unrecognized option '$1'" ;;
	*) break ;;
	esac
	shift
done
[ $# -ge 1 ] || die_usage "a database expected"
db=$1
shift
[ -f "$db" ] || die "$db: no such database"
for d in "$@"; do [ -d "$d" ] || die "$d: no such state directory"; done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/hopmap-status.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

# One pass per table and file, grouped by node, then joined: no index on
# node is needed.  Every retained file of the series is read
# (db_series_sql), one attached at a time, its sums kept in temporary
# tables; routers and links are counted once across files.  A record with
# both a ping and a trace counts once in "records".  Last contact is the
# later of the last record and the last delivery that hopmap-hub confirmed
# (the "hopmap-ack" rows in raw, which the hub's sink writes itself at each
# delivery's commit; a delivery's records never can).
db_series_sql "$db" >"$tmp/files"
{
	echo "CREATE TEMP TABLE xp (node, n, ok, last);
CREATE TEMP TABLE xt (node, n, alone, last);
CREATE TEMP TABLE xg (node, n); CREATE TEMP TABLE xr (node, ip);
CREATE TEMP TABLE xl (node, a, b, last); CREATE TEMP TABLE xa (node, n, last);"
	while IFS= read -r f; do
		echo "ATTACH $f AS s;
INSERT INTO xp SELECT coalesce(node, ''), count(*), coalesce(sum(ok), 0),
    max(ts) FROM s.pings GROUP BY 1;
INSERT INTO xt SELECT coalesce(node, ''), count(*),
    sum(json_extract(json, '\$.ping') IS NULL), max(ts) FROM s.traces
    GROUP BY 1;
INSERT INTO xg SELECT coalesce(node, ''), count(*) FROM s.targets GROUP BY 1;
INSERT INTO xr SELECT DISTINCT coalesce(t.node, ''), h.ip
    FROM s.hops h JOIN s.traces t ON t.id = h.trace_id
    WHERE h.ip IS NOT NULL AND h.ip != t.ip;
INSERT INTO xl SELECT node, a, b, last_seen FROM s.links;
INSERT INTO xa SELECT coalesce(node, ''), count(*),
    max(json_extract(json, '\$.ts')) FROM s.raw
    WHERE src = 'hopmap-ack' GROUP BY 1;
DETACH s;"
	done <"$tmp/files"
	echo "
WITH p AS (SELECT node, sum(n) AS n, sum(ok) AS ok, max(last) AS last
        FROM xp GROUP BY 1),
t AS (SELECT node, sum(n) AS n, sum(alone) AS alone, max(last) AS last
        FROM xt GROUP BY 1),
g AS (SELECT node, sum(n) AS n FROM xg GROUP BY 1),
r AS (SELECT node, count(DISTINCT ip) AS n FROM xr GROUP BY 1),
l AS (SELECT node, count(*) AS n, max(last) AS last
        FROM (SELECT node, a, b, max(last) AS last FROM xl GROUP BY 1, 2, 3)
        GROUP BY 1),
a AS (SELECT node, sum(n) AS n, max(last) AS last FROM xa GROUP BY 1),
k AS (SELECT node FROM p UNION SELECT node FROM t UNION SELECT node FROM g
        UNION SELECT node FROM a),
s AS (SELECT k.node AS node,
    coalesce(p.n, 0) + coalesce(t.alone, 0) + coalesce(g.n, 0) AS records,
    coalesce(p.n, 0) AS pings, coalesce(p.ok, 0) AS pings_ok,
    coalesce(t.n, 0) AS traces, coalesce(g.n, 0) AS targets,
    coalesce(r.n, 0) AS routers, coalesce(l.n, 0) AS links,
    coalesce(a.n, 0) AS deliveries,
    nullif(max(coalesce(p.last, ''), coalesce(t.last, ''),
        coalesce(l.last, '')), '') AS last_record,
    a.last AS last_delivery
    FROM k LEFT JOIN p USING (node) LEFT JOIN t USING (node)
    LEFT JOIN g USING (node) LEFT JOIN r USING (node)
    LEFT JOIN l USING (node) LEFT JOIN a USING (node)),
c AS (SELECT *, CASE WHEN last_delivery IS NULL THEN last_record
        WHEN last_record IS NULL THEN last_delivery
        WHEN julianday(last_delivery) > julianday(last_record)
        THEN last_delivery ELSE last_record END AS last_contact FROM s)
SELECT node, records, pings, pings_ok, traces, targets, routers, links,
    deliveries, last_record, last_contact,
    CAST(round((julianday('now') - julianday(last_contact)) * 86400)
        AS INTEGER) AS age_s
FROM c ORDER BY node;"
} >"$tmp/read.sql"
sqlite3 -bail -readonly -json :memory: <"$tmp/read.sql" >"$tmp/nodes.json" \
    2>"$tmp/err" || die "$db: $(sql_error "$tmp/err")"
[ -s "$tmp/nodes.json" ] || echo '[]' >"$tmp/nodes.json"

# State directories: the node is the name hopmap-worker or hopmap-loop
# wrote in DIR/node (the name the probers put in "node"), else the
# directory's name.  Where hopmap-loop keeps them (DIR, or DIR/loop under
# hopmap-worker): its round number and the resume position of its seeds
# ("done/total"), and as the state's last change the time it last wrote
# one of them, once a round.  Not the newest file of any kind: reading a
# database kept there (its -shm) would move that at each look.
for d in "$@"; do
	name=$(basename "$d")
	for l in "$d/loop" "$d"; do
		if [ -s "$l/node" ]; then name=$(head -n 1 "$l/node"); fi
	done
	resume='' round='' when=''
	for l in "$d" "$d/loop"; do
		[ -f "$l/resume" ] && resume=$(awk '
		    $1 == "done" { d = $2 } $1 == "total" { t = $2 }
		    NR == 1 { first = $0 }
		    END { print (d != "" && t != "") ? d "/" t : first }' \
		    "$l/resume")
		[ -f "$l/round" ] && round=$(head -n 1 "$l/round")
	done
	newest=$(find "$d" "$d/loop" -maxdepth 1 -type f \
	    \( -name round -o -name resume \) -exec ls -t {} + 2>/dev/null |
	    head -n 1)
	[ -z "$newest" ] ||
	    when=$(date -u -r "$newest" +%Y-%m-%dT%H:%M:%SZ 2>/dev/null || true)
	jq -n --arg node "$name" --arg dir "$d" --arg when "$when" \
	    --arg resume "$resume" --arg round "$round" '{node: $node,
	    state_dir: $dir,
	    state_changed: (if $when == "" then null else $when end),
	    rounds: ($round | tonumber? // null),
	    resume: (if $resume == "" then null else $resume end)}'
done >"$tmp/state.json"

jq -n --slurpfile db "$tmp/nodes.json" --slurpfile st "$tmp/state.json" \
    --arg want "$nodes" '
($want | split("\n") | map(select(. != ""))) as $w |
($st | map({key: .node, value: .}) | from_entries) as $s |
($db[0] | map(.node) ) as $known |
[($db[0][] | . + ($s[.node] // {} | del(.node))),
 ($st[] | select(.node as $n | $known | index($n) | not)
    | {node, records: 0, pings: 0, pings_ok: 0, traces: 0, targets: 0,
       routers: 0, links: 0, deliveries: 0, last_record: null,
       last_contact: null, age_s: null} + .)]
| map(select(($w | length) == 0 or (.node as $n | $w | index($n))))
| sort_by(.node)' >"$tmp/all.json" || die "jq failed"

if [ "$json" = 1 ]; then
	jq . "$tmp/all.json"
	exit 0
fi
# Names come from the network (node names) or from anyone (directories):
# a backslash and every control character (ESC, newline, tab, ...) are
# written as escapes (\\, \x1b) before a terminal sees them.
jq -r 'def hex: . as $n | "0123456789abcdef" |
        .[($n / 16 | floor):($n / 16 | floor) + 1] + .[$n % 16:$n % 16 + 1];
    def esc: gsub("\\\\"; "\\\\") |
        gsub("(?<c>\\p{Cc})"; "\\x" + (.c | explode[0] | hex));
    .[] | [(if .node == "" then "-" else .node end), .records, .pings,
    .pings_ok, .traces, .targets, .routers, .links, (.last_contact // "-"),
    (if .age_s == null then "-" else (.age_s | tostring) + "s" end),
    (.state_changed // "-"), (.resume // "-"),
    (.rounds // "-" | tostring), .deliveries] | map(tostring | esc) |
    join("\t")' "$tmp/all.json" |
awk -F '\t' '
BEGIN { f = "%-12s %8s %8s %8s %8s %8s %8s %7s  %-24s %7s"
	printf f "\n", "NODE", "RECORDS", "PINGS", "OK", "TRACES", "TARGETS",
	    "ROUTERS", "LINKS", "LAST CONTACT", "AGE" }
{ printf f, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10
  if ($14 > 0) printf "  deliveries %s", $14
  if ($11 != "-") printf "  state %s", $11
  if ($13 != "-") printf "  rounds %s", $13
  if ($12 != "-") printf "  resume %s", $12
  printf "\n" }'
