# hopmap-map and hopmap-status on a database that sqlsink builds from crafted
# records: the exact JSON graph, the filters, DOT that Graphviz accepts, and
# each node's progress.  No probing.
. "$(dirname "$0")/lib.sh"
top=$HOPMAP_TOP
# --help, --version, usage errors and the man pages: tests/t-common.sh.

# Two nodes; n1 traces two targets through 10.0.0.1 and 10.0.0.2, n2 one of
# them, and one more across a silent hop (no link).  n2 also pings a dead
# address and hands a hop target out.
cat >"$T/in.ndjson" <<'EOF'
{"ip":"192.0.2.9","node":"n1","ping":{"ok":true,"rtt_ms":3.4,"ts":"2026-11-25T10:00:00.000Z"},"trace":{"method":"icmp-paris","ts":"2026-11-25T10:00:01.000Z","hops":[{"ttl":1,"ip":"10.0.0.1","rtt_ms":1.5},{"ttl":2,"ip":"10.0.0.2","rtt_ms":2.5},{"ttl":3,"ip":"192.0.2.9","rtt_ms":3.5}],"stop":"completed"}}
{"ip":"192.0.2.10","node":"n1","trace":{"method":"icmp-paris","ts":"2026-11-25T10:00:02.000Z","hops":[{"ttl":1,"ip":"10.0.0.1","rtt_ms":1.2},{"ttl":2,"ip":"10.0.0.2","rtt_ms":2.0},{"ttl":3,"ip":"10.0.0.3","rtt_ms":3},{"ttl":4,"ip":"192.0.2.10","rtt_ms":4}],"stop":"completed"}}
{"ip":"192.0.2.9","node":"n2","trace":{"method":"icmp-paris","ts":"2026-11-25T11:00:00.000Z","hops":[{"ttl":1,"ip":"10.0.0.1","rtt_ms":0.5},{"ttl":2,"ip":"10.0.0.2","rtt_ms":1.0},{"ttl":3,"ip":"192.0.2.9","rtt_ms":1.75}],"stop":"completed"}}
{"ip":"192.0.2.11","node":"n2","trace":{"method":"icmp-paris","ts":"2026-11-25T11:00:01.000Z","hops":[{"ttl":1,"ip":"10.0.0.1"},{"ttl":2,"ip":null},{"ttl":3,"ip":"192.0.2.11"}],"stop":"completed"}}
{"ip":"192.0.2.12","node":"n2","ping":{"ok":false,"ts":"2026-11-25T11:00:02.000Z"}}
{"ip":"10.0.0.3","node":"n2","src":"hop","via":"192.0.2.10","ttl":3}
{"id":"hopmap-ack:1","src":"hopmap-ack","node":"n1","segment":"a.seg","lines":2,"ts":"2026-11-25T10:30:00Z"}
{"id":"hopmap-ack:2","src":"hopmap-ack","node":"n2","segment":"b.seg","lines":2,"ts":"2026-11-25T10:59:00Z"}
{"id":"hopmap-ack:3","src":"hopmap-ack","node":"n2","segment":"c.seg","lines":2,"ts":"2026-11-25T11:00:02Z"}
EOF
db=$T/map.db
sqlsink "$db" <"$T/in.ndjson" 2>"$T/sink.err"
same "sqlsink built the database" "$?:$(cat "$T/sink.err")" "0:"

# ---- hopmap-map: JSON ----
run hopmap-map -f json "$db"
same "json: exit 0, nothing on stderr" "$rc:$(cat "$T/err")" "0:"
same "json: nodes, sorted by address, with kind and degree" \
    "$(jq -c .nodes "$T/out")" \
    '[{"id":"10.0.0.1","kind":"router","degree":1},{"id":"10.0.0.2","kind":"router","degree":3},{"id":"10.0.0.3","kind":"router","degree":2},{"id":"192.0.2.9","kind":"target","degree":1},{"id":"192.0.2.10","kind":"target","degree":1}]'
same "json: edges merged across nodes: counts summed, least RTT, node names" \
    "$(jq -c .edges "$T/out")" \
    '[{"a":"10.0.0.1","b":"10.0.0.2","count":3,"min_rtt_ms":1,"nodes":["n1","n2"]},{"a":"10.0.0.2","b":"10.0.0.3","count":1,"min_rtt_ms":3,"nodes":["n1"]},{"a":"10.0.0.2","b":"192.0.2.9","count":2,"min_rtt_ms":1.75,"nodes":["n1","n2"]},{"a":"10.0.0.3","b":"192.0.2.10","count":1,"min_rtt_ms":4,"nodes":["n1"]}]'

