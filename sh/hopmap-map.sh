#!/bin/sh
# hopmap-map: the links table of a sqlsink database as a graph one can look
# at: Graphviz DOT, JSON, or SVG rendered by dot or sfdp.
#
# The graph is built once, as JSON, by jq from two read-only queries; DOT is
# a rendering of that JSON, so the two formats never disagree.
set -eu

prog=hopmap-map
exit_failure=3 # runtime failures; usage errors are 2
# The shared library: sh/lib/ beside the script in a checkout, else
# share/hopmap/sh/lib/ beside its bin/ once built or installed.
sh_dir=$(dirname "$(readlink -f "$0")")
[ -f "$sh_dir/lib/hopmap.sh" ] || sh_dir=$(dirname "$sh_dir")/share/hopmap/sh
# shellcheck source=lib/hopmap.sh
. "$sh_dir/lib/hopmap.sh"
usage() {
	cat <<EOF
usage: $prog [options] DB
Export the links of a sqlsink database as a graph.
  -f, --format FMT      dot, json or svg (default: dot; svg needs Graphviz)
  -o, --output FILE     write to FILE, through a temporary file and a rename
                        (default: standard output)
  -c, --min-count N     only links seen in at least N traces (default 1)
  -n, --node NAME       only links seen by vantage node NAME (repeatable)
  -t, --targets MODE    each: every target address is a node; prefix: the
                        targets of a /24 are one node; auto (default):
                        prefix when there are more than 100 targets
  -e, --engine ENGINE   svg layout: dot, sfdp or auto (default auto: dot up
                        to 150 addresses, sfdp beyond)
  -h, --help            show this help and exit
  -V, --version         show the version and exit
EOF
}

format=dot output='' min=1 nodes='' engine=auto targets=auto
need_arg() { [ "$2" -ge 2 ] || die_usage "option $1 needs an argument"; }
while [ $# -gt 0 ]; do
	case $1 in
	-f | --format) need_arg "$1" $#; format=$2; shift ;;
	--format=*) format=${1#*=} ;;
	-o | --output) need_arg "$1" $#; output=$2; shift ;;
	--output=*) output=${1#*=} ;;
	-c | --min-count) need_arg "$1" $#; min=$2; shift ;;
	--min-count=*) min=${1#*=} ;;
	-n | --node) need_arg "$1" $#; nodes="$nodes$2
"; shift ;;
	--node=*) nodes="$nodes${1#*=}
" ;;
	-t | --targets) need_arg "$1" $#; targets=$2; shift ;;
	--targets=*) targets=${1#*=} ;;
	-e | --engine) need_arg "$1" $#; engine=$2; shift ;;
	--engine=*) engine=${1#*=} ;;
	-h | --help) usage; exit 0 ;;
	-V | --version) echo "$prog (hopmap) $version"; exit 0 ;;
	--) shift; break ;;
	-?*) die_usage "unrecognized option '$1'" ;;
	*) break ;;
	esac
	shift
