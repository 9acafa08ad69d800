# What every program promises: --help, --version, usage errors with exit 2,
# a man page that lints clean and documents every option --help lists.
. "$(dirname "$0")/lib.sh"
top=$HOPMAP_TOP

version=$(sed -n 's/^#define HM_VERSION "\(.*\)"/\1/p' "$top/lib/core/core.h")
for src in "$top"/filters/*.c "$top"/sh/*.sh; do
	p=$(basename "$(basename "$src" .c)" .sh)
	run "$p" --help
	same "$p --help: exit 0" "$rc" 0
	check "$p --help: usage on stdout" grep -q "^usage: $p" "$T/out"
	same "$p --help: nothing on stderr" "$(cat "$T/err")" ""
	run "$p" -h
	check "$p -h: same as --help" grep -q "^usage: $p" "$T/out"
	run "$p" --version
	same "$p --version" "$rc:$(cat "$T/out")" "0:$p (hopmap) $version"
	run "$p" --no-such-option </dev/null
	same "$p: unknown option exits 2" "$rc" 2
	check "$p: unknown option message names the program" grep -q "^$p: " "$T/err"
	same "$p: unknown option writes nothing on stdout" "$(cat "$T/out")" ""

	page=$top/man/$p.1
	check "$p: man page exists" test -f "$page"
	[ -f "$page" ] || continue
	mandoc -T lint -W warning "$page" >"$T/lint" 2>&1
	check "$p: man page lints clean" test ! -s "$T/lint"
	cat "$T/lint"
	missing=
	for opt in $("$p" --help | grep -o -- '--[a-z][a-z-]*' | sort -u); do
		grep -q -- "Fl -${opt#--}\b" "$page" || missing="$missing $opt"
	done
	same "$p: every long option in --help is in the man page" "$missing" ""
	for sect in SYNOPSIS DESCRIPTION "EXIT STATUS" EXAMPLES "SEE ALSO"; do
		check "$p: man page has $sect" grep -q "^\.Sh $sect" "$page"
	done
done

for page in "$top"/man/*.[57]; do
	mandoc -T lint -W warning "$page" >"$T/lint" 2>&1
	check "$(basename "$page"): lints clean" test ! -s "$T/lint"
done

# Shell glue: POSIX sh, shellcheck-clean.
for s in "$top"/sh/*.sh; do
	[ -e "$s" ] || continue
	check "$(basename "$s"): shellcheck clean" shellcheck -s sh "$s"
done

# Man pages render no quote inside a quote (regression: .Pq Qq SA or Qq RA
# gave "tcp_flags" ("SA or "RA"")).
for page in "$top"/man/*.[157]; do
	check "$(basename "$page"): no nested quotes when rendered" \
	    sh -c "! mandoc -T utf8 '$page' | grep -q '(\"[^\"]* or \"[^\"]*\"\")'"
done
# The tracehop(1) example that prints each trace's hops, its jq program as
# written, on a record that was traced and one that was not (regression:
# jq failed on every record without "trace").
prog=$(sed -n "s/^tracehop targets.ndjson | jq -c '\(.*\)'\$/\1/p" "$top/man/tracehop.1")
printf '%s\n' '{"ip":"192.0.2.1","ping":{"ok":false}}' \
    '{"ip":"192.0.2.2","trace":{"hops":[{"ttl":1,"ip":"192.0.2.254"},{"ttl":2,"ip":null}]}}' \
    >"$T/ex.ndjson"
run jq -c "$prog" "$T/ex.ndjson"
same "tracehop(1) example: the traced record's hops, the other left out" \
    "$rc:$(cat "$T/out"):$(cat "$T/err")" '0:["192.0.2.2",["192.0.2.254",null]]:'