run hopmap-map --format=json --min-count 2 "$db"
same "--min-count 2: only links seen twice, and their ends" \
    "$rc:$(jq -c '[.nodes[] | .id + ":" + (.degree | tostring)], [.edges[] | .a + ">" + .b]' "$T/out" | tr '\n' ' ')" \
    '0:["10.0.0.1:1","10.0.0.2:2","192.0.2.9:1"] ["10.0.0.1>10.0.0.2","10.0.0.2>192.0.2.9"] '
run hopmap-map -f json -c 4 "$db"
same "-c 4: an empty graph" "$rc:$(jq -c . "$T/out")" '0:{"nodes":[],"edges":[]}'
run hopmap-map -f json --node n2 "$db"
same "--node n2: n2's links, with n2's counts" \
    "$rc:$(jq -c '[.edges[] | [.a, .b, .count, .nodes]]' "$T/out")" \
    '0:[["10.0.0.1","10.0.0.2",1,["n2"]],["10.0.0.2","192.0.2.9",1,["n2"]]]'
run hopmap-map -f json -n n2 -n "n1" -c 2 "$db"
same "-n twice: both nodes' links" "$(jq -c '[.edges[].count]' "$T/out")" '[3,2]'
run hopmap-map -f json --node "it's" "$db"
same "--node with a quote: no links, no SQL error: exit 1, says so" "$rc:$(cat "$T/out"):$(cat "$T/err")" \
    "1::hopmap-map: it's: no links seen by this node"
run hopmap-map -f json -n n1 -n unknown "$db"
same "-n unknown beside a known node: exit 1, the unknown one named" "$rc:$(cat "$T/out"):$(cat "$T/err")" \
    "1::hopmap-map: unknown: no links seen by this node"
run hopmap-map -o "$T/no/such/dir/map.dot" "$db"
same "-o into a missing directory: exit 3, one clean message" "$rc:$(cat "$T/out"):$(cat "$T/err")" \
    "3::hopmap-map: $T/no/such/dir/map.dot: no such directory: $T/no/such/dir"
run hopmap-map -o "$T/map-o.dot" "$db"
same "-o: written whole, no temporary file left" \
    "$rc:$(head -n 1 "$T/map-o.dot"):$(find "$T" -maxdepth 1 -name '.map-o.dot.*' | wc -l)" "0:digraph hopmap {:0"
run hopmap-map -f json --targets prefix "$db"
same "--targets prefix: targets merged into their /24" \
    "$(jq -c '[.nodes[] | select(.kind == "prefix")], [.edges[] | select(.b == "192.0.2.0/24") | .count]' "$T/out" | tr '\n' ' ')" \
    '[{"id":"192.0.2.0/24","kind":"prefix","degree":2}] [2,1] '
run hopmap-map -f json -t each "$db"
same "-t each: as the default below 100 targets" "$(jq -c '[.nodes[].kind] | unique' "$T/out")" '["router","target"]'

# ---- DOT and SVG ----
run hopmap-map "$db"
same "dot: the default format, exit 0" "$rc:$(head -n 1 "$T/out")" "0:digraph hopmap {"
cp "$T/out" "$T/map.dot"
same "dot: one edge statement per link and per vantage's first hop" \
    "$(grep -c -- '->' "$T/map.dot")" 6
check "dot: vantage points as houses of their own colours" \
    grep -q '"vantage n2" \[label="n2", shape=house, fillcolor="#d62728"' "$T/map.dot"
check "dot: an edge seen by both nodes in both colours" \
    grep -q '"10.0.0.1" -> "10.0.0.2" \[penwidth=[0-9.]*, color="#1f77b4:#d62728"' "$T/map.dot"
check "dot: targets are boxes" grep -q '"192.0.2.9" \[shape=box' "$T/map.dot"
if command -v dot >/dev/null; then
	check "dot: Graphviz parses it (dot -Tsvg)" dot -Tsvg -o "$T/check.svg" "$T/map.dot"
	run hopmap-map -f svg -o "$T/map.svg" "$db"
	same "svg -o: exit 0, quiet" "$rc:$(cat "$T/out" "$T/err")" "0:"
	check "svg: an SVG document" grep -q '<svg' "$T/map.svg"
	check "svg: addresses are labelled" grep -q '>10.0.0.2<' "$T/map.svg"
	run hopmap-map -f svg --engine sfdp -o "$T/sfdp.svg" "$db"
	same "--engine sfdp: exit 0" "$rc:$(cat "$T/err")" "0:"
	check "--engine sfdp: an SVG document" grep -q '<svg' "$T/sfdp.svg"
	run hopmap-map -f svg -e dot "$db"
	check "-e dot: SVG on stdout" grep -q '<svg' "$T/out"
else
	skip "Graphviz not installed"