done
[ $# -eq 1 ] || die_usage "one database expected"
db=$1
case $format in dot | json | svg) ;; *) die_usage "bad format: $format" ;; esac
case $engine in dot | sfdp | auto) ;; *) die_usage "bad engine: $engine" ;; esac
case $targets in each | prefix | auto) ;; *) die_usage "bad targets mode: $targets" ;; esac
case $min in '' | *[!0-9]*) die_usage "min-count value is invalid: $min" ;; esac
[ ${#min} -le 9 ] || die_usage "min-count value is too large: $min"
[ -f "$db" ] || die "$db: no such database"
if [ "$format" = svg ]; then
	command -v dot >/dev/null 2>&1 ||
	    die "svg needs Graphviz (dot); try -f dot"
fi

if [ -n "$output" ] && [ ! -d "$(dirname "$output")" ]; then
	die "$output: no such directory: $(dirname "$output")"
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/hopmap-map.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

# Node names reach SQL as literals with their quotes doubled.
where=
if [ -n "$nodes" ]; then
	where=$(printf '%s' "$nodes" | sed "s/'/''/g; s/.*/'&'/" | paste -sd, -)
	where="WHERE node IN ($where)"
fi
# Every retained file of the series is read (db_series_sql): each file's
# rows go into temporary tables of one read-only session, one file attached
# at a time, and come out as one JSON object; links seen in several files
# are merged with the rest below, addresses are deduplicated here.
and=$(echo "$where" | sed 's/^WHERE/AND/')
db_series_sql "$db" >"$tmp/files"
{
	echo "CREATE TEMP TABLE l (a, b, node, count, min_rtt_ms);
CREATE TEMP TABLE r (ip); CREATE TEMP TABLE f (node, ip);"
	while IFS= read -r f; do
		echo "ATTACH $f AS s;
INSERT INTO l SELECT a, b, node, count, min_rtt_ms FROM s.links $where;
INSERT INTO r SELECT DISTINCT h.ip FROM s.hops h JOIN s.traces t
    ON t.id = h.trace_id WHERE h.ip IS NOT NULL AND h.ip != t.ip;
INSERT INTO f SELECT DISTINCT node, ip FROM s.hops
    WHERE ttl = 1 AND ip IS NOT NULL $and;
DETACH s;"
	done <"$tmp/files"
	# An address is a router when some trace passed through it; the rest
	# are only ever the end of a trace.
	echo "SELECT json_object(
    'links', (SELECT json_group_array(json_object('a', a, 'b', b,
        'node', node, 'count', count, 'min_rtt_ms', min_rtt_ms)) FROM l),
    'routers', (SELECT json_group_array(json_object('ip', ip))
        FROM (SELECT DISTINCT ip FROM r)),
    'first', (SELECT json_group_array(json_object('node', node, 'ip', ip))
        FROM (SELECT DISTINCT node, ip FROM f)));"
} >"$tmp/read.sql"
sqlite3 -bail -readonly :memory: <"$tmp/read.sql" >"$tmp/all.json" \
    2>"$tmp/err" || die "$db: $(sql_error "$tmp/err")"
for t in links routers first; do
	jq ".$t" "$tmp/all.json" >"$tmp/$t.json" || die "$db: not read"
done
# A node named with -n that saw no link is a typo or a node that has not
# delivered: say so rather than draw an empty map.
if [ -n "$nodes" ]; then
	printf '%s' "$nodes" | while IFS= read -r n || [ -n "$n" ]; do
		jq -e --arg n "$n" 'any(.[]; .node == $n)' "$tmp/links.json" \
		    >/dev/null || msg "$n: no links seen by this node"
	done 2>"$tmp/nolinks"
	if [ -s "$tmp/nolinks" ]; then
		cat "$tmp/nolinks" >&2
		exit 1
	fi
fi

jq -n --slurpfile l "$tmp/links.json" --slurpfile r "$tmp/routers.json" \
    --argjson min "$min" --arg targets "$targets" '
def ipkey: split("/")[0] | split(".") | map(tonumber? // 0);
def p24: split(".")[0:3] | join(".") + ".0/24";
($r[0] | map({key: .ip, value: true}) | from_entries) as $routers |
([$l[0][] | .a, .b | select($routers[.] | not)] | unique | length) as $nt |
(if $targets == "prefix" or ($targets == "auto" and $nt > 100)
    then true else false end) as $merge |
def name: if $merge and ($routers[.] | not) then p24 else . end;
[$l[0][] | .a |= name | .b |= name] |
[group_by([.a, .b])[] | {
	a: .[0].a, b: .[0].b,
	count: (map(.count) | add),
	min_rtt_ms: (map(.min_rtt_ms | select(. != null)) | min),
	nodes: (map(.node) | unique)
} | select(.count >= $min)] | sort_by((.a | ipkey), (.b | ipkey)) as $edges |
([$edges[] | [.a, .b], [.b, .a]] | unique | group_by(.[0])
    | map({key: .[0][0], value: length}) | from_entries) as $degree |
{
	nodes: ($degree | keys | sort_by(ipkey) | map({id: .,
	    kind: (if $routers[.] then "router"
	        elif test("/") then "prefix" else "target" end),
	    degree: $degree[.]})),
	edges: $edges
}' >"$tmp/graph.json" || die "jq failed"

# The DOT rendering: routers as ellipses, targets as boxes, edge width by
# count on a log scale (at most 6), one colour per vantage node (an edge seen by several
# is drawn in parallel strands), and each vantage as a house leading to the
# addresses it saw at ttl 1.  Labels on edges only while they stay legible.
to_dot() {
	jq -r --slurpfile f "$tmp/first.json" '
def q: tojson;
def palette: ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e",
    "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f"];
. as $g |
([.edges[].nodes[]] + [$f[0][].node] | unique) as $vps |
($vps | to_entries | map({key: .value,
    value: palette[.key % (palette | length)]}) | from_entries) as $col |
([.nodes[].id] | map({key: ., value: true}) | from_entries) as $in |
(.nodes | length) as $n |
"digraph hopmap {",
"  graph [rankdir=LR, overlap=prism, outputorder=edgesfirst, splines=true, fontname=\"Helvetica\", label=\(("hopmap: " + ($n | tostring) + " addresses, " + ($g.edges | length | tostring) + " links") | q), labelloc=t];",
"  node [fontname=\"Helvetica\", fontsize=10, height=0.25, style=filled, fillcolor=\"#f4f4f4\"];",
"  edge [arrowsize=0.5];",
($vps[] | "  \(("vantage " + .) | q) [label=\(. | q), shape=house, fillcolor=\($col[.] | q), fontcolor=white];"),
(.nodes[] | "  \(.id | q) [shape=\(if .kind == "router" then "ellipse" elif .kind == "prefix" then "box3d" else "box" end), tooltip=\((.kind + " " + .id + ", degree " + (.degree | tostring)) | q)];"),
($f[0][] | select($in[.ip]) |
    "  \(("vantage " + .node) | q) -> \(.ip | q) [style=dashed, color=\($col[.node] | q)];"),
(.edges[] |
    "  \(.a | q) -> \(.b | q) [penwidth=\([1 + (.count | log) / (10 | log) * 1.5, 6] | min | . * 100 | floor / 100), color=\(.nodes | map($col[.]) | join(":") | q), tooltip=\(("x" + (.count | tostring) + ", min rtt " + (.min_rtt_ms | tostring) + " ms, seen by " + (.nodes | join(" "))) | q)\(if ($g.edges | length) <= 80 then ", label=" + ("x" + (.count | tostring) | q) + ", fontsize=8" else "" end)];"),
"}"' "$tmp/graph.json"
}

case $format in
json) jq . "$tmp/graph.json" >"$tmp/out" ;;
dot) to_dot >"$tmp/out" ;;
svg)
	to_dot >"$tmp/graph.dot"
	if [ "$engine" = auto ]; then
		engine='dot'
		[ "$(jq '.nodes | length' "$tmp/graph.json")" -le 150 ] ||
		    engine=sfdp
	fi
	if ! command -v "$engine" >/dev/null 2>&1; then engine='dot'; fi
	# sfdp routing splines around nodes takes minutes for a few hundred
	# routers; straight edges take a fraction of a second.
	set -- -Tsvg
	[ "$engine" = dot ] || set -- "$@" -Gsplines=false
	"$engine" "$@" "$tmp/graph.dot" >"$tmp/out" 2>"$tmp/err" ||
	    die "$engine: $(head -n 1 "$tmp/err")"
	;;
esac

if [ -z "$output" ]; then
	cat "$tmp/out" || die "write error on standard output"
else
	atomic_write "$output" <"$tmp/out" || die "$output: cannot write"
fi
