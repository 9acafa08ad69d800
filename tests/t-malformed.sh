# The malformed-input corpus (tests/corpus.sh) through every program: no
# crash, no sanitizer report, every bad line named with file and line, and
# every good line around them kept.
. "$(dirname "$0")/lib.sh"
. "$HOPMAP_TOP/tests/corpus.sh"
corpus_bad "$T/bad"

# Run PROG on FILE; check exit 1, no sanitizer report, diagnostics well formed.
survives() { # name file cmd...
	local name=$1 file=$2
	shift 2
	"$@" >"$T/out" 2>"$T/err"
	rc=$?
	same "$name: exit status 1 (bad lines skipped)" "$rc" 1
	check "$name: no sanitizer report" no_sanitizer_report "$T/err"
	check "$name: every diagnostic is 'prog: file:line: reason'" \
	    test -z "$(grep -v "^[a-z-]*: $(basename "$file"):[0-9][0-9]*: ." "$T/err" | grep -v 'skipped (IPv4 only)\|lines skipped\|bad lines\|IPv6 line')"
}

# Targets: interleave, cooldown, sqlsink, and the probers on loopback.
# Good ones too that look odd: a record at the line limit, numbers beyond
# what jansson holds (they pass through; hopmap(5)).
{
	printf '127.0.0.1\n{"ip":"127.0.0.2","src":"s","deep":{"a":[1,2]}}\n127.0.0.3\r\n127.0.0.4\n'
	corpus_big 127.0.0.5
	printf '{"ip":"127.0.0.6","n":1e999,"m":-18446744073709551617}\n'
} >"$T/good"
corpus_mix "$T/good" "$T/bad" >"$T/targets"
good_ips="127.0.0.1 127.0.0.2 127.0.0.3 127.0.0.4 127.0.0.5 127.0.0.6 1.2.3.9"
has_ips() { # file: every good ip appears as a record's "ip"
	local ip
	for ip in $good_ips; do
		# Bare addresses pass through bare; objects carry "ip".
		jq -rR '. as $line | (try fromjson catch $line) |
		    if type == "object" then .ip else . end' "$1" |
		    grep -qx "$ip" || return 1
	done
}

# The probers run in a namespace of our own that has only loopback: the
# corpus holds valid non-loopback targets (1.2.3.x), and no packet may leave
# this machine.  There they meet "network unreachable" and nothing is sent.
ns=hmmal$$
ip netns add "$ns"
cleanup_hooks+=("ip netns del $ns")
ip -n "$ns" link set lo up
check "probe namespace has no route but loopback" \
    test -z "$(ip -n "$ns" route show; ip -n "$ns" -4 addr show | grep -v ' lo\|127.0.0.1\|valid_lft')"
inns() { ip netns exec "$ns" "$@"; }

cd "$T"
survives interleave targets interleave targets
check "interleave: good targets kept" has_ips "$T/out"
survives cooldown targets cooldown targets
check "cooldown: good targets kept" has_ips "$T/out"
survives "cooldown --state" targets cooldown --state "$T/cd.db" targets
check "cooldown --state: good targets kept" has_ips "$T/out"
survives icmpprobe targets inns icmpprobe --timeout 300ms targets
check "icmpprobe: good targets probed" has_ips "$T/out"
check "icmpprobe: loopback targets answered" \
    test "$(jq -r 'select(.ip | startswith("127.")) | .ping.ok' "$T/out" | sort -u)" = true
survives tracehop targets inns tracehop --wait 300ms targets
check "tracehop: good targets kept" has_ips "$T/out"
survives sqlsink "(stdin)" sh -c 'sqlsink "$1" <targets' - "$T/m.db"
stored=$(sqlite3 "$T/m.db" "SELECT ip FROM targets UNION SELECT ip FROM pings" | sort | tr '\n' ' ')
for ip in $good_ips; do
	check "sqlsink: good record $ip stored" grep -q "$ip " <<<"$stored"
done
check "sqlsink: database intact" test "$(sqlite3 "$T/m.db" 'PRAGMA integrity_check')" = ok

# Traces: hopextract and sqlsink.
printf '%s\n' \
    '{"ip":"9.9.9.9","trace":{"hops":[{"ttl":1,"ip":"5.5.5.1"},{"ttl":2,"ip":null},{"ttl":3,"ip":"5.5.5.3"},{"ttl":4,"ip":"9.9.9.9"}],"stop":"completed"}}' \
    '{"ip":"8.8.4.4","trace":{"hops":[{"ttl":1,"ip":"5.5.5.1"},{"ttl":2,"ip":"6.6.6.2"},{"ttl":3,"ip":"8.8.4.4"}],"stop":"completed"}}' >"$T/goodtr"
corpus_big 7.7.7.7 '"node":"big","trace":{"hops":[{"ttl":1,"ip":"5.5.5.7"},{"ttl":2,"ip":"7.7.7.7"}],"stop":"completed"},' >>"$T/goodtr"
corpus_mix "$T/goodtr" "$T/bad" >"$T/traces"
survives hopextract traces hopextract traces
same "hopextract: the good traces' hops, each once" \
    "$(jq -r .ip "$T/out" | sort | tr '\n' ' ')" "5.5.5.1 5.5.5.3 5.5.5.7 6.6.6.2 "
survives "sqlsink (traces)" "(stdin)" sh -c 'sqlsink "$1" <traces' - "$T/t.db"
same "sqlsink: the good traces stored, one at the line limit" \
    "$(sqlite3 "$T/t.db" "SELECT ip FROM traces WHERE ip IN ('9.9.9.9','8.8.4.4','7.7.7.7') ORDER BY ip" | tr '\n' ' ')" "7.7.7.7 8.8.4.4 9.9.9.9 "

# Range lists: cidr-expand.
printf '10.0.0.0/31\n# comment\n10.0.1.0-10.0.1.1\r\n10.0.2.5\n' >"$T/goodr"
corpus_mix "$T/goodr" "$T/bad" >"$T/ranges"
survives cidr-expand ranges cidr-expand -R -p ranges
same "cidr-expand: the good ranges expanded" "$(sort "$T/out" | tr '\n' ' ')" \
    "10.0.0.0 10.0.0.1 10.0.1.0 10.0.1.1 10.0.2.5 "