fi
# A bigger map: 255 routers in a binary tree, a trace to a target behind
# each; the 255 targets are merged into their /24s, and auto layout is sfdp.
awk 'function a(i) { return "10.0." int(i / 250) "." (i % 250 + 1) }
BEGIN {
	for (n = 1; n < 256; n++) {
		h = ""; t = 0
		for (i = n; i >= 1; i = int(i / 2)) p[++t] = i
		for (k = t; k >= 1; k--)
			h = h sprintf("{\"ttl\":%d,\"ip\":\"%s\"},", t - k + 1, a(p[k]))
		d = "100.64." (n % 8) "." n
		printf "{\"ip\":\"%s\",\"node\":\"vp%d\",\"trace\":{\"hops\":[%s{\"ttl\":%d,\"ip\":\"%s\"}],\"stop\":\"completed\"}}\n", d, n % 3, h, t + 1, d
	}
}' | sqlsink "$T/big.db" 2>"$T/err"
same "big: sqlsink took the traces" "$?:$(cat "$T/err")" "0:"
run hopmap-map -f json "$T/big.db"
same "big: 255 routers, targets merged into 8 prefixes" \
    "$(jq -c '[.nodes | group_by(.kind)[] | [.[0].kind, length]]' "$T/out")" \
    '[["prefix",8],["router",255]]'
same "big: 254 router links and 255 into prefixes" "$(jq '.edges | length' "$T/out")" 509
if command -v sfdp >/dev/null; then
	run hopmap-map -f svg -o "$T/big.svg" "$T/big.db"
	same "big: svg with the auto layout, exit 0" "$rc:$(cat "$T/err")" "0:"
	check "big: an SVG with every router" test "$(grep -c 'class="node"' "$T/big.svg")" -ge 263
fi

run hopmap-map --output "$T/out.json" -f json "$db"
same "--output: nothing on stdout, the file written" \
    "$rc:$(cat "$T/out"):$(jq '.edges | length' "$T/out.json")" "0::4"
same "--output: no temporary file left" "$(find "$T" -name 'out.json.tmp*')" ""

usage_case() {
	local name=$1
	shift
	run hopmap-map "$@"
	same "$name: exit 2, nothing on stdout" "$rc:$(cat "$T/out")" "2:"
	check "$name: says why" grep -q '^hopmap-map: ' "$T/err"
}
usage_case "bad format" -f png "$db"
usage_case "bad min-count" --min-count x "$db"
usage_case "min-count too large" -c 12345678901 "$db"
usage_case "bad engine" -e neato "$db"
usage_case "bad targets mode" -t some "$db"
usage_case "no database" -f json
usage_case "option without its argument" -f
run hopmap-map -f json "$T/nothing.db"
same "missing database: exit 3, says so" "$rc:$(cat "$T/out")" "3:"
check "missing database: names it" grep -q "nothing.db" "$T/err"
echo 'not a database' >"$T/junk.db"
run hopmap-map -f json "$T/junk.db"
same "not a database: exit 3" "$rc:$(cat "$T/out")" "3:"

# ---- hopmap-status ----
run hopmap-status --json "$db"
same "status --json: exit 0, quiet" "$rc:$(cat "$T/err")" "0:"
same "status --json: each node's counts and last record" \
    "$(jq -c 'map(del(.age_s))' "$T/out")" \
    '[{"node":"n1","records":2,"pings":1,"pings_ok":1,"traces":2,"targets":0,"routers":3,"links":4,"deliveries":1,"last_record":"2026-11-25T10:00:02.000Z","last_contact":"2026-11-25T10:30:00Z"},{"node":"n2","records":4,"pings":1,"pings_ok":0,"traces":2,"targets":1,"routers":2,"links":2,"deliveries":2,"last_record":"2026-11-25T11:00:02.000Z","last_contact":"2026-11-25T11:00:02.000Z"}]'
same "status --json: age in whole seconds, from the last contact" \
    "$(jq '.[0].age_s - .[1].age_s | . == 1802 or . == 1803' "$T/out")" true
run hopmap-status "$db"
same "status table: header and one line per node" \
    "$rc:$(awk '{ print $1, $2, $3, $4, $5, $6, $7, $8, $9 }' "$T/out" | tr '\n' ,)" \
    "0:NODE RECORDS PINGS OK TRACES TARGETS ROUTERS LINKS LAST,n1 2 1 1 2 0 3 4 2026-11-25T10:30:00Z,n2 4 1 0 2 1 2 2 2026-11-25T11:00:02.000Z,"
check "status table: deliveries confirmed by the hub" grep -q '^n2 .*  deliveries 2$' "$T/out"
mkdir -p "$T/state/n1" "$T/state/n9"
echo 4096 >"$T/state/n1/resume"
touch -d 2026-11-25T12:00:00Z "$T/state/n1/resume"
run hopmap-status -j "$db" "$T/state/n1" "$T/state/n9"
same "state dirs: resume and last change, a node with no rows yet" \
    "$rc:$(jq -c '[.[] | [.node, .records, .state_changed, .resume]]' "$T/out")" \
    '0:[["n1",2,"2026-11-25T12:00:00Z","4096"],["n2",4,null,null],["n9",0,null,null]]'
run hopmap-status "$db" "$T/state/n1"
check "state dirs in the table" grep -q '^n1 .* state 2026-11-25T12:00:00Z  resume 4096$' "$T/out"
# As hopmap-worker keeps them: hopmap-loop's state in loop/.
mkdir -p "$T/state/n2/loop"
printf '# cidr-expand resume state; do not edit\nversion 1\ndone 512\ntotal 2048\n' \
    >"$T/state/n2/loop/resume"
echo 7 >"$T/state/n2/loop/round"
run hopmap-status -j "$db" "$T/state/n2"
same "state dir of a worker: rounds and done/total" \
    "$rc:$(jq -c '.[] | select(.node == "n2") | [.rounds, .resume]' "$T/out")" '0:[7,"512/2048"]'
run hopmap-status "$db" "$T/state/n2"
check "worker state in the table" grep -q '^n2 .*  rounds 7  resume 512/2048$' "$T/out"
run hopmap-status --node n2 -j "$db"
same "--node: only that node" "$(jq -c 'map(.node)' "$T/out")" '["n2"]'
run hopmap-status -n n9 -n n1 --json "$db" "$T/state/n9"
same "-n twice" "$(jq -c 'map(.node)' "$T/out")" '["n1","n9"]'
run hopmap-status -j "$T/nothing.db"
same "status: missing database exits 3" "$rc:$(cat "$T/out")" "3:"
run hopmap-status -j "$db" "$T/nodir"
same "status: missing state directory exits 3" "$rc" 3
run hopmap-status
same "status: no database exits 2" "$rc" 2
sqlsink "$T/empty.db" </dev/null 2>/dev/null
run hopmap-status -j "$T/empty.db"
same "status: an empty database, an empty array" "$rc:$(jq -c . "$T/out")" "0:[]"

# ---- a rotated series: every retained file is read ----
# --max-size 4k rotates after each run's commit: the first record lands in
# one file, the rest in the next, and the stable name points at a third,
# empty one.  Map and status are those of the whole input.
mkdir "$T/rot"
head -n 1 "$T/in.ndjson" | sqlsink --max-size 4k "$T/rot/m.db" 2>"$T/err"
tail -n +2 "$T/in.ndjson" | sqlsink --max-size 4k "$T/rot/m.db" 2>>"$T/err"
same "series: three files, the current one empty" \
    "$(ls "$T/rot" | grep -c '^m-.*Z\.db$'):$(sqlite3 "$T/rot/m.db" 'SELECT count(*) FROM links')" "3:0"
run hopmap-map -f json "$db"
cp "$T/out" "$T/one.json"
run hopmap-map -f json "$T/rot/m.db"
same "series: the map has every edge, counts summed across files" \
    "$rc:$(jq -c . "$T/out")" "0:$(jq -c . "$T/one.json")"
run hopmap-status -j "$db"
jq -c 'map(del(.age_s))' "$T/out" >"$T/one.json"
run hopmap-status -j "$T/rot/m.db"
same "series: status counts every record and delivery once" \
    "$rc:$(jq -c 'map(del(.age_s))' "$T/out")" "0:$(cat "$T/one.json")"

# ---- a state directory's last change is the loop's, not a reader's ----
# hopmap-loop keeps its database in its state directory: reading it (its
# -shm file) must not move "state", which comes from round and resume.
mkdir "$T/st"
sqlsink "$T/st/map.db" <"$T/in.ndjson" 2>/dev/null
echo 3 >"$T/st/round"
touch -d 2026-11-25T12:00:00Z "$T/st/round"
run hopmap-status -j "$T/st/map.db" "$T/st"
first=$(jq -c '[.[] | select(.state_dir) | .state_changed]' "$T/out")
run hopmap-status -j "$T/st/map.db" "$T/st"
same "state: two looks with nothing done between show the same time" \
    "$rc:$first:$(jq -c '[.[] | select(.state_dir) | .state_changed]' "$T/out")" \
    '0:["2026-11-25T12:00:00Z"]:["2026-11-25T12:00:00Z"]'
touch -d 2026-11-25T13:00:00Z "$T/st/round"
run hopmap-status -j "$T/st/map.db" "$T/st"
same "state: a new round moves it" \
    "$(jq -c '[.[] | select(.state_dir) | .state_changed]' "$T/out")" '["2026-11-25T13:00:00Z"]'
